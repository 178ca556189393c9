"""Continual learners with memory or consolidation: EWC, experience replay and the fast/slow-weight
learner, and :func:`make_learner`."""

from __future__ import annotations

import numpy as np
import torch

from neurosim._docs import fill_doc

from .._utils import check_positive, check_random_state, check_size
from ._base import ContinualLearner, FineTuning, JointTraining

__all__ = [
    "EWC", "ExperienceReplay", "FastSlowLearner", "LEARNERS", "make_learner", "reservoir_slots",
]


def _fisher_diagonal(model, X, y, n_samples, rng, mask=None):
    """Empirical Fisher information diagonal: mean over samples of squared log-lik gradients."""
    from torch.func import functional_call, grad, vmap

    n = X.shape[0]
    if n > n_samples:
        sel = torch.as_tensor(np.sort(rng.choice(n, size=n_samples, replace=False)),
                              device=X.device)
        X, y = X[sel], y[sel]
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, x, t):
        logits = functional_call(model, p, (x[None],))
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return torch.nn.functional.cross_entropy(logits, t[None])

    out = {k: torch.zeros_like(v) for k, v in params.items()}
    for start in range(0, X.shape[0], 256):
        g = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X[start:start + 256],
                                                      y[start:start + 256])
        for k in out:
            out[k] += (g[k] ** 2).sum(0)
    return [out[k] / X.shape[0] for k, _ in model.named_parameters()]


def _quadratic_penalty(params, importance, anchor, strength, lr):
    """(1/2) sum_j min(strength * importance_j, 1/lr) (p_j - anchor_j)^2.

    The stiffness of each weight is capped at 1 / lr: beyond it a plain SGD step on the
    penalty would overshoot the anchor and the weights would oscillate and diverge.
    """
    total = 0.0
    for p, w, a in zip(params, importance, anchor):
        total = total + ((strength * w).clamp(max=1.0 / lr) * (p - a) ** 2).sum()
    return 0.5 * total


@fill_doc
class EWC(ContinualLearner):
    """Elastic weight consolidation, online version (Kirkpatrick et al. 2017; Schwarz 2018).

    After task :math:`t` the diagonal empirical Fisher information :math:`F_t` is computed at
    the learned weights :math:`\\theta^*_t`, the importance is accumulated,
    :math:`\\Omega \\leftarrow \\gamma \\Omega + F_t`, and later tasks minimise

    .. math:: L(\\theta) + \\frac{1}{2} \\sum_j \\min(\\lambda \\Omega_j, 1/\\eta)
              (\\theta_j - \\theta^*_{t,j})^2

    The stiffness :math:`\\lambda \\Omega_j` of each weight is capped at :math:`1/\\eta`
    (:math:`\\eta`: the learning rate), beyond which an SGD step on the penalty would
    overshoot the anchor and diverge.

    Parameters
    ----------
    ewc_lambda : float
        Penalty strength :math:`\\lambda`.
    decay : float
        Decay :math:`\\gamma` of the older importances, in [0, 1] (1: plain sum).
    fisher_samples : int
        Training samples per task used to estimate the Fisher information.
    %(continual_learner_params)s

    Examples
    --------
    >>> from neurosim.continual import EWC
    >>> EWC(ewc_lambda=100.0).ewc_lambda
    100.0
    """

    name = "ewc"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None, ewc_lambda=100.0, decay=1.0, fisher_samples=500):
        super().__init__(hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                         momentum=momentum, batch_size=batch_size, n_iterations=n_iterations,
                         eval_every=eval_every, eval_size=eval_size, schedule=schedule,
                         device=device, random_state=random_state)
        self.ewc_lambda = ewc_lambda
        self.decay = decay
        self.fisher_samples = fisher_samples

    def _validate_params(self):
        super()._validate_params()
        check_positive("ewc_lambda", self.ewc_lambda, allow_zero=True)
        check_positive("decay", self.decay, allow_zero=True)
        if self.decay > 1:
            raise ValueError(f"decay must be in [0, 1], got {self.decay!r}")
        check_size("fisher_samples", self.fisher_samples, minimum=1)

    def _init_state(self):
        self.importance_ = None
        self.anchor_ = None

    def _penalty(self):
        if self.importance_ is None or self.ewc_lambda == 0:
            return None
        return _quadratic_penalty(self.model_.parameters(), self.importance_, self.anchor_,
                                  float(self.ewc_lambda), float(self.learning_rate))

    def _after_task(self, phase, X, y):
        mask = self._task_masks[phase] if self._task_masks else None
        fisher = _fisher_diagonal(self.model_, X, y, int(self.fisher_samples), self._rng, mask)
        if self.importance_ is None:
            self.importance_ = fisher
        else:
            self.importance_ = [float(self.decay) * w + f for w, f in zip(self.importance_, fisher)]
        self.anchor_ = [p.detach().clone() for p in self.model_.parameters()]


