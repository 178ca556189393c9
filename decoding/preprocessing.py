"""Preparing data for the decoders: from data sets to the arrays each model trains on.

- :func:`preprocess_dreamer` (HiSTN's DREAMER preprocessing: baseline z-score, max scaling) and
  :func:`make_windows` (cut signals into windows);
- :func:`prepare_retrieval_data`: EEG/MEG/fMRI data sets (simulated or real THINGS/NSD) to the
  z-scored arrays of BrainFLORA and its ridge baseline;
- MNE input: :func:`epochs_array` (channels by name), :func:`pick_montage` (a decoder's montage
  from any cap, by name or by position) and :func:`things_epochs` (THINGS-MEG/EEG preprocessing
  of a raw recording: filter, epoch, resample, baseline z-score, 0-1 s);
- :func:`trial_arrays`, :func:`repetition_arrays` and :func:`stimulus_arrays`: one NSD-like
  subject (:func:`neurosim.datasets.make_fmri_visual`, :func:`neurosim.datasets.load_nsd`) as
  single-trial, per-image repetition or repeat-averaged arrays (MindBridge, BraInCoRL);
- :func:`clean_runs`: run-wise (or session-wise) linear detrending and z-scoring of fMRI time
  series or betas, as :func:`nilearn.signal.clean` with ``runs``.
"""

from __future__ import annotations

import numpy as np
from neurosim.datasets._signal import clean_runs

__all__ = ["THINGS_PREPROCESSING", "clean_runs", "epochs_array", "make_windows", "pick_montage",
           "prepare_retrieval_data", "preprocess_dreamer", "repetition_arrays", "stimulus_arrays",
           "things_epochs", "trial_arrays"]

_REQUIRED = ("betas", "embedding")
#: the modalities of BrainFLORA's towers
MODALITIES = ("eeg", "meg", "fmri")


def preprocess_dreamer(data, *, duration=60.0, baseline_segment=(25.5, 35.5), scale=True):
    """DREAMER preprocessing of HiSTN: last ``duration`` s, baseline z-score, per-channel max scaling.

    Parameters
    ----------
    data : xarray.Dataset
        As returned by :func:`neurosim.datasets.make_eeg_emotion` or ``load_dreamer``: ``eeg``
        (subject, trial, channel, time) and ``baseline`` (subject, trial, channel, baseline_time).
    duration : float
        Seconds kept at the end of each film.
    baseline_segment : (float, float)
        Part of the 61-s baseline (s) whose per-channel mean and standard deviation z-score the
        film (HiSTN: the middle 10 s).
    scale : bool
        Divide each trial's channels by their maximum absolute value (after z-scoring).

    Returns
    -------
    eeg : xarray.DataArray
        (subject, trial, channel, time), float32, dimensionless, with the input's coordinates.

    Examples
    --------
    >>> from neurosim.datasets import make_eeg_emotion  # doctest: +SKIP
    >>> eeg = preprocess_dreamer(make_eeg_emotion(n_subjects=1))  # doctest: +SKIP
    >>> float(abs(eeg).max())  # doctest: +SKIP
    1.0
    """
    for var in ("eeg", "baseline"):
        if var not in getattr(data, "data_vars", {}):
            raise ValueError(f"data must be an xarray.Dataset with an {var!r} variable "
                             "(see neurosim.datasets.make_eeg_emotion)")
    eeg = data["eeg"].transpose("subject", "trial", "channel", "time")
    sfreq = float(data.attrs.get("sfreq", 128.0))
    n_keep = int(round(duration * sfreq))
    if n_keep > eeg.sizes["time"]:
        raise ValueError(f"duration={duration} s needs {n_keep} samples, the films have "
                         f"{eeg.sizes['time']}")
    eeg = eeg.isel(time=slice(eeg.sizes["time"] - n_keep, None))
    base = data["baseline"].transpose("subject", "trial", "channel", "baseline_time")
    lo, hi = baseline_segment
    i0, i1 = int(round(lo * sfreq)), int(round(hi * sfreq))
    if not 0 <= i0 < i1 <= base.sizes["baseline_time"]:
        raise ValueError(f"baseline_segment={baseline_segment} s is outside the baseline "
                         f"({base.sizes['baseline_time'] / sfreq:g} s)")
    seg = base.values[..., i0:i1].astype(np.float64)
    x = eeg.values.astype(np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(seg))):
        raise ValueError("the EEG contains NaN or inf values")
    std = seg.std(axis=-1, keepdims=True)
    x = (x - seg.mean(axis=-1, keepdims=True)) / np.where(std > 0, std, 1.0)
    if scale:
        peak = np.abs(x).max(axis=-1, keepdims=True)
        x = x / np.where(peak > 0, peak, 1.0)
    out = eeg.copy(data=x.astype(np.float32))
    out.attrs = {"units": "1", "sfreq": sfreq, "duration": float(duration),
                 "baseline_segment": list(baseline_segment), "scaled": int(bool(scale)),
                 "long_name": "baseline z-scored EEG" + (", max-scaled" if scale else "")}
    return out


