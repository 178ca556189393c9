"""Experiment ``decode-brainflora``: EEG, MEG and fMRI to image-embedding retrieval (BrainFLORA).

On simulated THINGS-EEG2-, THINGS-MEG- and NSD-like data (:func:`neurosim.datasets.make_eeg_things`,
:func:`~neurosim.datasets.make_meg_things`, :func:`~neurosim.datasets.make_fmri_visual`), whose
responses are generated from the image embeddings, it trains

1. the three BrainFLORA towers, each on its own modality (single-modality models, "uni"), with
   round-robin single-modality batches and the subjects of a modality pooled;
2. the unified model ("multi"): towers frozen, the shared soft mixture-of-experts projector trained
   on all modalities;

and compares their per-subject k-way retrieval (2, 4, 10 and all test images; top-1, and top-5
for k >= 5) with a cross-validated ridge regression from the flattened trial to the embedding
(:class:`neurosim.decoding.TorchRidgeCV`) and with chance.

- quick: small data sets, a CPU-sized model, a few epochs (seconds).
- full: the generators' default sizes (MEG with 4 repetitions), 40 + 10 epochs.

The fMRI responses are simulated with ``snr=0.1`` (0.1 signal-to-noise power ratio per trial): at
the default of 1, ridge retrieves the shared test images perfectly and nothing can be compared.

With ``run(data=FOLDER)`` (``neurosim run decode-brainflora --data FOLDER``) the same comparison
runs on the real THINGS-EEG2 and/or THINGS-MEG preprocessed data (see
:func:`neurosim.datasets.find_things` for the layout and the embedding files it expects).

The protocol is :func:`neurosim.decoding.fit_brainflora`,
:func:`neurosim.decoding.retrieval_by_subject` and
:func:`neurosim.decoding.ridge_retrieval_baseline`.
"""

from __future__ import annotations

import time

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "decode-brainflora"
K_WAYS = (2, 4, 10, None)
METHODS = ("chance", "ridge", "uni", "multi")


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
        ``eeg``, ``meg``, ``fmri``: arguments of the simulators (``meg`` also ``decim``, the
        downsampling); ``epochs``, ``unified_epochs``, ``batch_size``, ``lr``; ``max_subjects``:
        subjects read per modality from real data (None: all).
    """
    if quick:
        return {
            "eeg": {"n_subjects": 2, "n_concepts": 10, "n_images": 40},
            "meg": {"n_subjects": 1, "n_concepts": 10, "n_images": 40, "n_repeats": 2, "decim": 2},
            "fmri": {"n_subjects": 2, "n_voxels": [300, 400], "n_stimuli": 220, "n_shared": 40,
                     "snr": 0.1},
            "epochs": 5, "unified_epochs": 2, "batch_size": 32, "lr": 2e-3, "max_subjects": 2,
        }
    return {
        "eeg": {"n_subjects": 2},
        "meg": {"n_subjects": 2, "n_repeats": 4, "decim": 2},
        "fmri": {"n_subjects": 3, "snr": 0.1},
        "epochs": 40, "unified_epochs": 10, "batch_size": 64, "lr": 2e-3, "max_subjects": None,
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


def _real_data(path, cfg):
    """THINGS-EEG2/MEG in ``path`` (:func:`neurosim.datasets.find_things`), prepared."""
    from neurosim.datasets import find_things
    from neurosim.decoding import prepare_retrieval_data

    found, source = find_things(path, max_subjects=cfg["max_subjects"])
    decim = {"eeg": 1, "meg": cfg["meg"].get("decim", 1)}
    return {m: prepare_retrieval_data(m, d["train"], d["test"], decim=decim[m])
            for m, d in found.items()}, source


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train BrainFLORA on EEG, MEG and fMRI and compare its retrieval with ridge and chance.

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
        retrieval accuracy of ``chance``, ``ridge``, ``uni`` (single-modality towers) and ``multi``
        (unified), ``score_sd`` over subjects, and the training histories; ``metrics``:
        ``<modality>_<method>_top1_10way`` ...; ``figures``: ``"retrieval"``, ``"training"``.
    """
    import xarray as xr

    from neurosim.decoding import fit_brainflora, retrieval_by_subject, ridge_retrieval_baseline
    from neurosim.decoding.metrics import chance_retrieval_scores

    cfg = config
    t0 = time.perf_counter()
    if data is None:
        source = "simulated data"
        data = _simulated_data(cfg, seed)
    else:
        data, source = _real_data(data, cfg)
    t_data = time.perf_counter() - t0
    scores = {"chance": {}, "ridge": {}}
    for m, d in data.items():
        n_test = {s: int(np.sum(d["test"]["subject"] == s)) for s in np.unique(d["test"]["subject"])}
        scores["chance"][m] = {str(s): chance_retrieval_scores(n, K_WAYS) for s, n in n_test.items()}
        scores["ridge"][m] = ridge_retrieval_baseline(d["train"], d["test"], k_ways=K_WAYS,
                                                      random_state=seed)
    t1 = time.perf_counter()
    model, hist_uni, hist_multi = fit_brainflora(
        data, epochs=cfg["epochs"], unified_epochs=cfg["unified_epochs"],
        batch_size=cfg["batch_size"], lr=cfg["lr"], random_state=seed, progress=progress)
    for unified, name in ((False, "uni"), (True, "multi")):
        model.unify(unified)
        scores[name] = {m: retrieval_by_subject(model.predict(d["test"]["x"], m), d["test"],
                                                k_ways=K_WAYS, random_state=seed)
                        for m, d in data.items()}
    t_train = time.perf_counter() - t1

    modalities = list(data)
    metric_names = list(next(iter(next(iter(scores["chance"].values())).values())))
    for m in modalities:  # metrics present for every subject of every modality
        for subj in scores["chance"][m].values():
            metric_names = [k for k in metric_names if k in subj]
    mean = np.full((len(METHODS), len(modalities), len(metric_names)), np.nan)
    sd = np.full_like(mean, np.nan)
    for i, meth in enumerate(METHODS):
        for j, m in enumerate(modalities):
            per = scores[meth][m]
            vals = np.array([[per[s][k] for k in metric_names] for s in per])
            mean[i, j], sd[i, j] = vals.mean(0), vals.std(0)
    ds = xr.Dataset(
        {"score": (("decoder", "modality", "metric"), mean,
                   {"long_name": "retrieval accuracy, mean over subjects", "units": "1"}),
         "score_sd": (("decoder", "modality", "metric"), sd,
                      {"long_name": "retrieval accuracy, sd over subjects", "units": "1"}),
         "train_loss_uni": (("epoch_uni",), hist_uni["train_loss"].values),
         "train_loss_multi": (("epoch_multi",), hist_multi["train_loss"].values)},
        coords={"decoder": list(METHODS), "modality": modalities, "metric": metric_names,
                "epoch_uni": hist_uni["epoch"].values, "epoch_multi": hist_multi["epoch"].values},
    )
    metrics = {f"{m}_{meth}_{k}": float(ds["score"].sel(decoder=meth, modality=m, metric=k))
               for meth in METHODS for m in modalities for k in ("top1_10way", "top1_2way")
               if k in metric_names}
    metrics.update(data_time_s=t_data, train_time_s=t_train)
    ds.attrs.update({"source": source, "epochs": cfg["epochs"],
                     "unified_epochs": cfg["unified_epochs"]})
    figures = {"retrieval": _retrieval_figure(ds), "training": _training_figure(ds)}
    key = "top1_10way" if "top1_10way" in metric_names else metric_names[0]
    headline = [
        Headline(f"{m.upper() if m != 'fmri' else 'fMRI'} {key.replace('_', ' ')}, unified "
                 "BrainFLORA", float(ds["score"].sel(decoder="multi", modality=m, metric=key)),
                 "ridge regression",
                 float(ds["score"].sel(decoder="ridge", modality=m, metric=key)))
        for m in modalities]
    return ExperimentResult(dataset=ds, figures=figures,
                            report=_report(ds, data, cfg, seed, t_data, t_train, source, key),
                            metrics=metrics, headline=headline)


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


