"""Tests of the continual-learning task streams."""


import numpy as np
import pytest

from neurosim.continual import (
    Task,
    TaskStream,
    _streams,
    permuted_digits,
    permuted_stream,
    split_digits,
    split_stream,
)


def test_permuted_digits_layout():
    stream = permuted_digits(n_tasks=4, random_state=0)
    assert len(stream) == 4 and stream.n_features == 64 and stream.n_classes == 10
    assert stream.scenario == "domain"
    assert [t.id for t in stream] == [0, 1, 2, 3]
    assert stream.names == ["permutation-0", "permutation-1", "permutation-2", "permutation-3"]
    t0, t1 = stream[0], stream[1]
    for t in stream:
        assert t.X_train.dtype == np.float32 and t.y_train.dtype == np.int64
        assert t.X_train.shape == (1257, 64) and t.X_test.shape == (540, 64)
        assert 0.0 <= t.X_train.min() and t.X_train.max() <= 1.0
        np.testing.assert_array_equal(t.classes, np.arange(10))
        np.testing.assert_array_equal(t.y_train, t0.y_train)  # same split for every task
    perms = stream.metadata["permutations"]
    np.testing.assert_array_equal(perms[0], np.arange(64))  # task 0 is the identity
    np.testing.assert_array_equal(t1.X_train, t0.X_train[:, perms[1]])
    np.testing.assert_array_equal(t1.X_test, t0.X_test[:, perms[1]])
    assert not np.array_equal(perms[1], perms[2])
    # stratified: class proportions in train and test agree within one sample per class
    counts_tr = np.bincount(t0.y_train, minlength=10) / t0.y_train.size
    counts_te = np.bincount(t0.y_test, minlength=10) / t0.y_test.size
    assert np.abs(counts_tr - counts_te).max() < 0.01


def test_permuted_digits_matches_sklearn_pixels():
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    stream = permuted_digits(n_tasks=1, random_state=0)
    pooled = np.concatenate([stream[0].X_train, stream[0].X_test])
    np.testing.assert_allclose(np.sort(pooled.sum(1)), np.sort(X.sum(1) / 16.0), rtol=1e-6)


def test_same_seed_same_stream_other_seed_other_stream():
    a, b = permuted_digits(3, random_state=7), permuted_digits(3, random_state=7)
    c = permuted_digits(3, random_state=8)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_train, tb.X_train)
        np.testing.assert_array_equal(ta.y_test, tb.y_test)
    assert not np.array_equal(a[1].X_train, c[1].X_train)


def test_split_digits_pairs():
    stream = split_digits(n_tasks=5, random_state=0)
    assert stream.scenario == "class" and stream.n_classes == 10
    assert [t.classes.tolist() for t in stream] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    total_train = sum(t.y_train.size for t in stream)
    total_test = sum(t.y_test.size for t in stream)
    assert total_train + total_test == 1797
    for t in stream:
        assert set(np.unique(t.y_train)) == set(t.classes.tolist())
        assert set(np.unique(t.y_test)) == set(t.classes.tolist())
    assert [len(t.classes) for t in split_digits(n_tasks=3)] == [4, 3, 3]


def test_few_shot_variants():
    stream = permuted_digits(n_tasks=3, k_shot=4, random_state=1)
    for t in stream:
        np.testing.assert_array_equal(np.bincount(t.y_train, minlength=10), np.full(10, 4))
        assert t.X_test.shape == (540, 64)  # test sets stay complete
    # subsets drawn independently per task: the un-permuted images differ
    perms = stream.metadata["permutations"]
    inv = np.argsort(perms[1])
    assert not np.array_equal(stream[1].X_train[:, inv], stream[0].X_train)
    split = split_digits(k_shot=3, random_state=0)
    for t in split:
        assert t.y_train.size == 6
        np.testing.assert_array_equal(np.bincount(t.y_train)[t.classes], [3, 3])
    with pytest.raises(ValueError, match="k_shot=500 but class"):
        split_digits(k_shot=500)
    with pytest.raises(ValueError, match="k_shot must be >= 1"):
        permuted_digits(k_shot=0)


def test_generic_builders_and_slicing():
    rng = np.random.default_rng(0)
    X = rng.random((40, 5))
    y = np.repeat(np.arange(4), 10)
    stream = split_stream(X, y, X, y, classes_per_task=[[3, 1], [0]], scenario="task")
    assert stream.scenario == "task" and stream.n_classes == 4
    assert stream.names == ["classes-1-3", "classes-0"]
    assert stream[0].y_train.size == 20
    sub = permuted_stream(X, y, X, y, n_tasks=5, random_state=0)[2:4]
    assert len(sub) == 2 and [t.id for t in sub] == [0, 1]
    assert sub.names == ["permutation-2", "permutation-3"]