def make_windows(x, window=128, stride=None, *, start=0, stop=None):
    """Cut the last (time) axis of ``x`` into windows.

    Parameters
    ----------
    x : array-like, shape (..., n_times)
        Signals.
    window : int
        Samples per window.
    stride : int | None
        Step between window starts (None: ``window``, non-overlapping).
    start, stop : int
        Sample range to cut from (windows lie entirely inside it).

    Returns
    -------
    windows : numpy.ndarray, shape (..., n_windows, window) moved so that windows come before the
        second-to-last axis: ``x`` of shape (trial, channel, time) gives (trial, n_windows, channel,
        window).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import make_windows
    >>> make_windows(np.zeros((3, 14, 7680)), 128).shape
    (3, 60, 14, 128)
    """
    x = np.asarray(getattr(x, "values", x))
    stride = window if stride is None else stride
    stop = x.shape[-1] if stop is None else stop
    if not 0 <= start < stop <= x.shape[-1]:
        raise ValueError(f"need 0 <= start < stop <= {x.shape[-1]}, got start={start}, stop={stop}")
    if window > stop - start or window < 1 or stride < 1:
        raise ValueError(f"window={window} and stride={stride} must be >= 1 and window <= "
                         f"{stop - start} samples")
    w = np.lib.stride_tricks.sliding_window_view(x[..., start:stop], window, axis=-1)[..., ::stride, :]
    return np.moveaxis(w, -2, -3) if x.ndim >= 2 else w


def check_fmri_dataset(ds, name="data"):
    """Raise a clear error unless ``ds`` has the structure of ``make_fmri_visual``'s data sets."""
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{name} must be an xarray.Dataset (one subject of make_fmri_visual or "
                        f"load_nsd), got {type(ds).__name__}")
    missing = [v for v in _REQUIRED if v not in ds] + [c for c in ("stimulus", "shared")
                                                      if c not in ds.coords]
    if missing:
        raise ValueError(f"{name} lacks {missing}; expected betas (trial, voxel) with a "
                         "'stimulus' trial coordinate and embedding (stimulus, feature) with a "
                         "'shared' coordinate")
    if ds["betas"].dims != ("trial", "voxel"):
        raise ValueError(f"{name}.betas must have dims ('trial', 'voxel'), got {ds['betas'].dims}")


def trial_arrays(ds, *, split="train"):
    """Single trials of one subject as arrays.

    Parameters
    ----------
    ds : xarray.Dataset
        One subject.
    split : {"train", "test", "all"}
        Trials of the subject's own (non-shared) stimuli, of the shared stimuli, or all.

    Returns
    -------
    betas : numpy.ndarray, (n_trials, n_voxels) float32
    stimulus : numpy.ndarray, (n_trials,) int
    embedding : numpy.ndarray, (n_trials, n_features) float32
    """
    check_fmri_dataset(ds)
    stim = np.asarray(ds["stimulus"].values).astype(np.int64)
    shared = np.asarray(ds["shared"].values, dtype=bool)
    keep = _split_mask(shared[stim], split)
    emb = np.asarray(ds["embedding"].values, dtype=np.float32)
    betas = np.asarray(ds["betas"].values, dtype=np.float32)[keep]
    return betas, stim[keep], emb[stim[keep]]


