"""Tests of neurosim.decoding.Trainer: learning, schedules, history, checkpoints and kill/resume."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from neurosim.decoding import Trainer


def _data(n=128, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _model(seed=0, d=6):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(16, 2))


def test_learns_and_history():
    X, y = _data()
    model = _model()
    tr = Trainer(max_epochs=15, batch_size=32, lr=1e-2, device="cpu", progress=False)
    tr.fit(model, (X, y), val=(X, y))
    h = tr.history_
    assert h.sizes["epoch"] == 15
    assert list(h["epoch"].values) == list(range(1, 16))
    for name in ("train_loss", "val_loss", "lr", "time_s"):
        assert name in h
    assert h["train_loss"].values[-1] < 0.5 * h["train_loss"].values[0]
    model.eval()
    with torch.no_grad():
        acc = (model(torch.as_tensor(X)).argmax(1).numpy() == y).mean()
    assert acc > 0.9
    assert tr.precision_ == "32" and str(tr.device_) == "cpu"
    assert h.attrs["resumed_from_epoch"] == 0


def test_same_seed_same_weights_and_global_rng_untouched():
    X, y = _data()
    weights = []
    for _ in range(2):
        model = _model()
        torch.manual_seed(123)
        before = torch.get_rng_state()
        Trainer(max_epochs=2, batch_size=16, random_state=7, device="cpu").fit(model, (X, y))
        assert torch.equal(torch.get_rng_state(), before)
        weights.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights))
    model = _model()
    Trainer(max_epochs=2, batch_size=16, random_state=8, device="cpu").fit(model, (X, y))
    assert not all(torch.equal(a, b) for a, b in zip(weights[0], model.parameters()))


def test_frozen_parameters_do_not_move():
    X, y = _data()
    model = _model()
    model[0].requires_grad_(False)
    frozen = model[0].weight.detach().clone()
    Trainer(max_epochs=2, batch_size=16, device="cpu").fit(model, (X, y))
    assert torch.equal(model[0].weight, frozen)


def test_schedulers():
    X, y = _data(n=64)
    tr = Trainer(max_epochs=4, batch_size=16, lr=1e-2, scheduler="onecycle", device="cpu")
    tr.fit(_model(), (X, y))
    lr = tr.history_["lr"].values
    # one cycle: warm-up from max_lr / 25, peak later in the run
    assert lr[0] == pytest.approx(1e-2 / 25)
    assert lr.max() > 5 * lr[0]
    tr = Trainer(max_epochs=4, batch_size=16, lr=1e-2, scheduler="cosine", device="cpu")
    tr.fit(_model(), (X, y))
    lr = tr.history_["lr"].values
    # cosine over 16 steps, lr read at the start of epochs 1..4 (steps 0, 4, 8, 12)
    expected = [1e-2 * (1 + np.cos(np.pi * s / 16)) / 2 for s in (0, 4, 8, 12)]
    np.testing.assert_allclose(lr, expected, rtol=1e-6)


def test_dataset_and_callable_inputs_and_custom_step():
    from torch.utils.data import TensorDataset

    X, y = _data()
    ds = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    tr = Trainer(max_epochs=3, batch_size=32, lr=1e-2, device="cpu", monitor="acc", mode="max")

    def evaluate(model):
        return {"acc": float((model(torch.as_tensor(X)).argmax(1).numpy() == y).mean())}

    model = _model()
    tr.fit(model, ds, val=ds, evaluate=evaluate)
    assert "acc" in tr.history_ and tr.best_epoch_ in (1, 2, 3)
    assert tr.best_score_ == pytest.approx(tr.history_["acc"].max())

    calls = []

    def sampler(epoch, generator):
        calls.append(epoch)
        idx = torch.randperm(len(X), generator=generator)
        return [{"x": torch.as_tensor(X[i]), "y": torch.as_tensor(y[i])}
                for i in idx.split(16).__iter__() for i in [i.numpy()]]

    def step(model, batch):
        loss = torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"])
        return loss, {"two": 2.0}

    tr = Trainer(max_epochs=2, device="cpu", scheduler="cosine").fit(_model(), sampler, step=step)
    assert calls[-2:] == [1, 2]
    np.testing.assert_allclose(tr.history_["train_two"].values, 2.0)


def test_early_stopping_and_restore_best():
    X, y = _data()
    scores = iter([0.5, 0.4, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6])
    snapshots = []

    def evaluate(model):
        snapshots.append(model[0].weight.detach().clone())
        return {"score": next(scores)}

    model = _model()
    tr = Trainer(max_epochs=8, batch_size=32, device="cpu", early_stopping=2, monitor="score",
                 mode="min", restore_best=True)
    tr.fit(model, (X, y), evaluate=evaluate)
    assert tr.best_epoch_ == 2 and tr.stopped_epoch_ == 4
    assert tr.history_.sizes["epoch"] == 4
    assert torch.equal(model[0].weight, snapshots[1])


def test_early_stopping_unknown_monitor():
    X, y = _data()
    with pytest.raises(ValueError, match="monitors 'val_loss'"):
        Trainer(max_epochs=2, early_stopping=1, device="cpu").fit(_model(), (X, y))


@pytest.mark.parametrize("kwargs, match", [
    ({"max_epochs": 0}, "max_epochs"),
    ({"lr": -1.0}, "lr"),
    ({"scheduler": "step"}, "scheduler"),
    ({"precision": "16"}, "precision"),
    ({"precision": "fp16"}, "fp16"),
    ({"mode": "best"}, "mode"),
    ({"device": "gpu"}, "device"),
])
def test_bad_parameters(kwargs, match):
    X, y = _data(n=16)
    kwargs = {"device": "cpu", **kwargs}
    with pytest.raises(ValueError, match=match):
        Trainer(**kwargs).fit(_model(), (X, y))


def test_bad_data():
    X, y = _data(n=16)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Trainer(device="cpu").fit(_model(), (bad, y))
    with pytest.raises(ValueError, match="same first dimension"):
        Trainer(device="cpu").fit(_model(), (X, y[:-1]))
    with pytest.raises(TypeError, match="train must be"):
        Trainer(device="cpu").fit(_model(), "data.npy")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        Trainer(device="cpu").fit(object(), (X, y))


def test_resume_from_other_model_raises(tmp_path):
    X, y = _data(n=32)
    Trainer(max_epochs=1, device="cpu", checkpoint_dir=tmp_path).fit(_model(), (X, y))
    assert len(list(tmp_path.glob("checkpoint_epoch*.pt"))) == 1
    other = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(8, 2))
    with pytest.raises(ValueError, match="another model"):
        Trainer(max_epochs=2, device="cpu", checkpoint_dir=tmp_path).fit(other, (X, y))
    with pytest.raises(ValueError, match="another model"):
        Trainer(max_epochs=2, device="cpu", checkpoint_dir=tmp_path).fit(torch.nn.Linear(6, 2),
                                                                          (X, y))


def test_finished_checkpoint_is_loaded(tmp_path):
    X, y = _data(n=32)
    m1 = _model()
    Trainer(max_epochs=2, device="cpu", checkpoint_dir=tmp_path).fit(m1, (X, y))
    m2 = _model(seed=5)
    with pytest.warns(UserWarning, match=r"resuming from checkpoint .*epoch00002.pt \(epoch 2\)"):
        tr = Trainer(max_epochs=2, device="cpu", checkpoint_dir=tmp_path).fit(m2, (X, y))
    assert tr.resumed_from_ == 2 and tr.history_.sizes["epoch"] == 2
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))


_CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from neurosim.decoding import Trainer

    ckpt, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)

    def build():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16),
                                   torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 2))

    count = [0]

    def step(model, batch):
        if model.training:
            count[0] += 1
            if kill_at > 0 and count[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of an epoch
        x, y = batch
        return torch.nn.functional.cross_entropy(model(x), y)

    def fit(model, folder):
        return Trainer(max_epochs=5, batch_size=16, lr=3e-3, scheduler="onecycle", random_state=3,
                       device="cpu", checkpoint_dir=folder, drop_last=True).fit(
            model, (X, y), val=(X[:32], y[:32]), step=step)

    model = build()
    tr = fit(model, ckpt)
    ref = build()
    ref_tr = fit(ref, None)
    torch.save({"resumed": model.state_dict(), "reference": ref.state_dict(),
                "resumed_from": tr.resumed_from_,
                "loss": tr.history_["train_loss"].values.tolist(),
                "ref_loss": ref_tr.history_["train_loss"].values.tolist()}, out)
""")


