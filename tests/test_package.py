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


def test_network_is_blocked_in_tests():
    """The autouse fixture of conftest.py refuses the network, not the loopback."""
    import socket
    import urllib.request

    import pytest

    with pytest.raises(OSError, match="network access is blocked"):
        urllib.request.urlopen("https://pypi.org", timeout=5)
    with pytest.raises(OSError, match="network access is blocked"):
        socket.create_connection(("8.8.8.8", 53), timeout=5)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=5)  # loopback works
    client.close()
    server.close()


def test_decoding_runs_without_brian2_mne_nilearn_pooch_or_lazy_loader():
    """The GPU-node promise: torch and the scientific stack suffice for neurosim.decoding."""
    code = (
        "import sys\n"
        "for name in ('brian2', 'mne', 'nilearn', 'nibabel', 'pooch', 'lazy_loader', 'numba'):\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        "import numpy as np\n"
        "from neurosim.decoding import BraInCoRL, BrainFLORA, HiSTN, MindBridge, Trainer\n"
        "from neurosim.decoding import metrics, model_selection\n"
        "X = np.random.default_rng(0).normal(size=(16, 14, 128)).astype('float32')\n"
        "y = np.arange(16) % 5\n"
        "model = HiSTN(random_state=0)\n"
        "Trainer(max_epochs=1, batch_size=8, device='cpu', random_state=0).fit(model, (X, y))\n"
        "assert model.predict_proba(X).shape == (16, 5)\n"
        "BrainFLORA.small({'eeg': (4, 16)}, 8, random_state=0)\n"
        "MindBridge(['a'], 10, pool_size=4, hidden_dim=4, adapter_rank=2, n_blocks=0,\n"
        "           heads={'x': (2,)})\n"
        "BraInCoRL(4, d_model=8, n_layers=1, n_heads=2, ffn_dim=8)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
