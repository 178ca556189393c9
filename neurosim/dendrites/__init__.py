"""Active dendrites: SDR theory, dendritic neurons and the active-dendrites network.

Theory (Ahmad & Hawkins 2016)
    Exact, vectorised formulas in :mod:`neurosim.dendrites.theory` (numpy and scipy only):
    :func:`false_match_probability`, :func:`overlap_set_size`, :func:`num_sdrs`,
    :func:`union_false_match_probability`, :func:`false_negative_probability`,
    :func:`threshold_error_summary`; and their Monte-Carlo counterparts (numba),
    :func:`simulate_false_match`, :func:`simulate_union_false_match`,
    :func:`simulate_false_negative`.

Dendritic neurons (numpy)
    :class:`DendriticNeuron` (segments of sparse synapses with an NMDA threshold, learns a context
    by growing a segment) and :class:`DendriticLayer` (context-predicted neurons win a k-winners-
    take-all competition on feed-forward input).

Active-dendrites network (Iyer et al. 2022; PyTorch)
    :class:`ActiveDendritesClassifier`: feed-forward layers gated by dendritic segments driven by
    a task context (absolute-max gating, k-WTA), with prototype contexts, trained task by task
    with ``partial_fit``; :class:`ContextMLPClassifier` is the plain MLP baseline (optionally
    given the context as input).

numba and torch are imported only when a Monte-Carlo function or a network class is first used:
``import neurosim.dendrites.theory`` imports neither.
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["theory"],
    submod_attrs={
        "theory": ["false_match_probability", "false_negative_probability", "log_comb", "num_sdrs",
                   "overlap_set_size", "threshold_error_summary",
                   "union_false_match_probability"],
        "_montecarlo": ["MonteCarloResult", "simulate_false_match", "simulate_false_negative",
                        "simulate_union_false_match"],
        "_neuron": ["DendriticLayer", "DendriticNeuron"],
        "_network": ["ActiveDendritesClassifier", "ContextMLPClassifier"],
    },
)
