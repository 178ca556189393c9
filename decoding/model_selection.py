"""Evaluation protocols of the decoders: splits, folds, training recipes and learning curves.

As :mod:`sklearn.model_selection` holds the splitters and the curves, this module holds how each
paper trains and evaluates its model, so that experiments, examples and tests call one
implementation:

HiSTN (EEG emotion)
    :func:`time_block_folds`, :func:`subject_dependent_split`, :func:`leave_one_subject_out_split`
    and :func:`majority_vote_labels` (the two protocols' windows); :func:`fit_histn`;
    :func:`histn_subject_dependent` and :func:`histn_leave_one_subject_out` (the protocols run
    end to end, with the band-power and chance baselines).
BrainFLORA (EEG/MEG/fMRI retrieval)
    :func:`fit_brainflora` (towers, then the unified projector), :func:`retrieval_by_subject` and
    :func:`ridge_retrieval_baseline`.
MindBridge (cross-subject fMRI)
    :func:`reset_tuning_curve`: bridge on source subjects, then reset-tuning vs training from
    scratch on a new subject, per budget of images (the paper's ``--length``), with the official
    recipes (:data:`MINDBRIDGE_RECIPES`) and schedule (:func:`one_cycle_schedule`).
BraInCoRL (in-context voxelwise encoding)
    :func:`meta_train` and :func:`scaling_curve` (explained variance against the number of
    in-context images, with ridge and the ground truth).
fMRI classification by run (Haxby et al. 2001)
    :func:`leave_one_run_out`: the leave-one-run-out accuracy of any classifier, with a
    permutation test (labels shuffled within runs).

Every protocol takes ``random_state``; an int gives the same result on the same device, and is
offset in a fixed way for each model and trainer it seeds.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

__all__ = [
    "fit_brainflora",
    "fit_histn",
    "histn_leave_one_subject_out",
    "histn_subject_dependent",
    "leave_one_run_out",
    "leave_one_subject_out_split",
    "majority_vote_labels",
    "meta_train",
    "one_cycle_schedule",
    "reset_tuning_curve",
    "retrieval_by_subject",
    "ridge_retrieval_baseline",
    "scaling_curve",
    "subject_dependent_split",
    "time_block_folds",
]


def _int_seed(random_state):
    """An int seed: the int itself, or one drawn from a Generator / fresh entropy for None."""
    import numbers

    from neurosim._utils import check_random_state

    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_random_state(random_state)  # validates the sign
        return int(random_state)
    return int(check_random_state(random_state).integers(2**31))


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
# HiSTN: training and the two protocols
# ==============================================================================================
@fill_doc
def fit_histn(X, y, *, label_sigma=0.5, epochs=30, batch_size=128, lr=1e-2, val=None, model=None,
              random_state=0, device=None, progress=False):
    """Train a :class:`~neurosim.decoding.HiSTN` on windows (HiSTN's recipe).

    One-cycle learning-rate schedule, AdamW, last incomplete batch dropped; with ``val`` the
    weights of the epoch with the lowest validation loss are kept.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_channels, n_times)
        Training windows.
    y : numpy.ndarray of int, shape (n_windows,)
        Their classes.
    label_sigma : float | None
        Gaussian ordinal label smoothing (None: one-hot); used when a new model is built.
    epochs, batch_size : int
        Trainer epochs and batch size.
    lr : float
        Peak learning rate.
    val : tuple | None
        ``(X_val, y_val)`` for early model selection.
    model : HiSTN | None
        Continue training this model (e.g. fine-tuning); None builds a new one, seeded with
        ``random_state``.
    %(random_state)s
        Seeds the initialisation and the trainer.
    %(device)s
    %(progress)s
        Progress bar.

    Returns
    -------
    model : HiSTN
    """
    from ._histn import HiSTN
    from ._trainer import Trainer

    seed = _int_seed(random_state)
    if model is None:
        model = HiSTN(n_chans=X.shape[1], n_times=X.shape[2], label_sigma=label_sigma,
                      random_state=seed)
    trainer = Trainer(max_epochs=epochs, batch_size=batch_size, lr=lr, scheduler="onecycle",
                      random_state=seed, drop_last=True, device=device, progress=progress,
                      monitor="val_loss", restore_best=val is not None)
    trainer.fit(model, (X, y), val=val)
    return model


#: the decoders of :func:`histn_subject_dependent` and :func:`histn_leave_one_subject_out`
HISTN_DECODERS = ("histn_smoothed", "histn_onehot", "logreg", "chance")


def _freeze_front(model):
    """HiSTN's SI fine-tuning: freeze the first three layers (temporal filters, merge, first BN)."""
    for p in (model.temporal, model.merge, *model.bn1.parameters()):
        p.requires_grad_(False)
    return model


