"""Continual learning: task streams, fast/slow learners, baselines, schedules and evaluation.

Streams
    :class:`Task` and :class:`TaskStream`; :func:`permuted_digits` and :func:`split_digits` on
    scikit-learn's embedded digits, :func:`permuted_mnist` and :func:`split_mnist` on MNIST or
    Fashion-MNIST files already on disk, and the generic :func:`permuted_stream` and
    :func:`split_stream`; every builder has a few-shot variant (``k_shot``).
Learners (PyTorch, CPU or CUDA)
    :class:`FastSlowLearner` and the baselines :class:`FineTuning`, :class:`EWC`,
    :class:`ExperienceReplay` and :class:`JointTraining`, all :class:`ContinualLearner`\\ s
    with ``fit_stream(stream)`` (continual evaluation), ``partial_fit`` (one more task),
    ``fit``, ``predict`` and ``score``; :func:`make_learner` builds one by name.
Schedules
    :class:`SequentialSchedule`, :class:`PowerLawRehearsal` and :class:`ViewBatchReplay`.
Metrics
    :func:`average_accuracy` (ACC), :func:`backward_transfer` (BWT), :func:`forward_transfer`
    (FWT), :func:`min_accuracy` (min-ACC), :func:`worst_case_accuracy` (WC-ACC) and
    :func:`continual_metrics`.

``import neurosim.continual`` does not import torch: the learners are loaded on first access.
"""

import importlib

from ._metrics import (
    average_accuracy,
    backward_transfer,
    continual_metrics,
    forward_transfer,
    min_accuracy,
    worst_case_accuracy,
)
from ._schedules import PowerLawRehearsal, SequentialSchedule, ViewBatchReplay
from ._streams import (
    Task,
    TaskStream,
    permuted_digits,
    permuted_mnist,
    permuted_stream,
    split_digits,
    split_mnist,
    split_stream,
)

_LAZY = {
    "ContinualLearner": "_base", "FineTuning": "_base", "JointTraining": "_base",
    "EWC": "_learners", "ExperienceReplay": "_learners", "FastSlowLearner": "_learners",
    "LEARNERS": "_learners", "make_learner": "_learners", "reservoir_slots": "_learners",
}

__all__ = [
    "EWC", "LEARNERS", "ContinualLearner", "ExperienceReplay", "FastSlowLearner", "FineTuning",
    "JointTraining", "PowerLawRehearsal", "SequentialSchedule", "Task", "TaskStream",
    "ViewBatchReplay", "average_accuracy", "backward_transfer", "continual_metrics",
    "forward_transfer", "make_learner", "min_accuracy", "permuted_digits", "permuted_mnist",
    "permuted_stream", "reservoir_slots", "split_digits", "split_mnist", "split_stream",
    "worst_case_accuracy",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
