"""Receptors (current/conductance, single/double exponential), Izhikevich (2007) and AdEx neurons:
analytic results and plain numpy reference loops on numba, and agreement with Brian2."""

import numpy as np
import pytest

from neurosim.backends import run
from neurosim.spiking import (
    LIF,
    AdEx,
    Izhikevich,
    Izhikevich2007,
    Network,
    Receptor,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    TimedInput,
    coba_network,
    cuba_network,
)


def _events(ds, dt):
    steps = np.rint(ds.spike_time.values / dt).astype(int)
    return set(zip(ds.spike_neuron.values.tolist(), steps.tolist()))


def _one_spike_net(receptor, tau_m=20.0, w=2.0):
    src = SpikeGeneratorGroup(1, [0], [0.0], name="src")
    cell = LIF(1, tau_m=tau_m, v_rest=0.0, v_reset=-1.0, v_thresh=1e6, receptors=[receptor],
               name="cell")
    variables = ["v"] + list(receptor.variables)
    return Network(src, cell, Synapses(src, cell, [0], [0], w, receptor=receptor.name),
                   StateMonitor(cell, variables))


def test_current_receptor_is_integrated_exactly():
    dt, tau_s, tau_m, w = 0.1, 5.0, 20.0, 2.0
    ds = run(_one_spike_net(Receptor("exc", tau=tau_s), tau_m, w), 60.0, dt)
    t = (np.arange(600) - 1) * dt  # the spike reaches g at the end of step 0
    g = np.where(t >= 0, w * np.exp(-t / tau_s), 0.0)
    v = np.where(t >= 0, w * tau_s / (tau_s - tau_m) * (np.exp(-t / tau_s) - np.exp(-t / tau_m)),
                 0.0)
    np.testing.assert_allclose(ds.g_exc.values[:, 0], g, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ds.v.values[:, 0], v, rtol=1e-10, atol=1e-13)
    # results are indexed by the group's own neurons, with the group's name
    assert ds.v.dims == ("time", "v_neuron")
    assert ds.v_neuron.values.tolist() == [0] and ds.v_group.values.tolist() == ["cell"]
    assert ds.v_global.values.tolist() == [1]


def test_double_exponential_receptor_shape_and_area():
    dt, tau, tau_r, w = 0.05, 20.0, 2.0, 3.0
    ds = run(_one_spike_net(Receptor("syn", tau=tau, tau_rise=tau_r), 10.0, w), 400.0, dt)
    t = (np.arange(8000) - 1) * dt
    g = np.where(t >= 0, w / tau_r * tau * tau_r / (tau - tau_r)
                 * (np.exp(-t / tau) - np.exp(-t / tau_r)), 0.0)
    np.testing.assert_allclose(ds.g_syn.values[:, 0], g, rtol=1e-10, atol=1e-13)
    # the area of g per spike is w * tau, as for the single exponential
    assert abs(ds.g_syn.values[:, 0].sum() * dt - w * tau) < 2e-3 * w * tau
    # the membrane is driven exactly too: compare with a fine-step solution of the ODE
    fine = 200
    h, gg, v = 0.0, 0.0, 0.0
    vs = [0.0]
    hdt = dt / fine
    h = w / tau_r
    for _ in range(8000 - 2):
        for _ in range(fine):  # RK2 midpoint on (v, g, h)
            dv1, dg1, dh1 = (-v + gg) / 10.0, -gg / tau + h, -h / tau_r
            vm, gm, hm = v + 0.5 * hdt * dv1, gg + 0.5 * hdt * dg1, h + 0.5 * hdt * dh1
            v += hdt * (-vm + gm) / 10.0
            gg += hdt * (-gm / tau + hm)
            h += hdt * (-hm / tau_r)
        vs.append(v)
    np.testing.assert_allclose(ds.v.values[1:, 0], vs, atol=1e-7)


