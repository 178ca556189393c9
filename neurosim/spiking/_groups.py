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


RECEPTOR_KINDS = ("current", "conductance")


class Receptor:
    r"""A named synaptic receptor of a neuron group: a current or a conductance.

    Synapses that name the receptor (``Synapses(..., receptor="exc")``) add their weight ``w`` to
    its variable ``g_<name>`` at each spike. The variable decays exponentially with time constant
    ``tau``; with ``tau_rise > 0`` it is a double exponential (difference of exponentials) driven
    by a second variable ``h_<name>``:

    .. math::

        \dot g = -g / 	au + h, \qquad \dot h = -h / 	au_{rise}, \qquad
        h \leftarrow h + w / 	au_{rise} 	ext{ at each spike},

    so that a spike gives ``g`` the same area, ``w * tau``, as the single exponential
    (``tau_rise -> 0`` recovers it). A ``"current"`` receptor adds ``g`` to the neuron's input
    current; a ``"conductance"`` receptor adds ``g * (E_rev - v)``.

    Parameters
    ----------
    name : str
        Identifier, unique within the group (the state variables are ``g_<name>`` and, for a
        double exponential, ``h_<name>``).
    kind : {"current", "conductance"}
        What the receptor's variable is.
    tau : float
        Decay time constant (ms), > 0.
    tau_rise : float
        Rise time constant (ms), >= 0; 0 (default) gives a single exponential.
    E_rev : float | None
        Reversal potential (mV); required for a conductance, not allowed for a current.
    g_init : float | array of shape (n,)
        Initial value of ``g_<name>`` (one per neuron of the group, or a scalar).

    Notes
    -----
    Units follow the neuron model: for :class:`LIF` a current receptor is in mV (``R * I``, like
    the inputs) and a conductance is in units of the leak conductance; for :class:`Izhikevich` a
    current is in mV/ms and a conductance in 1/ms; for :class:`Izhikevich2007` and :class:`AdEx`
    a current is in pA and a conductance in nS.

    Examples
    --------
    >>> from neurosim.spiking import LIF, Receptor
    >>> cells = LIF(10, receptors=[Receptor("exc", "conductance", tau=5.0, E_rev=0.0),
    ...                            Receptor("inh", "conductance", tau=10.0, E_rev=-80.0)])
    >>> cells.state_variables
    ('v', 'I_syn', 'g_exc', 'g_inh')
    """

    def __init__(self, name, kind="current", *, tau=5.0, tau_rise=0.0, E_rev=None, g_init=0.0):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"invalid receptor name {name!r}: a name must be a Python "
                             "identifier, e.g. 'exc'")
        if kind not in RECEPTOR_KINDS:
            raise ValueError(f"receptor {name!r}: kind must be one of {RECEPTOR_KINDS}, "
                             f"got {kind!r}")
        self.name = name
        self.kind = kind
        self.tau = check_positive(f"receptor {name!r}: tau", tau)
        self.tau_rise = check_positive(f"receptor {name!r}: tau_rise", tau_rise, allow_zero=True)
        if kind == "conductance":
            if E_rev is None:
                raise ValueError(f"receptor {name!r}: a conductance needs a reversal potential "
                                 "E_rev (mV)")
            E_rev = float(E_rev)
            if not np.isfinite(E_rev):
                raise ValueError(f"receptor {name!r}: E_rev must be finite, got {E_rev!r}")
        elif E_rev is not None:
            raise ValueError(f"receptor {name!r}: a current receptor takes no reversal potential "
                             f"(got E_rev={E_rev!r}); use kind='conductance'")
        self.E_rev = E_rev
        g_init = np.asarray(g_init, dtype=np.float64)
        if g_init.ndim > 1 or not np.all(np.isfinite(g_init)):
            raise ValueError(f"receptor {name!r}: g_init must be a finite scalar or 1-D array")
        self.g_init = g_init

    @property
    def double(self):
        """Whether the receptor is a double exponential (``tau_rise > 0``)."""
        return self.tau_rise > 0

    @property
    def variables(self):
        """State variables of the receptor: ``("g_<name>",)`` or ``("g_<name>", "h_<name>")``."""
        return (f"g_{self.name}", f"h_{self.name}") if self.double else (f"g_{self.name}",)

    def __repr__(self):
        extra = f", tau_rise={self.tau_rise:g}" if self.double else ""
        extra += f", E_rev={self.E_rev:g}" if self.E_rev is not None else ""
        return f"Receptor({self.name!r}, {self.kind!r}, tau={self.tau:g}{extra})"


