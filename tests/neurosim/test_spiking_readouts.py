"""Traces, readouts, the three-factor readout rule, RLS/FORCE and readout feedback, against
analytic results and plain numpy references, on numba and Brian2 (numpy target)."""

import numpy as np
import pytest

from neurosim.backends import Session, run
from neurosim.spiking import (
    LIF,
    Modulator,
    Network,
    Readout,
    ReadoutFeedback,
    ReadoutMonitor,
    RLSRule,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    ThreeFactorRule,
    Trace,
)

DT = 0.1
T = 1000.0
N = 8


def _forced(seed=0, rate=15.0):
    """LIF cells that spike exactly at the times of a spike generator (strong voltage jumps)."""
    rng = np.random.default_rng(seed)
    steps = np.flatnonzero(rng.random((int(T / DT), N)).ravel() < rate * DT / 1000)
    k, i = np.divmod(steps, N)
    drive = SpikeGeneratorGroup(N, i, k * DT, name="drive")
    cells = LIF(N, tau_m=10.0, v_rest=0.0, v_reset=0.0, v_thresh=100.0, t_ref=0.0, name="cells")
    force = Synapses(drive, cells, np.arange(N), np.arange(N), 1000.0, target="voltage",
                     name="force")
    return drive, cells, force


def _teacher_gate():
    t = np.arange(0.0, T, 1.0)
    teacher = np.stack([np.sin(2 * np.pi * t / 250), 0.5 * np.cos(2 * np.pi * t / 125)], 1)
    gate = ((t >= 100) & (t < 800)).astype(float)
    return teacher, gate


def _readout_network(rule_kind, feedback=False):
    drive, cells, force = _forced()
    tr = Trace(cells, tau=20.0, increment=1.0, name="tr")
    tr2 = Trace(cells, tau=30.0, tau_rise=5.0, increment=10.0, name="slow")
    ro = Readout([tr, tr2], 2, w=0.01 * np.arange(2 * 2 * N).reshape(2, 2 * N) / N, name="ro")
    teacher, gate = _teacher_gate()
    if rule_kind == "three_factor":
        rule = ThreeFactorRule(ro, eta=2e-3, tau_e=40.0, teacher=teacher, gate=gate,
                               signal_dt=1.0, w_min=-0.5, w_max=0.5, name="rule")
    elif rule_kind == "three_factor_rate":
        rule = ThreeFactorRule(ro, eta=1e-3, tau_e=40.0, modulator=np.sin(np.arange(T) / 50.0),
                               signal_dt=1.0, post="rate", name="rule")
    else:
        rule = RLSRule(ro, teacher=teacher, signal_dt=1.0, alpha=2.0, every=0.5, gate=gate,
                       name="rule")
    parts = [drive, cells, force, tr, tr2, ro, rule, SpikeMonitor(cells),
             StateMonitor(cells, ["x_tr", "x_slow", "v"]), ReadoutMonitor(ro)]
    if feedback:
        E = np.random.default_rng(1).uniform(-3, 3, (N, 2))
        parts.append(ReadoutFeedback(ro, cells, E))
    return Network(*parts)


def test_trace_equals_sum_of_exponentials():
    drive, cells, force = _forced()
    net = Network(drive, cells, force, Trace(cells, tau=20.0, increment=2.0, name="tr"),
                  Trace(cells, tau=30.0, tau_rise=5.0, increment=1.0, name="dbl"),
                  SpikeMonitor(cells), StateMonitor(cells, ["x_tr", "x_dbl"]))
    ds = run(net, T, DT)
    n = np.arange(int(T / DT))
    k = np.rint(ds.spike_time.values / DT).astype(int)
    j = ds.spike_neuron.values - N
    assert k.size > 50
    single = np.zeros((n.size, N))
    double = np.zeros((n.size, N))
    for kk, jj in zip(k, j):
        age = (n - 1 - kk) * DT  # jump at the reset of step kk, sampled from step kk + 1 on
        on = age >= 0
        single[on, jj] += 2.0 * np.exp(-age[on] / 20.0)
        double[on, jj] += 1.0 / 5.0 * 30 * 5 / 25 * (np.exp(-age[on] / 30.0)
                                                      - np.exp(-age[on] / 5.0))
    np.testing.assert_allclose(ds.x_tr.values, single, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds.x_dbl.values, double, rtol=1e-10, atol=1e-12)


