"""Ready-made networks."""

from __future__ import annotations

import numpy as np

from .._utils import check_positive, check_random_state, check_size
from ._groups import LIF, Izhikevich, Receptor
from ._inputs import GaussianNoise, TimedInput
from ._monitors import SpikeMonitor, StateMonitor
from ._network import Network, format_bytes
from ._synapses import Synapses


def _check_synapse_memory(n_synapses, what, check_memory):
    """Refuse to allocate ``n_synapses`` synapses (16 bytes each, twice: the description and the
    engine's copy) when they do not fit in the available memory."""
    if not check_memory:
        return
    import psutil

    need = 32 * n_synapses
    avail = psutil.virtual_memory().available
    if need > avail:
        raise MemoryError(f"{what} needs about {n_synapses:.3g} synapses, {format_bytes(need)} "
                          f"with the engine's copy, but only {format_bytes(avail)} of memory is "
                          "available; lower the connection probability, or pass "
                          "check_memory=False to build it anyway")


def _random_pairs(rng, pre, n_post, p):
    """Connect every presynaptic index in ``pre`` to each of ``n_post`` targets with probability
    ``p`` (autapses allowed, as Brian2's ``connect(p=...)``); sorted by (i, j)."""
    counts = rng.binomial(n_post, p, size=pre.size)
    i = np.repeat(pre.astype(np.int32), counts)
    j = np.empty(i.size, dtype=np.int32)
    start = 0
    for k in counts:
        if k:
            j[start:start + k] = np.sort(rng.choice(n_post, size=k, replace=False))
            start += k
    return i, j


