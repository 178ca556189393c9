"""Haxby et al. (2001): block-design fMRI of 8 object categories in ventral temporal cortex.

One reader for the layouts in which the data set is distributed:

- **nilearn / PyMVPA tarballs** (``nilearn.datasets.fetch_haxby``, ``data.pymvpa.org``): one folder
  per subject, ``subjN/bold.nii.gz`` (all 12 runs concatenated), ``labels.txt`` (a header
  ``labels chunks``, then one ``label run`` line per volume) and masks ``mask4_vt.nii.gz``,
  ``mask8b_face_vt.nii.gz``, ...;
- **PyMVPA's test copy**: ``bold.nii.gz``, ``mask.nii.gz`` and ``attributes_literal.txt`` (or
  ``attributes.txt``) without a header, in one folder;
- **OpenfMRI** (``ds000105``): ``sub00N/BOLD/task001_runNNN/bold[_<resolution>].nii.gz`` per run,
  the conditions in ``models/model001/condition_key.txt``, their onsets in
  ``sub00N/model/model001/onsets/task001_runNNN/condNNN.txt`` (FSL 3-column files, seconds), the
  repetition time in ``scan_key.txt`` and masks in ``sub00N/masks/<resolution>/``. A volume
  acquired at ``t = index x TR`` gets the condition whose block ``[onset, onset + duration)``
  holds ``t``, else ``rest``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["load_haxby"]

NILEARN_MASKS = {"vt": "mask4_vt.nii.gz", "face": "mask8b_face_vt.nii.gz",
                 "house": "mask8b_house_vt.nii.gz", "face_little": "mask8_face_vt.nii.gz",
                 "house_little": "mask8_house_vt.nii.gz"}
TR = 2.5
CITATION = ("Haxby et al. (2001), Distributed and overlapping representations of faces and objects "
            "in ventral temporal cortex. Science 293:2425-2430")


def _read_labels_file(path, n_volumes):
    """``label run`` per line (optional ``labels chunks`` header): (labels, runs)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if rows and rows[0][:2] in (["labels", "chunks"], ["targets", "chunks"]):
        rows = rows[1:]
    bad = [i for i, r in enumerate(rows) if len(r) != 2 or not re.fullmatch(r"-?\d+", r[1])]
    if bad:
        raise ValueError(f"{path.name}: line {bad[0] + 1} is not 'label run': {rows[bad[0]]}")
    if len(rows) != n_volumes:
        raise ValueError(f"{path.name} has {len(rows)} labelled volumes, the BOLD series "
                         f"{n_volumes}")
    return np.array([r[0] for r in rows]), np.array([int(r[1]) for r in rows])


def _subject_folder(root, subject):
    for name in (f"subj{subject}", f"subj{subject:02d}"):
        if (root / name / "bold.nii.gz").is_file():
            return root / name
    if (root / "haxby2001").is_dir():
        return _subject_folder(root / "haxby2001", subject)
    return None


def _openfmri_runs(root, subject, resolution):
    """Per-run BOLD files of the OpenfMRI layout, sorted by run number."""
    sub = root / f"sub{subject:03d}" / "BOLD"
    name = "bold.nii.gz" if resolution in (None, "full") else f"bold_{resolution}.nii.gz"
    runs = sorted(sub.glob("task001_run[0-9][0-9][0-9]"))
    files = [r / name for r in runs]
    return [f for f in files if f.is_file()], runs, name


def _openfmri_labels(root, subject, run_dirs, n_per_run, tr):
    key = root / "models" / "model001" / "condition_key.txt"
    if not key.is_file():
        raise ValueError(f"no labels for the OpenfMRI layout under {root}: "
                         f"models/model001/condition_key.txt is missing")
    names = {}
    for line in key.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "task001":
            names[parts[1]] = parts[2]
    if not names:
        raise ValueError(f"{key} lists no task001 condition")
    labels, runs = [], []
    for run_index, (run_dir, n) in enumerate(zip(run_dirs, n_per_run)):
        onset_dir = root / f"sub{subject:03d}" / "model" / "model001" / "onsets" / run_dir.name
        if not onset_dir.is_dir():
            raise ValueError(f"no labels for run {run_dir.name}: {onset_dir} is missing")
        lab = np.full(n, "rest", dtype=object)
        t = np.arange(n) * tr
        for cond, name in names.items():
            path = onset_dir / f"{cond}.txt"
            if not path.is_file():
                continue
            events = np.loadtxt(path, ndmin=2)
            if events.shape[1] < 2:
                raise ValueError(f"{path}: expected FSL 3-column onsets (onset duration weight)")
            for onset, duration in events[:, :2]:
                inside = (t >= onset) & (t < onset + duration)
                clash = inside & (lab != "rest") & (lab != name)
                if clash.any():
                    raise ValueError(f"{path}: the block at {onset} s overlaps another condition")
                lab[inside] = name
        labels.append(lab.astype(str))
        runs.append(np.full(n, run_index))
    return np.concatenate(labels), np.concatenate(runs)


