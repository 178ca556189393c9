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


# ---------------------------------------------------------------------------------------------------
# the official protocols (Dreamer_10cv.py, DREAMER_independent_reston1_formal_notransit.py)


def test_paper_configurations_and_citation():
    for name in ("paper", "paper-si", "small"):
        model = HiSTN.from_config(name)
        assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 1181, name
    assert HiSTN.from_config("paper").get_config()["drop_prob"] == 0.5
    assert HiSTN.from_config("paper-si").get_config()["drop_prob"] == 0.2
    assert HiSTN.from_config("paper").bn1.momentum == pytest.approx(0.01)  # Keras momentum 0.99
    assert HiSTN.from_config("paper").bn1.eps == pytest.approx(1e-3)
    assert "Kuang, D., Song, X. & Michoski, C." in histn_module.__doc__
    assert "arXiv:2408.15255" in histn_module.__doc__
    with pytest.raises(ValueError, match="unknown HiSTN configuration 'big'"):
        HiSTN.from_config("big")


def test_keras_max_norm_semantics():
    model = HiSTN(random_state=0)
    with torch.no_grad():
        model.merge.fill_(3.0)
        model.depthwise.fill_(3.0)
        model.node_pw[0].fill_(-2.0)
    model.train()
    model(torch.randn(2, 14, 128))
    # merge and node pointwise kernels: each element clipped to [-1, 1] (Keras max_norm(1.) on a
    # kernel whose axis 0 has length 1); the 5-tap per-channel filters: L2 norm 1
    assert torch.all(model.merge == 1.0) and torch.all(model.node_pw[0] == -1.0)
    np.testing.assert_allclose(model.depthwise.detach().norm(dim=1).numpy(), 1.0, rtol=1e-5)


def test_official_fold_starts():
    from neurosim.decoding import histn_fold_starts

    for fold in range(10):
        s = histn_fold_starts(7680, fold)
        test = np.arange(768 * fold, 768 * (fold + 1))
        val = np.arange(768 * ((fold - 1) % 10), 768 * ((fold - 1) % 10 + 1))
        np.testing.assert_array_equal(s["test"], test[:768 - 128])  # randint(a, b - 128)
        np.testing.assert_array_equal(s["val"], val[:768 - 128])
        crops = s["train"][:, None] + np.arange(128)  # every sample of every training crop
        assert not np.isin(crops, np.concatenate([test, val])).any(), fold
        assert crops.max() < 7680
    assert len(histn_fold_starts(7680, 3)["train"]) == 5888
    # 5888 starts x 18 films // 256 = 414 batches per epoch, as the paper's steps_per_epoch
    assert 5888 * 18 // 256 == 414
    with pytest.raises(ValueError, match="fold"):
        histn_fold_starts(7680, 10)


def test_crops_are_class_balanced_and_inside_their_block():
    from neurosim.decoding import class_balanced_crops, crop_batches

    eeg = np.arange(3000, dtype=float)[None, None].repeat(6, 0).repeat(2, 1)  # time stamps
    labels = np.array([0, 0, 0, 0, 3, 1])  # imbalanced: 4, 1, 1 films
    starts = np.arange(1000, 1500)
    X, y = class_balanced_crops(eeg, labels, starts, 3000, random_state=0)
    freq = np.bincount(y, minlength=4) / len(y)
    np.testing.assert_allclose(freq[[0, 1, 3]], 1 / 3, atol=0.03)  # classes, not films, uniform
    assert freq[2] == 0
    assert X.shape == (3000, 2, 128) and X[:, 0, 0].min() >= 1000 and X[:, 0, 0].max() < 1500
    np.testing.assert_array_equal(np.diff(X[:, 0], axis=1), 1.0)  # contiguous 1-s crops
    train = crop_batches(eeg, labels, starts, batch_size=300, steps_per_epoch=4, device="cpu")
    batches = list(train(1, torch.Generator().manual_seed(0)))
    assert len(batches) == 4 == train.steps_per_epoch
    y = torch.cat([b[1] for b in batches]).numpy()
    np.testing.assert_allclose(np.bincount(y, minlength=4)[[0, 1, 3]] / len(y), 1 / 3, atol=0.04)
    again = list(train(1, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))  # seeded by the Trainer
    # the official steps per epoch: starts x films // batch
    assert crop_batches(eeg, labels, starts, batch_size=256).steps_per_epoch == 500 * 6 // 256


def test_topk_over_the_classes_present():
    from neurosim.decoding.metrics import classification_scores

    proba = np.array([[0.1, 0.5, 0.3, 0.1, 0.0],   # true 2: 2nd of all, 1st among {0, 2}
                      [0.4, 0.1, 0.05, 0.45, 0.0]])  # true 0: 2nd of all, 1st among {0, 2}
    y = np.array([2, 0])
    assert classification_scores(proba, y)["top1"] == 0.0
    present = classification_scores(proba, y, topk_classes="present")
    assert present["top1"] == 1.0 and present["top2"] == 1.0
    assert present["weighted_f1"] == classification_scores(proba, y)["weighted_f1"]  # over all 5


