"""Sessions: runs that continue, weights between runs, store/restore, results, memory checks,
and the backend feature contract."""

import numpy as np
import pytest

from neurosim.backends import ALL_FEATURES, Backend, Session, register_backend, run
from neurosim.spiking import (
    LIF,
    STDP,
    ConstantInput,
    GaussianNoise,
    Network,
    PoissonGroup,
    Readout,
    ReadoutMonitor,
    Receptor,
    RLSRule,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    ThreeFactorRule,
    Trace,
    WeightMonitor,
)

DT = 0.1


def _plastic_network(seed=0, noise=True):
    """Poisson input onto LIF cells (receptors, STDP, per-synapse delays), a trace and a
    readout learning from a teacher: everything a run carries over between segments."""
    rng = np.random.default_rng(seed)
    src = PoissonGroup(40, rates=60.0, name="src")
    cells = LIF(30, tau_m=15.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-52.0, t_ref=2.0,
                receptors=[Receptor("e", tau=4.0), Receptor("i", "conductance", tau=8.0,
                                                            E_rev=-80.0)], name="cells")
    # a synapse set in random (unsorted) order: the engine sorts a copy
    i, j = np.nonzero(rng.random((40, 30)) < 0.3)
    perm = rng.permutation(i.size)
    inp = Synapses(src, cells, i[perm], j[perm], rng.uniform(1.0, 3.0, i.size), receptor="e",
                   delay=1.0, plasticity=STDP(a_plus=0.05, a_minus=0.055, w_max=4.0),
                   name="inp")
    ii, jj = np.nonzero(rng.random((30, 30)) < 0.2)
    rec = Synapses(cells, cells, ii, jj, rng.uniform(0, 0.3, ii.size), receptor="i",
                   delay=rng.integers(1, 20, ii.size) * DT, name="rec")
    trace = Trace(cells, tau=20.0, name="tr")
    ro = Readout(trace, 2, name="ro")
    t = np.arange(0, 400.0, 1.0)
    teacher = np.stack([np.sin(2 * np.pi * t / 100), np.cos(2 * np.pi * t / 100)], 1)
    parts = [src, cells, inp, rec, trace, ro,
             ThreeFactorRule(ro, eta=1e-3, tau_e=50.0, teacher=teacher, signal_dt=1.0, name="tf"),
             SpikeMonitor(cells), StateMonitor(cells, ["v", "g_e", "g_i", "x_tr"], record=[0, 5]),
             WeightMonitor(inp, record=[0, 3, 10], every=2.0), ReadoutMonitor(ro)]
    parts.append(GaussianNoise(cells, std=3.0, mean=16.0) if noise else
                 ConstantInput(cells, np.linspace(14.0, 18.0, 30)))
    return Network(*parts)


def _concat(a, b):
    return {
        "spikes": (np.r_[a.spike_time.values, b.spike_time.values],
                   np.r_[a.spike_neuron.values, b.spike_neuron.values]),
        "v": np.vstack([a.v.values, b.v.values]),
        "g_e": np.vstack([a.g_e.values, b.g_e.values]),
        "x_tr": np.vstack([a.x_tr.values, b.x_tr.values]),
        "w": np.vstack([a.w_inp.values, b.w_inp.values]),
        "y": np.vstack([a.y_ro.values, b.y_ro.values]),
        "time": np.r_[a.time.values, b.time.values],
    }


def _assert_continues(whole, a, b, exact=True):
    halves = _concat(a, b)
    check = np.testing.assert_array_equal if exact else (
        lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9))
    np.testing.assert_array_equal(whole.spike_time.values, halves["spikes"][0])
    np.testing.assert_array_equal(whole.spike_neuron.values, halves["spikes"][1])
    np.testing.assert_array_equal(whole.time.values, halves["time"])
    for key in ("v", "g_e", "x_tr", "w", "y"):
        check(whole[{"w": "w_inp", "y": "y_ro"}.get(key, key)].values, halves[key])
    check(whole.final_w_inp.values, b.final_w_inp.values)
    check(whole.final_W_ro.values, b.final_W_ro.values)


