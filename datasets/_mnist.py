"""MNIST and Fashion-MNIST: IDX reader and fetcher."""

import gzip
from pathlib import Path

import numpy as np

from neurosim._docs import fill_doc

from ._base import DataFormatError, reading
from ._fetch import RemoteFile, fetch_files, mismatched_files

__all__ = ["load_mnist", "fetch_mnist", "read_idx"]

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# official MD5 checksums of the gzipped files (as used by torchvision)
_VARIANTS = {
    "mnist": dict(
        folder="mnist",
        url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        classes=[str(d) for d in range(10)],
        citation="LeCun, Bottou, Bengio & Haffner (1998), Proc. IEEE 86(11):2278-2324",
    ),
    "fashion": dict(
        folder="fashion_mnist",
        url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        classes=[
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
        citation="Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747",
    ),
}
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (as used by MNIST), gzipped or not.

    Parameters
    ----------
    path : str | path-like
        The ``.gz`` or uncompressed file.

    Returns
    -------
    array : numpy.ndarray
        The array, in native byte order, with the shape stored in the file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    neurosim.datasets.DataFormatError
        If it is not an IDX file (bad magic number, a damaged or truncated gzip stream, a size
        that does not match its header): a :class:`ValueError` naming the file.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from neurosim.datasets import read_idx
    >>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(header + bytes([7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected an IDX file")
    if not path.is_file():
        raise FileNotFoundError(f"no such IDX file: {path}")
    gz = path.suffix == ".gz"
    with reading(path, "a gzipped IDX file" if gz else "an IDX file"):
        return _parse_idx(path, gz)


def _parse_idx(path, gz):
    with (gzip.open if gz else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4]!r})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: the header announces shape {shape} ({expected} bytes) "
            f"but {len(data) - offset} bytes follow"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _find(folder, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def load_mnist(path, split="train", *, variant="mnist"):
    """Load MNIST or Fashion-MNIST from the official IDX files in ``path``.

    Parameters
    ----------
    path : str | path-like
        Folder with ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (gzipped or not).
    split : {"train", "test", "all"}
        Which split; ``"all"`` concatenates train then test.
    variant : {"mnist", "fashion"}
        Which data set the files are (sets the class names).

    Returns
    -------
    data : xarray.Dataset
        ``images`` (sample, height, width) uint8 and ``labels`` (sample) int64, coordinate ``split``
        (sample), attrs ``classes``, ``variant``.

    Examples
    --------
    >>> from neurosim.datasets import load_mnist
    >>> ds = load_mnist("~/neurosim_data/mnist")  # doctest: +SKIP
    >>> ds.images.shape  # doctest: +SKIP
    (60000, 28, 28)
    """
    import xarray as xr

    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
    splits = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}.get(split)
    if splits is None:
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    folder = Path(path).expanduser()
    images, labels, names = [], [], []
    for s in splits:
        found = [_find(folder, stem) for stem in _FILES[s]]
        if None in found:
            missing = [stem + ".gz" for stem, p in zip(_FILES[s], found) if p is None]
            raise FileNotFoundError(
                f"{variant} files missing from {folder}: {missing}. Download them with "
                f"neurosim.datasets.fetch_mnist(variant={variant!r})."
            )
        img, lab = read_idx(found[0]), read_idx(found[1])
        if img.ndim != 3 or lab.ndim != 1 or len(img) != len(lab):
            raise ValueError(
                f"{found[0].name} / {found[1].name}: expected images (n, rows, cols) and labels (n,), "
                f"got shapes {img.shape} and {lab.shape}"
            )
        images.append(img)
        labels.append(lab.astype(np.int64))
        names += [s] * len(lab)
    info = _VARIANTS[variant]
    return xr.Dataset(
        {
            "images": (("sample", "height", "width"), np.concatenate(images)),
            "labels": ("sample", np.concatenate(labels)),
        },
        coords={"split": ("sample", np.array(names))},
        attrs={"variant": variant, "classes": list(info["classes"]), "citation": info["citation"]},
    )


@fill_doc
def fetch_mnist(data_home=None, split="train", *, variant="mnist", download=True, progress=False):
    """Download (once) and load MNIST or Fashion-MNIST.

    The four gzipped IDX files are checked against their official MD5 checksums and stored in
    ``<data_home>/mnist`` or ``<data_home>/fashion_mnist``.

    Parameters
    ----------
    data_home : str | path-like | None
        Data folder; None uses ``$NEUROSIM_DATA`` or ``~/neurosim_data``.
    split : {"train", "test", "all"}
        Which split to return.
    variant : {"mnist", "fashion"}
        MNIST digits or Zalando's Fashion-MNIST.
    download : bool
        If False, raise :class:`FileNotFoundError` listing the missing files instead of downloading.
    %(progress)s
        Show download progress.

    Returns
    -------
    data : xarray.Dataset
        As :func:`load_mnist`.

    Examples
    --------
    >>> from neurosim.datasets import fetch_mnist
    >>> train = fetch_mnist(variant="fashion")  # doctest: +SKIP
    """
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
    info = _VARIANTS[variant]
    files = [RemoteFile(name, info["url"] + name, "md5:" + md5) for name, md5 in info["md5"].items()]
    paths = fetch_files(
        files,
        folder=info["folder"],
        dataset=variant,
        download=download,
        data_home=data_home,
        progress=progress,
        instructions=f"They are published at {info['url']}",
    )
    try:
        return load_mnist(paths[0].parent, split=split, variant=variant)
    except DataFormatError as err:
        bad = mismatched_files(files, folder=info["folder"], data_home=data_home)
        if not bad:
            raise
        raise DataFormatError(
            bad[0], err.expected,
            f"{len(bad)} file(s) in the data folder do not match their published checksum "
            f"({', '.join(p.name for p in bad)}): a damaged or partial copy. Delete them and "
            "call fetch_mnist again to download them anew") from err
