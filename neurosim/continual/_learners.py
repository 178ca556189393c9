"""Continual learners in PyTorch: fine-tuning, EWC, experience replay, joint training and the
fast/slow-weight learner, all trained and evaluated on a :class:`~neurosim.continual.TaskStream`
by one loop with per-iteration (continual) evaluation."""

from __future__ import annotations

import json
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from .._utils import check_positive, check_random_state, check_size
from ._metrics import continual_metrics
from ._schedules import SequentialSchedule
from ._streams import TaskStream

__all__ = [
    "EWC", "ContinualLearner", "ExperienceReplay", "FastSlowLearner", "FineTuning",
    "JointTraining", "LEARNERS", "make_learner",
]


def _resolve_device(device):
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a str ('cpu', 'cuda', 'cuda:0', 'auto'), got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'auto'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use 'cpu' or 'auto'")
    return dev


class _CumulativeSchedule(SequentialSchedule):
    """Uniform over every training sample of every seen task (joint training)."""

    needs_past_tasks = True

    def plan(self, task_sizes, phase, n_iterations, batch_size, random_state):
        sizes = np.asarray(task_sizes, dtype=np.int64)[:phase + 1]
        count = n_iterations * batch_size
        total = int(sizes.sum())
        flat = np.concatenate([random_state.permutation(total)
                               for _ in range(-(-count // total))])[:count]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        tasks = np.searchsorted(offsets, flat, side="right") - 1
        idx = flat - offsets[tasks]
        return tasks.reshape(n_iterations, batch_size), idx.reshape(n_iterations, batch_size)


class ContinualLearner(ClassifierMixin, BaseEstimator):
    """Base class: a multilayer perceptron trained task after task, with continual evaluation.

    Subclasses change the loss, add memory or consolidation through four hooks; the training
    loop, the schedules and the evaluation are shared, so learners differ only in what their
    method does. Plain sequential training with this class is fine-tuning (:class:`FineTuning`).

    The network is an MLP ``n_features -> hidden_sizes (ReLU) -> n_classes`` trained with
    minibatch SGD on the cross-entropy. Each task is trained for ``n_iterations`` minibatches
    drawn by ``schedule``.

    Parameters
    ----------
    hidden_sizes : tuple of int
        Widths of the hidden layers.
    learning_rate : float
        SGD learning rate.
    momentum : float
        SGD momentum, in [0, 1).
    batch_size : int
        Minibatch size.
    n_iterations : int
        Minibatch updates per task.
    eval_every : int or None
        Evaluate on the test sets of all tasks every ``eval_every`` iterations (1: after every
        iteration, as De Lange et al. 2023). The model is always evaluated before training and
        at the end of every task (the accuracy matrix); None evaluates only then.
    eval_size : int or None
        Evaluate on at most this many test samples per task (a fixed random subset); None: all.
    schedule : SequentialSchedule or None
        Which tasks and samples the minibatches come from (:class:`SequentialSchedule`,
        :class:`PowerLawRehearsal`, :class:`ViewBatchReplay`); None: sequential.
    device : str
        ``"cpu"``, ``"cuda"`` (``"cuda:1"``, ...) or ``"auto"`` (CUDA when available).
    random_state : None | int | numpy.random.Generator
        Seed of the initial weights, the minibatches, the evaluation subsets and the memory.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network.
    classes_ : ndarray
        The class labels ``0..n_classes - 1``.
    n_features_in_ : int
        Number of input features.
    n_tasks_seen_ : int
        Tasks learned so far.
    history_ : xarray.Dataset
        Set by :meth:`fit_stream`: per-iteration ``accuracy`` (iteration, task), training
        ``loss`` (iteration), the ``accuracy_matrix`` (trained, task), ``initial_accuracy``
        (task), ``task_end`` (task), and the metrics in ``attrs`` (``metric_acc``, ...).
    metrics_ : dict
        Set by :meth:`fit_stream`: ACC, BWT, FWT, min-ACC, WC-ACC (see
        :func:`~neurosim.continual.continual_metrics`).

    Examples
    --------
    >>> from neurosim.continual import FineTuning, permuted_digits
    >>> stream = permuted_digits(n_tasks=3, random_state=0)
    >>> learner = FineTuning(n_iterations=50, random_state=0).fit_stream(stream)
    >>> learner.history_["accuracy_matrix"].shape
    (3, 3)
    >>> sorted(learner.metrics_)
    ['acc', 'avg_end_of_task_acc', 'bwt', 'fwt', 'min_acc', 'wc_acc']
    """

    name = "base"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None):
        self.hidden_sizes = hidden_sizes
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.n_iterations = n_iterations
        self.eval_every = eval_every
        self.eval_size = eval_size
        self.schedule = schedule
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ validation and setup
    def _validate_params(self):
        hidden = self.hidden_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        try:
            hidden = tuple(check_size("hidden_sizes", h, minimum=1) for h in hidden)
        except TypeError as err:
            raise TypeError(f"hidden_sizes must be a tuple of positive ints, got "
                            f"{self.hidden_sizes!r}") from err
        check_positive("learning_rate", self.learning_rate)
        check_positive("momentum", self.momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_size("batch_size", self.batch_size, minimum=1)
        check_size("n_iterations", self.n_iterations, minimum=1)
        if self.eval_every is not None:
            check_size("eval_every", self.eval_every, minimum=1)
        if self.eval_size is not None:
            check_size("eval_size", self.eval_size, minimum=1)
        if self.schedule is not None and not isinstance(self.schedule, SequentialSchedule):
            raise TypeError(f"schedule must be a SequentialSchedule, PowerLawRehearsal or "
                            f"ViewBatchReplay, got {self.schedule!r}")
        self._hidden = hidden
        self._device = _resolve_device(self.device)

    def _schedule(self):
        return SequentialSchedule() if self.schedule is None else self.schedule

    def _setup(self, n_features, n_classes, scenario="domain"):
        self._validate_params()
        self._rng = check_random_state(self.random_state)
        seed = int(self._rng.integers(2**63 - 1))
        gen = torch.Generator().manual_seed(seed)
        layers, width = [], n_features
        for h in self._hidden:
            layers += [self._linear(width, h, gen), torch.nn.ReLU()]
            width = h
        layers.append(self._linear(width, n_classes, gen))
        self.model_ = torch.nn.Sequential(*layers).to(self._device)
        self._torch_gen = torch.Generator(device=self._device).manual_seed(seed)
        self.optimizer_ = torch.optim.SGD(self.model_.parameters(), lr=float(self.learning_rate),
                                          momentum=float(self.momentum))
        self.n_features_in_ = int(n_features)
        self.classes_ = np.arange(n_classes)
        self.n_tasks_seen_ = 0
        self.scenario_ = scenario
        self._pool = []  # training tensors (X, y) of the tasks the schedule may draw from
        self._task_masks = []
        self._init_state()

    @staticmethod
    def _linear(n_in, n_out, gen):
        """nn.Linear with PyTorch's default initialisation, drawn from ``gen``."""
        layer = torch.nn.Linear(n_in, n_out)
        bound = 1.0 / np.sqrt(n_in)
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
        return layer

    # ------------------------------------------------------------------ hooks for subclasses
    def _init_state(self):
        """Create method-specific state after the network is built."""

    def _before_task(self, phase, X, y):
        """Called before training on task ``phase`` (``X``, ``y``: its training tensors)."""

    def _penalty(self):
        """Extra loss term (a tensor) or None."""
        return None

    def _extra_batch(self):
        """Samples (X, y, mask or None) added to every minibatch, or None."""
        return None

    def _after_step(self, step):
        """Called after every optimiser step (``step``: iterations in this task so far)."""

    def _after_task(self, phase, X, y):
        """Called after training on task ``phase``."""

    def _eval_model(self):
        """The network used to predict."""
        return self.model_

    # ------------------------------------------------------------------ training
    def _check_X(self, X, name="X"):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape "
                             f"{X.shape}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {X.shape[1]} features but the learner was set up for "
                             f"{self.n_features_in_}")
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{name} contains NaN or inf values")
        return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=self._device)

    def _loss(self, X, y, mask):
        logits = self.model_(X)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        loss = torch.nn.functional.cross_entropy(logits, y)
        penalty = self._penalty()
        return loss if penalty is None else loss + penalty

    def _train_task(self, phase, X, y, classes, on_step=None, progress=None):
        """Train on task ``phase`` (tensors ``X``, ``y``): hooks, schedule, SGD."""
        schedule = self._schedule()
        mask_row = None
        if self.scenario_ == "task":
            mask_row = torch.zeros(len(self.classes_), dtype=torch.bool, device=self._device)
            mask_row[torch.as_tensor(classes, device=self._device)] = True
        self._before_task(phase, X, y)
        if schedule.needs_past_tasks:
            self._pool.append((X, y))
            self._task_masks.append(mask_row)
        else:
            self._pool = [None] * phase + [(X, y)]
            self._task_masks = [None] * phase + [mask_row]
        sizes = [0 if p is None else int(p[1].shape[0]) for p in self._pool]
        n_it, bs = int(self.n_iterations), int(self.batch_size)
        tasks, idx = schedule.plan(sizes, phase, n_it, bs, self._rng)
        if np.all(tasks == phase):
            PX, Py, flat = X, y, idx
            masks = None if mask_row is None else mask_row.expand(bs, -1)
        else:
            used = sorted(set(np.unique(tasks).tolist()))
            offsets = np.zeros(phase + 1, dtype=np.int64)
            offsets[used] = np.concatenate([[0], np.cumsum([sizes[t] for t in used])[:-1]])
            PX = torch.cat([self._pool[t][0] for t in used])
            Py = torch.cat([self._pool[t][1] for t in used])
            flat = offsets[tasks] + idx
            masks = None
            if mask_row is not None:
                table = torch.stack([self._task_masks[t] if self._task_masks[t] is not None
                                     else mask_row for t in range(phase + 1)])
                masks = table[torch.as_tensor(tasks, device=self._device)]
        flat = torch.as_tensor(flat, device=self._device)
        augment = type(schedule).transform is not SequentialSchedule.transform
        model, opt = self.model_, self.optimizer_
        model.train()
        for step in range(n_it):
            rows = flat[step]
            xb, yb = PX[rows], Py[rows]
            if augment:
                xb = schedule.transform(xb, self._torch_gen)
            mb = None if masks is None else (masks if masks.dim() == 2 else masks[step])
            extra = self._extra_batch()
            if extra is not None:
                xb = torch.cat([xb, extra[0]])
                yb = torch.cat([yb, extra[1]])
                if mb is not None:
                    mb = torch.cat([mb, extra[2]])
            opt.zero_grad(set_to_none=True)
            loss = self._loss(xb, yb, mb)
            loss.backward()
            opt.step()
            self._after_step(step + 1)
            if on_step is not None:
                on_step(step + 1, loss.detach())
            if progress is not None:
                progress.update(1)
        self._after_task(phase, X, y)
        self.n_tasks_seen_ = phase + 1

    def _as_task_tensors(self, X, y):
        Xt = self._check_X(X)
        y = np.asarray(y)
        if y.shape != (Xt.shape[0],):
            raise ValueError(f"y must have shape ({Xt.shape[0]},), got {y.shape}")
        if y.size == 0:
            raise ValueError("cannot learn from an empty task: X has no samples")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= len(self.classes_):
            raise ValueError(f"y must hold integer labels in [0, {len(self.classes_) - 1}], got "
                             f"values from {y.min()!r} to {y.max()!r}")
        return Xt, torch.as_tensor(y.astype(np.int64), device=self._device)

    def partial_fit(self, X, y, classes=None):
        """Learn one more task from ``X``, ``y`` (``n_iterations`` minibatch updates).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs of the new task.
        y : array-like of shape (n_samples,)
            Integer labels.
        classes : array-like or None
            All labels of the whole stream; required on the first call (labels must be
            ``0..n_classes - 1``), ignored later.

        Returns
        -------
        self
        """
        if getattr(self, "model_", None) is None:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            X0 = np.asarray(X)
            if X0.ndim != 2:
                raise ValueError(f"X must be a 2-d array (n_samples, n_features), got shape "
                                 f"{X0.shape}")
            self._setup(X0.shape[1], int(np.max(classes)) + 1)
        Xt, yt = self._as_task_tensors(X, y)
        self._train_task(self.n_tasks_seen_, Xt, yt, np.unique(np.asarray(y)))
        return self

    def fit(self, X, y):
        """Reset the learner and learn a single task from ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Integer labels ``0..n_classes - 1``.

        Returns
        -------
        self
        """
        self.model_ = None
        return self.partial_fit(X, y, classes=np.unique(np.asarray(y)))

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def _logits(self, X, classes=None):
        if getattr(self, "model_", None) is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit, "
                             "partial_fit or fit_stream first")
        model = self._eval_model()
        model.eval()
        logits = model(self._check_X(X))
        if classes is not None:
            mask = torch.ones(logits.shape[1], dtype=torch.bool, device=logits.device)
            mask[torch.as_tensor(np.asarray(classes), device=logits.device)] = False
            logits = logits.masked_fill(mask, float("-inf"))
        return logits

    def predict_proba(self, X, classes=None):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        classes : array-like or None
            Restrict the prediction to these classes (task-incremental use).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return torch.softmax(self._logits(X, classes), dim=1).cpu().numpy()

    def predict(self, X, classes=None):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        classes : array-like or None
            Restrict the prediction to these classes (task-incremental use).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._logits(X, classes).argmax(1).cpu().numpy()

    # ------------------------------------------------------------------ the continual loop
    def fit_stream(self, stream, *, progress=False):
        """Reset the learner, learn every task of ``stream`` in order and evaluate continually.

        Before training, every ``eval_every`` iterations and at the end of every task, the
        model is evaluated on the test sets of *all* tasks of the stream (so forward transfer
        and the accuracy on unseen tasks are recorded too).

        Parameters
        ----------
        stream : TaskStream
            The tasks, e.g. :func:`~neurosim.continual.permuted_digits`.
        progress : bool
            Show a progress bar (tqdm).

        Returns
        -------
        self
            With ``history_`` and ``metrics_`` set.
        """
        import xarray as xr

        if not isinstance(stream, TaskStream):
            raise TypeError(f"stream must be a TaskStream, got {type(stream).__name__}")
        self._setup(stream.n_features, stream.n_classes, stream.scenario)
        dev = self._device
        eval_rng = np.random.default_rng(self._rng.integers(2**63 - 1))
        ex, ey, et = [], [], []
        masks = []
        for task in stream:
            n = task.y_test.shape[0]
            sel = np.arange(n)
            if self.eval_size is not None and n > self.eval_size:
                sel = np.sort(eval_rng.choice(n, size=int(self.eval_size), replace=False))
            ex.append(task.X_test[sel])
            ey.append(task.y_test[sel])
            et.append(np.full(sel.size, task.id))
            m = np.zeros(stream.n_classes, dtype=bool)
            m[task.classes] = True
            masks.append(m)
        EX = torch.as_tensor(np.concatenate(ex), device=dev)
        EY = torch.as_tensor(np.concatenate(ey), device=dev)
        ET = torch.as_tensor(np.concatenate(et), device=dev)
        counts = torch.bincount(ET, minlength=len(stream)).to(torch.float64)
        EM = (torch.as_tensor(np.stack(masks), device=dev)[ET]
              if stream.scenario == "task" else None)

        @torch.no_grad()
        def evaluate():
            model = self._eval_model()
            model.eval()
            logits = model(EX)
            if EM is not None:
                logits = logits.masked_fill(~EM, float("-inf"))
            correct = (logits.argmax(1) == EY).to(torch.float64)
            acc = torch.bincount(ET, weights=correct, minlength=len(stream)) / counts
            model.train()
            return acc.cpu().numpy()

        rows, iters, losses, phases = [evaluate()], [0], [np.nan], [-1]
        matrix, task_end = [], []
        state = {"global": 0, "loss_sum": 0.0, "loss_n": 0}
        every = self.eval_every

        def on_step(step, loss):
            state["global"] += 1
            if every is not None:
                state["loss_sum"] = state["loss_sum"] + loss
                state["loss_n"] += 1
                if state["global"] % every == 0 and step < self.n_iterations:
                    record(step)

        def record(step):
            rows.append(evaluate())
            iters.append(state["global"])
            n = max(state["loss_n"], 1)
            losses.append(float(state["loss_sum"]) / n if state["loss_n"] else np.nan)
            phases.append(current["phase"])
            state["loss_sum"], state["loss_n"] = 0.0, 0

        current = {"phase": 0}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(stream) * int(self.n_iterations), desc=type(self).__name__)
        try:
            for task in stream:
                current["phase"] = task.id
                X = torch.as_tensor(task.X_train, device=dev)
                y = torch.as_tensor(task.y_train, device=dev)
                self._train_task(task.id, X, y, task.classes, on_step=on_step, progress=bar)
                record(self.n_iterations)
                matrix.append(rows[-1])
                task_end.append(state["global"])
        finally:
            if bar is not None:
                bar.close()

        names = stream.names
        ds = xr.Dataset(
            {
                "accuracy": (("iteration", "task"), np.stack(rows)),
                "loss": ("iteration", np.asarray(losses, dtype=float)),
                "phase": ("iteration", np.asarray(phases, dtype=np.int64)),
                "accuracy_matrix": (("trained", "task"), np.stack(matrix)),
                "initial_accuracy": ("task", rows[0]),
                "task_end": ("task", np.asarray(task_end, dtype=np.int64)),
            },
            coords={
                "iteration": np.asarray(iters, dtype=np.int64),
                "task": np.arange(len(stream)),
                "trained": np.arange(len(stream)),
                "task_name": ("task", np.asarray(names, dtype=object)),
            },
        )
        ds["accuracy"].attrs.update(units="1", long_name="test accuracy on each task")
        ds["loss"].attrs.update(units="nat", long_name="mean training loss since the last "
                                "evaluation (cross-entropy plus the method's penalty)")
        ds["phase"].attrs["long_name"] = "task being trained (-1: before training)"
        ds["accuracy_matrix"].attrs.update(
            units="1", long_name="accuracy on task (column) after training on task (row)")
        ds["initial_accuracy"].attrs.update(units="1", long_name="accuracy before training")
        ds["task_end"].attrs.update(units="iteration", long_name="last iteration of each task")
        ds["iteration"].attrs.update(units="iteration", long_name="minibatch updates so far")
        self.metrics_ = continual_metrics(ds)
        params = {k: (repr(v) if not isinstance(v, (int, float, str, type(None), tuple)) else v)
                  for k, v in self.get_params(deep=False).items()}
        ds.attrs.update({
            "learner": type(self).__name__, "learner_params": json.dumps(params, default=str),
            "stream": stream.name, "scenario": stream.scenario, "n_tasks": len(stream),
            "device": str(dev), **{f"metric_{k}": v for k, v in self.metrics_.items()},
        })
        self.history_ = ds
        return self


