"""Training loops outside the Trainer stop with FloatingPointError on a non-finite loss (#14)."""

import numpy as np
import pytest
import torch

from neurosim._utils_torch import check_finite_loss


def _data(n=60, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return X, y


def test_check_finite_loss():
    check_finite_loss(torch.tensor(1.5), "here")
    check_finite_loss(2.0, "here")
    for bad in (torch.tensor(float("nan")), torch.tensor(float("inf")), float("-inf")):
        with pytest.raises(FloatingPointError, match="at here; lower the learning rate"):
            check_finite_loss(bad, "here")
    with pytest.raises(FloatingPointError, match="non-finite"):
        check_finite_loss(torch.tensor([1.0, float("nan")]), "here")


def test_continual_learner_divergence_raises():
    """The probe: FineTuning(learning_rate=1e6) went to NaN weights and predicted class 0."""
    from neurosim.continual import FineTuning

    X, y = _data()
    model = FineTuning(learning_rate=1e6, n_iterations=30, random_state=0)
    with pytest.raises(FloatingPointError, match=r"task 0, step \d+ of FineTuning"):
        model.fit(X, y)
    FineTuning(learning_rate=0.1, n_iterations=5, random_state=0).fit(X, y)  # a sane rate trains


def test_active_dendrites_divergence_raises():
    from neurosim.dendrites import ActiveDendritesClassifier

    X, y = _data()
    X = X * np.float32(1e30)
    model = ActiveDendritesClassifier(learning_rate=1e30, n_epochs=3, random_state=0)
    with pytest.raises(FloatingPointError, match="ActiveDendritesClassifier"):
        model.fit(X, y)


def test_homeostatic_mlp_divergence_raises():
    from neurosim.homeostasis import HomeostaticMLP

    X, y = _data(n=40)
    model = HomeostaticMLP(mode="lrc", hidden_sizes=(8,), lr0=1e200, n_epochs=2, random_state=0)
    with pytest.raises(FloatingPointError, match="HomeostaticMLP"):
        model.fit(X.astype(np.float64) * 1e100, y)


# --------------------------------------------------------------------------------------------
# labels and targets a learner cannot use (the probe's leftovers): refused with the fix named
# --------------------------------------------------------------------------------------------
def test_ridge_regressors_refuse_text_targets_and_loo_on_one_sample():
    from neurosim.decoding.baselines import BraInCoRLRidgeCV, TorchRidgeCV

    X = np.random.default_rng(0).normal(size=(20, 3))
    labels = np.array(["a", "b"] * 10)
    for est in (TorchRidgeCV(), BraInCoRLRidgeCV()):
        with pytest.raises(ValueError, match=r"is a regressor: y must be numeric, got dtype "
                                             r"<U1; for class labels use TorchRidgeClassifierCV"):
            est.fit(X, labels)
    with pytest.raises(ValueError, match="leave-one-out.*at least 2 samples, got n_samples=1"):
        TorchRidgeCV(cv=None).fit(X[:1], np.ones(1))
    assert np.isfinite(TorchRidgeCV(cv=None).fit(X[:2], np.array([0.0, 1.0])).coef_).all()


def test_trainer_refuses_text_labels_naming_the_array():
    from neurosim.decoding import HiSTN, Trainer

    X = np.zeros((8, 14, 128), np.float32)
    y = np.array(["calm", "excited"] * 4)
    with pytest.raises(TypeError, match=r"train\[1\] must be numeric \(class labels as integers "
                                        r".*LabelEncoder\), got dtype <U7"):
        Trainer(max_epochs=1, random_state=0).fit(HiSTN(), (X, y))


def test_sparsey_refuses_nan_labels():
    from neurosim.sparsey import SparseyMemory

    X = np.random.default_rng(0).random((3, 16)) > 0.5
    with pytest.raises(ValueError, match=r"y holds 1 NaN or infinite label\(s\) of 3"):
        SparseyMemory(random_state=0).fit(X, np.array([0.0, np.nan, 1.0]))