def test_bad_input():
    X, y = np.ones((6, 3)), np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="is empty"):
        Task(0, "empty", np.ones((0, 3)), [], X, y)
    with pytest.raises(ValueError, match="is empty: X_test"):
        Task(0, "empty", X, y, np.ones((0, 3)), [])
    with pytest.raises(ValueError, match="X_train has 3 features but X_test has 2"):
        Task(0, "bad", X, y, np.ones((6, 2)), y)
    with pytest.raises(ValueError, match="has 5 labels but X has 6"):
        Task(0, "bad", X, y[:5], X, y)
    with pytest.raises(ValueError, match="NaN or inf"):
        Task(0, "bad", np.full((6, 3), np.nan), y, X, y)
    with pytest.raises(ValueError, match="non-negative"):
        Task(0, "bad", X, -y, X, y)
    with pytest.raises(TypeError, match="integer class labels"):
        Task(0, "bad", X, y + 0.5, X, y)
    with pytest.raises(ValueError, match=r"labels \[1\] are not in classes \[0\]"):
        Task(0, "bad", X, y, X, y, classes=[0])
    with pytest.raises(ValueError, match="2-d array"):
        Task(0, "bad", np.ones(6), y, X, y)
    a = Task(0, "a", X, y, X, y)
    b = Task(1, "b", np.ones((6, 4)), y, np.ones((6, 4)), y)
    with pytest.raises(ValueError, match="task 1 .* has 4 features but task 0 has 3"):
        TaskStream([a, b])
    with pytest.raises(ValueError, match="at least one task"):
        TaskStream([])
    with pytest.raises(ValueError, match="ids must be 0, 1"):
        TaskStream([Task(1, "a", X, y, X, y)])
    with pytest.raises(TypeError, match="must be a Task"):
        TaskStream([X])
    with pytest.raises(ValueError, match="unknown scenario"):
        TaskStream([a], scenario="online")
    with pytest.raises(ValueError, match="n_classes=1 but the tasks hold label 1"):
        TaskStream([a], n_classes=1)
    with pytest.raises(ValueError, match="test_size must be a fraction"):
        permuted_digits(test_size=1.5)
    with pytest.raises(ValueError, match="n_tasks=11 but the data hold only 10 classes"):
        split_digits(n_tasks=11)
    with pytest.raises(ValueError, match="n_tasks must be >= 1"):
        permuted_digits(n_tasks=0)
    with pytest.raises(ValueError, match="disjoint"):
        split_stream(X, y, X, y, classes_per_task=[[0, 1], [1]])
    with pytest.raises(ValueError, match="unknown variant"):
        _streams._mnist_arrays("cifar", None)


def test_mnist_streams_read_neurosim_datasets(monkeypatch):
    import neurosim.datasets as nd
    import xarray as xr

    calls = []

    def fake_fetch_mnist(data_home=None, split="train", *, variant="mnist", download=True,
                         progress=False):
        calls.append((data_home, split, variant, download))
        rng = np.random.default_rng(0 if split == "train" else 1)
        n = 40 if split == "train" else 20
        return xr.Dataset({
            "images": (("sample", "height", "width"),
                       rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)),
            "labels": ("sample", np.tile(np.arange(10), n // 10)),
        })

    monkeypatch.setattr(nd, "fetch_mnist", fake_fetch_mnist)
    stream = _streams.permuted_mnist(n_tasks=2, variant="fashion", k_shot=2, data_home="/x")
    assert calls == [("/x", "train", "fashion", False), ("/x", "test", "fashion", False)]
    assert stream.name == "permuted-fashion" and stream.n_features == 784
    assert stream[0].X_train.shape == (20, 784) and stream[0].X_test.shape == (20, 784)
    assert 0.0 <= stream[0].X_test.min() and stream[0].X_test.max() <= 1.0
    raw = fake_fetch_mnist(split="test")["images"].values.reshape(20, -1) / 255.0
    np.testing.assert_allclose(stream[0].X_test, raw, rtol=1e-6)
    split = _streams.split_mnist(n_tasks=5)
    assert split.names[0] == "classes-0-1" and split[0].X_train.shape == (8, 784)
