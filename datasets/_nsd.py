"""Natural Scenes Dataset (Allen et al. 2022): readers for the raw release and two derived formats."""

from pathlib import Path

import numpy as np

from ._fetch import RemoteFile, fetch_files

__all__ = [
    "find_nsd",
    "find_nsd_braincorl",
    "load_nsd",
    "fetch_nsd",
    "load_nsd_expdesign",
    "load_nsd_images",
    "load_nsd_mindeye2",
    "load_nsd_braincorl",
]

NSD_URL = "https://natural-scenes-dataset.s3.amazonaws.com/"
TRIALS_PER_SESSION = 750
N_IMAGES = 73000
BETA_SCALE = 300.0  # betas are stored as int16 percent signal change x 300
N_SESSIONS = {1: 40, 2: 40, 3: 32, 4: 30, 5: 40, 6: 32, 7: 40, 8: 30}
EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
STIMULI = "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
_TERMS = (
    "NSD is free to use after agreeing to its Terms and Conditions "
    "(https://naturalscenesdataset.org): fill in the data access form before downloading. The files "
    f"are on the public bucket {NSD_URL} (e.g. `aws s3 sync --no-sign-request "
    "s3://natural-scenes-dataset/<path> <data_home>/nsd/<path>`)."
)


def _roi_path(subject):
    return f"nsddata/ppdata/subj{subject:02d}/func1pt8mm/roi/nsdgeneral.nii.gz"


def _betas_path(subject, session, betas, fmt):
    ext = "hdf5" if fmt == "hdf5" else "nii.gz"
    return f"nsddata_betas/ppdata/subj{subject:02d}/func1pt8mm/{betas}/betas_session{session:02d}.{ext}"


#: the beta version read by :func:`load_nsd` and :func:`find_nsd` by default
DEFAULT_BETAS = "betas_fithrf_GLMdenoise_RR"
#: stimulus-embedding files :func:`find_nsd` looks for next to the release (rows in nsdId order)
EMBEDDING_FILES = ("nsd_embeddings.npz", "nsd_embeddings.npy", "nsd_embeddings.h5",
                   "nsd_embeddings.hdf5", "nsd_embeddings.pt")


def _braincorl_names(n, split):
    """BraInCoRL's file names of subject ``n``: (embeddings, responses) of ``split``."""
    return {
        "train": (f"s{n}_unique_img_feats_normed.npy", f"s{n}_unique_nrn_feats_msk.npy"),
        "val": (f"s{n}_unique_img_feats_normed_val.npy", f"s{n}_unique_nrn_feats_msk_val.npy"),
        "test": ("common_img_feats_normed.npy", f"s{n}_common_nrn_feats_msk.npy"),
    }.get(split)


def _check_subject(subject):
    if subject not in N_SESSIONS:
        raise ValueError(f"subject must be an int from 1 to 8, got {subject!r}")
    return int(subject)


def load_nsd_expdesign(path):
    """Read ``nsd_expdesign.mat`` and return its indices converted to 0-based.

    Parameters
    ----------
    path : str | path-like
        The file, or the NSD root folder (``nsddata/experiments/nsd/nsd_expdesign.mat`` below it).
        MATLAB v5 (as distributed) and v7.3 (HDF5) files are read.

    Returns
    -------
    design : dict
        ``masterordering`` (30000,): for each trial, the 0-based index into the subject's 10,000
        images; ``subjectim`` (8, 10000): 0-based 73k ``nsdId`` of each subject's images (the first
        1,000 columns are the shared images); ``sharedix`` (1000,): 0-based ``nsdId`` of the shared
        images.

    Examples
    --------
    >>> from neurosim.datasets import load_nsd_expdesign
    >>> design = load_nsd_expdesign("~/neurosim_data/nsd")  # doctest: +SKIP
    >>> nsd_id = design["subjectim"][0, design["masterordering"][0]]  # doctest: +SKIP
    """
    import scipy.io

    path = Path(path).expanduser()
    if path.is_dir():
        path = path / EXPDESIGN
    if not path.is_file():
        raise FileNotFoundError(f"nsd_expdesign.mat not found at {path}. {_TERMS}")
    import h5py

    if h5py.is_hdf5(path):  # MATLAB v7.3: HDF5, arrays seen transposed (column-major)
        with h5py.File(path, "r") as f:
            mat = {k: np.asarray(f[k]).T for k in ("masterordering", "subjectim", "sharedix") if k in f}
    else:
        mat = scipy.io.loadmat(path)
    out = {}
    for key in ("masterordering", "subjectim", "sharedix"):
        if key not in mat:
            raise ValueError(f"{path} has no variable {key!r}")
        values = np.asarray(mat[key]).astype(np.int64)
        if values.min() < 1:
            raise ValueError(f"{path}: {key} must hold 1-based indices, found {values.min()}")
        out[key] = values - 1
    out["masterordering"] = out["masterordering"].ravel()
    out["sharedix"] = out["sharedix"].ravel()
    return out


