"""Experiment ``continual-mnist``: replay, view-batch replay and power-law rehearsal on MNIST-subset
streams, against fine-tuning and joint training, evaluated continually.

Five learners share one MLP (784-256-256-10), optimiser, batch and budget, and learn two streams
of the 5,000-image MNIST subset (:func:`neurosim.continual.split_mnist_subset`, class-incremental
digit pairs, and :func:`neurosim.continual.permuted_mnist_subset`, domain-incremental):

- ``finetune``: :class:`neurosim.continual.FineTuning` (the lower bound);
- ``replay``: :class:`neurosim.continual.ExperienceReplay` (a reservoir memory, one replayed
  sample per new one);
- ``view_batch``: fine-tuning with :class:`neurosim.continual.ViewBatchReplay` over a
  :class:`~neurosim.continual.PowerLawRehearsal` base (Kang et al. 2025: 2 augmented views per
  sample and the one-to-many self-distillation loss);
- ``power_law``: fine-tuning with :class:`~neurosim.continual.PowerLawRehearsal` (old tasks
  revisited with power-law probabilities);
- ``joint``: :class:`neurosim.continual.JointTraining` with the budget scaled to the union (the
  upper bound).

Every learner is evaluated on (a fixed subset of) every task's test set every ``eval_every``
iterations, which gives ACC, BWT, min-ACC and the windowed forgetting WF^10 / WF^100 of De Lange
et al. (2023) (:func:`neurosim.continual.continual_metrics`), over several seeds.

- quick: 3 split / 3 permuted tasks, 60 iterations per task, evaluation every 2 iterations on
  200 test images per task, 3 seeds.
- full: 5 split / 5 permuted tasks, 3 epochs per task (38 / 188 iterations of 64, as
  ``peer-avalanche.md`` ran Avalanche), evaluation every iteration on 500 images per task,
  3 seeds.

Without the subset (``--data PATH`` or the data home) the streams fall back to scikit-learn's
digits, which the report and ``attrs["data"]`` say.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "continual-mnist"
LEARNER_NAMES = ("finetune", "replay", "view_batch", "power_law", "joint")
METRICS = ("acc", "bwt", "min_acc", "wf10", "wf100")
_LABELS = {"finetune": "fine-tuning", "replay": "replay", "view_batch": "view-batch replay",
           "power_law": "power-law rehearsal", "joint": "joint (scaled budget)"}


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        3 tasks per stream and 60 iterations per task.

    Returns
    -------
    config : dict
        ``n_split``, ``n_permuted`` (tasks), ``split_iterations``, ``permuted_iterations``
        (per task), ``batch_size``, ``hidden_sizes``, ``optimizer``, ``learning_rate``,
        ``momentum``, ``eval_every``, ``eval_size``, ``buffer_size``, ``n_views``,
        ``power_law_exponent``, ``seeds``, ``device``.
    """
    common = {"batch_size": 64, "hidden_sizes": (256, 256), "optimizer": "sgd",
              "learning_rate": 0.01, "momentum": 0.9, "buffer_size": 200, "n_views": 2,
              "power_law_exponent": 1.0, "seeds": 3, "device": "cpu"}
    if quick:
        return {**common, "n_split": 3, "n_permuted": 3, "split_iterations": 60,
                "permuted_iterations": 60, "eval_every": 2, "eval_size": 200}
    return {**common, "n_split": 5, "n_permuted": 5, "split_iterations": 38,
            "permuted_iterations": 188, "eval_every": 1, "eval_size": 500}


def make_learners(cfg, stream, seed):
    """The five learners of the comparison for one stream (``"split"`` or ``"permuted"``).

    Parameters
    ----------
    cfg : dict
        The settings (:func:`config`).
    stream : {"split", "permuted"}
        Which budget (``<stream>_iterations``) to use.
    seed : int
        Seed of every learner.

    Returns
    -------
    learners : dict of str to ContinualLearner
    """
    from neurosim.continual import (
        ExperienceReplay,
        FineTuning,
        JointTraining,
        PowerLawRehearsal,
        ViewBatchReplay,
    )

    common = {k: cfg[k] for k in ("batch_size", "hidden_sizes", "optimizer", "learning_rate",
                                  "momentum", "eval_every", "eval_size", "device")}
    common["n_iterations"] = cfg[f"{stream}_iterations"]
    common["random_state"] = seed
    plaw = PowerLawRehearsal(exponent=cfg["power_law_exponent"])
    return {
        "finetune": FineTuning(**common),
        "replay": ExperienceReplay(buffer_size=cfg["buffer_size"], **common),
        "view_batch": FineTuning(schedule=ViewBatchReplay(n_views=cfg["n_views"], base=plaw),
                                 **common),
        "power_law": FineTuning(schedule=plaw, **common),
        "joint": JointTraining(**common),
    }


