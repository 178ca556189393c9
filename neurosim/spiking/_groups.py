"""Neuron groups and spike sources: plain data, no simulation code.

Units throughout :mod:`neurosim.spiking`: time in ms, membrane potential in mV, rates in Hz. Input
currents are in the units of each model's voltage equation (mV/ms for Izhikevich, mV for LIF, i.e.
``R * I``).
"""

from __future__ import annotations

import numpy as np

from .._utils import as_per_neuron, check_positive, check_size

_NAME_HELP = "a name must be a Python identifier, e.g. 'exc'"


def _check_name(name):
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"invalid group name {name!r}: {_NAME_HELP}")
    return name


class Group:
    """Base class of neuron groups and spike sources (indices 0 to n - 1)."""

    #: state variables a StateMonitor can record
    state_variables: tuple[str, ...] = ()
    #: whether synapses may target this group
    receives_synapses = False
    _counter = 0

    def __init__(self, n, name):
        self.n = check_size("n", n)
        if name is None:
            Group._counter += 1
            name = f"{type(self).__name__.lower()}_{Group._counter}"
        self.name = _check_name(name)

    def __repr__(self):
        return f"{type(self).__name__}(n={self.n}, name={self.name!r})"

    def __len__(self):
        return self.n

    def parameters(self):
        """Return the group's parameters as a dict of scalars or arrays."""
        return {}


class Izhikevich(Group):
    r"""Izhikevich (2003) neurons with per-neuron parameters.

    .. math::

        \dot v = 0.04 v^2 + 5 v + 140 - u + I, \qquad \dot u = a (b v - u),

    with a spike when :math:`v \geq v_{peak}`, then :math:`v \leftarrow c`, :math:`u \leftarrow u + d`.
    Time is in ms and :math:`v` in mV. The equations are integrated with forward Euler at the
    simulation step ``dt`` (both variables updated from the values at the start of the step).

    Parameters
    ----------
    n : int
        Number of neurons.
    a, b, c, d : float | array of shape (n,)
        The four model parameters, scalars or one value per neuron.
    v_peak : float
        Spike cut-off (mV). Default 30 as in Izhikevich (2003).
    v_init : float | array of shape (n,)
        Initial membrane potential (mV). Default -65.
    u_init : float | array of shape (n,) | None
        Initial recovery variable. None gives ``b * v_init`` as in the paper.
    tau_syn : float
        Decay time constant (ms) of the synaptic current ``I_syn`` that current synapses add to.
        0 (default) makes each synaptic event a current pulse lasting one time step, as in
        Izhikevich's ``net.m`` where the input is recomputed every step.
    name : str | None
        Identifier of the group; generated if None.

    Notes
    -----
    The input current is ``I = I_ext + I_syn``, where ``I_ext`` sums the constant, time-varying and
    noise inputs attached to the group (:mod:`neurosim.spiking` inputs).

    Examples
    --------
    >>> from neurosim.spiking import Izhikevich
    >>> rs = Izhikevich(10, a=0.02, b=0.2, c=-65.0, d=8.0)  # regular spiking
    >>> rs.a.shape
    (10,)
    """

    state_variables = ("v", "u", "I_syn")
    receives_synapses = True

    def __init__(
        self, n, a, b, c, d, *, v_peak=30.0, v_init=-65.0, u_init=None, tau_syn=0.0, name=None
    ):
        super().__init__(n, name)
        self.a = as_per_neuron("a", a, self.n)
        self.b = as_per_neuron("b", b, self.n)
        self.c = as_per_neuron("c", c, self.n)
        self.d = as_per_neuron("d", d, self.n)
        self.v_peak = float(v_peak)
        if not np.isfinite(self.v_peak):
            raise ValueError(f"v_peak must be finite, got {v_peak!r}")
        self.v_init = as_per_neuron("v_init", v_init, self.n)
        self.u_init = (
            self.b * self.v_init if u_init is None else as_per_neuron("u_init", u_init, self.n)
        )
        self.tau_syn = check_positive("tau_syn", tau_syn, allow_zero=True)
        if np.any(self.v_init >= self.v_peak):
            raise ValueError(f"v_init must be below v_peak={self.v_peak}")

    def parameters(self):
        return {
            "a": self.a, "b": self.b, "c": self.c, "d": self.d, "v_peak": self.v_peak,
            "tau_syn": self.tau_syn,
        }


