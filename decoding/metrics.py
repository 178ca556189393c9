"""Decoding metrics: retrieval, classification, ordinal (Seq2HR) and voxelwise encoding scores.

Every function takes numpy arrays, torch tensors (on any device) or xarray DataArrays and returns
Python floats or numpy arrays.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc
from neurosim._utils import check_random_state, check_size

__all__ = [
    "chance_retrieval_scores",
    "classification_scores",
    "cosine_similarity",
    "explained_variance",
    "forward_backward_retrieval",
    "mse",
    "off_neighbour_rate",
    "permutation_test",
    "retrieval_accuracy",
    "retrieval_scores",
    "seq2hr",
    "stratified_chance_scores",
    "topk_accuracy",
    "voxelwise_pearson",
    "weighted_f1",
]


def _as_array(name, a, *, ndim=None, dtype=np.float64):
    """Convert numpy/torch/xarray input to a numpy array, checking ndim and finiteness."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch tensor (bf16 has no numpy dtype)
        a = a.detach().cpu()
        if a.is_floating_point():
            a = a.double()
        a = a.numpy()
    elif hasattr(a, "values") and hasattr(a, "dims"):  # xarray.DataArray
        a = a.values
    a = np.asarray(a)
    if dtype is not None:
        if dtype is np.int64:
            if a.dtype.kind == "f":
                if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                    raise ValueError(f"{name} must hold integer labels, got non-integer values")
            elif a.dtype.kind not in "iub":
                raise TypeError(f"{name} must hold integer labels, got dtype {a.dtype}")
        a = a.astype(dtype)
    if ndim is not None and a.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf values")
    return a


def _check_same_shape(a_name, a, b_name, b):
    if a.shape != b.shape:
        raise ValueError(f"{a_name} and {b_name} must have the same shape, got {a.shape} and {b.shape}")


def _normalize_rows(a):
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.where(norm > 0, norm, 1.0)


def cosine_similarity(a, b, *, pairwise=False):
    """Cosine similarity of rows.

    Parameters
    ----------
    a : array-like, shape (n, d)
        First set of vectors.
    b : array-like, shape (n, d) or (m, d)
        Second set.
    pairwise : bool
        False: the similarity of each row of ``a`` to the same row of ``b``, shape (n,).
        True: every row of ``a`` against every row of ``b``, shape (n, m).

    Returns
    -------
    similarity : numpy.ndarray
        Values in [-1, 1]; a zero vector has similarity 0 to everything.

    Examples
    --------
    >>> from neurosim.decoding.metrics import cosine_similarity
    >>> cosine_similarity([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [-1.0, -1.0]])
    array([ 1., -1.])
    """
    a = _normalize_rows(_as_array("a", a, ndim=2))
    b = _normalize_rows(_as_array("b", b, ndim=2))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of columns (embedding dim), "
                         f"got {a.shape[1]} and {b.shape[1]}")
    if pairwise:
        return a @ b.T
    _check_same_shape("a", a, "b", b)
    return np.einsum("ij,ij->i", a, b)


def mse(y_true, y_pred):
    """Mean squared error over all elements.

    Parameters
    ----------
    y_true, y_pred : array-like
        Same shape.

    Returns
    -------
    mse : float

    Examples
    --------
    >>> from neurosim.decoding.metrics import mse
    >>> mse([0.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    1.6666666666666667
    """
    y_true = _as_array("y_true", y_true)
    y_pred = _as_array("y_pred", y_pred)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


