"""STDP and reward-modulated STDP inside the step: numba bit for bit against plain numpy loops,
Brian2 (numpy target) within 1e-10."""

import numpy as np
import pytest

from neurosim.backends import run
from neurosim.spiking import (
    LIF,
    STDP,
    Modulator,
    Network,
    RewardSTDP,
    SpikeGeneratorGroup,
    SpikeMonitor,
    Synapses,
    WeightMonitor,
)

DT = 0.1
T = 1000.0
N_PRE, N_POST = 20, 5


def _spike_train(rng, n, rate, T, dt):
    steps = np.flatnonzero(rng.random((int(T / dt), n)).ravel() < rate * dt / 1000)
    k, i = np.divmod(steps, n)
    return i, k * dt


def _network(rule, delay=0.0, seed=0):
    """Fixed presynaptic spikes; postsynaptic spikes forced by strong voltage jumps at fixed
    times (the plastic synapses cannot move them), so a reference loop can replay both."""
    rng = np.random.default_rng(seed)
    pre = SpikeGeneratorGroup(N_PRE, *_spike_train(rng, N_PRE, 20.0, T, DT), name="pre")
    drive = SpikeGeneratorGroup(N_POST, *_spike_train(rng, N_POST, 10.0, T, DT), name="drive")
    post = LIF(N_POST, tau_m=10.0, v_rest=0.0, v_reset=0.0, v_thresh=100.0, t_ref=0.0,
               tau_syn=5.0, name="post")
    i = np.repeat(np.arange(N_PRE), N_POST)
    j = np.tile(np.arange(N_POST), N_PRE)
    w0 = rng.uniform(0.2, 0.8, i.size)
    plastic = Synapses(pre, post, i, j, w0, delay=delay, plasticity=rule, name="plastic")
    parts = [pre, drive, post, plastic,
             Synapses(drive, post, np.arange(N_POST), np.arange(N_POST), 1000.0,
                      target="voltage", name="force"),
             SpikeMonitor(pre), SpikeMonitor(post), WeightMonitor(plastic, record=[0, 7], every=1.0)]
    if isinstance(rule, RewardSTDP):
        parts.append(rule.modulator)
    return Network(*parts)


def _steps_by_neuron(ds, group, offset, dt):
    sel = ds.group.values[ds.spike_neuron.values] == group
    k = np.rint(ds.spike_time.values[sel] / dt).astype(int)
    return k, ds.spike_neuron.values[sel] - offset


def _reference(net, ds, rule, delay_steps, modulator_steps=None):
    """Plain numpy replay of the plastic updates, in the kernel's (and Brian2's) order."""
    n_steps = int(T / DT)
    syn = net.synapses[0]
    w = syn.w.copy()
    c = np.zeros_like(w)
    pre_k, pre_i = _steps_by_neuron(ds, "pre", 0, DT)
    post_k, post_j = _steps_by_neuron(ds, "post", N_PRE + N_POST, DT)
    arrivals = [[] for _ in range(n_steps)]
    for k, i in sorted(zip(pre_k, pre_i)):
        if k + delay_steps < n_steps:
            arrivals[k + delay_steps].append(i)
    posts = [[] for _ in range(n_steps)]
    for k, j in sorted(zip(post_k, post_j)):
        posts[k].append(j)
    dpre, dpost = np.exp(-DT / rule.tau_pre), np.exp(-DT / rule.tau_post)
    xpre, xpost = np.zeros(N_PRE), np.zeros(N_POST)
    lo, hi = rule.w_min, rule.w_max
    reward = isinstance(rule, RewardSTDP)
    if reward:
        d, ddec = 0.0, np.exp(-DT / rule.modulator.tau)
        every = int(round(rule.every / DT))
        cdec = np.exp(-every * DT / rule.tau_c)
        events = {}
        for k, a in zip(modulator_steps, rule.modulator.amounts):
            events.setdefault(k, []).append(a)
    trace = []
    nearest = rule.pairing == "nearest"

    def arrive(n):
        for i in arrivals[n]:
            xpre[i] = rule.a_plus if nearest else xpre[i] + rule.a_plus
            for s in range(i * N_POST, (i + 1) * N_POST):
                xp = xpost[syn.j[s]]
                if reward:
                    c[s] -= xp
                    continue
                ww = w[s] - xp if rule.rule == "additive" else w[s] - xp * (w[s] - lo)
                w[s] = min(max(ww, lo), hi)

    def fire(n):
        for j in posts[n]:
            xpost[j] = rule.a_minus if nearest else xpost[j] + rule.a_minus
            for s in range(j, N_PRE * N_POST, N_POST):
                x = xpre[syn.i[s]]
                if reward:
                    c[s] += x
                    continue
                ww = w[s] + x if rule.rule == "additive" else w[s] + x * (hi - w[s])
                w[s] = min(max(ww, lo), hi)

    for n in range(n_steps):
        if n % 10 == 0:
            trace.append(w[[0, 7]].copy())
        xpre *= dpre
        xpost *= dpost
        if rule.order == "post_first":
            fire(n)
            arrive(n)
        else:
            arrive(n)
            fire(n)
        if reward:
            d = d * ddec
            for a in events.get(n, []):
                d += a
            if n % every == 0:
                f = rule.eta * (d + rule.d_tonic)
                w = np.minimum(np.maximum(w + f * c, lo), hi)
                c = c * cdec
    return w, c, np.array(trace)


