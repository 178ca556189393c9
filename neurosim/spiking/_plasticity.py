"""Plasticity, traces, readouts and homeostasis: plain data, run inside the step by a backend.

Every object here is part of a network description (added with :meth:`Network.add`, or given to
:class:`Synapses` as ``plasticity=``); nothing here simulates. The order in which a backend applies
them within a time step is documented in :doc:`/spiking` ("The time step").
"""

from __future__ import annotations

import numpy as np

from .._utils import check_positive, check_size
from ._groups import Group, _check_name


def _real(name, value):
    if isinstance(value, bool) or not np.isscalar(value) or not np.isreal(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _bounds(w_min, w_max, what):
    w_min = -np.inf if w_min is None else _real(f"{what}: w_min", w_min)
    w_max = np.inf if w_max is None else _real(f"{what}: w_max", w_max)
    if not w_min < w_max:
        raise ValueError(f"{what}: weight bounds in the wrong order, w_min={w_min} must be below "
                         f"w_max={w_max}")
    return w_min, w_max


def _neuron_group(group, what):
    if not isinstance(group, Group) or not group.receives_synapses:
        raise TypeError(f"{what} needs a neuron model group (Izhikevich, LIF, Izhikevich2007, "
                        f"AdEx), got {group!r}")
    return group


def _named(obj, name, kind):
    if name is None:
        type(obj)._counter += 1
        name = f"{kind}_{type(obj)._counter}"
    return _check_name(name)


class STDP:
    r"""Pair-based spike-timing-dependent plasticity with pre- and postsynaptic traces.

    As in Brian2's ``STDP.py`` example (Song, Miller & Abbott 2000), every presynaptic spike
    arriving at a synapse (after its delay) and every postsynaptic spike update two traces and the
    weight:

    - on a presynaptic arrival: ``x_pre += a_plus``, then depression
      ``w -= x_post`` (additive) or ``w -= x_post * (w - w_min)`` (multiplicative);
    - on a postsynaptic spike: ``x_post += a_minus``, then potentiation
      ``w += x_pre`` (additive) or ``w += x_pre * (w_max - w)`` (multiplicative);

    each followed by clipping to ``[w_min, w_max]``. The traces decay exponentially,
    :math:`\tau_{pre} \dot x_{pre} = -x_{pre}` and :math:`\tau_{post} \dot x_{post} = -x_{post}`.
    Within a step, arrivals are processed before postsynaptic spikes (Brian2's order: the
    ``on_pre`` pathway before ``on_post``), and the weight a spike delivers is the weight before
    that spike's own update.

    Parameters
    ----------
    tau_pre, tau_post : float
        Trace time constants (ms), > 0.
    a_plus : float
        Potentiation amplitude, >= 0 (the increment of the presynaptic trace).
    a_minus : float
        Depression amplitude, >= 0 (the increment of the postsynaptic trace).
    w_min, w_max : float
        Weight bounds, ``w_min < w_max``. The initial weights must lie within them.
    rule : {"additive", "multiplicative"}
        Hard bounds (additive) or soft bounds (multiplicative, van Rossum et al. 2000).
    pairing : {"all", "nearest"}
        ``"all"`` (default): a spike adds to its trace (all-to-all pairing, Brian2's example);
        ``"nearest"``: a spike sets its trace (``x = a``), pairing each spike with the nearest
        earlier spike of the other side only, as Izhikevich's ``spnet.m``/``daspnet.m``.
    order : {"pre_first", "post_first"}
        Within a time step, presynaptic arrivals before postsynaptic spikes (Brian2's default) or
        after them (``daspnet.m``: a pre and a post spike in the same step depress).

    Examples
    --------
    >>> from neurosim.spiking import STDP
    >>> rule = STDP(tau_pre=20.0, tau_post=20.0, a_plus=0.01, a_minus=0.0105, w_max=1.0)
    """

    kind = "STDP"

    def __init__(self, *, tau_pre=20.0, tau_post=20.0, a_plus=0.01, a_minus=0.0105, w_min=0.0,
                 w_max=1.0, rule="additive", pairing="all", order="pre_first"):
        self.tau_pre = check_positive("tau_pre", tau_pre)
        self.tau_post = check_positive("tau_post", tau_post)
        self.a_plus = check_positive("a_plus", a_plus, allow_zero=True)
        self.a_minus = check_positive("a_minus", a_minus, allow_zero=True)
        self.w_min, self.w_max = _bounds(w_min, w_max, type(self).__name__)
        if rule not in ("additive", "multiplicative"):
            raise ValueError(f"rule must be 'additive' or 'multiplicative', got {rule!r}")
        if rule == "multiplicative" and not (np.isfinite(self.w_min) and np.isfinite(self.w_max)):
            raise ValueError("the multiplicative rule needs finite w_min and w_max")
        self.rule = rule
        if pairing not in ("all", "nearest"):
            raise ValueError(f"pairing must be 'all' or 'nearest', got {pairing!r}")
        if order not in ("pre_first", "post_first"):
            raise ValueError(f"order must be 'pre_first' or 'post_first', got {order!r}")
        self.pairing = pairing
        self.order = order

    def __repr__(self):
        return (f"{type(self).__name__}(tau_pre={self.tau_pre:g}, tau_post={self.tau_post:g}, "
                f"a_plus={self.a_plus:g}, a_minus={self.a_minus:g}, w_min={self.w_min:g}, "
                f"w_max={self.w_max:g}, rule={self.rule!r}, pairing={self.pairing!r}, "
                f"order={self.order!r})")


class RewardSTDP(STDP):
    r"""Reward-modulated STDP: STDP feeds an eligibility trace, dopamine turns it into weight.

    Izhikevich (2007), "Solving the distal reward problem through linkage of STDP and dopamine
    signaling". The STDP updates of :class:`STDP` go to a per-synapse eligibility trace ``c``
    instead of the weight, and the weight follows the neuromodulator ``d`` of ``modulator``:

    .. math::

        \dot c = -c / \tau_c + \mathrm{STDP}(\Delta t), \qquad \dot w = c \, (d + d_{tonic}).

    Every ``every`` ms the engine applies ``w <- clip(w + eta * (d + d_tonic) * c, w_min, w_max)``
    then ``c <- c * exp(-every / tau_c)``, the update of Izhikevich's ``daspnet.m`` (every 10 ms,
    ``eta = 1``, ``d_tonic = 0.002``, ``tau_c = 1000`` ms). With ``every=None`` the update runs every
    step.

    Parameters
    ----------
    modulator : Modulator
        The neuromodulator (dopamine) ``d``; it must be part of the network.
    tau_c : float
        Eligibility time constant (ms).
    eta : float
        Learning rate of the weight update.
    d_tonic : float
        Tonic dopamine added to ``d``.
    every : float | None
        Interval (ms) of the weight update, a whole number of steps; None for every step.
    tau_pre, tau_post, a_plus, a_minus, w_min, w_max, rule, pairing, order
        As for :class:`STDP` (``rule`` must be ``"additive"``: the eligibility is unbounded).

    Examples
    --------
    >>> from neurosim.spiking import Modulator, RewardSTDP
    >>> dopamine = Modulator(tau=200.0, name="dopamine")
    >>> rule = RewardSTDP(dopamine, tau_c=1000.0, a_plus=0.1, a_minus=0.15, w_max=4.0,
    ...                   every=10.0, d_tonic=0.002)
    """

    kind = "RewardSTDP"

    def __init__(self, modulator, *, tau_c=1000.0, eta=1.0, d_tonic=0.0, every=None,
                 tau_pre=20.0, tau_post=20.0, a_plus=0.1, a_minus=0.15, w_min=0.0, w_max=4.0,
                 rule="additive", pairing="all", order="pre_first"):
        super().__init__(tau_pre=tau_pre, tau_post=tau_post, a_plus=a_plus, a_minus=a_minus,
                         w_min=w_min, w_max=w_max, rule=rule, pairing=pairing, order=order)
        if rule != "additive":
            raise ValueError("RewardSTDP supports rule='additive' only")
        if not isinstance(modulator, Modulator):
            raise TypeError(f"modulator must be a Modulator, got {type(modulator).__name__}")
        self.modulator = modulator
        self.tau_c = check_positive("tau_c", tau_c)
        self.eta = _real("eta", eta)
        self.d_tonic = _real("d_tonic", d_tonic)
        self.every = None if every is None else check_positive("every", every)

    def __repr__(self):
        return (f"RewardSTDP(modulator={self.modulator.name!r}, tau_c={self.tau_c:g}, "
                f"eta={self.eta:g}, d_tonic={self.d_tonic:g}, every={self.every})")


class Modulator:
    """A global neuromodulator ``d(t)`` (e.g. dopamine), the third factor of reward-modulated STDP.

    Either event driven, ``tau * dd/dt = -d`` with ``d += amount`` at each event (rewards), or a
    given time series (``values`` sampled every ``dt`` ms, held after the end). Events can also be
    added between runs of a :class:`~neurosim.backends.Session`
    (:meth:`~neurosim.backends.Session.add_modulator_events`), e.g. rewards that depend on the
    network's activity.

    Parameters
    ----------
    tau : float
        Decay time constant (ms) of the event-driven form.
    times, amounts : array of float | None
        Event times (ms, >= 0) and the increments of ``d``; ``amounts`` may be a scalar.
    values : array of shape (n_times,) | None
        A time series instead of events.
    dt : float | None
        Sampling step (ms) of ``values``.
    name : str | None
        Identifier.
    """

    _counter = 0

    def __init__(self, tau=200.0, *, times=None, amounts=1.0, values=None, dt=None, name=None):
        self.tau = check_positive("tau", tau)
        self.name = _named(self, name, "modulator")
        if values is not None:
            from ._signals import _Signal

            if times is not None:
                raise ValueError("give either event times or a time series (values), not both")
            if dt is None:
                raise ValueError("values need their sampling step dt (ms)")
            self.signal = _Signal(values, dt, 1, what=f"values of modulator {self.name!r}")
            self.times = np.zeros(0)
            self.amounts = np.zeros(0)
        else:
            self.signal = None
            times = np.zeros(0) if times is None else np.asarray(times, dtype=np.float64)
            if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
                raise ValueError("times must be a 1-D array of finite times >= 0 ms")
            amounts = np.broadcast_to(np.asarray(amounts, dtype=np.float64), times.shape).copy()
            if not np.all(np.isfinite(amounts)):
                raise ValueError("amounts must be finite")
            self.times = times
            self.amounts = amounts

    def __repr__(self):
        kind = "time series" if self.signal is not None else f"{self.times.size} events"
        return f"Modulator({self.name!r}, tau={self.tau:g}, {kind})"


class Trace:
    """An exponentially filtered spike train of every neuron of a group (readout input).

    ``tau * dx/dt = -x`` with ``x += increment`` at each spike; with ``tau_rise > 0`` a double
    exponential, ``dx/dt = -x / tau + h``, ``dh/dt = -h / tau_rise``, ``h += increment / tau_rise``
    at each spike (the area per spike stays ``increment * tau``). With ``increment = 1000 / tau``
    the trace is a rate estimate in Hz.

    Parameters
    ----------
    group : Izhikevich | LIF | Izhikevich2007 | AdEx
        The neurons.
    tau : float
        Decay time constant (ms).
    tau_rise : float
        Rise time constant (ms); 0 for a single exponential.
    increment : float
        Jump at each spike.
    name : str | None
        Identifier; the state variable is ``x_<name>``.
    """

    _counter = 0

    def __init__(self, group, tau, *, tau_rise=0.0, increment=1.0, name=None):
        self.group = _neuron_group(group, "Trace")
        self.tau = check_positive("tau", tau)
        self.tau_rise = check_positive("tau_rise", tau_rise, allow_zero=True)
        self.increment = _real("increment", increment)
        self.name = _named(self, name, "trace")

    @property
    def n(self):
        return self.group.n

    def __repr__(self):
        return f"Trace({self.group.name!r}, tau={self.tau:g}, name={self.name!r})"


class Readout:
    """Rate units reading traces: ``y = W @ x`` with ``x`` the traces concatenated.

    ``y`` is computed at the start of every step from the traces as they stand then, so a
    :class:`ReadoutFeedback` acts on the same step's input.

    Parameters
    ----------
    traces : Trace | sequence of Trace
        Inputs; ``x`` concatenates them in this order (``n_in`` values in all).
    n_out : int
        Number of outputs.
    w : float | array of shape (n_out, n_in)
        Initial weights.
    name : str | None
        Identifier.
    """

    _counter = 0

    def __init__(self, traces, n_out, *, w=0.0, name=None):
        if isinstance(traces, Trace):
            traces = (traces,)
        traces = tuple(traces)
        if not traces or not all(isinstance(t, Trace) for t in traces):
            raise TypeError("traces must be a Trace or a non-empty sequence of Trace objects")
        self.traces = traces
        self.n_out = check_size("n_out", n_out)
        self.n_in = sum(t.n for t in traces)
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 0:
            w = np.full((self.n_out, self.n_in), float(w))
        if w.shape != (self.n_out, self.n_in):
            raise ValueError(f"w must be a scalar or have shape ({self.n_out}, {self.n_in}), got "
                             f"{w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("w contains NaN or inf")
        self.w = np.ascontiguousarray(w)
        self.name = _named(self, name, "readout")

    def __repr__(self):
        return f"Readout({self.name!r}, n_in={self.n_in}, n_out={self.n_out})"


def _rule_signal(values, dt, n, what, *, shared=True):
    if values is None:
        return None
    from ._signals import _Signal

    if dt is None:
        raise ValueError(f"{what} needs its sampling step: pass signal_dt (ms)")
    return _Signal(values, dt, n, what=what, allow_shared=shared)


class ThreeFactorRule:
    r"""The three-factor readout rule: eligibility x modulator x gate.

    At the start of every step, after ``y = W x``:

    .. math::

        e_{kj} \leftarrow e_{kj} e^{-dt/\tau_e} + x_j\, g(y_k), \qquad
        W_{kj} \leftarrow \mathrm{clip}(W_{kj} + \eta\, G(t)\, M_k(t)\, e_{kj}\, dt,
        w_{min}, w_{max}),

    with ``g = 1`` (``post="none"``, presynaptic eligibility: the delta rule, which learns from
    ``W = 0``) or ``g(y) = y`` (``post="rate"``, Hebbian; note that it cannot start from
    ``W = 0``). The modulator ``M_k`` is the error against a teacher, ``teacher_k(t) - y_k``, or a
    given third factor: a time series (shape ``(n_times,)`` shared or ``(n_times, n_out)``) or the
    ``d(t)`` of a :class:`Modulator`. The gate ``G(t)`` (default 1) opens and closes learning.

    Parameters
    ----------
    readout : Readout
        The readout whose ``W`` learns.
    eta : float
        Learning rate (per ms).
    tau_e : float
        Eligibility time constant (ms).
    teacher : array of shape (n_times,) or (n_times, n_out) | None
        Target output; the modulator is then the error ``teacher - y``.
    modulator : array | Modulator | None
        A third factor instead of the error.
    gate : array of shape (n_times,) | None
        Gate ``G(t)``.
    signal_dt : float | None
        Sampling step (ms) of the teacher, modulator and gate arrays.
    post : {"none", "rate"}
        Postsynaptic factor of the eligibility.
    w_min, w_max : float | None
        Weight bounds (None: unbounded).
    name : str | None
        Identifier; the eligibility is ``e_<name>``.
    """

    _counter = 0

    def __init__(self, readout, *, eta, tau_e, teacher=None, modulator=None, gate=None,
                 signal_dt=None, post="none", w_min=None, w_max=None, name=None):
        if not isinstance(readout, Readout):
            raise TypeError(f"readout must be a Readout, got {type(readout).__name__}")
        self.readout = readout
        self.eta = _real("eta", eta)
        self.tau_e = check_positive("tau_e", tau_e)
        if (teacher is None) == (modulator is None):
            raise ValueError("give exactly one of teacher (the modulator is then the error "
                             "teacher - y) or modulator")
        self.teacher = _rule_signal(teacher, signal_dt, readout.n_out, "teacher")
        if isinstance(modulator, Modulator):
            self.modulator = modulator
        else:
            self.modulator = _rule_signal(modulator, signal_dt, readout.n_out, "modulator")
        self.gate = _rule_signal(gate, signal_dt, 1, "gate")
        if post not in ("none", "rate"):
            raise ValueError(f"post must be 'none' or 'rate', got {post!r}")
        self.post = post
        self.w_min, self.w_max = _bounds(w_min, w_max, "ThreeFactorRule")
        self.name = _named(self, name, "three_factor")

    def __repr__(self):
        return f"ThreeFactorRule({self.readout.name!r}, eta={self.eta:g}, tau_e={self.tau_e:g})"


class RLSRule:
    r"""Recursive least squares (FORCE) on a readout's weights, every ``every`` ms.

    As in Nicola & Clopath (2017) and their code: at the start of every ``every``-th millisecond
    step while the gate is open, with the traces ``x`` and the output ``y = W x``,

    .. math::

        e = y - \mathrm{teacher}(t), \quad c = P x, \quad W \leftarrow W - e\, c^T, \quad
        P \leftarrow P - \frac{c\, c^T}{1 + x^T c},

    with :math:`P_0 = I / \alpha`. Nicola & Clopath write ``P0 = alpha * I`` with their alpha;
    give ``alpha`` as the inverse of theirs. ``P`` (``n_in x n_in``, dense) is kept between runs of a
    :class:`~neurosim.backends.Session`; :meth:`~neurosim.backends.Session.reset_rule` resets it.

    Parameters
    ----------
    readout : Readout
        The readout.
    teacher : array of shape (n_times,) or (n_times, n_out)
        Target output.
    signal_dt : float
        Sampling step (ms) of ``teacher`` and ``gate``.
    alpha : float
        Regulariser: ``P0 = I / alpha``.
    every : float
        Update interval (ms), a whole number of steps.
    gate : array of shape (n_times,) | None
        Learning happens while ``gate != 0``.
    name : str | None
        Identifier.
    """

    _counter = 0

    def __init__(self, readout, *, teacher, signal_dt, alpha=1.0, every=1.0, gate=None,
                 name=None):
        if not isinstance(readout, Readout):
            raise TypeError(f"readout must be a Readout, got {type(readout).__name__}")
        self.readout = readout
        self.teacher = _rule_signal(teacher, signal_dt, readout.n_out, "teacher")
        self.gate = _rule_signal(gate, signal_dt, 1, "gate")
        self.alpha = check_positive("alpha", alpha)
        self.every = check_positive("every", every)
        self.name = _named(self, name, "rls")

    def __repr__(self):
        return f"RLSRule({self.readout.name!r}, alpha={self.alpha:g}, every={self.every:g})"


class ReadoutFeedback:
    """Feed a readout's output back into a group: ``I_ext += E @ y`` (FORCE's ``E z``).

    Parameters
    ----------
    readout : Readout
        The readout.
    group : neuron group
        Receives the feedback current.
    E : array of shape (group.n, readout.n_out)
        Feedback weights (units of the group's input current).
    """

    def __init__(self, readout, group, E):
        if not isinstance(readout, Readout):
            raise TypeError(f"readout must be a Readout, got {type(readout).__name__}")
        self.readout = readout
        self.group = _neuron_group(group, "ReadoutFeedback")
        E = np.asarray(E, dtype=np.float64)
        if E.ndim == 1 and readout.n_out == 1:
            E = E[:, None]
        if E.shape != (group.n, readout.n_out):
            raise ValueError(f"E must have shape ({group.n}, {readout.n_out}), got {E.shape}")
        if not np.all(np.isfinite(E)):
            raise ValueError("E contains NaN or inf")
        self.E = np.ascontiguousarray(E)

    def __repr__(self):
        return f"ReadoutFeedback({self.readout.name!r} -> {self.group.name!r})"


class AdaptiveThreshold:
    r"""A per-neuron threshold offset ``theta``: spike-triggered adaptation and homeostasis.

    The neuron spikes when ``v >= threshold + theta`` (``v_peak`` for Izhikevich models). Every
    step, before integration,

    .. math:: \theta \leftarrow \theta\, e^{-dt/\tau} - \eta\, r^*\, dt / 1000,

    and at each spike :math:`\theta \leftarrow \theta + \Delta + \eta`. With ``eta = 0`` this is
    spike-triggered threshold adaptation (as in ALIF neurons); with ``increment = 0`` and a large
    ``tau`` it is intrinsic plasticity toward the target rate :math:`r^*` (Hz): on average
    :math:`\dot\theta = \eta (r - r^*)`, so the threshold rises while the neuron fires above the
    target and falls below it.

    Parameters
    ----------
    group : neuron group
        The neurons.
    tau : float
        Decay time constant of ``theta`` (ms); ``numpy.inf`` for none.
    increment : float
        Jump ``Delta`` at each spike (mV).
    target_rate : float
        Target rate ``r*`` (Hz) of the homeostatic term.
    eta : float
        Homeostatic rate (mV per spike).
    theta_init : float | array of shape (group.n,)
        Initial offset.
    """

    def __init__(self, group, *, tau=np.inf, increment=0.0, target_rate=0.0, eta=0.0,
                 theta_init=0.0):
        from .._utils import as_per_neuron

        self.group = _neuron_group(group, "AdaptiveThreshold")
        tau = float(tau)
        if not tau > 0:
            raise ValueError(f"tau must be > 0 ms (numpy.inf for no decay), got {tau!r}")
        self.tau = tau
        self.increment = _real("increment", increment)
        self.target_rate = check_positive("target_rate", target_rate, allow_zero=True)
        self.eta = check_positive("eta", eta, allow_zero=True)
        self.theta_init = as_per_neuron("theta_init", theta_init, group.n)

    def __repr__(self):
        return (f"AdaptiveThreshold({self.group.name!r}, tau={self.tau:g}, "
                f"increment={self.increment:g}, target_rate={self.target_rate:g}, "
                f"eta={self.eta:g})")


class SynapticScaling:
    r"""Multiplicative synaptic scaling of a synapse set toward a target postsynaptic rate.

    Each postsynaptic neuron keeps a rate estimate :math:`\hat r_j` (Hz), a trace with time
    constant ``tau_rate`` and increment ``1000 / tau_rate``. Every ``every`` ms, at the end of the
    step,

    .. math:: w_{ij} \leftarrow \mathrm{clip}(w_{ij} (1 + \eta (r^* - \hat r_j)), w_{min}, w_{max}).

    Parameters
    ----------
    synapses : Synapses
        The synapses to scale (their weights change in place, in the run's copy).
    target_rate : float
        Target rate ``r*`` (Hz).
    tau_rate : float
        Time constant (ms) of the rate estimate.
    eta : float
        Scaling rate (per Hz per update).
    every : float
        Interval (ms) between updates.
    w_min, w_max : float | None
        Weight bounds.
    rate_init : float | None
        Initial rate estimate (Hz); None starts it at the target, so that scaling waits for
        the estimate to move rather than reacting to an empty history.
    """

    def __init__(self, synapses, *, target_rate, tau_rate=1000.0, eta=1e-3, every=10.0,
                 w_min=0.0, w_max=None, rate_init=None):
        from ._synapses import Synapses

        if not isinstance(synapses, Synapses):
            raise TypeError(f"synapses must be a Synapses object, got {type(synapses).__name__}")
        self.synapses = synapses
        self.target_rate = check_positive("target_rate", target_rate, allow_zero=True)
        self.tau_rate = check_positive("tau_rate", tau_rate)
        self.eta = check_positive("eta", eta, allow_zero=True)
        self.every = check_positive("every", every)
        self.w_min, self.w_max = _bounds(w_min, w_max, "SynapticScaling")
        self.rate_init = self.target_rate if rate_init is None else check_positive(
            "rate_init", rate_init, allow_zero=True)
        if synapses.plasticity is not None:
            raise ValueError(f"synapses {synapses.name!r} already have a plasticity rule; scaling "
                             "and STDP on the same synapses are not supported")

    def __repr__(self):
        return (f"SynapticScaling({self.synapses.name!r}, target_rate={self.target_rate:g}, "
                f"eta={self.eta:g}, every={self.every:g})")