class LIF(Group):
    r"""Leaky integrate-and-fire neurons.

    .. math:: \tau_m \dot v = v_{rest} - v + I

    integrated exactly over each step for the input held constant during the step. A spike when
    :math:`v \geq v_{thresh}`, then :math:`v \leftarrow v_{reset}` and the neuron is refractory
    for ``t_ref`` ms: ``v`` is clamped (not integrated, and voltage-jump synapses do not change
    it, as for Brian2's ``(unless refractory)``) and it cannot spike.

    Parameters
    ----------
    n : int
        Number of neurons.
    tau_m : float | array of shape (n,)
        Membrane time constant (ms).
    v_rest, v_reset, v_thresh : float | array of shape (n,)
        Resting, reset and threshold potentials (mV); ``v_reset < v_thresh`` is required.
    t_ref : float
        Refractory period (ms), rounded down to whole time steps.
    v_init : float | array of shape (n,) | None
        Initial potential; None gives ``v_rest``.
    tau_syn : float
        Decay time constant (ms) of the synaptic current; 0 gives one-step current pulses.
    name : str | None
        Identifier of the group.

    Notes
    -----
    ``I`` is in mV (``R * I``): a constant input ``I > v_thresh - v_rest`` makes the neuron fire
    regularly with period ``t_ref + tau_m * log(I / (I - (v_thresh - v_rest)))`` when ``v_reset
    == v_rest``.
    """

    state_variables = ("v", "I_syn")
    receives_synapses = True

    def __init__(
        self, n, *, tau_m=10.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, t_ref=2.0,
        v_init=None, tau_syn=5.0, name=None,
    ):
        super().__init__(n, name)
        self.tau_m = as_per_neuron("tau_m", tau_m, self.n)
        if np.any(self.tau_m <= 0):
            raise ValueError(f"tau_m must be > 0 ms, got min {self.tau_m.min()}")
        self.v_rest = as_per_neuron("v_rest", v_rest, self.n)
        self.v_reset = as_per_neuron("v_reset", v_reset, self.n)
        self.v_thresh = as_per_neuron("v_thresh", v_thresh, self.n)
        if np.any(self.v_reset >= self.v_thresh):
            raise ValueError("v_reset must be below v_thresh for every neuron")
        self.t_ref = check_positive("t_ref", t_ref, allow_zero=True)
        self.v_init = self.v_rest.copy() if v_init is None else as_per_neuron("v_init", v_init, n)
        self.tau_syn = check_positive("tau_syn", tau_syn, allow_zero=True)

    def parameters(self):
        return {
            "tau_m": self.tau_m, "v_rest": self.v_rest, "v_reset": self.v_reset,
            "v_thresh": self.v_thresh, "t_ref": self.t_ref, "tau_syn": self.tau_syn,
        }


class PoissonGroup(Group):
    """Independent Poisson spike sources.

    In each time step, source ``k`` spikes with probability ``rates[k] * dt / 1000``.

    Parameters
    ----------
    n : int
        Number of sources.
    rates : float | array of shape (n,)
        Rates in Hz; ``rates * dt`` must stay below 1000 (one spike per step at most).
    name : str | None
        Identifier of the group.
    """

    def __init__(self, n, rates, *, name=None):
        super().__init__(n, name)
        self.rates = as_per_neuron("rates", rates, self.n)
        if np.any(self.rates < 0):
            raise ValueError(f"rates must be >= 0 Hz, got min {self.rates.min()}")

    def parameters(self):
        return {"rates": self.rates}


class SpikeGeneratorGroup(Group):
    """Spike sources that fire at given times.

    Parameters
    ----------
    n : int
        Number of sources.
    indices : array of int, shape (n_spikes,)
        Source of each spike, in ``[0, n)``.
    times : array of float, shape (n_spikes,)
        Time of each spike (ms), >= 0. Each is placed in the time step that contains it.
    name : str | None
        Identifier of the group.
    """

    def __init__(self, n, indices, times, *, name=None):
        super().__init__(n, name)
        indices = np.asarray(indices)
        times = np.asarray(times, dtype=np.float64)
        if indices.ndim != 1 or times.shape != indices.shape:
            raise ValueError(
                "indices and times must be 1-D arrays of equal length, got shapes "
                f"{indices.shape} and {times.shape}"
            )
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.n):
            raise ValueError(f"indices must lie in [0, {self.n}), got range "
                             f"[{indices.min()}, {indices.max()}]")
        if not np.all(np.isfinite(times)) or (times.size and times.min() < 0):
            raise ValueError("times must be finite and >= 0 ms")
        self.indices = indices.astype(np.int64)
        self.times = times

    def parameters(self):
        return {"n_spikes": int(self.indices.size)}
