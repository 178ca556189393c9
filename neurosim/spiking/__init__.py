"""Spiking networks described as plain data.

A network is a :class:`Network` of neuron groups (:class:`Izhikevich`, :class:`LIF`,
:class:`Izhikevich2007`, :class:`AdEx`, with named synaptic :class:`Receptor` s), spike sources
(:class:`PoissonGroup`, :class:`SpikeGeneratorGroup`), :class:`Synapses` (optionally plastic:
:class:`STDP`, :class:`RewardSTDP` with a :class:`Modulator`), inputs (:class:`ConstantInput`,
:class:`TimedInput`, :class:`GaussianNoise`), readouts (:class:`Trace`, :class:`Readout`,
:class:`ThreeFactorRule`, :class:`RLSRule`, :class:`ReadoutFeedback`), homeostatic rules
(:class:`AdaptiveThreshold`, :class:`SynapticScaling`) and monitors (:class:`SpikeMonitor`,
:class:`StateMonitor`, :class:`WeightMonitor`, :class:`ReadoutMonitor`). Nothing here simulates:
pass the network to :func:`neurosim.backends.run` or a :class:`neurosim.backends.Session` with
the backend of your choice.

Units: time in ms, potentials in mV, rates in Hz.
"""

from ._builders import (
    coba_network,
    cuba_network,
    distal_reward_network,
    force_network,
    izhikevich_network,
    izhikevich_noise,
)
from ._groups import (
    LIF,
    AdEx,
    Group,
    Izhikevich,
    Izhikevich2007,
    PoissonGroup,
    Receptor,
    SpikeGeneratorGroup,
)
from ._inputs import ConstantInput, GaussianNoise, TimedInput, UniformNoise
from ._monitors import ReadoutMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from ._network import Network
from ._plasticity import (
    STDP,
    AdaptiveThreshold,
    Modulator,
    Readout,
    ReadoutFeedback,
    RewardSTDP,
    RLSRule,
    SynapticScaling,
    ThreeFactorRule,
    Trace,
)
from ._plotting import plot_raster, plot_state
from ._protocols import run_distal_reward
from ._synapses import Synapses

__all__ = [
    "STDP", "AdEx", "AdaptiveThreshold", "ConstantInput", "GaussianNoise", "Group", "Izhikevich",
    "Izhikevich2007", "LIF", "Modulator", "Network", "PoissonGroup", "RLSRule", "Readout",
    "ReadoutFeedback", "ReadoutMonitor", "Receptor", "RewardSTDP", "SpikeGeneratorGroup",
    "SpikeMonitor", "StateMonitor", "SynapticScaling", "Synapses", "ThreeFactorRule",
    "TimedInput", "Trace", "UniformNoise", "WeightMonitor", "coba_network", "cuba_network",
    "distal_reward_network", "force_network", "izhikevich_network", "izhikevich_noise", "plot_raster",
    "plot_state", "run_distal_reward",
]
