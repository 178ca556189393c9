"""neurosim: brain-inspired memory and learning models, and brain decoders.

The simulation half describes networks as plain data (:mod:`neurosim.spiking`) and runs them on
interchangeable backends (:mod:`neurosim.backends`: ``"numba"`` and ``"brian2"``). Results are
:class:`xarray.Dataset` objects (:mod:`neurosim.results`).

``import neurosim`` is cheap: numba, Brian2, xarray and torch load when first used.
"""

import importlib

__version__ = "0.1.0.dev0"

_SUBMODULES = ("backends", "spiking", "results", "experiments", "sparsey", "dendrites", "continual",
               "decoding", "datasets", "cli")
_LAZY_ATTRS = {"run": "backends", "sweep": "sweep"}

__all__ = ["__version__", "run", "sweep", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_ATTRS:
        module = importlib.import_module(f"{__name__}.{_LAZY_ATTRS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
