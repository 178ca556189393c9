"""Tests of MindBridge: pooling, adapters, losses, cycle, reset-tuning and the reset-tuning claim."""

import math

import numpy as np
import pytest
import torch
from neurosim.decoding import (
    MindBridge,
    Trainer,
    _mindbridge,
    mindbridge_batches,
    mindbridge_memory_estimate,
    reset_tune,
    reset_tuning_curve,
    soft_clip_loss,
)

SMALL = {"pool_size": 16, "hidden_dim": 8, "adapter_rank": 2, "n_blocks": 1,
         "heads": {"image": (3, 4)}}


def _small(subjects=("a", "b"), n_voxels=(30, 20), **kw):
    return MindBridge(list(subjects), list(n_voxels), **{**SMALL, **kw})


def _data(model, n=12, seed=0):
    rng = np.random.default_rng(seed)
    vox = {s: rng.normal(size=(n, model.n_voxels[s])).astype("float32") for s in model.subjects}
    tgt = {s: {k: rng.normal(size=(n, *shape)).astype("float32")
               for k, shape in model.heads.items()} for s in model.subjects}
    return vox, tgt


# ----------------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------------
def test_adaptive_max_pooling_matches_windows():
    model = _small(n_voxels=(10, 7), pool_size=4)
    x = torch.arange(10.0)[None].repeat(2, 1) * torch.tensor([[1.0], [-1.0]])
    pooled = model.pool(x, "a")
    # adaptive windows [floor(i n / P), ceil((i + 1) n / P)) for n = 10, P = 4
    windows = [(math.floor(i * 10 / 4), math.ceil((i + 1) * 10 / 4)) for i in range(4)]
    expected = [[max(row[lo:hi]) for lo, hi in windows] for row in x.tolist()]
    assert pooled.tolist() == expected
    assert pooled[0].tolist() == [2.0, 4.0, 7.0, 9.0]
    # fewer voxels than pool size: windows repeat voxels, max of one voxel
    assert model.pool(torch.arange(7.0), "b").shape == (4,)
    avg = _small(n_voxels=(10, 7), pool_size=5, pool_type="avg").pool(torch.arange(10.0), "a")
    assert avg.tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]


def test_adapter_starts_as_identity_and_is_low_rank():
    ad = _mindbridge._Adapter(12, 3)
    x = torch.randn(5, 12)
    assert torch.equal(ad(x), x)
    assert ad.down.weight.shape == (3, 12) and ad.up.weight.shape == (12, 3)
    with torch.no_grad():
        ad.up.weight.normal_()
    delta = ad(x) - x
    assert torch.linalg.matrix_rank(delta) <= 3


def test_architecture_and_parameter_count():
    model = _small()
    p, h, r = 16, 8, 2
    adapter = 2 * p * r + r + p
    embedder = adapter + p * h + h + 2 * h
    builder = h * p + p + 2 * p + adapter
    translator = h * h + h + 2 * h
    head = h * 12 + 12
    n = sum(q.numel() for q in model.parameters())
    assert n == 2 * (embedder + builder) + translator + head
    out = model(torch.randn(4, 30), "a")
    assert set(out) == {"image"} and out["image"].shape == (4, 3, 4)


def test_paper_size_estimate():
    """Heads ~525.6 M parameters, ~37.8 M per subject (reference notes, derived)."""
    h, p, r = 2048, 8192, 128
    head = h * 257 * 768 + 257 * 768 + h * 77 * 768 + 77 * 768
    assert abs(head / 1e6 - 525.6) < 0.1
    adapter = 2 * p * r + r + p
    per_subject = (adapter + p * h + h + 2 * h) + (h * p + p + 2 * p + adapter)
    assert abs(per_subject / 1e6 - 37.8) < 0.1


