"""Property tests of the readers on damaged files (issue #14).

Each reader gets a valid small file in its real format, then hypothesis truncates it, flips
bytes in it, or swaps in a file of another format. The reader must return valid data or raise
:class:`neurosim.datasets.DataFormatError` naming the file: never a library's own error.
"""

import gzip
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neurosim.datasets import (
    DataFormatError,
    load_dreamer,
    load_embeddings,
    load_mnist_subset,
    read_idx,
    save_embeddings,
)

CHANNELS = ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4"]
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# a damaged file: truncated at a fraction, bytes flipped, or replaced by another format's bytes
OTHER_FORMATS = [b"", b"hello, this is text\n" * 20, b"\x89HDF\r\n\x1a\n" + bytes(200),
                 gzip.compress(b"not the expected content " * 10),
                 b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"]
damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 0.9999), st.integers(1, 255)),
                                        min_size=1, max_size=6)),
    st.tuples(st.just("other"), st.sampled_from(range(len(OTHER_FORMATS)))),
)


class Blob(bytes):
    """Bytes that hypothesis prints short (it prints the fixtures of a failing example)."""

    def __repr__(self):
        return f"<{len(self)} bytes>"


class Blobs(dict):
    def __repr__(self):
        return f"<files {sorted(self)}>"


def _damaged(raw, how):
    kind, arg = how
    if kind == "truncate":
        return raw[:int(len(raw) * arg)]
    if kind == "other":
        return OTHER_FORMATS[arg]
    data = bytearray(raw)
    for where, xor in arg:
        data[int(len(data) * where)] ^= xor
    return bytes(data)


def _check(read, path, raw, how, valid):
    """``read(path)`` on the damaged bytes: valid data or DataFormatError naming the file."""
    path.write_bytes(_damaged(raw, how))
    try:
        out = read(path)
    except DataFormatError as err:
        assert str(path) in str(err), str(err)
        assert isinstance(err, ValueError)
        return "error"
    valid(out)
    return "data"


# ---------------------------------------------------------------------------------------------
# DREAMER.mat (a tiny file in the real layout: 1 subject, 2 films)
@pytest.fixture(scope="module")
def dreamer_bytes(tmp_path_factory):
    import scipy.io

    rng = np.random.default_rng(0)

    def cell(items, shape):
        out = np.empty(shape, dtype=object)
        for i, item in enumerate(items):
            out.flat[i] = item
        return out

    subject = {"Age": "25", "Gender": "male",
               "EEG": {"stimuli": cell([rng.normal(size=(n, 14)) for n in (200, 230)], (2, 1)),
                       "baseline": cell([rng.normal(size=(100, 14))] * 2, (2, 1))},
               "ScoreValence": np.array([[1.0], [5.0]]), "ScoreArousal": np.array([[2.0], [3.0]]),
               "ScoreDominance": np.array([[4.0], [4.0]])}
    dreamer = {"Data": cell([subject], (1, 1)), "EEG_SamplingRate": 128.0,
               "EEG_Electrodes": cell(CHANNELS, (1, 14))}
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"DREAMER": dreamer})
    return Blob(buf.getvalue())


def _valid_dreamer(ds):
    assert ds.eeg.ndim == 4 and ds.eeg.shape[2] == 14 and ds.eeg.shape[3] >= 1
    assert ds.valence.min() >= 1 and ds.valence.max() <= 5


def test_dreamer_fixture_reads(dreamer_bytes, tmp_path):
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(dreamer_bytes)
    ds = load_dreamer(path, duration=1.0)
    assert ds.eeg.shape == (1, 2, 14, 128)
    np.testing.assert_array_equal(ds.valence.values, [[1, 5]])


@FUZZ
@given(how=damage)
def test_dreamer_damaged(dreamer_bytes, how):
    with tempfile.TemporaryDirectory() as d:
        _check(lambda p: load_dreamer(p, duration=1.0), Path(d) / "DREAMER.mat", dreamer_bytes,
               how, _valid_dreamer)


