"""
BrainFLORA: retrieving the seen image from EEG
==============================================

BrainFLORA (2025) maps EEG, MEG and fMRI into the embedding space of the images a subject viewed,
with one tower per modality (a multi-granularity patch transformer, a convolutional patch
embedding and a projection head) trained with a contrastive CLIP loss. This example trains the EEG
tower on simulated THINGS-EEG2-like data and evaluates it as the paper does: for each test image,
is its embedding closer to the prediction than those of k - 1 random other images?
"""

# %%
# Simulated THINGS-EEG2-like data
# -------------------------------
# :func:`neurosim.datasets.make_eeg_things` simulates 17-channel, 100 Hz single trials evoked by
# images whose embeddings (the targets) drive the amplitudes of four evoked components.
# :func:`~neurosim.decoding.prepare_retrieval_data` z-scores the channels with the training data
# and averages the test repetitions, as in the paper.
import matplotlib.pyplot as plt
import numpy as np
from neurosim.datasets import make_eeg_things
from neurosim.decoding import (
    BrainFLORA,
    TorchRidgeCV,
    Trainer,
    metrics,
    prepare_retrieval_data,
    round_robin_batches,
)

eeg = prepare_retrieval_data("eeg", make_eeg_things(n_subjects=1, split="train", random_state=0),
                             make_eeg_things(n_subjects=1, split="test", random_state=0))
train, test = eeg["train"], eeg["test"]
print(f"train {train['x'].shape}, test {test['x'].shape}, embeddings {train['y'].shape[1]}-d")

# %%
# The paper's tower and a CPU-sized one
# -------------------------------------
# ``BrainFLORA.from_config("paper")`` builds the official towers; its EEG Medformer encoder has the
# official 1,347,232 parameters. ``"small"`` is the same architecture at CPU size, trained with
# the normalised CLIP loss (the paper's is the raw-temperature one).
paper = BrainFLORA.from_config("paper", input_shapes={"eeg": (63, 250)})
print("paper EEG encoder:", sum(p.numel() for p in paper.towers["eeg"].encoder.parameters()))

# %%
# Train the EEG tower with the CLIP loss
# --------------------------------------
model = BrainFLORA.from_config("small", input_shapes={"eeg": train["x"].shape[1:]},
                               embed_dim=train["y"].shape[1], random_state=0)
batches = round_robin_batches({"eeg": (train["x"], train["y"])}, batch_size=32)
trainer = Trainer(max_epochs=10, lr=2e-3, random_state=0).fit(model, batches)
pred = model.predict(test["x"], "eeg")

# %%
# A ridge regression from the flattened trial to the embedding is the linear baseline.
ridge = TorchRidgeCV(alphas=np.logspace(0, 6, 13), alpha_per_target=False)
ridge.fit(train["x"].reshape(len(train["x"]), -1), train["y"])
pred_ridge = ridge.predict(test["x"].reshape(len(test["x"]), -1))

# %%
# k-way retrieval
# ---------------
ks = [2, 4, 10, len(test["y"])]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name, p in (("BrainFLORA", pred), ("ridge", pred_ridge)):
    acc = [metrics.retrieval_accuracy(p, test["y"], k_way=k, n_draws=20, random_state=0) for k in ks]
    ax1.plot(ks, np.array(acc) * 100, "o-", label=name)
    print(name, {k: round(a, 2) for k, a in zip(ks, acc)})
ax1.plot(ks, 100 / np.array(ks), "k--", label="chance")
ax1.set(xscale="log", xlabel="k (candidates)", ylabel="top-1 retrieval (%)", xticks=ks,
        xticklabels=ks)
ax1.legend()
sim = metrics.cosine_similarity(pred, test["y"], pairwise=True)
im = ax2.imshow(sim, cmap="RdBu_r", vmin=-1, vmax=1)
ax2.set(xlabel="test image (target)", ylabel="test image (EEG prediction)",
        title="cosine similarity")
fig.colorbar(im, ax=ax2)

# %%
# The diagonal of the similarity matrix is the true image of each prediction. The experiment
# ``neurosim run decode-brainflora`` trains the EEG, MEG and fMRI towers together with round-robin
# batches, then the unified mixture-of-experts projector on frozen towers.
plt.show()
