"""One trainer for every decoder: device, mixed precision, AdamW, schedulers, checkpoints, history."""

from __future__ import annotations

import contextlib
import math
import numbers
import time
import warnings
from pathlib import Path

import numpy as np

from neurosim._utils import check_positive, check_random_state, check_size
from neurosim._utils_torch import resolve_device

from ._checkpoints import CKPT_FORMAT, CheckpointStore

__all__ = ["Trainer"]

_SCHEDULERS = (None, "onecycle", "cosine")
_PRECISIONS = ("auto", "32", "bf16", "fp16")


def _torch():
    import torch

    return torch


def _to_device(batch, device, non_blocking=False):
    torch = _torch()
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: _to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(v, device, non_blocking) for v in batch)
    if isinstance(batch, np.ndarray):
        return torch.as_tensor(batch).to(device, non_blocking=non_blocking)
    return batch


def _batch_size(batch):
    torch = _torch()
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, dict):
        for v in batch.values():
            return _batch_size(v)
    if isinstance(batch, (tuple, list)) and batch:
        return _batch_size(batch[0])
    return 1


def _as_tensor(name, a):
    """Array/tensor/DataArray -> tensor (float arrays to float32), refusing NaN/inf."""
    torch = _torch()
    if hasattr(a, "get_data") and hasattr(a, "info"):  # mne.Epochs: (epoch, channel, time)
        a = a.get_data()
    if hasattr(a, "values") and hasattr(a, "dims"):  # xarray.DataArray
        a = a.values
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric (class labels as integers 0..n_classes-1, "
                            f"e.g. from sklearn.preprocessing.LabelEncoder), got dtype {a.dtype}")
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        t = torch.from_numpy(np.ascontiguousarray(a))
    elif isinstance(a, torch.Tensor):
        t = a
    else:
        raise TypeError(f"{name} must hold numpy arrays or torch tensors, got {type(a).__name__}")
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return t


def _is_epochs(a):
    return hasattr(a, "get_data") and hasattr(a, "info") and hasattr(a, "events")


def _model_input(model, data):
    """Pass :class:`mne.Epochs` through ``model.prepare_epochs`` (channels by name, units) if the
    model defines it; other data unchanged. ``data`` is one array-like or a tuple of them."""
    prepare = getattr(model, "prepare_epochs", None)
    if prepare is None:
        return data
    if isinstance(data, (tuple, list)):
        return type(data)(prepare(a) if _is_epochs(a) else a for a in data)
    return prepare(data) if _is_epochs(data) else data


def _label_like(X, y):
    """``y`` (samples first) as a DataArray carrying ``X``'s sample coordinates, if ``X`` has any."""
    out_dims = ["output"] + [f"output_{k}" for k in range(1, y.ndim - 1)]
    if hasattr(X, "get_data") and hasattr(X, "info"):  # mne.Epochs
        import xarray as xr

        names = {code: name for name, code in getattr(X, "event_id", {}).items()}
        codes = np.asarray(X.events[:, 2])
        coords = {"event": ("epoch", codes), "sample": ("epoch", np.asarray(X.events[:, 0])),
                  "condition": ("epoch", np.array([names.get(int(c), str(c)) for c in codes]))}
        return xr.DataArray(y, dims=("epoch", *out_dims), coords=coords)
    if hasattr(X, "dims") and hasattr(X, "coords"):  # xarray.DataArray
        import xarray as xr

        dim0 = X.dims[0]
        coords = {k: c for k, c in X.coords.items() if c.dims == (dim0,)}
        return xr.DataArray(y, dims=(dim0, *out_dims), coords=coords)
    return y


def _param_groups(model, params, weight_decay):
    """AdamW parameter groups: ``model.no_weight_decay()`` names get ``weight_decay=0``.

    A model that defines ``no_weight_decay()`` (a set of parameter names, as in timm) has those
    parameters optimised without weight decay (MindBridge: biases and norms, as its official
    trainer); otherwise every parameter is decayed.
    """
    exempt = getattr(model, "no_weight_decay", None)
    if not callable(exempt) or not weight_decay:
        return params
    names = set(exempt())
    trainable = {id(p) for p in params}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if id(p) in trainable:
            (no_decay if name in names else decay).append(p)
    groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def default_step(model, batch):
    """``model.training_step(batch)`` if defined, else cross-entropy of ``model(x)`` against ``y``."""
    import torch.nn.functional as F

    if hasattr(model, "training_step"):
        return model.training_step(batch)
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        x, y = batch[0], batch[1]
        return F.cross_entropy(model(x), y)
    raise TypeError("the default step needs (x, y) batches or a model with a training_step(batch) "
                    "method; pass step=... for other batches")


def _describe_tensors(tensors):
    return [[list(t.shape), str(t.dtype).replace("torch.", "")] for t in tensors]


def _describe(data):
    """Shapes of a data argument for the checkpoint fingerprint (no data are read)."""
    kind = f"{type(data).__module__}.{type(data).__qualname__}"
    if callable(data) and not hasattr(data, "__len__"):
        return {"callable": getattr(data, "__qualname__", kind)}
    try:
        n = len(data)
    except TypeError:
        n = None
    return {"type": kind, "len": n}


def _grouped(micro, k, world, dist, *, total_from_counts, drop_incomplete):
    """Group the batches of ``micro(epoch, generator)`` ``k`` by ``k`` into optimiser steps."""
    def finish(buf):
        counts = [_batch_size(b) for b in buf]
        local = sum(counts)
        if world == 1:
            total = local
        elif total_from_counts:  # every rank holds as many samples (DistributedSampler)
            total = world * local
        else:
            total = int(round(dist.sum([local])[0]))
        return buf, counts, total

    def groups(epoch, generator):
        buf = []
        for batch in micro(epoch, generator):
            buf.append(batch)
            if len(buf) == k:
                yield finish(buf)
                buf = []
        if buf and not drop_incomplete:
            yield finish(buf)

    return groups


