"""Spiking networks described as plain data.

A network is a :class:`Network` of neuron groups (:class:`Izhikevich`, :class:`LIF`), spike sources
(:class:`PoissonGroup`, :class:`SpikeGeneratorGroup`), :class:`Synapses`, inputs
(:class:`ConstantInput`, :class:`TimedInput`, :class:`GaussianNoise`) and monitors
(:class:`SpikeMonitor`, :class:`StateMonitor`). Nothing here simulates: pass the network to
:func:`neurosim.backends.run` with the backend of your choice.

Units: time in ms, potentials in mV, rates in Hz.
"""

from ._builders import izhikevich_network, izhikevich_noise
from ._groups import LIF, Group, Izhikevich, PoissonGroup, SpikeGeneratorGroup
from ._inputs import ConstantInput, GaussianNoise, TimedInput
from ._monitors import SpikeMonitor, StateMonitor
from ._network import Network
from ._synapses import Synapses

__all__ = [
    "ConstantInput", "GaussianNoise", "Group", "Izhikevich", "LIF", "Network", "PoissonGroup",
    "SpikeGeneratorGroup", "SpikeMonitor", "StateMonitor", "Synapses", "TimedInput",
    "izhikevich_network", "izhikevich_noise",
]
