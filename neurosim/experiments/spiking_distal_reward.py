"""Experiment ``spiking-distal-reward``: Izhikevich (2007), the distal reward problem.

Builds :func:`neurosim.spiking.distal_reward_network` (1,000 Izhikevich neurons, 100 synapses
each, reward-modulated STDP on the excitatory synapses, ``daspnet.m``'s parameters) and runs
:func:`neurosim.spiking.run_distal_reward`: every firing of the chosen synapse's presynaptic
neuron followed within 20 ms by its postsynaptic neuron is rewarded with dopamine 1-3 s later.
A control runs the same protocol without rewards. Reports where the chosen synapse ends among the
excitatory weights in both runs.

- quick: 120 s simulated each (seconds): too short for the effect, a demonstration of the
  protocol; the tests run 600 s.
- full: the paper's hour (3,600 s) each.

Both use ``dt = 0.5`` ms (``daspnet.m`` integrates ``v`` in two half-millisecond steps).
"""

from __future__ import annotations

import numpy as np

from . import ExperimentResult, Headline, settings_name

NAME = "spiking-distal-reward"


def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version; see the module's text).

    Parameters
    ----------
    quick : bool
        The small, fast settings.

    Returns
    -------
    config : dict
        ``duration`` (ms simulated per run) and ``dt`` (ms).
    """
    return {"duration": 120_000.0 if quick else 3_600_000.0, "dt": 0.5}


_default_config = config  # run's argument `config` shadows the function


def run(config, *, data=None, seed=0, progress=False, backend="numba"):
    """Run the distal reward protocol and its no-reward control.

    Parameters
    ----------
    config : dict
        The settings (:func:`config`).
    data : None
        Unused: the experiment runs on simulated data only.
    backend : str
        ``"numba"`` or ``"brian2"`` (Brian2's runtime device; slow for the full hour).
    seed : int
        Seed of the connectivity (and, through it, the runs' noise and reward delays).
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the weight of the chosen synapse over time with and without rewards
        (dim ``condition``), the final excitatory weights, the reward times; ``figures``:
        ``"weights"`` (the chosen synapse over time, rewards marked) and ``"distribution"``
        (final weights, chosen synapse marked); ``metrics``: ``chosen_percentile``,
        ``chosen_final``, ``w_p99``, ``w_mean``, ``n_rewards``, ``control_chosen_percentile``,
        ``control_chosen_final``, ``control_w_p99``, ``rate_hz``.
    """
    import xarray as xr

    from neurosim.spiking import distal_reward_network, run_distal_reward

    cfg = dict(config)
    mode = settings_name(cfg, _default_config)
    results = {}
    for condition, reward in (("reward", True), ("control", False)):
        net = distal_reward_network(dt=cfg["dt"], random_state=seed)
        results[condition] = run_distal_reward(net, cfg["duration"], reward=reward,
                                               backend=backend, random_state=seed + 1,
                                               progress=progress)
    r, c = results["reward"], results["control"]
    metrics = {
        "chosen_percentile": r.attrs["chosen_percentile"], "chosen_final": r.attrs["chosen_final"],
        "w_p99": r.attrs["w_p99"], "w_mean": r.attrs["w_mean"],
        "n_rewards": float(r.attrs["n_rewards"]),
        "control_chosen_percentile": c.attrs["chosen_percentile"],
        "control_chosen_final": c.attrs["chosen_final"], "control_w_p99": c.attrs["w_p99"],
        "control_w_mean": c.attrs["w_mean"], "rate_hz": float(r["rate"].mean()),
    }
    ds = xr.Dataset(
        {"w_chosen": (("condition", "time"), np.stack([r.w_chosen.values, c.w_chosen.values])),
         "final_w_exc": (("condition", "synapse"),
                         np.stack([r.final_w_exc.values, c.final_w_exc.values])),
         "reward_time": ("reward", r.reward_time.values, {"units": "ms"})},
        coords={"condition": ["reward", "control"], "time": r.time.values},
        attrs={"settings": mode, "backend": backend, **cfg,
               **{f"summary_{k}": v for k, v in metrics.items()}},
    )
    figures = {"weights": _weights_figure(ds), "distribution": _distribution_figure(ds)}
    headline = [Headline("percentile of the rewarded synapse's final weight",
                         metrics["chosen_percentile"], "no-reward control",
                         metrics["control_chosen_percentile"], fmt=".1f")]
    return ExperimentResult(dataset=ds, figures=figures,
                            report=_report(cfg, metrics, backend, seed, mode), metrics=metrics,
                            headline=headline)


def _weights_figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    t = ds.time.values / 1000.0
    ax.plot(t, ds.w_chosen.sel(condition="reward").values, label="chosen synapse, rewarded")
    ax.plot(t, ds.w_chosen.sel(condition="control").values, label="chosen synapse, control")
    rt = ds.reward_time.values / 1000.0
    ax.plot(rt, np.zeros_like(rt), "rx", ms=4, label="rewards")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("weight")
    ax.legend(fontsize="small")
    return fig


def _distribution_figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, cond in zip(axes, ("reward", "control")):
        w = ds.final_w_exc.sel(condition=cond).values
        ax.hist(w, bins=np.linspace(0, 4, 41), color="0.6")
        ax.plot([w[0]], [0], "ro", ms=8, clip_on=False, label=f"chosen ({w[0]:.2f})")
        ax.set_yscale("log")
        ax.set_xlabel("weight")
        ax.set_title(cond)
        ax.legend(fontsize="small")
    axes[0].set_ylabel("excitatory synapses")
    return fig


def _report(cfg, m, backend, seed, mode):
    return "\n".join([
        f"# {NAME}",
        "",
        f"Izhikevich (2007) distal reward, 1,000 neurons, {cfg['duration'] / 1000:g} s per run at "
        f"dt = {cfg['dt']} ms ({mode} mode), {backend} backend, seed {seed}; mean rate "
        f"{m['rate_hz']:.2f} Hz; {int(m['n_rewards'])} rewards.",
        "",
        "| quantity | rewarded | control (no reward) |",
        "|---|---|---|",
        f"| chosen synapse, final weight (max 4) | {m['chosen_final']:.3f} | "
        f"{m['control_chosen_final']:.3f} |",
        f"| chosen synapse, percentile among excitatory weights | {m['chosen_percentile']:.2f} | "
        f"{m['control_chosen_percentile']:.2f} |",
        f"| 99th percentile of excitatory weights | {m['w_p99']:.3f} | {m['control_w_p99']:.3f} |",
        f"| mean excitatory weight | {m['w_mean']:.3f} | {m['control_w_mean']:.3f} |",
        "",
        "The paper: after an hour the chosen synapse is at the maximum (4) and the other "
        "synapses are low. See the docs page 'Distal reward' for what reproduces and what does "
        "not.",
        "",
    ])
