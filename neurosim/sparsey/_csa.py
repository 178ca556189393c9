"""The Code Selection Algorithm (CSA) of Sparsey, one step per function, in plain numpy.

These functions are the readable reference: :class:`~neurosim.sparsey.SparseyMemory` runs the
same steps in numba kernels (``_kernels.py``), and the tests check that both choose the same
codes from the same random numbers.

A mac (macrocolumn) has ``Q`` competitive modules (CMs) of ``K`` binary cells each; its ``Q * K``
cells are numbered CM by CM (cell ``k`` of CM ``q`` is ``q * K + k``). A code is one winning
cell per CM, stored as ``Q`` integers in ``[0, K)``. Weights are binary (``w_max = 1``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np

from neurosim._docs import fill_doc

from .._utils import check_random_state, check_size

__all__ = [
    "SPARSEY_ALT_CENTER", "SPARSEY_ALT_SLOPE", "CSAParams", "CSAStep", "choose_winners",
    "cm_probabilities", "csa_step", "expansivity",
    "global_familiarity", "hebbian_update", "input_sums", "local_familiarity",
    "normalize_sums", "win_likelihood",
]


#: Slope of Sparsey_Alt's V-to-mu sigmoid, :math:`\mu = (\eta - 1) / (1 + (0.1 e^{-4 (V - 1)})^8)
#: + 1`: since :math:`(0.1 e^{-4 (V - 1)})^8 = e^{-32 (V - (1 - \ln 10 / 4))}`, it is
#: :math:`1 + (\eta - 1)\, \sigma(32 (V - 0.4244))` exactly.
SPARSEY_ALT_SLOPE = 32.0
#: Centre of Sparsey_Alt's V-to-mu sigmoid, :math:`1 - \ln 10 / 4 \approx 0.4244` (a raw U match
#: of :math:`0.4244^{1/10} \approx 0.918` with its exponent 10).
SPARSEY_ALT_CENTER = 1.0 - math.log(10.0) / 4.0


@dataclass(frozen=True)
class CSAParams:
    """Parameters of the Code Selection Algorithm.

    Parameters
    ----------
    g_min : float
        :math:`G^-` in ``[0, 1)``: at or below this global familiarity the choice is uniform.
    gamma : float
        Exponent :math:`\\gamma > 0` of the expansivity.
    chi : float
        Gain :math:`\\chi \\geq 0` of the expansivity: at ``G = 1``, ``eta = 1 + chi * K``.
    sigmoid_slope : float
        Slope :math:`\\lambda > 0` of the V-to-mu sigmoid.
    sigmoid_center : float
        Inflection point :math:`V_c` in ``[0, 1]`` of the V-to-mu sigmoid.
    exponent_u, exponent_h, exponent_d : float
        Exponents :math:`\\lambda_U, \\lambda_H, \\lambda_D > 0` of the normalised U, H and D
        matches in the local familiarity ``V``.

    Notes
    -----
    The sigmoid and the U exponent follow **Sparsey_Alt** (the independent Python port read
    through dcc-sparsey's ``doc/AlgorithmTriangulation.md``): :math:`V = U^{10}` and
    :math:`\\mu = (\\eta - 1) / (1 + (0.1 e^{-4 (V - 1)})^8) + 1`, which is exactly
    :math:`1 + (\\eta - 1)\\,\\sigma(32 (V - V_c))` with :math:`V_c = 1 - \\ln 10 / 4 \\approx 0.4244`
    (``SPARSEY_ALT_SLOPE``, ``SPARSEY_ALT_CENTER``): half the maximal gain at a raw U
    match of about 0.918. Sparsey_Alt has no H or D signal; their exponents default to 1.
    SparseyCore (Rinkus's Java code) uses :math:`\\mu = \\max(\\eta\\, \\sigma(4 (V - V_c)), 1)` with
    :math:`V_c` ratcheting from 0.5 to 0.9, a different form that this class does not express.
    The expansivity's defaults (``g_min``, ``gamma``, ``chi``) are dcc-sparsey's, on which
    SparseyCore and Sparsey_Alt agree. (Before this choice the defaults were a slope of 20 and
    a centre of 0.75 on :math:`V = U`, neither source's.)

    Examples
    --------
    >>> from neurosim.sparsey import CSAParams
    >>> CSAParams(g_min=0.2).g_min
    0.2
    """

    g_min: float = 0.1
    gamma: float = 2.0
    chi: float = 100.0
    sigmoid_slope: float = SPARSEY_ALT_SLOPE
    sigmoid_center: float = SPARSEY_ALT_CENTER
    exponent_u: float = 10.0
    exponent_h: float = 1.0
    exponent_d: float = 1.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{f.name} must be a real number, got "
                                f"{type(value).__name__}: {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value!r}")
            object.__setattr__(self, f.name, float(value))
        if not 0.0 <= self.g_min < 1.0:
            raise ValueError(f"g_min must be in [0, 1), got {self.g_min!r}")
        if not 0.0 <= self.sigmoid_center <= 1.0:
            raise ValueError(f"sigmoid_center must be in [0, 1], got {self.sigmoid_center!r}")
        if self.chi < 0:
            raise ValueError(f"chi must be >= 0, got {self.chi!r}")
        for name in ("gamma", "sigmoid_slope", "exponent_u", "exponent_h", "exponent_d"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    def as_array(self):
        """The parameters as a float64 array, in field order (the kernels' layout)."""
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


class CSAStep(NamedTuple):
    """Every intermediate quantity of one CSA step (see :func:`csa_step`)."""

    u: np.ndarray
    """Raw bottom-up sums, shape ``(Q * K,)``."""
    U: np.ndarray
    """Normalised bottom-up match in ``[0, 1]``."""
    H: np.ndarray | None
    """Normalised horizontal (previous-code) match, or None when absent."""
    D: np.ndarray | None
    """Normalised top-down match, or None when absent."""
    V: np.ndarray
    """Local familiarity, shape ``(Q * K,)``."""
    G: float
    """Global familiarity."""
    eta: float
    """Expansivity."""
    mu: np.ndarray
    """Relative win likelihoods, shape ``(Q * K,)``."""
    rho: np.ndarray
    """Win probabilities, normalised within each CM, shape ``(Q, K)``."""
    code: np.ndarray
    """The chosen code: one winner per CM, shape ``(Q,)``, values in ``[0, K)``."""


def _check_qk(Q, K):
    return check_size("Q", Q), check_size("K", K)


def input_sums(active, weights):
    """Summed input to every cell from the active afferents: :math:`u(i) = \\sum_j w(j, i)`.

    Parameters
    ----------
    active : array of int
        Indices of the active afferent units (rows of ``weights``).
    weights : array, shape (n_afferents, Q * K)
        Binary weights.

    Returns
    -------
    u : ndarray of int64, shape (Q * K,)

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import input_sums
    >>> w = np.array([[1, 0, 1], [1, 1, 0]], dtype=np.uint8)
    >>> input_sums([0, 1], w)
    array([2, 1, 1])
    """
    weights = np.asarray(weights)
    return weights[np.asarray(active, dtype=np.intp)].sum(axis=0, dtype=np.int64)


def normalize_sums(sums, n_active, *, w_max=1, fan_in=None):
    """Normalise input sums to a match in ``[0, 1]``: :math:`X(i) = \\min(1, x(i) / (n w_{max}))`.

    With ``fan_in`` (the number of afferents each cell is connected to) the match is the cosine
    :math:`x(i) / \\sqrt{n \\max(1, f(i))}` instead (``match="cosine"`` of
    :class:`SparseyMemory`), which no longer favours cells that learned many inputs.

    Parameters
    ----------
    sums : array
        Raw sums (:func:`input_sums`).
    n_active : int
        Number of active afferents (> 0).
    w_max : float
        Largest weight (1 for binary weights).
    fan_in : array of int | None
        Connected afferents of each cell, for the cosine match (binary weights only).

    Returns
    -------
    X : ndarray of float64

    Examples
    --------
    >>> from neurosim.sparsey import normalize_sums
    >>> normalize_sums([2, 1, 0], 2)
    array([1. , 0.5, 0. ])
    """
    n_active = check_size("n_active", n_active)
    sums = np.asarray(sums, dtype=np.float64)
    if fan_in is not None:
        fan = np.maximum(np.asarray(fan_in, dtype=np.int64), 1)
        return np.clip(sums / np.sqrt(n_active * fan), 0.0, 1.0)
    return np.clip(sums / (n_active * float(w_max)), 0.0, 1.0)


def local_familiarity(U=None, H=None, D=None, *, params=None):
    """Local familiarity :math:`V(i) = U(i)^{\\lambda_U} H(i)^{\\lambda_H} D(i)^{\\lambda_D}`.

    Only the signals that are present (not None) enter the product.

    Parameters
    ----------
    U, H, D : array | None
        Normalised matches (:func:`normalize_sums`); at least one must be given.
    params : CSAParams | None
        The exponents; None uses the defaults (all 1).

    Returns
    -------
    V : ndarray of float64

    Examples
    --------
    >>> from neurosim.sparsey import local_familiarity
    >>> local_familiarity([1.0, 0.5], [0.5, 1.0])  # default exponents: U^10 H
    array([0.5       , 0.00097656])
    >>> from neurosim.sparsey import CSAParams
    >>> local_familiarity([1.0, 0.5], [0.5, 1.0], params=CSAParams(exponent_u=1.0))
    array([0.5, 0.5])
    """
    params = CSAParams() if params is None else params
    V = None
    for X, e in ((U, params.exponent_u), (H, params.exponent_h), (D, params.exponent_d)):
        if X is None:
            continue
        term = np.asarray(X, dtype=np.float64) ** e
        V = term if V is None else V * term
    if V is None:
        raise ValueError("local_familiarity needs at least one of U, H, D")
    return V


def global_familiarity(V, Q, K):
    """Global familiarity :math:`G = \\frac{1}{Q} \\sum_q \\max_{i \\in CM_q} V(i)`.

    Parameters
    ----------
    V : array, shape (Q * K,)
        Local familiarity.
    Q, K : int
        CMs per mac and cells per CM.

    Returns
    -------
    G : float

    Examples
    --------
    >>> from neurosim.sparsey import global_familiarity
    >>> global_familiarity([1.0, 0.0, 0.2, 0.4], Q=2, K=2)
    0.7
    """
    Q, K = _check_qk(Q, K)
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (Q * K,):
        raise ValueError(f"V must have shape ({Q * K},) for Q={Q}, K={K}, got {V.shape}")
    return float(V.reshape(Q, K).max(axis=1).sum() / Q)


def expansivity(G, K, params=None):
    """Expansivity :math:`\\eta = 1 + [\\max(0, (G - G^-) / (1 - G^-))]^\\gamma \\chi K`.

    ``eta`` is 1 (uniform choice) at or below ``g_min`` and ``1 + chi * K`` at ``G = 1``.

    Parameters
    ----------
    G : float
        Global familiarity.
    K : int
        Cells per CM.
    params : CSAParams | None
        ``g_min``, ``gamma``, ``chi``; None uses the defaults.

    Returns
    -------
    eta : float

    Examples
    --------
    >>> from neurosim.sparsey import expansivity
    >>> expansivity(1.0, K=8)
    801.0
    """
    params = CSAParams() if params is None else params
    K = check_size("K", K)
    g = max(0.0, (float(G) - params.g_min) / (1.0 - params.g_min))
    return 1.0 + g ** params.gamma * params.chi * K


def win_likelihood(V, eta, params=None):
    """G-dependent V-to-mu transform :math:`\\mu(i) = 1 + (\\eta - 1)\\,\\sigma(\\lambda (V(i) - V_c))`.

    :math:`\\sigma` is the logistic function. With ``eta = 1`` every cell is equally likely; the
    larger ``eta``, the more the choice favours the cells of highest ``V``.

    Parameters
    ----------
    V : array
        Local familiarity.
    eta : float
        Expansivity (:func:`expansivity`).
    params : CSAParams | None
        ``sigmoid_slope`` and ``sigmoid_center``; None uses the defaults.

    Returns
    -------
    mu : ndarray of float64

    Examples
    --------
    >>> from neurosim.sparsey import win_likelihood
    >>> win_likelihood([0.0, 1.0], eta=1.0)
    array([1., 1.])
    """
    params = CSAParams() if params is None else params
    V = np.asarray(V, dtype=np.float64)
    s = 1.0 / (1.0 + np.exp(-params.sigmoid_slope * (V - params.sigmoid_center)))
    return 1.0 + (float(eta) - 1.0) * s


def cm_probabilities(mu, Q, K):
    """Normalise within each CM: :math:`\\rho(i) = \\mu(i) / \\sum_{k \\in CM(i)} \\mu(k)`.

    Parameters
    ----------
    mu : array, shape (Q * K,)
        Relative win likelihoods.
    Q, K : int
        CMs per mac and cells per CM.

    Returns
    -------
    rho : ndarray of float64, shape (Q, K)

    Examples
    --------
    >>> from neurosim.sparsey import cm_probabilities
    >>> cm_probabilities([1.0, 3.0], Q=1, K=2)
    array([[0.25, 0.75]])
    """
    Q, K = _check_qk(Q, K)
    mu = np.asarray(mu, dtype=np.float64).reshape(Q, K)
    return mu / mu.sum(axis=1, keepdims=True)


@fill_doc
def choose_winners(rho, *, uniforms=None, random_state=None):
    """Choose one winner per CM by roulette-wheel (softmax-like) sampling from ``rho``.

    In CM ``q`` the winner is the first cell whose cumulative probability exceeds the uniform
    draw ``uniforms[q]`` (the last cell if rounding leaves none).

    Parameters
    ----------
    rho : array, shape (Q, K)
        Win probabilities (:func:`cm_probabilities`).
    uniforms : array, shape (Q,) | None
        Uniform numbers in ``[0, 1)`` to use; None draws them from ``random_state``.
    %(random_state)s
        Used only when ``uniforms`` is None.

    Returns
    -------
    code : ndarray of int32, shape (Q,)

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import choose_winners
    >>> choose_winners(np.array([[0.25, 0.75], [1.0, 0.0]]), uniforms=[0.2, 0.9])
    array([0, 0], dtype=int32)
    """
    rho = np.asarray(rho, dtype=np.float64)
    if rho.ndim != 2:
        raise ValueError(f"rho must have shape (Q, K), got {rho.shape}")
    Q, K = rho.shape
    if uniforms is None:
        uniforms = check_random_state(random_state).random(Q)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    if uniforms.shape != (Q,):
        raise ValueError(f"uniforms must have shape ({Q},), got {uniforms.shape}")
    cum = np.cumsum(rho, axis=1)
    above = cum > uniforms[:, None] * cum[:, -1:]
    code = np.where(above.any(axis=1), above.argmax(axis=1), K - 1)
    return code.astype(np.int32)


def hebbian_update(weights, active, code, K):
    """Single-trial binary Hebbian learning: :math:`w(j, i) \\leftarrow 1`, active ``j``, winner ``i``.

    Parameters
    ----------
    weights : ndarray, shape (n_afferents, Q * K)
        Binary weights, modified in place.
    active : array of int
        Indices of the active afferents.
    code : array of int, shape (Q,)
        Winner of each CM.
    K : int
        Cells per CM.

    Returns
    -------
    weights : ndarray
        The same array.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import hebbian_update
    >>> w = np.zeros((2, 4), dtype=np.uint8)
    >>> hebbian_update(w, [1], [1, 0], K=2)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0]], dtype=uint8)
    """
    K = check_size("K", K)
    code = np.asarray(code, dtype=np.intp)
    cells = np.arange(code.size) * K + code
    weights[np.ix_(np.asarray(active, dtype=np.intp), cells)] = 1
    return weights


def _argmax_specific(V, u_weights):
    """Per-CM argmax of V; ties go to the cell with the fewest U afferents (the lowest index
    among those)."""
    Q, K = V.shape
    code = V.argmax(axis=1)
    if u_weights is None:
        return code.astype(np.int32)
    fan_in = np.asarray(u_weights).sum(axis=0, dtype=np.int64).reshape(Q, K)
    tied = V == V.max(axis=1, keepdims=True)
    key = np.where(tied, fan_in, np.iinfo(np.int64).max)
    return key.argmin(axis=1).astype(np.int32)


@fill_doc
def csa_step(Q, K, *, u_active=None, u_weights=None, h_active=None, h_weights=None,
             d_active=None, d_weights=None, params=None, match="input", learn=True,
             uniforms=None, random_state=None):
    """One full CSA step of a mac, returning every intermediate quantity.

    Each signal (U bottom-up, H horizontal from the previous code, D top-down) is given by the
    indices of its active afferents and its weight matrix ``(n_afferents, Q * K)``; a signal
    whose ``*_active`` is None or empty is absent. With ``learn=True`` the winners are drawn by
    roulette (:func:`choose_winners`); with ``learn=False`` (retrieval) each CM's winner is the
    cell of largest ``V`` (the first one on ties). Weights are not modified: call
    :func:`hebbian_update` on each signal's weights to learn the code. In retrieval, ties of
    ``V`` go to the cell with the fewest U afferents (the most specific one).

    Parameters
    ----------
    Q, K : int
        CMs per mac and cells per CM.
    u_active, h_active, d_active : array of int | None
        Active afferents of each signal.
    u_weights, h_weights, d_weights : array | None
        Binary weights of each signal, shape ``(n_afferents, Q * K)``.
    params : CSAParams | None
        CSA parameters; None uses the defaults.
    match : {"input", "cosine"}
        Normalisation of the U sums (:func:`normalize_sums`): by the number of active
        afferents (Sparsey's), or the cosine with each cell's learned afferents.
    learn : bool
        Roulette choice (True) or argmax (False).
    uniforms : array, shape (Q,) | None
        Uniform numbers for the roulette; None draws them from ``random_state``.
    %(random_state)s
        Seed of the roulette when ``uniforms`` is None.

    Returns
    -------
    step : CSAStep
        ``u, U, H, D, V, G, eta, mu, rho, code``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import csa_step
    >>> w = np.zeros((4, 6), dtype=np.uint8)
    >>> w[[0, 1], 1] = w[[0, 1], 3] = w[[0, 1], 5] = 1   # code (1, 1, 1) stored for input {0, 1}
    >>> step = csa_step(3, 2, u_active=[0, 1], u_weights=w, learn=False)
    >>> step.G, step.code
    (1.0, array([1, 1, 1], dtype=int32))
    """
    Q, K = _check_qk(Q, K)
    params = CSAParams() if params is None else params
    signals = {}
    for name, active, weights in (("U", u_active, u_weights), ("H", h_active, h_weights),
                                  ("D", d_active, d_weights)):
        if active is None or len(active) == 0:
            signals[name] = (None, None)
            continue
        if weights is None:
            raise ValueError(f"{name} afferents are active but no {name} weights were given")
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.shape[1] != Q * K:
            raise ValueError(f"{name} weights must have shape (n_afferents, {Q * K}), "
                             f"got {weights.shape}")
        raw = input_sums(active, weights)
        fan_in = None
        if name == "U" and match == "cosine":
            fan_in = weights.sum(axis=0, dtype=np.int64)
        elif match not in ("input", "cosine"):
            raise ValueError(f"match must be 'input' or 'cosine', got {match!r}")
        signals[name] = (raw, normalize_sums(raw, len(active), fan_in=fan_in))
    if all(v[1] is None for v in signals.values()):
        raise ValueError("csa_step needs at least one active signal (U, H or D)")
    u = signals["U"][0] if signals["U"][0] is not None else np.zeros(Q * K, dtype=np.int64)
    V = local_familiarity(signals["U"][1], signals["H"][1], signals["D"][1], params=params)
    G = global_familiarity(V, Q, K)
    eta = expansivity(G, K, params)
    mu = win_likelihood(V, eta, params)
    rho = cm_probabilities(mu, Q, K)
    if learn:
        code = choose_winners(rho, uniforms=uniforms, random_state=random_state)
    else:
        code = _argmax_specific(V.reshape(Q, K), u_weights if signals["U"][1] is not None
                                else None)
    return CSAStep(u=u, U=signals["U"][1], H=signals["H"][1], D=signals["D"][1], V=V, G=G,
                   eta=eta, mu=mu, rho=rho, code=code)
