"""Tests of neurosim.decoding.metrics against hand-computed values and scikit-learn."""


import numpy as np
import pytest
from neurosim.decoding import metrics


def test_cosine_and_mse():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    b = np.array([[1.0, 1.0], [0.0, -1.0], [1.0, 0.0]])
    np.testing.assert_allclose(metrics.cosine_similarity(a, b), [1 / np.sqrt(2), -1.0, 0.0])
    pw = metrics.cosine_similarity(a, b, pairwise=True)
    assert pw.shape == (3, 3)
    np.testing.assert_allclose(pw[0], [1 / np.sqrt(2), 0.0, 1.0])
    assert metrics.mse(a, b) == pytest.approx((0 + 1 + 0 + 9 + 1 + 0) / 6)
    with pytest.raises(ValueError, match="same number of columns"):
        metrics.cosine_similarity(a, np.ones((3, 3)))


def test_torch_input():
    import torch
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.bfloat16)
    assert metrics.retrieval_accuracy(x, x) == 1.0
    assert metrics.mse(torch.zeros(3), torch.ones(3)) == 1.0


def test_retrieval_all_way_hand_computed():
    target = np.eye(4)
    # row 0 predicts target 1 (miss), row 1 predicts 0 (miss), rows 2, 3 correct
    pred = target[[1, 0, 2, 3]]
    assert metrics.retrieval_accuracy(pred, target) == 0.5
    # with top=2, rows 0 and 1 have one candidate strictly better (ties with the rest favour the
    # true target): hits
    assert metrics.retrieval_accuracy(pred, target, top=2) == 1.0
    pred2 = target[[1, 0, 2, 3]] + 0.5 * target  # true target second most similar
    assert metrics.retrieval_accuracy(pred2, target, top=2) == 1.0
    assert metrics.retrieval_accuracy(pred2, target, top=1) == 0.5


def test_retrieval_k_way_sampled():
    rng = np.random.default_rng(0)
    n = 50
    target = np.eye(n)
    # pred i = e_i + 2 e_(i+1): only target i+1 beats the true target (all others score 0)
    pred = target + 2 * target[(np.arange(n) + 1) % n]
    k = 10
    acc = metrics.retrieval_accuracy(pred, target, k_way=k, n_draws=200, random_state=0)
    # a hit iff the k-1 distractors drawn out of the n-1 others miss the competitor
    expected = 1 - (k - 1) / (n - 1)
    assert abs(acc - expected) < 0.02
    assert metrics.retrieval_accuracy(pred, target, k_way=k, top=2, random_state=0) == 1.0
    # reproducible for a seed, and chance level for random predictions
    assert acc == metrics.retrieval_accuracy(pred, target, k_way=k, n_draws=200, random_state=0)
    noise = rng.normal(size=(n, n))
    chance = metrics.retrieval_accuracy(noise, target, k_way=2, n_draws=400, random_state=1)
    # exact expectation of a 2-way trial: the fraction of other targets less similar than the true one
    sim = metrics.cosine_similarity(noise, target, pairwise=True)
    expected = np.mean([(np.delete(sim[i], i) <= sim[i, i]).mean() for i in range(n)])
    assert abs(chance - expected) < 0.02 and abs(expected - 0.5) < 0.15
    assert metrics.retrieval_accuracy(target, target, k_way=4, top=5 - 1) == 1.0


def test_retrieval_errors():
    t = np.eye(3)
    with pytest.raises(ValueError, match="k_way=5 exceeds"):
        metrics.retrieval_accuracy(t, t, k_way=5)
    with pytest.raises(ValueError, match="top=3 must be <= k_way=2"):
        metrics.retrieval_accuracy(t, t, k_way=2, top=3)
    with pytest.raises(ValueError, match="same embedding dim"):
        metrics.retrieval_accuracy(t, np.eye(3, 4))
    with pytest.raises(ValueError, match="NaN"):
        metrics.retrieval_accuracy(np.full((3, 3), np.nan), t)


