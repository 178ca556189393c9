"""Streaming metrics for learners under concept shift, and paired comparisons over seeds."""

from __future__ import annotations

import numpy as np

from .._utils import check_size

__all__ = ["paired_difference", "running_accuracy", "shift_recovery"]


def _as_correct(correct):
    c = np.asarray(getattr(correct, "values", correct))
    if c.ndim != 1:
        raise ValueError(f"correct must be a 1-d array (one entry per sample), got shape {c.shape}")
    if c.dtype != bool and not np.all(np.isin(c, (0, 1))):
        raise ValueError("correct must hold booleans or 0/1 values")
    return c.astype(float)


def running_accuracy(correct, window=100):
    """Trailing moving average of the per-sample correctness of a stream.

    Parameters
    ----------
    correct : array-like of bool, shape (n_samples,)
        Whether the prediction made for each sample before learning from it was right, in stream
        order (``history["correct"]`` of :func:`~neurosim.homeostasis.run_shift_stream`).
    window : int
        Samples averaged; the first ``window - 1`` values average the samples seen so far.

    Returns
    -------
    accuracy : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from neurosim.homeostasis import running_accuracy
    >>> running_accuracy([1, 1, 0, 0, 1], window=2).tolist()
    [1.0, 1.0, 0.5, 0.0, 0.5]
    """
    c = _as_correct(correct)
    w = check_size("window", window, minimum=1)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    t = np.arange(1, c.size + 1)
    lo = np.maximum(t - w, 0)
    return (cs[t] - cs[lo]) / (t - lo)


def shift_recovery(correct, shift_positions, window=100):
    """Accuracy just before, just after and recovered after each concept shift.

    For a shift taking effect at sample :math:`s` (the first sample with the new labels), with
    the next shift (or the end of the stream) at :math:`e`:

    - ``before``: mean correctness over the ``window`` samples before :math:`s`;
    - ``after``: over the ``window`` samples from :math:`s` on (the drop);
    - ``recovered``: over the last ``window`` samples before :math:`e` (what the learner regained
      before the next shift); windows are cut at :math:`s` and :math:`e` when shifts are closer;
    - ``recovery``: ``recovered - after``.

    Shifts at the same sample count once; shifts at the end of the stream (nothing after them)
    are left out.

    Parameters
    ----------
    correct : array-like of bool, shape (n_samples,)
        Per-sample correctness in stream order.
    shift_positions : array-like of int
        Sample indices at which shifts take effect (``history["shift_position"]``).
    window : int
        Samples per window.

    Returns
    -------
    table : dict of ndarray
        ``position``, ``before``, ``after``, ``recovered``, ``recovery`` (one entry per shift).

    Examples
    --------
    >>> from neurosim.homeostasis import shift_recovery
    >>> c = [1] * 10 + [0] * 3 + [1] * 7
    >>> r = shift_recovery(c, [10], window=3)
    >>> r["before"].tolist(), r["after"].tolist(), r["recovered"].tolist()
    ([1.0], [0.0], [1.0])
    """
    c = _as_correct(correct)
    w = check_size("window", window, minimum=1)
    pos = np.unique(np.asarray(shift_positions, dtype=np.int64).ravel())
    if pos.size and (pos[0] < 0 or pos[-1] > c.size):
        raise ValueError(f"shift_positions must lie in [0, {c.size}], got {pos.min()} .. "
                         f"{pos.max()}")
    pos = pos[pos < c.size]
    ends = np.append(pos[1:], c.size)
    starts = np.concatenate([[0], pos[:-1]]) if pos.size else pos
    out = {k: np.full(pos.size, np.nan) for k in ("before", "after", "recovered")}
    for k, (s, e, p) in enumerate(zip(pos, ends, starts)):
        if s > p:
            out["before"][k] = c[max(s - w, p):s].mean()
        out["after"][k] = c[s:min(s + w, e)].mean()
        out["recovered"][k] = c[max(e - w, s):e].mean()
    out["recovery"] = out["recovered"] - out["after"]
    return {"position": pos} | out


def paired_difference(a, b, *, confidence=0.95, axis=-1):
    """Mean paired difference ``a - b`` over seeds, with a Student-t confidence interval.

    Parameters
    ----------
    a, b : array-like
        Matched measurements (the same seeds, in the same order, along ``axis``).
    confidence : float
        Confidence level of the two-sided interval, in (0, 1).
    axis : int
        The seed axis.

    Returns
    -------
    result : dict of ndarray (or float)
        ``mean``, ``lo``, ``hi`` (the interval; NaN with fewer than 2 seeds), ``sd`` (of the
        differences) and ``n``.

    Examples
    --------
    >>> from neurosim.homeostasis import paired_difference
    >>> r = paired_difference([0.5, 0.6, 0.7], [0.4, 0.5, 0.5])
    >>> round(r["mean"], 3), round(r["lo"], 3), round(r["hi"], 3)
    (0.133, -0.01, 0.277)
    """
    from scipy import stats

    a = np.asarray(getattr(a, "values", a), dtype=float)
    b = np.asarray(getattr(b, "values", b), dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (paired seeds), got {a.shape} and "
                         f"{b.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    d = a - b
    n = d.shape[axis]
    mean = d.mean(axis=axis)
    if n >= 2:
        sd = d.std(axis=axis, ddof=1)
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)
    else:
        sd = np.full_like(mean, np.nan)
        half = np.full_like(mean, np.nan)
    res = {"mean": mean, "lo": mean - half, "hi": mean + half, "sd": sd, "n": n}
    if np.ndim(mean) == 0:
        res = {k: (float(v) if k != "n" else int(v)) for k, v in res.items()}
    return res
