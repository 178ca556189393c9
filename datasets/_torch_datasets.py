"""torch Dataset classes behind :func:`neurosim.datasets.as_torch_dataset` (imports torch)."""

import os

import numpy as np
import torch
from torch.utils.data import Dataset


def _to_tensor(value, dtype):
    """Copy ``value`` into a tensor: floating ``dtype`` if given, else int64/bool/float32 by kind."""
    arr = np.asarray(value)
    if dtype is not None:
        t = torch.from_numpy(np.array(arr, dtype=np.float64 if dtype == torch.float64 else np.float32))
        return t if t.dtype == dtype else t.to(dtype)
    if arr.dtype.kind in "iu":
        return torch.from_numpy(np.array(arr, dtype=np.int64))
    if arr.dtype.kind == "b":
        return torch.from_numpy(np.array(arr, dtype=bool))
    if arr.dtype.kind == "f":
        return torch.from_numpy(np.array(arr, dtype=np.float32))
    raise TypeError(f"cannot turn values of dtype {arr.dtype} into a tensor")


class _Base(Dataset):
    """Shared (x, y) item logic; subclasses implement ``_x(i)`` and ``__len__``."""

    def __init__(self, y, dtype, transform, target_transform):
        self._y = y
        self._dtype = dtype
        self.transform = transform
        self.target_transform = target_transform

    def _y_item(self, i):  # pragma: no cover - overridden
        return self._y[i]

    def __getitem__(self, i):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a data set of {n} items")
        i = int(i) % n
        x = _to_tensor(self._x(i), self._dtype)
        if self.transform is not None:
            x = self.transform(x)
        if self._y is None:
            return (x,)
        y = np.asarray(self._y_item(i))
        y = _to_tensor(y, self._dtype if y.dtype.kind == "f" else None)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


class ArrayDataset(_Base):
    """Items along the first axis of an array-like: numpy array, ``np.memmap`` or an array on disk.

    ``source`` is either an array (kept as is; memory maps stay on disk) or ``(path, key)`` of an HDF5
    dataset, opened lazily once per process (h5py handles cannot cross ``fork``).
    """

    def __init__(
        self,
        source,
        y=None,
        *,
        dtype=torch.float32,
        transform=None,
        target_transform=None,
        cache_bytes=1 << 20,
    ):
        super().__init__(y, dtype, transform, target_transform)
        self._source = source
        self._cache_bytes = int(cache_bytes)
        self._handle = None
        self._pid = None
        arr = self._array()
        self._len = int(arr.shape[0])
        self.item_shape = tuple(arr.shape[1:])
        if y is not None and len(y) != self._len:
            raise ValueError(f"y has {len(y)} items but x has {self._len} along its first axis")

    def _array(self):
        if not isinstance(self._source, tuple):
            return self._source
        if self._handle is None or self._pid != os.getpid():
            import h5py

            path, key = self._source
            # an explicit chunk cache: recent HDF5 releases default to 8 MiB per open file, which
            # adds up when a subject's 40 session files are open together
            self._file = h5py.File(path, "r", rdcc_nbytes=self._cache_bytes)
            self._handle = self._file[key]
            self._pid = os.getpid()
        return self._handle

    def __getstate__(self):
        state = self.__dict__.copy()
        if isinstance(self._source, tuple):
            state.update(_handle=None, _file=None, _pid=None)
        return state

    def __len__(self):
        return self._len

    def _x(self, i):
        return self._array()[i]

    def _y_item(self, i):
        return self._y[i]


class XarrayDataset(_Base):
    """Items over the sample dimensions of an xarray variable, with targets aligned by coordinates."""

    def __init__(self, xda, y_da, y_index, sample_shape, *, dtype, transform, target_transform):
        super().__init__(y_da, dtype, transform, target_transform)
        self._xda = xda
        self._sample_dims = xda.dims[: len(sample_shape)]
        self._sample_shape = sample_shape
        self._y_index = y_index  # dim of y -> (n_items,) positions, or None when y is a feature dim
        # in-memory arrays are indexed directly (fast); lazily loaded (on-disk) ones through xarray
        in_memory = getattr(xda.variable, "_in_memory", False)
        self._np = np.asarray(xda.values) if in_memory else None
        self.item_shape = tuple(xda.shape[len(sample_shape) :])
        self.sample_dims = tuple(self._sample_dims)

    def __len__(self):
        return int(np.prod(self._sample_shape))

    def _x(self, i):
        idx = np.unravel_index(i, self._sample_shape)
        if self._np is not None:
            return self._np[idx]
        return self._xda.isel(dict(zip(self._sample_dims, idx))).values

    def _y_item(self, i):
        sel = {d: int(pos[i]) for d, pos in self._y_index.items()}
        return self._y.isel(sel).values
