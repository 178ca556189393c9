"""neurosim.sweep on Dask: equal to the serial loop bit for bit, resumes a killed sweep, bad input."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import neurosim
from neurosim.cli import main
from neurosim.experiments import _REGISTRY as REGISTRY
from neurosim.experiments import Experiment, ExperimentResult

xr = pytest.importorskip("xarray")
pytest.importorskip("dask.distributed")

_BUILD = {"options": {"n": 60}, "run": {"duration": 150.0}}


def _izhikevich(**kwargs):
    from neurosim.spiking import izhikevich_network

    return neurosim.sweep(izhikevich_network, grid={"p": [0.1, 0.3], "w_inh": [-1.0, -2.0]},
                          seeds=[0, 5], **_BUILD, progress=False, **kwargs)


@pytest.mark.slow
def test_local_cluster_equals_the_serial_loop_bit_for_bit(tmp_path):
    from dask.distributed import LocalCluster

    from neurosim.spiking import izhikevich_network

    serial = _izhikevich(client=False)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=":0") as cluster:
        dask = _izhikevich(client=cluster, out=tmp_path / "sweep")
    xr.testing.assert_identical(serial, dask)
    xr.testing.assert_identical(neurosim.results.load(tmp_path / "sweep" / "sweep.nc"), dask)
    assert dict(dask.sizes)["p"] == 2 and dask["spike_time"].dims == ("p", "w_inh", "seed", "spike")
    # one point against a direct call: the network built with random_state=seed, its noise from
    # SeedSequence([seed, 1])
    net = izhikevich_network(n=60, p=0.3, w_inh=-2.0, random_state=5)
    noise = int(np.random.SeedSequence([5, 1]).generate_state(1, np.uint64)[0] >> 1)
    direct = neurosim.run(net, 150.0, net.meta["dt"], random_state=noise)
    point = dask.sel(p=0.3, w_inh=-2.0, seed=5)
    n = direct.sizes["spike"]
    np.testing.assert_array_equal(point["spike_time"].values[:n], direct["spike_time"].values)
    np.testing.assert_array_equal(point["spike_neuron"].values[:n], direct["spike_neuron"].values)
    assert np.isnan(point["spike_time"].values[n:]).all()  # padding to the longest point
    assert n > 50  # the network fires


_SLOW = textwrap.dedent('''
    import time
    import numpy as np
    import xarray as xr

    def slow_point(scale, offset=0.0, random_state=None):
        time.sleep(0.4)
        x = np.random.default_rng(random_state).normal(size=5) * scale + offset
        return xr.Dataset({"x": ("trial", x), "mean": ((), x.mean())})
''')


def test_a_killed_sweep_reruns_only_the_missing_points(tmp_path, monkeypatch, capsys):
    (tmp_path / "slowmod.py").write_text(_SLOW)
    out = tmp_path / "out"
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import neurosim, slowmod; "
            f"neurosim.sweep(slowmod.slow_point, grid={{'scale': [1.0, 2.0, 3.0, 4.0]}}, "
            f"seeds=2, client=False, out={str(out)!r}, progress=False)")
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    points = out / "points"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if points.is_dir() and len(list(points.glob("point-*.nc"))) >= 3:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
    done = {p.name: p.stat().st_mtime_ns for p in points.glob("point-*.nc")}
    assert 3 <= len(done) < 8 and not (out / "sweep.nc").exists()

    monkeypatch.syspath_prepend(str(tmp_path))
    import slowmod

    ds = neurosim.sweep(slowmod.slow_point, grid={"scale": [1.0, 2.0, 3.0, 4.0]}, seeds=2,
                        client=False, out=out)
    said = capsys.readouterr().out
    assert f"{len(done)} of 8 points already in {out}; computing {8 - len(done)}" in said
    after = {p.name: p.stat().st_mtime_ns for p in points.glob("point-*.nc")}
    assert len(after) == 8 and all(after[name] == t for name, t in done.items())  # not redone
    fresh = neurosim.sweep(slowmod.slow_point, grid={"scale": [1.0, 2.0, 3.0, 4.0]}, seeds=2,
                           client=False, progress=False)
    xr.testing.assert_equal(ds, fresh)
    np.testing.assert_array_equal(ds["x"].sel(scale=3.0, seed=1),
                                  np.random.default_rng(1).normal(size=5) * 3.0)
    # an extended grid computes only the new points
    more = neurosim.sweep(slowmod.slow_point, grid={"scale": [1.0, 2.0, 3.0, 4.0, 5.0]},
                          seeds=2, client=False, out=out)
    assert "8 of 10 points already" in capsys.readouterr().out
    assert more.sizes["scale"] == 5
    # another target or options in the same folder is refused
    with pytest.raises(ValueError, match="holds a sweep of .*slow_point with options {}"):
        neurosim.sweep(slowmod.slow_point, grid={"scale": [1.0]}, options={"offset": 1.0},
                       client=False, out=out)


def _point(a, b=1, random_state=None):
    return xr.Dataset({"v": ((), float(a * 10 + b + (random_state or 0) / 100))})


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="grid is empty"):
        neurosim.sweep(_point, grid={}, client=False)
    with pytest.raises(ValueError, match="grid key 'c' is not a parameter of function "
                                         "'_point'; it accepts: a, b"):
        neurosim.sweep(_point, grid={"c": [1]}, client=False)
    with pytest.raises(ValueError, match="grid\\['a'\\] is empty"):
        neurosim.sweep(_point, grid={"a": []}, client=False)
    with pytest.raises(ValueError, match="seeds is empty"):
        neurosim.sweep(_point, grid={"a": [1]}, seeds=range(0), client=False)
    with pytest.raises(ValueError, match="seeds must be non-negative"):
        neurosim.sweep(_point, grid={"a": [1]}, seeds=[-1], client=False)
    with pytest.raises(ValueError, match="reserved"):
        neurosim.sweep(_point, grid={"seed": [1]}, client=False)
    with pytest.raises(TypeError, match="must take random_state"):
        neurosim.sweep(lambda a: None, grid={"a": [1]}, client=False)
    with pytest.raises(TypeError, match="must return an xarray.Dataset"):
        neurosim.sweep(lambda a, random_state: 3, grid={"a": [1]}, client=False, progress=False)
    with pytest.raises(ValueError, match="grid key 'n_neurons' is not a parameter of experiment "
                                         "'spiking-izhikevich'; it accepts: backend, dt, "
                                         "duration, n, p, quick"):
        neurosim.sweep("spiking-izhikevich", grid={"n_neurons": [10]}, client=False)
    with pytest.raises(ValueError, match="unknown experiment|no experiment"):
        neurosim.sweep("no-such-experiment", grid={"quick": [True]}, client=False)
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a sweep folder"):
        neurosim.sweep(_point, grid={"a": [1]}, client=False, out=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_unreachable_scheduler_is_a_clear_error_within_the_timeout():
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler at "
                                              "'tcp://127.0.0.1:9' within 2 s"):
        neurosim.sweep(_point, grid={"a": [1]}, client="tcp://127.0.0.1:9", timeout=2)
    assert time.monotonic() - t0 < 30


def test_serial_sweep_values_and_callable_module():
    import neurosim.sweep as module

    ds = module(_point, grid={"a": [1, 2], "b": [3]}, seeds=[0, 7], client=False, progress=False)
    assert ds["v"].dims == ("a", "b", "seed")
    np.testing.assert_allclose(ds["v"].sel(b=3).values, [[13, 13.07], [23, 23.07]])
    assert ds.attrs["sweep_grid"] == '{"a": [1, 2], "b": [3]}'
    assert neurosim.sweep is module or neurosim.sweep is module.sweep


def _tiny_config(quick=False):
    return {"gain": 1.0}


def _tiny(config, *, data=None, seed=0, progress=False):
    ds = xr.Dataset({"y": ("trial", np.random.default_rng(seed).normal(size=3) * config["gain"])})
    return ExperimentResult(dataset=ds, metrics={"y_mean": float(ds["y"].mean())},
                            report="tiny")


@pytest.fixture
def tiny_experiment():
    REGISTRY["tiny-sweep"] = Experiment("tiny-sweep", "a test experiment", _tiny, config=_tiny_config)
    yield "tiny-sweep"
    REGISTRY.pop("tiny-sweep", None)


def test_cli_sweep(tmp_path, capsys, tiny_experiment):
    out = tmp_path / "s"
    status = main(["sweep", tiny_experiment, "--param", "gain=1,2.5", "--seeds", "0:3",
                   "--serial", "--out", str(out)])
    text = capsys.readouterr()
    assert status == 0, text.err
    ds = neurosim.results.load(out / "sweep.nc")
    assert ds["y"].dims == ("gain", "seed", "trial") and list(ds["seed"].values) == [0, 1, 2]
    np.testing.assert_array_equal(ds["y"].sel(gain=2.5, seed=2),
                                  np.random.default_rng(2).normal(size=3) * 2.5)
    np.testing.assert_allclose(ds["metric_y_mean"].sel(gain=1.0), ds["y"].sel(gain=1.0).mean("trial"))
    assert "y_mean (mean over seeds)" in text.out
    for argv, message in [
        (["--param", "nope=1"], "--param key 'nope' is not a parameter of experiment"),
        ([], "at least one --param"),
        (["--param", "gain"], "must be KEY=V1,V2"),
        (["--param", "gain=1", "--seeds", "a:b"], "seeds must be START:STOP"),
        (["--param", "gain=1", "--workers", "0"], "--workers must be >= 1"),
    ]:
        assert main(["sweep", tiny_experiment, "--serial", *argv]
                    if "--workers" not in argv else ["sweep", tiny_experiment, *argv]) == 2
        assert message in capsys.readouterr().err
    assert main(["sweep", tiny_experiment, "--param", "gain=1", "--scheduler",
                 "tcp://127.0.0.1:9", "--timeout", "1", "--out", str(tmp_path / "x")]) == 1
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
