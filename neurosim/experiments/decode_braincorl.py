"""Experiment ``decode-braincorl``: in-context voxelwise encoding (BraInCoRL) vs ridge.

On :func:`neurosim.datasets.make_fmri_visual` with **512-dimensional** stimulus embeddings (CLIP's
size) and at most 100 in-context images - the regime of the paper's claim, where a voxel's
encoder has more weights than there are images and ridge regression is under-determined - a
:class:`~neurosim.decoding.BraInCoRL` transformer is meta-trained on the voxels of four subjects
(their unique images only; random context sizes, MSE on query responses). On the held-out fifth
subject, each voxel's encoder is then written from ``n`` in-context images (its own, non-shared
stimuli, repeat-averaged betas), with no gradient step, for increasing ``n`` (the test-time scaling
curve). It is compared with two ridge baselines fitted on the same images: neurosim's
:class:`~neurosim.decoding.TorchRidgeCV` (penalty per voxel by cross-validated error, unpenalised
intercept, refit) and the paper's own baseline :class:`~neurosim.decoding.BraInCoRLRidgeCV`
(penalised bias, explained-variance-based sequential 5-fold CV, fold-averaged weights), and with the
simulation's ground-truth weights (the ceiling). The metric is the voxelwise explained variance on
the shared test stimuli, averaged over voxels and over independent context draws; the cosine
similarity between written and true weights is also reported.

With ``data=FOLDER`` (``neurosim run decode-braincorl --data FOLDER``) it runs on BraInCoRL-format
NSD files in that folder instead (layout: :func:`neurosim.datasets.find_nsd_braincorl`; context
images in the official test order when ``test_time_icl_idx.json`` is there). The protocols are
:func:`neurosim.decoding.meta_train` and :func:`neurosim.decoding.scaling_curve`. The model follows
the official one (``standardize=False``).

- quick: 2 attention blocks of width 64, 400 meta-training steps, contexts of 5-100 images.
- full: 4 blocks of width 128, 3,000 steps, 10 context draws per size.
"""

from __future__ import annotations

import time

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "decode-braincorl"


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        Small model and short meta-training.

    Returns
    -------
    config : dict
        ``embedding_dim`` and ``n_subjects`` (simulated data), ``model``
        (:class:`~neurosim.decoding.BraInCoRL` arguments), ``tasks``
        (:func:`~neurosim.decoding.braincorl_tasks` arguments), ``epochs``, ``lr``,
        ``context_sizes``, ``n_draws``.
    """
    if quick:
        return {"embedding_dim": 512, "model": {"d_model": 64, "n_layers": 2, "n_heads": 4,
                                                "ffn_dim": 128},
                "tasks": {"min_context": 5, "max_context": 100, "n_query": 32,
                          "voxels_per_batch": 32, "steps_per_epoch": 50},
                "epochs": 8, "lr": 3e-3, "context_sizes": [5, 10, 20, 50, 100],
                "n_draws": 4, "n_subjects": 5}
    return {"embedding_dim": 512, "model": {"d_model": 128, "n_layers": 4, "n_heads": 4,
                                            "ffn_dim": 256},
            "tasks": {"min_context": 5, "max_context": 100, "n_query": 50,
                      "voxels_per_batch": 64, "steps_per_epoch": 100},
            "epochs": 30, "lr": 1e-3, "context_sizes": [5, 10, 20, 50, 100],
            "n_draws": 10, "n_subjects": 5}


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Meta-train BraInCoRL on all subjects but one; test-time scaling on that one vs ridge.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        None: simulated subjects (:func:`neurosim.datasets.make_fmri_visual`). Otherwise a folder
        of BraInCoRL-format NSD files (:func:`neurosim.datasets.find_nsd_braincorl`).
    %(experiment_seed)s
        Seed of the simulated data, the model, the meta-training and the context draws.
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the curve (see :func:`neurosim.decoding.scaling_curve`) with the
        meta-training loss (``train_loss`` over ``epoch``); ``figures``: ``"scaling"``;
        ``metrics``: ``ev_braincorl_<n>``, ``ev_ridge_<n>`` (TorchRidgeCV),
        ``ev_ridge_official_<n>`` (the paper's ridge) per context size ``n``,
        ``ev_ground_truth``, ``run_time_s``.
    """
    from neurosim.datasets import find_nsd_braincorl, make_fmri_visual
    from neurosim.decoding import meta_train, scaling_curve

    cfg = config
    t0 = time.perf_counter()
    context_sizes = list(cfg["context_sizes"])
    if data is None:
        data = make_fmri_visual(n_subjects=cfg["n_subjects"], embedding_dim=cfg["embedding_dim"],
                                random_state=seed)
        subjects = sorted(data)
        train, heldout, source = data, data[subjects[-1]], "make_fmri_visual"
        embedding_dim = cfg["embedding_dim"]
    else:
        train, heldout, folder = find_nsd_braincorl(data, on_missing="raise")
        subjects = [*train, heldout["subject"]]
        source = f"BraInCoRL-format NSD files in {folder}"
        embedding_dim = int(heldout["context_embeddings"].shape[1])
        context_sizes = [n for n in context_sizes if n <= len(heldout["context_responses"])]
    model, trainer = meta_train(train, subjects[:-1], model_kwargs=cfg["model"],
                                task_kwargs=cfg["tasks"], epochs=cfg["epochs"], lr=cfg["lr"],
                                random_state=seed, progress=progress)
    curve = scaling_curve(model, heldout, context_sizes, n_draws=cfg["n_draws"],
                          random_state=seed)
    curve["train_loss"] = trainer.history_["train_loss"].assign_attrs(
        long_name="meta-training MSE on query responses")
    elapsed = time.perf_counter() - t0
    mean_ev = curve["explained_variance"].mean("draw")
    metrics = {}
    for n in curve["context_size"].values:
        metrics[f"ev_braincorl_{n}"] = float(mean_ev.sel(encoder="braincorl", context_size=n))
        metrics[f"ev_ridge_{n}"] = float(mean_ev.sel(encoder="ridge", context_size=n))
        metrics[f"ev_ridge_official_{n}"] = float(mean_ev.sel(encoder="ridge_official",
                                                              context_size=n))
    metrics["ev_ground_truth"] = float(mean_ev.sel(encoder="ground_truth").mean())
    metrics["run_time_s"] = elapsed
    curve.attrs.update({"data": source, "train_subjects": ",".join(subjects[:-1]),
                        "embedding_dim": embedding_dim})
    few = 10 if 10 in context_sizes else context_sizes[0]
    headline = [
        Headline(f"explained variance, BraInCoRL, {few} in-context images",
                 metrics[f"ev_braincorl_{few}"], "ridge on the same images",
                 metrics[f"ev_ridge_{few}"]),
        Headline(f"explained variance, BraInCoRL, {context_sizes[-1]} images",
                 metrics[f"ev_braincorl_{context_sizes[-1]}"], "ground-truth weights",
                 metrics["ev_ground_truth"]),
    ]
    return ExperimentResult(dataset=curve, figures={"scaling": _figure(curve)},
                            report=_report(curve, metrics, seed), metrics=metrics,
                            headline=headline)


