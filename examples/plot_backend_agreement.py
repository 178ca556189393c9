"""
Same network, two backends: numba and Brian2 agree spike for spike
===================================================================

A network is described once and can run on neurosim's numba engine or on Brian2. With the noise
drawn by each backend, only statistics can agree (the generators differ). To compare spike by
spike, the noise is drawn once and given to both as an explicit array
(:class:`~neurosim.spiking.TimedInput`), the way Brian2's own cross-target tests fix ``randn``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from neurosim.backends import run
from neurosim.spiking import izhikevich_network, izhikevich_noise

n, dt, duration = 1000, 0.5, 1000.0
noise = izhikevich_noise(n, int(duration / dt), dt=dt, random_state=3)
net = izhikevich_network(n, dt=dt, noise=noise, noise_dt=dt, random_state=0, record_v=[0])

a = run(net, duration, dt)  # numba
b = run(net, duration, dt, backend="brian2", target="numpy")  # Brian2, numpy code generation


def events(ds):
    """Spikes as a set of (neuron, time step)."""
    steps = np.rint(ds.spike_time.values / dt).astype(int)
    return set(zip(ds.spike_neuron.values.tolist(), steps.tolist(), strict=True))


ea, eb = events(a), events(b)
print(f"numba: {len(ea)} spikes, Brian2: {len(eb)} spikes, in common: {len(ea & eb)}")
print(f"largest difference in v of neuron 0: {np.abs(a.v.values - b.v.values).max():.2e} mV")

# %%
# Both backends follow Brian2's order of operations within a step, and the numba kernel writes
# the Izhikevich update in the operation order of the code Brian2 generates, so with Brian2's
# numpy target the state agrees bit for bit. Brian2's cython and C++ targets compile with
# ``-ffast-math``, which may round differently: there the agreement is within a time step.
fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
for ax, ds, name in ((axes[0], a, "numba"), (axes[1], b, "Brian2")):
    ax.plot(ds.spike_time.values, ds.spike_neuron.values, ",k")
    ax.set(ylabel="neuron", title=f"{name}: {ds.sizes['spike']} spikes")
axes[1].set_xlabel("time (ms)")
fig.tight_layout()

# %%
# With backend noise (no array given), each backend draws its own numbers: the spikes differ
# but the firing-rate distributions agree.
net_noise = izhikevich_network(n, dt=dt, random_state=0)
rates = {}
for backend, kwargs in (("numba", {}), ("brian2", {"target": "numpy"})):
    ds = run(net_noise, duration, dt, backend=backend, random_state=1, **kwargs)
    rates[backend] = np.bincount(ds.spike_neuron.values, minlength=n) / (duration / 1000)
    print(f"{backend}: mean rate {rates[backend].mean():.2f} Hz")

fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.linspace(0, 40, 41)
for backend, r in rates.items():
    ax.hist(r, bins=bins, histtype="step", label=backend)
ax.set(xlabel="firing rate (Hz)", ylabel="neurons")
ax.legend()
fig.tight_layout()