def _check_receptors(receptors, n):
    if receptors is None:
        return ()
    if isinstance(receptors, Receptor):
        receptors = (receptors,)
    receptors = tuple(receptors)
    for r in receptors:
        if not isinstance(r, Receptor):
            raise TypeError(f"receptors must be Receptor objects, got {type(r).__name__}: {r!r}")
    names = [r.name for r in receptors]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise ValueError(f"receptor names must be unique within a group, got {dup} twice")
    for r in receptors:
        if r.g_init.ndim and r.g_init.shape != (n,):
            raise ValueError(f"receptor {r.name!r}: g_init must be a scalar or have shape ({n},), "
                             f"got {r.g_init.shape}")
    return receptors


class Group:
    """Base class of neuron groups and spike sources (indices 0 to n - 1)."""

    #: state variables of the model itself (receptor variables are added per instance)
    model_variables: tuple[str, ...] = ()
    #: whether synapses may target this group
    receives_synapses = False
    #: whether the group has a spike threshold (an adaptive threshold can act on it)
    has_threshold = False
    _counter = 0

    def __init__(self, n, name, receptors=None):
        self.n = check_size("n", n)
        if name is None:
            Group._counter += 1
            name = f"{type(self).__name__.lower()}_{Group._counter}"
        self.name = _check_name(name)
        self.receptors = _check_receptors(receptors, self.n)

    @property
    def state_variables(self):
        """State variables a StateMonitor can record (model, then receptor variables)."""
        out = tuple(self.model_variables)
        for r in self.receptors:
            out += r.variables
        return out

    def receptor(self, name):
        """Return the receptor called ``name``; ValueError naming the declared ones if absent."""
        for r in self.receptors:
            if r.name == name:
                return r
        declared = [r.name for r in self.receptors]
        raise ValueError(f"group {self.name!r} has no receptor {name!r}; declared receptors: "
                         f"{declared or 'none'} (declare it with {type(self).__name__}(..., "
                         f"receptors=[Receptor({name!r}, ...)]))")

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
    receptors : sequence of Receptor | None
        Named synaptic receptors (currents in mV/ms or conductances in 1/ms), in addition to
        ``I_syn``. They are evaluated at the start of each step, like ``I_syn``.
    name : str | None
        Identifier of the group; generated if None.

    Notes
    -----
    The input current is ``I = I_ext + I_syn (+ receptors)``, where ``I_ext`` sums the constant,
    time-varying and noise inputs attached to the group (:mod:`neurosim.spiking` inputs).

    Examples
    --------
    >>> from neurosim.spiking import Izhikevich
    >>> rs = Izhikevich(10, a=0.02, b=0.2, c=-65.0, d=8.0)  # regular spiking
    >>> rs.a.shape
    (10,)
    """

    model_variables = ("v", "u", "I_syn")
    receives_synapses = True
    has_threshold = True

    def __init__(
        self, n, a, b, c, d, *, v_peak=30.0, v_init=-65.0, u_init=None, tau_syn=0.0,
        receptors=None, name=None,
    ):
        super().__init__(n, name, receptors)
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
        Decay time constant (ms) of the synaptic current ``I_syn``; 0 gives one-step current
        pulses. ``I_syn`` is held constant during a step and decays after it.
    receptors : sequence of Receptor | None
        Named synaptic receptors. Current receptors (in mV) are integrated exactly with the
        membrane (they decay within the step, as Brian2's ``method="exact"`` does); when the group
        has a conductance receptor (in units of the leak conductance), the step is exponential
        Euler, with the receptor variables held at their values at the start of the step
        (Brian2's ``method="exponential_euler"``).
    name : str | None
        Identifier of the group.

    Notes
    -----
    ``I`` is in mV (``R * I``): a constant input ``I > v_thresh - v_rest`` makes the neuron fire
    regularly with period ``t_ref + tau_m * log(I / (I - (v_thresh - v_rest)))`` when ``v_reset
    == v_rest``.
    """

    model_variables = ("v", "I_syn")
    receives_synapses = True
    has_threshold = True

    def __init__(
        self, n, *, tau_m=10.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, t_ref=2.0,
        v_init=None, tau_syn=5.0, receptors=None, name=None,
    ):
        super().__init__(n, name, receptors)
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


