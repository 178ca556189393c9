"""THINGS-EEG2, THINGS-MEG and THINGS-fMRI readers, and the THINGS-EEG2 fetcher."""

import warnings
from pathlib import Path

import numpy as np

from ._fetch import RemoteFile, fetch_files
from ._specs import eeg_positions

__all__ = ["find_things", "load_things_eeg2", "fetch_things_eeg2", "load_things_meg",
           "load_things_fmri"]

_EEG2_FILES = {"train": "preprocessed_eeg_training.npy", "test": "preprocessed_eeg_test.npy"}
_EEG2_HOW = (
    "THINGS-EEG2 (Gifford et al. 2022, NeuroImage 264:119754) is on OSF: preprocessed data at "
    "https://osf.io/anp5v/ (one folder per subject, sub-01 ... sub-10) and image metadata at "
    "https://osf.io/y63gw/. Put sub-XX/preprocessed_eeg_training.npy, sub-XX/preprocessed_eeg_test.npy "
    "and image_metadata.npy in the folder named above."
)
MEG_CATCH_EVENT = 999999
N_MEG_SUBJECTS = 4


def _meg_file(subject):
    return f"preprocessed_P{subject}-epo.fif"


def _fmri_file(subject, kind):
    return f"sub-{subject:02d}_{kind}"  # kind: ResponseData.h5, VoxelMetadata.csv, ...


def _load_pickled_dict(path):
    """``np.save(dict)`` (official) or ``pickle.dump(dict)`` (250 Hz variant) files both load here."""
    obj = np.load(path, allow_pickle=True)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a dict (got {type(obj).__name__})")
    return obj


def _subject_list(subjects, n_max, name):
    if isinstance(subjects, int | np.integer):
        subjects = [subjects]
    subjects = [int(s) for s in subjects]
    for s in subjects:
        if not 1 <= s <= n_max:
            raise ValueError(f"{name} subjects are numbered 1..{n_max}, got {s}")
    return subjects


