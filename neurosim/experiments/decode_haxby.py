"""Experiment ``decode-haxby``: 8-way object-category decoding of real fMRI (Haxby et al. 2001).

With ``data=FOLDER`` (``neurosim run decode-haxby --data FOLDER``), the Haxby et al. (2001) data in
that folder (any layout of :func:`neurosim.datasets.load_haxby`: nilearn's ``fetch_haxby`` folder,
PyMVPA's copy, OpenfMRI) are decoded: the volumes of each run are linearly detrended and z-scored
(:func:`neurosim.decoding.preprocessing.clean_runs`), the rest volumes dropped, and every classifier
is scored by leave-one-run-out cross-validation (:func:`neurosim.decoding.leave_one_run_out`):

- the correlation classifier of Haxby et al. (:class:`~neurosim.decoding.CorrelationClassifier`);
- ridge as a classifier with its penalty chosen by leave-one-run-out within the training runs
  (:class:`~neurosim.decoding.TorchRidgeClassifierCV`) and an L2 logistic regression
  (:class:`~neurosim.decoding.LinearClassifier`);
- the package's fMRI encoders with a linear head, trained through the Trainer
  (:class:`~neurosim.decoding.FMRIClassifier`): a MindBridge subject embedder and the BrainFLORA
  fMRI tower.

The correlation classifier and the best torch decoder get a permutation test (labels shuffled within
runs; for the torch decoders the statistic is the best of the two on every shuffle, so choosing the
best does not bias its p-value). Without ``data``, the same runs on a simulated block design with
Haxby's structure (:func:`neurosim.datasets.make_fmri_blocks`).

- quick: 19 shuffles for the torch decoders, 99 for the correlation classifier; encoders trained
  for 40 full-batch epochs.
- full: 99 and 999 shuffles; 80 epochs.
"""

from __future__ import annotations

import time

import numpy as np

from . import ExperimentResult

NAME = "decode-haxby"


def _config(quick):
    if quick:
        return {"torch_permutations": 19, "correlation_permutations": 99, "epochs": 40,
                "hidden_dim": 64, "pool_size": 256}
    return {"torch_permutations": 99, "correlation_permutations": 999, "epochs": 80,
            "hidden_dim": 64, "pool_size": 256}


def run(*, quick=False, backend="numba", seed=0, progress=False, data=None):
    """Decode the 8 object categories of Haxby et al. (2001) by leave-one-run-out.

    Parameters
    ----------
    quick : bool
        Fewer permutations and training epochs (True) or the full run (False).
    backend : str
        Ignored (the decoders run on torch/scikit-learn); kept for the CLI.
    seed : int
        Seed of the torch models, the permutations (and of the simulated data).
    progress : bool
        Ignored (the fits are short).
    data : None | str | path-like
        A Haxby data folder (:func:`neurosim.datasets.load_haxby`, subject 1 with its default
        mask); None: a simulated block design (:func:`neurosim.datasets.make_fmri_blocks`).

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: per-run accuracy of every classifier (``fold_accuracy`` (model, run)), the
        permutation scores; ``figures``: ``"accuracy"``; ``metrics``: ``accuracy_correlation``,
        ``accuracy_ridge``, ``accuracy_logistic``, ``accuracy_mindbridge``,
        ``accuracy_brainflora``, ``accuracy_best_torch``, ``p_correlation``, ``p_best_torch``,
        ``chance``, ``run_time_s``.

    Examples
    --------
    >>> from neurosim.experiments.decode_haxby import run
    >>> result = run(quick=True, data="~/nilearn_data/haxby2001")  # doctest: +SKIP
    """
    import xarray as xr
    from sklearn.model_selection import LeaveOneGroupOut

    from neurosim._utils import check_size
    from neurosim.datasets import load_haxby, make_fmri_blocks
    from neurosim.decoding import (
        CorrelationClassifier,
        FMRIClassifier,
        LinearClassifier,
        TorchRidgeClassifierCV,
        leave_one_run_out,
    )
    from neurosim.decoding.preprocessing import clean_runs

    seed = check_size("seed", seed, minimum=0)
    cfg = _config(quick)
    t0 = time.perf_counter()
    if data is None:
        ds = make_fmri_blocks(random_state=seed)
        source = "simulated block design (make_fmri_blocks)"
    else:
        ds = load_haxby(data)
        source = f"Haxby et al. (2001), subject {ds.attrs['subject']}, {ds.attrs['layout']} layout"
    # the analysis, as a user writes it: detrend and z-score each run, drop rest, leave one run out
    X = clean_runs(ds.bold.values, ds.run.values)
    task = ds.label.values != "rest"
    X, y, runs = X[task], ds.label.values[task], ds.run.values[task]
    torch_kw = {"hidden_dim": cfg["hidden_dim"], "epochs": cfg["epochs"], "random_state": seed,
                "device": "cpu"}
    baselines = {
        "correlation": CorrelationClassifier(),
        "ridge": TorchRidgeClassifierCV(cv=LeaveOneGroupOut(), device="cpu"),
        "logistic": LinearClassifier(C=0.01),
    }
    torch_models = {
        "mindbridge": FMRIClassifier("mindbridge", pool_size=cfg["pool_size"], **torch_kw),
        "brainflora": FMRIClassifier("brainflora", **torch_kw),
    }
    corr = leave_one_run_out(baselines["correlation"], X, y, runs,
                             n_permutations=cfg["correlation_permutations"], random_state=seed)
    other = leave_one_run_out({k: baselines[k] for k in ("ridge", "logistic")}, X, y, runs)
    deep = leave_one_run_out(torch_models, X, y, runs, n_permutations=cfg["torch_permutations"],
                             random_state=seed)
    elapsed = time.perf_counter() - t0
    acc = {"correlation": corr["accuracy"], **other["accuracy"], **deep["accuracy"]}
    folds = {"correlation": corr["fold_accuracy"], **other["fold_accuracy"],
             **deep["fold_accuracy"]}
    names = list(acc)
    chance = 1.0 / len(np.unique(y))
    metrics = {f"accuracy_{k}": v for k, v in acc.items()}
    metrics.update({"accuracy_best_torch": acc[deep["best"]], "p_correlation": corr["pvalue"],
                    "p_best_torch": deep["pvalue"], "chance": chance, "run_time_s": elapsed})
    result = xr.Dataset(
        {"fold_accuracy": (("model", "run"), np.stack([folds[k] for k in names]),
                           {"long_name": "accuracy on the held-out run"}),
         "accuracy": ("model", np.array([acc[k] for k in names])),
         "permutation_correlation": ("permutation_c", corr["permutation_scores"]),
         "permutation_best_torch": ("permutation_t", deep["permutation_scores"])},
        coords={"model": names, "run": np.unique(runs)},
        attrs={"experiment": NAME, "experiment_quick": int(bool(quick)),
               "experiment_seed": int(seed), "data": source, "best_torch": deep["best"],
               "n_volumes": int(len(y)), "n_voxels": int(X.shape[1]),
               **{f"summary_{k}": v for k, v in metrics.items()}},
    )
    return ExperimentResult(dataset=result, figures={"accuracy": _figure(result, chance)},
                            report=_report(result, metrics, quick, seed), metrics=metrics)


