"""Experiment ``decode-mindbridge``: cross-subject fMRI decoding and reset-tuning (MindBridge).

On :func:`neurosim.datasets.make_fmri_visual` (five NSD-like subjects with different voxel counts
and a shared linear encoding model with idiosyncratic parts), a MindBridge model is trained on four
source subjects (SoftCLIP + MSE on the stimulus embeddings, pooled-fMRI reconstruction and the cycle
loss). The fifth subject is then added by reset-tuning with a limited number of its trials and
compared with a single-subject model trained from scratch on the same trials, for several
target-data budgets. All models are evaluated on the shared test stimuli (repeat-averaged betas) by
forward and backward top-1 retrieval among all test stimuli and by 2-way retrieval.

With ``data=FOLDER`` (``neurosim run decode-mindbridge --data FOLDER``), the same comparison runs on
NSD and stimulus embeddings in that folder (layout: :func:`neurosim.datasets.find_nsd`; betas
z-scored per session, as in the MindEye/MindBridge data): the last subject found is the new one,
the others the sources, with budgets of 500, 1,000 and 4,000 images per subject (the paper's
``--length``), and the paper's model and recipe (``config="paper"``: 8,192 / 2,048, 600 bridge and
200 adaptation epochs, batch 50 per subject - a GPU job). Quick mode reads the first 4 sessions of
each subject and uses the small model.

The protocol is :func:`neurosim.decoding.reset_tuning_curve` (the official scripts' repetitions,
budget, optimiser and schedule).

- quick: pooled size 256, shared width 128, 30 bridge epochs, budgets of 10 / 30 / 100 images.
- full: pooled size 512, shared width 256, 60 bridge epochs, budgets 10 / 20 / 50 / 100 / 220.
"""

from __future__ import annotations

import time

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "decode-mindbridge"


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        Small model and three target budgets.

    Returns
    -------
    config : dict
        ``model`` (:class:`~neurosim.decoding.MindBridge` arguments), ``bridge_epochs``,
        ``adapt_steps``, ``budgets`` (simulated data), ``real_budgets`` and ``max_sessions``
        (NSD), ``real_config`` (``"paper"`` or ``"small"``: the model and recipe on NSD),
        ``batch_size``, ``lr``, ``n_subjects`` (simulated). Budgets count images per subject.
    """
    if quick:
        return {"model": {"pool_size": 256, "hidden_dim": 128, "adapter_rank": 8, "n_blocks": 2},
                "bridge_epochs": 30, "adapt_steps": 150, "budgets": [10, 30, 100],
                "batch_size": 32, "lr": 2e-3, "n_subjects": 5, "real_budgets": [500, 1000, 4000],
                "max_sessions": 4, "real_config": "small"}
    return {"model": {"pool_size": 512, "hidden_dim": 256, "adapter_rank": 32, "n_blocks": 4},
            "bridge_epochs": 60, "adapt_steps": 600, "budgets": [10, 20, 50, 100, 220],
            "batch_size": 32, "lr": 1e-3, "n_subjects": 5, "real_budgets": [500, 1000, 4000],
            "max_sessions": None, "real_config": "paper"}


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train MindBridge on the source subjects, reset-tune it on a new one, compare with scratch.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        None: simulated subjects (:func:`neurosim.datasets.make_fmri_visual`, the configuration's
        model). Otherwise the NSD root folder with ``nsd_embeddings.*``
        (:func:`neurosim.datasets.find_nsd`, betas z-scored per session), run with
        ``real_config`` (``"paper"``: the published model and recipe).
    %(experiment_seed)s
        Seed of the simulated data, the models and the training.
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the curve (see :func:`neurosim.decoding.reset_tuning_curve`);
        ``figures``: ``"reset_tuning"``; ``metrics``: ``top1_reset_<b>``, ``top1_scratch_<b>``
        for each budget ``b`` (images per subject) and ``source_top1_mean``, ``run_time_s``.
    """
    from neurosim.datasets import find_nsd, make_fmri_visual
    from neurosim.decoding import reset_tuning_curve

    cfg = config
    t0 = time.perf_counter()
    if data is None:
        data = make_fmri_visual(n_subjects=cfg["n_subjects"], random_state=seed)
        source, budgets, model_config = "make_fmri_visual", cfg["budgets"], "small"
    else:  # real data: the paper's budgets (500, 1000, 4000 images), as far as the data go
        data = find_nsd(data, max_sessions=cfg["max_sessions"], on_missing="raise",
                        zscore_sessions=True)
        source, budgets, model_config = "NSD", cfg["real_budgets"], cfg["real_config"]
    subjects = sorted(data)
    if model_config == "paper":  # the published model and the official recipe
        kwargs = {}
    else:
        kwargs = {"model_kwargs": cfg["model"], "bridge_epochs": cfg["bridge_epochs"],
                  "adapt_steps": cfg["adapt_steps"], "batch_size": cfg["batch_size"],
                  "lr": cfg["lr"]}
    curve, _ = reset_tuning_curve(
        data, subjects[:-1], subjects[-1], budgets, config=model_config, random_state=seed,
        progress=progress, **kwargs)
    elapsed = time.perf_counter() - t0
    metrics = {}
    for b in curve["budget"].values:
        top1 = curve["top1_forward"].sel(budget=b)
        metrics[f"top1_reset_{b}"] = float(top1.sel(training="reset_tuning"))
        metrics[f"top1_scratch_{b}"] = float(top1.sel(training="from_scratch"))
    metrics["source_top1_mean"] = float(curve["source_top1_forward"].mean())
    metrics["run_time_s"] = elapsed
    curve.attrs.update({"data": source, "n_voxels": str(
        {s: int(data[s].sizes["voxel"]) for s in subjects})})
    smallest, chance = int(curve["budget"].min()), curve.attrs["chance_top1"]
    headline = [
        Headline(f"top-1, reset-tuned on {smallest} images of the new subject",
                 metrics[f"top1_reset_{smallest}"], "trained from scratch on them",
                 metrics[f"top1_scratch_{smallest}"]),
        Headline("top-1 on the source subjects (mean)", metrics["source_top1_mean"], "chance",
                 chance),
    ]
    return ExperimentResult(dataset=curve, figures={"reset_tuning": _figure(curve)},
                            report=_report(curve, data, metrics, seed), metrics=metrics,
                            headline=headline)


