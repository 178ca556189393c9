"""
Active dendrites learn ten tasks without forgetting them all
============================================================

Iyer et al. (2022) add dendritic segments to the hidden units of a network: the segments see a
*context* vector describing the current task and gate the unit (absolute-max gating, then
k-winners-take-all), so that each task uses its own sparse sub-network. Here a small
active-dendrites network and two MLPs of the same widths learn ten permuted-digit tasks one
after another, with no replay. The context of a task is its prototype (its mean input); at test
time each image is given the nearest stored prototype.
"""

# %%
# Ten permuted-digit tasks
# ------------------------
# :func:`neurosim.continual.permuted_digits` applies a fixed pixel permutation per task to
# scikit-learn's 8x8 digits.
import matplotlib.pyplot as plt
import numpy as np

from neurosim.continual import permuted_digits, single_thread
from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

stream = permuted_digits(n_tasks=10, random_state=0)
print(stream)

# %%
# Three networks, trained task by task
# ------------------------------------
# Same hidden widths, epochs, batch size and learning rate for all three. ``fit_stream``
# (:meth:`neurosim.continual.TaskwiseClassifier.fit_stream`, shared with the continual learners)
# calls ``partial_fit`` on each task in turn and tests on every task after each one.
train = dict(hidden_sizes=(128, 128), n_epochs=4, batch_size=64, learning_rate=4e-3,
             random_state=0)
models = {
    "active dendrites": ActiveDendritesClassifier(n_segments=10, kw_percent_on=0.2, **train),
    "MLP": ContextMLPClassifier(**train),
    "MLP + context input": ContextMLPClassifier(context_input=True, **train),
}
accuracy = {}
with single_thread():  # these networks are tiny: one thread is fastest
    for name, model in models.items():
        acc = model.fit_stream(stream).history_["accuracy_matrix"].values
        accuracy[name] = acc
        print(f"{name:>20}: mean accuracy over the 10 tasks after the sequence "
              f"{acc[-1].mean():.3f}, {model.n_parameters_} parameters")

# %%
# Forgetting along the sequence
# -----------------------------
# The plain MLP learns each new task and forgets the previous ones; the dendritic network keeps
# more of them, because each task's context selects a different set of hidden units.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for name, acc in accuracy.items():
    seen = [acc[i, : i + 1].mean() for i in range(len(stream))]
    ax1.plot(np.arange(1, 11), seen, "o-", label=name)
    ax2.plot(np.arange(10), acc[-1], "o-", label=name)
ax1.set(xlabel="tasks trained", ylabel="mean accuracy on the tasks seen", ylim=(0, 1))
ax2.set(xlabel="task", ylabel="accuracy after all ten tasks", ylim=(0, 1))
ax1.legend()
plt.show()

# %%
# Which units does each task use?
# -------------------------------
# :meth:`~neurosim.dendrites.ActiveDendritesClassifier.hidden_activity` gives the last hidden layer's
# activity. For each task, take the units that win the k-WTA for most of its test images and
# count the fraction that two tasks share: the contexts give the tasks different sub-networks.
model = models["active dendrites"]
with single_thread():
    frequent = [(model.hidden_activity(t.X_test, context=model.prototypes_[i]) != 0).mean(axis=0)
                > 0.5 for i, t in enumerate(stream)]
overlap = np.array([[np.sum(a & b) / max(np.sum(a), 1) for b in frequent] for a in frequent])
print(f"mean overlap between different tasks: {overlap[~np.eye(10, dtype=bool)].mean():.2f}")
fig, ax = plt.subplots(figsize=(4.5, 4), layout="constrained")
im = ax.imshow(overlap, vmin=0, vmax=1, cmap="viridis")
ax.set(xlabel="task", ylabel="task", title="shared frequent winners, last hidden layer")
fig.colorbar(im)
plt.show()
