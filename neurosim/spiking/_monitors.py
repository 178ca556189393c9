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
        Names among ``group.state_variables`` (``"v"``, ``"u"``, ``"I_syn"``).
    record : True | array of int
        Neurons to record (indices within the group); True records all.
    every : float | None
        Sampling interval (ms), a whole multiple of dt; None samples every step.
    """

    def __init__(self, group, variables=("v",), record=True, every=None):
        if not isinstance(group, Group) or not group.state_variables:
            raise TypeError(f"StateMonitor needs a neuron model group, got {group!r}")
        if isinstance(variables, str):
            variables = (variables,)
        variables = tuple(variables)
        unknown = [v for v in variables if v not in group.state_variables]
        if unknown or not variables:
            raise ValueError(
                f"unknown state variable(s) {unknown} for {type(group).__name__}; "
                f"expected some of {group.state_variables}"
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
