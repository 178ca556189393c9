"""Experiment ``reservoir-what-when``: a spiking reservoir learns "what", "when" and "how likely".

After Yamada & Chao (2025), whose methods and numbers could not be obtained: the thresholds in the
report are this project's targets, not the paper's. A heterogeneous Izhikevich reservoir
(:func:`neurosim.reservoir.spiking_reservoir`) receives cue-specific time cells; each cue
announces a stimulus identity that occurs with a probability at a fixed delay. The
:class:`~neurosim.reservoir.ThreeFactorReadout` learns online (eligibility x prediction error x
gate) against the events that actually happened; after an unannounced switch (a delay or a
probability changes) it is compared with FORCE (:class:`~neurosim.reservoir.ForceReadout`)
without and with a reset of P, all after the same pre-switch training on the same reservoir.

- quick: 500 neurons, 2 identities (delays 300 / 600 ms), p in {0.2, 0.5, 0.8}, 300 trials before
  the switch (identity A: 300 -> 500 ms), at most 300 after.
- full: 1,000 neurons, 3 identities (delays 200 / 500 / 800 ms), 1.2 s trials, 600 trials before
  the switch, at most 300 after.
"""

from __future__ import annotations

import numpy as np

from . import ExperimentResult, Headline

NAME = "reservoir-what-when"
LEVELS = (0.2, 0.5, 0.8)


