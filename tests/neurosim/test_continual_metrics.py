"""Continual-learning metrics on hand-computed accuracy matrices, and the schedules."""


import numpy as np
import pytest

from neurosim.continual import (
    PowerLawRehearsal,
    SequentialSchedule,
    ViewBatchReplay,
    average_accuracy,
    backward_transfer,
    forward_transfer,
    min_accuracy,
    worst_case_accuracy,
)

# R[i, j]: accuracy on task j after training on tasks 0..i
R = np.array([
    [0.90, 0.12, 0.08],
    [0.70, 0.95, 0.20],
    [0.60, 0.80, 0.85],
])


def test_acc_bwt_fwt_by_hand():
    assert average_accuracy(R) == pytest.approx((0.60 + 0.80 + 0.85) / 3)
    # BWT = ((0.60 - 0.90) + (0.80 - 0.95)) / 2 = -0.225
    assert backward_transfer(R) == pytest.approx(-0.225)
    # FWT = ((R01 - b1) + (R12 - b2)) / 2 = ((0.12 - 0.10) + (0.20 - 0.10)) / 2 = 0.06
    assert forward_transfer(R, [0.1, 0.1, 0.1]) == pytest.approx(0.06)
    # no forgetting, perfect: BWT 0; improvement: positive BWT
    assert backward_transfer(np.ones((3, 3))) == 0
    assert backward_transfer([[0.5, 0], [0.7, 0.9]]) == pytest.approx(0.2)
    assert np.isnan(backward_transfer([[0.7]]))
    assert np.isnan(forward_transfer([[0.7]], [0.1]))
    assert average_accuracy([[0.7]]) == pytest.approx(0.7)


def test_min_acc_and_wc_acc_by_hand():
    # three tasks of 2 iterations each, evaluated at every iteration 1..6
    acc = np.array([
        # t0    t1    t2
        [0.50, 0.10, 0.10],  # it 1
        [0.90, 0.10, 0.10],  # it 2  end of task 0
        [0.30, 0.60, 0.10],  # it 3  stability gap on task 0
        [0.80, 0.95, 0.10],  # it 4  end of task 1
        [0.70, 0.40, 0.50],  # it 5
        [0.75, 0.85, 0.90],  # it 6  end of task 2
    ])
    it, ends = np.arange(1, 7), np.array([2, 4, 6])
    # final: task 0 min over it 3..6 = 0.30; task 1 min over it 5..6 = 0.40
    assert min_accuracy(acc, it, ends) == pytest.approx((0.30 + 0.40) / 2)
    # at iteration 4 only task 0 has ended: min over it 3..4 = 0.30
    assert min_accuracy(acc, it, ends, at=4) == pytest.approx(0.30)
    assert np.isnan(min_accuracy(acc, it, ends, at=2))
    # WC-ACC at the end (k = 3 tasks): 1/3 * 0.90 + 2/3 * 0.35
    assert worst_case_accuracy(acc, it, ends) == pytest.approx(0.90 / 3 + 2 / 3 * 0.35)
    # at iteration 3 the current task is task 1 (k = 2): 1/2 * 0.60 + 1/2 * 0.30
    assert worst_case_accuracy(acc, it, ends, at=3) == pytest.approx(0.45)
    # during task 0 there is no previous task: WC-ACC is the current accuracy
    assert worst_case_accuracy(acc, it, ends, at=1) == pytest.approx(0.50)
    with pytest.raises(ValueError, match="at=7 is not one of"):
        worst_case_accuracy(acc, it, ends, at=7)


