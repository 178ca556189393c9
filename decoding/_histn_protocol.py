"""HiSTN's evaluation protocols (re-exported by :mod:`neurosim.decoding.model_selection`).

As the official TensorFlow code runs them (``Dreamer_10cv.py``, subject-dependent, and
``DREAMER_independent_reston1_formal_notransit.py``, subject-independent; Kuang, Song & Michoski,
arXiv:2408.15255):

subject-dependent (SD)
    Per subject, 10 blocks of each film; fold ``f`` tests on block ``f`` and validates on block
    ``f - 1`` (:func:`histn_fold_starts`). Every training batch is drawn afresh:
    **class-balanced random 1-s crops** (a class among those the subject used, a film of that
    class, a start; :func:`crop_batches`). Adam, lr 1e-3 then 5e-4 from epoch 30, 50 epochs of
    ``n_starts x n_films // 256`` batches of 256; the epoch with the lowest validation loss
    (one-hot cross-entropy on 2,000 class-balanced validation crops) is kept; the test set is
    **1,000 class-balanced crops** of the test block (:func:`class_balanced_crops`); top-k
    accuracy ranks only the classes present in the subject's labels.
subject-independent (SI)
    Leave one subject out: pretrain on the others' non-overlapping 1-s windows with majority-vote
    labels in class-balanced batches of 120 (Adam 1e-2, 2e-3 from epoch 50, 100 epochs, dropout
    0.2); freeze the temporal convolution only; fine-tune on the first 10 s of each of the held-out
    subject's films (windows every 0.25 s) for 400 epochs at a constant Adam 1e-3, batches of 100,
    inverse-frequency class weights; test on the last 50 s (non-overlapping windows).

:data:`HISTN_RECIPES` holds these settings (``"paper"``) and a CPU-sized schedule (``"small"``).
:func:`histn_held_out_films` is neurosim's addition: the subject-dependent protocol with whole
films held out, which measures emotion decoding rather than film recognition.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HISTN_DECODERS",
    "HISTN_RECIPES",
    "class_balanced_crops",
    "crop_batches",
    "fit_histn",
    "histn_fold_starts",
    "histn_held_out_films",
    "histn_leave_one_subject_out",
    "histn_subject_dependent",
    "leave_one_subject_out_split",
    "majority_vote_labels",
    "subject_dependent_split",
    "time_block_folds",
    "window_starts",
]

#: the decoders of :func:`histn_subject_dependent` and :func:`histn_leave_one_subject_out`
HISTN_DECODERS = ("histn_smoothed", "histn_onehot", "logreg", "chance")

#: Training settings of the two protocols: ``"paper"`` as the official code, ``"small"`` a CPU
#: budget with the same sampling and evaluation (and centred crops, see ``center``).
HISTN_RECIPES = {
    "paper": {
        "sd": {"epochs": 50, "batch_size": 256, "lr": 1e-3, "lr_drop_epoch": 30,
               "lr_after": 5e-4, "steps_per_epoch": None, "n_val": 2000, "n_test": 1000,
               "model": "paper", "center": False},
        "si": {"pretrain_epochs": 100, "pretrain_batch_size": 120, "pretrain_lr": 1e-2,
               "pretrain_lr_drop_epoch": 50, "pretrain_lr_after": 2e-3, "finetune_epochs": 400,
               "finetune_batch_size": 100, "finetune_lr": 1e-3, "class_weights": True,
               "model": "paper-si", "stride": 128, "center": False},
    },
    "small": {
        "sd": {"epochs": 10, "batch_size": 128, "lr": 3e-3, "lr_drop_epoch": 6, "lr_after": 1.5e-3,
               "steps_per_epoch": 40, "n_val": 500, "n_test": 1000, "model": "small",
               "center": True},
        "si": {"pretrain_epochs": 10, "pretrain_batch_size": 120, "pretrain_lr": 1e-2,
               "pretrain_lr_drop_epoch": 5, "pretrain_lr_after": 2e-3, "finetune_epochs": 40,
               "finetune_batch_size": 100, "finetune_lr": 1e-3, "class_weights": True,
               "model": {"drop_prob": 0.2, "bn_momentum": 0.1}, "stride": 128, "center": True},
    },
}


def _recipe(config, protocol, overrides):
    if isinstance(config, str):
        if config not in HISTN_RECIPES:
            raise ValueError(f"unknown HiSTN configuration {config!r}; expected one of "
                             f"{sorted(HISTN_RECIPES)}")
        recipe = dict(HISTN_RECIPES[config][protocol])
    elif isinstance(config, dict):
        recipe = dict(config)
    else:
        raise TypeError(f"config must be a name in {sorted(HISTN_RECIPES)} or a dict, got "
                        f"{type(config).__name__}")
    unknown = sorted(set(overrides) - set(HISTN_RECIPES["paper"][protocol]))
    if unknown:
        raise ValueError(f"unknown {protocol.upper()} settings {unknown}; expected some of "
                         f"{sorted(HISTN_RECIPES['paper'][protocol])}")
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    return recipe


def _step_schedule(drop_step, factor):
    """Scheduler factory for the Trainer: lr x ``factor`` from optimiser step ``drop_step`` on."""
    import torch

    def make(optimizer, total_steps):
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 1.0 if step < drop_step else factor)

    return make


# ==============================================================================================
# HiSTN: windows, folds and splits
# ==============================================================================================
def time_block_folds(n_times, n_folds=10, *, gap=128):
    """HiSTN's subject-dependent folds over the time axis of each trial.

    The recording is cut into ``n_folds`` equal blocks; fold ``f`` tests on block ``f``, validates
    on block ``f - 1`` (cyclically) and trains on the rest, leaving ``gap`` samples out on each
    side of the test and validation blocks so that no window straddles them.

    Parameters
    ----------
    n_times : int
        Samples per trial (e.g. 7680 = 60 s at 128 Hz).
    n_folds : int
        Number of blocks (HiSTN: 10 blocks of 6 s).
    gap : int
        Samples excluded next to the test and validation blocks.

    Returns
    -------
    folds : list of dict
        Per fold, boolean masks over samples: ``"train"``, ``"val"``, ``"test"``.

    Examples
    --------
    >>> from neurosim.decoding.model_selection import time_block_folds
    >>> f = time_block_folds(7680)[3]
    >>> int(f["test"].sum()), int(f["val"].sum()), int(f["train"].sum())
    (768, 768, 5888)
    """
    if n_folds < 2 or n_times < n_folds:
        raise ValueError(f"need 2 <= n_folds <= n_times, got n_folds={n_folds}, n_times={n_times}")
    edges = np.linspace(0, n_times, n_folds + 1).astype(int)
    idx = np.arange(n_times)
    folds = []
    for f in range(n_folds):
        test = (idx >= edges[f]) & (idx < edges[f + 1])
        v = (f - 1) % n_folds
        val = (idx >= edges[v]) & (idx < edges[v + 1])
        held = test | val
        near = np.convolve(held.astype(int), np.ones(2 * gap + 1, dtype=int), mode="same") > 0 \
            if gap > 0 else held
        folds.append({"train": ~near, "val": val, "test": test})
    return folds


def window_starts(mask, window, stride):
    """Start indices of windows of ``window`` samples lying entirely where ``mask`` is True."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size < window:
        return np.zeros(0, dtype=int)
    inside = np.lib.stride_tricks.sliding_window_view(mask, window).all(axis=-1)
    starts = np.flatnonzero(inside)
    if stride <= 1 or starts.size == 0:
        return starts
    keep, last = [], -stride
    for s in starts:  # greedy: next start at least `stride` after the previous one
        if s - last >= stride:
            keep.append(s)
            last = s
    return np.asarray(keep, dtype=int)


