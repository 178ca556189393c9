"""Experiment ``decode-brainflora``: EEG, MEG and fMRI to image-embedding retrieval (BrainFLORA).

On simulated THINGS-EEG2-, THINGS-MEG- and NSD-like data (:func:`neurosim.datasets.make_eeg_things`,
:func:`~neurosim.datasets.make_meg_things`, :func:`~neurosim.datasets.make_fmri_visual`), whose
responses are generated from the image embeddings, or on the real THINGS-EEG2 / THINGS-MEG files
(``run(data=FOLDER)``, ``neurosim run decode-brainflora --data FOLDER``; layout in
:func:`neurosim.datasets.find_things`; THINGS-MEG with BrainFLORA's zero-shot concept split), it
trains

1. the BrainFLORA towers, each on its own modality (single-modality models, "uni"), with
   round-robin single-modality batches and the subjects of a modality pooled;
2. the unified model ("multi"): towers frozen, the shared soft mixture-of-experts projector trained
   on all modalities;

and compares their per-subject k-way retrieval (2, 4, 10 and all test images; top-1, and top-5
for k >= 5) with a cross-validated ridge regression from the flattened trial to the embedding
(:class:`neurosim.decoding.TorchRidgeCV`) and with chance. "uni" is trained for as many epochs as
"multi" in all (the towers' epochs plus the unified stage's), so that "unified beats
single-modality" is a comparison at equal training; standard errors over the test images are
reported (20 test images give about +/- 10 points).

Configurations (the ``preset`` setting, ``neurosim run decode-brainflora --config paper|small``,
:data:`neurosim.decoding.BRAINFLORA_RECIPES`): ``"paper"`` (the default with ``data``): the official
towers (EEG Medformer encoder of 1,347,232 parameters), raw-temperature CLIP loss, patch
augmentations, AdamW 3e-4, 150 + 150 epochs, batches of 100 / 250, dot-product ranking with one
distractor draw; the recordings are memory-mapped (read subject by subject). ``"small"`` (the
default on simulated data): the same architecture at CPU size, the normalised loss, 40 + 10 epochs,
cosine ranking over 10 draws. The report sets the paper's figures beside ours only when the paper's
configuration ran in full on real data (all subjects, the recipe's epochs).

- quick: small data sets (real data: the first two subjects), 5 + 2 epochs (seconds).
- full: the generators' default sizes (MEG with 4 repetitions), the preset's epochs.

The fMRI responses are simulated with ``snr=0.1`` (0.1 signal-to-noise power ratio per trial): at
the default of 1, ridge retrieves the shared test images perfectly and nothing can be compared.

The protocol is :func:`neurosim.decoding.fit_brainflora`,
:func:`neurosim.decoding.brainflora_retrieval` and
:func:`neurosim.decoding.ridge_retrieval_baseline`.
"""

from __future__ import annotations

