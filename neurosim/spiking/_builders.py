"""Ready-made networks."""

from __future__ import annotations

import numpy as np

from .._utils import available_memory, check_positive, check_random_state, check_size
from ._groups import LIF, Izhikevich, Receptor
from ._inputs import GaussianNoise, TimedInput, UniformNoise
from ._monitors import SpikeMonitor, StateMonitor
from ._network import Network, format_bytes
from ._synapses import Synapses


def _check_synapse_memory(n_synapses, what, check_memory):
    """Refuse to allocate ``n_synapses`` synapses (16 bytes each, twice: the description and the
    engine's copy) when they do not fit in the available memory."""
    if not check_memory:
        return
    need = 32 * n_synapses
    avail = available_memory()
    if avail is not None and need > avail:
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


def distal_reward_network(n=1000, *, exc_fraction=0.8, n_synapses=100, dt=0.5, w_exc=1.0,
                          w_inh=-1.0, w_max=4.0, a_plus=0.1, a_minus=0.15, tau_c=1000.0,
                          tau_dopamine=200.0, d_tonic=0.002, update_every=10.0, noise=13.0,
                          record_every=10.0, random_state=None):
    r"""Build the network of Izhikevich (2007), "Solving the distal reward problem".

    As in Izhikevich's ``daspnet.m``: ``n`` Izhikevich (2003) neurons, 80 % excitatory regular
    spiking (``a=0.02, d=8``) and 20 % inhibitory fast spiking (``a=0.1, d=2``), ``b=0.2``,
    ``c=-65``. Each neuron has ``n_synapses`` outgoing synapses to random targets (any neuron for
    excitatory cells, excitatory neurons only for inhibitory cells, drawn with replacement), with
    weights ``w_exc = 1`` and ``w_inh = -1``. The excitatory synapses learn by reward-modulated
    STDP (:class:`RewardSTDP`):

    .. math::

        \dot c = -c / \tau_c + \mathrm{STDP}(\Delta t), \qquad
        \dot d = -d / \tau_d + \mathrm{rewards}, \qquad \dot w = c \, (d + d_{tonic}),

    with ``A+ = 0.1``, ``A- = 0.15``, 20 ms STDP time constants, ``tau_c = 1`` s,
    ``tau_d = 0.2`` s, ``d_tonic = 0.002``, weights in ``[0, 4]``, and the weight update applied every
    10 ms. As in ``daspnet.m``, a spike sets its STDP trace (nearest-spike pairing) and a pre and a
    post spike in the same step depress (``pairing="nearest"``, ``order="post_first"``). The
    thalamic input is ``daspnet.m``'s uniform noise ``13 * (rand - 0.5)`` per millisecond
    (:class:`UniformNoise`). The first synapse of neuron 0, the "chosen synapse" whose
    pre-then-post firing the protocol rewards (:func:`run_distal_reward`), starts at 0.

    Synapses are one-step current pulses (``tau_syn = 0``); as in :func:`izhikevich_network`,
    the network is built for its step ``dt``: weights (and the STDP amplitudes and bounds, so
    that the learning dynamics do not change) are multiplied by ``1 / dt`` and the noise range by
    ``1 / sqrt(dt)``.

    Parameters
    ----------
    n, exc_fraction, n_synapses : int, float, int
        Size, excitatory fraction and out-degree.
    dt : float
        Time step (ms) the network is built for (0.5: ``daspnet.m`` integrates ``v`` in two
        half-millisecond steps).
    w_exc, w_inh, w_max, a_plus, a_minus, tau_c, tau_dopamine, d_tonic, update_every
        The model's parameters (see above).
    noise : float
        Width of ``daspnet.m``'s uniform input, ``noise * (rand - 0.5)`` per ms.
    record_every : float
        Sampling interval (ms) of the chosen synapse's weight (a :class:`WeightMonitor`).
    random_state : None | int | numpy.random.Generator
        Seed of the connectivity.

    Returns
    -------
    network : Network
        Group ``"neurons"``, synapses ``"exc"`` (plastic, the chosen one first) and ``"inh"``,
        the modulator ``"dopamine"``, a spike monitor and a weight monitor ``"chosen"``;
        ``meta`` holds ``n1``, ``n2`` (the chosen synapse's neurons) and ``chosen`` (its index).

    References
    ----------
    .. [1] Izhikevich, E. M. (2007). Solving the distal reward problem through linkage of STDP
       and dopamine signaling. Cerebral Cortex, 17(10), 2443-2452.
    """
    from ._monitors import WeightMonitor
    from ._plasticity import Modulator, RewardSTDP

    n = check_size("n", n, minimum=2)
    n_synapses = check_size("n_synapses", n_synapses)
    dt = check_positive("dt", dt)
    if not 0 < exc_fraction < 1:
        raise ValueError(f"exc_fraction must lie in (0, 1), got {exc_fraction}")
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    a = np.r_[np.full(n_exc, 0.02), np.full(n - n_exc, 0.1)]
    d = np.r_[np.full(n_exc, 8.0), np.full(n - n_exc, 2.0)]
    cells = Izhikevich(n, a, 0.2, -65.0, d, name="neurons")
    post = np.vstack([rng.integers(0, n, (n_exc, n_synapses)),
                      rng.integers(0, n_exc, (n - n_exc, n_synapses))]).astype(np.int32)
    i = np.repeat(np.arange(n, dtype=np.int32), n_synapses)
    j = post.ravel()
    exc = i < n_exc
    s = 1.0 / dt
    w = np.full(int(exc.sum()), w_exc * s)
    w[0] = 0.0  # the chosen synapse starts at 0, as in daspnet.m
    dopamine = Modulator(tau=tau_dopamine, name="dopamine")
    rule = RewardSTDP(dopamine, tau_c=tau_c, eta=1.0, d_tonic=d_tonic, every=update_every,
                      tau_pre=20.0, tau_post=20.0, a_plus=a_plus * s, a_minus=a_minus * s,
                      w_min=0.0, w_max=w_max * s, pairing="nearest", order="post_first")
    syn_e = Synapses(cells, cells, i[exc], j[exc], w, plasticity=rule, name="exc")
    syn_i = Synapses(cells, cells, i[~exc], j[~exc], w_inh * s, name="inh")
    half = 0.5 * noise / np.sqrt(dt)  # the variance of the input over 1 ms is daspnet.m's
    parts = [cells, syn_e, syn_i, UniformNoise(cells, -half, half), dopamine, SpikeMonitor(cells),
             WeightMonitor(syn_e, record=[0], every=record_every, name="chosen")]
    meta = {"model": "izhikevich2007-distal-reward", "n": n, "n_exc": n_exc,
            "n_synapses": n_synapses, "dt": float(dt), "weight_multiplier": s,
            "w_exc": w_exc, "w_inh": w_inh, "w_max": w_max, "a_plus": a_plus,
            "a_minus": a_minus, "tau_c": tau_c, "tau_dopamine": tau_dopamine,
            "d_tonic": d_tonic, "update_every": update_every, "noise": noise,
            "noise_half_width_per_step": float(half), "n1": 0, "n2": int(j[0]), "chosen": 0}
    return Network(*parts, meta=meta)


