"""Experiment ``homeostasis-shift``: homeostatic learning-rate regulation under concept shift.

Man, Damasio & Neven (2022): a classifier whose images excite (digits 5-9) or inhibit (0-4) its
own learning rate, and which decides by look-ahead whether to take each effect (LRH), against the
same network with a constant (LRC) or randomly regulated (LRR) learning rate, while two random
classes swap labels ``swaps_per_epoch`` times per epoch
(:class:`neurosim.homeostasis.ConceptShift`). Every learner is the authors' rule as released
(:class:`neurosim.homeostasis.HomeostaticMLP`); a *variant* with a 10 times larger step
(``lr_step = lr0``) is reported beside it, marked as a variant.

For each shift rate and seed the three learners start from the same weights and see the same
images and swaps, so their differences are paired; the table gives LRH - LRC and LRH - LRR with
95 % Student-t intervals over the seeds (:func:`neurosim.homeostasis.compare_learners`).

- quick: scikit-learn's digits (1,437 training / 360 validation images, 64-80-60-10), 10 epochs,
  5 seeds, 0 / 1 / 5 / 20 swaps per epoch (1 min 45 s of CPU time, on one thread).
- full: the 5,000-image MNIST subset (:func:`neurosim.datasets.load_mnist_subset`; 4,000 / 1,000
  images, 784-80-60-10), the paper's 50 epochs, 5 seeds, 0 / 1 / 5 / 20 swaps per epoch (65 min on
  a 2-core machine shared with other jobs). ``data=PATH`` (``--data``) reads the subset from
  ``PATH`` (file or folder) in either mode.

It runs no simulation, so it takes no backend (PyTorch, CPU or ``device``/``NEUROSIM_DEVICE``).
"""

from __future__ import annotations

import os

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "homeostasis-shift"
_LABELS = {"lrh": "LRH (homeostatic)", "lrr": "LRR (random)", "lrc": "LRC (constant)",
           "lrh_step10": "LRH, 10x step (variant)"}
