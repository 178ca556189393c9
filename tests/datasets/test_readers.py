"""Readers of the real formats, round-tripped on fixtures written in those formats (see conftest.py)."""

import gzip
import pickle

import h5py
import numpy as np
import pandas as pd
import pytest
from neurosim.datasets import (
    load_dreamer,
    load_embeddings,
    load_mnist,
    load_nsd,
    load_nsd_braincorl,
    load_nsd_expdesign,
    load_nsd_images,
    load_nsd_mindeye2,
    load_things_eeg2,
    load_things_fmri,
    load_things_meg,
    make_eeg_emotion,
    read_idx,
    save_embeddings,
)

# ---------------------------------------------------------------------------------------------------
# MNIST


def test_mnist_round_trip(mnist_dir):
    folder, arrays = mnist_dir
    train = load_mnist(folder)
    assert train.images.shape == (12, 28, 28) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images, arrays["train"][0])
    np.testing.assert_array_equal(train.labels, arrays["train"][1])
    assert train.labels.dtype == np.int64 and set(train.split.values) == {"train"}
    both = load_mnist(folder, split="all", variant="fashion")
    assert both.sizes["sample"] == 17 and list(both.split.values[-5:]) == ["test"] * 5
    assert both.attrs["classes"][9] == "Ankle boot"


