"""Gradient accumulation and the Trainer under torchrun (two gloo processes on the CPU).

One script (``_SCRIPT``) is run with ``python`` (one process) and with
``torchrun --nproc_per_node=2``: the two processes end within 1e-6 of one process with the same
global batch (also with accumulation, and with a short last step where one rank gets a
placeholder batch), and a DDP run killed in the middle of an epoch and started again ends
bitwise equal to an uninterrupted DDP run.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.decoding import Trainer  # noqa: E402


def _data(n=90, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))


@pytest.mark.parametrize("source", ["arrays", "dataset"])
def test_accumulation_equals_a_k_times_larger_batch(source):
    from torch.utils.data import TensorDataset

    X, y = _data()  # 90 samples: the last step holds 26 samples, not 32
    data = (X, y) if source == "arrays" else TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    weights, losses = [], []
    for bs, k in ((32, 1), (8, 4)):
        model = _mlp()
        tr = Trainer(max_epochs=3, batch_size=bs, accumulate_grad_batches=k, lr=1e-2,
                     scheduler="onecycle", device="cpu", random_state=4)
        tr.fit(model, data, val=(X[:20], y[:20]))
        weights.append([p.detach() for p in model.parameters()])
        losses.append(tr.history_["train_loss"].values)
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    assert not torch.equal(weights[0][0], _mlp().state_dict()["0.weight"])  # it trained


def test_accumulation_drop_last_drops_the_short_step():
    X, y = _data()
    counts = []

    def step(model, batch):
        counts.append(int(batch[0].shape[0]))
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    Trainer(max_epochs=1, batch_size=8, accumulate_grad_batches=4, drop_last=True,
            device="cpu").fit(_mlp(), (X, y), step=step)
    assert counts == [8] * 8  # 90 // 32 = 2 steps of 4 batches; the last 26 samples dropped


@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError)])
def test_bad_accumulate_grad_batches(value, error):
    X, y = _data(n=16)
    with pytest.raises(error, match="accumulate_grad_batches must be"):
        Trainer(accumulate_grad_batches=value, device="cpu").fit(_mlp(), (X, y))


def test_world_size_larger_than_the_data(monkeypatch):
    X, y = _data(n=3)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="train has 3 samples, fewer than the 4 processes"):
        Trainer(device="cpu").fit(_mlp(), (X, y))


def test_torchrun_environment_without_master_address(monkeypatch):
    X, y = _data(n=8)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ValueError, match="MASTER_ADDR is not"):
        Trainer(device="cpu").fit(_mlp(), (X, y))


_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from neurosim.decoding import Trainer

    out, parts, kill_at = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    results = {}

    def mlp(dropout=0.0):
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(),
                                   torch.nn.Dropout(dropout), torch.nn.Linear(16, 2))

    if "equal" in parts:  # global batch 16 per optimiser step, whatever the number of processes
        for name, bs, k in (("b16", 16 // world, 1), ("b16acc", 8 // world, 2)):
            model = mlp()
            tr = Trainer(max_epochs=3, batch_size=bs, accumulate_grad_batches=k, lr=1e-2,
                         scheduler="cosine", device="cpu", random_state=2)
            tr.fit(model, (X, y), val=(X[:30], y[:30]))
            results[name] = {k_: v.clone() for k_, v in model.state_dict().items()}
            results[name + "_loss"] = tr.history_["train_loss"].values.tolist()
            results[name + "_val"] = tr.history_["val_loss"].values.tolist()
            results[name + "_world"] = tr.world_size_
        if rank == 0:
            torch.save(results, os.path.join(out, f"world{world}_equal.pt"))

    count = [0]

    def step(model, batch):
        if model.training and rank == 1:
            count[0] += 1
            if count[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # one rank dies in the middle of an epoch
        x, t = batch
        return torch.nn.functional.cross_entropy(model(x), t)

    def fit_b(folder):
        model = mlp(dropout=0.3)
        tr = Trainer(max_epochs=4, batch_size=8, lr=3e-3, scheduler="onecycle", random_state=3,
                     device="cpu", checkpoint_dir=folder)
        tr.fit(model, (X, y), step=step)
        return tr, model

    if "resume" in parts:
        tr, model = fit_b(os.path.join(out, "ckpt"))
        results["resumed"] = model.state_dict()
        results["resumed_from"] = tr.resumed_from_
        ref_tr, ref = fit_b(None)
        results["reference"] = ref.state_dict()
        results["loss"] = tr.history_["train_loss"].values.tolist()
        results["ref_loss"] = ref_tr.history_["train_loss"].values.tolist()
        if rank == 0:
            torch.save(results, os.path.join(out, f"world{world}_resume.pt"))
""")


