r"""The pieces of the three-factor readout rule, each a plain function.

The rule that :class:`~neurosim.reservoir.ThreeFactorReadout` runs inside the simulation step
(through :class:`neurosim.spiking.ThreeFactorRule`, on either backend) is

.. math::

    y_k = \sum_j W_{kj} x_j, \qquad
    e_{kj} \leftarrow \lambda\, e_{kj} + x_j\, g(y_k), \qquad
    W_{kj} \leftarrow W_{kj} + \eta\, G(t)\, M_k(t)\, e_{kj}\, \Delta t,

with :math:`x` the filtered spike trains of the reservoir (Hz), :math:`\lambda =
e^{-\Delta t/\tau_e}`, the eligibility :func:`eligibility_step`, the third factor
:func:`prediction_error` (:math:`M = \text{teacher} - y`, signed), the gate
:func:`attention_gate` and the update :func:`weight_step`; :func:`three_factor_step` chains
them as the engine does. Swap a piece by passing your own third factor or gate to
:class:`~neurosim.reservoir.ThreeFactorReadout`. :func:`replay_consolidation` is the offline
step that runs between blocks, and :func:`traces_at` recomputes the filtered spike trains from
recorded spikes (for replay).
"""

from __future__ import annotations

import numpy as np

from .._utils import check_positive, check_random_state, check_size


def eligibility_step(e, x, y=None, *, decay, post="none"):
    r"""One step of the eligibility trace: :math:`e_{kj} \leftarrow \lambda e_{kj} + x_j g(y_k)`.

    Parameters
    ----------
    e : ndarray of shape (n_out, n_in)
        Eligibility before the step.
    x : ndarray of shape (n_in,)
        Presynaptic activity (the reservoir's filtered spike trains).
    y : ndarray of shape (n_out,) | None
        Readout output (needed for ``post="rate"``).
    decay : float
        :math:`\lambda = e^{-\Delta t / \tau_e}`, in [0, 1).
    post : {"none", "rate"}
        ``"none"`` (default): :math:`g = 1`, a presynaptic eligibility (the delta rule), which
        learns from ``W = 0``. ``"rate"``: :math:`g(y) = y`, Hebbian pre x post; with ``W = 0``
        the output is 0, so the eligibility stays 0 and learning never starts.

    Returns
    -------
    e : ndarray of shape (n_out, n_in)
        A new array.

    Notes
    -----
    The eligibility accumulates ``x`` once per step, so at steady state it is about
    :math:`x / (1 - \lambda) \approx x \tau_e / \Delta t`;
    :class:`~neurosim.reservoir.ThreeFactorReadout` divides its learning rate accordingly.
    """
    if post == "none":
        g = np.ones(e.shape[0])
    elif post == "rate":
        if y is None:
            raise ValueError("post='rate' needs the readout output y")
        g = np.asarray(y, dtype=float)
    else:
        raise ValueError(f"post must be 'none' or 'rate', got {post!r}")
    return e * decay + np.asarray(x)[None, :] * g[:, None]


def prediction_error(teacher, y):
    """The signed prediction error, the default third factor: ``M = teacher - y``.

    Parameters
    ----------
    teacher : float | ndarray of shape (n_out,)
        What happened (1 at an event, 0 otherwise, as :meth:`WhatWhenTask.event_teacher`).
    y : ndarray of shape (n_out,)
        What the readout predicted.

    Returns
    -------
    M : ndarray of shape (n_out,)
        Positive when the event was under-predicted, negative when over-predicted.
    """
    return np.asarray(teacher, dtype=float) - np.asarray(y, dtype=float)


def weight_step(W, e, M, G, *, eta, dt, w_min=None, w_max=None):
    r"""The weight update :math:`W \leftarrow W + \eta\, G\, M_k\, e_{kj}\, \Delta t`.

    Parameters
    ----------
    W, e : ndarray of shape (n_out, n_in)
        Weights and eligibility.
    M : ndarray of shape (n_out,)
        Third factor (e.g. :func:`prediction_error`).
    G : float
        Gate, 0 (closed) to 1 (open).
    eta : float
        Learning rate (per ms), as the engine's :class:`~neurosim.spiking.ThreeFactorRule`.
    dt : float
        Time step (ms).
    w_min, w_max : float | None
        Optional bounds.

    Returns
    -------
    W : ndarray of shape (n_out, n_in)
        A new array.
    """
    f = eta * G * np.asarray(M, dtype=float)
    out = W + f[:, None] * e * dt
    if w_min is not None or w_max is not None:
        out = np.clip(out, -np.inf if w_min is None else w_min, np.inf if w_max is None else w_max)
    return out


def three_factor_step(W, e, x, teacher, G, *, eta, decay, dt, post="none"):
    """One step of the whole rule, in the engine's order (readout, eligibility, update).

    Parameters
    ----------
    W, e : ndarray of shape (n_out, n_in)
        Weights and eligibility before the step.
    x : ndarray of shape (n_in,)
        Filtered spike trains at the start of the step.
    teacher : ndarray of shape (n_out,)
        Target at this step.
    G : float
        Gate at this step.
    eta, decay, dt, post
        As for :func:`eligibility_step` and :func:`weight_step`.

    Returns
    -------
    W, e, y : ndarray
        Updated weights and eligibility, and the output ``y = W x`` of this step.
    """
    y = W @ x
    e = eligibility_step(e, x, y, decay=decay, post=post)
    W = weight_step(W, e, prediction_error(teacher, y), G, eta=eta, dt=dt)
    return W, e, y


