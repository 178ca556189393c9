"""The MindEye1 / MindBridge NSD webdataset (``webdataset_avg_split``), read with the standard library.

MindEye1 (Scotti et al. 2023) and MindBridge (Wang et al. 2024) train on NSD betas packed by the
MindEye authors into webdataset tar shards (Hugging Face ``pscotti/naturalscenesdataset``)::

    webdataset_avg_split/
        train/train_subj01_0.tar ... train_subj01_17.tar
        val/val_subj01_0.tar
        test/test_subj01_0.tar, test_subj01_1.tar
        metadata_subj01.json

Each sample ``sampleNNNNNNNNN`` of a shard has the members ``sampleNNNNNNNNN.nsdgeneral.npy``
(the betas of the ``nsdgeneral`` voxels for each of the image's repetitions, ``(3, n_voxels)``
float16, z-scored within each session), ``.coco73k.npy`` (the image's 0-based index among NSD's
73,000 images) and ``.jpg`` (the image), plus other members not read here. MindBridge's README has
the shards extracted into one folder per subject (``train/subj01/sampleNNNNNNNNN.nsdgeneral.npy``);
both layouts are read. The test split holds the shared images.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import numpy as np

__all__ = ["load_mindeye_webdataset"]

SPLITS = ("train", "val", "test")
_SHARD = re.compile(r"(train|val|test)_subj0?(\d+)_(\d+)\.tar$")
_VOXELS = "nsdgeneral.npy"
_IMAGE = "coco73k.npy"


def _split_name(name):
    """``sampleNNN.nsdgeneral.npy`` -> (``sampleNNN``, ``nsdgeneral.npy``), as webdataset does."""
    base = name.rsplit("/", 1)[-1]
    key, _, ext = base.partition(".")
    return key, ext


def _root(path):
    path = Path(path).expanduser()
    if (path / "webdataset_avg_split").is_dir():
        path = path / "webdataset_avg_split"
    if not path.is_dir():
        raise FileNotFoundError(f"MindEye webdataset folder not found: {path}")
    return path


def mindeye_webdataset_subjects(path):
    """The subjects (1-8) with shards or extracted folders under ``path``, per split.

    Parameters
    ----------
    path : str | path-like
        ``webdataset_avg_split`` or its parent.

    Returns
    -------
    found : dict of int to list of str
        Subject number -> the splits present.
    """
    root = _root(path)
    found = {}
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            m = _SHARD.fullmatch(p.name)
            n = int(m.group(2)) if m and m.group(1) == split else None
            if n is None and p.is_dir() and re.fullmatch(r"subj0?\d+", p.name):
                n = int(p.name[4:])
            if n is not None:
                found.setdefault(n, [])
                if split not in found[n]:
                    found[n].append(split)
    return dict(sorted(found.items()))


def _read_members(split, subject, root):
    """{sample key: {ext: bytes}} of one subject's split, from shards or an extracted folder."""
    folder = root / split
    shards = sorted((p for p in folder.glob(f"{split}_subj*_*.tar")
                     if (m := _SHARD.fullmatch(p.name)) and int(m.group(2)) == subject),
                    key=lambda p: int(_SHARD.fullmatch(p.name).group(3)))
    samples = {}
    if shards:
        for shard in shards:
            try:
                with tarfile.open(shard) as tar:
                    for member in tar:
                        if not member.isfile():
                            continue
                        key, ext = _split_name(member.name)
                        if ext in (_VOXELS, _IMAGE):
                            data = tar.extractfile(member).read()
                            entry = samples.setdefault(key, {"shard": shard.name})
                            if ext in entry:
                                raise ValueError(f"{shard.name}: sample {key!r} appears twice")
                            entry[ext] = data
            except tarfile.TarError as err:
                raise ValueError(f"{shard} is not a readable tar shard: {err}") from None
        return samples
    extracted = folder / f"subj{subject:02d}"
    if extracted.is_dir():
        for p in sorted(extracted.iterdir()):
            key, ext = _split_name(p.name)
            if ext in (_VOXELS, _IMAGE):
                samples.setdefault(key, {"shard": extracted.name})[ext] = p.read_bytes()
    return samples


def _load_npy(data, what):
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{what} is not a readable .npy array: {err}") from None


