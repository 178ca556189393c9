"""A damaged copy already in the data folder: the fetcher says so and what to do (#14)."""

import gzip
import hashlib

import pytest
from neurosim.datasets import DataFormatError, _mnist, fetch_mnist, get_data_home


@pytest.fixture(autouse=True)
def _staging(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_DOWNLOAD_TMP", str(tmp_path / "staging"))


def test_fetch_mnist_names_a_damaged_copy_in_the_data_folder(mnist_dir, monkeypatch):
    folder, arrays = mnist_dir
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    monkeypatch.setitem(_mnist._VARIANTS, "mnist", {**_mnist._VARIANTS["mnist"],
                                                    "url": folder.as_uri() + "/", "md5": md5})
    assert fetch_mnist(split="test").images.shape == arrays["t10k"][0].shape
    # the copy in the data home is damaged after the download (a disk error, a bad sync)
    copy = get_data_home() / "mnist" / "t10k-images-idx3-ubyte.gz"
    copy.write_bytes(copy.read_bytes()[:200])
    with pytest.raises(DataFormatError, match=r"do not match their published checksum "
                                              r"\(t10k-images-idx3-ubyte.gz\).*Delete them") as e:
        fetch_mnist(split="test")
    assert e.value.path == copy
    # a reader error on a file whose checksum matches is reported as it is
    raw = gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02")
    copy.write_bytes(raw)
    md5["t10k-images-idx3-ubyte.gz"] = hashlib.md5(raw).hexdigest()
    with pytest.raises(DataFormatError, match="truncated or corrupt") as e:
        fetch_mnist(split="test")
    assert "checksum" not in str(e.value)
