"""Decoders: training throughput of neurosim's Trainer against a plain PyTorch loop, CPU and GPU.

For every case (a decoder, its input sizes and a batch size) the same model, data and optimizer
settings (AdamW, gradient-norm clipping 1.0, the same precision) are trained twice from the same
initial weights:

- ``ours``: :class:`neurosim.decoding.Trainer` (on-device batching of in-memory arrays, autocast,
  history, no checkpoints);
- ``plain``: the loop a user would write by hand (``randperm`` on the device, ``zero_grad``,
  ``backward``, ``clip_grad_norm_``, ``step``), under the same autocast.

Printed per case and device, one JSON line: ``ours_samples_per_s``, ``plain_samples_per_s``,
``overhead_pct`` (ours slower by this much; the issue's target is < 5 %), ``ours_s``/``plain_s``
(best of ``--repeat`` timed epochs, ours and plain interleaved, after one warm-up epoch each) and,
on CUDA, ``gpu_util_mean_pct`` sampled with ``nvidia-smi`` during the timed epochs.

Usage: ``python benchmarks/bench_decoders.py [--quick] [--repeat 3] [--device cpu|cuda|all]``.

Cases are a list of dicts in ``CASES`` below; the fMRI decoders (MindBridge, BraInCoRL) add theirs in
the marked section. The THINGS-EEG2 reader's peak memory, in memory against streamed into
memory-mapped files, is one more JSON line per mode (``things-eeg2-read-prepare``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import threading
import time

import numpy as np


# ---------------------------------------------------------------------------- case builders
def _histn(quick):
    from neurosim.decoding import HiSTN

    n = 2048 if quick else 16384
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 14, 128)).astype(np.float32)
    y = rng.integers(0, 5, n)
    return HiSTN(), (x, y), None


def _brainflora(modality, shape, small):
    def build(quick):
        from neurosim.decoding import BrainFLORA

        n = 512 if quick else 4096
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, *shape)).astype(np.float32)
        y = rng.normal(size=(n, 64 if small else 1024)).astype(np.float32)
        make = BrainFLORA.small if small else BrainFLORA
        model = make({modality: shape}, y.shape[1])

        def step(model, batch):
            return model.training_step({"modality": modality, "x": batch[0], "target": batch[1]})

        return model, (x, y), step

    return build


CASES = [
    {"name": "histn-dreamer", "build": _histn, "batch_size": 256},
    {"name": "brainflora-eeg-small", "build": _brainflora("eeg", (17, 100), True), "batch_size": 64},
    {"name": "brainflora-eeg-paper", "build": _brainflora("eeg", (63, 250), False),
     "batch_size": 100, "cuda_only": True},
    {"name": "brainflora-meg-paper", "build": _brainflora("meg", (271, 201), False),
     "batch_size": 100, "cuda_only": True},
    # ------------------------------------------------------------------------------------------
    # fMRI decoders (MindBridge, BraInCoRL): add cases below this line, same keys:
    # {"name": ..., "build": callable(quick) -> (model, (x, y), step or None), "batch_size": ...}
    # ------------------------------------------------------------------------------------------
]


# ============================================================================================
# MindBridge and BraInCoRL (decoders-2 section: cases, NSD-sized peak memory, encoding vs ridge)
# ============================================================================================
_NSD_VOXELS = {"subj01": 15724, "subj02": 14278, "subj05": 13039, "subj07": 12682}


def _mindbridge_case(size):
    """MindBridge bridge training; x = pooled fMRI with the subject index as last column."""

    def build(quick):
        import math

        import torch
        from neurosim.decoding import MindBridge

        rng = np.random.default_rng(0)
        if size == "paper":  # NSD-sized: 4 subjects x ~15,000 voxels pooled to 8192
            n_vox, n = _NSD_VOXELS, 400
            cfg = {}  # the paper's defaults: 8192 / 2048 / 128 / 4 blocks, 257x768 + 77x768
        else:
            n_vox = dict(zip(_NSD_VOXELS, [1500, 1300, 1200, 1100]))
            n = 1024 if quick else 4096
            cfg = {"pool_size": 512, "hidden_dim": 256, "adapter_rank": 32, "n_blocks": 2,
                   "heads": {"image": (16, 64)}}
        model = MindBridge(list(n_vox), n_vox, random_state=0, **cfg)
        per = n // len(n_vox)
        parts = []
        for i, (subject, nv) in enumerate(n_vox.items()):
            pooled = model.pool(torch.from_numpy(rng.normal(size=(per, nv)).astype("float32")),
                                subject)
            parts.append(torch.cat([pooled, torch.full((per, 1), float(i))], dim=1))
        x = torch.cat(parts).numpy()
        sizes = {name: math.prod(shape) for name, shape in model.heads.items()}
        y = rng.normal(size=(len(x), sum(sizes.values()))).astype("float32")

        def step(model, batch):
            xb, yb = batch
            b = {"voxels": xb[:, :-1], "subject": xb[:, -1].long()}
            start = 0
            for name, k in sizes.items():
                b[name] = yb[:, start:start + k].reshape(len(yb), *model.heads[name])
                start += k
            return model.training_step(b)[0]

        return model, (x, y), step

    return build


def _braincorl_case(size):
    """BraInCoRL meta-training; x = (voxel, context, E+1) pairs, y = (voxel, query, E+1)."""

    def build(quick):
        import torch.nn.functional as F
        from neurosim.decoding import BraInCoRL

        rng = np.random.default_rng(0)
        if size == "clip":  # the paper's CLIP preset, 100 in-context images, 100 queries
            model = BraInCoRL.from_preset("CLIP", random_state=0)
            n, n_ctx, n_query = 1024, 100, 100
        else:
            model = BraInCoRL(16, d_model=64, n_layers=2, n_heads=4, ffn_dim=128, random_state=0)
            n, n_ctx, n_query = (1024 if quick else 4096), 64, 32
        dim = model.embedding_dim
        x = rng.normal(size=(n, n_ctx, dim + 1)).astype("float32")
        y = rng.normal(size=(n, n_query, dim + 1)).astype("float32")

        def step(model, batch):
            xb, yb = batch
            pred, _ = model(xb[..., :-1], xb[..., -1], yb[..., :-1])
            return F.mse_loss(pred, yb[..., -1])

        return model, (x, y), step

    return build


CASES += [
    {"name": "mindbridge-small", "build": _mindbridge_case("small"), "batch_size": 64},
    {"name": "mindbridge-nsd-paper", "build": _mindbridge_case("paper"), "batch_size": 200,
     "cuda_only": True},
    {"name": "braincorl-small", "build": _braincorl_case("small"), "batch_size": 64},
    {"name": "braincorl-clip-paper", "build": _braincorl_case("clip"), "batch_size": 64,
     "cuda_only": True},
]


def _fmri_extra(quick, devices):
    """MindBridge memory (analytic estimate; measured peak on CUDA) and encoding vs ridge."""
    import torch
    from neurosim.decoding import BraInCoRL, TorchRidgeCV, Trainer, mindbridge_memory_estimate

    est = mindbridge_memory_estimate(4, batch_size=50)
    row = {"case": "mindbridge-nsd-paper-memory", "n_parameters": int(est["n_parameters"]),
           "estimated_total_gib": round(est["total_gib"], 2),
           "note": "analytic estimate: AdamW state + the larger of the activations and the "
                   "foreach step's temporary"}
    if "cuda" in devices:
        model, (x, y), step = _mindbridge_case("paper")(quick)
        torch.cuda.reset_peak_memory_stats()
        Trainer(max_epochs=1, batch_size=200, device="cuda", precision="32").fit(
            model, (x, y), step=step)
        row["measured_peak_gib"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
        del model
        torch.cuda.empty_cache()
    print(json.dumps(row), flush=True)
    # the peer for writing encoders from few images: cross-validated ridge on the same images
    rng = np.random.default_rng(0)
    dim, n_vox = 16, 2000
    emb = rng.normal(size=(500, dim)).astype("float32")
    resp = (emb @ rng.normal(size=(dim, n_vox)) + rng.normal(size=(500, n_vox))).astype("float32")
    for dev in devices:
        model = BraInCoRL(dim, d_model=64, n_layers=2, n_heads=4, ffn_dim=128).to(dev)
        for n_ctx in ([20, 100] if quick else [20, 100, 500]):
            x, yy = emb[:n_ctx], resp[:n_ctx]
            model.fit_voxels(x[:5], yy[:5, :8])  # warm-up
            TorchRidgeCV(cv=5, device=dev).fit(x, yy[:, :8])
            t0 = time.perf_counter()
            model.fit_voxels(x, yy, batch_size=512)
            ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            TorchRidgeCV(cv=5, device=dev).fit(x, yy)
            ridge = time.perf_counter() - t0
            print(json.dumps({"case": "braincorl-encode-vs-ridgecv", "device": dev,
                              "n_context": n_ctx, "n_voxels": n_vox, "ours_s": round(ours, 4),
                              "ridge_cv_s": round(ridge, 4), "ratio": round(ours / ridge, 3),
                              "torch_threads": torch.get_num_threads()}), flush=True)


def _fmri_linear_extra(quick, devices):
    """The fMRI linear baselines against their peers, one JSON line per case.

    - ``braincorl-ridge``: :class:`BraInCoRLRidgeCV` (the paper's baseline) and
      :class:`TorchRidgeCV` against scikit-learn's ``RidgeCV(alpha_per_target=True)`` on the
      paper's regime (100 images, 512-dim embeddings, 2,000 voxels): time and test EV;
    - ``haxby-ridge-classifier``: :class:`TorchRidgeClassifierCV` against scikit-learn's
      ``RidgeClassifierCV``, both choosing the penalty by leave-one-run-out within the training
      runs, in a leave-one-run-out evaluation on a Haxby-sized block design: time and accuracy;
    - ``clean-runs``: :func:`clean_runs` against :func:`nilearn.signal.clean` (run-wise detrending
      and z-scoring) on 12 runs x 121 volumes: time and largest difference.
    """
    import sklearn
    from neurosim.datasets import make_fmri_blocks
    from neurosim.decoding import BraInCoRLRidgeCV, TorchRidgeClassifierCV, TorchRidgeCV
    from neurosim.decoding.metrics import explained_variance
    from neurosim.decoding.preprocessing import clean_runs
    from nilearn.signal import clean
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.model_selection import LeaveOneGroupOut

    def best_of(fn, repeat=3):
        out, times = None, []
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return out, min(times)

    rng = np.random.default_rng(0)
    n_vox = 500 if quick else 2000
    emb = rng.normal(size=(1100, 512)) / np.sqrt(512)
    w = rng.normal(size=(512, n_vox)) * (1.0 / np.sqrt(np.arange(1, 513)))[:, None]
    resp = emb @ w + 0.5 * rng.normal(size=(1100, n_vox))
    x, y, xt, yt = emb[:100], resp[:100], emb[100:], resp[100:]
    alphas = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e2, 1e3, 1e4, 1e5)
    for dev in devices:
        for name, make in (("BraInCoRLRidgeCV", lambda d=dev: BraInCoRLRidgeCV(device=d)),
                           ("TorchRidgeCV", lambda d=dev: TorchRidgeCV(alphas, cv=5, device=d))):
            model, t = best_of(lambda m=make: m().fit(x, y))
            ev = float(np.mean(explained_variance(yt, model.predict(xt))))
            print(json.dumps({"case": "braincorl-ridge", "estimator": name, "device": dev,
                              "n_context": 100, "embedding_dim": 512, "n_voxels": n_vox,
                              "fit_s": round(t, 4), "test_ev": round(ev, 4)}), flush=True)
    ref, t = best_of(lambda: RidgeCV(alphas=alphas, alpha_per_target=True).fit(x, y))
    ev = float(np.mean(explained_variance(yt, ref.predict(xt))))
    print(json.dumps({"case": "braincorl-ridge", "estimator": "sklearn RidgeCV (LOO)",
                      "device": "cpu", "n_context": 100, "embedding_dim": 512, "n_voxels": n_vox,
                      "fit_s": round(t, 4), "test_ev": round(ev, 4)}), flush=True)

    ds = make_fmri_blocks(n_voxels=530, random_state=0)
    X = clean_runs(ds.bold.values, ds.run.values)
    task = ds.label.values != "rest"
    X, labels, runs = X[task], ds.label.values[task], ds.run.values[task]
    grid = np.logspace(-2, 5, 15)

    def loro(fit_predict):
        accs = []
        for tr, te in LeaveOneGroupOut().split(X, labels, runs):
            accs.append(np.mean(fit_predict(tr, te) == labels[te]))
        return float(np.mean(accs))

    for dev in devices:
        acc, t = best_of(lambda d=dev: loro(lambda tr, te: TorchRidgeClassifierCV(
            grid, cv=LeaveOneGroupOut(), device=d).fit(X[tr], labels[tr], groups=runs[tr])
            .predict(X[te])), repeat=1 if quick else 3)
        print(json.dumps({"case": "haxby-ridge-classifier", "estimator": "TorchRidgeClassifierCV",
                          "device": dev, "n_samples": int(len(labels)), "n_voxels": 530,
                          "loro_s": round(t, 3), "accuracy": round(acc, 4)}), flush=True)
    with sklearn.config_context(enable_metadata_routing=True):
        acc, t = best_of(lambda: loro(lambda tr, te: RidgeClassifierCV(
            grid, cv=LeaveOneGroupOut()).fit(X[tr], labels[tr], groups=runs[tr]).predict(X[te])),
            repeat=1 if quick else 3)
    print(json.dumps({"case": "haxby-ridge-classifier", "estimator": "sklearn RidgeClassifierCV",
                      "device": "cpu", "n_samples": int(len(labels)), "n_voxels": 530,
                      "loro_s": round(t, 3), "accuracy": round(acc, 4)}), flush=True)

    run_of = np.repeat(np.arange(12), 121)
    for n_vox in ([530] if quick else [530, 40000]):
        bold = rng.normal(size=(1452, n_vox)) + np.linspace(0, 3, 1452)[:, None]
        ours, t_ours = best_of(lambda b=bold: clean_runs(b, run_of))
        theirs, t_nilearn = best_of(lambda b=bold: clean(b, runs=run_of, detrend=True,
                                                         standardize="zscore_sample"))
        print(json.dumps({"case": "clean-runs", "n_volumes": 1452, "n_voxels": n_vox,
                          "ours_s": round(t_ours, 4), "nilearn_s": round(t_nilearn, 4),
                          "ratio": round(t_ours / t_nilearn, 3),
                          "max_abs_diff": float(np.abs(ours - theirs).max())}), flush=True)


# ============================================================================================
# THINGS-EEG2 / THINGS-MEG readers (eeg section): peak memory, in memory against streamed
# ============================================================================================
_READ_SNIPPET = """
import resource, sys, json, threading, time
peak_anon = [0]
def _sample():  # anonymous memory (not the memory-mapped files' pages, which the kernel can drop)
    while True:
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon"):
                peak_anon[0] = max(peak_anon[0], int(line.split()[1]) / 1024)
        time.sleep(0.005)
threading.Thread(target=_sample, daemon=True).start()
from neurosim.datasets import find_things
from neurosim.decoding import prepare_retrieval_data
root, mode = sys.argv[1], sys.argv[2]
import mne, torch, xarray  # noqa: F401  (imported before the baseline is taken)
time.sleep(0.05)
base, base_anon = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, peak_anon[0]
work = root + "/work" if mode == "streamed" else None
found, _ = find_things(root, cache=None if work is None else work + "/recordings")
data = {m: prepare_retrieval_data(m, d["train"], d["test"],
                                  out=None if work is None else work + "/prepared")
        for m, d in found.items()}
x = data["eeg"]["train"]["x"]
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "import_rss_mib": base, "peak_anon_mib": peak_anon[0],
                  "import_anon_mib": base_anon,
                  "train_shape": list(x.shape), "memmap": type(x).__name__ == "memmap"}))