@fill_doc
def retrieval_accuracy(pred, target, *, k_way=None, top=1, n_draws=1, random_state=None,
                       similarity="cosine"):
    """k-way retrieval accuracy with sampled distractors (BrainFLORA's protocol).

    Row ``i`` of ``pred`` is compared with its own target ``target[i]`` and with ``k_way - 1``
    distractors drawn at random, without replacement, from the other rows of ``target``. A row
    counts as correct when fewer than ``top`` candidates are strictly more similar than the true
    target (ties favour the true target).

    Parameters
    ----------
    pred : array-like, shape (n, d)
        Predicted embeddings.
    target : array-like, shape (n, d)
        True embeddings, one per row of ``pred`` (distinct stimuli).
    k_way : int | None
        Candidates per trial including the true one, 2 <= k_way <= n. None: all ``n`` targets
        (no sampling).
    top : int
        Count a hit when the true target is among the ``top`` most similar candidates.
    n_draws : int
        Independent distractor draws per row, averaged (ignored when ``k_way`` is None).
    %(random_state)s
        Seed of the distractor draws.
    similarity : "cosine" | "dot"
        Rank the candidates by cosine similarity, or by the dot product ``pred[i] @ target[j]``
        (BrainFLORA's official evaluation ranks ``tau * f @ g`` with unnormalised gallery
        features ``g``: pass ``tau * pred`` with ``"dot"``).

    Returns
    -------
    accuracy : float
        Fraction of hits, in [0, 1]. Chance is ``top / k_way``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.metrics import retrieval_accuracy
    >>> target = np.eye(4)
    >>> retrieval_accuracy(target + 0.1, target)
    1.0
    >>> retrieval_accuracy(target[[1, 0, 2, 3]], target)  # rows 0 and 1 swapped
    0.5
    """
    pred = _as_array("pred", pred, ndim=2)
    target = _as_array("target", target, ndim=2)
    if pred.shape[1] != target.shape[1]:
        raise ValueError(f"pred and target must have the same embedding dim, got {pred.shape[1]} "
                         f"and {target.shape[1]}")
    _check_same_shape("pred", pred, "target", target)
    n = pred.shape[0]
    if n < 2:
        raise ValueError(f"retrieval needs at least 2 rows, got {n}")
    k = n if k_way is None else check_size("k_way", k_way, minimum=2)
    if k > n:
        raise ValueError(f"k_way={k} exceeds the number of targets ({n})")
    top = check_size("top", top, minimum=1)
    if top > k:
        raise ValueError(f"top={top} must be <= k_way={k}")
    if similarity == "cosine":
        sim = cosine_similarity(pred, target, pairwise=True)  # (n, n)
    elif similarity == "dot":
        sim = pred @ target.T
    else:
        raise ValueError(f"similarity must be 'cosine' or 'dot', got {similarity!r}")
    true = np.diag(sim)
    better = sim > true[:, None]  # candidate j beats the true target of row i
    if k_way is None or k == n:
        return float(np.mean(better.sum(axis=1) < top))
    n_draws = check_size("n_draws", n_draws, minimum=1)
    rng = check_random_state(random_state)
    hits = 0
    others = np.array([np.delete(np.arange(n), i) for i in range(n)])  # (n, n-1)
    for _ in range(n_draws):
        # k-1 distinct distractors per row: the first k-1 of a random permutation of the others
        keys = rng.random((n, n - 1))
        pick = np.argpartition(keys, k - 2, axis=1)[:, :k - 1] if k - 1 < n - 1 else \
            np.tile(np.arange(n - 1), (n, 1))
        distractors = np.take_along_axis(others, pick, axis=1)
        n_better = np.take_along_axis(better, distractors, axis=1).sum(axis=1)
        hits += int(np.sum(n_better < top))
    return hits / (n * n_draws)


@fill_doc
def retrieval_scores(pred, target, *, k_ways=(2, 4, 10, None), n_draws=10, random_state=0,
                     similarity="cosine"):
    """BrainFLORA's evaluation: k-way top-1 retrieval (and top-5 for k >= 5 / all).

    Parameters
    ----------
    pred, target : array-like, shape (n, dim)
        Predicted and true embeddings of the ``n`` test images (repetitions averaged).
    k_ways : sequence of int | None
        Values of k; None means all ``n`` images.
    n_draws : int
        Distractor draws per image (the official evaluation draws once).
    %(random_state)s
        Seed of the distractor draws.
    similarity : "cosine" | "dot"
        Ranking (see :func:`retrieval_accuracy`).

    Returns
    -------
    scores : dict of str to float
        ``"top1_2way"``, ``"top1_4way"``, ``"top1_10way"``, ``"top1_all"``, ``"top5_10way"``,
        ``"top5_all"`` ... (fractions).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.metrics import retrieval_scores
    >>> t = np.eye(12)
    >>> retrieval_scores(t, t)["top1_all"]
    1.0
    """
    out = {}
    n = np.shape(pred)[0]
    for k in k_ways:
        name = "all" if k is None else f"{k}way"
        kk = n if k is None else k
        if kk > n:
            continue
        out[f"top1_{name}"] = retrieval_accuracy(pred, target, k_way=k, top=1, n_draws=n_draws,
                                                 random_state=random_state, similarity=similarity)
        if kk >= 5:
            out[f"top5_{name}"] = retrieval_accuracy(pred, target, k_way=k, top=5,
                                                     n_draws=n_draws, random_state=random_state,
                                                     similarity=similarity)
    return out