import contextlib
import tempfile
import time

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "decode-brainflora"
K_WAYS = (2, 4, 10, None)
METHODS = ("chance", "ridge", "uni", "multi")
CONFIGS = ("paper", "small")
#: the paper's retrieval accuracy (%) on THINGS-EEG2 (200 test images) and THINGS-MEG (200 test
#: concepts), as the official ``eval/reproduce_retrieval.py`` lists them
PAPER = {
    ("uni", "eeg"): {"top1_2way": 95.55, "top1_4way": 86.90, "top1_10way": 73.45,
                     "top1_all": 25.35, "top5_all": 57.30},
    ("multi", "eeg"): {"top1_2way": 94.05, "top1_4way": 87.30, "top1_10way": 73.15,
                       "top1_all": 25.05, "top5_all": 56.35},
    ("uni", "meg"): {"top1_2way": 81.75, "top1_4way": 64.50, "top1_10way": 46.62,
                     "top1_all": 8.00, "top5_all": 24.38},
    ("multi", "meg"): {"top1_2way": 80.50, "top1_4way": 61.88, "top1_10way": 39.75,
                       "top1_all": 6.88, "top5_all": 23.38},
}


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        Small data and few epochs.

    Returns
    -------
    config : dict
        ``preset``: ``"paper"`` or ``"small"`` (:data:`~neurosim.decoding.BRAINFLORA_RECIPES`;
        None: ``"paper"`` with ``data``, ``"small"`` without; ``"paper"`` needs ``data``);
        ``eeg``, ``meg``, ``fmri``: arguments of the simulators (``meg`` also ``decim``, the
        downsampling of the simulated and of the small preset's real MEG); ``epochs``,
        ``unified_epochs``, ``batch_size`` (None: the preset's); ``max_subjects``: subjects read
        per modality from real data (None: all).
    """
    if quick:
        return {
            "preset": None,
            "eeg": {"n_subjects": 2, "n_concepts": 10, "n_images": 40},
            "meg": {"n_subjects": 1, "n_concepts": 10, "n_images": 40, "n_repeats": 2, "decim": 2},
            "fmri": {"n_subjects": 2, "n_voxels": [300, 400], "n_stimuli": 220, "n_shared": 40,
                     "snr": 0.1},
            "epochs": 5, "unified_epochs": 2, "batch_size": 32, "max_subjects": 2,
        }
    return {
        "preset": None,
        "eeg": {"n_subjects": 2},
        "meg": {"n_subjects": 2, "n_repeats": 4, "decim": 2},
        "fmri": {"n_subjects": 3, "snr": 0.1},
        "epochs": None, "unified_epochs": None, "batch_size": None, "max_subjects": None,
    }


def _simulated_data(cfg, seed):
    """Simulate and prepare the three modalities: ``{modality: prepare_retrieval_data(...)}``."""
    from neurosim.datasets import make_eeg_things, make_fmri_visual, make_meg_things
    from neurosim.decoding import prepare_retrieval_data

    eeg = {k: v for k, v in cfg["eeg"].items()}
    meg = {k: v for k, v in cfg["meg"].items() if k != "decim"}
    data = {
        "eeg": prepare_retrieval_data("eeg", make_eeg_things(split="train", random_state=seed, **eeg),
                                      make_eeg_things(split="test", random_state=seed,
                                                      n_subjects=eeg["n_subjects"],
                                                      n_concepts=eeg.get("n_concepts", 20))),
        "meg": prepare_retrieval_data("meg", make_meg_things(split="train", random_state=seed, **meg),
                                      make_meg_things(split="test", random_state=seed,
                                                      n_subjects=meg["n_subjects"],
                                                      n_concepts=meg.get("n_concepts", 20)),
                                      decim=cfg["meg"].get("decim", 1)),
        "fmri": prepare_retrieval_data("fmri", make_fmri_visual(random_state=seed, **cfg["fmri"])),
    }
    return data


def _real_data(path, cfg, preset, workdir):
    """THINGS-EEG2/MEG in ``path`` (:func:`neurosim.datasets.find_things`), prepared.

    With ``workdir`` (the paper configuration) the recordings and the prepared training arrays
    are memory-mapped files there, read subject by subject.
    """
    from neurosim.datasets import find_things
    from neurosim.decoding import prepare_retrieval_data

    cache = None if workdir is None else f"{workdir}/recordings"
    found, source = find_things(path, max_subjects=cfg["max_subjects"], cache=cache)
    # paper: EEG 250 Hz and MEG 200 Hz as read; small: MEG decimated by cfg["meg"]["decim"]
    decim = {"eeg": 1, "meg": 1 if preset == "paper" else cfg["meg"].get("decim", 1)}
    return {m: prepare_retrieval_data(m, d["train"], d["test"], decim=decim[m],
                                      out=None if workdir is None else f"{workdir}/prepared")
            for m, d in found.items()}, source


def _se(scores, n_test):
    """Standard error of the subject-mean of accuracies on ``n_test[s]`` images: binomial per
    subject, sqrt(p (1 - p) / n), combined as the mean of independent subjects."""
    subjects = list(scores)
    var = [scores[s] * (1 - scores[s]) / n_test[s] for s in subjects]
    return float(np.sqrt(np.sum(var)) / len(subjects))


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train BrainFLORA and compare its retrieval with ridge and chance.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        None: simulated data. Otherwise a folder with THINGS-EEG2 and/or THINGS-MEG files and
        image embeddings (layout in :func:`neurosim.datasets.find_things`): the same comparison
        on the modalities present.
    %(experiment_seed)s
        Seed of the simulated data, the model initialisation, the batches and the distractors.
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``score`` (decoder, modality, metric), the mean over subjects of the
        retrieval accuracy of ``chance``, ``ridge``, ``uni`` (single-modality towers, trained as
        many epochs as ``multi``) and ``multi`` (unified), ``score_sd`` over subjects,
        ``score_se`` (standard error over test images), and the training histories; ``metrics``:
        ``<modality>_<method>_top1_10way`` ...; ``figures``: ``"retrieval"``, ``"training"``.
    """
    import xarray as xr

    from neurosim.decoding import (
        brainflora_retrieval,
        fit_brainflora,
        ridge_retrieval_baseline,
    )
    from neurosim.decoding.metrics import chance_retrieval_scores
    from neurosim.decoding.model_selection import brainflora_recipe

    cfg = config
    config = cfg["preset"]
    if config is None:
        config = "paper" if data is not None else "small"
    if config not in CONFIGS:
        raise ValueError(f"preset must be one of {CONFIGS} or None, got {config!r}")
    if config == "paper" and data is None:
        raise ValueError("preset 'paper' is the paper's model and training on THINGS-EEG2/MEG: "
                         "give data=FOLDER (--data); on the simulated data use preset 'small'")
    recipe = brainflora_recipe(config, epochs=cfg["epochs"], unified_epochs=cfg["unified_epochs"],
                               batch_size=cfg["batch_size"],
                               unified_batch_size=cfg["batch_size"])
    with contextlib.ExitStack() as stack:
        workdir = None
        if data is not None and config == "paper":
            from neurosim.datasets import get_data_home

            home = get_data_home()
            home.mkdir(parents=True, exist_ok=True)
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="brainflora-",
                                                                      dir=home))
        t0 = time.perf_counter()
        if data is None:
            source = "simulated data"
            data = _simulated_data(cfg, seed)
        else:
            data, source = _real_data(data, cfg, config, workdir)
        t_data = time.perf_counter() - t0
        scores = {"chance": {}, "ridge": {}}
        n_test = {}
        for m, d in data.items():
            n_test[m] = {str(s): int(np.sum(d["test"]["subject"] == s))
                         for s in np.unique(d["test"]["subject"])}
            scores["chance"][m] = {s: chance_retrieval_scores(n, K_WAYS)
                                   for s, n in n_test[m].items()}
            scores["ridge"][m] = ridge_retrieval_baseline(
                d["train"], d["test"], k_ways=K_WAYS, random_state=seed,
                max_train=20_000 if config == "paper" else None,
                similarity="cosine", n_draws=recipe["n_draws"])
        t1 = time.perf_counter()
        model, hist_uni, hist_multi, uni = fit_brainflora(data, config=recipe, equal_epochs=True,
                                                          random_state=seed, progress=progress)
        scores["uni"] = brainflora_retrieval(uni, data, config=recipe, k_ways=K_WAYS,
                                             random_state=seed)
        scores["multi"] = brainflora_retrieval(model, data, config=recipe, k_ways=K_WAYS,
                                               random_state=seed)
        t_train = time.perf_counter() - t1
        shapes = {m: (d["train"]["x"].shape, d["test"]["x"].shape) for m, d in data.items()}

    modalities = list(n_test)
    metric_names = list(next(iter(next(iter(scores["chance"].values())).values())))
    for m in modalities:  # metrics present for every subject of every modality
        for subj in scores["chance"][m].values():
            metric_names = [k for k in metric_names if k in subj]
    mean = np.full((len(METHODS), len(modalities), len(metric_names)), np.nan)
    sd = np.full_like(mean, np.nan)
    se = np.full_like(mean, np.nan)
    for i, meth in enumerate(METHODS):
        for j, m in enumerate(modalities):
            per = scores[meth][m]
            vals = np.array([[per[s][k] for k in metric_names] for s in per])
            mean[i, j], sd[i, j] = vals.mean(0), vals.std(0)
            if meth != "chance":
                se[i, j] = [_se({s: per[s][k] for s in per}, n_test[m]) for k in metric_names]
    dims = ("decoder", "modality", "metric")
    ds = xr.Dataset(
        {"score": (dims, mean, {"long_name": "retrieval accuracy, mean over subjects",
                                "units": "1"}),
         "score_sd": (dims, sd, {"long_name": "retrieval accuracy, sd over subjects", "units": "1"}),
         "score_se": (dims, se, {"long_name": "standard error over test images (binomial)",
                                 "units": "1"}),
         "train_loss_uni": (("epoch_uni",), hist_uni["train_loss"].values),
         "train_loss_multi": (("epoch_multi",), hist_multi["train_loss"].values)},
        coords={"decoder": list(METHODS), "modality": modalities, "metric": metric_names,
                "epoch_uni": hist_uni["epoch"].values, "epoch_multi": hist_multi["epoch"].values},
    )
    metrics = {f"{m}_{meth}_{k}": float(ds["score"].sel(decoder=meth, modality=m, metric=k))
               for meth in METHODS for m in modalities for k in ("top1_10way", "top1_2way")
               if k in metric_names}
    metrics.update(data_time_s=t_data, train_time_s=t_train)
    paper_protocol = (config == "paper" and source != "simulated data"
                      and cfg["max_subjects"] is None
                      and all(cfg[k] is None for k in ("epochs", "unified_epochs", "batch_size")))
    ds.attrs.update({"source": source, "preset": config, "paper_protocol": int(paper_protocol),
                     "epochs": recipe["epochs"], "unified_epochs": recipe["unified_epochs"]})
    figures = {"retrieval": _retrieval_figure(ds), "training": _training_figure(ds)}
    report = _report(ds, shapes, recipe, config, seed, t_data, t_train, source, paper_protocol)
    key = "top1_10way" if "top1_10way" in metric_names else metric_names[0]
    headline = [
        Headline(f"{m.upper() if m != 'fmri' else 'fMRI'} {key.replace('_', ' ')}, unified "
                 "BrainFLORA", float(ds["score"].sel(decoder="multi", modality=m, metric=key)),
                 "ridge regression",
                 float(ds["score"].sel(decoder="ridge", modality=m, metric=key)))
        for m in modalities]
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics,
                            headline=headline)


