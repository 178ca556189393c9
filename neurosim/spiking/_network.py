"""The network: a validated collection of groups, synapses, inputs and monitors."""

from __future__ import annotations

from ._groups import Group
from ._inputs import _Input
from ._monitors import SpikeMonitor, StateMonitor
from ._synapses import Synapses


class Network:
    """A spiking network described as plain data, runnable on any backend.

    Parameters
    ----------
    *objects : Group | Synapses | input | SpikeMonitor | StateMonitor
        The parts of the network. Groups referenced by synapses, inputs and monitors must be
        included too.
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
        self.groups: list[Group] = []
        self.synapses: list[Synapses] = []
        self.inputs: list[_Input] = []
        self.spike_monitors: list[SpikeMonitor] = []
        self.state_monitors: list[StateMonitor] = []
        self.meta = dict(meta or {})
        for obj in objects:
            self.add(obj)

    def add(self, *objects):
        """Add parts to the network; returns the network."""
        for obj in objects:
            if isinstance(obj, Group):
                if any(g.name == obj.name for g in self.groups):
                    raise ValueError(f"two groups are named {obj.name!r}; names must be unique")
                self.groups.append(obj)
            elif isinstance(obj, Synapses):
                if any(s.name == obj.name for s in self.synapses):
                    raise ValueError(f"two synapse sets are named {obj.name!r}")
                self.synapses.append(obj)
            elif isinstance(obj, _Input):
                self.inputs.append(obj)
            elif isinstance(obj, SpikeMonitor):
                self.spike_monitors.append(obj)
            elif isinstance(obj, StateMonitor):
                self.state_monitors.append(obj)
            else:
                raise TypeError(f"cannot add {type(obj).__name__} to a Network: {obj!r}")
        return self

    @property
    def n_neurons(self):
        """Total number of neurons and spike sources."""
        return sum(g.n for g in self.groups)

    def offsets(self):
        """Global index of the first neuron of each group, by group name."""
        out, start = {}, 0
        for g in self.groups:
            out[g.name] = start
            start += g.n
        return out

    def validate(self):
        """Check that every referenced group is part of the network."""
        members = {id(g) for g in self.groups}

        def need(group, what):
            if id(group) not in members:
                raise ValueError(f"{what} refers to group {group.name!r}, which is not in the network")

        for s in self.synapses:
            need(s.pre, f"synapses {s.name!r}")
            need(s.post, f"synapses {s.name!r}")
        for inp in self.inputs:
            need(inp.target, repr(inp))
        for m in self.spike_monitors + self.state_monitors:
            need(m.group, repr(m))
        if len({m.every for m in self.state_monitors}) > 1:
            raise ValueError("all StateMonitors of a network must share the same `every`")
        return self

    def __repr__(self):
        return (
            f"Network({len(self.groups)} groups, {self.n_neurons} neurons, "
            f"{sum(s.n for s in self.synapses)} synapses)"
        )
