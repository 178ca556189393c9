"""Analysis of the readouts: peak time against delay, peak height against probability, trials
to criterion after a switch, and the angles between the "what" and "when" weight subspaces next
to their random-vector null."""

from __future__ import annotations

import numpy as np

from .._utils import check_random_state, check_size


def _select(history, trials):
    if trials is None:
        return history
    trials = np.asarray(trials)
    if trials.dtype == bool:
        trials = np.flatnonzero(trials)
    return history.isel(trial=trials)


def _in_trial(avg, history):
    return avg.sel(time=slice(0, history.attrs["trial_ms"] - 1e-9))


def trial_average(history, var="y_when", *, trials=None, by="cue"):
    """Average a recorded readout over trials, per cue (or identity, or block).

    Parameters
    ----------
    history : xarray.Dataset
        :meth:`ThreeFactorReadout.history` or :meth:`ForceReadout.history`.
    var : str
        ``"y_when"`` or ``"y_what"``.
    trials : array of int or bool | None
        Trials to use (all if None).
    by : str
        Per-trial coordinate to group by: ``"cue"``, ``"identity"``, ``"block"`` ...

    Returns
    -------
    average : xarray.DataArray
        Dims ``(by, time, ...)``.
    """
    h = _select(history, trials)
    if h.sizes["trial"] == 0:
        raise ValueError("no trial selected")
    return h[var].groupby(by).mean("trial")


def peak_times(history, *, trials=None, by="identity", var="y_when"):
    """Time (ms from cue onset) at which the trial-averaged readout peaks within the trial.

    Parameters
    ----------
    history : xarray.Dataset
        A readout's :meth:`~ThreeFactorReadout.history`.
    trials : array of int or bool | None
        Trials to use (all if None).
    by : str
        Per-trial coordinate to group by (``"identity"``, ``"cue"``, ...).
    var : str
        ``"y_when"`` or ``"y_what"``.

    Returns
    -------
    times : xarray.DataArray
        One value per group (dim ``by``).
    """
    avg = _in_trial(trial_average(history, var, trials=trials, by=by), history)
    return avg["time"][avg.argmax("time")].drop_vars("time").rename("peak_time")


def peak_heights(history, *, trials=None, by="cue", var="y_when"):
    """Maximum of the trial-averaged readout within the trial.

    Parameters
    ----------
    history : xarray.Dataset
        A readout's :meth:`~ThreeFactorReadout.history`.
    trials : array of int or bool | None
        Trials to use (all if None).
    by : str
        Per-trial coordinate to group by (``"identity"``, ``"cue"``, ...).
    var : str
        ``"y_when"`` or ``"y_what"``.

    Returns
    -------
    heights : xarray.DataArray
        One value per group (dim ``by``).
    """
    avg = _in_trial(trial_average(history, var, trials=trials, by=by), history)
    return avg.max("time").rename("peak_height")


def _unique_per(h, coord, by):
    out = {}
    keys, values_all = np.asarray(h[by].values), np.asarray(h[coord].values)
    for key in np.unique(keys):
        values = np.unique(values_all[keys == key])
        if values.size != 1:
            raise ValueError(f"the selected trials of {by} {key!r} have several values of "
                             f"{coord} ({values.tolist()}); select trials within one block")
        out[key] = float(values[0])
    return out


def _group_peak(y, keys, t, heights=False):
    """Per group of trials: the time of the trial average's maximum (and the maximum)."""
    uniq, inv = np.unique(keys, return_inverse=True)
    avg = np.stack([np.nanmean(y[inv == g], axis=0) for g in range(uniq.size)])
    at = t[np.argmax(avg, axis=1)]
    if heights:
        return uniq, at, avg.max(axis=1)
    return uniq, at