def chance_retrieval_scores(n, k_ways=(2, 4, 10, None)):
    """The scores of :func:`retrieval_scores` expected by chance among ``n`` test images.

    Top-1 k-way chance is ``1 / k`` and top-5 ``5 / k`` (k = ``n`` for None).

    Parameters
    ----------
    n : int
        Test images.
    k_ways : sequence of int | None
        As in :func:`retrieval_scores`.

    Returns
    -------
    scores : dict of str to float
        The same keys as :func:`retrieval_scores`.

    Examples
    --------
    >>> from neurosim.decoding.metrics import chance_retrieval_scores
    >>> chance_retrieval_scores(20)["top5_10way"]
    0.5
    """
    n = check_size("n", n, minimum=1)
    out = {}
    for k in k_ways:
        kk = n if k is None else k
        name = "all" if k is None else f"{k}way"
        if kk > n:
            continue
        out[f"top1_{name}"] = 1.0 / kk
        if kk >= 5:
            out[f"top5_{name}"] = 5.0 / kk
    return out


@fill_doc
def forward_backward_retrieval(pred, target, *, n_draws=20, random_state=0):
    """Top-1 retrieval among all rows, both ways, and 2-way retrieval (MindBridge's evaluation).

    Parameters
    ----------
    pred, target : array-like, shape (n, d)
        Predicted and true embeddings, row ``i`` for stimulus ``i``.
    n_draws : int
        Distractor draws per row of the 2-way score.
    %(random_state)s
        Seed of the 2-way distractors.

    Returns
    -------
    scores : dict of str to float
        ``top1_forward`` (each prediction finds its target among all targets),
        ``top1_backward`` (each target finds its prediction among all predictions) and
        ``two_way``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.metrics import forward_backward_retrieval
    >>> forward_backward_retrieval(np.eye(5), np.eye(5))["top1_backward"]
    1.0
    """
    return {
        "top1_forward": retrieval_accuracy(pred, target),
        "top1_backward": retrieval_accuracy(target, pred),
        "two_way": retrieval_accuracy(pred, target, k_way=2, n_draws=n_draws,
                                      random_state=random_state),
    }


def topk_accuracy(scores, labels, k=1):
    """Fraction of samples whose label is among the ``k`` highest class scores.

    Parameters
    ----------
    scores : array-like, shape (n, n_classes)
        Class scores, logits or probabilities.
    labels : array-like of int, shape (n,)
        True classes, 0 <= label < n_classes.
    k : int
        Number of top classes.

    Returns
    -------
    accuracy : float
        Ties favour the true class (a hit if fewer than ``k`` classes score strictly higher).

    Examples
    --------
    >>> from neurosim.decoding.metrics import topk_accuracy
    >>> scores = [[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]]
    >>> topk_accuracy(scores, [2, 2], k=1), topk_accuracy(scores, [2, 2], k=2)
    (0.0, 1.0)
    """
    scores = _as_array("scores", scores, ndim=2)
    labels = _check_labels(labels, scores.shape[1], scores.shape[0])
    k = check_size("k", k, minimum=1)
    if k > scores.shape[1]:
        raise ValueError(f"k={k} exceeds the number of classes ({scores.shape[1]})")
    true = scores[np.arange(len(labels)), labels]
    return float(np.mean((scores > true[:, None]).sum(axis=1) < k))


