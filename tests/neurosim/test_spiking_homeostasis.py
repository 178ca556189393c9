"""Adaptive thresholds (spike-triggered and homeostatic) and multiplicative synaptic scaling
toward a target rate, on numba (reference loops, convergence) and Brian2 (agreement)."""

import numpy as np
import pytest

from neurosim.backends import Session, run
from neurosim.spiking import (
    LIF,
    AdaptiveThreshold,
    ConstantInput,
    Izhikevich,
    Network,
    PoissonGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    SynapticScaling,
    WeightMonitor,
)

DT = 0.1


def test_spike_triggered_threshold_equals_reference_loop():
    n, steps = 4, 5000
    I = np.array([16.0, 20.0, 25.0, 40.0])
    cells = LIF(n, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-50.0, t_ref=2.0,
                name="cells")
    th = AdaptiveThreshold(cells, tau=80.0, increment=2.0)
    ds = run(Network(cells, ConstantInput(cells, I), th, SpikeMonitor(cells),
                     StateMonitor(cells, ["v", "theta"])), steps * DT, DT)
    v, theta = np.full(n, -65.0), np.zeros(n)
    last = np.full(n, -10**9)
    dec, vdec = np.exp(-DT / 80.0), np.exp(-DT / 10.0)
    spikes, vs, ths = set(), [], []
    for k in range(steps):
        vs.append(v.copy())
        ths.append(theta.copy())
        theta = theta * dec - 0.0
        thr = -50.0 + theta
        vinf = -65.0 + (I + 0.0)
        vn = vinf + (v - vinf) * vdec
        active = k - last >= 20
        fired = active & (vn >= thr)
        v = np.where(active, np.where(fired, -70.0, vn), v)
        last[fired] = k
        theta[fired] += 2.0 + 0.0
        spikes |= {(j, k) for j in np.flatnonzero(fired)}
    got = set(zip(ds.spike_neuron.values.tolist(),
                  np.rint(ds.spike_time.values / DT).astype(int).tolist()))
    assert got == spikes and len(spikes) > 50
    np.testing.assert_array_equal(ds.v.values, np.array(vs))
    np.testing.assert_array_equal(ds.theta.values, np.array(ths))
    # adaptation: inter-spike intervals grow after the first spike
    isi = np.diff(ds.spike_time.values[ds.spike_neuron.values == 3])
    assert isi[-1] > 1.5 * isi[0]
    np.testing.assert_array_equal(ds.final_theta_cells.values, theta)


def _poisson_lif(n=200, rate=20.0, w=1.0, seed=0):
    src = PoissonGroup(100, rates=rate, name="src")
    cells = LIF(n, tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, t_ref=2.0,
                tau_syn=5.0, name="cells")
    syn = Synapses.random(src, cells, 0.2, w, random_state=seed, name="drive")
    return src, cells, syn


def test_intrinsic_plasticity_brings_rates_to_target():
    src, cells, syn = _poisson_lif(w=7.0)
    th = AdaptiveThreshold(cells, target_rate=5.0, eta=0.2)
    sim = Session(Network(src, cells, syn, th, SpikeMonitor(cells)), DT, random_state=0)
    first = sim.run(1000.0)
    sim.run(8000.0)
    last = sim.run(3000.0)
    r0 = first.sizes["spike"] / 200 / 1.0
    r1 = last.sizes["spike"] / 200 / 3.0
    assert r0 > 10.0  # starts well above the target (15 Hz without adaptation)
    assert abs(r1 - 5.0) < 0.1 * 5.0


@pytest.mark.parametrize("w0,start", [(7.0, "above"), (4.6, "below")])
def test_synaptic_scaling_brings_rates_to_target(w0, start):
    src, cells, syn = _poisson_lif(w=w0)
    sc = SynapticScaling(syn, target_rate=5.0, tau_rate=500.0, eta=2e-4, every=10.0,
                         w_max=20.0)
    sim = Session(Network(src, cells, syn, sc, SpikeMonitor(cells)), DT, random_state=1)
    first = sim.run(1000.0)
    sim.run(14000.0)
    last = sim.run(3000.0)
    r0 = first.sizes["spike"] / 200
    r1 = last.sizes["spike"] / 200 / 3.0
    assert (r0 > 10.0) if start == "above" else (r0 < 2.2)
    assert abs(r1 - 5.0) < 0.1 * 5.0
    np.testing.assert_array_equal(syn.w, w0)  # the description keeps its weights


def test_homeostasis_errors():
    cells = LIF(3, name="c")
    with pytest.raises(ValueError, match="tau must be > 0 ms"):
        AdaptiveThreshold(cells, tau=0.0)
    with pytest.raises(ValueError, match="target_rate must be a finite non-negative number"):
        AdaptiveThreshold(cells, target_rate=-1.0)
    src = PoissonGroup(2, 5.0, name="s")
    with pytest.raises(TypeError, match="needs a neuron model group"):
        AdaptiveThreshold(src)
    syn = Synapses(src, cells, [0], [1], 1.0)
    with pytest.raises(ValueError, match="wrong order"):
        SynapticScaling(syn, target_rate=5.0, w_min=2.0, w_max=1.0)
    net = Network(src, cells, syn, AdaptiveThreshold(cells), AdaptiveThreshold(cells))
    with pytest.raises(ValueError, match="two AdaptiveThresholds"):
        net.validate()


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore")
def test_homeostasis_on_brian2_numpy():
    rng = np.random.default_rng(3)
    steps = np.flatnonzero(rng.random((5000, 50)).ravel() < 40 * DT / 1000)
    k, i = np.divmod(steps, 50)
    src = SpikeGeneratorGroup(50, i, k * DT, name="src")
    cells = LIF(20, tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, t_ref=2.0,
                name="cells")
    izh = Izhikevich(10, 0.02, 0.2, -65.0, 8.0, name="izh")
    syn = Synapses.random(src, cells, 0.3, 8.0, random_state=1, name="drive")
    syn2 = Synapses.random(src, izh, 0.3, 3.0, random_state=2, name="drive2")
    net = Network(src, cells, izh, syn, syn2, ConstantInput(izh, 3.0),
                  AdaptiveThreshold(cells, tau=50.0, increment=1.0, target_rate=5.0, eta=0.1),
                  AdaptiveThreshold(izh, tau=200.0, increment=0.5),
                  SynapticScaling(syn, target_rate=5.0, tau_rate=200.0, eta=5e-3, every=5.0),
                  SpikeMonitor(cells), SpikeMonitor(izh), WeightMonitor(syn, [0, 5], every=10.0),
                  StateMonitor(cells, ["v", "theta"], record=[0, 7]))
    a = run(net, 500.0, DT)
    b = run(net, 500.0, DT, backend="brian2", target="numpy")
    assert a.sizes["spike"] > 50
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)
    np.testing.assert_array_equal(a.spike_neuron.values, b.spike_neuron.values)
    np.testing.assert_allclose(b.final_w_drive.values, a.final_w_drive.values, rtol=1e-10)
    np.testing.assert_allclose(b.theta.values, a.theta.values, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.final_theta_izh.values, a.final_theta_izh.values, rtol=1e-10)
