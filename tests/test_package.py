"""Package layout, namespace mapping and import cost."""

import importlib.machinery
import json
import subprocess
import sys
from pathlib import Path

import neurosim


def test_subpackages_live_in_the_neurosim_namespace():
    import neurosim.datasets
    import neurosim.decoding

    assert neurosim.datasets.__name__ == "neurosim.datasets"
    assert neurosim.decoding.__name__ == "neurosim.decoding"
    # the distribution installs no top-level `datasets` or `decoding` package: if one is
    # importable it is someone else's (e.g. Hugging Face's), not our folder. The repository root
    # itself is left out of the search: `python -m pytest` puts the current folder on sys.path.
    repo = Path(__file__).resolve().parents[1]
    path = [p for p in sys.path if Path(p or ".").resolve() != repo]
    for name in ("datasets", "decoding"):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.origin:
            assert not Path(spec.origin).resolve().is_relative_to(repo), spec.origin


def test_distribution_declares_no_top_level_datasets():
    from importlib.metadata import distribution

    dist = distribution("neurosim")
    top = {f.parts[0] for f in dist.files or [] if f.suffix == ".py"}
    assert "datasets" not in top and "decoding" not in top


def test_import_is_light_and_fast():
    code = (
        "import sys, time, json; t = time.perf_counter(); import neurosim, neurosim.spiking; "
        "dt = time.perf_counter() - t; "
        "print(json.dumps({'s': dt, 'mods': sorted(m for m in "
        "('numba', 'brian2', 'torch', 'xarray', 'matplotlib') if m in sys.modules)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert info["mods"] == []
    assert info["s"] < 1.0


def test_version():
    assert neurosim.__version__.startswith("0.")