class FineTuning(ContinualLearner):
    """Fine-tuning: plain sequential SGD on each new task (the lower bound).

    Parameters
    ----------
    **params
        See :class:`ContinualLearner`.

    Examples
    --------
    >>> from neurosim.continual import FineTuning, permuted_digits
    >>> learner = FineTuning(n_iterations=50, random_state=0)
    >>> learner.fit_stream(permuted_digits(n_tasks=2))  # doctest: +ELLIPSIS
    FineTuning(n_iterations=50, random_state=0)
    """

    name = "finetune"


class JointTraining(ContinualLearner):
    """Joint (cumulative) training: each phase trains on all tasks seen so far (upper bound).

    Minibatches are drawn uniformly from the union of the training sets of tasks ``0..k`` in
    phase ``k``; ``schedule`` may only be None (the cumulative schedule) here.

    Parameters
    ----------
    **params
        See :class:`ContinualLearner`.

    Examples
    --------
    >>> from neurosim.continual import JointTraining
    >>> JointTraining(n_iterations=300).n_iterations
    300
    """

    name = "joint"

    def _schedule(self):
        if self.schedule is not None:
            raise ValueError("JointTraining samples all seen tasks; schedule must be None, got "
                             f"{self.schedule!r}")
        return _CumulativeSchedule()