def stimulus_arrays(ds, *, split="train"):
    """Repeat-averaged responses of one subject, one row per stimulus it saw.

    Parameters
    ----------
    ds : xarray.Dataset
    split : {"train", "test", "all"}

    Returns
    -------
    betas : numpy.ndarray, (n_stimuli_seen, n_voxels) float32
        Mean over the repeats of each stimulus.
    stimulus : numpy.ndarray, (n_stimuli_seen,) int, sorted
    embedding : numpy.ndarray, (n_stimuli_seen, n_features) float32
    """
    betas, stim, _ = trial_arrays(ds, split=split)
    ids, inverse = np.unique(stim, return_inverse=True)
    sums = np.zeros((len(ids), betas.shape[1]))
    np.add.at(sums, inverse, betas)
    mean = sums / np.bincount(inverse, minlength=len(ids))[:, None]
    emb = np.asarray(ds["embedding"].values, dtype=np.float32)[ids]
    return mean.astype(np.float32), ids, emb


def repetition_arrays(ds, *, split="train", n_repeats=3):
    """The repetitions of each image of one subject, in the layout of the MindEye1 webdataset.

    One row per image the subject saw (in the order of first presentation: the first ``N`` rows
    are the images of its first trials), with its ``n_repeats`` single trials; an image seen
    fewer times has its trials cycled (repetition ``j`` is trial ``j % k`` of ``k``). This is
    the input of :func:`~neurosim.decoding.mindbridge_batches` with the paper's per-step
    repetition choice and image budget.

    Parameters
    ----------
    ds : xarray.Dataset
        One subject (:func:`neurosim.datasets.make_fmri_visual`, :func:`neurosim.datasets.load_nsd`).
    split : {"train", "test", "all"}
        Images of the subject's own (non-shared) stimuli, the shared ones, or all.
    n_repeats : int
        Repetitions per image (3 in NSD).

    Returns
    -------
    betas : numpy.ndarray, (n_images, n_repeats, n_voxels) float32
    stimulus : numpy.ndarray, (n_images,) int
    embedding : numpy.ndarray, (n_images, n_features) float32

    Examples
    --------
    >>> from neurosim.datasets import make_fmri_visual
    >>> from neurosim.decoding.preprocessing import repetition_arrays
    >>> ds = make_fmri_visual(n_subjects=1, n_voxels=50, n_stimuli=60, n_shared=10)["subj01"]
    >>> betas, stim, emb = repetition_arrays(ds)
    >>> betas.shape, emb.shape
    ((50, 3, 50), (50, 64))
    """
    from neurosim._utils import check_size

    n_repeats = check_size("n_repeats", n_repeats)
    betas, stim, _ = trial_arrays(ds, split=split)
    ids, first = np.unique(stim, return_index=True)
    ids = ids[np.argsort(first, kind="stable")]  # first-presentation order
    out = np.empty((len(ids), n_repeats, betas.shape[1]), dtype=np.float32)
    for row, sid in enumerate(ids):
        trials = np.flatnonzero(stim == sid)
        out[row] = betas[trials[np.arange(n_repeats) % len(trials)]]
    emb = np.asarray(ds["embedding"].values, dtype=np.float32)[ids]
    return out, ids, emb


def _split_mask(is_shared, split):
    if split == "train":
        return ~is_shared
    if split == "test":
        return is_shared
    if split == "all":
        return np.ones_like(is_shared)
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")


def _things_arrays(ds, var, average, decim):
    x = ds[var].transpose("subject", "image", "repetition", "channel", "time").values
    if decim > 1:
        n = x.shape[-1] // decim * decim
        x = x[..., :n].reshape(*x.shape[:-1], n // decim, decim).mean(-1)
    if average:
        x = x.mean(axis=2, keepdims=True)
    S, I, R = x.shape[:3]
    emb = ds["embedding"].values
    Y = np.broadcast_to(emb[None, :, None], (S, I, R, emb.shape[1])).reshape(S * I * R, -1)
    subject = np.repeat(np.asarray(ds["subject"].values), I * R)
    image = np.tile(np.repeat(np.arange(I), R), S)
    return x.reshape(S * I * R, *x.shape[3:]), Y, subject, image


def _empty(out, name, shape):
    """A float32 array in memory, or a memory-mapped ``.npy`` file in the folder ``out``."""
    if out is None:
        return np.empty(shape, dtype=np.float32)
    from pathlib import Path

    folder = Path(out).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npy"
    if path.exists():
        raise FileExistsError(f"{path} exists: prepare_retrieval_data does not overwrite files; "
                              "give another out folder or remove it")
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)