def prediction_scores(history, *, trials=None, tolerance=0.1):
    """How well the ``"when"`` readout predicts when and how likely: the issue's first two
    criteria.

    - timing: for every identity, the trial-averaged readout peaks within ``tolerance`` (relative)
      of the identity's delay :math:`d_k`;
    - probability: over the cues (identity, p cells), the Pearson correlation between peak height
      and :math:`p` and the mean absolute difference between them.

    Parameters
    ----------
    history : xarray.Dataset
        A readout's :meth:`history`.
    trials : array of int or bool | None
        Trials to score (all if None); they must lie within one block.
    tolerance : float
        Relative timing tolerance.

    Returns
    -------
    scores : dict
        ``peak_time`` and ``delay`` (per identity), ``peak_time_error`` (relative, per identity),
        ``peak_time_error_max``, ``height`` and ``probability`` (per cue), ``height_prob_r``,
        ``height_prob_mae``, ``n_cells``, ``timing_ok``, ``height_ok`` (r >= 0.9 and MAE <= 0.15)
        and ``ok`` (both).
    """
    h = _select(history, trials)
    if h.sizes["trial"] == 0:
        raise ValueError("no trial selected")
    delays = _unique_per(h, "delay", "identity")
    probs = _unique_per(h, "probability", "cue")
    # as peak_times / peak_heights, in numpy (this runs on every window of a learning curve)
    t = np.asarray(h["time"].values)
    inside = t <= h.attrs["trial_ms"] - 1e-9
    y = np.asarray(h["y_when"].values)[:, inside]
    id_keys, peak = _group_peak(y, np.asarray(h["identity"].values), t[inside])
    cue_keys, _, height = _group_peak(y, np.asarray(h["cue"].values), t[inside],
                                      heights=True)
    ids = [str(k) for k in id_keys]
    d = np.array([delays[k] for k in id_keys])
    err = np.abs(peak - d) / d
    p = np.array([probs[c] for c in cue_keys])
    r = float(np.corrcoef(height, p)[0, 1]) if p.size > 1 and np.ptp(p) > 0 and \
        np.ptp(height) > 0 else float("nan")
    mae = float(np.mean(np.abs(height - p)))
    timing_ok = bool(np.all(err <= tolerance))
    height_ok = bool(np.isfinite(r) and r >= 0.9 and mae <= 0.15)
    return {
        "identity": ids, "peak_time": peak, "delay": d, "peak_time_error": err,
        "peak_time_error_max": float(err.max()), "cue": cue_keys, "height": height,
        "probability": p, "height_prob_r": r, "height_prob_mae": mae, "n_cells": int(p.size),
        "timing_ok": timing_ok, "height_ok": height_ok, "ok": timing_ok and height_ok,
    }


def trials_to_criterion(history, start, *, window=20, step=1, tolerance=0.1, first=None):
    """Trials after ``start`` until the readout meets both criteria again.

    The criteria of :func:`prediction_scores` are evaluated on sliding windows of ``window``
    consecutive trials after ``start`` (a switch); the answer is the number of trials run after
    ``start`` when the first window that meets them ends.

    Parameters
    ----------
    history : xarray.Dataset
        A readout's :meth:`history`.
    start : int
        First trial after the switch.
    window : int
        Trials per window.
    step : int
        Window step (trials).
    tolerance : float
        Relative timing tolerance.
    first : int | None
        Only windows that end at least ``first`` trials after ``start`` (to continue a search
        over new trials only); None: from ``window``.

    Returns
    -------
    n : int | None
        Trials after the switch, or None if no window meets the criteria.
    """
    window = check_size("window", window)
    step = check_size("step", step)
    start = check_size("start", start, minimum=0)
    first = window if first is None else max(window, check_size("first", first))
    n_avail = history.sizes["trial"] - start
    for n in range(first, n_avail + 1, step):
        sel = np.arange(start + n - window, start + n)
        h = history.isel(trial=sel)
        if np.unique(h["block"].values).size != 1:
            raise ValueError("the windows after start cross a block change; start must be the "
                             "first trial of a block")
        if len(np.unique(h["cue"].values)) < len(np.unique(history["cue"].values)):
            continue
        if prediction_scores(h, tolerance=tolerance)["ok"]:
            return n
    return None


def what_accuracy(history, *, trials=None, offset=0.0):
    """Fraction of observed stimuli whose identity the ``"what"`` readout names (largest output)
    at the stimulus time (plus ``offset`` ms).

    Parameters
    ----------
    history : xarray.Dataset
        :meth:`ThreeFactorReadout.history` (with ``y_what``).
    trials : array of int or bool | None
        Trials to use (all if None); only those with a stimulus count.
    offset : float
        Time (ms) after the stimulus at which to read the output.

    Returns
    -------
    accuracy : float
    """
    h = _select(history, trials)
    h = h.isel(trial=np.flatnonzero(h["occurred"].values))
    if h.sizes["trial"] == 0:
        raise ValueError("no trial with a stimulus selected")
    t = np.asarray(h["delay"].values) + offset
    idx = np.clip(np.round(t / float(h["time"][1] - h["time"][0])).astype(int), 0,
                  h.sizes["time"] - 1)
    y = np.asarray(h["y_what"].values)[np.arange(h.sizes["trial"]), idx]
    names = [str(v) for v in h["output"].values]
    truth = np.array([names.index(str(k)) for k in h["identity"].values])
    return float(np.mean(y.argmax(1) == truth))


