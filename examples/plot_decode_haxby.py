"""
Decoding object categories from real fMRI (Haxby et al. 2001), run by run
=========================================================================

Haxby et al. (2001) showed eight categories of objects (faces, houses, cats, bottles, scissors,
shoes, chairs, scrambled pictures) in 24-s blocks, 12 runs, and decoded the category from the
pattern of ventral temporal cortex. The analysis a user writes with neurosim is the one nilearn
users know: read the data, detrend and z-score each run, drop the rest volumes, cross-validate by
leaving one run out, and test against labels shuffled within runs.

The real recordings (subject 1, the one-slice version distributed with PyMVPA) are read from
``$NEUROSIM_REALDATA/haxby2001`` when that folder exists; otherwise a simulated block design with
the same structure (:func:`neurosim.datasets.make_fmri_blocks`) stands in.
"""

# %%
# The analysis in ten lines
# -------------------------
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from neurosim.datasets import load_haxby, make_fmri_blocks
from neurosim.decoding import (
    CorrelationClassifier,
    FMRIClassifier,
    TorchRidgeClassifierCV,
    leave_one_run_out,
)
from neurosim.decoding.preprocessing import clean_runs
from sklearn.model_selection import LeaveOneGroupOut
from threadpoolctl import threadpool_limits

torch.set_num_threads(1)  # tiny models: one thread for torch and BLAS is fastest
threadpool_limits(1)
# the real recordings: $NEUROSIM_REALDATA, else a shared/realdata folder found above this folder
here = Path.cwd().resolve()
default = next((p / "shared" / "realdata" for p in (here, *here.parents)
                if (p / "shared" / "realdata").is_dir()), here / "realdata")
folder = Path(os.environ.get("NEUROSIM_REALDATA", default)) / "haxby2001"
ds = load_haxby(folder) if folder.is_dir() else make_fmri_blocks(n_voxels=530, random_state=0)
X = clean_runs(ds.bold, ds.run)                      # detrend + z-score within each run
task = ds.label.values != "rest"
X, y, runs = X.values[task], ds.label.values[task], ds.run.values[task]

correlation = leave_one_run_out(CorrelationClassifier(), X, y, runs, n_permutations=99)
ridge = leave_one_run_out(TorchRidgeClassifierCV(cv=LeaveOneGroupOut(), device="cpu"), X, y, runs)
print(f"{ds.attrs['layout']} data: {X.shape[0]} volumes x {X.shape[1]} voxels, 8 categories")
print(f"correlation classifier: {correlation['accuracy']:.3f} (p = {correlation['pvalue']:.3f})")
print(f"ridge, penalty chosen by run: {ridge['accuracy']:.3f}")

# %%
# A torch decoder through the Trainer
# -----------------------------------
# :class:`~neurosim.decoding.FMRIClassifier` puts a linear head on a MindBridge subject embedder
# (adaptive max pooling to 256 values, a low-rank adapter, a 64-wide layer) and trains it with
# cross-entropy through the :class:`~neurosim.decoding.Trainer`; it is a scikit-learn classifier,
# so the same protocol applies. ``neurosim run decode-haxby --data FOLDER`` adds its permutation
# test (the whole leave-one-run-out refitted on 20 shufflings of the labels within runs).
deep = leave_one_run_out(FMRIClassifier("mindbridge", epochs=15, device="cpu"), X, y, runs)
print(f"MindBridge embedder + linear head: {deep['accuracy']:.3f}")

# %%
# Accuracy run by run
# -------------------
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for name, res, color in [("correlation", correlation, "tab:gray"), ("ridge", ridge, "tab:blue"),
                         ("MindBridge embedder", deep, "tab:red")]:
    ax.plot(np.unique(runs), res["fold_accuracy"], "o-", color=color,
            label=f"{name}: {res['accuracy']:.2f}")
ax.axhline(1 / 8, color="k", ls=":", label="chance")
ax.set_xlabel("held-out run")
ax.set_ylabel("accuracy")
ax.set_ylim(0, 1)
ax.legend(fontsize="small")

# %%
# The null distribution of the correlation classifier
# ---------------------------------------------------
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.hist(correlation["permutation_scores"], bins=15, color="0.6",
        label="labels shuffled within runs")
ax.axvline(correlation["accuracy"], color="tab:red", label="true labels")
ax.set_xlabel("leave-one-run-out accuracy")
ax.legend(fontsize="small")