def _fisher_diagonal(model, X, y, n_samples, rng, mask=None):
    """Empirical Fisher information diagonal: mean over samples of squared log-lik gradients."""
    from torch.func import functional_call, grad, vmap

    n = X.shape[0]
    if n > n_samples:
        sel = torch.as_tensor(np.sort(rng.choice(n, size=n_samples, replace=False)),
                              device=X.device)
        X, y = X[sel], y[sel]
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, x, t):
        logits = functional_call(model, p, (x[None],))
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return torch.nn.functional.cross_entropy(logits, t[None])

    out = {k: torch.zeros_like(v) for k, v in params.items()}
    for start in range(0, X.shape[0], 256):
        g = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X[start:start + 256],
                                                      y[start:start + 256])
        for k in out:
            out[k] += (g[k] ** 2).sum(0)
    return [out[k] / X.shape[0] for k, _ in model.named_parameters()]


def _quadratic_penalty(params, importance, anchor, strength, lr):
    """(1/2) sum_j min(strength * importance_j, 1/lr) (p_j - anchor_j)^2.

    The stiffness of each weight is capped at 1 / lr: beyond it a plain SGD step on the
    penalty would overshoot the anchor and the weights would oscillate and diverge.
    """
    total = 0.0
    for p, w, a in zip(params, importance, anchor):
        total = total + ((strength * w).clamp(max=1.0 / lr) * (p - a) ** 2).sum()
    return 0.5 * total