def test_si_fine_tuning_freezes_the_temporal_convolution_only_and_weights_classes():
    from neurosim.decoding import fit_histn
    from neurosim.decoding._histn_protocol import _freeze_temporal, _histn_step, _step_schedule

    model = HiSTN(label_sigma=None, random_state=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 14, 128)).astype(np.float32), rng.integers(0, 3, 64)
    fit_histn(X, y, model=_freeze_temporal(model), epochs=1, batch_size=32, lr=1e-2,
              scheduler=None, weight_decay=0.0, grad_clip=None, device="cpu")
    after = model.state_dict()
    assert torch.equal(after["temporal"], before["temporal"])
    assert not torch.equal(after["merge"], before["merge"])  # the official freeze is narrower
    # class weights multiply each sample's loss by the weight of its label (Keras class_weight)
    model.train()
    torch.manual_seed(0)
    xb, yb = torch.as_tensor(X[:8]), torch.as_tensor(y[:8])
    w = np.array([1.0, 2.0, 4.0])
    torch.manual_seed(1)
    weighted = _histn_step(w)(model, (xb, yb))
    torch.manual_seed(1)
    per = torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")
    assert float(weighted) == pytest.approx(float((per * torch.as_tensor(w)[yb]).mean()), rel=1e-5)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = _step_schedule(30, 0.5)(opt, 100)
    lrs = []
    for _ in range(32):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[29] == 1e-3 and lrs[30] == 5e-4  # 1e-3, then 5e-4 from epoch 30


def test_subject_dependent_protocol_runs_on_small_settings():
    from neurosim.datasets import make_eeg_emotion
    from neurosim.decoding import histn_subject_dependent

    ds = make_eeg_emotion(n_subjects=1, n_trials=6, duration=12.0, random_state=0)
    eeg = preprocess_dreamer(ds, duration=12.0).values
    y = ds["valence"].values - 1
    out = histn_subject_dependent(eeg, y, 128.0, config="small", folds=[5], epochs=2,
                                  steps_per_epoch=3, n_val=50, n_test=100, device="cpu")
    assert set(out) == {"histn_smoothed", "histn_onehot", "logreg", "chance"}
    for d, runs in out.items():
        assert len(runs) == 1 and 0 <= runs[0]["top1"] <= 1, d
    with pytest.raises(ValueError, match="unknown SD settings"):
        histn_subject_dependent(eeg, y, 128.0, config="small", epoch=3)


def _epochs_in_volts(ch_names, n=120, seed=0):
    """Two classes of 1-s epochs at 128 Hz, 10 Hz vs 20 Hz on the frontal channels, ~1 uV: what
    an mne.EpochsArray of EEG holds (volts)."""
    import mne

    rng = np.random.default_rng(seed)
    t = np.arange(128) / 128
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, len(ch_names), 128))
    frontal = [i for i, c in enumerate(ch_names) if c.startswith(("AF", "F"))]
    for i, label in enumerate(y):
        x[i, frontal] += 1.5 * np.sin(2 * np.pi * (10 if label == 0 else 20) * t
                                      + rng.uniform(0, 2 * np.pi))
    info = mne.create_info(list(ch_names), 128.0, "eeg")
    return mne.EpochsArray(x * 1e-6, info, verbose="error"), y


def test_mne_epochs_in_volts_with_channels_in_another_order_train():
    from neurosim.decoding import DREAMER_CHANNELS

    names = sorted(DREAMER_CHANNELS)  # alphabetical: not DREAMER's region order
    epochs, y = _epochs_in_volts(names)
    model = HiSTN(n_outputs=2, random_state=0)
    x = model.prepare_epochs(epochs)
    # channels in the model's order, by name; volts (MNE's unit) to microvolts
    raw = epochs.get_data()[:, [names.index(c) for c in DREAMER_CHANNELS]]
    np.testing.assert_allclose(x, raw * 1e6, rtol=1e-5)
    trainer = Trainer(max_epochs=6, batch_size=20, lr=1e-2, device="cpu", random_state=0)
    trainer.fit(model, (epochs[:80], y[:80]))  # mne.Epochs in volts through the Trainer
    pred = trainer.predict(model, epochs[80:]).values.argmax(1)
    acc = float(np.mean(pred == y[80:]))
    assert acc > 0.8, acc  # chance 0.5; before prepare_epochs volts trained to chance
    with pytest.raises(ValueError, match=r"\['AF3'\] are not in the data.*pick_montage"):
        model.prepare_epochs(epochs.copy().drop_channels(["AF3"]))
    with pytest.raises(ValueError, match="256 Hz.*resample"):
        model.prepare_epochs(epochs.copy().resample(256, verbose="error"))


def test_experiment_presets_and_errors():
    from neurosim.cli import _config_json
    from neurosim.experiments import get_experiment

    assert _config_json("paper") == {"preset": "paper"}  # neurosim run ... --config paper
    run = get_experiment("decode-histn").run
    with pytest.raises(ValueError, match="preset 'paper' is the paper's training on DREAMER"):
        run(quick=True, config={"preset": "paper"})
    with pytest.raises(ValueError, match="preset must be one of"):
        run(quick=True, config={"preset": "huge"})
    with pytest.raises(ValueError, match="has no settings"):
        run(quick=True, config={"epoch": 3})