def principal_angles(A, B):
    """Principal angles (degrees, ascending) between the row spaces of two weight matrices.

    Uses :func:`scipy.linalg.subspace_angles` on the transposed matrices (each row of ``A``
    and ``B`` is a readout's weight vector over the reservoir).

    Parameters
    ----------
    A : ndarray of shape (k_a, n)
    B : ndarray of shape (k_b, n)

    Returns
    -------
    angles : ndarray of shape (min(k_a, k_b),)
        The first is the smallest angle between any two vectors of the subspaces.
    """
    from scipy.linalg import subspace_angles

    A = np.atleast_2d(np.asarray(A, dtype=float))
    B = np.atleast_2d(np.asarray(B, dtype=float))
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same number of columns (neurons), got "
                         f"{A.shape} and {B.shape}")
    for name, M in (("A", A), ("B", B)):
        if not np.all(np.isfinite(M)) or not np.any(M):
            raise ValueError(f"{name} must be finite and not all zero")
    return np.sort(np.degrees(subspace_angles(A.T, B.T)))


def random_subspace_angles(n_dim, dim_a, dim_b, *, n_draws=200, random_state=None):
    """The null: smallest principal angle between random subspaces of the same dimensions.

    Random directions in high dimension are nearly orthogonal (two random vectors in 1,000
    dimensions are about 88 degrees apart), so a large angle between learned subspaces means
    little unless it exceeds this null.

    Parameters
    ----------
    n_dim : int
        Ambient dimension (reservoir size).
    dim_a, dim_b : int
        Dimensions of the two subspaces.
    n_draws : int
        Number of random pairs.
    random_state : None | int | numpy.random.Generator
        Seed.

    Returns
    -------
    angles : ndarray of shape (n_draws,)
        Smallest principal angle (degrees) of each pair of Gaussian random subspaces.
    """
    n_dim = check_size("n_dim", n_dim)
    dim_a = check_size("dim_a", dim_a)
    dim_b = check_size("dim_b", dim_b)
    n_draws = check_size("n_draws", n_draws)
    rng = check_random_state(random_state)
    return np.array([principal_angles(rng.standard_normal((dim_a, n_dim)),
                                      rng.standard_normal((dim_b, n_dim)))[0]
                     for _ in range(n_draws)])


def subspace_angles_with_null(W_what, W_when, *, n_draws=200, random_state=None):
    """Principal angles between the "what" and "when" weight subspaces, beside their null.

    Parameters
    ----------
    W_what : ndarray of shape (n_identities, n)
    W_when : ndarray of shape (n_when, n)
    n_draws : int
        Draws of the null (:func:`random_subspace_angles`).
    random_state : None | int | numpy.random.Generator
        Seed of the null.

    Returns
    -------
    result : dict
        ``angles`` (degrees, ascending), ``angle_min``, ``null_median``, ``null_p05`` and
        ``null_p95`` of the smallest random angle, and ``n_dim``.
    """
    angles = principal_angles(W_what, W_when)
    W_what = np.atleast_2d(W_what)
    W_when = np.atleast_2d(W_when)
    null = random_subspace_angles(W_what.shape[1], np.linalg.matrix_rank(W_what),
                                  np.linalg.matrix_rank(W_when), n_draws=n_draws,
                                  random_state=random_state)
    return {"angles": angles, "angle_min": float(angles[0]),
            "null_median": float(np.median(null)), "null_p05": float(np.percentile(null, 5)),
            "null_p95": float(np.percentile(null, 95)), "n_dim": int(W_what.shape[1])}


def learning_curve(history, *, window=30, step=10, tolerance=0.1):
    """The criteria of :func:`prediction_scores` on sliding windows of trials.

    Windows that would cross a block change are skipped.

    Parameters
    ----------
    history : xarray.Dataset
        A readout's :meth:`history`.
    window, step : int
        Trials per window and the step between windows.
    tolerance : float
        Relative timing tolerance.

    Returns
    -------
    curve : xarray.Dataset
        Dim ``window_end`` (the trial after each window's last), variables
        ``peak_time_error_max``, ``height_prob_r``, ``height_prob_mae``, ``ok`` and ``block``.
    """
    import xarray as xr

    window = check_size("window", window)
    step = check_size("step", step)
    blocks = np.asarray(history["block"].values)
    rows = []
    for end in range(window, history.sizes["trial"] + 1, step):
        sel = np.arange(end - window, end)
        if np.unique(blocks[sel]).size != 1:
            continue
        s = prediction_scores(history, trials=sel, tolerance=tolerance)
        rows.append((end, s["peak_time_error_max"], s["height_prob_r"], s["height_prob_mae"],
                     s["ok"], blocks[sel[0]]))
    if not rows:
        raise ValueError(f"no window of {window} trials within one block")
    end, err, r, mae, ok, blk = map(np.asarray, zip(*rows))
    return xr.Dataset({"peak_time_error_max": ("window_end", err),
                       "height_prob_r": ("window_end", r),
                       "height_prob_mae": ("window_end", mae), "ok": ("window_end", ok),
                       "block": ("window_end", blk)}, coords={"window_end": end},
                      attrs={"window": window})