@fill_doc
def histn_subject_dependent(eeg, labels, sfreq, *, subjects=None, folds=range(10),
                            label_sigma=0.5, epochs=30, batch_size=128, lr=1e-2, stride=16,
                            center=True, random_state=0, device=None, progress=False):
    """HiSTN's subject-dependent protocol, with smoothed and one-hot labels and two baselines.

    For each subject and fold (:func:`subject_dependent_split`), HiSTN is trained with Gaussian
    smoothed labels and with one-hot labels (:func:`fit_histn`, the validation block selecting
    the epoch), and compared with logistic regression on log band power
    (:func:`~neurosim.decoding.baselines.band_power_scores`) and with stratified chance
    (:func:`~neurosim.decoding.metrics.stratified_chance_scores`).

    Parameters
    ----------
    eeg : numpy.ndarray, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG (:func:`~neurosim.decoding.preprocess_dreamer`).
    labels : numpy.ndarray of int, shape (n_subjects, n_trials)
        Classes.
    sfreq : float
        Sampling frequency in Hz.
    subjects : sequence of int | None
        Subjects to run (None: all).
    folds : sequence of int
        Folds of :func:`time_block_folds` to run (10 folds).
    label_sigma : float
        Smoothing of the smoothed variant.
    epochs, batch_size : int
        Trainer settings.
    lr : float
        Peak learning rate.
    stride : int
        Step between training windows (the paper's random 1-s crops).
    center : bool
        Remove each window's per-channel mean.
    %(random_state)s
        Seeds the models and trainers (run ``(s, fold)`` uses ``seed + 7 s + fold``).
    %(device)s
    %(progress)s
        Progress bars.

    Returns
    -------
    scores : dict of str to list of dict
        Per decoder of :data:`HISTN_DECODERS`, one
        :func:`~neurosim.decoding.metrics.classification_scores` dict per run (subject x fold).
    """
    from .baselines import band_power_scores
    from .metrics import classification_scores, stratified_chance_scores

    seed = _int_seed(random_state)
    results = {d: [] for d in HISTN_DECODERS}
    subjects = range(len(eeg)) if subjects is None else subjects
    for s in subjects:
        for fold in folds:
            split = subject_dependent_split(eeg[s], labels[s], fold, stride=stride, center=center)
            (Xtr, ytr), val, (Xte, yte) = split["train"], split["val"], split["test"]
            for sigma, name in ((label_sigma, "histn_smoothed"), (None, "histn_onehot")):
                model = fit_histn(Xtr, ytr, label_sigma=sigma, epochs=epochs,
                                  batch_size=batch_size, lr=lr, val=val,
                                  random_state=seed + 7 * s + fold, device=device,
                                  progress=progress)
                results[name].append(classification_scores(model.predict_proba(Xte), yte))
            results["logreg"].append(band_power_scores(Xtr, ytr, Xte, yte, sfreq))
            results["chance"].append(stratified_chance_scores(ytr, yte))
    return results


@fill_doc
def histn_leave_one_subject_out(eeg, labels, sfreq, *, subjects=None, label_sigma=0.5,
                                pretrain_epochs=20, finetune_epochs=40, batch_size=128, lr=1e-2,
                                finetune_lr=None, stride=32, center=True, random_state=0,
                                device=None, progress=False):
    """HiSTN's subject-independent protocol: pretrain on the others, fine-tune, test.

    For each held-out subject (:func:`leave_one_subject_out_split`: majority-vote labels for
    pretraining, the first 10 s of each film for fine-tuning, the rest for testing), HiSTN is
    pretrained, its first three layers frozen, and fine-tuned, with smoothed and with one-hot
    labels; the band-power logistic regression is trained on pretraining + fine-tuning windows;
    chance guesses with the fine-tuning frequencies.

    Parameters
    ----------
    eeg : numpy.ndarray, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG.
    labels : numpy.ndarray of int, shape (n_subjects, n_trials)
        Classes.
    sfreq : float
        Sampling frequency in Hz.
    subjects : sequence of int | None
        Held-out subjects to run (None: all).
    label_sigma : float
        Smoothing of the smoothed variant.
    pretrain_epochs, finetune_epochs, batch_size : int
        Trainer settings.
    lr : float
        Peak learning rate of pretraining.
    finetune_lr : float | None
        Of fine-tuning (None: ``lr / 10``).
    stride : int
        Step between pretraining windows.
    center : bool
        Remove each window's per-channel mean.
    %(random_state)s
        Seeds the models and trainers (subject ``s``: ``seed + 101 s``, fine-tuning ``+ 1``).
    %(device)s
    %(progress)s
        Progress bars.

    Returns
    -------
    scores : dict of str to list of dict
        Per decoder of :data:`HISTN_DECODERS`, one score dict per held-out subject.
    """
    from .baselines import band_power_scores
    from .metrics import classification_scores, stratified_chance_scores

    seed = _int_seed(random_state)
    finetune_lr = lr / 10 if finetune_lr is None else finetune_lr
    results = {d: [] for d in HISTN_DECODERS}
    subjects = range(len(eeg)) if subjects is None else subjects
    for s in subjects:
        split = leave_one_subject_out_split(eeg, labels, s, sfreq=sfreq, stride=stride,
                                            center=center)
        (Xp, yp), (Xf, yf), (Xte, yte) = split["pretrain"], split["finetune"], split["test"]
        for sigma, name in ((label_sigma, "histn_smoothed"), (None, "histn_onehot")):
            model = fit_histn(Xp, yp, label_sigma=sigma, epochs=pretrain_epochs,
                              batch_size=batch_size, lr=lr, random_state=seed + 101 * s,
                              device=device, progress=progress)
            model = fit_histn(Xf, yf, model=_freeze_front(model), epochs=finetune_epochs,
                              batch_size=batch_size, lr=finetune_lr,
                              random_state=seed + 101 * s + 1, device=device, progress=progress)
            results[name].append(classification_scores(model.predict_proba(Xte), yte))
        Xall, yall = np.concatenate([Xp, Xf]), np.concatenate([yp, yf])
        results["logreg"].append(band_power_scores(Xall, yall, Xte, yte, sfreq))
        results["chance"].append(stratified_chance_scores(yf, yte))
    return results