def load_things_eeg2(root, subjects=(1,), split="train"):
    """Load preprocessed THINGS-EEG2 data as distributed (official 100 Hz or the 250 Hz variant).

    Reads ``<root>/sub-XX/preprocessed_eeg_training.npy`` or ``..._test.npy``: a dict with
    ``preprocessed_eeg_data`` (images, repetitions, channels, times), ``ch_names`` and ``times``.
    The official files (17 channels, 100 Hz, saved with ``np.save``; train (16540, 4, 17, 100),
    test (200, 80, 17, 100)) and the NICE/ATM/BrainFLORA ``Preprocessed_data_250Hz`` files (63
    channels, pickled; 250 samples while ``times`` keeps 300: the first 50 were dropped) are both
    recognised. These files are pickles: only open files from a source you trust.

    Parameters
    ----------
    root : str | path-like
        Folder holding ``sub-01``, ``sub-02``, ... (and optionally ``image_metadata.npy``).
    subjects : int | sequence of int
        Subjects 1-10.
    split : {"train", "test"}
        Training (1654 concepts x 10 images) or test (200 concepts x 1 image) set.

    Returns
    -------
    data : xarray.Dataset
        ``eeg`` (subject, image, repetition, channel, time) float32 (MVNN-whitened, arbitrary units);
        coordinates ``subject`` (``"sub-01"``...), ``image`` (row in the file), ``repetition``,
        ``channel``, ``ch_pos`` (channel, xyz; m, standard 10-20 positions), ``time`` (s) and
        ``concept`` (image; 0-based, from ``image_metadata.npy`` when present, else ``image // 10``
        for train and ``image`` for test, the files' ordering), and
        ``image_file`` (image) when the metadata are present; attrs ``sfreq``, ``split``.

    Examples
    --------
    >>> from neurosim.datasets import load_things_eeg2
    >>> root = "~/neurosim_data/things_eeg2"
    >>> ds = load_things_eeg2(root, subjects=[1, 2], split="test")  # doctest: +SKIP
    >>> ds.eeg.shape  # doctest: +SKIP
    (2, 200, 80, 17, 100)
    """
    import xarray as xr

    if split not in _EEG2_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root).expanduser()
    subjects = _subject_list(subjects, 10, "THINGS-EEG2")
    paths = [root / f"sub-{s:02d}" / _EEG2_FILES[split] for s in subjects]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "missing THINGS-EEG2 files:\n  " + "\n  ".join(missing) + "\n" + _EEG2_HOW
        )
    arrays, ch_names, times = [], None, None
    for p in paths:
        d = _load_pickled_dict(p)
        for key in ("preprocessed_eeg_data", "ch_names", "times"):
            if key not in d:
                raise ValueError(f"{p} has no key {key!r}; keys: {sorted(d)}")
        x = np.asarray(d["preprocessed_eeg_data"])
        if x.ndim != 4:
            raise ValueError(
                f"{p}: expected (images, repetitions, channels, times), got shape {x.shape}"
            )
        names = [str(c) for c in d["ch_names"]]
        t = np.asarray(d["times"], dtype=np.float64)
        if len(names) != x.shape[2] or len(t) < x.shape[3]:
            raise ValueError(
                f"{p}: {len(names)} ch_names and {len(t)} times for data of shape {x.shape}"
            )
        t = t[
            len(t) - x.shape[3] :
        ]  # the 250 Hz variant keeps all 300 times but drops the first 50 samples
        if ch_names is not None and (names != ch_names or not np.allclose(t, times)):
            raise ValueError(f"{p}: channels or times differ from the first subject's")
        if arrays and x.shape != arrays[0].shape:
            raise ValueError(f"{p}: shape {x.shape} differs from the first subject's {arrays[0].shape}")
        ch_names, times = names, t
        arrays.append(x.astype(np.float32, copy=False))
    n_img = arrays[0].shape[0]
    coords = {
        "subject": [f"sub-{s:02d}" for s in subjects],
        "image": np.arange(n_img),
        "repetition": np.arange(arrays[0].shape[1]),
        "channel": ch_names,
        "ch_pos": (
            ("channel", "xyz"),
            eeg_positions(tuple(ch_names)),
            {"units": "m", "coord_frame": "head", "source": "standard 10-20 montage"},
        ),
        "time": ("time", times, {"units": "s"}),
    }
    meta_path = root / "image_metadata.npy"
    if meta_path.is_file():
        meta = _load_pickled_dict(meta_path)
        prefix = "train" if split == "train" else "test"
        concepts = [str(c) for c in meta[f"{prefix}_img_concepts"]]
        files = [str(f) for f in meta[f"{prefix}_img_files"]]
        if len(concepts) != n_img or len(files) != n_img:
            raise ValueError(f"{meta_path}: {len(concepts)} {prefix} concepts for {n_img} images")
        coords["concept"] = ("image", np.array([int(c.split("_")[0]) - 1 for c in concepts]))
        coords["concept_name"] = ("image", np.array(["_".join(c.split("_")[1:]) for c in concepts]))
        coords["image_file"] = ("image", np.array(files))
    else:
        coords["concept"] = ("image", np.arange(n_img) // 10 if split == "train" else np.arange(n_img))
    sfreq = float(np.round(1.0 / np.median(np.diff(times)), 6)) if len(times) > 1 else float("nan")
    return xr.Dataset(
        {
            "eeg": (
                ("subject", "image", "repetition", "channel", "time"),
                np.stack(arrays),
                {"units": "a.u. (MVNN-whitened)"},
            )
        },
        coords=coords,
        attrs={
            "sfreq": sfreq,
            "split": split,
            "layout": f"{len(ch_names)}ch-{sfreq:g}hz",
            "citation": "Gifford et al. (2022), NeuroImage 264:119754",
        },
    )


def fetch_things_eeg2(data_home=None, subjects=(1,), *, download=True, base_url=None, progress=False):
    """Locate (and, from a mirror, download) the preprocessed THINGS-EEG2 files.

    The data are on OSF (https://osf.io/anp5v/), which gives files no stable direct URL, so
    neurosim does not download from OSF itself: put the files in ``<data_home>/things_eeg2``
    (``sub-XX/preprocessed_eeg_training.npy``, ``sub-XX/preprocessed_eeg_test.npy``,
    ``image_metadata.npy``) or pass ``base_url``, a mirror with that same layout. No checksums are
    published, so mirrored files are downloaded without verification (a warning says so).

    Parameters
    ----------
    data_home : str | path-like | None
        Data folder; None uses ``$NEUROSIM_DATA`` or ``~/neurosim_data``.
    subjects : int | sequence of int
        Subjects 1-10.
    download : bool
        If False, raise :class:`FileNotFoundError` listing missing files instead of downloading.
    base_url : str | None
        Mirror URL (``https://...``, ``file://...``) holding ``sub-XX/...`` files.
    progress : bool
        Show download progress.

    Returns
    -------
    root : pathlib.Path
        The folder to pass to :func:`load_things_eeg2`.

    Examples
    --------
    >>> from neurosim.datasets import fetch_things_eeg2, load_things_eeg2
    >>> root = fetch_things_eeg2(subjects=[1], download=False)  # doctest: +SKIP
    >>> ds = load_things_eeg2(root, subjects=[1])  # doctest: +SKIP
    """
    subjects = _subject_list(subjects, 10, "THINGS-EEG2")
    names = [f"sub-{s:02d}/{f}" for s in subjects for f in _EEG2_FILES.values()] + ["image_metadata.npy"]
    base = None if base_url is None else base_url.rstrip("/") + "/"
    files = [RemoteFile(n, None if base is None else base + n, None) for n in names]
    paths = fetch_files(
        files,
        folder="things_eeg2",
        dataset="THINGS-EEG2",
        download=download,
        data_home=data_home,
        instructions=_EEG2_HOW,
        progress=progress,
    )
    return paths[-1].parent


def load_things_meg(root, subjects=(1,), split="train", *, picks="meg", decim=1):
    """Load THINGS-MEG preprocessed epochs (``preprocessed_P{n}-epo.fif``) through MNE.

    Catch trials (event 999999) are dropped. Event values are 1-based rows of THINGS'
    ``image_paths.csv``; images shown once are the training set, images shown repeatedly (12
    times in THINGS-MEG) the test set.

    Parameters
    ----------
    root : str | path-like
        Folder holding ``preprocessed_P1-epo.fif`` ... (or one such file when loading one subject).
    subjects : int | sequence of int
        Participants 1-4.
    split : {"train", "test"}
        Images presented once, or repeatedly.
    picks : str | list
        Channels, as :meth:`mne.Epochs.pick` takes them.
    decim : int
        Keep every ``decim``-th sample (the files are at 200 Hz).

    Returns
    -------
    data : xarray.Dataset
        ``meg`` (subject, image, repetition, channel, time) float32 in the files' units (tesla, or
        z-scores after the official baseline normalisation), NaN where a subject has fewer
        repetitions; coordinates ``subject`` (``"P1"``...), ``image`` (0-based row of
        ``image_paths.csv``), ``repetition``, ``channel``, ``ch_pos`` (channel, xyz; sensor positions
        from the file, m, device frame), ``time`` (s); attrs ``sfreq``, ``split``.

    Examples
    --------
    >>> from neurosim.datasets import load_things_meg
    >>> ds = load_things_meg("~/neurosim_data/things_meg", subjects=[1], split="test")  # doctest: +SKIP
    """
    import mne
    import xarray as xr

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if int(decim) < 1:
        raise ValueError(f"decim must be a positive int, got {decim}")
    root = Path(root).expanduser()
    subjects = _subject_list(subjects, 4, "THINGS-MEG")
    if root.is_file():
        if len(subjects) != 1:
            raise ValueError("root is a single file: give exactly one subject")
        paths = [root]
    else:
        paths = [root / _meg_file(s) for s in subjects]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "missing THINGS-MEG files:\n  "
            + "\n  ".join(missing)
            + "\nTHINGS-MEG (Hebart et al. 2023) is OpenNeuro ds004212; the preprocessed epochs are "
            "in its "
            "derivatives/preprocessed folder."
        )
    per_subject = []
    for p in paths:
        epochs = mne.read_epochs(p, preload=False, verbose="error")
        events = epochs.events[:, 2]
        keep = events != MEG_CATCH_EVENT
        ids, counts = np.unique(events[keep], return_counts=True)
        chosen = ids[counts == 1] if split == "train" else ids[counts > 1]
        per_subject.append((epochs, events, chosen))
    images = per_subject[0][2]
    for _, _, chosen in per_subject[1:]:
        images = np.intersect1d(images, chosen)
    if images.size == 0:
        raise ValueError(
            f"no {split} images (shown {'once' if split == 'train' else 'repeatedly'}) found"
        )
    n_rep = max(
        int(np.max(np.unique(ev[np.isin(ev, images)], return_counts=True)[1]))
        for _, ev, _ in per_subject
    )
    # resolve `picks` on one loaded epoch; the data are then read block by block
    ch_names = per_subject[0][0][:1].load_data().pick(picks).ch_names
    times = per_subject[0][0].times[:: int(decim)]
    out = np.full((len(paths), len(images), n_rep, len(ch_names), len(times)), np.nan, dtype=np.float32)
    pos = {im: i for i, im in enumerate(images)}
    for s, (epochs, events, _) in enumerate(per_subject):
        if not set(ch_names) <= set(epochs.ch_names):
            raise ValueError(f"{paths[s].name}: channels differ from the first subject's")
        sel = np.flatnonzero(np.isin(events, images))
        seen = {}
        for start in range(0, len(sel), 512):  # read in blocks: never the whole file in float64
            block = sel[start : start + 512]
            data = epochs.get_data(picks=ch_names, item=block, verbose="error")[..., :: int(decim)]
            for e, x in zip(block, data):
                im = events[e]
                r = seen.get(im, 0)
                seen[im] = r + 1
                out[s, pos[im], r] = x
    sfreq = per_subject[0][0].info["sfreq"] / int(decim)
    info = per_subject[0][0].info
    loc = {ch["ch_name"]: ch["loc"][:3] for ch in info["chs"]}
    ch_pos = np.array([loc[c] for c in ch_names], dtype=np.float64)
    return xr.Dataset(
        {"meg": (("subject", "image", "repetition", "channel", "time"), out)},
        coords={
            "subject": [f"P{s}" for s in subjects],
            "image": images - 1,
            "repetition": np.arange(n_rep),
            "channel": list(ch_names),
            "ch_pos": (("channel", "xyz"), ch_pos, {"units": "m", "coord_frame": "meg device"}),
            "time": ("time", times, {"units": "s"}),
        },
        attrs={
            "sfreq": float(sfreq),
            "split": split,
            "citation": "Hebart et al. (2023), eLife 12:e82580",
        },
    )


