"""Ready-made networks."""

from __future__ import annotations

import numpy as np

from .._utils import check_random_state, check_size
from ._groups import Izhikevich
from ._inputs import GaussianNoise, TimedInput
from ._monitors import SpikeMonitor, StateMonitor
from ._network import Network
from ._synapses import Synapses


def izhikevich_network(
    n=1000, p=1.0, *, exc_fraction=0.8, w_exc=0.5, w_inh=-1.0, weight_scale=None,
    noise_exc=5.0, noise_inh=2.0, noise=None, noise_dt=None, delay=0.0, dt=1.0, record_v=(),
    random_state=None,
):
    """Build the heterogeneous Izhikevich (2003) network.

    Excitatory neurons (indices ``0 .. n_exc-1``) range from regular spiking to chattering,
    inhibitory ones from fast spiking to low-threshold spiking, through a random ``r ~ U(0, 1)``
    per neuron: ``a=0.02, b=0.2, c=-65+15r^2, d=8-6r^2`` (excitatory) and
    ``a=0.02+0.08r, b=0.25-0.05r, c=-65, d=2`` (inhibitory). Each pair is connected with
    probability ``p``; weights are ``w_exc * U(0, 1)`` from excitatory and ``w_inh * U(0, 1)`` from
    inhibitory cells, multiplied by ``weight_scale``. Synapses are one-step current pulses
    (``tau_syn=0``), as in Izhikevich's ``net.m``. The thalamic input is Gaussian noise of standard
    deviation ``noise_exc`` / ``noise_inh`` per 1 ms, drawn every step.

    ``net.m`` advances 1 ms per step and holds its input (noise and synaptic) for that millisecond.
    For another step ``dt`` the network is built so that a spike delivers the same charge
    (weights times ``1 / dt``) and the noise integrated over 1 ms has the same variance (standard
    deviation times ``1 / sqrt(dt)``): run it with the ``dt`` it was built for.

    Parameters
    ----------
    n : int
        Number of neurons.
    p : float
        Connection probability (1.0 gives the original dense network, autapses included).
    exc_fraction : float
        Fraction of excitatory neurons.
    w_exc, w_inh : float
        Weight scales of the original (``0.5`` and ``-1``).
    weight_scale : float | None
        Multiplies all weights. None gives ``1000 / (n * p)``: the expected total input per neuron
        stays that of the original 1,000-neuron dense network.
    noise_exc, noise_inh : float
        Standard deviation of the thalamic noise per step.
    noise : array of shape (n_times, n) | None
        If given, this array is used as the thalamic input instead of backend-drawn noise
        (:class:`TimedInput`), e.g. to compare backends with identical input.
    noise_dt : float | None
        Sampling step (ms) of ``noise``; required with ``noise``.
    delay : float
        Synaptic delay (ms), 0 as in the original.
    dt : float
        Time step (ms) the network will be run with (see above).
    record_v : sequence of int
        Neurons whose ``v`` and ``u`` are recorded every step.
    random_state : None | int | numpy.random.Generator
        Seed for the parameters and connectivity (not the backend's noise).

    Returns
    -------
    network : Network
        Group ``"neurons"``, synapses ``"recurrent"``, a spike monitor and the input.

    References
    ----------
    .. [1] Izhikevich, E. M. (2003). Simple model of spiking neurons. IEEE Transactions on Neural
       Networks, 14(6), 1569-1572.
    """
    n = check_size("n", n, minimum=2)
    if not 0 < exc_fraction < 1:
        raise ValueError(f"exc_fraction must lie in (0, 1), got {exc_fraction}")
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    n_inh = n - n_exc
    re = rng.random(n_exc)
    ri = rng.random(n_inh)
    a = np.concatenate([np.full(n_exc, 0.02), 0.02 + 0.08 * ri])
    b = np.concatenate([np.full(n_exc, 0.2), 0.25 - 0.05 * ri])
    c = np.concatenate([-65 + 15 * re**2, np.full(n_inh, -65.0)])
    d = np.concatenate([8 - 6 * re**2, np.full(n_inh, 2.0)])
    neurons = Izhikevich(n, a, b, c, d, name="neurons")
    if weight_scale is None:
        weight_scale = 1000.0 / (n * p)
    if not dt > 0:
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    scale = float(weight_scale) / dt
    std_exc = noise_exc / np.sqrt(dt)
    std_inh = noise_inh / np.sqrt(dt)

    if p == 1.0:
        i = np.repeat(np.arange(n, dtype=np.int32), n)
        j = np.tile(np.arange(n, dtype=np.int32), n)
        syn = Synapses(neurons, neurons, i, j, _izh_weights(rng, i, n_exc, w_exc, w_inh, scale),
                       delay=delay, name="recurrent")
    else:
        syn = Synapses.random(neurons, neurons, p, 0.0, delay=delay, random_state=rng,
                              name="recurrent")
        syn.w = _izh_weights(rng, syn.i, n_exc, w_exc, w_inh, scale)
    if noise is None:
        drive = GaussianNoise(neurons, std=np.concatenate(
            [np.full(n_exc, float(std_exc)), np.full(n_inh, float(std_inh))]))
    else:
        if noise_dt is None:
            raise ValueError("noise_dt (ms) is required when noise is given")
        drive = TimedInput(neurons, noise, dt=noise_dt)
    parts = [neurons, syn, drive, SpikeMonitor(neurons)]
    record_v = np.asarray(record_v, dtype=np.int64)
    if record_v.size:
        parts.append(StateMonitor(neurons, ("v", "u"), record=record_v))
    meta = {
        "model": "izhikevich2003", "n": n, "n_exc": n_exc, "n_inh": n_inh, "p": float(p),
        "w_exc": float(w_exc), "w_inh": float(w_inh), "weight_scale": float(weight_scale),
        "noise_exc": float(noise_exc), "noise_inh": float(noise_inh), "delay_ms": float(delay),
        # what the description holds after the dt scaling
        "weight_multiplier": scale, "noise_std_exc_per_step": float(std_exc),
        "noise_std_inh_per_step": float(std_inh),
        "noise": "backend" if noise is None else "array", "dt": float(dt),
    }
    return Network(*parts, meta=meta)


def _izh_weights(rng, i, n_exc, w_exc, w_inh, scale):
    u = rng.random(i.size)
    return np.where(i < n_exc, w_exc * scale, w_inh * scale) * u


def izhikevich_noise(n, n_steps, *, exc_fraction=0.8, noise_exc=5.0, noise_inh=2.0, dt=1.0,
                     random_state=None):
    """Draw the thalamic input of :func:`izhikevich_network` as an explicit array.

    Parameters
    ----------
    n : int
        Number of neurons.
    n_steps : int
        Number of time samples.
    exc_fraction, noise_exc, noise_inh, dt
        As for :func:`izhikevich_network` (``n_steps`` samples of step ``dt``).
    random_state : None | int | numpy.random.Generator
        Seed.

    Returns
    -------
    noise : ndarray of shape (n_steps, n)
        Pass as ``izhikevich_network(..., noise=noise, noise_dt=dt)``.
    """
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    std = np.concatenate([np.full(n_exc, float(noise_exc)), np.full(n - n_exc, float(noise_inh))])
    std = std / np.sqrt(dt)
    return rng.standard_normal((check_size("n_steps", n_steps), n)) * std