def test_conductance_receptor_matches_exponential_euler_reference():
    rng = np.random.default_rng(0)
    n, dt, steps = 5, 0.1, 3000
    times = np.sort(rng.uniform(0, steps * dt, 300))
    idx = rng.integers(0, 4, times.size)
    keep = np.unique(np.floor(times / dt + 1e-3).astype(int) * 4 + idx, return_index=True)[1]
    src = SpikeGeneratorGroup(4, idx[keep], times[keep], name="src")
    cells = LIF(n, tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_thresh=-50.0, t_ref=5.0,
                receptors=[Receptor("e", "conductance", tau=5.0, E_rev=0.0),
                           Receptor("i", "conductance", tau=10.0, E_rev=-80.0),
                           Receptor("c", "current", tau=3.0)], name="cells")
    pre = np.repeat(np.arange(4), n)
    post = np.tile(np.arange(n), 4)
    we = rng.uniform(0.1, 0.6, pre.size)
    net = Network(src, cells, Synapses(src, cells, pre, post, we, receptor="e", name="se"),
                  Synapses(src, cells, pre, post, 0.3 * we, receptor="i", name="si"),
                  Synapses(src, cells, pre, post, 4 * we, receptor="c", name="sc"),
                  SpikeMonitor(cells), StateMonitor(cells, ["v", "g_e"]))
    ds = run(net, steps * dt, dt)
    # plain numpy loop: v by exponential Euler with g held, then g decays, then spikes arrive
    arrive = [[] for _ in range(steps)]
    for k, i in sorted(zip(np.floor(src.times / dt + 1e-3).astype(int), src.indices)):
        arrive[k].append(i)
    W = we.reshape(4, n)
    Wi = (0.3 * we).reshape(4, n)
    Wc = (4 * we).reshape(4, n)
    v = np.full(n, -60.0)
    ge, gi, gc = np.zeros(n), np.zeros(n), np.zeros(n)
    last = np.full(n, -10**9)
    ref = int((5.0 + 1e-3 * dt) / dt)
    vs, spikes = [], set()
    for k in range(steps):
        vs.append(v.copy())
        G = 1.0 + ((0.0 + ge) + gi)
        A = ((0.0 + ge * 0.0) + gi * -80.0) + gc
        vinf = ((-60.0 + (0.0 + 0.0)) + A) / G
        vn = vinf + (v - vinf) * np.exp(-G * (dt / 20.0))
        active = k - last >= ref
        fired = active & (vn >= -50.0)
        v = np.where(active, np.where(fired, -60.0, vn), v)
        last[fired] = k
        spikes |= {(j + 4, k) for j in np.flatnonzero(fired)}
        ge, gi, gc = ge * np.exp(-dt / 5.0), gi * np.exp(-dt / 10.0), gc * np.exp(-dt / 3.0)
        for i in arrive[k]:
            ge = ge + W[i]
        for i in arrive[k]:
            gi = gi + Wi[i]
        for i in arrive[k]:
            gc = gc + Wc[i]
    vs = np.array(vs)
    assert len(spikes) > 20
    assert _events(ds, dt) == spikes
    np.testing.assert_allclose(ds.v.values, vs, rtol=0, atol=1e-9)


def _drive(n, steps, lo, hi, seed=0):
    return lo + (hi - lo) * np.random.default_rng(seed).random((steps, n))


def test_izhikevich2007_matches_reference_euler_loop():
    n, dt, steps = 10, 0.1, 5000
    drive = _drive(n, steps, 60.0, 200.0)
    g = Izhikevich2007(n, name="rs")  # C=100, k=0.7, v_r=-60, v_t=-40, a=0.03, b=-2, ...
    ds = run(Network(g, TimedInput(g, drive, dt=dt), SpikeMonitor(g), StateMonitor(g, ["v", "u"])),
             steps * dt, dt)
    v, u = np.full(n, -60.0), np.zeros(n)
    spikes, vs = set(), []
    for k in range(steps):
        vs.append(v.copy())
        vn = v + dt * ((0.7 * (v - -60.0) * (v - -40.0) - u + (drive[k] + 0.0)) / 100.0)
        u = u + dt * (0.03 * (-2.0 * (v - -60.0) - u))
        v = vn
        fired = v >= 35.0
        spikes |= {(j, k) for j in np.flatnonzero(fired)}
        v[fired] = -50.0
        u[fired] += 100.0
    assert len(spikes) > 50
    assert _events(ds, dt) == spikes
    np.testing.assert_array_equal(ds.v.values, np.array(vs))