def _streams(cfg, data, seed):
    from neurosim.continual import (
        permuted_digits,
        permuted_mnist_subset,
        split_digits,
        split_mnist_subset,
    )

    try:
        split = split_mnist_subset(n_tasks=5, path=data, random_state=seed)[:cfg["n_split"]]
        perm = permuted_mnist_subset(n_tasks=cfg["n_permuted"], path=data, random_state=seed)
        return {"split": split, "permuted": perm}, perm.metadata["data"], True
    except FileNotFoundError:
        if data is not None:
            raise
        note = ("scikit-learn's 8x8 digits (fallback: the 5,000-image MNIST subset was not found; "
                "pass data=PATH / --data PATH)")
        return ({"split": split_digits(n_tasks=5, random_state=seed)[:cfg["n_split"]],
                 "permuted": permuted_digits(n_tasks=cfg["n_permuted"], random_state=seed)},
                note, False)


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train the five learners on split and permuted MNIST-subset streams, over seeds.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        The MNIST subset (file or folder); None searches the data home and falls back to
        scikit-learn's digits.
    %(experiment_seed)s
        The seeds are ``seed .. seed + config["seeds"] - 1`` (streams and learners).
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``score`` (stream, learner, metric, seed); ``figures``: ``"metrics"``;
        ``metrics``: ``<stream>_<learner>_<metric>`` (mean over seeds) and ``..._sd``, for the
        metrics acc, bwt, min_acc, wf10, wf100, and ``on_mnist_subset``.
    """
    import xarray as xr
    from tqdm.auto import tqdm

    from neurosim.continual import single_thread

    cfg = dict(config)
    seeds = list(range(seed, seed + int(cfg["seeds"])))
    snames = ("split", "permuted")
    score = np.full((2, len(LEARNER_NAMES), len(METRICS), len(seeds)), np.nan)
    note, on_subset = "", False
    with single_thread(), tqdm(total=2 * len(seeds) * len(LEARNER_NAMES), desc=NAME,
                               disable=not progress) as bar:
        for k, sd in enumerate(seeds):
            streams, note, on_subset = _streams(cfg, data, sd)
            for s, sname in enumerate(snames):
                for i, learner in enumerate(make_learners(cfg, sname, sd).values()):
                    learner.fit_stream(streams[sname])
                    score[s, i, :, k] = [learner.metrics_[m] for m in METRICS]
                    bar.update()
    metrics = {"on_mnist_subset": float(on_subset)}
    for s, sname in enumerate(snames):
        for i, lname in enumerate(LEARNER_NAMES):
            for j, m in enumerate(METRICS):
                vals = score[s, i, j]
                metrics[f"{sname}_{lname}_{m}"] = float(np.nanmean(vals))
                metrics[f"{sname}_{lname}_{m}_sd"] = (float(np.nanstd(vals, ddof=1))
                                                      if len(seeds) > 1 else 0.0)
    ds = xr.Dataset(
        {"score": (("stream", "learner", "metric", "seed"), score,
                   {"units": "1", "long_name": "continual-learning metric (fraction)"})},
        coords={"stream": list(snames), "learner": list(LEARNER_NAMES),
                "metric": list(METRICS), "seed": seeds},
        attrs={"data": note, **{f"config_{k}": (list(v) if isinstance(v, tuple) else v)
                                for k, v in cfg.items()}},
    )
    headline = [
        Headline("split MNIST-subset ACC, replay", metrics["split_replay_acc"],
                 "fine-tuning", metrics["split_finetune_acc"]),
        Headline("split MNIST-subset WF^10, replay", metrics["split_replay_wf10"],
                 "fine-tuning", metrics["split_finetune_wf10"]),
    ]
    return ExperimentResult(dataset=ds, figures={"metrics": _figure(ds)},
                            report=_report(ds, cfg, metrics, seeds), metrics=metrics,
                            headline=headline)


def _figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / ds.sizes["learner"]
    for ax, sname in zip(axes, ds["stream"].values):
        for i, lname in enumerate(ds["learner"].values):
            vals = ds["score"].sel(stream=sname, learner=lname)
            x = np.arange(ds.sizes["metric"]) + (i - ds.sizes["learner"] / 2 + 0.5) * width
            ax.bar(x, vals.mean("seed"), width, yerr=vals.std("seed"), label=_LABELS[lname])
        ax.set_xticks(np.arange(ds.sizes["metric"]), list(ds["metric"].values))
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"{sname} stream (mean ± SD over seeds)")
    axes[0].legend(fontsize=8)
    return fig


def _report(ds, cfg, metrics, seeds):
    lines = [f"# {NAME}", "", f"Data: {ds.attrs['data']}. Seeds {seeds}; MLP "
             f"{list(cfg['hidden_sizes'])}, {cfg['optimizer']} lr {cfg['learning_rate']} "
             f"(momentum {cfg['momentum']}), batch {cfg['batch_size']}, "
             f"{cfg['split_iterations']} / {cfg['permuted_iterations']} iterations per split / "
             f"permuted task, evaluation every {cfg['eval_every']} iteration(s) on "
             f"{cfg['eval_size']} test images per task.", ""]
    for sname in ds["stream"].values:
        lines += [f"## {sname}", "", "| learner | " + " | ".join(METRICS) + " |",
                  "|---|" + "---|" * len(METRICS)]
        for lname in ds["learner"].values:
            cells = [f"{metrics[f'{sname}_{lname}_{m}']:.3f} ± "
                     f"{metrics[f'{sname}_{lname}_{m}_sd']:.3f}" for m in METRICS]
            lines.append(f"| {_LABELS[lname]} | " + " | ".join(cells) + " |")
        lines.append("")
    if not metrics["on_mnist_subset"]:
        lines += ["**These numbers are on scikit-learn's digits, not MNIST** (the subset was not "
                  "found).", ""]
    return "\n".join(lines)
