"""Exact mathematics of sparse distributed representations and dendritic segments.

Ahmad & Hawkins (2016) ask how reliably a dendritic segment -- ``s`` synapses onto a population of
``n`` cells, firing an NMDA spike when at least ``theta`` of them are active -- recognises a sparse
pattern of ``a`` active cells. Every quantity is a hypergeometric count, computed here exactly in
log space (:func:`scipy.special.betaln` and a running log-sum-exp over the terms), so
``n = 100,000`` neither overflows nor needs sampling, and every function is vectorised: its
integer arguments broadcast against each other like numpy arrays.

Equation numbers (1)-(7) follow the order in which the arXiv preprint (arXiv:1601.00720) presents
the formulas; the numbering could not be checked against the PDF where this was written (the
project's reference notes give the formulas and values, not the numbers), so each docstring also
writes its equation out in full.

This module needs only numpy and scipy: no torch and no numba. The Monte-Carlo counterparts of
the formulas (numba) are :func:`neurosim.dendrites.simulate_false_match` and its siblings.

References
----------
.. [1] Ahmad, S. & Hawkins, J. (2016). How do neurons operate on sparse distributed
   representations? A mathematical theory of sparsity, neurons and active dendrites.
   arXiv:1601.00720.
.. [2] Ahmad, S. & Hawkins, J. (2015). Properties of sparse distributed representations and their
   application to hierarchical temporal memory. arXiv:1503.07469.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln

__all__ = [
    "false_match_probability",
    "false_negative_probability",
    "log_comb",
    "num_sdrs",
    "overlap_set_size",
    "threshold_error_summary",
    "union_false_match_probability",
]

_CHUNK_ELEMENTS = 1 << 20  # terms evaluated at once in a tail sum (memory bound)


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------
def _as_int_array(name, value, *, minimum=0):
    """``value`` as an int64 array; integral floats (``1e5``) are accepted, others raise."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer or an array of integers, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an integer or an array of integers, "
                        f"got {type(value).__name__}: {value!r}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers, got {value!r}")
        if np.any(np.abs(arr) > 2.0**62):
            raise ValueError(f"{name} is too large: {value!r}")
    arr = arr.astype(np.int64)
    if np.any(arr < minimum):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return arr


def _check_le(small_name, small, big_name, big):
    bad = small > big
    if np.any(bad):
        s, b = np.broadcast_arrays(small, big)
        i = np.flatnonzero(bad)[0]
        raise ValueError(f"{small_name} must be <= {big_name}, got {small_name}="
                         f"{s.flat[i]} > {big_name}={b.flat[i]}")


def _finish(log_p, log, shape):
    out = log_p.reshape(shape)
    if not log:
        out = np.exp(out)
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# log-space combinatorics
# --------------------------------------------------------------------------------------------
def log_comb(n, k):
    """Natural logarithm of the binomial coefficient :math:`\\binom{n}{k}`, vectorised.

    Computed as :math:`-\\log(n + 1) - \\log B(n - k + 1, k + 1)` with
    :func:`scipy.special.betaln`, which stays accurate (relative error below 1e-11) for
    ``n`` in the millions. ``k < 0`` or ``k > n`` gives ``-inf`` (an empty count).

    Parameters
    ----------
    n, k : int | array_like of int
        Broadcast against each other; ``n >= 0``.

    Returns
    -------
    out : float | ndarray
        :math:`\\log \\binom{n}{k}`.

    Examples
    --------
    >>> import math
    >>> from neurosim.dendrites.theory import log_comb
    >>> bool(abs(log_comb(64, 3) - math.log(41664)) < 1e-12)
    True
    >>> float(log_comb(5, 7))
    -inf
    """
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    n, k = np.broadcast_arrays(n, k)
    out = np.full(n.shape, -np.inf)
    ok = (k >= 0) & (k <= n)
    out[ok] = -np.log1p(n[ok]) - betaln(n[ok] - k[ok] + 1.0, k[ok] + 1.0)
    return out[()] if out.ndim == 0 else out