# ==============================================================================================
# BrainFLORA
# ==============================================================================================
@fill_doc
def fit_brainflora(data, *, epochs=40, unified_epochs=10, batch_size=64, lr=2e-3,
                   weight_decay=1e-2, random_state=0, device=None, progress=False):
    """Train BrainFLORA: the modality towers, then the unified projector (towers frozen).

    The model is :meth:`BrainFLORA.small <neurosim.decoding.BrainFLORA.small>` (CPU-sized) on
    round-robin single-modality batches (:func:`~neurosim.decoding.round_robin_batches`).

    Parameters
    ----------
    data : dict of str to dict
        Per modality, :func:`~neurosim.decoding.prepare_retrieval_data`'s output (``"train"``
        with ``x`` and ``y``).
    epochs, unified_epochs : int
        Epochs of tower training and of the unified stage.
    batch_size : int
        Samples per batch.
    lr, weight_decay : float
        AdamW settings of both stages.
    %(random_state)s
        Seeds the model (``seed``), the towers' trainer (``seed``) and the unified trainer
        (``seed + 1``).
    %(device)s
    %(progress)s
        Progress bars.

    Returns
    -------
    model : BrainFLORA
        In the unified stage (``model.unify(False)`` gives the single-modality towers).
    history_towers, history_unified : xarray.Dataset
        The two trainers' ``history_``.
    """
    from ._brainflora import BrainFLORA
    from ._trainer import Trainer
    from .samplers import round_robin_batches

    seed = _int_seed(random_state)
    shapes = {m: d["train"]["x"].shape[1:] for m, d in data.items()}
    embed_dim = next(iter(data.values()))["train"]["y"].shape[1]
    model = BrainFLORA.small(shapes, embed_dim, random_state=seed)
    train = round_robin_batches({m: (d["train"]["x"], d["train"]["y"]) for m, d in data.items()},
                                batch_size)
    uni = Trainer(max_epochs=epochs, lr=lr, weight_decay=weight_decay, random_state=seed,
                  progress=progress, device=device).fit(model, train)
    model.unify()
    multi = Trainer(max_epochs=unified_epochs, lr=lr, weight_decay=weight_decay,
                    random_state=seed + 1, progress=progress, device=device).fit(model, train)
    return model, uni.history_, multi.history_


@fill_doc
def retrieval_by_subject(pred, test, *, k_ways=(2, 4, 10, None), random_state=0):
    """:func:`~neurosim.decoding.metrics.retrieval_scores` of each subject's test images.

    Parameters
    ----------
    pred : numpy.ndarray, shape (n, dim)
        Predicted embeddings of the rows of ``test``.
    test : dict
        ``y`` (true embeddings, (n, dim)) and ``subject`` (n,), as in
        :func:`~neurosim.decoding.prepare_retrieval_data`'s ``"test"``.
    k_ways : sequence of int | None
        As in :func:`~neurosim.decoding.metrics.retrieval_scores`.
    %(random_state)s
        Seed of the distractor draws (the same for every subject).

    Returns
    -------
    scores : dict of str to dict of str to float
        Per subject, the retrieval scores.
    """
    from .metrics import retrieval_scores

    out = {}
    for s in np.unique(test["subject"]):
        sel = test["subject"] == s
        out[str(s)] = retrieval_scores(pred[sel], test["y"][sel], k_ways=k_ways,
                                       random_state=random_state)
    return out


@fill_doc
def ridge_retrieval_baseline(train, test, *, k_ways=(2, 4, 10, None), random_state=0,
                             device=None):
    """Per-subject retrieval of a ridge regression from the flattened sample to the embedding.

    :class:`~neurosim.decoding.TorchRidgeCV` with one penalty for all targets chosen by 5-fold
    cross-validation among ``logspace(0, 6, 13)``.

    Parameters
    ----------
    train, test : dict
        :func:`~neurosim.decoding.prepare_retrieval_data`'s ``"train"`` and ``"test"``.
    k_ways : sequence of int | None
        As in :func:`~neurosim.decoding.metrics.retrieval_scores`.
    %(random_state)s
        Seed of the distractor draws.
    %(device)s
        Ridge device.

    Returns
    -------
    scores : dict of str to dict of str to float
        Per subject, the retrieval scores (see :func:`retrieval_by_subject`).
    """
    from .baselines import TorchRidgeCV

    ridge = TorchRidgeCV(alphas=np.logspace(0, 6, 13), cv=5, alpha_per_target=False, device=device)
    ridge.fit(train["x"].reshape(len(train["x"]), -1), train["y"])
    pred = ridge.predict(test["x"].reshape(len(test["x"]), -1))
    return retrieval_by_subject(pred, test, k_ways=k_ways, random_state=random_state)


