"""Continual learning: task streams, fast/slow learners, baselines, schedules and evaluation.

Streams
    :class:`Task` and :class:`TaskStream`; :func:`permuted_digits` and :func:`split_digits` on
    scikit-learn's embedded digits, :func:`permuted_mnist` and :func:`split_mnist` on MNIST or
    Fashion-MNIST files already on disk, and the generic :func:`permuted_stream` and
    :func:`split_stream`; every builder has a few-shot variant (``k_shot``).

``import neurosim.continual`` does not import torch.
"""

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

__all__ = [
    "Task", "TaskStream", "permuted_digits", "permuted_mnist", "permuted_stream", "split_digits",
    "split_mnist", "split_stream",
]