def test_memory_estimate_counts_parameters_exactly():
    model = _small(subjects=("a", "b", "c"), n_voxels=(30, 20, 25))
    est = mindbridge_memory_estimate(3, batch_size=4, **SMALL)
    assert est["n_parameters"] == sum(p.numel() for p in model.parameters())
    tuned = reset_tune(_small(), "c", 25)
    est = mindbridge_memory_estimate(3, batch_size=4, trainable_subjects=1, **SMALL)
    assert est["n_trainable"] == sum(p.numel() for p in tuned.parameters() if p.requires_grad)
    # the paper's 4-subject bridge (batch 50 per subject): ~694 M parameters, AdamW states
    # 16 bytes per parameter -> about 10.3 GiB, plus activations: fits a 24 GB GPU
    paper = mindbridge_memory_estimate(4)
    assert round(paper["n_parameters"] / 1e6) == 694
    assert paper["weights_gib"] + paper["gradients_gib"] + paper["optimizer_gib"] == (
        pytest.approx(16 * paper["n_parameters"] / 1024**3))
    assert 10 < paper["total_gib"] < 16


def test_soft_clip_loss_matches_hand_computation():
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    tn = t / np.linalg.norm(t, axis=1, keepdims=True)
    temp = 0.1

    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    soft = np.exp(log_softmax(tn @ tn.T / temp))
    logits = pn @ tn.T / temp
    expected = 0.5 * (-(log_softmax(logits) * soft).sum(1).mean()
                      - (log_softmax(logits.T) * soft).sum(1).mean())
    got = soft_clip_loss(torch.tensor(p), torch.tensor(t), temperature=temp)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # orthogonal targets predicted exactly: near zero; shuffled predictions: large
    eye = torch.eye(6)
    assert float(soft_clip_loss(eye, eye, 0.01)) < 1e-6
    assert float(soft_clip_loss(eye[[1, 0, 2, 3, 4, 5]], eye, 0.01)) > 30
    # scale invariance (normalised inside)
    assert float(soft_clip_loss(3 * torch.tensor(p), torch.tensor(t), temp)) == pytest.approx(
        expected, rel=1e-5)


def test_training_step_losses_and_cycle():
    model = _small(subjects=("a", "b", "c"), n_voxels=(30, 20, 25), mse_mult=2.0)
    vox, tgt = _data(model)
    batch = mindbridge_batches(model, vox, tgt, batch_size=4)(0, torch.Generator().manual_seed(0))[0]
    assert batch["voxels"].shape == (12, 16) and batch["subject"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    model.eval()  # no dropout: the loss is a function of the batch
    loss, logs = model.training_step(batch)
    assert set(logs) == {"clip_image", "mse_image", "rec", "cyc"}
    expected = logs["clip_image"] + 2.0 * logs["mse_image"] + logs["rec"] + logs["cyc"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    # the cycle term is MSE(e_a, embedder_b(builder_b(e_a))) for the chosen pair
    torch.manual_seed(1)
    names = ["a", "b", "c"]
    a_i, b_i = torch.randperm(3)[:2].tolist()
    a, b = names[a_i], names[b_i]
    e_a = model.embedder[a](batch["voxels"][batch["subject"] == a_i])
    cyc = torch.nn.functional.mse_loss(model.embedder[b](model.builder[b](e_a)), e_a)
    torch.manual_seed(1)
    assert model.training_step(batch)[1]["cyc"] == pytest.approx(float(cyc.detach()), rel=1e-6)
    # one subject in the batch: no cycle; rec_mult = cyc_mult = 0: neither term
    single = {k: v[:4] for k, v in batch.items()}
    assert "cyc" not in model.training_step(single)[1]
    plain = _small(subjects=("a", "b", "c"), n_voxels=(30, 20, 25), rec_mult=0, cyc_mult=0)
    assert set(plain.training_step(batch)[1]) == {"clip_image", "mse_image"}


def test_same_seed_same_model():
    a, b, c = _small(random_state=3), _small(random_state=3), _small(random_state=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_reset_tune_freezes_all_but_the_new_subject(tmp_path):
    source = _small()
    vox, tgt = _data(source)
    Trainer(max_epochs=2, lr=1e-2, device="cpu").fit(
        source, mindbridge_batches(source, vox, tgt, batch_size=4))
    path = tmp_path / "bridge.pt"
    source.save(path)
    tuned = reset_tune(path, "new", 40, random_state=1)
    assert tuned.subjects == ["a", "b", "new"] and tuned.adapt_target == "new"
    trainable = {n for n, p in tuned.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("embedder.new.", "builder.new.")) for n in trainable)
    src_state = source.state_dict()
    before = {k: v.clone() for k, v in tuned.state_dict().items()}
    assert all(torch.equal(before[k], v) for k, v in src_state.items())
    rng = np.random.default_rng(5)
    vox["new"] = rng.normal(size=(12, 40)).astype("float32")
    tgt["new"] = {"image": rng.normal(size=(12, 3, 4)).astype("float32")}
    batches = mindbridge_batches(tuned, vox, tgt, batch_size=4, target="new")
    first = batches(0, torch.Generator().manual_seed(0))
    # each step: one source subject (rotating) + the target
    assert [sorted(set(b["subject"].tolist())) for b in first] == [[0, 2], [1, 2], [0, 2]]
    Trainer(max_epochs=2, lr=1e-2, device="cpu").fit(tuned, batches)
    after = tuned.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all(k.startswith(("embedder.new.", "builder.new.")) for k in changed)
    assert "embedder.new.1.weight" in changed and "builder.new.0.weight" in changed


def test_save_load_predict_and_generator(tmp_path):
    model = _small()
    x = np.random.default_rng(0).normal(size=(7, 20)).astype("float32")
    pred = model.predict(x, "b")
    assert pred["image"].shape == (7, 3, 4) and pred["image"].dtype == np.float32
    model.save(tmp_path / "m.pt")
    loaded = MindBridge.load(tmp_path / "m.pt")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, "b")["image"], pred["image"])

    seen = {}

    def generator(image_embeds, guidance):
        seen["shape"], seen["guidance"] = tuple(image_embeds.shape), guidance
        return "images"

    assert model.generate(x, "b", generator, guidance=5) == "images"
    assert seen == {"shape": (7, 3, 4), "guidance": 5}
    with pytest.raises(TypeError, match="callable"):
        model.generate(x, "b", None)