def _things_train_stream(ds, var, decim, out, modality, chunk=512):
    """Training trials subject by subject and ``chunk`` images at a time (bounded memory), into
    a float32 array (or memory-mapped file), z-scored per channel with their own statistics."""
    da = ds[var].transpose("subject", "image", "repetition", "channel", "time")
    values = da.values  # a memory map stays one: only chunks are read below
    S, I, R, C, T = values.shape
    T2 = T // decim if decim > 1 else T
    n = S * I * R
    emb = np.asarray(ds["embedding"].values, dtype=np.float32)
    x = _empty(out, f"{modality}_train_x", (n, C, T2))
    y = _empty(out, f"{modality}_train_y", (n, emb.shape[1]))
    total, total_sq = np.zeros(C), np.zeros(C)
    for s in range(S):
        for i in range(0, I, chunk):
            block = np.asarray(values[s, i:i + chunk], dtype=np.float32)  # (k, R, C, T)
            if decim > 1:
                block = block[..., :T2 * decim].reshape(*block.shape[:-1], T2, decim).mean(-1)
            if not np.isfinite(block).all():
                raise ValueError(f"the {modality} train data contain NaN or inf values")
            rows = slice((s * I + i) * R, (s * I + i + len(block)) * R)
            x[rows] = block.reshape(-1, C, T2)
            y[rows] = np.repeat(emb[i:i + len(block)], R, axis=0)
            total += block.sum(axis=(0, 1, 3), dtype=np.float64)
            total_sq += np.square(block, dtype=np.float64).sum(axis=(0, 1, 3))
    count = n * T2
    mu = total / count
    sd = np.sqrt(np.maximum(total_sq / count - mu ** 2, 0.0))
    sd = np.where(sd > 0, sd, 1.0)
    step = max(1, chunk * R)
    for r in range(0, n, step):  # z-score in place, chunk by chunk
        x[r:r + step] = (x[r:r + step] - mu[:, None]) / sd[:, None]
    if out is not None:
        x.flush()
        y.flush()
    subject = np.repeat(np.asarray(ds["subject"].values), I * R)
    image = np.tile(np.repeat(np.arange(I), R), S)
    return (x, y, subject, image), mu, sd


def _fmri_arrays(data):
    train, test = {"x": [], "y": [], "s": [], "i": []}, {"x": [], "y": [], "s": [], "i": []}
    n_max = max(ds.sizes["voxel"] for ds in data.values())
    for name, ds in data.items():
        betas = ds["betas"].values.astype(np.float64)
        stim = ds["stimulus"].values
        shared = ds["shared"].values[stim]
        emb = ds["embedding"].values
        mu, sd = betas[~shared].mean(0), betas[~shared].std(0)
        z = (betas - mu) / np.where(sd > 0, sd, 1.0)  # voxelwise z-score with the training trials
        z = np.pad(z, ((0, 0), (0, n_max - z.shape[1])))  # zero-pad to the largest subject
        for part, sel in ((train, ~shared), (test, shared)):
            xs, ss = z[sel], stim[sel]
            if part is test:  # average the repetitions of each shared stimulus
                ss = np.unique(ss)
                xs = np.stack([z[sel][stim[sel] == u].mean(0) for u in ss])
            part["x"].append(xs)
            part["y"].append(emb[ss])
            part["s"].append(np.full(len(ss), name))
            part["i"].append(ss)
    return [tuple(np.concatenate(p[k]) for k in "xysi") for p in (train, test)]