def _retrieval_figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    axes = fig.subplots(1, ds.sizes["modality"], sharey=True)
    ks = [k for k in ("top1_2way", "top1_4way", "top1_10way", "top1_all") if k in ds["metric"]]
    x = np.arange(len(ks))
    width = 0.8 / ds.sizes["decoder"]
    for ax, m in zip(np.atleast_1d(axes), ds["modality"].values):
        for i, meth in enumerate(ds["decoder"].values):
            v = ds["score"].sel(modality=m, decoder=meth, metric=ks).values
            e = ds["score_sd"].sel(modality=m, decoder=meth, metric=ks).values
            ax.bar(x + (i - 1.5) * width, 100 * v, width, yerr=100 * e, label=meth)
        ax.set_xticks(x, [k.replace("top1_", "") for k in ks])
        ax.set_title(m.upper() if m != "fmri" else "fMRI")
        ax.set_ylim(0, 100)
    np.atleast_1d(axes)[0].set_ylabel("top-1 retrieval (%)")
    np.atleast_1d(axes)[-1].legend(fontsize="small")
    return fig


def _training_figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(ds["epoch_uni"], ds["train_loss_uni"], "o-", label="towers (single-modality)")
    n = ds.sizes["epoch_uni"]
    ax.plot(n + ds["epoch_multi"], ds["train_loss_multi"], "s-", label="unified projector")
    ax.set_xlabel("epoch")
    ax.set_ylabel("CLIP loss (train)")
    ax.legend()
    return fig


