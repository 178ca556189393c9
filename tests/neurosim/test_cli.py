"""Tests of the ``neurosim`` command and the experiment registry."""

import json
import subprocess
import sys

import numpy as np
import pytest

from neurosim import experiments
from neurosim.cli import main
from neurosim.experiments import Experiment, ExperimentResult, get_experiment, list_experiments
from neurosim.results import firing_rates, load

NAME = "spiking-izhikevich"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run through the CLI, shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("cli") / "out"
    status = main(["run", NAME, "--quick", "--out", str(out), "--seed", "3"])
    assert status == 0
    return out


def _one_line_error(capsys, *needles):
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "Traceback" not in captured.err
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


# --------------------------------------------------------------------------------------------
# list
# --------------------------------------------------------------------------------------------
def test_list_in_process(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert NAME in out
    assert get_experiment(NAME).summary in out


def test_python_m_neurosim_list(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "neurosim", "list"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert NAME in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_list_imports_no_simulator(tmp_path):
    code = ("import sys, io, contextlib\n"
            "from neurosim.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['list']) == 0\n"
            "import neurosim.results\n"
            "heavy = [m for m in ('numba', 'brian2', 'xarray', 'matplotlib', 'torch')\n"
            "         if m in sys.modules]\n"
            "print(heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------
def test_run_writes_results_figures_and_report(quick_run):
    names = sorted(p.name for p in quick_run.iterdir())
    assert names == ["raster.png", "rates.png", "report.md", "results.nc"]
    for png in ["raster.png", "rates.png"]:
        assert (quick_run / png).read_bytes()[:8] == PNG_MAGIC
    report = (quick_run / "report.md").read_text()
    assert report.startswith(f"# {NAME}")
    assert "Hz" in report and "raster.png" in report and "--seed 3" in report


def test_run_results_have_plausible_spikes(quick_run):
    ds = load(quick_run / "results.nc")
    n, duration = ds.sizes["neuron"], ds.attrs["duration"]
    assert n == 1000 and duration == 1000.0
    assert ds.attrs["backend"] == "numba" and ds.attrs["random_state"] == "3"
    assert ds.attrs["experiment"] == NAME and ds.attrs["experiment_quick"] == 1
    rate = ds.sizes["spike"] / n / (duration * 1e-3)
    assert 5.0 < rate < 15.0
    rates = firing_rates(ds)
    np.testing.assert_allclose(float(rates.mean()), rate)
    np.testing.assert_allclose(ds.attrs["summary_rate_mean_hz"], rate)
    exc = rates.values[ds["cell_type"].values == "exc"]
    assert exc.size == 800
    np.testing.assert_allclose(ds.attrs["summary_rate_exc_hz"], exc.mean())
    assert 0.0 < ds.attrs["summary_isi_cv_mean"] < 2.0
    assert ds["spike_time"].min() >= 0 and ds["spike_time"].max() < duration
    assert json.loads(ds.attrs["network"])["n_exc"] == 800


def test_run_refuses_non_empty_out(tmp_path, capsys):
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    assert main(["run", NAME, "--quick", "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "not empty", "--overwrite")
    assert keep.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_run_refuses_out_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    assert main(["run", NAME, "--quick", "--out", str(target), "--overwrite"]) == 2
    _one_line_error(capsys, "is a file")
    assert target.read_text() == "mine"


def test_run_overwrite_replaces_own_files_only(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "results.nc").write_text("stale")
    assert main(["run", NAME, "--quick", "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert load(tmp_path / "results.nc").sizes["neuron"] == 1000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_unknown_experiment(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "nope", "--quick"]) == 2
    _one_line_error(capsys, "'nope'", NAME)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, needle", [
    (["run", NAME, "--backend", "nest"], "'nest'"),
    (["run", NAME, "--seed", "-1"], "-1"),
    (["run", NAME, "--seed", "abc"], "'abc'"),
    (["frobnicate"], "'frobnicate'"),
    ([], "command is required"),
])
def test_usage_errors(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    _one_line_error(capsys, needle)
    assert list(tmp_path.iterdir()) == []


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert "neurosim" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------
# The demo's own machinery on two real experiments; the whole `neurosim demo` (every experiment)
# runs once in CI as the README's first set-up command (.ci/run), not again here.
_DEMO_SUBSET = (NAME, "dendrites-continual")


def test_demo_default_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(experiments, "_REGISTRY",
                        {k: v for k, v in experiments._REGISTRY.items() if k in _DEMO_SUBSET})
    assert [e.name for e in list_experiments()] == sorted(_DEMO_SUBSET)
    assert main(["demo"]) == 0
    out = tmp_path / "neurosim-demo"
    report = (out / "report.md").read_text()
    assert "| experiment | number | value | compared with | value |" in report
    for e in list_experiments():
        assert (out / e.name / "results.nc").is_file()
        assert (out / e.name / "report.md").is_file()
        assert f"{e.name}/report.md" in report
    # headline numbers next to their reference, e.g. active dendrites against a plain MLP
    assert "| plain MLP |" in report and "| MLP given the task context |" in report
    assert (out / NAME / "raster.png").read_bytes()[:8] == PNG_MAGIC
    assert main(["demo"]) == 2  # the folder is no longer empty


def test_demo_parallel_matches_serial_and_reports_failures(tmp_path, capfd, monkeypatch):
    """--jobs 1 runs in this process; --jobs 2 spawns fresh processes, runs there what can be
    sent (a failure there is reported, the others still run), the rest (functions of this test
    module) here, and writes the same numbers."""
    monkeypatch.setattr(experiments, "_REGISTRY", dict(experiments._REGISTRY))
    for name in list(experiments._REGISTRY):
        if name != "dendrites-theory":
            del experiments._REGISTRY[name]
    experiments.register(Experiment("tiny", "a tiny one", _tiny, _tiny_config))
    experiments.register(Experiment("broken", "always fails", _broken))
    assert main(["demo", "--jobs", "1", "--out", str(tmp_path / "serial")]) == 1
    captured = capfd.readouterr()
    assert "[1/3] broken" in captured.out and "1 experiment(s) failed" in captured.out
    assert "simulator missing" in captured.err
    report = (tmp_path / "serial" / "report.md").read_text()
    assert "| broken | failed (see the log) |" in report and "[tiny](tiny/report.md)" in report
    assert not (tmp_path / "serial" / "broken").exists()

    del experiments._REGISTRY["broken"]
    experiments.register(Experiment("broken", "fails", "neurosim.no_such_module:run"))
    assert main(["demo", "--jobs", "2", "--out", str(tmp_path / "parallel")]) == 1
    captured = capfd.readouterr()
    assert "2 at a time" in captured.out and "broken" in captured.out
    assert "tiny (quick, seed 0) (in this process)" in captured.out
    assert "no_such_module" in captured.err and "1 experiment(s) failed" in captured.out
    assert (tmp_path / "parallel" / "tiny" / "results.nc").is_file()
    serial = load(tmp_path / "serial" / "dendrites-theory" / "results.nc")
    parallel = load(tmp_path / "parallel" / "dendrites-theory" / "results.nc")
    for var in serial.data_vars:
        np.testing.assert_array_equal(serial[var].values, parallel[var].values)
    capfd.readouterr()
    assert main(["demo", "--jobs", "0"]) == 2
    _one_line_error(capfd, "--jobs", "'0'")


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
def _tiny_config(quick):
    return {"quick": bool(quick), "size": 3}


def _tiny(config, *, data=None, seed=0, progress=False):
    import xarray as xr

    ds = xr.Dataset({"x": ("i", np.arange(float(config["size"])))},
                    attrs={"quick": config["quick"], "seed": seed})
    return ExperimentResult(dataset=ds, figures={}, report="# tiny\n", metrics={"x": 1.0})


def _broken(config, *, data=None, seed=0, progress=False):
    raise ImportError("simulator missing")


def test_registry(monkeypatch):
    assert NAME in [e.name for e in list_experiments()]
    with pytest.raises(ValueError, match=f"unknown experiment 'nope'.*{NAME}"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="already registered"):
        experiments.register(Experiment(NAME, "again", _tiny, _tiny_config))
    with pytest.raises(ValueError, match="module:function"):
        Experiment("bad", "bad", "no_colon")
    with pytest.raises(TypeError, match="Experiment"):
        experiments.register("tiny")
    monkeypatch.setattr(experiments, "_REGISTRY", dict(experiments._REGISTRY))
    experiments.register(Experiment("tiny", "a tiny one", _tiny, _tiny_config))
    tiny = get_experiment("tiny")
    result = tiny.run(quick=True, seed=5, config={"size": 4})
    assert result.dataset.attrs["seed"] == 5 and result.dataset.sizes["i"] == 4
    # Experiment.run stamps the result in one place
    attrs = result.dataset.attrs
    assert attrs["experiment"] == "tiny" and attrs["experiment_seed"] == 5
    assert attrs["experiment_quick"] == 1 and attrs["summary_x"] == 1.0
    assert json.loads(attrs["experiment_config"]) == {"quick": True, "size": 4}
    assert attrs["experiment_data"] == "embedded" and attrs["experiment_run_time_s"] >= 0
    with pytest.raises(ValueError, match=r"no settings \['sizes'\].*\['quick', 'size'\]"):
        tiny.run(config={"sizes": 4})
    with pytest.raises(ValueError, match="seed must be >= 0"):
        tiny.run(seed=-1)
    with pytest.raises(ValueError, match="runs no simulation.*backend='numba'"):
        tiny.run(backend="numba")
    with pytest.raises(ValueError, match=r"runs on the backends \['numba', 'brian2'\]"):
        get_experiment(NAME).run(backend="nest")
    lazy = Experiment("lazy", "lazy", "neurosim.experiments.spiking_izhikevich:run")
    assert callable(lazy.load()) and lazy.default_config(True)["n"] == 1000


def test_cli_runs_a_registered_experiment(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiments, "_REGISTRY", dict(experiments._REGISTRY))
    experiments.register(Experiment("tiny", "a tiny one", _tiny, _tiny_config))
    experiments.register(Experiment("broken", "always fails", _broken))
    assert main(["list"]) == 0
    assert "a tiny one" in capsys.readouterr().out
    assert main(["run", "tiny", "--out", str(tmp_path / "t"), "--seed", "7"]) == 0
    ds = load(tmp_path / "t" / "results.nc")
    assert ds.attrs["quick"] == 0 and ds.attrs["seed"] == 7  # bool attrs saved as int
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["report.md", "results.nc"]
    capsys.readouterr()
    assert main(["run", "broken", "--out", str(tmp_path / "b")]) == 1
    _one_line_error(capsys, "simulator missing")
    assert not (tmp_path / "b").exists()


def _with_data(config, *, data=None, seed=0, progress=False):
    import xarray as xr

    return ExperimentResult(dataset=xr.Dataset(attrs={"data": str(data)}), report="# data\n")


def test_run_data_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(experiments, "_REGISTRY", dict(experiments._REGISTRY))
    experiments.register(Experiment("tiny", "a tiny one", _tiny, _tiny_config))
    experiments.register(Experiment("with-data", "takes data", _with_data, data="a file"))
    # an experiment without a data option refuses --data, and writes nothing
    assert main(["run", "tiny", "--data", str(tmp_path), "--out", str(tmp_path / "t")]) == 2
    _one_line_error(capsys, "'tiny'", "--data")
    assert not (tmp_path / "t").exists()
    # a missing path is named
    missing = tmp_path / "DREAMER.mat"
    assert main(["run", "with-data", "--data", str(missing), "--out", str(tmp_path / "d")]) == 2
    _one_line_error(capsys, "DREAMER.mat", "does not exist")
    # an existing path reaches the experiment
    missing.write_bytes(b"")
    assert main(["run", "with-data", "--data", str(missing), "--out", str(tmp_path / "d")]) == 0
    assert load(tmp_path / "d" / "results.nc").attrs["data"] == str(missing)
    assert "--data" in (tmp_path / "d" / "report.md").read_text()
    with pytest.raises(TypeError, match="no option 'data'"):
        get_experiment("tiny").run(quick=True, data="x")
    assert get_experiment("decode-histn").accepts("data")
    # --backend is refused where no simulation runs; --config reaches the experiment
    capsys.readouterr()
    assert main(["run", "tiny", "--backend", "numba", "--out", str(tmp_path / "b")]) == 2
    _one_line_error(capsys, "'tiny'", "runs no simulation", "--backend")
    assert main(["run", "tiny", "--config", '{"nope": 1}', "--out", str(tmp_path / "c")]) == 2
    _one_line_error(capsys, "no settings ['nope']")
    assert main(["run", "tiny", "--config", '{"size": 5}', "--out", str(tmp_path / "c")]) == 0
    assert load(tmp_path / "c" / "results.nc").sizes["i"] == 5
    assert "--config" in (tmp_path / "c" / "report.md").read_text()
    # settings the experiment itself refuses (the paper preset without the paper's data): one
    # line, exit 2, nothing written
    capsys.readouterr()
    assert main(["run", "decode-histn", "--quick", "--config", "paper",
                 "--out", str(tmp_path / "p")]) == 2
    _one_line_error(capsys, "'decode-histn'", "--config", "preset 'paper'")
    assert not (tmp_path / "p").exists()
