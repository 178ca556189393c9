"""External inputs to neuron groups: constant, time-varying arrays, Gaussian noise.

Poisson input is a :class:`~neurosim.spiking.PoissonGroup` connected with
:class:`~neurosim.spiking.Synapses`, as in Brian2.
"""

from __future__ import annotations

import numpy as np

from .._utils import as_per_neuron, check_positive
from ._groups import Group


class _Input:
    def __init__(self, target):
        if not isinstance(target, Group) or not target.receives_synapses:
            raise TypeError(f"inputs must target a neuron model group, got {target!r}")
        self.target = target

    def __repr__(self):
        return f"{type(self).__name__}(target={self.target.name!r})"


class ConstantInput(_Input):
    """A constant current added to ``I_ext`` of every neuron of ``target``.

    Parameters
    ----------
    target : Izhikevich | LIF
        The group.
    value : float | array of shape (target.n,)
        The current, in the units of the model's voltage equation.
    """

    def __init__(self, target, value):
        super().__init__(target)
        self.value = as_per_neuron("value", value, target.n)


class TimedInput(_Input):
    """A time-varying current given as an array sampled every ``dt`` ms.

    Step ``k`` of the simulation uses row ``floor(k * dt_sim / dt)``; after the last row the last
    value is held (as Brian2's ``TimedArray`` does). This is how deterministic "noise" is injected
    for cross-backend comparisons.

    Parameters
    ----------
    target : Izhikevich | LIF
        The group.
    values : array of shape (n_times,) or (n_times, target.n)
        The current; a 1-D array drives every neuron of the group identically.
    dt : float
        Sampling step of ``values`` (ms); a whole multiple of the simulation step.
    """

    def __init__(self, target, values, dt):
        super().__init__(target)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
            self.shared = True
        elif values.ndim == 2 and values.shape[1] == target.n:
            self.shared = False
        else:
            raise ValueError(
                f"values must have shape (n_times,) or (n_times, {target.n}) for group "
                f"{target.name!r}, got {values.shape}"
            )
        if values.shape[0] == 0:
            raise ValueError("values must have at least one time sample")
        if not np.all(np.isfinite(values)):
            raise ValueError("values contains NaN or inf")
        self.values = values
        self.dt = check_positive("dt", dt)

    def steps_per_sample(self, dt):
        """Simulation steps per sample of ``values`` for simulation step ``dt``."""
        ratio = self.dt / dt
        r = int(round(ratio))
        if r < 1 or abs(r - ratio) > 1e-9 * ratio:
            raise ValueError(
                f"TimedInput dt={self.dt} ms must be a whole multiple of the simulation dt={dt} ms"
            )
        return r


class GaussianNoise(_Input):
    """Gaussian white-noise current, drawn afresh every time step for every neuron.

    ``I_noise = mean + std * xi`` with ``xi ~ N(0, 1)`` independent across neurons and steps and
    held constant during a step. This is the "thalamic input" of Izhikevich (2003): note that
    ``std`` is per step, not scaled by ``sqrt(dt)``, so the noise power depends on ``dt``.

    Parameters
    ----------
    target : Izhikevich | LIF
        The group.
    std : float | array of shape (target.n,)
        Standard deviation per neuron.
    mean : float | array of shape (target.n,)
        Mean per neuron.
    """

    def __init__(self, target, std, mean=0.0):
        super().__init__(target)
        self.std = as_per_neuron("std", std, target.n)
        if np.any(self.std < 0):
            raise ValueError(f"std must be >= 0, got min {self.std.min()}")
        self.mean = as_per_neuron("mean", mean, target.n)
