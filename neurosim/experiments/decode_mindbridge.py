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

from . import ExperimentResult

NAME = "decode-mindbridge"


def _config(quick):
    if quick:
        return {"model": {"pool_size": 256, "hidden_dim": 128, "adapter_rank": 8, "n_blocks": 2},
                "bridge_epochs": 30, "adapt_steps": 150, "budgets": [10, 30, 100],
                "batch_size": 32, "lr": 2e-3}
    return {"model": {"pool_size": 512, "hidden_dim": 256, "adapter_rank": 32, "n_blocks": 4},
            "bridge_epochs": 60, "adapt_steps": 600, "budgets": [10, 20, 50, 100, 220],
            "batch_size": 32, "lr": 1e-3}


def run(*, quick=False, backend="numba", seed=0, progress=False, data=None):
    """Train MindBridge on 4 simulated subjects, reset-tune it on a 5th, compare with scratch.

    Parameters
    ----------
    quick : bool
        Small model and three target budgets (True) or the full curve (False).
    backend : str
        Ignored (decoders run on torch: CUDA when available, else the CPU); kept for the CLI.
    seed : int
        Seed of the simulated data, the models and the training.
    progress : bool
        Show progress bars.
    data : None | str | path-like
        None: simulated subjects (the small model). Otherwise the NSD root folder with
        ``nsd_embeddings.*`` (:func:`neurosim.datasets.find_nsd`), run with the paper's model
        and recipe (the small model in quick mode).

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the curve (see :func:`neurosim.decoding.reset_tuning_curve`);
        ``figures``: ``"reset_tuning"``;
        ``metrics``: ``top1_reset_<b>``, ``top1_scratch_<b>`` for each budget ``b`` (images per
        subject) and ``source_top1_mean``, ``run_time_s``.

    Examples
    --------
    >>> from neurosim.experiments.decode_mindbridge import run
    >>> result = run(quick=True)  # doctest: +SKIP
    """
    from neurosim._utils import check_size
    from neurosim.datasets import find_nsd, make_fmri_visual
    from neurosim.decoding import reset_tuning_curve

    seed = check_size("seed", seed, minimum=0)
    cfg = _config(quick)
    t0 = time.perf_counter()
    if data is None:
        data = make_fmri_visual(n_subjects=5, random_state=seed)
        source, config = "make_fmri_visual", "small"
    else:  # real data: the paper's budgets (500, 1000, 4000 images), as far as the data go
        data = find_nsd(data, max_sessions=4 if quick else None, on_missing="raise",
                        zscore_sessions=True)
        source = "NSD"
        config = "small" if quick else "paper"
        cfg["budgets"] = [500, 1000, 4000]
    subjects = sorted(data)
    if config == "paper":  # the published model and the official recipe
        kwargs = {}
    else:
        kwargs = {"model_kwargs": cfg["model"], "bridge_epochs": cfg["bridge_epochs"],
                  "adapt_steps": cfg["adapt_steps"], "batch_size": cfg["batch_size"],
                  "lr": cfg["lr"]}
    curve, _ = reset_tuning_curve(
        data, subjects[:-1], subjects[-1], cfg["budgets"], config=config, random_state=seed,
        progress=progress, **kwargs)
    elapsed = time.perf_counter() - t0
    metrics = {}
    for b in curve["budget"].values:
        top1 = curve["top1_forward"].sel(budget=b)
        metrics[f"top1_reset_{b}"] = float(top1.sel(training="reset_tuning"))
        metrics[f"top1_scratch_{b}"] = float(top1.sel(training="from_scratch"))
    metrics["source_top1_mean"] = float(curve["source_top1_forward"].mean())
    metrics["run_time_s"] = elapsed
    curve.attrs.update({"experiment": NAME, "experiment_quick": int(bool(quick)),
                        "experiment_seed": int(seed), "data": source, "n_voxels": str(
                            {s: int(data[s].sizes["voxel"]) for s in subjects}),
                        **{f"summary_{k}": v for k, v in metrics.items()}})
    return ExperimentResult(dataset=curve, figures={"reset_tuning": _figure(curve)},
                            report=_report(curve, data, metrics, quick, seed), metrics=metrics)


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


def _report(curve, data, metrics, quick, seed):
    mode = "quick" if quick else "full"
    lines = [
        f"# {NAME}",
        "",
        f"MindBridge ({mode} mode, {curve.attrs['config']} configuration, seed {seed}) trained on "
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