def test_score_is_forward_top1_retrieval():
    model = _small(heads={"image": (4,)})
    x = np.random.default_rng(0).normal(size=(6, 30)).astype("float32")
    pred = model.predict(x, "a")["image"]
    assert model.score(x, "a", pred) == 1.0
    assert model.score(x, "a", pred[::-1].copy()) < 1.0


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_bad_input():
    model = _small()
    with pytest.raises(ValueError, match="unknown subject 'zz'"):
        model(torch.randn(2, 30), "zz")
    with pytest.raises(ValueError, match="subject 'a' has 30 voxels"):
        model(torch.randn(2, 20), "a")
    with pytest.raises(TypeError, match="floating point"):
        model.pool(torch.ones(2, 30, dtype=torch.int64), "a")
    with pytest.raises(ValueError, match="unique"):
        MindBridge(["a", "a"], 10, **SMALL)
    with pytest.raises(ValueError, match="no entry for subjects"):
        MindBridge(["a", "b"], {"a": 10}, **SMALL)
    with pytest.raises(ValueError, match="pool_type"):
        MindBridge(["a"], 10, **{**SMALL, "pool_type": "median"})
    with pytest.raises(ValueError, match="head 'image'"):
        MindBridge(["a"], 10, **{**SMALL, "heads": {"image": (0, 3)}})
    with pytest.raises(ValueError, match="already in the model"):
        reset_tune(model, "a", 30)
    vox, tgt = _data(model)
    tgt["a"]["image"] = tgt["a"]["image"][:, :2]
    with pytest.raises(ValueError, match=r"targets\['a'\]\['image'\] must have shape"):
        mindbridge_batches(model, vox, tgt)
    vox, tgt = _data(model)
    with pytest.raises(ValueError, match="at least one source"):
        mindbridge_batches(model, {"a": vox["a"]}, tgt, target="a")
    with pytest.raises(ValueError, match="not a MindBridge checkpoint"):
        torch.save({"foo": 1}, "/tmp/neurosim_not_a_ckpt.pt")
        MindBridge.load("/tmp/neurosim_not_a_ckpt.pt")