def load_mindeye_webdataset(path, subject=1, *, splits=SPLITS, embeddings=None):
    """Read one subject of the MindEye1/MindBridge NSD webdataset (``webdataset_avg_split``).

    Reads the tar shards (``<split>/<split>_subjNN_<k>.tar``) with :mod:`tarfile`, or the folders
    they were extracted into as in MindBridge's README (``<split>/subjNN/sample*.npy``). Samples
    are sorted by key, the order in which MindBridge's data set takes "the first N images"
    (its ``--length``). The betas come as stored: session-wise z-scored, float16 on disk, float32
    here.

    Parameters
    ----------
    path : str | path-like
        The ``webdataset_avg_split`` folder or its parent.
    subject : int | str
        Subject number 1-8 (or ``"subj01"``).
    splits : sequence of {"train", "val", "test"}
        Splits to read (MindBridge trains on ``train`` and validates on ``val``; MindEye1 trains
        on both; ``test`` holds the shared images).
    embeddings : array-like | xarray.DataArray | None
        Embeddings of all 73,000 NSD images, ``(73000, n_features)`` in ``nsdId`` order (the
        ``coco73k`` index), added as ``embedding`` (stimulus, feature).

    Returns
    -------
    data : xarray.Dataset
        The structure of :func:`load_nsd`: ``betas`` (trial, voxel) float32, one row per
        repetition of each sample (sample-major), with trial coordinates ``stimulus`` (0-based
        ``nsdId``), ``repeat`` (0-based), ``sample`` (the webdataset key) and ``split``; on the
        ``stimulus`` dimension (all 73,000 images) ``shared`` (the images of the test split) and
        ``stimulus_id``, plus ``embedding`` when given; attrs ``subject``, ``format``,
        ``n_repeats``. :func:`neurosim.decoding.preprocessing.repetition_arrays` gives back the
        ``(image, repetition, voxel)`` layout.

    Raises
    ------
    FileNotFoundError
        If the folder or the subject's shards are missing (the message lists the subjects found).
    ValueError
        If a sample lacks a member, the betas of the samples or shards differ in shape, or a
        shard is not a tar file.

    Examples
    --------
    >>> from neurosim.datasets import load_mindeye_webdataset
    >>> ds = load_mindeye_webdataset("natural-scenes-dataset", subject=1)  # doctest: +SKIP
    >>> ds.betas.shape  # doctest: +SKIP
    (29523, 15724)
    """
    import xarray as xr

    root = _root(path)
    if isinstance(subject, str) and re.fullmatch(r"subj0?\d+", subject):
        subject = int(subject[4:])
    if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)) \
            or not 1 <= int(subject) <= 8:
        raise ValueError(f"subject must be an NSD subject 1-8 (or 'subj01'), got {subject!r}")
    subject = int(subject)
    if isinstance(splits, str):
        splits = (splits,)
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ValueError(f"splits must be a non-empty subset of {SPLITS}, got {splits!r}")
    found = mindeye_webdataset_subjects(root)
    missing = [s for s in splits if s not in found.get(subject, [])]
    if missing:
        have = {n: sp for n, sp in found.items()}
        raise FileNotFoundError(
            f"no {'/'.join(missing)} shards of subject {subject} under {root} (expected "
            f"{missing[0]}/{missing[0]}_subj{subject:02d}_<k>.tar or {missing[0]}/subj{subject:02d}/); "
            f"found subjects and splits: {have or 'none'}")
    betas, stimulus, repeat, sample, split_of = [], [], [], [], []
    shape = None
    for split in splits:
        samples = _read_members(split, subject, root)
        if not samples:
            raise FileNotFoundError(f"subject {subject}'s {split} shards under {root / split} hold "
                                    "no sample")
        for key in sorted(samples):
            entry = samples[key]
            lacking = [ext for ext in (_VOXELS, _IMAGE) if ext not in entry]
            if lacking:
                raise ValueError(f"{entry['shard']}: sample {key!r} has no {lacking[0]!r} member")
            x = _load_npy(entry[_VOXELS], f"{entry['shard']}:{key}.{_VOXELS}")
            x = x[None] if x.ndim == 1 else x
            if x.ndim != 2:
                raise ValueError(f"{entry['shard']}: {key}.{_VOXELS} must be (repetitions, voxels), "
                                 f"got shape {x.shape}")
            if shape is None:
                shape, first = x.shape, f"{entry['shard']}: {key}"
            elif x.shape != shape:
                raise ValueError(f"{entry['shard']}: {key}.{_VOXELS} has shape {x.shape}, but "
                                 f"{first}.{_VOXELS} has {shape}: shards of different subjects "
                                 "or voxel sets are mixed")
            coco = np.asarray(_load_npy(entry[_IMAGE], f"{entry['shard']}:{key}.{_IMAGE}")).ravel()
            if coco.size != 1 or not 0 <= int(coco[0]) < 73000:
                raise ValueError(f"{entry['shard']}: {key}.{_IMAGE} must hold one index in "
                                 f"0..72999, got {coco[:5]}")
            betas.append(x.astype(np.float32))
            n_rep = x.shape[0]
            stimulus += [int(coco[0])] * n_rep
            repeat += list(range(n_rep))
            sample += [key] * n_rep
            split_of += [split] * n_rep
    values = np.concatenate(betas)
    stimulus = np.asarray(stimulus, dtype=np.int64)
    split_of = np.asarray(split_of)
    shared = np.zeros(73000, dtype=bool)
    shared[stimulus[split_of == "test"]] = True
    ds = xr.Dataset(
        {"betas": (("trial", "voxel"), values, {"units": "z-score within session"})},
        coords={"stimulus": ("trial", stimulus), "repeat": ("trial", np.asarray(repeat)),
                "sample": ("trial", np.asarray(sample)), "split": ("trial", split_of),
                "shared": ("stimulus", shared), "stimulus_id": ("stimulus", np.arange(73000))},
        attrs={"subject": f"subj{subject:02d}", "format": "MindEye1 webdataset_avg_split",
               "n_repeats": int(shape[0]), "source": str(root)},
    )
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != 73000:
            raise ValueError(f"embeddings must be (73000, n_features) in nsdId order, got {emb.shape}")
        ds["embedding"] = (("stimulus", "feature"), emb)
    return ds
