"""Simulation backends for spiking networks, selected by name.

``run(network, duration, dt, backend="numba")`` simulates a :class:`neurosim.spiking.Network`;
:class:`Session` keeps the simulation between runs (continue, read and set weights, store and
restore):

- ``"numba"`` (default): neurosim's own engine -- cached JIT kernels, CSR synapses, event-driven
  spike propagation, a delay ring buffer, float64 state.
- ``"brian2"``: builds the equivalent Brian2 objects and runs them on Brian2's ``runtime`` device
  (code generation target ``"numpy"`` or ``"cython"``) or its ``"cpp_standalone"`` device.

Both follow Brian2's per-step schedule, so the same description gives the same spikes (see
:doc:`/spiking` for the tolerance). Equal seeds do not give equal noise across backends: compare
them with noise given as an explicit :class:`~neurosim.spiking.TimedInput`, or by statistics.
New backends register with :func:`register_backend`.
"""

from __future__ import annotations

import importlib
import numbers

from .._utils import check_positive
from ._base import ALL_FEATURES, Backend, RawResult, required_features
from ._reference import brian2_reference

_REGISTRY = {
    "numba": "neurosim.backends._numba:NumbaBackend",
    "brian2": "neurosim.backends._brian2:Brian2Backend",
}
_INSTANCES: dict[str, Backend] = {}

__all__ = [
    "ALL_FEATURES", "Backend", "RawResult", "Session", "brian2_reference", "get_backend",
    "list_backends", "register_backend", "required_features", "run",
]


def register_backend(name, backend):
    """Register a backend under ``name``.

    Parameters
    ----------
    name : str
        Name used in ``run(..., backend=name)``.
    backend : Backend | str
        An instance, or ``"module:Class"`` imported on first use.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"backend name must be a non-empty string, got {name!r}")
    _REGISTRY[name] = backend
    _INSTANCES.pop(name, None)


def list_backends():
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def get_backend(name):
    """Return the backend registered as ``name`` (importing it on first use)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; expected one of {list_backends()}")
    if name not in _INSTANCES:
        spec = _REGISTRY[name]
        if isinstance(spec, str):
            module, cls = spec.split(":")
            spec = getattr(importlib.import_module(module), cls)()
        _INSTANCES[name] = spec
    return _INSTANCES[name]


def _check_network(network):
    from neurosim.spiking import Network

    if not isinstance(network, Network):
        raise TypeError(f"network must be a neurosim.spiking.Network, got {type(network).__name__}")


