"""Precomputed stimulus embeddings (e.g. CLIP image features): one documented format and a reader."""

import hashlib
import json
from pathlib import Path

import numpy as np

from ._base import DataFormatError, reading

__all__ = ["load_embeddings", "save_embeddings"]

_DICT_KEYS = ("embeddings", "img_features", "image_features", "features")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_embeddings(path, embeddings, ids=None, *, overwrite=False, **metadata):
    """Save stimulus embeddings in neurosim's embedding format (``.npz``), written atomically.

    The file holds ``embeddings`` (stimulus, feature), optional ``ids`` (stimulus,) and a JSON
    ``metadata`` string. Record what produced the features - ``model`` (e.g. ``"ViT-H-14"``),
    ``pretrained`` (e.g. ``"laion2b_s32b_b79k"``), ``preprocessing``, ``normalization``,
    ``layer`` - so that files made by different pipelines are never silently mixed.

    Parameters
    ----------
    path : str | path-like
        Destination ``.npz`` file.
    embeddings : array-like
        (n_stimuli, n_features) floats.
    ids : array-like | None
        Stimulus identifiers (ints or strings), one per row.
    overwrite : bool
        Replace an existing file; otherwise :class:`FileExistsError`.
    **metadata
        JSON-serialisable description of how the embeddings were computed.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from neurosim.datasets import load_embeddings, save_embeddings
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.npz")
    >>> _ = save_embeddings(path, np.eye(3, 4), ids=["a", "b", "c"], model="ViT-B-32")
    >>> emb = load_embeddings(path)
    >>> emb.shape, emb.attrs["model"], emb.stimulus_id.values.tolist()
    ((3, 4), 'ViT-B-32', ['a', 'b', 'c'])
    """
    from neurosim._utils import atomic_write

    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    emb = np.asarray(embeddings)
    if emb.ndim != 2 or emb.dtype.kind != "f":
        raise ValueError(
            f"embeddings must be a 2-D float array (stimulus, feature), got {emb.shape} {emb.dtype}"
        )
    if not np.isfinite(emb).all():
        raise ValueError("embeddings contain NaN or inf values")
    arrays = {"embeddings": emb, "metadata": np.array(json.dumps(metadata))}
    if ids is not None:
        ids = np.asarray(ids)
        if ids.shape != (len(emb),):
            raise ValueError(f"ids must have shape ({len(emb)},), got {ids.shape}")
        arrays["ids"] = ids
    with atomic_write(path, overwrite=overwrite) as tmp:
        np.savez(tmp, **arrays)
    return path


