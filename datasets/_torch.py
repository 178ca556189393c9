"""Torch adapters: :func:`as_torch_dataset` (torch is imported only when it is called)."""

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["as_torch_dataset", "FEATURE_DIMS"]

#: dimensions that belong to one item (features) rather than index items, when ``sample_dims`` is None
FEATURE_DIMS = (
    "voxel",
    "channel",
    "time",
    "baseline_time",
    "feature",
    "frequency",
    "xyz",
    "height",
    "width",
    "color",
)
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
_FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")


def _torch_dtype(dtype):
    import torch

    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        return dtype
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(
            f"dtype must be one of {_FLOAT_DTYPES} or a floating torch.dtype, got {dtype!r}"
        )
    return getattr(torch, dtype)


def _open_path(path, x):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    suffix = path.suffix.lower()
    if suffix in _HDF5_SUFFIXES:
        import h5py

        with h5py.File(path, "r") as f:
            if x not in f:
                raise KeyError(f"{path} has no dataset {x!r}; it has {sorted(f.keys())}")
        return ("h5", (str(path), x))
    if suffix == ".npy":
        return ("array", np.load(path, mmap_mode="r"))
    if suffix in (".nc", ".nc4", ".netcdf"):
        import xarray as xr

        return ("xarray", xr.open_dataset(path, cache=False))
    raise ValueError(
        f"cannot read {path.name!r}: expected an HDF5 (.h5, .hdf5), .npy or netCDF (.nc) file"
    )


def _xarray_dataset(ds, x, y, sample_dims, dtype, transform, target_transform):
    import xarray as xr

    from ._torch_datasets import XarrayDataset

    if isinstance(ds, xr.DataArray):
        xda = ds
        ds = ds.to_dataset(name=ds.name or "x") if y is not None and isinstance(y, str) else None
    else:
        if x not in ds.data_vars:
            raise KeyError(
                f"x={x!r} is not a variable of the data set; variables: {sorted(ds.data_vars)}"
            )
        xda = ds[x]
    if sample_dims is None:
        sample_dims = [d for d in xda.dims if d not in FEATURE_DIMS]
    elif isinstance(sample_dims, str):
        sample_dims = [sample_dims]
    sample_dims = list(sample_dims)
    unknown = [d for d in sample_dims if d not in xda.dims]
    if unknown or not sample_dims:
        raise ValueError(f"sample_dims must be a non-empty subset of {xda.dims}, got {sample_dims}")
    xda = xda.transpose(*sample_dims, *[d for d in xda.dims if d not in sample_dims])
    sample_shape = tuple(xda.sizes[d] for d in sample_dims)
    n_items = int(np.prod(sample_shape))
    item_pos = dict(zip(sample_dims, np.unravel_index(np.arange(n_items), sample_shape)))

    y_da, y_index = None, {}
    if y is not None:
        if isinstance(y, str):
            if ds is None or y not in ds.variables:
                raise KeyError(f"y={y!r} is not a variable or coordinate of the data set")
            y_da = ds[y]
        else:
            y_da = xr.DataArray(
                np.asarray(y), dims=("item", *[f"y_dim{k}" for k in range(np.ndim(y) - 1)])
            )
            if y_da.sizes["item"] != n_items:
                raise ValueError(
                    f"y has {y_da.sizes['item']} items, expected {n_items} "
                    f"(the product of the sizes of {sample_dims})"
                )
            y_index["item"] = np.arange(n_items)
        for dim in y_da.dims:
            if dim in y_index:
                continue
            if dim in sample_dims:
                y_index[dim] = item_pos[dim]
            elif dim in xda.coords and set(xda.coords[dim].dims) <= set(sample_dims):
                # a per-item coordinate names the row of y (e.g. trial -> stimulus -> embedding)
                coord = xda.coords[dim]
                values = coord.values[tuple(item_pos[d] for d in coord.dims)]
                # (the name is the coordinate's, so y's dimension has no index: values are positions)
                pos = np.asarray(values, dtype=np.int64)
                if pos.min() < 0 or pos.max() >= y_da.sizes[dim]:
                    raise ValueError(
                        f"{dim!r} coordinate values are out of range for y's {dim!r} "
                        f"dimension of size {y_da.sizes[dim]}"
                    )
                y_index[dim] = pos
    return XarrayDataset(
        xda,
        y_da,
        y_index,
        sample_shape,
        dtype=dtype,
        transform=transform,
        target_transform=target_transform,
    )


