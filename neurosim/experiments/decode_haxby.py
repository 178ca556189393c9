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

The correlation classifier and the torch decoders named in ``permuted`` get a permutation test
(labels shuffled within runs, the whole leave-one-run-out refitted on each shuffle; for several
torch decoders the statistic is the best of them on every shuffle, so choosing the best does not
bias its p-value). Without ``data``, the same runs on a simulated block design with Haxby's
structure (:func:`neurosim.datasets.make_fmri_blocks`). Torch runs on one thread (these models
are tiny: one thread is fastest, and many times faster on a busy machine).

- quick: the MindBridge embedder only, 10 full-batch epochs, 20 shuffles (the fewest whose
  smallest p-value, 1/21, is below 0.05); 49 shuffles for the correlation classifier.
- full: both encoders (the BrainFLORA tower in its tiny variant: 4 x 32 fMRI tokens, width 16),
  40 epochs, 99 shuffles of the best of both, 999 for the correlation classifier. The tower costs
  about 1.4 s per full-batch epoch on one CPU thread: the full run is a GPU job.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "decode-haxby"


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        Fewer shuffles and epochs; the BrainFLORA tower without a permutation test.

    Returns
    -------
    config : dict
        ``torch_models`` (names of :class:`~neurosim.decoding.FMRIClassifier` encoders scored),
        ``permuted`` (those of them in the permutation test), ``torch_permutations``,
        ``correlation_permutations``, ``epochs``, ``lr``, ``hidden_dim``, ``pool_size``
        (MindBridge), ``tower`` (BrainFLORA), ``logistic_c``, ``n_voxels`` (simulated data).
    """
    common = {"torch_models": ["mindbridge", "brainflora"], "lr": 1e-2, "hidden_dim": 64,
              "pool_size": 256, "tower": "tiny", "logistic_c": 0.01, "n_voxels": 530}
    if quick:
        return {**common, "torch_models": ["mindbridge"], "permuted": ["mindbridge"],
                "torch_permutations": 20, "correlation_permutations": 49, "epochs": 10}
    return {**common, "permuted": ["mindbridge", "brainflora"], "torch_permutations": 99,
            "correlation_permutations": 999, "epochs": 40}


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Decode the 8 object categories of Haxby et al. (2001) by leave-one-run-out.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        A Haxby data folder (:func:`neurosim.datasets.load_haxby`, subject 1 with its default
        mask); None: a simulated block design (:func:`neurosim.datasets.make_fmri_blocks`).
    %(experiment_seed)s
        Seed of the torch models, the permutations (and of the simulated data).
    %(progress)s
        Ignored (the fits are short).

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: per-run accuracy of every classifier (``fold_accuracy`` (model, run)), the
        permutation scores; ``figures``: ``"accuracy"``; ``metrics``: ``accuracy_<model>`` for
        ``correlation``, ``ridge``, ``logistic`` and each torch model, ``accuracy_best_torch``
        (the best of the permuted torch models), ``p_correlation``, ``p_best_torch``, ``chance``.
    """
    import time

    import xarray as xr
    from sklearn.model_selection import LeaveOneGroupOut

    from neurosim.datasets import load_haxby, make_fmri_blocks
    from neurosim.decoding import (
        CorrelationClassifier,
        FMRIClassifier,
        LinearClassifier,
        TorchRidgeClassifierCV,
        leave_one_run_out,
    )
    from neurosim.decoding.preprocessing import clean_runs

    cfg = config
    unknown = sorted(set(cfg["permuted"]) - set(cfg["torch_models"]))
    if unknown or not cfg["permuted"]:
        raise ValueError(f"permuted must name one or more of torch_models {cfg['torch_models']}, "
                         f"got {cfg['permuted']}")
    t0 = time.perf_counter()
    if data is None:
        ds = make_fmri_blocks(n_voxels=cfg["n_voxels"], random_state=seed)
        source = "simulated block design (make_fmri_blocks)"
    else:
        ds = load_haxby(data)
        source = f"Haxby et al. (2001), subject {ds.attrs['subject']}, {ds.attrs['layout']} layout"
    # the analysis, as a user writes it: detrend and z-score each run, drop rest, leave one run out
    X = clean_runs(ds.bold.values, ds.run.values)
    task = ds.label.values != "rest"
    X, y, runs = X[task], ds.label.values[task], ds.run.values[task]
    baselines = {"ridge": TorchRidgeClassifierCV(cv=LeaveOneGroupOut(), device="cpu"),
                 "logistic": LinearClassifier(C=cfg["logistic_c"])}
    torch_models = {
        name: FMRIClassifier(name, hidden_dim=cfg["hidden_dim"], pool_size=cfg["pool_size"],
                             tower=cfg["tower"], epochs=cfg["epochs"], lr=cfg["lr"],
                             random_state=seed, device="cpu")
        for name in cfg["torch_models"]}
    with _one_thread():
        corr = leave_one_run_out(CorrelationClassifier(), X, y, runs,
                                 n_permutations=cfg["correlation_permutations"],
                                 random_state=seed)
        other = leave_one_run_out({**baselines, **{k: v for k, v in torch_models.items()
                                                   if k not in cfg["permuted"]}}, X, y, runs)
        deep = leave_one_run_out({k: torch_models[k] for k in cfg["permuted"]}, X, y, runs,
                                 n_permutations=cfg["torch_permutations"], random_state=seed)
    deep_acc = deep["accuracy"]
    deep_folds = deep["fold_accuracy"]
    best = deep["best"]
    acc = {"correlation": corr["accuracy"], **other["accuracy"], **deep_acc}
    folds = {"correlation": corr["fold_accuracy"], **other["fold_accuracy"], **deep_folds}
    names = ["correlation", "ridge", "logistic", *cfg["torch_models"]]
    chance = 1.0 / len(np.unique(y))
    metrics = {f"accuracy_{k}": acc[k] for k in names}
    metrics.update({"accuracy_best_torch": acc[best], "p_correlation": corr["pvalue"],
                    "p_best_torch": deep["pvalue"], "chance": chance,
                    "run_time_s": time.perf_counter() - t0})
    result = xr.Dataset(
        {"fold_accuracy": (("model", "run"), np.stack([folds[k] for k in names]),
                           {"long_name": "accuracy on the held-out run"}),
         "accuracy": ("model", np.array([acc[k] for k in names])),
         "permutation_correlation": ("permutation_c", corr["permutation_scores"]),
         "permutation_best_torch": ("permutation_t", deep["permutation_scores"])},
        coords={"model": names, "run": np.unique(runs)},
        attrs={"data": source, "best_torch": best, "permuted": ",".join(cfg["permuted"]),
               "n_volumes": int(len(y)), "n_voxels": int(X.shape[1])},
    )
    headline = [
        Headline("leave-one-run-out accuracy, correlation classifier", acc["correlation"],
                 "chance", chance),
        Headline(f"leave-one-run-out accuracy, {best} encoder (Trainer)", acc[best],
                 "correlation classifier", acc["correlation"]),
    ]
    return ExperimentResult(dataset=result, figures={"accuracy": _figure(result, chance)},
                            report=_report(result, metrics, seed), metrics=metrics,
                            headline=headline)