def _read_mask(root, subject, roi):
    import nibabel as nib

    path = root / _roi_path(subject).replace("nsdgeneral", roi)
    if not path.is_file():
        raise FileNotFoundError(f"ROI file not found: {path}. {_TERMS}")
    img = nib.load(path)
    mask = np.asarray(img.dataobj) >= 1  # MindEye2's convention: values >= 1 are in the ROI
    return mask, img.affine


def _out_dtype(dtype):
    """int16 for the integer release (x 300), float32 for float betas (kept as they are)."""
    return np.int16 if np.issubdtype(dtype, np.integer) else np.float32


def _read_session(path, mask):
    """Betas of the masked voxels, (n_trials, n_voxels), from a NIfTI or HDF5 session file.

    int16 (the release: percent signal change x 300) when the file holds integers, float32 when
    it holds floats (NaN kept).
    """
    ijk = np.argwhere(mask)
    if path.name.endswith(".nii.gz") or path.suffix == ".nii":
        import nibabel as nib

        img = nib.load(path)
        if img.shape[:3] != mask.shape:
            raise ValueError(f"{path.name}: grid {img.shape[:3]} differs from the ROI's {mask.shape}")
        n_t = img.shape[3]
        out = None
        # NIfTI stores volume after volume: blocks of whole volumes are contiguous, so the gzip
        # stream is read once, front to back, with a few volumes in memory at a time
        idx = tuple(ijk.T)
        for t0 in range(0, n_t, 25):
            block = np.asarray(img.dataobj[..., t0 : t0 + 25])  # scaled to float if scl_slope set
            if out is None:
                out = np.empty((n_t, len(ijk)), dtype=_out_dtype(block.dtype))
            out[t0 : t0 + block.shape[3]] = block[idx].T
        return out
    import h5py

    with h5py.File(path, "r") as f:
        if "betas" not in f:
            raise ValueError(f"{path.name} has no dataset 'betas'; it has {sorted(f.keys())}")
        d = f["betas"]
        if d.ndim == 4 and d.shape[1:] == mask.shape[::-1]:  # MATLAB X x Y x Z x 750 seen reversed
            out = np.empty((d.shape[0], len(ijk)), dtype=_out_dtype(d.dtype))
            for k in np.unique(ijk[:, 2]):
                sel = ijk[:, 2] == k
                slab = d[:, int(k), :, :]  # (trial, Y, X)
                out[:, sel] = slab[:, ijk[sel, 1], ijk[sel, 0]]
            return out
        if d.ndim == 4 and d.shape[:3] == mask.shape:  # (X, Y, Z, trial)
            out = np.empty((d.shape[3], len(ijk)), dtype=_out_dtype(d.dtype))
            for k in np.unique(ijk[:, 2]):
                sel = ijk[:, 2] == k
                slab = d[:, :, int(k), :]
                out[:, sel] = slab[ijk[sel, 0], ijk[sel, 1]].T
            return out
        raise ValueError(
            f"{path.name}: betas of shape {d.shape} match neither (trials, Z, Y, X) nor "
            "(X, Y, Z, trials) "
            f"for the ROI grid {mask.shape}"
        )


