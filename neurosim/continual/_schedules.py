"""Training schedules: which task and which samples every minibatch comes from.

A schedule's :meth:`~SequentialSchedule.plan` returns, for one training phase (the phase in which
task ``phase`` is new), the source task and the sample index of every element of every
minibatch. Learners (:class:`~neurosim.continual.ContinualLearner`) gather the minibatches from
these plans; the schedule never touches the data, so it is plain numpy and cheap.
"""

from __future__ import annotations

import numpy as np

from .._utils import check_positive, check_size

__all__ = ["PowerLawRehearsal", "SequentialSchedule", "ViewBatchReplay"]


def _check_plan_args(task_sizes, phase, n_iterations, batch_size):
    sizes = np.asarray(task_sizes, dtype=np.int64)
    phase = check_size("phase", phase, minimum=0)
    if sizes.ndim != 1 or sizes.size <= phase:
        raise ValueError(f"task_sizes must list the sizes of tasks 0..{phase}, got {task_sizes!r}")
    if sizes[phase] < 1:
        raise ValueError(f"task {phase} has no training samples (task_sizes={task_sizes!r})")
    return (sizes, phase, check_size("n_iterations", n_iterations, minimum=0),
            check_size("batch_size", batch_size, minimum=1))


def _epoch_indices(n, count, rng):
    """``count`` indices into ``range(n)`` drawn epoch by epoch (shuffle, use all, reshuffle)."""
    n_epochs = -(-count // n)
    return np.concatenate([rng.permutation(n) for _ in range(n_epochs)])[:count]


class SequentialSchedule:
    """Plain sequential training: every minibatch comes from the current task only.

    Samples are drawn epoch by epoch: the task's training set is shuffled and walked through,
    then reshuffled.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import SequentialSchedule
    >>> tasks, idx = SequentialSchedule().plan([10, 6], 1, n_iterations=2, batch_size=3,
    ...                                        random_state=np.random.default_rng(0))
    >>> tasks.tolist(), idx.shape
    ([[1, 1, 1], [1, 1, 1]], (2, 3))
    """

    needs_past_tasks = False

    def plan(self, task_sizes, phase, n_iterations, batch_size, random_state):
        """Source task and sample index of every minibatch element of one phase.

        Parameters
        ----------
        task_sizes : sequence of int
            Training-set sizes of tasks ``0..phase`` (at least).
        phase : int
            The current (newest) task.
        n_iterations : int
            Number of minibatches.
        batch_size : int
            Minibatch size.
        random_state : numpy.random.Generator
            Random generator.

        Returns
        -------
        tasks, indices : ndarray of int64, shape (n_iterations, batch_size)
            Task and index into that task's training set of every element.
        """
        sizes, phase, n_iterations, batch_size = _check_plan_args(
            task_sizes, phase, n_iterations, batch_size)
        idx = _epoch_indices(sizes[phase], n_iterations * batch_size, random_state)
        tasks = np.full((n_iterations, batch_size), phase, dtype=np.int64)
        return tasks, idx.reshape(n_iterations, batch_size)

    def transform(self, X, random_state):
        """Augment a gathered minibatch (identity here).

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_features)
            Gathered minibatch.
        random_state : torch.Generator
            Generator on the device of ``X``.

        Returns
        -------
        X : torch.Tensor
            ``X`` itself.
        """
        return X

    def __repr__(self):
        return f"{type(self).__name__}()"


class PowerLawRehearsal(SequentialSchedule):
    """Power-law rehearsal: past tasks recur with probability decaying as a power of their age.

    In phase :math:`k` (task :math:`k` is new), each minibatch element comes from task
    :math:`i \\le k` with probability

    .. math:: p_k(i) = \\frac{(k - i + 1)^{-\\alpha}}{\\sum_{j=0}^{k} (k - j + 1)^{-\\alpha}}

    so the new task dominates and older tasks are rehearsed less and less, as in natural
    environments where the need for a memory decays as a power law of the time since it was
    last needed (Anderson & Schooler 1991), the setting of Gandhi et al. (2024).
    :math:`\\alpha \\to \\infty` is plain sequential training, :math:`\\alpha = 0` samples all
    seen tasks equally. The schedule rehearses from the full past training sets (an
    environment, not a memory buffer).

    Parameters
    ----------
    exponent : float
        Power-law exponent :math:`\\alpha` (>= 0).

    Examples
    --------
    >>> from neurosim.continual import PowerLawRehearsal
    >>> PowerLawRehearsal(exponent=1.0).task_probabilities(2).round(3).tolist()
    [0.182, 0.273, 0.545]
    """

    needs_past_tasks = True

    def __init__(self, exponent=1.0):
        self.exponent = check_positive("exponent", exponent, allow_zero=True)

    def task_probabilities(self, phase):
        """Probabilities :math:`p_k(i)` of tasks ``0..phase`` in phase ``phase``.

        Parameters
        ----------
        phase : int
            The current task :math:`k`.

        Returns
        -------
        p : ndarray of shape (phase + 1,)
        """
        phase = check_size("phase", phase, minimum=0)
        age = phase - np.arange(phase + 1) + 1.0
        w = age ** (-self.exponent)
        return w / w.sum()

    def plan(self, task_sizes, phase, n_iterations, batch_size, random_state):
        sizes, phase, n_iterations, batch_size = _check_plan_args(
            task_sizes, phase, n_iterations, batch_size)
        if np.any(sizes[:phase + 1] < 1):
            raise ValueError(f"power-law rehearsal needs the training samples of every past task, "
                             f"got task_sizes={task_sizes!r}")
        rng = random_state
        count = n_iterations * batch_size
        tasks = rng.choice(phase + 1, size=count, p=self.task_probabilities(phase))
        idx = np.empty(count, dtype=np.int64)
        for t in np.unique(tasks):
            sel = np.flatnonzero(tasks == t)
            idx[sel] = _epoch_indices(sizes[t], sel.size, rng)
        return tasks.reshape(n_iterations, batch_size), idx.reshape(n_iterations, batch_size)

    plan.__doc__ = SequentialSchedule.plan.__doc__

    def __repr__(self):
        return f"PowerLawRehearsal(exponent={self.exponent:g})"


class ViewBatchReplay(SequentialSchedule):
    """View-batch replay: every sample appears as several augmented views in the same batch.

    Each minibatch of size :math:`B` holds :math:`B / V` distinct samples, each repeated
    :math:`V` times (``n_views``) and augmented independently (Kang et al. 2025). For the same
    number of iterations every sample is seen :math:`V` times less often, so the recall
    interval (the number of iterations between two exposures of the same sample) grows by a
    factor :math:`V`, while each exposure is richer. Augmentation: additive Gaussian noise of
    standard deviation ``noise_std`` and random dropout of a fraction ``drop`` of the features
    (generic augmentations that also apply to permuted inputs); the inputs are clipped to
    [0, 1].

    Parameters
    ----------
    n_views : int
        Views per sample, :math:`V` (>= 1); ``batch_size`` must be a multiple of it.
    noise_std : float
        Standard deviation of the additive noise.
    drop : float
        Fraction of features set to zero in each view, in [0, 1).
    base : SequentialSchedule or None
        Schedule deciding the source task of each distinct sample (default sequential; a
        :class:`PowerLawRehearsal` combines both).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import ViewBatchReplay
    >>> tasks, idx = ViewBatchReplay(n_views=2).plan([10], 0, 1, 4, np.random.default_rng(0))
    >>> bool(idx[0, 0] == idx[0, 1]) and bool(idx[0, 2] == idx[0, 3])
    True
    """

    def __init__(self, n_views=4, *, noise_std=0.05, drop=0.1, base=None):
        self.n_views = check_size("n_views", n_views, minimum=1)
        self.noise_std = check_positive("noise_std", noise_std, allow_zero=True)
        self.drop = check_positive("drop", drop, allow_zero=True)
        if self.drop >= 1:
            raise ValueError(f"drop must be in [0, 1), got {drop!r}")
        base = SequentialSchedule() if base is None else base
        if not isinstance(base, SequentialSchedule) or isinstance(base, ViewBatchReplay):
            raise TypeError(f"base must be a SequentialSchedule or PowerLawRehearsal, got {base!r}")
        self.base = base
        self.needs_past_tasks = base.needs_past_tasks

    def plan(self, task_sizes, phase, n_iterations, batch_size, random_state):
        batch_size = check_size("batch_size", batch_size, minimum=1)
        if batch_size % self.n_views:
            raise ValueError(f"batch_size={batch_size} must be a multiple of n_views="
                             f"{self.n_views}")
        tasks, idx = self.base.plan(task_sizes, phase, n_iterations, batch_size // self.n_views,
                                    random_state)
        return np.repeat(tasks, self.n_views, axis=1), np.repeat(idx, self.n_views, axis=1)

    plan.__doc__ = SequentialSchedule.plan.__doc__

    def transform(self, X, random_state):
        """Augment each view independently: noise, feature dropout, clipping to [0, 1].

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_features)
            Gathered minibatch.
        random_state : torch.Generator
            Generator on the device of ``X``.

        Returns
        -------
        X : torch.Tensor
        """
        import torch

        if self.noise_std == 0 and self.drop == 0:
            return X
        out = X
        if self.noise_std:
            out = out + self.noise_std * torch.randn(X.shape, generator=random_state,
                                                     device=X.device, dtype=X.dtype)
        if self.drop:
            keep = torch.rand(X.shape, generator=random_state, device=X.device) >= self.drop
            out = out * keep
        return out.clamp_(0.0, 1.0)

    def __repr__(self):
        return (f"ViewBatchReplay(n_views={self.n_views}, noise_std={self.noise_std:g}, "
                f"drop={self.drop:g}, base={self.base!r})")
