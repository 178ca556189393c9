"""Experiment ``continual-fastslow``: the fast/slow learner against the baselines, evaluated
continually.

Every learner of :data:`neurosim.continual.LEARNERS` (fine-tuning, EWC, experience replay, joint
training, fast/slow weights) learns two streams of tasks built from scikit-learn's digits and is
evaluated on every task after every iteration:

- permuted digits (domain-incremental): accuracy matrices and ACC / BWT / FWT / min-ACC / WC-ACC;
- split digits (class-incremental pairs): per-iteration curves, where replay shows the stability
  gap of De Lange et al. (2023): a transient drop in accuracy on old tasks when a new task starts.

- quick: 4 permuted tasks and 3 split tasks, 60 iterations per task.
- full: 10 permuted tasks and 5 split tasks, 200 iterations per task.

The learners run in PyTorch on the CPU (``config={"device": "cuda"}`` for a GPU).
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "continual-fastslow"
METRICS = ("acc", "bwt", "fwt", "min_acc", "wc_acc", "avg_end_of_task_acc")
_LABELS = {"finetune": "fine-tuning", "ewc": "EWC", "replay": "replay", "joint": "joint",
           "fastslow": "fast/slow"}
_COLORS = {"finetune": "tab:red", "ewc": "tab:orange", "replay": "tab:blue", "joint": "0.4",
           "fastslow": "tab:green"}


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        4 permuted / 3 split tasks of 50 iterations.

    Returns
    -------
    config : dict
        ``n_permuted``, ``n_split`` (tasks), ``n_iterations`` (per task), ``eval_every`` and
        ``split_eval_every`` (iterations between evaluations), ``replay_buffer`` (samples),
        ``device``.
    """
    if quick:
        return {"n_permuted": 4, "n_split": 3, "n_iterations": 50, "eval_every": 5,
                "split_eval_every": 1, "replay_buffer": 200, "device": "cpu"}
    return {"n_permuted": 10, "n_split": 5, "n_iterations": 200, "eval_every": 1,
            "split_eval_every": 1, "replay_buffer": 200, "device": "cpu"}