def test_adex_matches_reference_euler_loop():
    n, dt, steps = 6, 0.05, 10000
    I = np.linspace(400.0, 900.0, n)  # pA: from below rheobase to tonic firing
    g = AdEx(n, name="adex")
    drive = np.tile(I, (1, 1))
    ds = run(Network(g, TimedInput(g, drive, dt=steps * dt), SpikeMonitor(g)), steps * dt, dt)
    C, gL, EL, VT, DT, tw, a, b, vr = 281.0, 30.0, -70.6, -50.4, 2.0, 144.0, 4.0, 80.5, -70.6
    v, w = np.full(n, EL), np.zeros(n)
    spikes = set()
    for k in range(steps):
        sc = gL * DT * np.exp((v - VT) / DT)
        vn = v + dt * ((-gL * (v - EL) + sc - w + (I + 0.0)) / C)
        w = w + dt * ((a * (v - EL) - w) / tw)
        v = vn
        fired = v >= VT + 5 * DT
        spikes |= {(j, k) for j in np.flatnonzero(fired)}
        v[fired] = vr
        w[fired] += b
    assert len(spikes) > 20
    assert _events(ds, dt) == spikes
    counts = np.bincount(ds.spike_neuron.values, minlength=n)
    assert counts[0] == 0 and np.all(np.diff(counts) >= 0)  # rate grows with the current


@pytest.mark.parametrize("kind", ["current", "conductance"])
def test_receptors_on_izhikevich_groups(kind):
    """Euler models read receptor variables at the start of the step, as they do I_syn."""
    dt = 0.5
    src = SpikeGeneratorGroup(1, [0], [1.0], name="src")
    E = 0.0 if kind == "conductance" else None
    cell = Izhikevich(1, 0.02, 0.2, -65.0, 8.0, receptors=[Receptor("r", kind, tau=4.0, E_rev=E)],
                      name="cell")
    ds = run(Network(src, cell, Synapses(src, cell, [0], [0], 0.5, receptor="r"),
                     StateMonitor(cell, ["v", "u", "g_r"])), 5.0, dt)
    k = 3  # arrives at the end of step 2; first used by the integration of step 3
    g = ds.g_r.values[k, 0]
    assert g == 0.5
    v, u = ds.v.values[k, 0], ds.u.values[k, 0]
    I = g if kind == "current" else g * (0.0 - v)
    dtf = (dt * 0.001) / 0.001
    expected = dtf * ((140.0 + (((I + 0.0) + 0.04 * (v * v)) + 5.0 * v)) - u) + v
    np.testing.assert_allclose(ds.v.values[k + 1, 0], expected, rtol=1e-14)
    np.testing.assert_allclose(ds.g_r.values[k + 1, 0], 0.5 * np.exp(-dt / 4.0), rtol=1e-14)