class EWC(ContinualLearner):
    """Elastic weight consolidation, online version (Kirkpatrick et al. 2017; Schwarz 2018).

    After task :math:`t` the diagonal empirical Fisher information :math:`F_t` is computed at
    the learned weights :math:`\\theta^*_t`, the importance is accumulated,
    :math:`\\Omega \\leftarrow \\gamma \\Omega + F_t`, and later tasks minimise

    .. math:: L(\\theta) + \\frac{1}{2} \\sum_j \\min(\\lambda \\Omega_j, 1/\\eta)
              (\\theta_j - \\theta^*_{t,j})^2

    The stiffness :math:`\\lambda \\Omega_j` of each weight is capped at :math:`1/\\eta`
    (:math:`\\eta`: the learning rate), beyond which an SGD step on the penalty would
    overshoot the anchor and diverge.

    Parameters
    ----------
    ewc_lambda : float
        Penalty strength :math:`\\lambda`.
    decay : float
        Decay :math:`\\gamma` of the older importances, in [0, 1] (1: plain sum).
    fisher_samples : int
        Training samples per task used to estimate the Fisher information.
    **params
        See :class:`ContinualLearner`.

    Examples
    --------
    >>> from neurosim.continual import EWC
    >>> EWC(ewc_lambda=100.0).ewc_lambda
    100.0
    """

    name = "ewc"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None, ewc_lambda=100.0, decay=1.0, fisher_samples=500):
        super().__init__(hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                         momentum=momentum, batch_size=batch_size, n_iterations=n_iterations,
                         eval_every=eval_every, eval_size=eval_size, schedule=schedule,
                         device=device, random_state=random_state)
        self.ewc_lambda = ewc_lambda
        self.decay = decay
        self.fisher_samples = fisher_samples

    def _validate_params(self):
        super()._validate_params()
        check_positive("ewc_lambda", self.ewc_lambda, allow_zero=True)
        check_positive("decay", self.decay, allow_zero=True)
        if self.decay > 1:
            raise ValueError(f"decay must be in [0, 1], got {self.decay!r}")
        check_size("fisher_samples", self.fisher_samples, minimum=1)

    def _init_state(self):
        self.importance_ = None
        self.anchor_ = None

    def _penalty(self):
        if self.importance_ is None or self.ewc_lambda == 0:
            return None
        return _quadratic_penalty(self.model_.parameters(), self.importance_, self.anchor_,
                                  float(self.ewc_lambda), float(self.learning_rate))

    def _after_task(self, phase, X, y):
        mask = self._task_masks[phase] if self._task_masks else None
        fisher = _fisher_diagonal(self.model_, X, y, int(self.fisher_samples), self._rng, mask)
        if self.importance_ is None:
            self.importance_ = fisher
        else:
            self.importance_ = [float(self.decay) * w + f for w, f in zip(self.importance_, fisher)]
        self.anchor_ = [p.detach().clone() for p in self.model_.parameters()]