"""


def _things_reader_memory(quick):
    """Peak memory of reading and preparing a THINGS-EEG2 folder scaled up (63 channels
    x 250 samples, as BrainFLORA's files): in memory (``cache=None``) against streamed subject by
    subject into memory-mapped files (``find_things(cache=...)``,
    ``prepare_retrieval_data(out=...)``, what ``decode-brainflora --config paper`` does). Each
    mode runs in a fresh process, so its peak is its own. Two peaks: the resident set (``ru_maxrss``,
    which counts the memory-mapped files' pages once touched, although the kernel can drop them)
    and anonymous memory (``RssAnon`` sampled every 5 ms: what cannot be dropped), each above the
    imports' footprint."""
    import os
    import sys
    import tempfile

    from neurosim.datasets import save_embeddings

    n_sub, n_img, n_rep = (3, 1500, 2) if quick else (4, 4000, 4)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="things-bench-") as root:
        for s in range(1, n_sub + 1):
            folder = os.path.join(root, f"sub-{s:02d}")
            os.makedirs(folder)
            for fname, n, rep in (("training", n_img, n_rep), ("test", 20, 8)):
                x = rng.standard_normal((n, rep, 63, 250), dtype=np.float32)
                np.save(os.path.join(folder, f"preprocessed_eeg_{fname}.npy"),
                        {"preprocessed_eeg_data": x, "times": np.arange(300) / 250 - 0.2,
                         "ch_names": [f"E{i}" for i in range(63)]})
                del x
        save_embeddings(os.path.join(root, "embeddings_train.npz"),
                        rng.normal(size=(n_img, 64)).astype(np.float32), model="random")
        save_embeddings(os.path.join(root, "embeddings_test.npz"),
                        rng.normal(size=(20, 64)).astype(np.float32), model="random")
        file_mib = n_img * n_rep * 63 * 250 * 4 / 2**20
        for mode in ("in-memory", "streamed"):
            out = subprocess.run([sys.executable, "-c", _READ_SNIPPET, root, mode],
                                 capture_output=True, text=True, check=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            print(json.dumps({"case": "things-eeg2-read-prepare", "mode": mode,
                              "n_subjects": n_sub, "subject_train_mib": round(file_mib, 1),
                              "all_subjects_train_mib": round(n_sub * file_mib, 1),
                              "peak_rss_mib": round(row["peak_rss_mib"], 1),
                              "rss_above_imports_mib": round(row["peak_rss_mib"]
                                                             - row["import_rss_mib"], 1),
                              "anon_above_imports_mib": round(row["peak_anon_mib"]
                                                              - row["import_anon_mib"], 1),
                              "train_shape": row["train_shape"], "memmap": row["memmap"]}),
                  flush=True)


# ---------------------------------------------------------------------------- measurement
class _GpuSampler(threading.Thread):
    """Sample ``nvidia-smi`` GPU utilisation every 0.2 s while running."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self._stop = [], threading.Event()

    def run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu",
                                      "--format=csv,noheader,nounits"], capture_output=True,
                                     text=True, timeout=5).stdout
                self.samples.append(float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return
            self._stop.wait(0.2)

    def stop(self):
        self._stop.set()
        self.join(timeout=5)
        return float(np.mean(self.samples)) if self.samples else float("nan")


def _plain_epoch(model, tensors, step, batch_size, device, precision, opt):
    import torch
    import torch.nn.functional as F

    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    n = tensors[0].shape[0]
    order = torch.randperm(n, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    for b in range(n // batch_size):
        idx = order[b * batch_size:(b + 1) * batch_size]
        batch = tuple(t[idx] for t in tensors)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = step(model, batch) if step else F.cross_entropy(model(batch[0]), batch[1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_case(case, device_name, quick, repeat):
    import copy

    import torch
    from neurosim.decoding import Trainer

    device = torch.device(device_name)
    torch.manual_seed(0)
    model, (x, y), step = case["build"](quick)
    bs = case["batch_size"]
    n = (len(x) // bs) * bs
    init = copy.deepcopy(model.state_dict())
    trainer = Trainer(max_epochs=1, batch_size=bs, lr=1e-3, device=device_name, drop_last=True,
                      random_state=0)
    precision = trainer._resolve_precision(device)

    def ours():
        trainer.fit(model, (x, y), step=step)
        if device.type == "cuda":
            torch.cuda.synchronize()

    model.load_state_dict(init)
    ours()  # warm-up
    model.to(device)
    tensors = (torch.as_tensor(x).to(device), torch.as_tensor(y).to(device))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                            weight_decay=1e-2)
    _plain_epoch(model, tensors, step, bs, device, precision, opt)  # warm-up
    sampler = _GpuSampler() if device.type == "cuda" and shutil.which("nvidia-smi") else None
    if sampler:
        sampler.start()
    t_ours, t_plain = [], []
    for _ in range(repeat):  # interleaved, so that load changes on the machine hit both alike
        t0 = time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _plain_epoch(model, tensors, step, bs, device, precision, opt)
        t_plain.append(time.perf_counter() - t0)
    util = sampler.stop() if sampler else float("nan")
    ours_s, plain_s = min(t_ours), min(t_plain)
    return {"case": case["name"], "device": device_name, "precision": precision,
            "n_samples": n, "batch_size": bs,
            "n_params": sum(p.numel() for p in model.parameters()),
            "ours_s": round(ours_s, 4), "plain_s": round(plain_s, 4),
            "ours_samples_per_s": round(n / ours_s, 1), "plain_samples_per_s": round(n / plain_s, 1),
            "ratio": round(ours_s / plain_s, 4), "overhead_pct": round(100 * (ours_s / plain_s - 1), 2),
            "gpu_util_mean_pct": None if np.isnan(util) else round(util, 1),
            "torch_threads": torch.get_num_threads()}


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, CPU-sized cases only")
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per case (best kept)")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
    for case in CASES:
        for dev in devices:
            if case.get("cuda_only") and dev == "cpu":
                continue
            print(json.dumps(bench_case(case, dev, args.quick, args.repeat)), flush=True)
    _fmri_extra(args.quick, devices)  # MindBridge/BraInCoRL extras (decoders-2 section)
    _fmri_linear_extra(args.quick, devices)  # ridge baselines and run-wise cleaning vs peers
    _things_reader_memory(args.quick)  # THINGS readers' peak memory (eeg section)


if __name__ == "__main__":
    main()
