"""neurosim.reservoir: the task, the rule pieces, the readouts on the engine, the analysis, bad
input. The issue's numbers on the quick configuration are in test_reservoir_experiment.py."""

import numpy as np
import pytest

from neurosim.reservoir import (
    Block,
    ForceReadout,
    ThreeFactorReadout,
    WhatWhenTask,
    attention_gate,
    eligibility_step,
    prediction_error,
    prediction_scores,
    principal_angles,
    random_subspace_angles,
    replay_consolidation,
    spiking_reservoir,
    subspace_angles_with_null,
    three_factor_step,
    traces_at,
    weight_step,
)

LEVELS = [[0.2, 0.5, 0.8], [0.2, 0.5, 0.8]]


def _task(blocks=30, seed=0, **kw):
    return WhatWhenTask(["A", "B"], [300.0, 600.0], LEVELS, trial_ms=900.0, iti_ms=300.0,
                        blocks=blocks, random_state=seed, **kw)


# -- task --------------------------------------------------------------------------------------
def test_task_events_are_stochastic_with_the_block_frequency():
    task = _task(blocks=[Block(120), Block(60, probabilities=[[0.8, 0.5, 0.2]] * 2)])
    assert task.n_cues == 6 and task.n_trials == 180
    for b, (lo, hi) in enumerate([(0, 120), (120, 180)]):
        cue, occ = task.trial_cue[lo:hi], task.trial_occurred[lo:hi]
        for c in range(6):
            n = np.sum(cue == c)
            assert n in (hi - lo) // 6 + np.array([0, 1])
            # balanced: round(p n) events per cue and block
            assert occ[cue == c].sum() == int(np.floor(task.block_probabilities(b)[c] * n + 0.5))
    # the teacher is the event that happened: a bump of height 1 at the delay, or nothing
    teacher = task.event_teacher(1.0).reshape(task.n_trials, -1)
    peak = teacher.max(1)
    np.testing.assert_allclose(peak[task.trial_occurred], 1.0)
    assert np.all(peak[~task.trial_occurred] == 0.0)
    at = teacher[task.trial_occurred].argmax(1)
    np.testing.assert_array_equal(at, task.trial_delay[task.trial_occurred].astype(int))
    # unbalanced: independent draws, frequency near p over many trials
    big = _task(blocks=6000, balanced=False, seed=1)
    freq = [big.trial_occurred[big.trial_cue == c].mean() for c in range(6)]
    np.testing.assert_allclose(freq, np.tile([0.2, 0.5, 0.8], 2), atol=0.05)


