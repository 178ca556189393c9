"""Dendritic neurons and layers (numpy), the active-dendrites network (torch), and experiments."""

import math

import numpy as np
import pytest

from neurosim.dendrites import (
    DendriticLayer,
    DendriticNeuron,
    false_match_probability,
    false_negative_probability,
)


@pytest.fixture
def one_thread():
    """torch on one thread for these tiny networks (much faster on a busy machine)."""
    from neurosim.continual import single_thread

    with single_thread():
        yield


def _random_patterns(rng, n_samples, n, a):
    X = np.zeros((n_samples, n), dtype=bool)
    idx = np.argsort(rng.random((n_samples, n)), axis=1)[:, :a]
    np.put_along_axis(X, idx, True, axis=1)
    return X


# --------------------------------------------------------------------------------------------
# binary dendritic neuron: the theory's setting
# --------------------------------------------------------------------------------------------
def test_neuron_false_match_rate_matches_theory():
    rng = np.random.default_rng(0)
    n, a, s, theta = 200, 20, 10, 3
    p = false_match_probability(n, a, s, theta)
    trials = 4000
    hits = 0
    for i in range(20):  # a fresh neuron (segment) per block, as the formula averages segments
        neuron = DendriticNeuron(n, n_synapses=s, theta=theta, random_state=i)
        neuron.learn(_random_patterns(rng, 1, n, a)[0])
        hits += neuron.predict(_random_patterns(rng, trials // 20, n, a)).sum()
    assert abs(hits / trials - p) <= 3 * math.sqrt(p * (1 - p) / trials)


def test_neuron_noise_false_negatives_match_theory():
    rng = np.random.default_rng(1)
    n, a, s, theta, v = 1000, 40, 20, 12, 16
    pattern = _random_patterns(rng, 1, n, a)[0]
    neuron = DendriticNeuron(n, n_synapses=s, theta=theta, random_state=0)
    assert neuron.learn(pattern) == 0
    assert neuron.predict(pattern).tolist() == [True]
    assert neuron.segment_overlaps(pattern).tolist() == [[s]]
    active, inactive = np.flatnonzero(pattern), np.flatnonzero(~pattern)
    trials = 4000
    noisy = np.repeat(pattern[None], trials, axis=0)
    for t in range(trials):  # move v active cells to random inactive cells
        off = rng.choice(active, v, replace=False)
        on = rng.choice(inactive, v, replace=False)
        noisy[t, off], noisy[t, on] = False, True
    miss = 1.0 - neuron.predict(noisy).mean()
    p = false_negative_probability(a, s, theta, v)
    assert 0.01 < p < 0.5
    assert abs(miss - p) <= 3 * math.sqrt(p * (1 - p) / trials)


def test_neuron_several_segments_and_errors():
    rng = np.random.default_rng(2)
    patterns = _random_patterns(rng, 5, 500, 30)
    neuron = DendriticNeuron(500, n_synapses=15, theta=8, random_state=3)
    for i, pat in enumerate(patterns):
        assert neuron.learn(pat) == i
    assert neuron.segments_.shape == (5, 15)
    assert neuron.predict(patterns).all()
    assert np.all(patterns[np.arange(5)[:, None], neuron.segments_])
    with pytest.raises(ValueError, match="needs at least n_synapses=15"):
        neuron.learn(_random_patterns(rng, 1, 500, 10)[0])
    with pytest.raises(ValueError, match=r"shape \(n_samples, 500\)"):
        neuron.predict(np.zeros(499))
    with pytest.raises(ValueError, match="only 0 and 1"):
        neuron.predict(np.full(500, 0.5))
    with pytest.raises(ValueError, match="theta must be <= n_synapses"):
        DendriticNeuron(100, n_synapses=5, theta=6)
    with pytest.raises(ValueError, match="n_synapses must be <= n_inputs"):
        DendriticNeuron(10, n_synapses=11, theta=2)
    with pytest.raises(TypeError, match="n_inputs must be an integer"):
        DendriticNeuron(10.5)


def test_layer_context_gates_winners():
    rng = np.random.default_rng(4)
    layer = DendriticLayer(200, 30, 1000, k=10, n_synapses=16, theta=8, random_state=0)
    ctx_a, ctx_b = _random_patterns(rng, 2, 1000, 40)
    neurons_a = rng.choice(200, 15, replace=False)
    neurons_b = rng.choice(np.setdiff1d(np.arange(200), neurons_a), 5, replace=False)
    layer.learn_context(ctx_a, neurons_a)
    layer.learn_context(ctx_b, neurons_b)
    assert layer.n_segments_.sum() == 20
    X = rng.standard_normal((50, 30))
    drive = X @ layer.weights_.T
    # context A: 15 predicted neurons >= k: the winners are the 10 predicted ones with most drive
    out = layer.forward(X, ctx_a)
    assert out.sum(axis=1).tolist() == [10] * 50
    assert np.all(out[:, np.setdiff1d(np.arange(200), neurons_a)] == 0)
    for i in range(50):
        best = neurons_a[np.argsort(-drive[i, neurons_a])[:10]]
        assert set(np.flatnonzero(out[i])) == set(best.tolist())
    # context B: 5 predicted neurons, all win; 5 more by drive
    out = layer.forward(X, ctx_b)
    assert np.all(out[:, neurons_b])
    # an unknown context predicts nothing: plain k-WTA on the drive
    ctx_c = _random_patterns(rng, 1, 1000, 40)[0]
    assert not layer.depolarized(ctx_c).any()
    out = layer.forward(X, ctx_c)
    np.testing.assert_array_equal(np.sort(np.flatnonzero(out[0])), np.sort(np.argsort(
        -drive[0])[:10]))
    with pytest.raises(ValueError, match="k must be <= n_neurons"):
        DendriticLayer(5, 3, 100, k=6)
    with pytest.raises(ValueError, match="neurons must be indices"):
        layer.learn_context(ctx_a, [200])
    with pytest.raises(ValueError, match="context has 2 rows for 50 inputs"):
        layer.forward(X, np.vstack([ctx_a, ctx_b]))


# --------------------------------------------------------------------------------------------
# PyTorch network: API and errors (small, fast)
# --------------------------------------------------------------------------------------------
def _two_tasks(rng):
    X = rng.random((120, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return [(X, y), (np.ascontiguousarray(X[:, ::-1] + 2.0), y)]


def test_network_api_determinism_and_clone(one_thread):
    from sklearn.base import clone

    from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

    rng = np.random.default_rng(0)
    tasks = _two_tasks(rng)
    preds = []
    for _ in range(2):
        clf = ActiveDendritesClassifier(hidden_sizes=(16,), n_segments=2, kw_percent_on=0.5,
                                        n_epochs=2, random_state=3)
        for X, y in tasks:
            clf.partial_fit(X, y, classes=[0, 1])
        preds.append(clf.decision_function(tasks[0][0]))
    np.testing.assert_array_equal(preds[0], preds[1])
    assert clf.prototypes_.shape == (2, 6) and clf.n_tasks_seen_ == 2
    np.testing.assert_allclose(clf.prototypes_[1], tasks[1][0].mean(axis=0), rtol=1e-6)
    assert clf.predict_task(tasks[1][0]).tolist() == [1] * 120
    proba = clf.predict_proba(tasks[0][0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.predict(tasks[0][0])) <= {0, 1}
    # a given context overrides the inferred one
    with_ctx = clf.decision_function(tasks[0][0], context=clf.prototypes_[0])
    np.testing.assert_allclose(with_ctx, preds[0], rtol=1e-5)
    c = clone(clf)
    assert c.get_params() == clf.get_params() and not hasattr(c, "module_")
    # masked weights stay masked and are not counted
    layer = clf.module_.layers[0].linear
    assert np.all(layer.weight.detach().numpy()[layer.mask.numpy() == 0] == 0)
    n_total = sum(p.numel() for p in clf.module_.parameters())
    assert clf.n_parameters_ == n_total - int((layer.mask == 0).sum())
    mlp = ContextMLPClassifier(hidden_sizes=(16,), context_input=True, n_epochs=1,
                               random_state=0).fit(*tasks[0])
    assert mlp.module_.hidden[0].in_features == 12 and mlp.score(*tasks[0]) > 0.4


def test_network_bad_input(one_thread):
    from sklearn.exceptions import NotFittedError

    from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

    X = np.random.default_rng(0).random((20, 4))
    y = np.arange(20) % 2
    with pytest.raises(NotFittedError):
        ActiveDendritesClassifier().predict(X)
    with pytest.raises(ValueError, match="hidden_sizes"):
        ActiveDendritesClassifier(hidden_sizes=()).fit(X, y)
    with pytest.raises(ValueError, match="kw_percent_on"):
        ActiveDendritesClassifier(kw_percent_on=0.0).fit(X, y)
    with pytest.raises(ValueError, match="n_segments"):
        ActiveDendritesClassifier(n_segments=0).fit(X, y)
    with pytest.raises(ValueError, match="weight_sparsity"):
        ActiveDendritesClassifier(weight_sparsity=1.0).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        ContextMLPClassifier(learning_rate=-1).fit(X, y)
    with pytest.raises(ValueError, match="n_epochs"):
        ContextMLPClassifier(n_epochs=0).fit(X, y)
    with pytest.raises(TypeError, match="context_input"):
        ContextMLPClassifier(context_input="yes").fit(X, y)
    with pytest.raises(ValueError, match="2D array"):
        ContextMLPClassifier().fit(X[0], y[:1])
    with pytest.raises(ValueError, match="NaN"):
        ContextMLPClassifier().fit(np.full((4, 4), np.nan), y[:4])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ContextMLPClassifier().fit(X, y[:5])
    with pytest.raises(ValueError, match="Unknown label type"):
        ContextMLPClassifier().fit(X, X[:, 0])
    clf = ContextMLPClassifier(hidden_sizes=(4,), n_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="differ from the classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"context must have shape \(4,\)"):
        clf.predict(X, context=np.ones(3))
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ContextMLPClassifier(device="cuda").fit(X, y)


@pytest.mark.gpu
def test_network_on_cuda():
    import torch
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from neurosim.dendrites import ActiveDendritesClassifier

    rng = np.random.default_rng(0)
    (X, y), _ = _two_tasks(rng)
    clf = ActiveDendritesClassifier(hidden_sizes=(32,), n_segments=2, kw_percent_on=0.25,
                                    n_epochs=30, learning_rate=1e-2, device="cuda",
                                    random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    assert clf.score(X, y) > 0.9


# --------------------------------------------------------------------------------------------
# experiments (quick): the numbers the issue asks for
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def continual_quick():
    from neurosim.experiments import get_experiment

    return get_experiment("dendrites-continual").run(quick=True, seed=0)


def test_dendrites_beat_mlp_on_permuted_digits(continual_quick):
    m = continual_quick.metrics
    # 10 permuted-digit tasks, learned in sequence: the plain MLP forgets, dendrites much less
    assert m["acc_dendritic"] > m["acc_mlp"] + 0.15
    assert m["acc_mlp"] < 0.5
    assert m["acc_dendritic"] > 0.5
    assert m["acc_dendritic"] > m["acc_mlp_context"] + 0.05  # the context alone is not enough
    assert m["task_inference_acc"] == 1.0
    ds = continual_quick.dataset
    assert ds["accuracy"].dims == ("model", "trained", "task")
    assert ds["accuracy"].shape == (3, 10, 10)
    acc = ds["accuracy"].sel(model="mlp").values
    assert acc[-1, -1] > 0.8  # it learns each new task...
    assert acc[-1, 0] < acc[0, 0] - 0.3  # ...and forgets the first
    np.testing.assert_allclose(ds["final_accuracy"].sel(model="dendritic").mean(),
                               m["acc_dendritic"])
    assert set(continual_quick.figures) == {"accuracy"}
    assert "| dendritic |" in continual_quick.report


def test_dendrites_theory_experiment():
    from neurosim.experiments import get_experiment

    result = get_experiment("dendrites-theory").run(quick=True, seed=0)
    m = result.metrics
    assert m["n_mc_within_3se"] == m["n_mc_cases"] >= 15
    assert m["error_s24_theta12"] == pytest.approx(8.37584522709849e-13, rel=1e-9)
    assert m["median_error_theta8"] == pytest.approx(3.33e-8, rel=5e-3)
    ds = result.dataset
    assert np.all(np.diff(ds["median_error_vs_theta"].values) < 0)
    assert np.all(np.diff(ds["false_negative_vs_theta"].values) > 0)
    assert np.all(np.diff(ds["error_vs_union"].values) > 0)
    assert ds["error_vs_n"].sel(active="n/2").min() > 0.5  # dense: no improvement with n
    assert set(result.figures) == {"predictions", "monte_carlo"}


def test_permuted_mnist_path(monkeypatch, one_thread, tmp_path):
    # no data=: MNIST is not looked for; with a data home (here a stand-in stream) it runs
    import neurosim.continual
    from neurosim.experiments import get_experiment

    experiment = get_experiment("dendrites-continual")
    tiny = {**experiment.default_config(True), "n_tasks": 2, "hidden_sizes": (16,),
            "n_epochs": 1}
    seen = {}

    def small(n_tasks, data_home, random_state):
        seen["data_home"] = data_home
        return neurosim.continual.permuted_digits(n_tasks=2, random_state=random_state)

    monkeypatch.setattr(neurosim.continual, "permuted_mnist", small)
    result = experiment.run(quick=True, seed=0, config={**tiny, "mnist": tiny})
    assert "mnist_accuracy" not in result.dataset and "data=" in result.dataset.attrs[
        "permuted_mnist"]
    result = experiment.run(quick=True, seed=0, data=tmp_path, config={**tiny, "mnist": tiny})
    acc = result.dataset["mnist_accuracy"].values
    assert seen["data_home"] == tmp_path
    assert acc.shape == (3, 2, 2) and np.all((acc >= 0) & (acc <= 1))
    assert "mnist_acc_dendritic" in result.metrics


def test_fit_stream_is_the_shared_taskwise_loop(one_thread):
    """The dendritic classifiers are TaskwiseClassifiers: fit_stream gives the accuracy matrix
    that partial_fit task by task and score on every task give by hand."""
    from neurosim.continual import TaskwiseClassifier, permuted_digits
    from neurosim.dendrites import ActiveDendritesClassifier

    stream = permuted_digits(n_tasks=2, random_state=0)
    kw = {"hidden_sizes": (32,), "n_segments": 2, "n_epochs": 2, "kw_percent_on": 0.25,
          "random_state": 3}
    clf = ActiveDendritesClassifier(**kw).fit_stream(stream)
    assert isinstance(clf, TaskwiseClassifier)
    by_hand = ActiveDendritesClassifier(**kw)
    R = np.zeros((2, 2))
    for i, task in enumerate(stream):
        by_hand.partial_fit(task.X_train, task.y_train, classes=np.arange(10))
        R[i] = [by_hand.score(t.X_test, t.y_test) for t in stream]
    np.testing.assert_array_equal(clf.history_["accuracy_matrix"].values, R)
    assert clf.metrics_["acc"] == pytest.approx(R[-1].mean())
    assert clf.metrics_["bwt"] == pytest.approx(R[1, 0] - R[0, 0])
    assert 0.5 <= clf.history_.attrs["task_inference_accuracy"] <= 1.0


def _sklearn_estimators():
    try:
        from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier
    except ImportError:  # pragma: no cover - torch missing
        return []
    small = {"hidden_sizes": (16,), "n_epochs": 30, "learning_rate": 1e-2, "random_state": 0}
    return [ContextMLPClassifier(**small),
            ActiveDendritesClassifier(n_segments=2, kw_percent_on=0.5, **small)]


def _sklearn_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    return parametrize_with_checks(_sklearn_estimators())


@_sklearn_checks()
def test_sklearn_compatible(estimator, check, one_thread):
    check(estimator)