class ExperienceReplay(ContinualLearner):
    """Experience replay from a bounded memory filled by reservoir sampling.

    Every minibatch of the current task is joined by ``replay_batch_size`` samples drawn
    uniformly from the memory. After each task its training samples are offered to the memory
    one by one by reservoir sampling (Vitter 1985, algorithm R): the :math:`n`-th sample seen
    is kept with probability :math:`\\min(1, M / n)` and replaces a uniformly chosen slot, so
    the memory is at any time a uniform sample of everything seen, of size at most :math:`M`.

    Parameters
    ----------
    buffer_size : int
        Memory capacity :math:`M` (samples, >= 0; 0 is fine-tuning).
    replay_batch_size : int or None
        Replayed samples per minibatch (None: ``batch_size``).
    **params
        See :class:`ContinualLearner`.

    Attributes
    ----------
    buffer_X_, buffer_y_ : torch.Tensor
        The memory.
    n_seen_ : int
        Samples offered to the memory so far.

    Examples
    --------
    >>> from neurosim.continual import ExperienceReplay
    >>> ExperienceReplay(buffer_size=200).buffer_size
    200
    """

    name = "replay"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None, buffer_size=500, replay_batch_size=None):
        super().__init__(hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                         momentum=momentum, batch_size=batch_size, n_iterations=n_iterations,
                         eval_every=eval_every, eval_size=eval_size, schedule=schedule,
                         device=device, random_state=random_state)
        self.buffer_size = buffer_size
        self.replay_batch_size = replay_batch_size

    def _validate_params(self):
        super()._validate_params()
        check_size("buffer_size", self.buffer_size, minimum=0)
        if self.replay_batch_size is not None:
            check_size("replay_batch_size", self.replay_batch_size, minimum=1)

    def _init_state(self):
        d = self._device
        self.buffer_X_ = torch.empty((0, self.n_features_in_), device=d)
        self.buffer_y_ = torch.empty(0, dtype=torch.int64, device=d)
        self._buffer_mask = None
        self.n_seen_ = 0

    def _extra_batch(self):
        n = self.buffer_y_.shape[0]
        if n == 0:
            return None
        k = int(self.replay_batch_size or self.batch_size)
        rows = torch.randint(n, (k,), generator=self._torch_gen, device=self._device)
        mask = None if self._buffer_mask is None else self._buffer_mask[rows]
        return self.buffer_X_[rows], self.buffer_y_[rows], mask

    def _after_task(self, phase, X, y):
        M = int(self.buffer_size)
        if M == 0:
            return
        n_new = X.shape[0]
        order = self._rng.permutation(n_new)  # the order in which the task's samples stream by
        slots, src = reservoir_slots(self.n_seen_, M, n_new, self._rng)
        self.n_seen_ += n_new
        mask_row = self._task_masks[phase] if self._task_masks else None
        size = int(min(M, self.n_seen_))
        if self.buffer_y_.shape[0] < size:  # grow the memory to its new size
            pad = size - self.buffer_y_.shape[0]
            self.buffer_X_ = torch.cat([self.buffer_X_, X.new_zeros((pad, X.shape[1]))])
            self.buffer_y_ = torch.cat([self.buffer_y_, y.new_zeros(pad)])
            if mask_row is not None:
                old = (self._buffer_mask if self._buffer_mask is not None
                       else mask_row.new_zeros((0, mask_row.shape[0])))
                self._buffer_mask = torch.cat([old, mask_row.expand(pad, -1)])
        if slots.size:
            s = torch.as_tensor(slots, device=self._device)
            r = torch.as_tensor(order[src], device=self._device)
            self.buffer_X_[s] = X[r]
            self.buffer_y_[s] = y[r]
            if mask_row is not None:
                self._buffer_mask[s] = mask_row