# ==============================================================================================
# MindBridge
# ==============================================================================================
#: MindBridge's training recipes. ``"paper"``: the official scripts as one process runs them
#: (``train_bridge.sh``, ``adapt_bridge.sh``, ``train_single.sh``: batch 50 per subject, 600 bridge
#: and 200 adaptation epochs, ``max_lr`` 1.5e-4 / 1.5e-4 / 3e-4 - the official code multiplies
#: it by the number of processes, and the paper's bridge ran on 8 GPUs: 1.2e-3 at 8 x the batch),
#: AdamW with weight decay 1e-2 off biases and norms, the official one-cycle schedule.
#: ``"small"``: a CPU-sized run of the simulated experiment.
MINDBRIDGE_RECIPES = {
    "paper": {"batch_size": 50, "bridge_epochs": 600, "adapt_epochs": 200, "adapt_steps": None,
              "lr": 1.5e-4, "adapt_lr": 1.5e-4, "scratch_lr": 3e-4, "weight_decay": 1e-2,
              "n_repeats": 3},
    "small": {"batch_size": 32, "bridge_epochs": 30, "adapt_epochs": None, "adapt_steps": 150,
              "lr": 2e-3, "adapt_lr": 2e-3, "scratch_lr": 2e-3, "weight_decay": 1e-2,
              "n_repeats": 3},
}


def one_cycle_schedule(epochs, *, final_div_factor=100.0, div_factor=25.0):
    """MindBridge's official learning-rate schedule, for :class:`~neurosim.decoding.Trainer`.

    :class:`~torch.optim.lr_scheduler.OneCycleLR` over all steps, rising from
    ``max_lr / div_factor`` to the trainer's ``lr`` during the first two epochs
    (``pct_start = 2 / epochs``, at most 0.5) and annealing to ``max_lr / (div_factor *
    final_div_factor)`` (``final_div_factor = 100``), as in the official ``prepare_scheduler``.

    Parameters
    ----------
    epochs : int
        The number of training epochs.
    final_div_factor, div_factor : float
        As in :class:`~torch.optim.lr_scheduler.OneCycleLR`.

    Returns
    -------
    scheduler : callable
        ``scheduler(optimizer, total_steps)``, the callable form of ``Trainer(scheduler=...)``.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding.model_selection import one_cycle_schedule
    >>> opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3)
    >>> sched = one_cycle_schedule(100)(opt, 1000)
    >>> round(sched.get_last_lr()[0], 8), sched.total_steps
    (4e-05, 1000)
    """
    from neurosim._utils import check_positive, check_size

    epochs = check_size("epochs", epochs)
    final_div_factor = check_positive("final_div_factor", final_div_factor)
    div_factor = check_positive("div_factor", div_factor)

    def make(optimizer, total_steps):
        import torch

        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=max(int(total_steps), 2), pct_start=min(2.0 / epochs, 0.5),
            div_factor=div_factor, final_div_factor=final_div_factor)

    return make


