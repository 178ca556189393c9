"""The examples in the public docstrings run and print what they say: one list, one test."""

import doctest
import importlib

import pytest

MODULES = [
    # core, results, experiments
    "neurosim._docs", "neurosim._utils", "neurosim._utils_torch", "neurosim.backends",
    "neurosim.spiking._groups", "neurosim.spiking._network", "neurosim.results",
    "neurosim.experiments",
    # model families
    "neurosim.sparsey._csa", "neurosim.sparsey._codes", "neurosim.sparsey._hierarchy",
    "neurosim.sparsey._memory", "neurosim.sparsey._evaluation", "neurosim.sparsey._mnist",
    "neurosim.dendrites.theory", "neurosim.dendrites._montecarlo", "neurosim.dendrites._neuron",
    "neurosim.dendrites._network",
    "neurosim.continual._taskwise", "neurosim.continual._base", "neurosim.continual._learners",
    "neurosim.continual._metrics", "neurosim.continual._schedules", "neurosim.continual._streams",
    # decoders
    "neurosim.decoding._base", "neurosim.decoding._histn", "neurosim.decoding._brainflora",
    "neurosim.decoding._mindbridge", "neurosim.decoding._braincorl", "neurosim.decoding._trainer",
    "neurosim.decoding.losses", "neurosim.decoding.samplers", "neurosim.decoding.preprocessing",
    "neurosim.decoding.model_selection", "neurosim.decoding._histn_protocol",
    "neurosim.decoding._brainflora_protocol", "neurosim.decoding.metrics",
    "neurosim.decoding.baselines", "neurosim.decoding._fmri_classifier",
    # data sets
    "neurosim.datasets._simulated_fmri", "neurosim.datasets._simulated_eeg",
    "neurosim.datasets._simulated_emotion", "neurosim.datasets._torch", "neurosim.datasets._mnist",
    "neurosim.datasets._embeddings", "neurosim.datasets._nsd", "neurosim.datasets._things",
    "neurosim.datasets._dreamer", "neurosim.datasets._fetch", "neurosim.datasets._base",
    "neurosim.datasets._haxby", "neurosim.datasets._mindeye",
    "neurosim.homeostasis._shift",
    "neurosim.homeostasis._metrics",
    "neurosim.homeostasis._protocol",
    "neurosim.homeostasis._mlp",
    "neurosim.homeostasis._spiking",
]


# modules whose examples all need files or the network (marked +SKIP)
NO_RUNNABLE_EXAMPLES = {"neurosim.datasets._fetch"}


@pytest.fixture
def one_thread():
    """torch on one thread for the examples' tiny networks (much faster on a busy machine)."""
    from neurosim.continual import single_thread

    with single_thread():
        yield


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, one_thread):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name in NO_RUNNABLE_EXAMPLES