def load_embeddings(path, *, key=None, known_hash=None, mmap=True):
    """Read precomputed stimulus embeddings from ``.npz``, ``.npy``, ``.pt`` or HDF5.

    Formats:

    * ``.npz`` written by :func:`save_embeddings` (``embeddings``, ``ids``, JSON ``metadata``);
    * ``.npy``: a (stimulus, feature) array (memory-mapped);
    * ``.pt``: a tensor, or a dict holding one under ``key`` (default: the first of
      ``embeddings``, ``img_features``, ``image_features``, ``features``), read with
      ``torch.load(weights_only=True)``; a ``ids``/``metadata`` entry is used when present;
    * ``.h5``/``.hdf5``: dataset ``key`` (default ``embeddings``).

    Parameters
    ----------
    path : str | path-like
        The file.
    key : str | None
        Entry holding the embeddings in a dict/HDF5 file.
    known_hash : str | None
        ``"sha256:<hex>"``: raise :class:`ValueError` if the file's SHA-256 differs (cached feature
        files made by another pipeline are a common source of silently wrong results).
    mmap : bool
        Memory-map ``.npy`` files instead of reading them.

    Returns
    -------
    embeddings : xarray.DataArray
        (stimulus, feature), with coordinate ``stimulus_id`` when ids are stored; attrs: the stored
        metadata, ``source`` and ``sha256`` (when ``known_hash`` was checked).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    neurosim.datasets.DataFormatError
        If the file cannot be read in the format of its suffix (empty, truncated, another
        format, a missing key), or holds something other than a 2-D array of finite numbers
        (NaN and inf are refused, as :func:`save_embeddings` refuses them).

    Examples
    --------
    >>> from neurosim.datasets import load_embeddings
    >>> emb = load_embeddings("ViT-H-14_features_train.pt", key="img_features")  # doctest: +SKIP
    """
    import xarray as xr

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"embedding file not found: {path}")
    attrs = {"source": str(path)}
    if known_hash is not None:
        algo, _, expected = known_hash.partition(":")
        if algo != "sha256" or not expected:
            raise ValueError(f"known_hash must look like 'sha256:<hex>', got {known_hash!r}")
        actual = _sha256(path)
        if actual != expected.lower():
            raise ValueError(f"{path.name}: SHA-256 {actual} does not match the expected {expected}")
        attrs["sha256"] = actual
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"cannot read {path.name!r}: expected .npz, .npy, .pt, .h5 or .hdf5")
    with reading(path, _FORMATS[suffix]):
        emb, ids, meta = _read(path, suffix, key, mmap)
        if emb.ndim != 2:
            raise ValueError(f"embeddings must be 2-D (stimulus, feature), got shape {emb.shape}")
        if emb.dtype.kind not in "iuf":
            raise ValueError(f"embeddings must be numbers, got dtype {emb.dtype}")
        coords = {}
        if ids is not None:
            ids = np.asarray(ids)
            if ids.dtype.kind == "S":
                ids = ids.astype(str)
            if ids.shape != (emb.shape[0],):
                raise ValueError(f"ids must have shape ({emb.shape[0]},), got {ids.shape}")
            coords["stimulus_id"] = ("stimulus", ids)
    bad = _count_non_finite(emb)
    if bad:
        raise DataFormatError(path, _FORMATS[suffix],
                              f"{bad} embedding values are NaN or inf; neurosim refuses them "
                              "(as save_embeddings does): recompute or clean the features")
    attrs.update({k: v for k, v in meta.items() if isinstance(v, str | int | float)})
    return xr.DataArray(emb, dims=("stimulus", "feature"), coords=coords, name="embedding", attrs=attrs)


_FORMATS = {
    ".npz": "an embedding .npz (written by save_embeddings)",
    ".npy": "a 2-D .npy array (stimulus, feature)",
    ".pt": "a torch .pt file holding a 2-D tensor or a dict of them",
    ".h5": "an HDF5 file holding a 2-D embedding dataset",
    ".hdf5": "an HDF5 file holding a 2-D embedding dataset",
}


def _count_non_finite(emb, rows=1 << 14):
    """Number of NaN/inf values, read in blocks of rows (a memory-mapped file is not copied)."""
    if emb.dtype.kind != "f":
        return 0
    return int(sum(np.count_nonzero(~np.isfinite(emb[i:i + rows]))
                   for i in range(0, emb.shape[0], rows)))


def _read(path, suffix, key, mmap):
    ids, meta = None, {}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            name = key or "embeddings"
            if name not in z:
                raise KeyError(f"{path.name} has no array {name!r}; it has {sorted(z.files)}")
            emb = z[name]
            ids = z["ids"] if "ids" in z else None
            meta = json.loads(str(z["metadata"])) if "metadata" in z else {}
            meta = meta if isinstance(meta, dict) else {}
    elif suffix == ".npy":
        emb = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    elif suffix == ".pt":
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            name = key or next((k for k in _DICT_KEYS if k in obj), None)
            if name is None or name not in obj:
                raise KeyError(f"{path.name}: give key=, one of {sorted(map(str, obj))}")
            ids = obj.get("ids")
            meta = obj.get("metadata", {}) if isinstance(obj.get("metadata", {}), dict) else {}
            obj = obj[name]
        emb = obj.float().numpy() if obj.dtype in (torch.bfloat16, torch.float16) else obj.numpy()
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            name = key or "embeddings"
            if name not in f:
                raise KeyError(f"{path.name} has no dataset {name!r}; it has {sorted(f.keys())}")
            emb = f[name][()]
            ids = f["ids"][()] if "ids" in f else None
    return emb, ids, meta