def _x_inputs(ds):
    return np.hstack([ds.x_tr.values, ds.x_slow.values])


def _dot(w, x):
    acc = 0.0
    for a, b in zip(w.tolist(), x.tolist()):
        acc += a * b
    return acc


def _three_factor_reference(net, ds):
    rule = net.rules[0]
    W = net.readouts[0].w.copy()
    X = _x_inputs(ds)
    e = np.zeros_like(W)
    de = np.exp(-DT / rule.tau_e)
    ys = []
    for n in range(X.shape[0]):
        x = X[n]
        y = np.array([_dot(W[k], x) for k in range(W.shape[0])])
        ys.append(y)
        row = n // 10
        G = rule.gate.values[row, 0] if rule.gate is not None else 1.0
        if rule.teacher is not None:
            M = rule.teacher.values[row] - y
        else:
            M = np.full(2, rule.modulator.values[row, 0])
        g = np.ones(2) if rule.post == "none" else y
        for k in range(2):
            f = rule.eta * G * M[k]
            e[k] = e[k] * de + x * g[k]
            W[k] = np.minimum(np.maximum(W[k] + f * e[k] * DT, rule.w_min), rule.w_max)
    return W, np.array(ys)


@pytest.mark.parametrize("kind", ["three_factor", "three_factor_rate"])
def test_three_factor_rule_equals_numpy_reference_bit_for_bit(kind):
    net = _readout_network(kind)
    ds = run(net, T, DT)
    W, ys = _three_factor_reference(net, ds)
    assert np.abs(W - net.readouts[0].w).max() > 1e-3
    np.testing.assert_array_equal(ds.final_W_ro.values, W)
    np.testing.assert_array_equal(ds.y_ro.values, ys)


def test_three_factor_rule_learns_from_zero_weights():
    """With presynaptic eligibility (post="none") the delta rule starts from W = 0."""
    drive, cells, force = _forced(rate=40.0)
    tr = Trace(cells, tau=50.0, name="tr")
    ro = Readout(tr, 1, name="ro")
    target = np.full(int(T), 2.0)
    rule = ThreeFactorRule(ro, eta=5e-4, tau_e=1.0, teacher=target, signal_dt=1.0)
    ds = run(Network(drive, cells, force, tr, ro, rule, ReadoutMonitor(ro)), T, DT)
    y = ds.y_ro.values[:, 0]
    assert abs(y[:100].mean()) < 0.2 and abs(y[-1000:].mean() - 2.0) < 0.2


def _rls_reference(net, ds):
    rule = net.rules[0]
    W = net.readouts[0].w.copy()
    P = np.eye(W.shape[1]) / rule.alpha
    X = _x_inputs(ds)
    every = int(round(rule.every / DT))
    for n in range(X.shape[0]):
        row = n // 10
        if n % every or rule.gate.values[row, 0] == 0:
            continue
        x = X[n]
        y = W @ x
        c = P @ x
        W -= np.outer(y - rule.teacher.values[row], c)
        P -= np.outer(c, c) / (1.0 + x @ c)
    return W, P


