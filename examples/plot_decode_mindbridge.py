"""
MindBridge: one decoder for several subjects, and reset-tuning for a new one
============================================================================

MindBridge (Wang et al., CVPR 2024) decodes the fMRI of several subjects with one model: each
subject's voxel vector, whose length differs between subjects, is aggregated to a fixed size by
adaptive max pooling, mapped into a shared space by a small per-subject *embedder*, and decoded by a
translator and heads shared by all subjects. A new subject is added by *reset-tuning*: a fresh
embedder (and builder) is trained on a little of its data while everything else stays frozen.

Here we simulate five NSD-like subjects with :func:`neurosim.datasets.make_fmri_visual`, train a
bridge on four of them, and compare reset-tuning on the fifth with a model trained from scratch on
the same number of its trials.
"""

# %%
# Simulated data: five subjects, different voxel counts, one shared stimulus set
# -------------------------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from neurosim.datasets import make_fmri_visual
from neurosim.decoding import MindBridge, reset_tuning_curve

data = make_fmri_visual(n_subjects=5, random_state=0)
for name, ds in data.items():
    print(name, dict(ds.betas.sizes), "test stimuli:", int(ds.shared.sum()))

# %%
# Adaptive max pooling maps every subject to the same length
# -----------------------------------------------------------
# The pooled vector keeps the strongest response in each window of neighbouring voxels.
model = MindBridge(list(data), {s: ds.sizes["voxel"] for s, ds in data.items()},
                   pool_size=256, hidden_dim=128, adapter_rank=8, n_blocks=2,
                   heads={"image": (64,)})
x = data["subj01"].betas.values[:1]
pooled = model.pool(x, "subj01").numpy()
fig, ax = plt.subplots(figsize=(8, 2.5), layout="constrained")
ax.plot(np.linspace(0, 1, x.shape[1]), x[0], lw=0.5, color="0.6",
        label=f"{x.shape[1]} voxels")
ax.plot(np.linspace(0, 1, pooled.shape[1]), pooled[0], lw=1, color="tab:red",
        label=f"adaptive max pool to {pooled.shape[1]}")
ax.set_xlabel("relative voxel position")
ax.set_ylabel("beta (%)")
ax.legend(fontsize="small")

# %%
# Bridge on four subjects, reset-tuning on the fifth
# ---------------------------------------------------
# Both target models get the same number of optimisation steps; the reset-tuned one also sees
# batches of the source subjects (the cycle loss synthesises target fMRI from them).
curve, bridge = reset_tuning_curve(
    data, ["subj01", "subj02", "subj03", "subj04"], "subj05", [30, 90, 300],
    model_kwargs={"pool_size": 256, "hidden_dim": 128, "adapter_rank": 8, "n_blocks": 2},
    bridge_epochs=10, adapt_steps=150, lr=2e-3, random_state=0, device="cpu")
print(curve["top1_forward"].to_pandas())

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for method, color in [("reset_tuning", "tab:blue"), ("from_scratch", "tab:gray")]:
    ax.plot(curve.budget, curve["top1_forward"].sel(training=method), "o-", color=color,
            label=method.replace("_", " "))
ax.axhline(curve.attrs["chance_top1"], color="k", ls=":", label="chance")
ax.set_xscale("log")
ax.minorticks_off()
ax.set_xticks(curve.budget.values, [str(b) for b in curve.budget.values])
ax.set_xlabel("trials of the new subject")
ax.set_ylabel("top-1 retrieval among 100 test stimuli")
ax.legend()

# %%
# Plugging an image generator onto the predicted embeddings
# ----------------------------------------------------------
# MindBridge reconstructs images with a diffusion model conditioned on the predicted CLIP tokens
# (Versatile Diffusion in the paper). neurosim does not ship one: :meth:`MindBridge.generate`
# hands the predictions, as ``<head>_embeds`` tensors, to any callable you pass. With the paper's
# heads (``{"image": (257, 768), "text": (77, 768)}``) a wrapper around
# ``diffusers.VersatileDiffusionDualGuidedPipeline`` would receive ``image_embeds`` and
# ``text_embeds``. Here the callable only reports what it would receive.


def my_generator(image_embeds):
    return f"would generate {len(image_embeds)} images from embeddings {tuple(image_embeds.shape)}"


ds = data["subj01"]
shared_trials = ds.shared.values[ds.stimulus.values]
print(bridge.generate(ds.betas.values[shared_trials][:4], "subj01", my_generator))