def _figure(curve):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    budgets = curve["budget"].values
    styles = {"reset_tuning": ("tab:blue", "reset-tuning"),
              "from_scratch": ("tab:gray", "from scratch")}
    for ax, key, chance in zip(axes, ["top1_forward", "top1_backward", "two_way"],
                               [curve.attrs["chance_top1"]] * 2 + [0.5]):
        for method, (color, label) in styles.items():
            ax.plot(budgets, curve[key].sel(training=method), "o-", color=color, label=label)
        ax.axhline(chance, color="k", ls=":", lw=1, label="chance")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_xlabel("training images per subject")
        ax.set_title(key.replace("_", " "))
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("retrieval accuracy")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"MindBridge on a new subject ({curve.attrs['target_subject']}), "
                 f"{curve.attrs['n_test_stimuli']} test stimuli")
    return fig


def _report(curve, data, metrics, seed):
    smallest = int(curve["budget"].min())
    lines = [
        f"# {NAME}",
        "",
        f"A new subject decoded by reset-tuning a multi-subject MindBridge reaches top-1 retrieval "
        f"{metrics[f'top1_reset_{smallest}']:.3f} with {smallest} of its images, against "
        f"{metrics[f'top1_scratch_{smallest}']:.3f} for the same model trained from scratch on "
        f"them (chance {curve.attrs['chance_top1']:.3f}). *Top-1 retrieval*: the fraction of test "
        "stimuli whose predicted embedding is closer (cosine) to their own embedding than to any "
        "other test stimulus's (*backward*: the other way round; *2-way*: against one random "
        "other). *Reset-tuning*: a fresh per-subject embedder trained while the shared parts "
        "stay frozen.",
        "",
        f"MindBridge ({curve.attrs['config']} configuration, seed {seed}) trained on "
        f"{', '.join(curve['source_subject'].values)} of {curve.attrs['data']}, reset-tuned on "
        f"{curve.attrs['target_subject']} with the first b images of every subject (the paper's "
        "--length) and compared with a single-subject model trained from scratch on the target's "
        "first b images (3 repetitions each). Voxels: "
        + ", ".join(f"{s} {data[s].sizes['voxel']}" for s in sorted(data)) + ".",
        "",
        f"Source subjects, forward top-1 among {curve.attrs['n_test_stimuli']} test stimuli: "
        f"{metrics['source_top1_mean']:.3f} (mean).",
        "",
        "| images b | reset-tuning: top-1 fwd / bwd, 2-way "
        "| from scratch: top-1 fwd / bwd, 2-way |",
        "|---|---|---|",
    ]
    for b in curve["budget"].values:
        cells = []
        for method in ("reset_tuning", "from_scratch"):
            v = [float(curve[k].sel(training=method, budget=b))
                 for k in ("top1_forward", "top1_backward", "two_way")]
            cells.append(" / ".join(f"{x:.3f}" for x in v))
        lines.append(f"| {b} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Chance: top-1 {curve.attrs['chance_top1']:.3f}, 2-way 0.5. "
              f"Run time {metrics['run_time_s']:.1f} s.", ""]
    return "\n".join(lines)
