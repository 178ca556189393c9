"""Protocols that run a network in segments and act between them (rewards, trials)."""

from __future__ import annotations

import numpy as np

from .._utils import check_positive, check_random_state


def _pair_rewards(times1, times2, last1, interval):
    """Times of postsynaptic spikes that follow a presynaptic spike by less than ``interval``.

    As ``daspnet.m``: a spike of n2 at ``t`` counts when the last spike of n1 is at most
    ``interval`` earlier and strictly before ``t``. Returns (reward times, last n1 spike).
    """
    events = sorted([(t, 0) for t in times1] + [(t, 1) for t in times2])
    out = []
    for t, who in events:
        if who == 0:
            last1 = t
        elif t - last1 < interval and t > last1:
            out.append(t)
    return out, last1


def run_distal_reward(network, duration, dt=None, *, reward=True, interval=20.0,
                      delay=(1000.0, 3000.0), amount=0.5, chunk=1000.0, backend="numba",
                      random_state=None, progress=False, **options):
    """Run the distal reward protocol of Izhikevich (2007) on a :func:`distal_reward_network`.

    The network runs in segments of ``chunk`` ms (a :class:`~neurosim.backends.Session`). After
    each segment, every firing of the chosen synapse's presynaptic neuron ``n1`` followed within
    ``interval`` ms by its postsynaptic neuron ``n2`` schedules a reward: dopamine ``d += amount``
    a random ``delay`` later (uniform in 1-3 s), as in ``daspnet.m``. Rewards arrive after the
    segment that caused them ends because the shortest delay exceeds ``chunk``.

    Parameters
    ----------
    network : Network
        Built by :func:`distal_reward_network` (uses its ``meta``: ``n1``, ``n2``, ``chosen``).
    duration : float
        Simulated time (ms), a whole number of chunks.
    dt : float | None
        Time step (ms); None uses the one the network was built for.
    reward : bool
        False runs the control: the same protocol without dopamine rewards.
    interval : float
        Coincidence window (ms) of n1 then n2.
    delay : (float, float)
        Range of the reward delay (ms).
    amount : float
        Dopamine per reward.
    chunk : float
        Segment length (ms); at most ``delay[0]`` (rewards then always lie after the segment).
    backend, options
        Backend and its options.
    random_state : None | int | numpy.random.Generator
        Seed of the run's noise and of the reward delays.
    progress : bool
        Show a progress bar over the segments.

    Returns
    -------
    results : xarray.Dataset
        ``w_chosen`` (weight of the chosen synapse over time, in the units of the original model,
        i.e. divided by the network's weight multiplier), ``reward_time`` (ms), ``rate`` (mean
        firing rate per segment, Hz), ``final_w_exc`` (all excitatory weights, original units),
        and in ``attrs``: ``chosen_percentile`` (percentile of the chosen synapse among the
        excitatory weights), ``chosen_final``, ``w_p99``, ``n_rewards``.
    """
    import xarray as xr
    from tqdm.auto import tqdm

    from neurosim.backends import Session

    meta = network.meta
    if meta.get("model") != "izhikevich2007-distal-reward":
        raise ValueError("network must come from distal_reward_network (its meta says "
                         f"model={meta.get('model')!r})")
    dt = float(meta["dt"]) if dt is None else check_positive("dt", dt)
    duration = check_positive("duration", duration)
    chunk = check_positive("chunk", chunk)
    lo, hi = float(delay[0]), float(delay[1])
    if not 0 < lo <= hi:
        raise ValueError(f"delay must be (low, high) with 0 < low <= high, got {delay}")
    if chunk > lo:
        raise ValueError(f"chunk={chunk} ms must not exceed the shortest reward delay {lo} ms")
    n_chunks = int(round(duration / chunk))
    if n_chunks < 1 or abs(n_chunks * chunk - duration) > 1e-9 * duration:
        raise ValueError(f"duration={duration} ms must be a whole number of chunks of {chunk} ms")
    rng = check_random_state(random_state)
    seed_run, seed_reward = rng.integers(0, 2**31 - 1, size=2)
    reward_rng = np.random.default_rng(seed_reward)
    n1, n2, k = int(meta["n1"]), int(meta["n2"]), int(meta["chosen"])
    scale = float(meta["weight_multiplier"])
    offset = network.offsets()["neurons"]
    sim = Session(network, dt, backend=backend, random_state=int(seed_run), **options)
    last1 = -np.inf
    rewards, rates, w_t, w_v = [], [], [], []
    for _ in tqdm(range(n_chunks), disable=not progress, desc="distal reward", leave=False):
        ds = sim.run(chunk)
        idx = ds["spike_neuron"].values - offset
        t = ds["spike_time"].values
        rates.append(idx.size / network.groups[0].n / (chunk / 1000.0))
        found, last1 = _pair_rewards(t[idx == n1], t[idx == n2], last1, interval)
        if reward and found:
            # daspnet.m: reward at t + 1000 + ceil(2000 * rand) ms
            when = np.asarray(found) + lo + np.ceil((hi - lo) * reward_rng.random(len(found)))
            sim.add_modulator_events("dopamine", when, amount)
            rewards.extend(when.tolist())
        w_t.append(ds["w_chosen_time"].values)
        w_v.append(ds["w_chosen"].values[:, 0])
    w_final = sim.get_weights("exc") / scale
    sim.close()
    pct = float((w_final < w_final[k]).mean() * 100)
    out = xr.Dataset(
        {
            "w_chosen": ("time", np.concatenate(w_v) / scale,
                         {"long_name": "weight of the chosen synapse", "units": "model units"}),
            "reward_time": ("reward", np.asarray(rewards, dtype=float), {"units": "ms"}),
            "rate": ("segment", np.asarray(rates), {"units": "Hz",
                                                    "long_name": "mean firing rate"}),
            "final_w_exc": ("synapse", w_final, {"long_name": "excitatory weights at the end"}),
        },
        coords={"time": ("time", np.concatenate(w_t), {"units": "ms"}),
                "segment": ("segment", np.arange(n_chunks) * chunk, {"units": "ms"})},
        attrs={"reward": int(bool(reward)), "duration": duration, "dt": dt, "chunk": chunk,
               "n_rewards": len(rewards), "chosen_final": float(w_final[k]),
               "chosen_percentile": pct, "w_p99": float(np.percentile(w_final, 99)),
               "w_mean": float(w_final.mean()), "w_max": float(meta["w_max"]),
               "n1": n1, "n2": n2, "backend": backend},
    )
    return out
