"""Homeostatic learners and concept-shift environments.

Learners (PyTorch, CPU or CUDA)
    :class:`HomeostaticMLP`: the homeostatic network of Man, Damasio & Neven (2022), whose
    images excite or inhibit its own learning rate and which decides by look-ahead whether to
    take each effect (``mode="lrh"``), with the random (``"lrr"``) and constant (``"lrc"``)
    twins of the authors' released code.
Environments
    :class:`ConceptShift`: swaps of two random classes' labels, a set number of times per epoch
    (a sequence of rates gives a second-order shift, this project's reading).
Protocols
    :func:`load_shift_data` (digits or the MNIST subset, scaled and split),
    :func:`run_shift_stream` (one learner through a shift stream) and :func:`shift_rate_sweep`
    (modes x shift rates x seeds, paired by seed), :func:`compare_learners` (paired differences
    with confidence intervals).
Streaming metrics
    :func:`running_accuracy`, :func:`shift_recovery` and :func:`paired_difference`.

Homeostasis of spiking networks (adaptive thresholds, synaptic scaling) will live in
``neurosim.homeostasis._spiking`` once the plastic spiking engine exists.

``import neurosim.homeostasis`` does not import torch: :class:`HomeostaticMLP` is loaded on first
access.
"""

import importlib

from ._metrics import paired_difference, running_accuracy, shift_recovery
from ._protocol import compare_learners, load_shift_data, run_shift_stream, shift_rate_sweep
from ._shift import ConceptShift

_LAZY = {"HomeostaticMLP": "_mlp", "MODES": "_mlp"}

__all__ = [
    "MODES", "ConceptShift", "HomeostaticMLP", "compare_learners", "load_shift_data",
    "paired_difference", "run_shift_stream", "running_accuracy", "shift_rate_sweep",
    "shift_recovery",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
