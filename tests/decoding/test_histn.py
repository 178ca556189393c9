"""Tests of HiSTN: architecture, label smoothing, DREAMER preprocessing, protocols and learning."""


import numpy as np
import pytest
import torch
from neurosim.decoding import (
    HiSTN,
    Trainer,
    gaussian_ordinal_labels,
    leave_one_subject_out_split,
    majority_vote_labels,
    make_windows,
    metrics,
    preprocess_dreamer,
    subject_dependent_split,
    time_block_folds,
)
from neurosim.decoding import _histn as histn_module


def test_default_is_dreamer_configuration_with_about_1000_parameters():
    model = HiSTN()
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 1000 <= n <= 1200
    assert n == 1181  # hand count of the paper's layers (reference notes, section 4.2)
    out = model(torch.randn(3, 14, 128))
    assert out.shape == (3, 5)
    clone = HiSTN.from_config(model.get_config())
    assert sum(p.numel() for p in clone.parameters()) == sum(p.numel() for p in model.parameters())


def test_bad_input_shapes_and_values():
    model = HiSTN()
    with pytest.raises(ValueError, match=r"\(batch, 14, 128\)"):
        model(torch.zeros(2, 13, 128))
    with pytest.raises(ValueError, match=r"\(batch, 14, 128\)"):
        model(torch.zeros(2, 14, 256))
    with pytest.raises(ValueError, match="NaN"):
        model.check_input(torch.full((1, 14, 128), float("nan")))
    with pytest.raises(ValueError, match="256.0 Hz"):
        model.check_input(torch.zeros(1, 14, 128), sfreq=256.0)
    with pytest.raises(ValueError, match="regions"):
        HiSTN(n_chans=10)
    with pytest.raises(ValueError, match="labels must be in"):
        model.training_step((torch.zeros(2, 14, 128), torch.tensor([0, 5])))


def test_gaussian_ordinal_labels_match_paper_values():
    p = gaussian_ordinal_labels([2, 0, 4], 5, 0.5).numpy()
    np.testing.assert_allclose(p[0], [0.0003, 0.1065, 0.7866, 0.1065, 0.0003], atol=1e-4)
    np.testing.assert_allclose(p[1], [0.8805, 0.1192, 0.0003, 0, 0], atol=1e-4)
    np.testing.assert_allclose(p[2], p[1][::-1], atol=1e-7)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="labels must be in"):
        gaussian_ordinal_labels([-1], 5)
    with pytest.raises(ValueError, match="integer"):
        gaussian_ordinal_labels(torch.tensor([0.5]), 5)


def test_chebyshev_basis_of_a_chain():
    basis = histn_module.chebyshev_basis([[0, 1, 0], [1, 0, 1], [0, 1, 0]], 2)
    L = np.array([[1, -1, 0], [-1, 2, -1], [0, -1, 1]], float)  # eigenvalues 0, 1, 3
    Lt = 2 * L / 3 - np.eye(3)
    np.testing.assert_allclose(basis[0], np.eye(3))
    np.testing.assert_allclose(basis[1], Lt)
    np.testing.assert_allclose(basis[2], 2 * Lt @ Lt - np.eye(3))
    assert np.all(np.abs(np.linalg.eigvalsh(Lt)) <= 1 + 1e-12)


def _tiny_dreamer():
    import xarray as xr

    rng = np.random.default_rng(0)
    eeg = rng.normal(2.0, 3.0, size=(2, 3, 14, 1024)).astype(np.float32)
    base = rng.normal(2.0, 3.0, size=(2, 3, 14, 61 * 128)).astype(np.float32)
    return xr.Dataset({"eeg": (("subject", "trial", "channel", "time"), eeg),
                       "baseline": (("subject", "trial", "channel", "baseline_time"), base)},
                      attrs={"sfreq": 128.0})