@fill_doc
def reset_tuning_curve(data, sources, target, budgets, *, config="small", model_kwargs=None,
                       bridge_epochs=None, adapt_epochs=None, adapt_steps=None, batch_size=None,
                       lr=None, adapt_lr=None, random_state=0, source_model=None, device=None,
                       progress=False):
    """Train a bridge on ``sources``, then reset-tune vs train from scratch on ``target``.

    The protocol of MindBridge's official scripts: every subject's training images carry their
    3 repetitions and training step ``i`` of an epoch uses repetition ``i % 3``
    (:func:`~neurosim.decoding.preprocessing.repetition_arrays`,
    :func:`~neurosim.decoding.mindbridge_batches`); the data budget is the paper's ``--length``:
    the first ``b`` images of **every** subject (sources included) during reset-tuning, and the
    target's first ``b`` images for the model trained from scratch; test responses are the
    repetition means of the shared images.

    Parameters
    ----------
    data : dict of str to xarray.Dataset
        Subjects as returned by :func:`neurosim.datasets.make_fmri_visual` or
        :func:`neurosim.datasets.find_nsd`.
    sources : list of str
        Source subjects of the bridge model.
    target : str
        New subject.
    budgets : list of int
        Numbers of training images per subject (budgets beyond the target's images are capped at
        them).
    config : {"small", "paper"}
        The model (:meth:`MindBridge.from_config <neurosim.decoding.MindBridge.from_config>`) and
        training recipe (:data:`MINDBRIDGE_RECIPES`); ``"paper"`` is the published one.
    model_kwargs : dict | None
        :class:`~neurosim.decoding.MindBridge` arguments replacing the configuration's (``heads``
        defaults to one vector head of the embedding's size for ``"small"``).
    bridge_epochs, adapt_epochs : int | None
        Epochs of bridge training and of each target model (None: the recipe's).
    adapt_steps : int | None
        If given, each target model (reset-tuned or from scratch) trains for about this many
        optimisation steps whatever the budget (the ``"small"`` recipe: 150), instead of
        ``adapt_epochs``.
    batch_size : int | None
        Samples per subject per step (None: the recipe's, 50 in the paper).
    lr, adapt_lr : float | None
        Peak learning rates of the bridge and of the target models (official one-cycle schedule,
        :func:`one_cycle_schedule`).
    %(random_state)s
        Seeds the models and the trainers (``seed`` for the bridge, ``seed + 1`` for the target
        models, ``seed + 1 + j`` for the trainers of budget ``j``, ``seed`` for the 2-way
        distractors).
    source_model : MindBridge | None
        A trained bridge to reuse (skips bridge training).
    %(device)s
    %(progress)s
        Progress bars.

    Returns
    -------
    curve : xarray.Dataset
        ``top1_forward``, ``top1_backward``, ``two_way`` with dims (training, budget), training in
        ``["reset_tuning", "from_scratch"]``, plus ``source_top1_forward`` (source_subject).
    source_model : MindBridge
        The bridge model.
    """
    import xarray as xr

    from ._mindbridge import MindBridge, reset_tune
    from ._trainer import Trainer
    from .metrics import forward_backward_retrieval
    from .preprocessing import repetition_arrays, stimulus_arrays
    from .samplers import mindbridge_batches

    if config not in MINDBRIDGE_RECIPES:
        raise ValueError(f"config must be one of {sorted(MINDBRIDGE_RECIPES)}, got {config!r}")
    recipe = dict(MINDBRIDGE_RECIPES[config])
    given = {"bridge_epochs": bridge_epochs, "adapt_epochs": adapt_epochs,
             "adapt_steps": adapt_steps, "batch_size": batch_size, "lr": lr, "adapt_lr": adapt_lr}
    recipe.update({k: v for k, v in given.items() if v is not None})
    if adapt_epochs is not None and adapt_steps is None:
        recipe["adapt_steps"] = None
    if adapt_lr is None and lr is not None and config == "small":
        recipe["adapt_lr"] = recipe["scratch_lr"] = lr
    seed = _int_seed(random_state)
    subjects = [*sources, target]
    n_vox = {s: int(data[s].sizes["voxel"]) for s in subjects}
    train = {s: repetition_arrays(data[s], split="train", n_repeats=recipe["n_repeats"])
             for s in subjects}
    test = {s: stimulus_arrays(data[s], split="test") for s in subjects}
    dim = train[target][2].shape[1]
    n_target = len(train[target][0])
    budgets = sorted({min(int(b), n_target) for b in budgets})  # as far as the data go
    kwargs = dict(MindBridge.named_configs()[config])
    if config == "small":
        kwargs["heads"] = {"image": (dim,)}
    else:  # the paper's token heads need token targets: a vector embedding gets one vector head
        kwargs["heads"] = {"image": tuple(np.asarray(train[target][2]).shape[1:])}
    kwargs.update(model_kwargs or {})
    bs = recipe["batch_size"]

    def trainer(epochs, offset, peak):
        return Trainer(max_epochs=epochs, lr=peak, weight_decay=recipe["weight_decay"],
                       scheduler=one_cycle_schedule(epochs), device=device,
                       random_state=seed + offset, progress=progress)

    def scores(model, subject, betas, embedding):
        head = next(iter(model.heads))
        pred = model.predict(betas, subject)[head].reshape(len(betas), -1)
        return forward_backward_retrieval(pred, np.asarray(embedding).reshape(len(embedding), -1),
                                          random_state=seed)

    if source_model is None:
        source_model = MindBridge(sources, n_vox, **{**kwargs, "random_state": seed})
        batches = mindbridge_batches(source_model, {s: train[s][0] for s in sources},
                                     {s: {"image": train[s][2]} for s in sources},
                                     batch_size=bs)
        trainer(recipe["bridge_epochs"], 0, recipe["lr"]).fit(source_model, batches)
    source_scores = [scores(source_model, s, test[s][0], test[s][2]) for s in sources]
    names = ["top1_forward", "top1_backward", "two_way"]
    values = {k: np.full((2, len(budgets)), np.nan) for k in names}
    voxels = {s: train[s][0] for s in subjects}
    targets = {s: {"image": train[s][2]} for s in subjects}
    for j, budget in enumerate(budgets):
        if recipe["adapt_steps"] is not None:
            steps_per_epoch = int(np.ceil(budget / bs))
            epochs = max(1, int(np.ceil(recipe["adapt_steps"] / steps_per_epoch)))
        else:
            epochs = recipe["adapt_epochs"]
        # reset-tuning: fresh target embedder/builder, the rest frozen, source batches mixed in,
        # the first `budget` images of every subject (the paper's --length)
        tuned = reset_tune(source_model, target, n_vox[target], random_state=seed + 1)
        trainer(epochs, 1 + j, recipe["adapt_lr"]).fit(tuned, mindbridge_batches(
            tuned, voxels, targets, batch_size=bs, target=target, length=budget))
        # baseline: the same architecture for the target alone, trained from scratch
        scratch = MindBridge([target], n_vox, **{**kwargs, "rec_mult": 0.0, "cyc_mult": 0.0,
                                                 "random_state": seed + 1})
        trainer(epochs, 1 + j, recipe["scratch_lr"]).fit(scratch, mindbridge_batches(
            scratch, {target: voxels[target]}, {target: targets[target]}, batch_size=bs,
            length=budget))
        for i, model in enumerate([tuned, scratch]):
            result = scores(model, target, test[target][0], test[target][2])
            for k in names:
                values[k][i, j] = result[k]
    curve = xr.Dataset(
        {k: (("training", "budget"), v, {"units": "fraction", "long_name": k.replace("_", " ")})
         for k, v in values.items()}
        | {"source_top1_forward": ("source_subject",
                                   np.array([s["top1_forward"] for s in source_scores]))},
        coords={"training": ["reset_tuning", "from_scratch"],
                "budget": ("budget", np.asarray(budgets, dtype=np.int64),
                           {"units": "images", "long_name": "training images per subject"}),
                "source_subject": list(sources)},
        attrs={"target_subject": target, "n_test_stimuli": int(len(test[target][0])),
               "chance_top1": 1.0 / len(test[target][0]), "chance_two_way": 0.5,
               "config": config, "bridge_epochs": int(recipe["bridge_epochs"]),
               "adapt_steps": -1 if recipe["adapt_steps"] is None else int(recipe["adapt_steps"]),
               "adapt_epochs": -1 if recipe["adapt_epochs"] is None else int(recipe["adapt_epochs"]),
               "batch_size": int(bs), "lr": float(recipe["lr"]),
               "adapt_lr": float(recipe["adapt_lr"]), "n_repeats": int(recipe["n_repeats"])},
    )
    return curve, source_model


