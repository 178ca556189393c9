"""The examples in the public docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "neurosim.backends",
    "neurosim.spiking._groups",
    "neurosim.spiking._network",
    "neurosim.results",
    "neurosim.experiments",
    "neurosim.homeostasis._shift",
    "neurosim.homeostasis._metrics",
    "neurosim.homeostasis._protocol",
    "neurosim.homeostasis._mlp",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0