class Izhikevich2007(Group):
    r"""Izhikevich (2007) neurons, the form with physical units used by Nicola & Clopath (2017).

    .. math::

        C \dot v = k (v - v_r)(v - v_t) - u + I, \qquad \dot u = a (b (v - v_r) - u),

    with a spike when :math:`v \geq v_{peak}`, then :math:`v \leftarrow c`,
    :math:`u \leftarrow u + d`. Forward Euler at the simulation step (both variables from their
    values at the start of the step). Units: ms, mV, pF, nS (``k`` in nS/mV), pA (``u``, ``d``
    and input currents).

    Parameters
    ----------
    n : int
        Number of neurons.
    C, k, v_r, v_t, a, b, c, d : float | array of shape (n,)
        Model parameters; the defaults are the regular-spiking cell of Izhikevich (2007,
        *Dynamical systems in neuroscience*, ch. 8): C=100 pF, k=0.7, v_r=-60, v_t=-40,
        a=0.03, b=-2, c=-50, d=100.
    v_peak : float | array of shape (n,)
        Spike cut-off (mV), 35 by default.
    v_init, u_init : float | array of shape (n,) | None
        Initial state; None gives ``v_r`` and 0.
    tau_syn : float
        Decay time constant (ms) of ``I_syn`` (pA); 0 gives one-step pulses.
    receptors : sequence of Receptor | None
        Named receptors (currents in pA, conductances in nS).
    name : str | None
        Identifier of the group.

    Examples
    --------
    >>> from neurosim.spiking import Izhikevich2007
    >>> cells = Izhikevich2007(100, C=250.0, k=2.5, v_r=-60.0, v_t=-20.0, a=0.01, b=0.0,
    ...                        c=-65.0, d=200.0, v_peak=30.0)  # Nicola & Clopath (2017)
    """

    model_variables = ("v", "u", "I_syn")
    receives_synapses = True
    has_threshold = True

    def __init__(self, n, *, C=100.0, k=0.7, v_r=-60.0, v_t=-40.0, a=0.03, b=-2.0, c=-50.0,
                 d=100.0, v_peak=35.0, v_init=None, u_init=0.0, tau_syn=0.0, receptors=None,
                 name=None):
        super().__init__(n, name, receptors)
        for key, value in dict(C=C, k=k, v_r=v_r, v_t=v_t, a=a, b=b, c=c, d=d,
                               v_peak=v_peak).items():
            setattr(self, key, as_per_neuron(key, value, self.n))
        if np.any(self.C <= 0):
            raise ValueError(f"C must be > 0 pF, got min {self.C.min()}")
        self.v_init = self.v_r.copy() if v_init is None else as_per_neuron("v_init", v_init, n)
        self.u_init = as_per_neuron("u_init", u_init, self.n)
        self.tau_syn = check_positive("tau_syn", tau_syn, allow_zero=True)
        if np.any(self.v_init >= self.v_peak):
            raise ValueError("v_init must be below v_peak for every neuron")
        if np.any(self.c >= self.v_peak):
            raise ValueError("the reset c must be below v_peak for every neuron")

    def parameters(self):
        return {"C": self.C, "k": self.k, "v_r": self.v_r, "v_t": self.v_t, "a": self.a,
                "b": self.b, "c": self.c, "d": self.d, "v_peak": self.v_peak,
                "tau_syn": self.tau_syn}


class AdEx(Group):
    r"""Adaptive exponential integrate-and-fire neurons (Brette & Gerstner 2005).

    .. math::

        C \dot v = -g_L (v - E_L) + g_L \Delta_T \exp\left(\frac{v - V_T}{\Delta_T}\right)
        - u + I, \qquad \tau_w \dot u = a (v - E_L) - u,

    with a spike when :math:`v \geq v_{peak}`, then :math:`v \leftarrow v_{reset}`,
    :math:`u \leftarrow u + b`. The adaptation current, written :math:`w` in the paper, is the
    state variable ``u`` here (``w`` names synaptic weights). Forward Euler at the simulation step,
    as in Brian2's example ``Brette_Gerstner_2005.py``; use a small step (0.1 ms or less) because
    the exponential term is stiff near the spike. Units: ms, mV, pF, nS, pA.

    Parameters
    ----------
    n : int
        Number of neurons.
    C, g_L, E_L, V_T, delta_T, tau_w, a, b, v_reset : float | array of shape (n,)
        Model parameters; the defaults are the paper's regular-spiking cell (C=281 pF,
        g_L=30 nS, E_L=-70.6 mV, V_T=-50.4 mV, delta_T=2 mV, tau_w=144 ms, a=4 nS,
        b=80.5 pA, v_reset=-70.6 mV).
    v_peak : float | array of shape (n,) | None
        Spike cut-off (mV); None gives ``V_T + 5 delta_T`` as in Brian2's example.
    v_init, u_init : float | array of shape (n,) | None
        Initial state; None gives ``E_L`` and 0.
    tau_syn : float
        Decay time constant (ms) of ``I_syn`` (pA); 0 gives one-step pulses.
    receptors : sequence of Receptor | None
        Named receptors (currents in pA, conductances in nS).
    name : str | None
        Identifier of the group.
    """

    model_variables = ("v", "u", "I_syn")
    receives_synapses = True
    has_threshold = True

    def __init__(self, n, *, C=281.0, g_L=30.0, E_L=-70.6, V_T=-50.4, delta_T=2.0, tau_w=144.0,
                 a=4.0, b=80.5, v_reset=-70.6, v_peak=None, v_init=None, u_init=0.0,
                 tau_syn=0.0, receptors=None, name=None):
        super().__init__(n, name, receptors)
        for key, value in dict(C=C, g_L=g_L, E_L=E_L, V_T=V_T, delta_T=delta_T, tau_w=tau_w, a=a,
                               b=b, v_reset=v_reset).items():
            setattr(self, key, as_per_neuron(key, value, self.n))
        for key in ("C", "g_L", "delta_T", "tau_w"):
            if np.any(getattr(self, key) <= 0):
                raise ValueError(f"{key} must be > 0, got min {getattr(self, key).min()}")
        self.v_peak = (self.V_T + 5 * self.delta_T if v_peak is None
                       else as_per_neuron("v_peak", v_peak, self.n))
        if np.any(self.v_reset >= self.v_peak):
            raise ValueError("v_reset must be below v_peak for every neuron")
        self.v_init = self.E_L.copy() if v_init is None else as_per_neuron("v_init", v_init, n)
        self.u_init = as_per_neuron("u_init", u_init, self.n)
        self.tau_syn = check_positive("tau_syn", tau_syn, allow_zero=True)
        if np.any(self.v_init >= self.v_peak):
            raise ValueError("v_init must be below v_peak for every neuron")

    def parameters(self):
        return {k: getattr(self, k) for k in ("C", "g_L", "E_L", "V_T", "delta_T", "tau_w", "a",
                                              "b", "v_reset", "v_peak", "tau_syn")}