@fill_doc
class ExperienceReplay(ContinualLearner):
    """Experience replay from a bounded memory filled by reservoir sampling.

    Every minibatch of the current task is joined by ``replay_batch_size`` samples drawn
    uniformly from the memory. After each task its training samples are offered to the memory
    one by one by reservoir sampling (Vitter 1985, algorithm R): the :math:`n`-th sample seen
    is kept with probability :math:`\\min(1, M / n)` and replaces a uniformly chosen slot, so
    the memory is at any time a uniform sample of everything seen, of size at most :math:`M`.

    Parameters
    ----------
    buffer_size : int
        Memory capacity :math:`M` (samples, >= 0; 0 is fine-tuning).
    replay_batch_size : int or None
        Replayed samples per minibatch (None: ``batch_size``).
    %(continual_learner_params)s

    Attributes
    ----------
    buffer_X_, buffer_y_ : torch.Tensor
        The memory.
    n_seen_ : int
        Samples offered to the memory so far.

    Examples
    --------
    >>> from neurosim.continual import ExperienceReplay
    >>> ExperienceReplay(buffer_size=200).buffer_size
    200
    """

    name = "replay"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None, buffer_size=500, replay_batch_size=None):
        super().__init__(hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                         momentum=momentum, batch_size=batch_size, n_iterations=n_iterations,
                         eval_every=eval_every, eval_size=eval_size, schedule=schedule,
                         device=device, random_state=random_state)
        self.buffer_size = buffer_size
        self.replay_batch_size = replay_batch_size

    def _validate_params(self):
        super()._validate_params()
        check_size("buffer_size", self.buffer_size, minimum=0)
        if self.replay_batch_size is not None:
            check_size("replay_batch_size", self.replay_batch_size, minimum=1)

    def _init_state(self):
        d = self._device
        self.buffer_X_ = torch.empty((0, self.n_features_in_), device=d)
        self.buffer_y_ = torch.empty(0, dtype=torch.int64, device=d)
        self._buffer_mask = None
        self.n_seen_ = 0

    def _extra_batch(self):
        n = self.buffer_y_.shape[0]
        if n == 0:
            return None
        k = int(self.replay_batch_size or self.batch_size)
        rows = torch.randint(n, (k,), generator=self._torch_gen, device=self._device)
        mask = None if self._buffer_mask is None else self._buffer_mask[rows]
        return self.buffer_X_[rows], self.buffer_y_[rows], mask

    def _after_task(self, phase, X, y):
        M = int(self.buffer_size)
        if M == 0:
            return
        n_new = X.shape[0]
        order = self._rng.permutation(n_new)  # the order in which the task's samples stream by
        slots, src = reservoir_slots(self.n_seen_, M, n_new, self._rng)
        self.n_seen_ += n_new
        mask_row = self._task_masks[phase] if self._task_masks else None
        size = int(min(M, self.n_seen_))
        if self.buffer_y_.shape[0] < size:  # grow the memory to its new size
            pad = size - self.buffer_y_.shape[0]
            self.buffer_X_ = torch.cat([self.buffer_X_, X.new_zeros((pad, X.shape[1]))])
            self.buffer_y_ = torch.cat([self.buffer_y_, y.new_zeros(pad)])
            if mask_row is not None:
                old = (self._buffer_mask if self._buffer_mask is not None
                       else mask_row.new_zeros((0, mask_row.shape[0])))
                self._buffer_mask = torch.cat([old, mask_row.expand(pad, -1)])
        if slots.size:
            s = torch.as_tensor(slots, device=self._device)
            r = torch.as_tensor(order[src], device=self._device)
            self.buffer_X_[s] = X[r]
            self.buffer_y_[s] = y[r]
            if mask_row is not None:
                self._buffer_mask[s] = mask_row


