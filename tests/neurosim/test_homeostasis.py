"""HomeostaticMLP (LRH/LRR/LRC) against a per-sample reference loop of the released code, its
mechanics (H1), the shift schedule (H2), the sweep's numbers (H3) and bad input (H6)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.homeostasis import (  # noqa: E402
    ConceptShift,
    HomeostaticMLP,
    compare_learners,
    load_shift_data,
    paired_difference,
    run_shift_stream,
    running_accuracy,
    shift_rate_sweep,
    shift_recovery,
)


@pytest.fixture(scope="module")
def digits():
    return load_shift_data("digits", random_state=0)


# ---------------------------------------------------------------------------------------------
# An independent reference: the released lrh.py / lrr.py loop, one sample at a time, column
# vectors, numpy float64, labels swapped in place between minibatches as swap_labels() does.
# ---------------------------------------------------------------------------------------------
def _elu(x):
    return np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1)


def _delu(x):
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))


def _softmax(x):
    e = np.exp(x - x.max(0))
    return e / e.sum(0)


def _net(W, b, A):
    for k, (w, v) in enumerate(zip(W, b)):
        Z = w @ A + v
        A = _softmax(Z) if k == len(W) - 1 else _elu(Z)
    return A


def reference_run(mode, W, b, X, y, Xv, yv, orders, coins, events, n_epochs, lr0=1e-3,
                  lr_step=None, m=10, interval=10, n_mem=20):
    """Returns per-sample correctness, the lr after every minibatch, val accuracies, weights."""
    W = [w.copy() for w in W]
    b = [v[:, None].copy() for v in b]
    eta, step = lr0, lr0 / 10 if lr_step is None else lr_step
    n = y.size
    n_used = n // m * m
    labels_all, vlabels = y.copy(), yv.copy()
    correct, lrs, vaccs, coin_i = [], [], [], 0
    for e in range(n_epochs):
        imgs, labels = X[orders[e]].T, labels_all[orders[e]]
        swaps = [(off, pair) for ep, off, pair in events if ep == e]
        sampleidx = 0
        for _ in range(n // m):
            G = [np.zeros_like(w) for w in W]
            g = [np.zeros_like(v) for v in b]
            for i in range(sampleidx, sampleidx + m):
                A = [imgs[:, [i]]]
                Z = []
                for k, (w, v) in enumerate(zip(W, b)):
                    Z.append(w @ A[-1] + v)
                    A.append(_softmax(Z[-1]) if k == len(W) - 1 else _elu(Z[-1]))
                guess = int(np.argmax(A[-1]))
                correct.append(guess == labels[i])
                t = np.zeros((W[-1].shape[0], 1))
                t[labels[i]] = 1
                d = [A[-1] - t]
                for k in range(len(W) - 1, 0, -1):
                    d.insert(0, (W[k].T @ d[0]) * _delu(Z[k - 1]))
                for k in range(len(W)):
                    G[k] += d[k] @ A[k].T
                    g[k] += d[k]
                if mode == "lrh" and i > n_mem and i % interval == 0:
                    memo = np.arange(i - n_mem, i)

                    def acc(lr, G=G, g=g, A=imgs[:, memo], L=labels[memo]):
                        Ws = [w - lr / m * Gk for w, Gk in zip(W, G)]
                        bs = [v - lr / m * gk for v, gk in zip(b, g)]
                        return np.sum(np.argmax(_net(Ws, bs, A), 0) == L) / n_mem

                    lr2 = eta + step if guess >= 5 else eta - step
                    if lr2 < 0:
                        lr2 = 1e-8
                    if acc(lr2) > acc(eta):
                        eta = eta + step if labels[i] >= 5 else eta - step
                        if eta < 0:
                            eta = 1e-8
                if mode == "lrr" and i != 0 and i % interval == 0:
                    if coins[coin_i] > 0.5:
                        eta = eta + step if labels[i] >= 5 else eta - step
                    coin_i += 1
                    if eta < 0:
                        eta = 1e-8
            for k in range(len(W)):
                W[k] = W[k] - eta / m * G[k]
                b[k] = b[k] - eta / m * g[k]
            lrs.append(eta)
            sampleidx += m
            for off, (s1, s2) in swaps:
                if off == sampleidx:
                    for L in (labels, vlabels, labels_all):
                        old = L.copy()
                        L[old == s1] = s2
                        L[old == s2] = s1
        # (labels_all is kept in the original order, swapped alike, for the next epoch's shuffle)
        vaccs.append(np.mean(np.argmax(_net(W, b, Xv.T), 0) == vlabels))
    assert n_used == len(correct) / n_epochs
    return np.array(correct), np.array(lrs), np.array(vaccs), W, b


def _streams(learner, n, n_epochs, mode):
    """The initial weights, epoch orders and coin flips a learner with this seed will use."""
    twin = HomeostaticMLP(**learner.get_params())
    twin._setup(64, np.arange(10))
    orders = [twin._order_rng.permutation(n) for _ in range(n_epochs)]
    n_coins = len(range(10, n // 10 * 10, 10))
    coins = np.concatenate([twin._coin_rng.random(n_coins) for _ in range(n_epochs)])
    return twin.coefs_, twin.intercepts_, orders, coins


@pytest.mark.parametrize("mode,lr0", [("lrh", 1e-3), ("lrh", 0.2), ("lrr", 0.05), ("lrc", 1e-3)])
def test_matches_reference_loop(digits, mode, lr0):
    """The vectorised learner = the released code's loop: same lr after every minibatch, same
    predictions, same validation accuracies, weights to rounding, with swaps inside epochs."""
    X, y = digits["X_train"][:305], digits["y_train"][:305]  # 30 minibatches, 5 samples dropped
    Xv, yv = digits["X_val"][:100], digits["y_val"][:100]
    n_epochs = 3
    learner = HomeostaticMLP(mode, lr0=lr0, random_state=3)
    shift = ConceptShift(4, random_state=1)
    W0, b0, orders, coins = _streams(learner, y.size, n_epochs, mode)
    h = run_shift_stream(learner, X, y, shift=shift, n_epochs=n_epochs, X_val=Xv, y_val=yv)
    ev = shift.schedule(n_epochs, 300, 10)
    events = list(zip(ev["epoch"], ev["offset"], map(tuple, ev["pair"])))
    correct, lrs, vaccs, W, b = reference_run(mode, W0, b0, X, y, Xv, yv, orders, coins,
                                              events, n_epochs, lr0=lr0)
    np.testing.assert_array_equal(h["lr"].values, lrs)
    np.testing.assert_array_equal(h["correct"].values.astype(bool), correct)
    np.testing.assert_array_equal(h["val_accuracy"].values, vaccs)
    for ours, ref in zip(learner.coefs_ + learner.intercepts_, W + [v[:, 0] for v in b]):
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
    if mode == "lrc":
        assert np.all(lrs == lr0) and learner.n_lr_changes_ == 0
    elif mode == "lrh" and lr0 == 0.2:
        assert learner.n_lr_changes_ >= 5  # the look-ahead really decided here
    assert h["shift_position"].size == 12


def test_lookahead_is_on_one_sample_gradient_and_20_preceding_samples(digits):
    """H1: the first look-ahead is at i = 30 (first sample of minibatch 3), simulates the update by
    that single sample's gradient / m (checked with autograd) and scores samples 10..29."""
    X, y = digits["X_train"][:100], digits["y_train"][:100]
    learner = HomeostaticMLP("lrh", random_state=0)
    learner._setup(64, np.arange(10))
    calls = []
    original = learner._memory_correct

    def spy(Xm, ym, lr, gW, gb, m):
        calls.append((Xm.clone(), ym.clone(), lr, [g.clone() for g in gW], [g.clone() for g in gb],
                      [w.clone() for w in learner._W], [v.clone() for v in learner._b]))
        return original(Xm, ym, lr, gW, gb, m)

    learner._memory_correct = spy
    learner.partial_fit(X, y)
    log = learner.last_pass_
    np.testing.assert_array_equal(log["decision_index"], np.arange(30, 100, 10))
    assert len(calls) == 2 * 7  # "leave it" and "take it" at every decision
    Xm, ym, lr, gW, gb, W, b = calls[0]
    np.testing.assert_array_equal(Xm.numpy(), X[10:30])
    np.testing.assert_array_equal(ym.numpy(), y[10:30])
    assert lr == 1e-3 and calls[1][2] in (1e-3 + 1e-4, 1e-3 - 1e-4)
    # autograd: cross-entropy of sample 30 alone at the weights of the start of its minibatch
    params = [t.clone().requires_grad_(True) for t in W + b]
    a = torch.as_tensor(X[30:31])
    for k in range(3):
        a = a @ params[k].T + params[3 + k]
        if k < 2:
            a = torch.nn.functional.elu(a)
    torch.nn.functional.cross_entropy(a, torch.as_tensor(y[30:31])).backward()
    for ours, p in zip(gW + gb, params):
        np.testing.assert_allclose(ours.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_lrh_direction_from_guess_in_simulation_and_from_true_label_in_update(digits):
    X, y = digits["X_train"], digits["y_train"]
    learner = HomeostaticMLP("lrh", lr0=0.2, random_state=0).partial_fit(X, y)
    log = learner.last_pass_
    step = 0.02
    lr_before = np.empty(log["decision_index"].size)
    eta = 0.2
    for k in range(lr_before.size):
        lr_before[k] = eta
        if log["decision_taken"][k]:
            eta = eta + step if log["decision_label"][k] >= 5 else eta - step
            eta = 1e-8 if eta < 0 else eta
    assert eta == learner.lr_
    sim = np.where(log["decision_guess"] >= 5, lr_before + step, lr_before - step)
    np.testing.assert_allclose(log["lr_take"], np.where(sim < 0, 1e-8, sim), rtol=1e-12)
    taken = log["decision_taken"]
    np.testing.assert_array_equal(taken, log["acc_take"] > log["acc_keep"])
    # misclassified samples whose effect was taken moved the rate by the true label, not the guess
    wrong = taken & ((log["decision_guess"] >= 5) != (log["decision_label"] >= 5))
    assert wrong.sum() >= 1


def test_lrr_coin_and_lrc_constant(digits):
    X, y = digits["X_train"], digits["y_train"]
    lrr = HomeostaticMLP("lrr", random_state=0, n_epochs=4).fit(X, y)
    log = lrr.last_pass_
    assert log["decision_index"][0] == 10 and np.all(np.diff(log["decision_index"]) == 10)
    n = 4 * log["decision_index"].size
    # P(take) = 1/2: 4 x 142 = 568 flips, binomial sd 12; 4 sd
    assert abs(lrr.n_lr_changes_ - n / 2) < 48
    # each taken effect follows the true label: +step for classes 5-9, -step for 0-4
    taken = log["decision_taken"]
    assert np.all(np.isnan(log["acc_keep"]))
    lrc = HomeostaticMLP("lrc", random_state=0, n_epochs=2).fit(X, y)
    assert np.all(lrc.lr_history_ == 1e-3) and lrc.n_lr_changes_ == 0
    assert lrc.last_pass_["decision_index"].size == 0
    assert taken.any() and not taken.all()


def test_lr_floor():
    """A learning rate pushed below 0 is set to lr_floor (1e-8), as `if eta < 0: eta = 1e-8`."""
    rng = np.random.default_rng(0)
    X = rng.random((400, 5))
    y = np.zeros(400, dtype=int)
    y[1::2] = 1  # 2 classes: class 0 is inhibitory
    y[::10] = 0  # every decision sample (i % 10 == 0) is class 0: only decreases
    clf = HomeostaticMLP("lrr", lr0=1e-3, lr_step=3e-4, hidden_sizes=(4,), random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    lrs = clf.lr_history_
    assert lrs.min() == 1e-8 and np.all(lrs > 0)
    np.testing.assert_allclose(np.unique(lrs[lrs > 1e-8]), [1e-4, 4e-4, 7e-4, 1e-3], rtol=1e-9)


def test_lrc_equals_plain_pytorch_sgd(digits):
    """LRC is minibatch SGD on the mean cross-entropy (torch.optim.SGD, autograd)."""
    X, y = digits["X_train"][:200], digits["y_train"][:200]
    clf = HomeostaticMLP("lrc", lr0=0.05, random_state=0)
    clf._setup(64, np.arange(10))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny minibatches: one thread is much faster on a busy machine
    params = [torch.as_tensor(a).clone().requires_grad_(True)
              for a in clf.coefs_ + clf.intercepts_]
    opt = torch.optim.SGD(params, lr=0.05)
    for s in range(0, 200, 10):
        a = torch.as_tensor(X[s:s + 10])
        for k in range(3):
            a = a @ params[k].T + params[3 + k]
            if k < 2:
                a = torch.nn.functional.elu(a)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(a, torch.as_tensor(y[s:s + 10])).backward()
        opt.step()
    torch.set_num_threads(before)
    clf.partial_fit(X, y)
    for ours, p in zip(clf.coefs_ + clf.intercepts_, params):
        np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# H2: the shift schedule
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,spe", [(4000, 1), (4000, 5), (4000, 20), (1250, 3), (1250, 7),
                                   (300, 50)])