class PoissonGroup(Group):
    """Independent Poisson spike sources, homogeneous or driven by a rate time series.

    In each time step, source ``k`` spikes with probability ``rate_k(t) * dt / 1000``. A rate
    above one spike per step (``rate * dt > 1000``) raises ValueError on every backend before
    the run starts (Brian2 would silently fire once per step).

    Parameters
    ----------
    n : int
        Number of sources.
    rates : float | array
        Rates in Hz, >= 0. Without ``dt``: a scalar or one rate per source (constant in time).
        With ``dt`` (inhomogeneous Poisson): an array of shape ``(n_times,)`` (one rate shared by
        all sources), ``(n_times, n)`` (one column per source), or ``(n_times, K)`` with
        ``gains`` of shape ``(n, K)`` (source ``i`` fires at ``sum_c gains[i, c] * rates[t, c]``).
        Row ``floor(t / dt)`` is used at time ``t``; the last row is held after the end.
    dt : float | None
        Sampling step (ms) of a rate time series; a whole multiple of the simulation step.
    gains : array of shape (n, K) | None
        Low-rank mixing of ``K`` rate signals (see ``rates``).
    name : str | None
        Identifier of the group.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.spiking import PoissonGroup
    >>> t = np.arange(0, 1000.0, 1.0)                    # ms
    >>> src = PoissonGroup(50, rates=20 + 10 * np.sin(2 * np.pi * t / 200), dt=1.0)
    >>> src.inhomogeneous
    True
    """

    def __init__(self, n, rates, *, dt=None, gains=None, name=None):
        super().__init__(n, name)
        if dt is None:
            if gains is not None:
                raise ValueError("gains need a rate time series: pass dt (ms) as well")
            self.rates = as_per_neuron("rates", rates, self.n)
            self.signal = None
            low = float(self.rates.min())
        else:
            from ._signals import _Signal

            self.signal = _Signal(rates, dt, self.n, gains=gains, what="rates")
            self.rates = None
            low = self.signal.min()
        if low < 0:
            raise ValueError(f"rates must be >= 0 Hz, got min {low}")

    @property
    def inhomogeneous(self):
        """Whether the rates vary in time."""
        return self.signal is not None

    def max_rate(self):
        """Largest rate (Hz) of any source at any time."""
        return float(self.rates.max(initial=0.0)) if self.signal is None else self.signal.max()

    def check_dt(self, dt):
        """Raise ValueError if a rate exceeds one spike per step of ``dt`` ms."""
        top = self.max_rate()
        if top * dt > 1000.0:
            raise ValueError(
                f"PoissonGroup {self.name!r}: a rate of {top:g} Hz gives {top * dt / 1000:g} "
                f"spikes per step of dt={dt} ms; rates must be at most {1000 / dt:g} Hz (one spike "
                "per step), on every backend")
        if self.signal is not None:
            self.signal.steps_per_sample(dt)

    def parameters(self):
        if self.signal is None:
            return {"rates": self.rates}
        return {"rates_dt": self.signal.dt, "n_rate_samples": self.signal.n_times}


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