class Session:
    """A simulation that keeps its state between runs, on any backend.

    ``run(duration)`` continues from where the previous run stopped (state, weights, plastic
    variables, spikes in flight, the random number stream), so ``run(T)`` and two ``run(T / 2)``
    give the same result. Between runs Python can read and change weights (an offline
    consolidation phase), store and restore the whole state, reset a learning rule, or schedule
    neuromodulator events. The network description is never modified.

    Parameters
    ----------
    network : neurosim.spiking.Network
        The network description.
    dt : float
        Time step (ms), > 0.
    backend : str
        ``"numba"`` (default) or ``"brian2"``, or any name given to :func:`register_backend`.
    random_state : None | int | numpy.random.Generator
        Seed of the backend's random numbers (noise, Poisson sources): the same seed gives the
        same result on the same backend, bit for bit; not across backends.
    check_memory : bool
        Refuse (MemoryError naming the estimate and the available memory) a network or a run
        whose :meth:`~neurosim.spiking.Network.memory_estimate` exceeds the available memory.
    **options
        Backend options. brian2: ``device="runtime"|"cpp_standalone"``, ``target="auto"|"numpy"|
        "cython"`` (runtime only), ``build_dir`` (standalone). numba: ``chunk_ms`` (progress
        granularity).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.spiking import LIF, ConstantInput, Network, SpikeMonitor
    >>> from neurosim.backends import Session
    >>> g = LIF(1, name="cell")
    >>> sim = Session(Network(g, ConstantInput(g, 20.0), SpikeMonitor(g)), dt=0.1)
    >>> first = sim.run(50.0)
    >>> second = sim.run(50.0)            # continues: spike times from 50 ms on
    >>> second.spike_time.values
    array([61.2, 77. , 92.8])
    """

    def __init__(self, network, dt=0.1, *, backend="numba", random_state=None, check_memory=True,
                 **options):
        import warnings

        from .._utils import check_random_state

        _check_network(network)
        self.dt = check_positive("dt", dt)
        network.validate(self.dt)
        built_for = network.meta.get("dt")
        if built_for is not None and abs(float(built_for) - self.dt) > 1e-12 * self.dt:
            warnings.warn(
                f"this network was built for dt={built_for} ms (its weights and noise are scaled "
                f"for that step) but runs with dt={self.dt} ms", stacklevel=2,
            )
        self.network = network
        self.backend = backend
        self.options = dict(options)
        self.check_memory = bool(check_memory)
        engine = get_backend(backend)
        engine.check(network, **options)
        if self.check_memory:
            network.check_memory(self.dt, self.dt)
        self.seed = random_state if isinstance(random_state, numbers.Integral) else None
        rng = check_random_state(random_state)
        self._sim = engine.build(network, self.dt, rng, **options)
        self._step = 0
        self._stored = {}

    @property
    def t(self):
        """Simulated time so far (ms)."""
        return self._step * self.dt

    def run(self, duration, *, progress=False):
        """Simulate ``duration`` more ms from the current state.

        Parameters
        ----------
        duration : float
            Simulated time (ms), > 0; rounded to a whole number of steps.
        progress : bool
            Show a progress bar.

        Returns
        -------
        results : xarray.Dataset
            This segment's results (see :func:`run`); times continue from :attr:`t`.
        """
        from ._base import to_dataset

        duration = check_positive("duration", duration)
        n_steps = int(round(duration / self.dt))
        if n_steps < 1:
            raise ValueError(f"duration={duration} ms is shorter than one step of dt={self.dt} ms")
        if self.check_memory:
            est = self.network.memory_estimate(n_steps * self.dt, self.dt)
            from neurosim._utils import available_memory, format_bytes

            avail = available_memory()
            if avail is not None and est["monitors"] > avail:
                raise MemoryError(
                    f"recording this run needs about {format_bytes(est['monitors'])} but only "
                    f"{format_bytes(avail)} of memory is available; run shorter segments, record "
                    "fewer neurons or less often, or pass check_memory=False to run anyway")
        t_start = self.t
        raw = self._sim.run(n_steps, progress)
        self._step += n_steps
        return to_dataset(self.network, raw, duration=n_steps * self.dt, dt=self.dt,
                          backend=self.backend, options=self.options, seed=self.seed,
                          t_start=t_start)

    def _check_name(self, name):
        net = self.network
        names = [s.name for s in net.synapses] + [r.name for r in net.readouts]
        if name not in names:
            raise ValueError(f"no synapse set or readout named {name!r}; expected one of {names}")
        return next(o for o in net.synapses + net.readouts if o.name == name)

    def get_weights(self, name):
        """Current weights of a synapse set (description order) or a readout ``(n_out, n_in)``.

        Returns a copy; the description keeps its initial weights.
        """
        self._check_name(name)
        return self._sim.get_weights(name)

    def set_weights(self, name, w):
        """Replace the weights of a synapse set or readout before the next run.

        Parameters
        ----------
        name : str
            Name of the synapse set or readout.
        w : float | array
            New weights, shape ``(n_synapses,)`` or ``(n_out, n_in)`` (a scalar is broadcast).
        """
        import numpy as np

        obj = self._check_name(name)
        shape = (obj.n,) if hasattr(obj, "pre") else (obj.n_out, obj.n_in)
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(shape, float(w))
        if w.shape != shape:
            raise ValueError(f"weights of {name!r} must have shape {shape}, got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weights of {name!r} contain NaN or inf")
        self._sim.set_weights(name, np.ascontiguousarray(w))

    @property
    def state(self):
        """A dict of copies of the current state (per group, traces, plastic variables)."""
        return self._sim.state

    def store(self, name="default"):
        """Keep a copy of the whole state (as Brian2's ``Network.store``)."""
        self._stored[name] = (self._step, self._sim.store())

    def restore(self, name="default"):
        """Go back to a state kept by :meth:`store` (time included)."""
        if name not in self._stored:
            raise ValueError(f"no stored state named {name!r}; stored: {sorted(self._stored)}")
        self._step, snap = self._stored[name]
        self._sim.restore(snap)

    def reset_rule(self, name):
        """Reset a readout rule: ``P = I / alpha`` for an RLSRule (FORCE "with reset"), the
        eligibility to 0 for a ThreeFactorRule."""
        self._sim.reset_rule(name)

    def add_modulator_events(self, name, times, amounts=1.0):
        """Schedule events (e.g. rewards) of a :class:`~neurosim.spiking.Modulator`.

        Parameters
        ----------
        name : str
            The modulator's name.
        times : array of float
            Event times (ms), at or after the current time :attr:`t`.
        amounts : float | array
            Increments of ``d``.
        """
        import numpy as np

        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if times.ndim != 1 or not np.all(np.isfinite(times)):
            raise ValueError("times must be a 1-D array of finite times (ms)")
        amounts = np.broadcast_to(np.asarray(amounts, dtype=np.float64), times.shape).copy()
        if not np.all(np.isfinite(amounts)):
            raise ValueError("amounts must be finite")
        if times.size:
            self._sim.add_modulator_events(name, times, amounts)

    def close(self):
        """Release the backend's resources (Brian2's device, build folders)."""
        self._sim.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Session({self.network!r}, dt={self.dt}, backend={self.backend!r}, t={self.t:g} ms)"