def _check_labels(labels, n_classes, n):
    labels = _as_array("labels", labels, ndim=1, dtype=np.int64)
    if labels.shape[0] != n:
        raise ValueError(f"labels has {labels.shape[0]} entries, expected {n} (one per row of scores)")
    bad = (labels < 0) | (labels >= n_classes)
    if np.any(bad):
        raise ValueError(f"labels must be in [0, {n_classes - 1}], got {labels[bad][:5].tolist()}")
    return labels


def weighted_f1(y_true, y_pred):
    """F1 score per class averaged with weights equal to the class frequencies in ``y_true``.

    This is :func:`sklearn.metrics.f1_score` with ``average="weighted"`` (HiSTN's headline metric).

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        True and predicted classes.

    Returns
    -------
    f1 : float

    Examples
    --------
    >>> from neurosim.decoding.metrics import weighted_f1
    >>> round(weighted_f1([0, 0, 1, 1], [0, 1, 1, 1]), 4)
    0.7333
    """
    from sklearn.metrics import f1_score

    y_true = _as_array("y_true", y_true, ndim=1, dtype=np.int64)
    y_pred = _as_array("y_pred", y_pred, ndim=1, dtype=np.int64)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    return float(f1_score(y_true, y_pred, average="weighted", zero_division=0))


def seq2hr(scores, labels, *, return_all=False):
    """Seq2HR: the two best classes are adjacent ordinal levels and one of them is the true class.

    Kuang et al. (2024) rank the class scores of each sample; ``top1``, ``top2`` are the two best
    classes. Seq2HR is the fraction of samples with ``|top1 - top2| == 1`` and the label in
    ``{top1, top2}``. Companions: the adjacent rate (``|top1 - top2| == 1``) and the adjacent rate
    with a correct top-1.

    Parameters
    ----------
    scores : array-like, shape (n, n_classes)
        Class scores or probabilities; classes are ordered levels (e.g. ratings 1-5 as 0-4).
    labels : array-like of int, shape (n,)
        True classes.
    return_all : bool
        Also return the companions.

    Returns
    -------
    seq2hr : float | dict
        The Seq2HR, or a dict with ``"seq2hr"``, ``"adjacent"`` and ``"adjacent_top1"``.

    Examples
    --------
    >>> from neurosim.decoding.metrics import seq2hr
    >>> scores = [[0.6, 0.3, 0.1, 0.0, 0.0],   # top1 0, top2 1: adjacent, label 1 in them
    ...           [0.6, 0.0, 0.3, 0.1, 0.0],   # top1 0, top2 2: not adjacent
    ...           [0.0, 0.1, 0.2, 0.6, 0.1]]   # top1 3, top2 2: adjacent, label 4 not in them
    >>> seq2hr(scores, [1, 0, 4], return_all=True)
    {'seq2hr': 0.3333333333333333, 'adjacent': 0.6666666666666666, 'adjacent_top1': 0.0}
    """
    scores = _as_array("scores", scores, ndim=2)
    if scores.shape[1] < 2:
        raise ValueError(f"seq2hr needs at least 2 classes, got {scores.shape[1]}")
    labels = _check_labels(labels, scores.shape[1], scores.shape[0])
    order = np.argsort(-scores, axis=1, kind="stable")
    top1, top2 = order[:, 0], order[:, 1]
    adjacent = np.abs(top1 - top2) == 1
    hit1 = top1 == labels
    hit2 = hit1 | (top2 == labels)
    out = {"seq2hr": float(np.mean(adjacent & hit2)), "adjacent": float(np.mean(adjacent)),
           "adjacent_top1": float(np.mean(adjacent & hit1))}
    return out if return_all else out["seq2hr"]


def off_neighbour_rate(y_true, y_pred):
    """Fraction of predictions more than one ordinal level away from the truth.

    This is the confusion-matrix mass off the tridiagonal (HiSTN's ``off_neibor``), divided by the
    number of samples.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        True and predicted ordinal classes.

    Returns
    -------
    rate : float

    Examples
    --------
    >>> from neurosim.decoding.metrics import off_neighbour_rate
    >>> off_neighbour_rate([0, 2, 4, 1], [1, 4, 4, 3])
    0.5
    """
    y_true = _as_array("y_true", y_true, ndim=1, dtype=np.int64)
    y_pred = _as_array("y_pred", y_pred, ndim=1, dtype=np.int64)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    return float(np.mean(np.abs(y_true - y_pred) > 1))


