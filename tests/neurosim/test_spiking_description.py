"""The network description rejects bad input with errors that name the value."""

import numpy as np
import pytest

from neurosim.backends import Backend, register_backend, run
from neurosim.spiking import (
    LIF,
    ConstantInput,
    GaussianNoise,
    Izhikevich,
    Network,
    PoissonGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    TimedInput,
    izhikevich_network,
)


def _lif(n=2, name="cells"):
    return LIF(n, name=name)


def test_izhikevich_parameter_shapes():
    g = Izhikevich(3, a=[0.02, 0.03, 0.1], b=0.2, c=-65, d=8)
    assert g.a.shape == (3,) and np.allclose(g.u_init, 0.2 * -65)
    with pytest.raises(ValueError, match=r"a must be a scalar or an array of shape \(3,\)"):
        Izhikevich(3, a=[0.02, 0.03], b=0.2, c=-65, d=8)
    with pytest.raises(ValueError, match="NaN"):
        Izhikevich(2, a=[0.02, np.nan], b=0.2, c=-65, d=8)
    with pytest.raises(TypeError, match="unexpected keyword argument 'e'"):
        Izhikevich(2, a=0.02, b=0.2, c=-65, d=8, e=1)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        Izhikevich(0, 0.02, 0.2, -65, 8)
    with pytest.raises(TypeError, match="n must be an integer"):
        Izhikevich(2.5, 0.02, 0.2, -65, 8)


def test_lif_checks():
    with pytest.raises(ValueError, match="v_reset must be below v_thresh"):
        LIF(1, v_reset=-50, v_thresh=-55)
    with pytest.raises(ValueError, match="tau_m must be > 0"):
        LIF(1, tau_m=0.0)
    with pytest.raises(ValueError, match="t_ref must be a finite non-negative number, got -1.0"):
        LIF(1, t_ref=-1.0)
    with pytest.raises(ValueError, match="invalid group name '1x'"):
        LIF(1, name="1x")


def test_synapse_checks():
    g = _lif(3)
    with pytest.raises(ValueError, match=r"j indices must lie in \[0, 3\).*got range \[0, 5\]"):
        Synapses(g, g, [0, 1], [0, 5], 1.0)
    with pytest.raises(ValueError, match="i and j must be 1-D of equal length"):
        Synapses(g, g, [0, 1], [0], 1.0)
    with pytest.raises(ValueError, match=r"w must be a scalar or have shape \(2,\), got \(3,\)"):
        Synapses(g, g, [0, 1], [1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="target must be one of"):
        Synapses(g, g, [0], [1], 1.0, target="conductance")
    with pytest.raises(TypeError, match="spike source"):
        Synapses(g, PoissonGroup(2, 10.0), [0], [1], 1.0)
    with pytest.raises(ValueError, match="delay must be finite and >= 0"):
        Synapses(g, g, [0], [1], 1.0, delay=-1.0)


def test_delay_shorter_than_dt_is_refused():
    g = _lif(2)
    net = Network(g, Synapses(g, g, [0], [1], 1.0, delay=0.05, name="fast"), SpikeMonitor(g))
    with pytest.raises(ValueError, match=r"'fast': delay 0.05 ms is shorter than dt=0.1 ms"):
        run(net, 1.0, dt=0.1)
    net = Network(g, Synapses(g, g, [0], [1], 1.0, delay=0.25, name="odd"))
    with pytest.raises(ValueError, match="not a whole number of steps"):
        run(net, 1.0, dt=0.1)


def test_inputs_and_monitors_checks():
    g = _lif(3)
    with pytest.raises(ValueError, match=r"shape \(n_times,\) or \(n_times, 3\)"):
        TimedInput(g, np.zeros((10, 2)), dt=0.1)
    with pytest.raises(ValueError, match="std must be >= 0"):
        GaussianNoise(g, std=-1.0)
    with pytest.raises(ValueError, match=r"unknown state variable\(s\) \['w'\]"):
        StateMonitor(g, "w")
    with pytest.raises(ValueError, match=r"SpikeGeneratorGroup 'src' has two spikes"):
        src = SpikeGeneratorGroup(2, [0, 0], [1.0, 1.01], name="src")
        run(Network(src, SpikeMonitor(src)), 5.0, dt=0.1)
    ti = TimedInput(g, np.zeros(5), dt=0.15)
    with pytest.raises(ValueError, match="must be a whole multiple of the simulation dt"):
        run(Network(g, ti), 1.0, dt=0.1)


def test_run_argument_checks():
    g = _lif(1)
    net = Network(g, ConstantInput(g, 20.0), SpikeMonitor(g))
    with pytest.raises(ValueError, match="dt must be a finite positive number, got -0.1"):
        run(net, 10.0, dt=-0.1)
    with pytest.raises(ValueError, match="duration must be a finite positive number, got -5.0"):
        run(net, -5.0)
    with pytest.raises(ValueError, match="unknown backend 'nest'"):
        run(net, 10.0, backend="nest")
    with pytest.raises(TypeError, match="network must be a neurosim.spiking.Network"):
        run([g], 10.0)
    with pytest.raises(TypeError, match="random_state must be None, an int"):
        run(net, 10.0, random_state="seed")
    other = _lif(1, name="other")
    with pytest.raises(ValueError, match="refers to group 'other', which is not in the network"):
        run(Network(g, SpikeMonitor(other)), 10.0)
    with pytest.raises(ValueError, match="two groups are named 'cells'"):
        Network(g, _lif(1))


def test_backend_without_a_feature_names_it():
    class Partial(Backend):
        name = "partial"
        features = frozenset({"LIF", "ConstantInput"})

    register_backend("partial", Partial())
    g = _lif(2)
    net = Network(g, ConstantInput(g, 20.0),
                  Synapses(g, g, [0], [1], 1.0, delay=np.array([1.0]), target="voltage"))
    with pytest.raises(NotImplementedError,
                       match="backend 'partial' cannot simulate heterogeneous_delays, "
                             "voltage_synapses"):
        run(net, 10.0, backend="partial")


def test_izhikevich_builder():
    net = izhikevich_network(500, p=0.1, random_state=0, record_v=[0, 499])
    g = net.groups[0]
    assert net.meta["n_exc"] == 400 and net.meta["n_inh"] == 100
    # excitatory cells: a=0.02, b=0.2, c in [-65, -50], d in [2, 8]
    assert np.all(g.a[:400] == 0.02) and np.all((g.c[:400] >= -65) & (g.c[:400] <= -50))
    assert np.all((g.a[400:] >= 0.02) & (g.a[400:] <= 0.1)) and np.all(g.d[400:] == 2)
    syn = net.synapses[0]
    # the expected connection count, and weights' sign by presynaptic type
    assert abs(syn.n - 0.1 * 500**2) < 5 * np.sqrt(0.1 * 0.9 * 500**2)
    assert np.all(syn.w[syn.i < 400] >= 0) and np.all(syn.w[syn.i >= 400] <= 0)
    assert np.all(np.diff(syn.i) >= 0)
    # weights scaled so the expected input equals that of the dense 1,000-neuron network
    assert np.isclose(syn.w[syn.i < 400].mean(), 0.25 * 1000 / (500 * 0.1), rtol=0.05)
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\], got 1.5"):
        izhikevich_network(10, p=1.5)


def test_running_with_another_dt_than_built_for_warns():
    net = izhikevich_network(20, dt=0.5, random_state=0)
    with pytest.warns(UserWarning, match="built for dt=0.5 ms .* runs with dt=1.0 ms"):
        run(net, 5.0, dt=1.0)