def test_session_run_T_equals_two_halves_on_numba():
    net = _plastic_network()
    whole = Session(net, DT, random_state=4).run(400.0)
    sim = Session(net, DT, random_state=4)
    a = sim.run(200.0)
    b = sim.run(200.0)
    assert whole.sizes["spike"] > 300
    assert a.attrs["t_start"] == 0.0 and b.attrs["t_start"] == 200.0 and sim.t == 400.0
    _assert_continues(whole, a, b)
    # the one-shot run is the same simulation
    one = run(net, 400.0, DT, random_state=4)
    np.testing.assert_array_equal(one.final_W_ro.values, whole.final_W_ro.values)


def test_description_is_never_modified():
    net = _plastic_network()
    before = {s.name: s.w.copy() for s in net.synapses}
    W0 = net.readouts[0].w.copy()
    ds = run(net, 200.0, DT, random_state=0)
    assert np.abs(ds.final_w_inp.values - before["inp"]).max() > 0.01
    assert np.abs(ds.final_W_ro.values).max() > 0
    for s in net.synapses:
        np.testing.assert_array_equal(s.w, before[s.name])
    np.testing.assert_array_equal(net.readouts[0].w, W0)
    # one synapse set only (the case where the old engine shared memory with Synapses.w)
    src = PoissonGroup(20, rates=50.0, name="src")
    cell = LIF(4, name="cell")
    syn = Synapses(src, cell, np.repeat(np.arange(20), 4), np.tile(np.arange(4), 20), 2.0,
                   plasticity=STDP(a_plus=0.1, a_minus=0.1, w_max=4.0), name="only")
    w0 = syn.w.copy()
    one = Network(src, cell, syn, ConstantInput(cell, 12.0), SpikeMonitor(cell))
    ds = run(one, 500.0, DT, random_state=1)
    assert not np.array_equal(ds.final_w_only.values, w0)
    np.testing.assert_array_equal(syn.w, w0)


def test_weights_between_runs_in_description_order():
    net = _plastic_network(noise=False)
    sim = Session(net, DT, random_state=0)
    w = sim.get_weights("inp")
    np.testing.assert_array_equal(w, net.synapses[0].w)  # description order, not CSR order
    sim.run(100.0)
    w1 = sim.get_weights("inp")
    assert not np.array_equal(w1, w)
    w1[0] = 0.123
    w1 += 0.0  # a copy: changing it does not touch the session
    assert sim.get_weights("inp")[0] != 0.123
    # offline consolidation: zero the recurrent weights; g_i then only decays (after the spikes
    # already in flight, which carry the weight they left with)
    sim.set_weights("rec", 0.0)
    np.testing.assert_array_equal(sim.get_weights("rec"), 0.0)
    ds = sim.run(100.0)
    assert np.all(np.diff(ds.g_i.values[20:], axis=0) <= 0)
    assert ds.g_i.values[-1].max() < 1e-3 * ds.g_i.values[:20].max()
    W = np.arange(60.0).reshape(2, 30)
    sim.set_weights("ro", W)
    np.testing.assert_array_equal(sim.get_weights("ro"), W)
    with pytest.raises(ValueError, match="must have shape \\(2, 30\\)"):
        sim.set_weights("ro", np.zeros(60))
    with pytest.raises(ValueError, match="no synapse set or readout named 'nope'"):
        sim.get_weights("nope")
    with pytest.raises(ValueError, match="NaN"):
        sim.set_weights("inp", np.full(net.synapses[0].n, np.nan))


def test_store_restore_and_state():
    net = _plastic_network()
    sim = Session(net, DT, random_state=2)
    sim.run(100.0)
    sim.store()
    a = sim.run(150.0)
    state_a = sim.state
    sim.restore()
    assert sim.t == 100.0
    b = sim.run(150.0)
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)
    np.testing.assert_array_equal(a.v.values, b.v.values)
    np.testing.assert_array_equal(a.final_W_ro.values, b.final_W_ro.values)
    state = sim.state
    assert set(state["cells"]) >= {"v", "I_syn", "g_e", "g_i", "lastspike_ms"}
    np.testing.assert_array_equal(state["cells"]["v"], state_a["cells"]["v"])
    np.testing.assert_array_equal(state["x_tr"], state_a["x_tr"])
    state["cells"]["v"][:] = 0  # copies
    assert not np.all(sim.state["cells"]["v"] == 0)
    with pytest.raises(ValueError, match="no stored state named 'other'"):
        sim.restore("other")


