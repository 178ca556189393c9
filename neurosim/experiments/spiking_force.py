"""Experiment ``spiking-force``: FORCE learning of a 5 Hz sine (Nicola & Clopath 2017).

Builds :func:`neurosim.spiking.force_network` (LIF neurons with double-exponential synapses,
static random weights, a readout ``z`` trained by recursive least squares every 2.5 ms and fed back
into the network) and runs it: the network runs freely, then RLS trains the readout, then the
network runs freely again with the learned weights. Reports the RMS error of ``z`` against the
sine during the final, free-running test phase.

- quick: 500 neurons, dt = 0.1 ms, 2 s free + 3 s RLS + 2 s test.
- full: the paper's 2,000 neurons, dt = 0.05 ms, 5 s free + 5 s RLS + 5 s test.
"""

from __future__ import annotations

import numpy as np

from . import ExperimentResult, Headline, settings_name

NAME = "spiking-force"


def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version; see the module's text).

    Parameters
    ----------
    quick : bool
        The small, fast settings.

    Returns
    -------
    config : dict
        ``n`` neurons, ``dt`` (ms), ``duration`` (ms) and the RLS training window ``train``
        (start, stop) in ms.
    """
    if quick:
        return {"n": 500, "dt": 0.1, "duration": 7000.0, "train": (2000.0, 5000.0)}
    return {"n": 2000, "dt": 0.05, "duration": 15000.0, "train": (5000.0, 10000.0)}


_default_config = config  # run's argument `config` shadows the function


def run(config, *, data=None, seed=0, progress=False, backend="numba"):
    """Train the readout of a spiking LIF network to produce a 5 Hz sine with FORCE.

    Parameters
    ----------
    config : dict
        The settings (:func:`config`).
    data : None
        Unused: the experiment runs on simulated data only.
    backend : str
        ``"numba"`` or ``"brian2"`` (runtime device: RLS runs as a network operation).
    seed : int
        Seed of the weights, the initial state and the run.
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the readout and the target over time, spikes; ``figures``: ``"readout"``
        (target and ``z``, training window shaded, and the error), ``"raster"`` (20 neurons
        around the end of training); ``metrics``: ``rms_test`` (the whole test phase),
        ``rms_test_first_500ms``, ``freq_test_hz`` (dominant frequency of ``z`` in the test
        phase), ``amplitude_test``, ``rms_before``, ``rate_hz``, ``run_time_s``.
    """
    from neurosim.backends import run as run_network
    from neurosim.spiking import force_network

    cfg = dict(config)
    mode = settings_name(cfg, _default_config)
    net = force_network(cfg["n"], duration=cfg["duration"], train=cfg["train"], dt=cfg["dt"],
                        random_state=seed)
    ds = run_network(net, cfg["duration"], cfg["dt"], backend=backend, random_state=seed,
                     progress=progress)
    t = ds["y_z_time"].values
    z = ds["y_z"].values[:, 0]
    target = np.sin(2 * np.pi * net.meta["freq"] * t / 1000.0)
    start, stop = cfg["train"]
    test, before = t >= stop, t < start
    rms = lambda sel: float(np.sqrt(np.mean((z[sel] - target[sel]) ** 2)))  # noqa: E731
    zt = z[test] - z[test].mean()
    freqs = np.fft.rfftfreq(zt.size, d=(t[1] - t[0]) / 1000.0)
    metrics = {"rms_test": rms(test), "rms_test_first_500ms": rms(test & (t < stop + 500.0)),
               "freq_test_hz": float(freqs[np.argmax(np.abs(np.fft.rfft(zt)))]),
               "amplitude_test": float(zt.std() * np.sqrt(2)), "rms_before": rms(before),
               "rate_hz": float(ds.sizes["spike"] / cfg["n"] / (cfg["duration"] / 1000.0)),
               "run_time_s": float(ds.attrs["info_run_time_s"])}
    ds["target"] = ("y_z_time", target)
    ds.attrs.update({"settings": mode,
                     **{f"summary_{k}": v for k, v in metrics.items()}})
    figures = {"readout": _readout_figure(t, z, target, cfg), "raster": _raster(ds, cfg)}
    headline = [Headline("RMS error of the readout, free-running test", metrics["rms_test"],
                         "before training", metrics["rms_before"])]
    return ExperimentResult(dataset=ds, figures=figures,
                            report=_report(cfg, metrics, backend, seed, mode), metrics=metrics,
                            headline=headline)


def _readout_figure(t, z, target, cfg):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), layout="constrained")
    ax, ax_e = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    s = t / 1000.0
    for a in (ax, ax_e):
        a.axvspan(cfg["train"][0] / 1000, cfg["train"][1] / 1000, color="0.9", label="RLS on")
    ax.plot(s, target, "k--", lw=1, label="target (5 Hz)")
    ax.plot(s, z, lw=1, label="readout z")
    ax.set_ylabel("z")
    ax.set_ylim(-2, 2)
    ax.legend(fontsize="small", loc="upper left", ncol=3)
    ax_e.plot(s, z - target, lw=0.8)
    ax_e.set_ylabel("error")
    ax_e.set_ylim(-1.5, 1.5)
    ax_e.set_xlabel("time (s)")
    return fig


def _raster(ds, cfg):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    sel = ds["spike_neuron"].values < 20
    ax.plot(ds["spike_time"].values[sel] / 1000.0, ds["spike_neuron"].values[sel], "|k", ms=4)
    stop = cfg["train"][1] / 1000.0
    ax.set_xlim(stop - 1.0, stop + 1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.set_title("20 neurons around the end of training")
    return fig


def _report(cfg, m, backend, seed, mode):
    return "\n".join([
        f"# {NAME}",
        "",
        f"FORCE training (Nicola & Clopath 2017) of a 5 Hz sine, {cfg['n']} LIF neurons, "
        f"dt = {cfg['dt']} ms, RLS from {cfg['train'][0] / 1000:g} to {cfg['train'][1] / 1000:g} "
        f"s of {cfg['duration'] / 1000:g} s ({mode} mode), {backend} backend, seed {seed}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| RMS error, free-running test phase | {m['rms_test']:.3f} |",
        f"| RMS error, first 500 ms of the test phase | {m['rms_test_first_500ms']:.3f} |",
        f"| dominant frequency of z in the test phase | {m['freq_test_hz']:.2f} Hz |",
        f"| amplitude of z in the test phase (target 1) | {m['amplitude_test']:.2f} |",
        f"| RMS error before training (z = 0: 0.707) | {m['rms_before']:.3f} |",
        f"| mean firing rate | {m['rate_hz']:.1f} Hz |",
        f"| simulation run time | {m['run_time_s']:.1f} s |",
        "",
        "A sine has RMS 0.707: an error well below it means the network keeps producing the "
        "oscillation after learning stops. The network keeps the frequency and amplitude; the "
        "error over a long test phase grows mostly through a slow drift of the phase, which "
        "varies from seed to seed (see the docs page 'FORCE').",
        "",
    ])