def reservoir_slots(n_seen, capacity, n_new, random_state):
    """Reservoir sampling (algorithm R): where ``n_new`` streamed samples go in the memory.

    Sample ``i`` of the new ones (the ``n_seen + i + 1``-th overall) goes to slot
    ``n_seen + i`` while the memory is not full; afterwards it is kept with probability
    ``capacity / (n_seen + i + 1)`` and replaces a uniformly chosen slot.

    Parameters
    ----------
    n_seen : int
        Samples streamed before these.
    capacity : int
        Memory size :math:`M`.
    n_new : int
        Number of new samples.
    random_state : None | int | numpy.random.Generator
        Random generator.

    Returns
    -------
    slots, sources : ndarray of int64
        Slot written and index of the new sample that ends up there (the last of the new
        samples written to that slot), in streaming order; each slot appears at most once.

    Examples
    --------
    >>> from neurosim.continual import reservoir_slots
    >>> slots, src = reservoir_slots(0, 3, 2, 0)
    >>> slots.tolist(), src.tolist()
    ([0, 1], [0, 1])
    """
    n_seen = check_size("n_seen", n_seen, minimum=0)
    capacity = check_size("capacity", capacity, minimum=0)
    n_new = check_size("n_new", n_new, minimum=0)
    rng = check_random_state(random_state)
    count = n_seen + np.arange(n_new, dtype=np.int64)  # samples seen before each new one
    r = rng.integers(0, count + 1) if n_new else count
    slot = np.where(count < capacity, count, r)
    src = np.flatnonzero(slot < capacity)
    slot = slot[src]
    # only the last write to a slot survives
    _, last = np.unique(slot[::-1], return_index=True)
    keep = np.sort(slot.size - 1 - last)
    return slot[keep].astype(np.int64), src[keep].astype(np.int64)


