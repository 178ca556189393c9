"""The heterogeneous Izhikevich reservoir and how task inputs reach it."""

from __future__ import annotations

import numpy as np

from .._utils import check_positive, check_random_state, check_size

GROUP = "reservoir"


def _random_pairs(rng, n_pre, n_post, p):
    """Connect each presynaptic index to each target with probability ``p``; sorted by (i, j)."""
    counts = rng.binomial(n_post, p, size=n_pre)
    i = np.repeat(np.arange(n_pre, dtype=np.int32), counts)
    j = np.empty(i.size, dtype=np.int32)
    start = 0
    for k in counts:
        if k:
            j[start:start + k] = np.sort(rng.choice(n_post, size=k, replace=False))
            start += k
    return i, j


def spiking_reservoir(n=1000, *, p=0.1, exc_fraction=0.8, w_exc=0.5, w_inh=1.0, tau_exc=5.0,
                      tau_inh=10.0, noise_exc=1.0, noise_inh=1.0, bias=0.0, dt=0.5,
                      random_state=None):
    r"""Build a heterogeneous Izhikevich (2003) spiking reservoir.

    ``n`` neurons, 80 % excitatory (indices ``0 .. n_exc - 1``) and 20 % inhibitory, with the
    parameters of Izhikevich (2003) drawn through one :math:`r \sim U(0, 1)` per neuron:
    excitatory :math:`a = 0.02, b = 0.2, c = -65 + 15 r^2, d = 8 - 6 r^2` (regular spiking to
    chattering), inhibitory :math:`a = 0.02 + 0.08 r, b = 0.25 - 0.05 r, c = -65, d = 2` (fast
    spiking to low-threshold spiking). Every ordered pair is connected with probability ``p``
    (sparse; no dense matrix is built) through exponential current receptors ``"exc"`` and
    ``"inh"`` (time constants ``tau_exc`` and ``tau_inh``). Weights are
    ``w * U(0, 1) * 1000 / (n p) / tau``: a spike delivers the charge of a weight
    ``w * U(0, 1)`` of Izhikevich's ``net.m`` (one millisecond of current) scaled to the
    original's 1,000 inputs per neuron, so the regime does not change with ``n`` or ``p``.
    Gaussian noise of standard deviation ``noise_exc`` / ``noise_inh`` per :math:`\sqrt{ms}`
    (``noise / sqrt(dt)`` per step, so the noise power does not depend on ``dt``) keeps the
    network in an asynchronous irregular state.

    Task inputs are added by the readouts (:class:`ThreeFactorReadout`,
    :class:`ForceReadout`) through :func:`connect_inputs`: spike generators and sparse synapses,
    never a dense per-neuron input array.

    Parameters
    ----------
    n : int
        Number of neurons (>= 10).
    p : float
        Connection probability, in (0, 1].
    exc_fraction : float
        Fraction of excitatory neurons, in (0, 1).
    w_exc, w_inh : float
        Weight scales (>= 0; inhibitory weights are negative).
    tau_exc, tau_inh : float
        Receptor time constants (ms).
    noise_exc, noise_inh : float
        Noise standard deviation (mV/ms per square root of ms) of excitatory and inhibitory
        neurons.
    bias : float
        Constant input current (mV/ms) to every neuron.
    dt : float
        The time step (ms) the network will run with (the per-step noise is scaled for it).
    random_state : None | int | numpy.random.Generator
        Seed of the parameters and the connectivity.

    Returns
    -------
    network : neurosim.spiking.Network
        Group ``"reservoir"``, synapses ``"reservoir_exc"`` and ``"reservoir_inh"``, the noise
        and a spike monitor; ``network.meta`` holds the parameters (``n_exc``, ...).

    References
    ----------
    .. [1] Izhikevich, E. M. (2003). Simple model of spiking neurons. IEEE Transactions on
       Neural Networks, 14(6), 1569-1572.

    Examples
    --------
    >>> from neurosim.reservoir import spiking_reservoir
    >>> net = spiking_reservoir(200, random_state=0)
    >>> net.groups[0].name, net.meta["n_exc"]
    ('reservoir', 160)
    """
    from neurosim.spiking import GaussianNoise, Izhikevich, Network, Receptor, SpikeMonitor, Synapses

    n = check_size("n", n, minimum=10)
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p!r}")
    if not 0 < exc_fraction < 1:
        raise ValueError(f"exc_fraction must lie in (0, 1), got {exc_fraction!r}")
    w_exc = check_positive("w_exc", w_exc, allow_zero=True)
    w_inh = check_positive("w_inh", w_inh, allow_zero=True)
    tau_exc = check_positive("tau_exc", tau_exc)
    tau_inh = check_positive("tau_inh", tau_inh)
    noise_exc = check_positive("noise_exc", noise_exc, allow_zero=True)
    noise_inh = check_positive("noise_inh", noise_inh, allow_zero=True)
    dt = check_positive("dt", dt)
    bias = float(bias)
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    n_inh = n - n_exc
    if n_inh < 1 or n_exc < 1:
        raise ValueError(f"n={n} with exc_fraction={exc_fraction} leaves no excitatory or no "
                         "inhibitory neuron")
    re, ri = rng.random(n_exc), rng.random(n_inh)
    a = np.concatenate([np.full(n_exc, 0.02), 0.02 + 0.08 * ri])
    b = np.concatenate([np.full(n_exc, 0.2), 0.25 - 0.05 * ri])
    c = np.concatenate([-65 + 15 * re**2, np.full(n_inh, -65.0)])
    d = np.concatenate([8 - 6 * re**2, np.full(n_inh, 2.0)])
    group = Izhikevich(n, a, b, c, d, name=GROUP,
                       receptors=[Receptor("exc", tau=tau_exc), Receptor("inh", tau=tau_inh)])
    scale = 1000.0 / (n * p)
    ie, je = _random_pairs(rng, n_exc, n, p)
    ii, ji = _random_pairs(rng, n_inh, n, p)
    exc = Synapses(group, group, ie, je, w_exc * scale / tau_exc * rng.random(ie.size),
                   receptor="exc", name=f"{GROUP}_exc")
    inh = Synapses(group, group, ii + n_exc, ji, -w_inh * scale / tau_inh * rng.random(ii.size),
                   receptor="inh", name=f"{GROUP}_inh")
    std = np.concatenate([np.full(n_exc, noise_exc), np.full(n_inh, noise_inh)]) / np.sqrt(dt)
    noise = GaussianNoise(group, std, mean=bias)
    meta = {
        "model": "spiking_reservoir", "n": n, "n_exc": n_exc, "n_inh": n_inh, "p": float(p),
        "w_exc": w_exc, "w_inh": w_inh, "tau_exc": tau_exc, "tau_inh": tau_inh,
        "noise_exc": noise_exc, "noise_inh": noise_inh, "bias": bias, "dt": dt,
        "n_synapses": int(ie.size + ii.size),
    }
    return Network(group, exc, inh, noise, SpikeMonitor(group), meta=meta)