def _tr(root, default=TR):
    key = root / "scan_key.txt"
    if key.is_file():
        for line in key.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "TR":
                return float(parts[1])
    return default


def _load_mask(spec, folder_masks, grid, affine):
    """A boolean mask on ``grid`` from a name, a path or None (every voxel with signal)."""
    import nibabel as nib

    if spec is None:
        return None, "voxels with signal"
    path = None
    if isinstance(spec, (str, Path)) and Path(spec).suffix in (".gz", ".nii"):
        path = Path(spec).expanduser()
    elif isinstance(spec, str):
        path = folder_masks.get(spec)
        if path is None:
            raise ValueError(f"unknown mask {spec!r}; this layout has {sorted(folder_masks)} (or "
                             "give a NIfTI path, or None for every voxel with signal)")
    else:
        raise TypeError(f"mask must be a name, a NIfTI path or None, got {spec!r}")
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    img = nib.load(path)
    data = np.asarray(img.dataobj)
    if data.shape[:3] != tuple(grid):
        raise ValueError(f"mask {path.name} has grid {data.shape[:3]}, the BOLD data {tuple(grid)}")
    if not np.allclose(img.affine, affine, atol=1e-3):
        raise ValueError(f"mask {path.name} is not in the space of the BOLD data (affines differ)")
    mask = data.reshape(grid) > 0
    if not mask.any():
        raise ValueError(f"mask {path.name} selects no voxel")
    return mask, str(spec) if isinstance(spec, str) else path.name


