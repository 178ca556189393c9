"""The reproductions: FORCE learning of a sine, the distal reward problem, CUBA/COBA against
plain Brian2, and the noise input they use."""

import numpy as np
import pytest
from scipy import stats

from neurosim.backends import run
from neurosim.spiking import (
    LIF,
    Network,
    StateMonitor,
    UniformNoise,
    distal_reward_network,
    run_distal_reward,
)


def test_force_learns_the_sine():
    """Nicola & Clopath (2017), small network: after RLS stops, the network keeps producing the
    5 Hz oscillation (frequency, amplitude, phase over the first 500 ms)."""
    from neurosim.experiments import get_experiment

    r = get_experiment("spiking-force").run(quick=True, seed=0)
    m = r.metrics
    assert abs(m["rms_before"] - np.sqrt(0.5)) < 1e-9  # z = 0 before training
    assert m["rms_test_first_500ms"] < 0.3
    assert abs(m["freq_test_hz"] - 5.0) < 0.5
    assert abs(m["amplitude_test"] - 1.0) < 0.2
    assert m["rms_test"] < m["rms_before"]
    assert 5.0 < m["rate_hz"] < 50.0


@pytest.mark.slow
def test_distal_reward_singles_out_the_rewarded_synapse():
    """Izhikevich (2007), a short run (600 s simulated each, about a minute): the rewarded
    synapse grows into the top of the distribution; without rewards it stays at the bottom.
    (The paper's criterion, above the 99th percentile, is not met in 600 s: see
    docs/spiking_distal_reward.rst.)"""
    out = {}
    for reward in (True, False):
        net = distal_reward_network(random_state=0)
        out[reward] = run_distal_reward(net, 600_000.0, reward=reward, random_state=1)
    r, c = out[True], out[False]
    assert r.attrs["n_rewards"] > 20 and c.attrs["n_rewards"] == 0
    assert r.attrs["chosen_percentile"] > 80.0
    assert c.attrs["chosen_percentile"] < 20.0
    assert r.attrs["chosen_final"] > 10 * max(c.attrs["chosen_final"], 0.05)
    # rewards arrive 1-3 s after the pairing, in the right order
    assert np.all(np.diff(r.reward_time.values) >= -2000.0)
    assert 1.0 < r.rate.values.mean() < 5.0


def test_distal_reward_protocol_errors():
    net = distal_reward_network(100, n_synapses=10, random_state=0)
    with pytest.raises(ValueError, match="whole number of chunks"):
        run_distal_reward(net, 1500.0)
    with pytest.raises(ValueError, match="must not exceed the shortest reward delay"):
        run_distal_reward(net, 4000.0, chunk=2000.0)
    with pytest.raises(ValueError, match="distal_reward_network"):
        run_distal_reward(Network(LIF(2, name="x")), 1000.0)


def test_uniform_noise_statistics():
    g = LIF(4000, tau_m=1e9, v_rest=0.0, v_thresh=1e9, v_reset=-1.0, name="cells")
    ds = run(Network(g, UniformNoise(g, -2.0, 6.0), StateMonitor(g, "v")), 0.2, 0.1,
             random_state=0)
    x = ds.v.values[1] / (1 - np.exp(-0.1 / 1e9))
    assert x.min() >= -2.0 and x.max() < 6.0
    assert stats.kstest((x + 2.0) / 8.0, "uniform").pvalue > 1e-3
    with pytest.raises(ValueError, match="high must be >= low"):
        UniformNoise(g, 1.0, 0.0)


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_brette2007_experiment_matches_plain_brian2():
    from neurosim.experiments import get_experiment

    r = get_experiment("spiking-brette2007").run(quick=True, seed=1)
    m = r.metrics
    for model in ("cuba", "coba"):
        assert m[f"{model}_identical_spikes"] == 1.0
        assert m[f"{model}_rate_hz"] == m[f"{model}_rate_brian2_hz"]
    assert 2.0 < m["cuba_rate_hz"] < 12.0 and 5.0 < m["coba_rate_hz"] < 40.0
    assert m["coba_cv"] > 1.0 > m["cuba_cv"]  # COBA is bursty, CUBA irregular
