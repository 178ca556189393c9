"""Low-rank TimedInput, inhomogeneous Poisson groups, plotting helpers and Brian2 usability."""

import numpy as np
import pytest
from scipy import stats

from neurosim.backends import run
from neurosim.spiking import (
    LIF,
    Network,
    PoissonGroup,
    SpikeMonitor,
    StateMonitor,
    TimedInput,
    plot_raster,
    plot_state,
)

DT = 0.1


def _lowrank(n=300, K=3, T=200.0):
    rng = np.random.default_rng(0)
    signals = rng.normal(size=(int(T), K))
    gains = rng.normal(size=(n, K))
    return signals, gains


def test_low_rank_timed_input_equals_its_dense_form():
    signals, gains = _lowrank()
    cells = LIF(300, tau_m=1e9, v_rest=0.0, v_reset=-1.0, v_thresh=1e9, name="cells")
    low = TimedInput(cells, signals, dt=1.0, gains=gains)
    dense = TimedInput(cells, signals @ gains.T, dt=1.0)
    assert low.signal.nbytes < dense.signal.nbytes / 35  # (200 x 3 + 300 x 3) vs 200 x 300
    a = run(Network(cells, low, StateMonitor(cells, "v", record=[0, 7, 299])), 200.0, DT)
    b = run(Network(cells, dense, StateMonitor(cells, "v", record=[0, 7, 299])), 200.0, DT)
    np.testing.assert_allclose(a.v.values, b.v.values, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"gains must have shape \(300, 3\)"):
        TimedInput(cells, signals, dt=1.0, gains=gains[:, :2])
    with pytest.raises(ValueError, match=r"or \(n_times, K\) with gains"):
        TimedInput(cells, signals, dt=1.0)


def test_inhomogeneous_poisson_follows_the_rate():
    t = np.arange(0.0, 2000.0, 1.0)
    rate = 20.0 + 15.0 * np.sin(2 * np.pi * t / 500.0)
    src = PoissonGroup(2000, rates=rate, dt=1.0, name="src")
    ds = run(Network(src, SpikeMonitor(src)), 2000.0, DT, random_state=3)
    counts = np.histogram(ds.spike_time.values, bins=np.arange(0, 2001, 50))[0]
    expected = np.add.reduceat(rate, np.arange(0, 2000, 50)) * 2000 / 1000
    # Poisson counts: each bin within 5 standard deviations, and a good fit overall
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, counts.size) > 1e-3
    # low rank: two populations with their own mix of two signals
    sig = np.stack([np.full(1000, 10.0), np.r_[np.zeros(500), np.full(500, 40.0)]], 1)
    gains = np.r_[np.tile([1.0, 0.0], (500, 1)), np.tile([0.0, 1.0], (500, 1))]
    src = PoissonGroup(1000, rates=sig, dt=1.0, gains=gains, name="mix")
    ds = run(Network(src, SpikeMonitor(src)), 1000.0, DT, random_state=1)
    i, tt = ds.spike_neuron.values, ds.spike_time.values
    assert abs(np.sum(i < 500) / 500 - 10.0) < 1.0
    assert np.sum((i >= 500) & (tt < 500)) == 0
    assert abs(np.sum((i >= 500) & (tt >= 500)) / 500 / 0.5 - 40.0) < 2.0


def test_plot_helpers():
    import matplotlib

    matplotlib.use("Agg")
    src = PoissonGroup(30, rates=50.0, name="src")
    cells = LIF(20, name="cells")
    net = Network(src, cells, TimedInput(cells, np.full(100, 20.0), dt=1.0), SpikeMonitor(src),
                  SpikeMonitor(cells), StateMonitor(cells, "v", record=[3, 4]))
    ds = run(net, 100.0, DT, random_state=0)
    ax = plot_raster(ds)
    # rows are indices within the group: the second group starts after the first's 30 rows
    y = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert y.min() >= 0 and y.max() < 50
    ax = plot_raster(ds, group="cells", time_range=(0, 50))
    y = ax.collections[0].get_offsets()[:, 1]
    assert y.max() < 20 and ax.get_xlim() == (0, 50)
    ax = plot_state(ds, "v", neurons=[4])
    assert len(ax.lines) == 1 and ax.lines[0].get_label() == "cells[4]"
    with pytest.raises(ValueError, match=r"neurons \[0\] of 'v' were not recorded"):
        plot_state(ds, "v", neurons=[0])
    with pytest.raises(ValueError, match="'u' was not recorded"):
        plot_state(ds, "u")
    with pytest.raises(ValueError, match="unknown group"):
        plot_raster(ds, group="nope")


brian2 = pytest.importorskip("brian2")


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_brian2_runs_without_namespace_warnings_and_poisson_rates_agree():
    from brian2.utils.logger import catch_logs

    t = np.arange(0.0, 500.0, 1.0)
    src = PoissonGroup(500, rates=30.0 + 20.0 * (t > 250), dt=1.0, name="src")
    const = PoissonGroup(500, rates=25.0, name="const")
    net = Network(src, const, SpikeMonitor(src), SpikeMonitor(const))
    with catch_logs() as logs:
        b = run(net, 500.0, DT, backend="brian2", target="numpy", random_state=0)
    assert not [m for m in logs if "dt" in m[2]], logs
    a = run(net, 500.0, DT, random_state=0)
    for ds in (a, b):
        i, tt = ds.spike_neuron.values, ds.spike_time.values
        early = np.sum((i < 500) & (tt < 250)) / 500 / 0.25
        late = np.sum((i < 500) & (tt > 251)) / 500 / 0.249
        assert abs(early - 30.0) < 3.0 and abs(late - 50.0) < 4.0
        assert abs(np.sum(i >= 500) / 500 / 0.5 - 25.0) < 2.5


def test_cython_compile_notice_is_said_once(capsys):
    from neurosim.backends import _brian2

    _brian2._NOTICE_SHOWN.discard("cython")
    _brian2._notice("cython")
    _brian2._notice("cython")
    err = capsys.readouterr().err
    assert err.count("compiling Cython code") == 1 and "few minutes" in err
