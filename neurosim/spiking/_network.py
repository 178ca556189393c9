"""The network: a validated collection of groups, synapses, inputs, rules and monitors."""

from __future__ import annotations

import numpy as np

from .._utils import available_memory, format_bytes
from ._groups import Group, PoissonGroup
from ._inputs import _Input
from ._monitors import ReadoutMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from ._plasticity import (
    AdaptiveThreshold,
    Modulator,
    Readout,
    ReadoutFeedback,
    RewardSTDP,
    RLSRule,
    SynapticScaling,
    ThreeFactorRule,
    Trace,
)
from ._synapses import Synapses

_KINDS = (
    (Group, "groups"), (Synapses, "synapses"), (_Input, "inputs"),
    (SpikeMonitor, "spike_monitors"), (StateMonitor, "state_monitors"),
    (WeightMonitor, "weight_monitors"), (ReadoutMonitor, "readout_monitors"),
    (Modulator, "modulators"), (Trace, "traces"), (Readout, "readouts"),
    ((ThreeFactorRule, RLSRule), "rules"), (ReadoutFeedback, "feedbacks"),
    (AdaptiveThreshold, "thresholds"), (SynapticScaling, "scalings"),
)


class Network:
    """A spiking network described as plain data, runnable on any backend.

    Parameters
    ----------
    *objects
        The parts of the network: neuron groups and spike sources, :class:`Synapses`, inputs,
        monitors (:class:`SpikeMonitor`, :class:`StateMonitor`, :class:`WeightMonitor`,
        :class:`ReadoutMonitor`), neuromodulators (:class:`Modulator`), traces and readouts
        (:class:`Trace`, :class:`Readout`), readout rules (:class:`ThreeFactorRule`,
        :class:`RLSRule`), :class:`ReadoutFeedback`, and homeostatic rules
        (:class:`AdaptiveThreshold`, :class:`SynapticScaling`). Groups, modulators, traces and
        readouts referenced by other parts must be included too.
    meta : dict | None
        Free-form description (e.g. the builder's parameters), copied into run results' attrs.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.spiking import LIF, ConstantInput, Network, SpikeMonitor
    >>> g = LIF(2, name="cells")
    >>> net = Network(g, ConstantInput(g, [20.0, 10.0]), SpikeMonitor(g))
    >>> net.n_neurons
    2
    """

    def __init__(self, *objects, meta=None):
        for _, attr in _KINDS:
            setattr(self, attr, [])
        self.meta = dict(meta or {})
        for obj in objects:
            self.add(obj)

    def add(self, *objects):
        """Add parts to the network; returns the network."""
        for obj in objects:
            attr = next((a for cls, a in _KINDS if isinstance(obj, cls)), None)
            if attr is None:
                raise TypeError(f"cannot add {type(obj).__name__} to a Network: {obj!r}")
            name = getattr(obj, "name", None)
            if attr in ("groups", "synapses", "modulators", "traces", "readouts", "rules") and any(
                    o.name == name for o in getattr(self, attr)):
                what = {"groups": "groups", "synapses": "synapse sets", "rules": "rules"}.get(
                    attr, attr)
                raise ValueError(f"two {what} are named {name!r}; names must be unique")
            getattr(self, attr).append(obj)
        return self

    @property
    def n_neurons(self):
        """Total number of neurons and spike sources."""
        return sum(g.n for g in self.groups)

    @property
    def plastic(self):
        """Whether anything in the network learns or adapts during a run."""
        return bool(any(s.plasticity is not None for s in self.synapses) or self.rules
                    or self.thresholds or self.scalings)

    def offsets(self):
        """Global index of the first neuron of each group, by group name."""
        out, start = {}, 0
        for g in self.groups:
            out[g.name] = start
            start += g.n
        return out

    def validate(self, dt=None):
        """Check that every referenced part is in the network (and, given ``dt``, the steps).

        Parameters
        ----------
        dt : float | None
            Simulation step (ms). With it, delays, sampling steps and Poisson rates are checked
            against it too.

        Returns
        -------
        network : Network
        """
        members = {id(o) for _, attr in _KINDS for o in getattr(self, attr)}

        def need(obj, what):
            if id(obj) not in members:
                kind = "group" if isinstance(obj, Group) else type(obj).__name__
                raise ValueError(f"{what} refers to {kind} {obj.name!r}, which is not in the "
                                 f"network; add it with Network.add")

        for s in self.synapses:
            need(s.pre, f"synapses {s.name!r}")
            need(s.post, f"synapses {s.name!r}")
            if isinstance(s.plasticity, RewardSTDP):
                need(s.plasticity.modulator, f"the RewardSTDP rule of synapses {s.name!r}")
        for inp in self.inputs:
            need(inp.target, repr(inp))
        for m in self.spike_monitors + self.state_monitors:
            need(m.group, repr(m))
        for t in self.traces:
            need(t.group, repr(t))
        for r in self.readouts:
            for t in r.traces:
                need(t, repr(r))
        ruled = set()
        for rule in self.rules:
            need(rule.readout, repr(rule))
            if id(rule.readout) in ruled:
                raise ValueError(f"readout {rule.readout.name!r} has two learning rules; give it "
                                 "one")
            ruled.add(id(rule.readout))
            if isinstance(getattr(rule, "modulator", None), Modulator):
                need(rule.modulator, repr(rule))
        for fb in self.feedbacks:
            need(fb.readout, repr(fb))
            need(fb.group, repr(fb))
        seen = set()
        for th in self.thresholds:
            need(th.group, repr(th))
            if id(th.group) in seen:
                raise ValueError(f"group {th.group.name!r} has two AdaptiveThresholds")
            seen.add(id(th.group))
        seen = set()
        for sc in self.scalings:
            need(sc.synapses, repr(sc))
            if id(sc.synapses) in seen:
                raise ValueError(f"synapses {sc.synapses.name!r} have two SynapticScaling rules")
            seen.add(id(sc.synapses))
        for m in self.weight_monitors:
            need(m.synapses, repr(m))
        for m in self.readout_monitors:
            need(m.readout, repr(m))
        names = [m.name for m in self.weight_monitors]
        if len(set(names)) != len(names):
            raise ValueError("two WeightMonitors have the same name; pass name=")
        for m in self.state_monitors:
            for var in m.variables:
                if var == "theta" and not any(th.group is m.group for th in self.thresholds):
                    raise ValueError(f"{m!r} records 'theta' but group {m.group.name!r} has no "
                                     "AdaptiveThreshold")
                if var.startswith("x_") and var not in m.group.state_variables and not any(
                        t.group is m.group and f"x_{t.name}" == var for t in self.traces):
                    raise ValueError(f"{m!r} records {var!r} but group {m.group.name!r} has no "
                                     f"Trace named {var[2:]!r}")
        if len({m.every for m in self.state_monitors}) > 1:
            raise ValueError("all StateMonitors of a network must share the same `every`")
        if dt is not None:
            self._check_dt(dt)
        return self

    def _check_dt(self, dt):
        for g in self.groups:
            if isinstance(g, PoissonGroup):
                g.check_dt(dt)
        for s in self.synapses:
            s.delay_steps(dt)
            rule = s.plasticity
            if isinstance(rule, RewardSTDP) and rule.every is not None:
                _whole(rule.every, dt, f"the RewardSTDP update interval of {s.name!r}")
        for inp in self.inputs:
            if hasattr(inp, "signal"):
                inp.signal.steps_per_sample(dt)
        for mod in self.modulators:
            if mod.signal is not None:
                mod.signal.steps_per_sample(dt)
        for rule in self.rules:
            for sig in (getattr(rule, "teacher", None), getattr(rule, "gate", None),
                        getattr(rule, "modulator", None)):
                if sig is not None and not isinstance(sig, Modulator):
                    sig.steps_per_sample(dt)
            if isinstance(rule, RLSRule):
                _whole(rule.every, dt, f"the update interval of {rule!r}")
        for sc in self.scalings:
            _whole(sc.every, dt, f"the update interval of {sc!r}")
        for m in self.state_monitors + self.weight_monitors + self.readout_monitors:
            m.steps_per_sample(dt)

    def memory_estimate(self, duration, dt, *, spike_rate=20.0):
        """Bytes a run of ``duration`` ms at step ``dt`` ms will allocate, by part.

        Parameters
        ----------
        duration : float
            Simulated time (ms).
        dt : float
            Time step (ms).
        spike_rate : float
            Assumed mean firing rate (Hz) of the spike-monitored neurons, for the spike buffers.

        Returns
        -------
        estimate : dict of str to int
            ``"neurons"`` (state and parameters), ``"synapses"`` (the engine's copy: indices,
            weights, delays, delay buffers), ``"plasticity"`` (traces, eligibilities, readout
            weights, RLS matrices), ``"inputs"``, ``"monitors"`` (samples and spikes) and
            ``"total"``. The description's own arrays, already allocated, are not counted.

        Examples
        --------
        >>> from neurosim.spiking import izhikevich_network
        >>> net = izhikevich_network(1000, dt=0.5, random_state=0)
        >>> est = net.memory_estimate(1000.0, 0.5)
        >>> est["synapses"] > 1000 * 1000 * 12   # dense: a million synapses
        True
        """
        n_steps = max(int(round(float(duration) / float(dt))), 1)
        N = self.n_neurons
        out = {"neurons": 0, "synapses": 0, "plasticity": 0, "inputs": 0, "monitors": 0}
        out["neurons"] = 8 * N * 28 + sum(8 * g.n * 3 * len(getattr(g, "receptors", ()))
                                          for g in self.groups)
        max_delay = 0
        for s in self.synapses:
            out["synapses"] += 12 * s.n + 8 * (s.pre.n + 1)
            steps = np.asarray(s.delay) / dt
            if np.ndim(s.delay):
                out["synapses"] += 4 * s.n
                max_delay = max(max_delay, int(np.ceil(steps.max(initial=0))))
                out["synapses"] += 2 * 8 * N * (max_delay + 1)
            else:
                out["synapses"] += 4 * N * (int(np.ceil(steps)) + 1)
            if s.plasticity is not None:
                out["plasticity"] += 12 * s.n + 8 * (s.pre.n + s.post.n + s.post.n + 1)
                if isinstance(s.plasticity, RewardSTDP):
                    out["plasticity"] += 8 * s.n
        for t in self.traces:
            out["plasticity"] += 16 * t.n
        for r in self.readouts:
            out["plasticity"] += 8 * r.n_out * (r.n_in + 2)
        for rule in self.rules:
            n_in, n_out = rule.readout.n_in, rule.readout.n_out
            out["plasticity"] += 8 * (n_in * n_in if isinstance(rule, RLSRule) else n_out * n_in)
            out["plasticity"] += 8 * 2 * n_in
        for sc in self.scalings:
            out["plasticity"] += 16 * sc.synapses.post.n
        for fb in self.feedbacks:
            out["inputs"] += fb.E.nbytes
        for inp in self.inputs:
            out["inputs"] += 8 * inp.target.n * 3
            sig = getattr(inp, "signal", None)
            if sig is not None and sig.mode == "shared":
                out["inputs"] += 8 * sig.n_times * inp.target.n  # the engine expands it
        monitored = sum(m.group.n for m in self.spike_monitors)
        out["monitors"] += int(12 * monitored * spike_rate * n_steps * dt / 1000) + 12 * 4 * N
        for m in self.state_monitors:
            rows = -(-n_steps // m.steps_per_sample(dt))
            out["monitors"] += 8 * rows * m.record.size * len(m.variables)
        for m in self.weight_monitors:
            rows = -(-n_steps // m.steps_per_sample(dt))
            out["monitors"] += 8 * rows * m.record.size
        for m in self.readout_monitors:
            rows = -(-n_steps // m.steps_per_sample(dt))
            out["monitors"] += 8 * rows * m.readout.n_out
        out = {k: int(v) for k, v in out.items()}
        out["total"] = sum(out.values())
        return out

    def check_memory(self, duration, dt, *, available=None):
        """Raise MemoryError if :meth:`memory_estimate` exceeds the available memory.

        Parameters
        ----------
        duration, dt : float
            As for :meth:`memory_estimate`.
        available : int | None
            Bytes available; None asks the operating system
            (:func:`neurosim._utils.available_memory`: ``/proc/meminfo`` or ``os.sysconf``).

        Returns
        -------
        estimate : dict
            The estimate, when it fits.
        """
        est = self.memory_estimate(duration, dt)
        if available is None:
            available = available_memory()
        if available is not None and est["total"] > available:
            parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in est.items()
                              if k != "total" and v)
            raise MemoryError(
                f"this run needs about {format_bytes(est['total'])} ({parts}) but only "
                f"{format_bytes(available)} of memory is available; shorten the run, record "
                "fewer neurons or less often, or pass check_memory=False to run anyway")
        return est

    def __repr__(self):
        return (
            f"Network({len(self.groups)} groups, {self.n_neurons} neurons, "
            f"{sum(s.n for s in self.synapses)} synapses)"
        )


def _whole(every, dt, what):
    r = int(round(every / dt))
    if r < 1 or abs(r * dt - every) > 1e-9 * every:
        raise ValueError(f"{what} ({every} ms) must be a whole number of steps of dt={dt} ms")
    return r