def test_mnist_errors(mnist_dir, tmp_path):
    folder, _ = mnist_dir
    with pytest.raises(ValueError, match="split must be"):
        load_mnist(folder, split="val")
    with pytest.raises(ValueError, match="variant must be"):
        load_mnist(folder, variant="kmnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_mnist(folder, split="test")
    # truncated file: header promises more than follows
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "rb") as f:
        data = f.read()
    with gzip.open(tmp_path / "cut-idx3-ubyte.gz", "wb") as f:
        f.write(data[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "cut-idx3-ubyte.gz")
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(b"\x1f\x8bnot idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")


# ---------------------------------------------------------------------------------------------------
# DREAMER


def test_dreamer_round_trip(dreamer_mat):
    path, truth = dreamer_mat
    ds = load_dreamer(path, duration=2.0)
    assert ds.eeg.dims == ("subject", "trial", "channel", "time")
    assert ds.eeg.shape == (2, 18, 14, 256) and ds.eeg.dtype == np.float32
    assert ds.baseline.shape == (2, 18, 14, 7808)
    assert list(ds.subject.values) == ["S01", "S02"] and ds.attrs["sfreq"] == 128.0
    # the LAST `duration` seconds of each film, in volts
    np.testing.assert_allclose(ds.eeg.values[1, 5], truth["films"][1][5][-256:].T * 1e-6, rtol=1e-6)
    np.testing.assert_allclose(ds.baseline.values[0, 17], truth["baselines"][0][17].T * 1e-6, rtol=1e-6)
    for k, name in enumerate(("valence", "arousal", "dominance")):
        np.testing.assert_array_equal(ds[name].values, np.array([s[k] for s in truth["scores"]]))
        assert ds[name].dtype.kind == "i"
    np.testing.assert_array_equal(ds.film_samples[0], [f.shape[0] for f in truth["films"][0]])
    assert list(ds.age.values) == ["25", "25"]
    assert ds.ch_pos.shape == (14, 3) and np.isfinite(ds.ch_pos).all()
    # AF3 is left and anterior, O2 right and posterior (head frame: x right, y anterior)
    af3, o2 = ds.ch_pos.sel(channel="AF3").values, ds.ch_pos.sel(channel="O2").values
    assert af3[0] < 0 < af3[1] and o2[1] < 0 < o2[0]
    one = load_dreamer(path.parent, duration=None, subjects=[1])  # folder path; shortest film kept
    assert one.sizes["subject"] == 1 and one.sizes["time"] == min(
        f.shape[0] for s in truth["films"] for f in s
    )


def test_dreamer_matches_simulated_structure(dreamer_mat):
    real = load_dreamer(dreamer_mat[0], duration=2.0)
    sim = make_eeg_emotion(n_subjects=2, n_trials=18, duration=2.0)
    for name in ("eeg", "baseline", "valence", "arousal", "dominance"):
        assert real[name].dims == sim[name].dims and real[name].dtype == sim[name].dtype
        assert real[name].shape == sim[name].shape
    assert list(real.channel.values) == list(sim.channel.values)
    np.testing.assert_allclose(real.baseline_time, sim.baseline_time)


def test_dreamer_errors(dreamer_mat, tmp_path):
    with pytest.raises(FileNotFoundError, match="zenodo.org/record/546113"):
        load_dreamer(tmp_path / "DREAMER.mat")
    with pytest.raises(ValueError, match="longer than the shortest film"):
        load_dreamer(dreamer_mat[0], duration=60.0)
    with pytest.raises(ValueError, match="0-based indices below 2"):
        load_dreamer(dreamer_mat[0], duration=1.0, subjects=[2])
    import scipy.io

    scipy.io.savemat(tmp_path / "other.mat", {"x": 1.0})
    with pytest.raises(ValueError, match="no variable 'DREAMER'"):
        load_dreamer(tmp_path / "other.mat")


# ---------------------------------------------------------------------------------------------------
# NSD


def test_nsd_expdesign_is_zero_based(nsd_root):
    root, truth = nsd_root
    d = load_nsd_expdesign(root)
    np.testing.assert_array_equal(d["masterordering"], truth["order"])
    np.testing.assert_array_equal(d["subjectim"], truth["subjectim"])
    np.testing.assert_array_equal(d["sharedix"], truth["shared"])


def test_nsd_expdesign_v73(nsd_root, tmp_path):
    """A MATLAB v7.3 copy (HDF5 with a 512-byte MATLAB header, arrays stored column-major)."""
    root, truth = nsd_root
    path = tmp_path / "nsd_expdesign.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["masterordering"] = (truth["order"] + 1)[None, :].astype(np.float64).T
        f["subjectim"] = (truth["subjectim"] + 1).astype(np.float64).T
        f["sharedix"] = (truth["shared"] + 1)[None, :].astype(np.float64).T
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .")
    d = load_nsd_expdesign(path)
    np.testing.assert_array_equal(d["subjectim"], truth["subjectim"])
    np.testing.assert_array_equal(d["masterordering"], truth["order"])


@pytest.mark.parametrize("fmt", ["nifti", "hdf5"])
def test_nsd_betas_round_trip(nsd_root, fmt):
    root, truth = nsd_root
    ds = load_nsd(root, subject=1, sessions=[2], fmt=fmt)
    mask = truth["roi"] >= 1
    ijk = np.argwhere(mask)
    assert ds.betas.shape == (750, len(ijk)) and ds.betas.dtype == np.float32
    expected = (
        truth["sessions"][2][mask].T.astype(np.float32) / 300
    )  # int16 / 300 -> percent signal change
    np.testing.assert_allclose(ds.betas.values, expected, rtol=1e-6)
    np.testing.assert_array_equal(np.column_stack([ds.i, ds.j, ds.k]), ijk)
    np.testing.assert_allclose(ds.x, ijk[:, 0] * 1.8 - 10.0, rtol=1e-6)  # NIfTI affines are float32
    # trial t of session 2 is global trial 750 + t; nsdId = subjectim[0, masterordering - 1] - 1
    t = np.arange(750)
    subj_img = truth["order"][750 + t]
    np.testing.assert_array_equal(ds.subject_image, subj_img)
    np.testing.assert_array_equal(ds.stimulus, truth["subjectim"][0, subj_img])
    # shared: on the stimulus dimension (nsdId), like make_fmri_visual; the subject's first 1,000 images
    np.testing.assert_array_equal(ds.shared.values[ds.stimulus.values], subj_img < 1000)
    assert ds.shared.sum() == 1000 and np.all(ds.shared.values[truth["shared"]])
    assert set(np.unique(ds.session)) == {2} and ds.trial_in_session[-1] == 749
    # repeat counts presentations over the whole experiment (sessions 1 and 2)
    first = truth["order"][:1500]
    for tt in (0, 100, 749):
        assert ds.repeat.values[tt] == np.sum(first[: 750 + tt] == first[750 + tt])


def test_nsd_all_sessions_and_average(nsd_root):
    root, truth = nsd_root
    ds = load_nsd(root, subject=1)  # every session file present
    assert ds.sizes["trial"] == 1500 and list(np.unique(ds.session)) == [1, 2]
    avg = load_nsd(root, subject=1, average_repeats=True)
    ids, counts = np.unique(ds.stimulus, return_counts=True)
    np.testing.assert_array_equal(avg.stimulus, ids)
    np.testing.assert_array_equal(avg.n_averaged, counts)
    k = int(np.argmax(counts))
    assert avg.betas.dims == ("trial", "voxel") and avg.sizes["stimulus"] == 73000
    np.testing.assert_allclose(
        avg.betas.values[k], ds.betas.values[ds.stimulus.values == ids[k]].mean(0), rtol=1e-5
    )


def test_nsd_with_embeddings_feeds_the_decoders_layout(nsd_root):
    root, _ = nsd_root
    emb = np.random.default_rng(0).normal(size=(73000, 3)).astype(np.float32)
    ds = load_nsd(root, subject=1, sessions=[1], embeddings=emb)
    assert ds.embedding.dims == ("stimulus", "feature")
    np.testing.assert_array_equal(ds.embedding.values[ds.stimulus.values], emb[ds.stimulus.values])
    with pytest.raises(ValueError, match="embeddings must be"):
        load_nsd(root, subject=1, sessions=[1], embeddings=emb[:10])


def test_nsd_images(nsd_root):
    root, _ = nsd_root
    imgs = load_nsd_images(root, [3, 0, 3])
    assert imgs.shape == (3, 425, 425, 3) and imgs.dtype == np.uint8
    with h5py.File(root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5") as f:
        np.testing.assert_array_equal(imgs[1], f["imgBrick"][0])
        np.testing.assert_array_equal(imgs[2], f["imgBrick"][3])
    with pytest.raises(ValueError, match="nsd_ids must lie in"):
        load_nsd_images(root, [4])


def test_nsd_errors(nsd_root, tmp_path):
    root, _ = nsd_root
    with pytest.raises(ValueError, match="subject must be an int from 1 to 8"):
        load_nsd(root, subject=9)
    with pytest.raises(ValueError, match="sessions 1..40"):
        load_nsd(root, subject=1, sessions=[41])
    with pytest.raises(FileNotFoundError, match="betas_session03"):
        load_nsd(root, subject=1, sessions=[3])
    with pytest.raises(FileNotFoundError, match="ROI file not found"):
        load_nsd(root, subject=2)
    with pytest.raises(FileNotFoundError, match="Terms and Conditions"):
        load_nsd(tmp_path)


def test_nsd_mindeye2_and_braincorl(tmp_path):
    rng = np.random.default_rng(0)
    betas = rng.normal(size=(40, 25)).astype(np.float32)
    with h5py.File(tmp_path / "betas_all_subj01_fp32_renorm.hdf5", "w") as f:
        f["betas"] = betas
    ds = load_nsd_mindeye2(tmp_path / "betas_all_subj01_fp32_renorm.hdf5", trials=[5, 1, 5])
    np.testing.assert_array_equal(ds.betas, betas[[5, 1, 5]])
    np.testing.assert_array_equal(ds.global_trial, [5, 1, 5])
    assert load_nsd_mindeye2(tmp_path / "betas_all_subj01_fp32_renorm.hdf5").sizes["trial"] == 40
    with pytest.raises(ValueError, match="trials must lie in"):
        load_nsd_mindeye2(tmp_path / "betas_all_subj01_fp32_renorm.hdf5", trials=[40])
    feats = rng.normal(size=(30, 8)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    np.save(tmp_path / "s1_unique_img_feats_normed.npy", feats)
    np.save(tmp_path / "s1_unique_nrn_feats_msk.npy", rng.normal(size=(30, 12)).astype(np.float32))
    np.save(tmp_path / "s1_gt.npy", rng.normal(size=(12, 9)).astype(np.float32))
    bc = load_nsd_braincorl(tmp_path, subject=1)
    assert bc.betas.shape == (30, 12) and bc.embedding.shape == (30, 8) and bc.gt.shape == (12, 9)
    np.testing.assert_array_equal(bc.embedding, feats)
    with pytest.raises(FileNotFoundError, match="common_img_feats_normed"):
        load_nsd_braincorl(tmp_path, subject=1, split="test")


# ---------------------------------------------------------------------------------------------------
# THINGS-EEG2


def test_things_eeg2_official(things_eeg2_root):
    root, data = things_eeg2_root
    ds = load_things_eeg2(root, subjects=[1, 2], split="train")
    assert ds.eeg.dims == ("subject", "image", "repetition", "channel", "time")
    assert ds.eeg.shape == (2, 30, 4, 17, 100) and ds.eeg.dtype == np.float32
    np.testing.assert_allclose(ds.eeg.values[1], data[2, "training"], rtol=1e-6)
    assert ds.attrs["sfreq"] == 100.0 and float(ds.time[0]) == pytest.approx(-0.2)
    assert list(ds.subject.values) == ["sub-01", "sub-02"]
    np.testing.assert_array_equal(ds.concept, np.repeat(np.arange(3), 10))  # '00001_x' -> 0
    assert ds.concept_name.values[10] == "concept1"
    assert np.isfinite(ds.ch_pos).all() and float(ds.ch_pos.sel(channel="Oz")[1]) < -0.08
    te = load_things_eeg2(root, subjects=2, split="test")
    assert te.eeg.shape == (1, 5, 80, 17, 100)
    np.testing.assert_allclose(te.eeg.values[0], data[2, "test"], rtol=1e-6)


def test_things_eeg2_250hz_pickle(things_eeg2_250hz):
    root, x = things_eeg2_250hz
    ds = load_things_eeg2(root, subjects=[1])
    assert ds.eeg.shape == (1, 4, 2, 63, 250) and ds.attrs["sfreq"] == 250.0
    # the first 50 of the 300 times were dropped from the data: time runs from 0 s
    assert float(ds.time[0]) == pytest.approx(0.0) and float(ds.time[-1]) == pytest.approx(0.996)
    np.testing.assert_allclose(ds.eeg.values[0], x, rtol=1e-6)
    np.testing.assert_array_equal(ds.concept, np.arange(4) // 10)  # no metadata: the files' ordering


def test_things_eeg2_errors(things_eeg2_root, tmp_path):
    root, _ = things_eeg2_root
    with pytest.raises(FileNotFoundError, match="osf.io/anp5v"):
        load_things_eeg2(root, subjects=[3])
    with pytest.raises(ValueError, match="numbered 1..10"):
        load_things_eeg2(root, subjects=[11])
    with pytest.raises(ValueError, match="split must be"):
        load_things_eeg2(root, split="val")
    (tmp_path / "sub-01").mkdir()
    np.save(tmp_path / "sub-01" / "preprocessed_eeg_training.npy", {"eeg": np.zeros(3)})
    with pytest.raises(ValueError, match="no key 'preprocessed_eeg_data'"):
        load_things_eeg2(tmp_path)


# ---------------------------------------------------------------------------------------------------
# THINGS-MEG


@pytest.fixture(scope="module")
def things_meg_root(tmp_path_factory):
    import mne

    rng = np.random.default_rng(4)
    root = tmp_path_factory.mktemp("things_meg")
    info = mne.create_info([f"MLC{i:02d}-1609" for i in range(1, 9)], 200.0, "mag")
    train_ids = np.arange(1, 21)  # 1-based rows of image_paths.csv, shown once
    test_ids = np.array([101, 102, 103])  # shown 3 times (12 in the real data)
    events = rng.permutation(np.concatenate([train_ids, np.repeat(test_ids, 3), [999999] * 4]))
    ev = np.column_stack([np.arange(len(events)) * 300, np.zeros(len(events), int), events])
    data = rng.normal(size=(len(events), 8, 41)) * 1e-13
    event_id = {str(e): int(e) for e in np.unique(events)}
    epochs = mne.EpochsArray(data, info, events=ev, tmin=-0.1, event_id=event_id, verbose="error")
    epochs.save(root / "preprocessed_P1-epo.fif", verbose="error")
    return root, events, data


def test_things_meg(things_meg_root):
    root, events, data = things_meg_root
    # the split by repetition count (the zero-shot split is tested in test_brainflora.py)
    tr = load_things_meg(root, subjects=[1], split="train", protocol="repetition")
    assert tr.meg.dims == ("subject", "image", "repetition", "channel", "time")
    assert tr.meg.shape == (1, 20, 1, 8, 41) and tr.attrs["sfreq"] == 200.0
    np.testing.assert_array_equal(tr.image, np.arange(20))  # 0-based rows
    e = int(np.flatnonzero(events == 7)[0])
    np.testing.assert_allclose(tr.meg.values[0, 6, 0], data[e], rtol=1e-6)
    te = load_things_meg(root / "preprocessed_P1-epo.fif", subjects=1, split="test", decim=2,
                         protocol="repetition")
    assert te.meg.shape == (1, 3, 3, 8, 21) and te.attrs["sfreq"] == 100.0
    reps = np.flatnonzero(events == 102)
    np.testing.assert_allclose(te.meg.values[0, 1], data[reps][..., ::2], rtol=1e-6)
    assert 999998 not in te.image.values  # catch trials dropped
    assert te.ch_pos.shape == (8, 3)
    with pytest.raises(FileNotFoundError, match="ds004212"):
        load_things_meg(root, subjects=[2], protocol="repetition")


# ---------------------------------------------------------------------------------------------------
# THINGS-fMRI


def _write_pandas_fixed_frame(path, key, frame):
    """pandas ``to_hdf(format="fixed")`` layout (as PyTables writes it), one block per dtype."""
    with h5py.File(path, "w") as f:
        g = f.create_group(key)
        blocks = [[c for c in frame.columns if frame[c].dtype == dt] for dt in frame.dtypes.unique()]
        g.attrs.update(pandas_type=b"frame", pandas_version=b"0.15.2", ndim=2, nblocks=len(blocks))
        g["axis0"] = np.array([c.encode() for c in frame.columns])
        g["axis1"] = frame.index.to_numpy()
        for b, cols in enumerate(blocks):
            g[f"block{b}_items"] = np.array([c.encode() for c in cols])
            g[f"block{b}_values"] = frame[cols].to_numpy()  # (rows, items), flagged transposed
            g[f"block{b}_values"].attrs["transposed"] = True


def test_things_fmri(tmp_path):
    rng = np.random.default_rng(5)
    n_vox, stimuli = 7, ["a_01b.jpg", "b_02s.jpg", "t_01b.jpg", "t_01b.jpg", "c_03s.jpg"]
    values = rng.normal(size=(n_vox, len(stimuli)))
    frame = pd.DataFrame(values, columns=[str(i) for i in range(len(stimuli))])
    frame.insert(0, "voxel_id", np.arange(100, 100 + n_vox))
    _write_pandas_fixed_frame(tmp_path / "sub-01_ResponseData.h5", "ResponseData", frame)
    pd.DataFrame(
        {
            "voxel_id": np.arange(100, 100 + n_vox)[::-1],
            "V1": [1, 0, 0, 1, 0, 0, 1],
            "lFFA": [0, 0, 1, 0, 0, 0, 0],
            "voxel_x": np.arange(n_vox)[::-1],
        }
    ).assign(V1=lambda d: d.V1.astype(bool), lFFA=lambda d: d.lFFA.astype(bool)).to_csv(
        tmp_path / "sub-01_VoxelMetadata.csv", index=False
    )
    pd.DataFrame(
        {
            "trial_type": ["train", "train", "test", "test", "train"],
            "stimulus": stimuli,
            "session": [1, 1, 1, 2, 2],
            "concept": ["a", "b", "t", "t", "c"],
        }
    ).to_csv(tmp_path / "sub-01_StimulusMetadata.csv", index=False)
    ds = load_things_fmri(tmp_path, subject=1)
    assert ds.betas.shape == (5, 7) and ds.betas.dtype == np.float32
    np.testing.assert_allclose(ds.betas.values, values.T, rtol=1e-6)
    np.testing.assert_array_equal(ds.voxel_id, np.arange(100, 107))
    np.testing.assert_array_equal(ds.voxel_x, np.arange(7))  # metadata aligned by voxel_id
    np.testing.assert_array_equal(ds.repeat, [0, 0, 0, 1, 0])
    assert list(ds.trial_type.values) == ["train", "train", "test", "test", "train"]
    roi = load_things_fmri(tmp_path, subject=1, rois=["V1", "lFFA"])
    assert roi.sizes["voxel"] == 4 and roi.V1.dtype == bool
    with pytest.raises(ValueError, match="unknown ROI columns"):
        load_things_fmri(tmp_path, subject=1, rois=["V9"])
    with pytest.raises(FileNotFoundError, match="figshare"):
        load_things_fmri(tmp_path, subject=2)


# ---------------------------------------------------------------------------------------------------
# embeddings


def test_embeddings_formats(tmp_path):
    import torch
    rng = np.random.default_rng(6)
    emb = rng.normal(size=(6, 4)).astype(np.float32)
    path = save_embeddings(
        tmp_path / "e.npz", emb, ids=np.arange(10, 16), model="ViT-H-14", pretrained="laion2b_s32b_b79k"
    )
    a = load_embeddings(path)
    assert a.dims == ("stimulus", "feature") and a.attrs["pretrained"] == "laion2b_s32b_b79k"
    np.testing.assert_array_equal(a, emb)
    np.testing.assert_array_equal(a.stimulus_id, np.arange(10, 16))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_embeddings(path, emb)
    save_embeddings(path, 2 * emb, overwrite=True)
    np.testing.assert_array_equal(load_embeddings(path), 2 * emb)
    np.save(tmp_path / "e.npy", emb)
    np.testing.assert_array_equal(load_embeddings(tmp_path / "e.npy"), emb)
    torch.save(
        {"img_features": torch.from_numpy(emb).half(), "text_features": torch.zeros(3, 4)},
        tmp_path / "ViT-H-14_features_train.pt",
    )
    p = load_embeddings(tmp_path / "ViT-H-14_features_train.pt")
    np.testing.assert_allclose(p, emb, atol=1e-2)
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f["embeddings"] = emb
        f["ids"] = np.array([b"x%d" % i for i in range(6)])
    h = load_embeddings(tmp_path / "e.h5")
    assert h.stimulus_id.values[2] == "x2"
    import hashlib

    digest = hashlib.sha256((tmp_path / "e.npy").read_bytes()).hexdigest()
    assert load_embeddings(tmp_path / "e.npy", known_hash=f"sha256:{digest}").attrs["sha256"] == digest
    with pytest.raises(ValueError, match="does not match"):
        load_embeddings(tmp_path / "e.npy", known_hash="sha256:" + "0" * 64)
    with pytest.raises(KeyError, match="give key="):
        torch.save({"a": torch.zeros(2, 2)}, tmp_path / "x.pt")
        load_embeddings(tmp_path / "x.pt")
    with pytest.raises(ValueError, match="2-D float array"):
        save_embeddings(tmp_path / "bad.npz", np.zeros(3))
    with open(tmp_path / "x.pkl", "wb") as f:
        pickle.dump(emb, f)
    with pytest.raises(ValueError, match="cannot read"):
        load_embeddings(tmp_path / "x.pkl")