def test_head_dims_must_match_checkpoint(tmp_path):
    model = _small()
    torch.save({"class": "MindBridge", "config": {**model.get_config(),
                                                  "heads": {"image": [3, 5]}},
                "state_dict": model.state_dict()}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"bad.pt do not match the MindBridge.*shapes differ.*"
                                         r"checkpoint \(\d+, \d+\), model \(\d+, \d+\)"):
        MindBridge.load(tmp_path / "bad.pt")


def test_nsd_on_disk_feeds_the_experiment(tmp_path):
    """decode-mindbridge's real-data path: NSD release layout + embeddings of the 73k images."""
    import h5py
    import nibabel as nib
    import scipy.io
    from neurosim.datasets import find_nsd, save_embeddings

    rng = np.random.default_rng(0)
    root = tmp_path / "nsd"
    assert find_nsd(root) is None
    exp = root / "nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    shared = rng.choice(73000, size=1000, replace=False)
    others = np.setdiff1d(np.arange(73000), shared)
    subjectim = np.column_stack([np.tile(shared, (8, 1)),
                                 np.stack([rng.choice(others, 9000, replace=False)
                                           for _ in range(8)])])
    order = rng.permutation(np.repeat(np.arange(10000), 3))
    scipy.io.savemat(exp / "nsd_expdesign.mat", {
        "masterordering": (order + 1)[None].astype(float), "subjectim": (subjectim + 1).astype(float),
        "sharedix": (shared + 1)[None].astype(float)})
    emb = rng.normal(size=(73000, 6)).astype("float32")
    save_embeddings(root / "nsd_embeddings.npz", emb)
    assert find_nsd(root) is None  # no subject yet
    grid = (5, 4, 3)
    for n, n_vox in [(1, 40), (2, 30)]:
        roi = np.zeros(grid, dtype=np.float32)
        roi.flat[rng.choice(roi.size, n_vox, replace=False)] = 1
        d = root / f"nsddata/ppdata/subj{n:02d}/func1pt8mm/roi"
        d.mkdir(parents=True)
        nib.save(nib.Nifti1Image(roi, np.eye(4)), d / "nsdgeneral.nii.gz")
        d = root / f"nsddata_betas/ppdata/subj{n:02d}/func1pt8mm/betas_fithrf_GLMdenoise_RR"
        d.mkdir(parents=True)
        with h5py.File(d / "betas_session01.hdf5", "w") as f:
            f.create_dataset("betas", data=rng.integers(-600, 600, size=(750, *grid[::-1]),
                                                        dtype=np.int16))
    data = find_nsd(root)
    assert sorted(data) == ["subj01", "subj02"]
    assert [data[s].sizes["voxel"] for s in data] == [40, 30]
    assert data["subj02"].betas.shape == (750, 30)
    np.testing.assert_array_equal(data["subj01"].embedding.values, emb)
    curve, _ = reset_tuning_curve(
        data, ["subj01"], "subj02", [50, 10_000],
        model_kwargs={"pool_size": 16, "hidden_dim": 8, "adapter_rank": 2, "n_blocks": 1},
        bridge_epochs=1, adapt_steps=2, batch_size=16, device="cpu")
    stim = data["subj02"].stimulus.values
    n_train = len(np.unique(stim[~data["subj02"].shared.values[stim]]))  # images, not trials
    assert curve["budget"].values.tolist() == [50, n_train]  # capped at the data
    assert np.isfinite(curve["top1_forward"].values).all()