# ==============================================================================================
# BraInCoRL
# ==============================================================================================
@fill_doc
def meta_train(data, subjects, *, model_kwargs, task_kwargs, epochs=8, lr=3e-3, weight_decay=1e-2,
               random_state=0, device=None, progress=False):
    """Meta-train :class:`~neurosim.decoding.BraInCoRL` on the voxels of ``subjects``.

    As in the official code, only each subject's **unique** (non-shared) images are used, so
    the shared test images are never seen during meta-training. (The official recipe is AdamW
    with ``lr=1e-4``, ``weight_decay=0.1``, dropout 0.5 and a ReduceLROnPlateau schedule on a
    weight-space validation loss over 100 epochs of every voxel; here the schedule is one-cycle.)

    Parameters
    ----------
    data : dict of str to xarray.Dataset | dict of str to tuple
        Subjects as returned by :func:`neurosim.datasets.make_fmri_visual` (the repeat-averaged
        responses to the subject's own, non-shared stimuli are used), or ``subject ->
        (embeddings, responses)`` arrays of shapes (n_images, E) and (n_images, n_voxels).
    subjects : list of str
        Training subjects.
    model_kwargs, task_kwargs : dict
        Arguments of :class:`~neurosim.decoding.BraInCoRL` and
        :func:`~neurosim.decoding.braincorl_tasks`.
    epochs : int
        Trainer epochs (``task_kwargs["steps_per_epoch"]`` batches each).
    lr : float
        Peak learning rate (one-cycle schedule).
    weight_decay : float
        AdamW weight decay (0.1 in the official script).
    %(random_state)s
        Seeds the model and the trainer.
    %(device)s
    %(progress)s
        Progress bar.

    Returns
    -------
    model : BraInCoRL
    trainer : Trainer
    """
    from ._braincorl import BraInCoRL
    from ._trainer import Trainer
    from .preprocessing import stimulus_arrays
    from .samplers import braincorl_tasks

    seed = _int_seed(random_state)
    arrays = {}
    for s in subjects:
        if isinstance(data[s], tuple):
            arrays[s] = (np.asarray(data[s][0]), np.asarray(data[s][1]))
        else:
            betas, _, emb = stimulus_arrays(data[s], split="train")  # unique images only
            arrays[s] = (emb, betas)
    tasks = braincorl_tasks({s: a[0] for s, a in arrays.items()},
                            {s: a[1] for s, a in arrays.items()}, **task_kwargs)
    dim = next(iter(arrays.values()))[0].shape[1]
    model = BraInCoRL(dim, random_state=seed, **model_kwargs)
    trainer = Trainer(max_epochs=epochs, lr=lr, weight_decay=weight_decay, scheduler="onecycle",
                      device=device, random_state=seed, progress=progress)
    trainer.fit(model, tasks)
    return model, trainer


