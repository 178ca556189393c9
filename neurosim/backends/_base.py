"""The backend contract: what every backend receives and returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

#: everything a network description can contain, as feature names a backend declares
ALL_FEATURES = frozenset({
    "Izhikevich", "LIF", "Izhikevich2007", "AdEx", "PoissonGroup", "inhomogeneous_Poisson",
    "SpikeGeneratorGroup",
    "current_synapses", "voltage_synapses", "heterogeneous_delays",
    "current_receptors", "conductance_receptors", "double_exponential_receptors",
    "ConstantInput", "TimedInput", "low_rank_TimedInput", "GaussianNoise", "UniformNoise",
    "StateMonitor", "WeightMonitor", "ReadoutMonitor",
    "STDP", "RewardSTDP", "Modulator", "Trace", "Readout", "ThreeFactorRule", "RLSRule",
    "ReadoutFeedback", "AdaptiveThreshold", "SynapticScaling",
})


def required_features(network):
    """Return the set of feature names ``network`` uses."""
    feats = {type(g).__name__ for g in network.groups}
    for g in network.groups:
        if getattr(g, "inhomogeneous", False):
            feats.add("inhomogeneous_Poisson")
        for r in getattr(g, "receptors", ()):
            feats.add(f"{r.kind}_receptors")
            if r.double:
                feats.add("double_exponential_receptors")
    for s in network.synapses:
        feats.add(f"{s.target}_synapses")
        if np.ndim(s.delay):
            feats.add("heterogeneous_delays")
        if s.plasticity is not None:
            feats.add(s.plasticity.kind)
    for i in network.inputs:
        feats.add(type(i).__name__)
        if getattr(getattr(i, "signal", None), "mode", None) == "lowrank":
            feats.add("low_rank_TimedInput")
    for attr, name in (("state_monitors", "StateMonitor"), ("weight_monitors", "WeightMonitor"),
                       ("readout_monitors", "ReadoutMonitor"), ("modulators", "Modulator"),
                       ("traces", "Trace"), ("readouts", "Readout"),
                       ("feedbacks", "ReadoutFeedback"), ("thresholds", "AdaptiveThreshold"),
                       ("scalings", "SynapticScaling")):
        if getattr(network, attr):
            feats.add(name)
    feats |= {type(r).__name__ for r in network.rules}
    return feats


class Backend:
    """Base class of simulation backends.

    A backend turns a :class:`~neurosim.spiking.Network` into a run. Subclasses set ``name`` and
    ``features`` (the parts of a network description they can simulate) and implement
    :meth:`simulate`.
    """

    name = "base"
    features: frozenset = frozenset()

    def supported(self, **options):
        """The features this backend supports with these options (e.g. a Brian2 device)."""
        return frozenset(self.features)

    def check(self, network, **options):
        """Raise NotImplementedError naming what this backend (with ``options``) cannot simulate."""
        features = self.supported(**options)
        missing = sorted(required_features(network) - set(features))
        if missing:
            where = self.describe(**options)
            raise NotImplementedError(
                f"backend {where} cannot simulate {', '.join(missing)}; it supports "
                f"{', '.join(sorted(features))}"
            )

    def describe(self, **options):
        """The backend's name with the options that change what it supports."""
        return repr(self.name)

    def build(self, network, dt, rng, **options):  # pragma: no cover
        """Return a persistent simulation (with ``run(n_steps, progress)`` returning a
        :class:`RawResult`, ``get_weights``, ``set_weights``, ``state``, ``store``, ``restore``,
        ``reset_rule``, ``add_modulator_events`` and ``close``), used by
        :class:`~neurosim.backends.Session`."""
        raise NotImplementedError


@dataclass
class RawResult:
    """What a backend hands back: spikes as (global neuron index, step), sampled state."""

    spike_index: np.ndarray
    spike_step: np.ndarray
    #: variable name -> (global neuron indices, array of shape (n_samples, n_neurons))
    #: variable -> (group name per column, index in group per column, (n_samples, n_columns))
    state: dict = field(default_factory=dict)
    state_steps: np.ndarray | None = None
    #: "w_<name>"/"y_<name>" -> (steps, column labels, (n_samples, n_columns), monitor)
    vectors: dict = field(default_factory=dict)
    #: final weights and plastic state: name -> (kind, value)
    final: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


_UNITS = {"v": "mV", "u": "model units (mV/ms for Izhikevich, pA for Izhikevich2007 and AdEx)",
          "I_syn": "model current units", "theta": "mV"}