# ----------------------------------------------------------------------------------------------
# the method's claim on simulated data
# ----------------------------------------------------------------------------------------------
def test_reset_tuning_beats_scratch_at_smallest_budget():
    """Experiment decode-mindbridge (quick): reset-tuning > from scratch with 30 images.

    With 10 images neither model learns much (seed 0: top-1 0.06 reset-tuned, 0.07 from scratch,
    chance 0.01); the claim is asserted at 30 images, where the new subject's data are still few.
    """
    from neurosim.experiments import get_experiment

    result = get_experiment("decode-mindbridge").run(quick=True, seed=0)
    m = result.metrics
    curve = result.dataset
    b = 30
    # the bridge decodes its source subjects well above chance (1/100)
    assert m["source_top1_mean"] > 0.3
    # reset-tuning with few images beats the single-subject model trained from scratch
    assert m[f"top1_reset_{b}"] > m[f"top1_scratch_{b}"] + 0.05
    two_way = curve["two_way"].sel(budget=b)
    assert float(two_way.sel(training="reset_tuning")) > float(two_way.sel(training="from_scratch"))
    assert m[f"top1_reset_{b}"] > 5 * curve.attrs["chance_top1"]
    # more images, better decoding
    assert m["top1_reset_10"] < m["top1_reset_30"] < m["top1_reset_100"]
    assert set(result.figures) == {"reset_tuning"}
    assert result.report.startswith("# decode-mindbridge")


# ----------------------------------------------------------------------------------------------
# fidelity to the official code (littlepure2333/MindBridge)
# ----------------------------------------------------------------------------------------------
def test_mse_term_acts_on_unit_vectors_hand_computed():
    """The x1e4 MSE term compares L2-normalised flattened vectors (official trainer.py:211-244)."""
    from neurosim.decoding import normalized_mse_loss

    pred = torch.tensor([[[3.0, 0.0], [0.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]])  # (2, 2, 2)
    target = torch.tensor([[[0.0, 0.0], [0.0, 7.0]], [[2.0, 2.0], [2.0, 2.0]]])
    # sample 0: p = (3, 0, 0, 4) / 5, t = (0, 0, 0, 1): squared distance 0.36 + 0.04 = 0.4
    # sample 1: same direction: 0; mean over 2 x 4 numbers: 0.4 / 8 = 0.05
    assert float(normalized_mse_loss(pred, target)) == pytest.approx(0.05)
    assert float(normalized_mse_loss(pred, 100 * target)) == pytest.approx(0.05)
    # in the model: the logged mse term is this quantity, whatever the targets' norm
    model = _small(mse_mult=1e4)
    vox, tgt = _data(model)
    batch = mindbridge_batches(model, vox, tgt, batch_size=4)(0, torch.Generator().manual_seed(0))[0]
    model.eval()
    out, _, _ = model._forward_batch(batch["voxels"], batch["subject"])
    p = out["image"].detach().reshape(8, -1).numpy()
    t = batch["image"].reshape(8, -1).numpy()
    expected = np.mean((p / np.linalg.norm(p, axis=1, keepdims=True)
                        - t / np.linalg.norm(t, axis=1, keepdims=True)) ** 2)
    logs = model.training_step(batch)[1]
    assert logs["mse_image"] == pytest.approx(expected, rel=1e-5)
    scaled = dict(batch, image=batch["image"] * 1000.0)
    assert model.training_step(scaled)[1]["mse_image"] == pytest.approx(expected, rel=1e-5)
    # the paper's heads: at most 4e4 / D (D = 197,376), a small term next to SoftCLIP
    assert 1e4 * 4 / (257 * 768) < 0.21


def test_no_weight_decay_on_biases_and_norms():
    from neurosim.decoding import _trainer

    model = _small()
    exempt = model.no_weight_decay()
    names = dict(model.named_parameters())
    expected = {n for n in names if n.endswith(".bias")} | {
        n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)
        for n in (f"{n}.weight",)}
    assert exempt == expected and "embedder.a.2.weight" in exempt  # the embedder's LayerNorm
    assert "embedder.a.1.weight" not in exempt and "head.image.weight" not in exempt
    groups = _trainer._param_groups(model, list(model.parameters()), 0.01)
    assert [g.get("weight_decay") for g in groups] == [None, 0.0]
    assert {id(p) for p in groups[1]["params"]} == {id(names[n]) for n in exempt}
    # end to end: with zero gradients an AdamW step only decays, and only the decayed group
    before = {k: v.clone() for k, v in model.state_dict().items()}
    zero = (mindbridge_batches(model, *_data(model), batch_size=4),)

    def step(m, batch):
        return sum(q.sum() for q in m.parameters()) * 0.0

    Trainer(max_epochs=1, lr=0.1, weight_decay=0.5, device="cpu", steps_per_epoch=3).fit(
        model, zero[0], step=step)
    after = model.state_dict()
    n_steps = 3
    for name in names:
        factor = 1.0 if name in exempt else (1 - 0.1 * 0.5) ** n_steps
        torch.testing.assert_close(after[name], before[name] * factor, rtol=1e-5, atol=1e-7)