def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version; see the module's text).

    Parameters
    ----------
    quick : bool
        The small, fast settings.

    Returns
    -------
    config : dict
        ``n`` neurons, ``dt`` (ms), ``identities``, their ``delays`` before and
        ``switch_delays`` after the switch (ms), ``trial_ms`` and ``iti_ms``, ``pre`` trials
        before the switch, the ``cap`` on trials after it, ``score_last`` (trials before the
        switch that are scored), and the readouts' parameters ``three_factor`` and ``force``.
    """
    if quick:
        return {"n": 500, "dt": 0.5, "identities": ("A", "B"), "delays": (300.0, 600.0),
                "switch_delays": (500.0, 600.0), "trial_ms": 900.0, "iti_ms": 300.0,
                "pre": 300, "cap": 300, "score_last": 50,
                "three_factor": {"eta": 1e-7, "tau_e": 5.0, "consolidate_every": 30},
                "force": {"alpha": 1e5, "every": 10.0}}
    return {"n": 1000, "dt": 0.5, "identities": ("A", "B", "C"),
            "delays": (200.0, 500.0, 800.0), "switch_delays": (350.0, 500.0, 800.0),
            "trial_ms": 1200.0, "iti_ms": 300.0, "pre": 600, "cap": 300, "score_last": 50,
            "three_factor": {"eta": 5e-8, "tau_e": 5.0, "consolidate_every": 30},
            "force": {"alpha": 1e5, "every": 10.0}}


def _mode(cfg):
    for name, quick in (("quick", True), ("full", False)):
        if cfg == config(quick):
            return name
    return "custom"


def build(cfg, seed):
    """The reservoir and the task of a configuration.

    Parameters
    ----------
    cfg : dict
        Settings (:func:`config`).
    seed : int
        Seed of the reservoir and of the task.

    Returns
    -------
    reservoir : neurosim.spiking.Network
    task : neurosim.reservoir.WhatWhenTask
    """
    from neurosim.reservoir import Block, WhatWhenTask, spiking_reservoir

    net = spiking_reservoir(cfg["n"], dt=cfg["dt"], random_state=seed)
    k = len(cfg["identities"])
    task = WhatWhenTask(cfg["identities"], cfg["delays"], [LEVELS] * k,
                        trial_ms=cfg["trial_ms"], iti_ms=cfg["iti_ms"],
                        blocks=[Block(cfg["pre"]),
                                Block(cfg["cap"], delays=cfg["switch_delays"])],
                        random_state=seed)
    return net, task


def run(config, *, data=None, seed=0, progress=False, backend="numba"):
    """Train the three-factor readout and FORCE on the what/when task, switch, re-adapt.

    Parameters
    ----------
    config : dict
        The settings (:func:`config`).
    data : None
        Unused: the experiment runs on simulated data only.
    backend : str
        ``"numba"`` or ``"brian2"`` (runtime device).
    seed : int
        Seed of the reservoir, the task, the input wiring and the noise.
    progress : bool
        Show progress bars.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the per-trial readouts (``y_when``, ``y_what`` of the three-factor readout,
        ``y_when_force`` and ``y_when_force_reset``) and the schedule; ``figures``:
        ``"learning_curves"``, ``"readout_traces"``, ``"adaptation"``, ``"subspace_angles"``;
        ``metrics``: ``peak_time_error_max``, ``height_prob_r``, ``height_prob_mae`` (three-factor
        readout, last ``score_last`` trials before the switch), the same for FORCE
        (``force_*``), ``readapt_trials_three_factor``, ``readapt_trials_force``,
        ``readapt_trials_force_reset`` (trials after the switch until a 20-trial window meets
        both criteria again; the cap when never), ``readapt_met_*`` (1 if met),
        ``subspace_angle_deg`` and ``subspace_angle_null_deg`` (median of the random null),
        ``what_accuracy``, ``rate_hz``, ``run_time_s``.
    """
    import time

    from neurosim.reservoir import (
        ForceReadout,
        ThreeFactorReadout,
        adaptation_after_switch,
        learning_curve,
        prediction_scores,
        subspace_angles_with_null,
        what_accuracy,
    )

    cfg = dict(config)
    mode = _mode(cfg)
    net, task = build(cfg, seed)
    t0 = time.perf_counter()
    common = {"max_trials": cfg["cap"], "dt": cfg["dt"], "backend": backend,
              "random_state": seed, "progress": progress}
    tf = ThreeFactorReadout(**cfg["three_factor"])
    res_tf = adaptation_after_switch(tf, net, task, **common)[""]
    force = ForceReadout(**cfg["force"])
    res_f = adaptation_after_switch(
        force, net, task, variants={"no_reset": None,
                                    "reset": lambda r: r.session_.reset_rule("rls")}, **common)
    wall = time.perf_counter() - t0
    pre = np.arange(cfg["pre"] - cfg["score_last"], cfg["pre"])
    s_tf = prediction_scores(res_tf["history"], trials=pre)
    s_f = prediction_scores(res_f["no_reset"]["history"], trials=pre)
    angles = subspace_angles_with_null(tf.weights("what"), tf.weights("when"),
                                       random_state=seed)
    metrics = {
        "peak_time_error_max": s_tf["peak_time_error_max"],
        "height_prob_r": s_tf["height_prob_r"], "height_prob_mae": s_tf["height_prob_mae"],
        "force_peak_time_error_max": s_f["peak_time_error_max"],
        "force_height_prob_r": s_f["height_prob_r"], "force_height_prob_mae": s_f["height_prob_mae"],
        "readapt_trials_three_factor": float(res_tf["trials_capped"]),
        "readapt_trials_force": float(res_f["no_reset"]["trials_capped"]),
        "readapt_trials_force_reset": float(res_f["reset"]["trials_capped"]),
        "readapt_met_three_factor": float(res_tf["trials"] is not None),
        "readapt_met_force": float(res_f["no_reset"]["trials"] is not None),
        "readapt_met_force_reset": float(res_f["reset"]["trials"] is not None),
        "subspace_angle_deg": angles["angle_min"],
        "subspace_angle_null_deg": angles["null_median"],
        "subspace_angle_null_p05_deg": angles["null_p05"],
        "what_accuracy": what_accuracy(res_tf["history"], trials=pre),
        "rate_hz": float(np.mean(tf.rates_)),
        "run_time_s": float(wall),
    }
    histories = {"three_factor": res_tf["history"], "force": res_f["no_reset"]["history"],
                 "force_reset": res_f["reset"]["history"]}
    curves = {k: learning_curve(h, window=30, step=10) for k, h in histories.items()}
    ds = _dataset(task, histories)
    ds.attrs.update({"settings": mode, "switch_trial": int(cfg["pre"])})
    figures = {"learning_curves": _curves_figure(curves, cfg),
               "readout_traces": _traces_figure(res_tf["history"], s_tf, pre),
               "adaptation": _adaptation_figure(curves, cfg, res_tf, res_f),
               "subspace_angles": _angles_figure(angles, seed)}
    headline = [
        Headline("r(peak height, p), three-factor readout", metrics["height_prob_r"],
                 "target (this project's)", 0.9),
        Headline("trials to re-adapt after the switch, three-factor",
                 metrics["readapt_trials_three_factor"], "FORCE without reset",
                 metrics["readapt_trials_force"], fmt=".0f"),
        Headline("what/when principal angle (deg)", metrics["subspace_angle_deg"],
                 "random-subspace null, median", metrics["subspace_angle_null_deg"], fmt=".1f"),
    ]
    return ExperimentResult(dataset=ds, figures=figures,
                            report=_report(cfg, metrics, s_tf, angles, backend, seed, mode),
                            metrics=metrics, headline=headline)


def _dataset(task, histories):
    import xarray as xr

    n = max(h.sizes["trial"] for h in histories.values())
    sched = task.to_dataset().isel(trial=slice(0, n))
    tf = histories["three_factor"]
    data = {}

    def pad(a):
        out = np.full((n,) + a.shape[1:], np.nan)
        out[:a.shape[0]] = a
        return out

    data["y_when"] = (("trial", "time"), pad(tf["y_when"].values))
    data["y_what"] = (("trial", "time", "output"), pad(tf["y_what"].values))
    for k in ("force", "force_reset"):
        data[f"y_when_{k}"] = (("trial", "time"), pad(histories[k]["y_when"].values))
    ds = xr.Dataset(data, coords={"time": tf["time"].values, "output": tf["output"].values})
    ds = ds.assign_coords(trial=np.arange(n))
    ds["time"].attrs["units"] = "ms"
    return xr.merge([ds, sched])


def _curves_figure(curves, cfg):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    labels = {"three_factor": "three-factor", "force": "FORCE (no reset)",
              "force_reset": "FORCE (reset of P)"}
    for k, c in curves.items():
        x = c["window_end"].values
        axes[0].plot(x, c["peak_time_error_max"].values, label=labels[k])
        axes[1].plot(x, c["height_prob_r"].values, label=labels[k])
        axes[2].plot(x, c["height_prob_mae"].values, label=labels[k])
    for ax, thr, lab in zip(axes, (0.1, 0.9, 0.15),
                            ("peak time error (rel.)", "r(height, p)", "MAE |height - p|")):
        ax.axhline(thr, color="k", ls=":", lw=1)
        ax.axvline(cfg["pre"], color="0.5", lw=1)
        ax.set_ylabel(lab)
    axes[0].legend(fontsize="small")
    axes[2].set_xlabel("trial (end of a 30-trial window)")
    axes[0].set_title("Learning curves (switch at the grey line; dotted: targets)")
    return fig


def _traces_figure(h, scores, pre):
    from matplotlib.figure import Figure

    from neurosim.reservoir import trial_average

    avg = trial_average(h, trials=pre, by="cue")
    ids = list(h.attrs.get("identities", [])) or sorted(set(map(str, h["identity"].values)))
    fig = Figure(figsize=(10, 3.5 * len(ids)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(ids), 1, sharex=True))
    sub = h.isel(trial=pre)
    for ax, ident in zip(axes, ids):
        cues = np.unique(sub["cue"].values[sub["identity"].values == ident])
        for c in cues:
            p = float(sub["probability"].values[sub["cue"].values == c][0])
            ax.plot(avg["time"], avg.sel(cue=c), label=f"p = {p:g}")
            ax.axhline(p, color=ax.lines[-1].get_color(), ls=":", lw=0.8)
        d = float(sub["delay"].values[sub["identity"].values == ident][0])
        ax.axvline(d, color="k", lw=1)
        ax.axvspan(0.9 * d, 1.1 * d, color="0.9")
        ax.set_ylabel(f"y_when, identity {ident}")
        ax.legend(fontsize="small", loc="upper right")
    axes[-1].set_xlabel("time from cue onset (ms)")
    axes[0].set_title(f"Trial-averaged readout, last {len(pre)} trials before the switch "
                      f"(r = {scores['height_prob_r']:.2f}, MAE = {scores['height_prob_mae']:.2f})")
    return fig


def _adaptation_figure(curves, cfg, res_tf, res_f):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    labels = {"three_factor": ("three-factor", res_tf), "force": ("FORCE, no reset",
                                                                    res_f["no_reset"]),
              "force_reset": ("FORCE, reset of P", res_f["reset"])}
    for k, c in curves.items():
        post = c["window_end"].values > cfg["pre"]
        x = c["window_end"].values[post] - cfg["pre"]
        lab, r = labels[k]
        met = "not met" if r["trials"] is None else f"{r['trials']} trials"
        ax.plot(x, c["height_prob_mae"].values[post], marker=".", label=f"{lab} ({met})")
    ax.axhline(0.15, color="k", ls=":", lw=1)
    ax.set_xlabel("trials after the switch (end of a 30-trial window)")
    ax.set_ylabel("MAE |height - p|")
    ax.set_title("Re-adaptation after the switch (in brackets: trials to both criteria)")
    ax.legend(fontsize="small")
    return fig


def _angles_figure(angles, seed):
    from matplotlib.figure import Figure

    from neurosim.reservoir import random_subspace_angles

    null = random_subspace_angles(angles["n_dim"], 2, 1, n_draws=200, random_state=seed)
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.hist(null, bins=30, color="0.7", label="random subspaces (null)")
    ax.axvline(angles["angle_min"], color="C3", lw=2, label="what vs when (learned)")
    ax.axvline(60, color="k", ls=":", lw=1, label="target 60 deg")
    ax.set_xlabel("smallest principal angle (deg)")
    ax.set_ylabel("draws")
    ax.legend(fontsize="small")
    return fig


def _report(cfg, m, s_tf, angles, backend, seed, mode):
    fmt = lambda v, ok: f"{v:.3f} ({'met' if ok else 'NOT met'})"  # noqa: E731
    ratio = m["readapt_trials_three_factor"] / m["readapt_trials_force"]
    lines = [
        f"# {NAME}",
        "",
        f"Spiking reservoir of {cfg['n']} heterogeneous Izhikevich neurons, identities "
        f"{', '.join(cfg['identities'])} at delays {', '.join(f'{d:g}' for d in cfg['delays'])} "
        f"ms, p in {{0.2, 0.5, 0.8}}, {cfg['pre']} trials before an unannounced switch to delays "
        f"{', '.join(f'{d:g}' for d in cfg['switch_delays'])} ms ({mode} mode), {backend} "
        f"backend, seed {seed}.",
        "",
        "The paper (Yamada & Chao 2025) could not be obtained: the targets below are this "
        "project's, not the paper's numbers.",
        "",
        f"| quantity (last {cfg['score_last']} trials before the switch) | target | three-factor "
        "| FORCE |",
        "|---|---|---|---|",
        f"| largest relative peak-time error | <= 0.10 | "
        f"{fmt(m['peak_time_error_max'], s_tf['timing_ok'])} | "
        f"{m['force_peak_time_error_max']:.3f} |",
        f"| Pearson r, peak height vs p ({s_tf['n_cells']} cells) | >= 0.9 | "
        f"{m['height_prob_r']:.3f} | {m['force_height_prob_r']:.3f} |",
        f"| mean abs(height - p) | <= 0.15 | {m['height_prob_mae']:.3f} | "
        f"{m['force_height_prob_mae']:.3f} |",
        "",
        "| re-adaptation after the switch (trials, 20-trial window, cap "
        f"{cfg['cap']}) | value |",
        "|---|---|",
    ]
    for k, lab in (("three_factor", "three-factor"), ("force", "FORCE without reset"),
                   ("force_reset", "FORCE with reset of P (control)")):
        met = "" if m[f"readapt_met_{k}"] else " (not met within the cap)"
        lines.append(f"| {lab} | {m[f'readapt_trials_{k}']:.0f}{met} |")
    lines += [
        f"| ratio three-factor / FORCE without reset (target <= 0.5) | {ratio:.2f} |",
        "",
        "| what / when subspaces | value |",
        "|---|---|",
        f"| smallest principal angle (target >= 60 deg) | {m['subspace_angle_deg']:.1f} deg |",
        f"| random-subspace null: median (5th percentile) | {m['subspace_angle_null_deg']:.1f} "
        f"({m['subspace_angle_null_p05_deg']:.1f}) deg |",
        f"| 'what' accuracy at the stimulus time | {m['what_accuracy']:.2f} |",
        f"| mean reservoir rate | {m['rate_hz']:.2f} Hz |",
        f"| wall time | {m['run_time_s']:.1f} s |",
        "",
        "Random subspaces of these dimensions in "
        f"{angles['n_dim']} dimensions are already this far apart: an angle near the null says "
        "the two readouts are about as unrelated as random vectors, not that they were pushed "
        "apart.",
        "",
    ]
    return "\n".join(lines)
