"""
Sparsey: one-shot episodic memory of handwritten digits
=======================================================

Sparsey (Rinkus 2014, 2017) stores every input in one presentation as a sparse distributed code:
one winning cell in each of the ``Q`` competitive modules (CMs) of a macrocolumn. Its Code
Selection Algorithm (CSA) makes the choice noisy for novel inputs and deterministic for familiar
ones, so that similar inputs get overlapping codes.

This example walks through one step of the CSA, then stores scikit-learn's digits in a
:class:`~neurosim.sparsey.SparseyMemory`, checks that input similarity maps to code similarity,
classifies held-out digits, and stores and replays a sequence.
"""

# %%
# One step of the CSA
# -------------------
# A mac of ``Q = 6`` CMs of ``K = 4`` cells has stored one code for one input. Presenting inputs
# that share more and more of that input's active units raises the global familiarity ``G``, the
# expansivity ``eta`` and with it the probability that each CM picks the stored cell again.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from neurosim.sparsey import (
    SparseyMemory,
    code_intersection,
    csa_step,
    hebbian_update,
    level_encode,
)

Q, K = 6, 4
weights = np.zeros((40, Q * K), np.uint8)
stored_input = np.arange(10)  # active afferents of the stored input
stored_code = np.array([0, 3, 1, 2, 0, 1])
hebbian_update(weights, stored_input, stored_code, K)

rng = np.random.default_rng(0)
shared = np.arange(11)
G, eta, p_stored = [], [], []
for n_shared in shared:
    active = np.concatenate([stored_input[:n_shared], 20 + np.arange(10 - n_shared)])
    step = csa_step(Q, K, u_active=active, u_weights=weights, random_state=rng)
    G.append(step.G)
    eta.append(step.eta)
    p_stored.append(step.rho[np.arange(Q), stored_code].mean())

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(shared / 10, G, "o-", label="global familiarity G")
ax.plot(shared / 10, p_stored, "s-", label="P(stored cell wins) per CM")
ax.axhline(1 / K, color="0.6", ls=":", label="chance (1 / K)")
ax.set_xlabel("fraction of the stored input present")
ax.set_ylim(0, 1.05)
ax.legend()
ax.set_title("Noise in the code choice shrinks as familiarity grows")
print("eta:", np.round(eta, 1))

# %%
# Store digits, one presentation each
# -----------------------------------
# Sparsey needs sparse binary inputs: :func:`~neurosim.sparsey.level_encode` turns each pixel's
# grey level (0-16) into one of 4 binary units, zero pixels silent (256 inputs, about 33 on).
# The memory is one mac of 40 CMs x 100 cells. ``match="cosine"`` normalises each cell's input
# by the number of inputs it has learned, which keeps these fairly dense inputs from collapsing
# onto a few cells (see the docs page). Exact recall holds at low load and fails as the mac fills
# up (about 100 digits here), but the codes still classify.
digits = load_digits()
order = np.random.default_rng(0).permutation(len(digits.target))
images, y = digits.images[order], digits.target[order]
X = level_encode(images, 4, vmax=16).reshape(len(y), -1)

# the settings of the sparsey-digits experiment, not Sparsey's reference ones (see the docs)
mem = SparseyMemory(Q=40, K=100, match="cosine", g_min=0.0, gamma=1.0, sigmoid_slope=20.0,
                    sigmoid_center=0.75, exponent_u=1.0, input_shape=(8, 8, 4), random_state=0)
mem.fit(X[:500], y[:500])
print("codes:", mem.codes_.shape, mem.codes_.dtype)
for n in (50, 500):
    m = mem if n == 500 else SparseyMemory(**mem.get_params()).fit(X[:n])
    recalled = code_intersection(m.transform(X[:n]), m.codes_[:n]) / m.Q
    print(f"{n} digits stored: {np.mean(recalled >= 0.95):.2f} of them retrieved with >= 95% of "
          f"their code (mean {recalled.mean():.2f})")

# %%
# Similar inputs, similar codes
# -----------------------------
# Probes are stored digits with a random fraction of their active units moved onto another
# digit's. Each probe is learned into a copy of a memory of 50 digits; the code the CSA chooses
# for it overlaps the stored digit's code about as much as the inputs overlap.
import copy  # noqa: E402

from scipy.stats import spearmanr  # noqa: E402

small = SparseyMemory(**mem.get_params()).fit(X[:50])
in_ov, code_ov = [], []
for _ in range(80):
    a, b, keep = rng.integers(0, 50), rng.integers(50, 1000), rng.random()
    on, other = np.flatnonzero(X[a]), np.flatnonzero(X[b] & (1 - X[a]))
    probe = np.zeros_like(X[a])
    n_keep = int(round(keep * on.size))
    probe[rng.choice(on, n_keep, replace=False)] = 1
    probe[rng.choice(other, min(on.size - n_keep, other.size), replace=False)] = 1
    code = copy.deepcopy(small).partial_fit(probe[None]).codes_[-1]
    in_ov.append((probe & X[a]).sum() / np.sqrt(probe.sum() * X[a].sum()))
    code_ov.append(code_intersection(code, small.codes_[a]) / small.Q)
rho = spearmanr(in_ov, code_ov).statistic

fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
ax.scatter(in_ov, code_ov, s=15)
ax.plot([0, 1], [0, 1], "k:", lw=1)
ax.set_xlabel("input overlap (cosine)")
ax.set_ylabel("code overlap (intersection / Q)")
ax.set_title(f"Similarity preservation, Spearman rho = {rho:.2f}")

# %%
# Classify held-out digits
# ------------------------
# ``predict`` retrieves the code of each test digit (no learning, no noise) and returns the
# label of the stored digit whose code it intersects most.
acc = mem.score(X[1000:], y[1000:])
print(f"accuracy on {len(y) - 1000} held-out digits: {acc:.3f} (chance 0.1)")

# %%
# Store a sequence and replay it
# ------------------------------
# In a sequence each code also depends on the previous one (horizontal weights), so presenting
# the first digit replays the whole chain.
seq = np.arange(1000, 1006)
mem.learn_sequence(X[seq], y[seq])
index, overlap = mem.nearest_stored(mem.recall_sequence(X[seq[0]], len(seq)))
stored_images = np.concatenate([images[:500], images[seq]])
fig, axes = plt.subplots(2, len(seq), figsize=(1.2 * len(seq), 2.8), layout="constrained")
for t in range(len(seq)):
    axes[0, t].imshow(images[seq[t]], cmap="gray_r")
    axes[1, t].imshow(stored_images[index[t]], cmap="gray_r")
    for ax in axes[:, t]:
        ax.set_axis_off()
axes[0, 0].set_title("stored", loc="left", fontsize="small")
axes[1, 0].set_title("replayed", loc="left", fontsize="small")
print("replayed items:", index - 500, "overlap with their codes:", overlap)
plt.show()
