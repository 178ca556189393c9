"""Run-wise cleaning of fMRI signals, shared by the readers and the decoders.

:func:`clean_runs` lives with the data sets because readers (NSD's session-wise z-scoring)
apply it while loading, and data sets never import the decoders (the import contracts of
``pyproject.toml``); it is documented and re-exported as
:func:`neurosim.decoding.preprocessing.clean_runs`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["clean_runs"]


def clean_runs(X, runs, *, detrend=True, standardize=True, ddof=1):
    """Detrend and z-score each run (or session) of fMRI data separately.

    For every run, each column is linearly detrended (least-squares line over the run's rows,
    as :func:`scipy.signal.detrend`) and then z-scored with the run's own mean and standard
    deviation. With ``ddof=1`` this equals :func:`nilearn.signal.clean` with ``runs=runs,
    detrend=True, standardize="zscore_sample"`` (nilearn's standard for decoding); ``ddof=0``
    with ``detrend=False`` is scikit-learn's :class:`~sklearn.preprocessing.StandardScaler` per
    session, the session-wise z-scoring of NSD betas in MindEye/MindBridge. NaN values are
    ignored in the statistics and stay NaN; a column constant within a run becomes 0 there.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Time series (volumes x voxels) or betas (trials x voxels); a DataArray keeps its
        coordinates.
    runs : array-like, shape (n_samples,)
        The run (or session) of each row; rows of a run need not be contiguous.
    detrend : bool
        Remove a linear trend within each run (in row order).
    standardize : bool
        Divide by the run's standard deviation after removing its mean (False: centre only).
    ddof : int
        Delta degrees of freedom of the standard deviation (1: sample, as nilearn; 0:
        population, as StandardScaler).

    Returns
    -------
    cleaned : numpy.ndarray | xarray.DataArray, shape (n_samples, n_features)
        Float32 for float32 input, float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.preprocessing import clean_runs
    >>> x = np.array([[1.0], [2.0], [3.0], [10.0], [30.0], [20.0]])
    >>> clean_runs(x, [0, 0, 0, 1, 1, 1], detrend=False).ravel().round(3).tolist()
    [-1.0, 0.0, 1.0, -1.0, 1.0, 0.0]
    """
    from neurosim._utils import check_size

    wrap = hasattr(X, "dims") and hasattr(X, "coords")
    values = np.asarray(X.values if wrap else X)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"X must be numeric, got dtype {values.dtype}")
    runs = np.asarray(runs.values if hasattr(runs, "dims") else runs)
    if runs.shape != (values.shape[0],):
        raise ValueError(f"runs must have one entry per row of X ({values.shape[0]}), got shape "
                         f"{runs.shape}")
    ddof = check_size("ddof", ddof, minimum=0)
    dtype = np.float32 if values.dtype == np.float32 else np.float64
    out = np.empty(values.shape, dtype=np.float64)
    for run in np.unique(runs):
        rows = np.flatnonzero(runs == run)
        x = values[rows].astype(np.float64)
        if detrend and len(rows) > 1:
            t = np.arange(len(rows), dtype=np.float64)
            t -= t.mean()
            mean = np.nanmean(x, axis=0)
            tt = np.sum(np.where(np.isnan(x), 0.0, t[:, None] ** 2), axis=0)
            slope = np.nansum(t[:, None] * (x - mean), axis=0) / np.where(tt > 0, tt, 1.0)
            x = x - mean - t[:, None] * slope
        with np.errstate(invalid="ignore"):
            x = x - np.nanmean(x, axis=0) if np.isfinite(x).any() else x
            if standardize:
                n_ok = np.sum(~np.isnan(x), axis=0)
                if np.any(n_ok <= ddof):
                    raise ValueError(f"run {run!r} has {int(n_ok.min())} valid rows in some "
                                     f"column: too few for a standard deviation with ddof={ddof}")
                sd = np.nanstd(x, axis=0, ddof=ddof)
                x = x / np.where(sd > np.finfo(np.float64).eps * 100, sd, np.inf)
        out[rows] = x
    out = out.astype(dtype)
    if wrap:
        return X.copy(data=out.reshape(X.shape))
    return out.reshape(np.shape(X)) if np.ndim(X) == 1 else out
