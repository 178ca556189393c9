"""GPU check: every CUDA path of the decoders, at the papers' sizes, in a few minutes on one GPU.

Run it whenever a GPU is available and copy its numbers into ``docs/gpu.rst``::

    python benchmarks/gpu_check.py [--quick] [--out gpu_check.jsonl] [--budget-s 420]

It prints one JSON line per check (and appends it to ``--out``):

- ``env``: torch, CUDA, device name, compute capability, bf16 support;
- ``fwd-bwd`` per model and precision (float32, bf16 autocast): forward and backward at the paper
  configuration and batch size, ``samples_per_s``, peak GPU memory (``peak_gib``), the fraction of
  the timed interval during which the GPU was busy (``gpu_busy_frac``, NVML sampled every 50 ms),
  the loss in both precisions and their relative difference;
- ``trainer`` per model: one epoch of :class:`neurosim.decoding.Trainer` against a plain PyTorch
  loop on the same data and weights (``overhead_pct``), bf16 on CUDA;
- ``resume`` per model: 3 epochs straight against a run killed in epoch 3 and resumed by a new
  ``Trainer`` from its epoch-2 checkpoint: ``max_abs_diff`` of the final weights, ``bitwise_equal``;
- ``determinism`` per BrainFLORA model: the same forward + backward twice; which parameters'
  gradients differ (the one nearest the output names the non-deterministic backward), again with
  cuDNN's deterministic algorithms and with the math attention kernel;
- ``memory-estimate``: MindBridge's measured peak against :func:`mindbridge_memory_estimate`,
  for the bridge (4 subjects x 50) and for reset-tuning (5th subject, 50 source + 50 target);
- ``accumulation``: the Trainer with ``accumulate_grad_batches=4`` against one batch 4 times
  larger (float32): samples/s of each and ``max_abs_diff`` of the weights after 2 epochs;
- ``ddp-world1``: the Trainer in a process group of one (nccl; what ``torchrun
  --nproc_per_node=1`` gives) against no group: samples/s, ``ddp_overhead_pct``, weight
  difference.

Each check runs in its own ``try``: a failure is printed as ``{"check": ..., "error": ...}`` and
the others still run. Checks are skipped (``"skipped": "time budget"``) once ``--budget-s`` seconds
have passed, so that the run fits a short lease. Without CUDA it runs the same code on the CPU with
small inputs (``--cpu-dry-run``), which is how it is tested before a GPU is at hand.

Models are listed in ``MODELS`` (a name, a builder returning ``(model, batch_fn, step)``, a batch
size); add a decoder's paper configuration there.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
import traceback

import numpy as np

_NSD_VOXELS = {"subj01": 15724, "subj02": 14278, "subj05": 13039, "subj07": 12682}


# ------------------------------------------------------------------------------------ models
# A builder takes (device, small) and returns (model, make_batch(n, generator) -> batch, step).
# ``small`` shrinks the inputs for the CPU dry run; the architecture stays the paper's where the
# CPU can hold it.


def _histn(device, small):
    import torch
    from neurosim.decoding import HiSTN

    model = HiSTN()  # the DREAMER configuration: 14 channels, 1-s windows at 128 Hz, 5 classes

    def make_batch(n, gen):
        x = torch.randn(n, 14, 128, generator=gen)
        y = torch.randint(0, 5, (n,), generator=gen)
        return x.to(device), y.to(device)

    return model, make_batch, None


def _brainflora_paper(modality):
    """BrainFLORA.from_config("paper") tower of one modality (the official Medformer, raw-tau loss,
    patch augmentations); the CPU dry run keeps the architecture with shorter inputs."""
    def build(device, small):
        import torch
        from neurosim.decoding import BrainFLORA

        shape = {"eeg": (63, 250), "meg": (271, 201), "fmri": (7000,)}[modality]
        if small:
            shape = {"eeg": (63, 64), "meg": (64, 64), "fmri": (700,)}[modality]
        kw = {"fmri_tokens": (8, 128)} if small and modality == "fmri" else {}
        model = BrainFLORA.from_config("paper", input_shapes={modality: shape}, random_state=0,
                                       **kw)

        def make_batch(n, gen):
            x = torch.randn(n, *shape, generator=gen)
            y = torch.randn(n, 1024, generator=gen)
            return x.to(device), y.to(device)

        def step(model, batch):
            return model.training_step({"modality": modality, "x": batch[0], "target": batch[1]})

        return model, make_batch, step

    return build


def _brainflora_unified(device, small):
    """The unified stage at the paper's sizes: three frozen towers, the soft-MoE projector trained
    on EEG batches of 250 (the official unified batch)."""
    import torch
    from neurosim.decoding import BrainFLORA

    shapes = ({"eeg": (63, 64), "meg": (64, 64), "fmri": (700,)} if small else None)
    kw = {"input_shapes": shapes, "fmri_tokens": (8, 128)} if small else {}
    model = BrainFLORA.from_config("paper", random_state=0, **kw)
    model.unify()
    shape = (63, 64) if small else (63, 250)

    def make_batch(n, gen):
        return (torch.randn(n, *shape, generator=gen).to(device),
                torch.randn(n, 1024, generator=gen).to(device))

    def step(model, batch):
        return model.training_step({"modality": "eeg", "x": batch[0], "target": batch[1]})

    return model, make_batch, step


def _histn_paper_crops(device, small):
    """HiSTN.from_config("paper") on the official subject-dependent stream: fresh class-balanced
    1-s crops of 18 films of 60 s cut on the device (crop_batches), batch 256."""
    import numpy as np
    import torch
    from neurosim.decoding import HiSTN
    from neurosim.decoding.model_selection import crop_batches, histn_fold_starts

    model = HiSTN.from_config("paper", random_state=0)
    films = np.random.default_rng(0).normal(size=(18, 14, 7680)).astype("float32")
    labels = np.arange(18) % 5
    stream = crop_batches(films, labels, histn_fold_starts(7680, 4)["train"], batch_size=256,
                          steps_per_epoch=64, device=device)

    def make_batch(n, gen):
        xs, ys = [], []
        for x, y in stream(0, gen):
            xs.append(x)
            ys.append(y)
            if sum(len(b) for b in xs) >= n:
                break
        return torch.cat(xs)[:n].contiguous(), torch.cat(ys)[:n].contiguous()

    return model, make_batch, None


def _mindbridge_model(small):
    from neurosim.decoding import MindBridge

    names = list(_NSD_VOXELS)
    if small:
        n_vox = {s: 1500 - 100 * i for i, s in enumerate(names)}
        cfg = {"pool_size": 512, "hidden_dim": 256, "adapter_rank": 32, "n_blocks": 2,
               "heads": {"image": (16, 64), "text": (8, 64)}}
        return MindBridge(names, n_vox, random_state=0, **cfg)
    # the paper: 8192 / 2048 / 128 / 4 blocks, 257x768 + 77x768 heads, MSE on unit vectors
    n_vox = {s: _NSD_VOXELS.get(s, 15226) for s in names}
    return MindBridge.from_config("paper", subjects=names, n_voxels=n_vox, random_state=0)


def _mindbridge_batch_fn(model, device, subjects):
    import torch

    def make_batch(n, gen):
        # n samples split evenly over the subjects (the paper: 50 per subject per step)
        per = max(1, n // len(subjects))
        index = torch.tensor([model.subjects.index(s) for s in subjects])
        batch = {"voxels": torch.randn(per * len(subjects), model.pool_size, generator=gen),
                 "subject": index.repeat_interleave(per)}
        for name, shp in model.heads.items():
            batch[name] = torch.randn(per * len(subjects), *shp, generator=gen)
        return {k: v.to(device) for k, v in batch.items()}

    return make_batch


def _mindbridge(device, small):
    model = _mindbridge_model(small)
    make_batch = _mindbridge_batch_fn(model, device, model.subjects)

    def step(model, batch):
        return model.training_step(batch)[0]

    return model, make_batch, step


def _mindbridge_adapt(device, small):
    """Reset-tuning a 5th subject: only its embedder and builder train; batches of one source
    subject and the target (adapt_bridge.sh: 50 + 50)."""
    from neurosim.decoding import reset_tune

    source = _mindbridge_model(small)
    target = "subj03"
    model = reset_tune(source, target, 1500 if small else 15226)
    del source
    make_batch = _mindbridge_batch_fn(model, device, [model.subjects[0], target])

    def step(model, batch):
        return model.training_step(batch)[0]

    return model, make_batch, step


def _braincorl(device, small):
    import torch
    import torch.nn.functional as F
    from neurosim.decoding import BraInCoRL

    model = (BraInCoRL(16, d_model=64, n_layers=2, n_heads=4, ffn_dim=128, random_state=0)
             if small else BraInCoRL.from_preset("CLIP", random_state=0))
    dim = model.embedding_dim
    n_ctx, n_query = (32, 16) if small else (100, 100)

    def make_batch(n, gen):
        ctx = torch.randn(n, n_ctx, dim + 1, generator=gen)
        query = torch.randn(n, n_query, dim + 1, generator=gen)
        return ctx.to(device), query.to(device)

    def step(model, batch):
        ctx, query = batch
        pred, _ = model(ctx[..., :-1], ctx[..., -1], query[..., :-1])
        return F.mse_loss(pred, query[..., -1])

    return model, make_batch, step


def _braincorl_train(device, small):
    """The official meta-training step: batch 64 voxels, the largest context (500) + 100 queries,
    dropout 0.5 (train.sh)."""
    import torch
    import torch.nn.functional as F
    from neurosim.decoding import BraInCoRL

    model = (BraInCoRL.from_config("small", embedding_dim=16, dropout=0.5, random_state=0)
             if small else BraInCoRL.from_config("paper", random_state=0))
    dim = model.embedding_dim
    n_ctx, n_query = (40, 10) if small else (500, 100)

    def make_batch(n, gen):
        ctx = torch.randn(n, n_ctx, dim + 1, generator=gen)
        query = torch.randn(n, n_query, dim + 1, generator=gen)
        return ctx.to(device), query.to(device)

    def step(model, batch):
        ctx, query = batch
        pred, _ = model(ctx[..., :-1], ctx[..., -1], query[..., :-1])
        return F.mse_loss(pred, query[..., -1])

    return model, make_batch, step


MODELS = [
    # name, builder, paper batch size, resume check at the small size (the paper-sized
    # MindBridge writes ~7 GB per checkpoint: the resume code path is the same at any size)
    ("histn-dreamer", _histn, 256, False),
    ("histn-paper-crops", _histn_paper_crops, 256, False),
    ("brainflora-eeg-paper", _brainflora_paper("eeg"), 100, False),
    ("brainflora-meg-paper", _brainflora_paper("meg"), 100, True),
    ("brainflora-fmri-paper", _brainflora_paper("fmri"), 100, True),
    ("brainflora-unified-paper", _brainflora_unified, 250, True),
    # MindBridge: batch 50 per subject (200 per step with 4 subjects), as train_bridge.sh
    ("mindbridge-nsd-paper", _mindbridge, 200, True),
    ("mindbridge-nsd-adapt", _mindbridge_adapt, 100, True),
    ("braincorl-clip-paper", _braincorl, 8, False),
    ("braincorl-clip-train", _braincorl_train, 64, False),
]


# ------------------------------------------------------------------------------------ helpers
class _BusySampler(threading.Thread):
    """Fraction of NVML samples (every 50 ms) in which the GPU reported a running kernel."""

    def __init__(self, device_index=0):
        super().__init__(daemon=True)
        self.samples, self._stop_event = [], threading.Event()
        self.handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
        except Exception:  # noqa: BLE001 - no NVML: report None
            self.handle = None

    def run(self):
        while self.handle is not None and not self._stop_event.is_set():
            try:
                self.samples.append(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)
            except Exception:  # noqa: BLE001
                return
            self._stop_event.wait(0.05)

    def stop(self):
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=2)
        if not self.samples:
            return None
        return round(float(np.mean(self.samples)) / 100.0, 3)


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device):
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device):
    import torch

    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 1024**3, 3)


def _loss(model, step, batch):
    import torch.nn.functional as F

    if step is not None:
        return step(model, batch)
    if hasattr(model, "training_step"):
        out = model.training_step(batch)
        return out[0] if isinstance(out, tuple) else out
    return F.cross_entropy(model(batch[0]), batch[1])


def _n_params(model):
    return int(sum(p.numel() for p in model.parameters()))


# ------------------------------------------------------------------------------------ checks
def check_fwd_bwd(name, build, batch_size, device, small, n_steps):
    """Forward + backward + AdamW step in float32 and bf16 autocast: throughput and memory."""
    import torch

    rows = []
    losses = {}
    bf16_ok = device.type == "cpu" or torch.cuda.is_bf16_supported()
    for precision in ("32", "bf16") if bf16_ok else ("32",):
        torch.manual_seed(0)
        model, make_batch, step = build(device, small)
        model.to(device).train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        gen = torch.Generator().manual_seed(0)
        batches = [make_batch(batch_size, gen) for _ in range(2)]
        amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
        first_loss = None
        for i in range(2):  # warm-up (cuDNN autotune, lazy init)
            with amp:
                loss = _loss(model, step, batches[i % 2])
            if i == 0:
                first_loss = float(loss.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        _reset_peak(device)
        sampler = _BusySampler(device.index or 0) if device.type == "cuda" else None
        if sampler:
            sampler.start()
        t0 = time.perf_counter()
        for i in range(n_steps):
            with amp:
                loss = _loss(model, step, batches[i % 2])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        elapsed = time.perf_counter() - t0
        busy = sampler.stop() if sampler else None
        final = float(loss.detach())
        losses[precision] = first_loss
        rows.append({"check": "fwd-bwd", "model": name, "device": str(device),
                     "precision": precision, "batch_size": batch_size,
                     "n_params": _n_params(model), "steps": n_steps,
                     "step_ms": round(1000 * elapsed / n_steps, 2),
                     "samples_per_s": round(batch_size * n_steps / elapsed, 1),
                     "peak_gib": _peak_gib(device), "gpu_busy_frac": busy,
                     "first_loss": round(first_loss, 6), "last_loss": round(final, 6),
                     "finite": bool(math.isfinite(final) and math.isfinite(first_loss))})
        del model, opt, batches
        _reset_peak(device)
    if "bf16" in losses:
        rel = abs(losses["bf16"] - losses["32"]) / max(abs(losses["32"]), 1e-12)
        rows[-1]["bf16_vs_fp32_first_loss_rel"] = round(rel, 5)
    return rows


def _data_for_trainer(make_batch, n, batch_size):
    """Materialise n samples as a tuple of tensors (dict batches flattened into a tuple)."""
    import torch

    gen = torch.Generator().manual_seed(1)
    batch = make_batch(n, gen)
    if isinstance(batch, dict):
        keys = list(batch)
        return tuple(batch[k] for k in keys), keys
    return tuple(batch), None


def _wrap_step(step, keys):
    if keys is None:
        return step

    def dict_step(model, batch):
        b = dict(zip(keys, batch))
        return step(model, b) if step is not None else model.training_step(b)

    return dict_step


def check_trainer(name, build, batch_size, device, small, n_batches):
    """One Trainer epoch against a plain loop (same weights, data, AdamW, clipping, precision)."""
    import torch
    from neurosim.decoding import Trainer

    torch.manual_seed(0)
    model, make_batch, step = build(device, small)
    n = batch_size * n_batches
    data, keys = _data_for_trainer(make_batch, n, batch_size)  # on the device, as in the plain loop
    step_fn = _wrap_step(step, keys)
    init = copy.deepcopy(model.state_dict())
    trainer = Trainer(max_epochs=1, batch_size=batch_size, lr=1e-4, device=str(device),
                      drop_last=True, random_state=0)
    trainer.fit(model, data, step=step_fn)  # warm-up
    _sync(device)
    precision = trainer.precision_
    model.load_state_dict(init)
    _reset_peak(device)
    t0 = time.perf_counter()
    trainer.fit(model, data, step=step_fn)
    _sync(device)
    ours = time.perf_counter() - t0
    peak = _peak_gib(device)

    model.load_state_dict(init)
    tensors = tuple(t.to(device) for t in data)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-2)
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def plain_epoch():
        order = torch.randperm(n, device=device)
        model.train()
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            with amp:
                loss = _loss(model, step_fn, tuple(t[idx] for t in tensors))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        _sync(device)

    plain_epoch()  # warm-up
    t0 = time.perf_counter()
    plain_epoch()
    plain = time.perf_counter() - t0
    return [{"check": "trainer", "model": name, "device": str(device), "precision": precision,
             "batch_size": batch_size, "n_samples": n, "ours_s": round(ours, 4),
             "plain_s": round(plain, 4), "ours_samples_per_s": round(n / ours, 1),
             "plain_samples_per_s": round(n / plain, 1),
             "overhead_pct": round(100 * (ours / plain - 1), 2), "peak_gib": peak}]


def _resume_once(name, build, batch_size, device, small, n_batches):
    """3 epochs straight vs a run killed in epoch 3 and resumed, in one checkpoint folder.

    The kill is an exception raised by ``evaluate`` after the third epoch's training, before its
    checkpoint is written (what a SIGKILL in epoch 3 leaves); a new Trainer with fresh weights
    then resumes from the epoch-2 checkpoint. One-cycle schedule, bf16 autocast on CUDA.
    """
    import torch
    from neurosim.decoding import Trainer

    class _Killed(Exception):
        pass

    def kill_in_epoch_3():
        calls = []

        def evaluate(model):
            calls.append(1)
            if len(calls) == 3:
                raise _Killed
            return {}

        return evaluate

    n = batch_size * n_batches
    finals = []
    resumed_from = None
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("straight", "resumed"):
            torch.manual_seed(0)
            model, make_batch, step = build(device, small)
            data, keys = _data_for_trainer(make_batch, n, batch_size)
            data = tuple(t.cpu() for t in data)
            step_fn = _wrap_step(step, keys)
            folder = os.path.join(tmp, mode)
            kw = dict(max_epochs=3, batch_size=batch_size, lr=1e-4, device=str(device),
                      checkpoint_dir=folder, random_state=0, scheduler="onecycle")
            if mode == "resumed":
                try:
                    Trainer(**kw).fit(model, data, step=step_fn, evaluate=kill_in_epoch_3())
                except _Killed:
                    pass
                torch.manual_seed(123)
                model, _, _ = build(device, small)  # fresh weights: all state from the file
                tr = Trainer(**kw).fit(model, data, step=step_fn)
                resumed_from = tr.resumed_from_
            else:
                tr = Trainer(**kw).fit(model, data, step=step_fn)
            finals.append({k: v.detach().float().cpu() for k, v in model.state_dict().items()})
    diff = max(float((finals[0][k] - finals[1][k]).abs().max()) if finals[0][k].numel() else 0.0
               for k in finals[0])
    equal = all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])
    return {"check": "resume", "model": name, "device": str(device), "precision": tr.precision_,
            "resumed_from": resumed_from, "epochs": 3, "max_abs_diff": diff,
            "bitwise_equal": bool(equal)}


def check_resume(name, build, batch_size, device, small, n_batches):
    """Kill-and-resume; if not bitwise equal, again with deterministic algorithms to find why."""
    import torch

    row = _resume_once(name, build, batch_size, device, small, n_batches)
    if not row["bitwise_equal"] and device.type == "cuda":
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        try:
            again = _resume_once(name, build, batch_size, device, small, n_batches)
        finally:
            torch.use_deterministic_algorithms(False)
            torch.backends.cudnn.deterministic = False
        row["deterministic_max_abs_diff"] = again["max_abs_diff"]
        row["deterministic_bitwise_equal"] = again["bitwise_equal"]
    return [row]


def check_determinism(name, build, batch_size, device, small):
    """The same forward + backward twice (same weights, input and seed): which gradients differ?

    Gradients flow from the loss backwards, so a non-deterministic kernel changes the gradient of
    its own layer and of every layer before it: the differing parameter nearest the output names
    the layer whose backward is not deterministic. Repeated with cuDNN's deterministic algorithms
    and with the math attention kernel to attribute it.
    """
    import contextlib

    import torch

    torch.manual_seed(0)
    model, make_batch, step = build(device, small)
    model.to(device).train()
    batch = make_batch(batch_size, torch.Generator().manual_seed(0))
    names = [n for n, p in model.named_parameters() if p.requires_grad]

    def grads():
        torch.manual_seed(1)  # the same dropout masks and augmentations
        if device.type == "cuda":
            torch.cuda.manual_seed_all(1)
        model.zero_grad(set_to_none=True)
        _loss(model, step, batch).backward()
        return {n: p.grad.detach().float().clone() for n, p in model.named_parameters()
                if p.grad is not None}

    def compare(label, ctx):
        with ctx:
            a, b = grads(), grads()
        diff = {n: float((a[n] - b[n]).abs().max()) for n in a}
        bad = [n for n in names if diff.get(n, 0.0) > 0]
        return {"check": "determinism", "model": name, "device": str(device), "setting": label,
                "batch_size": batch_size, "bitwise_equal": not bad, "n_differ": len(bad),
                "nearest_output": bad[-1] if bad else None,
                "max_abs_diff": max(diff.values()) if diff else 0.0, "differ": bad[-8:]}

    rows = [compare("default", contextlib.nullcontext())]
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        try:
            rows.append(compare("cudnn.deterministic", contextlib.nullcontext()))
        finally:
            torch.backends.cudnn.deterministic = False
        from torch.nn.attention import SDPBackend, sdpa_kernel

        rows.append(compare("math attention", sdpa_kernel(SDPBackend.MATH)))
    return rows


def check_memory_estimate(device, small):
    """MindBridge: measured peak training memory against the analytic estimate.

    The bridge (4 subjects, 50 per subject) and reset-tuning (a 5th subject, 50 source + 50
    target), float32 and bf16 autocast, PyTorch's default (foreach) AdamW on all trainable
    parameters, as the Trainer runs it.
    """
    import torch
    from neurosim.decoding import mindbridge_memory_estimate

    if small:
        return [{"check": "memory-estimate", "skipped": "paper size only (GPU)"}]
    rows = []
    cases = [("mindbridge-nsd-paper", _mindbridge, 200,
              {"n_subjects": 4, "batch_size": 50}),
             ("mindbridge-nsd-adapt", _mindbridge_adapt, 100,
              {"n_subjects": 5, "batch_size": 50, "trainable_subjects": 1,
               "subjects_per_step": 2})]
    for name, build, n, est_kw in cases:
        for precision in ("32", "bf16"):
            est = mindbridge_memory_estimate(**est_kw,
                                             activation_bytes=2 if precision == "bf16" else 4)
            model, make_batch, step = build(device, small)
            model.to(device).train()
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
            batch = make_batch(n, torch.Generator().manual_seed(0))
            amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
            _reset_peak(device)
            for _ in range(2):
                with amp:
                    loss = step(model, batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            _sync(device)
            peak = _peak_gib(device)
            rows.append({"check": "memory-estimate", "model": name, "precision": precision,
                         "batch_size": n, "n_parameters": int(est["n_parameters"]),
                         "n_trainable": int(est["n_trainable"]),
                         "estimated_total_gib": round(float(est["total_gib"]), 3),
                         "estimated_optimizer_step_gib": round(float(est["optimizer_step_gib"]), 3),
                         "estimated_activations_gib": round(float(est["activations_gib"]), 3),
                         "measured_peak_gib": peak,
                         "error_pct": round(100 * (est["total_gib"] / peak - 1), 2)})
            del model, opt, batch
            _reset_peak(device)
    return rows


# ------------------------------------------------------------------- accumulation and DDP (#19)
def _mlp_data(device, small, n):
    import torch

    d = 64 if small else 1024
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)

    def build():
        torch.manual_seed(0)
        hidden = 64 if small else 2048
        return torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.GELU(),
                                   torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
                                   torch.nn.Linear(hidden, 10)).to(device)

    return X, y, build


def _fit_mlp(build, data, device, **kwargs):
    from neurosim.decoding import Trainer

    model = build()
    tr = Trainer(max_epochs=2, lr=1e-3, device=device, precision="32", random_state=0, **kwargs)
    _sync(device)
    tr.fit(model, data)
    _sync(device)
    times = tr.history_["time_s"].values
    return model, tr, float(times[-1])  # epoch 2: warm


def _max_diff(a, b):
    return max(float((p.detach() - q.detach()).abs().max())
               for p, q in zip(a.parameters(), b.parameters()))


def check_accumulation(device, small):
    """Trainer with accumulate_grad_batches=4 against one batch 4 times larger (float32)."""
    n, big = (512, 64) if small else (65536, 1024)
    X, y, build = _mlp_data(device, small, n)
    ref, _, t_ref = _fit_mlp(build, (X, y), device, batch_size=big)
    acc, _, t_acc = _fit_mlp(build, (X, y), device, batch_size=big // 4,
                             accumulate_grad_batches=4)
    return [{"check": "accumulation", "model": "mlp", "device": str(device), "batch": big,
             "accumulate": 4, "samples_per_s_batch": round(n / t_ref, 1),
             "samples_per_s_accumulated": round(n / t_acc, 1),
             "max_abs_diff": _max_diff(ref, acc), "within_1e-5": _max_diff(ref, acc) <= 1e-5}]


def check_ddp_world1(device, small):
    """The Trainer in a process group of one (nccl on CUDA, gloo on CPU) against no group."""
    import socket

    n, bs = (512, 64) if small else (65536, 1024)
    X, y, build = _mlp_data(device, small, n)
    plain, _, t_plain = _fit_mlp(build, (X, y), device, batch_size=bs)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    if device.type == "cpu" and not os.environ.get("GLOO_SOCKET_IFNAME"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # one host: gloo on the loopback interface
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        ddp, tr, t_ddp = _fit_mlp(build, (X, y), device, batch_size=bs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    import torch

    backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else None
    return [{"check": "ddp-world1", "model": "mlp", "device": str(tr.device_), "backend": backend,
             "world_size": tr.world_size_, "samples_per_s_plain": round(n / t_plain, 1),
             "samples_per_s_ddp": round(n / t_ddp, 1),
             "ddp_overhead_pct": round(100 * (t_ddp / t_plain - 1), 1),
             "max_abs_diff": _max_diff(plain, ddp)}]


# ------------------------------------------------------------------------------------ main
def _env(device):
    import torch

    row = {"check": "env", "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        row.update({"cuda": torch.version.cuda, "name": props.name,
                    "capability": f"{props.major}.{props.minor}",
                    "total_gib": round(props.total_memory / 1024**3, 1),
                    "bf16": bool(torch.cuda.is_bf16_supported()),
                    "cudnn": torch.backends.cudnn.version()})
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also append the JSON lines to this file")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="skip the remaining checks after this many seconds")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="no CUDA: run every check on the CPU with small inputs")
    parser.add_argument("--models", default=None,
                        help="comma-separated subset of the model names")
    parser.add_argument("--checks", default="fwd-bwd,trainer,resume,determinism,memory-estimate,"
                                            "accumulation,ddp-world1")
    args = parser.parse_args(argv)

    # deterministic cuBLAS if a check asks for it (must be set before CUDA starts)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    t_start = time.perf_counter()
    if torch.cuda.is_available() and not args.cpu_dry_run:
        device, small = torch.device("cuda", 0), False
        torch.backends.cudnn.benchmark = False
    elif args.cpu_dry_run:
        device, small = torch.device("cpu"), True
    else:
        print(json.dumps({"check": "env", "error": "no CUDA device; use --cpu-dry-run"}))
        return 1
    out = open(args.out, "a") if args.out else None  # noqa: SIM115

    def emit(row):
        row["t_s"] = round(time.perf_counter() - t_start, 1)
        line = json.dumps(row)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    emit(_env(device))
    models = MODELS
    if args.models:
        wanted = set(args.models.split(","))
        unknown = wanted - {m[0] for m in MODELS}
        if unknown:
            raise SystemExit(f"unknown model(s) {sorted(unknown)}; known: {[m[0] for m in MODELS]}")
        models = [m for m in MODELS if m[0] in wanted]
    checks = args.checks.split(",")
    n_steps = 3 if small else 20
    plan = []
    for name, build, bs, _ in models:
        bs_here = min(bs, 8) if small else bs
        if "fwd-bwd" in checks:
            plan.append(("fwd-bwd", name, lambda b=build, n=name, s=bs_here:
                         check_fwd_bwd(n, b, s, device, small, n_steps)))
    for name, build, bs, resume_small in models:
        bs_here = min(bs, 8) if small else bs
        if "trainer" in checks:
            plan.append(("trainer", name, lambda b=build, n=name, s=bs_here:
                         check_trainer(n, b, s, device, small, 3 if small else 10)))
        if "resume" in checks:
            rs = small or resume_small
            bs_resume = min(bs, 8) if rs else bs
            plan.append(("resume", name, lambda b=build, n=name, s=bs_resume, r=rs:
                         check_resume(n + ("-small" if r and not small else ""), b, s, device, r,
                                      2 if small else 4)))
    for name, build, bs, _ in models:  # which backward kernel is not deterministic (BrainFLORA)
        if "determinism" in checks and name.startswith("brainflora"):
            bs_det = min(bs, 8)
            plan.append(("determinism", name, lambda b=build, n=name, s=bs_det:
                         check_determinism(n, b, s, device, small)))
    if "memory-estimate" in checks:
        plan.append(("memory-estimate", "mindbridge", lambda: check_memory_estimate(device, small)))
    if "accumulation" in checks:
        plan.append(("accumulation", "mlp", lambda: check_accumulation(device, small)))
    if "ddp-world1" in checks:
        plan.append(("ddp-world1", "mlp", lambda: check_ddp_world1(device, small)))

    failures = 0
    for check, name, fn in plan:
        if time.perf_counter() - t_start > args.budget_s:
            emit({"check": check, "model": name, "skipped": "time budget"})
            continue
        try:
            for row in fn():
                emit(row)
        except Exception as err:  # noqa: BLE001 - report and go on with the other checks
            failures += 1
            emit({"check": check, "model": name, "error": f"{type(err).__name__}: {err}",
                  "traceback": traceback.format_exc(limit=6)[-2000:]})
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    emit({"check": "done", "failures": failures})
    if out:
        out.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