class FastSlowLearner(ContinualLearner):
    """Fast/slow-weight learner with two-step consolidation (after Wang et al. 2021).

    Two copies of the network's weights interact. The *fast* weights :math:`\\theta_F` learn the
    current task by SGD, held near the *slow* weights :math:`\\theta_S` in proportion to each
    synapse's consolidated importance :math:`\\Omega` (meta-plasticity: synapses that matter for
    past tasks become stiff):

    .. math:: \\theta_F \\leftarrow \\theta_F - \\eta \\nabla_{\\theta_F} \\Big[ L(\\theta_F)
              + \\frac{\\lambda}{2} \\sum_j \\Omega_j (\\theta_{F,j} - \\theta_{S,j})^2 \\Big]

    The slow weights integrate the fast ones, more slowly where the importance is high,
    every ``slow_every`` iterations (step 1, within the task):

    .. math:: \\theta_S \\leftarrow \\theta_S + \\beta\\, \\rho \\odot (\\theta_F - \\theta_S),
              \\qquad \\rho_j = \\frac{1}{1 + c\\, \\Omega_j}

    At the end of each task (step 2, consolidation) the slow weights absorb what the fast
    weights learned, :math:`\\theta_S \\leftarrow \\theta_S + \\rho \\odot (\\theta_F - \\theta_S)`, the
    importance is updated with the diagonal Fisher information of the task at the new slow
    weights, :math:`\\Omega \\leftarrow \\Omega + F_t`, and the fast weights restart from the slow
    ones. Predictions use the slow (consolidated) weights.

    The paper (arXiv:2104.09034) describes interdependent fast/slow weights inspired by
    meta-plasticity and a two-step consolidation; its exact update equations were not
    available to us, so the equations above are this package's formulation of that idea, not
    a reproduction of the paper's.

    Parameters
    ----------
    consolidation : float
        Penalty strength :math:`\\lambda` tying fast to slow weights.
    slow_rate : float
        Step :math:`\\beta` of the within-task slow update, in (0, 1].
    slow_every : int
        Iterations between slow updates.
    metaplasticity : float
        :math:`c`: how fast plasticity :math:`\\rho` falls with importance.
    fisher_samples : int
        Training samples per task used to estimate the Fisher information.
    **params
        See :class:`ContinualLearner`.

    Attributes
    ----------
    slow_weights_ : list of torch.Tensor
        :math:`\\theta_S`, in the order of ``model_.parameters()``.
    importance_ : list of torch.Tensor or None
        :math:`\\Omega`.

    Examples
    --------
    >>> from neurosim.continual import FastSlowLearner, permuted_digits
    >>> learner = FastSlowLearner(n_iterations=50, random_state=0)
    >>> learner = learner.fit_stream(permuted_digits(n_tasks=2, random_state=0))
    >>> len(learner.slow_weights_)
    4
    """

    name = "fastslow"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None, consolidation=300.0, slow_rate=0.5, slow_every=10,
                 metaplasticity=30.0, fisher_samples=500):
        super().__init__(hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                         momentum=momentum, batch_size=batch_size, n_iterations=n_iterations,
                         eval_every=eval_every, eval_size=eval_size, schedule=schedule,
                         device=device, random_state=random_state)
        self.consolidation = consolidation
        self.slow_rate = slow_rate
        self.slow_every = slow_every
        self.metaplasticity = metaplasticity
        self.fisher_samples = fisher_samples

    def _validate_params(self):
        super()._validate_params()
        check_positive("consolidation", self.consolidation, allow_zero=True)
        check_positive("slow_rate", self.slow_rate)
        if self.slow_rate > 1:
            raise ValueError(f"slow_rate must be in (0, 1], got {self.slow_rate!r}")
        check_size("slow_every", self.slow_every, minimum=1)
        check_positive("metaplasticity", self.metaplasticity, allow_zero=True)
        check_size("fisher_samples", self.fisher_samples, minimum=1)

    def _init_state(self):
        self.slow_weights_ = [p.detach().clone() for p in self.model_.parameters()]
        self.importance_ = None
        self._plasticity = None
        self._slow_model = None

    def _penalty(self):
        if self.importance_ is None or self.consolidation == 0:
            return None
        return _quadratic_penalty(self.model_.parameters(), self.importance_, self.slow_weights_,
                                  float(self.consolidation), float(self.learning_rate))

    @torch.no_grad()
    def _move_slow(self, rate):
        fast = list(self.model_.parameters())
        for i, (s, f) in enumerate(zip(self.slow_weights_, fast)):
            step = rate if self._plasticity is None else rate * self._plasticity[i]
            s.add_(step * (f - s))
        self._slow_model = None

    def _after_step(self, step):
        if step % int(self.slow_every) == 0:
            self._move_slow(float(self.slow_rate))

    def _after_task(self, phase, X, y):
        self._move_slow(1.0)  # step 2: consolidate into the slow weights
        with torch.no_grad():
            for f, s in zip(self.model_.parameters(), self.slow_weights_):
                f.copy_(s)  # the fast weights restart from the consolidated ones
        self.optimizer_.state.clear()
        mask = self._task_masks[phase] if self._task_masks else None
        fisher = _fisher_diagonal(self.model_, X, y, int(self.fisher_samples), self._rng, mask)
        self.importance_ = (fisher if self.importance_ is None
                            else [w + f for w, f in zip(self.importance_, fisher)])
        c = float(self.metaplasticity)
        self._plasticity = [1.0 / (1.0 + c * w) for w in self.importance_]

    def _eval_model(self):
        if self._slow_model is None:
            import copy

            model = copy.deepcopy(self.model_)
            with torch.no_grad():
                for p, s in zip(model.parameters(), self.slow_weights_):
                    p.copy_(s)
            self._slow_model = model
        return self._slow_model


LEARNERS = {
    "finetune": FineTuning, "ewc": EWC, "replay": ExperienceReplay, "joint": JointTraining,
    "fastslow": FastSlowLearner,
}


def make_learner(name, **params):
    """Build a learner by name.

    Parameters
    ----------
    name : {"finetune", "ewc", "replay", "joint", "fastslow"}
        The method.
    **params
        Its parameters.

    Returns
    -------
    learner : ContinualLearner

    Examples
    --------
    >>> from neurosim.continual import make_learner
    >>> make_learner("replay", buffer_size=100)
    ExperienceReplay(buffer_size=100)
    """
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; expected one of {sorted(LEARNERS)}")
    return LEARNERS[name](**params)
