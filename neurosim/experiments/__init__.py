"""The experiments behind ``neurosim run NAME``, one per module, in a registry.

An experiment is a function ::

    fn(*, quick: bool, backend: str, seed: int, progress: bool) -> ExperimentResult

that builds a model, runs it on embedded data (no network), and returns its data set, figures,
a short markdown report and the key numbers (:class:`ExperimentResult`). ``quick=True`` is a
smaller version that runs in seconds (``neurosim demo`` runs every experiment that way).

Experiments are registered as ``"module:function"`` strings and imported when first run, so that
listing them (``neurosim list``) imports neither numba nor Brian2. Add one with :func:`register`.

Examples
--------
>>> from neurosim.experiments import get_experiment, list_experiments
>>> [e.name for e in list_experiments()]  # doctest: +SKIP
['spiking-izhikevich']
>>> result = get_experiment("spiking-izhikevich").run(quick=True)  # doctest: +SKIP
>>> print(result.report)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Experiment", "ExperimentResult", "get_experiment", "list_experiments", "register"]


@dataclass
class ExperimentResult:
    """What an experiment returns.

    Parameters
    ----------
    dataset : xarray.Dataset
        The results (saved as ``results.nc`` by the CLI), with the key numbers also in ``attrs``.
    figures : dict of str to matplotlib.figure.Figure
        Figures by file stem (``"raster"`` is saved as ``raster.png``).
    report : str
        Markdown with the key numbers.
    metrics : dict of str to float
        The key numbers, by name (units in the name, e.g. ``rate_mean_hz``).
    """

    dataset: Any
    figures: dict = field(default_factory=dict)
    report: str = ""
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A named experiment.

    Parameters
    ----------
    name : str
        Name used on the command line (``neurosim run NAME``), lower case with dashes.
    summary : str
        One line shown by ``neurosim list``.
    function : callable | str
        The experiment function, or ``"module:function"`` imported when first needed.

    Examples
    --------
    >>> from neurosim.experiments import Experiment, register
    >>> register(Experiment("my-exp", "What it shows", "mypackage.my_exp:run"))  # doctest: +SKIP
    """

    name: str
    summary: str
    function: Callable | str

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise ValueError(f"experiment name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.summary, str):
            raise TypeError(f"summary must be a str, got {type(self.summary).__name__}")
        fn = self.function
        if isinstance(fn, str):
            module, sep, attr = fn.partition(":")
            if not (module and sep and attr):
                raise ValueError(f"function must be a callable or 'module:function', got {fn!r}")
        elif not callable(fn):
            raise TypeError(f"function must be a callable or 'module:function', got {fn!r}")

    def load(self):
        """Return the experiment function, importing its module if needed."""
        if callable(self.function):
            return self.function
        module, _, attr = self.function.partition(":")
        fn = getattr(importlib.import_module(module), attr, None)
        if not callable(fn):
            raise ImportError(f"experiment {self.name!r}: {self.function!r} is not a function")
        return fn

    def accepts(self, option):
        """Whether the experiment function takes the keyword argument ``option`` (e.g. ``"data"``)."""
        params = inspect.signature(self.load()).parameters
        return option in params or any(p.kind is p.VAR_KEYWORD for p in params.values())

    def run(self, *, quick=False, backend="numba", seed=0, progress=False, **options):
        """Run the experiment.

        Parameters
        ----------
        quick : bool
            Run the small, fast version.
        backend : str
            Simulation backend (see :func:`neurosim.backends.list_backends`).
        seed : int
            Random seed; the same seed gives the same results on the same backend.
        progress : bool
            Show a progress bar.
        **options
            Options of this experiment only, e.g. ``data=PATH`` for the experiments that can run on
            a real data set on disk (see :meth:`accepts`).

        Returns
        -------
        result : ExperimentResult
        """
        for option in options:
            if not self.accepts(option):
                raise TypeError(f"experiment {self.name!r} takes no option {option!r}")
        result = self.load()(quick=bool(quick), backend=backend, seed=seed,
                             progress=bool(progress), **options)
        if not isinstance(result, ExperimentResult):
            raise TypeError(f"experiment {self.name!r} returned {type(result).__name__}, "
                            "expected an ExperimentResult")
        return result


_REGISTRY: dict[str, Experiment] = {
    e.name: e for e in [
        Experiment(
            "spiking-izhikevich",
            "Izhikevich (2003) network of 80% excitatory / 20% inhibitory spiking neurons: "
            "raster, rates, ISI CV",
            "neurosim.experiments.spiking_izhikevich:run",
        ),
        Experiment(
            "sparsey-digits",
            "Sparsey (Rinkus 2017) sparse distributed codes on digits: similarity preservation, "
            "capacity, accuracy, sequence recall",
            "neurosim.experiments.sparsey_digits:run",
        ),
        Experiment(
            "dendrites-theory",
            "Ahmad & Hawkins (2016) SDR theory: false-match error vs synapses, n and NMDA threshold, "
            "exact vs Monte Carlo",
            "neurosim.experiments.dendrites_theory:run",
        ),
        Experiment(
            "dendrites-continual",
            "Active-dendrites network (Iyer et al. 2022) on permuted digits vs MLPs",
            "neurosim.experiments.dendrites_continual:run",
        ),
        Experiment(
            "continual-fastslow",
            "Fast/slow-weight continual learner vs baselines, with per-iteration evaluation "
            "(stability gap)",
            "neurosim.experiments.continual_fastslow:run",
        ),
        Experiment(
            "decode-histn",
            "HiSTN EEG emotion decoding on simulated DREAMER-like data: smoothed vs one-hot labels",
            "neurosim.experiments.decode_histn:run",
        ),
        Experiment(
            "decode-brainflora",
            "BrainFLORA EEG/MEG/fMRI to image-embedding retrieval on simulated THINGS-like data",
            "neurosim.experiments.decode_brainflora:run",
        ),
        Experiment(
            "decode-mindbridge",
            "MindBridge cross-subject fMRI decoding and reset-tuning on simulated NSD-like data",
            "neurosim.experiments.decode_mindbridge:run",
        ),
        Experiment(
            "decode-braincorl",
            "BraInCoRL in-context voxelwise encoding vs ridge on simulated NSD-like data "
            "(512-dim embeddings, <= 100 images)",
            "neurosim.experiments.decode_braincorl:run",
        ),
        Experiment(
            "decode-haxby",
            "8-way category decoding of Haxby et al. (2001) fMRI by leave-one-run-out: "
            "correlation, ridge, logistic, MindBridge and BrainFLORA encoders, permutation tests",
            "neurosim.experiments.decode_haxby:run",
        ),
    ]
}


def register(experiment, *, overwrite=False):
    """Add ``experiment`` to the registry.

    Parameters
    ----------
    experiment : Experiment
        The experiment.
    overwrite : bool
        Replace an experiment registered under the same name. If False, that raises ValueError.

    Returns
    -------
    experiment : Experiment
    """
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be an Experiment, got {type(experiment).__name__}")
    if experiment.name in _REGISTRY and not overwrite:
        raise ValueError(f"an experiment named {experiment.name!r} is already registered; "
                         "pass overwrite=True to replace it")
    _REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name):
    """Return the experiment registered as ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the valid ones.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def list_experiments():
    """All registered experiments, sorted by name.

    Returns
    -------
    experiments : list of Experiment
    """
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