def test_shift_schedule_counts_and_spacing(n, spe):
    shift = ConceptShift(spe, random_state=0)
    ev = shift.schedule(n_epochs=3, n_samples=n, batch_size=10)
    assert np.all(np.bincount(ev["epoch"], minlength=3) == spe)  # exactly spe per epoch
    off = ev["offset"][ev["epoch"] == 1]
    assert np.all((off % 10 == 0) | (off == n)) and off[-1] == n
    ideal = np.arange(1, spe + 1) * n / spe
    assert np.all((off >= ideal) & (off < ideal + 10))  # the minibatch that reaches k n / s
    assert np.all(ev["pair"][:, 0] != ev["pair"][:, 1])
    # the mapping is the composition of the swaps
    labels = np.arange(10)
    for pair, mapping in zip(ev["pair"], ev["mapping"]):
        old = labels.copy()
        labels[old == pair[0]] = pair[1]
        labels[old == pair[1]] = pair[0]
        np.testing.assert_array_equal(mapping, labels)
    # the released code's modulo fires only where n // spe is a multiple of the minibatch
    modulo = sum((k * 10) % (n // spe) == 0 for k in range(1, n // 10 + 1))
    if n == 1250 and spe == 3:
        assert modulo == 0  # 1250 // 3 = 416: the released code never swaps here


def test_shift_reproducible_and_second_order():
    a = ConceptShift(5, random_state=7).schedule(2, 1000)
    b = ConceptShift(5, random_state=7).schedule(2, 1000)
    np.testing.assert_array_equal(a["pair"], b["pair"])
    seasonal = ConceptShift([0, 20, 2], random_state=0)
    assert seasonal.second_order
    ev = seasonal.schedule(6, 1000)
    np.testing.assert_array_equal(np.bincount(ev["epoch"], minlength=6), [0, 20, 2, 0, 20, 2])
    assert ConceptShift(0).schedule(3, 1000)["position"].size == 0
    # more swaps than minibatches: still exactly that many, several per boundary
    assert ConceptShift(50, random_state=0).positions(100).size == 50


def test_shift_applies_to_validation_labels(digits):
    X, y, Xv, yv = (digits[k][:300] for k in ("X_train", "y_train", "X_val", "y_val"))
    shift = ConceptShift(3, random_state=2)
    learner = HomeostaticMLP("lrc", lr0=0.3, random_state=0)
    h = run_shift_stream(learner, X, y, shift=shift, n_epochs=2, X_val=Xv, y_val=yv)
    final = shift.schedule(2, 300)["mapping"][-1]
    assert not np.array_equal(final, np.arange(10))
    assert h["val_accuracy"].values[-1] == learner.score(Xv, final[yv])
    assert h["val_accuracy"].values[-1] != learner.score(Xv, yv)
    assert h["train_accuracy"].values[0] == h["correct"].values[:300].mean()


# ---------------------------------------------------------------------------------------------
# streaming metrics
# ---------------------------------------------------------------------------------------------
def test_streaming_metrics():
    c = np.r_[np.ones(50), np.zeros(20), np.ones(30), np.zeros(10), np.ones(40)]
    np.testing.assert_allclose(running_accuracy(c, 10)[[9, 59, 69, 99]], [1, 0.0, 0, 1])
    r = shift_recovery(c, [50, 100, 150], window=20)
    np.testing.assert_array_equal(r["position"], [50, 100])  # the end of the stream is left out
    np.testing.assert_allclose(r["before"], [1, 1])
    np.testing.assert_allclose(r["after"], [0, 0.5])
    np.testing.assert_allclose(r["recovered"], [1, 1])
    np.testing.assert_allclose(r["recovery"], [1, 0.5])
    d = paired_difference([0.5, 0.6, 0.7, 0.65], [0.4, 0.5, 0.5, 0.6])
    from scipy import stats

    res = stats.ttest_rel([0.5, 0.6, 0.7, 0.65], [0.4, 0.5, 0.5, 0.6])
    ci = res.confidence_interval(0.95)
    assert d["mean"] == pytest.approx(0.1125) and d["n"] == 4
    assert (d["lo"], d["hi"]) == pytest.approx((ci.low, ci.high), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# H3: the numbers over seeds
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep(digits):
    return shift_rate_sweep(digits["X_train"], digits["y_train"], digits["X_val"],
                            digits["y_val"], swaps_per_epoch=(0, 20), seeds=5, n_epochs=4)


def test_sweep_zero_shift_lrh_not_worse_than_lrc(sweep):
    table = compare_learners(sweep, "stream_accuracy")
    assert table["diff"].sel(baseline="lrc", swaps_per_epoch=0) >= -0.02
    assert table["diff_lo"].sel(baseline="lrc", swaps_per_epoch=0) >= -0.02
    # the shift hurts: the stationary stream is learned better than one with 20 swaps per epoch
    m = table["mean"]
    assert np.all(m.sel(swaps_per_epoch=0) > m.sel(swaps_per_epoch=20) + 0.05)


def test_sweep_highest_shift_advantage_only_where_ci_excludes_zero(sweep):
    """At 20 swaps/epoch the paper's advantage of LRH is not reproduced at this scale: LRH and
    LRC are paired by seed and LRH's look-ahead almost never changes its rate (a handful of
    changes in 4 epochs), so their difference stays within 0.01 and its CI includes 0."""
    table = compare_learners(sweep, "stream_accuracy")
    hi = table.sel(swaps_per_epoch=20)
    lrc = hi.sel(baseline="lrc")
    assert abs(float(lrc["diff"])) < 0.01
    assert not bool(lrc["excludes_zero"]) or float(lrc["diff"]) > 0
    assert float(sweep["n_lr_changes"].sel(mode="lrh").max()) <= 10
    assert float(sweep["n_lr_changes"].sel(mode="lrr").min()) > 100
    for b in ("lrc", "lrr"):
        row = hi.sel(baseline=b)
        if bool(row["excludes_zero"]):
            assert (float(row["diff_lo"]) > 0) == (float(row["diff"]) > 0)


# ---------------------------------------------------------------------------------------------
# H6: bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,err", [(-1, ValueError), (1.5, TypeError), (0.5, TypeError),
                                     (True, TypeError), ("3", TypeError), ([2, -1], ValueError),
                                     ([], ValueError)])
def test_bad_swaps_per_epoch(bad, err):
    with pytest.raises(err, match="swaps_per_epoch"):
        ConceptShift(bad)


@pytest.mark.parametrize("lr0", [0, -1e-3, float("nan")])
def test_bad_lr0(lr0, digits):
    with pytest.raises(ValueError, match="lr0"):
        HomeostaticMLP(lr0=lr0).fit(digits["X_train"][:50], digits["y_train"][:50])


def test_bad_labels_length(digits):
    X, y = digits["X_train"][:50], digits["y_train"][:49]
    with pytest.raises(ValueError, match="y has 49 labels but X has 50 samples"):
        HomeostaticMLP().fit(X, y)
    with pytest.raises(ValueError, match="y has 49 labels but X has 50 samples"):
        HomeostaticMLP().partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="y has 49 labels but X has 50 samples"):
        run_shift_stream(HomeostaticMLP(), X, y)
    with pytest.raises(ValueError, match="y_val has 3 labels but X_val has 4 samples"):
        run_shift_stream(HomeostaticMLP(), X, y[:49].tolist() + [0], X_val=X[:4], y_val=y[:3])
    with pytest.raises(ValueError, match="mode"):
        HomeostaticMLP(mode="homeostatic").fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="relabel"):
        HomeostaticMLP().partial_fit(X, y[:49].tolist() + [0], classes=np.arange(10),
                                     relabel={15: np.arange(10)})


