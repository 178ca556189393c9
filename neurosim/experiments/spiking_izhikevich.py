"""Experiment ``spiking-izhikevich``: the Izhikevich (2003) network of 80/20 spiking neurons.

Builds :func:`neurosim.spiking.izhikevich_network` (excitatory regular-spiking to chattering
cells, inhibitory fast-spiking to low-threshold cells, random recurrent weights, thalamic noise),
runs it, and reports the mean firing rates of all, excitatory and inhibitory neurons, the
coefficient of variation of the inter-spike intervals and the run time.

- quick: 1,000 neurons, all-to-all (``p=1``, the original ``net.m``), 1,000 ms.
- full: 10,000 neurons, connection probability 0.02, 5,000 ms.

Both use ``dt = 0.5`` ms. Weights are scaled by ``1000 / (n p)``, so both networks receive the
input of the original and fire at similar rates (about 5-15 Hz, with population bursts).
"""

from __future__ import annotations

import json

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "spiking-izhikevich"
DT = 0.5  # ms
RASTER_MS = 1000.0
_EXC_COLOR, _INH_COLOR = "tab:blue", "tab:red"


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        1,000 neurons, dense, 1,000 ms (True) or 10,000 neurons, ``p = 0.02``, 5,000 ms (False).

    Returns
    -------
    config : dict
        ``n`` (neurons), ``p`` (connection probability), ``duration`` and ``dt`` (ms).
    """
    if quick:
        return {"n": 1000, "p": 1.0, "duration": 1000.0, "dt": DT}
    return {"n": 10000, "p": 0.02, "duration": 5000.0, "dt": DT}


@fill_doc
def run(config, *, data=None, seed=0, progress=False, backend="numba"):
    """Simulate the Izhikevich (2003) network and summarise its activity.

    Parameters
    ----------
    %(experiment_config)s
    data : None
        No data set: a simulation.
    backend : str
        ``"numba"`` or ``"brian2"``.
    %(experiment_seed)s
        Seed of the run's noise (``random_state`` of :func:`neurosim.backends.run`). The
        network's parameters and connectivity are drawn from an independent stream derived from
        the same seed (``numpy.random.SeedSequence(seed).spawn(1)[0]``).
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the run's data set (spikes, ``neuron`` coordinates, plus a ``cell_type``
        coordinate ``"exc"``/``"inh"``), with the metrics in ``attrs`` as ``summary_<name>``;
        ``figures``: ``"raster"`` (spike raster of the first 1,000 ms over the population rate)
        and ``"rates"`` (histogram of per-neuron rates); ``report``: markdown; ``metrics``:
        ``rate_mean_hz``, ``rate_exc_hz``, ``rate_inh_hz``, ``isi_cv_mean``, ``n_spikes``,
        ``run_time_s``.

    Examples
    --------
    >>> from neurosim.experiments import get_experiment
    >>> result = get_experiment("spiking-izhikevich").run(quick=True, seed=0)  # doctest: +SKIP
    >>> round(result.metrics["rate_mean_hz"])  # doctest: +SKIP
    10
    """
    from neurosim.backends import run as run_network
    from neurosim.results import firing_rates, isi_cv
    from neurosim.spiking import izhikevich_network

    cfg = config
    net_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    network = izhikevich_network(cfg["n"], cfg["p"], dt=cfg["dt"], random_state=net_rng)
    ds = run_network(network, cfg["duration"], cfg["dt"], backend=backend, random_state=seed,
                     progress=progress)

    n_exc = int(json.loads(ds.attrs["network"])["n_exc"])
    cell_type = np.where(np.asarray(ds["index_in_group"].values) < n_exc, "exc", "inh")
    ds = ds.assign_coords(cell_type=("neuron", cell_type.astype(object)))
    ds["cell_type"].attrs["long_name"] = "excitatory (exc) or inhibitory (inh) neuron"

    rates = firing_rates(ds)
    cv = isi_cv(ds)
    is_exc = rates["cell_type"].values == "exc"
    cv_values = cv.values[np.isfinite(cv.values)]
    metrics = {
        "rate_mean_hz": float(rates.mean()),
        "rate_exc_hz": float(rates.values[is_exc].mean()),
        "rate_inh_hz": float(rates.values[~is_exc].mean()),
        "isi_cv_mean": float(cv_values.mean()) if cv_values.size else float("nan"),
        "n_spikes": float(ds.sizes["spike"]),
        "run_time_s": float(ds.attrs.get("info_run_time_s", float("nan"))),
    }
    figures = {
        "raster": _raster_figure(ds, n_exc),
        "rates": _rates_figure(rates, metrics, ds.attrs["duration"]),
    }
    report = _report(ds, cfg, metrics, cv_values.size, backend, seed)
    headline = [
        Headline("mean firing rate, excitatory neurons (Hz)", metrics["rate_exc_hz"],
                 "inhibitory neurons (Hz)", metrics["rate_inh_hz"], fmt=".2f"),
        Headline("mean CV of inter-spike intervals", metrics["isi_cv_mean"],
                 "a Poisson process", 1.0, fmt=".2f"),
    ]
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics,
                            headline=headline)


def _raster_figure(ds, n_exc):
    """Spike raster (first 1,000 ms; excitatory/inhibitory coloured) over the population rate."""
    from matplotlib.figure import Figure

    from neurosim.results import population_rate

    t_max = min(RASTER_MS, float(ds.attrs["duration"]))
    t = np.asarray(ds["spike_time"].values)
    i = np.asarray(ds["spike_neuron"].values)
    shown = t < t_max
    t, i = t[shown], i[shown]
    exc = i < n_exc
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax_r, ax_p = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    size = 1.0 if ds.sizes["neuron"] <= 2000 else 0.2
    ax_r.scatter(t[exc], i[exc], s=size, c=_EXC_COLOR, marker=".", linewidths=0,
                 rasterized=True, label="excitatory")
    ax_r.scatter(t[~exc], i[~exc], s=size, c=_INH_COLOR, marker=".", linewidths=0,
                 rasterized=True, label="inhibitory")
    ax_r.set_ylim(-0.5, ds.sizes["neuron"] - 0.5)
    ax_r.set_ylabel("neuron")
    ax_r.set_title(f"Izhikevich network, {ds.sizes['neuron']} neurons "
                   f"({ds.attrs['backend']} backend)")
    ax_r.legend(loc="upper right", markerscale=8, frameon=True, fontsize="small")
    rate = population_rate(ds, bin_size=1.0)
    rate = rate.sel(time=slice(0.0, t_max))
    ax_p.plot(rate["time"].values, rate.values, color="k", lw=0.8)
    ax_p.set_xlim(0.0, t_max)
    ax_p.set_xlabel("time (ms)")
    ax_p.set_ylabel("population rate (Hz)")
    return fig


def _rates_figure(rates, metrics, duration):
    """Histogram of per-neuron firing rates, excitatory and inhibitory."""
    from matplotlib.figure import Figure

    values = rates.values
    is_exc = rates["cell_type"].values == "exc"
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    # rates are multiples of 1 / duration: centre the bins on them, about 40 bins in all
    step = 1e3 / float(duration)
    width = step * max(1, int(np.ceil(float(values.max(initial=0.0)) / step / 40)))
    bins = np.arange(-0.5 * width, float(values.max(initial=0.0)) + width, width)
    ax.hist(values[is_exc], bins=bins, color=_EXC_COLOR, alpha=0.7,
            label=f"excitatory (mean {metrics['rate_exc_hz']:.1f} Hz)")
    ax.hist(values[~is_exc], bins=bins, color=_INH_COLOR, alpha=0.7,
            label=f"inhibitory (mean {metrics['rate_inh_hz']:.1f} Hz)")
    ax.axvline(metrics["rate_mean_hz"], color="k", ls="--", lw=1,
               label=f"all (mean {metrics['rate_mean_hz']:.1f} Hz)")
    ax.set_xlabel("firing rate (Hz)")
    ax.set_ylabel("neurons")
    ax.set_title("Per-neuron firing rates")
    ax.legend(fontsize="small")
    return fig


def _report(ds, cfg, metrics, n_cv, backend, seed):
    meta = json.loads(ds.attrs["network"])
    return "\n".join([
        f"# {NAME}",
        "",
        f"The network fires at {metrics['rate_mean_hz']:.2f} Hz on average (excitatory "
        f"{metrics['rate_exc_hz']:.2f} Hz, inhibitory {metrics['rate_inh_hz']:.2f} Hz), "
        f"irregularly: the mean CV of the inter-spike intervals is {metrics['isi_cv_mean']:.2f} "
        "(1 for a Poisson process, 0 for a clock). *CV*: standard deviation / mean of a neuron's "
        "inter-spike intervals; *excitatory* cells are regular spiking to chattering, "
        "*inhibitory* ones fast to low-threshold spiking.",
        "",
        f"Izhikevich (2003) network: {meta['n']} neurons ({meta['n_exc']} "
        f"excitatory, {meta['n_inh']} inhibitory), connection probability {cfg['p']:g} "
        f"({ds.attrs['n_synapses']} synapses), {cfg['duration']:g} ms simulated with "
        f"dt = {cfg['dt']:g} ms on the {backend} backend, seed {seed}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| mean firing rate, all neurons | {metrics['rate_mean_hz']:.2f} Hz |",
        f"| mean firing rate, excitatory | {metrics['rate_exc_hz']:.2f} Hz |",
        f"| mean firing rate, inhibitory | {metrics['rate_inh_hz']:.2f} Hz |",
        f"| mean CV of inter-spike intervals ({n_cv} neurons with >= 3 spikes) "
        f"| {metrics['isi_cv_mean']:.3f} |",
        f"| spikes | {int(metrics['n_spikes'])} |",
        f"| simulation run time | {metrics['run_time_s']:.2f} s |",
        "",
    ])