def _params(name, cfg, seed, device, stream):
    every = cfg["split_eval_every"] if stream == "split" else cfg["eval_every"]
    params = {"n_iterations": cfg["n_iterations"], "eval_every": every,
              "random_state": seed, "device": device}
    if name == "replay":
        params["buffer_size"] = cfg["replay_buffer"]
    return params


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train every continual learner on permuted and split digits with continual evaluation.

    Parameters
    ----------
    %(experiment_config)s
    data : None
        Embedded data only (scikit-learn's digits).
    %(experiment_seed)s
        Seed of the streams (train/test split, permutations) and of the learners.
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: per-iteration ``accuracy`` (learner, iteration, task) and
        ``accuracy_matrix`` (learner, trained, task) on permuted digits, the same on split
        digits (``split_accuracy`` over ``split_iteration``, ``split_task``), and ``score``
        (stream, learner, metric); ``figures``: ``"accuracy_matrix"`` (heatmaps),
        ``"stability_gap"`` (per-iteration curves), ``"metrics"`` (bars); ``report``: markdown
        with the table of learners x metrics; ``metrics``: ``<stream>_<learner>_<metric>``.
    """
    import xarray as xr

    from neurosim.continual import LEARNERS, make_learner, permuted_digits, split_digits

    cfg = config
    device = cfg["device"]
    streams = {
        "permuted": permuted_digits(n_tasks=cfg["n_permuted"], random_state=seed),
        "split": split_digits(n_tasks=5, random_state=seed)[:cfg["n_split"]],
    }
    names = list(LEARNERS)
    histories = {s: {} for s in streams}
    for sname, stream in streams.items():
        for name in names:
            learner = make_learner(name, **_params(name, cfg, seed, device, sname))
            learner.fit_stream(stream, progress=progress)
            histories[sname][name] = learner.history_

    def stack(sname, prefix):
        parts = [histories[sname][n][["accuracy", "accuracy_matrix", "initial_accuracy",
                                      "task_end"]] for n in names]
        ds = xr.concat(parts, dim="learner", coords="minimal", compat="override")
        ds = ds.assign_coords(learner=names)
        if prefix:
            ds = ds.rename({v: f"{prefix}_{v}" for v in ds.data_vars} | {
                "iteration": f"{prefix}_iteration", "task": f"{prefix}_task",
                "trained": f"{prefix}_trained", "task_name": f"{prefix}_task_name"})
        return ds

    ds = xr.merge([stack("permuted", ""), stack("split", "split")], compat="override",
                  combine_attrs="drop")
    table = np.array([[[histories[s][n].attrs[f"metric_{m}"] for m in METRICS] for n in names]
                      for s in streams])
    ds["score"] = (("stream", "learner", "metric"), table)
    ds = ds.assign_coords(stream=list(streams), metric=list(METRICS))
    ds["score"].attrs.update(units="1", long_name="continual-learning metrics (fractions)")
    ds.attrs.update({
        "n_iterations_per_task": cfg["n_iterations"], "eval_every": cfg["eval_every"],
        "device": device, "replay_buffer_size": cfg["replay_buffer"],
    })
    metrics = {f"{s}_{n}_{m}": float(table[i, j, k]) for i, s in enumerate(streams)
               for j, n in enumerate(names) for k, m in enumerate(METRICS)}
    figures = {
        "accuracy_matrix": _matrix_figure(ds, names),
        "stability_gap": _gap_figure(ds, names, cfg),
        "metrics": _metrics_figure(ds, names),
    }
    report = _report(ds, names, cfg, seed, streams)
    headline = [
        Headline("permuted digits ACC, fast/slow learner", metrics["permuted_fastslow_acc"],
                 "fine-tuning", metrics["permuted_finetune_acc"]),
        Headline("permuted digits BWT, fast/slow learner", metrics["permuted_fastslow_bwt"],
                 "fine-tuning", metrics["permuted_finetune_bwt"], fmt="+.3f"),
        Headline("split digits min-ACC, replay (stability gap)", metrics["split_replay_min_acc"],
                 "its mean end-of-task accuracy", metrics["split_replay_avg_end_of_task_acc"]),
    ]
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics,
                            headline=headline)


def _matrix_figure(ds, names):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.0 * len(names), 3.4), layout="constrained")
    axes = fig.subplots(1, len(names), sharey=True)
    for ax, name in zip(axes, names):
        R = ds["accuracy_matrix"].sel(learner=name).values
        im = ax.imshow(R, vmin=0, vmax=1, cmap="viridis")
        for (i, j), v in np.ndenumerate(R):
            if R.shape[0] <= 5:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if v < 0.6 else "k")
        m = ds["score"].sel(stream="permuted", learner=name)
        acc, bwt = float(m.sel(metric="acc")), float(m.sel(metric="bwt"))
        ax.set_title(f"{_LABELS[name]}\nACC {acc:.2f}, BWT {bwt:+.2f}", fontsize=9)
        ax.set_xticks(range(R.shape[1]))
        ax.set_yticks(range(R.shape[0]))
        ax.set_xlabel("evaluated task")
    axes[0].set_ylabel("after training on task")
    fig.colorbar(im, ax=axes, shrink=0.8, label="test accuracy")
    fig.suptitle("Permuted digits: accuracy matrices")
    return fig


def _gap_figure(ds, names, cfg):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_a, ax_b = fig.subplots(1, 2)
    it = ds["split_iteration"].values
    ends = ds["split_task_end"].isel(learner=0).values
    for name in names:
        acc = ds["split_accuracy"].sel(learner=name)
        ax_a.plot(it, acc.isel(split_task=0).values, color=_COLORS[name], lw=1,
                  label=_LABELS[name])
    for e in ends[:-1]:
        ax_a.axvline(e, color="k", ls=":", lw=0.8)
    ax_a.set_xlabel("iteration")
    ax_a.set_ylabel("accuracy on task 0 (digits 0, 1)")
    ax_a.set_title("Split digits: first task, evaluated every iteration")
    ax_a.legend(fontsize="small")
    acc = ds["split_accuracy"].sel(learner="replay")
    for k in range(acc.sizes["split_task"]):
        shown = it >= (0 if k == 0 else ends[k - 1])
        ax_b.plot(it[shown], acc.isel(split_task=k).values[shown], lw=1,
                  label=str(ds["split_task_name"].values[k]))
    for e in ends[:-1]:
        ax_b.axvline(e, color="k", ls=":", lw=0.8)
    m = ds["score"].sel(stream="split", learner="replay")
    ax_b.axhline(float(m.sel(metric="min_acc")), color="tab:red", ls="--", lw=1,
                 label=f"min-ACC {float(m.sel(metric='min_acc')):.2f}")
    ax_b.axhline(float(m.sel(metric="avg_end_of_task_acc")), color="k", ls="--", lw=1,
                 label=f"end-of-task acc {float(m.sel(metric='avg_end_of_task_acc')):.2f}")
    ax_b.set_xlabel("iteration")
    ax_b.set_ylabel("accuracy")
    ax_b.set_title(f"Replay: the stability gap (buffer {ds.attrs['replay_buffer_size']})")
    ax_b.legend(fontsize="x-small", loc="lower left")
    return fig


def _metrics_figure(ds, names):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    shown = ["acc", "bwt", "min_acc", "wc_acc"]
    x = np.arange(len(shown))
    width = 0.8 / len(names)
    for ax, stream in zip(axes, ds["stream"].values):
        for j, name in enumerate(names):
            vals = ds["score"].sel(stream=stream, learner=name, metric=shown).values
            ax.bar(x + (j - (len(names) - 1) / 2) * width, vals, width, color=_COLORS[name],
                   label=_LABELS[name])
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(x, ["ACC", "BWT", "min-ACC", "WC-ACC"])
        ax.set_title(f"{stream} digits")
    axes[0].legend(fontsize="x-small")
    return fig


def _report(ds, names, cfg, seed, streams):
    acc = ds["score"].sel(stream="permuted", metric="acc")
    lines = [
        f"# {NAME}",
        "",
        f"After a sequence of permuted-digit tasks, the fast/slow learner keeps a mean accuracy "
        f"(ACC) of {float(acc.sel(learner='fastslow')):.3f} over all tasks, against "
        f"{float(acc.sel(learner='finetune')):.3f} for plain fine-tuning (the lower bound) and "
        f"{float(acc.sel(learner='joint')):.3f} for joint training on every task seen (the "
        "upper bound). *ACC*: mean accuracy over all tasks after the last one; *BWT* (backward "
        "transfer): mean change of a task's accuracy between the end of its training and the "
        "end of the sequence (negative: forgetting); *FWT*: accuracy on a task just before "
        "training on it, minus the untrained model's; *min-ACC*: the mean over old tasks of "
        "their lowest accuracy while later tasks train (below the end-of-task accuracy: the "
        "stability gap); *WC-ACC*: a worst-case mix of the current task's accuracy and min-ACC "
        "(De Lange et al. 2023).",
        "",
        f"Continual learners (seed {seed}), {cfg['n_iterations']} SGD iterations "
        "of 32 samples per task, MLP 64-100-10, evaluated on the test sets of all tasks every "
        f"{cfg['eval_every']} (permuted) and {cfg['split_eval_every']} (split) iteration(s). "
        "Streams: "
        + ", ".join(f"{s} digits ({len(st)} tasks, {st.scenario}-incremental)"
                    for s, st in streams.items()) + ".",
        "",
    ]
    for stream in ds["stream"].values:
        lines += [f"## {stream} digits", "",
                  "| learner | ACC | BWT | FWT | min-ACC | WC-ACC | mean end-of-task acc |",
                  "|---|---|---|---|---|---|---|"]
        for name in names:
            v = ds["score"].sel(stream=stream, learner=name).values
            lines.append(f"| {_LABELS[name]} | " + " | ".join(f"{x:.3f}" for x in v) + " |")
        lines.append("")
    lines += ["min-ACC below the mean end-of-task accuracy is the stability gap: old tasks "
              "drop transiently when a new task starts, even for learners that end up "
              "forgetting little (De Lange et al. 2023).", ""]
    return "\n".join(lines)
