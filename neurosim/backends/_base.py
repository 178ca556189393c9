"""The backend contract: what every backend receives and returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

#: everything a network description can contain, as feature names a backend declares
ALL_FEATURES = frozenset({
    "Izhikevich", "LIF", "PoissonGroup", "SpikeGeneratorGroup",
    "current_synapses", "voltage_synapses", "heterogeneous_delays",
    "ConstantInput", "TimedInput", "GaussianNoise", "StateMonitor",
})


def required_features(network):
    """Return the set of feature names ``network`` uses."""
    feats = {type(g).__name__ for g in network.groups}
    for s in network.synapses:
        feats.add(f"{s.target}_synapses")
        if np.ndim(s.delay):
            feats.add("heterogeneous_delays")
    feats |= {type(i).__name__ for i in network.inputs}
    if network.state_monitors:
        feats.add("StateMonitor")
    return feats


class Backend:
    """Base class of simulation backends.

    A backend turns a :class:`~neurosim.spiking.Network` into a run. Subclasses set ``name`` and
    ``features`` (the parts of a network description they can simulate) and implement
    :meth:`simulate`.
    """

    name = "base"
    features: frozenset = frozenset()

    def check(self, network):
        """Raise NotImplementedError naming what this backend cannot simulate."""
        missing = sorted(required_features(network) - set(self.features))
        if missing:
            raise NotImplementedError(
                f"backend {self.name!r} cannot simulate {', '.join(missing)}; it supports "
                f"{', '.join(sorted(self.features))}"
            )

    def simulate(self, network, n_steps, dt, rng, progress, **options):  # pragma: no cover
        """Run ``network`` for ``n_steps`` steps of ``dt`` ms; return a :class:`RawResult`."""
        raise NotImplementedError


@dataclass
class RawResult:
    """What a backend hands back: spikes as (global neuron index, step), sampled state."""

    spike_index: np.ndarray
    spike_step: np.ndarray
    #: variable name -> (global neuron indices, array of shape (n_samples, n_neurons))
    state: dict = field(default_factory=dict)
    state_steps: np.ndarray | None = None
    info: dict = field(default_factory=dict)


_UNITS = {"v": "mV", "u": "mV/ms", "I_syn": "model current units"}


def to_dataset(network, raw, *, duration, dt, backend, options, seed):
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
    if raw.state:
        coords["time"] = ("time", np.asarray(raw.state_steps, dtype=np.float64) * dt,
                          {"units": "ms"})
        for var, (gidx, values) in raw.state.items():
            dim = f"{var}_neuron"
            coords[dim] = (dim, np.asarray(gidx, dtype=np.int64))
            data[var] = (("time", dim), values, {"units": _UNITS.get(var, "")})
    monitored = sorted({m.group.name for m in network.spike_monitors})
    attrs = {
        "title": "neurosim spiking network run",
        "backend": backend,
        "dt": float(dt), "dt_units": "ms",
        "duration": float(duration), "duration_units": "ms",
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