def _log_hypergeom_sum(pop, succ, draws, lo, hi):
    """log of sum_{b=lo}^{hi} C(succ, b) C(pop - succ, draws - b) / C(pop, draws), elementwise.

    All arguments are int64 arrays of one shape. Terms outside the support are empty (-inf);
    an empty range gives -inf. The sum runs over every term (no truncation), in chunks.
    """
    shape = pop.shape
    pop, succ, draws, lo, hi = (x.ravel() for x in (pop, succ, draws, lo, hi))
    lo = np.maximum(lo, np.maximum(0, draws - (pop - succ)))
    hi = np.minimum(hi, np.minimum(succ, draws))
    acc = np.full(pop.shape, -np.inf)
    todo = np.flatnonzero(hi >= lo)
    if todo.size:
        length = hi[todo] - lo[todo] + 1
        log_total = log_comb(pop[todo], draws[todo])
        chunk = max(1, _CHUNK_ELEMENTS // todo.size)
        sub = np.full(todo.size, -np.inf)
        for start in range(0, int(length.max()), chunk):
            j = np.arange(start, min(start + chunk, int(length.max())))
            b = lo[todo, None] + j[None, :]
            valid = j[None, :] < length[:, None]
            b = np.where(valid, b, lo[todo, None])
            terms = (log_comb(succ[todo, None], b)
                     + log_comb(pop[todo, None] - succ[todo, None], draws[todo, None] - b))
            terms = np.where(valid, terms, -np.inf)
            sub = np.logaddexp(sub, np.logaddexp.reduce(terms, axis=1))
        acc[todo] = np.minimum(sub - log_total, 0.0)  # a probability: clip rounding above 0
    return acc.reshape(shape)


# --------------------------------------------------------------------------------------------
# counts
# --------------------------------------------------------------------------------------------
def num_sdrs(n, a, *, log=False):
    """Number of distinct SDRs with ``a`` of ``n`` bits active, Eq. (1): :math:`\\binom{n}{a}`.

    Parameters
    ----------
    n : int | array_like of int
        Population size (cells), ``n >= 1``.
    a : int | array_like of int
        Active cells, ``0 <= a <= n``.
    log : bool
        Return the natural logarithm (never overflows). With ``log=False`` a count beyond the
        float range raises :class:`OverflowError`.

    Returns
    -------
    count : float | ndarray
        :math:`\\binom{n}{a}`, or its natural logarithm.

    Examples
    --------
    >>> from neurosim.dendrites.theory import num_sdrs
    >>> round(float(num_sdrs(64, 3)))
    41664
    >>> round(float(num_sdrs(2048, 40, log=True)) / 2.302585092994046, 3)  # log10: 2.37e84
    84.375
    """
    n = _as_int_array("n", n, minimum=1)
    a = _as_int_array("a", a)
    _check_le("a", a, "n", n)
    out = log_comb(n, a)
    return _counts(out, log)


def overlap_set_size(n, a, b, w=None, *, log=False):
    """Number of SDRs that overlap a fixed SDR in exactly ``b`` bits, Eq. (2).

    .. math:: |\\Omega_n(x, b)| = \\binom{|x|}{b} \\binom{n - |x|}{a - b}

    counts the vectors of size ``n`` with ``a`` active bits that share exactly ``b`` active bits
    with a fixed vector ``x`` of ``|x| = w`` active bits.

    Parameters
    ----------
    n : int | array_like of int
        Population size.
    a : int | array_like of int
        Active bits of the counted vectors, ``a <= n``.
    b : int | array_like of int
        Overlap, ``0 <= b``; impossible overlaps count 0.
    w : int | array_like of int | None
        Active bits of the fixed vector ``x`` (default ``a``), ``w <= n``.
    log : bool
        Return the natural logarithm (``-inf`` for a zero count).

    Returns
    -------
    count : float | ndarray
        :math:`|\\Omega_n(x, b)|`, or its natural logarithm.

    Examples
    --------
    >>> from neurosim.dendrites.theory import overlap_set_size
    >>> overlap_set_size(10, 3, [0, 1, 2, 3])  # C(3,b) C(7,3-b): sums to C(10,3) = 120
    array([35., 63., 21.,  1.])
    """
    n = _as_int_array("n", n, minimum=1)
    a = _as_int_array("a", a)
    b = _as_int_array("b", b)
    w = a if w is None else _as_int_array("w", w)
    _check_le("a", a, "n", n)
    _check_le("w", w, "n", n)
    out = log_comb(w, b) + log_comb(n - w, a - b)
    return _counts(out, log)


def _counts(log_count, log):
    if log:
        return log_count
    with np.errstate(over="ignore"):
        out = np.exp(log_count)
    if np.any(np.isinf(out)):
        raise OverflowError("the count exceeds the float range; pass log=True for its logarithm")
    return out


# --------------------------------------------------------------------------------------------
# probabilities
# --------------------------------------------------------------------------------------------
def false_match_probability(n, a, s, theta, *, log=False):
    """Probability that a random SDR falsely activates a dendritic segment, Eq. (4).

    A segment has ``s`` synapses onto distinct cells of a population of ``n``; it fires (an NMDA
    spike) when at least ``theta`` of them are active. Against a random pattern of ``a`` active
    cells, drawn uniformly from all :math:`\\binom{n}{a}`,

    .. math::

        P(\\text{false match}) = \\frac{\\sum_{b=\\theta}^{s} \\binom{s}{b}
        \\binom{n - s}{a - b}}{\\binom{n}{a}},

    the upper tail of a hypergeometric distribution. With ``s = w`` (a segment onto every bit of
    a stored pattern of ``w`` bits) it is the inexact-match error of Eq. (3) and of [2]_.

    Parameters
    ----------
    n : int | array_like of int
        Population size, ``n >= 1``.
    a : int | array_like of int
        Active cells in the random pattern, ``a <= n``.
    s : int | array_like of int
        Synapses on the segment, ``1 <= s <= n``.
    theta : int | array_like of int
        NMDA-spike threshold, ``1 <= theta <= s``.
    log : bool
        Return the natural logarithm of the probability (for values below 1e-308).

    Returns
    -------
    p : float | ndarray
        The probability (or its log), broadcast over the arguments.

    See Also
    --------
    neurosim.dendrites.simulate_false_match : The Monte-Carlo estimate.

    References
    ----------
    .. [2] Ahmad, S. & Hawkins, J. (2015). arXiv:1503.07469.

    Examples
    --------
    Table 1B of the paper (``theta = s``, ``n = 100,000``, ``a = 2,000``):

    >>> from neurosim.dendrites.theory import false_match_probability
    >>> false_match_probability(100_000, 2_000, [6, 8, 10], [6, 8, 10])
    array([6.35308873e-11, 2.52507239e-14, 1.00163216e-17])
    >>> float(false_match_probability(10_000, 300, 24, 12))
    8.37584522...e-13
    """
    n, a, s, theta = _check_segment(n, a, s, theta)
    return _finish(_log_hypergeom_sum(n, s, a, theta, s), log, n.shape)


def _check_segment(n, a, s, theta):
    n = _as_int_array("n", n, minimum=1)
    a = _as_int_array("a", a)
    s = _as_int_array("s", s, minimum=1)
    theta = _as_int_array("theta", theta, minimum=1)
    _check_le("a", a, "n", n)
    _check_le("s", s, "n", n)
    _check_le("theta", theta, "s", s)
    return np.broadcast_arrays(n, a, s, theta)


def union_false_match_probability(n, a, theta, m, s=None, *, method="exact", rounding="nearest",
                                  log=False):
    """False-match probability of a segment that stores the union of ``m`` patterns, Eqs. (5)-(6).

    The segment forms ``s`` synapses onto the active cells of each of ``m`` stored patterns
    (``s = a``, the default, connects to every active cell), so it holds the union of ``m``
    random ``s``-subsets of the ``n`` cells. It still fires at ``theta`` active synapses.

    ``method="expected"`` is the paper's formula: a cell carries a synapse with probability
    :math:`1 - p`, :math:`p = (1 - s/n)^m` (Eq. 5, with ``s = a``: :math:`(1 - a/n)^m`), and the
    segment is treated as having :math:`s_u = [(1 - p)\\, n]` synapses in Eq. (4):

    .. math:: P \\approx \\sum_{b=\\theta}^{s_u} \\frac{\\binom{s_u}{b}\\binom{n - s_u}{a - b}}
              {\\binom{n}{a}}.

    The expected union size :math:`(1 - p)\\, n` is not an integer; ``rounding`` says how it
    becomes one. ``"nearest"`` (the default) follows the reference script that computed the
    paper's union curves (htmresearch ``projects/sdr_paper/sdr_paper_unions.py``,
    ``round(numSynapsesAfterUnion)``; halves round up). ``"floor"`` rounds down, as the summation
    limit :math:`\\min(\\lfloor (1 - p) n \\rfloor, a)` of nupic.research's notebook
    (``projects/sdr_math/sdr_math_neuron_paper.ipynb``), which however keeps the non-integer size
    inside its binomials; the two roundings differ by up to 30 % when few patterns are stored
    (``n = 10,000``, ``a = 200``, ``theta = 15``, ``s = 25``, ``m = 2``: 2.356e-14 against
    1.68e-14).

    ``method="exact"`` (not in the paper) averages Eq. (4) over the exact distribution of the
    union size :math:`U`: :math:`U_1 = s` and :math:`U_{k+1} = U_k + J`, where the number of new
    cells :math:`J` is hypergeometric, :math:`P(J = j) = \\binom{n - U_k}{j}\\binom{U_k}{s - j} /
    \\binom{n}{s}`; then :math:`P = \\sum_u P(U_m = u)\\, P_{(4)}(n, a, u, \\theta)`. It is what
    the Monte-Carlo simulation estimates. Its cost grows as :math:`m\\, s \\min(n, m s)` per
    parameter set (a fraction of a second for the paper's examples); prefer ``"expected"`` for
    hundreds of synapses per pattern.

    Parameters
    ----------
    n, a, theta : int | array_like of int
        Population size, active cells of the random pattern, threshold (``1 <= theta``).
    m : int | array_like of int
        Number of patterns stored on the segment, ``m >= 1``.
    s : int | array_like of int | None
        Synapses per stored pattern (default ``a``), ``theta <= s <= n``.
    method : {"exact", "expected"}
        See above.
    rounding : {"nearest", "floor"}
        For ``method="expected"``: how the expected union size is rounded to a number of
        synapses, to nearest (the reference script, the default) or down (the notebook's
        summation limit). Ignored by ``method="exact"``.
    log : bool
        Return the natural logarithm.

    Returns
    -------
    p : float | ndarray
        The probability (or its log), broadcast over the arguments.

    Examples
    --------
    The notebook's example (``n = 4,000``, ``a = 40``, ``theta = 15``, full patterns):

    >>> from neurosim.dendrites.theory import union_false_match_probability
    >>> union_false_match_probability(4000, 40, 15, [1, 23], method="expected")
    array([1.74503222e-21, 1.03162820e-02])

    The reference script's curve (``n = 10,000``, ``a = 200``, ``theta = 15``, ``s = 25``)
    against the rounded-down variant:

    >>> for rounding in ("nearest", "floor"):
    ...     p = union_false_match_probability(10_000, 200, 15, 2, 25, method="expected",
    ...                                       rounding=rounding)
    ...     print(f"{rounding}: {p:.4e}")
    nearest: 2.3560e-14
    floor: 1.6784e-14
    """
    if method not in ("exact", "expected"):
        raise ValueError(f"method must be 'exact' or 'expected', got {method!r}")
    if rounding not in ("nearest", "floor"):
        raise ValueError(f"rounding must be 'nearest' or 'floor', got {rounding!r}")
    n = _as_int_array("n", n, minimum=1)
    a = _as_int_array("a", a)
    theta = _as_int_array("theta", theta, minimum=1)
    m = _as_int_array("m", m, minimum=1)
    s = a if s is None else _as_int_array("s", s, minimum=1)
    _check_le("a", a, "n", n)
    _check_le("s", s, "n", n)
    _check_le("theta", theta, "s", s)
    n, a, theta, m, s = np.broadcast_arrays(n, a, theta, m, s)
    if method == "expected":
        frac = -np.expm1(m * np.log1p(-s / n))  # 1 - (1 - s/n)^m, accurately
        # 1e-9 absorbs the round-off of an exact integer or half-integer size
        s_u = np.floor(frac * n + (0.5 if rounding == "nearest" else 0.0) + 1e-9)
        s_u = s_u.astype(np.int64)
        s_u = np.clip(s_u, s, n)
        return _finish(_log_hypergeom_sum(n, s_u, a, theta, s_u), log, n.shape)
    out = np.empty(n.shape)
    for idx in np.ndindex(n.shape):
        out[idx] = _union_exact_scalar(int(n[idx]), int(a[idx]), int(theta[idx]), int(m[idx]),
                                       int(s[idx]))
    return _finish(out, log, n.shape)


def _union_exact_scalar(n, a, theta, m, s):
    """log P for one parameter set: Eq. (4) averaged over the exact union-size distribution."""
    u_max = min(n, m * s)
    sizes = np.arange(u_max + 1)
    logd = np.full(u_max + 1, -np.inf)
    logd[s] = 0.0
    log_ns = log_comb(n, s)
    for _ in range(m - 1):
        new = np.full(u_max + 1, -np.inf)
        live = np.flatnonzero(np.isfinite(logd))
        for j in range(0, s + 1):  # j new cells among the s drawn
            dest = live + j
            ok = dest <= u_max
            if not np.any(ok):
                continue
            u = live[ok]
            t = logd[u] + log_comb(n - u, j) + log_comb(u, s - j) - log_ns
            new[dest[ok]] = np.logaddexp(new[dest[ok]], t)
        logd = new
    live = np.flatnonzero(logd > -np.inf)
    k = live.size
    fm = _log_hypergeom_sum(np.full(k, n), sizes[live], np.full(k, a), np.full(k, theta),
                            sizes[live])
    return min(float(np.logaddexp.reduce(logd[live] + fm)), 0.0)


def false_negative_probability(a, s, theta, v, *, log=False):
    """Probability that noise makes a segment miss its own pattern, Eq. (7).

    The segment has ``s`` synapses onto cells of a stored pattern of ``a`` active cells. Noise
    moves ``v`` of the ``a`` active cells elsewhere (they are replaced by cells the segment has
    no synapse on). The segment then misses the pattern when fewer than ``theta`` of its cells
    remain, i.e. when more than :math:`s - \\theta` of them are among the ``v`` moved ones:

    .. math:: P(\\text{false negative}) = \\frac{\\sum_{b=s-\\theta+1}^{s} \\binom{s}{b}
              \\binom{a - s}{v - b}}{\\binom{a}{v}}.

    The population size does not enter.

    Parameters
    ----------
    a : int | array_like of int
        Active cells of the pattern, ``a >= 1``.
    s : int | array_like of int
        Synapses on the segment, ``1 <= s <= a``.
    theta : int | array_like of int
        Threshold, ``1 <= theta <= s``.
    v : int | array_like of int
        Active cells changed by noise, ``0 <= v <= a`` (noise fraction ``v / a``).
    log : bool
        Return the natural logarithm.

    Returns
    -------
    p : float | ndarray
        The probability (or its log).

    Examples
    --------
    ``a = 128``, ``s = 30``: 50 % noise (``v = 64``) for three thresholds.

    >>> from neurosim.dendrites.theory import false_negative_probability
    >>> false_negative_probability(128, 30, [8, 12, 16], 64).round(6)
    array([0.000735, 0.071699, 0.582502])
    """
    a = _as_int_array("a", a, minimum=1)
    s = _as_int_array("s", s, minimum=1)
    theta = _as_int_array("theta", theta, minimum=1)
    v = _as_int_array("v", v)
    _check_le("s", s, "a", a)
    _check_le("theta", theta, "s", s)
    _check_le("v", v, "a", a)
    a, s, theta, v = np.broadcast_arrays(a, s, theta, v)
    return _finish(_log_hypergeom_sum(a, s, v, s - theta + 1, s), log, a.shape)


def threshold_error_summary(theta, n=(1000, 5000, 9000, 13000, 17000),
                            sparsity=(0.005, 0.01, 0.015, 0.02, 0.025, 0.03),
                            s=(20, 25, 30, 35, 40, 45, 50), *, statistic="median"):
    """False-match error of each threshold, summarised over a range of ``n``, sparsity and ``s``.

    The paper's NMDA-threshold prediction: for each ``theta``, Eq. (4) is evaluated on every
    combination of population size ``n``, sparsity (``a = round(sparsity * n)``, halves rounded
    up) and synapse count ``s``, and summarised by ``statistic``. The defaults are the grid of the
    paper's ``compute_optimal_threshold.py``; the median error falls steeply up to ``theta``
    about 8 and slowly after, which the paper compares with measured NMDA thresholds.

    Parameters
    ----------
    theta : int | array_like of int
        Thresholds, each ``1 <= theta <= min(s)``.
    n : array_like of int
        Population sizes.
    sparsity : array_like of float
        Fractions of active cells, in (0, 1].
    s : array_like of int
        Synapses per segment.
    statistic : {"median", "mean", "max", "min"}
        How the grid is summarised.

    Returns
    -------
    error : ndarray
        One value per ``theta``.

    Examples
    --------
    >>> from neurosim.dendrites.theory import threshold_error_summary
    >>> threshold_error_summary([3, 8])
    array([1.73255328e-02, 3.33350096e-08])
    """
    funcs = {"median": np.median, "mean": np.mean, "max": np.max, "min": np.min}
    if statistic not in funcs:
        raise ValueError(f"statistic must be one of {sorted(funcs)}, got {statistic!r}")
    theta = np.atleast_1d(_as_int_array("theta", theta, minimum=1))
    n = np.atleast_1d(_as_int_array("n", n, minimum=1))
    s = np.atleast_1d(_as_int_array("s", s, minimum=1))
    sparsity = np.atleast_1d(np.asarray(sparsity, dtype=np.float64))
    if sparsity.ndim != 1 or np.any(~(sparsity > 0) | (sparsity > 1)):
        raise ValueError(f"sparsity must be fractions in (0, 1], got {sparsity!r}")
    if theta.ndim != 1 or n.ndim != 1 or s.ndim != 1:
        raise ValueError("theta, n and s must be scalars or 1-d arrays")
    _check_le("theta", theta.max(), "min(s)", s.min())
    a = np.floor(sparsity[None, :] * n[:, None] + 0.5).astype(np.int64)  # (n, sparsity)
    grid_n = np.broadcast_to(n[:, None, None], (n.size, sparsity.size, s.size))
    grid_a = np.broadcast_to(a[:, :, None], grid_n.shape)
    grid_s = np.broadcast_to(s[None, None, :], grid_n.shape)
    p = false_match_probability(grid_n[None], grid_a[None], grid_s[None],
                                theta[:, None, None, None])
    return funcs[statistic](p.reshape(theta.size, -1), axis=1)