@fill_doc
def scaling_curve(model, ds, context_sizes, *, n_draws=4, random_state=0, ridge_device=None,
                  context_order=None):
    """Explained variance on held-out images vs number of in-context images, for one subject.

    Three encoders write each voxel's linear model from the same ``n`` context images:
    BraInCoRL (no gradient step), :class:`~neurosim.decoding.TorchRidgeCV` (penalty per voxel by
    5-fold cross-validated squared error, leave-one-out below 10 images, unpenalised intercept,
    refit on all images) and :class:`~neurosim.decoding.BraInCoRLRidgeCV` (the paper's baseline:
    penalised bias, explained-variance-based sequential 5-fold CV, fold-averaged weights), next to
    the ground truth when known.

    Parameters
    ----------
    model : BraInCoRL
        Meta-trained model.
    ds : xarray.Dataset | dict
        The held-out subject: a ``make_fmri_visual`` Dataset (context from its own stimuli, test
        on the shared ones, ground truth from ``weights`` and ``bias``), or a dict of arrays
        ``context_embeddings``, ``context_responses``, ``test_embeddings``, ``test_responses``
        and optionally ``weights`` (n_voxels, E) and ``bias`` (n_voxels,), plus ``subject``
        (:func:`neurosim.datasets.find_nsd_braincorl`'s held-out subject).
    context_sizes : list of int
        Numbers of in-context images.
    n_draws : int
        Independent context draws per size (disjoint when the subject has enough images).
    %(random_state)s
        Seed of the draws.
    ridge_device : str | None
        Device of the ridge models.
    context_order : array-like of int | None
        The order in which context images are taken: draw ``d`` of size ``n`` uses
        ``context_order[d n : (d + 1) n]`` (the official test takes consecutive blocks of
        ``test_time_icl_idx.json["large_shuffled"]``, which
        :func:`neurosim.datasets.find_nsd_braincorl` returns as ``context_order``). None: the
        ``context_order`` entry of a dict ``ds`` when it has one, else a permutation drawn from
        ``random_state``.

    Returns
    -------
    curve : xarray.Dataset
        ``explained_variance`` (encoder, context_size, draw), the voxel mean, and
        ``weight_cosine`` (encoder, context_size, draw) against the ground truth; encoder in
        ``["braincorl", "ridge", "ridge_official", "ground_truth"]``.
    """
    import xarray as xr

    from neurosim._utils import check_random_state

    from .baselines import BraInCoRLRidgeCV, TorchRidgeCV
    from .metrics import explained_variance
    from .preprocessing import stimulus_arrays

    if isinstance(ds, dict):
        ctx_x, ctx_y = np.asarray(ds["context_embeddings"]), np.asarray(ds["context_responses"])
        test_x, test_y = np.asarray(ds["test_embeddings"]), np.asarray(ds["test_responses"])
        gt = (ds.get("weights"), ds.get("bias"))
        subject = str(ds.get("subject", ""))
        if context_order is None:
            context_order = ds.get("context_order")
    else:
        ctx_y, _, ctx_x = stimulus_arrays(ds, split="train")
        test_y, _, test_x = stimulus_arrays(ds, split="test")
        gt = (ds["weights"].values if "weights" in ds else None,
              ds["bias"].values if "bias" in ds else None)
        subject = str(ds.attrs.get("subject", ""))
    has_gt = gt[0] is not None and gt[1] is not None
    if has_gt:
        gt_w = np.asarray(gt[0], dtype=np.float64)
        gt_pred = test_x @ gt_w.T + np.asarray(gt[1], dtype=np.float64)
        gt_ev = float(np.mean(explained_variance(test_y, gt_pred)))
    rng = check_random_state(random_state)
    if context_order is not None:
        context_order = np.asarray(context_order, dtype=np.int64).ravel()
        if context_order.size and (context_order.min() < 0 or context_order.max() >= len(ctx_y)):
            raise ValueError(f"context_order must index the {len(ctx_y)} context images")
    methods = ["braincorl", "ridge", "ridge_official", "ground_truth"]
    ev = np.full((len(methods), len(context_sizes), n_draws), np.nan)
    cos = np.full((len(methods), len(context_sizes), n_draws), np.nan)

    def _cos(w):
        num = np.sum(w * gt_w, axis=1)
        den = np.linalg.norm(w, axis=1) * np.linalg.norm(gt_w, axis=1)
        return float(np.mean(num / np.where(den > 0, den, 1.0)))

    for j, n in enumerate(context_sizes):
        if n > len(ctx_y):
            raise ValueError(f"context size {n} exceeds the {len(ctx_y)} training images of "
                             f"subject {subject!r}")
        order = rng.permutation(len(ctx_y)) if context_order is None else context_order
        for d in range(n_draws):
            if context_order is None:
                start = (d * n) % max(1, len(ctx_y) - n + 1)
            else:
                start = d * n
                if start + n > len(order):
                    raise ValueError(f"context_order has {len(order)} entries, fewer than "
                                     f"{n_draws} draws of {n} images need")
            idx = order[start:start + n]
            w, b = model.fit_voxels(ctx_x[idx], ctx_y[idx])
            ev[0, j, d] = np.mean(explained_variance(test_y, test_x @ w.T + b))
            ridge = TorchRidgeCV(cv=5 if n >= 10 else None, device=ridge_device)
            ridge.fit(ctx_x[idx], ctx_y[idx])
            ev[1, j, d] = np.mean(explained_variance(test_y, ridge.predict(test_x)))
            official = None
            if n >= 2:  # 5 sequential folds (fewer below 5 images)
                official = BraInCoRLRidgeCV(n_folds=min(5, n), device=ridge_device)
                official.fit(ctx_x[idx], ctx_y[idx])
                ev[2, j, d] = np.mean(explained_variance(test_y, official.predict(test_x)))
            if has_gt:
                ev[3, j, d] = gt_ev
                cos[0, j, d] = _cos(w)
                cos[1, j, d] = _cos(np.asarray(ridge.coef_))
                if official is not None:
                    cos[2, j, d] = _cos(np.asarray(official.coef_))
    unit = {"units": "fraction of variance"}
    return xr.Dataset(
        {"explained_variance": (("encoder", "context_size", "draw"), ev,
                                {**unit, "long_name": "voxel-mean explained variance on test"}),
         "weight_cosine": (("encoder", "context_size", "draw"), cos,
                           {"long_name": "voxel-mean cosine(weights, ground truth)"})},
        coords={"encoder": methods,
                "context_size": ("context_size", np.asarray(context_sizes, dtype=np.int64),
                                 {"units": "images"}),
                "draw": np.arange(n_draws)},
        attrs={"subject": subject, "n_test_images": int(len(test_y)),
               "n_voxels": int(ctx_y.shape[1])},
    )