def to_dataset(network, raw, *, duration, dt, backend, options, seed, t_start=0.0):
    """Assemble the xarray Dataset every backend returns."""
    import xarray as xr

    names, local = [], []
    for g in network.groups:
        names.extend([g.name] * g.n)
        local.append(np.arange(g.n))
    local = np.concatenate(local) if local else np.zeros(0, int)
    coords = {
        "neuron": ("neuron", np.arange(network.n_neurons)),
        "group": ("neuron", np.asarray(names, dtype=object)),
        "index_in_group": ("neuron", local),
    }
    order = np.lexsort((raw.spike_index, raw.spike_step))
    spike_neuron = np.asarray(raw.spike_index, dtype=np.int32)[order]
    spike_time = np.asarray(raw.spike_step, dtype=np.float64)[order] * dt
    data = {
        "spike_neuron": ("spike", spike_neuron, {"long_name": "index of the spiking neuron"}),
        "spike_time": ("spike", spike_time, {"units": "ms", "long_name": "spike time"}),
    }
    offsets = network.offsets()
    if raw.state:
        coords["time"] = ("time", np.asarray(raw.state_steps, dtype=np.float64) * dt,
                          {"units": "ms"})
        for var, (gnames, local, values) in raw.state.items():
            dim = f"{var}_neuron"
            local = np.asarray(local, dtype=np.int64)
            coords[dim] = (dim, local, {"long_name": "index of the neuron within its group"})
            coords[f"{var}_group"] = (dim, np.asarray(gnames, dtype=object))
            coords[f"{var}_global"] = (dim, np.asarray([offsets[g] for g in gnames], np.int64)
                                       + local, {"long_name": "global neuron index"})
            units = _UNITS.get(var, "model units" if var[:2] in ("g_", "h_", "x_") else "")
            data[var] = (("time", dim), values, {"units": units})
    for key, (steps, labels, values, monitor) in raw.vectors.items():
        tdim = f"{key}_time"
        coords[tdim] = (tdim, np.asarray(steps, dtype=np.float64) * dt, {"units": "ms"})
        if key.startswith("w_"):
            cdim = f"{key}_synapse"
            long = f"weights of {monitor.synapses.name!r} over time"
        else:
            cdim = f"{key}_output"
            long = f"output of readout {monitor.readout.name!r} over time"
        coords[cdim] = (cdim, np.asarray(labels, dtype=np.int64))
        data[key] = ((tdim, cdim), values, {"long_name": long})
    for key, (kind, value) in raw.final.items():
        name = key.split("_", 1)[1]
        if kind == "synapse":
            data[f"final_{key}"] = ((f"{name}_synapse",), value,
                                    {"long_name": f"{key[0]} of synapses {name!r} after the run "
                                     "(description order)"})
        elif kind == "readout":
            data[f"final_{key}"] = ((f"{name}_output", f"{name}_input"), value,
                                    {"long_name": f"weights of readout {name!r} after the run"})
        elif kind == "neuron":
            data[f"final_{key}"] = ((f"{name}_neuron",), value,
                                    {"long_name": f"threshold offset of group {name!r} after "
                                     "the run", "units": "mV"})
        else:
            data[f"final_{key}"] = ((), value, {"long_name": f"modulator {name!r} after the run"})
    monitored = sorted({m.group.name for m in network.spike_monitors})
    attrs = {
        "title": "neurosim spiking network run",
        "backend": backend,
        "dt": float(dt), "dt_units": "ms",
        "duration": float(duration), "duration_units": "ms",
        "t_start": float(t_start), "t_start_units": "ms",
        "n_neurons": int(network.n_neurons),
        "n_synapses": int(sum(s.n for s in network.synapses)),
        "spike_monitored_groups": json.dumps(monitored),
        "groups": json.dumps({g.name: {"model": type(g).__name__, "n": g.n}
                              for g in network.groups}),
        "network": json.dumps(network.meta, default=float),
        "backend_options": json.dumps(options, default=str),
        "random_state": "None" if seed is None else str(seed),
    }
    attrs.update({f"info_{k}": v for k, v in raw.info.items()})
    ds = xr.Dataset(
        {k: xr.Variable(*v) for k, v in data.items()},
        coords={k: xr.Variable(*v) for k, v in coords.items()},
        attrs=attrs,
    )
    ds["neuron"].attrs["long_name"] = "global neuron index (groups in network order)"
    return ds