def load_haxby(path, subject=1, *, mask="auto", resolution=None):
    """Read Haxby et al. (2001) fMRI: BOLD volumes in a mask, with category labels and runs.

    Reads nilearn's :func:`~nilearn.datasets.fetch_haxby` / PyMVPA layout
    (``subjN/bold.nii.gz``, ``labels.txt``, ``mask4_vt.nii.gz``, ...), PyMVPA's one-folder test
    copy (``bold.nii.gz``, ``mask.nii.gz``, ``attributes_literal.txt``) and the OpenfMRI layout
    (per-run ``sub00N/BOLD/task001_runNNN/bold*.nii.gz`` with onset files; see the module notes).
    12 runs of 121 volumes (TR 2.5 s); 8 categories (face, house, cat, bottle, scissors, shoe,
    chair, scrambledpix) in 24-s blocks, and rest.

    Parameters
    ----------
    path : str | path-like
        The data folder: nilearn's ``haxby2001`` folder (or a ``subjN`` folder in it), the
        PyMVPA test copy, or the OpenfMRI data set root.
    subject : int
        Subject number (1-6).
    mask : "auto" | str | path-like | None
        ``"auto"``: the ventral temporal mask ``mask4_vt.nii.gz`` (nilearn layout), ``mask.nii.gz``
        (PyMVPA test copy, or OpenfMRI data on its grid) or the ``brain`` mask
        (``sub00N/masks/<resolution>/brain.nii.gz``); a mask name of the layout (nilearn:
        ``"vt"``, ``"face"``, ``"house"``, ``"face_little"``, ``"house_little"``; OpenfMRI: the
        files in ``sub00N/masks/<resolution>/``, e.g. ``"vt"``, ``"gray"``); a NIfTI path; or None
        for every voxel whose signal is not constant.
    resolution : None | "full" | str
        Which BOLD files: None reads the concatenated ``bold.nii.gz`` of the nilearn/PyMVPA
        layouts when present, else the OpenfMRI runs' ``bold.nii.gz``; ``"full"`` the OpenfMRI
        runs' ``bold.nii.gz``; another string ``r`` the OpenfMRI runs' ``bold_<r>.nii.gz`` (e.g.
        ``"1slice"``, ``"25mm"``).

    Returns
    -------
    data : xarray.Dataset
        ``bold`` (volume, voxel) float32, the raw signal (not detrended); volume coordinates
        ``label`` (str), ``run`` (0-based) and ``time`` (s since the run's start, ``index x TR``);
        voxel coordinates ``i``, ``j``, ``k`` (grid indices) and ``x``, ``y``, ``z`` (mm); attrs
        ``subject``, ``tr``, ``affine``, ``grid_shape``, ``mask``, ``layout``, ``citation``.

    Raises
    ------
    FileNotFoundError
        If the folder holds none of the layouts.
    ValueError
        If the labels are missing or do not match the volumes, or the mask does not fit.

    Examples
    --------
    >>> from neurosim.datasets import load_haxby
    >>> ds = load_haxby("~/nilearn_data/haxby2001", subject=2)  # doctest: +SKIP
    >>> task = ds.isel(volume=ds.label.values != "rest")  # doctest: +SKIP
    """
    import nibabel as nib
    import xarray as xr

    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Haxby data folder not found: {root}")
    if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)) or subject < 1:
        raise ValueError(f"subject must be a positive int (1-6), got {subject!r}")
    subject = int(subject)
    layout = None
    folder = None
    if resolution is None:
        if (root / "bold.nii.gz").is_file() and not (root / f"subj{subject}").is_dir():
            folder = root  # a subject folder itself, or PyMVPA's one-folder copy
        else:
            folder = _subject_folder(root, subject)
        if folder is not None:
            layout = ("nilearn" if any((folder / m).is_file() for m in NILEARN_MASKS.values())
                      else "pymvpa")
    if layout is None:
        files, run_dirs, name = _openfmri_runs(root, subject, resolution)
        if not files:
            raise FileNotFoundError(
                f"no Haxby data under {root}: expected subj{subject}/bold.nii.gz with labels.txt "
                f"(nilearn), bold.nii.gz with attributes_literal.txt (PyMVPA) or "
                f"sub{subject:03d}/BOLD/task001_runNNN/{name} (OpenfMRI)")
        if len(files) != len(run_dirs):
            absent = sorted({r.name for r in run_dirs} - {f.parent.name for f in files})
            raise FileNotFoundError(f"OpenfMRI runs without {name}: {absent}")
        layout = "openfmri"

    if layout in ("nilearn", "pymvpa"):
        img = nib.load(folder / "bold.nii.gz")
        data = np.asarray(img.dataobj, dtype=np.float32)
        affine, grid, n_vol = img.affine, img.shape[:3], img.shape[3]
        candidates = ["labels.txt", "attributes_literal.txt", "attributes.txt"]
        label_file = next((folder / c for c in candidates if (folder / c).is_file()), None)
        if label_file is None:
            raise ValueError(f"no labels for {folder / 'bold.nii.gz'}: none of {candidates} in "
                             f"{folder}")
        labels, runs = _read_labels_file(label_file, n_vol)
        runs = np.unique(runs, return_inverse=True)[1]
        if np.all(np.char.isdigit(labels)):  # attributes.txt: numbers; the key is not in the file
            raise ValueError(f"{label_file.name} holds numeric labels without their names; use "
                             "attributes_literal.txt or labels.txt")
        masks = {k: folder / v for k, v in NILEARN_MASKS.items() if (folder / v).is_file()}
        if (folder / "mask.nii.gz").is_file():
            masks["mask"] = folder / "mask.nii.gz"
        auto = "vt" if layout == "nilearn" else "mask"
        tr = float(img.header.get_zooms()[3]) if len(img.header.get_zooms()) > 3 else TR
        tr = tr if tr > 0 else TR
    else:
        imgs = [nib.load(f) for f in files]
        grid, affine = imgs[0].shape[:3], imgs[0].affine
        for f, im in zip(files, imgs):
            if im.shape[:3] != grid:
                raise ValueError(f"{f} has grid {im.shape[:3]}, the first run {grid}")
        n_per_run = [im.shape[3] for im in imgs]
        data = np.concatenate([np.asarray(im.dataobj, dtype=np.float32) for im in imgs], axis=3)
        n_vol = data.shape[3]
        tr = _tr(root)
        labels, runs = _openfmri_labels(root, subject, run_dirs, n_per_run, tr)
        res = "full" if resolution in (None, "full") else resolution
        mask_dir = root / f"sub{subject:03d}" / "masks" / res
        masks = {p.name.split(".")[0]: p for p in sorted(mask_dir.glob("*.nii*"))} \
            if mask_dir.is_dir() else {}
        top = root / "mask.nii.gz"
        if top.is_file() and nib.load(top).shape[:3] == tuple(grid):
            masks.setdefault("mask", top)
        auto = "mask" if "mask" in masks else "brain"
    spec = auto if mask == "auto" else mask
    if mask == "auto" and spec not in masks:
        spec = None
    mask_arr, mask_name = _load_mask(spec, masks, grid, affine)
    flat = data.reshape(-1, n_vol)
    if mask_arr is None:
        mask_arr = (flat.std(axis=1) > 0).reshape(grid)
    ijk = np.argwhere(mask_arr)
    bold = flat[np.ravel_multi_index(ijk.T, grid)].T.astype(np.float32)
    time = np.empty(n_vol)
    for r in np.unique(runs):
        rows = np.flatnonzero(runs == r)
        time[rows] = np.arange(len(rows)) * tr
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    return xr.Dataset(
        {"bold": (("volume", "voxel"), bold, {"units": "scanner units"})},
        coords={"label": ("volume", labels.astype(str)), "run": ("volume", runs.astype(np.int64)),
                "time": ("volume", time, {"units": "s"}),
                "i": ("voxel", ijk[:, 0]), "j": ("voxel", ijk[:, 1]), "k": ("voxel", ijk[:, 2]),
                "x": ("voxel", xyz[:, 0], {"units": "mm"}), "y": ("voxel", xyz[:, 1], {"units": "mm"}),
                "z": ("voxel", xyz[:, 2], {"units": "mm"})},
        attrs={"subject": subject, "tr": tr, "affine": np.asarray(affine).ravel(),
               "grid_shape": np.array(grid), "mask": mask_name, "layout": layout,
               "source": str(root), "citation": CITATION},
    )
