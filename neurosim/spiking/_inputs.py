"""External inputs to neuron groups: constant, time-varying arrays, Gaussian noise.

Poisson input is a :class:`~neurosim.spiking.PoissonGroup` connected with
:class:`~neurosim.spiking.Synapses`, as in Brian2.
"""

from __future__ import annotations

import numpy as np

from .._utils import as_per_neuron
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
    """A time-varying current given as an array sampled every ``dt`` ms, optionally low rank.

    Step ``k`` of the simulation uses row ``floor(k * dt_sim / dt)``; after the last row the last
    value is held (as Brian2's ``TimedArray`` does). This is also how deterministic "noise" is
    injected for cross-backend comparisons.

    With ``gains``, the current is low rank: ``K`` signals ``values[:, c]`` mixed by an ``(n, K)``
    gain matrix, ``I_i(t) = sum_c gains[i, c] * values[t, c]``. A cue drive over many trials then
    needs ``n_times * K + n * K`` numbers instead of a dense ``n_times * n`` array.

    Parameters
    ----------
    target : neuron group
        The group.
    values : array of shape (n_times,), (n_times, target.n) or (n_times, K)
        The current; a 1-D array drives every neuron of the group identically; ``(n_times, K)``
        needs ``gains``.
    dt : float
        Sampling step of ``values`` (ms); a whole multiple of the simulation step.
    gains : array of shape (target.n, K) | None
        Low-rank mixing matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.spiking import LIF, TimedInput
    >>> cells = LIF(1000, name="cells")
    >>> cues = np.zeros((2000, 3)); cues[100:200, 0] = 1.0      # 3 cue signals, 1 ms samples
    >>> gains = np.random.default_rng(0).normal(size=(1000, 3))
    >>> drive = TimedInput(cells, cues, dt=1.0, gains=gains)     # 6,000 + 3,000 numbers
    """

    def __init__(self, target, values, dt, *, gains=None):
        super().__init__(target)
        from ._signals import _Signal

        self.signal = _Signal(values, dt, target.n, gains=gains,
                              what=f"values of the TimedInput to group {target.name!r}")
        self.dt = self.signal.dt

    @property
    def values(self):
        """The sampled signals, shape ``(n_times, K)``."""
        return self.signal.values

    @property
    def gains(self):
        return self.signal.gains

    @property
    def shared(self):
        """Whether one signal drives every neuron alike."""
        return self.signal.mode == "shared"

    def steps_per_sample(self, dt):
        """Simulation steps per sample of ``values`` for simulation step ``dt``."""
        return self.signal.steps_per_sample(dt)


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


class UniformNoise(_Input):
    """White noise drawn uniformly in ``[low, high)``, afresh every time step for every neuron.

    ``I_noise = low + (high - low) * U`` with ``U ~ U(0, 1)``, held constant during a step, as the
    thalamic input ``13 * (rand - 0.5)`` of Izhikevich's ``spnet.m`` and ``daspnet.m``. As for
    :class:`GaussianNoise`, the range is per step, so the noise power depends on ``dt``.

    Parameters
    ----------
    target : neuron group
        The group.
    low, high : float | array of shape (target.n,)
        Bounds per neuron, ``low <= high``.
    """

    def __init__(self, target, low, high):
        super().__init__(target)
        self.low = as_per_neuron("low", low, target.n)
        self.high = as_per_neuron("high", high, target.n)
        if np.any(self.high < self.low):
            raise ValueError("high must be >= low for every neuron")
