"""neurosim: brain-inspired memory and learning models, and brain decoders.

The simulation half describes networks as plain data (:mod:`neurosim.spiking`) and runs them on
interchangeable backends (:mod:`neurosim.backends`: ``"numba"`` and ``"brian2"``). Results are
:class:`xarray.Dataset` objects (:mod:`neurosim.results`).

``import neurosim`` is cheap: numba, Brian2, xarray and torch load when first used.
"""

from . import _numba  # noqa: F401  (fixes numba's cache folder now; does not import numba)
from ._lazy import attach

__version__ = "0.1.0.dev0"

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["backends", "spiking", "results", "experiments", "sparsey", "dendrites",
                "continual", "homeostasis", "decoding", "datasets", "cli", "sweep"],
    submod_attrs={"backends": ["run"]},  # neurosim.sweep is a callable module
)
__all__ = ["__version__", *__all__]
