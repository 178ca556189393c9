"""Memory estimates before large allocations (issue #14): one helper, no psutil."""

import numpy as np
import pytest

from neurosim import _utils
from neurosim._utils import available_memory, check_memory, format_bytes


def test_available_memory_is_positive_and_below_total():
    avail = available_memory()
    assert isinstance(avail, int) and avail > 0
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    assert avail <= total


def test_check_memory_refuses_and_can_be_overridden(monkeypatch):
    monkeypatch.setattr(_utils, "available_memory", lambda: 10**9)
    check_memory(10**8, "a small array")
    with pytest.raises(MemoryError, match=r"a big array needs about 2.0 GB, but only 1.0 GB .*"
                                          r"pass check_memory=False"):
        check_memory(2 * 10**9, "a big array")
    check_memory(2 * 10**9, "a big array", check=False)
    assert format_bytes(1.5e9) == "1.5 GB"


def test_sparsey_memory_refuses_before_allocating():
    """The probe's Q=K=5000 on 784 features: numpy's MemoryError after allocating (or, without
    a limit, a 625 TB horizontal weight array); now a MemoryError naming the estimate, raised
    before any weight array exists."""
    from neurosim.sparsey import SparseyMemory

    X = (np.random.default_rng(0).random((3, 784)) < 0.2).astype(np.uint8)
    model = SparseyMemory(Q=5000, K=5000)
    with pytest.raises(MemoryError, match=r"SparseyMemory\(Q=5000, K=5000\) on 784 features.*"
                                          "check_memory=False"):
        model.fit(X)
    assert not hasattr(model, "weights_u_")
    small = SparseyMemory(Q=4, K=3, check_memory=False, random_state=0).fit(X)
    assert small.codes_.shape == (3, 4)


def test_state_monitor_run_refused_before_allocating():
    """The probe's LIF(10) + StateMonitor over 1e9 ms at dt 0.1 ms (745 GiB of samples)."""
    from neurosim.backends import run
    from neurosim.spiking import LIF, Network, StateMonitor

    g = LIF(10)
    net = Network(g, StateMonitor(g, "v"))
    with pytest.raises(MemoryError, match=r"needs about .*monitors .* check_memory=False"):
        run(net, 1e9, 0.1)
    est = net.memory_estimate(1e9, 0.1)
    assert est["monitors"] >= 8 * 10 * 10**10


@pytest.mark.parametrize("dt", [-1.0, 0.0, float("nan")])
def test_izhikevich_noise_refuses_bad_dt(dt):
    """The probe: dt=-1 gave all-NaN noise and dt=0 all-inf, with a RuntimeWarning only."""
    from neurosim.spiking import izhikevich_noise

    with pytest.raises(ValueError, match="dt must be a finite positive number"):
        izhikevich_noise(50, 10, dt=dt)