class _one_thread:  # noqa: N801 - a context manager
    """torch and BLAS on one thread inside the block: these models are tiny, and worker threads
    that spin while waiting for each other make them many times slower on a busy machine."""

    def __enter__(self):
        import torch
        from threadpoolctl import threadpool_limits

        self._before = torch.get_num_threads()
        torch.set_num_threads(1)
        self._blas = threadpool_limits(1)

    def __exit__(self, *exc):
        import torch

        self._blas.restore_original_limits()
        torch.set_num_threads(self._before)


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
                 label="labels shuffled within runs")
    ax_perm.axvline(float(result["accuracy"].sel(model=best)), color="tab:red",
                    label=f"{best}, true labels")
    ax_perm.set_xlabel("accuracy (best torch decoder)")
    ax_perm.legend(fontsize="small")
    fig.suptitle(f"8-way category decoding: {result.attrs['data']}", fontsize="medium")
    return fig


def _report(result, metrics, seed):
    best = result.attrs["best_torch"]
    lines = [
        f"# {NAME}",
        "",
        f"Haxby's correlation classifier names the category of a held-out run's volumes "
        f"{metrics['accuracy_correlation']:.3f} of the time (chance {metrics['chance']:.3f}); "
        f"ridge {metrics['accuracy_ridge']:.3f}; the best torch encoder trained through the "
        f"Trainer ({best}) {metrics['accuracy_best_torch']:.3f}, p = "
        f"{metrics['p_best_torch']:.3f}. *Leave-one-run-out*: each run is decoded by a model "
        "fitted on the 11 others. *p*: the fraction of label shufflings within runs (the whole "
        "cross-validation refitted each time, and the true labelling counted) that score as "
        "well.",
        "",
        f"{result.attrs['data']}: {result.attrs['n_volumes']} task volumes, "
        f"{result.attrs['n_voxels']} voxels, runs detrended and z-scored (seed {seed}).",
        "",
        "| model | accuracy | p (labels shuffled within runs) |",
        "|---|---|---|",
    ]
    permuted = result.attrs["permuted"].split(",")
    for name, value in zip(result["model"].values, result["accuracy"].values):
        p = ""
        if name == "correlation":
            p = f"{metrics['p_correlation']:.3f} ({result.sizes['permutation_c']} shuffles)"
        elif name == best:
            what = "best of " + " and ".join(permuted) if len(permuted) > 1 else "its own test"
            p = f"{metrics['p_best_torch']:.3f} ({result.sizes['permutation_t']} shuffles, {what})"
        lines.append(f"| {name} | {value:.3f} | {p} |")
    lines += ["", f"Run time {metrics['run_time_s']:.1f} s.", ""]
    return "\n".join(lines)