def _report(ds, shapes, recipe, config, seed, t_data, t_train, source, paper_protocol):
    lines = [f"# {NAME}", "",
             "*k-way top-1 retrieval*: the fraction of test images whose true embedding ranks "
             "first among k candidates (the true one and k - 1 random others; *all*: every test "
             "image); *uni*: each modality's tower trained alone; *multi*: the towers frozen and "
             "the shared mixture-of-experts projector trained on all modalities; *ridge*: a "
             "linear map from the flattened trial to the embedding.", "",
             f"BrainFLORA, preset **{config}** (seed {seed}) on {source}: "
             + ", ".join(f"{m} {tr[0]} training samples of shape {tuple(tr[1:])}, {te[0]} test "
                         "images" for m, (tr, te) in shapes.items())
             + f". Towers {recipe['epochs']} epochs, then the unified projector "
             f"{recipe['unified_epochs']} epochs ('multi'); 'uni' continues the towers alone for "
             f"the same {recipe['unified_epochs']} epochs (equal training). Ranking "
             f"{recipe['similarity']}, {recipe['n_draws']} distractor draw(s). Data "
             f"{t_data:.1f} s, training and evaluation {t_train:.1f} s.", "",
             "Top-k k-way retrieval (%), mean over subjects +/- standard error over test images:",
             "",
             "| modality | decoder | " + " | ".join(ds["metric"].values) + " |",
             "|---|---|" + "---|" * ds.sizes["metric"]]
    for m in ds["modality"].values:
        for meth in ds["decoder"].values:
            v = ds["score"].sel(modality=m, decoder=meth).values
            e = ds["score_se"].sel(modality=m, decoder=meth).values
            lines.append(f"| {m} | {meth} | " + " | ".join(
                f"{100 * x:.1f}" + ("" if not np.isfinite(u) else f" +/- {100 * u:.1f}")
                for x, u in zip(v, e)) + " |")
    if paper_protocol:
        rows = [(meth, m) for (meth, m) in PAPER if m in ds["modality"].values]
        if rows:
            keys = [k for k in PAPER[rows[0]] if k in ds["metric"].values]
            lines += ["", "The paper (official evaluation script's table) beside ours, %:", "",
                      "| modality | decoder | " + " | ".join(f"{k} paper / ours" for k in keys)
                      + " |", "|---|---|" + "---|" * len(keys)]
            for meth, m in rows:
                ours = ds["score"].sel(modality=m, decoder=meth)
                lines.append(f"| {m} | {meth} | " + " | ".join(
                    f"{PAPER[meth, m][k]:.2f} / {100 * float(ours.sel(metric=k)):.2f}"
                    for k in keys) + " |")
    else:
        lines += ["", "The paper's figures are not set beside these: they come from its "
                  "configuration in full on THINGS-EEG2/MEG (preset 'paper', every subject, --data)."]
    return "\n".join(lines + [""])