def test_sklearn_api(digits):
    from sklearn.base import clone

    X, y = digits["X_train"], digits["y_train"]
    clf = HomeostaticMLP("lrh", lr0=0.1, n_epochs=3, random_state=0).fit(X, y)
    assert clf.score(digits["X_val"], digits["y_val"]) > 0.8
    proba = clf.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clone(clf).get_params()["mode"] == "lrh"
    again = HomeostaticMLP("lrh", lr0=0.1, n_epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.lr_history_, clf.lr_history_)
    np.testing.assert_array_equal(again.coefs_[0], clf.coefs_[0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(digits):
    X, y = digits["X_train"][:300], digits["y_train"][:300]
    a = HomeostaticMLP("lrh", lr0=0.2, n_epochs=2, random_state=0).fit(X, y)
    b = HomeostaticMLP("lrh", lr0=0.2, n_epochs=2, random_state=0, device="cuda").fit(X, y)
    np.testing.assert_array_equal(a.lr_history_, b.lr_history_)
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-9, atol=1e-12)


def _sklearn_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    return parametrize_with_checks([HomeostaticMLP("lrh", hidden_sizes=(16,), lr0=0.1,
                                                   n_epochs=10, random_state=0)])


@_sklearn_checks()
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_sweep_checkpoint_resumes_and_protects(digits, tmp_path, monkeypatch):
    from neurosim.homeostasis import _protocol

    X, y, Xv, yv = (digits[k][:200] for k in ("X_train", "y_train", "X_val", "y_val"))
    ckpt = tmp_path / "sweep.npz"
    kw = dict(swaps_per_epoch=(0, 3), modes=("lrc", "lrr"), seeds=2, n_epochs=1, checkpoint=ckpt)
    first = shift_rate_sweep(X, y, Xv, yv, **kw)
    assert ckpt.exists()

    def boom(*args, **kwargs):
        raise AssertionError("a finished run was recomputed")

    monkeypatch.setattr(_protocol, "run_shift_stream", boom)
    again = shift_rate_sweep(X, y, Xv, yv, **kw)  # everything from the checkpoint
    np.testing.assert_array_equal(again["stream_accuracy"], first["stream_accuracy"])
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match="another configuration"):
        shift_rate_sweep(X, y, Xv, yv, **(kw | {"n_epochs": 2}))
    assert ckpt.read_bytes() == before