def test_topk_and_labels():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.3, 0.3, 0.4]])
    labels = [1, 2, 0]
    assert metrics.topk_accuracy(scores, labels, k=1) == pytest.approx(1 / 3)
    assert metrics.topk_accuracy(scores, labels, k=2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        metrics.topk_accuracy(scores, [0, 1, 3])
    with pytest.raises(ValueError, match="k=4 exceeds"):
        metrics.topk_accuracy(scores, labels, k=4)
    with pytest.raises(ValueError, match="integer labels"):
        metrics.topk_accuracy(scores, [0.5, 1, 2])


def test_weighted_f1_against_hand_value():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    # class 0: p=1, r=2/3, f1=0.8; class 1: p=1/2, r=1/2, f1=0.5; class 2: p=1/2, r=1, f1=2/3
    expected = (3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6
    assert metrics.weighted_f1(y_true, y_pred) == pytest.approx(expected)


def test_seq2hr_matches_reference_definition():
    rng = np.random.default_rng(1)
    scores = rng.random((200, 5))
    labels = rng.integers(0, 5, 200)
    out = metrics.seq2hr(scores, labels, return_all=True)
    rank = np.argsort(scores, axis=1)[:, ::-1]
    adjacent = np.abs(rank[:, 0] - rank[:, 1]) == 1
    hit2 = (rank[:, 0] == labels) | (rank[:, 1] == labels)
    assert out["adjacent"] == pytest.approx(adjacent.mean())
    assert out["seq2hr"] == pytest.approx((adjacent & hit2).mean())
    assert out["adjacent_top1"] == pytest.approx((adjacent & (rank[:, 0] == labels)).mean())
    # random scores: top2 adjacent to top1 with probability 8 / 20 for 5 classes
    assert abs(out["adjacent"] - 0.4) < 0.1
    assert metrics.off_neighbour_rate([0, 1, 2, 3], [2, 1, 3, 0]) == 0.5


def test_voxelwise_against_sklearn_and_scipy():
    from scipy.stats import pearsonr
    from sklearn.metrics import explained_variance_score

    rng = np.random.default_rng(0)
    y = rng.normal(size=(40, 6))
    p = y + rng.normal(size=(40, 6)) + 0.3
    r = metrics.voxelwise_pearson(y, p)
    np.testing.assert_allclose(r, [pearsonr(y[:, j], p[:, j])[0] for j in range(6)])
    ev = metrics.explained_variance(y, p)
    np.testing.assert_allclose(ev, explained_variance_score(y, p, multioutput="raw_values"))
    y[:, 0] = 1.0
    p[:, 1] = 2.0
    ev = metrics.explained_variance(y, p)
    np.testing.assert_allclose(ev, explained_variance_score(y, p, multioutput="raw_values"))
    r = metrics.voxelwise_pearson(y, p)
    assert np.isnan(r[0]) and np.isnan(r[1]) and np.all(np.isfinite(r[2:]))
    with pytest.raises(ValueError, match="same shape"):
        metrics.explained_variance(y, p[:, :3])


def test_permutation_test_pvalue_formula_and_groups():
    from neurosim.decoding.metrics import permutation_test

    y = np.repeat([0, 1, 2], 4)
    groups = np.tile([0, 1], 6)
    seen = []
    scores = iter([0.9, 0.95, 0.5, 0.9, 0.1])  # true score 0.9; shuffles 0.95, 0.5, 0.9, 0.1

    def score_fn(labels):
        seen.append(labels.copy())
        return next(scores)

    score, perm, p = permutation_test(score_fn, y, groups=groups, n_permutations=4, random_state=0)
    assert score == 0.9 and perm.tolist() == [0.95, 0.5, 0.9, 0.1]
    assert p == (1 + 2) / (4 + 1)  # 0.95 and 0.9 are >= 0.9
    for shuffled in seen[1:]:  # labels only move within their group
        for g in (0, 1):
            assert sorted(shuffled[groups == g]) == sorted(y[groups == g])
    assert any(not np.array_equal(s, y) for s in seen[1:])


def test_permutation_test_against_sklearn():
    from neurosim.decoding.metrics import permutation_test
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score, permutation_test_score

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    X = rng.normal(size=(60, 5))
    X[:, 0] += 1.5 * y
    est = LogisticRegression()
    score, _, p = permutation_test(lambda lab: cross_val_score(est, X, lab, cv=5).mean(), y,
                                   n_permutations=30, random_state=0)
    sk_score, _, sk_p = permutation_test_score(est, X, y, cv=5, n_permutations=30, random_state=0)
    assert score == pytest.approx(sk_score) and p == sk_p == 1 / 31
    # no signal (labels independent of x, a continuous score): p-values spread evenly over (0, 1]
    pvals = []
    for s in range(40):
        x, lab = rng.normal(size=60), rng.permutation(y)
        pvals.append(permutation_test(lambda lb, x=x: float(np.corrcoef(lb, x)[0, 1]), lab,
                                      n_permutations=19, random_state=s)[2])
    assert 0.4 < np.mean(pvals) < 0.65 and np.mean(np.array(pvals) <= 0.05) < 0.2


def test_permutation_test_errors():
    from neurosim.decoding.metrics import permutation_test

    with pytest.raises(TypeError, match="callable"):
        permutation_test(3, [0, 1])
    with pytest.raises(ValueError, match="groups"):
        permutation_test(lambda y: 0.0, [0, 1], groups=[0, 1, 2])
    with pytest.raises(ValueError, match="n_permutations"):
        permutation_test(lambda y: 0.0, [0, 1], n_permutations=0)
