"""Sparsey's MNIST protocol (Rinkus, sparsey.com "MNIST Results"): preprocessing and the run.

The reference run: images rescaled to 16 x 24, binarised and skeletonised (with ImageJ), a
2-level Sparsey (one internal level), 200 training images per class learned in a single trial
each, the rest held out; 91 % recognition accuracy, learning in 220 s on one thread.
"""

from __future__ import annotations

import time

import numpy as np

from neurosim._docs import fill_doc

from .._utils import check_random_state, check_size

__all__ = ["mnist_protocol", "skeletonize", "sparsey_mnist_inputs", "split_per_class"]

# Zhang & Suen (1984): neighbours P2..P9 of P1, clockwise from north, as (row, col) offsets
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def skeletonize(images, *, max_iter=100):
    """Thin binary images to one-pixel-wide skeletons (Zhang & Suen 1984), all images at once.

    Each iteration has two sub-iterations; a foreground pixel is removed when it has 2 to 6
    foreground neighbours, exactly one background-to-foreground transition around it, and (first
    sub-iteration) :math:`P_2 P_4 P_6 = P_4 P_6 P_8 = 0` or (second)
    :math:`P_2 P_4 P_8 = P_2 P_6 P_8 = 0`. It stops when nothing changes. Pixels outside the
    image count as background. ImageJ's "Skeletonize", used by the Sparsey MNIST runs, is a
    similar table-driven thinning; the skeletons are alike, not identical.

    Parameters
    ----------
    images : array-like of bool or 0/1, shape (n_images, height, width) or (height, width)
        Binary images.
    max_iter : int
        Largest number of iterations (each removes at most a one-pixel layer).

    Returns
    -------
    skeletons : ndarray of bool, same shape as ``images``

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import skeletonize
    >>> bar = np.zeros((7, 9), bool)
    >>> bar[2:5, 1:8] = True   # a bar 3 pixels thick
    >>> skeletonize(bar).astype(int)[3]  # a one-pixel line left along the bar's middle row
    array([0, 0, 1, 1, 1, 1, 0, 0, 0])
    >>> int(skeletonize(bar).sum())
    4
    """
    images = np.asarray(images)
    if images.ndim not in (2, 3):
        raise ValueError(f"images must have shape (n_images, height, width) or (height, width), "
                         f"got {images.shape}")
    if images.dtype != bool:
        bad = (images != 0) & (images != 1)
        if bad.any():
            raise ValueError(f"images must be binary (0/1 or bool), got the value "
                             f"{images[bad].flat[0].item()!r}")
    max_iter = check_size("max_iter", max_iter)
    single = images.ndim == 2
    img = np.pad(np.atleast_3d(images.astype(bool)) if not single else images.astype(bool)[None],
                 ((0, 0), (1, 1), (1, 1)))
    H, W = img.shape[1] - 2, img.shape[2] - 2
    for _ in range(max_iter):
        changed = False
        for step in (0, 1):
            P = [img[:, 1 + dr:1 + dr + H, 1 + dc:1 + dc + W] for dr, dc in _NEIGHBOURS]
            Pi = [p.astype(np.int8) for p in P]
            B = sum(Pi)
            A = sum(((Pi[k] == 0) & (Pi[(k + 1) % 8] == 1)).astype(np.int8) for k in range(8))
            p2, p4, p6, p8 = P[0], P[2], P[4], P[6]
            if step == 0:
                cond = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                cond = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            centre = img[:, 1:-1, 1:-1]
            remove = centre & (B >= 2) & (B <= 6) & (A == 1) & cond
            if remove.any():
                centre[remove] = False
                changed = True
        if not changed:
            break
    out = img[:, 1:-1, 1:-1]
    return out[0].copy() if single else out.copy()