def reservoir_group(network):
    """The reservoir's neuron group (``"reservoir"``) of a network built by
    :func:`spiking_reservoir`; ValueError otherwise."""
    from neurosim.spiking import Network

    if not isinstance(network, Network):
        raise TypeError(f"reservoir must be a neurosim.spiking.Network (see spiking_reservoir), "
                        f"got {type(network).__name__}")
    for g in network.groups:
        if g.name == GROUP:
            return g
    raise ValueError(f"the network has no group named {GROUP!r}; build it with "
                     f"spiking_reservoir(), groups: {[g.name for g in network.groups]}")


def copy_network(network):
    """A new :class:`~neurosim.spiking.Network` holding the same parts (the description objects
    are shared, never modified by a run); adding to the copy leaves ``network`` unchanged."""
    from neurosim.spiking import Network
    from neurosim.spiking._network import _KINDS

    parts = [o for _, attr in _KINDS for o in getattr(network, attr)]
    return Network(*parts, meta=dict(network.meta))


def connect_inputs(network, sources, *, p_in=0.1, w_in=6.0, random_state=None):
    """Connect spike sources to the reservoir through sparse excitatory synapses.

    Parameters
    ----------
    network : neurosim.spiking.Network
        Built by :func:`spiking_reservoir`; it is not modified.
    sources : sequence of SpikeGeneratorGroup | None
        Input groups (None entries are skipped), e.g. :meth:`WhatWhenTask.input_groups`.
    p_in : float
        Probability that a source contacts a reservoir neuron.
    w_in : float
        Weight (mV/ms on the ``"exc"`` receptor) of every input synapse.
    random_state : None | int | numpy.random.Generator
        Seed of the connections.

    Returns
    -------
    network : neurosim.spiking.Network
        A new network with the sources and their synapses ``"<source>_in"``.
    """
    from neurosim.spiking import Synapses

    group = reservoir_group(network)
    if not 0 < p_in <= 1:
        raise ValueError(f"p_in must lie in (0, 1], got {p_in!r}")
    w_in = check_positive("w_in", w_in, allow_zero=True)
    rng = check_random_state(random_state)
    out = copy_network(network)
    for src in sources:
        if src is None:
            continue
        i, j = _random_pairs(rng, src.n, group.n, p_in)
        out.add(src, Synapses(src, group, i, j, w_in, receptor="exc", name=f"{src.name}_in"))
    return out
