"""One trainer for every decoder: device, mixed precision, AdamW, schedulers, checkpoints, history."""

from __future__ import annotations

import math
import numbers
import os
import time
from pathlib import Path

import numpy as np

from neurosim._utils import check_positive, check_random_state, check_size

__all__ = ["Trainer"]

_SCHEDULERS = (None, "onecycle", "cosine")
_PRECISIONS = ("auto", "32", "bf16", "fp16")
_CKPT_PREFIX = "checkpoint_epoch"
_CKPT_FORMAT = 1


def _torch():
    import torch

    return torch


def resolve_device(device=None):
    """Return a :class:`torch.device`: ``"cuda"`` when available for None, else ``device``."""
    torch = _torch()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be None, 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return dev


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


class Trainer:
    """Train a :class:`torch.nn.Module`: AdamW, schedulers, mixed precision, checkpoints and resume.

    Every decoder of :mod:`neurosim.decoding` is trained by this class. It places the model and the
    data on the device (CUDA when available), batches small in-memory arrays on the device with a
    seeded shuffle, streams a :class:`torch.utils.data.Dataset` through a seeded
    :class:`~torch.utils.data.DataLoader` (pinned memory, worker processes) or calls a sampler you
    write, optimises the parameters that have ``requires_grad=True`` with AdamW, clips the gradient
    norm, runs under bf16/fp16 autocast on GPUs, writes a checkpoint after every epoch and resumes
    from the latest one: a run killed after any epoch and restarted ends with the same weights, bit
    for bit, as an uninterrupted run with the same seed.

    Parameters
    ----------
    max_epochs : int
        Number of epochs.
    batch_size : int
        Batch size for array and Dataset inputs (a callable ``train`` makes its own batches).
    lr : float
        Learning rate (the maximum learning rate for ``scheduler="onecycle"``).
    weight_decay : float
        AdamW weight decay. Parameters named by the model's ``no_weight_decay()`` method, if it
        has one (a set of names, as in timm; e.g. MindBridge's biases and norms), are not
        decayed.
    scheduler : None | "onecycle" | "cosine" | callable
        Learning-rate schedule stepped after every batch: constant (None), one-cycle
        (:class:`~torch.optim.lr_scheduler.OneCycleLR`) or cosine annealing to zero over all steps.
        A callable ``scheduler(optimizer, total_steps)`` returns any torch scheduler.
    grad_clip : float | None
        Maximum gradient norm (None: no clipping).
    precision : "auto" | "32" | "bf16" | "fp16"
        ``"auto"`` is bf16 autocast on a CUDA device that supports it, else float32. ``"fp16"``
        needs CUDA and uses a gradient scaler.
    device : None | str | torch.device
        None: ``"cuda"`` if available, else ``"cpu"``.
    checkpoint_dir : None | str | path-like
        If given, a checkpoint is written there after every epoch, and :meth:`fit` resumes from the
        latest one it finds.
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
        Show a tqdm progress bar over epochs.
    num_workers : int
        DataLoader worker processes for Dataset input.
    drop_last : bool
        Drop the last incomplete batch of each epoch (array and Dataset input).
    restore_best : bool
        After training, load the weights of the epoch with the best ``monitor``.
    steps_per_epoch : None | int
        Batches per epoch of a callable ``train``, needed by the schedulers; if None, it is taken
        from ``len(train(0, generator))``.

    Attributes
    ----------
    history_ : xarray.Dataset
        One row per epoch (dim ``epoch``, 1-based): ``train_loss``, ``val_loss`` (with ``val``),
        ``lr``, ``time_s`` and every metric returned by ``step`` (``train_<name>``, ``val_<name>``)
        and by ``evaluate``.
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
    """

    def __init__(self, *, max_epochs=10, batch_size=64, lr=1e-3, weight_decay=1e-2, scheduler=None,
                 grad_clip=1.0, precision="auto", device=None, checkpoint_dir=None,
                 early_stopping=None, monitor="val_loss", mode="min", random_state=0,
                 progress=False, num_workers=0, drop_last=False, restore_best=False,
                 steps_per_epoch=None):
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
    def _make_source(self, name, data, device):
        """Return ``(epoch_iter(epoch, generator), n_batches or None)`` for one data argument."""
        torch = _torch()
        from torch.utils.data import DataLoader, Dataset

        if isinstance(data, (tuple, list)):
            if not data:
                raise ValueError(f"{name} must be a non-empty tuple of arrays")
            tensors = [_as_tensor(f"{name}[{i}]", a) for i, a in enumerate(data)]
            n = int(tensors[0].shape[0])
            for i, t in enumerate(tensors):
                if t.ndim == 0 or int(t.shape[0]) != n:
                    raise ValueError(f"all arrays of {name} must have the same first dimension: "
                                     f"{name}[0] has {n} rows, {name}[{i}] has shape {tuple(t.shape)}")
            if n == 0:
                raise ValueError(f"{name} holds no samples")
            tensors = [t.to(device) for t in tensors]  # small arrays: batch on the device
            bs = self.batch_size
            drop_last = self.drop_last and name == "train"  # validation keeps every sample
            n_batches = n // bs if drop_last else math.ceil(n / bs)
            if n_batches == 0:
                raise ValueError(f"{name} has {n} samples, fewer than batch_size={bs} with "
                                 "drop_last=True")

            def iterate(epoch, generator, shuffle=True):
                order = (torch.randperm(n, generator=generator) if shuffle else torch.arange(n))
                order = order.to(device)
                for b in range(n_batches):
                    idx = order[b * bs:(b + 1) * bs]
                    yield tuple(t[idx] for t in tensors)

            return iterate, n_batches
        if isinstance(data, Dataset):
            pin = device.type == "cuda"

            def iterate(epoch, generator, shuffle=True):
                loader = DataLoader(data, batch_size=self.batch_size, shuffle=shuffle,
                                    generator=generator, num_workers=self.num_workers,
                                    pin_memory=pin, drop_last=self.drop_last and shuffle)
                for batch in loader:
                    yield _to_device(batch, device, non_blocking=pin)

            try:
                n = len(data)
                n_batches = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            except TypeError:
                n_batches = None
            return iterate, n_batches
        if callable(data):
            def iterate(epoch, generator, shuffle=True):
                for batch in data(epoch, generator):
                    yield _to_device(batch, device)

            return iterate, self.steps_per_epoch
        raise TypeError(f"{name} must be a tuple of arrays/tensors, a torch Dataset or a callable "
                        f"train(epoch, generator) -> batches; got {type(data).__name__}")

    # ------------------------------------------------------------------ checkpoints
    @staticmethod
    def _fingerprint(model):
        shapes = [(k, list(v.shape)) for k, v in model.state_dict().items()]
        return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "shapes": shapes}

    def _latest_checkpoint(self):
        if self.checkpoint_dir is None:
            return None
        folder = Path(self.checkpoint_dir)
        if not folder.is_dir():
            return None
        found = sorted(folder.glob(f"{_CKPT_PREFIX}*.pt"))
        return found[-1] if found else None

    def _save_checkpoint(self, state):
        torch = _torch()
        folder = Path(self.checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_CKPT_PREFIX}{state['epoch']:05d}.pt"
        tmp = path.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: a kill never leaves a half-written checkpoint
        for old in folder.glob(f"{_CKPT_PREFIX}*.pt"):
            if old != path:
                old.unlink(missing_ok=True)

    # ------------------------------------------------------------------ fit
    def fit(self, model, train, val=None, *, step=None, evaluate=None):
        """Train ``model`` (resuming from ``checkpoint_dir`` if it holds a checkpoint).

        Parameters
        ----------
        model : torch.nn.Module
            The model; only its parameters with ``requires_grad=True`` are optimised.
        train : tuple of arrays/tensors | torch.utils.data.Dataset | callable
            ``(x, y, ...)`` with equal first dimensions (numpy arrays, tensors, DataArrays or
            :class:`mne.Epochs`; batched on the device with a seeded shuffle),
            a Dataset (seeded DataLoader), or ``train(epoch, generator)`` returning an iterable of
            batches (tuples or dicts of tensors) for custom sampling.
        val : same forms as ``train`` | None
            Validation data; its mean ``step`` loss is recorded as ``val_loss``.
        step : callable | None
            ``step(model, batch) -> loss`` or ``(loss, dict of floats)``. Default:
            ``model.training_step(batch)`` if the model defines it, else cross-entropy of
            ``model(x)`` against ``y``.
        evaluate : callable | None
            ``evaluate(model) -> dict of floats`` called after each epoch in eval mode without
            gradients.

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
        device = resolve_device(self.device)
        precision = self._resolve_precision(device)
        self.device_, self.precision_ = device, precision
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no parameter with requires_grad=True: nothing to train")

        train_iter, n_batches = self._make_source("train", train, device)
        val_iter = self._make_source("val", val, device)[0] if val is not None else None
        seed = self._seed()
        fork_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            data_gen = torch.Generator().manual_seed(seed + 1)
            if n_batches is None and (self.scheduler is not None):
                try:
                    n_batches = len(train(0, torch.Generator().manual_seed(seed)))
                except TypeError as err:
                    raise ValueError("a scheduler with a callable train needs steps_per_epoch=...") \
                        from err
            optimizer = torch.optim.AdamW(_param_groups(model, params, self.weight_decay),
                                          lr=self.lr, weight_decay=self.weight_decay)
            total_steps = self.max_epochs * (n_batches or 1)
            scheduler = self._make_scheduler(optimizer, total_steps)
            scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
            state = {"history": [], "best_score": None, "best_epoch": None, "bad_epochs": 0,
                     "best_model": None, "epoch": 0}
            self.resumed_from_ = 0
            ckpt = self._latest_checkpoint()
            if ckpt is not None:
                state = self._resume(ckpt, model, optimizer, scheduler, scaler, data_gen, device)
                self.resumed_from_ = state["epoch"]
            self._train_loop(model, optimizer, scheduler, scaler, data_gen, state, train_iter,
                             val_iter, step, evaluate, device, precision, params, total_steps)
        return self

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
        x = _as_tensor("X", X)
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

    def _resume(self, path, model, optimizer, scheduler, scaler, data_gen, device):
        torch = _torch()
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != _CKPT_FORMAT:
            raise ValueError(f"{path} is not a neurosim Trainer checkpoint")
        fp = self._fingerprint(model)
        if ckpt["fingerprint"] != fp:
            theirs = ckpt["fingerprint"]
            diff = [f"{a} vs {b}" for a, b in zip(theirs["shapes"], fp["shapes"]) if a != b][:3]
            raise ValueError(
                f"checkpoint {path} was written for another model: {theirs['class']} with "
                f"{len(theirs['shapes'])} tensors, this model is {fp['class']} with "
                f"{len(fp['shapes'])} tensors" + (f" (first differences: {diff})" if diff else "")
                + "; use another checkpoint_dir or delete the checkpoint")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt["scheduler"] is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if scaler is not None and ckpt["scaler"] is not None:
            scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng_cpu"])
        if device.type == "cuda" and ckpt["rng_cuda"] is not None:
            torch.cuda.set_rng_state(ckpt["rng_cuda"], device)
        data_gen.set_state(ckpt["rng_data"])
        state = {k: ckpt[k] for k in ("history", "best_score", "best_epoch", "bad_epochs", "epoch")}
        state["best_model"] = ckpt.get("best_model")
        return state

    def _run_epoch(self, model, iterator, step, optimizer, scheduler, scaler, device, precision,
                   params, total_steps, epoch, training):
        torch = _torch()
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        # On the CPU every batch's loss is checked before the optimiser steps on it. On a GPU that
        # check, and reading the loss, would wait for the device after every batch; there the
        # losses are summed on the device and checked once, at the end of the epoch.
        sync_free = device.type == "cuda"
        total, total_dev, count, extras = 0.0, None, 0, {}
        for i, batch in enumerate(iterator):
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = step(model, batch)
            loss, logs = (out if isinstance(out, tuple) else (out, {}))
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise TypeError(f"step must return a scalar loss tensor, got {type(loss).__name__}")
            if not sync_free and not bool(torch.isfinite(loss.detach())):
                raise FloatingPointError(f"the loss is {float(loss)} at epoch {epoch}, batch {i}; "
                                         "lower lr or check the data")
            if training:
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                if scheduler is not None and scheduler.last_epoch < total_steps - 1:
                    scheduler.step()
            n = _batch_size(batch)
            if sync_free:
                contrib = loss.detach().float() * n
                total_dev = contrib if total_dev is None else total_dev + contrib
            else:
                total += float(loss.detach()) * n
            count += n
            for k, v in dict(logs).items():
                s, c = extras.get(k, (0.0, 0))
                extras[k] = (s + float(v) * n, c + n)
        if count == 0:
            raise ValueError(f"{'train' if training else 'val'} produced no batches in epoch {epoch}")
        if total_dev is not None:
            total = float(total_dev)  # one wait for the device per epoch
            if not math.isfinite(total):
                raise FloatingPointError(f"the loss became {total} during epoch {epoch}; lower lr "
                                         "or check the data")
        return total / count, {k: s / c for k, (s, c) in extras.items()}

    def _train_loop(self, model, optimizer, scheduler, scaler, data_gen, state, train_iter,
                    val_iter, step, evaluate, device, precision, params, total_steps):
        torch = _torch()
        sign = 1.0 if self.mode == "min" else -1.0
        start = state["epoch"]
        bar = None
        if self.progress:
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
                train_loss, train_logs = self._run_epoch(
                    model, train_iter(epoch, data_gen), step, optimizer, scheduler, scaler, device,
                    precision, params, total_steps, epoch, training=True)
                record = {"train_loss": train_loss, "lr": lr,
                          **{f"train_{k}": v for k, v in train_logs.items()}}
                model.eval()
                with torch.no_grad():
                    if val_iter is not None:
                        val_loss, val_logs = self._run_epoch(
                            model, val_iter(epoch, torch.Generator().manual_seed(epoch),
                                            shuffle=False), step, None, None, None,
                            device, precision, params, total_steps, epoch, training=False)
                        record.update({"val_loss": val_loss,
                                       **{f"val_{k}": v for k, v in val_logs.items()}})
                    if evaluate is not None:
                        metrics = evaluate(model)
                        if not isinstance(metrics, dict):
                            raise TypeError(f"evaluate must return a dict, got {type(metrics).__name__}")
                        record.update({k: float(v) for k, v in metrics.items()})
                record["time_s"] = time.perf_counter() - t0
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
                if self.checkpoint_dir is not None:
                    self._save_checkpoint(self._checkpoint_state(model, optimizer, scheduler, scaler,
                                                                 data_gen, state, device))
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

    def _checkpoint_state(self, model, optimizer, scheduler, scaler, data_gen, state, device):
        torch = _torch()
        return {
            "format": _CKPT_FORMAT,
            "fingerprint": self._fingerprint(model),
            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "rng_data": data_gen.get_state(),
            "epoch": state["epoch"],
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