def load_nsd(
    root,
    subject=1,
    sessions=None,
    *,
    fmt="auto",
    betas=DEFAULT_BETAS,
    roi="nsdgeneral",
    average_repeats=False,
    embeddings=None,
    zscore_sessions=False,
):
    """Load NSD single-trial betas of one subject within an ROI, with the experimental design.

    Reads the release's own layout under ``root``: ``nsddata/experiments/nsd/nsd_expdesign.mat``,
    ``nsddata/ppdata/subjXX/func1pt8mm/roi/<roi>.nii.gz`` and
    ``nsddata_betas/ppdata/subjXX/func1pt8mm/<betas>/betas_sessionNN.{hdf5,nii.gz}``. The release
    stores betas as int16 percent signal change x 300; they are returned as float32 percent
    signal change. Files holding floating-point betas (other releases and derivatives) are
    returned as they are, not rescaled, and their NaN values are kept (counted in
    ``attrs["n_nan"]`` and the voxel coordinate ``n_nan``, with a warning). An ROI that selects no
    voxel gives a warning and betas with 0 columns.

    Parameters
    ----------
    root : str | path-like
        NSD root folder (as made by :func:`fetch_nsd`, or an ``aws s3 sync`` of the bucket).
    subject : int
        Subject 1-8.
    sessions : sequence of int | None
        1-based session numbers; None loads every session file present.
    fmt : {"auto", "hdf5", "nifti"}
        Which beta files to read; ``"auto"`` prefers HDF5 when present.
    betas : str
        Beta version folder (``betas_fithrf_GLMdenoise_RR``, ``betas_fithrf`` or ``betas_assumehrf``).
    roi : str
        ROI file name in ``roi/`` (voxels with value >= 1 are kept).
    average_repeats : bool
        Average the repetitions of each image: one row per image (sorted by ``nsdId``), with
        coordinate ``n_averaged``.
    embeddings : array-like | xarray.DataArray | None
        Stimulus embeddings of all 73,000 images, (73000, n_features) in ``nsdId`` order (e.g. from
        :func:`load_embeddings`), added as ``embedding`` (stimulus, feature) float32 - the decoders'
        targets, as in :func:`make_fmri_visual`.
    zscore_sessions : bool
        Z-score every voxel within each session (mean 0, standard deviation 1 over the session's
        750 trials, population standard deviation as scikit-learn's StandardScaler), before any
        averaging: the session-wise normalisation of the MindEye1/MindBridge data
        (``webdataset_avg_split``), which removes session-to-session drifts. NaN values are
        ignored in the statistics.

    Returns
    -------
    data : xarray.Dataset
        ``betas`` (trial, voxel) float32 in percent signal change (or z-scores with
        ``zscore_sessions``); trial coordinates ``stimulus``
        (0-based 73k ``nsdId``), ``subject_image`` (0-based index into the subject's 10,000),
        ``session`` (1-based), ``trial_in_session`` and ``repeat`` (0-based presentation count of
        the image over the whole experiment); on the ``stimulus`` dimension (all 73,000 images,
        position = ``nsdId``) ``shared`` (the shared 1,000 images, the test set by convention) and
        ``stimulus_id``, plus ``embedding`` when given - the structure of :func:`make_fmri_visual`;
        voxel coordinates ``i``, ``j``, ``k`` (grid indices) and ``x``, ``y``, ``z`` (mm, the ROI
        file's affine, subject-native space); attrs ``subject``, ``affine``.

    Examples
    --------
    >>> from neurosim.datasets import load_nsd
    >>> ds = load_nsd("~/neurosim_data/nsd", subject=1, sessions=[1])  # doctest: +SKIP
    >>> is_test = ds.shared.values[ds.stimulus.values]  # doctest: +SKIP
    >>> train = ds.isel(trial=~is_test)  # doctest: +SKIP
    """
    import xarray as xr

    subject = _check_subject(subject)
    if fmt not in ("auto", "hdf5", "nifti"):
        raise ValueError(f"fmt must be 'auto', 'hdf5' or 'nifti', got {fmt!r}")
    root = Path(root).expanduser()
    design = load_nsd_expdesign(root)
    mask, affine = _read_mask(root, subject, roi)
    if not mask.any():
        import warnings

        warnings.warn(f"the ROI {roi!r} of subj{subject:02d} selects no voxel (no value >= 1 in "
                      f"{_roi_path(subject).replace('nsdgeneral', roi)}): the betas have 0 "
                      "columns", UserWarning, stacklevel=2)

    def session_file(n):
        fmts = ["hdf5", "nifti"] if fmt == "auto" else [fmt]
        for f in fmts:
            p = root / _betas_path(subject, n, betas, f)
            if p.is_file():
                return p
        return None

    if sessions is None:
        sessions = [n for n in range(1, N_SESSIONS[subject] + 1) if session_file(n) is not None]
        if not sessions:
            raise FileNotFoundError(
                f"no beta files under {(root / _betas_path(subject, 1, betas, 'hdf5')).parent}. "
                + _TERMS
            )
    sessions = [int(s) for s in sessions]
    for n in sessions:
        if not 1 <= n <= N_SESSIONS[subject]:
            raise ValueError(f"subject {subject} has sessions 1..{N_SESSIONS[subject]}, got {n}")
    missing = [
        str(root / _betas_path(subject, n, betas, "hdf5" if fmt != "nifti" else "nifti"))
        for n in sessions
        if session_file(n) is None
    ]
    if missing:
        raise FileNotFoundError("missing NSD beta files:\n  " + "\n  ".join(missing) + f"\n{_TERMS}")

    blocks, trial_idx = [], []
    for n in sessions:
        b = _read_session(session_file(n), mask)
        if b.shape[0] != TRIALS_PER_SESSION:
            raise ValueError(f"session {n}: expected {TRIALS_PER_SESSION} trials, got {b.shape[0]}")
        blocks.append(b)
        trial_idx.append((n - 1) * TRIALS_PER_SESSION + np.arange(TRIALS_PER_SESSION))
    trial_idx = np.concatenate(trial_idx)
    order = design["masterordering"]
    if trial_idx.max() >= len(order):
        raise ValueError(
            f"masterordering has {len(order)} trials, session files need {trial_idx.max() + 1}"
        )
    subj_img = order[trial_idx]
    nsd_id = design["subjectim"][subject - 1, subj_img]
    # presentation count of each image over the whole experiment, up to each trial
    repeat_all = np.zeros(len(order), dtype=np.int64)
    seen = {}
    for t, im in enumerate(order):
        repeat_all[t] = seen.get(im, 0)
        seen[im] = repeat_all[t] + 1
    # only the integer release is scaled (x 300); float betas are kept as they are, NaN included
    betas_f = np.concatenate([b.astype(np.float32) / BETA_SCALE if b.dtype == np.int16
                              else b.astype(np.float32) for b in blocks])
    nan_per_voxel = np.isnan(betas_f).sum(axis=0)
    n_nan = int(nan_per_voxel.sum())
    if n_nan:
        import warnings

        warnings.warn(f"subj{subject:02d}: {n_nan} NaN betas in {int((nan_per_voxel > 0).sum())} of "
                      f"{betas_f.shape[1]} voxels; kept as NaN (see the 'n_nan' voxel coordinate)",
                      UserWarning, stacklevel=2)
    sessions_of_trials = trial_idx // TRIALS_PER_SESSION + 1
    units = "percent signal change"
    if zscore_sessions:
        from neurosim.datasets._signal import clean_runs

        betas_f = clean_runs(betas_f, sessions_of_trials, detrend=False, ddof=0)
        units = "z-score within session"
    shared = np.zeros(N_IMAGES, dtype=bool)
    shared[design["sharedix"]] = True
    ijk = np.argwhere(mask)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    ds = xr.Dataset(
        {"betas": (("trial", "voxel"), betas_f, {"units": "%" if not zscore_sessions else "1"})},
        coords={
            "stimulus": ("trial", nsd_id),
            "subject_image": ("trial", subj_img),
            "session": ("trial", sessions_of_trials),
            "trial_in_session": ("trial", trial_idx % TRIALS_PER_SESSION),
            "repeat": ("trial", repeat_all[trial_idx]),
            "shared": ("stimulus", shared),
            "stimulus_id": ("stimulus", np.arange(N_IMAGES)),
            "i": ("voxel", ijk[:, 0]),
            "j": ("voxel", ijk[:, 1]),
            "k": ("voxel", ijk[:, 2]),
            "x": ("voxel", xyz[:, 0], {"units": "mm"}),
            "y": ("voxel", xyz[:, 1], {"units": "mm"}),
            "z": ("voxel", xyz[:, 2], {"units": "mm"}),
            "n_nan": ("voxel", nan_per_voxel.astype(np.int64)),
        },
        attrs={
            "subject": f"subj{subject:02d}",
            "betas": betas,
            "roi": roi,
            "affine": affine.ravel(),
            "grid_shape": np.array(mask.shape),
            "units": units,
            "n_nan": n_nan,
            "zscore_sessions": int(bool(zscore_sessions)),
            "citation": "Allen et al. (2022), Nat. Neurosci. 25:116-126",
        },
    )
    if average_repeats:
        ids, inverse, counts = np.unique(nsd_id, return_inverse=True, return_counts=True)
        sums = np.zeros((len(ids), betas_f.shape[1]), dtype=np.float64)
        np.add.at(sums, inverse, betas_f)
        first = np.unique(nsd_id, return_index=True)[1]
        ds = xr.Dataset(
            {"betas": (("trial", "voxel"), (sums / counts[:, None]).astype(np.float32),
                       ds["betas"].attrs)},
            coords={
                "stimulus": ("trial", ids),
                "subject_image": ("trial", subj_img[first]),
                "n_averaged": ("trial", counts),
                **{c: ds[c] for c in ("shared", "stimulus_id", "i", "j", "k", "x", "y", "z",
                                      "n_nan")},
            },
            attrs=ds.attrs,
        )
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != N_IMAGES:
            raise ValueError(
                f"embeddings must be ({N_IMAGES}, n_features) in nsdId order, got {emb.shape}"
            )
        ds["embedding"] = (("stimulus", "feature"), emb)
    return ds