def _report(ds, data, cfg, seed, t_data, t_train, source, key):
    per = [f"{m.upper() if m != 'fmri' else 'fMRI'} "
           f"{100 * float(ds['score'].sel(decoder='multi', modality=m, metric=key)):.1f} % "
           f"(ridge {100 * float(ds['score'].sel(decoder='ridge', modality=m, metric=key)):.1f} %, "
           f"chance {100 * float(ds['score'].sel(decoder='chance', modality=m, metric=key)):.1f} %)"
           for m in ds["modality"].values]
    lines = [f"# {NAME}", "",
             f"Top-1 {key.split('_')[1].replace('way', '-way')} retrieval of the unified "
             "BrainFLORA model, mean over subjects: " + "; ".join(per) + ". *k-way top-1 "
             "retrieval*: the fraction of test images whose true embedding is the closest "
             "(cosine) to the predicted one among k candidates (the true one and k - 1 random "
             "others; *all*: every test image); *uni*: each modality's tower trained alone; "
             "*multi*: the towers frozen and the shared mixture-of-experts projector trained on "
             "all modalities; *ridge*: a linear map from the flattened trial to the embedding.",
             "",
             f"BrainFLORA (seed {seed}) on {source}: "
             + ", ".join(f"{m} {d['train']['x'].shape[0]} training samples of shape "
                         f"{d['train']['x'].shape[1:]}, {d['test']['x'].shape[0]} test images"
                         for m, d in data.items())
             + f". Towers {cfg['epochs']} epochs, unified projector {cfg['unified_epochs']} epochs "
             f"(data {t_data:.1f} s, training and evaluation {t_train:.1f} s).", "",
             "Top-1 k-way retrieval (%), mean over subjects:", "",
             "| modality | decoder | " + " | ".join(ds["metric"].values) + " |",
             "|---|---|" + "---|" * ds.sizes["metric"]]
    for m in ds["modality"].values:
        for meth in ds["decoder"].values:
            v = ds["score"].sel(modality=m, decoder=meth).values
            lines.append(f"| {m} | {meth} | " + " | ".join(f"{100 * x:.1f}" for x in v) + " |")
    return "\n".join(lines + [""])
