"""SDR theory (Ahmad & Hawkins 2015/2016): exact formulas, paper anchors and Monte Carlo."""

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import binom, hypergeom

from neurosim.dendrites import (
    false_match_probability,
    false_negative_probability,
    log_comb,
    num_sdrs,
    overlap_set_size,
    simulate_false_match,
    simulate_false_negative,
    simulate_union_false_match,
    threshold_error_summary,
    union_false_match_probability,
)


def _exact_false_match(n, a, s, theta):
    num = sum(math.comb(s, b) * math.comb(n - s, a - b) for b in range(theta, min(s, a) + 1))
    return Fraction(num, math.comb(n, a))


# --------------------------------------------------------------------------------------------
# exactness
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,a,s,theta", [
    (64, 4, 4, 2), (100, 7, 7, 5), (1000, 50, 20, 4), (2048, 40, 20, 10), (10_000, 300, 24, 12),
    (100_000, 2_000, 40, 10), (100_000, 2_000, 30, 1), (50, 40, 30, 25),
])
def test_false_match_equals_integer_arithmetic(n, a, s, theta):
    exact = float(_exact_false_match(n, a, s, theta))
    assert false_match_probability(n, a, s, theta) == pytest.approx(exact, rel=1e-10)


def test_log_comb_matches_math_comb():
    for n, k in [(0, 0), (10, 3), (64, 3), (2048, 40), (100_000, 2_000), (10**6, 17)]:
        assert log_comb(n, k) == pytest.approx(math.log(math.comb(n, k)), rel=1e-11, abs=1e-12)
    assert log_comb(5, 6) == -np.inf and log_comb(5, -1) == -np.inf


def test_large_n_no_overflow_and_log_output():
    # the dense case: C(100000, 50000) ~ 10^30101 overflows any float; the ratio does not
    p = false_match_probability(100_000, 50_000, 50_000, 25_000)
    assert 0.5 < p < 0.51
    # beyond the float range: only the log is representable, and it is finite and exact
    log_p = false_match_probability(100_000, 2_000, 300, 300, log=True)
    exact = _exact_false_match(100_000, 2_000, 300, 300)
    assert np.isfinite(log_p) and log_p < -700
    assert log_p == pytest.approx(math.log(exact.numerator) - math.log(exact.denominator),
                                  rel=1e-11)
    assert false_match_probability(100_000, 2_000, 300, 300) == 0.0
    assert num_sdrs(2048, 40, log=True) == pytest.approx(math.log(math.comb(2048, 40)), rel=1e-13)
    with pytest.raises(OverflowError, match="log=True"):
        num_sdrs(100_000, 2_000)


def test_matches_scipy_hypergeom_and_broadcasts():
    n, a = 10_000, 300
    s = np.arange(2, 40)[:, None]
    theta = np.arange(1, 40)[None, :]
    theta = np.minimum(theta, s)
    p = false_match_probability(n, a, s, theta)
    assert p.shape == (38, 39)
    ref = hypergeom.sf(theta - 1, n, s, a)
    np.testing.assert_allclose(p, ref, rtol=1e-9, atol=0)


def test_overlap_set_sizes_partition_all_sdrs():
    n, a, w = 60, 8, 12
    b = np.arange(0, 13)
    sizes = overlap_set_size(n, a, b, w)
    assert sizes.sum() == pytest.approx(math.comb(n, a), rel=1e-12)
    assert sizes[3] == pytest.approx(math.comb(w, 3) * math.comb(n - w, a - 3), rel=1e-12)
    assert sizes[9] == 0.0  # cannot overlap in more than a bits
    assert overlap_set_size(10, 3, [0, 1, 2, 3]) == pytest.approx([35, 63, 21, 1])


