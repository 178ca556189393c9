"""The CLI checks everything before it runs, and every user error is one line, exit status 2
(issue #14)."""

import os
from pathlib import Path

import pytest
import xarray as xr

from neurosim import experiments
from neurosim.cli import main
from neurosim.experiments import Experiment, ExperimentResult

RAN = []


def _config(quick):
    return {"quick": bool(quick)}


def _records(config, *, data=None, seed=0, progress=False):
    RAN.append(seed)
    return ExperimentResult(dataset=xr.Dataset(attrs={"seed": seed}), report="# tiny\n")


def _reads_dreamer(config, *, data=None, seed=0, progress=False):
    from neurosim.datasets import load_dreamer

    RAN.append(seed)
    load_dreamer(data, duration=1.0)
    raise AssertionError("unreachable for a bad file")


def _value_error_from_reader(config, *, data=None, seed=0, progress=False):
    raise ValueError(f"duration=60.0 s is longer than the shortest film in {data}")


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(experiments, "_REGISTRY", dict(experiments._REGISTRY))
    experiments.register(Experiment("tiny", "records its seed", _records, _config))
    experiments.register(Experiment("dreamer", "reads DREAMER.mat", _reads_dreamer, _config,
                                    data="DREAMER.mat"))
    experiments.register(Experiment("strict", "raises ValueError", _value_error_from_reader,
                                    _config, data="a file"))
    RAN.clear()


def _one_line(capsys, *needles):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize("seed", [str(2**32), str(2**63), "9223372036854775808", "-1", "1.5"])
def test_seed_out_of_range_is_refused_before_running(registry, tmp_path, capsys, seed):
    assert main(["run", "tiny", "--seed", seed, "--out", str(tmp_path / "o")]) == 2
    _one_line(capsys, "--seed", "0 to 4294967295")
    assert RAN == [] and not (tmp_path / "o").exists()


def test_largest_seed_runs_and_saves(registry, tmp_path):
    assert main(["run", "tiny", "--seed", str(2**32 - 1), "--out", str(tmp_path / "o")]) == 0
    assert RAN == [2**32 - 1]


def _read_only_folder(tmp_path):
    if os.geteuid() == 0:  # root writes through permission bits; sysfs refuses new files
        return Path("/sys")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def test_read_only_output_is_refused_before_running(registry, tmp_path, capsys):
    ro = _read_only_folder(tmp_path)
    assert main(["run", "tiny", "--out", str(ro / "neurosim-out")]) == 2
    _one_line(capsys, "cannot write into", str(ro))
    assert RAN == []
    assert main(["demo", "--out", str(ro / "neurosim-demo")]) == 2
    _one_line(capsys, "cannot write into")
    assert RAN == []


def test_unreadable_data_is_refused_before_running(registry, tmp_path, capsys):
    assert main(["run", "dreamer", "--data", str(tmp_path / "nope.mat"),
                 "--out", str(tmp_path / "o")]) == 2
    _one_line(capsys, "nope.mat", "does not exist")
    if os.geteuid() != 0:
        locked = tmp_path / "locked.mat"
        locked.write_bytes(b"x")
        locked.chmod(0)
        assert main(["run", "dreamer", "--data", str(locked),
                     "--out", str(tmp_path / "o")]) == 2
        _one_line(capsys, "cannot be read")
    assert RAN == []


@pytest.mark.parametrize("content", [b"", b"this is text, not MATLAB\n" * 30])
def test_reader_error_with_data_is_one_line_exit_2(registry, tmp_path, capsys, content):
    bad = tmp_path / "DREAMER.mat"
    bad.write_bytes(content)
    assert main(["run", "dreamer", "--data", str(bad), "--out", str(tmp_path / "o")]) == 2
    _one_line(capsys, "'dreamer'", str(bad), "DREAMER.mat (a MATLAB v5/v7 file")
    assert not (tmp_path / "o").exists()


def test_value_error_with_data_is_one_line_exit_2(registry, tmp_path, capsys):
    data = tmp_path / "x.mat"
    data.write_bytes(b"x")
    assert main(["run", "strict", "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    _one_line(capsys, "longer than the shortest film", "--data")