def _decode(values):
    return [
        v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v
        for v in values
    ]


def _read_pandas_fixed(path, key):
    """Read a pandas ``to_hdf(format="fixed")`` DataFrame with h5py (no PyTables needed)."""
    import h5py
    import pandas as pd

    with h5py.File(path, "r") as f:
        if key not in f:
            raise ValueError(f"{path} has no group {key!r}; it has {sorted(f.keys())}")
        g = f[key]
        if "axis0" not in g or "block0_values" not in g:
            raise ValueError(
                f"{path}[{key!r}] is not a pandas fixed-format frame (no axis0/block0_values)"
            )
        columns = _decode(g["axis0"][()])
        index = _decode(g["axis1"][()])
        n_blocks = int(g.attrs.get("nblocks", sum(k.endswith("_values") for k in g)))
        data = {}
        for b in range(n_blocks):
            items = _decode(g[f"block{b}_items"][()])
            node = g[f"block{b}_values"]
            values = node[()]
            if bool(node.attrs.get("transposed", False)):
                values = values.T  # pandas stores blocks as (rows, items) and flags them "transposed"
            if values.shape != (len(items), len(index)):
                raise ValueError(
                    f"{path}: block{b} has shape {values.shape}, expected {(len(items), len(index))}"
                )
            for item, col in zip(items, values):
                data[item] = col
    return pd.DataFrame({c: data[c] for c in columns}, index=index)


