"""Monitors: what a run records."""

from __future__ import annotations

import numpy as np

from ._groups import Group


class SpikeMonitor:
    """Record every spike of ``group`` (stored sparsely as neuron index and time).

    Parameters
    ----------
    group : Group
        The group to record.
    """

    def __init__(self, group):
        if not isinstance(group, Group):
            raise TypeError(f"group must be a neuron group, got {type(group).__name__}")
        self.group = group

    def __repr__(self):
        return f"SpikeMonitor({self.group.name!r})"


class StateMonitor:
    """Sample state variables of some neurons of ``group``.

    Values are recorded at the start of each sampled step (before integration), i.e. the state at
    time ``k * dt`` as Brian2's ``StateMonitor`` does.

    Parameters
    ----------
    group : Izhikevich | LIF
        The group.
    variables : str | sequence of str
        Names among ``group.state_variables`` (``"v"``, ``"u"``, ``"I_syn"``, receptor variables
        ``"g_<name>"``/``"h_<name>"``), ``"theta"`` (with an :class:`AdaptiveThreshold` on the
        group) or ``"x_<trace>"`` (a :class:`Trace` of the group).
    record : True | array of int
        Neurons to record (indices within the group); True records all. Results are indexed by
        these indices (dim ``<var>_neuron``), with the group name in ``<var>_group``.
    every : float | None
        Sampling interval (ms), a whole multiple of dt; None samples every step.
    """

    def __init__(self, group, variables=("v",), record=True, every=None):
        if not isinstance(group, Group) or not group.state_variables:
            raise TypeError(f"StateMonitor needs a neuron model group, got {group!r}")
        if isinstance(variables, str):
            variables = (variables,)
        variables = tuple(variables)
        unknown = [v for v in variables if v not in group.state_variables and v != "theta"
                   and not v.startswith("x_")]
        if unknown or not variables:
            raise ValueError(
                f"unknown state variable(s) {unknown} for {type(group).__name__}; "
                f"expected some of {group.state_variables}, 'theta' or 'x_<trace name>'"
            )
        if record is True:
            record = np.arange(group.n)
        record = np.asarray(record)
        if record.ndim != 1 or record.size == 0 or not np.issubdtype(record.dtype, np.integer):
            raise ValueError("record must be True or a non-empty 1-D array of neuron indices")
        if record.min() < 0 or record.max() >= group.n:
            raise ValueError(f"record indices must lie in [0, {group.n})")
        self.group = group
        self.variables = variables
        self.record = record.astype(np.int64)
        if every is not None:
            every = float(every)
            if not every > 0:
                raise ValueError(f"every must be > 0 ms, got {every}")
        self.every = every

    def steps_per_sample(self, dt):
        """Steps between samples for simulation step ``dt``."""
        if self.every is None:
            return 1
        r = int(round(self.every / dt))
        if r < 1 or abs(r * dt - self.every) > 1e-9 * self.every:
            raise ValueError(f"StateMonitor every={self.every} ms is not a multiple of dt={dt} ms")
        return r

    def __repr__(self):
        return f"StateMonitor({self.group.name!r}, {self.variables})"


def _every(every):
    if every is None:
        return None
    every = float(every)
    if not every > 0:
        raise ValueError(f"every must be > 0 ms, got {every}")
    return every


def _steps(every, dt, what):
    if every is None:
        return 1
    r = int(round(every / dt))
    if r < 1 or abs(r * dt - every) > 1e-9 * every:
        raise ValueError(f"{what} every={every} ms is not a multiple of dt={dt} ms")
    return r


class WeightMonitor:
    """Sample chosen synaptic weights over time (at the start of each sampled step).

    Parameters
    ----------
    synapses : Synapses | Readout
        Plastic synapses, or a readout (its ``W`` flattened row by row, output-major).
    record : True | array of int
        Synapse indices in the description's order (for a readout: flat indices
        ``k * n_in + j``); True records all.
    every : float | None
        Sampling interval (ms), a multiple of dt; None samples every step.
    name : str | None
        Identifier; results are ``w_<name>`` with dims ``(w_<name>_time, w_<name>_synapse)``.
        Defaults to the synapses' (or readout's) name.
    """

    def __init__(self, synapses, record=True, every=None, name=None):
        from ._plasticity import Readout
        from ._synapses import Synapses

        if isinstance(synapses, Synapses):
            size = synapses.n
        elif isinstance(synapses, Readout):
            size = synapses.n_out * synapses.n_in
        else:
            raise TypeError(f"WeightMonitor needs Synapses or a Readout, got {synapses!r}")
        if record is True:
            record = np.arange(size)
        record = np.asarray(record)
        if record.ndim != 1 or record.size == 0 or not np.issubdtype(record.dtype, np.integer):
            raise ValueError("record must be True or a non-empty 1-D array of synapse indices")
        if record.min() < 0 or record.max() >= size:
            raise ValueError(f"record indices must lie in [0, {size}) for {synapses.name!r}")
        self.synapses = synapses
        self.record = record.astype(np.int64)
        self.every = _every(every)
        self.name = synapses.name if name is None else name

    def steps_per_sample(self, dt):
        return _steps(self.every, dt, "WeightMonitor")

    def __repr__(self):
        return f"WeightMonitor({self.synapses.name!r}, {self.record.size} synapses)"


class ReadoutMonitor:
    """Sample a readout's output ``y`` (the value computed at the start of each sampled step).

    Parameters
    ----------
    readout : Readout
        The readout.
    every : float | None
        Sampling interval (ms); None samples every step.

    Results are ``y_<readout>`` with dims ``(y_<readout>_time, <readout>_output)``.
    """

    def __init__(self, readout, every=None):
        from ._plasticity import Readout

        if not isinstance(readout, Readout):
            raise TypeError(f"ReadoutMonitor needs a Readout, got {readout!r}")
        self.readout = readout
        self.every = _every(every)

    def steps_per_sample(self, dt):
        return _steps(self.every, dt, "ReadoutMonitor")

    def __repr__(self):
        return f"ReadoutMonitor({self.readout.name!r})"