def test_preprocess_dreamer_by_hand():
    ds = _tiny_dreamer()
    out = preprocess_dreamer(ds, duration=4.0, scale=False)
    assert out.shape == (2, 3, 14, 512)
    seg = ds["baseline"].values[..., int(25.5 * 128):int(35.5 * 128)].astype(float)
    x = ds["eeg"].values[..., -512:].astype(float)
    expected = (x - seg.mean(-1, keepdims=True)) / seg.std(-1, keepdims=True)
    np.testing.assert_allclose(out.values, expected, rtol=1e-5, atol=1e-5)
    scaled = preprocess_dreamer(ds, duration=4.0).values
    np.testing.assert_allclose(np.abs(scaled).max(-1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="duration"):
        preprocess_dreamer(ds, duration=60.0)
    with pytest.raises(ValueError, match="'baseline'"):
        preprocess_dreamer(ds.drop_vars("baseline"))


def test_folds_and_windows():
    folds = time_block_folds(7680, 10, gap=128)
    tests = np.stack([f["test"] for f in folds])
    assert np.all(tests.sum(0) == 1)  # every sample tested exactly once
    for i, f in enumerate(folds):
        assert not np.any(f["train"] & (f["test"] | f["val"]))
        assert np.array_equal(f["val"], folds[(i - 1) % 10]["test"])
        held = np.flatnonzero(f["test"] | f["val"])
        train = np.flatnonzero(f["train"])
        assert np.min(np.abs(train[:, None] - held[None, :])) > 128  # the gaps
    eeg = np.arange(7680, dtype=float)[None, None].repeat(2, 0).repeat(14, 1)  # time stamps
    split = subject_dependent_split(eeg, np.array([1, 3]), fold=3)
    f = folds[3]
    for part in ("train", "val", "test"):
        X, y = split[part]
        assert X.shape[1:] == (14, 128) and set(y) <= {1, 3}
        assert np.all(f[part][X[:, 0, :].astype(int)])  # windows lie inside their block
    assert make_windows(np.zeros((3, 14, 7680)), 128, 64).shape == (3, 119, 14, 128)
    # centring removes each window's per-channel mean and nothing else
    rng = np.random.default_rng(1)
    eeg = rng.normal(3.0, 1.0, size=(2, 14, 1280)).astype(np.float32)
    raw = subject_dependent_split(eeg, np.array([0, 2]), fold=1, n_folds=5, stride=64)
    cen = subject_dependent_split(eeg, np.array([0, 2]), fold=1, n_folds=5, stride=64, center=True)
    for part in ("train", "val", "test"):
        X, Xc = raw[part][0], cen[part][0]
        np.testing.assert_allclose(Xc, X - X.mean(-1, keepdims=True), atol=1e-5)
        np.testing.assert_allclose(Xc.mean(-1), 0.0, atol=1e-5)
        np.testing.assert_array_equal(cen[part][1], raw[part][1])


def test_leave_one_subject_out_split_and_majority_vote():
    labels = np.array([[0, 4, 2], [1, 4, 3], [1, 3, 3]])
    np.testing.assert_array_equal(majority_vote_labels(labels), [1, 4, 3])
    eeg = np.zeros((3, 3, 14, 1280), dtype=np.float32)
    s = leave_one_subject_out_split(eeg, labels, 0, finetune_s=2.0, finetune_stride=32)
    Xp, yp = s["pretrain"]
    assert Xp.shape == (2 * 3 * 10, 14, 128)
    # subject 1's windows, video by video: majority of subjects 1 and 2 (ties: the lower class)
    np.testing.assert_array_equal(yp[:30], np.repeat([1, 3, 3], 10))
    assert s["finetune"][0].shape[0] == 3 * 5 and s["test"][0].shape[0] == 3 * 8
    c = leave_one_subject_out_split(eeg + 1.0, labels, 0, finetune_s=2.0, center=True)
    assert all(np.allclose(c[part][0], 0.0) for part in ("pretrain", "finetune", "test"))
    np.testing.assert_array_equal(s["test"][1], np.repeat(labels[0], 8))
    with pytest.raises(ValueError, match="subject"):
        leave_one_subject_out_split(eeg, labels, 3)


def test_histn_learns_simulated_emotion_and_smoothing_raises_seq2hr():
    from neurosim.datasets import make_eeg_emotion
    from neurosim.decoding.baselines import band_power_scores
    from neurosim.decoding.metrics import stratified_chance_scores

    ds = make_eeg_emotion(n_subjects=1, duration=30.0, random_state=0)
    eeg = preprocess_dreamer(ds, duration=30.0).values[0]
    y = ds["valence"].values[0] - 1
    # training windows every 16 samples (the paper trains on random 1-s crops); centred windows:
    # without centring HiSTN fits the slow drifts of 1/f EEG (test F1 ~0.35, see docs/decoding.rst)
    Xtr, ytr = subject_dependent_split(eeg, y, fold=4, stride=16, center=True)["train"]
    Xte, yte = subject_dependent_split(eeg, y, fold=4, center=True)["test"]
    out = {}
    for sigma in (0.5, None):
        torch.manual_seed(4)
        model = HiSTN(label_sigma=sigma)
        Trainer(max_epochs=8, batch_size=64, lr=1e-2, scheduler="onecycle", drop_last=True,
                device="cpu", random_state=4).fit(model, (Xtr, ytr))
        model.eval()
        with torch.no_grad():
            proba = torch.softmax(model(torch.as_tensor(Xte)), -1).numpy()
        out[sigma] = (metrics.weighted_f1(yte, proba.argmax(1)), metrics.seq2hr(proba, yte))
    chance = stratified_chance_scores(ytr, yte)["weighted_f1"]
    logreg = band_power_scores(Xtr, ytr, Xte, yte, 128.0)["weighted_f1"]
    # measured: smoothed F1 0.71 / Seq2HR 0.59, one-hot 0.70 / 0.39, chance 0.25, logreg 0.80.
    # This CPU budget (8 epochs, 30-s films) leaves HiSTN below the band-power logistic regression;
    # with 60-s films and 30 epochs it beats it (F1 0.89-0.94 vs 0.82, docs/decoding.rst), which is
    # too slow for a unit test.
    msg = f"smoothed {out[0.5]}, one-hot {out[None]}, chance {chance:.3f}, logreg {logreg:.3f}"
    assert out[0.5][0] > chance + 0.3 and out[None][0] > chance + 0.3, msg
    assert out[0.5][1] > out[None][1] + 0.1, msg  # Gaussian smoothing raises Seq2HR
    assert logreg > chance + 0.3, msg


def test_chance_scores_by_hand():
    from neurosim.decoding.metrics import stratified_chance_scores as chance_scores

    # guessing with training frequencies p for test frequencies q: F1_k = 2 p_k q_k / (p_k + q_k)
    out = chance_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), n_classes=2)
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert out["weighted_f1"] == pytest.approx(np.sum(q * 2 * p * q / (p + q)))
    assert out["top1"] == pytest.approx(0.5)