def load_nsd_images(root, nsd_ids):
    """Read NSD stimulus images from ``nsd_stimuli.hdf5`` (dataset ``imgBrick``, 73000 x 425 x 425 x 3).

    Parameters
    ----------
    root : str | path-like
        The HDF5 file or the NSD root folder.
    nsd_ids : array-like of int
        0-based ``nsdId`` values (any order, repeats allowed).

    Returns
    -------
    images : numpy.ndarray
        (n, 425, 425, 3) uint8, in the order of ``nsd_ids``.

    Examples
    --------
    >>> from neurosim.datasets import load_nsd_images
    >>> imgs = load_nsd_images("~/neurosim_data/nsd", [0, 10])  # doctest: +SKIP
    """
    import h5py

    path = Path(root).expanduser()
    if path.is_dir():
        path = path / STIMULI
    if not path.is_file():
        raise FileNotFoundError(f"nsd_stimuli.hdf5 not found at {path}. {_TERMS}")
    ids = np.asarray(nsd_ids, dtype=np.int64).ravel()
    with h5py.File(path, "r") as f:
        brick = f["imgBrick"]
        if ids.size and (ids.min() < 0 or ids.max() >= brick.shape[0]):
            raise ValueError(f"nsd_ids must lie in 0..{brick.shape[0] - 1}")
        uniq, inverse = np.unique(ids, return_inverse=True)
        return brick[uniq][inverse] if uniq.size else np.empty((0, *brick.shape[1:]), brick.dtype)