def _figure(curve):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax_ev, ax_cos = fig.subplots(1, 2)
    n = curve["context_size"].values
    styles = {"braincorl": ("tab:red", "BraInCoRL (in-context)"),
              "ridge": ("tab:blue", "TorchRidgeCV"),
              "ridge_official": ("tab:cyan", "ridge as in the paper"),
              "ground_truth": ("k", "ground-truth weights")}
    for method, (color, label) in styles.items():
        ev = curve["explained_variance"].sel(encoder=method)
        ls = "--" if method == "ground_truth" else "-"
        ax_ev.errorbar(n, ev.mean("draw"), yerr=ev.std("draw"), fmt="o" + ls, color=color,
                       label=label, capsize=2, ms=4)
        if method != "ground_truth":
            ax_cos.plot(n, curve["weight_cosine"].sel(encoder=method).mean("draw"), "o-",
                        color=color, label=label, ms=4)
    for ax in (ax_ev, ax_cos):
        ax.set_xscale("log")
        ax.set_xlabel("in-context images")
    ax_ev.set_ylabel("explained variance (voxel mean)")
    ax_ev.set_title(f"held-out subject {curve.attrs['subject']}: test images")
    ax_ev.legend(fontsize="small")
    ax_cos.set_ylabel("cosine(weights, ground truth)")
    ax_cos.set_title("recovered encoding weights")
    return fig


def _report(curve, metrics, seed):
    mean_ev = curve["explained_variance"].mean("draw")
    cos = curve["weight_cosine"].mean("draw")
    sizes = curve["context_size"].values
    few = 10 if 10 in sizes else sizes[0]
    lines = [
        f"# {NAME}",
        "",
        f"From {few} in-context images and no gradient step, the encoders BraInCoRL writes for a "
        f"held-out subject explain {metrics[f'ev_braincorl_{few}']:.3f} of the test variance, "
        f"against {metrics[f'ev_ridge_{few}']:.3f} for cross-validated ridge fitted on the same "
        f"images; the simulation's ground-truth weights explain {metrics['ev_ground_truth']:.3f}. "
        "*Explained variance* (EV): 1 - residual variance / variance of each voxel's responses "
        "to the shared test images, averaged over voxels; *in-context images*: the (image, "
        "response) pairs the transformer reads to write each voxel's linear encoder.",
        "",
        f"BraInCoRL (seed {seed}) meta-trained on {curve.attrs['train_subjects']} of "
        f"{curve.attrs['data']} ({curve.attrs['embedding_dim']}-dimensional embeddings); encoders of "
        f"the {curve.attrs['n_voxels']} voxels of held-out {curve.attrs['subject']} written from "
        f"n in-context images, tested on {curve.attrs['n_test_images']} shared images "
        f"({curve.sizes['draw']} context draws per n).",
        "",
        "| n | BraInCoRL EV | TorchRidgeCV EV | paper's ridge EV | BraInCoRL weight cos "
        "| TorchRidgeCV weight cos |",
        "|---|---|---|---|---|---|",
    ]
    for n in curve["context_size"].values:
        lines.append(
            f"| {n} | {float(mean_ev.sel(encoder='braincorl', context_size=n)):.3f} "
            f"| {float(mean_ev.sel(encoder='ridge', context_size=n)):.3f} "
            f"| {float(mean_ev.sel(encoder='ridge_official', context_size=n)):.3f} "
            f"| {float(cos.sel(encoder='braincorl', context_size=n)):.3f} "
            f"| {float(cos.sel(encoder='ridge', context_size=n)):.3f} |")
    lines += ["", f"Ground-truth weights: EV {metrics['ev_ground_truth']:.3f}. "
              f"Run time {metrics['run_time_s']:.1f} s.", ""]
    return "\n".join(lines)