def attention_gate(task, dt, *, start=0.0, stop=None):
    """An attention gate open in every trial's task-relevant window.

    Parameters
    ----------
    task : WhatWhenTask
        The task.
    dt : float
        Sampling step (ms).
    start, stop : float | None
        Window (ms from cue onset) in which the gate is open; ``stop=None`` means the end of
        the trial (``task.trial_ms``). The gate is closed in the inter-trial interval.

    Returns
    -------
    gate : ndarray of shape (n_samples,)
        1 in the window, 0 elsewhere, over the whole task.

    Raises
    ------
    ValueError
        If the window is empty, so that the gate would never open.
    """
    task._check_dt(dt)
    stop = task.trial_ms if stop is None else float(stop)
    start = float(start)
    if not (0 <= start < stop <= task.trial_ms):
        raise ValueError(f"the gate's window [{start:g}, {stop:g}) ms must be non-empty and "
                         f"within the trial [0, {task.trial_ms:g}) ms; otherwise the gate never "
                         "opens and nothing is learned")
    n_per = int(round(task.period_ms / dt))
    t = np.arange(n_per) * dt
    one = ((t >= start) & (t < stop)).astype(float)
    if not one.any():
        raise ValueError(f"the gate's window [{start:g}, {stop:g}) ms holds no sample of "
                         f"dt={dt:g} ms: the gate never opens")
    return np.tile(one, task.n_trials)


def traces_at(spike_steps, spike_neurons, n, steps, *, tau, increment, dt, x0=None,
              step0=0):
    r"""The filtered spike trains at the start of given steps, from recorded spikes.

    The engine's trace (:class:`neurosim.spiking.Trace`) decays by :math:`e^{-\Delta t/\tau}`
    in every step and jumps by ``increment`` at each spike, after the decay; a readout uses the
    value at the start of a step. So at the start of step ``s``

    .. math:: x_i(s) = x_i(s_0) \lambda^{s - s_0} + \text{increment} \sum_{m} \lambda^{s - 1 - m}

    over the spikes of neuron ``i`` in steps :math:`s_0 \le m < s`.

    Parameters
    ----------
    spike_steps, spike_neurons : ndarray of int
        Step and neuron (0 .. n - 1) of every spike, steps counted like ``steps``.
    n : int
        Number of neurons.
    steps : ndarray of int
        Steps at which to evaluate the traces (>= ``step0``).
    tau, increment, dt : float
        The trace's parameters and the time step.
    x0 : ndarray of shape (n,) | None
        Traces at the start of step ``step0`` (None: zeros).
    step0 : int
        Step at which ``x0`` holds.

    Returns
    -------
    x : ndarray of shape (len(steps), n)
    """
    steps = np.asarray(steps, dtype=np.int64)
    spike_steps = np.asarray(spike_steps, dtype=np.int64)
    spike_neurons = np.asarray(spike_neurons, dtype=np.int64)
    lam = np.exp(-dt / tau)
    out = np.zeros((steps.size, n))
    if x0 is not None:
        out += np.asarray(x0, dtype=float)[None, :] * lam ** (steps - step0)[:, None]
    # spikes older than 40 time constants contribute less than 4e-18 of a jump
    horizon = int(np.ceil(40 * tau / dt))
    order = np.argsort(spike_steps, kind="stable")
    ss, sn = spike_steps[order], spike_neurons[order]
    for r, s in enumerate(steps):
        lo = np.searchsorted(ss, max(s - horizon, step0), side="left")
        hi = np.searchsorted(ss, s, side="left")
        if hi > lo:
            np.add.at(out[r], sn[lo:hi], increment * lam ** (s - 1 - ss[lo:hi]))
    return out


def replay_consolidation(W, X, targets, *, eta=0.5, epochs=5, random_state=None):
    r"""Offline consolidation: replay stored activity and apply the three-factor rule.

    Between blocks, the activity recorded at the moments when a stimulus identity was observed
    is replayed in random order, and each replayed sample updates the weights with the same
    three factors as online learning -- eligibility :math:`x` (presynaptic), third factor the
    prediction error :math:`M = t - W x`, gate open -- normalised by the sample's energy
    (normalised least mean squares, which keeps the step stable whatever the firing rates):

    .. math:: W \leftarrow W + \eta \frac{(t - W x)\, x^T}{x^T x}.

    Parameters
    ----------
    W : ndarray of shape (n_out, n_in)
        Weights before consolidation (not modified).
    X : ndarray of shape (n_samples, n_in)
        Replayed activity (e.g. from :func:`traces_at`).
    targets : ndarray of shape (n_samples, n_out)
        What each sample should give (e.g. the one-hot identity).
    eta : float
        Step size, in (0, 2) for stability.
    epochs : int
        Passes over the samples.
    random_state : None | int | numpy.random.Generator
        Seed of the replay order.

    Returns
    -------
    W : ndarray of shape (n_out, n_in)
        Consolidated weights.
    """
    W = np.array(W, dtype=float)
    X = np.asarray(X, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if X.ndim != 2 or X.shape[1] != W.shape[1]:
        raise ValueError(f"X must have shape (n_samples, {W.shape[1]}), got {X.shape}")
    if targets.shape != (X.shape[0], W.shape[0]):
        raise ValueError(f"targets must have shape ({X.shape[0]}, {W.shape[0]}) (one row per "
                         f"sample, one column per output), got {targets.shape}")
    eta = check_positive("eta", eta)
    if eta >= 2:
        raise ValueError(f"eta must lie in (0, 2) for the normalised update to be stable, got "
                         f"{eta}")
    epochs = check_size("epochs", epochs, minimum=0)
    rng = check_random_state(random_state)
    energy = np.einsum("ij,ij->i", X, X)
    for _ in range(epochs):
        for s in rng.permutation(X.shape[0]):
            if energy[s] <= 0:
                continue
            M = prediction_error(targets[s], W @ X[s])
            W += eta * np.outer(M, X[s]) / energy[s]
    return W
