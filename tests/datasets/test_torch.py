"""as_torch_dataset: items, target alignment, lazy file access and errors."""

import pickle

import h5py
import numpy as np
import pytest
import torch
import xarray as xr
from neurosim.datasets import (
    as_torch_dataset,
    make_eeg_emotion,
    make_eeg_things,
    make_fmri_visual,
)


@pytest.fixture(scope="module")
def fmri():
    return make_fmri_visual(n_subjects=1, n_voxels=200, n_stimuli=60, n_shared=10, random_state=0)[
        "subj01"
    ]


def test_fmri_betas_with_embedding_targets(fmri):
    tds = as_torch_dataset(fmri, x="betas", y="embedding")
    assert len(tds) == fmri.sizes["trial"] and tds.item_shape == (200,)
    for t in (0, 7, len(tds) - 1, -1):
        xb, yb = tds[t]
        assert xb.dtype == torch.float32 and yb.dtype == torch.float32
        np.testing.assert_array_equal(xb.numpy(), fmri.betas.values[t])
        np.testing.assert_array_equal(yb.numpy(), fmri.embedding.values[fmri.stimulus.values[t]])
    with pytest.raises(IndexError, match="out of range"):
        tds[len(tds)]
    # integer targets stay integers; no target gives 1-tuples like TensorDataset
    s = as_torch_dataset(fmri, x="betas", y="stimulus")
    assert s[3][1].dtype == torch.int64 and int(s[3][1]) == int(fmri.stimulus[3])
    assert len(as_torch_dataset(fmri)[0]) == 1
    # a DataLoader batches it
    xb, yb = next(iter(torch.utils.data.DataLoader(tds, batch_size=16)))
    assert xb.shape == (16, 200) and yb.shape == (16, 64)


def test_targets_through_a_per_item_coordinate():
    # the per-trial coordinate "img" gives the row of y along its "img" dimension
    ds = xr.Dataset(
        {"x": (("trial", "voxel"), np.zeros((3, 2))), "emb": (("img", "feature"), [[1.0], [2.0]])},
        coords={"img": ("trial", [1, 0, 1])},
    )
    tds = as_torch_dataset(ds, x="x", y="emb")
    assert [float(tds[i][1][0]) for i in range(3)] == [2.0, 1.0, 2.0]
    # out-of-range positions are an error
    pos = xr.Dataset({"x": (("trial", "voxel"), np.zeros((2, 3)))}, coords={"img": ("trial", [0, 4])})
    pos["emb"] = xr.DataArray([[1.0], [2.0]], dims=("img", "feature"))
    with pytest.raises(ValueError, match="out of range"):
        as_torch_dataset(pos, x="x", y="emb")
    # a y dimension that x does not index stays a feature dimension of y
    other = xr.Dataset(
        {"x": (("trial", "voxel"), np.zeros((2, 3))), "emb": (("img_dim", "feature"), np.ones((3, 1)))}
    )
    assert as_torch_dataset(other, x="x", y="emb")[0][1].shape == (3, 1)


def test_eeg_things_items_over_subject_image_repetition():
    ds = make_eeg_things(n_concepts=3, n_images=6, n_subjects=2)
    tds = as_torch_dataset(ds, x="eeg", y="embedding")
    assert len(tds) == 2 * 6 * 4 and tds.item_shape == (17, 100)
    i = 1 * 24 + 4 * 4 + 3  # subject 1, image 4, repetition 3
    xb, yb = tds[i]
    np.testing.assert_array_equal(xb.numpy(), ds.eeg.values[1, 4, 3])
    np.testing.assert_array_equal(yb.numpy(), ds.embedding.values[4])
    c = as_torch_dataset(ds, x="eeg", y="concept")
    assert int(c[i][1]) == int(ds.concept[4])
    # explicit sample dims: repetition-averaged data of one subject
    avg = ds.eeg.isel(subject=0).mean("repetition")
    a = as_torch_dataset(avg, y=ds.embedding.values, sample_dims="image")
    assert len(a) == 6
    np.testing.assert_allclose(a[2][0].numpy(), avg.values[2], rtol=1e-6)


def test_emotion_labels():
    ds = make_eeg_emotion(n_subjects=2, n_trials=3, duration=2.0)
    tds = as_torch_dataset(ds, x="eeg", y="valence", dtype=torch.float64)
    assert len(tds) == 6 and tds[4][0].dtype == torch.float64 and tds[4][1].dtype == torch.int64
    assert int(tds[4][1]) == int(ds.valence.values[1, 1])