def test_metric_errors():
    with pytest.raises(ValueError, match="square"):
        average_accuracy(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        backward_transfer([[np.nan, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"baseline must have shape \(3,\)"):
        forward_transfer(R, [0.1])
    with pytest.raises(ValueError, match="strictly increasing"):
        min_accuracy(np.ones((2, 2)), [2, 1], [1, 2])
    with pytest.raises(ValueError, match=r"task_end must have shape \(2,\)"):
        min_accuracy(np.ones((2, 2)), [1, 2], [1])


def test_sequential_schedule_walks_epochs():
    rng = np.random.default_rng(0)
    tasks, idx = SequentialSchedule().plan([7, 5], 1, n_iterations=4, batch_size=5,
                                           random_state=rng)
    assert tasks.shape == idx.shape == (4, 5) and np.all(tasks == 1)
    flat = idx.ravel()
    for e in range(4):  # every block of 5 indices is one full epoch of task 1
        assert sorted(flat[5 * e:5 * e + 5].tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="task 1 has no training samples"):
        SequentialSchedule().plan([3, 0], 1, 2, 2, rng)


def test_power_law_rehearsal_probabilities_and_frequencies():
    sched = PowerLawRehearsal(exponent=2.0)
    p = sched.task_probabilities(3)
    w = np.array([4.0, 3.0, 2.0, 1.0]) ** -2.0
    np.testing.assert_allclose(p, w / w.sum())
    assert PowerLawRehearsal(exponent=0.0).task_probabilities(4) == pytest.approx(np.full(5, 0.2))
    tasks, idx = sched.plan([50, 40, 30, 20], 3, 2000, 10, np.random.default_rng(1))
    freq = np.bincount(tasks.ravel(), minlength=4) / tasks.size
    np.testing.assert_allclose(freq, p, atol=0.01)
    sizes = np.array([50, 40, 30, 20])
    assert np.all(idx < sizes[tasks])
    # a very steep power law is sequential training
    tasks, _ = PowerLawRehearsal(exponent=60.0).plan([5, 5], 1, 10, 4, np.random.default_rng(0))
    assert np.all(tasks == 1)
    with pytest.raises(ValueError, match="exponent must be a finite non-negative"):
        PowerLawRehearsal(exponent=-1)
    with pytest.raises(ValueError, match="needs the training samples of every past task"):
        sched.plan([0, 5], 1, 2, 2, np.random.default_rng(0))


def test_view_batch_replay_repeats_views_and_stretches_recall_interval():
    V, B, n = 4, 16, 64
    rng = np.random.default_rng(0)
    tasks, idx = ViewBatchReplay(n_views=V).plan([n], 0, n_iterations=64, batch_size=B,
                                                 random_state=rng)
    assert idx.shape == (64, B)
    views = idx.reshape(64, B // V, V)
    assert np.all(views == views[..., :1])  # each sample as V views in the same batch
    # recall interval: iterations between exposures of a sample, V times the plain one
    _, plain = SequentialSchedule().plan([n], 0, 64, B, np.random.default_rng(0))

    def mean_interval(ix):
        gaps = []
        for s in range(n):
            seen = np.flatnonzero((ix == s).any(1))
            gaps += np.diff(seen).tolist()
        return np.mean(gaps)

    assert mean_interval(idx) == pytest.approx(V * mean_interval(plain), rel=0.1)
    with pytest.raises(ValueError, match="multiple of n_views"):
        ViewBatchReplay(n_views=3).plan([n], 0, 2, 16, rng)
    with pytest.raises(ValueError, match=r"drop must be in \[0, 1\)"):
        ViewBatchReplay(drop=1.0)
    with pytest.raises(TypeError, match="base must be"):
        ViewBatchReplay(base="sequential")


def test_view_batch_transform_augments_independently():
    import torch

    sched = ViewBatchReplay(n_views=2, noise_std=0.1, drop=0.2)
    X = torch.full((2000, 8), 0.5)
    out = sched.transform(X, torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1
    assert float((out == 0).float().mean()) == pytest.approx(0.2, abs=0.02)
    kept = out[out > 0]
    assert float(kept.std()) == pytest.approx(0.1, rel=0.1)
    assert not torch.equal(out[0], out[1])