def fetch_nsd(
    data_home=None,
    subjects=(1,),
    sessions=(1,),
    *,
    download=True,
    fmt="hdf5",
    betas="betas_fithrf_GLMdenoise_RR",
    stimuli=False,
    progress=False,
):
    """Download NSD files (design, ROI, beta sessions, optionally the stimuli) into the data home.

    Files keep the bucket's layout under ``<data_home>/nsd``, so :func:`load_nsd` reads them (and
    an existing ``aws s3 sync`` copy placed there is used as is). NSD publishes no checksums for
    these files, so they are downloaded without verification (a warning says so); each is written
    atomically, so an interrupted transfer never leaves a partial file in the data home.

    Parameters
    ----------
    data_home : str | path-like | None
        Data folder; None uses ``$NEUROSIM_DATA`` or ``~/neurosim_data``.
    subjects : sequence of int
        Subjects 1-8.
    sessions : sequence of int
        1-based sessions per subject (a func1pt8mm HDF5 session is about 0.9 GB).
    download : bool
        If False, raise :class:`FileNotFoundError` listing missing files instead of downloading.
    fmt : {"hdf5", "nifti"}
        Beta file format.
    betas : str
        Beta version folder.
    stimuli : bool
        Also download ``nsd_stimuli.hdf5`` (all 73,000 images, about 37 GB).
    progress : bool
        Show download progress.

    Returns
    -------
    root : pathlib.Path
        The NSD root folder, to pass to :func:`load_nsd`.

    Examples
    --------
    >>> from neurosim.datasets import fetch_nsd, load_nsd
    >>> root = fetch_nsd(subjects=[1], sessions=[1, 2])  # doctest: +SKIP
    >>> ds = load_nsd(root, subject=1, sessions=[1, 2])  # doctest: +SKIP
    """
    if fmt not in ("hdf5", "nifti"):
        raise ValueError(f"fmt must be 'hdf5' or 'nifti', got {fmt!r}")
    names = [EXPDESIGN]
    for s in subjects:
        s = _check_subject(s)
        names.append(_roi_path(s))
        for n in sessions:
            if not 1 <= int(n) <= N_SESSIONS[s]:
                raise ValueError(f"subject {s} has sessions 1..{N_SESSIONS[s]}, got {n}")
            names.append(_betas_path(s, int(n), betas, fmt))
    if stimuli:
        names.append(STIMULI)
    files = [RemoteFile(n, NSD_URL + n, None) for n in names]
    paths = fetch_files(
        files,
        folder="nsd",
        dataset="NSD",
        download=download,
        data_home=data_home,
        instructions=_TERMS,
        progress=progress,
    )
    return paths[0].parents[len(Path(EXPDESIGN).parts) - 1]


