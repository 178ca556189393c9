"""Tests of neurosim.sparsey: the CSA step by step, the kernels, the hierarchy, SparseyMemory."""

import copy
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurosim.sparsey import (
    CSAParams,
    Level,
    SparseyMemory,
    choose_winners,
    cm_probabilities,
    code_intersection,
    codes_to_sparse,
    csa_step,
    expansivity,
    global_familiarity,
    hebbian_update,
    input_sums,
    level_encode,
    local_familiarity,
    normalize_sums,
    tile_receptive_fields,
    win_likelihood,
)

# the digits configuration of the experiment: one mac of 40 CMs x 100 cells, cosine match
# the settings of the sparsey-digits experiment (not Sparsey's reference ones: a near-deterministic
# CSA, the cosine match and a sigmoid of slope 20 centred at 0.75 on V = U)
DIGITS_KW = dict(Q=40, K=100, match="cosine", g_min=0.0, gamma=1.0, sigmoid_slope=20.0,
                 sigmoid_center=0.75, exponent_u=1.0, input_shape=(8, 8, 4))


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits as level codes (8 x 8 pixels x 4 grey levels), shuffled."""
    d = load_digits()
    order = np.random.default_rng(0).permutation(len(d.target))
    X = level_encode(d.data, 4, vmax=16).reshape(len(d.target), -1)[order]
    return X, d.target[order]


def _random_items(rng, n_items, n=256, k=16):
    X = np.zeros((n_items, n), np.uint8)
    for row in X:
        row[rng.choice(n, k, replace=False)] = 1
    return X


def test_import_does_not_load_numba():
    code = ("import sys, neurosim, neurosim.sparsey\n"
            "print([m for m in ('numba', 'torch', 'xarray', 'matplotlib') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# the CSA, step by step, against hand-computed values
# --------------------------------------------------------------------------------------------
def test_sums_and_normalisation():
    w = np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 0]], np.uint8)
    u = input_sums([0, 2], w)
    np.testing.assert_array_equal(u, [1, 1, 2, 0])
    np.testing.assert_allclose(normalize_sums(u, 2), [0.5, 0.5, 1.0, 0.0])
    # cosine: u / sqrt(n * fan_in); a cell with no afferent counts as fan-in 1
    np.testing.assert_allclose(normalize_sums(u, 2, fan_in=w.sum(0)),
                               [1 / 2, 1 / 2, 2 / 2, 0.0])
    # defaults: V = U^10 H D (Sparsey_Alt's exponent on U)
    np.testing.assert_allclose(local_familiarity([1.0, 0.5], [0.5, 0.5], [1.0, 1.0]),
                               [0.5, 0.5 ** 11])
    ones = CSAParams(exponent_u=1.0)
    np.testing.assert_allclose(local_familiarity([1.0, 0.5], [0.5, 0.5], [1.0, 1.0], params=ones),
                               [0.5, 0.25])
    p = CSAParams(exponent_u=2.0)
    np.testing.assert_allclose(local_familiarity([0.5], params=p), [0.25])
    with pytest.raises(ValueError, match="at least one"):
        local_familiarity()


def test_global_familiarity_and_expansivity():
    V = np.array([1.0, 0.2, 0.0, 0.5, 0.3, 0.1])
    assert global_familiarity(V, Q=2, K=3) == pytest.approx((1.0 + 0.5) / 2)
    # eta = 1 + [max(0, (G - G-) / (1 - G-))]^gamma * chi * K, defaults G- = 0.1, gamma 2, chi 100
    assert expansivity(1.0, K=8) == pytest.approx(801.0)
    assert expansivity(0.55, K=8) == pytest.approx(1 + 0.5 ** 2 * 100 * 8)
    assert expansivity(0.1, K=8) == 1.0
    assert expansivity(0.0, K=8) == 1.0
    p = CSAParams(g_min=0.0, gamma=1.0, chi=10.0)
    assert expansivity(0.3, K=5, params=p) == pytest.approx(1 + 0.3 * 10 * 5)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        global_familiarity(V[:4], Q=2, K=3)


def test_sigmoid_defaults_are_sparsey_alt():
    """Sparsey_Alt: V = U^10, mu = (eta - 1) / (1 + (0.1 exp(-4 (V - 1)))^8) + 1."""
    p = CSAParams()
    assert (p.sigmoid_slope, p.exponent_u) == (32.0, 10.0)
    assert p.sigmoid_center == pytest.approx(0.42435372675, abs=1e-10)
    U = np.linspace(0.0, 1.0, 101)
    V = local_familiarity(U)
    for eta in (1.0, 7.5, 801.0):
        alt = (eta - 1) / (1 + (0.1 * np.exp(-4 * (V - 1))) ** 8) + 1
        np.testing.assert_allclose(win_likelihood(V, eta), alt, rtol=1e-12)
    # half the gain at a raw U match of 0.918
    half = win_likelihood(local_familiarity([p.sigmoid_center ** 0.1]), 801.0)
    assert half[0] == pytest.approx(401.0) and p.sigmoid_center ** 0.1 == pytest.approx(0.9179,
                                                                                        abs=1e-4)


def test_win_likelihood_and_probabilities():
    p = CSAParams()
    V = np.array([0.0, p.sigmoid_center, 1.0])
    mu = win_likelihood(V, eta=101.0, params=p)
    sig = 1 / (1 + np.exp(-p.sigmoid_slope * (V - p.sigmoid_center)))
    np.testing.assert_allclose(mu, 1 + 100 * sig)
    assert mu[1] == pytest.approx(51.0)
    np.testing.assert_allclose(win_likelihood(np.linspace(0, 1, 5), eta=1.0), 1.0)
    rho = cm_probabilities([1.0, 3.0, 2.0, 2.0], Q=2, K=2)
    np.testing.assert_allclose(rho, [[0.25, 0.75], [0.5, 0.5]])


def test_roulette_boundaries_and_frequencies():
    rho = np.array([[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_array_equal(choose_winners(rho, uniforms=[0.2499, 0.5]), [0, 1])
    np.testing.assert_array_equal(choose_winners(rho, uniforms=[0.25, 0.4999]), [1, 0])
    # sampled frequencies follow rho
    rho = np.tile([0.1, 0.2, 0.3, 0.4], (20000, 1))
    counts = np.bincount(choose_winners(rho, random_state=0), minlength=4) / 20000
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.3, 0.4], atol=0.012)


def test_noise_shrinks_with_familiarity():
    """A stored code is reinstated when its input returns (G = 1), not for a novel input."""
    Q, K = 10, 8
    w = np.zeros((32, Q * K), np.uint8)
    stored = np.arange(Q) % K
    hebbian_update(w, np.arange(8), stored, K)
    rng = np.random.default_rng(0)
    same = [code_intersection(csa_step(Q, K, u_active=np.arange(8), u_weights=w,
                                       random_state=rng).code, stored) for _ in range(200)]
    step = csa_step(Q, K, u_active=np.arange(8), u_weights=w, random_state=rng)
    assert step.G == 1.0 and step.eta == pytest.approx(1 + 100 * K)
    # win probability of the stored cell: mu(V=1) / (mu(V=1) + (K - 1) mu(V=0))
    mu1, mu0 = win_likelihood([1.0, 0.0], step.eta)
    p = mu1 / (mu1 + (K - 1) * mu0)
    assert p == pytest.approx(0.9913, abs=1e-4)
    np.testing.assert_allclose(step.rho[np.arange(Q), stored], p)
    assert abs(np.mean(same) - p * Q) < 4 * np.sqrt(Q * p * (1 - p) / 200)
    novel = [csa_step(Q, K, u_active=np.arange(16, 24), u_weights=w, random_state=rng)
             for _ in range(200)]
    assert novel[0].G == 0.0 and novel[0].eta == 1.0
    np.testing.assert_allclose(novel[0].rho, 1 / K)
    # uniform choice: about Q / K cells of the stored code by chance
    assert abs(np.mean([code_intersection(s.code, stored) for s in novel]) - Q / K) < 0.2


def test_hebbian_update_and_retrieval():
    Q, K = 3, 4
    w = np.zeros((6, Q * K), np.uint8)
    hebbian_update(w, [0, 2], [3, 0, 1], K)
    expected = np.zeros_like(w)
    expected[np.ix_([0, 2], [3, 4, 9])] = 1
    np.testing.assert_array_equal(w, expected)
    step = csa_step(Q, K, u_active=[0, 2], u_weights=w, learn=False)
    np.testing.assert_array_equal(step.code, [3, 0, 1])
    assert step.G == 1.0
    np.testing.assert_array_equal(step.u, w[[0, 2]].sum(0))


def test_csa_step_h_and_d_signals():
    Q, K = 2, 3
    wu = np.zeros((4, Q * K), np.uint8)
    wh = np.zeros((Q * K, Q * K), np.uint8)
    wu[[0, 1]] = 1  # every cell fully matches U
    hebbian_update(wh, [0, 4], [2, 1], K)  # previous code (0, 1) -> code (2, 1)
    step = csa_step(Q, K, u_active=[0, 1], u_weights=wu, h_active=[0, 4], h_weights=wh,
                    learn=False)
    np.testing.assert_allclose(step.V, [0, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(step.code, [2, 1])
    wd = np.zeros((5, Q * K), np.uint8)
    wd[[1, 3], 0] = 1
    step = csa_step(Q, K, d_active=[1, 3], d_weights=wd, learn=False)
    assert step.U is None and step.H is None
    np.testing.assert_allclose(step.D, [1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="at least one active signal"):
        csa_step(Q, K, learn=False)
    with pytest.raises(ValueError, match="no H weights"):
        csa_step(Q, K, u_active=[0], u_weights=wu, h_active=[0])


@pytest.mark.parametrize("match", ["input", "cosine"])
def test_kernel_matches_reference(match):
    """The numba kernels choose the same codes as the numpy CSA from the same random numbers."""
    rng = np.random.default_rng(3)
    X = _random_items(rng, 60, n=64, k=10)
    X[30:] = X[:30] | _random_items(rng, 30, n=64, k=3)  # familiar-ish items too
    Q, K = 6, 5
    mem = SparseyMemory(Q=Q, K=K, match=match, random_state=7).fit(X)
    uniforms = np.random.default_rng(7)
    w = np.zeros((64, Q * K), np.uint8)
    codes, gs = [], []
    for x in X:
        step = csa_step(Q, K, u_active=np.flatnonzero(x), u_weights=w, match=match,
                        uniforms=uniforms.random(Q))
        hebbian_update(w, np.flatnonzero(x), step.code, K)
        codes.append(step.code)
        gs.append(step.G)
    np.testing.assert_array_equal(mem.codes_, codes)
    np.testing.assert_allclose(mem.familiarity_, gs, rtol=1e-12)
    np.testing.assert_array_equal(mem.mac_weights(-1)["U"], w)
    np.testing.assert_array_equal(mem.fan_in_, w.sum(0))
    retrieved = [csa_step(Q, K, u_active=np.flatnonzero(x), u_weights=w, match=match,
                          learn=False).code for x in X]
    np.testing.assert_array_equal(mem.transform(X), retrieved)


def test_kernel_matches_reference_in_sequences():
    """H input from the previous code: the kernels and the numpy CSA agree, learning and recall."""
    rng = np.random.default_rng(5)
    X = _random_items(rng, 12, n=48, k=8)
    X[6:] = X[:6]  # the same items again, in another context
    Q, K = 5, 6
    mem = SparseyMemory(Q=Q, K=K, random_state=2).learn_sequence(X)
    uniforms = np.random.default_rng(2)
    wu = np.zeros((48, Q * K), np.uint8)
    wh = np.zeros((Q * K, Q * K), np.uint8)
    prev, codes = None, []
    for x in X:
        u = np.flatnonzero(x)
        h = None if prev is None else np.arange(Q) * K + prev
        step = csa_step(Q, K, u_active=u, u_weights=wu, h_active=h, h_weights=wh,
                        uniforms=uniforms.random(Q))
        hebbian_update(wu, u, step.code, K)
        if h is not None:
            hebbian_update(wh, h, step.code, K)
        prev = step.code
        codes.append(step.code)
    np.testing.assert_array_equal(mem.codes_, codes)
    np.testing.assert_array_equal(mem.mac_weights(-1)["H"], wh)
    # recall: the first item, then H alone
    recalled = [csa_step(Q, K, u_active=np.flatnonzero(X[0]), u_weights=wu, learn=False).code]
    for _ in range(len(X) - 1):
        h = np.arange(Q) * K + recalled[-1]
        recalled.append(csa_step(Q, K, h_active=h, h_weights=wh, learn=False).code)
    np.testing.assert_array_equal(mem.recall_sequence(X[0], len(X)), recalled)


# --------------------------------------------------------------------------------------------
# hierarchy
# --------------------------------------------------------------------------------------------
def test_receptive_fields_tile():
    fields = tile_receptive_fields((28, 28), (4, 4))
    assert fields.shape == (16, 49)
    np.testing.assert_array_equal(np.sort(fields.ravel()), np.arange(784))
    # mac (row 1, col 2) sees rows 7..13 and columns 14..20
    rows, cols = np.unravel_index(fields[1 * 4 + 2], (28, 28))
    assert set(rows) == set(range(7, 14)) and set(cols) == set(range(14, 21))
    with pytest.raises(ValueError, match="must tile.*28 is not a multiple of 3"):
        tile_receptive_fields((28, 28), (3, 4))
    with pytest.raises(ValueError, match="2 axes"):
        tile_receptive_fields((28, 28), (4,))


def test_hierarchy_layout_and_weights():
    X = _random_items(np.random.default_rng(0), 5, n=64, k=12)
    mem = SparseyMemory(Q=5, K=4, hidden_levels=[Level((2, 2), 3, 2), ((1, 2), 4, 3)],
                        input_shape=(8, 8), random_state=0).fit(X)
    assert [lv.grid for lv in mem.levels_] == [(2, 2), (1, 2), (1, 1)]
    assert mem.mac_weights(0, 3)["U"].shape == (16, 6)
    assert mem.mac_weights(1, 1)["U"].shape == (2 * 6, 12)  # two macs of 3 x 2 cells below
    assert mem.mac_weights(0, 0)["D"].shape == (12, 6)
    assert "D" not in mem.mac_weights(-1)
    assert mem.mac_weights(-1)["U"].shape == (2 * 12, 20)
    assert mem.codes_.shape == (5, 5)
    # every level-1 mac learned: each active pixel of its patch connects to Q cells per item
    fields = tile_receptive_fields((8, 8), (2, 2))
    for i, f in enumerate(fields):
        w = mem.mac_weights(0, i)["U"]
        active = X[:, f].any(0)
        assert np.all(w[active].sum(1) >= 3) and np.all(w[~active] == 0)
    with pytest.raises(ValueError, match="hidden level 1 .* does not tile hidden level 0"):
        SparseyMemory(hidden_levels=[Level((2, 2), 3, 2), Level((3, 1), 3, 2)],
                      input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="does not tile the input"):
        SparseyMemory(hidden_levels=[Level((3, 2), 3, 2)], input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="input_shape"):
        SparseyMemory(input_shape=(7, 7)).fit(X)
    # images as (n_items, height, width): the shape is taken from X
    images = SparseyMemory(Q=5, K=4, hidden_levels=[Level((2, 2), 3, 2), ((1, 2), 4, 3)],
                           random_state=0).fit(X.reshape(5, 8, 8))
    assert images.input_shape_ == (8, 8)
    np.testing.assert_array_equal(images.codes_, mem.codes_)
    np.testing.assert_array_equal(images.transform(X), mem.transform(X.reshape(5, 8, 8)))


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
def test_bad_input_errors():
    X = _random_items(np.random.default_rng(0), 4, n=16, k=4)
    with pytest.raises(ValueError, match=r"binary.*0\.5.*binarize=<threshold>"):
        SparseyMemory().fit(X * 0.5)
    Xn = X.astype(float)
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SparseyMemory(binarize=0.5).fit(Xn)
    with pytest.raises(ValueError, match="Q must be >= 1, got 0"):
        SparseyMemory(Q=0).fit(X)
    with pytest.raises(ValueError, match="K must be >= 1, got 0"):
        SparseyMemory(K=0).fit(X)
    with pytest.raises(ValueError, match="K must be >= 1"):
        Level((2,), Q=3, K=0)
    with pytest.raises(TypeError, match="Q must be an integer"):
        SparseyMemory(Q=2.5).fit(X)
    with pytest.raises(TypeError, match="binarize"):
        SparseyMemory(binarize="yes").fit(X)
    with pytest.raises(ValueError, match="match must be"):
        SparseyMemory(match="dot").fit(X)
    with pytest.raises(ValueError, match="g_min must be in"):
        SparseyMemory(g_min=1.0).fit(X)
    with pytest.raises(ValueError, match="2-d"):
        SparseyMemory().fit(X[0])
    with pytest.raises(NotFittedError):
        SparseyMemory().transform(X)
    mem = SparseyMemory(Q=3, K=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="has 15 features.*16"):
        mem.transform(X[:, :15])
    with pytest.raises(ValueError, match="predict needs labels"):
        mem.predict(X)
    with pytest.raises(ValueError, match="unlabelled"):
        mem.partial_fit(X, y=np.arange(4))
    # binarize: X > threshold
    mem = SparseyMemory(Q=3, K=2, binarize=0.25, random_state=0).fit(X * 0.5)
    ref = SparseyMemory(Q=3, K=2, random_state=0).fit(X)
    np.testing.assert_array_equal(mem.codes_, ref.codes_)


def test_codes_helpers():
    assert code_intersection([1, 2, -1, 0], [1, 0, -1, 0]) == 2
    np.testing.assert_array_equal(code_intersection([[0, 1], [1, 1]], [0, 1]), [2, 1])
    bits = codes_to_sparse([[1, 0, -1], [2, 2, 0]], K=3)
    np.testing.assert_array_equal(bits.toarray(), [[0, 1, 0, 1, 0, 0, 0, 0, 0],
                                                   [0, 0, 1, 0, 0, 1, 1, 0, 0]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        codes_to_sparse([[3]], K=3)
    enc = level_encode(np.array([[0.0, 1.0, 8.0, 16.0]]), 4, vmax=16)
    np.testing.assert_array_equal(enc[0].argmax(1)[1:], [0, 1, 3])
    assert enc[0, 0].sum() == 0 and enc.sum() == 3
    with pytest.raises(ValueError, match="non-negative"):
        level_encode([[-1.0]])


# --------------------------------------------------------------------------------------------
# estimator behaviour
# --------------------------------------------------------------------------------------------
@parametrize_with_checks([SparseyMemory(Q=5, K=4, binarize=0.5, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_pickle_round_trip_keeps_learning(tmp_path):
    import pickle

    X = _random_items(np.random.default_rng(3), 30)
    mem = SparseyMemory(Q=8, K=8, random_state=0).fit(X[:20])
    ref = copy.deepcopy(mem).partial_fit(X[20:])
    back = pickle.loads(pickle.dumps(mem)).partial_fit(X[20:])
    np.testing.assert_array_equal(back.codes_, ref.codes_)
    np.testing.assert_array_equal(back.transform(X), ref.transform(X))


def test_reproducible_and_partial_fit_equals_fit():
    X = _random_items(np.random.default_rng(1), 40)
    a = SparseyMemory(Q=10, K=8, random_state=5).fit(X)
    b = SparseyMemory(Q=10, K=8, random_state=5).fit(X)
    c = SparseyMemory(Q=10, K=8, random_state=5).partial_fit(X[:13]).partial_fit(X[13:])
    d = SparseyMemory(Q=10, K=8, random_state=6).fit(X)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    np.testing.assert_array_equal(a.codes_, c.codes_)
    np.testing.assert_array_equal(a.weights_u_, c.weights_u_)
    assert not np.array_equal(a.codes_, d.codes_)
    # fit forgets what was learned before
    a.fit(X)
    np.testing.assert_array_equal(a.codes_, b.codes_)
    assert clone(a).get_params()["Q"] == 10 and not hasattr(clone(a), "codes_")


def test_codes_are_compact_and_silent_for_empty_input():
    X = _random_items(np.random.default_rng(2), 10)
    mem = SparseyMemory(Q=12, K=16, random_state=0).fit(X)
    assert mem.codes_.dtype == np.int32 and mem.codes_.shape == (10, 12)
    assert mem.codes_.min() >= 0 and mem.codes_.max() < 16
    empty = mem.transform(np.zeros((1, 256), np.uint8))
    np.testing.assert_array_equal(empty, -1)
    assert np.isnan(mem.familiarity(np.zeros((1, 256), np.uint8))[0])
    np.testing.assert_allclose(mem.familiarity(X), 1.0)


def test_exact_recall_at_low_load_random_sparse():
    X = _random_items(np.random.default_rng(4), 50)
    mem = SparseyMemory(Q=20, K=20, random_state=0).fit(X)
    overlap = code_intersection(mem.transform(X), mem.codes_) / 20
    assert np.mean(overlap >= 0.95) >= 0.95


def test_exact_recall_at_low_load_digits(digits):
    X, _ = digits
    for seed in range(3):
        items = X[seed * 30:(seed + 1) * 30]
        mem = SparseyMemory(**DIGITS_KW, random_state=seed).fit(items)
        overlap = code_intersection(mem.transform(items), mem.codes_) / mem.Q
        assert np.mean(overlap >= 0.95) >= 0.95, (seed, overlap)


def test_capacity_recall_falls_with_load(digits):
    X, _ = digits
    recall = []
    for n in (50, 200, 800):
        mem = SparseyMemory(**DIGITS_KW, random_state=0).fit(X[:n])
        recall.append(np.mean(code_intersection(mem.transform(X[:n]), mem.codes_) / mem.Q))
    assert recall[0] > 0.98 and recall[0] > recall[1] > recall[2]
    assert recall[2] < 0.6  # far past capacity


def test_similarity_preservation_digits(digits):
    """The code the CSA assigns to a new input overlaps a stored code as much as the inputs do.

    Random pairs (stored digit, probe), where the probe is the stored digit with a random
    fraction of its active units replaced by those of another digit; each probe is learned
    into a copy of the memory (the code the CSA chooses for it).
    """
    from neurosim.sparsey import morph as _morph

    X, _ = digits
    mem = SparseyMemory(**DIGITS_KW, random_state=0).fit(X[:50])
    rng = np.random.default_rng(1)
    n_pairs = 120
    i, j, frac = rng.integers(0, 50, n_pairs), rng.integers(50, 1000, n_pairs), rng.random(n_pairs)
    probes = np.array([_morph(rng, X[a], X[b], f) for a, b, f in zip(i, j, frac)])
    input_overlap = (probes & X[i]).sum(1) / np.sqrt(probes.sum(1) * X[i].sum(1))
    codes = []
    for p in probes:
        m = copy.deepcopy(mem)
        codes.append(m.partial_fit(p[None]).codes_[-1])
    code_overlap = code_intersection(np.array(codes), mem.codes_[i])
    rho = spearmanr(input_overlap, code_overlap).statistic
    assert rho >= 0.8, rho
    # near-identical input: most of the stored code comes back; disjoint-ish: about chance
    assert code_overlap[input_overlap > 0.95].mean() > 0.85 * mem.Q
    assert code_overlap[input_overlap < 0.1].mean() < 0.1 * mem.Q


def test_classification_beats_chance_and_random_projections(digits):
    X, y = digits
    n_train = 500
    Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[1000:], y[1000:]
    mem = SparseyMemory(**DIGITS_KW, random_state=0).fit(Xtr, ytr)
    acc = mem.score(Xte, yte)
    # 1-NN on random projections of the same size: codes of the same format (Q CMs of K cells,
    # winner = largest of K random projections), matched by intersection ...
    R = np.random.default_rng(0).standard_normal((X.shape[1], mem.Q * mem.K))
    rp = lambda Z: (Z @ R).reshape(len(Z), mem.Q, mem.K).argmax(2)  # noqa: E731
    nearest = code_intersection(rp(Xte)[:, None], rp(Xtr)[None]).argmax(1)
    acc_rp_codes = np.mean(ytr[nearest] == yte)
    # ... and Gaussian projections to Q dimensions with Euclidean 1-NN
    G = np.random.default_rng(0).standard_normal((X.shape[1], mem.Q))
    acc_rp_q = KNeighborsClassifier(1).fit(Xtr @ G, ytr).score(Xte @ G, yte)
    assert acc > 0.75  # chance: 0.1
    assert acc > acc_rp_codes + 0.1 and acc > acc_rp_q + 0.1, (acc, acc_rp_codes, acc_rp_q)
    linear = clone(mem).set_params(readout="linear").fit(Xtr, ytr)
    assert linear.score(Xte, yte) > acc


def test_sequences_recalled_in_order(digits):
    X, _ = digits
    mem = SparseyMemory(**DIGITS_KW, random_state=0).fit(X[:100])
    seq_a = X[[300, 301, 302, 303, 304, 305]]
    seq_b = X[[310, 301, 302, 311, 312]]  # shares two elements with seq_a
    mem.learn_sequence(seq_a).learn_sequence(seq_b)
    for first, seq, start in ((seq_a[0], seq_a, 100), (seq_b[0], seq_b, 106)):
        codes = mem.recall_sequence(first, len(seq))
        index, overlap = mem.nearest_stored(codes)
        np.testing.assert_array_equal(index, start + np.arange(len(seq)))
        assert np.all(overlap[1:] == mem.Q)
    # the shared elements got different codes in the two contexts
    assert code_intersection(mem.codes_[101], mem.codes_[107]) < mem.Q // 2


@pytest.mark.parametrize("top_down", [False, True])
def test_sequences_through_a_hierarchy(digits, top_down):
    X, _ = digits
    mem = SparseyMemory(Q=20, K=20, hidden_levels=[Level((2, 2, 1), 10, 20)], match="cosine",
                        input_shape=(8, 8, 4), top_down=top_down, random_state=0).fit(X[:50])
    seq = X[[300, 301, 302, 303]]
    mem.learn_sequence(seq)
    index, overlap = mem.nearest_stored(mem.recall_sequence(seq[0], 4))
    np.testing.assert_array_equal(index, 50 + np.arange(4))
    assert np.all(overlap == 20)
    assert mem.weights_h_.any() and (mem.weights_d_.any() == top_down)


# --------------------------------------------------------------------------------------------
# experiment
# --------------------------------------------------------------------------------------------
def test_experiment_quick():
    from neurosim.experiments import get_experiment

    result = get_experiment("sparsey-digits").run(quick=True, seed=0)
    m = result.metrics
    assert m["similarity_rho"] >= 0.8
    assert m["recall_exact_low_load"] >= 0.95
    assert m["accuracy"] > m["accuracy_rp_codes"] + 0.1 and m["accuracy"] > m["accuracy_rp_q"]
    assert m["accuracy"] > 7 * m["chance"]
    assert m["sequence_recall"] == 1.0
    assert 50 < m["capacity_load"] <= 400
    ds = result.dataset
    assert ds.sizes["load"] == 5 and ds.sizes["pair"] == 100
    np.testing.assert_allclose(ds["accuracy"].sel(classifier="sparsey_nearest"), m["accuracy"])
    assert ds.attrs["summary_similarity_rho"] == m["similarity_rho"]
    assert set(result.figures) == {"similarity", "capacity", "accuracy", "sequences"}
    assert "Spearman" in result.report


def test_experiment_mnist_option(monkeypatch, tmp_path):
    """The MNIST path runs on whatever fetch_mnist returns (here: digits upsampled to 28 x 28)."""
    import neurosim.datasets
    import xarray as xr
    from scipy.ndimage import zoom

    from neurosim.experiments import get_experiment

    d = load_digits()
    big = (zoom(d.images[:400], (1, 3.5, 3.5), order=1) * (255 / 16)).clip(0, 255)

    def fake_fetch_mnist(data_home=None, split="train", *, download=True, **kw):
        assert download is False and data_home == tmp_path
        sl = slice(0, 300) if split == "train" else slice(300, 400)
        return xr.Dataset({"images": (("sample", "height", "width"), big[sl].astype(np.uint8)),
                           "labels": ("sample", d.target[sl])})

    monkeypatch.setattr(neurosim.datasets, "fetch_mnist", fake_fetch_mnist, raising=False)
    tiny = {"n_train": 100, "loads": [25, 50], "n_pairs": 10, "n_sequences": 1, "seq_len": 3,
            "n_background": 10}
    experiment = get_experiment("sparsey-digits")
    result = experiment.run(quick=True, seed=0, data=tmp_path, config=tiny)
    assert result.dataset.attrs["dataset"] == "mnist"
    assert "MNIST (300 training, 100 test images)" in result.report
    assert result.metrics["accuracy"] > 0.6

    def missing(*args, **kwargs):
        raise FileNotFoundError("mnist files missing")

    monkeypatch.setattr(neurosim.datasets, "fetch_mnist", missing)
    with pytest.raises(FileNotFoundError, match="fetch_mnist"):
        experiment.run(quick=True, seed=0, data=tmp_path, config=tiny)
