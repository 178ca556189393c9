"""
Homeostasis in a spiking network: back to the set point
=======================================================

A recurrent network of leaky integrate-and-fire neurons (80 % excitatory, 20 % inhibitory),
driven by Poisson input, regulates its own firing rate toward a target :math:`r^* = 5` Hz with
two classic homeostatic mechanisms of the spiking engine:

- **intrinsic plasticity** (:class:`neurosim.spiking.AdaptiveThreshold`): each neuron's threshold
  offset rises while it fires above the target and falls below it,
  :math:`\\dot\\theta = \\eta_\\theta (r - r^*)`;
- **synaptic scaling** (:class:`neurosim.spiking.SynapticScaling`): the excitatory weights onto a
  neuron are multiplied by :math:`1 + \\eta_s (r^* - \\hat r)` every 10 ms.

We push the network three times above and three times below its set point by changing its
input, and watch it come back (:func:`neurosim.homeostasis.rate_recovery`). A small network (200
neurons, dt = 0.5 ms) keeps the example fast; ``neurosim run homeostasis-spiking`` runs the
1,000-neuron network at dt = 0.1 ms for 60 s.
"""

# %%
# The push: what the unregulated network does
# -------------------------------------------
# :func:`~neurosim.homeostasis.input_rate_for` searches the Poisson input rate at which the
# network *without* homeostasis fires at a given rate. The set point is the input that gives
# 5 Hz; the pushes are the inputs that give 15 Hz and 1.7 Hz.
import matplotlib.pyplot as plt

from neurosim.homeostasis import homeostatic_network, rate_recovery

small = {"n": 200, "p": 0.5, "dt": 0.5}   # in-degree 100, as 1,000 neurons with p = 0.1
res = rate_recovery(3.0, duration=20000.0, bin_size=2000.0, final_window=6000.0,
                    target_rate=5.0, random_state=0, **small)
a = res.attrs
for key in ("set_point", "above", "below"):
    print(f"{key:9s}: input {a[f'input_rate_{key}']:6.1f} Hz -> unregulated "
          f"{a.get(f'initial_rate_{key}'):5.2f} Hz")

# %%
# The recovery
# ------------
# Each run starts from the set point's state (thresholds at 0, initial weights) with the pushed
# input. Within a few seconds the rate is back within 10 % of the target from both sides. The
# rate is counted in 2-s bins: with 200 neurons, 1-s bins fluctuate by about 5 %.
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.axhspan(4.5, 5.5, color="0.85", label="target ± 10 %")
t = res["time"].values / 1000
for start, color in (("above", "C3"), ("below", "C0")):
    ax.plot(t, res["rate"].sel(start=start), "o-", ms=3, color=color, label=f"pushed {start}")
ax.set(xlabel="time (s)", ylabel="population rate (Hz)", yscale="log")
ax.legend()
for start in ("above", "below"):
    print(f"from {start}: final rate {a[f'final_rate_{start}']:.2f} Hz, relative error "
          f"{a[f'rate_error_from_{start}']:.3f}, within 10 % from {a[f'settle_time_{start}_s']:g} s")

# %%
# The mechanisms at work
# ----------------------
# Pushed above, the thresholds rise and the input weights shrink; pushed below, the reverse.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), layout="constrained")
for start, color in (("above", "C3"), ("below", "C0")):
    axes[0].plot(res["state_time"] / 1000, res["theta_mean"].sel(start=start), color=color,
                 label=f"pushed {start}")
    axes[1].plot(res["w_time"] / 1000, res["w_input_mean"].sel(start=start), color=color)
axes[0].set(xlabel="time (s)", ylabel="mean threshold offset θ (mV)")
axes[1].set(xlabel="time (s)", ylabel="mean input weight (mV)")
axes[0].legend()

# %%
# One mechanism at a time
# -----------------------
# Each rule alone also brings the rate back (same inputs, so no new search), more slowly than
# the two together; with these rates synaptic scaling is the faster of the two.
inputs = {k: a[f"input_rate_{k}"] for k in ("set_point", "above", "below")}
for mechanism in ("threshold", "scaling"):
    r = rate_recovery(3.0, duration=30000.0, bin_size=2000.0, final_window=6000.0,
                      mechanism=mechanism, input_rates=inputs, record_every=None, **small)
    print(f"{mechanism:9s}: errors {r.attrs['rate_error_from_above']:.3f} (above), "
          f"{r.attrs['rate_error_from_below']:.3f} (below); within 10 % from "
          f"{r.attrs['settle_time_above_s']:g} s / {r.attrs['settle_time_below_s']:g} s")

# %%
# The same description runs on Brian2 (``backend="brian2"``); the experiment compares the two.
net = homeostatic_network(200, p=0.5, input_rate=inputs["above"], random_state=0)
print(net.meta["mechanism"], [type(r).__name__ for r in net.thresholds + net.scalings])