def force_network(n=2000, *, duration=15000.0, train=(5000.0, 10000.0), freq=5.0,
                  teacher=None, p=0.1, G=0.04, Q=10.0, dt=0.05, rls_every=2.5, alpha=None,
                  balance=True, record_every=1.0, random_state=None):
    r"""Build the FORCE-trained LIF network of Nicola & Clopath (2017) for a 5 Hz sine.

    As ``LIFFORCESINE.m`` (and Brian2's ``Nicola_Clopath_2017.py``): ``n`` LIF neurons with
    ``tau_m = 10`` ms, a 2 ms refractory period, reset -65 mV, threshold -40 mV and a bias that
    holds the resting potential at the threshold,

    .. math::

        \tau_m \dot v = -v + I_{bias} + s + E z, \qquad z = \phi^T r,

    where ``s`` is the recurrent synaptic current, a double exponential (rise 2 ms, decay 20 ms)
    with static weights :math:`\omega = G\, \mathcal{N}(0, 1) \cdot \mathbb{1}[U < p] /
    (\sqrt{n}\, p)` (each neuron's incoming weights shifted to mean 0 when ``balance``, as in the
    MATLAB code), ``r`` the spike trains filtered by the same kernel (a rate in Hz), ``z`` the
    readout, and ``E = Q (2 U - 1)`` its feedback. Recursive least squares (:class:`RLSRule`) trains
    ``phi`` every ``rls_every`` ms during ``train``, with :math:`P_0 = \alpha_{NC} I`,
    :math:`\alpha_{NC} = 0.1\, dt` (dt in s) as in the paper's code.

    Parameters
    ----------
    n : int
        Number of neurons (2,000 in the paper).
    duration : float
        Length (ms) of the teacher signal and of the intended run (15 s in the paper).
    train : (float, float)
        RLS window (ms): 5 to 10 s in the paper.
    freq : float
        Frequency (Hz) of the default teacher ``sin(2 pi freq t)``.
    teacher : array of shape (duration / dt,) | None
        Another teacher, sampled every ``dt``.
    p, G, Q : float
        Connection probability, static weight scale, feedback scale.
    dt : float
        Time step (ms); 0.05 in the paper.
    rls_every : float
        RLS interval (ms), 2.5 in the paper.
    alpha : float | None
        :class:`RLSRule`'s ``alpha`` (``P0 = I / alpha``); None gives the paper's
        ``1 / (0.1 dt)``.
    balance : bool
        Shift each neuron's incoming weights to mean 0.
    record_every : float
        Sampling interval (ms) of the readout.
    random_state : None | int | numpy.random.Generator
        Seed of the weights and the initial potentials.

    Returns
    -------
    network : Network
        Group ``"neurons"`` (receptor ``"syn"``), synapses ``"recurrent"``, trace ``"r"``,
        readout ``"z"`` with its RLS rule ``"rls"`` and feedback, a spike monitor and a readout
        monitor; ``meta`` holds the parameters.

    References
    ----------
    .. [1] Nicola, W. and Clopath, C. (2017). Supervised learning in spiking neural networks with
       FORCE training. Nature Communications, 8, 2208.
    """
    from ._monitors import ReadoutMonitor
    from ._plasticity import Readout, ReadoutFeedback, RLSRule, Trace

    n = check_size("n", n, minimum=2)
    dt = check_positive("dt", dt)
    duration = check_positive("duration", duration)
    n_steps = int(round(duration / dt))
    if not 0 <= train[0] <= train[1] <= duration:
        raise ValueError(f"train must be a window (start, stop) within [0, {duration}] ms, got "
                         f"{train}")
    _check_synapse_memory(float(n) * n * p, f"force_network(n={n}, p={p:g})", True)
    rng = check_random_state(random_state)
    tau_r, tau_d, v_reset, v_peak = 2.0, 20.0, -65.0, -40.0
    omega = G * rng.standard_normal((n, n)) * (rng.random((n, n)) < p) / (np.sqrt(n) * p)
    if balance:  # omega[post, pre]: every neuron's incoming weights get mean 0
        nz = omega != 0
        counts = np.maximum(nz.sum(1), 1)
        omega = np.where(nz, omega - (omega.sum(1) / counts)[:, None], 0.0)
    post, pre = np.nonzero(omega)
    order = np.lexsort((post, pre))
    pre, post = pre[order], post[order]
    # the paper's IPSC has area omega (s) per spike; a Receptor has area w * tau (ms)
    w = 1000.0 * omega[post, pre] / tau_d
    v0 = v_reset + rng.random(n) * (30.0 - v_reset)
    E = Q * (2 * rng.random(n) - 1)
    cells = LIF(n, tau_m=10.0, v_rest=v_peak, v_reset=v_reset, v_thresh=v_peak, t_ref=2.0,
                v_init=v0, receptors=[Receptor("syn", tau=tau_d, tau_rise=tau_r)],
                name="neurons")
    rec = Synapses(cells, cells, pre.astype(np.int32), post.astype(np.int32), w, receptor="syn",
                   name="recurrent")
    r = Trace(cells, tau=tau_d, tau_rise=tau_r, increment=1000.0 / tau_d, name="r")
    z = Readout(r, 1, name="z")
    t = np.arange(n_steps) * dt
    target = np.sin(2 * np.pi * freq * t / 1000.0) if teacher is None else np.asarray(teacher)
    gate = ((t >= train[0]) & (t < train[1])).astype(float)
    if alpha is None:
        alpha = 1.0 / (0.1 * dt * 1e-3)
    rls = RLSRule(z, teacher=target, signal_dt=dt, alpha=alpha, every=rls_every, gate=gate,
                  name="rls")
    parts = [cells, rec, r, z, rls, ReadoutFeedback(z, cells, E[:, None]), SpikeMonitor(cells),
             ReadoutMonitor(z, every=record_every)]
    meta = {"model": "nicola-clopath-2017-force-lif", "n": n, "p": float(p), "G": float(G),
            "Q": float(Q), "dt": float(dt), "duration": duration, "train_start": float(train[0]),
            "train_stop": float(train[1]), "freq": float(freq), "rls_every": float(rls_every),
            "alpha": float(alpha), "balance": bool(balance), "tau_rise": tau_r,
            "tau_decay": tau_d, "n_synapses": int(pre.size)}
    return Network(*parts, meta=meta)
