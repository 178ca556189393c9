"""Tests of BraInCoRL: permutation invariance, log-scaled attention, encoder output, meta-training."""

import math

import numpy as np
import pytest
import torch
from neurosim.decoding import BraInCoRL, _braincorl, braincorl_tasks
from torch.nn import functional as F

SMALL = {"d_model": 16, "n_layers": 2, "n_heads": 2, "ffn_dim": 24}


def _context(n_vox=3, n_ctx=12, n_query=5, dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_vox, n_ctx, dim, generator=g), torch.randn(n_vox, n_ctx, generator=g),
            torch.randn(n_vox, n_query, dim, generator=g))


@pytest.mark.parametrize("standardize", [True, False])
def test_output_is_invariant_to_context_order(standardize):
    model = BraInCoRL(6, standardize=standardize, **SMALL).eval()
    x, y, q = _context()
    pred, params = model(x, y, q)
    for seed in range(3):
        perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(seed))
        pred_p, params_p = model(x[:, perm], y[:, perm], q)
        torch.testing.assert_close(pred_p, pred, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(params_p, params, atol=1e-5, rtol=1e-5)
    # but the pairing of images and responses matters
    pred_shuffled, _ = model(x, y[:, torch.randperm(x.shape[1])], q)
    assert (pred_shuffled - pred).abs().max() > 1e-3
    # no positional parameters: registers, tokenizer, blocks, readout only
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {
        "tokenizer", "registers", "blocks", "readout"}
    assert model.registers.shape == (1, 4, 16)


def test_prediction_is_linear_encoder():
    model = BraInCoRL(6, **SMALL).eval()
    x, y, q = _context()
    pred, params = model(x, y, q)
    assert params.shape == (3, 7)
    expected = torch.einsum("vqe,ve->vq", q, params[:, :6]) + params[:, 6:]
    torch.testing.assert_close(pred, expected)
    w, b = model.fit_voxels(x[0].numpy(), y.T.numpy()[:, :1].repeat(2, axis=1))
    # the same context for several voxels: fit_voxels equals encoder_parameters
    direct = model.encoder_parameters(x[:1], y[:1])[0].detach().numpy()
    np.testing.assert_allclose(w[0], direct[:6], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, direct[6], rtol=1e-5, atol=1e-6)


def test_standardize_makes_encoder_equivariant_to_response_units():
    model = BraInCoRL(6, **SMALL).eval()
    x, y, _ = _context()
    p = model.encoder_parameters(x, y)
    p2 = model.encoder_parameters(x, 3.0 * y + 2.0)
    torch.testing.assert_close(p2[:, :6], 3.0 * p[:, :6], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(p2[:, 6], 3.0 * p[:, 6] + 2.0, rtol=1e-4, atol=1e-5)


def test_attention_queries_are_scaled_by_log_sequence_length():
    torch.manual_seed(0)
    block = _braincorl._SwiGLUBlock(8, 2, 12, 0.0).eval()
    x = torch.randn(2, 5, 8)
    out = block(x)
    # by hand: softmax(log(S) q k^T / sqrt(d_head)) v with S = 5 tokens, then SwiGLU
    attn = block.attn
    h = block.norm1(x)
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)
    q = (math.log(5) * h) @ wq.T + bq
    k, v = h @ wk.T + bk, h @ wv.T + bv

    def heads(t):
        return t.reshape(2, 5, 2, 4).transpose(1, 2)

    a = torch.softmax(heads(q) @ heads(k).transpose(-1, -2) / 2.0, dim=-1) @ heads(v)
    a = attn.out_proj(a.transpose(1, 2).reshape(2, 5, 8))
    x1 = x + a
    u, g = block.ffn_in(block.norm2(x1)).chunk(2, dim=-1)
    expected = x1 + block.ffn_out(F.silu(u) * g)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_presets_and_config_roundtrip(tmp_path):
    clip = BraInCoRL.from_preset("CLIP", n_layers=1)
    assert (clip.embedding_dim, clip.d_model, clip.n_heads, clip.ffn_dim) == (512, 560, 10, 2048)
    model = BraInCoRL(6, random_state=1, **SMALL)
    model.save(tmp_path / "m.pt")
    loaded = BraInCoRL.load(tmp_path / "m.pt")
    assert loaded.get_config() == model.get_config()
    x, y, q = _context()
    torch.testing.assert_close(loaded.eval()(x, y, q)[0], model.eval()(x, y, q)[0])
    same = BraInCoRL(6, random_state=1, **SMALL).state_dict()
    assert all(torch.equal(v, same[k]) for k, v in model.state_dict().items())


def test_tasks_sample_random_context_sizes_and_disjoint_queries():
    rng = np.random.default_rng(0)
    emb = {"s1": rng.normal(size=(40, 3)), "s2": rng.normal(size=(50, 3))}
    resp = {s: rng.normal(size=(len(e), 7 + i)) for i, (s, e) in enumerate(emb.items())}
    tasks = braincorl_tasks(emb, resp, min_context=2, max_context=20, n_query=6,
                            voxels_per_batch=4, steps_per_epoch=30)
    batches = tasks(0, torch.Generator().manual_seed(0))
    sizes = {b["context_embeddings"].shape[1] for b in batches}
    assert len(sizes) > 5 and min(sizes) >= 2 and max(sizes) <= 20
    for i, b in enumerate(batches[:4]):
        s = ["s1", "s2"][i % 2]
        e, r = torch.as_tensor(emb[s], dtype=torch.float32), torch.as_tensor(resp[s],
                                                                             dtype=torch.float32)
        for v in range(4):
            ctx = b["context_embeddings"][v]
            rows = [int(torch.nonzero((e == c).all(1))[0]) for c in ctx]
            qrows = [int(torch.nonzero((e == c).all(1))[0]) for c in b["query_embeddings"][v]]
            assert not set(rows) & set(qrows) and len(set(rows)) == len(rows)
            col = int(torch.nonzero((r[rows] == b["context_responses"][v][:, None]).all(0))[0])
            torch.testing.assert_close(b["query_responses"][v], r[qrows, col])


def test_bad_input(tmp_path):
    model = BraInCoRL(6, **SMALL)
    x, y, q = _context()
    with pytest.raises(ValueError, match="context is empty"):
        model(x[:, :0], y[:, :0], q)
    with pytest.raises(ValueError, match="embedding dim 5 does not match.*embedding_dim=6"):
        model(x[..., :5], y, q)
    with pytest.raises(ValueError, match="context_responses must have shape"):
        model(x, y[:, :3], q)
    with pytest.raises(ValueError, match="query_embeddings must have shape"):
        model(x, y, q[..., :4])
    with pytest.raises(ValueError, match="match the model's embedding_dim"):
        model.fit_voxels(np.zeros((4, 8)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="context is empty"):
        model.fit_voxels(np.zeros((0, 6)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="must divide"):
        BraInCoRL(6, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="unknown preset"):
        BraInCoRL.from_preset("ViT")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="fewer than max_context"):
        braincorl_tasks({"s": rng.normal(size=(10, 3))}, {"s": rng.normal(size=(10, 2))},
                        min_context=2, max_context=8, n_query=5)
    with pytest.raises(ValueError, match="max_context"):
        braincorl_tasks({"s": rng.normal(size=(10, 3))}, {"s": rng.normal(size=(10, 2))},
                        min_context=5, max_context=4)
    big = BraInCoRL(8, **SMALL)
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict(big.state_dict())
    # a checkpoint whose weights are of another embedding dim than its config says
    torch.save({"class": "BraInCoRL", "config": model.get_config(),
                "state_dict": big.state_dict()}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="do not match the BraInCoRL.*shapes differ"):
        BraInCoRL.load(tmp_path / "bad.pt")


def test_nsd_braincorl_files_feed_meta_training_and_the_curve(tmp_path):
    """The real-data path of decode-braincorl on files in the BraInCoRL layout."""
    from neurosim.datasets import find_nsd_braincorl
    from neurosim.decoding import meta_train, scaling_curve

    rng = np.random.default_rng(0)
    dim, n_vox = 4, 6

    def unit(a):
        return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype("float32")

    common = unit(rng.normal(size=(15, dim)))
    np.save(tmp_path / "common_img_feats_normed.npy", common)
    for n in (1, 2, 5):
        w, b = rng.normal(size=(n_vox, dim)), rng.normal(size=n_vox)
        imgs = unit(rng.normal(size=(60, dim)))
        np.save(tmp_path / f"s{n}_unique_img_feats_normed.npy", imgs)
        np.save(tmp_path / f"s{n}_unique_nrn_feats_msk.npy", (imgs @ w.T + b).astype("float32"))
        np.save(tmp_path / f"s{n}_common_nrn_feats_msk.npy", (common @ w.T + b).astype("float32"))
        np.save(tmp_path / f"s{n}_gt.npy", np.column_stack([w, b]))
    assert find_nsd_braincorl(tmp_path / "missing") is None
    train, heldout, _ = find_nsd_braincorl(tmp_path)
    assert sorted(train) == ["subj01", "subj02"] and heldout["subject"] == "subj05"
    assert heldout["context_embeddings"].shape == (60, dim)
    assert heldout["test_responses"].shape == (15, n_vox)
    model, _ = meta_train(train, ["subj01", "subj02"], model_kwargs=SMALL,
                          task_kwargs={"min_context": 2, "max_context": 10, "n_query": 5,
                                       "voxels_per_batch": 4, "steps_per_epoch": 2},
                          epochs=1, device="cpu")
    curve = scaling_curve(model, heldout, [5, 20], n_draws=2, ridge_device="cpu")
    # noiseless responses: the ground-truth weights explain everything, ridge nearly so
    ev = curve["explained_variance"].mean("draw")
    assert float(ev.sel(encoder="ground_truth", context_size=20)) == pytest.approx(1.0)
    assert float(ev.sel(encoder="ridge", context_size=20)) > 0.95
    with pytest.raises(ValueError, match="exceeds the 60 training images"):
        scaling_curve(model, heldout, [61])


def test_meta_trained_model_scales_with_context_and_beats_ridge_when_data_are_few():
    """Experiment decode-braincorl (quick), on a held-out simulated subject."""
    from neurosim.experiments import get_experiment

    result = get_experiment("decode-braincorl").run(quick=True, seed=0)
    m = result.metrics
    # test-time scaling: explained variance rises with the number of in-context images
    assert m["ev_braincorl_2"] < m["ev_braincorl_10"] < m["ev_braincorl_50"] < m["ev_braincorl_100"]
    assert m["ev_braincorl_100"] > 0.3
    # in the low-data regime the in-context learner beats cross-validated ridge
    for n in (5, 10):
        assert m[f"ev_braincorl_{n}"] > m[f"ev_ridge_{n}"] + 0.01, n
    small = (2, 5, 10)
    assert sum(m[f"ev_braincorl_{n}"] for n in small) > sum(m[f"ev_ridge_{n}"] for n in small) + 0.04
    # the ground-truth weights bound both
    assert m["ev_ground_truth"] > max(m["ev_braincorl_100"], m["ev_ridge_100"])
    cos = result.dataset["weight_cosine"].mean("draw").sel(encoder="braincorl")
    assert float(cos.sel(context_size=100)) > float(cos.sel(context_size=2)) + 0.2
    assert set(result.figures) == {"scaling"}
    assert result.report.startswith("# decode-braincorl")
