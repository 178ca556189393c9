"""
The distal reward problem (Izhikevich 2007)
===========================================

How can a reward that arrives seconds later reinforce the one synapse, among 80,000, whose
firing caused it? Izhikevich (2007) answered with reward-modulated STDP: STDP does not change a
weight directly but tags the synapse with a slowly decaying eligibility trace; dopamine, when it
comes, turns the tags into weight changes.

In a network of 1,000 Izhikevich neurons, every time a chosen synapse's presynaptic neuron fires
and its postsynaptic neuron follows within 20 ms, dopamine is delivered 1 to 3 s later. This
example runs the protocol for 300 s, and a control without rewards. (The paper runs an hour:
``neurosim run spiking-distal-reward``.)
"""

# %%
# Build the network
# -----------------
# :func:`~neurosim.spiking.distal_reward_network` follows Izhikevich's ``daspnet.m``: 100
# synapses per neuron, :class:`~neurosim.spiking.RewardSTDP` on the excitatory synapses, a
# :class:`~neurosim.spiking.Modulator` for dopamine, uniform noise input. The chosen synapse is
# the first one and starts at 0.
import matplotlib.pyplot as plt
import numpy as np

from neurosim.spiking import distal_reward_network, run_distal_reward

net = distal_reward_network(random_state=0)
print(net)
print(net.synapses[0].plasticity)

# %%
# Run the protocol
# ----------------
# :func:`~neurosim.spiking.run_distal_reward` runs the network in 1 s segments of a
# :class:`~neurosim.backends.Session`, finds the pre-then-post pairings after each segment and
# schedules the rewards with :meth:`~neurosim.backends.Session.add_modulator_events`.
runs = {}
for reward in (True, False):
    runs[reward] = run_distal_reward(distal_reward_network(random_state=0), 300_000.0,
                                     reward=reward, random_state=1)
    r = runs[reward]
    print(f"{'rewarded' if reward else 'control '}: chosen synapse {r.attrs['chosen_final']:.2f} "
          f"(percentile {r.attrs['chosen_percentile']:.1f}), {r.attrs['n_rewards']} rewards, "
          f"{float(r.rate.mean()):.2f} Hz")

# %%
# The chosen synapse over time
# ----------------------------
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for reward, label in ((True, "rewarded"), (False, "control")):
    r = runs[reward]
    axes[0].plot(r.time.values / 1000, r.w_chosen.values, label=label)
rt = runs[True].reward_time.values / 1000
axes[0].plot(rt, np.zeros_like(rt), "rx", ms=4, label="rewards")
axes[0].set_xlabel("time (s)")
axes[0].set_ylabel("weight of the chosen synapse")
axes[0].legend()
w = runs[True].final_w_exc.values
axes[1].hist(w, bins=np.linspace(0, 4, 41), color="0.6")
axes[1].plot([w[0]], [1], "ro", label="chosen synapse")
axes[1].set_yscale("log")
axes[1].set_xlabel("weight")
axes[1].set_ylabel("excitatory synapses (rewarded run)")
axes[1].legend()
plt.show()
