"""Sampled time series shared by inputs, inhomogeneous Poisson rates, teachers, gates and
neuromodulators."""

from __future__ import annotations

import numpy as np

from .._utils import check_positive


class _Signal:
    """``values`` sampled every ``dt`` ms, held after the last row (as Brian2's ``TimedArray``).

    ``values`` has shape ``(n_times,)`` (one signal), ``(n_times, K)``; with ``gains`` of shape
    ``(n, K)`` the signal seen by element ``i`` is ``sum_c gains[i, c] * values[t, c]`` (low rank).
    Without gains, ``K`` must be 1 (shared by all ``n`` elements) or ``n`` (one column each).
    """

    def __init__(self, values, dt, n, *, gains=None, what="values", allow_shared=True):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[0] == 0:
            raise ValueError(f"{what} must have shape (n_times,) or (n_times, K) with n_times >= 1, "
                             f"got {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{what} contains NaN or inf")
        K = values.shape[1]
        if gains is not None:
            gains = np.asarray(gains, dtype=np.float64)
            if gains.ndim == 1 and K == 1:
                gains = gains[:, None]
            if gains.shape != (n, K):
                raise ValueError(f"gains must have shape ({n}, {K}) (one row per neuron, one "
                                 f"column per signal of {what}), got {gains.shape}")
            if not np.all(np.isfinite(gains)):
                raise ValueError("gains contains NaN or inf")
            gains = np.ascontiguousarray(gains)
            mode = "lowrank"
        elif K == n:
            mode = "dense"
        elif K == 1 and allow_shared:
            mode = "shared"
        else:
            expected = f"(n_times,) or (n_times, {n})" if allow_shared else f"(n_times, {n})"
            raise ValueError(f"{what} must have shape {expected}, or (n_times, K) with gains of "
                             f"shape ({n}, K); got {values.shape}")
        self.values = np.ascontiguousarray(values)
        self.gains = gains
        self.mode = mode
        self.n = n
        self.dt = check_positive(f"dt of {what}", dt)
        self.what = what

    @property
    def n_times(self):
        return self.values.shape[0]

    def steps_per_sample(self, dt):
        """Simulation steps per sample for simulation step ``dt``; ValueError if not whole."""
        ratio = self.dt / dt
        r = int(round(ratio))
        if r < 1 or abs(r - ratio) > 1e-9 * ratio:
            raise ValueError(f"the sampling step dt={self.dt} ms of {self.what} must be a whole "
                             f"multiple of the simulation dt={dt} ms")
        return r

    def dense(self, rows=None):
        """The signal per element, shape ``(n_times, n)`` (or the given rows)."""
        v = self.values if rows is None else self.values[rows]
        if self.mode == "lowrank":
            return v @ self.gains.T
        if self.mode == "shared":
            return np.repeat(v, self.n, axis=1)
        return v

    def max(self):
        """Largest value any element sees."""
        if self.mode == "lowrank":
            return float((self.values @ self.gains.T).max()) if self.values.size * self.n < 5e7 \
                else float(max((self.values[k:k + 1000] @ self.gains.T).max()
                               for k in range(0, self.n_times, 1000)))
        return float(self.values.max())

    def min(self):
        if self.mode == "lowrank":
            return float(min((self.values[k:k + 1000] @ self.gains.T).min()
                             for k in range(0, self.n_times, 1000)))
        return float(self.values.min())

    @property
    def nbytes(self):
        return self.values.nbytes + (0 if self.gains is None else self.gains.nbytes)