def load_nsd_mindeye2(path, *, trials=None, key="betas"):
    """Read MindEye2's ``betas_all_subjXX_fp32_renorm.hdf5`` (trials x nsdgeneral voxels).

    Parameters
    ----------
    path : str | path-like
        The HDF5 file.
    trials : array-like of int | slice | None
        Rows to read (MindEye2's ``global_trial`` indices); None reads all (about 2 GB for a full
        subject: prefer ``as_torch_dataset(path, x="betas")`` to stream it).
    key : str
        Dataset name.

    Returns
    -------
    data : xarray.Dataset
        ``betas`` (trial, voxel) float32 with coordinate ``global_trial``.

    Examples
    --------
    >>> from neurosim.datasets import load_nsd_mindeye2
    >>> path = "betas_all_subj01_fp32_renorm.hdf5"
    >>> ds = load_nsd_mindeye2(path, trials=slice(0, 750))  # doctest: +SKIP
    """
    import h5py
    import xarray as xr

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"MindEye2 betas file not found: {path}")
    with h5py.File(path, "r") as f:
        if key not in f:
            raise ValueError(f"{path.name} has no dataset {key!r}; it has {sorted(f.keys())}")
        d = f[key]
        if d.ndim != 2:
            raise ValueError(f"{path.name}[{key!r}] must be (trials, voxels), got shape {d.shape}")
        if trials is None or isinstance(trials, slice):
            sl = slice(None) if trials is None else trials
            rows = np.arange(d.shape[0])[sl]
            values = d[sl] if sl.step in (None, 1) else d[()][sl]  # contiguous: one hyperslab read
        else:
            rows = np.asarray(trials, dtype=np.int64).ravel()
            if rows.size and (rows.min() < 0 or rows.max() >= d.shape[0]):
                raise ValueError(f"trials must lie in 0..{d.shape[0] - 1}")
            uniq, inverse = np.unique(rows, return_inverse=True)
            values = d[uniq][inverse]
        values = np.asarray(values, dtype=np.float32)
    return xr.Dataset(
        {"betas": (("trial", "voxel"), values)},
        coords={"global_trial": ("trial", rows)},
        attrs={"source": str(path), "format": "MindEye2 betas_all"},
    )


def load_nsd_braincorl(folder, subject, split="train"):
    """Read BraInCoRL's per-subject NSD arrays (``s{N}_*.npy``), memory-mapped.

    Parameters
    ----------
    folder : str | path-like
        Folder with ``s{N}_unique_img_feats_normed.npy`` (images x E, unit rows),
        ``s{N}_unique_nrn_feats_msk.npy`` (images x voxels), ``s{N}_gt.npy`` (voxels x E+1), their
        ``_val`` versions, and ``common_img_feats_normed.npy`` / ``s{N}_common_nrn_feats_msk.npy``
        (the shared test images).
    subject : int
        Subject number N.
    split : {"train", "val", "test"}
        ``"test"`` reads the ``common`` (shared-image) files.

    Returns
    -------
    data : xarray.Dataset
        ``betas`` (image, voxel), ``embedding`` (image, feature) and, when present, ``gt``
        (voxel, weight) - the reference voxelwise weights with the bias last.

    Examples
    --------
    >>> from neurosim.datasets import load_nsd_braincorl
    >>> ds = load_nsd_braincorl("braincorl_data", subject=1, split="test")  # doctest: +SKIP
    """
    import xarray as xr

    folder = Path(folder).expanduser()
    n = int(subject)
    names = _braincorl_names(n, split)
    if names is None:
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    missing = [str(folder / m) for m in names if not (folder / m).is_file()]
    if missing:
        raise FileNotFoundError("missing BraInCoRL files:\n  " + "\n  ".join(missing))
    emb = np.load(folder / names[0], mmap_mode="r")
    betas = np.load(folder / names[1], mmap_mode="r")
    if emb.ndim != 2 or betas.ndim != 2 or len(emb) != len(betas):
        raise ValueError(f"expected (images, E) and (images, voxels), got {emb.shape} and {betas.shape}")
    out = xr.Dataset(
        {"betas": (("image", "voxel"), betas), "embedding": (("image", "feature"), emb)},
        attrs={"subject": n, "split": split, "format": "BraInCoRL"},
    )
    gt_name = f"s{n}_gt.npy" if split != "val" else f"s{n}_gt_val.npy"
    if (folder / gt_name).is_file():
        gt = np.load(folder / gt_name, mmap_mode="r")
        if gt.shape != (betas.shape[1], emb.shape[1] + 1):
            raise ValueError(
                f"{gt_name}: expected (voxels, E + 1) = {(betas.shape[1], emb.shape[1] + 1)}, "
                f"got {gt.shape}"
            )
        out["gt"] = (("voxel", "weight"), gt)
    return out


