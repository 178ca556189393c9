"""Codes as compact index arrays: intersections and conversion to sparse bit matrices."""

from __future__ import annotations

import numpy as np

from .._utils import check_size

__all__ = ["code_intersection", "codes_to_sparse", "level_encode"]


def _check_codes(name, codes):
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer cell indices, got dtype {codes.dtype}")
    if codes.ndim == 0:
        raise ValueError(f"{name} must have shape (Q,) or (..., Q), got a scalar")
    return codes


def code_intersection(a, b):
    """Number of CMs in which two codes have the same winner (the size of their intersection).

    CMs marked ``-1`` (silent) never count.

    Parameters
    ----------
    a, b : array of int, shape (..., Q)
        Codes (one winner index per CM); they broadcast against each other.

    Returns
    -------
    intersection : int or ndarray of int

    Examples
    --------
    >>> from neurosim.sparsey import code_intersection
    >>> code_intersection([0, 3, 2, -1], [0, 1, 2, -1])
    2
    """
    a = _check_codes("a", a)
    b = _check_codes("b", b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"codes must have the same number of CMs, got {a.shape[-1]} and "
                         f"{b.shape[-1]}")
    out = np.sum((a == b) & (a >= 0), axis=-1)
    return int(out) if np.ndim(out) == 0 else out


def codes_to_sparse(codes, K):
    """Binary cell-activity matrix of codes, as a :class:`scipy.sparse.csr_array`.

    Parameters
    ----------
    codes : array of int, shape (n_items, Q)
        Winner of each CM in ``[0, K)``, or -1 for a silent CM.
    K : int
        Cells per CM.

    Returns
    -------
    bits : scipy.sparse.csr_array of int8, shape (n_items, Q * K)
        ``bits[i, q * K + codes[i, q]] = 1``.

    Examples
    --------
    >>> from neurosim.sparsey import codes_to_sparse
    >>> codes_to_sparse([[1, 0]], K=2).toarray()
    array([[0, 1, 1, 0]], dtype=int8)
    """
    from scipy import sparse

    K = check_size("K", K)
    codes = _check_codes("codes", codes)
    codes = np.atleast_2d(codes)
    if codes.size and (codes.max() >= K or codes.min() < -1):
        raise ValueError(f"codes must be in [0, {K}) or -1, got values in "
                         f"[{codes.min()}, {codes.max()}]")
    n, Q = codes.shape
    rows, cms = np.nonzero(codes >= 0)
    cols = cms * K + codes[rows, cms]
    data = np.ones(rows.size, dtype=np.int8)
    return sparse.csr_array((data, (rows, cols)), shape=(n, Q * K))


def level_encode(X, n_levels=4, *, vmax=None):
    """Sparse binary code of grey levels: one unit per (feature, intensity level), zero silent.

    Feature values in ``(0, vmax]`` are cut into ``n_levels`` equal bins and each non-zero value
    activates the unit of its bin, so an image of ``n`` pixels becomes ``n * n_levels`` binary
    inputs of which at most ``n`` are active. Sparsey needs sparse inputs (the papers
    skeletonise MNIST); plain thresholding of small digits gives dense ones.

    Parameters
    ----------
    X : array-like, shape (n_items, ...)
        Non-negative grey levels.
    n_levels : int
        Intensity bins, >= 1.
    vmax : float | None
        Largest value (the top of the last bin); None uses ``X.max()``.

    Returns
    -------
    codes : ndarray of uint8, shape (n_items, ..., n_levels)
        Binary; reshape to ``(n_items, -1)`` for :class:`SparseyMemory` and give it
        ``input_shape=codes.shape[1:]``.

    Examples
    --------
    >>> from neurosim.sparsey import level_encode
    >>> level_encode([[0, 4, 16]], n_levels=4, vmax=16)
    array([[[0, 0, 0, 0],
            [1, 0, 0, 0],
            [0, 0, 0, 1]]], dtype=uint8)
    """
    n_levels = check_size("n_levels", n_levels)
    X = np.asarray(X, dtype=np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values")
    if X.size and X.min() < 0:
        raise ValueError(f"X must be non-negative grey levels, got a minimum of {X.min()!r}")
    vmax = float(X.max(initial=0.0)) if vmax is None else float(vmax)
    if not np.isfinite(vmax) or vmax <= 0:
        raise ValueError(f"vmax must be a positive number, got {vmax!r}")
    level = np.ceil(np.clip(X, 0.0, vmax) / vmax * n_levels).astype(np.int64)  # 0: silent
    out = np.zeros(X.shape + (n_levels,), dtype=np.uint8)
    on = level > 0
    out[on, level[on] - 1] = 1
    return out