def test_numpy_memmap_hdf5_netcdf_are_read_lazily(tmp_path, fmri):
    arr = fmri.betas.values
    np.save(tmp_path / "betas.npy", arr)
    with h5py.File(tmp_path / "betas.hdf5", "w") as f:
        f.create_dataset("betas", data=(arr * 300).astype(np.int16), chunks=(1, arr.shape[1]))
    fmri.to_netcdf(tmp_path / "subj01.nc")
    y = np.arange(len(arr))
    a = as_torch_dataset(tmp_path / "betas.npy", y=y)
    assert isinstance(a._source, np.memmap)
    np.testing.assert_array_equal(a[5][0].numpy(), arr[5])
    assert int(a[5][1]) == 5
    h = as_torch_dataset(str(tmp_path / "betas.hdf5"), x="betas")
    np.testing.assert_array_equal(h[3][0].numpy(), (arr[3] * 300).astype(np.int16))
    # an explicit 1 MiB chunk cache per open file (HDF5's own default may be 8 MiB)
    assert h._file.id.get_access_plist().get_cache()[2] == 1 << 20
    (tmp_path / "copy.hdf5").write_bytes((tmp_path / "betas.hdf5").read_bytes())  # not open yet
    small = as_torch_dataset(str(tmp_path / "copy.hdf5"), x="betas", h5_cache_bytes=4096)
    small[0]
    assert small._file.id.get_access_plist().get_cache()[2] == 4096
    # the h5py handle is not pickled (DataLoader workers reopen the file)
    h2 = pickle.loads(pickle.dumps(h))
    assert h2._handle is None and np.array_equal(h2[3][0], h[3][0])
    loader = torch.utils.data.DataLoader(h, batch_size=50, num_workers=1)
    assert sum(len(b[0]) for b in loader) == len(arr)
    with h5py.File(tmp_path / "betas.hdf5", "r") as f:  # an open h5py Dataset works too
        assert as_torch_dataset(f["betas"])[0][0].shape == (200,)
    n = as_torch_dataset(tmp_path / "subj01.nc", x="betas", y="embedding")
    assert n._np is None  # lazily indexed, not loaded
    np.testing.assert_array_equal(n[9][1].numpy(), fmri.embedding.values[fmri.stimulus.values[9]])
    # a list of sessions becomes one ConcatDataset
    c = as_torch_dataset([tmp_path / "betas.npy", str(tmp_path / "betas.hdf5")])
    assert len(c) == 2 * len(arr) and c.item_shape == (200,)


@pytest.mark.parametrize(
    ("data", "kwargs", "err", "match"),
    [
        ("missing.h5", {}, FileNotFoundError, "No such file"),
        (np.zeros((3, 2)), dict(y=np.zeros(2)), ValueError, "y has 2 items"),
        (np.zeros((3, 2)), dict(y="label"), TypeError, "names a variable"),
        (np.zeros((3, 2)), dict(dtype="int8"), ValueError, "dtype must be one of"),
        ({"subj01": 1}, {}, TypeError, "mapping"),
        ([], {}, ValueError, "empty list"),
        (3.0, {}, TypeError, "data must be"),
    ],
)
def test_bad_input(data, kwargs, err, match):
    with pytest.raises(err, match=match):
        as_torch_dataset(data, **kwargs)


def test_bad_xarray_input(fmri, tmp_path):
    with pytest.raises(KeyError, match="not a variable"):
        as_torch_dataset(fmri, x="eeg")
    with pytest.raises(KeyError, match="not a variable or coordinate"):
        as_torch_dataset(fmri, x="betas", y="label")
    with pytest.raises(ValueError, match="sample_dims must be"):
        as_torch_dataset(fmri, x="betas", sample_dims=["subject"])
    with pytest.raises(ValueError, match="different item shapes"):
        as_torch_dataset([fmri, fmri.isel(voxel=slice(10))], x="betas")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match="cannot read"):
        as_torch_dataset(tmp_path / "x.txt")
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["other"] = np.zeros(3)
    with pytest.raises(KeyError, match="has no dataset 'betas'"):
        as_torch_dataset(tmp_path / "b.h5")