# --------------------------------------------------------------------------------------------
# numeric anchors (reference notes section 3.2: paper notebook and spreadsheet)
# --------------------------------------------------------------------------------------------
def test_table_1b_1c_1d_notebook_values():
    n, a = 100_000, 2_000
    # 1B, theta = s
    np.testing.assert_allclose(
        false_match_probability(n, a, [6, 8, 10], [6, 8, 10]),
        [6.35308872941916e-11, 2.52507239284961e-14, 1.00163216178113e-17], rtol=1e-9)
    # 1C, s = 2 theta
    theta = np.array([6, 8, 10, 12])
    np.testing.assert_allclose(
        false_match_probability(n, a, 2 * theta, theta),
        [5.29386836275369e-8, 2.81724528327272e-10, 1.5419276725872e-12, 8.58694100276592e-15],
        rtol=1e-9)
    # 1D, s = 2 m theta: m patterns stored on one segment
    theta, m = np.array([10, 10, 10, 20]), np.array([2, 4, 6, 6])
    p = false_match_probability(n, a, 2 * m * theta, theta)
    np.testing.assert_allclose(p[:2], [4.91541864813209e-9, 4.62568448037595e-6], rtol=1e-9)
    np.testing.assert_allclose(p[2:], [1.588e-4, 1.080e-7], rtol=1e-3)