def _fmt_desc(desc):
    if isinstance(desc, list):
        return "(" + ", ".join(f"{tuple(shape)} {dtype}" for shape, dtype in desc) + ")"
    if isinstance(desc, dict):
        return ", ".join(f"{k}={v}" for k, v in desc.items())
    return repr(desc)


def _is_checkpoint(state):
    return isinstance(state, dict) and state.get("format") == CKPT_FORMAT


def _rank_seed(seed, rank):
    """Seed of torch's random numbers on ``rank``: ``seed`` itself on rank 0."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(2, dtype=np.uint64)[0] >> 2)


class Trainer:
    """Train a :class:`torch.nn.Module`: AdamW, schedulers, mixed precision, checkpoints, DDP.

    Every decoder of :mod:`neurosim.decoding` is trained by this class. It places the model and the
    data on the device (CUDA when available), batches small in-memory arrays on the device with a
    seeded shuffle, streams a :class:`torch.utils.data.Dataset` through a seeded
    :class:`~torch.utils.data.DataLoader` (pinned memory, worker processes) or calls a sampler you
    write, optimises the parameters that have ``requires_grad=True`` with AdamW, clips the gradient
    norm, runs under bf16/fp16 autocast on GPUs, accumulates gradients over several batches,
    writes a checkpoint after every epoch and resumes from the latest one: a run killed after any
    epoch and restarted ends with the same weights, bit for bit, as an uninterrupted run with the
    same seed.

    **Several processes.** Started under ``torchrun --nproc_per_node=N script.py`` (any launcher
    that sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``), the
    same script trains with :class:`~torch.nn.parallel.DistributedDataParallel`: the process
    group is created from the environment (``gloo`` on the CPU, ``nccl`` on CUDA, one GPU per
    process: ``cuda:LOCAL_RANK``), every epoch's shuffled order is shared by all processes and
    each takes its own part of every batch (a :class:`~torch.utils.data.distributed.
    DistributedSampler` for Dataset input), losses and metrics are reduced over all processes,
    rank 0 writes the checkpoints and every rank resumes from them. ``batch_size`` is per
    process: one optimiser step sees ``batch_size * accumulate_grad_batches * world_size``
    samples, and for array input N processes give the same weights (to rounding) as one
    process with an N times larger ``batch_size``.

    Parameters
    ----------
    max_epochs : int
        Number of epochs.
    batch_size : int
        Batch size per forward pass and per process, for array and Dataset inputs (a callable
        ``train`` makes its own batches).
    lr : float
        Learning rate (the maximum learning rate for ``scheduler="onecycle"``).
    weight_decay : float
        AdamW weight decay. Parameters named by the model's ``no_weight_decay()`` method, if it
        has one (a set of names, as in timm; e.g. MindBridge's biases and norms), are not
        decayed.
    scheduler : None | "onecycle" | "cosine" | callable
        Learning-rate schedule stepped after every optimiser step: constant (None), one-cycle
        (:class:`~torch.optim.lr_scheduler.OneCycleLR`) or cosine annealing to zero over all steps.
        A callable ``scheduler(optimizer, total_steps)`` returns any torch scheduler.
    grad_clip : float | None
        Maximum gradient norm (None: no clipping).
    precision : "auto" | "32" | "bf16" | "fp16"
        ``"auto"`` is bf16 autocast on a CUDA device that supports it, else float32. ``"fp16"``
        needs CUDA and uses a gradient scaler.
    device : None | str | torch.device
        None: ``"cuda"`` if available, else ``"cpu"`` (under ``torchrun`` with CUDA:
        ``cuda:LOCAL_RANK``).
    checkpoint_dir : None | str | path-like
        If given, a checkpoint is written there after every epoch, and :meth:`fit` resumes from the
        latest one. The Trainer owns only the files listed in its manifest
        (``trainer_checkpoints.json``) there, and never loads, replaces or deletes any other file.
    early_stopping : None | int
        Stop when ``monitor`` has not improved for this many epochs.
    monitor : str
        The history entry that early stopping and ``best_epoch_`` follow, e.g. ``"val_loss"`` or a
        key returned by ``evaluate``.
    mode : "min" | "max"
        Whether a lower or a higher ``monitor`` is better.
    random_state : None | int | numpy.random.Generator
        Seeds the shuffling, the DataLoader workers and torch's random numbers during training
        (dropout, augmentations). The caller's global torch random state is left untouched.
    progress : bool
        Show a tqdm progress bar over epochs (rank 0 only).
    num_workers : int
        DataLoader worker processes for Dataset input.
    drop_last : bool
        Drop the samples of each epoch that do not fill a whole optimiser step of
        ``batch_size * accumulate_grad_batches * world_size`` (array and Dataset input).
    restore_best : bool
        After training, load the weights of the epoch with the best ``monitor``.
    steps_per_epoch : None | int
        Batches per epoch of a callable ``train``, needed by the schedulers; if None, it is taken
        from ``len(train(0, generator))``.
    accumulate_grad_batches : int
        Sum the gradients of this many batches before each optimiser step. Each batch's loss is
        weighted by its share of the step's samples, so that ``k`` accumulated batches give the
        gradient (to rounding) of one batch ``k`` times larger, also when the last step of an
        epoch is short. The loss of ``step`` must be a mean over the batch's samples (as the
        default cross-entropy and the decoders' ``training_step`` are).
    keep_checkpoints : int
        How many of the newest checkpoints to keep (at least 1). When the newest is unreadable
        (truncated, changed, not a checkpoint), :meth:`fit` warns, naming it and the reason, and
        resumes from the previous one.
    resume : True | False | "force"
        ``True``: resume from the newest checkpoint in ``checkpoint_dir`` if its fingerprint (the
        model's class and tensor shapes, the settings: ``lr``, ``weight_decay``, ``scheduler`` and
        its total steps, ``grad_clip``, ``batch_size``, ``accumulate_grad_batches``, number of
        processes, ``precision``, ``drop_last``, an integer ``random_state``; and the shapes and
        dtypes of ``train`` and ``val``) matches this fit; a mismatch raises
        :class:`ValueError` listing the differences. ``"force"``: resume even so, with a warning;
        the new ``lr`` and ``weight_decay`` replace the checkpoint's, and the learning-rate
        schedule is rebuilt for the new settings and advanced to the steps already taken.
        ``False``: start from epoch 0; the new run replaces the Trainer's own checkpoints as it
        writes its own. A resumed fit always warns once, naming the checkpoint and its epoch.
    ddp_options : None | dict
        Keyword arguments of :class:`~torch.nn.parallel.DistributedDataParallel`, e.g.
        ``{"find_unused_parameters": True}`` for models with parameters that some steps do not
        use (MindBridge's per-subject layers when a batch lacks a subject).

    Attributes
    ----------
    history_ : xarray.Dataset
        One row per epoch (dim ``epoch``, 1-based): ``train_loss``, ``val_loss`` (with ``val``),
        ``lr``, ``time_s`` and every metric returned by ``step`` (``train_<name>``, ``val_<name>``)
        and by ``evaluate``. Under several processes, losses and metrics are means over all of
        them.
    best_epoch_ : int | None
        Epoch with the best ``monitor`` (None if it was never reported).
    best_score_ : float
        Its value.
    stopped_epoch_ : int
        Last epoch trained.
    resumed_from_ : int
        Epochs found in the checkpoint that this fit resumed from (0 if none).
    device_ : torch.device
        The device used.
    precision_ : str
        The precision used (``"32"``, ``"bf16"`` or ``"fp16"``).
    world_size_ : int
        Number of processes that trained (1 without ``torchrun``).
    rank_ : int
        This process's rank (0 without ``torchrun``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from neurosim.decoding import Trainer
    >>> X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int64")
    >>> model = torch.nn.Linear(4, 2)
    >>> trainer = Trainer(max_epochs=3, batch_size=16, lr=1e-2, device="cpu").fit(model, (X, y))
    >>> trainer.history_.sizes["epoch"]
    3

    Eight batches of 8 per optimiser step, the gradient of batches of 64:

    >>> trainer = Trainer(max_epochs=1, batch_size=8, accumulate_grad_batches=8, device="cpu")
    >>> trainer.fit(torch.nn.Linear(4, 2), (X, y)).history_.sizes["epoch"]
    1
    """

    def __init__(self, *, max_epochs=10, batch_size=64, lr=1e-3, weight_decay=1e-2, scheduler=None,
                 grad_clip=1.0, precision="auto", device=None, checkpoint_dir=None,
                 early_stopping=None, monitor="val_loss", mode="min", random_state=0,
                 progress=False, num_workers=0, drop_last=False, restore_best=False,
                 steps_per_epoch=None, accumulate_grad_batches=1, keep_checkpoints=2,
                 resume=True, ddp_options=None):
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.scheduler = scheduler
        self.grad_clip = grad_clip
        self.precision = precision
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.early_stopping = early_stopping
        self.monitor = monitor
        self.mode = mode
        self.random_state = random_state
        self.progress = progress
        self.num_workers = num_workers
        self.drop_last = drop_last
        self.restore_best = restore_best
        self.steps_per_epoch = steps_per_epoch
        self.accumulate_grad_batches = accumulate_grad_batches
        self.keep_checkpoints = keep_checkpoints
        self.resume = resume
        self.ddp_options = ddp_options

    def __repr__(self):
        keys = ("max_epochs", "batch_size", "lr", "scheduler", "precision", "device")
        return "Trainer(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in keys) + ")"

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_size("max_epochs", self.max_epochs, minimum=1)
        check_size("batch_size", self.batch_size, minimum=1)
        check_positive("lr", self.lr)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if self.grad_clip is not None:
            check_positive("grad_clip", self.grad_clip)
        if not (self.scheduler in _SCHEDULERS or callable(self.scheduler)):
            raise ValueError(f"scheduler must be one of {_SCHEDULERS} or a callable, "
                             f"got {self.scheduler!r}")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}")
        if self.early_stopping is not None:
            check_size("early_stopping", self.early_stopping, minimum=1)
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if not isinstance(self.monitor, str):
            raise TypeError(f"monitor must be a str, got {self.monitor!r}")
        check_size("num_workers", self.num_workers, minimum=0)
        if self.steps_per_epoch is not None:
            check_size("steps_per_epoch", self.steps_per_epoch, minimum=1)
        check_size("accumulate_grad_batches", self.accumulate_grad_batches, minimum=1)
        check_size("keep_checkpoints", self.keep_checkpoints, minimum=1)
        if not (self.resume is True or self.resume is False or self.resume == "force"):
            raise ValueError(f"resume must be True, False or 'force', got {self.resume!r}")
        if self.ddp_options is not None and not isinstance(self.ddp_options, dict):
            raise TypeError(f"ddp_options must be None or a dict, got {self.ddp_options!r}")

    def _resolve_precision(self, device):
        torch = _torch()
        p = self.precision
        if p == "auto":
            cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
            return "bf16" if cuda_bf16 else "32"
        if p == "fp16" and device.type != "cuda":
            raise ValueError("precision='fp16' needs a CUDA device; use '32' or 'bf16' on the CPU")
        return p

    def _seed(self):
        if isinstance(self.random_state, np.random.Generator):
            return int(self.random_state.integers(2**62))
        if self.random_state is None:
            return int(check_random_state(None).integers(2**62))
        if isinstance(self.random_state, numbers.Integral) and not isinstance(self.random_state, bool):
            check_random_state(self.random_state)  # validates the sign
            return int(self.random_state)
        return int(check_random_state(self.random_state).integers(2**62))  # raises TypeError

    # ------------------------------------------------------------------ data
    def _arrays(self, name, data, device):
        tensors = [_as_tensor(f"{name}[{i}]", a) for i, a in enumerate(data)]
        n = int(tensors[0].shape[0])
        for i, t in enumerate(tensors):
            if t.ndim == 0 or int(t.shape[0]) != n:
                raise ValueError(f"all arrays of {name} must have the same first dimension: "
                                 f"{name}[0] has {n} rows, {name}[{i}] has shape {tuple(t.shape)}")
        if n == 0:
            raise ValueError(f"{name} holds no samples")
        return [t.to(device) for t in tensors], n  # small arrays: batch on the device

    def _make_train_source(self, data, device, dist):
        """Return ``(groups(epoch, generator), steps per epoch or None, description)``.

        ``groups`` yields one ``(batches, counts, total)`` per optimiser step: this rank's
        batches, the samples of each on this rank (0 for a placeholder batch whose loss is
        weighted by 0, so that every rank takes part in every step) and the samples of the
        step over all ranks (None: the sum of ``counts`` over the ranks).
        """
        torch = _torch()
        from torch.utils.data import DataLoader, Dataset

        bs, k = self.batch_size, self.accumulate_grad_batches
        world, rank = dist.world_size, dist.rank
        if isinstance(data, (tuple, list)):
            if not data:
                raise ValueError("train must be a non-empty tuple of arrays")
            tensors, n = self._arrays("train", data, device)
            desc = _describe_tensors(tensors)
            if n < world:
                raise ValueError(f"train has {n} samples, fewer than the {world} processes "
                                 "(WORLD_SIZE): every process needs at least one sample")
            G = bs * k * world  # samples per optimiser step
            n_eff = (n // G) * G if self.drop_last else n
            if n_eff == 0:
                raise ValueError(f"train has {n} samples, fewer than one optimiser step of "
                                 f"batch_size * accumulate_grad_batches * processes = {bs} * {k} "
                                 f"* {world} = {G} with drop_last=True")
            n_steps = math.ceil(n_eff / G)

            def groups(epoch, generator):
                order = torch.randperm(n, generator=generator).to(device)
                for j in range(n_steps):
                    if world == 1 and k == 1:
                        idx = order[j * bs:(j + 1) * bs]
                        yield [tuple(t[idx] for t in tensors)], [int(idx.shape[0])], None
                        continue
                    start = j * G
                    m = min(G, n_eff - start)
                    batches, counts = [], []
                    for i in range(math.ceil(m / (world * bs))):
                        lo = i * world * bs + rank * bs
                        hi = min(lo + bs, m)
                        if hi > lo:
                            idx = order[start + lo:start + hi]
                        else:  # this rank has no sample left in this step: a 0-weight placeholder
                            idx = order[start:start + 1]
                        batches.append(tuple(t[idx] for t in tensors))
                        counts.append(max(hi - lo, 0))
                    yield batches, counts, m

            return groups, n_steps, desc

        if isinstance(data, Dataset):
            pin = device.type == "cuda"
            try:
                n = len(data)
            except TypeError:
                n = None
            if n is not None and n < world:
                raise ValueError(f"train has {n} samples, fewer than the {world} processes "
                                 "(WORLD_SIZE): every process needs at least one sample")
            if world > 1 and n is None:
                raise TypeError("under several processes a Dataset needs __len__ (it is split "
                                "with a DistributedSampler)")

            def micro(epoch, generator):
                if world == 1:
                    loader = DataLoader(data, batch_size=bs, shuffle=True, generator=generator,
                                        num_workers=self.num_workers, pin_memory=pin,
                                        drop_last=self.drop_last)
                else:
                    from torch.utils.data.distributed import DistributedSampler

                    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
                    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True,
                                                 seed=seed, drop_last=self.drop_last)
                    loader = DataLoader(data, batch_size=bs, sampler=sampler, generator=generator,
                                        num_workers=self.num_workers, pin_memory=pin,
                                        drop_last=self.drop_last)
                for batch in loader:
                    yield _to_device(batch, device, non_blocking=pin)

            n_steps = None
            if n is not None:
                per_rank = n // world if (self.drop_last and world > 1) else math.ceil(n / world)
                n_micro = per_rank // bs if self.drop_last else math.ceil(per_rank / bs)
                n_steps = n_micro // k if self.drop_last else math.ceil(n_micro / k)
                if n_steps == 0:
                    raise ValueError(f"train has {n} samples, fewer than one optimiser step of "
                                     f"{bs * k * world} samples with drop_last=True")
            # every rank holds the same number of samples (DistributedSampler pads or drops)
            return (_grouped(micro, k, world, dist, total_from_counts=True,
                             drop_incomplete=self.drop_last), n_steps, _describe(data))

        if callable(data):
            def micro(epoch, generator):
                for batch in data(epoch, generator):
                    yield _to_device(batch, device)

            n_steps = None if self.steps_per_epoch is None else math.ceil(self.steps_per_epoch / k)
            return (_grouped(micro, k, world, dist, total_from_counts=False,
                             drop_incomplete=False), n_steps, _describe(data))
        raise TypeError("train must be a tuple of arrays/tensors, a torch Dataset or a callable "
                        f"train(epoch, generator) -> batches; got {type(data).__name__}")

    def _make_val_source(self, data, device, dist):
        """Return ``(batches(epoch), description)``; ``batches`` yields this rank's share."""
        torch = _torch()
        from torch.utils.data import DataLoader, Dataset, Subset

        bs = self.batch_size
        world, rank = dist.world_size, dist.rank
        if isinstance(data, (tuple, list)):
            if not data:
                raise ValueError("val must be a non-empty tuple of arrays")
            tensors, n = self._arrays("val", data, device)
            desc = _describe_tensors(tensors)
            lo, hi = rank * n // world, (rank + 1) * n // world  # contiguous shard, every sample once

            def batches(epoch):
                for b in range(lo, hi, bs):
                    idx = torch.arange(b, min(b + bs, hi), device=device)
                    yield tuple(t[idx] for t in tensors)

            return batches, desc
        if isinstance(data, Dataset):
            pin = device.type == "cuda"
            part = data
            if world > 1:
                n = len(data)
                part = Subset(data, range(rank * n // world, (rank + 1) * n // world))

            def batches(epoch):
                loader = DataLoader(part, batch_size=bs, shuffle=False,
                                    num_workers=self.num_workers, pin_memory=pin)
                for batch in loader:
                    yield _to_device(batch, device, non_blocking=pin)

            return batches, _describe(data)
        if callable(data):
            def batches(epoch):
                for batch in data(epoch, torch.Generator().manual_seed(epoch)):
                    yield _to_device(batch, device)

            return batches, _describe(data)
        raise TypeError("val must be a tuple of arrays/tensors, a torch Dataset or a callable "
                        f"val(epoch, generator) -> batches; got {type(data).__name__}")

    # ------------------------------------------------------------------ fingerprint
    @staticmethod
    def _model_fingerprint(model):
        shapes = [(k, list(v.shape)) for k, v in model.state_dict().items()]
        return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "shapes": shapes}

    def _settings(self, precision, world, total_steps, seed_is_fixed):
        sched = self.scheduler
        if callable(sched):
            sched = f"{getattr(sched, '__module__', '')}.{getattr(sched, '__qualname__', sched)}"
        settings = {
            "lr": float(self.lr), "weight_decay": float(self.weight_decay), "scheduler": sched,
            "grad_clip": None if self.grad_clip is None else float(self.grad_clip),
            "batch_size": int(self.batch_size),
            "accumulate_grad_batches": int(self.accumulate_grad_batches),
            "processes": int(world), "precision": precision, "drop_last": bool(self.drop_last),
            "random_state": int(self.random_state) if seed_is_fixed else None,
        }
        if self.scheduler is not None:  # the schedule spans every step of max_epochs
            settings["scheduler_total_steps"] = int(total_steps)
        return settings

    @staticmethod
    def _differences(theirs, ours):
        """Readable differences between two fingerprints (settings and data; not the model)."""
        out = []
        ts, os_ = theirs["settings"], ours["settings"]
        for key in sorted(set(ts) | set(os_)):
            a, b = ts.get(key), os_.get(key)
            if key == "random_state" and (a is None or b is None):
                continue  # a random seed is never compared
            if a != b:
                hint = ""
                if key == "scheduler_total_steps":
                    hint = (" (max_epochs or the batches per epoch changed; the learning-rate "
                            "schedule spans every step of the run)")
                out.append(f"{key}: checkpoint {a!r}, now {b!r}{hint}")
        for key in ("train", "val"):
            a, b = theirs["data"].get(key), ours["data"].get(key)
            if a != b:
                out.append(f"{key} data: checkpoint {_fmt_desc(a)}, now {_fmt_desc(b)}")
        if theirs["model"]["class"] != ours["model"]["class"]:
            out.append(f"model class: checkpoint {theirs['model']['class']}, now "
                       f"{ours['model']['class']}")
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, model, train, val=None, *, step=None, evaluate=None):
        """Train ``model`` (resuming from ``checkpoint_dir`` if it holds a checkpoint).

        Parameters
        ----------
        model : torch.nn.Module
            The model; only its parameters with ``requires_grad=True`` are optimised.
        train : tuple of arrays/tensors | torch.utils.data.Dataset | callable
            ``(x, y, ...)`` with equal first dimensions (numpy arrays, tensors, DataArrays or
            :class:`mne.Epochs`; batched on the device with a seeded shuffle; Epochs go through
            ``model.prepare_epochs`` when the model defines it, e.g. HiSTN's channel matching
            and scaling),
            a Dataset (seeded DataLoader), or ``train(epoch, generator)`` returning an iterable of
            batches (tuples or dicts of tensors) for custom sampling (under several processes,
            a callable must give each rank its own batches: read
            :func:`torch.distributed.get_rank`).
        val : same forms as ``train`` | None
            Validation data; its mean ``step`` loss is recorded as ``val_loss``. Under several
            processes each rank evaluates its own contiguous part of array and Dataset input.
        step : callable | None
            ``step(model, batch) -> loss`` or ``(loss, dict of floats)``, the loss a mean over
            the batch. Default: ``model.training_step(batch)`` if the model defines it, else
            cross-entropy of ``model(x)`` against ``y``.
        evaluate : callable | None
            ``evaluate(model) -> dict of floats`` called after each epoch in eval mode without
            gradients (under several processes, on every rank; rank 0's values are kept).

        Returns
        -------
        self : Trainer
        """
        torch = _torch()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self._check_params()
        step = default_step if step is None else step
        if not callable(step):
            raise TypeError(f"step must be callable, got {step!r}")
        if evaluate is not None and not callable(evaluate):
            raise TypeError(f"evaluate must be callable, got {evaluate!r}")
        store = None
        if self.checkpoint_dir is not None:
            store = CheckpointStore(self.checkpoint_dir, self.keep_checkpoints)
        from ._distributed import check_world_vs_data, setup

        check_world_vs_data(train)  # before joining a process group that would wait for peers
        dist = setup(self.device)
        try:
            self._fit(model, train, val, step, evaluate, store, dist)
        finally:
            dist.close()
        return self

    def _fit(self, model, train, val, step, evaluate, store, dist):
        torch = _torch()
        device = dist.device
        precision = self._resolve_precision(device)
        self.device_, self.precision_ = device, precision
        self.world_size_, self.rank_ = dist.world_size, dist.rank
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no parameter with requires_grad=True: nothing to train")

        train = _model_input(model, train)  # mne.Epochs: the model's channels and units
        val = _model_input(model, val) if val is not None else None
        train_groups, n_steps, train_desc = self._make_train_source(train, device, dist)
        val_batches, val_desc = (self._make_val_source(val, device, dist) if val is not None
                                 else (None, None))
        seed = dist.broadcast(self._seed())  # one seed for every rank (random_state=None too)
        seed_is_fixed = (isinstance(self.random_state, numbers.Integral)
                         and not isinstance(self.random_state, bool))
        fork_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(_rank_seed(seed, dist.rank))
            data_gen = torch.Generator().manual_seed(seed + 1)  # the same order on every rank
            if n_steps is None and self.scheduler is not None:
                try:
                    n_micro = len(train(0, torch.Generator().manual_seed(seed)))
                except TypeError as err:
                    raise ValueError("a scheduler with a callable train needs steps_per_epoch=...") \
                        from err
                n_steps = math.ceil(n_micro / self.accumulate_grad_batches)
            optimizer = torch.optim.AdamW(_param_groups(model, params, self.weight_decay),
                                          lr=self.lr, weight_decay=self.weight_decay)
            total_steps = self.max_epochs * (n_steps or 1)
            scheduler = self._make_scheduler(optimizer, total_steps)
            scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
            fingerprint = {"model": self._model_fingerprint(model),
                           "settings": self._settings(precision, dist.world_size, total_steps,
                                                      seed_is_fixed),
                           "data": {"train": train_desc, "val": val_desc}}
            state = {"history": [], "best_score": None, "best_epoch": None, "bad_epochs": 0,
                     "best_model": None, "epoch": 0, "steps": 0}
            self.resumed_from_ = 0
            if store is not None:
                found = self._find_checkpoint(store, dist)
                if found is not None:
                    path, ckpt = found
                    state, scheduler = self._resume(path, ckpt, fingerprint, model, optimizer,
                                                    scheduler, scaler, data_gen, device, dist,
                                                    total_steps, seed)
                    self.resumed_from_ = state["epoch"]
                error = None
                if dist.is_main:
                    try:
                        store.check_can_write(range(state["epoch"] + 1, self.max_epochs + 1))
                    except (FileExistsError, ValueError) as err:
                        error = str(err)
                error = dist.broadcast(error)
                if error is not None:
                    raise FileExistsError(error)
            ddp = None
            if dist.active:
                from torch.nn.parallel import DistributedDataParallel

                from ._distributed import StepModule

                options = dict(self.ddp_options or {})
                if device.type == "cuda":
                    options.setdefault("device_ids", [device.index])
                ddp = DistributedDataParallel(StepModule(model, step), **options)
            self._train_loop(model, ddp, optimizer, scheduler, scaler, data_gen, state,
                             train_groups, val_batches, step, evaluate, device, precision, params,
                             total_steps, fingerprint, store, dist)

    def _find_checkpoint(self, store, dist):
        """Rank 0 picks the checkpoint (warnings, errors); every rank loads the same file."""
        torch = _torch()
        if self.resume is False:
            return None
        plan = {"path": None, "error": None}
        found = None
        if dist.is_main:
            try:
                found = store.load_latest(torch, is_checkpoint=_is_checkpoint)
            except (ValueError, OSError) as err:
                plan["error"] = (type(err).__name__, str(err))
            else:
                plan["path"] = None if found is None else str(found[0])
        plan = dist.broadcast(plan)
        if plan["error"] is not None:
            kind, msg = plan["error"]
            raise (OSError if kind in ("OSError", "NotADirectoryError") else ValueError)(msg)
        if plan["path"] is None:
            return None
        if found is None:  # another rank: read the file rank 0 chose
            path = Path(plan["path"])
            try:
                ckpt = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001
                raise OSError(f"rank {dist.rank} cannot read checkpoint {path} that rank 0 "
                              f"resumes from ({type(err).__name__}: {err}); checkpoint_dir must "
                              "be on a file system shared by every node") from err
            found = (path, ckpt)
        return found

    def _resume(self, path, ckpt, fingerprint, model, optimizer, scheduler, scaler, data_gen,
                device, dist, total_steps, seed):
        torch = _torch()
        theirs = ckpt["fingerprint"]
        if theirs["model"]["shapes"] != fingerprint["model"]["shapes"]:
            ts, os_ = theirs["model"]["shapes"], fingerprint["model"]["shapes"]
            diff = [f"{a} vs {b}" for a, b in zip(ts, os_) if a != b][:3]
            raise ValueError(
                f"checkpoint {path} was written for another model: {theirs['model']['class']} "
                f"with {len(ts)} tensors, this model is {fingerprint['model']['class']} with "
                f"{len(os_)} tensors" + (f" (first differences: {diff})" if diff else "")
                + "; use another checkpoint_dir, or resume=False to start again")
        diffs = self._differences(theirs, fingerprint)
        if diffs and self.resume != "force":
            raise ValueError(
                f"checkpoint {path} (epoch {ckpt['epoch']}) was written by a run with other "
                "settings or data: " + "; ".join(diffs) + ". Pass resume='force' to resume from "
                "it anyway, resume=False to start again from epoch 0, or use another "
                "checkpoint_dir")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scaler is not None and ckpt["scaler"] is not None:
            scaler.load_state_dict(ckpt["scaler"])
        steps_done = int(ckpt["steps"])
        if diffs:
            for group in optimizer.param_groups:  # the new settings win over the checkpoint's
                group["lr"] = float(self.lr)
                group["weight_decay"] = float(self.weight_decay)
                group.pop("initial_lr", None)
                for key in ("max_lr", "min_lr"):
                    group.pop(key, None)
            scheduler = self._make_scheduler(optimizer, total_steps)
            if scheduler is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # step before optimizer.step
                    for _ in range(min(steps_done, total_steps - 1)):
                        scheduler.step()
        elif scheduler is not None and ckpt["scheduler"] is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        rng_cpu = ckpt["rng_cpu"]
        if dist.rank < len(rng_cpu):
            torch.set_rng_state(rng_cpu[dist.rank])
        else:
            torch.manual_seed(_rank_seed(seed + int(ckpt["epoch"]), dist.rank))
        rng_cuda = ckpt["rng_cuda"]
        if device.type == "cuda" and rng_cuda is not None and dist.rank < len(rng_cuda):
            torch.cuda.set_rng_state(rng_cuda[dist.rank], device)
        data_gen.set_state(ckpt["rng_data"])
        state = {k: ckpt[k] for k in ("history", "best_score", "best_epoch", "bad_epochs", "epoch",
                                      "steps")}
        state["best_model"] = ckpt.get("best_model")
        if dist.is_main:
            if diffs:
                warnings.warn(f"resume='force': resuming from {path} although it was written "
                              "with other settings or data: " + "; ".join(diffs)
                              + f". Training goes on with lr={self.lr!r}, the new settings and "
                              "data", UserWarning, stacklevel=4)
            left = max(self.max_epochs - int(ckpt["epoch"]), 0)
            warnings.warn(f"resuming from checkpoint {path} (epoch {ckpt['epoch']}); "
                          f"{left} of max_epochs={self.max_epochs} left to train",
                          UserWarning, stacklevel=4)
        return state, scheduler

    def predict(self, model, X, *, batch_size=None, forward=None):
        """Run ``model`` on ``X`` in eval mode, batch by batch, on the trainer's device.

        Parameters
        ----------
        model : torch.nn.Module
            A trained model.
        X : ndarray | torch.Tensor | xarray.DataArray | mne.Epochs
            Inputs, samples along the first axis (for :class:`mne.Epochs`, ``get_data()``:
            epoch x channel x time).
        batch_size : None | int
            Samples per forward pass (default: the trainer's ``batch_size``).
        forward : None | callable
            ``forward(model, x) -> tensor``; default ``model(x)``.

        Returns
        -------
        y : ndarray | xarray.DataArray
            The outputs, concatenated along the first axis, as float32/int numpy. For a DataArray
            input, a DataArray with the input's first dimension and its coordinates on that
            dimension; for :class:`mne.Epochs`, dim ``"epoch"`` with the event codes (``event``),
            the event names (``condition``) and the onsets in samples (``sample``). Other output
            dims are named ``output``, ``output_1``, ...

        Examples
        --------
        >>> import numpy as np, torch, xarray as xr
        >>> from neurosim.decoding import Trainer
        >>> X = xr.DataArray(np.zeros((3, 4), "float32"), dims=("trial", "feature"),
        ...                  coords={"trial": [10, 11, 12]})
        >>> Trainer(device="cpu").predict(torch.nn.Linear(4, 2), X).dims
        ('trial', 'output')
        """
        torch = _torch()
        bs = self.batch_size if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        x = _as_tensor("X", _model_input(model, X))
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"X must hold at least one sample, got shape {tuple(x.shape)}")
        device = resolve_device(self.device)
        model = model.to(device)
        was_training = model.training
        model.eval()
        outs = []
        try:
            with torch.no_grad():
                for i in range(0, int(x.shape[0]), bs):
                    xb = x[i:i + bs].to(device)
                    out = forward(model, xb) if forward is not None else model(xb)
                    if not isinstance(out, torch.Tensor):
                        raise TypeError(f"the model returned {type(out).__name__}; pass "
                                        "forward=... returning a tensor")
                    outs.append(out.detach().float().cpu() if out.is_floating_point()
                                else out.detach().cpu())
        finally:
            model.train(was_training)
        y = torch.cat(outs).numpy()
        return _label_like(X, y)

    def _make_scheduler(self, optimizer, total_steps):
        torch = _torch()
        if self.scheduler is None:
            return None
        if callable(self.scheduler):
            return self.scheduler(optimizer, total_steps)
        if self.scheduler == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr,
                                                       total_steps=max(total_steps, 2))
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))

    # ------------------------------------------------------------------ epochs
    @staticmethod
    def _split(out, where):
        torch = _torch()
        loss, logs = (out if isinstance(out, tuple) else (out, {}))
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise TypeError(f"step must return a scalar loss tensor, got {type(loss).__name__}"
                            f" ({where})")
        return loss, logs

    def _train_epoch(self, model, ddp, groups, step, optimizer, scheduler, scaler, device,
                     precision, params, total_steps, epoch, state, dist):
        torch = _torch()
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        # On one CPU process every batch's loss is checked before the optimiser steps on it. On a
        # GPU that check, and reading the loss, would wait for the device after every batch, and
        # under several processes one rank cannot stop alone: there the losses are summed and
        # checked once, at the end of the epoch, over all ranks.
        deferred = device.type == "cuda" or dist.world_size > 1
        world = dist.world_size
        total, total_dev, count, extras = 0.0, None, 0, {}
        for g, (batches, counts, group_total) in enumerate(groups):
            optimizer.zero_grad(set_to_none=True)
            last = len(batches) - 1
            for i, batch in enumerate(batches):
                n = counts[i]
                weight = None
                if world > 1 or len(batches) > 1:  # this batch's share of the step's samples
                    weight = n * world / group_total
                sync = ddp is None or i == last
                with contextlib.ExitStack() as stack:
                    if not sync:
                        stack.enter_context(ddp.no_sync())  # all-reduce once, at the last batch
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                        out = ddp(batch) if ddp is not None else step(model, batch)
                    loss, logs = self._split(out, f"epoch {epoch}")
                    if not deferred and not bool(torch.isfinite(loss.detach())):
                        raise FloatingPointError(f"the loss is {float(loss)} at epoch {epoch}, "
                                                 f"batch {g}; lower lr or check the data")
                    scaled = loss if weight is None else loss * weight
                    if scaler is not None:
                        scaler.scale(scaled).backward()
                    else:
                        scaled.backward()
                if n == 0:
                    continue  # a placeholder batch: weighted 0, not counted
                if deferred:
                    contrib = loss.detach().float() * n
                    total_dev = contrib if total_dev is None else total_dev + contrib
                else:
                    total += float(loss.detach()) * n
                count += n
                for key, v in dict(logs).items():
                    s, c = extras.get(key, (0.0, 0))
                    extras[key] = (s + float(v) * n, c + n)
            if scaler is not None:
                scaler.unscale_(optimizer)
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            state["steps"] += 1
            if scheduler is not None and scheduler.last_epoch < total_steps - 1:
                scheduler.step()
        if total_dev is not None:
            total = float(total_dev)  # one wait for the device per epoch
        return self._reduce(total, count, extras, dist, epoch, "train")

    def _val_epoch(self, model, batches, step, device, precision, epoch, dist):
        torch = _torch()
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        total, count, extras = 0.0, 0, {}
        total_dev = None
        for batch in batches:
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = step(model, batch)
            loss, logs = self._split(out, f"validation, epoch {epoch}")
            n = _batch_size(batch)
            contrib = loss.detach().float() * n
            total_dev = contrib if total_dev is None else total_dev + contrib
            count += n
            for key, v in dict(logs).items():
                s, c = extras.get(key, (0.0, 0))
                extras[key] = (s + float(v) * n, c + n)
        if total_dev is not None:
            total = float(total_dev)
        return self._reduce(total, count, extras, dist, epoch, "val")

    @staticmethod
    def _reduce(total, count, extras, dist, epoch, which):
        if dist.world_size > 1:
            parts = dist.gather((total, count, extras))
            total, count, extras = 0.0, 0, {}
            for t, c, ex in parts:
                total += t
                count += c
                for key, (s, n) in ex.items():
                    s0, n0 = extras.get(key, (0.0, 0))
                    extras[key] = (s0 + s, n0 + n)
        if count == 0:
            raise ValueError(f"{which} produced no batches in epoch {epoch}")
        if not math.isfinite(total):
            raise FloatingPointError(f"the {which} loss became {total} during epoch {epoch}; "
                                     "lower lr or check the data")
        return total / count, {k: s / c for k, (s, c) in extras.items()}

    def _train_loop(self, model, ddp, optimizer, scheduler, scaler, data_gen, state, train_groups,
                    val_batches, step, evaluate, device, precision, params, total_steps,
                    fingerprint, store, dist):
        torch = _torch()
        sign = 1.0 if self.mode == "min" else -1.0
        start = state["epoch"]
        bar = None
        if self.progress and dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.max_epochs, initial=start, desc="epochs", unit="epoch")
        stop = start >= self.max_epochs or (self.early_stopping is not None
                                            and state["bad_epochs"] >= self.early_stopping)
        epoch = start
        try:
            while not stop:
                epoch += 1
                t0 = time.perf_counter()
                lr = float(optimizer.param_groups[0]["lr"])
                model.train()
                train_loss, train_logs = self._train_epoch(
                    model, ddp, train_groups(epoch, data_gen), step, optimizer, scheduler, scaler,
                    device, precision, params, total_steps, epoch, state, dist)
                record = {"train_loss": train_loss, "lr": lr,
                          **{f"train_{k}": v for k, v in train_logs.items()}}
                model.eval()
                with torch.no_grad():
                    if val_batches is not None:
                        val_loss, val_logs = self._val_epoch(model, val_batches(epoch), step,
                                                             device, precision, epoch, dist)
                        record.update({"val_loss": val_loss,
                                       **{f"val_{k}": v for k, v in val_logs.items()}})
                    if evaluate is not None:
                        metrics = evaluate(model)
                        if not isinstance(metrics, dict):
                            raise TypeError(f"evaluate must return a dict, got {type(metrics).__name__}")
                        metrics = dist.broadcast({k: float(v) for k, v in metrics.items()})
                        record.update(metrics)
                record["time_s"] = dist.broadcast(time.perf_counter() - t0)
                state["history"].append(record)
                state["epoch"] = epoch
                stop = epoch >= self.max_epochs
                if self.monitor in record:
                    score = record[self.monitor]
                    best = state["best_score"]
                    if best is None or sign * score < sign * best:
                        state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
                        if self.restore_best:
                            state["best_model"] = {k: v.detach().cpu().clone()
                                                   for k, v in model.state_dict().items()}
                    else:
                        state["bad_epochs"] += 1
                elif self.early_stopping is not None:
                    raise ValueError(f"early stopping monitors {self.monitor!r}, which this epoch "
                                     f"did not report; available: {sorted(record)}")
                if self.early_stopping is not None and state["bad_epochs"] >= self.early_stopping:
                    stop = True
                if store is not None:
                    ckpt = self._checkpoint_state(model, optimizer, scheduler, scaler, data_gen,
                                                  state, device, fingerprint, dist)
                    if dist.is_main:
                        store.save(torch, ckpt, epoch)
                    dist.barrier()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(train_loss=f"{train_loss:.4g}")
        finally:
            if bar is not None:
                bar.close()
        if self.restore_best and state["best_model"] is not None:
            model.load_state_dict(state["best_model"])
        self.best_epoch_ = state["best_epoch"]
        self.best_score_ = state["best_score"] if state["best_score"] is not None else float("nan")
        self.stopped_epoch_ = state["epoch"]
        self.history_ = self._history_dataset(state["history"])

    def _checkpoint_state(self, model, optimizer, scheduler, scaler, data_gen, state, device,
                          fingerprint, dist):
        torch = _torch()
        rng_cpu = dist.gather(torch.get_rng_state())  # every rank's own random numbers
        rng_cuda = (dist.gather(torch.cuda.get_rng_state(device)) if device.type == "cuda"
                    else None)
        if not dist.is_main:
            return None
        return {
            "format": CKPT_FORMAT,
            "fingerprint": fingerprint,
            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng_cpu": rng_cpu,
            "rng_cuda": rng_cuda,
            "rng_data": data_gen.get_state(),
            "epoch": state["epoch"],
            "steps": state["steps"],
            "history": state["history"],
            "best_score": state["best_score"],
            "best_epoch": state["best_epoch"],
            "bad_epochs": state["bad_epochs"],
            "best_model": state["best_model"],
        }

    def _history_dataset(self, history):
        import xarray as xr

        keys = []
        for rec in history:
            keys += [k for k in rec if k not in keys]
        epochs = np.arange(1, len(history) + 1)
        data = {k: ("epoch", np.array([rec.get(k, np.nan) for rec in history], dtype=float))
                for k in keys}
        ds = xr.Dataset(data, coords={"epoch": epochs})
        ds["epoch"].attrs.update(long_name="epoch (1-based)", units="1")
        ds["lr"].attrs["long_name"] = "learning rate at the start of the epoch"
        ds["time_s"].attrs.update(long_name="wall-clock time of the epoch", units="s")
        ds.attrs.update({
            "max_epochs": int(self.max_epochs), "batch_size": int(self.batch_size),
            "lr": float(self.lr), "weight_decay": float(self.weight_decay),
            "scheduler": str(self.scheduler), "precision": self.precision_,
            "device": str(self.device_), "monitor": self.monitor, "mode": self.mode,
            "best_epoch": -1 if self.best_epoch_ is None else int(self.best_epoch_),
            "resumed_from_epoch": int(self.resumed_from_),
        })
        return ds
