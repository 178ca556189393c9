"""
Homeostatic learning rates under concept shift
==============================================

Man, Damasio & Neven (2022) give a classifier a "need": the images it classifies excite (digits
5-9) or inhibit (digits 0-4) its own learning rate. Before taking an image's effect, the
homeostatic learner (LRH) looks ahead -- it simulates its next weight update with and without the
change and keeps the change only if that predicts 20 recent images better. The environment
shifts concepts by swapping the labels of two random classes a number of times per epoch. The
controls are the same network with a constant learning rate (LRC) and one that takes each
image's effect on a coin flip (LRR).

This example runs the authors' rule as released (:class:`neurosim.homeostasis.HomeostaticMLP`)
on scikit-learn's 8x8 digits: a stream, the swap schedule, and a small comparison over seeds with
paired confidence intervals.
"""

# %%
# The environment: exactly ``swaps_per_epoch`` swaps, evenly spaced
# -----------------------------------------------------------------
# :class:`~neurosim.homeostasis.ConceptShift` places swap :math:`k` of an epoch of :math:`n`
# samples after the minibatch that reaches sample :math:`kn/s`; the last one closes the epoch.
# Swaps compose: ``mapping[k][c]`` is the label shown for true class ``c`` after swap ``k``.
import matplotlib.pyplot as plt
import numpy as np

from neurosim.homeostasis import (
    ConceptShift,
    HomeostaticMLP,
    compare_learners,
    load_shift_data,
    run_shift_stream,
    running_accuracy,
    shift_rate_sweep,
)

data = load_shift_data("digits", random_state=0)
X, y, Xv, yv = data["X_train"], data["y_train"], data["X_val"], data["y_val"]
print(data["description"])

shift = ConceptShift(5, random_state=0)
events = shift.schedule(n_epochs=1, n_samples=1430, batch_size=10)
for off, pair, mapping in zip(events["offset"], events["pair"], events["mapping"]):
    print(f"after sample {off:4d}: swap {pair[0]} <-> {pair[1]}   labels now {mapping}")

# %%
# One stream: 5 swaps per epoch, 8 epochs
# ---------------------------------------
# The three learners of one seed start from the same weights and see the same images and swaps.
# The streaming accuracy is the prediction made for each image before learning from it.
histories = {}
for mode in ("lrh", "lrr", "lrc"):
    learner = HomeostaticMLP(mode, random_state=0)
    histories[mode] = run_shift_stream(learner, X, y, shift=shift, n_epochs=8, X_val=Xv,
                                       y_val=yv)

colors = {"lrh": "tab:green", "lrr": "tab:orange", "lrc": "tab:blue"}
fig, (ax_a, ax_b) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, layout="constrained")
for mode, h in histories.items():
    ax_a.plot(running_accuracy(h["correct"], window=200), color=colors[mode], lw=1,
              label=f"{mode.upper()}: mean {h.attrs['stream_accuracy']:.3f}, "
                    f"{h.attrs['n_lr_changes']} rate changes")
    ax_b.plot(np.arange(h["lr"].size) * 10, h["lr"], color=colors[mode], lw=1)
for pos in histories["lrh"]["shift_position"].values:
    ax_a.axvline(pos, color="0.8", lw=0.5, zorder=0)
ax_a.set_ylabel("streaming accuracy\n(last 200 images)")
ax_a.legend(fontsize="small")
ax_b.set_ylabel("learning rate")
ax_b.set_xlabel("training image")

# %%
# LRR's random walk drifts; LRH's look-ahead almost never changes its rate. Its two simulated
# updates differ by :math:`\Delta\eta/m` times one image's gradient (:math:`10^{-5} g`), which
# rarely changes a prediction on 20 recent images, and the rule needs a strict improvement.
for mode, h in histories.items():
    print(f"{mode}: final val accuracy {h.attrs['final_val_accuracy']:.3f}, final learning rate "
          f"{h.attrs['final_lr']:.2e}, rate changes {h.attrs['n_lr_changes']}")

# %%
# Paired comparison over seeds
# ----------------------------
# :func:`~neurosim.homeostasis.shift_rate_sweep` runs every mode at every shift rate for each
# seed; :func:`~neurosim.homeostasis.compare_learners` gives the paired differences LRH - LRC and
# LRH - LRR with 95 % Student-t intervals. A small version: 5 seeds, 4 epochs.
sweep = shift_rate_sweep(X, y, Xv, yv, swaps_per_epoch=(0, 20), seeds=5, n_epochs=4)
table = compare_learners(sweep, "stream_accuracy")
print(table["mean"].to_pandas().round(3))
for b in ("lrc", "lrr"):
    for r in (0, 20):
        row = table.sel(baseline=b, swaps_per_epoch=r)
        print(f"LRH - {b.upper()} at {r:2d} swaps/epoch: {float(row['diff']):+.4f} "
              f"[{float(row['diff_lo']):+.4f}, {float(row['diff_hi']):+.4f}]")

# %%
# At this scale no interval lies above 0: the paper's advantage of the homeostatic learner is
# not reproduced. On the 5,000-image MNIST subset with the paper's 50 epochs (:doc:`/homeostasis`)
# LRH beats LRC at 20 swaps per epoch by 2 points, but LRR beats LRH by 12: the accuracies follow
# the learners' mean learning rates.