def sparsey_mnist_inputs(images, *, shape=(24, 16), threshold=0.5, skeleton=True):
    """Sparsey's MNIST input coding: rescale, binarise, skeletonise.

    Each 28 x 28 image is cropped to MNIST's central 20 x 20 box (where the digits were
    size-normalised), resized to ``shape`` (bilinear, Pillow), binarised at ``threshold`` times
    the largest grey level and thinned with :func:`skeletonize`. The Sparsey MNIST runs used
    16 x 24 images, binarised and skeletonised with ImageJ; a skeleton of a 24 x 16 digit has
    about 30 of its 384 pixels on (8 %), the sparse input Sparsey's macs expect.

    Parameters
    ----------
    images : array-like, shape (n_images, 28, 28)
        Grey levels, 0 to 255 (or any non-negative scale: ``threshold`` is relative).
    shape : tuple of int
        ``(height, width)`` of the rescaled images.
    threshold : float
        Binarisation threshold, a fraction of the largest grey level, in ``(0, 1)``.
    skeleton : bool
        Thin the binary digits (False keeps them as thresholded).

    Returns
    -------
    X : ndarray of uint8, shape (n_images, height, width)
        Binary inputs; pass ``X.reshape(len(X), -1)`` and ``input_shape=shape`` to
        :class:`SparseyMemory`.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import sparsey_mnist_inputs
    >>> img = np.zeros((1, 28, 28), np.uint8)
    >>> img[0, 6:22, 12:16] = 255   # a thick vertical stroke, a "1"
    >>> X = sparsey_mnist_inputs(img)
    >>> X.shape, int(X.sum(axis=2).max())   # a one-pixel-wide line
    ((1, 24, 16), 1)
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (n_images, 28, 28), got {images.shape}")
    if images.size and (not np.all(np.isfinite(images)) or images.min() < 0):
        raise ValueError("images must hold finite, non-negative grey levels")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    height, width = (check_size("shape[0]", shape[0]), check_size("shape[1]", shape[1]))
    top = float(images.max(initial=0.0)) or 1.0
    out = np.empty((len(images), height, width), np.float32)
    for k, img in enumerate(images):
        box = Image.fromarray(np.asarray(img[4:24, 4:24], np.float32) / top, mode="F")
        out[k] = np.asarray(box.resize((width, height), Image.BILINEAR))
    binary = out > float(threshold)
    if skeleton:
        binary = skeletonize(binary)
    return binary.astype(np.uint8)


def split_per_class(y, n_per_class, *, random_state=None):
    """Indices of ``n_per_class`` training items of every class, and of the rest.

    Parameters
    ----------
    y : array-like, shape (n_items,)
        Labels.
    n_per_class : int
        Training items drawn at random from each class.
    random_state : int | numpy.random.Generator | None
        Seed of the draw.

    Returns
    -------
    train, test : ndarray of int64
        Indices; ``train`` is shuffled across classes, ``test`` holds every other item.

    Examples
    --------
    >>> from neurosim.sparsey import split_per_class
    >>> train, test = split_per_class([0, 0, 0, 1, 1, 1], 2, random_state=0)
    >>> len(train), len(test), sorted(set(train) | set(test)) == list(range(6))
    (4, 2, True)
    """
    y = np.asarray(y)
    n_per_class = check_size("n_per_class", n_per_class)
    rng = check_random_state(random_state)
    train = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if idx.size < n_per_class:
            raise ValueError(f"class {c.item()!r} has {idx.size} items, fewer than n_per_class="
                             f"{n_per_class}")
        train.append(rng.choice(idx, n_per_class, replace=False))
    train = rng.permutation(np.concatenate(train)).astype(np.int64)
    test = np.setdiff1d(np.arange(y.size), train).astype(np.int64)
    return train, test


@fill_doc
def mnist_protocol(images, labels, *, n_per_class=200, model=None, preprocess=None,
                   inputs=None, random_state=0):
    """Sparsey's MNIST protocol: single-trial learning of ``n_per_class`` images per class.

    ``n_per_class`` images of each class are drawn at random and learned by a
    :class:`SparseyMemory` in one presentation each (:meth:`SparseyMemory.fit`, timed); every
    other image is held out and classified by the stored code nearest its retrieved code. The
    same split is classified by a 1-nearest-neighbour classifier on the raw pixels
    (:class:`sklearn.neighbors.KNeighborsClassifier`, Euclidean) and on Sparsey's binary inputs.

    Parameters
    ----------
    images : array-like, shape (n_images, 28, 28)
        Grey-level images (e.g. :func:`neurosim.datasets.load_mnist_subset`).
    labels : array-like, shape (n_images,)
        Their labels.
    n_per_class : int
        Training images per class (the reference run: 200).
    model : dict | None
        Arguments of :class:`SparseyMemory` (``input_shape`` is set from the inputs); None:
        ``dict(Q=40, K=100)``.
    preprocess : dict | None
        Arguments of :func:`sparsey_mnist_inputs`; None: its defaults (24 x 16, skeletonised).
    inputs : array-like of 0/1, shape (n_images, height, width) | None
        Sparsey's inputs already computed from ``images`` (:func:`sparsey_mnist_inputs`), to
        share them between runs; None computes them (``preprocess`` is then ignored if given).
    %(random_state)s
        Seed of the split and of the memory's roulette.

    Returns
    -------
    result : dict
        ``accuracy`` (Sparsey, nearest stored code), ``accuracy_1nn`` (1-NN, raw pixels),
        ``accuracy_1nn_inputs`` (1-NN, Sparsey's binary inputs), ``learn_time_s`` (wall-clock
        time of the single-trial learning of all training images), ``learn_cpu_s`` (its CPU
        time, which a busy machine inflates less), ``n_train``, ``n_test``,
        ``mean_active_inputs`` (mean active input bits), ``accuracy_linear`` (Sparsey's codes
        with the linear readout, ``readout="linear"``), ``train`` and ``test`` (indices),
        ``y_pred`` and ``memory`` (the fitted :class:`SparseyMemory`). Learning runs on one
        thread (the CSA is sequential); retrieval runs in parallel.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import numpy as np
    >>> from neurosim.sparsey import mnist_protocol
    >>> d = load_digits()   # 8 x 8 digits, upscaled into 28 x 28 frames for a fast example
    >>> imgs = np.zeros((len(d.images), 28, 28))
    >>> imgs[:, 6:22, 6:22] = np.kron(d.images, np.ones((2, 2)))
    >>> r = mnist_protocol(imgs, d.target, n_per_class=50, model=dict(Q=20, K=20))
    >>> r["n_train"], r["n_test"]
    (500, 1297)
    >>> 0.1 < r["accuracy"] < r["accuracy_1nn"]   # above chance, below 1-NN on the pixels
    True
    """
    from sklearn.neighbors import KNeighborsClassifier

    from ._memory import SparseyMemory

    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"images must have shape (n, 28, 28) and labels (n,), got "
                         f"{images.shape} and {labels.shape}")
    if inputs is None:
        X = sparsey_mnist_inputs(images, **(preprocess or {}))
    else:
        X = np.asarray(inputs)
        if X.ndim != 3 or X.shape[0] != images.shape[0]:
            raise ValueError(f"inputs must have shape ({images.shape[0]}, height, width), got "
                             f"{X.shape}")
    train, test = split_per_class(labels, n_per_class, random_state=random_state)
    shape = X.shape[1:]
    Xf = X.reshape(len(X), -1)
    params = dict(Q=40, K=100) if model is None else dict(model)
    params.setdefault("random_state", random_state)
    mem = SparseyMemory(**params, input_shape=shape)
    t0, c0 = time.perf_counter(), time.process_time()
    mem.fit(Xf[train], labels[train])
    learn_s, learn_cpu = time.perf_counter() - t0, time.process_time() - c0
    y_pred = mem.predict(Xf[test])
    acc_linear = mem.set_params(readout="linear").score(Xf[test], labels[test])
    mem.set_params(readout=params.get("readout", "nearest"))
    raw = images.reshape(len(images), -1).astype(np.float32)
    knn = KNeighborsClassifier(n_neighbors=1)
    acc_1nn = float(np.mean(knn.fit(raw[train], labels[train]).predict(raw[test])
                            == labels[test]))
    acc_1nn_in = float(np.mean(knn.fit(Xf[train], labels[train]).predict(Xf[test])
                               == labels[test]))
    return {
        "accuracy": float(np.mean(y_pred == labels[test])),
        "accuracy_linear": float(acc_linear),
        "accuracy_1nn": acc_1nn,
        "accuracy_1nn_inputs": acc_1nn_in,
        "learn_time_s": float(learn_s),
        "learn_cpu_s": float(learn_cpu),
        "n_train": int(train.size),
        "n_test": int(test.size),
        "mean_active_inputs": float(Xf.sum(axis=1).mean()),
        "train": train,
        "test": test,
        "y_pred": y_pred,
        "memory": mem,
    }
