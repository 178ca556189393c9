"""
CUBA and COBA: the benchmarks of Brette et al. (2007)
=====================================================

The two standard benchmarks of spiking simulators (Brette et al. 2007, after Vogels & Abbott
2005): 4,000 leaky integrate-and-fire neurons, 80 % excitatory, connected with probability 2 %.
In **CUBA** every neuron has two exponentially decaying synaptic *currents*, excitatory (5 ms)
and inhibitory (10 ms); in **COBA** they are *conductances* with reversal potentials 0 and
-80 mV. Both need more than one synaptic variable per neuron, which neurosim expresses with
named :class:`~neurosim.spiking.Receptor` s.

This example runs both for one second on the numba backend and plots their rasters and firing
rates. The ``spiking-brette2007`` experiment (``neurosim run spiking-brette2007``) also runs the
same draw with plain Brian2 code, which gives the same spikes.
"""

# %%
# Build the networks
# ------------------
# :func:`~neurosim.spiking.cuba_network` and :func:`~neurosim.spiking.coba_network` take the
# parameters of Brian2's examples; ``random_state`` seeds the connectivity and the initial
# state. The neurons declare their receptors, and each synapse set names the receptor it feeds.
import matplotlib.pyplot as plt
import numpy as np

from neurosim.backends import run
from neurosim.results import firing_rates, isi_cv
from neurosim.spiking import coba_network, cuba_network, plot_raster

cuba = cuba_network(4000, random_state=0)
coba = coba_network(4000, random_state=0)
print(cuba.groups[0].receptors)
print(coba.groups[0].receptors)
print(cuba.synapses)

# %%
# Run them
# --------
# CUBA's membrane and currents are integrated exactly (Brian2's ``method="exact"``), COBA's by
# exponential Euler with the conductances held over a step (``method="exponential_euler"``).
results = {}
for name, net in (("CUBA", cuba), ("COBA", coba)):
    ds = run(net, duration=1000.0, dt=0.1)
    rates = firing_rates(ds)
    cv = isi_cv(ds)
    results[name] = ds
    print(f"{name}: {float(rates.mean()):.2f} Hz, mean ISI CV {float(np.nanmean(cv)):.2f}, "
          f"run time {ds.attrs['info_run_time_s']:.2f} s")

# %%
# Rasters
# -------
# :func:`~neurosim.spiking.plot_raster` draws the spikes, one row per neuron. CUBA fires
# irregularly at a few Hz; COBA, with its shunting inhibition, fires in bursts.
fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True, layout="constrained")
for ax, (name, ds) in zip(axes, results.items()):
    plot_raster(ds, ax=ax, time_range=(0, 300), marker_size=0.5)
    ax.set_title(name)

# %%
# Firing rates
# ------------
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, ds in results.items():
    ax.hist(firing_rates(ds).values, bins=40, alpha=0.6, label=name)
ax.set_xlabel("firing rate (Hz)")
ax.set_ylabel("neurons")
ax.legend()
plt.show()
