"""Tests of neurosim.decoding.baselines against scikit-learn."""


import numpy as np
import pytest
from neurosim.decoding import (
    BraInCoRLRidgeCV,
    LinearClassifier,
    TorchRidgeClassifierCV,
    TorchRidgeCV,
    baselines,
)
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks


def _regression(n=80, p=12, t=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 1.0
    W = rng.normal(size=(p, t)) * np.array([0.05, 0.3, 1.0, 3.0])[:t]
    Y = X @ W + rng.normal(size=(n, t)) + 2.0
    return X, Y


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_single_alpha_equals_sklearn_ridge(fit_intercept):
    X, Y = _regression()
    ours = TorchRidgeCV(alphas=[3.0], fit_intercept=fit_intercept, device="cpu").fit(X, Y)
    ref = Ridge(alpha=3.0, fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)
    np.testing.assert_allclose(ours.alpha_, 3.0)


def test_loo_alpha_per_target_equals_sklearn_ridgecv():
    X, Y = _regression(n=60, p=30)
    alphas = np.logspace(-2, 4, 13)
    ours = TorchRidgeCV(alphas=alphas, cv=None, device="cpu").fit(X, Y)
    ref = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
    np.testing.assert_allclose(ours.alpha_, ref.alpha_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    assert len(set(ours.alpha_.tolist())) > 1  # targets with different SNR get different alphas
    joint = TorchRidgeCV(alphas=alphas, cv=None, alpha_per_target=False, device="cpu").fit(X, Y)
    ref = RidgeCV(alphas=alphas).fit(X, Y)
    np.testing.assert_allclose(joint.alpha_, ref.alpha_)


def test_kfold_cv_error_matches_manual_sklearn_loop():
    X, Y = _regression(n=50)
    alphas = [0.1, 10.0, 1000.0]
    ours = TorchRidgeCV(alphas=alphas, cv=5, device="cpu").fit(X, Y)
    expected = np.zeros((3, Y.shape[1]))
    for i, a in enumerate(alphas):
        for tr, te in KFold(5).split(X):
            pred = Ridge(alpha=a).fit(X[tr], Y[tr]).predict(X[te])
            expected[i] += ((Y[te] - pred) ** 2).sum(axis=0)
    np.testing.assert_allclose(ours.cv_mse_, expected / len(X), rtol=1e-9)
    np.testing.assert_allclose(ours.alpha_, np.asarray(alphas)[expected.argmin(axis=0)])


def test_ridge_1d_target_float32_and_xarray():
    import xarray as xr

    X, Y = _regression()
    r = TorchRidgeCV(device="cpu", dtype="float32").fit(X, Y[:, 3])
    assert r.coef_.shape == (12,) and isinstance(r.alpha_, float)
    assert r.score(X, Y[:, 3]) > 0.9
    da = xr.DataArray(X, dims=("trial", "voxel"), coords={"trial": np.arange(80) * 2})
    out = r.predict(da)
    assert out.dims == ("trial",) and list(out["trial"].values[:2]) == [0, 2]


def test_ridge_errors():
    X, Y = _regression()
    with pytest.raises(ValueError, match="alphas"):
        TorchRidgeCV(alphas=[0.0, 1.0], device="cpu").fit(X, Y)
    with pytest.raises(ValueError, match="NaN"):
        TorchRidgeCV(device="cpu").fit(np.full_like(X, np.nan), Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TorchRidgeCV(device="cpu").fit(X, Y[:-1])
    r = TorchRidgeCV(device="cpu").fit(X, Y)
    with pytest.raises(ValueError, match="11 features"):
        r.predict(X[:, :11])


def test_linear_classifier_equals_sklearn_pipeline():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4)) * [1, 10, 100, 0.1]
    y = np.digitize(X[:, 0] + X[:, 1] / 10, [-1, 1])
    clf = LinearClassifier(C=0.5).fit(X, y)
    ref = LogisticRegression(C=0.5, max_iter=1000).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6)
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.predict_proba(X).shape == (150, 3)
    assert clf.score(X, y) > 0.85
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearClassifier().fit(X, y[:-1])