def test_rls_equals_numpy_reference_and_reset():
    net = _readout_network("rls")
    sim = Session(net, DT)
    ds = sim.run(T)
    W, P = _rls_reference(net, ds)
    scale = np.abs(W).max()
    np.testing.assert_allclose(ds.final_W_ro.values, W, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(sim.state["P_rule"], P, rtol=1e-9, atol=1e-9 * np.abs(P).max())
    # the readout fits the teacher better than the untrained readout during the gated window
    y = ds.y_ro.values
    y0 = _x_inputs(ds) @ net.readouts[0].w.T
    teacher = np.repeat(_teacher_gate()[0], 10, axis=0)
    err = np.sqrt(np.mean((y[4000:8000] - teacher[4000:8000]) ** 2))
    err0 = np.sqrt(np.mean((y0[4000:8000] - teacher[4000:8000]) ** 2))
    assert err < 0.9 * err0
    sim.reset_rule("rule")
    np.testing.assert_array_equal(sim.state["P_rule"], np.eye(2 * N) / 2.0)
    with pytest.raises(ValueError, match="no readout rule named 'other'"):
        sim.reset_rule("other")


def test_readout_feedback_drives_the_group():
    net = _readout_network("three_factor", feedback=True)
    ds = run(net, 300.0, DT)
    fb = net.feedbacks[0]
    y = ds.y_ro.values
    v = ds.v.values
    # cells never reach threshold on their own: v integrates the feedback E @ y exactly
    decay = np.exp(-DT / 10.0)
    forced = set(np.rint(ds.spike_time.values / DT).astype(int).tolist())
    for n in range(1, 200):
        if n in forced or n - 1 in forced:
            continue
        vinf = 0.0 + (fb.E @ y[n - 1] + 0.0)
        ok = np.abs(v[n] - (vinf + (v[n - 1] - vinf) * decay)) < 1e-9
        # neurons that received a forced jump in step n - 1 are skipped
        assert ok.sum() >= N - 2


def test_readout_errors():
    drive, cells, force = _forced()
    tr = Trace(cells, tau=10.0, name="tr")
    with pytest.raises(TypeError, match="Trace needs a neuron model group"):
        Trace(drive, tau=10.0)
    with pytest.raises(ValueError, match=r"w must be a scalar or have shape \(2, 8\)"):
        Readout(tr, 2, w=np.zeros((3, 8)))
    ro = Readout(tr, 2, name="ro")
    with pytest.raises(ValueError, match="exactly one of teacher"):
        ThreeFactorRule(ro, eta=1.0, tau_e=10.0)
    with pytest.raises(ValueError, match="signal_dt"):
        ThreeFactorRule(ro, eta=1.0, tau_e=10.0, teacher=np.zeros(5))
    with pytest.raises(ValueError, match=r"teacher must have shape \(n_times,\) or \(n_times, 2\)"):
        ThreeFactorRule(ro, eta=1.0, tau_e=10.0, teacher=np.zeros((5, 3)), signal_dt=1.0)
    with pytest.raises(ValueError, match="tau_e must be a finite positive number"):
        ThreeFactorRule(ro, eta=1.0, tau_e=0.0, teacher=np.zeros(5), signal_dt=1.0)
    with pytest.raises(ValueError, match=r"E must have shape \(8, 2\)"):
        ReadoutFeedback(ro, cells, np.zeros((8, 3)))
    rule = RLSRule(ro, teacher=np.zeros(5), signal_dt=1.0, every=0.25)
    with pytest.raises(ValueError, match="whole number of steps of dt=0.1"):
        run(Network(drive, cells, force, tr, ro, rule), 10.0, DT)
    with pytest.raises(ValueError, match="which is not in the network"):
        run(Network(drive, cells, force, ro), 10.0, DT)
    with pytest.raises(ValueError, match="two learning rules"):
        Network(drive, cells, tr, ro, rule, RLSRule(ro, teacher=np.zeros(5), signal_dt=1.0,
                                                    name="second")).validate()
    mod = Modulator(name="da")
    ThreeFactorRule(ro, eta=1.0, tau_e=10.0, modulator=mod)  # a Modulator is a third factor


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("kind", ["three_factor", "rls"])
def test_readouts_on_brian2_numpy(kind):
    net = _readout_network(kind, feedback=kind == "three_factor")
    a = run(net, T, DT)
    b = run(net, T, DT, backend="brian2", target="numpy")
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)
    np.testing.assert_allclose(b.x_slow.values, a.x_slow.values, rtol=1e-12, atol=1e-13)
    scale = np.abs(a.final_W_ro.values).max()
    tol = 1e-10 if kind == "three_factor" else 1e-9
    np.testing.assert_allclose(b.final_W_ro.values, a.final_W_ro.values, rtol=tol,
                               atol=tol * scale)
    np.testing.assert_allclose(b.y_ro.values, a.y_ro.values, rtol=tol, atol=tol * scale)
    if kind == "three_factor":
        np.testing.assert_allclose(b.v.values, a.v.values, atol=1e-9)