def test_other_notebook_and_readme_anchors():
    assert false_match_probability(10_000, 300, 24, 12) == pytest.approx(8.37584522709849e-13,
                                                                         rel=1e-9)
    assert false_match_probability(2_000, 40, 20, 15) == pytest.approx(2.471923309430866e-23,
                                                                       rel=1e-9)
    # "a small subsample can be very reliable": n=10,000, a=300, theta = s/2
    s = np.array([2, 4, 8, 12, 16])
    np.testing.assert_allclose(false_match_probability(10_000, 300, s, s // 2),
                               [0.0591, 5.17e-3, 5.05e-5, 5.50e-7, 6.24e-9], rtol=3e-3)
    # effect of n with a = 64, s = 64, theta = 12
    np.testing.assert_allclose(false_match_probability([300, 500, 1100, 2100], 64, 64, 12),
                               [0.768, 0.0961, 1.62e-4, 2.14e-7], rtol=3e-3)
    # dense control a = n/2 stays near 0.58 for every n; README: 128 of 4000 -> 1.343e-12
    dense = false_match_probability(np.arange(300, 3600, 300), np.arange(150, 1800, 150), 24, 12)
    assert np.all(np.abs(dense - 0.58) < 0.01)
    assert false_match_probability(4000, 128, 24, 12) == pytest.approx(1.343e-12, rel=1e-3)
    np.testing.assert_allclose(false_match_probability(2048, 40, [20, 40], [10, 20]),
                               [3.91e-13, 2.49e-26], rtol=3e-3)


def test_2015_spreadsheet_anchors():
    # basic: 1 / C(n, w)
    np.testing.assert_allclose(1.0 / num_sdrs([64, 64, 64, 512, 1024, 1024], [1, 3, 5, 3, 3, 9]),
                               [1.5625e-2, 2.40e-5, 1.31e-7, 4.50e-8, 5.60e-9, 3.04e-22],
                               rtol=5e-3)
    # inexact match: s = w, a segment onto every bit of the stored pattern
    np.testing.assert_allclose(false_match_probability(64, 4, 4, [4, 3, 2, 1]),
                               [1.574e-6, 3.79e-4, 1.71e-2, 0.233], rtol=5e-3)
    np.testing.assert_allclose(false_match_probability(1024, 20, 20, [20, 17, 14, 10]),
                               [1.82e-42, 3.50e-31, 9.94e-23, 9.33e-14], rtol=5e-3)
    # classification of M stored vectors: the union bound M * fp (README simulation row)
    np.testing.assert_allclose(500 * false_match_probability(100, 7, 7, [4, 5, 6, 7]),
                               [0.144691001, 0.002826477, 2.03654e-5, 3.12352e-8], rtol=3e-6)
    np.testing.assert_allclose(10 * false_match_probability(64, 12, 12, [12, 10, 8]),
                               [3.04e-12, 2.68e-7, 4.23e-4], rtol=5e-3)


def test_union_anchor_notebook():
    # a = 40, n = 4000, theta = 15, segment onto all cells of M patterns
    # (the notebook prints 1.0263e-2 at M = 23 with a non-integer union size; both roundings of
    # the size are within 0.7 % of it)
    for rounding in ("nearest", "floor"):
        p = union_false_match_probability(4000, 40, 15, [1, 23], method="expected",
                                          rounding=rounding)
        np.testing.assert_allclose(p, [1.745e-21, 1.0263e-2], rtol=7e-3)
    # one stored pattern: both methods are the plain segment formula
    for method in ("exact", "expected"):
        assert union_false_match_probability(1000, 30, 5, 1, 12, method=method) == pytest.approx(
            false_match_probability(1000, 30, 12, 5), rel=1e-12)


# The curve printed by the reference script of the paper's union figure (htmresearch
# projects/sdr_paper/sdr_paper_unions.py, errorsN10000: n = 10,000, a = 200, theta = 15, s = 25,
# M = 1..19), copied from the script.
SCRIPT_UNION_N10000 = [
    5.30352419025194e-20, 2.35602184920806e-14, 1.53934243906984e-11, 1.10302867119927e-9,
    2.27921915526762e-8, 2.69253218125502e-7, 1.98072351729197e-6, 9.75307801058064e-6,
    3.98373263650013e-5, 0.000127080441383853, 0.000362630253250421, 0.000874610762751977,
    0.00190208641223641, 0.00378812896412743, 0.00716447200395456, 0.0123542384410630,
    0.0201165770143612, 0.0311403472140338, 0.0453789479134073]


def _union_expected_exact(n, a, theta, s, m, rounding):
    """The "expected" union formula in exact integer arithmetic (math.comb, Fraction)."""
    from fractions import Fraction
    from math import comb, floor

    size = (1 - Fraction(n - s, n) ** m) * n
    s_u = floor(size + Fraction(1, 2)) if rounding == "nearest" else floor(size)
    hits = sum(comb(s_u, b) * comb(n - s_u, a - b) for b in range(theta, min(s_u, a) + 1))
    return float(Fraction(hits, comb(n, a)))


def test_union_expected_reference_script_curve():
    m = np.arange(1, 20)
    p = union_false_match_probability(10_000, 200, 15, m, 25, method="expected")
    np.testing.assert_allclose(p, SCRIPT_UNION_N10000, rtol=1e-6)
    exact = [_union_expected_exact(10_000, 200, 15, 25, int(k), "nearest") for k in m]
    np.testing.assert_allclose(p, exact, rtol=1e-9)
    # the notebook's variant rounds down: exact too, and up to 29 % below the script's curve
    low = union_false_match_probability(10_000, 200, 15, m, 25, method="expected",
                                        rounding="floor")
    exact_low = [_union_expected_exact(10_000, 200, 15, 25, int(k), "floor") for k in m]
    np.testing.assert_allclose(low, exact_low, rtol=1e-9)
    assert low[1] == pytest.approx(1.6783907e-14, rel=1e-6)
    ratio = low / p
    assert np.all(ratio <= 1.0) and ratio.min() == pytest.approx(0.7124, abs=1e-3)
    # the notebook's example: 1.0263e-2 there (non-integer size), 1.0316e-2 / 1.0200e-2 here
    ex = union_false_match_probability(4000, 40, 15, 23, method="expected")
    ex_low = union_false_match_probability(4000, 40, 15, 23, method="expected", rounding="floor")
    assert ex == pytest.approx(1.0316282e-2, rel=1e-6)
    assert ex_low == pytest.approx(1.0200307e-2, rel=1e-6)
    # rounding is ignored by the exact method, and checked
    assert union_false_match_probability(2000, 40, 10, 3, 20, rounding="floor") == \
        union_false_match_probability(2000, 40, 10, 3, 20)
    with pytest.raises(ValueError, match="rounding must be 'nearest' or 'floor', got 'up'"):
        union_false_match_probability(2000, 40, 10, 3, 20, method="expected", rounding="up")


def test_noise_anchors():
    # a = 128, s = 30, P(false negative) at noise fraction v / 128
    np.testing.assert_allclose(
        false_negative_probability(128, 30, [8, 8, 12, 16], [32, 64, 64, 64]),
        [2.23e-12, 7.35e-4, 0.0717, 0.5825], rtol=3e-3)
    # "theta = 12 at 30 % noise: 1.09e-5 predicted"
    assert false_negative_probability(128, 30, 12, round(0.3 * 128)) == pytest.approx(1.09e-5,
                                                                                      rel=5e-3)
    assert false_negative_probability(128, 30, 12, 0) == 0.0
    assert false_negative_probability(128, 30, 30, 1) == pytest.approx(30 / 128, rel=1e-12)


def test_nmda_threshold_medians():
    theta = [3, 4, 5, 6, 7, 8, 9, 10, 12]
    expected = [1.73e-2, 1.99e-3, 1.71e-4, 1.2e-5, 6.57e-7, 3.33e-8, 1.35e-9, 4.80e-11, 3.41e-14]
    np.testing.assert_allclose(threshold_error_summary(theta), expected, rtol=5e-3)
    mean = threshold_error_summary(theta, statistic="mean")
    assert np.all(mean >= threshold_error_summary(theta))


# --------------------------------------------------------------------------------------------
# trends the paper states
# --------------------------------------------------------------------------------------------
def test_trends():
    # the paper's effect of n (its figure): a fixed number of active cells, n grows -> falls
    n = np.arange(300, 20_001, 100)
    for a in (64, 128, 256):
        p_n = false_match_probability(n[n >= 2 * a], a, 24, 12)
        assert np.all(np.diff(p_n) < 0)
    # at a fixed fraction a / n the error does NOT fall with n: it rises slowly to the binomial
    # limit (sparsity 2 %, s = 24, theta = 12), far below the dense a = n / 2 control
    n = np.arange(5000, 100_001, 5000)
    p_frac = false_match_probability(n, n // 50, 24, 12)
    limit = float(binom.sf(11, 24, 0.02))
    assert np.all(np.diff(p_frac) > 0) and np.all(p_frac < limit)
    assert p_frac[-1] == pytest.approx(limit, rel=0.05)
    p_m = union_false_match_probability(4000, 40, 15, np.arange(1, 60), method="expected")
    assert np.all(np.diff(p_m) > 0)
    p_m_exact = union_false_match_probability(2000, 40, 10, np.arange(1, 15), 20)
    assert np.all(np.diff(p_m_exact) > 0)
    p_theta = false_match_probability(10_000, 200, 40, np.arange(1, 41))
    assert np.all(np.diff(p_theta) < 0)
    p_s = false_match_probability(10_000, 200, np.arange(10, 200), 10)
    assert np.all(np.diff(p_s) > 0)
    p_v = false_negative_probability(128, 30, 12, np.arange(0, 129))
    assert np.all(np.diff(p_v) >= -1e-12) and p_v[-1] == 1.0 and p_v[60] < p_v[90] < p_v[120]
    # the NMDA-threshold prediction: each extra synapse of threshold buys about an order of magnitude
    med = threshold_error_summary(np.arange(3, 21))
    assert np.all(np.diff(np.log10(med)) < -0.9)


# --------------------------------------------------------------------------------------------
# theory vs Monte Carlo: within 3 standard errors over a grid
# --------------------------------------------------------------------------------------------
GRID = [(n, a, s, theta) for n in (200, 1000) for a in (10, 40) for s in (8, 24)
        for theta in (2, 4) if a <= n]


def test_false_match_monte_carlo_grid():
    rng = np.random.default_rng(0)
    n_trials = 40_000
    for n, a, s, theta in GRID:
        p = false_match_probability(n, a, s, theta)
        mc = simulate_false_match(n, a, s, theta, n_trials=n_trials, random_state=rng)
        se = math.sqrt(p * (1 - p) / n_trials)
        assert abs(mc.probability - p) <= 3 * se + 1e-12, (n, a, s, theta, p, mc)


@pytest.mark.parametrize("n,a,theta,m,s", [(500, 20, 4, 5, 8), (300, 30, 5, 4, 10),
                                           (4000, 40, 6, 20, None), (1000, 25, 3, 2, 15)])
def test_union_monte_carlo(n, a, theta, m, s):
    n_trials = 40_000
    p = union_false_match_probability(n, a, theta, m, s)
    mc = simulate_union_false_match(n, a, theta, m, s, n_trials=n_trials, random_state=1)
    assert abs(mc.probability - p) <= 3 * math.sqrt(p * (1 - p) / n_trials)


@pytest.mark.parametrize("a,s,theta,v", [(128, 30, 12, 64), (40, 10, 6, 20), (60, 20, 10, 30),
                                         (128, 30, 16, 50)])
def test_false_negative_monte_carlo(a, s, theta, v):
    n_trials = 40_000
    p = false_negative_probability(a, s, theta, v)
    mc = simulate_false_negative(a, s, theta, v, n_trials=n_trials, random_state=2)
    assert abs(mc.probability - p) <= 3 * math.sqrt(p * (1 - p) / n_trials)
    assert mc.standard_error == pytest.approx(
        math.sqrt(mc.probability * (1 - mc.probability) / n_trials))


def test_monte_carlo_is_seeded():
    r1 = simulate_false_match(300, 30, 10, 3, n_trials=5000, random_state=7)
    r2 = simulate_false_match(300, 30, 10, 3, n_trials=5000, random_state=7)
    r3 = simulate_false_match(300, 30, 10, 3, n_trials=5000, random_state=8)
    assert r1 == r2 and r1 != r3
    assert r1.n_trials == 5000 and r1.n_events == round(r1.probability * 5000)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,exc,match", [
    ((100, 10, 5, 6), ValueError, "theta must be <= s"),
    ((100, 101, 5, 3), ValueError, "a must be <= n"),
    ((100, 10, 101, 3), ValueError, "s must be <= n"),
    ((-5, 10, 5, 3), ValueError, "n must be >= 1"),
    ((100, -1, 5, 3), ValueError, "a must be >= 0"),
    ((100, 10, 5, 0), ValueError, "theta must be >= 1"),
    ((100, 10.5, 5, 3), ValueError, "a must hold whole numbers"),
    ((100, 10, 5, "3"), TypeError, "theta must be an integer"),
    ((True, 10, 5, 3), TypeError, "n must be an integer"),
])
def test_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        false_match_probability(*args)