def test_task_inputs_are_spike_generators_specific_to_the_cue():
    task = _task(blocks=12)
    tc, stim = task.input_groups(0.5)
    assert stim is None and tc.n == 6 * task.time_cells * task.time_cell_copies
    per_cue = task.time_cells * task.time_cell_copies
    trial = np.floor(tc.times / task.period_ms).astype(int)
    # every spike comes from a source of its trial's cue, inside the trial
    np.testing.assert_array_equal(tc.indices // per_cue, task.trial_cue[trial])
    assert np.all(tc.times - task.trial_start[trial] < task.trial_ms)


@pytest.mark.parametrize("kwargs, match", [
    ({"probabilities": [[0.2, 1.5, 0.8]] * 2}, r"must lie in \[0, 1\]"),
    ({"probabilities": [[-0.1, 0.5, 0.8]] * 2}, r"must lie in \[0, 1\]"),
    ({"probabilities": [0.2, 0.5, 0.8]}, "shape"),
    ({"delays": [300.0, 950.0]}, "past the trial length"),
    ({"delays": [300.0]}, "one delay per identity"),
    ({"blocks": [Block(10), Block(10, delays=(300.0, 1000.0))]}, "block 1: .*past the trial"),
    ({"blocks": [Block(10), {"n_trial": 5}]}, "unknown key"),
])
def test_task_bad_input(kwargs, match):
    args = {"identities": ["A", "B"], "delays": [300.0, 600.0], "probabilities": LEVELS,
            "trial_ms": 900.0, "iti_ms": 300.0, "blocks": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        WhatWhenTask(**args)


def test_gate_that_never_opens_is_refused():
    task = _task(blocks=6)
    with pytest.raises(ValueError, match="never opens"):
        attention_gate(task, 1.0, start=400.0, stop=400.0)
    g = attention_gate(task, 1.0, start=100.0, stop=800.0).reshape(task.n_trials, -1)
    assert g[:, 100:800].min() == 1 and g[:, :100].max() == 0 and g[:, 800:].max() == 0


# -- rule pieces ---------------------------------------------------------------------------------
def test_pre_x_post_eligibility_never_starts_from_zero_weights_presynaptic_does():
    rng = np.random.default_rng(0)
    n_in, lam, dt = 20, np.exp(-1.0), 0.5
    X = rng.standard_normal((2000, n_in))
    w_true = rng.standard_normal(n_in)
    results = {}
    for post in ("rate", "none"):
        W, e = np.zeros((1, n_in)), np.zeros((1, n_in))
        for x in X:
            y = W @ x
            e = eligibility_step(e, x, y, decay=lam, post=post)
            W = weight_step(W, e, prediction_error(w_true @ x, y), 1.0, eta=2e-3, dt=dt)
        results[post] = W
    assert np.all(results["rate"] == 0.0)           # pre x post with W = 0: nothing, ever
    err = lambda W: np.mean((X @ W[0] - X @ w_true) ** 2)  # noqa: E731
    assert err(results["none"]) < 0.05 * err(np.zeros((1, n_in)))


def test_three_factor_step_chains_the_pieces_and_weight_step_values():
    W = np.array([[0.1, -0.2]])
    e = np.array([[1.0, 2.0]])
    out = weight_step(W, e, np.array([0.5]), 0.5, eta=0.1, dt=2.0)
    np.testing.assert_allclose(out, [[0.1 + 0.1 * 0.5 * 0.5 * 1 * 2, -0.2 + 0.1 * 0.25 * 2 * 2]])
    np.testing.assert_allclose(weight_step(W, e, [10.0], 1.0, eta=1.0, dt=1.0, w_max=0.3),
                               [[0.3, 0.3]])
    x = np.array([3.0, 4.0])
    W2, e2, y = three_factor_step(W, e, x, np.array([1.0]), 1.0, eta=0.01, decay=0.5, dt=1.0)
    assert y[0] == pytest.approx(0.1 * 3 - 0.2 * 4)
    np.testing.assert_allclose(e2, [[0.5 + 3, 1 + 4]])
    np.testing.assert_allclose(W2, W + 0.01 * (1 - y[0]) * e2)
    with pytest.raises(ValueError, match="post must be"):
        eligibility_step(e, x, decay=0.5, post="bogus")


def test_replay_consolidation_solves_a_consistent_linear_problem():
    rng = np.random.default_rng(1)
    X = rng.random((60, 30))
    W_true = rng.standard_normal((2, 30))
    W = replay_consolidation(np.zeros((2, 30)), X, X @ W_true.T, eta=0.8, epochs=200,
                             random_state=0)
    np.testing.assert_allclose(X @ W.T, X @ W_true.T, atol=1e-3)
    with pytest.raises(ValueError, match="targets must have shape"):
        replay_consolidation(np.zeros((2, 30)), X, np.zeros((60, 3)))
    with pytest.raises(ValueError, match="X must have shape"):
        replay_consolidation(np.zeros((2, 30)), X[:, :5], np.zeros((60, 2)))
    with pytest.raises(ValueError, match=r"\(0, 2\)"):
        replay_consolidation(np.zeros((2, 30)), X, np.zeros((60, 2)), eta=2.5)


def test_traces_at_matches_a_step_by_step_trace():
    rng = np.random.default_rng(2)
    n, steps, dt, tau = 5, 400, 0.5, 10.0
    spikes = rng.random((steps, n)) < 0.05
    lam, x, ref = np.exp(-dt / tau), np.zeros(n), []
    for s in range(steps):
        ref.append(x.copy())                    # value at the start of step s
        x = x * lam + 2.0 * spikes[s]
    ss, sn = np.nonzero(spikes)
    got = traces_at(ss, sn, n, np.arange(100, steps), tau=tau, increment=2.0, dt=dt,
                    x0=ref[100], step0=100)
    np.testing.assert_allclose(got, np.array(ref[100:]), rtol=1e-12, atol=1e-12)


# -- analysis ------------------------------------------------------------------------------------
def test_principal_angles_and_their_null():
    a = np.zeros((1, 50))
    a[0, 0] = 1
    b = np.zeros((2, 50))
    b[0, 0], b[0, 1], b[1, 2] = np.cos(np.radians(30)), np.sin(np.radians(30)), 1.0
    np.testing.assert_allclose(principal_angles(a, b), [30.0], atol=1e-9)
    null = random_subspace_angles(1000, 1, 1, n_draws=300, random_state=0)
    # two random lines in 1,000 dimensions: |cos| ~ |N(0, 1/1000)|, median 0.6745 / sqrt(1000)
    assert np.median(null) == pytest.approx(np.degrees(np.arccos(0.6745 / np.sqrt(1000))),
                                            abs=0.3)
    res = subspace_angles_with_null(b, a, n_draws=50, random_state=0)
    assert res["angle_min"] == pytest.approx(30.0) and 70 < res["null_median"] < 85
    with pytest.raises(ValueError, match="same number of columns"):
        principal_angles(a, np.ones((1, 10)))
    with pytest.raises(ValueError, match="not all zero"):
        principal_angles(a, np.zeros((1, 50)))


def test_prediction_scores_on_a_synthetic_history():
    import xarray as xr

    task = _task(blocks=60)
    t = np.arange(0, 1200, 5.0)
    y = np.zeros((60, t.size))
    for i in range(60):
        y[i] = task.trial_probability[i] * np.exp(-0.5 * ((t - task.trial_delay[i]) / 40) ** 2)
    h = xr.Dataset({"y_when": (("trial", "time"), y)},
                   coords={"trial": np.arange(60), "time": t,
                           **{k: ("trial", v.values) for k, v in
                              task.to_dataset()[["cue", "identity", "block", "delay",
                                                 "probability", "occurred"]].items()}},
                   attrs={"trial_ms": 900.0})
    s = prediction_scores(h)
    assert s["ok"] and s["n_cells"] == 6
    np.testing.assert_allclose(s["peak_time"], [300.0, 600.0])
    assert s["height_prob_r"] == pytest.approx(1.0) and s["height_prob_mae"] < 1e-12
    h["y_when"] = h["y_when"] * 0.5
    s = prediction_scores(h)
    assert s["height_prob_r"] == pytest.approx(1.0) and not s["height_ok"]
    assert s["height_prob_mae"] == pytest.approx(np.mean([0.1, 0.25, 0.4]))


# -- readouts on the engine ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    return spiking_reservoir(200, random_state=0), _task(blocks=18, seed=3)


def test_readout_bad_input(small):
    net, task = small
    with pytest.raises(ValueError, match="eta must be a learning rate > 0"):
        ThreeFactorReadout(eta=0.0).start(net, task)
    with pytest.raises(ValueError, match="eta must be a learning rate > 0"):
        ThreeFactorReadout(eta=-1e-7).start(net, task)
    with pytest.raises(ValueError, match="never opens"):
        ThreeFactorReadout(gate=(500.0, 500.0)).start(net, task)
    n = int(task.duration_ms)
    with pytest.raises(ValueError, match="never opens"):
        ThreeFactorReadout(gate=np.zeros(n)).start(net, task)
    with pytest.raises(ValueError, match=rf"shape \({n},\)"):
        ThreeFactorReadout(gate=np.ones(n - 3)).start(net, task)
    with pytest.raises(ValueError, match=rf"third_factor\(task, dt\) must return shape \({n},\)"):
        ThreeFactorReadout(third_factor=lambda task, dt: np.ones((n, 2))).start(net, task)
    with pytest.raises(ValueError, match="alpha must be"):
        ForceReadout(alpha=0.0).start(net, task)
    with pytest.raises(TypeError, match="WhatWhenTask"):
        ThreeFactorReadout().start(net, "task")
    with pytest.raises(ValueError, match="no group named 'reservoir'"):
        from neurosim.spiking import izhikevich_network
        ThreeFactorReadout().start(izhikevich_network(50, 0.1, random_state=0), task)


def test_learning_starts_from_zero_weights_on_the_engine(small):
    net, task = small
    grown = {}
    for post in ("none", "rate"):
        m = ThreeFactorReadout(eta=3e-7, post=post, replay_epochs=0, segment_trials=6)
        m.start(net, task, random_state=0)
        assert not np.any(m.weights("when"))
        m.run_trials(12)
        grown[post] = m.weights("when")
        if post == "none":
            h = m.history()
    assert np.all(grown["rate"] == 0.0)             # pre x post: never starts
    assert np.abs(grown["none"]).sum() > 0
    # the default rule's output already predicts something: larger in the trial than in the ITI
    y = h["y_when"].values[6:]
    assert y[:, h["time"].values < 900].mean() > 5 * abs(y[:, h["time"].values >= 1000].mean())


def test_same_seed_same_weights_and_consolidation_writes_back(small):
    net, task = small
    runs = []
    for seed in (0, 0, 1):
        m = ThreeFactorReadout(eta=3e-7, segment_trials=9).fit(net, task, random_state=seed)
        runs.append((m.weights("when"), m.weights("what"), m))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])
    m = runs[0][2]
    # one block: consolidated once at its end, into the "what" readout of the session
    assert [c["trial"] for c in m.consolidations_] == [task.n_trials]
    assert np.abs(runs[0][1]).sum() > 0
    assert m.history()["y_when"].shape == (task.n_trials, int(task.period_ms / 5.0))


def test_force_reset_of_p_at_block_change(small):
    net, _ = small
    task = _task(blocks=[Block(6), Block(6, delays=(500.0, 600.0))], seed=4)
    m = ForceReadout(alpha=1e4, reset_at_block=True, segment_trials=6).fit(net, task,
                                                                          random_state=0)
    assert m.resets_ == [6]
    assert np.abs(m.weights("when")).sum() > 0