def as_torch_dataset(
    data,
    *,
    x="betas",
    y=None,
    sample_dims=None,
    dtype="float32",
    transform=None,
    target_transform=None,
    h5_cache_bytes=1 << 20,
):
    """Wrap a data set as a :class:`torch.utils.data.Dataset` of ``(x, y)`` tensors, read item by item.

    Nothing is loaded whole: numpy memory maps and ``.npy`` files are memory-mapped, HDF5 files are
    opened lazily (once per DataLoader worker) and read one row at a time, netCDF files are opened
    with :func:`xarray.open_dataset` and indexed lazily. A list of inputs gives a
    :class:`torch.utils.data.ConcatDataset` (e.g. the 40 sessions of an NSD subject).

    Parameters
    ----------
    data : xarray.Dataset | xarray.DataArray | numpy.ndarray | h5py.Dataset | str | path-like | list
        The data. Paths may name HDF5 (``.h5``/``.hdf5``; the dataset ``x`` is read), ``.npy`` or
        netCDF (``.nc``) files. A list of any of these is concatenated.
    x : str
        The variable (xarray) or HDF5 dataset name holding the inputs. Ignored for arrays/DataArrays.
    y : str | array-like | None
        Targets. For xarray, a variable or coordinate name: its dimensions shared with ``x``'s
        sample dimensions are indexed with the item, and a dimension named after a per-item
        coordinate of ``x`` is indexed through that coordinate, so ``x="betas", y="embedding"``
        pairs each trial with the embedding of its ``stimulus``, and ``x="eeg", y="embedding"``
        each (subject, image, repetition) with its image's embedding. Otherwise an array with one
        row per item. None gives 1-tuples ``(x,)``.
    sample_dims : str | list of str | None
        Dimensions of an xarray ``x`` that index items (flattened in C order); None uses every
        dimension not in :data:`FEATURE_DIMS` (``voxel``, ``channel``, ``time``, ``feature``, ...).
    dtype : str | torch.dtype
        Floating dtype of ``x`` and of floating targets (integer targets become int64).
    transform, target_transform : callable | None
        Applied to the ``x`` and ``y`` tensors of every item.
    h5_cache_bytes : int
        HDF5 chunk cache per open file (1 MiB; recent HDF5 releases default to 8 MiB, which adds
        up over the 40 session files of an NSD subject).

    Returns
    -------
    dataset : torch.utils.data.Dataset
        Items are ``(x, y)`` tensors (or ``(x,)``). ``dataset.item_shape`` is the shape of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.datasets import as_torch_dataset, make_fmri_visual
    >>> ds = make_fmri_visual(n_subjects=1, n_voxels=300, n_stimuli=100, n_shared=10)["subj01"]
    >>> tds = as_torch_dataset(ds, x="betas", y="embedding")
    >>> len(tds), tuple(tds[0][0].shape), tuple(tds[0][1].shape)
    (300, (300,), (64,))
    >>> bool(np.allclose(tds[5][1].numpy(), ds.embedding[int(ds.stimulus[5])]))
    True
    """
    import torch.utils.data

    from ._torch_datasets import ArrayDataset

    tdtype = _torch_dtype(dtype)
    kw = dict(dtype=tdtype, transform=transform, target_transform=target_transform)
    h5kw = dict(kw, cache_bytes=h5_cache_bytes)
    if isinstance(data, list | tuple):
        if not data:
            raise ValueError("data is an empty list")
        if y is not None and not isinstance(y, str):
            raise TypeError("with a list of inputs, y must be a variable name or None")
        parts = [
            as_torch_dataset(
                d,
                x=x,
                y=y,
                sample_dims=sample_dims,
                dtype=dtype,
                transform=transform,
                target_transform=target_transform,
                h5_cache_bytes=h5_cache_bytes,
            )
            for d in data
        ]
        shapes = {p.item_shape for p in parts}
        if len(shapes) > 1:
            raise ValueError(
                f"the inputs have different item shapes {sorted(shapes)}; they cannot be concatenated"
            )
        out = torch.utils.data.ConcatDataset(parts)
        out.item_shape = shapes.pop()
        return out
    if isinstance(data, str | os.PathLike):
        kind, data = _open_path(data, x)
        if kind == "h5":
            return ArrayDataset(data, None if y is None else np.asarray(y), **h5kw)
    import xarray as xr

    if isinstance(data, xr.Dataset | xr.DataArray):
        return _xarray_dataset(data, x, y, sample_dims, **kw)
    if isinstance(data, Mapping):
        raise TypeError(
            "data is a mapping (e.g. the dict of subjects from make_fmri_visual); pass one subject, "
            "e.g. data['subj01'], or a list of Datasets with the same number of voxels"
        )
    if isinstance(y, str):
        raise TypeError(f"y={y!r} names a variable, but data is an array; give y as an array")
    if type(data).__module__.startswith("h5py"):
        return ArrayDataset(
            (data.file.filename, data.name), None if y is None else np.asarray(y), **h5kw
        )
    if not hasattr(data, "shape") or not hasattr(data, "__getitem__") or len(data.shape) == 0:
        raise TypeError(
            "data must be an xarray Dataset/DataArray, an array with items along axis 0, an h5py "
            f"Dataset, a path or a list of these, got {type(data).__name__}"
        )
    return ArrayDataset(data, None if y is None else np.asarray(y), **h5kw)