def prepare_retrieval_data(modality, train, test=None, *, decim=1, out=None):
    """Arrays for BrainFLORA and ridge from simulated or real THINGS/NSD-like data sets.

    EEG/MEG: single trials of the training split (subjects pooled) and the test split with the
    repetitions averaged, each channel z-scored with the training mean and standard deviation.
    fMRI: per subject, voxelwise z-scored betas zero-padded to the largest voxel count; trials of
    non-shared stimuli train, the shared stimuli (repetitions averaged) test.

    Parameters
    ----------
    modality : "eeg" | "meg" | "fmri"
        Which data.
    train : xarray.Dataset | dict of str to xarray.Dataset
        EEG/MEG: the ``split="train"`` data set of :func:`neurosim.datasets.make_eeg_things` /
        :func:`~neurosim.datasets.make_meg_things`. fMRI: the dict of
        :func:`~neurosim.datasets.make_fmri_visual`.
    test : xarray.Dataset | None
        EEG/MEG: the ``split="test"`` data set. Unused for fMRI.
    decim : int
        EEG/MEG: average blocks of ``decim`` samples (downsampling).
    out : str | path-like | None
        EEG/MEG: a folder for the training ``x`` and ``y`` as memory-mapped ``.npy`` files
        (``<modality>_train_x.npy``, ``<modality>_train_y.npy``; existing files are never
        overwritten). The training data are read subject by subject and 512 images at a time,
        so with readers that memory-map too (``cache=`` of
        :func:`neurosim.datasets.find_things`) a 10-subject THINGS-EEG2 set never sits in
        memory. None: arrays in memory.

    Returns
    -------
    data : dict
        ``"train"`` and ``"test"``: dicts with ``x`` (float32), ``y`` (target embeddings, float32),
        ``subject`` and ``image`` (stimulus index) per sample.

    Examples
    --------
    >>> from neurosim.datasets import make_eeg_things  # doctest: +SKIP
    >>> d = prepare_retrieval_data("eeg", make_eeg_things(split="train"),
    ...                            make_eeg_things(split="test"))  # doctest: +SKIP
    >>> d["train"]["x"].shape, d["test"]["x"].shape  # doctest: +SKIP
    ((800, 17, 100), (40, 17, 100))
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    keys = ("x", "y", "subject", "image")
    if modality == "fmri":
        if not isinstance(train, dict) or not train:
            raise TypeError("fmri data must be the dict subject -> Dataset of make_fmri_visual")
        tr, te = _fmri_arrays(train)
    else:
        if test is None:
            raise ValueError(f"{modality} needs the train and the test split")
        for ds, split in ((train, "train"), (test, "test")):
            if modality not in getattr(ds, "data_vars", {}):
                raise ValueError(f"the {split} data set has no {modality!r} variable")
        if train.sizes["channel"] != test.sizes["channel"] or \
                train.sizes["feature"] != test.sizes["feature"]:
            raise ValueError("train and test must have the same channels and embedding dim")
        tr, mu, sd = _things_train_stream(train, modality, decim, out, modality)
        te = _things_arrays(test, modality, True, decim)
        te = ((te[0] - mu[:, None]) / sd[:, None], *te[1:])
    result = {}
    for name, arrays in (("train", tr), ("test", te)):
        d = dict(zip(keys, arrays))
        if not isinstance(d["x"], np.memmap):
            d["x"] = np.ascontiguousarray(d["x"], dtype=np.float32)
            d["y"] = np.ascontiguousarray(d["y"], dtype=np.float32)
            if not np.all(np.isfinite(d["x"])):
                raise ValueError(f"the {modality} {name} data contain NaN or inf values")
        result[name] = d
    return result


# ==============================================================================================
# MNE input: channels by name, units, THINGS-style epochs
# ==============================================================================================
def _is_mne(inst):
    return hasattr(inst, "info") and hasattr(inst, "ch_names") and hasattr(inst, "get_data")


def _channel_indices(available, expected, what):
    """Indices of ``expected`` names in ``available`` (exact, else case-insensitive), or an error."""
    exact = {c: i for i, c in enumerate(available)}
    lower = {}
    for i, c in enumerate(available):
        lower.setdefault(c.lower(), []).append(i)
    idx, missing = [], []
    for name in expected:
        if name in exact:
            idx.append(exact[name])
        elif len(lower.get(name.lower(), [])) == 1:
            idx.append(lower[name.lower()][0])
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(available[:12]) + (f", ... ({len(available)} in all)"
                                             if len(available) > 12 else "")
        raise ValueError(
            f"{what} expects the channels {list(expected)}; {missing} are not in the data "
            f"(channels: {shown}). Rename them (mne's rename_channels), or for a cap whose "
            "channels have other names match them by position with "
            "neurosim.decoding.preprocessing.pick_montage(inst, names, by='position')")
    return idx


def epochs_array(epochs, ch_names, *, sfreq=None, n_times=None, what="the model"):
    """The data of :class:`mne.Epochs` with the channels ``ch_names``, in that order.

    Parameters
    ----------
    epochs : mne.Epochs
        The epochs (data in MNE's units: V for EEG, T and T/m for MEG).
    ch_names : sequence of str
        The channels wanted, matched by name (exactly, else ignoring case).
    sfreq : float | None
        If given, the epochs' sampling rate must equal it.
    n_times : int | None
        If given, the epochs must have this many samples.
    what : str
        Who asks (for the error messages).

    Returns
    -------
    x : numpy.ndarray, shape (n_epochs, len(ch_names), n_times), float64
        In the epochs' units.

    Raises
    ------
    TypeError
        If ``epochs`` is not an MNE object with data.
    ValueError
        Naming the missing channels, or the sampling rate or length that differ.
    """
    if not _is_mne(epochs):
        raise TypeError(f"epochs must be mne.Epochs, got {type(epochs).__name__}")
    idx = _channel_indices(list(epochs.ch_names), [str(c) for c in ch_names], what)
    if sfreq is not None and not np.isclose(epochs.info["sfreq"], sfreq, rtol=1e-3):
        raise ValueError(f"{what} expects data sampled at {sfreq:g} Hz; the epochs are at "
                         f"{epochs.info['sfreq']:g} Hz: resample them first "
                         f"(epochs.resample({sfreq:g}))")
    x = epochs.get_data(picks=[epochs.ch_names[i] for i in idx])
    if n_times is not None and x.shape[-1] != n_times:
        raise ValueError(f"{what} expects epochs of {n_times} samples, these have {x.shape[-1]} "
                         f"(tmin {epochs.tmin:g} s, tmax {epochs.tmax:g} s): crop them, e.g. "
                         f"epochs.crop(0, {(n_times - 1) / epochs.info['sfreq']:.4g})")
    return x


def _unit_directions(pos):
    """Directions of positions from the centre of their best-fitting sphere (least squares)."""
    pos = np.asarray(pos, dtype=np.float64)
    A = np.column_stack([2 * pos, np.ones(len(pos))])
    sol = np.linalg.lstsq(A, (pos ** 2).sum(1), rcond=None)[0]
    d = pos - sol[:3]
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def pick_montage(inst, ch_names, *, by="name", max_angle=20.0):
    """A copy of ``inst`` with exactly the channels ``ch_names``, in that order.

    A decoder trained on one montage (HiSTN: the 14 Emotiv channels of DREAMER,
    :data:`~neurosim.decoding.DREAMER_CHANNELS`) needs its channels in its order; this picks them
    from an MNE object, by name or, for a cap whose channels carry other names (e.g. ``EEG 001``
    ...), by position: each wanted channel of the standard 10-20 montage is assigned the
    recorded electrode nearest in direction from the head centre (one electrode per channel,
    :func:`scipy.optimize.linear_sum_assignment` on the angles; both sets are centred on their own
    best-fitting sphere), and renamed.

    Parameters
    ----------
    inst : mne.io.Raw | mne.Epochs | mne.Evoked
        The recording (EEG channels with digitised positions for ``by="position"``).
    ch_names : sequence of str
        The channels wanted (10-20 names for ``by="position"``).
    by : "name" | "position"
        How to match.
    max_angle : float
        ``by="position"``: the largest angle (degrees) allowed between a wanted channel and the
        electrode assigned to it.

    Returns
    -------
    picked : same type as ``inst``
        A copy with channels ``ch_names`` in that order.
    mapping : dict of str to str
        Wanted name -> the recorded channel it was taken from.

    Raises
    ------
    ValueError
        Naming the channels that cannot be matched (missing names, no position, or no electrode
        within ``max_angle``).
    """
    from scipy.optimize import linear_sum_assignment

    if not _is_mne(inst):
        raise TypeError(f"inst must be an MNE Raw, Epochs or Evoked, got {type(inst).__name__}")
    ch_names = [str(c) for c in ch_names]
    if by == "name":
        idx = _channel_indices(list(inst.ch_names), ch_names, "pick_montage")
        mapping = {w: inst.ch_names[i] for w, i in zip(ch_names, idx)}
    elif by == "position":
        from neurosim.datasets._specs import eeg_positions

        eeg = [i for i, ch in enumerate(inst.info["chs"])
               if ch["kind"] == 2 and ch["ch_name"] not in inst.info["bads"]]  # FIFFV_EEG_CH
        pos = np.array([inst.info["chs"][i]["loc"][:3] for i in eeg])
        ok = np.isfinite(pos).all(1) & (np.linalg.norm(pos, axis=1) > 0)
        eeg, pos = [e for e, g in zip(eeg, ok) if g], pos[ok]
        if len(eeg) < len(ch_names):
            raise ValueError(f"pick_montage(by='position') needs at least {len(ch_names)} EEG "
                             f"channels with positions; the data have {len(eeg)}")
        try:
            want = eeg_positions(tuple(ch_names))
        except (KeyError, ValueError) as err:
            raise ValueError(f"pick_montage(by='position') needs standard 10-20 names, got "
                             f"{ch_names}") from err
        cos = np.clip(_unit_directions(want) @ _unit_directions(pos).T, -1, 1)
        angle = np.degrees(np.arccos(cos))
        rows, cols = linear_sum_assignment(angle)
        assigned = dict(zip(rows, cols))
        far = [f"{ch_names[r]} ({angle[r, assigned[r]]:.0f} deg)" for r in range(len(ch_names))
               if angle[r, assigned[r]] > max_angle]
        if far:
            raise ValueError(f"no electrode within {max_angle:g} degrees of {far}")
        mapping = {ch_names[r]: inst.ch_names[eeg[assigned[r]]] for r in range(len(ch_names))}
    else:
        raise ValueError(f"by must be 'name' or 'position', got {by!r}")
    picked = inst.copy().pick(list(mapping.values()))
    picked.reorder_channels(list(mapping.values()))
    picked.rename_channels({v: k for k, v in mapping.items() if v != k})
    return picked, mapping


#: THINGS-style preprocessing of each modality (see :func:`things_epochs`)
THINGS_PREPROCESSING = {
    # THINGS-MEG (Hebart et al. 2023): 0.1-40 Hz, epochs -100..1300 ms, z-scored with the
    # baseline, 200 Hz; BrainFLORA then keeps 0-1 s (201 samples)
    "meg": {"l_freq": 0.1, "h_freq": 40.0, "tmin": -0.1, "tmax": 1.3, "sfreq": 200.0,
            "n_times": 201, "picks": "meg"},
    # THINGS-EEG2 250 Hz variant (NICE/ATM/BrainFLORA): epochs -200..1000 ms, baseline, 250 Hz,
    # 0-1 s (250 samples); the 0.1-100 Hz band is the recording's
    "eeg": {"l_freq": 0.1, "h_freq": 100.0, "tmin": -0.2, "tmax": 1.0, "sfreq": 250.0,
            "n_times": 250, "picks": "eeg"},
}


def things_epochs(inst, modality, *, events=None, event_id=None, ch_names=None, **params):
    """THINGS-style preprocessing of an MNE recording: filter, epoch, resample, crop, z-score.

    The path of the THINGS-MEG and THINGS-EEG2 preprocessed files that BrainFLORA reads, for any
    :class:`mne.io.Raw` (or already cut :class:`mne.Epochs`):

    1. band-pass ``l_freq``-``h_freq`` (FIR, on the raw data);
    2. epochs from ``tmin`` to ``tmax`` around each event;
    3. to ``sfreq``: decimation when the rate is within 0.5 % of an integer multiple of it (the
       band-pass is the anti-alias filter), else :meth:`mne.Epochs.resample`;
    4. each epoch and channel z-scored with the mean and standard deviation of its baseline
       (``tmin`` to 0), as THINGS-MEG; this also makes the units (V, T, T/m) irrelevant;
    5. crop to ``n_times`` samples from 0 s (BrainFLORA's 0-1 s).

    Departure: THINGS-EEG2 whitens the channels (multivariate noise normalisation) where this
    z-scores each channel with its baseline.

    Parameters
    ----------
    inst : mne.io.Raw | mne.Epochs
        The recording.
    modality : "eeg" | "meg"
        Which channels and defaults (:data:`THINGS_PREPROCESSING`).
    events : numpy.ndarray | None
        MNE events (n, 3) for a Raw (None: :func:`mne.find_events` on the stim channel).
    event_id : dict | list of int | None
        Which events to epoch (None: all).
    ch_names : sequence of str | None
        Keep these channels in this order, matched by name (None: every channel of the modality,
        bad channels excluded).
    **params
        Override :data:`THINGS_PREPROCESSING` entries (``l_freq``, ``h_freq``, ``tmin``, ``tmax``,
        ``sfreq``, ``n_times``).

    Returns
    -------
    epochs : mne.EpochsArray
        ``n_times`` samples from 0 s, dimensionless z-scores, with the events of the input.

    Examples
    --------
    >>> from neurosim.decoding.preprocessing import things_epochs
    >>> epochs = things_epochs(raw, "meg", event_id=[1, 2, 3, 4])  # doctest: +SKIP
    >>> epochs.get_data().shape  # doctest: +SKIP
    (29, 306, 201)
    """
    import mne

    if modality not in THINGS_PREPROCESSING:
        raise ValueError(f"modality must be one of {sorted(THINGS_PREPROCESSING)}, got {modality!r}")
    cfg = dict(THINGS_PREPROCESSING[modality])
    unknown = sorted(set(params) - set(cfg))
    if unknown:
        raise ValueError(f"unknown parameters {unknown}; expected some of {sorted(cfg)}")
    cfg.update(params)
    if isinstance(inst, mne.io.BaseRaw):
        raw = inst.copy().pick(cfg["picks"], exclude="bads").load_data(verbose="error")
        if events is None:
            events = mne.find_events(inst, verbose="error")
        raw.filter(cfg["l_freq"], cfg["h_freq"], verbose="error")
        if isinstance(event_id, (list, tuple, np.ndarray)):
            event_id = {str(int(e)): int(e) for e in event_id}
        epochs = mne.Epochs(raw, events, event_id, tmin=cfg["tmin"], tmax=cfg["tmax"],
                            baseline=None, preload=True, reject=None, verbose="error")
    elif isinstance(inst, mne.BaseEpochs):
        epochs = inst.copy().pick(cfg["picks"], exclude="bads").load_data(verbose="error")
        epochs.filter(cfg["l_freq"], cfg["h_freq"], verbose="error")
    else:
        raise TypeError(f"inst must be mne.io.Raw or mne.Epochs, got {type(inst).__name__}")
    if len(epochs) == 0:
        raise ValueError("no epochs: check events and event_id")
    if epochs.tmin > -1e-9:
        raise ValueError(f"the epochs start at {epochs.tmin:g} s: a baseline before 0 s is needed "
                         "for the z-score")
    ratio = epochs.info["sfreq"] / cfg["sfreq"]
    if abs(ratio - round(ratio)) < 0.005 * ratio and round(ratio) >= 1:
        if round(ratio) > 1:
            epochs.decimate(int(round(ratio)), verbose="error")
    else:
        epochs.resample(cfg["sfreq"], verbose="error")
    if ch_names is not None:
        idx = _channel_indices(list(epochs.ch_names), [str(c) for c in ch_names],
                               f"things_epochs({modality!r})")
        epochs.reorder_channels([epochs.ch_names[i] for i in idx])
    data = epochs.get_data()
    times = epochs.times
    base = data[..., times < 0]
    sd = base.std(axis=-1, keepdims=True)
    z = (data - base.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    start = int(np.argmin(np.abs(times)))
    n = int(cfg["n_times"])
    if start + n > z.shape[-1]:
        raise ValueError(f"the epochs end at {times[-1]:g} s: {n} samples from 0 s at "
                         f"{epochs.info['sfreq']:g} Hz need tmax >= {(n - 1) / epochs.info['sfreq']:g}")
    info = epochs.info.copy()
    return mne.EpochsArray(z[..., start:start + n], info, events=epochs.events, tmin=times[start],
                           event_id=epochs.event_id, verbose="error")