def _figure(result, chance):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax_acc, ax_perm = fig.subplots(1, 2, width_ratios=[3, 2])
    names = list(result["model"].values)
    folds = result["fold_accuracy"].values
    ax_acc.boxplot(folds.T, tick_labels=names)
    ax_acc.plot(np.arange(1, len(names) + 1), result["accuracy"].values, "o", color="tab:red",
                label="mean over runs")
    ax_acc.axhline(chance, color="k", ls=":", lw=1, label="chance")
    ax_acc.set_ylabel("leave-one-run-out accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.legend(fontsize="small")
    ax_acc.tick_params(axis="x", labelrotation=20)
    best = result.attrs["best_torch"]
    ax_perm.hist(result["permutation_best_torch"].values, bins=10, color="0.6",
                 label="shuffled labels")
    ax_perm.axvline(float(result["accuracy"].sel(model=best)), color="tab:red",
                    label=f"{best}, true labels")
    ax_perm.set_xlabel("accuracy (best torch decoder)")
    ax_perm.legend(fontsize="small")
    fig.suptitle(f"8-way category decoding: {result.attrs['data']}", fontsize="medium")
    return fig


def _report(result, metrics, quick, seed):
    mode = "quick" if quick else "full"
    lines = [
        f"# {NAME}",
        "",
        f"{result.attrs['data']}: {result.attrs['n_volumes']} task volumes, "
        f"{result.attrs['n_voxels']} voxels, runs detrended and z-scored, leave-one-run-out "
        f"({mode} mode, seed {seed}). Chance {metrics['chance']:.3f}.",
        "",
        "| model | accuracy | p (labels shuffled within runs) |",
        "|---|---|---|",
    ]
    for name, value in zip(result["model"].values, result["accuracy"].values):
        p = ""
        if name == "correlation":
            p = f"{metrics['p_correlation']:.3f} ({result.sizes['permutation_c']} shuffles)"
        elif name == result.attrs["best_torch"]:
            p = (f"{metrics['p_best_torch']:.3f} ({result.sizes['permutation_t']} shuffles, "
                 "best of the torch decoders)")
        lines.append(f"| {name} | {value:.3f} | {p} |")
    lines += ["", f"Run time {metrics['run_time_s']:.1f} s.", ""]
    return "\n".join(lines)