def test_memory_estimate_and_refusal():
    net = _plastic_network()
    est = net.memory_estimate(1000.0, DT)
    assert est["total"] == sum(v for k, v in est.items() if k != "total")
    assert est["plasticity"] >= 8 * 2 * 30  # readout and eligibility at least
    assert est["monitors"] > 8 * 10000 * 2 * 3  # 3 variables x 2 neurons x 10,000 samples
    with pytest.raises(MemoryError, match=r"needs about .* but only 1.0 kB of memory"):
        net.check_memory(1000.0, DT, available=1000)
    big = LIF(1000, name="big")
    huge = Network(big, StateMonitor(big, "v"))
    with pytest.raises(MemoryError, match="check_memory=False"):
        run(huge, 1e9, DT)  # 1e10 samples of 1,000 neurons: refused before allocating
    with pytest.raises(MemoryError, match="recording this run needs about"):
        Session(huge, DT).run(1e9)
    ds = run(huge, 1.0, DT, check_memory=False)
    assert ds.v.shape == (10, 1000)


def test_izhikevich_network_default_p_scales():
    from neurosim.spiking import izhikevich_network

    net = izhikevich_network(5000, dt=0.5, random_state=0)
    assert abs(net.synapses[0].n / 5000 - 1000) < 50  # 1,000 inputs per neuron, not 5,000
    assert net.meta["p"] == pytest.approx(0.2)
    with pytest.raises(MemoryError, match="synapses"):
        izhikevich_network(2_000_000, p=1.0)  # 4e12 synapses: refused before allocating


def test_missing_feature_raises_naming_it():
    class Limited(Backend):
        name = "limited"
        features = ALL_FEATURES - {"STDP", "ThreeFactorRule"}

    register_backend("limited", Limited())
    with pytest.raises(NotImplementedError,
                       match="backend 'limited' cannot simulate STDP, ThreeFactorRule"):
        run(_plastic_network(), 10.0, DT, backend="limited")


def test_poisson_rate_above_one_spike_per_step_refused():
    src = PoissonGroup(3, rates=[10.0, 20.0, 20000.0], name="src")
    with pytest.raises(ValueError, match="a rate of 20000 Hz gives 2 spikes per step"):
        run(Network(src, SpikeMonitor(src)), 10.0, DT)
    t = np.arange(100.0)
    src = PoissonGroup(3, rates=np.where(t < 50, 10.0, 12000.0), dt=1.0, name="src")
    with pytest.raises(ValueError, match="at most 10000 Hz"):
        run(Network(src, SpikeMonitor(src)), 10.0, DT)


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore")
def test_session_on_brian2_numpy():
    net = _plastic_network(noise=False)
    whole = run(net, 300.0, DT, backend="brian2", target="numpy", random_state=4)
    sim = Session(net, DT, backend="brian2", target="numpy", random_state=4)
    a = sim.run(150.0)
    b = sim.run(150.0)
    _assert_continues(whole, a, b)
    # weights between runs, in the description's order
    np.testing.assert_array_equal(sim.get_weights("inp"), b.final_w_inp.values)
    sim.store()
    c = sim.run(50.0)
    sim.restore()
    d = sim.run(50.0)
    np.testing.assert_array_equal(c.spike_time.values, d.spike_time.values)
    np.testing.assert_allclose(c.final_W_ro.values, d.final_W_ro.values, rtol=1e-12)
    np.testing.assert_array_equal(net.synapses[0].w, _plastic_network(noise=False).synapses[0].w)
    # same spikes as numba from the same description (the Poisson draws differ: compare rates)
    ref = run(net, 300.0, DT, random_state=4)
    assert abs(ref.sizes["spike"] - whole.sizes["spike"]) < 0.15 * ref.sizes["spike"]


@pytest.mark.brian2
def test_cpp_standalone_refuses_python_hooks():
    net = _plastic_network()
    ro = net.readouts[0]
    net.rules = []
    net.add(RLSRule(ro, teacher=np.zeros(10), signal_dt=1.0, every=1.0))
    with pytest.raises(NotImplementedError, match="device='cpp_standalone' cannot simulate RLSRule"):
        Session(net, DT, backend="brian2", device="cpp_standalone")
    with pytest.raises(NotImplementedError, match="cpp_standalone"):
        from neurosim.spiking import Modulator

        src = PoissonGroup(2, 10.0, name="src")
        m = Modulator(name="dopamine")
        with Session(Network(src, m, SpikeMonitor(src)), DT, backend="brian2",
                     device="cpp_standalone") as sim:
            sim.add_modulator_events("dopamine", [5.0])
