"""
FORCE learning of a 5 Hz sine (Nicola & Clopath 2017)
=====================================================

A network of leaky integrate-and-fire neurons with random, static recurrent weights is trained
to produce a 5 Hz sine. Its readout ``z`` is a weighted sum of the neurons' filtered spike
trains; ``z`` is fed back into the network through fixed random weights, and recursive least
squares (RLS, FORCE) learns the readout weights online, every 2.5 ms. After training the network
keeps producing the oscillation on its own.

The network here has 500 neurons and runs at ``dt = 0.1`` ms (the paper: 2,000 neurons at
0.05 ms; ``neurosim run spiking-force`` runs both).
"""

# %%
# Build the network
# -----------------
# :func:`~neurosim.spiking.force_network` assembles the parts: a LIF group with a
# double-exponential receptor (rise 2 ms, decay 20 ms), the static synapses, a
# :class:`~neurosim.spiking.Trace` ``r`` of every neuron, a :class:`~neurosim.spiking.Readout`
# ``z``, an :class:`~neurosim.spiking.RLSRule` gated on during training, and a
# :class:`~neurosim.spiking.ReadoutFeedback`.
import matplotlib.pyplot as plt
import numpy as np

from neurosim.backends import run
from neurosim.spiking import force_network

train = (2000.0, 5000.0)  # ms: RLS on from 2 to 5 s
net = force_network(500, duration=7000.0, train=train, dt=0.1, random_state=0)
print(net)
print(net.rules, net.feedbacks)

# %%
# Run: free, training, free again
# -------------------------------
ds = run(net, 7000.0, 0.1, random_state=0)
t = ds["y_z_time"].values
z = ds["y_z"].values[:, 0]
target = np.sin(2 * np.pi * 5.0 * t / 1000.0)
test = t >= train[1]
print(f"RMS error after training: {np.sqrt(np.mean((z[test] - target[test]) ** 2)):.3f} "
      f"(0.707 without a readout); run time {ds.attrs['info_run_time_s']:.1f} s")

# %%
# The readout against the target
# ------------------------------
fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
ax.axvspan(train[0] / 1000, train[1] / 1000, color="0.9", label="RLS on")
ax.plot(t / 1000, target, "k--", lw=1, label="target")
ax.plot(t / 1000, z, lw=1, label="readout z")
ax.set_xlabel("time (s)")
ax.set_ylim(-2, 2)
ax.legend(ncol=3, loc="upper left")
plt.show()