def _launch(tmp_path, nproc, parts, kill_at=0):
    script = tmp_path / "ddp_script.py"
    script.write_text(_SCRIPT)
    # one host: gloo on the loopback interface (on some machines it otherwise waits on another)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    if nproc == 1:
        cmd = [sys.executable, str(script)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", str(script)]
    return subprocess.run([*cmd, str(tmp_path), parts, str(kill_at)], env=env,
                          capture_output=True, text=True, timeout=300)


def _run_here(tmp_path, parts):
    import runpy

    script = tmp_path / "ddp_script.py"
    script.write_text(_SCRIPT)
    threads = torch.get_num_threads()
    argv, environ = sys.argv, dict(os.environ)
    try:
        for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            os.environ.pop(var, None)
        sys.argv = [str(script), str(tmp_path), parts, "0"]
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
        os.environ.clear()
        os.environ.update(environ)
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_two_gloo_processes_equal_one_and_resume_bitwise(tmp_path):
    _run_here(tmp_path, "equal")  # one process: `python script.py`, run in this process
    # 90 samples, 2 x 8 per step: 6 steps per epoch; rank 1's 15th batch is in epoch 3
    killed = _launch(tmp_path, 2, "equal,resume", kill_at=15)
    assert killed.returncode != 0
    ckpts = sorted(p.name for p in (tmp_path / "ckpt").glob("*.pt"))
    assert ckpts == ["checkpoint_epoch00001.pt", "checkpoint_epoch00002.pt"], killed.stderr[-3000:]
    done = _launch(tmp_path, 2, "resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from checkpoint" in done.stderr  # said once, by rank 0
    assert done.stderr.count("resuming from checkpoint") == 1

    ref = torch.load(tmp_path / "world1_equal.pt", weights_only=True)
    ddp = torch.load(tmp_path / "world2_equal.pt", weights_only=True)
    for name in ("b16", "b16acc"):
        assert ref[name + "_world"] == 1 and ddp[name + "_world"] == 2
        for key, value in ref[name].items():
            torch.testing.assert_close(ddp[name][key], value, rtol=0, atol=1e-6)
        np.testing.assert_allclose(ddp[name + "_loss"], ref[name + "_loss"], rtol=1e-5)
        np.testing.assert_allclose(ddp[name + "_val"], ref[name + "_val"], rtol=1e-5)
    assert not torch.equal(ref["b16"]["0.weight"], ref["b16acc"]["0.weight"])

    res = torch.load(tmp_path / "world2_resume.pt", weights_only=True)
    assert res["resumed_from"] == 2
    assert res["loss"] == res["ref_loss"]
    for key, value in res["reference"].items():
        assert torch.equal(res["resumed"][key], value), key


@pytest.mark.skipif(shutil.which("nvidia-smi") is None or not torch.cuda.is_available(),
                    reason="needs CUDA")
@pytest.mark.gpu
def test_accumulation_on_cuda():
    X, y = _data()
    weights = []
    for bs, k in ((32, 1), (8, 4)):
        model = _mlp()
        Trainer(max_epochs=2, batch_size=bs, accumulate_grad_batches=k, lr=1e-2, precision="32",
                random_state=4).fit(model, (X, y))
        weights.append([p.detach().cpu() for p in model.parameters()])
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