def _windows_at(eeg, labels, starts, window, center=False):
    """(trial, channel, time) at the given starts -> X (n, channel, window), y (n,).

    ``center`` removes each window's per-channel mean (computed in float64).
    """
    X = np.stack([eeg[:, :, s:s + window] for s in starts], axis=1)  # (trial, n_w, ch, window)
    X = X.reshape(-1, eeg.shape[1], window)
    if center:
        X = X - X.mean(axis=-1, keepdims=True, dtype=np.float64)
    y = np.repeat(np.asarray(labels), len(starts))
    return X.astype(np.float32), y.astype(np.int64)


def subject_dependent_split(eeg, labels, fold, *, n_folds=10, window=128, stride=128, gap=128,
                            center=False):
    """Windows of one subject for one of HiSTN's subject-dependent time-block folds.

    Parameters
    ----------
    eeg : array-like, shape (n_trials, n_channels, n_times)
        Preprocessed EEG of one subject (:func:`preprocess_dreamer`).
    labels : array-like of int, shape (n_trials,)
        Class of each trial (ratings 1-5 as 0-4).
    fold : int
        Fold index in ``[0, n_folds)`` (see :func:`time_block_folds`).
    n_folds, gap : int
        As in :func:`time_block_folds`.
    window, stride : int
        Window length and step in samples (the paper trains on random crops: ``stride=1`` gives
        every crop).
    center : bool
        Remove each window's per-channel mean. Not in the paper (see
        :ref:`centred windows <histn-centering>`): when slow drifts dominate a 1-s window's
        variance, HiSTN otherwise fits the drift, which a band-power baseline (Welch, constant
        detrending) never sees.

    Returns
    -------
    split : dict
        ``"train"``, ``"val"``, ``"test"``: each ``(X, y)`` with X of shape
        (n_windows, n_channels, window), float32, and y int64. Windows never cross a block boundary
        or the gaps.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import subject_dependent_split
    >>> split = subject_dependent_split(np.zeros((18, 14, 7680)), np.arange(18) % 5, fold=0)
    >>> split["train"][0].shape, split["test"][0].shape
    ((828, 14, 128), (108, 14, 128))
    """
    eeg = np.asarray(getattr(eeg, "values", eeg))
    labels = np.asarray(getattr(labels, "values", labels))
    if eeg.ndim != 3 or labels.shape != (eeg.shape[0],):
        raise ValueError(f"eeg must be (trial, channel, time) and labels (trial,), got shapes "
                         f"{eeg.shape} and {labels.shape}")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in [0, {n_folds - 1}], got {fold}")
    masks = time_block_folds(eeg.shape[-1], n_folds, gap=gap)[fold]
    return {part: _windows_at(eeg, labels, window_starts(masks[part], window, stride), window,
                              center)
            for part in ("train", "val", "test")}


