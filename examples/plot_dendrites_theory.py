"""
How reliable is a dendritic segment? The SDR theory, exact and simulated
========================================================================

A dendritic segment with ``s`` synapses onto a population of ``n`` cells fires an NMDA spike when
at least ``theta`` of them are active. Ahmad & Hawkins (2016) count exactly how often a random
sparse pattern of ``a`` active cells triggers it by chance (a *false match*), how that error
depends on ``s``, ``n`` and ``theta``, how many patterns one segment can store (the *union
property*) and how much noise it tolerates. This example evaluates those formulas with
:mod:`neurosim.dendrites.theory` -- exactly, in log space -- and checks them by Monte Carlo.
"""

# %%
# One segment, exactly
# --------------------
# :func:`~neurosim.dendrites.false_match_probability` is the hypergeometric tail
# :math:`\sum_{b \ge \theta} \binom{s}{b}\binom{n-s}{a-b} / \binom{n}{a}`. It is exact even for
# ``n = 100,000`` (Table 1 of the paper) and broadcasts like a numpy function.
import matplotlib.pyplot as plt
import numpy as np

from neurosim.dendrites import (
    false_match_probability,
    false_negative_probability,
    simulate_false_match,
    threshold_error_summary,
    union_false_match_probability,
)

theta = np.array([6, 8, 10, 12])
print("Table 1C (n=100,000, a=2,000, s=2 theta):",
      false_match_probability(100_000, 2_000, 2 * theta, theta))

# %%
# Error against synapses, population size and threshold
# -----------------------------------------------------
# Sparse patterns make false matches astronomically rare with a handful of synapses; the error
# falls steeply as the population grows at a fixed number of active cells, but not when half the
# cells are active (dense codes). Raising ``theta`` lowers false matches but makes a segment miss
# its own pattern under noise: the two errors cross near the thresholds measured for NMDA spikes.
s = np.arange(2, 41, 2)
n = np.arange(300, 20_001, 100)
thetas = np.arange(3, 21)

fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
axes[0].semilogy(s, false_match_probability(10_000, 300, s, s // 2), "o-", ms=3)
axes[0].set(xlabel="synapses s (theta = s/2)", ylabel="P(false match)",
            title="n = 10,000, a = 300")
for a in (64, 128, 256):
    axes[1].semilogy(n[n >= a], false_match_probability(n[n >= a], a, 24, 12), label=f"a = {a}")
axes[1].semilogy(n, false_match_probability(n, n // 2, 24, 12), "k--", label="a = n/2")
axes[1].set(xlabel="population n", ylabel="P(false match)", title="s = 24, theta = 12")
axes[1].legend()
axes[2].semilogy(thetas, threshold_error_summary(thetas), "o-", label="false match (median)")
axes[2].semilogy(thetas, false_negative_probability(128, 30, thetas, 64), "s-",
                 label="false negative, 50% noise")
axes[2].set(xlabel="threshold theta", ylabel="error", title="The NMDA-threshold trade-off")
axes[2].legend()
plt.show()

# %%
# The union property
# ------------------
# One segment can hold synapses for many patterns: with ``M`` patterns of 40 active cells out of
# 4,000 and ``theta = 15``, a random pattern still almost never matches until M is about 20.
m = np.arange(1, 41)
p_union = union_false_match_probability(4000, 40, 15, m, method="expected")
print("M = 1, 10, 23:", p_union[[0, 9, 22]])

# %%
# Theory against simulation
# -------------------------
# :func:`~neurosim.dendrites.simulate_false_match` draws random segments and patterns (numba).
# The estimates fall within a few standard errors of the exact values.
cases = [(200, 20, 10, t) for t in (2, 3, 4, 5)] + [(1000, 64, 24, t) for t in (3, 4, 5, 6)]
exact = np.array([false_match_probability(*c) for c in cases])
mc = [simulate_false_match(*c, n_trials=50_000, random_state=i) for i, c in enumerate(cases)]
est = np.array([r.probability for r in mc])
se = np.array([r.standard_error for r in mc])
print("z-scores:", np.round((est - exact) / np.sqrt(exact * (1 - exact) / 50_000), 2))

fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
ax.errorbar(exact, est, yerr=3 * se, fmt="o", capsize=2, label="Monte Carlo, 3 s.e.")
ax.plot([1e-4, 1], [1e-4, 1], "k--", lw=1, label="exact")
ax.set(xscale="log", yscale="log", xlabel="exact probability", ylabel="simulated probability")
ax.legend()
plt.show()