@fill_doc
def reservoir_slots(n_seen, capacity, n_new, random_state):
    """Reservoir sampling (algorithm R): where ``n_new`` streamed samples go in the memory.

    Sample ``i`` of the new ones (the ``n_seen + i + 1``-th overall) goes to slot
    ``n_seen + i`` while the memory is not full; afterwards it is kept with probability
    ``capacity / (n_seen + i + 1)`` and replaces a uniformly chosen slot.

    Parameters
    ----------
    n_seen : int
        Samples streamed before these.
    capacity : int
        Memory size :math:`M`.
    n_new : int
        Number of new samples.
    %(random_state)s

    Returns
    -------
    slots, sources : ndarray of int64
        Slot written and index of the new sample that ends up there (the last of the new
        samples written to that slot), in streaming order; each slot appears at most once.

    Examples
    --------
    >>> from neurosim.continual import reservoir_slots
    >>> slots, src = reservoir_slots(0, 3, 2, 0)
    >>> slots.tolist(), src.tolist()
    ([0, 1], [0, 1])
    """
    n_seen = check_size("n_seen", n_seen, minimum=0)
    capacity = check_size("capacity", capacity, minimum=0)
    n_new = check_size("n_new", n_new, minimum=0)
    rng = check_random_state(random_state)
    count = n_seen + np.arange(n_new, dtype=np.int64)  # samples seen before each new one
    r = rng.integers(0, count + 1) if n_new else count
    slot = np.where(count < capacity, count, r)
    src = np.flatnonzero(slot < capacity)
    slot = slot[src]
    # only the last write to a slot survives
    _, last = np.unique(slot[::-1], return_index=True)
    keep = np.sort(slot.size - 1 - last)
    return slot[keep].astype(np.int64), src[keep].astype(np.int64)


