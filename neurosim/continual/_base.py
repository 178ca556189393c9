"""The continual learner base class (one training loop with continual evaluation), plain
fine-tuning and joint training."""

from __future__ import annotations

import json

import numpy as np
import torch
from sklearn.utils import metadata_routing

from neurosim._docs import docdict, fill_doc

from .._utils import check_positive, check_size
from .._utils_torch import check_finite_loss
from ._metrics import continual_metrics
from ._schedules import SequentialSchedule
from ._streams import TaskStream
from ._taskwise import TaskwiseClassifier

__all__ = ["ContinualLearner", "FineTuning", "JointTraining"]


docdict["continual_learner_params"] = """\
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
%(device)s
%(random_state)s
    Seed of the initial weights, the minibatches, the evaluation subsets and the memory."""


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


@fill_doc
class ContinualLearner(TaskwiseClassifier):
    """Base class: a multilayer perceptron trained task after task, with continual evaluation.

    Subclasses change the loss, add memory or consolidation through four hooks; the training
    loop, the schedules and the evaluation are shared, so learners differ only in what their
    method does. Plain sequential training with this class is fine-tuning (:class:`FineTuning`).

    The network is an MLP ``n_features -> hidden_sizes (ReLU) -> n_classes`` trained with
    minibatch SGD on the cross-entropy. Each task is trained for ``n_iterations`` minibatches
    drawn by ``schedule``.

    Parameters
    ----------
    %(continual_learner_params)s

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
    _seed_bound = 2**63 - 1
    _allow_no_hidden = True

    # ``classes`` of predict / predict_proba is not routed metadata: no set_<method>_request
    # methods (scikit-learn's metadata routing)
    __metadata_request__predict = {"classes": metadata_routing.UNUSED}
    __metadata_request__predict_proba = {"classes": metadata_routing.UNUSED}

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
        hidden, device = self._check_taskwise_params()
        check_positive("momentum", self.momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_size("n_iterations", self.n_iterations, minimum=1)
        if self.eval_every is not None:
            check_size("eval_every", self.eval_every, minimum=1)
        if self.eval_size is not None:
            check_size("eval_size", self.eval_size, minimum=1)
        if self.schedule is not None and not isinstance(self.schedule, SequentialSchedule):
            raise TypeError(f"schedule must be a SequentialSchedule, PowerLawRehearsal or "
                            f"ViewBatchReplay, got {self.schedule!r}")
        self._hidden = hidden
        self._device = device

    def _schedule(self):
        return SequentialSchedule() if self.schedule is None else self.schedule

    def _setup(self, n_features, n_classes, scenario="domain"):
        self._validate_params()
        seed = self._draw_seed()
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
            check_finite_loss(loss, f"task {phase}, step {step + 1} of {type(self).__name__}")
            loss.backward()
            opt.step()
            self._after_step(step + 1)
            if on_step is not None:
                on_step(step + 1, loss.detach())
            if progress is not None:
                progress.update(1)
        self._after_task(phase, X, y)
        self.n_tasks_seen_ = phase + 1

    def partial_fit(self, X, y, classes=None):
        """Learn one more task from ``X``, ``y`` (``n_iterations`` minibatch updates).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs of the new task.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like or None
            All labels of the whole stream; required on the first call, ignored later.

        Returns
        -------
        self
        """
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        first = getattr(self, "model_", None) is None
        if first and classes is None:
            raise ValueError("classes must be given on the first call to partial_fit")
        X, y = validate_data(self, X, y, reset=first, dtype=np.float32)
        check_classification_targets(y)
        if first:
            classes = np.unique(np.asarray(classes))
            self._setup(X.shape[1], len(classes))
            self.classes_ = classes
        pos = self._encode(y)
        Xt = torch.as_tensor(np.ascontiguousarray(X), device=self._device)
        yt = torch.as_tensor(pos.astype(np.int64), device=self._device)
        self._train_task(self.n_tasks_seen_, Xt, yt, np.unique(pos))
        return self

    def fit(self, X, y):
        """Reset the learner and learn a single task from ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels (any sortable labels: ints, strings, ...).

        Returns
        -------
        self
        """
        from sklearn.utils.validation import validate_data

        self.model_ = None
        _, y = validate_data(self, X, y, reset=True, dtype=np.float32)
        return self.partial_fit(X, y, classes=np.unique(y))

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def _logits(self, X, classes=None):
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        model = self._eval_model()
        model.eval()
        logits = model(torch.as_tensor(np.ascontiguousarray(X), device=self._device))
        if classes is not None:
            keep = self._encode(np.unique(np.asarray(classes)))
            mask = torch.ones(logits.shape[1], dtype=torch.bool, device=logits.device)
            mask[torch.as_tensor(keep, device=logits.device)] = False
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
            Columns in the order of ``classes_``.
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
        index = self._logits(X, classes).argmax(1).cpu().numpy()
        return self.classes_[index]

    # ------------------------------------------------------------------ the continual loop
    @fill_doc
    def fit_stream(self, stream, *, progress=False):
        """Reset the learner, learn every task of ``stream`` in order and evaluate continually.

        Before training, every ``eval_every`` iterations and at the end of every task, the
        model is evaluated on the test sets of *all* tasks of the stream (so forward transfer
        and the accuracy on unseen tasks are recorded too).

        Parameters
        ----------
        stream : TaskStream
            The tasks, e.g. :func:`~neurosim.continual.permuted_digits`.
        %(progress)s

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


@fill_doc
class FineTuning(ContinualLearner):
    """Fine-tuning: plain sequential SGD on each new task (the lower bound).

    Parameters
    ----------
    %(continual_learner_params)s

    Examples
    --------
    >>> from neurosim.continual import FineTuning, permuted_digits
    >>> learner = FineTuning(n_iterations=50, random_state=0)
    >>> learner.fit_stream(permuted_digits(n_tasks=2))  # doctest: +ELLIPSIS
    FineTuning(n_iterations=50, random_state=0)
    """

    name = "finetune"


@fill_doc
class JointTraining(ContinualLearner):
    """Joint (cumulative) training: each phase trains on all tasks seen so far (upper bound).

    Minibatches are drawn uniformly from the union of the training sets of tasks ``0..k`` in
    phase ``k``; ``schedule`` may only be None (the cumulative schedule) here.

    Parameters
    ----------
    %(continual_learner_params)s

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