def majority_vote_labels(labels):
    """Per trial (video), the most frequent label over subjects (ties: the lower class).

    Parameters
    ----------
    labels : array-like of int, shape (n_subjects, n_trials)

    Returns
    -------
    votes : numpy.ndarray of int, shape (n_trials,)

    Examples
    --------
    >>> from neurosim.decoding import majority_vote_labels
    >>> majority_vote_labels([[0, 4, 2], [1, 4, 3], [1, 3, 3]])
    array([1, 4, 3])
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0 or labels.min() < 0:
        raise ValueError(f"labels must be a non-empty (subject, trial) array of classes >= 0, "
                         f"got shape {labels.shape}")
    n_classes = int(labels.max()) + 1
    counts = np.stack([(labels == k).sum(axis=0) for k in range(n_classes)])  # (class, trial)
    return counts.argmax(axis=0)


def leave_one_subject_out_split(eeg, labels, subject, *, window=128, stride=128,
                                finetune_s=10.0, finetune_stride=32, sfreq=128.0,
                                majority_vote=True, center=False):
    """HiSTN's subject-independent protocol: pretrain on the others, fine-tune on 10 s, test on 50 s.

    Parameters
    ----------
    eeg : array-like, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG (:func:`preprocess_dreamer`).
    labels : array-like of int, shape (n_subjects, n_trials)
        Classes.
    subject : int
        Index of the held-out subject.
    window, stride : int
        Window length and the step of the pretraining windows (samples).
    finetune_s : float
        Seconds at the start of each of the held-out subject's trials used for fine-tuning; the
        rest is the test set.
    finetune_stride : int
        Step of the fine-tuning windows (HiSTN: 0.25 s).
    sfreq : float
        Sampling frequency in Hz.
    majority_vote : bool
        Replace the pretraining labels by the majority vote over the training subjects for each
        trial (video), as HiSTN does.
    center : bool
        Remove each window's per-channel mean (see :func:`subject_dependent_split`).

    Returns
    -------
    split : dict
        ``"pretrain"``, ``"finetune"``, ``"test"``: each ``(X, y)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import leave_one_subject_out_split
    >>> s = leave_one_subject_out_split(np.zeros((3, 18, 14, 7680)), np.zeros((3, 18), int), 0)
    >>> s["pretrain"][0].shape[0], s["finetune"][0].shape[0], s["test"][0].shape[0]
    (2160, 666, 900)
    """
    eeg = np.asarray(getattr(eeg, "values", eeg))
    labels = np.asarray(getattr(labels, "values", labels))
    if eeg.ndim != 4 or labels.shape != eeg.shape[:2]:
        raise ValueError(f"eeg must be (subject, trial, channel, time) and labels (subject, trial), "
                         f"got shapes {eeg.shape} and {labels.shape}")
    n_sub, _, _, n_times = eeg.shape
    if not 0 <= subject < n_sub or n_sub < 2:
        raise ValueError(f"subject must be in [0, {n_sub - 1}] with >= 2 subjects, got {subject}")
    others = [s for s in range(n_sub) if s != subject]
    train_labels = labels[others]
    if majority_vote:
        train_labels = np.broadcast_to(majority_vote_labels(train_labels), train_labels.shape)
    starts = np.arange(0, n_times - window + 1, stride)
    Xs, ys = zip(*(_windows_at(eeg[s], train_labels[i], starts, window, center)
                   for i, s in enumerate(others)))
    n_ft = int(round(finetune_s * sfreq))
    if not window <= n_ft <= n_times - window:
        raise ValueError(f"finetune_s={finetune_s} s must leave at least one window on each side")
    ft = _windows_at(eeg[subject], labels[subject], np.arange(0, n_ft - window + 1, finetune_stride),
                     window, center)
    test = _windows_at(eeg[subject], labels[subject], np.arange(n_ft, n_times - window + 1, window),
                       window, center)
    return {"pretrain": (np.concatenate(Xs), np.concatenate(ys)), "finetune": ft, "test": test}




# ==============================================================================================
# HiSTN: the official sampling
# ==============================================================================================
def histn_fold_starts(n_times, fold, *, n_folds=10, window=128):
    """Start samples of the 1-s crops of each part of a subject-dependent fold (official split).

    ``Dreamer_10cv.py`` / ``utils.data_split_10``: blocks of ``n_times // 10`` samples; the test is
    block ``fold``, validation block ``fold - 1`` (block 9 for fold 0). Training crops start in
    ``[0, val_start - window)`` and ``[test_end, n_times - window)`` (for fold 0: between the test
    and the validation block; for fold 9: before the validation block), so that no training crop
    overlaps either block; validation and test crops start in
    ``[block_start, block_end - window)`` (``np.random.randint``'s exclusive upper bound).

    Parameters
    ----------
    n_times : int
        Samples per film (7680 = 60 s at 128 Hz).
    fold : int
        In ``[0, n_folds)``.
    n_folds : int
        Blocks (10).
    window : int
        Crop length (128).

    Returns
    -------
    starts : dict of str to numpy.ndarray of int
        ``"train"``, ``"val"``, ``"test"``.

    Examples
    --------
    >>> from neurosim.decoding.model_selection import histn_fold_starts
    >>> s = histn_fold_starts(7680, 3)
    >>> len(s["train"]), int(s["val"].min()), int(s["test"].max())
    (5888, 1536, 2943)
    """
    if not 0 <= fold < n_folds or n_times < n_folds * (window + 1):
        raise ValueError(f"need 0 <= fold < n_folds={n_folds} and n_times >= "
                         f"{n_folds * (window + 1)}; got fold={fold}, n_times={n_times}")
    each = n_times // n_folds
    edges = np.arange(0, n_times, each)[:n_folds]
    test = (edges[fold], edges[fold] + each)
    val = (edges[fold - 1], edges[fold - 1] + each)
    if fold == 0:
        train = np.arange(test[1], val[0] - window)
    elif fold == n_folds - 1:
        train = np.arange(0, val[0] - window)
    else:
        train = np.concatenate([np.arange(0, val[0] - window),
                                np.arange(test[1], n_times - window)])
    return {"train": train.astype(np.int64),
            "val": np.arange(val[0], val[1] - window).astype(np.int64),
            "test": np.arange(test[0], test[1] - window).astype(np.int64)}


def _check_trials(eeg, labels):
    eeg = np.asarray(getattr(eeg, "values", eeg))
    labels = np.asarray(getattr(labels, "values", labels)).astype(np.int64)
    if eeg.ndim != 3 or labels.shape != (eeg.shape[0],):
        raise ValueError(f"eeg must be (trial, channel, time) and labels (trial,), got shapes "
                         f"{eeg.shape} and {labels.shape}")
    return eeg, labels


def class_balanced_crops(eeg, labels, starts, n, *, window=128, center=False, random_state=0):
    """``n`` class-balanced random crops of one subject's films (the official ``val_gen``).

    Each crop: a class drawn uniformly among the classes in ``labels``, a film of that class
    uniformly, a start uniformly from ``starts``.

    Parameters
    ----------
    eeg : array-like, shape (n_trials, n_channels, n_times)
        One subject's films.
    labels : array-like of int, shape (n_trials,)
        Class of each film.
    starts : array-like of int
        Allowed start samples (:func:`histn_fold_starts`).
    n : int
        Number of crops (official: 1,000 for the test, 2,000 for validation).
    window : int
        Crop length.
    center : bool
        Remove each crop's per-channel mean (not in the paper).
    random_state : int | numpy.random.Generator | None
        Seed of the draw.

    Returns
    -------
    X : numpy.ndarray, shape (n, n_channels, window), float32
    y : numpy.ndarray of int64, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.model_selection import class_balanced_crops
    >>> X, y = class_balanced_crops(np.zeros((4, 2, 300)), [0, 0, 0, 3], np.arange(100), 1000)
    >>> X.shape, round(float(np.mean(y == 3)), 1)
    ((1000, 2, 128), 0.5)
    """
    from neurosim._utils import check_random_state

    eeg, labels = _check_trials(eeg, labels)
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0 or starts.min() < 0 or starts.max() + window > eeg.shape[-1]:
        raise ValueError(f"starts must be non-empty and leave {window} samples in films of "
                         f"{eeg.shape[-1]}")
    rng = check_random_state(random_state)
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    cls = rng.integers(len(classes), size=n)
    trial = np.array([members[c][rng.integers(len(members[c]))] for c in cls], dtype=np.int64)
    start = starts[rng.integers(len(starts), size=n)]
    view = np.lib.stride_tricks.sliding_window_view(eeg, window, axis=-1)  # (trial, ch, t, w)
    X = view[trial, :, start]
    if center:
        X = X - X.mean(axis=-1, keepdims=True, dtype=np.float64)
    return X.astype(np.float32), labels[trial]


def crop_batches(eeg, labels, starts, *, batch_size=256, steps_per_epoch=None, window=128,
                 center=False, device=None):
    """The official training stream (``sample_generator``): fresh class-balanced crops each batch.

    Parameters
    ----------
    eeg : array-like, shape (n_trials, n_channels, n_times)
        One subject's films.
    labels : array-like of int, shape (n_trials,)
        Class of each film.
    starts : array-like of int
        Allowed start samples of training crops (:func:`histn_fold_starts`).
    batch_size : int
        Crops per batch (official: 256).
    steps_per_epoch : int | None
        Batches per epoch (None: the official ``len(starts) * n_trials // batch_size``).
    window : int
        Crop length.
    center : bool
        Remove each crop's per-channel mean (not in the paper).
    device : str | torch.device | None
        Where the films are kept and the crops cut (the Trainer's device).

    Returns
    -------
    train : callable
        ``train(epoch, generator)`` yielding ``steps_per_epoch`` batches ``(x, y)``, drawn with
        the Trainer's seeded generator; it has ``steps_per_epoch`` as an attribute.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from neurosim.decoding.model_selection import crop_batches
    >>> train = crop_batches(np.zeros((4, 2, 300)), [0, 1, 1, 1], np.arange(100), batch_size=8)
    >>> train.steps_per_epoch, next(iter(train(1, torch.Generator())))[0].shape
    (50, torch.Size([8, 2, 128]))
    """
    import torch

    from ._trainer import resolve_device

    eeg, labels = _check_trials(eeg, labels)
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0 or starts.min() < 0 or starts.max() + window > eeg.shape[-1]:
        raise ValueError(f"starts must be non-empty and leave {window} samples in films of "
                         f"{eeg.shape[-1]}")
    if not np.all(np.isfinite(eeg)):
        raise ValueError("eeg contains NaN or inf values")
    n_steps = (len(starts) * len(labels) // batch_size if steps_per_epoch is None
               else int(steps_per_epoch))
    if n_steps < 1:
        raise ValueError(f"{len(starts)} starts x {len(labels)} films give no batch of "
                         f"{batch_size}")
    dev = resolve_device(device)
    films = torch.as_tensor(eeg, dtype=torch.float32, device=dev).unfold(-1, window, 1)
    y_all = torch.as_tensor(labels, device=dev)
    classes = np.unique(labels)
    members = [torch.as_tensor(np.flatnonzero(labels == c)) for c in classes]
    starts_t = torch.as_tensor(starts)

    def train(epoch, generator):
        for _ in range(n_steps):
            cls = torch.randint(len(classes), (batch_size,), generator=generator)
            pick = torch.randint(1 << 30, (batch_size,), generator=generator)
            trial = torch.stack([members[c][p % len(members[c])] for c, p in
                                 zip(cls.tolist(), pick.tolist())]).to(dev)
            start = starts_t[torch.randint(len(starts_t), (batch_size,),
                                           generator=generator)].to(dev)
            x = films[trial, :, start]  # (batch, channel, window)
            if center:
                x = x - x.mean(-1, keepdim=True)
            yield x, y_all[trial]

    train.steps_per_epoch = n_steps
    return train


def _balanced_batches(X, y, batch_size):
    """SI pretraining stream (``DataGen``): ``batch_size // n_classes`` samples of each class
    present, with replacement, shuffled; ``len(X) // batch_size`` batches per epoch."""
    import torch

    classes = np.unique(y)
    per = batch_size // len(classes)
    members = [torch.as_tensor(np.flatnonzero(y == c)) for c in classes]
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    n_steps = max(1, len(X) // batch_size)

    def train(epoch, generator):
        for _ in range(n_steps):
            idx = torch.cat([m[torch.randint(len(m), (per,), generator=generator)]
                             for m in members])
            idx = idx[torch.randperm(len(idx), generator=generator)]
            yield X_t[idx], y_t[idx]

    train.steps_per_epoch = n_steps
    return train


def _histn_step(class_weights=None):
    """Training: the model's loss (smoothed or one-hot), optionally class-weighted per sample as
    Keras's ``class_weight`` (by the label); evaluation (validation loss): one-hot cross-entropy,
    as the official ``val_loss``."""
    import torch
    import torch.nn.functional as F

    from .losses import gaussian_ordinal_labels

    def step(model, batch):
        x, y = batch[0], batch[1]
        logits = model(x).float()
        if not model.training:
            return F.cross_entropy(logits, y)
        if model.label_sigma is None:
            per = F.cross_entropy(logits, y, reduction="none")
        else:
            target = gaussian_ordinal_labels(y, logits.shape[-1], model.label_sigma)
            per = -(target * F.log_softmax(logits, -1)).sum(-1)
        if class_weights is not None:
            per = per * torch.as_tensor(class_weights, dtype=per.dtype, device=per.device)[y]
        return per.mean()

    return step


def fit_histn(train, y=None, *, label_sigma=0.5, epochs=30, batch_size=128, lr=1e-2, val=None,
              model=None, scheduler="onecycle", weight_decay=1e-2, grad_clip=1.0,
              steps_per_epoch=None, class_weights=None, model_config="small", drop_last=True,
              random_state=0, device=None, progress=False):
    """Train a :class:`~neurosim.decoding.HiSTN` on windows or on a crop stream.

    Parameters
    ----------
    train : numpy.ndarray | callable
        Windows (n_windows, n_channels, n_times) with their classes ``y``, or a Trainer stream
        ``train(epoch, generator)`` (:func:`crop_batches`).
    y : numpy.ndarray of int | None
        Classes of the windows (None for a stream).
    label_sigma : float | None
        Gaussian ordinal label smoothing (None: one-hot); used when a new model is built.
    epochs, batch_size : int
        Trainer epochs and batch size (windows only).
    lr : float
        Learning rate (peak of the one-cycle schedule).
    val : tuple | None
        ``(X_val, y_val)``: the epoch with the lowest validation loss (one-hot cross-entropy) is
        kept.
    model : HiSTN | None
        Continue training this model (fine-tuning); None builds a new one.
    scheduler : "onecycle" | None | callable
        The Trainer's schedule (the official protocols use a step drop, see
        :func:`histn_subject_dependent`).
    weight_decay : float
        AdamW weight decay (0: Adam, as the official code).
    grad_clip : float | None
        Gradient-norm clipping (None: none, as the official code).
    steps_per_epoch : int | None
        Batches per epoch of a stream (None: its ``steps_per_epoch`` attribute).
    class_weights : array-like | None
        Per-class loss weights (Keras ``class_weight``).
    model_config : str | dict
        :meth:`HiSTN.from_config <neurosim.decoding.HiSTN.from_config>` configuration of a new
        model (``"paper"``, ``"paper-si"``, ``"small"`` or constructor arguments).
    drop_last : bool
        Drop the last incomplete batch of windows.
    random_state : int | numpy.random.Generator | None
        Seeds the initialisation and the trainer.
    device : str | None
        Trainer device (None: CUDA when available).
    progress : bool
        Progress bar.

    Returns
    -------
    model : HiSTN
    """
    from ._histn import HiSTN
    from ._trainer import Trainer
    from .model_selection import _int_seed

    seed = _int_seed(random_state)
    stream = callable(train)
    if not stream and y is None:
        raise ValueError("give the classes y of the training windows, or a crop stream")
    if model is None:
        if stream:
            x0 = next(iter(train(0, __import__("torch").Generator().manual_seed(0))))[0]
            n_chans, n_times = int(x0.shape[1]), int(x0.shape[2])
        else:
            n_chans, n_times = int(train.shape[1]), int(train.shape[2])
        model = HiSTN.from_config(model_config, n_chans=n_chans, n_times=n_times,
                                  label_sigma=label_sigma, random_state=seed)
    if stream and steps_per_epoch is None:
        steps_per_epoch = getattr(train, "steps_per_epoch", None)
    trainer = Trainer(max_epochs=epochs, batch_size=batch_size, lr=lr, scheduler=scheduler,
                      weight_decay=weight_decay, grad_clip=grad_clip, random_state=seed,
                      drop_last=drop_last and not stream, device=device, progress=progress,
                      monitor="val_loss",
                      restore_best=val is not None, steps_per_epoch=steps_per_epoch)
    trainer.fit(model, train if stream else (train, y), val=val,
                step=_histn_step(class_weights))
    return model


def _freeze_temporal(model):
    """The official SI fine-tuning freezes ``model.layers[:3]`` = InputLayer, Lambda and the
    temporal ``Conv2D``: only the temporal filters."""
    model.temporal.requires_grad_(False)
    return model


def histn_subject_dependent(eeg, labels, sfreq, *, config="paper", subjects=None,
                            folds=range(10), label_sigma=0.5, random_state=0, device=None,
                            progress=False, **settings):
    """HiSTN's subject-dependent protocol as the official code runs it, with two baselines.

    For each subject and fold (:func:`histn_fold_starts`): HiSTN trained on fresh class-balanced
    1-s crops (:func:`crop_batches`) with Gaussian-smoothed labels and with one-hot labels, the
    epoch of lowest validation loss kept (class-balanced validation crops); a logistic
    regression on log band power (:func:`~neurosim.decoding.baselines.band_power_scores`) trained
    on as many class-balanced training crops as one epoch draws (at most 20,000); stratified
    chance. All are scored on the same class-balanced test crops, top-k over the classes present.

    Parameters
    ----------
    eeg : numpy.ndarray, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG (:func:`~neurosim.decoding.preprocess_dreamer`).
    labels : numpy.ndarray of int, shape (n_subjects, n_trials)
        Classes.
    sfreq : float
        Sampling frequency in Hz.
    config : "paper" | "small" | dict
        Training settings (:data:`HISTN_RECIPES`).
    subjects : sequence of int | None
        Subjects to run (None: all).
    folds : sequence of int
        Folds to run (10 folds).
    label_sigma : float
        Smoothing of the smoothed variant.
    random_state : int | numpy.random.Generator | None
        Seeds the crops, models and trainers (run ``(s, fold)`` uses ``seed + 7 s + fold``).
    device : str | None
        Trainer device.
    progress : bool
        Progress bars.
    **settings
        Override entries of the recipe's ``"sd"`` settings (``epochs``, ``steps_per_epoch``,
        ``center``, ...).

    Returns
    -------
    scores : dict of str to list of dict
        Per decoder of :data:`HISTN_DECODERS`, one
        :func:`~neurosim.decoding.metrics.classification_scores` dict per run (subject x fold).
    """
    from .model_selection import _int_seed

    r = _recipe(config, "sd", settings)
    seed = _int_seed(random_state)
    eeg = np.asarray(getattr(eeg, "values", eeg))
    labels = np.asarray(getattr(labels, "values", labels)).astype(np.int64)
    if eeg.ndim != 4 or labels.shape != eeg.shape[:2]:
        raise ValueError(f"eeg must be (subject, trial, channel, time) and labels (subject, trial), "
                         f"got shapes {eeg.shape} and {labels.shape}")
    results = {d: [] for d in HISTN_DECODERS}
    subjects = range(len(eeg)) if subjects is None else subjects
    for s in subjects:
        for fold in folds:
            run_seed = seed + 7 * s + fold
            rng = np.random.default_rng(run_seed)
            starts = histn_fold_starts(eeg.shape[-1], fold)
            crop = {"center": r["center"]}
            val = class_balanced_crops(eeg[s], labels[s], starts["val"], r["n_val"],
                                       random_state=rng, **crop)
            Xte, yte = class_balanced_crops(eeg[s], labels[s], starts["test"], r["n_test"],
                                            random_state=rng, **crop)
            _score_run(results, eeg[s], labels[s], starts["train"], val, Xte, yte, r, crop=crop,
                       rng=rng, sfreq=sfreq, label_sigma=label_sigma, run_seed=run_seed,
                       device=device, progress=progress)
    return results


def _score_run(results, eeg, labels, train_starts, val, Xte, yte, r, *, crop, rng, sfreq,
               label_sigma, run_seed, device, progress):
    """One run (subject x fold) of the subject-dependent protocols, scores appended to
    ``results``: HiSTN with smoothed and one-hot labels on the official crop stream from
    ``train_starts`` (the learning rate dropped once), then the band-power baseline on as many
    class-balanced crops as HiSTN saw in an epoch (at most 20,000, drawn from ``rng``) and
    chance."""
    from .baselines import band_power_scores
    from .metrics import classification_scores, stratified_chance_scores

    stream = crop_batches(eeg, labels, train_starts, batch_size=r["batch_size"],
                          steps_per_epoch=r["steps_per_epoch"], device=device, **crop)
    drop = _step_schedule(r["lr_drop_epoch"] * stream.steps_per_epoch, r["lr_after"] / r["lr"])
    for sigma, name in ((label_sigma, "histn_smoothed"), (None, "histn_onehot")):
        model = fit_histn(stream, label_sigma=sigma, epochs=r["epochs"], lr=r["lr"], val=val,
                          scheduler=drop, weight_decay=0.0, grad_clip=None,
                          model_config=r["model"], random_state=run_seed, device=device,
                          progress=progress)
        results[name].append(classification_scores(model.predict_proba(Xte), yte,
                                                   topk_classes="present"))
    n_fit = min(20_000, stream.steps_per_epoch * r["batch_size"])
    Xtr, ytr = class_balanced_crops(eeg, labels, train_starts, n_fit, random_state=rng, **crop)
    results["logreg"].append(band_power_scores(Xtr, ytr, Xte, yte, sfreq))
    results["chance"].append(stratified_chance_scores(ytr, yte))


def histn_leave_one_subject_out(eeg, labels, sfreq, *, config="paper", subjects=None,
                                label_sigma=0.5, random_state=0, device=None, progress=False,
                                **settings):
    """HiSTN's subject-independent protocol as the official code runs it, with two baselines.

    For each held-out subject (:func:`leave_one_subject_out_split`: the others' non-overlapping
    1-s windows with majority-vote labels for pretraining, the first 10 s of each of its films,
    windows every 0.25 s, for fine-tuning, the last 50 s for testing): HiSTN (dropout 0.2)
    pretrained on class-balanced batches, its temporal convolution frozen, fine-tuned with
    inverse-frequency class weights, with smoothed and with one-hot labels; the band-power
    logistic regression trained on pretraining + fine-tuning windows; chance guessing with the
    fine-tuning frequencies. Top-k over the classes present in the test windows.

    Parameters
    ----------
    eeg : numpy.ndarray, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG.
    labels : numpy.ndarray of int, shape (n_subjects, n_trials)
        Classes.
    sfreq : float
        Sampling frequency in Hz.
    config : "paper" | "small" | dict
        Training settings (:data:`HISTN_RECIPES`).
    subjects : sequence of int | None
        Held-out subjects to run (None: all).
    label_sigma : float
        Smoothing of the smoothed variant.
    random_state : int | numpy.random.Generator | None
        Seeds the models and trainers (subject ``s``: ``seed + 101 s``, fine-tuning ``+ 1``).
    device : str | None
        Trainer device.
    progress : bool
        Progress bars.
    **settings
        Override entries of the recipe's ``"si"`` settings.

    Returns
    -------
    scores : dict of str to list of dict
        Per decoder of :data:`HISTN_DECODERS`, one score dict per held-out subject.
    """
    from .baselines import band_power_scores
    from .metrics import classification_scores, stratified_chance_scores
    from .model_selection import _int_seed

    r = _recipe(config, "si", settings)
    seed = _int_seed(random_state)
    results = {d: [] for d in HISTN_DECODERS}
    subjects = range(len(eeg)) if subjects is None else subjects
    for s in subjects:
        split = leave_one_subject_out_split(eeg, labels, s, sfreq=sfreq, stride=r["stride"],
                                            center=r["center"])
        (Xp, yp), (Xf, yf), (Xte, yte) = split["pretrain"], split["finetune"], split["test"]
        weights = None
        if r["class_weights"]:  # Keras class_weight: max count / count, 1 for absent classes
            counts = np.bincount(yf, minlength=5).astype(float)
            weights = np.where(counts > 0, counts.max() / np.maximum(counts, 1), 1.0)
        for sigma, name in ((label_sigma, "histn_smoothed"), (None, "histn_onehot")):
            pre = _balanced_batches(Xp, yp, r["pretrain_batch_size"])
            model = fit_histn(pre, label_sigma=sigma, epochs=r["pretrain_epochs"],
                              lr=r["pretrain_lr"], weight_decay=0.0, grad_clip=None,
                              scheduler=_step_schedule(
                                  r["pretrain_lr_drop_epoch"] * pre.steps_per_epoch,
                                  r["pretrain_lr_after"] / r["pretrain_lr"]),
                              model_config=r["model"], random_state=seed + 101 * s,
                              device=device, progress=progress)
            model = fit_histn(Xf, yf, model=_freeze_temporal(model), epochs=r["finetune_epochs"],
                              batch_size=r["finetune_batch_size"], lr=r["finetune_lr"],
                              scheduler=None, weight_decay=0.0, grad_clip=None,
                              class_weights=weights, drop_last=False,
                              random_state=seed + 101 * s + 1, device=device, progress=progress)
            results[name].append(classification_scores(model.predict_proba(Xte), yte,
                                                       topk_classes="present"))
        Xall, yall = np.concatenate([Xp, Xf]), np.concatenate([yp, yf])
        results["logreg"].append(band_power_scores(Xall, yall, Xte, yte, sfreq))
        results["chance"].append(stratified_chance_scores(yf, yte))
    return results


def histn_held_out_films(eeg, labels, sfreq, *, config="small", subjects=None, n_folds=3,
                         label_sigma=0.5, random_state=0, device=None, progress=False,
                         **settings):
    """Subject-dependent decoding of **held-out films** (neurosim's addition to the protocols).

    The official subject-dependent protocol tests on other seconds of the films it trains on, so
    a decoder can score by recognising the film (each film has its own spectral signature, in
    DREAMER as in :func:`~neurosim.datasets.make_eeg_emotion`). Here each subject's films are
    split into ``n_folds`` groups (each class spread over the groups); HiSTN and the baselines
    train on class-balanced crops of the other films' first 90 % and are tested on 1,000
    class-balanced crops of the held-out films (validation: their other films' last 10 %), so
    only what generalises from one film to another counts.

    Parameters
    ----------
    eeg : numpy.ndarray, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG.
    labels : numpy.ndarray of int, shape (n_subjects, n_trials)
        Classes.
    sfreq : float
        Sampling frequency in Hz.
    config : "paper" | "small" | dict
        Training settings (:data:`HISTN_RECIPES`, ``"sd"``).
    subjects : sequence of int | None
        Subjects to run (None: all).
    n_folds : int
        Groups of films.
    label_sigma : float
        Smoothing of the smoothed variant.
    random_state : int | numpy.random.Generator | None
        Seeds the grouping, the crops, the models and the trainers.
    device : str | None
        Trainer device.
    progress : bool
        Progress bars.
    **settings
        Override entries of the ``"sd"`` settings.

    Returns
    -------
    scores : dict of str to list of dict
        Per decoder of :data:`HISTN_DECODERS`, one score dict per run (subject x fold); classes
        absent from a fold's training films are scored but cannot be predicted.
    """
    from .model_selection import _int_seed

    r = _recipe(config, "sd", settings)
    seed = _int_seed(random_state)
    eeg = np.asarray(eeg)
    labels = np.asarray(labels).astype(np.int64)
    results = {d: [] for d in HISTN_DECODERS}
    subjects = range(len(eeg)) if subjects is None else subjects
    n_times = eeg.shape[-1]
    cut = int(0.9 * n_times)
    for s in subjects:
        rng = np.random.default_rng(seed + 13 * s)
        order = np.argsort(labels[s] + rng.random(labels.shape[1]), kind="stable")
        group = np.empty(len(order), dtype=int)
        group[order] = np.arange(len(order)) % n_folds  # each class dealt round the groups
        for fold in range(n_folds):
            run_seed = seed + 13 * s + fold
            test, train = group == fold, group != fold
            crop = {"center": r["center"]}
            Xte, yte = class_balanced_crops(eeg[s][test], labels[s][test],
                                            np.arange(n_times - 128), r["n_test"],
                                            random_state=rng, **crop)
            val = class_balanced_crops(eeg[s][train], labels[s][train],
                                       np.arange(cut, n_times - 128), r["n_val"],
                                       random_state=rng, **crop)
            _score_run(results, eeg[s][train], labels[s][train], np.arange(cut - 128), val, Xte,
                       yte, r, crop=crop, rng=rng, sfreq=sfreq, label_sigma=label_sigma,
                       run_seed=run_seed, device=device, progress=progress)
    return results
