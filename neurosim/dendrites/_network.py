"""The active-dendrites network (Iyer et al. 2022) and its MLP baselines, in PyTorch.

A hidden unit ``i`` computes a feed-forward response :math:`\\hat y_i = w_i \\cdot x + b_i` (a
linear layer with a fixed random sparse mask) and has ``S`` dendritic segments
:math:`u_{ij} \\in \\mathbb{R}^{d}` driven by a context vector ``c``. The segment with the largest
absolute response gates the unit,

.. math:: j^* = \\arg\\max_j |u_{ij} \\cdot c|, \\qquad
          y_i = \\hat y_i \\, \\sigma(u_{ij^*} \\cdot c),

and a k-winners-take-all keeps the ``k`` largest ``y_i`` of each layer (the rest are zero), so
each context selects its own sparse sub-network. The context of a task is its *prototype*, the
mean of its training inputs; at test time each sample gets the nearest stored prototype.

torch is imported with this module; ``neurosim.dendrites`` loads it on first use.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np
import torch
from sklearn.utils import check_array, metadata_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from neurosim._docs import fill_doc

from .._utils import check_size
from .._utils_torch import check_finite_loss
from ..continual._taskwise import TaskwiseClassifier

__all__ = ["ActiveDendritesClassifier", "ContextMLPClassifier"]


# --------------------------------------------------------------------------------------------
# torch modules
# --------------------------------------------------------------------------------------------
class _SparseLinear(torch.nn.Linear):
    """Linear layer whose weights are multiplied by a fixed random 0/1 mask (``density`` on)."""

    def __init__(self, n_in, n_out, density, input_density, generator):
        super().__init__(n_in, n_out)
        mask = torch.rand(n_out, n_in, generator=generator) < density
        self.register_buffer("mask", mask.to(torch.float32))
        # "modified Kaiming": U(-h, h), h = 1 / sqrt(input density * weight density * fan-in)
        h = 1.0 / math.sqrt(max(input_density * density * n_in, 1.0))
        with torch.no_grad():
            self.weight.uniform_(-h, h, generator=generator).mul_(self.mask)
            self.bias.uniform_(-h, h, generator=generator)

    def forward(self, x):
        return torch.nn.functional.linear(x, self.weight * self.mask, self.bias)


class _KWinners(torch.nn.Module):
    """Keep the ``k`` largest activations of each sample, zero the others."""

    def __init__(self, k):
        super().__init__()
        self.k = int(k)

    def forward(self, x):
        idx = torch.topk(x, self.k, dim=1).indices
        mask = torch.zeros_like(x).scatter_(1, idx, 1.0)
        return x * mask


class _DendriticLayer(torch.nn.Module):
    """Sparse linear layer gated by dendritic segments (absolute-max gating)."""

    def __init__(self, n_in, n_out, n_segments, dim_context, density, input_density,
                 generator):
        super().__init__()
        self.linear = _SparseLinear(n_in, n_out, density, input_density, generator)
        h = 4.0 / math.sqrt(dim_context)
        seg = torch.empty(n_out, n_segments, dim_context).uniform_(-h, h, generator=generator)
        self.segments = torch.nn.Parameter(seg)

    def segment_activations(self, context):
        """``(batch, units, segments)`` responses :math:`u_{ij} \\cdot c`."""
        return torch.einsum("ijk,bk->bij", self.segments, context)

    def forward(self, x, context):
        # context: (batch, d) or (1, d), the latter shared by the batch (one task's prototype)
        y = self.linear(x)
        d = self.segment_activations(context)
        best = d.abs().argmax(dim=2, keepdim=True)
        return y * torch.sigmoid(d.gather(2, best).squeeze(2))


class _ActiveDendritesNet(torch.nn.Module):
    def __init__(self, n_in, hidden, n_out, n_segments, dim_context, kw_percent_on,
                 weight_density, generator):
        super().__init__()
        layers, kws, prev, in_density = [], [], n_in, 1.0
        for width in hidden:
            layers.append(_DendriticLayer(prev, width, n_segments, dim_context, weight_density,
                                          in_density, generator))
            kws.append(_KWinners(max(1, round(kw_percent_on * width))))
            prev, in_density = width, kw_percent_on
        self.layers = torch.nn.ModuleList(layers)
        self.kwinners = torch.nn.ModuleList(kws)
        self.output = _SparseLinear(prev, n_out, 1.0, in_density, generator)

    def features(self, x, context):
        for layer, kw in zip(self.layers, self.kwinners):
            x = kw(layer(x, context))
        return x

    def forward(self, x, context):
        return self.output(self.features(x, context))


class _MLPNet(torch.nn.Module):
    def __init__(self, n_in, hidden, n_out, dim_context, generator):
        super().__init__()
        self.dim_context = dim_context
        sizes = [n_in + dim_context, *hidden]
        self.hidden = torch.nn.ModuleList(
            _SparseLinear(a, b, 1.0, 1.0, generator) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = _SparseLinear(sizes[-1], n_out, 1.0, 1.0, generator)

    def features(self, x, context):
        if self.dim_context:
            x = torch.cat([x, context.expand(x.shape[0], -1)], dim=1)
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return x

    def forward(self, x, context):
        return self.output(self.features(x, context))


def _adam(params, lr):
    """Adam, fused into one kernel per step where this torch supports it (much faster here)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - older torch or unsupported device
        return torch.optim.Adam(params, lr=lr)


