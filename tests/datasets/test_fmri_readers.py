"""fMRI readers: NSD float betas and session z-scoring, the MindEye1 webdataset, Haxby (2001)."""

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from neurosim.datasets import load_haxby, load_mindeye_webdataset, load_nsd

from .conftest import _nsd_design

REPO = Path(__file__).resolve().parents[2]


def realdata_dir():
    """``NEUROSIM_REALDATA``, else ``../shared/realdata`` next to the repository, else None."""
    env = os.environ.get("NEUROSIM_REALDATA")
    path = Path(env) if env else REPO.parent / "shared" / "realdata"
    return path if path.is_dir() else None


def haxby_dir():
    root = realdata_dir()
    if root is None or not (root / "haxby2001").is_dir():
        pytest.skip("real recordings not found: set NEUROSIM_REALDATA to the folder holding "
                    "haxby2001/ (or place it at ../shared/realdata)")
    return root / "haxby2001"


# ----------------------------------------------------------------------------------------------
# NSD: float betas, NaN, empty ROI, session-wise z-scoring
# ----------------------------------------------------------------------------------------------
def _nsd_float_root(tmp_path, dtype=np.float32, roi_values=None):
    import h5py
    import nibabel as nib
    import scipy.io

    rng = np.random.default_rng(5)
    order, subjectim, shared = _nsd_design(rng)
    exp = tmp_path / "nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    scipy.io.savemat(exp / "nsd_expdesign.mat", {
        "masterordering": (order + 1)[None].astype(float), "subjectim": (subjectim + 1).astype(float),
        "sharedix": (shared + 1)[None].astype(float)})
    grid = (4, 3, 2)
    roi = np.ones(grid, np.float32) if roi_values is None else roi_values
    d = tmp_path / "nsddata/ppdata/subj01/func1pt8mm/roi"
    d.mkdir(parents=True)
    nib.save(nib.Nifti1Image(roi, np.eye(4)), d / "nsdgeneral.nii.gz")
    d = tmp_path / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    d.mkdir(parents=True)
    sessions = {}
    for n, (offset, scale) in ((1, (5.0, 2.0)), (2, (-3.0, 0.5))):
        b = (offset + scale * rng.normal(size=(*grid, 750))).astype(dtype)
        if n == 1:
            b[0, 0, 0, :3] = np.nan  # 3 NaN betas in one voxel
        sessions[n] = b
        with h5py.File(d / f"betas_session{n:02d}.hdf5", "w") as f:
            f.create_dataset("betas", data=b.T)  # MATLAB order, seen reversed
    return sessions