def load_things_fmri(root, subject=1, *, rois=None):
    """Load THINGS-fMRI single-trial responses (the figshare ``betas_csv`` release) of one subject.

    Reads ``sub-0X_ResponseData.h5`` (pandas HDF: one row per voxel, a ``voxel_id`` column and one
    column per trial), ``sub-0X_VoxelMetadata.csv`` (voxel information and boolean ROI columns such
    as ``V1``, ``hV4``, ``lFFA``) and ``sub-0X_StimulusMetadata.csv`` (one row per trial: ``trial_type``
    train/test, ``stimulus``, ``session``, ``concept``, ...). Uses :func:`pandas.read_hdf` when PyTables
    is installed, and reads the fixed-format layout directly with h5py otherwise.

    Parameters
    ----------
    root : str | path-like
        Folder holding the three files.
    subject : int
        Subject 1-3.
    rois : list of str | None
        Keep voxels flagged in any of these ROI columns; None keeps all.

    Returns
    -------
    data : xarray.Dataset
        ``betas`` (trial, voxel) float32; trial coordinates from the stimulus metadata (``trial_type``,
        ``stimulus``, ``session``, ``concept``, ...) plus ``repeat`` (0-based presentation count of the
        stimulus); voxel coordinates ``voxel_id`` and every voxel-metadata column (ROI flags as bool).

    Examples
    --------
    >>> from neurosim.datasets import load_things_fmri
    >>> root = "~/neurosim_data/things_fmri"
    >>> ds = load_things_fmri(root, subject=1, rois=["V1", "V2"])  # doctest: +SKIP
    >>> test = ds.isel(trial=ds.trial_type.values == "test")  # doctest: +SKIP
    """
    import pandas as pd
    import xarray as xr

    root = Path(root).expanduser()
    subject = _subject_list(subject, 3, "THINGS-fMRI")[0]
    paths = {
        k: root / _fmri_file(subject, k)
        for k in ("ResponseData.h5", "VoxelMetadata.csv", "StimulusMetadata.csv")
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "missing THINGS-fMRI files:\n  "
            + "\n  ".join(missing)
            + "\nThe single-trial responses are on figshare "
            "(doi:10.25452/figshare.plus.20492835, betas_csv)."
        )
    try:
        import tables  # noqa: F401

        resp = pd.read_hdf(paths["ResponseData.h5"])
    except ImportError:
        resp = _read_pandas_fixed(paths["ResponseData.h5"], "ResponseData")
    if "voxel_id" not in resp.columns:
        raise ValueError(f"{paths['ResponseData.h5'].name} has no 'voxel_id' column")
    voxels = pd.read_csv(paths["VoxelMetadata.csv"])
    stims = pd.read_csv(paths["StimulusMetadata.csv"])
    trial_cols = [c for c in resp.columns if c != "voxel_id"]
    if len(trial_cols) != len(stims):
        raise ValueError(
            f"{len(trial_cols)} trial columns in the responses but {len(stims)} rows of "
            "stimulus metadata"
        )
    if "voxel_id" in voxels.columns:
        voxels = voxels.set_index("voxel_id").loc[resp["voxel_id"].to_numpy()].reset_index()
    elif len(voxels) != len(resp):
        raise ValueError(f"{len(voxels)} rows of voxel metadata for {len(resp)} voxels")
    betas = resp[trial_cols].to_numpy(dtype=np.float32).T
    keep = np.ones(len(resp), dtype=bool)
    if rois is not None:
        unknown = [r for r in rois if r not in voxels.columns]
        if unknown:
            raise ValueError(f"unknown ROI columns {unknown}; voxel metadata has {list(voxels.columns)}")
        keep = voxels[list(rois)].astype(bool).any(axis=1).to_numpy()
    coords = {"voxel_id": ("voxel", resp["voxel_id"].to_numpy()[keep])}
    for c in voxels.columns:
        if c != "voxel_id":
            col = voxels[c].to_numpy()[keep]
            coords[str(c)] = ("voxel", col.astype(bool) if voxels[c].dtype == bool else col)
    for c in stims.columns:
        coords[str(c)] = ("trial", stims[c].to_numpy())
    if "stimulus" in stims.columns:
        coords["repeat"] = ("trial", stims.groupby("stimulus").cumcount().to_numpy())
    if betas.shape[1] and not np.isfinite(betas).all():
        warnings.warn("THINGS-fMRI responses contain NaN/inf values", UserWarning, stacklevel=2)
    return xr.Dataset(
        {"betas": (("trial", "voxel"), betas[:, keep])},
        coords=coords,
        attrs={"subject": f"sub-{subject:02d}", "citation": "Hebart et al. (2023), eLife 12:e82580"},
    )