def _two_d(name, a):
    a = _as_array(name, a, ndim=(1, 2))
    return a[:, None] if a.ndim == 1 else a


def voxelwise_pearson(y_true, y_pred):
    """Pearson correlation between true and predicted responses, per column (voxel).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_samples, n_voxels) or (n_samples,)
        Responses; rows are samples.

    Returns
    -------
    r : numpy.ndarray, shape (n_voxels,)
        NaN for a column that is constant in either input.

    Examples
    --------
    >>> from neurosim.decoding.metrics import voxelwise_pearson
    >>> voxelwise_pearson([[1, 1], [2, 0], [3, 2]], [[2, 0], [4, 1], [6, -1]])
    array([ 1., -1.])
    """
    y_true, y_pred = _two_d("y_true", y_true), _two_d("y_pred", y_pred)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    if y_true.shape[0] < 2:
        raise ValueError(f"Pearson r needs at least 2 samples, got {y_true.shape[0]}")
    a = y_true - y_true.mean(axis=0)
    b = y_pred - y_pred.mean(axis=0)
    denom = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / denom
    r[denom == 0] = np.nan
    return r


def explained_variance(y_true, y_pred):
    """Explained variance per column: ``1 - Var(y_true - y_pred) / Var(y_true)``.

    Equal to :func:`sklearn.metrics.explained_variance_score` with ``multioutput="raw_values"``
    (BraInCoRL's voxelwise metric), including its convention for constant columns (1 if the
    residual is constant too, else 0).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_samples, n_voxels) or (n_samples,)
        Responses; rows are samples.

    Returns
    -------
    ev : numpy.ndarray, shape (n_voxels,)

    Examples
    --------
    >>> from neurosim.decoding.metrics import explained_variance
    >>> explained_variance([[1.0], [2.0], [3.0]], [[1.5], [2.5], [3.5]])
    array([1.])
    """
    y_true, y_pred = _two_d("y_true", y_true), _two_d("y_pred", y_pred)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    var_res = np.var(y_true - y_pred, axis=0)
    var_true = np.var(y_true, axis=0)
    ev = np.ones(y_true.shape[1])
    ok = var_true != 0
    ev[ok] = 1.0 - var_res[ok] / var_true[ok]
    ev[~ok & (var_res != 0)] = 0.0
    return ev


def classification_scores(proba, y, *, topk_classes="all"):
    """Weighted F1, Seq2HR, top-1 and top-2 accuracy of class scores (HiSTN's evaluation).

    Parameters
    ----------
    proba : array-like, shape (n, n_classes)
        Class scores (probabilities or logits); the prediction is their argmax.
    y : array-like of int, shape (n,)
        True classes.
    topk_classes : "all" | "present"
        Rank all classes for top-1/top-2 accuracy, or only the classes present in ``y`` (the
        official HiSTN evaluation: ``top_k_accuracy_score(y, pred[:, np.unique(y)])``, so a
        subject who used 3 of the 5 rating levels is scored among those 3). Weighted F1 and
        Seq2HR always use the argmax / ranking over all classes, as the official code.

    Returns
    -------
    scores : dict of str to float
        ``weighted_f1``, ``seq2hr``, ``top1``, ``top2``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.metrics import classification_scores
    >>> classification_scores(np.eye(3), [0, 1, 2])["weighted_f1"]
    1.0
    """
    proba = np.asarray(proba)
    y = np.asarray(y)
    if topk_classes == "present":
        present = np.unique(y)
        ranked, labels = proba[:, present], np.searchsorted(present, y)
    elif topk_classes == "all":
        ranked, labels = proba, y
    else:
        raise ValueError(f"topk_classes must be 'all' or 'present', got {topk_classes!r}")
    return {"weighted_f1": weighted_f1(y, proba.argmax(1)),
            "seq2hr": seq2hr(proba, y),
            "top1": topk_accuracy(ranked, labels, k=1),
            "top2": topk_accuracy(ranked, labels, k=min(2, ranked.shape[1]))}