def run(network, duration, dt=0.1, *, backend="numba", random_state=None, progress=False,
        check_memory=True, **options):
    """Simulate ``network`` for ``duration`` ms with time step ``dt`` ms.

    The one-shot form of :class:`Session`: ``Session(network, dt, ...).run(duration)``.

    Parameters
    ----------
    network : neurosim.spiking.Network
        The network description (never modified by the run).
    duration : float
        Simulated time (ms), > 0; rounded to a whole number of steps.
    dt : float
        Time step (ms), > 0.
    backend : str
        ``"numba"`` (default) or ``"brian2"``, or any name given to :func:`register_backend`.
    random_state : None | int | numpy.random.Generator
        Seed of the backend's random numbers (noise, Poisson sources). The same seed gives the
        same result on the same backend, bit for bit; not across backends.
    progress : bool
        Show a progress bar.
    check_memory : bool
        Refuse a run whose memory estimate exceeds the available memory (MemoryError).
    **options
        Backend options. brian2: ``device="runtime"|"cpp_standalone"``, ``target="numpy"|"cython"``
        (runtime only), ``build_dir`` (standalone). numba: ``chunk_ms`` (progress granularity).

    Returns
    -------
    results : xarray.Dataset
        ``spike_neuron`` and ``spike_time`` (dim ``spike``, sorted by time then neuron), sampled
        state variables (dims ``time`` and ``<var>_neuron``, the index within the group, with
        ``<var>_group`` and ``<var>_global`` coordinates), monitored weights and readouts, the
        final weights and plastic state (``final_*``), coordinates ``neuron``/``group``/
        ``index_in_group``, and the run's parameters in ``attrs``.

    Examples
    --------
    >>> from neurosim.spiking import LIF, ConstantInput, Network, SpikeMonitor
    >>> from neurosim.backends import run
    >>> g = LIF(1, name="cell")
    >>> ds = run(Network(g, ConstantInput(g, 20.0), SpikeMonitor(g)), duration=100.0, dt=0.1)
    >>> ds.spike_time.values  # period t_ref + tau_m log(20 / (20 - 15)) = 15.86 ms
    array([13.8, 29.6, 45.4, 61.2, 77. , 92.8])
    """
    _check_network(network)
    duration = check_positive("duration", duration)
    dt = check_positive("dt", dt)
    if int(round(duration / dt)) < 1:
        raise ValueError(f"duration={duration} ms is shorter than one step of dt={dt} ms")
    if check_memory:
        network.validate(dt)
        network.check_memory(duration, dt)
    with Session(network, dt, backend=backend, random_state=random_state,
                 check_memory=False, **options) as sim:
        return sim.run(duration, progress=progress)
