"""Continual learning: task streams, fast/slow learners, baselines, schedules and evaluation.

Streams
    :class:`Task` and :class:`TaskStream`; :func:`permuted_digits` and :func:`split_digits` on
    scikit-learn's embedded digits, :func:`permuted_mnist` and :func:`split_mnist` on MNIST or
    Fashion-MNIST files already on disk, and the generic :func:`permuted_stream` and
    :func:`split_stream`; every builder has a few-shot variant (``k_shot``).
Learners (PyTorch, CPU or CUDA)
    :class:`TaskwiseClassifier` is the base of every classifier trained one task at a time
    (these learners and the active-dendrites classifiers of :mod:`neurosim.dendrites`):
    shared parameters, seeding, device and :meth:`~TaskwiseClassifier.fit_stream`.
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

``import neurosim.continual`` imports nothing heavy: every name is loaded from its module on first
access (torch with the learners).
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submod_attrs={
        "_metrics": ["average_accuracy", "backward_transfer", "continual_metrics",
                     "forward_transfer", "min_accuracy", "worst_case_accuracy"],
        "_schedules": ["PowerLawRehearsal", "SequentialSchedule", "ViewBatchReplay"],
        "_streams": ["Task", "TaskStream", "permuted_digits", "permuted_mnist", "permuted_stream",
                     "split_digits", "split_mnist", "split_stream"],
        "_taskwise": ["TaskwiseClassifier", "single_thread"],
        "_base": ["ContinualLearner", "FineTuning", "JointTraining"],
        "_learners": ["EWC", "ExperienceReplay", "FastSlowLearner", "LEARNERS", "make_learner",
                      "reservoir_slots"],
    },
)
