"""The homeostasis-shift experiment: wiring, metrics, report, files (a tiny configuration)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from neurosim.experiments import get_experiment, homeostasis_shift  # noqa: E402


def test_experiment_tiny(monkeypatch, tmp_path):
    assert homeostasis_shift.config(True)["n_epochs"] == 10
    res = get_experiment("homeostasis-shift").run(
        quick=True, seed=3, config={"n_epochs": 1, "seeds": 2, "rates": [0, 5]})
    m = res.metrics
    for key in ("lrh_minus_lrc_high_shift", "lrh_minus_lrc_high_shift_lo",
                "lrh_minus_lrc_high_shift_hi", "lrh_minus_lrc_no_shift", "lrh_minus_lrr_high_shift",
                "lrh_minus_lrr_no_shift_lo", "lrh_step10_minus_lrc_high_shift"):
        assert np.isfinite(m[key]), key
    assert m["lrh_minus_lrc_high_shift_lo"] <= m["lrh_minus_lrc_high_shift"] \
        <= m["lrh_minus_lrc_high_shift_hi"]
    ds = res.dataset
    assert list(ds["mode"].values) == ["lrh", "lrr", "lrc", "lrh_step10"]
    assert list(ds["seed"].values) == [3, 4]
    assert ds["stream_accuracy"].sel(mode="lrc", swaps_per_epoch=0).mean() == pytest.approx(
        m["lrc_stream_accuracy_spe0"])
    assert m["lrc_lr_changes_per_epoch"] == 0 and m["lrr_lr_changes_per_epoch"] > 50
    assert "Paired differences" in res.report and "swaps/epoch" in res.report
    assert set(res.figures) == {"stream", "rates"}
    from neurosim.results import load, save

    save(ds, tmp_path / "r.nc")
    assert load(tmp_path / "r.nc")["diff"].dims == ("baseline", "swaps_per_epoch")


def test_full_mode_without_the_subset_says_what_to_do(monkeypatch):
    from neurosim.datasets import _mnist_subset

    monkeypatch.setattr(_mnist_subset.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="--quick"):
        get_experiment("homeostasis-shift").run(quick=False)
    with pytest.raises(ValueError, match="runs no simulation"):
        get_experiment("homeostasis-shift").run(quick=True, backend="numba")