def test_load_nsd_keeps_float_betas_and_nan(tmp_path):
    sessions = _nsd_float_root(tmp_path)
    with pytest.warns(UserWarning, match="3 NaN betas in 1 of 24 voxels"):
        ds = load_nsd(tmp_path, subject=1, sessions=[1, 2])
    # float betas come back as they are: not / 300, not cast to int16; NaN kept
    expected = np.concatenate([sessions[n].reshape(-1, 750).T for n in (1, 2)])
    np.testing.assert_array_equal(ds.betas.values, expected)
    assert np.isnan(ds.betas.values[:3, 0]).all() and ds.attrs["n_nan"] == 3
    assert ds["n_nan"].values.tolist() == [3] + [0] * 23
    assert ds.betas.dtype == np.float32
    # float64 files too; a session without NaN gives no warning
    import warnings

    sub = tmp_path / "f64"
    sessions64 = _nsd_float_root(sub, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds64 = load_nsd(sub, subject=1, sessions=[2])
    np.testing.assert_allclose(ds64.betas.values, sessions64[2].reshape(-1, 750).T, rtol=1e-6)


def test_load_nsd_zscores_each_session(tmp_path):
    from sklearn.preprocessing import StandardScaler

    sessions = _nsd_float_root(tmp_path)
    with pytest.warns(UserWarning, match="NaN"):
        z = load_nsd(tmp_path, subject=1, sessions=[1, 2], zscore_sessions=True)
    assert z.attrs["units"] == "z-score within session" and z.attrs["zscore_sessions"] == 1
    for n in (1, 2):
        rows = z.session.values == n
        raw = sessions[n].reshape(-1, 750).T
        ok = np.isfinite(raw).all(axis=0)
        # StandardScaler per session, as MindEye's webdataset creation does
        ref = StandardScaler().fit_transform(raw[:, ok].astype(np.float64))
        np.testing.assert_allclose(z.betas.values[rows][:, ok], ref, rtol=1e-5, atol=1e-5)
        # the voxel with NaN: z-scored over its finite trials, NaN kept
        col = z.betas.values[rows][:, 0] if n == 1 else None
        if col is not None:
            assert np.isnan(col[:3]).all()
            assert np.nanmean(col) == pytest.approx(0, abs=1e-6)
            assert np.nanstd(col) == pytest.approx(1, abs=1e-5)
    # averaging the repeats happens after the z-scoring
    with pytest.warns(UserWarning, match="NaN"):
        avg = load_nsd(tmp_path, subject=1, sessions=[1, 2], zscore_sessions=True,
                       average_repeats=True)
    first = avg.stimulus.values[5]
    np.testing.assert_allclose(avg.betas.values[5, 1:],
                               z.betas.values[z.stimulus.values == first][:, 1:].mean(0), rtol=1e-5)


def test_load_nsd_warns_on_an_empty_roi(tmp_path):
    _nsd_float_root(tmp_path, roi_values=np.zeros((4, 3, 2), np.float32))
    with pytest.warns(UserWarning, match="selects no voxel"):
        ds = load_nsd(tmp_path, subject=1, sessions=[1])
    assert ds.betas.shape == (750, 0)


# ----------------------------------------------------------------------------------------------
# MindEye1 / MindBridge webdataset_avg_split
# ----------------------------------------------------------------------------------------------
def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _write_shard(path, samples):
    """A webdataset tar: members <key>.<ext>, grouped by sample, as the official shards."""
    with tarfile.open(path, "w") as tar:
        for key, members in samples.items():
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def _webdataset(root, subjects={1: 30, 2: 20}, extracted=False):  # noqa: B006
    """webdataset_avg_split/{train,val,test}/<split>_subj0N_<k>.tar with official members."""
    rng = np.random.default_rng(0)
    wds = root / "webdataset_avg_split"
    truth = {}
    shared = rng.choice(73000, size=4, replace=False)
    for subj, n_vox in subjects.items():
        truth[subj] = {}
        for split, n_samples, n_shards in (("train", 7, 2), ("val", 2, 1), ("test", 4, 1)):
            keys = [f"sample{int(k):09d}" for k in rng.choice(10**6, n_samples, replace=False)]
            betas = rng.normal(size=(n_samples, 3, n_vox)).astype(np.float16)
            coco = shared if split == "test" else rng.choice(73000, n_samples, replace=False)
            truth[subj][split] = {k: (betas[i], int(coco[i])) for i, k in enumerate(keys)}
            folder = wds / split
            folder.mkdir(parents=True, exist_ok=True)
            for s in range(n_shards):
                part = {k: {"nsdgeneral.npy": _npy(truth[subj][split][k][0]),
                            "coco73k.npy": _npy(np.array([truth[subj][split][k][1]])),
                            "trial.npy": _npy(np.array([0])), "jpg": b"\xff\xd8\xff\xd9"}
                        for k in keys[s::n_shards]}
                if extracted:
                    d = folder / f"subj{subj:02d}"
                    d.mkdir(exist_ok=True)
                    for k, members in part.items():
                        for ext, data in members.items():
                            (d / f"{k}.{ext}").write_bytes(data)
                else:
                    _write_shard(folder / f"{split}_subj{subj:02d}_{s}.tar", part)
    return truth


@pytest.mark.parametrize("extracted", [False, True])
def test_mindeye_webdataset_reader(tmp_path, extracted):
    from neurosim.decoding.preprocessing import repetition_arrays

    truth = _webdataset(tmp_path, extracted=extracted)
    emb = np.random.default_rng(1).normal(size=(73000, 5)).astype("float32")
    ds = load_mindeye_webdataset(tmp_path, subject="subj01", embeddings=emb)
    keys = sorted(truth[1]["train"]) + sorted(truth[1]["val"]) + sorted(truth[1]["test"])
    assert ds.betas.shape == (3 * 13, 30) and ds.attrs["n_repeats"] == 3
    assert ds.sample.values[::3].tolist() == keys  # sorted by key within each split
    every = truth[1]["train"] | truth[1]["val"] | truth[1]["test"]
    expected = np.concatenate([every[k][0] for k in keys]).astype(np.float32)
    np.testing.assert_array_equal(ds.betas.values, expected)
    assert ds.stimulus.values[::3].tolist() == [every[k][1] for k in keys]
    assert ds.repeat.values.tolist() == [0, 1, 2] * 13
    assert sorted(np.flatnonzero(ds.shared.values)) == sorted(v[1] for v in truth[1]["test"].values())
    np.testing.assert_array_equal(ds.embedding.values, emb)
    # back to (image, repetition, voxel) in the official order: MindBridge's "first N images"
    betas, stim, _ = repetition_arrays(ds, split="train")
    train_keys = sorted(truth[1]["train"]) + sorted(truth[1]["val"])
    np.testing.assert_array_equal(betas, np.stack([every[k][0] for k in train_keys]).astype("f4"))
    only_test = load_mindeye_webdataset(tmp_path / "webdataset_avg_split", 2, splits="test")
    assert only_test.betas.shape == (12, 20)


def test_mindeye_webdataset_feeds_find_nsd(tmp_path):
    from neurosim.datasets import find_nsd, save_embeddings

    _webdataset(tmp_path)
    assert find_nsd(tmp_path) is None  # no embeddings yet
    with pytest.raises(FileNotFoundError, match="nsd_embeddings"):
        find_nsd(tmp_path, on_missing="raise")
    save_embeddings(tmp_path / "nsd_embeddings.npz",
                    np.random.default_rng(0).normal(size=(73000, 4)).astype("float32"))
    data = find_nsd(tmp_path)
    assert sorted(data) == ["subj01", "subj02"]
    assert data["subj02"].betas.shape == (3 * (7 + 4), 20)  # train + test splits


def test_mindeye_webdataset_errors(tmp_path):
    _webdataset(tmp_path)
    wds = tmp_path / "webdataset_avg_split"
    with pytest.raises(FileNotFoundError, match=r"no train/val/test shards of subject 3.*found "
                                                r"subjects and splits: \{1: "):
        load_mindeye_webdataset(tmp_path, 3)
    with pytest.raises(ValueError, match="subject must be an NSD subject"):
        load_mindeye_webdataset(tmp_path, 9)
    with pytest.raises(ValueError, match="splits must be"):
        load_mindeye_webdataset(tmp_path, 1, splits=("training",))
    # a shard of another subject's voxel set mixed in: refused, naming the shard
    _write_shard(wds / "train" / "train_subj01_2.tar",
                 {"sample000000001": {"nsdgeneral.npy": _npy(np.zeros((3, 20), np.float16)),
                                      "coco73k.npy": _npy(np.array([5]))}})
    with pytest.raises(ValueError, match=r"has shape \(3, 30\), but train_subj01_2\.tar: "
                                         r"sample000000001\.nsdgeneral\.npy has \(3, 20\)"):
        load_mindeye_webdataset(tmp_path, 1)
    _write_shard(wds / "train" / "train_subj01_2.tar",
                 {"sample000000001": {"nsdgeneral.npy": _npy(np.zeros((3, 30), np.float16))}})
    with pytest.raises(ValueError, match="sample000000001' has no 'coco73k.npy' member"):
        load_mindeye_webdataset(tmp_path, 1)
    (wds / "train" / "train_subj01_2.tar").write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="not a readable tar shard"):
        load_mindeye_webdataset(tmp_path, 1)
    with pytest.raises(FileNotFoundError, match="webdataset folder not found"):
        load_mindeye_webdataset(tmp_path / "nowhere", 1)