def test_bad_receptor_input_gets_clear_errors():
    cell = LIF(2, receptors=[Receptor("exc", tau=5.0)], name="cell")
    with pytest.raises(ValueError, match="no receptor 'nmda'.*declared receptors: \\['exc'\\]"):
        Synapses(cell, cell, [0], [1], 1.0, receptor="nmda")
    with pytest.raises(ValueError, match="reversal potential"):
        Receptor("g", "conductance", tau=5.0)
    with pytest.raises(ValueError, match="takes no reversal potential"):
        Receptor("g", "current", tau=5.0, E_rev=0.0)
    with pytest.raises(ValueError, match="tau must be a finite positive number, got 0.0"):
        Receptor("g", tau=0.0)
    with pytest.raises(ValueError, match="tau_rise must be a finite non-negative"):
        Receptor("g", tau=5.0, tau_rise=-1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        Receptor("g", "nmda")
    with pytest.raises(ValueError, match="unique"):
        LIF(2, receptors=[Receptor("a"), Receptor("a")])
    with pytest.raises(ValueError, match="needs target='current'"):
        Synapses(cell, cell, [0], [1], 1.0, receptor="exc", target="voltage")
    with pytest.raises(ValueError, match="g_init must be a scalar or have shape \\(2,\\)"):
        LIF(2, receptors=[Receptor("a", g_init=np.zeros(3))])


def test_cuba_coba_builders():
    net = cuba_network(400, random_state=0)
    cells = net.groups[0]
    assert [r.name for r in cells.receptors] == ["exc", "inh"]
    exc, inh = net.synapses
    assert np.all(exc.i < 320) and np.all(inh.i >= 320)
    assert abs(exc.n / (320 * 400) - 0.02) < 0.003
    np.testing.assert_allclose(exc.w, 1.62)
    np.testing.assert_allclose(inh.w, -9.0)
    assert np.all((cells.v_init >= -60) & (cells.v_init < -50))
    coba = coba_network(400, random_state=0)
    r = coba.groups[0].receptors
    assert (r[0].kind, r[0].E_rev, r[1].E_rev) == ("conductance", 0.0, -80.0)
    assert abs(r[0].g_init.mean() - 4) < 0.3 and abs(r[1].g_init.mean() - 20) < 2


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("builder", [cuba_network, coba_network])
def test_cuba_coba_same_spikes_as_brian2_numpy(builder):
    """The same draw gives the same spike sets on numba and on Brian2 (numpy target)."""
    dt = 0.1
    net = builder(1000, p=0.08, random_state=3, record_v=[0, 500])
    a = run(net, 400.0, dt)
    b = run(net, 400.0, dt, backend="brian2", target="numpy")
    ea, eb = _events(a, dt), _events(b, dt)
    assert len(ea) > 1000
    assert ea == eb
    np.testing.assert_allclose(a.v.values, b.v.values, atol=1e-9)


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore")
def test_new_models_agree_with_brian2():
    dt, steps = 0.1, 3000
    i7 = Izhikevich2007(5, C=250.0, k=2.5, v_r=-60.0, v_t=-20.0, a=0.01, b=0.0, c=-65.0, d=200.0,
                        v_peak=30.0, receptors=[Receptor("s", tau=20.0, tau_rise=2.0)], name="i7")
    ad = AdEx(5, receptors=[Receptor("e", "conductance", tau=5.0, E_rev=0.0)], name="ad")
    src = SpikeGeneratorGroup(3, [0, 1, 2, 0, 1], [5.0, 20.0, 40.0, 100.0, 150.0], name="src")
    pre, post = np.repeat(np.arange(3), 5), np.tile(np.arange(5), 3)
    net = Network(
        src, i7, ad,
        TimedInput(i7, _drive(5, steps, 800.0, 1500.0, 1), dt=dt),
        TimedInput(ad, _drive(5, steps, 500.0, 900.0, 2), dt=dt),
        Synapses(src, i7, pre, post, 200.0, receptor="s", name="s7"),
        Synapses(src, ad, pre, post, 5.0, receptor="e", name="sa", delay=1.0),
        SpikeMonitor(i7), SpikeMonitor(ad), StateMonitor(i7, ["v", "g_s"], record=[0, 4]),
    )
    a = run(net, steps * dt, dt)
    b = run(net, steps * dt, dt, backend="brian2", target="numpy")
    ea, eb = _events(a, dt), _events(b, dt)
    assert len(ea) > 30
    # Brian2 orders the terms of the Euler update its own way: rounding differs, spikes agree
    assert abs(len(ea) - len(eb)) <= 0.01 * len(ea)
    near = {(i, k + s) for i, k in eb for s in (-1, 0, 1)}
    assert len(ea & near) >= 0.99 * len(ea)
    np.testing.assert_allclose(a.g_s.values, b.g_s.values, rtol=1e-12, atol=1e-12)
