"""Sparsey: single-trial episodic memory with sparse distributed codes (Rinkus 2014, 2017).

A *mac* (macrocolumn) holds ``Q`` competitive modules (CMs) of ``K`` binary cells; a code is one
active cell per CM. The Code Selection Algorithm (CSA) chooses a code so that similar inputs get
overlapping codes, with a noise that shrinks as the input's familiarity grows, and binary
Hebbian learning stores it in one presentation.

- :class:`SparseyMemory`: the estimator (fit / partial_fit / transform / predict / score,
  sequences with :meth:`~SparseyMemory.learn_sequence` and
  :meth:`~SparseyMemory.recall_sequence`), a hierarchy of :class:`Level` s of macs whose
  receptive fields tile the input, run by numba kernels.
- :func:`csa_step` and the functions it calls, one per step of the CSA, in plain numpy.
- :func:`similarity_preservation`, :func:`capacity_curve`, :func:`projection_baselines`,
  :func:`sequence_recall` (with :func:`morph` and :func:`binary_cosine`): the measurements that
  test Sparsey's claims (experiment ``sparsey-digits``).
- :func:`mnist_protocol` (with :func:`sparsey_mnist_inputs`, :func:`skeletonize`,
  :func:`split_per_class`): the MNIST protocol of the Sparsey papers, 200 training images per
  class learned in one trial each (experiment ``sparsey-mnist``).
- :func:`code_intersection`, :func:`codes_to_sparse`: work with codes stored as
  ``(n_items, Q)`` winner indices; :func:`level_encode`: a sparse binary code of grey levels.

``import neurosim.sparsey`` does not import numba: the kernels load when first used.
"""

from ._codes import code_intersection, codes_to_sparse, level_encode
from ._csa import (
    SPARSEY_ALT_CENTER,
    SPARSEY_ALT_SLOPE,
    CSAParams,
    CSAStep,
    choose_winners,
    cm_probabilities,
    csa_step,
    expansivity,
    global_familiarity,
    hebbian_update,
    input_sums,
    local_familiarity,
    normalize_sums,
    win_likelihood,
)
from ._evaluation import (
    binary_cosine,
    capacity_curve,
    morph,
    projection_baselines,
    sequence_recall,
    similarity_preservation,
)
from ._hierarchy import Level, tile_receptive_fields
from ._memory import SparseyMemory
from ._mnist import mnist_protocol, skeletonize, sparsey_mnist_inputs, split_per_class

__all__ = [
    "SPARSEY_ALT_CENTER", "SPARSEY_ALT_SLOPE", "CSAParams", "CSAStep", "Level", "SparseyMemory",
    "binary_cosine", "capacity_curve",
    "choose_winners", "cm_probabilities", "code_intersection", "codes_to_sparse", "csa_step",
    "expansivity", "global_familiarity", "hebbian_update", "input_sums", "level_encode",
    "local_familiarity", "mnist_protocol", "morph", "normalize_sums", "projection_baselines",
    "sequence_recall", "similarity_preservation", "skeletonize", "sparsey_mnist_inputs",
    "split_per_class", "tile_receptive_fields", "win_likelihood",
]
