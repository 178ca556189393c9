"""The base of every classifier trained one task at a time (continual learners, dendritic networks).

:class:`TaskwiseClassifier` holds what :class:`~neurosim.continual.ContinualLearner` and the
active-dendrites classifiers (:mod:`neurosim.dendrites`) share: the hyper-parameters every one of
them has (``hidden_sizes``, ``batch_size``, ``learning_rate``, ``device``, ``random_state``) and
their checks, the device, the seeding of the network from ``random_state``, the label encoding,
scikit-learn's conventions (``partial_fit`` per task, ``fit`` from scratch, metadata routing off)
and :meth:`~TaskwiseClassifier.fit_stream`, the task-by-task training with the accuracy matrix
and the continual-learning metrics. A subclass builds its network and trains it on one task.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import metadata_routing

from .._utils import check_positive, check_random_state, check_size
from .._utils_torch import resolve_device

__all__ = ["TaskwiseClassifier", "single_thread"]


class TaskwiseClassifier(ClassifierMixin, BaseEstimator):
    """Base class of the classifiers trained one task at a time with ``partial_fit``.

    Subclasses set their parameters in ``__init__`` (scikit-learn style) and implement
    ``partial_fit(X, y, classes=None, ...)`` (one more task) and ``predict``; they call
    :meth:`_check_taskwise_params` to validate the shared parameters and :meth:`_draw_seed` to
    seed their network. :meth:`fit_stream` then trains on a :class:`~neurosim.continual.TaskStream`
    task after task and evaluates on every task after each one.

    Shared parameters (documented by each subclass): ``hidden_sizes`` (widths of the hidden
    layers), ``batch_size``, ``learning_rate``, ``device`` and ``random_state``.

    Attributes
    ----------
    history_ : xarray.Dataset
        Set by :meth:`fit_stream`: ``accuracy_matrix`` (trained, task), the accuracy on each
        task (column) after training on each task (row).
    metrics_ : dict of str to float
        Set by :meth:`fit_stream`: ``acc`` (mean final accuracy over all tasks) and ``bwt``
        (backward transfer).
    """

    #: the torch seed of the network is drawn from ``random_state`` in ``[0, _seed_bound)``
    _seed_bound = 2**62
    #: whether an empty ``hidden_sizes`` (no hidden layer) is allowed
    _allow_no_hidden = False

    # ``classes`` of partial_fit is not routed metadata (scikit-learn's metadata routing)
    __metadata_request__partial_fit = {"classes": metadata_routing.UNUSED}
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    # ------------------------------------------------------------------ checks and setup
    def _check_taskwise_params(self):
        """Validate ``hidden_sizes``, ``batch_size``, ``learning_rate`` and ``device``.

        Returns
        -------
        hidden : tuple of int
        device : torch.device
        """
        hidden = self.hidden_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__len__"):
            raise TypeError(f"hidden_sizes must be a sequence of positive ints, got {hidden!r}")
        try:
            hidden = tuple(check_size("hidden_sizes", h, minimum=1) for h in hidden)
        except TypeError as err:
            raise TypeError(f"hidden_sizes must be a sequence of positive ints, got "
                            f"{self.hidden_sizes!r}") from err
        if not hidden and not self._allow_no_hidden:
            raise ValueError(f"hidden_sizes must be a non-empty sequence of positive ints, got "
                             f"{self.hidden_sizes!r}")
        check_size("batch_size", self.batch_size, minimum=1)
        check_positive("learning_rate", self.learning_rate)
        return hidden, resolve_device(self.device)

    def _draw_seed(self):
        """Start ``self._rng`` from ``random_state`` and draw the network's torch seed from it."""
        self._rng = check_random_state(self.random_state)
        return int(self._rng.integers(self._seed_bound))

    def _reset(self):
        """Forget everything learned: remove the fitted (trailing-underscore) attributes."""
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    def _encode(self, y):
        """Positions of the labels ``y`` in ``classes_`` (ValueError for unknown labels)."""
        pos = np.searchsorted(self.classes_, y)
        pos = np.clip(pos, 0, len(self.classes_) - 1)
        bad = self.classes_[pos] != y
        if np.any(bad):
            raise ValueError(f"y holds labels {np.unique(np.asarray(y)[bad]).tolist()} that are "
                             f"not in classes_ {self.classes_.tolist()}")
        return pos

    # ------------------------------------------------------------------ the continual loop
    def fit_stream(self, stream, *, progress=False):
        """Reset, learn every task of ``stream`` in order, and test on every task after each one.

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
        from tqdm.auto import tqdm

        from ._metrics import average_accuracy, backward_transfer
        from ._streams import TaskStream

        if not isinstance(stream, TaskStream):
            raise TypeError(f"stream must be a TaskStream, got {type(stream).__name__}")
        self._reset()
        classes = np.arange(stream.n_classes)
        n = len(stream)
        R = np.full((n, n), np.nan)
        with tqdm(total=n, desc=type(self).__name__, disable=not progress) as bar:
            for i, task in enumerate(stream):
                self.partial_fit(task.X_train, task.y_train, classes=classes)
                for j, other in enumerate(stream):
                    R[i, j] = self.score(other.X_test, other.y_test)
                bar.update()
        ds = xr.Dataset(
            {"accuracy_matrix": (("trained", "task"), R, {
                "units": "1", "long_name": "accuracy on task (column) after training on task (row)"})},
            coords={"trained": np.arange(n), "task": np.arange(n),
                    "task_name": ("task", np.asarray(stream.names, dtype=object))},
            attrs={"learner": type(self).__name__, "stream": stream.name,
                   "scenario": stream.scenario, "n_tasks": n},
        )
        self.metrics_ = {"acc": float(average_accuracy(R)), "bwt": float(backward_transfer(R))}
        ds.attrs.update({f"metric_{k}": v for k, v in self.metrics_.items()})
        self.history_ = ds
        return self


class single_thread:  # noqa: N801 - used as a context manager, like contextlib's
    """Run torch on one thread inside the block, then restore the previous setting.

    Small networks are as fast on one thread on an idle machine and many times faster on a busy
    one (torch's worker threads spin while waiting for each other).

    Examples
    --------
    >>> from neurosim.continual import single_thread
    >>> with single_thread():
    ...     pass
    """

    def __enter__(self):
        import torch

        self._before = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._before)
        return False
