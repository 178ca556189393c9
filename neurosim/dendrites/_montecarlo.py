"""Monte-Carlo simulators (numba) of the dendritic-segment formulas in :mod:`.theory`.

Each simulator draws random segments and random patterns exactly as the corresponding formula
assumes, counts how often the event happens and returns the estimate with its binomial standard
error. The kernels sample subsets by a partial Fisher-Yates shuffle (``O(k)`` per ``k``-subset),
so a trial costs ``O(a + s)`` whatever ``n`` is. numba is imported with this module, which
``neurosim.dendrites`` loads only when one of these functions is first used.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurosim._docs import fill_doc
from neurosim._numba import njit

from .._utils import check_random_state, check_size
from .theory import _as_int_array, _check_le

__all__ = ["MonteCarloResult", "simulate_false_match", "simulate_false_negative",
           "simulate_union_false_match"]


class MonteCarloResult(NamedTuple):
    """The estimate of a probability from ``n_trials`` independent trials.

    Parameters
    ----------
    probability : float
        ``n_events / n_trials``.
    standard_error : float
        Binomial standard error of the estimate, ``sqrt(p (1 - p) / n_trials)``.
    n_events : int
        Trials in which the event (false match, false negative) happened.
    n_trials : int
        Trials simulated.
    """

    probability: float
    standard_error: float
    n_events: int
    n_trials: int


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _draw(rng, perm, k):
    """Move a uniformly random ``k``-subset of ``perm`` to ``perm[:k]`` (partial Fisher-Yates)."""
    m = perm.size
    for i in range(k):
        j = rng.integers(i, m)
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp


@njit(cache=True)
def _false_match_kernel(n, a, s, theta, m, n_trials, rng):
    """Trials in which a random ``a``-pattern hits >= theta synapses of a random segment.

    The segment is the union of ``m`` random ``s``-subsets of the ``n`` cells (``m = 1``: one
    subset of ``s`` synapses).
    """
    perm = np.arange(n)
    on_segment = np.zeros(n, dtype=np.bool_)
    synapses = np.empty(m * s, dtype=np.int64)
    hits = 0
    for _ in range(n_trials):
        for p in range(m):
            _draw(rng, perm, s)
            for i in range(s):
                synapses[p * s + i] = perm[i]
                on_segment[perm[i]] = True
        _draw(rng, perm, a)
        overlap = 0
        for i in range(a):
            if on_segment[perm[i]]:
                overlap += 1
        if overlap >= theta:
            hits += 1
        for i in range(m * s):
            on_segment[synapses[i]] = False
    return hits


@njit(cache=True)
def _false_negative_kernel(a, s, theta, v, n_trials, rng):
    """Trials in which moving ``v`` of ``a`` pattern cells leaves < theta of ``s`` synapses on."""
    perm = np.arange(a)
    on_segment = np.zeros(a, dtype=np.bool_)
    synapses = np.empty(s, dtype=np.int64)
    misses = 0
    for _ in range(n_trials):
        _draw(rng, perm, s)
        for i in range(s):
            synapses[i] = perm[i]
            on_segment[perm[i]] = True
        _draw(rng, perm, v)
        lost = 0
        for i in range(v):
            if on_segment[perm[i]]:
                lost += 1
        if s - lost < theta:
            misses += 1
        for i in range(s):
            on_segment[synapses[i]] = False
    return misses


# --------------------------------------------------------------------------------------------
# public wrappers
# --------------------------------------------------------------------------------------------
def _scalar(name, value, minimum):
    arr = _as_int_array(name, value, minimum=minimum)
    if arr.ndim:
        raise ValueError(f"{name} must be a single integer here, got an array of shape {arr.shape}")
    return int(arr)


def _result(events, n_trials):
    p = events / n_trials
    return MonteCarloResult(float(p), float(np.sqrt(p * (1.0 - p) / n_trials)), int(events),
                            int(n_trials))


@fill_doc
def simulate_false_match(n, a, s, theta, *, n_trials=100_000, random_state=None):
    """Monte-Carlo estimate of :func:`~neurosim.dendrites.theory.false_match_probability`.

    Each trial draws a segment (``s`` distinct cells out of ``n``) and an independent random
    pattern (``a`` distinct active cells) and counts a false match when at least ``theta`` of the
    segment's cells are active.

    Parameters
    ----------
    n, a, s, theta : int
        Population size, active cells, synapses, threshold (``theta <= s <= n``, ``a <= n``).
    n_trials : int
        Independent trials.
    %(random_state)s

    Returns
    -------
    result : MonteCarloResult
        Estimate, standard error and counts.

    Examples
    --------
    >>> from neurosim.dendrites import false_match_probability, simulate_false_match
    >>> mc = simulate_false_match(200, 20, 10, 3, n_trials=20_000, random_state=0)
    >>> p = false_match_probability(200, 20, 10, 3)
    >>> bool(abs(mc.probability - p) < 4 * mc.standard_error)
    True
    """
    return simulate_union_false_match(n, a, theta, 1, s, n_trials=n_trials,
                                      random_state=random_state)


@fill_doc
def simulate_union_false_match(n, a, theta, m, s=None, *, n_trials=100_000, random_state=None):
    """Monte-Carlo estimate of :func:`~neurosim.dendrites.theory.union_false_match_probability`.

    Each trial builds a segment from the synapses of ``m`` stored patterns (``s`` random cells
    each, so the segment holds their union) and tests it against an independent random pattern
    of ``a`` active cells at threshold ``theta``. The estimate converges to the ``"exact"``
    method of the formula.

    Parameters
    ----------
    n, a, theta : int
        Population size, active cells, threshold.
    m : int
        Patterns stored on the segment.
    s : int | None
        Synapses per stored pattern (default ``a``).
    n_trials : int
        Independent trials.
    %(random_state)s

    Returns
    -------
    result : MonteCarloResult
        Estimate, standard error and counts.

    Examples
    --------
    >>> from neurosim.dendrites import simulate_union_false_match
    >>> simulate_union_false_match(500, 20, 4, 5, 8, n_trials=1000, random_state=0).n_trials
    1000
    """
    n = _scalar("n", n, 1)
    a = _scalar("a", a, 0)
    theta = _scalar("theta", theta, 1)
    m = _scalar("m", m, 1)
    s = a if s is None else _scalar("s", s, 1)
    _check_le("a", a, "n", n)
    _check_le("s", s, "n", n)
    _check_le("theta", theta, "s", s)
    n_trials = check_size("n_trials", n_trials)
    hits = _false_match_kernel(n, a, s, theta, m, n_trials, check_random_state(random_state))
    return _result(hits, n_trials)


@fill_doc
def simulate_false_negative(a, s, theta, v, *, n_trials=100_000, random_state=None):
    """Monte-Carlo estimate of :func:`~neurosim.dendrites.theory.false_negative_probability`.

    Each trial places ``s`` synapses on random cells of a pattern of ``a`` active cells, moves
    ``v`` random cells of the pattern elsewhere, and counts a false negative when fewer than
    ``theta`` synapses still see an active cell.

    Parameters
    ----------
    a, s, theta, v : int
        Active cells, synapses, threshold, cells changed by noise (``theta <= s <= a``,
        ``v <= a``).
    n_trials : int
        Independent trials.
    %(random_state)s

    Returns
    -------
    result : MonteCarloResult
        Estimate, standard error and counts.

    Examples
    --------
    >>> from neurosim.dendrites import simulate_false_negative
    >>> simulate_false_negative(40, 10, 10, 0, n_trials=100, random_state=0).probability
    0.0
    """
    a = _scalar("a", a, 1)
    s = _scalar("s", s, 1)
    theta = _scalar("theta", theta, 1)
    v = _scalar("v", v, 0)
    _check_le("s", s, "a", a)
    _check_le("theta", theta, "s", s)
    _check_le("v", v, "a", a)
    n_trials = check_size("n_trials", n_trials)
    misses = _false_negative_kernel(a, s, theta, v, n_trials, check_random_state(random_state))
    return _result(misses, n_trials)