def izhikevich_network(
    n=1000, p=None, *, exc_fraction=0.8, w_exc=0.5, w_inh=-1.0, weight_scale=None,
    noise_exc=5.0, noise_inh=2.0, noise=None, noise_dt=None, delay=0.0, dt=1.0, record_v=(),
    random_state=None, check_memory=True,
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
    p : float | None
        Connection probability (1.0 gives the original dense network, autapses included). None
        (default) gives 1.0 up to 1,000 neurons and ``1000 / n`` above, so that every neuron keeps
        the original's 1,000 inputs and large networks do not allocate ``n**2`` synapses.
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
    check_memory : bool
        Refuse (MemoryError) to allocate more synapses than the available memory holds.

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
    if p is None:
        p = 1.0 if n <= 1000 else 1000.0 / n
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    _check_synapse_memory(float(n) * n * p, f"izhikevich_network(n={n}, p={p:g})", check_memory)
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
    dt = check_positive("dt", dt)
    n = check_size("n", n)
    n_exc = int(round(exc_fraction * n))
    std = np.concatenate([np.full(n_exc, float(noise_exc)), np.full(n - n_exc, float(noise_inh))])
    std = std / np.sqrt(dt)
    return rng.standard_normal((check_size("n_steps", n_steps), n)) * std


def cuba_network(n=4000, *, exc_fraction=0.8, p=0.02, dt=0.1, plasticity=None, record_v=(),
                 random_state=None):
    r"""Build the CUBA benchmark of Brette et al. (2007), as in Brian2's ``examples/CUBA.py``.

    ``n`` leaky integrate-and-fire neurons (Vogels & Abbott 2005), 80 % excitatory, with two
    current receptors per neuron that decay exponentially, 5 ms (excitatory) and 10 ms
    (inhibitory), integrated exactly with the membrane (Brian2's ``method="exact"``):

    .. math::

        \tau_m \dot v = -(v - E_l) + g_e + g_i, \quad \tau_e \dot g_e = -g_e, \quad
        \tau_i \dot g_i = -g_i,

    with ``tau_m = 20`` ms, ``E_l = -49`` mV, threshold -50 mV, reset -60 mV, a 5 ms refractory
    period, ``v0 ~ U(-60, -50)`` mV, and every pair connected with probability ``p``: a spike adds
    ``we = 1.62`` mV to ``g_e`` (from excitatory cells) or ``wi = -9`` mV to ``g_i`` (from
    inhibitory ones).

    Parameters
    ----------
    n : int
        Number of neurons (4,000 in the benchmark).
    exc_fraction : float
        Fraction of excitatory neurons.
    p : float
        Connection probability (0.02; Brian2's speed tests use ``80 / n``).
    dt : float
        Time step (ms) the network is meant for (0.1, recorded in ``meta``).
    plasticity : STDP | None
        A rule for the excitatory synapses (their weights must then lie within its bounds), e.g.
        for the ``stdp-cuba-4000`` benchmark.
    record_v : sequence of int
        Neurons whose ``v`` is recorded every step.
    random_state : None | int | numpy.random.Generator
        Seed of the initial potentials and the connectivity.

    Returns
    -------
    network : Network
        Group ``"neurons"`` (receptors ``"exc"`` and ``"inh"``), synapses ``"exc"`` and ``"inh"``,
        a spike monitor.

    References
    ----------
    .. [1] Brette, R. et al. (2007). Simulation of networks of spiking neurons: a review of tools
       and strategies. Journal of Computational Neuroscience, 23(3), 349-398.
    """
    n = check_size("n", n, minimum=2)
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    Vt, Vr, El = -50.0, -60.0, -49.0
    v0 = Vr + rng.random(n) * (Vt - Vr)
    cells = LIF(n, tau_m=20.0, v_rest=El, v_reset=Vr, v_thresh=Vt, t_ref=5.0, v_init=v0,
                receptors=[Receptor("exc", "current", tau=5.0),
                           Receptor("inh", "current", tau=10.0)], name="neurons")
    we, wi = 60 * 0.27 / 10, -20 * 4.5 / 10
    ie, je = _random_pairs(rng, np.arange(n_exc), n, p)
    ii, ji = _random_pairs(rng, np.arange(n_exc, n), n, p)
    parts = [
        cells,
        Synapses(cells, cells, ie, je, we, receptor="exc", plasticity=plasticity, name="exc"),
        Synapses(cells, cells, ii, ji, wi, receptor="inh", name="inh"),
        SpikeMonitor(cells),
    ]
    record_v = np.asarray(record_v, dtype=np.int64)
    if record_v.size:
        parts.append(StateMonitor(cells, "v", record=record_v))
    meta = {"model": "cuba", "n": n, "n_exc": n_exc, "n_inh": n - n_exc, "p": float(p),
            "we_mV": we, "wi_mV": wi, "tau_m": 20.0, "tau_e": 5.0, "tau_i": 10.0, "E_l": El,
            "v_thresh": Vt, "v_reset": Vr, "t_ref": 5.0, "dt": float(dt),
            "plasticity": repr(plasticity)}
    return Network(*parts, meta=meta)


def coba_network(n=4000, *, exc_fraction=0.8, p=0.02, dt=0.1, record_v=(), random_state=None):
    r"""Build the COBA benchmark of Brette et al. (2007) (Vogels & Abbott 2005).

    ``n`` leaky integrate-and-fire neurons, 80 % excitatory, with two conductance receptors
    (in units of the leak conductance), integrated by exponential Euler:

    .. math::

        \tau_m \dot v = -(v - E_l) + g_e (E_e - v) + g_i (E_i - v), \quad
        \tau_e \dot g_e = -g_e, \quad \tau_i \dot g_i = -g_i,

    with ``tau_m = 20`` ms, ``E_l = -60``, ``E_e = 0``, ``E_i = -80`` mV, threshold -50 mV, reset
    -60 mV, 5 ms refractory period, ``tau_e = 5``, ``tau_i = 10`` ms, weights ``we = 0.6`` and
    ``wi = 6.7`` (6 nS and 67 nS over a 10 nS leak), connection probability ``p``, and the
    initial state of Brian's COBA benchmark script: ``v0 ~ N(-65, 5)`` mV,
    ``g_e0 ~ N(4, 1.5)``, ``g_i0 ~ N(20, 12)``.

    Parameters
    ----------
    n, exc_fraction, p, dt, record_v, random_state
        As for :func:`cuba_network`.

    Returns
    -------
    network : Network
        Group ``"neurons"`` (receptors ``"exc"`` and ``"inh"``), synapses ``"exc"`` and ``"inh"``,
        a spike monitor.
    """
    n = check_size("n", n, minimum=2)
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    El = -60.0
    v0 = El + rng.standard_normal(n) * 5 - 5
    ge0 = rng.standard_normal(n) * 1.5 + 4
    gi0 = rng.standard_normal(n) * 12 + 20
    cells = LIF(n, tau_m=20.0, v_rest=El, v_reset=-60.0, v_thresh=-50.0, t_ref=5.0, v_init=v0,
                receptors=[Receptor("exc", "conductance", tau=5.0, E_rev=0.0, g_init=ge0),
                           Receptor("inh", "conductance", tau=10.0, E_rev=-80.0, g_init=gi0)],
                name="neurons")
    we, wi = 6.0 / 10.0, 67.0 / 10.0
    ie, je = _random_pairs(rng, np.arange(n_exc), n, p)
    ii, ji = _random_pairs(rng, np.arange(n_exc, n), n, p)
    parts = [
        cells,
        Synapses(cells, cells, ie, je, we, receptor="exc", name="exc"),
        Synapses(cells, cells, ii, ji, wi, receptor="inh", name="inh"),
        SpikeMonitor(cells),
    ]
    record_v = np.asarray(record_v, dtype=np.int64)
    if record_v.size:
        parts.append(StateMonitor(cells, "v", record=record_v))
    meta = {"model": "coba", "n": n, "n_exc": n_exc, "n_inh": n - n_exc, "p": float(p),
            "we": we, "wi": wi, "tau_m": 20.0, "tau_e": 5.0, "tau_i": 10.0, "E_l": El,
            "E_e": 0.0, "E_i": -80.0, "v_thresh": -50.0, "v_reset": -60.0, "t_ref": 5.0,
            "dt": float(dt)}
    return Network(*parts, meta=meta)
