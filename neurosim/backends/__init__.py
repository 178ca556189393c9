"""Simulation backends for spiking networks, selected by name.

``run(network, duration, dt, backend="numba")`` simulates a :class:`neurosim.spiking.Network`:

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

_REGISTRY = {
    "numba": "neurosim.backends._numba:NumbaBackend",
    "brian2": "neurosim.backends._brian2:Brian2Backend",
}
_INSTANCES: dict[str, Backend] = {}

__all__ = [
    "ALL_FEATURES", "Backend", "RawResult", "get_backend", "list_backends", "register_backend",
    "required_features", "run",
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


def run(network, duration, dt=0.1, *, backend="numba", random_state=None, progress=False,
        **options):
    """Simulate ``network`` for ``duration`` ms with time step ``dt`` ms.

    Parameters
    ----------
    network : neurosim.spiking.Network
        The network description.
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
    **options
        Backend options. brian2: ``device="runtime"|"cpp_standalone"``, ``target="numpy"|"cython"``
        (runtime only), ``build_dir`` (standalone). numba: ``chunk_ms`` (progress granularity).

    Returns
    -------
    results : xarray.Dataset
        ``spike_neuron`` and ``spike_time`` (dim ``spike``, sorted by time then neuron), sampled
        state variables (dims ``time`` and ``<var>_neuron``), coordinates ``neuron``/``group``/
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
    from neurosim.spiking import Network

    from .._utils import check_random_state
    from ._base import to_dataset

    if not isinstance(network, Network):
        raise TypeError(f"network must be a neurosim.spiking.Network, got {type(network).__name__}")
    dt = check_positive("dt", dt)
    duration = check_positive("duration", duration)
    n_steps = int(round(duration / dt))
    if n_steps < 1:
        raise ValueError(f"duration={duration} ms is shorter than one step of dt={dt} ms")
    network.validate()
    built_for = network.meta.get("dt")
    if built_for is not None and abs(float(built_for) - dt) > 1e-12 * dt:
        import warnings

        warnings.warn(
            f"this network was built for dt={built_for} ms (its weights and noise are scaled "
            f"for that step) but runs with dt={dt} ms", stacklevel=2,
        )
    engine = get_backend(backend)
    engine.check(network)
    seed = random_state if isinstance(random_state, numbers.Integral) else None
    rng = check_random_state(random_state)
    raw = engine.simulate(network, n_steps, dt, rng, progress, **options)
    return to_dataset(network, raw, duration=n_steps * dt, dt=dt, backend=backend,
                      options=options, seed=seed)