@pytest.mark.parametrize("rule_kind,delay,pairing,order", [
    ("additive", 0.0, "all", "pre_first"), ("multiplicative", 1.5, "all", "pre_first"),
    ("additive", 0.0, "nearest", "post_first")])
def test_stdp_equals_numpy_reference_bit_for_bit(rule_kind, delay, pairing, order):
    rule = STDP(tau_pre=20.0, tau_post=25.0, a_plus=0.02, a_minus=0.022, w_min=0.0, w_max=1.0,
                rule=rule_kind, pairing=pairing, order=order)
    net = _network(rule, delay)
    w_desc = net.synapses[0].w.copy()
    ds = run(net, T, DT)
    w, _, trace = _reference(net, ds, rule, int(round(delay / DT)))
    assert np.abs(w - w_desc).max() > 0.05  # the weights did move
    np.testing.assert_array_equal(ds.final_w_plastic.values, w)
    np.testing.assert_array_equal(ds.w_plastic.values, trace)
    np.testing.assert_array_equal(net.synapses[0].w, w_desc)  # description unchanged


def _reward_rule(pairing="all", order="pre_first"):
    times = np.array([150.0, 420.0, 421.0, 777.7])
    dopamine = Modulator(tau=200.0, times=times, amounts=[0.5, 0.3, 0.2, 0.6], name="dopamine")
    rule = RewardSTDP(dopamine, tau_c=1000.0, eta=1.0, d_tonic=0.002, every=10.0,
                      a_plus=0.1, a_minus=0.15, w_min=0.0, w_max=4.0, pairing=pairing,
                      order=order)
    return rule, np.floor((times + 1e-3 * DT) / DT).astype(int)


@pytest.mark.parametrize("pairing,order", [("all", "pre_first"), ("nearest", "post_first")])
def test_reward_stdp_equals_numpy_reference_bit_for_bit(pairing, order):
    rule, ev_steps = _reward_rule(pairing, order)
    net = _network(rule, delay=0.5)
    ds = run(net, T, DT)
    w, c, trace = _reference(net, ds, rule, 5, ev_steps)
    assert np.abs(w - net.synapses[0].w).max() > 0.01
    np.testing.assert_array_equal(ds.final_w_plastic.values, w)
    np.testing.assert_array_equal(ds.final_c_plastic.values, c)
    np.testing.assert_array_equal(ds.w_plastic.values, trace)
    # the modulator decays from its last event
    d_end = sum(a * np.exp(-(T / DT - 1 - k) * DT / 200.0) for k, a in
                zip(ev_steps, rule.modulator.amounts))
    assert abs(float(ds.final_d_dopamine) - d_end) < 1e-12


def test_plasticity_errors():
    src = SpikeGeneratorGroup(2, [0], [0.0], name="src")
    cell = LIF(2, name="cell")
    with pytest.raises(ValueError, match="wrong order, w_min=1.0 must be below w_max=0.5"):
        STDP(w_min=1.0, w_max=0.5)
    with pytest.raises(ValueError, match="tau_pre must be a finite positive number, got -1.0"):
        STDP(tau_pre=-1.0)
    with pytest.raises(ValueError, match="initial weights must lie within the rule's bounds"):
        Synapses(src, cell, [0], [1], 2.0, plasticity=STDP(w_max=1.0))
    with pytest.raises(ValueError, match="one delay for all synapses"):
        Synapses(src, cell, [0, 1], [1, 0], 0.5, delay=np.array([0.0, 1.0]), plasticity=STDP())
    with pytest.raises(TypeError, match="modulator must be a Modulator"):
        RewardSTDP("dopamine")
    rule, _ = _reward_rule()
    net = Network(src, cell, Synapses(src, cell, [0], [1], 0.5, plasticity=rule))
    with pytest.raises(ValueError, match="Modulator 'dopamine', which is not in the network"):
        run(net, 10.0, DT)


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", ["additive", "multiplicative", "reward"])
def test_plasticity_on_brian2_numpy_within_1e10(kind):
    if kind == "reward":
        rule, _ = _reward_rule("nearest", "post_first")  # daspnet.m's pairing and order
        delay = 0.5
    else:
        rule = STDP(tau_pre=20.0, tau_post=25.0, a_plus=0.02, a_minus=0.022, rule=kind)
        delay = 1.5 if kind == "multiplicative" else 0.0
    net = _network(rule, delay)
    a = run(net, T, DT)
    b = run(net, T, DT, backend="brian2", target="numpy")
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)
    np.testing.assert_allclose(b.final_w_plastic.values, a.final_w_plastic.values, rtol=0,
                               atol=1e-10)
    np.testing.assert_allclose(b.w_plastic.values, a.w_plastic.values, rtol=0, atol=1e-10)
    if kind == "reward":
        np.testing.assert_allclose(b.final_c_plastic.values, a.final_c_plastic.values, atol=1e-10)
        np.testing.assert_allclose(float(b.final_d_dopamine), float(a.final_d_dopamine),
                                   rtol=1e-12)