def _standardize(ctx):
    """Zero mean, unit variance along the last axis (float32, contiguous).

    The dendrites see standardised prototypes: a raw mean image is mostly a common positive
    offset, which makes every task's segment responses alike.
    """
    ctx = np.asarray(ctx, dtype=np.float32)
    sd = ctx.std(axis=-1, keepdims=True)
    return np.ascontiguousarray((ctx - ctx.mean(axis=-1, keepdims=True)) / np.maximum(sd, 1e-6))


# --------------------------------------------------------------------------------------------
# estimators
# --------------------------------------------------------------------------------------------
class _ContextClassifier(TaskwiseClassifier):
    """Task-by-task training with prototype contexts (see the public subclasses).

    A :class:`~neurosim.continual.TaskwiseClassifier`, like the continual learners: Adam for
    ``n_epochs`` epochs per task, the task's prototype as context.
    """

    # No metadata routing: these are not meant to sit in meta-estimators with routed ``context``
    # (and without this sklearn adds ``set_<method>_request`` methods to the public API).
    __metadata_request__fit = {"context": metadata_routing.UNUSED}
    __metadata_request__partial_fit = {"context": metadata_routing.UNUSED,
                                       "classes": metadata_routing.UNUSED}
    __metadata_request__predict = {"context": metadata_routing.UNUSED}
    __metadata_request__predict_proba = {"context": metadata_routing.UNUSED}
    __metadata_request__decision_function = {"context": metadata_routing.UNUSED}
    __metadata_request__hidden_activity = {"context": metadata_routing.UNUSED}

    def _build(self, n_features, n_classes, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- checks ---------------------------------------------------------------------------
    def _check_params(self):
        _, device = self._check_taskwise_params()
        check_size("n_epochs", self.n_epochs, minimum=1)
        return device

    def _check_X(self, X, *, reset):
        return validate_data(self, X, reset=reset, dtype=np.float32)

    def _check_context(self, context, n_rows):
        ctx = check_array(np.atleast_2d(np.asarray(context)), dtype=np.float32,
                          input_name="context")
        if ctx.shape[1] != self.n_features_in_ or ctx.shape[0] not in (1, n_rows):
            raise ValueError(f"context must have shape ({self.n_features_in_},) or "
                             f"({n_rows}, {self.n_features_in_}), got {np.shape(context)}")
        return np.broadcast_to(ctx, (n_rows, ctx.shape[1]))

    # ---- training -------------------------------------------------------------------------
    def fit(self, X, y, context=None):
        """Train from scratch on one task (forgets everything learned before).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.
        y : array_like of shape (n_samples,)
            Class labels.
        context : array_like of shape (n_features,) | None
            The task's context vector; None uses its prototype, the mean of ``X``.

        Returns
        -------
        self
        """
        self._reset()
        return self.partial_fit(X, y, context=context)

    def partial_fit(self, X, y, classes=None, context=None):
        """Train on one more task for ``n_epochs`` epochs, keeping what was learned before.

        The task's context (default: its prototype, the mean of ``X``) is stored in
        ``prototypes_``; inputs are later assigned the nearest stored prototype.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The task's training inputs.
        y : array_like of shape (n_samples,)
            Class labels, all in ``classes``.
        classes : array_like | None
            All the labels of every task; required on the first call unless every label
            appears in the first task's ``y``.
        context : array_like of shape (n_features,) | None
            The task's context vector (default: the prototype).

        Returns
        -------
        self
        """
        device = self._check_params()
        first = not hasattr(self, "module_")
        X, y = validate_data(self, X, y, reset=first, dtype=np.float32)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            seed = self._draw_seed()
            generator = torch.Generator().manual_seed(seed)
            self.module_ = self._build(X.shape[1], len(self.classes_), generator).to(device)
            self.optimizer_ = _adam(self.module_.parameters(), self.learning_rate)
            self.prototypes_ = np.empty((0, X.shape[1]), dtype=np.float32)
            n_masked = sum(int((m.mask == 0).sum()) for m in self.module_.modules()
                           if isinstance(m, _SparseLinear))
            self.n_parameters_ = sum(p.numel() for p in self.module_.parameters()) - n_masked
            self.train_time_s_ = 0.0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from the classes of "
                             f"the first call {self.classes_.tolist()}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y has labels {unknown.tolist()} not in classes "
                             f"{self.classes_.tolist()}")
        ctx = X.mean(axis=0) if context is None else self._check_context(context, 1)[0]
        self.prototypes_ = np.vstack([self.prototypes_, ctx[None, :]])

        t0 = time.perf_counter()
        module, opt = self.module_, self.optimizer_
        Xt = torch.from_numpy(X).to(device)
        yt = torch.from_numpy(np.searchsorted(self.classes_, y)).to(device)
        ct = torch.from_numpy(_standardize(ctx)).to(device)[None, :]
        module.train()
        n = X.shape[0]
        for _ in range(self.n_epochs):
            order = torch.from_numpy(self._rng.permutation(n)).to(device)
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                logits = module(Xt[idx], ct)
                loss = torch.nn.functional.cross_entropy(logits, yt[idx])
                check_finite_loss(loss, f"a minibatch of {type(self).__name__}.partial_fit")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.n_tasks_seen_ = self.prototypes_.shape[0]
        self.train_time_s_ += time.perf_counter() - t0
        return self

    # ---- inference ------------------------------------------------------------------------
    def predict_task(self, X):
        """Index of the nearest stored prototype (the inferred task) of each sample.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        task : ndarray of int, shape (n_samples,)
            Index into ``prototypes_`` (the order of the ``partial_fit`` calls).
        """
        check_is_fitted(self, "module_")
        return self._nearest(self._check_X(X, reset=False))

    def fit_stream(self, stream, *, progress=False):
        """Reset, learn every task of ``stream`` in order, and test on every task after each one.

        Contexts are the tasks' prototypes; at test time each sample gets the nearest stored
        prototype. After the stream, ``history_.attrs["task_inference_accuracy"]`` is the
        fraction of test samples of all tasks whose nearest prototype is their own task's.

        Parameters
        ----------
        stream : neurosim.continual.TaskStream
            The tasks.
        progress : bool
            Show a progress bar (tqdm).

        Returns
        -------
        self
            With ``history_`` (the accuracy matrix) and ``metrics_`` set.
        """
        super().fit_stream(stream, progress=progress)
        hits = [self.predict_task(t.X_test) == k for k, t in enumerate(stream)]
        self.history_.attrs["task_inference_accuracy"] = float(np.concatenate(hits).mean())
        return self

    def _nearest(self, X):
        d = ((X[:, None, :] - self.prototypes_[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)

    def _apply(self, method, X, context):
        """Run ``module_.<method>(x, c)`` on ``X``, grouping samples that share a context."""
        check_is_fitted(self, "module_")
        X = self._check_X(X, reset=False)
        if context is None:
            ctx = self.prototypes_[self._nearest(X)]
        else:
            ctx = self._check_context(context, X.shape[0])
        ctx = _standardize(ctx)
        device = next(self.module_.parameters()).device
        fn = getattr(self.module_, method)
        self.module_.eval()
        uniq, inverse = np.unique(ctx, axis=0, return_inverse=True)
        out = None
        with torch.no_grad():
            for i, c in enumerate(uniq):
                rows = np.flatnonzero(inverse.ravel() == i)
                cb = torch.from_numpy(np.ascontiguousarray(c[None, :])).to(device)
                for start in range(0, rows.size, 4096):
                    r = rows[start:start + 4096]
                    res = fn(torch.from_numpy(X[r]).to(device), cb).cpu().numpy()
                    if out is None:
                        out = np.empty((X.shape[0], res.shape[1]), dtype=np.float32)
                    out[r] = res
        return out

    def decision_function(self, X, context=None):
        """Class scores of each sample: the logits (for two classes, their difference).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.
        context : array_like of shape (n_features,) or (n_samples, n_features) | None
            Context vectors, in input units like the prototypes; None gives each sample its
            nearest stored prototype.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            With two classes, ``logit[1] - logit[0]`` (positive for ``classes_[1]``), as in
            scikit-learn.
        """
        scores = self._apply("forward", X, context)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def hidden_activity(self, X, context=None):
        """Activity of the last hidden layer (after k-WTA or ReLU) for each sample.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.
        context : array_like | None
            As in :meth:`decision_function`.

        Returns
        -------
        hidden : ndarray of shape (n_samples, hidden_sizes[-1])
        """
        return self._apply("features", X, context)

    def predict_proba(self, X, context=None):
        """Class probabilities (softmax of :meth:`decision_function`).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.
        context : array_like | None
            As in :meth:`decision_function`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        scores = self._apply("forward", X, context)
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X, context=None):
        """Predicted class of each sample.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.
        context : array_like | None
            As in :meth:`decision_function`.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        scores = self._apply("forward", X, context)
        return self.classes_[scores.argmax(axis=1)]


@fill_doc
class ActiveDendritesClassifier(_ContextClassifier):
    """Active-dendrites network for continual multi-task learning (Iyer et al. 2022).

    Hidden layers are sparse linear layers whose units are gated by dendritic segments driven by
    a context vector (absolute-max gating, :math:`y_i = \\hat y_i\\,\\sigma(u_{ij^*}\\cdot c)`),
    each followed by a k-winners-take-all; a linear read-out is shared by all tasks. Each call
    of :meth:`partial_fit` is one task, whose context is its prototype (mean input); at test
    time each sample gets the context of the nearest stored prototype.

    Parameters
    ----------
    hidden_sizes : sequence of int
        Widths of the dendritic hidden layers.
    n_segments : int
        Dendritic segments per hidden unit (the paper uses one per task).
    kw_percent_on : float
        Fraction of each hidden layer kept by k-WTA, in (0, 1].
    weight_sparsity : float
        Fraction of feed-forward weights fixed at zero, in [0, 1).
    n_epochs : int
        Epochs per task.
    batch_size : int
        Mini-batch size.
    learning_rate : float
        Adam learning rate.
    %(device)s
    %(random_state)s
        Seed of the initial weights, masks and mini-batch order.

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    prototypes_ : ndarray of shape (n_tasks_seen, n_features)
        Stored task contexts.
    module_ : torch.nn.Module
        The network.
    n_parameters_ : int
        Trainable parameters, counting only unmasked feed-forward weights.
    train_time_s_ : float
        Wall time spent in training.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.dendrites import ActiveDendritesClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 8)).astype("float32")
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> clf = ActiveDendritesClassifier(hidden_sizes=(32,), n_segments=2, kw_percent_on=0.25,
    ...                                 n_epochs=30, learning_rate=1e-2, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(self, hidden_sizes=(256, 256), n_segments=10, kw_percent_on=0.1,
                 weight_sparsity=0.5, n_epochs=3, batch_size=32, learning_rate=1e-3,
                 device="cpu", random_state=None):
        self.hidden_sizes = hidden_sizes
        self.n_segments = n_segments
        self.kw_percent_on = kw_percent_on
        self.weight_sparsity = weight_sparsity
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device
        self.random_state = random_state

    def _build(self, n_features, n_classes, generator):
        ns = self.n_segments
        if isinstance(ns, bool) or not isinstance(ns, numbers.Integral) or ns < 1:
            raise ValueError(f"n_segments must be a positive int, got {ns!r}")
        kw = self.kw_percent_on
        if isinstance(kw, bool) or not isinstance(kw, numbers.Real) or not 0 < kw <= 1:
            raise ValueError(f"kw_percent_on must be in (0, 1], got {kw!r}")
        ws = self.weight_sparsity
        if isinstance(ws, bool) or not isinstance(ws, numbers.Real) or not 0 <= ws < 1:
            raise ValueError(f"weight_sparsity must be in [0, 1), got {ws!r}")
        return _ActiveDendritesNet(n_features, tuple(self.hidden_sizes), n_classes, int(ns),
                                   n_features, float(kw), 1.0 - float(ws), generator)


@fill_doc
class ContextMLPClassifier(_ContextClassifier):
    """Plain MLP baseline (ReLU), optionally given the task context as extra input.

    Trained exactly like :class:`ActiveDendritesClassifier` (task by task with
    :meth:`partial_fit`, prototype contexts, nearest prototype at test time), so the two compare
    like for like. With ``context_input=False`` the context is ignored: the standard network that
    forgets earlier tasks.

    Parameters
    ----------
    hidden_sizes : sequence of int
        Widths of the hidden layers.
    context_input : bool
        Concatenate the context vector to the input.
    n_epochs : int
        Epochs per task.
    batch_size : int
        Mini-batch size.
    learning_rate : float
        Adam learning rate.
    %(device)s
    %(random_state)s
        Seed of the initial weights and mini-batch order.

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    prototypes_ : ndarray of shape (n_tasks_seen, n_features)
        Stored task contexts.
    module_ : torch.nn.Module
        The network.
    n_parameters_ : int
        Trainable parameters.
    train_time_s_ : float
        Wall time spent in training.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.dendrites import ContextMLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 8)).astype("float32")
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> clf = ContextMLPClassifier(hidden_sizes=(32,), n_epochs=20, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(self, hidden_sizes=(256, 256), context_input=False, n_epochs=3, batch_size=32,
                 learning_rate=1e-3, device="cpu", random_state=None):
        self.hidden_sizes = hidden_sizes
        self.context_input = context_input
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device
        self.random_state = random_state

    def _build(self, n_features, n_classes, generator):
        if not isinstance(self.context_input, (bool, np.bool_)):
            raise TypeError(f"context_input must be a bool, got {self.context_input!r}")
        dim_context = n_features if self.context_input else 0
        return _MLPNet(n_features, tuple(self.hidden_sizes), n_classes, dim_context, generator)