def find_nsd(folder=None, *, max_sessions=None, on_missing="none", zscore_sessions=False):
    """NSD on disk, with stimulus embeddings, in the structure of ``make_fmri_visual``.

    Looks in ``folder`` (default ``<data home>/nsd``, see :func:`get_data_home`) for the NSD
    release layout read by :func:`load_nsd` (``nsd_expdesign.mat``, each subject's ``nsdgeneral``
    ROI and beta sessions) - or, when it holds ``webdataset_avg_split/`` and no release, for the
    MindEye1/MindBridge webdataset (:func:`load_mindeye_webdataset`, train and test splits,
    already z-scored per session) - and for the embeddings of the 73,000 images in
    ``nsd_embeddings.{npz,npy,h5,hdf5,pt}`` (any format of :func:`load_embeddings`, rows in
    ``nsdId`` order; compute them with the image model whose space you decode into, e.g. CLIP).

    Parameters
    ----------
    folder : str | path-like | None
        The NSD root folder.
    max_sessions : int | None
        Read at most this many sessions per subject (the first ones on disk).
    on_missing : {"none", "raise"}
        What to do when the design file, the embeddings or two subjects with beta files are not
        there: return None, or raise :class:`FileNotFoundError` saying what is missing.
    zscore_sessions : bool
        Z-score the betas within each session (:func:`load_nsd`), as the MindBridge data are.

    Returns
    -------
    data : dict of str to xarray.Dataset | None
        ``"subjNN"`` -> single-trial betas with ``embedding`` (:func:`load_nsd`).

    Examples
    --------
    >>> from neurosim.datasets import find_nsd
    >>> data = find_nsd("~/neurosim_data/nsd", max_sessions=4)  # doctest: +SKIP
    """
    from ._base import get_data_home
    from ._embeddings import load_embeddings

    if on_missing not in ("none", "raise"):
        raise ValueError(f"on_missing must be 'none' or 'raise', got {on_missing!r}")
    root = Path(folder).expanduser() if folder is not None else get_data_home() / "nsd"
    missing = []
    wds = root / "webdataset_avg_split"
    if wds.is_dir() and not (root / EXPDESIGN).is_file():  # the MindEye1/MindBridge layout
        from ._mindeye import load_mindeye_webdataset, mindeye_webdataset_subjects

        emb_path = next((root / f for f in EMBEDDING_FILES if (root / f).is_file()), None)
        found = [n for n, sp in mindeye_webdataset_subjects(wds).items()
                 if "train" in sp and "test" in sp]
        if emb_path is not None and len(found) >= 2:
            embeddings = load_embeddings(emb_path)
            return {f"subj{n:02d}": load_mindeye_webdataset(wds, n, splits=("train", "test"),
                                                            embeddings=embeddings)
                    for n in found}
        if on_missing == "raise":
            raise FileNotFoundError(
                f"incomplete MindEye webdataset under {root}: need nsd_embeddings.<npz|npy|h5|hdf5|"
                f"pt> next to webdataset_avg_split/ (found: {emb_path}) and train and test shards "
                f"of at least two subjects (found subjects {found})")
        return None
    if not (root / EXPDESIGN).is_file():
        missing.append(EXPDESIGN)
    emb_path = next((root / f for f in EMBEDDING_FILES if (root / f).is_file()), None)
    if emb_path is None:
        missing.append("nsd_embeddings.<npz|npy|h5|hdf5|pt> (one row per nsdId, "
                       "see neurosim.datasets.save_embeddings)")
    sessions = {}
    for n in range(1, 9):
        beta_dir = (root / _betas_path(n, 1, DEFAULT_BETAS, "hdf5")).parent
        found = sorted({int(p.name[len("betas_session"):len("betas_session") + 2])
                        for p in beta_dir.glob("betas_session[0-9][0-9].*")})
        if (root / _roi_path(n)).is_file() and found:
            sessions[n] = found[:max_sessions] if max_sessions else found
    if len(sessions) < 2:
        missing.append(f"at least two subjects with {_roi_path(1).replace('01', 'XX')} and "
                       f"{_betas_path(1, 1, DEFAULT_BETAS, 'hdf5').replace('01', 'XX')} "
                       f"(found {len(sessions)})")
    if missing:
        if on_missing == "raise":
            raise FileNotFoundError(f"no complete NSD under {root}: missing "
                                    + "; ".join(missing) + ". " + _TERMS)
        return None
    embeddings = load_embeddings(emb_path)
    return {f"subj{n:02d}": load_nsd(root, n, sessions=s, embeddings=embeddings,
                                     zscore_sessions=zscore_sessions)
            for n, s in sessions.items()}


