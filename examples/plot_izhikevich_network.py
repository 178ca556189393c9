"""
Izhikevich (2003) network of 1,000 spiking neurons
==================================================

This example builds the heterogeneous network of Izhikevich (2003) -- 800 excitatory neurons,
from regular spiking to chattering, and 200 inhibitory ones, from fast spiking to low-threshold
spiking, all connected to all -- and runs it for one second of simulated time on the default
``"numba"`` backend. The thalamic input is Gaussian noise drawn by the backend.

The raster shows the network's rhythms (alpha- and gamma-band population bursts in the original
paper); the histogram shows how the firing rates spread across neurons.
"""

# %%
# Build the network
# -----------------
# :func:`neurosim.spiking.izhikevich_network` returns a plain description of the network: the
# neuron group, the synapses, the noise input and a spike monitor. The network is built for the
# time step it will be run with (``dt=0.5`` ms here), so that a spike delivers the same charge and
# the noise has the same variance per millisecond as in the original 1 ms model.
# ``random_state`` seeds the neuron parameters and the weights.
import matplotlib.pyplot as plt
import numpy as np

import neurosim.backends
import neurosim.spiking

dt = 0.5  # ms
duration = 1000.0  # ms
network = neurosim.spiking.izhikevich_network(1000, dt=dt, random_state=0)
n_exc = network.meta["n_exc"]
n = network.n_neurons
print(network)
print(f"{n_exc} excitatory and {n - n_exc} inhibitory neurons")

# %%
# Run it
# ------
# :func:`neurosim.backends.run` simulates the description. Its ``random_state`` seeds the
# backend's random numbers (the thalamic noise). The result is an :class:`xarray.Dataset` whose
# spikes are stored sparsely: ``spike_neuron`` holds the index of the neuron that spiked and
# ``spike_time`` the time of the spike in ms.
ds = neurosim.backends.run(network, duration, dt, random_state=1)
print(ds)

# %%
# Raster plot and firing rates
# ----------------------------
# Excitatory neurons have indices ``0 .. n_exc - 1``, inhibitory ones follow.
spike_neuron = ds["spike_neuron"].values
spike_time = ds["spike_time"].values
is_exc = spike_neuron < n_exc

counts = np.bincount(spike_neuron, minlength=n)
rates = counts / (duration / 1000.0)  # Hz
rate_exc = rates[:n_exc]
rate_inh = rates[n_exc:]

fig, (ax_raster, ax_hist) = plt.subplots(
    1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2, 1]}, layout="constrained"
)
ax_raster.plot(spike_time[is_exc], spike_neuron[is_exc], ".", ms=1, color="tab:blue",
               label="excitatory")
ax_raster.plot(spike_time[~is_exc], spike_neuron[~is_exc], ".", ms=1, color="tab:red",
               label="inhibitory")
ax_raster.set(xlabel="time (ms)", ylabel="neuron", xlim=(0, duration), ylim=(-0.5, n - 0.5),
              title="Spike raster")
ax_raster.legend(loc="upper right", markerscale=10, framealpha=0.9)

bins = np.arange(rates.max() + 2) - 0.5  # one bin per spike count (1 s run: Hz)
ax_hist.hist(rate_exc, bins=bins, color="tab:blue", alpha=0.7, label="excitatory")
ax_hist.hist(rate_inh, bins=bins, color="tab:red", alpha=0.7, label="inhibitory")
ax_hist.set(xlabel="firing rate (Hz)", ylabel="number of neurons", title="Rates per neuron")
ax_hist.legend()
plt.show()

# %%
# Mean rates
# ----------
# The population means, in Hz over the whole second.
print(f"mean rate, all neurons:        {rates.mean():.2f} Hz")
print(f"mean rate, excitatory neurons: {rate_exc.mean():.2f} Hz")
print(f"mean rate, inhibitory neurons: {rate_inh.mean():.2f} Hz")
