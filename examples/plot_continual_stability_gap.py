"""
Continual learning: forgetting, consolidation and the stability gap
===================================================================

A small network learns a sequence of tasks built from scikit-learn's 8x8 digits. Plain
fine-tuning forgets the old tasks; the fast/slow-weight learner (after Wang et al. 2021)
consolidates what it learned into slow weights and forgets much less. Evaluating every learner
on every task *after every iteration* (De Lange et al. 2023) shows what the usual end-of-task
evaluation hides: even experience replay, which ends up forgetting little, loses accuracy on old
tasks for a while each time a new task starts -- the stability gap.
"""

# %%
# Permuted digits: fine-tuning vs fast/slow weights
# -------------------------------------------------
# Each task shows the same digits with its own fixed permutation of the 64 pixels. Every
# learner is an MLP (64-100-10) trained with SGD for 60 minibatches per task; ``fit_stream``
# trains on the tasks in order and records the accuracy matrix ``R[i, j]`` (accuracy on task
# ``j`` after training on task ``i``).
import matplotlib.pyplot as plt
import numpy as np

from neurosim.continual import (
    ExperienceReplay,
    FastSlowLearner,
    FineTuning,
    JointTraining,
    permuted_digits,
    split_digits,
)

stream = permuted_digits(n_tasks=5, random_state=0)
learners = {
    "fine-tuning": FineTuning(n_iterations=60, random_state=0),
    "fast/slow": FastSlowLearner(n_iterations=60, random_state=0),
    "joint (upper bound)": JointTraining(n_iterations=60, random_state=0),
}
for learner in learners.values():
    learner.fit_stream(stream)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
for ax, (label, learner) in zip(axes, learners.items()):
    R = learner.history_["accuracy_matrix"].values
    im = ax.imshow(R, vmin=0, vmax=1)
    m = learner.metrics_
    ax.set_title(f"{label}\nACC {m['acc']:.2f}   BWT {m['bwt']:+.2f}")
    ax.set_xlabel("evaluated task")
    ax.set_xticks(range(len(stream)))
    ax.set_yticks(range(len(stream)))
axes[0].set_ylabel("after training on task")
fig.colorbar(im, ax=axes, shrink=0.8, label="test accuracy")

# %%
# The metrics
# -----------
# ACC is the mean of the last row; BWT the mean change of each task's accuracy from the end of
# its own training to the end of the stream (negative: forgetting); FWT the accuracy on a task
# before training on it, above that of the untrained network.
print(f"{'learner':>20} " + " ".join(f"{k:>8}" for k in ("acc", "bwt", "fwt")))
for label, learner in learners.items():
    m = learner.metrics_
    print(f"{label:>20} " + " ".join(f"{m[k]:8.3f}" for k in ("acc", "bwt", "fwt")))

# %%
# The stability gap
# -----------------
# Split digits is class-incremental: the tasks are the digit pairs (0, 1), (2, 3), (4, 5) and
# the network has one 10-way output. Experience replay keeps 200 past samples (reservoir
# sampling) and mixes 32 of them into every minibatch. Evaluated after every iteration, the
# accuracy on the old tasks dips sharply when a new task starts and then recovers: min-ACC
# (the mean over old tasks of their worst accuracy after they were learned) is well below the
# accuracy they had at the end of their own training.
split = split_digits(n_tasks=5, random_state=0)[:3]
replay = ExperienceReplay(n_iterations=60, buffer_size=200, eval_every=1, random_state=0)
history = replay.fit_stream(split).history_

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
it = history["iteration"].values
ends = history["task_end"].values
for k, name in enumerate(history["task_name"].values):
    start = 0 if k == 0 else ends[k - 1]
    shown = it >= start
    ax.plot(it[shown], history["accuracy"].isel(task=k).values[shown], label=name)
for e in ends[:-1]:
    ax.axvline(e, color="k", ls=":", lw=0.8)
m = replay.metrics_
ax.axhline(m["min_acc"], color="tab:red", ls="--", label=f"min-ACC = {m['min_acc']:.2f}")
ax.axhline(m["avg_end_of_task_acc"], color="k", ls="--",
           label=f"end-of-task accuracy = {m['avg_end_of_task_acc']:.2f}")
ax.set_xlabel("iteration")
ax.set_ylabel("test accuracy")
ax.set_title("Experience replay on split digits, evaluated every iteration")
ax.legend(loc="lower left", fontsize="small")

# %%
# The learners' results are :class:`xarray.Dataset` objects with named dimensions, ready to
# save with :func:`neurosim.results.save`:
print(history[["accuracy", "accuracy_matrix"]])
print("worst accuracy of task 0 after its training:",
      float(np.min(history["accuracy"].sel(task=0, iteration=slice(ends[0] + 1, None)))))