def test_bad_input_other_functions():
    assert false_match_probability(1e5, 2e3, 10, 10) == pytest.approx(1.00163216178113e-17)
    with pytest.raises(ValueError, match="v must be <= a"):
        false_negative_probability(10, 5, 3, 11)
    with pytest.raises(ValueError, match="s must be <= a"):
        false_negative_probability(10, 11, 3, 1)
    with pytest.raises(ValueError, match="m must be >= 1"):
        union_false_match_probability(100, 10, 3, 0)
    with pytest.raises(ValueError, match="method must be"):
        union_false_match_probability(100, 10, 3, 2, method="approx")
    with pytest.raises(ValueError, match="statistic must be"):
        threshold_error_summary([3], statistic="mode")
    with pytest.raises(ValueError, match="theta must be <= min"):
        threshold_error_summary([25])
    with pytest.raises(ValueError, match="sparsity"):
        threshold_error_summary([3], sparsity=[0.0])
    with pytest.raises(ValueError, match="theta must be <= s"):
        simulate_false_match(100, 10, 5, 6, n_trials=10)
    with pytest.raises(ValueError, match="single integer"):
        simulate_false_match([100, 200], 10, 5, 3, n_trials=10)
    with pytest.raises(ValueError, match="n_trials must be >= 1"):
        simulate_false_negative(10, 5, 3, 2, n_trials=0)
    with pytest.raises(TypeError, match="random_state"):
        simulate_false_match(100, 10, 5, 3, n_trials=10, random_state="seed")


# --------------------------------------------------------------------------------------------
# packaging
# --------------------------------------------------------------------------------------------
def test_theory_imports_neither_torch_nor_numba():
    code = ("import sys\nimport neurosim.dendrites.theory as t\n"
            "t.false_match_probability(100, 10, 5, 3)\n"
            "bad = [m for m in ('torch', 'numba', 'xarray', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    code = code.replace("neurosim.dendrites.theory", "neurosim.dendrites")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