@pytest.mark.parametrize("kwargs, match", [
    ({"duration": 0}, "finite positive"), ({"duration": -1}, "finite positive"),
    ({"duration": float("nan")}, "finite positive"), ({"subjects": []}, "at least one"),
    ({"subjects": ["a"]}, "int indices"), ({"duration": "1"}, "number of seconds"),
])
def test_dreamer_bad_arguments(dreamer_bytes, tmp_path, kwargs, match):
    path = tmp_path / "DREAMER.mat"
    path.write_bytes(dreamer_bytes)
    with pytest.raises((ValueError, TypeError), match=match):
        load_dreamer(path, **kwargs)


# ---------------------------------------------------------------------------------------------
# embeddings: .npy, .npz, .pt, .h5
def _embedding_files(folder):
    import h5py
    import torch

    emb = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    np.save(folder / "e.npy", emb)
    save_embeddings(folder / "e.npz", emb, ids=np.arange(6), model="test")
    torch.save({"img_features": torch.from_numpy(emb)}, folder / "e.pt")
    with h5py.File(folder / "e.h5", "w") as f:
        f["embeddings"] = emb
    return Blobs({s: (folder / f"e{s}").read_bytes() for s in (".npy", ".npz", ".pt", ".h5")})


@pytest.fixture(scope="module")
def embedding_bytes(tmp_path_factory):
    return _embedding_files(tmp_path_factory.mktemp("emb"))


def _valid_embedding(emb):
    assert emb.ndim == 2 and emb.dtype.kind in "iuf"
    assert np.isfinite(np.asarray(emb, dtype=float)).all()


@FUZZ
@given(how=damage, suffix=st.sampled_from([".npy", ".npz", ".pt", ".h5"]),
       mmap=st.booleans())
def test_embeddings_damaged(embedding_bytes, how, suffix, mmap):
    with tempfile.TemporaryDirectory() as d:
        _check(lambda p: load_embeddings(p, mmap=mmap).load(), Path(d) / f"e{suffix}",
               embedding_bytes[suffix], how, _valid_embedding)


@pytest.mark.parametrize("bad", [np.array([[1.0, np.nan], [0.0, 1.0]]),
                                 np.array([[1.0, np.inf]]), np.array([["a", "b"]])])
def test_embeddings_refuse_nan_inf_and_strings(tmp_path, bad):
    np.save(tmp_path / "e.npy", bad)
    with pytest.raises(DataFormatError, match="NaN or inf|must be numbers") as info:
        load_embeddings(tmp_path / "e.npy")
    assert "e.npy" in str(info.value)


def test_embeddings_text_pt_is_a_clear_error(tmp_path):
    (tmp_path / "e.pt").write_text("not a tensor")
    with pytest.raises(DataFormatError, match=r"e\.pt.*torch \.pt file"):
        load_embeddings(tmp_path / "e.pt")


# ---------------------------------------------------------------------------------------------
# MNIST IDX (gzipped and raw) and the 5,000-image subset CSV
@pytest.fixture(scope="module")
def idx_bytes():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    raw = bytes([0, 0, 0x08, 3]) + b"".join(int(n).to_bytes(4, "big") for n in images.shape)
    raw += images.tobytes()
    return Blobs({"": raw, ".gz": gzip.compress(raw)})


@FUZZ
@given(how=damage, suffix=st.sampled_from(["", ".gz"]))
def test_read_idx_damaged(idx_bytes, how, suffix):
    with tempfile.TemporaryDirectory() as d:
        _check(read_idx, Path(d) / f"train-images-idx3-ubyte{suffix}", idx_bytes[suffix], how,
               lambda a: a.size >= 0)


@pytest.fixture(scope="module")
def subset_bytes():
    rng = np.random.default_rng(3)
    rows = np.hstack([rng.integers(0, 256, size=(20, 784)), np.arange(20)[:, None] % 10])
    return Blob(gzip.compress("\n".join(",".join(map(str, r)) for r in rows).encode() + b"\n"))


def _valid_subset(ds):
    assert ds.images.shape[1:] == (28, 28) and ds.images.dtype == np.uint8
    assert 0 <= int(ds.labels.min()) and int(ds.labels.max()) <= 9


@FUZZ
@given(how=damage)
def test_mnist_subset_damaged(subset_bytes, how):
    with tempfile.TemporaryDirectory() as d:
        _check(load_mnist_subset, Path(d) / "mnist_5k.csv.gz", subset_bytes, how, _valid_subset)