def test_band_power_features():
    sfreq = 128.0
    t = np.arange(512) / sfreq
    x = np.stack([np.sin(2 * np.pi * 6 * t), np.sin(2 * np.pi * 20 * t)])[None]  # (1, 2, 512)
    f = baselines.band_power_features(x, sfreq)
    assert f.shape == (1, 10)
    assert int(np.argmax(f[0, :5])) == 1 and int(np.argmax(f[0, 5:])) == 3  # theta, beta
    # the power of a unit sine is 1/2: the band holding it carries ~all of it
    lin = baselines.band_power_features(x, sfreq, {"theta": (4, 8)}, log=False)
    assert lin[0, 0] == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="Nyquist"):
        baselines.band_power_features(x, sfreq, {"high": (50, 80)})


def test_ridge_penalty_chosen_by_run_groups_and_split_lists():
    """cv=LeaveOneGroupOut() with groups = an explicit list of splits = a manual sklearn loop."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

    rng = np.random.default_rng(0)
    runs = np.repeat(np.arange(4), 15)
    X = rng.normal(size=(60, 6)) + runs[:, None] * 0.3
    Y = X @ rng.normal(size=(6, 2)) + rng.normal(size=(60, 2))
    alphas = [0.1, 1.0, 10.0, 100.0]
    by_groups = TorchRidgeCV(alphas=alphas, cv=LeaveOneGroupOut(), device="cpu").fit(X, Y,
                                                                                   groups=runs)
    splits = list(LeaveOneGroupOut().split(X, Y, runs))
    by_list = TorchRidgeCV(alphas=alphas, cv=splits, device="cpu").fit(X, Y)
    manual = np.zeros((len(alphas), 2))
    for train, test in splits:
        for i, a in enumerate(alphas):
            pred = Ridge(alpha=a).fit(X[train], Y[train]).predict(X[test])
            manual[i] += ((Y[test] - pred) ** 2).sum(0)
    np.testing.assert_allclose(by_groups.cv_mse_, manual / 60, rtol=1e-8)
    np.testing.assert_allclose(by_list.cv_mse_, manual / 60, rtol=1e-8)
    np.testing.assert_array_equal(by_groups.alpha_, np.asarray(alphas)[manual.argmin(0)])
    # a generator of splits works too, and GroupKFold uses the groups
    gk = TorchRidgeCV(alphas=alphas, cv=GroupKFold(2), device="cpu").fit(X, Y, groups=runs)
    assert gk.cv_mse_.shape == (4, 2)
    with pytest.raises(ValueError, match="groups need a grouped splitter"):
        TorchRidgeCV(cv=None, device="cpu").fit(X, Y, groups=runs)
    with pytest.raises(ValueError, match="groups must have one entry per sample"):
        TorchRidgeCV(cv=LeaveOneGroupOut(), device="cpu").fit(X, Y, groups=runs[:10])
    with pytest.raises(ValueError, match="out-of-range"):
        TorchRidgeCV(cv=[(np.arange(10), np.array([99]))], device="cpu").fit(X, Y)


def test_ridge_classifier_equals_sklearn():
    from neurosim.decoding import TorchRidgeClassifierCV
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import LeaveOneGroupOut

    rng = np.random.default_rng(1)
    y = np.tile(np.array(["cat", "face", "house"]), 20)
    X = (y[:, None] == np.array(["cat", "face", "house"])) @ rng.normal(size=(3, 8)) \
        + rng.normal(size=(60, 8))
    runs = np.repeat(np.arange(5), 12)
    ours = TorchRidgeClassifierCV(alphas=[3.0], cv=LeaveOneGroupOut(), device="cpu").fit(
        X, y, groups=runs)
    ref = RidgeClassifier(alpha=3.0).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.score(X, y) == pytest.approx(ref.score(X, y))
    # the shared penalty minimises the leave-one-run-out error summed over the classes
    alphas = [0.01, 1.0, 100.0, 1e4]
    cv = TorchRidgeClassifierCV(alphas=alphas, cv=LeaveOneGroupOut(), device="cpu").fit(
        X, y, groups=runs)
    assert isinstance(cv.alpha_, float) and cv.alpha_ == alphas[int(cv.cv_mse_.mean(1).argmin())]
    binary = TorchRidgeClassifierCV(alphas=[1.0], device="cpu").fit(X[y != "cat"], y[y != "cat"])
    ref2 = RidgeClassifier(alpha=1.0).fit(X[y != "cat"], y[y != "cat"])
    np.testing.assert_array_equal(binary.predict(X), ref2.predict(X))


@parametrize_with_checks([TorchRidgeCV(device="cpu", cv=None), LinearClassifier(),
                          TorchRidgeClassifierCV(device="cpu", cv=3),
                          BraInCoRLRidgeCV(device="cpu", n_folds=3)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
