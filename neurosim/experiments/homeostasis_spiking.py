"""Experiment ``homeostasis-spiking``: a recurrent spiking network pushed 3x above and below its
set point returns to its target rate, on numba and on Brian2.

Builds :func:`neurosim.homeostasis.homeostatic_network` (LIF neurons, 80 % excitatory, Poisson
input, adaptive thresholds and synaptic scaling toward a 5 Hz target), finds the inputs at which
the unregulated network fires at 3x and 1/3 of the target (:func:`~neurosim.homeostasis.
input_rate_for`), and runs :func:`~neurosim.homeostasis.rate_recovery` on the chosen backend.
The same recovery runs on the other backend, with the same inputs, for ``compare_duration`` ms,
to measure the backends' agreement.

- quick: 200 neurons (in-degree 100, as the full network), dt 0.5 ms, 20 s; the backends
  compared over 6 s with Brian2's numpy target (no compilation).
- full: 1,000 neurons, dt 0.1 ms, 60 s; the backends compared over 60 s with Brian2's cython
  target.
"""

from __future__ import annotations

import math

import numpy as np

from . import ExperimentResult, Headline

NAME = "homeostasis-spiking"
STARTS = ("above", "below")


def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version; see the module's text).

    Parameters
    ----------
    quick : bool
        The small, fast settings.

    Returns
    -------
    config : dict
        ``n``, ``p``, ``dt`` (ms), ``target_rate`` (Hz), ``factor``, ``duration`` (ms),
        ``bin_size`` (ms), ``final_window`` (ms), ``mechanism``, ``compare_duration`` (ms; 0
        skips the second backend) and ``brian2_target``.
    """
    common = {"target_rate": 5.0, "factor": 3.0, "mechanism": "both", "tolerance": 0.1}
    if quick:
        return {**common, "n": 200, "p": 0.5, "dt": 0.5, "duration": 20000.0,
                "bin_size": 2000.0, "final_window": 6000.0, "compare_duration": 6000.0,
                "compare_final_window": 2000.0, "brian2_target": "numpy"}
    return {**common, "n": 1000, "p": 0.1, "dt": 0.1, "duration": 60000.0, "bin_size": 1000.0,
            "final_window": 10000.0, "compare_duration": 60000.0,
            "compare_final_window": 10000.0, "brian2_target": "cython"}


def _mode(cfg):
    for name, quick in (("quick", True), ("full", False)):
        if cfg == config(quick):
            return name
    return "custom"


def _options(backend, cfg):
    return {"target": cfg["brian2_target"]} if backend == "brian2" else {}


def run(config, *, data=None, seed=0, progress=False, backend="numba"):
    """Push the network 3x above and below its set point and measure the recovery.

    Parameters
    ----------
    config : dict
        The settings (:func:`config`).
    data : None
        Unused: the experiment simulates its data.
    seed : int
        Seed of the network and the runs.
    progress : bool
        Show progress bars.
    backend : str
        Backend of the main recovery (``"numba"`` or ``"brian2"``); the other one is run for
        the comparison.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the recovery (:func:`~neurosim.homeostasis.rate_recovery`) with the
        comparison runs' rates as ``compare_rate`` (dims ``backend``, ``start``,
        ``compare_time``); ``figures``: ``"recovery"``, ``"mechanisms"``, ``"backends"``;
        ``metrics``: ``rate_error_from_above``, ``rate_error_from_below`` (relative to the
        target), ``settle_time_above_s``, ``settle_time_below_s``, ``initial_rate_above_hz``,
        ``initial_rate_below_hz``, ``final_rate_above_hz``, ``final_rate_below_hz`` and, with a
        comparison, ``backend_rate_difference`` (largest relative difference of the two
        backends' mean rates), ``backend_final_rate_difference`` and the other backend's
        ``<other>_rate_error_from_<start>``.
    """
    import xarray as xr

    from neurosim.homeostasis import rate_recovery

    cfg = dict(config)
    mode = _mode(cfg)
    net = {"n": cfg["n"], "p": cfg["p"], "target_rate": cfg["target_rate"],
           "mechanism": cfg["mechanism"]}
    res = rate_recovery(cfg["factor"], duration=cfg["duration"], dt=cfg["dt"], backend=backend,
                        bin_size=cfg["bin_size"], tolerance=cfg["tolerance"],
                        final_window=cfg["final_window"], random_state=seed, progress=progress,
                        backend_options=_options(backend, cfg), **net)
    a = res.attrs
    metrics = {}
    for start in STARTS:
        metrics[f"rate_error_from_{start}"] = a[f"rate_error_from_{start}"]
        metrics[f"settle_time_{start}_s"] = a[f"settle_time_{start}_s"]
        metrics[f"initial_rate_{start}_hz"] = a[f"initial_rate_{start}"]
        metrics[f"final_rate_{start}_hz"] = a[f"final_rate_{start}"]
    compare = None
    if cfg["compare_duration"] > 0:
        inputs = {k: a[f"input_rate_{k}"] for k in ("set_point", "above", "below")}
        runs = {}
        if (cfg["compare_duration"], cfg["compare_final_window"]) == (cfg["duration"],
                                                                       cfg["final_window"]):
            runs[backend] = res  # the same run (monitors do not change the dynamics)
        for be in ("numba", "brian2"):
            if be in runs:
                continue
            runs[be] = rate_recovery(
                cfg["factor"], duration=cfg["compare_duration"], dt=cfg["dt"], backend=be,
                bin_size=cfg["bin_size"], tolerance=cfg["tolerance"],
                final_window=cfg["compare_final_window"], input_rates=inputs,
                random_state=seed, record_every=None, progress=progress,
                backend_options=_options(be, cfg), **net)
        other = "brian2" if backend == "numba" else "numba"
        diff, fdiff = [], []
        for start in STARTS:
            ra, rb = (runs[be].attrs[f"mean_rate_{start}"] for be in ("numba", "brian2"))
            fa, fb = (runs[be].attrs[f"final_rate_{start}"] for be in ("numba", "brian2"))
            diff.append(abs(rb - ra) / ra)
            fdiff.append(abs(fb - fa) / fa)
            metrics[f"{other}_rate_error_from_{start}"] = runs[other].attrs[
                f"rate_error_from_{start}"]
            metrics[f"{other}_settle_time_{start}_s"] = runs[other].attrs[
                f"settle_time_{start}_s"]
        metrics["backend_rate_difference"] = max(diff)
        metrics["backend_final_rate_difference"] = max(fdiff)
        metrics["brian2_run_s"] = sum(runs["brian2"].attrs[f"run_time_{s}_s"] for s in STARTS)
        metrics["numba_run_s"] = sum(runs["numba"].attrs[f"run_time_{s}_s"] for s in STARTS)
        compare = runs
        res = res.assign(compare_rate=xr.DataArray(
            np.array([runs[be]["rate"].values for be in ("numba", "brian2")]),
            dims=("backend", "start", "compare_time"),
            coords={"backend": ["numba", "brian2"],
                    "compare_time": ("compare_time", runs["numba"]["time"].values,
                                     {"units": "ms"})},
            attrs={"units": "Hz"}))
    res.attrs.update({"settings": mode, **{f"summary_{k}": float(v) for k, v in metrics.items()
                                           if math.isfinite(v)}})
    figures = {"recovery": _recovery_figure(res), "mechanisms": _mechanisms_figure(res)}
    if compare is not None:
        figures["backends"] = _backends_figure(res)
    headline = [
        Headline("rate error after a push 3x above (relative)", metrics["rate_error_from_above"],
                 "tolerance", cfg["tolerance"]),
        Headline("rate error after a push 3x below (relative)", metrics["rate_error_from_below"],
                 "tolerance", cfg["tolerance"]),
    ]
    if compare is not None:
        headline.append(Headline("numba vs Brian2 mean rates (relative difference)",
                                 metrics["backend_rate_difference"], "tolerance", 0.05))
    return ExperimentResult(dataset=res, figures=figures,
                            report=_report(cfg, metrics, backend, seed, mode, res),
                            metrics=metrics, headline=headline)


def _band(ax, target, tol):
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.axhspan(target * (1 - tol), target * (1 + tol), color="0.85", zorder=0,
               label=f"target ± {tol:.0%}")
    ax.axhline(target, color="0.4", lw=0.8)


def _recovery_figure(res):
    from matplotlib.figure import Figure

    a = res.attrs
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    _band(ax, a["target_rate"], a["tolerance"])
    t = res["time"].values / 1000
    for start, color in zip(STARTS, ("C3", "C0")):
        ax.plot(t, res["rate"].sel(start=start), "o-", color=color, ms=3,
                label=f"from {a['factor']:g}x {start} (unregulated "
                      f"{a[f'initial_rate_{start}']:.2f} Hz)")
        settle = a[f"settle_time_{start}_s"]
        if math.isfinite(settle):
            ax.axvline(settle, color=color, ls=":", lw=1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("population rate (Hz)")
    ax.set_title(f"Recovery to the {a['target_rate']:g} Hz set point ({a['backend']}); dotted: "
                 "within tolerance from here on")
    ax.legend(fontsize="small")
    return fig


def _mechanisms_figure(res):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for start, color in zip(STARTS, ("C3", "C0")):
        if "theta_mean" in res:
            axes[0].plot(res["state_time"].values / 1000, res["theta_mean"].sel(start=start),
                         color=color, label=f"from {start}")
        if "w_input_mean" in res:
            axes[1].plot(res["w_time"].values / 1000, res["w_input_mean"].sel(start=start),
                         color=color, label=f"from {start}")
    axes[0].set_ylabel("mean threshold offset θ (mV)")
    axes[1].set_ylabel("mean input weight (mV)")
    for ax in axes:
        ax.set_xlabel("time (s)")
        ax.legend(fontsize="small")
    fig.suptitle("The mechanisms: intrinsic plasticity (left) and synaptic scaling (right)")
    return fig


def _backends_figure(res):
    from matplotlib.figure import Figure

    a = res.attrs
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    _band(ax, a["target_rate"], a["tolerance"])
    t = res["compare_time"].values / 1000
    for start, color in zip(STARTS, ("C3", "C0")):
        ax.plot(t, res["compare_rate"].sel(backend="numba", start=start), "o-", color=color,
                label=f"numba, from {start}")
        ax.plot(t, res["compare_rate"].sel(backend="brian2", start=start), "x--", color=color,
                label=f"Brian2, from {start}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("population rate (Hz)")
    ax.set_title("Same network and inputs on both backends (independent Poisson draws)")
    ax.legend(fontsize="small", ncol=2)
    return fig


def _fmt(v, spec=".3f"):
    return "-" if v is None or not math.isfinite(v) else format(v, spec)


def _report(cfg, m, backend, seed, mode, res):
    a = res.attrs
    lines = [
        f"# {NAME}",
        "",
        f"A recurrent network of {cfg['n']} LIF neurons (80 % excitatory) with adaptive "
        f"thresholds and synaptic scaling toward {cfg['target_rate']:g} Hz ({cfg['mechanism']}), "
        f"pushed {cfg['factor']:g}x above and below its set point by changing its Poisson input "
        f"(the unregulated network fires at {a['initial_rate_above']:.2f} and "
        f"{a['initial_rate_below']:.2f} Hz there), {cfg['duration'] / 1000:g} s on the "
        f"{backend} backend, dt = {cfg['dt']:g} ms ({mode} mode), seed {seed}. The issue asks "
        f"for the rate within 10 % of the target within 60 s from both sides, on both backends, "
        f"and the backends' rates within 5 %.",
        "",
        "| push | input (Hz) | unregulated rate (Hz) | final rate (Hz) | relative error | "
        "within 10 % from (s) |",
        "|---|---|---|---|---|---|",
    ]
    for start in STARTS:
        lines.append(
            f"| {start} | {a[f'input_rate_{start}']:.1f} | {a[f'initial_rate_{start}']:.2f} | "
            f"{a[f'final_rate_{start}']:.2f} | {_fmt(a[f'rate_error_from_{start}'])} | "
            f"{_fmt(a[f'settle_time_{start}_s'], '.1f')} |")
    lines += ["", f"Set point input: {a['input_rate_set_point']:.1f} Hz (unregulated rate "
                  f"{a['initial_rate_set_point']:.2f} Hz). Final rate: mean over the last "
                  f"{cfg['final_window'] / 1000:g} s; 'within 10 % from': start of the first "
                  f"{cfg['bin_size'] / 1000:g}-s bin after which every bin is within 10 %."]
    if "backend_rate_difference" in m:
        other = "brian2" if backend == "numba" else "numba"
        lines += [
            "",
            f"Backends over {cfg['compare_duration'] / 1000:g} s (Brian2 {cfg['brian2_target']} "
            f"target, same inputs, independent Poisson draws): mean rates differ by at most "
            f"{m['backend_rate_difference']:.2%}, final rates by "
            f"{m['backend_final_rate_difference']:.2%}; on {other} the errors are "
            f"{_fmt(m[f'{other}_rate_error_from_above'])} (above) and "
            f"{_fmt(m[f'{other}_rate_error_from_below'])} (below), within 10 % from "
            f"{_fmt(m[f'{other}_settle_time_above_s'], '.1f')} s and "
            f"{_fmt(m[f'{other}_settle_time_below_s'], '.1f')} s. Run times: numba "
            f"{m['numba_run_s']:.1f} s, Brian2 {m['brian2_run_s']:.1f} s.",
        ]
    lines.append("")
    return "\n".join(lines)