def find_nsd_braincorl(folder=None, *, on_missing="none"):
    """BraInCoRL-format NSD arrays on disk: meta-training subjects and a held-out one.

    Looks in ``folder`` (default ``<data home>/nsd_braincorl``, see :func:`get_data_home`) for
    the files read by :func:`load_nsd_braincorl` (``s{N}_unique_img_feats_normed.npy``, ...).
    With at least two subjects, the last one (by number) is held out: its "unique" images are the
    context pool and the shared ("common") images the test set; ``s{N}_gt.npy`` gives the
    reference weights when present.

    Parameters
    ----------
    folder : str | path-like | None
        The folder.
    on_missing : {"none", "raise"}
        With fewer than two subjects: return None, or raise :class:`FileNotFoundError`.

    Returns
    -------
    found : tuple | None
        ``(train, heldout, folder)``: ``train`` maps ``"subjN"`` to ``(embeddings, betas)``,
        ``heldout`` is a dict of arrays ``context_embeddings``, ``context_responses``,
        ``test_embeddings``, ``test_responses`` (and ``weights``, ``bias`` when present, and
        ``context_order`` from ``test_time_icl_idx.json["large_shuffled"]``, the official test's
        order of context images) with its ``subject`` id (the input of
        :func:`neurosim.decoding.scaling_curve`).

    Examples
    --------
    >>> from neurosim.datasets import find_nsd_braincorl
    >>> train, heldout, folder = find_nsd_braincorl("braincorl_data")  # doctest: +SKIP
    """
    import re

    from ._base import get_data_home

    if on_missing not in ("none", "raise"):
        raise ValueError(f"on_missing must be 'none' or 'raise', got {on_missing!r}")
    folder = (Path(folder).expanduser() if folder is not None
              else get_data_home() / "nsd_braincorl")
    pattern = _braincorl_names("*", "train")[0]
    regex = re.escape(_braincorl_names("N", "train")[0]).replace("N", r"(\d+)")
    numbers = sorted(int(m.group(1)) for p in folder.glob(pattern)
                     if (m := re.fullmatch(regex, p.name))) if folder.is_dir() else []
    if len(numbers) < 2:
        if on_missing == "raise":
            raise FileNotFoundError(
                f"BraInCoRL-format NSD files of at least two subjects are needed in {folder} "
                f"({_braincorl_names('N', 'train')[0]} and the other files of "
                f"load_nsd_braincorl); found {len(numbers)}")
        return None
    train = {}
    for n in numbers[:-1]:
        ds = load_nsd_braincorl(folder, n, split="train")
        train[f"subj{n:02d}"] = (np.asarray(ds["embedding"].values, dtype=np.float32),
                                 np.asarray(ds["betas"].values, dtype=np.float32))
    n = numbers[-1]
    ctx = load_nsd_braincorl(folder, n, split="train")
    test = load_nsd_braincorl(folder, n, split="test")
    heldout = {"subject": f"subj{n:02d}",
               "context_embeddings": np.asarray(ctx["embedding"].values, dtype=np.float32),
               "context_responses": np.asarray(ctx["betas"].values, dtype=np.float32),
               "test_embeddings": np.asarray(test["embedding"].values, dtype=np.float32),
               "test_responses": np.asarray(test["betas"].values, dtype=np.float32)}
    if "gt" in ctx:
        gt = np.asarray(ctx["gt"].values, dtype=np.float64)
        heldout["weights"], heldout["bias"] = gt[:, :-1], gt[:, -1]
    order_file = folder / "test_time_icl_idx.json"
    if order_file.is_file():  # the official test's context order ("large_shuffled")
        import json

        order = json.loads(order_file.read_text()).get("large_shuffled")
        if order is not None:
            order = np.asarray(order, dtype=np.int64).ravel()
            if order.size and (order.min() < 0 or order.max() >= len(heldout["context_responses"])):
                raise ValueError(f"{order_file.name}: 'large_shuffled' must index the "
                                 f"{len(heldout['context_responses'])} context images of "
                                 f"subj{n:02d}")
            heldout["context_order"] = order
    return train, heldout, folder