def test_official_one_cycle_schedule():
    from neurosim.decoding import one_cycle_schedule

    opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1.5e-4)
    sched = one_cycle_schedule(200)(opt, 2000)  # 200 epochs of 10 steps: peak after 2 epochs
    lrs = []
    for _ in range(2000):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1.5e-4 / 25)
    assert int(np.argmax(lrs)) == 19 and max(lrs) == pytest.approx(1.5e-4)
    assert lrs[-1] == pytest.approx(1.5e-4 / 25 / 100, rel=0.01)  # final_div_factor = 100


def test_budget_is_images_of_every_subject_and_repetitions_rotate():
    """The paper's --length (data.py:35-45) and repeat_index = train_i % 3 (trainer.py)."""
    model = _small(subjects=("s1", "s2", "t"), n_voxels=(30, 20, 25), pool_size=16)
    rng = np.random.default_rng(0)
    n = {"s1": 12, "s2": 9, "t": 10}
    # each voxel vector encodes (image, repetition): every value = 10 * image + repetition
    vox = {s: np.repeat((10.0 * np.arange(k)[:, None] + np.arange(3))[:, :, None],
                        model.n_voxels[s], axis=2) for s, k in n.items()}
    tgt = {s: {"image": rng.normal(size=(k, 3, 4))} for s, k in n.items()}
    gen = torch.Generator().manual_seed(0)

    def decode(b):
        v = b["voxels"][:, 0]
        return (v // 10).long(), (v % 10).long()

    bridge = mindbridge_batches(model, {s: vox[s] for s in ("s1", "s2")},
                                {s: tgt[s] for s in ("s1", "s2")}, batch_size=4)(0, gen)
    # an epoch ends with the subject of fewest images (9 / 4 -> 3 batches, the last partial)
    assert len(bridge) == 3
    for step, b in enumerate(bridge):
        image, rep = decode(b)
        assert (rep == step % 3).all()
    seen = torch.cat([decode(b)[0][b["subject"] == 1] for b in bridge])
    assert sorted(seen.tolist()) == list(range(9))
    # length = 5: the first 5 images of every subject, sources included
    adapt = mindbridge_batches(model, vox, tgt, batch_size=2, target="t", length=5)(0, gen)
    assert len(adapt) == 3  # ceil(5 / 2) target batches
    for step, b in enumerate(adapt):
        image, rep = decode(b)
        assert (rep == step % 3).all() and (image < 5).all()
        subjects = b["subject"].unique().tolist()
        assert subjects == sorted([[0, 1][step % 2], 2])  # one rotating source + the target
    target_images = torch.cat([decode(b)[0][b["subject"] == 2] for b in adapt])
    assert sorted(target_images.tolist()) == [0, 1, 2, 3, 4]
    # targets follow their images
    b = adapt[0]
    rows = b["subject"] == 2
    np.testing.assert_array_equal(b["image"][rows].numpy(),
                                  tgt["t"]["image"][decode(b)[0][rows].numpy()].astype("float32"))
    # a budget beyond the images enlarges the epoch, cycling (the official dataset's __len__)
    big = mindbridge_batches(model, vox, tgt, batch_size=5, target="t", length=20)(0, gen)
    assert len(big) == 4
    counts = np.bincount(torch.cat([decode(b)[0][b["subject"] == 2] for b in big]).numpy())
    assert counts.tolist() == [2] * 10
    with pytest.raises(ValueError, match="same number of repetitions"):
        mindbridge_batches(model, {"s1": vox["s1"], "s2": vox["s2"][:, :2]},
                           {s: tgt[s] for s in ("s1", "s2")})


def _official_state_dict(subjects, pool, hidden, rank, n_blocks, out_image, out_text, builder=True,
                         seed=0):
    """Random weights in the official key layout (src/models.py: MindSingle/MindBridge)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.05

    sd = {}
    for k in subjects:
        sd |= {f"embedder.{k}.0.down_proj.weight": r(rank, pool),
               f"embedder.{k}.0.down_proj.bias": r(rank),
               f"embedder.{k}.0.up_proj.weight": r(pool, rank),
               f"embedder.{k}.0.up_proj.bias": r(pool),
               f"embedder.{k}.1.weight": r(hidden, pool), f"embedder.{k}.1.bias": r(hidden),
               f"embedder.{k}.2.weight": 1 + r(hidden), f"embedder.{k}.2.bias": r(hidden)}
        if builder:
            sd |= {f"builder.{k}.0.weight": r(pool, hidden), f"builder.{k}.0.bias": r(pool),
                   f"builder.{k}.1.weight": 1 + r(pool), f"builder.{k}.1.bias": r(pool),
                   f"builder.{k}.3.down_proj.weight": r(rank, pool),
                   f"builder.{k}.3.down_proj.bias": r(rank),
                   f"builder.{k}.3.up_proj.weight": r(pool, rank),
                   f"builder.{k}.3.up_proj.bias": r(pool)}
    for i in range(n_blocks):
        sd |= {f"translator.mlp.{i}.0.weight": r(hidden, hidden),
               f"translator.mlp.{i}.0.bias": r(hidden),
               f"translator.mlp.{i}.1.weight": 1 + r(hidden), f"translator.mlp.{i}.1.bias": r(hidden)}
    sd |= {"head_image.weight": r(out_image, hidden), "head_image.bias": r(out_image),
           "head_text.weight": r(out_text, hidden), "head_text.bias": r(out_text)}
    return sd


def _official_forward(sd, x, k, n_blocks):
    """The official forward of subject k's pooled voxels (eval mode), from its equations."""
    F = torch.nn.functional

    def lin(v, name):
        return v @ sd[f"{name}.weight"].T + sd[f"{name}.bias"]

    def ln(v, name):
        return F.layer_norm(v, v.shape[-1:], sd[f"{name}.weight"], sd[f"{name}.bias"], 1e-5)

    def adapter(v, name):  # Adapter_Layer: x + up(relu(down(x))) * 1.0
        return v + lin(torch.relu(lin(v, f"{name}.down_proj")), f"{name}.up_proj")

    e = F.gelu(ln(lin(adapter(x, f"embedder.{k}.0"), f"embedder.{k}.1"), f"embedder.{k}.2"))
    h = e
    for i in range(n_blocks):  # ResMLP: x = mlp(x) + residual
        h = F.gelu(ln(lin(h, f"translator.mlp.{i}.0"), f"translator.mlp.{i}.1")) + h
    out = {"image": lin(h, "head_image"), "text": lin(h, "head_text")}
    rec = None
    if f"builder.{k}.0.weight" in sd:
        rec = adapter(F.gelu(ln(lin(e, f"builder.{k}.0"), f"builder.{k}.1")), f"builder.{k}.3")
    return out, e, rec


def test_official_state_dict_maps_onto_the_model():
    pool, hidden, rank, n_blocks = 24, 16, 4, 2
    sd = _official_state_dict(["1", "5"], pool, hidden, rank, n_blocks, 257 * 2, 77 * 2)
    model = MindBridge.from_official_state_dict({"model_state_dict": sd},
                                                {"subj01": 50, "subj05": 40})
    assert model.subjects == ["subj01", "subj05"]
    assert model.heads == {"image": (257, 2), "text": (77, 2)}
    assert (model.pool_size, model.hidden_dim, model.adapter_rank, model.n_blocks) == (
        pool, hidden, rank, n_blocks)
    assert sum(p.numel() for p in model.parameters()) == sum(v.numel() for v in sd.values())
    model.eval()
    x = torch.randn(6, 50, generator=torch.Generator().manual_seed(3))
    pooled = torch.nn.functional.adaptive_max_pool1d(x[:, None], pool)[:, 0]  # data.py pooling
    ref, e, rec = _official_forward(sd, pooled, "1", n_blocks)
    with torch.no_grad():
        ours = model(x, "subj01")
        torch.testing.assert_close(ours["image"].reshape(6, -1), ref["image"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours["text"].reshape(6, -1), ref["text"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model.builder["subj01"](model.embedder["subj01"](pooled)), rec,
                                   rtol=1e-5, atol=1e-6)
    # NSD voxel counts by default; a "module." prefix (DeepSpeed/DDP) is removed
    nsd = MindBridge.from_official_state_dict({f"module.{k}": v for k, v in sd.items()})
    assert nsd.n_voxels == {"subj01": 15724, "subj05": 13039}
    # MindSingle (no builders): fresh builders, no rec/cycle terms
    single = _official_state_dict(["7"], pool, hidden, rank, n_blocks, 30, 20, builder=False)
    m = MindBridge.from_official_state_dict(single, heads={"image": (30,), "text": (20,)})
    assert m.subjects == ["subj07"] and m.rec_mult == 0 and m.cyc_mult == 0
    m.eval()
    with torch.no_grad():
        xs = torch.randn(3, 12682)
        ref, _, _ = _official_forward(single, m.pool(xs, "subj07"), "7", n_blocks)
        torch.testing.assert_close(m(xs, "subj07")["image"], ref["image"], rtol=1e-5, atol=1e-6)


def test_official_state_dict_errors_name_the_keys():
    sd = _official_state_dict(["1", "2"], 24, 16, 4, 1, 257, 77)
    bad = dict(sd, **{"translator.extra.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"fit no weight.*translator\.extra\.weight"):
        MindBridge.from_official_state_dict(bad)
    wrong = dict(sd, **{"embedder.2.1.weight": torch.zeros(16, 25)})
    with pytest.raises(ValueError, match=r"embedder\.subj02\.1\.weight: checkpoint \(16, 25\)"):
        MindBridge.from_official_state_dict(wrong)
    missing = {k: v for k, v in sd.items() if k != "head_text.bias"}
    with pytest.raises(ValueError, match=r"missing weights \['head\.text\.bias'\]"):
        MindBridge.from_official_state_dict(missing)
    with pytest.raises(ValueError, match="no 'embedder"):
        MindBridge.from_official_state_dict({"cls_token": torch.zeros(1)})
    with pytest.raises(ValueError, match="n_voxels is needed"):
        MindBridge.from_official_state_dict(_official_state_dict(["9"], 8, 4, 2, 1, 4, 4))


def test_named_configurations_and_memory_estimate_against_gpu_measure():
    import inspect

    paper = MindBridge.named_configs()["paper"]
    defaults = {k: p.default for k, p in inspect.signature(MindBridge.__init__).parameters.items()
                if k in paper}
    assert {k: v for k, v in paper.items() if k != "heads"} == {
        k: v for k, v in defaults.items() if k != "heads"}
    small = MindBridge.from_config("small", subjects=["a", "b"], n_voxels=300,
                                   heads={"image": (8,)})
    assert (small.pool_size, small.hidden_dim, small.temperature) == (256, 128, 0.05)
    with pytest.raises(ValueError, match=r"configuration 'huge'.*\['paper', 'small'\]"):
        MindBridge.from_config("huge", subjects=["a"], n_voxels=10)
    # measured on an H200 (docs/gpu.rst, commit e04a779): 13.03 GiB peak for the paper's
    # 4-subject model with 50 samples per step; the peak is in AdamW's foreach step
    est = mindbridge_memory_estimate(4, batch_size=12.5)
    assert est["total_gib"] == pytest.approx(13.03, rel=0.02)
    assert est["optimizer_step_gib"] == pytest.approx(est["weights_gib"])
    fused = mindbridge_memory_estimate(4, batch_size=50, optimizer="fused")
    assert fused["total_gib"] == pytest.approx(est["total_gib"] - est["optimizer_step_gib"]
                                               + fused["activations_gib"])
    with pytest.raises(ValueError, match="optimizer must be"):
        mindbridge_memory_estimate(4, optimizer="sgd")