# ----------------------------------------------------------------------------------------------
# a folder of THINGS recordings with image embeddings (BrainFLORA's real-data input)
# ----------------------------------------------------------------------------------------------
EMBEDDING_SUFFIXES = (".npz", ".npy", ".pt", ".h5", ".hdf5")


def _embedding_file(root, name, what):
    from ._embeddings import load_embeddings

    found = [root / f"embeddings_{name}{suffix}" for suffix in EMBEDDING_SUFFIXES]
    found = [p for p in found if p.is_file()]
    if not found:
        raise FileNotFoundError(
            f"no stimulus-embedding file embeddings_{name}.<npz|npy|pt|h5> in {root}: it must hold "
            f"one row per {what} (e.g. CLIP image features saved with "
            "neurosim.datasets.save_embeddings; see load_embeddings for the formats)"
        )
    if len(found) > 1:
        raise ValueError(f"several embedding files embeddings_{name}.* in {root}: "
                         f"{[p.name for p in found]}; keep one")
    emb = load_embeddings(found[0])
    values = np.asarray(emb.values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{found[0].name} contains NaN or inf values")
    return found[0].name, values


def _find_eeg2(root, subjects):
    out = {}
    for split in ("train", "test"):
        ds = load_things_eeg2(root, subjects=subjects, split=split)
        what = f"image of the THINGS-EEG2 {split} files, in their order"
        name, emb = _embedding_file(root, split, what)
        if len(emb) != ds.sizes["image"]:
            raise ValueError(
                f"{name} has {len(emb)} rows but the THINGS-EEG2 {split} files have "
                f"{ds.sizes['image']} images: one embedding row per image is expected"
            )
        out[split] = ds.assign(embedding=(("image", "feature"), emb))
    tr, te = out["train"], out["test"]
    text = (f"THINGS-EEG2 (subjects {', '.join(tr['subject'].values)}; "
            f"{tr.sizes['image']} training images x {tr.sizes['repetition']} repetitions, "
            f"{te.sizes['image']} test images x {te.sizes['repetition']} repetitions averaged; "
            f"{tr.sizes['channel']} channels x {tr.sizes['time']} samples; "
            f"{tr.sizes['feature']}-d image embeddings)")
    return out, text


def _find_meg(root, subjects):
    name, emb = _embedding_file(root, "meg", "row of THINGS' image_paths.csv (the MEG event value - 1)")
    out = {}
    for split in ("train", "test"):
        ds = load_things_meg(root, subjects=subjects, split=split)
        images = ds["image"].values
        if images.max() >= len(emb):
            raise ValueError(f"{name} has {len(emb)} rows but the THINGS-MEG files show image "
                             f"{images.max() + 1} (1-based row of image_paths.csv)")
        # repetitions that some subject lacks (NaN) are dropped rather than averaged in
        complete = np.isfinite(ds["meg"].values).all(axis=(0, 1, 3, 4))
        if not complete.any():
            raise ValueError(f"no THINGS-MEG {split} repetition is complete for every subject")
        ds = ds.isel(repetition=np.flatnonzero(complete))
        out[split] = ds.assign(embedding=(("image", "feature"), emb[images]))
    tr, te = out["train"], out["test"]
    text = (f"THINGS-MEG (subjects {', '.join(tr['subject'].values)}; "
            f"{tr.sizes['image']} training images, {te.sizes['image']} test images x "
            f"{te.sizes['repetition']} repetitions averaged; {tr.sizes['channel']} channels x "
            f"{tr.sizes['time']} samples; {tr.sizes['feature']}-d image embeddings)")
    return out, text


def find_things(path, *, max_subjects=None):
    """Read the THINGS-EEG2 and/or THINGS-MEG recordings in a folder, with image embeddings.

    The folder ``path`` holds the data of at least one modality:

    - EEG: ``sub-XX/preprocessed_eeg_training.npy`` and ``sub-XX/preprocessed_eeg_test.npy`` for one
      or more subjects ``XX`` in 01-10, as distributed on OSF (read by :func:`load_things_eeg2`;
      the official 17-channel 100 Hz files or the 63-channel 250 Hz variant), with
      ``embeddings_train.<ext>`` and ``embeddings_test.<ext>`` (``ext`` one of ``npz``, ``npy``,
      ``pt``, ``h5``, ``hdf5``; read by :func:`load_embeddings`): (image, feature) image
      embeddings, row ``i`` for image ``i`` of the EEG files (16540 training and 200 test images
      in the official release), e.g. CLIP features. BrainFLORA's ``ViT-H-14_features_train.pt``
      / ``..._test.pt`` (key ``img_features``) can be linked under these names.
    - MEG: ``preprocessed_P1-epo.fif`` ... ``preprocessed_P4-epo.fif`` (THINGS-MEG, OpenNeuro
      ds004212 derivatives; read by :func:`load_things_meg`, MEG channels; images shown once
      train, images shown repeatedly test), with ``embeddings_meg.<ext>``: row ``i`` for row
      ``i`` of THINGS' ``image_paths.csv`` (event value ``i + 1``). Repetitions missing for some
      subject are dropped.

    THINGS-fMRI tables are not read (a warning says so when they are present).

    Parameters
    ----------
    path : str | path-like
        The folder.
    max_subjects : int | None
        Use only the first ``max_subjects`` subjects found of each modality (None: all).

    Returns
    -------
    data : dict
        Per modality found (``"eeg"``, ``"meg"``), ``{"train": Dataset, "test": Dataset}``, the
        readers' data sets with ``embedding`` (image, feature) added (the input of
        :func:`neurosim.decoding.prepare_retrieval_data`).
    description : str
        What was read, for a report.

    Examples
    --------
    >>> from neurosim.datasets import find_things
    >>> data, text = find_things("~/neurosim_data/things")  # doctest: +SKIP
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"data must be a folder holding THINGS-EEG2 and/or THINGS-MEG files, got {str(path)!r}"
        )
    files = tuple(_EEG2_FILES.values())
    eeg_subjects = sorted(int(d.name[4:]) for d in root.glob("sub-[0-9][0-9]")
                          if d.is_dir() and all((d / f).is_file() for f in files))
    meg_subjects = [s for s in range(1, N_MEG_SUBJECTS + 1) if (root / _meg_file(s)).is_file()]
    if not eeg_subjects and not meg_subjects:
        raise FileNotFoundError(
            f"no THINGS-EEG2 or THINGS-MEG data in {root}: expected sub-XX/{files[0]} and "
            f"sub-XX/{files[1]} (XX in 01-10, from https://osf.io/anp5v/) and/or "
            f"{_meg_file('N')} (N in 1-{N_MEG_SUBJECTS}, OpenNeuro ds004212)"
        )
    fmri = sorted(p.name for p in root.glob(_fmri_file(0, "ResponseData.h5").replace("00", "0*")))
    if fmri:
        warnings.warn(f"find_things does not read THINGS-fMRI; ignoring {fmri}", UserWarning,
                      stacklevel=2)
    data, texts = {}, []
    if eeg_subjects:
        data["eeg"], text = _find_eeg2(root, eeg_subjects[:max_subjects])
        texts.append(text)
    if meg_subjects:
        data["meg"], text = _find_meg(root, meg_subjects[:max_subjects])
        texts.append(text)
    return data, f"{' and '.join(texts)} from {root}"