# ==============================================================================================
# fMRI classification by run (Haxby et al. 2001)
# ==============================================================================================
def leave_one_run_out(estimator, X, y, runs, *, n_permutations=0, random_state=0):
    """Leave-one-run-out accuracy of a classifier, and its permutation test.

    For each run, a fresh copy of ``estimator`` (:func:`sklearn.base.clone`) is fitted on the
    other runs and scored on it; an estimator whose ``fit`` takes ``groups`` (e.g.
    :class:`~neurosim.decoding.TorchRidgeClassifierCV` with
    ``cv=LeaveOneGroupOut()``) gets the training runs, so that its own penalty is chosen by run
    too. With ``n_permutations``, the whole cross-validation is repeated on labels shuffled within
    each run (:func:`~neurosim.decoding.metrics.permutation_test`; for a scikit-learn estimator
    this equals :func:`sklearn.model_selection.permutation_test_score` with
    ``cv=LeaveOneGroupOut()``).

    Parameters
    ----------
    estimator : scikit-learn classifier | dict of str to classifier
        Any estimator with ``fit`` and ``predict`` (e.g.
        :class:`~neurosim.decoding.CorrelationClassifier`,
        :class:`~neurosim.decoding.FMRIClassifier`). A dict of several: each is scored, and the
        permutation test is on the **best** of them (the maximum accuracy over the dict, on the
        true and on every shuffled labelling), so that picking the best does not bias its
        p-value.
    X : array-like, shape (n_samples, n_features)
    y : array-like, shape (n_samples,)
    runs : array-like, shape (n_samples,)
        The run of each sample.
    n_permutations : int
        Shuffles of the permutation test (0: none). The smallest p-value reachable is
        ``1 / (n_permutations + 1)``: at least 19 are needed for p <= 0.05.
    random_state : int | numpy.random.Generator | None
        Seeds the shuffles.

    Returns
    -------
    result : dict
        ``accuracy`` (mean over runs; for a dict, per name), ``fold_accuracy`` (per run, array
        or dict of arrays), and with ``n_permutations``: ``best`` (a dict's best name),
        ``pvalue`` and ``permutation_scores``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import CorrelationClassifier, leave_one_run_out
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 30)
    >>> X = rng.normal(size=(60, 20)) + 0.8 * y[:, None] * (np.arange(20) < 5)
    >>> res = leave_one_run_out(CorrelationClassifier(), X, y, np.repeat(np.arange(3), 20),
    ...                         n_permutations=19)
    >>> res["accuracy"] > 0.7, res["pvalue"]
    (True, 0.05)
    """
    import inspect
    from collections.abc import Mapping

    from sklearn.base import clone
    from sklearn.model_selection import LeaveOneGroupOut

    from neurosim._utils import check_size

    from .metrics import permutation_test

    X = np.asarray(getattr(X, "values", X))
    y = np.asarray(getattr(y, "values", y))
    runs = np.asarray(getattr(runs, "values", runs))
    if X.ndim != 2 or len(X) != len(y) or y.shape != runs.shape:
        raise ValueError(f"X (n_samples, n_features), y and runs (n_samples,) must match, got "
                         f"{X.shape}, {y.shape} and {runs.shape}")
    n_runs = len(np.unique(runs))
    if n_runs < 2:
        raise ValueError(f"leave-one-run-out needs at least 2 runs, got {n_runs}")
    n_permutations = check_size("n_permutations", n_permutations, minimum=0)
    single = not isinstance(estimator, Mapping)
    estimators = {"estimator": estimator} if single else dict(estimator)
    if not estimators:
        raise ValueError("estimator must be a classifier or a non-empty dict of them")
    splits = list(LeaveOneGroupOut().split(X, y, runs))

    def folds(est, labels):
        takes_groups = "groups" in inspect.signature(est.fit).parameters
        out = []
        for train, test in splits:
            model = clone(est)
            kwargs = {"groups": runs[train]} if takes_groups else {}
            model.fit(X[train], labels[train], **kwargs)
            out.append(float(np.mean(np.asarray(model.predict(X[test])) == labels[test])))
        return np.asarray(out)

    fold_acc = {name: folds(est, y) for name, est in estimators.items()}
    acc = {name: float(f.mean()) for name, f in fold_acc.items()}
    result = {"accuracy": acc["estimator"] if single else acc,
              "fold_accuracy": fold_acc["estimator"] if single else fold_acc}
    if n_permutations:
        best = max(acc, key=acc.get)

        def score(labels):
            if labels is y:
                return acc[best]
            return max(float(folds(est, labels).mean()) for est in estimators.values())

        _, perm, pvalue = permutation_test(score, y, groups=runs, n_permutations=n_permutations,
                                           random_state=random_state)
        result.update({"pvalue": pvalue, "permutation_scores": perm})
        if not single:
            result["best"] = best
    return result