def stratified_chance_scores(y_train, y_test, n_classes=5):
    """Expected scores of guessing with the training class frequencies (stratified chance).

    A guess drawn from the training frequencies ``p`` has, for class ``k``, precision ``q_k``
    (its test frequency) and recall ``p_k``, so its expected F1 is ``2 p_k q_k / (p_k + q_k)``
    and its top-1 accuracy ``sum_k p_k q_k``. Seq2HR and top-2 are not defined for a guess (NaN).

    Parameters
    ----------
    y_train, y_test : array-like of int
        Training and test classes in ``[0, n_classes)``.
    n_classes : int
        Number of classes.

    Returns
    -------
    scores : dict of str to float
        ``weighted_f1``, ``seq2hr`` (NaN), ``top1``, ``top2`` (NaN).

    Examples
    --------
    >>> from neurosim.decoding.metrics import stratified_chance_scores
    >>> stratified_chance_scores([0, 1], [0, 1], n_classes=2)["top1"]
    0.5
    """
    p = np.bincount(y_train, minlength=n_classes) / len(y_train)
    q = np.bincount(y_test, minlength=n_classes) / len(y_test)
    f1 = np.where(p + q > 0, 2 * p * q / np.where(p + q > 0, p + q, 1), 0.0)
    return {"weighted_f1": float(np.sum(q * f1)), "seq2hr": float("nan"),
            "top1": float(np.sum(p * q)), "top2": float("nan")}


def permutation_test(score_fn, y, *, groups=None, n_permutations=100, random_state=0):
    """Permutation test of any decoder: refit on shuffled labels and count scores as good.

    The labels are shuffled *within* each group (e.g. within each fMRI run, so that the block
    structure that cross-validation by run relies on is kept), ``score_fn`` is called on every
    shuffle, and the p-value is the fraction of shuffles that score at least as well as the true
    labels, counting the true labels once (Phipson & Smyth 2010), as
    :func:`sklearn.model_selection.permutation_test_score` does. Use scikit-learn's function for
    scikit-learn estimators; this one takes any callable, e.g. a cross-validation of a torch decoder
    through the :class:`~neurosim.decoding.Trainer`.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(y) -> float``: fit and score the decoder with labels ``y`` (higher is better),
        e.g. the mean accuracy of a leave-one-run-out cross-validation.
    y : array-like of shape (n_samples,)
        The true labels (any dtype).
    groups : array-like of shape (n_samples,) | None
        Labels are permuted only among samples of the same group (None: all samples).
    n_permutations : int
        Number of shuffles. The smallest p-value reachable is ``1 / (n_permutations + 1)``: at
        least 19 shuffles are needed to reach p <= 0.05.
    random_state : None | int | numpy.random.Generator
        Seeds the shuffles.

    Returns
    -------
    score : float
        ``score_fn(y)`` on the true labels.
    permutation_scores : numpy.ndarray of shape (n_permutations,)
        The scores on shuffled labels.
    pvalue : float
        ``(1 + #{permutation_scores >= score}) / (n_permutations + 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.metrics import permutation_test
    >>> y = np.repeat([0, 1], 20)
    >>> x = y + np.random.default_rng(0).normal(scale=0.5, size=40)
    >>> score_fn = lambda labels: float(np.mean((x > 0.5) == labels))
    >>> score, perm, p = permutation_test(score_fn, y, n_permutations=99, random_state=0)
    >>> p <= 0.01
    True
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable, got {score_fn!r}")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y must be a non-empty 1-D array, got shape {y.shape}")
    n_permutations = check_size("n_permutations", n_permutations)
    if groups is None:
        groups = np.zeros(len(y), dtype=np.int64)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have the shape of y {y.shape}, got {groups.shape}")
    rng = check_random_state(random_state)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    score = float(score_fn(y))
    perm_scores = np.empty(n_permutations)
    for k in range(n_permutations):
        shuffled = y.copy()
        for idx in members:
            shuffled[idx] = y[rng.permutation(idx)]
        perm_scores[k] = float(score_fn(shuffled))
    pvalue = (1.0 + np.sum(perm_scores >= score)) / (n_permutations + 1.0)
    return score, perm_scores, float(pvalue)
