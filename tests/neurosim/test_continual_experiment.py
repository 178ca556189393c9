"""The ``continual-fastslow`` experiment, on a tiny configuration."""

import numpy as np
import pytest

from neurosim.experiments import ExperimentResult, get_experiment


def test_experiment_structure():
    experiment = get_experiment("continual-fastslow")
    tiny = {"n_permuted": 3, "n_split": 2, "n_iterations": 10, "eval_every": 5,
            "split_eval_every": 2}
    result = experiment.run(quick=True, seed=1, config=tiny)
    assert isinstance(result, ExperimentResult)
    ds = result.dataset
    assert ds["accuracy"].dims == ("learner", "iteration", "task")
    assert list(ds["learner"].values) == ["finetune", "ewc", "replay", "joint", "fastslow"]
    assert ds.sizes["task"] == 3 and ds.sizes["split_task"] == 2
    np.testing.assert_array_equal(ds["iteration"], [0, 5, 10, 15, 20, 25, 30])
    assert ds.sizes["split_iteration"] == 11
    assert ds["score"].dims == ("stream", "learner", "metric")
    assert set(result.figures) == {"accuracy_matrix", "stability_gap", "metrics"}
    assert "| fast/slow |" in result.report and "## split digits" in result.report
    assert result.metrics["permuted_finetune_acc"] == pytest.approx(
        float(ds["score"].sel(stream="permuted", learner="finetune", metric="acc")))
    # the table's ACC is the mean of the last row of the accuracy matrix
    R = ds["accuracy_matrix"].sel(learner="ewc").values
    assert result.metrics["permuted_ewc_acc"] == pytest.approx(R[-1].mean())
    assert ds.attrs["experiment"] == "continual-fastslow"
    with pytest.raises(ValueError, match="seed must be >= 0"):
        experiment.run(seed=-1)
    with pytest.raises(ValueError, match="runs no simulation"):
        experiment.run(backend="brian2")