# ----------------------------------------------------------------------------------------------
# Haxby et al. (2001)
# ----------------------------------------------------------------------------------------------
def _nilearn_haxby(root, n_runs=3, per_run=12):
    """nilearn's fetch_haxby layout: haxby2001/subj2/bold.nii.gz, labels.txt, mask4_vt.nii.gz."""
    import nibabel as nib

    rng = np.random.default_rng(0)
    folder = root / "haxby2001" / "subj2"
    folder.mkdir(parents=True)
    affine = np.diag([3.5, 3.75, 3.75, 1.0])
    bold = rng.normal(100, 5, size=(4, 5, 3, n_runs * per_run)).astype(np.int16)
    img = nib.Nifti1Image(bold, affine)
    img.header.set_zooms((3.5, 3.75, 3.75, 2.5))
    nib.save(img, folder / "bold.nii.gz")
    vt = np.zeros((4, 5, 3), np.int16)
    vt[1:3, 2:4, 1] = 1
    nib.save(nib.Nifti1Image(vt, affine), folder / "mask4_vt.nii.gz")
    labels = np.tile(["rest", "face", "house", "rest"], n_runs * per_run // 4)
    runs = np.repeat(np.arange(n_runs), per_run)
    (folder / "labels.txt").write_text("labels chunks\n" + "".join(
        f"{lab} {r}\n" for lab, r in zip(labels, runs)))
    return folder, bold, vt, labels, runs


def test_haxby_nilearn_layout(tmp_path):
    folder, bold, vt, labels, runs = _nilearn_haxby(tmp_path)
    ds = load_haxby(tmp_path / "haxby2001", subject=2)
    assert ds.attrs["layout"] == "nilearn" and ds.attrs["mask"] == "vt"
    assert ds.bold.shape == (36, int(vt.sum()))
    ijk = np.argwhere(vt > 0)
    np.testing.assert_array_equal(ds.bold.values, bold[tuple(ijk.T)].T.astype(np.float32))
    assert ds.label.values.tolist() == labels.tolist()
    assert ds.run.values.tolist() == runs.tolist()
    assert ds.time.values[:3].tolist() == [0.0, 2.5, 5.0] and ds.attrs["tr"] == 2.5
    assert load_haxby(folder, subject=2).bold.shape == ds.bold.shape  # the subject folder itself
    assert load_haxby(tmp_path / "haxby2001", 2, mask=None).sizes["voxel"] == 60
    # bad input: labels missing, labels not matching, unknown mask
    with pytest.raises(ValueError, match="unknown mask 'ffa'"):
        load_haxby(tmp_path / "haxby2001", 2, mask="ffa")
    (folder / "labels.txt").write_text("labels chunks\nrest 0\n")
    with pytest.raises(ValueError, match="labels.txt has 1 labelled volumes, the BOLD series 36"):
        load_haxby(tmp_path / "haxby2001", 2)
    (folder / "labels.txt").unlink()
    with pytest.raises(ValueError, match="no labels for .*bold.nii.gz"):
        load_haxby(tmp_path / "haxby2001", 2)
    with pytest.raises(FileNotFoundError, match="no Haxby data"):
        load_haxby(tmp_path, 4)


@pytest.mark.realdata
def test_haxby_real_layouts_agree():
    """PyMVPA's concatenated copy and the OpenfMRI runs + onset files give the same data set."""
    root = haxby_dir()
    flat = load_haxby(root)
    runs = load_haxby(root, resolution="1slice")
    assert flat.bold.shape == (1452, 530) and flat.attrs["layout"] == "pymvpa"
    assert runs.attrs["layout"] == "openfmri" and runs.attrs["mask"] == "mask"
    # labels rebuilt from the FSL onset files (volume at index x TR inside a 22.5-s block) equal
    # the distributed per-volume labels
    assert runs.label.values.tolist() == flat.label.values.tolist()
    np.testing.assert_array_equal(runs.run.values, flat.run.values)
    np.testing.assert_array_equal(runs.bold.values, flat.bold.values)
    values, counts = np.unique(flat.label.values, return_counts=True)
    assert dict(zip(values, counts)) == {**dict.fromkeys(
        ["bottle", "cat", "chair", "face", "house", "scissors", "scrambledpix", "shoe"], 108),
        "rest": 588}
    assert np.bincount(flat.run.values).tolist() == [121] * 12
    whole = load_haxby(root, resolution="25mm")
    assert whole.bold.shape == (1452, 129) and whole.attrs["mask"] == "brain"
    assert load_haxby(root, resolution="25mm", mask="vt").sizes["voxel"] == 1