@fill_doc
class FastSlowLearner(ContinualLearner):
    """Fast/slow-weight learner with two-step consolidation (after Wang et al. 2021).

    Two copies of the network's weights interact. The *fast* weights :math:`\\theta_F` learn the
    current task by SGD, held near the *slow* weights :math:`\\theta_S` in proportion to each
    synapse's consolidated importance :math:`\\Omega` (meta-plasticity: synapses that matter for
    past tasks become stiff):

    .. math:: \\theta_F \\leftarrow \\theta_F - \\eta \\nabla_{\\theta_F} \\Big[ L(\\theta_F)
              + \\frac{\\lambda}{2} \\sum_j \\Omega_j (\\theta_{F,j} - \\theta_{S,j})^2 \\Big]

    The slow weights integrate the fast ones, more slowly where the importance is high,
    every ``slow_every`` iterations (step 1, within the task):

    .. math:: \\theta_S \\leftarrow \\theta_S + \\beta\\, \\rho \\odot (\\theta_F - \\theta_S),
              \\qquad \\rho_j = \\frac{1}{1 + c\\, \\Omega_j}

    At the end of each task (step 2, consolidation) the slow weights absorb what the fast
    weights learned, :math:`\\theta_S \\leftarrow \\theta_S + \\rho \\odot (\\theta_F - \\theta_S)`, the
    importance is updated with the diagonal Fisher information of the task at the new slow
    weights, :math:`\\Omega \\leftarrow \\Omega + F_t`, and the fast weights restart from the slow
    ones. Predictions use the slow (consolidated) weights.

    The paper (arXiv:2104.09034) describes interdependent fast/slow weights inspired by
    meta-plasticity and a two-step consolidation; its exact update equations were not
    available to us, so the equations above are this package's formulation of that idea, not
    a reproduction of the paper's.

    Parameters
    ----------
    consolidation : float
        Penalty strength :math:`\\lambda` tying fast to slow weights.
    slow_rate : float
        Step :math:`\\beta` of the within-task slow update, in (0, 1].
    slow_every : int
        Iterations between slow updates.
    metaplasticity : float
        :math:`c`: how fast plasticity :math:`\\rho` falls with importance.
    fisher_samples : int
        Training samples per task used to estimate the Fisher information.
    %(continual_learner_params)s

    Attributes
    ----------
    slow_model_ : torch.nn.Module
        The network with the slow weights (used to predict).
    slow_weights_ : list of torch.Tensor
        :math:`\\theta_S`: the parameters of ``slow_model_``, in the order of
        ``model_.parameters()``.
    importance_ : list of torch.Tensor or None
        :math:`\\Omega`.

    Examples
    --------
    >>> from neurosim.continual import FastSlowLearner, permuted_digits
    >>> learner = FastSlowLearner(n_iterations=50, random_state=0)
    >>> learner = learner.fit_stream(permuted_digits(n_tasks=2, random_state=0))
    >>> len(learner.slow_weights_)
    4
    """

    name = "fastslow"

    def __init__(self, hidden_sizes=(100,), learning_rate=0.1, momentum=0.0, batch_size=32,
                 n_iterations=100, eval_every=None, eval_size=None, schedule=None, device="cpu",
                 random_state=None, consolidation=300.0, slow_rate=0.5, slow_every=10,
                 metaplasticity=30.0, fisher_samples=500):
        super().__init__(hidden_sizes=hidden_sizes, learning_rate=learning_rate,
                         momentum=momentum, batch_size=batch_size, n_iterations=n_iterations,
                         eval_every=eval_every, eval_size=eval_size, schedule=schedule,
                         device=device, random_state=random_state)
        self.consolidation = consolidation
        self.slow_rate = slow_rate
        self.slow_every = slow_every
        self.metaplasticity = metaplasticity
        self.fisher_samples = fisher_samples

    def _validate_params(self):
        super()._validate_params()
        check_positive("consolidation", self.consolidation, allow_zero=True)
        check_positive("slow_rate", self.slow_rate)
        if self.slow_rate > 1:
            raise ValueError(f"slow_rate must be in (0, 1], got {self.slow_rate!r}")
        check_size("slow_every", self.slow_every, minimum=1)
        check_positive("metaplasticity", self.metaplasticity, allow_zero=True)
        check_size("fisher_samples", self.fisher_samples, minimum=1)

    def _init_state(self):
        import copy

        self.slow_model_ = copy.deepcopy(self.model_)
        for p in self.slow_model_.parameters():
            p.requires_grad_(False)
        self.slow_weights_ = list(self.slow_model_.parameters())
        self.importance_ = None
        self._plasticity = None

    def _penalty(self):
        if self.importance_ is None or self.consolidation == 0:
            return None
        return _quadratic_penalty(self.model_.parameters(), self.importance_, self.slow_weights_,
                                  float(self.consolidation), float(self.learning_rate))

    @torch.no_grad()
    def _move_slow(self, rate):
        fast = list(self.model_.parameters())
        for i, (s, f) in enumerate(zip(self.slow_weights_, fast)):
            step = rate if self._plasticity is None else rate * self._plasticity[i]
            s.add_(step * (f - s))

    def _after_step(self, step):
        if step % int(self.slow_every) == 0:
            self._move_slow(float(self.slow_rate))

    def _after_task(self, phase, X, y):
        self._move_slow(1.0)  # step 2: consolidate into the slow weights
        with torch.no_grad():
            for f, s in zip(self.model_.parameters(), self.slow_weights_):
                f.copy_(s)  # the fast weights restart from the consolidated ones
        self.optimizer_.state.clear()
        mask = self._task_masks[phase] if self._task_masks else None
        fisher = _fisher_diagonal(self.model_, X, y, int(self.fisher_samples), self._rng, mask)
        self.importance_ = (fisher if self.importance_ is None
                            else [w + f for w, f in zip(self.importance_, fisher)])
        c = float(self.metaplasticity)
        self._plasticity = [1.0 / (1.0 + c * w) for w in self.importance_]

    def _eval_model(self):
        return self.slow_model_


LEARNERS = {
    "finetune": FineTuning, "ewc": EWC, "replay": ExperienceReplay, "joint": JointTraining,
    "fastslow": FastSlowLearner,
}


def make_learner(name, **params):
    """Build a learner by name.

    Parameters
    ----------
    name : {"finetune", "ewc", "replay", "joint", "fastslow"}
        The method.
    **params
        Its parameters.

    Returns
    -------
    learner : ContinualLearner

    Examples
    --------
    >>> from neurosim.continual import make_learner
    >>> make_learner("replay", buffer_size=100)
    ExperienceReplay(buffer_size=100)
    """
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; expected one of {sorted(LEARNERS)}")
    return LEARNERS[name](**params)