def test_kill_and_resume_gives_same_weights(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    ckpt, out = tmp_path / "ckpt", tmp_path / "out.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # 6 batches per epoch: batch 15 is the 3rd batch of epoch 3, after the epoch-2 checkpoint
    killed = subprocess.run([sys.executable, str(script), str(ckpt), str(out), "15"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert sorted(p.name for p in ckpt.glob("*.pt")) == ["checkpoint_epoch00001.pt",
                                                         "checkpoint_epoch00002.pt"]
    assert not out.exists()
    done = subprocess.run([sys.executable, str(script), str(ckpt), str(out), "0"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    res = torch.load(out, weights_only=True)
    assert res["resumed_from"] == 2
    assert res["loss"] == res["ref_loss"]
    for key, ref in res["reference"].items():
        assert torch.equal(res["resumed"][key], ref), key


def test_mne_epochs_xarray_and_bf16_on_cpu():
    import mne
    import xarray as xr

    X, y = _data(n=64)
    info = mne.create_info(6, 100.0, "eeg")
    epochs = mne.EpochsArray(X[:, :, None].repeat(2, axis=2).astype(np.float64), info,
                             verbose="error")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    tr = Trainer(max_epochs=2, batch_size=16, device="cpu", precision="bf16")
    tr.fit(model, (epochs, xr.DataArray(y, dims="trial")))
    assert tr.precision_ == "bf16" and np.all(np.isfinite(tr.history_["train_loss"].values))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_autocast_and_resume(tmp_path):
    X, y = _data()
    model = _model()
    tr = Trainer(max_epochs=2, batch_size=32, lr=1e-2, checkpoint_dir=tmp_path).fit(model, (X, y))
    assert tr.device_.type == "cuda"
    assert tr.precision_ == ("bf16" if torch.cuda.is_bf16_supported() else "32")
    ckpt = torch.load(sorted(tmp_path.glob("*.pt"))[-1], weights_only=True)
    assert ckpt["rng_cuda"] is not None and len(ckpt["rng_cuda"]) == 1
    resumed = _model(seed=3)
    with pytest.warns(UserWarning, match="resuming from checkpoint"):
        tr2 = Trainer(max_epochs=3, batch_size=32, lr=1e-2, checkpoint_dir=tmp_path).fit(resumed,
                                                                                          (X, y))
    assert tr2.resumed_from_ == 2 and tr2.history_.sizes["epoch"] == 3


def test_import_is_light():
    code = ("import sys, neurosim.decoding as d; from neurosim.decoding import metrics; "
            "d.__all__; assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'brian2' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_predict_keeps_the_inputs_coordinates():
    import mne
    import xarray as xr

    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 2)
    X = np.random.default_rng(0).normal(size=(7, 4)).astype("float32")
    tr = Trainer(device="cpu", batch_size=3)
    y = tr.predict(lin, X)
    with torch.no_grad():
        expected = lin(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-6)  # batches of 3, 3 and 1
    da = xr.DataArray(X, dims=("trial", "feature"),
                      coords={"trial": np.arange(7) + 100, "stim": ("trial", list("abcdefg"))})
    out = tr.predict(lin, da)
    assert out.dims == ("trial", "output")
    assert list(out.trial.values) == list(range(100, 107)) and out.stim.values[3] == "d"
    np.testing.assert_allclose(out.values, expected, rtol=1e-6)
    info = mne.create_info(["a", "b"], 100.0, "eeg")
    epochs = mne.EpochsArray(np.ones((4, 2, 2)), info, verbose=False,
                             events=np.c_[np.arange(4) * 50, np.zeros(4, int), [1, 2, 2, 1]],
                             event_id={"face": 1, "house": 2})
    out = tr.predict(torch.nn.Sequential(torch.nn.Flatten(), lin), epochs)
    assert out.dims == ("epoch", "output")
    assert list(out.condition.values) == ["face", "house", "house", "face"]
    assert list(out.sample.values) == [0, 50, 100, 150]
    with pytest.raises(ValueError, match="NaN"):
        tr.predict(lin, np.full((2, 4), np.nan, "float32"))
    with pytest.raises(ValueError, match="batch_size"):
        tr.predict(lin, X, batch_size=0)
    assert lin.training  # the model's mode is restored
