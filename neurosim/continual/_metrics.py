"""Continual-learning metrics: ACC, BWT, FWT (Lopez-Paz & Ranzato 2017) and the worst-case
metrics min-ACC, WC-ACC and windowed forgetting WF^w of continual evaluation (De Lange et al.
2023)."""

from __future__ import annotations

import numpy as np

from .._utils import check_size

__all__ = [
    "average_accuracy", "backward_transfer", "continual_metrics", "forward_transfer",
    "min_accuracy", "windowed_forgetting", "worst_case_accuracy",
]


def _square(R, name="R"):
    R = np.asarray(getattr(R, "values", R), dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"{name} must be a square (n_tasks, n_tasks) accuracy matrix, got shape "
                         f"{R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError(f"{name} contains NaN or inf values")
    return R


def average_accuracy(R):
    """Final average accuracy, ACC.

    .. math:: \\mathrm{ACC} = \\frac{1}{T} \\sum_{i=1}^{T} R_{T,i}

    Parameters
    ----------
    R : array-like of shape (n_tasks, n_tasks)
        Accuracy matrix: ``R[i, j]`` is the test accuracy on task ``j`` after training on
        tasks ``0..i``.

    Returns
    -------
    acc : float

    Examples
    --------
    >>> from neurosim.continual import average_accuracy
    >>> average_accuracy([[0.9, 0.1], [0.6, 0.8]])
    0.7
    """
    R = _square(R)
    return float(np.round(R[-1].mean(), 12))


def backward_transfer(R):
    """Backward transfer, BWT: how training on later tasks changed accuracy on earlier ones.

    .. math:: \\mathrm{BWT} = \\frac{1}{T-1} \\sum_{i=1}^{T-1} (R_{T,i} - R_{i,i})

    Negative values mean forgetting. Undefined (NaN) for a single task.

    Parameters
    ----------
    R : array-like of shape (n_tasks, n_tasks)
        Accuracy matrix (see :func:`average_accuracy`).

    Returns
    -------
    bwt : float

    Examples
    --------
    >>> from neurosim.continual import backward_transfer
    >>> backward_transfer([[0.9, 0.1], [0.6, 0.8]])
    -0.3
    """
    R = _square(R)
    T = R.shape[0]
    if T < 2:
        return float("nan")
    return float(np.round(np.mean(R[-1, :-1] - np.diag(R)[:-1]), 12))


def forward_transfer(R, baseline):
    """Forward transfer, FWT: accuracy on a task before training on it, above chance.

    .. math:: \\mathrm{FWT} = \\frac{1}{T-1} \\sum_{i=2}^{T} (R_{i-1,i} - b_i)

    where :math:`b_i` is the accuracy of the untrained (randomly initialised) model on task
    :math:`i`.

    Parameters
    ----------
    R : array-like of shape (n_tasks, n_tasks)
        Accuracy matrix (see :func:`average_accuracy`).
    baseline : array-like of shape (n_tasks,)
        Accuracies :math:`b_i` of the model before any training.

    Returns
    -------
    fwt : float

    Examples
    --------
    >>> from neurosim.continual import forward_transfer
    >>> forward_transfer([[0.9, 0.3], [0.6, 0.8]], [0.1, 0.1])
    0.2
    """
    R = _square(R)
    b = np.asarray(getattr(baseline, "values", baseline), dtype=float)
    if b.shape != (R.shape[0],):
        raise ValueError(f"baseline must have shape ({R.shape[0]},), got {b.shape}")
    T = R.shape[0]
    if T < 2:
        return float("nan")
    return float(np.round(np.mean(R[np.arange(T - 1), np.arange(1, T)] - b[1:]), 12))


def _curves(accuracy, iterations, task_end):
    A = np.asarray(getattr(accuracy, "values", accuracy), dtype=float)
    it = np.asarray(getattr(iterations, "values", iterations))
    ends = np.asarray(getattr(task_end, "values", task_end))
    if A.ndim != 2:
        raise ValueError(f"accuracy must be a 2-d (n_evaluations, n_tasks) array, got shape "
                         f"{A.shape}")
    if it.shape != (A.shape[0],):
        raise ValueError(f"iterations must have shape ({A.shape[0]},), got {it.shape}")
    if ends.shape != (A.shape[1],):
        raise ValueError(f"task_end must have shape ({A.shape[1]},), got {ends.shape}")
    if it.size and np.any(np.diff(it) <= 0):
        raise ValueError("iterations must be strictly increasing")
    return A, it, ends


def _min_per_task(A, it, ends, at):
    """Min accuracy of each task finished before iteration ``at``, over (end, at]; NaN else."""
    out = np.full(A.shape[1], np.nan)
    for k in range(A.shape[1]):
        if not ends[k] < at:
            continue
        sel = (it > ends[k]) & (it <= at)
        if sel.any():
            out[k] = np.nanmin(A[sel, k])
    return out


def min_accuracy(accuracy, iterations, task_end, *, at=None):
    """min-ACC: average over previous tasks of their worst accuracy after they were learned.

    .. math::

        \\text{min-ACC}_{T_k} = \\frac{1}{k-1} \\sum_{i=1}^{k-1}
        \\min_{|T_i| < t \\le |T_k|} A(E_i, f_t)

    where :math:`|T_i|` is the iteration at which training on task :math:`i` finished and
    :math:`A(E_i, f_t)` is the accuracy on task :math:`i` of the model at iteration :math:`t`
    (De Lange et al. 2023, eq. 2). Only evaluations strictly after the end of a task count.

    Parameters
    ----------
    accuracy : array-like of shape (n_evaluations, n_tasks)
        Per-iteration accuracies (the ``accuracy`` variable of a learner's ``history_``).
    iterations : array-like of shape (n_evaluations,)
        Iteration of each evaluation, strictly increasing.
    task_end : array-like of shape (n_tasks,)
        Iteration at which training on each task ended.
    at : int or None
        Compute the metric at this iteration (default: the last evaluation).

    Returns
    -------
    min_acc : float
        NaN if no task ended before ``at``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import min_accuracy
    >>> acc = np.array([[0.5, 0.1], [0.9, 0.1], [0.4, 0.6], [0.7, 0.9]])
    >>> min_accuracy(acc, iterations=[1, 2, 3, 4], task_end=[2, 4])
    0.4
    """
    A, it, ends = _curves(accuracy, iterations, task_end)
    at = it[-1] if at is None else at
    mins = _min_per_task(A, it, ends, at)
    if np.all(np.isnan(mins)):
        return float("nan")
    return float(np.round(np.nanmean(mins), 12))


def worst_case_accuracy(accuracy, iterations, task_end, *, at=None):
    """WC-ACC: worst-case accuracy, a trade-off of the current task's accuracy and min-ACC.

    .. math:: \\text{WC-ACC}_t = \\frac{1}{k} A(E_k, f_t)
              + \\left(1 - \\frac{1}{k}\\right) \\text{min-ACC}_{T_k}

    where :math:`k` is the current task at iteration :math:`t` (De Lange et al. 2023, eq. 3):
    the first task whose training had not ended before :math:`t`.

    Parameters
    ----------
    accuracy : array-like of shape (n_evaluations, n_tasks)
        Per-iteration accuracies.
    iterations : array-like of shape (n_evaluations,)
        Iteration of each evaluation.
    task_end : array-like of shape (n_tasks,)
        Iteration at which training on each task ended.
    at : int or None
        Compute the metric at this iteration, one of ``iterations`` (default: the last).

    Returns
    -------
    wc_acc : float

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import worst_case_accuracy
    >>> acc = np.array([[0.5, 0.1], [0.9, 0.1], [0.4, 0.6], [0.7, 0.9]])
    >>> worst_case_accuracy(acc, iterations=[1, 2, 3, 4], task_end=[2, 4])
    0.65
    """
    A, it, ends = _curves(accuracy, iterations, task_end)
    at = it[-1] if at is None else at
    row = np.flatnonzero(it == at)
    if row.size == 0:
        raise ValueError(f"at={at} is not one of the evaluation iterations")
    unfinished = np.flatnonzero(~(ends < at))
    k = int(unfinished[0]) if unfinished.size else A.shape[1] - 1
    current = A[row[0], k]
    if k == 0:
        return float(np.round(current, 12))
    mins = _min_per_task(A, it, ends, at)[:k]
    return float(np.round(current / (k + 1) + (1 - 1 / (k + 1)) * np.nanmean(mins), 12))


def windowed_forgetting(accuracy, iterations, task_end, window=10, *, at=None):
    """WF^w: the largest accuracy drop within ``window`` consecutive evaluations, per old task.

    .. math::

        \\text{WF}^w_{T_k} = \\frac{1}{k-1} \\sum_{i=1}^{k-1}
        \\max\\Big(0, \\max_{|T_i| \\le t_m < t_n \\le |T_k|,\\; n - m < w}
        A(E_i, f_{t_m}) - A(E_i, f_{t_n})\\Big)

    (De Lange et al. 2023, windowed forgetting), where :math:`t_m` is the iteration of the
    :math:`m`-th evaluation: for each task finished before ``at``, the evaluations from the end
    of its training on are scanned with a window of ``window`` consecutive evaluations, and the
    largest decrease from an earlier to a later accuracy inside a window is kept. As in the
    paper's code (a window of the last ``window`` evaluations, forgetting at least 0), the
    window counts evaluations, which are iterations when every iteration is evaluated. WF^10
    sees the sharp dip at a task switch (the stability gap); WF^100 sees slower forgetting.

    Parameters
    ----------
    accuracy : array-like of shape (n_evaluations, n_tasks)
        Per-iteration accuracies (the ``accuracy`` variable of a learner's ``history_``).
    iterations : array-like of shape (n_evaluations,)
        Iteration of each evaluation, strictly increasing.
    task_end : array-like of shape (n_tasks,)
        Iteration at which training on each task ended.
    window : int
        Window length ``w`` in evaluations (at least 2).
    at : int or None
        Compute the metric at this iteration (default: the last evaluation).

    Returns
    -------
    wf : float
        Mean over the tasks finished before ``at``; NaN if there are none.

    Examples
    --------
    >>> from neurosim.continual import windowed_forgetting
    >>> acc = [[0.2, 0.0], [0.9, 0.1], [0.5, 0.6], [0.6, 0.7], [0.3, 0.9]]
    >>> windowed_forgetting(acc, [1, 2, 3, 4, 5], task_end=[2, 5], window=2)
    0.4
    >>> windowed_forgetting(acc, [1, 2, 3, 4, 5], task_end=[2, 5], window=4)
    0.6
    """
    A, it, ends = _curves(accuracy, iterations, task_end)
    w = check_size("window", window, minimum=2)
    at = it[-1] if at is None else at
    out = []
    for k in range(A.shape[1]):
        if not ends[k] < at:
            continue
        a = A[(it >= ends[k]) & (it <= at), k]
        a = a[~np.isnan(a)]
        if a.size == 0:
            continue
        worst = 0.0
        for j in range(1, a.size):
            worst = max(worst, float(a[max(0, j - w + 1):j].max() - a[j]))
        out.append(worst)
    return float(np.round(np.mean(out), 12)) if out else float("nan")


def continual_metrics(history):
    """All the metrics of a continual run, from a learner's ``history_`` data set.

    Parameters
    ----------
    history : xarray.Dataset
        The result of :meth:`~neurosim.continual.ContinualLearner.fit_stream`: variables
        ``accuracy`` (iteration, task), ``accuracy_matrix`` (trained, task), ``initial_accuracy``
        (task) and ``task_end`` (task).

    Returns
    -------
    metrics : dict of str to float
        ``acc``, ``bwt``, ``fwt``, ``min_acc``, ``wc_acc``, ``wf10`` and ``wf100`` (windowed
        forgetting, :func:`windowed_forgetting`) and ``avg_end_of_task_acc`` (the mean
        of the diagonal of the accuracy matrix over all but the last task, the reference that
        min-ACC is compared with to see the stability gap).

    Examples
    --------
    >>> from neurosim.continual import continual_metrics
    >>> metrics = continual_metrics(learner.history_)  # doctest: +SKIP
    """
    for var in ("accuracy", "accuracy_matrix", "initial_accuracy", "task_end"):
        if var not in history.variables:
            raise ValueError(f"history lacks the variable {var!r}; expected a learner's history_")
    R = history["accuracy_matrix"].values
    A = history["accuracy"].values
    it = history["iteration"].values
    ends = history["task_end"].values
    diag = np.diag(R)
    out = {
        "acc": average_accuracy(R),
        "bwt": backward_transfer(R),
        "fwt": forward_transfer(R, history["initial_accuracy"].values),
        "min_acc": min_accuracy(A, it, ends) if A.shape[0] else float("nan"),
        "wc_acc": worst_case_accuracy(A, it, ends) if A.shape[0] else float("nan"),
        "wf10": windowed_forgetting(A, it, ends, 10) if A.shape[0] else float("nan"),
        "wf100": windowed_forgetting(A, it, ends, 100) if A.shape[0] else float("nan"),
        "avg_end_of_task_acc": float(diag[:-1].mean()) if diag.size > 1 else float("nan"),
    }
    return out