_COLORS = {"lrh": "tab:green", "lrr": "tab:orange", "lrc": "tab:blue", "lrh_step10": "tab:olive"}
VARIANT = "lrh_step10"


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        scikit-learn's digits and 10 epochs instead of the MNIST subset and the paper's 50.

    Returns
    -------
    config : dict
        ``data`` (``"digits"`` or ``"mnist-subset"``), ``n_epochs``, ``seeds`` (how many seeds,
        from ``seed``), ``rates`` (swaps per epoch), ``device`` (the PyTorch device; None reads
        ``NEUROSIM_DEVICE``, default ``"cpu"``) and ``checkpoint`` (a ``.npz`` file prefix for
        :func:`neurosim.homeostasis.shift_rate_sweep`'s checkpoints, ``<checkpoint>.npz`` and
        ``<checkpoint>-variant.npz``: an interrupted run resumes; None: no checkpoints).
    """
    if quick:
        cfg = {"data": "digits", "n_epochs": 10, "seeds": 5, "rates": [0, 1, 5, 20]}
    else:
        cfg = {"data": "mnist-subset", "n_epochs": 50, "seeds": 5, "rates": [0, 1, 5, 20]}
    return cfg | {"device": None, "checkpoint": None}


def run(config, *, data=None, seed=0, progress=False):
    """Sweep LRH, LRR, LRC (and the 10x-step variant) over shift rates and seeds.

    Parameters
    ----------
    config : dict
        The settings (:func:`config`).
    data : str | path-like | None
        The MNIST subset file (or its folder); with it, the quick settings run on it too.
    seed : int
        First seed: the seeds are ``seed .. seed + config["seeds"] - 1``; also the seed of the
        train/validation split.
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the sweep (mode, swaps_per_epoch, seed [, epoch | block]) and the paired
        comparison (``diff``, ``diff_lo``, ``diff_hi`` over baseline, swaps_per_epoch);
        ``figures``: ``"stream"`` (running accuracy and learning rate at the highest rate),
        ``"rates"`` (accuracy and paired differences against the shift rate); ``metrics``:
        ``lrh_minus_lrc_high_shift`` (+ ``_lo`` / ``_hi``), ``lrh_minus_lrr_high_shift``,
        ``lrh_minus_lrc_no_shift``, ``lrh_minus_lrr_no_shift`` (each with its CI),
        per-mode mean streaming accuracies and learning-rate changes, and the variant's
        ``lrh_step10_minus_lrc_high_shift``.
    """
    import xarray as xr

    from neurosim.homeostasis import compare_learners, load_shift_data, shift_rate_sweep

    cfg = dict(config)
    quick = cfg["data"] == "digits"
    name = "mnist-subset" if data is not None else cfg["data"]
    try:
        d = load_shift_data(name, path=data, random_state=seed)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err} The full mode of {NAME} runs on this MNIST subset; "
                                "`neurosim run homeostasis-shift --quick` runs on the embedded "
                                "digits.") from err
    device = cfg["device"] or os.environ.get("NEUROSIM_DEVICE", "cpu")
    checkpoint = cfg["checkpoint"]
    seeds = list(range(seed, seed + cfg["seeds"]))
    common = dict(swaps_per_epoch=cfg["rates"], seeds=seeds, n_epochs=cfg["n_epochs"],
                  progress=progress)
    ckpt = None if checkpoint is None else str(checkpoint).removesuffix(".npz")
    sweep = shift_rate_sweep(d["X_train"], d["y_train"], d["X_val"], d["y_val"],
                             learner_params={"device": device},
                             checkpoint=None if ckpt is None else ckpt + ".npz", **common)
    variant = shift_rate_sweep(d["X_train"], d["y_train"], d["X_val"], d["y_val"],
                               modes=("lrh",), learner_params={"device": device, "lr_step": 1e-3},
                               checkpoint=None if ckpt is None else ckpt + "-variant.npz",
                               **common)
    sweep = xr.concat([sweep, variant.assign_coords(mode=[VARIANT])], dim="mode",
                      combine_attrs="drop_conflicts")
    table = compare_learners(sweep, "stream_accuracy")
    vtable = compare_learners(sweep, "stream_accuracy", reference=VARIANT)
    val_table = compare_learners(sweep, "mean_val_accuracy")
    hi, lo = max(cfg["rates"]), min(cfg["rates"])
    metrics = {}
    for tag, r in (("high_shift", hi), ("no_shift", lo)):
        for b in ("lrc", "lrr"):
            row = table.sel(baseline=b, swaps_per_epoch=r)
            metrics[f"lrh_minus_{b}_{tag}"] = float(row["diff"])
            metrics[f"lrh_minus_{b}_{tag}_lo"] = float(row["diff_lo"])
            metrics[f"lrh_minus_{b}_{tag}_hi"] = float(row["diff_hi"])
        vrow = vtable.sel(baseline="lrc", swaps_per_epoch=r)
        metrics[f"{VARIANT}_minus_lrc_{tag}"] = float(vrow["diff"])
        metrics[f"{VARIANT}_minus_lrc_{tag}_lo"] = float(vrow["diff_lo"])
        metrics[f"{VARIANT}_minus_lrc_{tag}_hi"] = float(vrow["diff_hi"])
        vv = val_table.sel(baseline="lrc", swaps_per_epoch=r)
        metrics[f"lrh_minus_lrc_{tag}_val"] = float(vv["diff"])
    for mode in sweep["mode"].values:
        for r in cfg["rates"]:
            metrics[f"{mode}_stream_accuracy_spe{r}"] = float(
                sweep["stream_accuracy"].sel(mode=mode, swaps_per_epoch=r).mean())
        metrics[f"{mode}_lr_changes_per_epoch"] = float(
            sweep["n_lr_changes"].sel(mode=mode).mean() / cfg["n_epochs"])
    ds = sweep.merge(table[["diff", "diff_lo", "diff_hi", "excludes_zero"]])
    ds.attrs.update({
        "data": d["description"], "device": device, "confidence": 0.95,
        "variant": f"{VARIANT}: lr_step = lr0 = 1e-3 (10x the paper's step); a variant",
    } | metrics)
    figures = {"stream": _stream_figure(sweep, hi), "rates": _rates_figure(sweep, table)}
    report = _report(sweep, table, vtable, val_table, cfg, d, seeds, quick, metrics)
    headline = [
        Headline(f"streaming accuracy, LRH, {hi} swaps/epoch",
                 metrics[f"lrh_stream_accuracy_spe{hi}"], "constant learning rate (LRC)",
                 metrics[f"lrc_stream_accuracy_spe{hi}"]),
        Headline(f"LRH - LRC, {hi} swaps/epoch (paired, 95 % CI excludes 0: "
                 f"{metrics['lrh_minus_lrc_high_shift_lo'] > 0})",
                 metrics["lrh_minus_lrc_high_shift"], "random learning rate: LRH - LRR",
                 metrics["lrh_minus_lrr_high_shift"], fmt="+.4f"),
    ]
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics,
                            headline=headline)


def _stream_figure(sweep, rate):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax_a, ax_b = fig.subplots(2, 1, sharex=True)
    x = sweep["block"].values
    for mode in sweep["mode"].values:
        acc = sweep["block_accuracy"].sel(mode=mode, swaps_per_epoch=rate)
        ax_a.plot(x, acc.mean("seed"), color=_COLORS[mode], lw=1, label=_LABELS[mode])
        lr = sweep["block_lr"].sel(mode=mode, swaps_per_epoch=rate, seed=sweep["seed"][0])
        ax_b.plot(x, lr, color=_COLORS[mode], lw=1)
    ax_a.set_ylabel(f"streaming accuracy\n(blocks of {sweep.attrs['block']}, mean of seeds)")
    ax_a.set_title(f"{rate} swaps per epoch")
    ax_a.legend(fontsize="small", ncol=2)
    ax_b.set_ylabel("learning rate (first seed)")
    ax_b.set_xlabel("training sample")
    ax_b.set_yscale("symlog", linthresh=1e-4)
    return fig


def _rates_figure(sweep, table):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_a, ax_b = fig.subplots(1, 2)
    rates = sweep["swaps_per_epoch"].values
    x = np.arange(rates.size)
    for mode in sweep["mode"].values:
        acc = sweep["stream_accuracy"].sel(mode=mode)
        ax_a.errorbar(x, acc.mean("seed"), yerr=acc.std("seed", ddof=1), marker="o", capsize=3,
                      color=_COLORS[mode], label=_LABELS[mode])
    ax_a.set_xticks(x, [str(r) for r in rates])
    ax_a.set_xlabel("swaps per epoch")
    ax_a.set_ylabel("mean streaming accuracy (± SD over seeds)")
    ax_a.legend(fontsize="x-small")
    for k, b in enumerate(table["baseline"].values):
        row = table.sel(baseline=b)
        d = row["diff"].values
        ax_b.errorbar(x + (k - 0.5) * 0.15, d, yerr=[d - row["diff_lo"].values,
                                                     row["diff_hi"].values - d],
                      fmt="o", capsize=3, color=_COLORS[b], label=f"LRH - {b.upper()}")
    ax_b.axhline(0, color="k", lw=0.7)
    ax_b.set_xticks(x, [str(r) for r in rates])
    ax_b.set_xlabel("swaps per epoch")
    ax_b.set_ylabel("paired difference (95 % CI)")
    ax_b.legend(fontsize="x-small")
    return fig


def _verdict(table, rate):
    rows = table.sel(swaps_per_epoch=rate)
    wins = [b for b in rows["baseline"].values
            if bool(rows["excludes_zero"].sel(baseline=b)) and float(rows["diff"].sel(baseline=b)) > 0]
    if len(wins) == rows.sizes["baseline"]:
        return "reproduced: LRH beats both baselines (both CIs exclude 0)"
    if wins:
        return f"partly: LRH beats only {', '.join(w.upper() for w in wins)} (CI excludes 0)"
    return "not reproduced at this scale: no CI of LRH minus a baseline lies above 0"


def _report(sweep, table, vtable, val_table, cfg, d, seeds, quick, metrics):
    mode_names = list(sweep["mode"].values)
    rates = list(sweep["swaps_per_epoch"].values)
    hi = max(rates)
    lines = [
        f"# {NAME}",
        "",
        f"{'Quick' if quick else 'Full'} mode: {d['description']}; MLP "
        f"{d['X_train'].shape[1]}-80-60-10, ELU, SGD with minibatches of 10, lr0 = 1e-3, "
        f"{cfg['n_epochs']} epochs, seeds {seeds[0]}-{seeds[-1]} (paired: same initial weights, "
        "order and swaps for every learner of a seed).",
        "",
        "## Mean streaming accuracy (prediction before each update), mean ± SD over seeds",
        "",
        "| swaps/epoch | " + " | ".join(_LABELS[m] for m in mode_names) + " |",
        "|---|" + "---|" * len(mode_names),
    ]
    for r in rates:
        cells = [f"{float(table['mean'].sel(mode=m, swaps_per_epoch=r)):.3f} ± "
                 f"{float(table['sd'].sel(mode=m, swaps_per_epoch=r)):.3f}" for m in mode_names]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    lines += ["", "## Paired differences (95 % CI over seeds)", "",
              "| swaps/epoch | LRH - LRC | LRH - LRR | variant - LRC | LRH - LRC, validation |",
              "|---|---|---|---|---|"]

    def ci(t, b, r):
        row = t.sel(baseline=b, swaps_per_epoch=r)
        return (f"{float(row['diff']):+.4f} [{float(row['diff_lo']):+.4f}, "
                f"{float(row['diff_hi']):+.4f}]")

    for r in rates:
        lines.append(f"| {r} | {ci(table, 'lrc', r)} | {ci(table, 'lrr', r)} | "
                     f"{ci(vtable, 'lrc', r)} | {ci(val_table, 'lrc', r)} |")
    changes = sweep["n_lr_changes"].mean(("seed", "swaps_per_epoch")) / cfg["n_epochs"]
    mean_lr = sweep["block_lr"].mean(("seed", "block")).sel(swaps_per_epoch=hi)
    lines += [
        "",
        "Learning-rate changes per epoch (mean): " + ", ".join(
            f"{_LABELS[m]} {float(changes.sel(mode=m)):.1f}" for m in mode_names) + ".",
        f"Mean learning rate over the stream at {hi} swaps/epoch: " + ", ".join(
            f"{_LABELS[m]} {float(mean_lr.sel(mode=m)):.2e}" for m in mode_names) + ". A "
        "learner whose rate drifts above lr0 also learns faster without any shift: compare the "
        "mean rates before reading a difference as adaptation.",
        "",
        f"**Paper's claim (LRH adapts best at the highest shift rate), at {hi} swaps/epoch: "
        f"{_verdict(table, hi)}.** LRH - LRC = {metrics['lrh_minus_lrc_high_shift']:+.4f} "
        f"[{metrics['lrh_minus_lrc_high_shift_lo']:+.4f}, "
        f"{metrics['lrh_minus_lrc_high_shift_hi']:+.4f}]; LRH - LRR = "
        f"{metrics['lrh_minus_lrr_high_shift']:+.4f} [{metrics['lrh_minus_lrr_high_shift_lo']:+.4f}"
        f", {metrics['lrh_minus_lrr_high_shift_hi']:+.4f}]. At 0 swaps LRH - LRC = "
        f"{metrics['lrh_minus_lrc_no_shift']:+.4f}.",
        "",
        "The look-ahead compares two updates that differ by a tenth of lr0 times one sample's "
        "gradient; on 20 recent samples this rarely changes any prediction, and the rule needs "
        "a strict improvement, so LRH's learning rate seldom moves.",
        "",
    ]
    return "\n".join(lines)
