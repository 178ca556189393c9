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
runs on the real THINGS-EEG2 and/or THINGS-MEG preprocessed data (see :func:`load_real_data` for
the layout and the embedding files it expects).
"""

from __future__ import annotations

import time

import numpy as np

from . import ExperimentResult

NAME = "decode-brainflora"
K_WAYS = (2, 4, 10, None)
METHODS = ("chance", "ridge", "uni", "multi")
EMBEDDING_SUFFIXES = (".npz", ".npy", ".pt", ".h5", ".hdf5")
_EEG2_FILES = ("preprocessed_eeg_training.npy", "preprocessed_eeg_test.npy")


def _config(quick):
    if quick:
        return {
            "eeg": {"n_subjects": 2, "n_concepts": 10, "n_images": 40},
            "meg": {"n_subjects": 1, "n_concepts": 10, "n_images": 40, "n_repeats": 2, "decim": 2},
            "fmri": {"n_subjects": 2, "n_voxels": [300, 400], "n_stimuli": 220, "n_shared": 40,
                     "snr": 0.1},
            "epochs": 5, "unified_epochs": 2, "batch_size": 32, "lr": 2e-3,
        }
    return {
        "eeg": {"n_subjects": 2},
        "meg": {"n_subjects": 2, "n_repeats": 4, "decim": 2},
        "fmri": {"n_subjects": 3, "snr": 0.1},
        "epochs": 40, "unified_epochs": 10, "batch_size": 64, "lr": 2e-3,
    }


def load_data(cfg, seed):
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


def _embedding_file(root, name, what):
    found = [root / f"embeddings_{name}{suffix}" for suffix in EMBEDDING_SUFFIXES]
    found = [p for p in found if p.is_file()]
    if not found:
        raise FileNotFoundError(
            f"no stimulus-embedding file embeddings_{name}.<npz|npy|pt|h5> in {root}: it must hold one "
            f"row per {what} (e.g. CLIP image features saved with "
            "neurosim.datasets.save_embeddings; see load_embeddings for the formats)"
        )
    if len(found) > 1:
        raise ValueError(f"several embedding files embeddings_{name}.* in {root}: "
                         f"{[p.name for p in found]}; keep one")
    from neurosim.datasets import load_embeddings

    emb = load_embeddings(found[0])
    values = np.asarray(emb.values, dtype=np.float64)  # prepare_retrieval_data casts (a copy)
    if not np.isfinite(values).all():
        raise ValueError(f"{found[0].name} contains NaN or inf values")
    return found[0].name, values


def _load_real_eeg(root, subjects):
    from neurosim.datasets import load_things_eeg2

    out = {}
    for split in ("train", "test"):
        ds = load_things_eeg2(root, subjects=subjects, split=split)
        what = f"image of the THINGS-EEG2 {split} files, in their order"
        name, emb = _embedding_file(root, split, what)
        if len(emb) != ds.sizes["image"]:
            raise ValueError(
                f"{name} has {len(emb)} rows but the THINGS-EEG2 {split} files have "
                f"{ds.sizes['image']} images: one embedding row per image is expected"
            )
        out[split] = ds.assign(embedding=(("image", "feature"), emb))
    tr, te = out["train"], out["test"]
    text = (f"THINGS-EEG2 (subjects {', '.join(tr['subject'].values)}; "
            f"{tr.sizes['image']} training images x {tr.sizes['repetition']} repetitions, "
            f"{te.sizes['image']} test images x {te.sizes['repetition']} repetitions averaged; "
            f"{tr.sizes['channel']} channels x {tr.sizes['time']} samples; "
            f"{tr.sizes['feature']}-d image embeddings)")
    return out, text


def _load_real_meg(root, subjects):
    from neurosim.datasets import load_things_meg

    name, emb = _embedding_file(root, "meg", "row of THINGS' image_paths.csv (the MEG event value - 1)")
    out = {}
    for split in ("train", "test"):
        ds = load_things_meg(root, subjects=subjects, split=split)
        images = ds["image"].values
        if images.max() >= len(emb):
            raise ValueError(f"{name} has {len(emb)} rows but the THINGS-MEG files show image "
                             f"{images.max() + 1} (1-based row of image_paths.csv)")
        # repetitions that some subject lacks (NaN) are dropped rather than averaged in
        complete = np.isfinite(ds["meg"].values).all(axis=(0, 1, 3, 4))
        if not complete.any():
            raise ValueError(f"no THINGS-MEG {split} repetition is complete for every subject")
        ds = ds.isel(repetition=np.flatnonzero(complete))
        out[split] = ds.assign(embedding=(("image", "feature"), emb[images]))
    tr, te = out["train"], out["test"]
    text = (f"THINGS-MEG (subjects {', '.join(tr['subject'].values)}; "
            f"{tr.sizes['image']} training images, {te.sizes['image']} test images x "
            f"{te.sizes['repetition']} repetitions averaged; {tr.sizes['channel']} channels x "
            f"{tr.sizes['time']} samples; {tr.sizes['feature']}-d image embeddings)")
    return out, text


def load_real_data(path, *, max_subjects=None, meg_decim=2):
    """Read THINGS-EEG2 and/or THINGS-MEG files and stimulus embeddings from a folder.

    The folder ``path`` holds the data of at least one modality:

    - EEG: ``sub-XX/preprocessed_eeg_training.npy`` and ``sub-XX/preprocessed_eeg_test.npy`` for one
      or more subjects ``XX`` in 01-10, as distributed on OSF (read by
      :func:`neurosim.datasets.load_things_eeg2`; the official 17-channel 100 Hz files or the
      63-channel 250 Hz variant), with ``embeddings_train.<ext>`` and ``embeddings_test.<ext>``
      (``ext`` one of ``npz``, ``npy``, ``pt``, ``h5``, ``hdf5``; read by
      :func:`neurosim.datasets.load_embeddings`): (image, feature) image embeddings, row ``i`` for
      image ``i`` of the EEG files (16540 training and 200 test images in the official release),
      e.g. CLIP features. BrainFLORA's ``ViT-H-14_features_train.pt`` / ``..._test.pt`` (key
      ``img_features``) can be linked under these names.
    - MEG: ``preprocessed_P1-epo.fif`` ... ``preprocessed_P4-epo.fif`` (THINGS-MEG, OpenNeuro
      ds004212 derivatives; read by :func:`neurosim.datasets.load_things_meg`, MEG channels; images
      shown once train, images shown repeatedly test), with ``embeddings_meg.<ext>``: row ``i``
      for row ``i`` of THINGS' ``image_paths.csv`` (event value ``i + 1``). Repetitions missing
      for some subject are dropped.

    THINGS-fMRI tables are not read (a warning says so when they are present).

    Parameters
    ----------
    path : str | path-like
        The folder.
    max_subjects : int | None
        Use only the first ``max_subjects`` subjects found of each modality (None: all).
    meg_decim : int
        Average blocks of ``meg_decim`` MEG samples (the files are at 200 Hz).

    Returns
    -------
    data : dict
        ``{modality: prepare_retrieval_data(...)}`` for ``"eeg"`` and/or ``"meg"``.
    description : str
        What was read, for the report.

    Examples
    --------
    >>> from neurosim.experiments.decode_brainflora import load_real_data
    >>> data, text = load_real_data("~/neurosim_data/things")  # doctest: +SKIP
    """
    import warnings
    from pathlib import Path

    from neurosim.decoding import prepare_retrieval_data

    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"data must be a folder holding THINGS-EEG2 and/or THINGS-MEG files, got {str(path)!r}"
        )
    eeg_subjects = sorted(int(d.name[4:]) for d in root.glob("sub-[0-9][0-9]")
                          if d.is_dir() and all((d / f).is_file() for f in _EEG2_FILES))
    meg_subjects = [s for s in range(1, 5) if (root / f"preprocessed_P{s}-epo.fif").is_file()]
    if not eeg_subjects and not meg_subjects:
        raise FileNotFoundError(
            f"no THINGS-EEG2 or THINGS-MEG data in {root}: expected sub-XX/{_EEG2_FILES[0]} and "
            f"sub-XX/{_EEG2_FILES[1]} (XX in 01-10, from https://osf.io/anp5v/) and/or "
            "preprocessed_PN-epo.fif (N in 1-4, OpenNeuro ds004212)"
        )
    fmri = sorted(p.name for p in root.glob("sub-0*_ResponseData.h5"))
    if fmri:
        warnings.warn(f"decode-brainflora does not read THINGS-fMRI; ignoring {fmri}", UserWarning,
                      stacklevel=3)
    data, texts = {}, []
    if eeg_subjects:
        ds, text = _load_real_eeg(root, eeg_subjects[:max_subjects])
        data["eeg"] = prepare_retrieval_data("eeg", ds["train"], ds["test"])
        texts.append(text)
    if meg_subjects:
        ds, text = _load_real_meg(root, meg_subjects[:max_subjects])
        data["meg"] = prepare_retrieval_data("meg", ds["train"], ds["test"], decim=meg_decim)
        texts.append(text)
    return data, f"{' and '.join(texts)} from {root}"


def _per_subject(scores_fn, test):
    out = {}
    for s in np.unique(test["subject"]):
        sel = test["subject"] == s
        out[str(s)] = scores_fn(sel)
    return out


def _chance(n):
    out = {}
    for k in K_WAYS:
        kk = n if k is None else k
        name = "all" if k is None else f"{k}way"
        if kk > n:
            continue
        out[f"top1_{name}"] = 1.0 / kk
        if kk >= 5:
            out[f"top5_{name}"] = 5.0 / kk
    return out


def evaluate(model, data, modality, *, seed=0):
    """Per-subject retrieval scores of ``model`` (a BrainFLORA) on ``data[modality]["test"]``."""
    from neurosim.decoding import retrieval_scores

    test = data[modality]["test"]
    emb = model.embed(test["x"], modality)
    return _per_subject(lambda sel: retrieval_scores(emb[sel], test["y"][sel], k_ways=K_WAYS,
                                                     random_state=seed), test)


def ridge_baseline(data, modality, *, seed=0, device=None):
    """Per-subject retrieval of a ridge regression from the flattened trial to the embedding."""
    from neurosim.decoding import TorchRidgeCV, retrieval_scores

    train, test = data[modality]["train"], data[modality]["test"]
    ridge = TorchRidgeCV(alphas=np.logspace(0, 6, 13), cv=5, alpha_per_target=False, device=device)
    ridge.fit(train["x"].reshape(len(train["x"]), -1), train["y"])
    pred = ridge.predict(test["x"].reshape(len(test["x"]), -1))
    return _per_subject(lambda sel: retrieval_scores(pred[sel], test["y"][sel], k_ways=K_WAYS,
                                                     random_state=seed), test)


def train_brainflora(data, cfg, *, seed=0, progress=False, device=None):
    """Train the towers (single-modality), then the unified projector; return model and histories."""
    import torch

    from neurosim.decoding import BrainFLORA, Trainer, round_robin_batches

    shapes = {m: d["train"]["x"].shape[1:] for m, d in data.items()}
    embed_dim = next(iter(data.values()))["train"]["y"].shape[1]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = BrainFLORA.small(shapes, embed_dim)
    train = round_robin_batches({m: (d["train"]["x"], d["train"]["y"]) for m, d in data.items()},
                                cfg["batch_size"])
    uni = Trainer(max_epochs=cfg["epochs"], lr=cfg["lr"], weight_decay=1e-2, random_state=seed,
                  progress=progress, device=device).fit(model, train)
    model.unify()
    multi = Trainer(max_epochs=cfg["unified_epochs"], lr=cfg["lr"], weight_decay=1e-2,
                    random_state=seed + 1, progress=progress, device=device).fit(model, train)
    return model, uni.history_, multi.history_


def run(*, quick=False, backend="numba", seed=0, progress=False, data=None):
    """Train BrainFLORA on simulated EEG, MEG and fMRI and compare its retrieval with ridge and chance.

    Parameters
    ----------
    quick : bool
        Small data and few epochs (True) or the generators' default sizes (False).
    backend : str
        Unused (no spiking simulation); accepted for the common experiment signature.
    seed : int
        Seed of the simulated data, the model initialisation, the batches and the distractors.
    progress : bool
        Show progress bars.
    data : None | str | path-like
        None: simulated data. Otherwise a folder with THINGS-EEG2 and/or THINGS-MEG files and
        image embeddings (layout in :func:`load_real_data`): the same comparison on the modalities
        present (with ``quick``, the first two subjects of each and the quick training schedule).

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``score`` (decoder, modality, metric), the mean over subjects of the
        retrieval accuracy of ``chance``, ``ridge``, ``uni`` (single-modality towers) and ``multi``
        (unified), ``score_sd`` over subjects, and the training histories; ``metrics``:
        ``<modality>_<method>_top1_10way`` ...; ``figures``: ``"retrieval"``, ``"training"``.

    Examples
    --------
    >>> from neurosim.experiments.decode_brainflora import run
    >>> result = run(quick=True)  # doctest: +SKIP
    >>> sorted(result.dataset["score"].coords["decoder"].values)  # doctest: +SKIP
    ['chance', 'multi', 'ridge', 'uni']
    """
    import xarray as xr

    from .._utils import check_size

    seed = check_size("seed", seed, minimum=0)
    cfg = _config(quick)
    t0 = time.perf_counter()
    if data is None:
        source = "simulated data"
        data = load_data(cfg, seed)
    else:
        data, source = load_real_data(data, max_subjects=2 if quick else None,
                                      meg_decim=cfg["meg"].get("decim", 1))
    t_data = time.perf_counter() - t0
    scores = {"chance": {}, "ridge": {}}
    for m, d in data.items():
        n_test = {s: int(np.sum(d["test"]["subject"] == s)) for s in np.unique(d["test"]["subject"])}
        scores["chance"][m] = {str(s): _chance(n) for s, n in n_test.items()}
        scores["ridge"][m] = ridge_baseline(data, m, seed=seed)
    t1 = time.perf_counter()
    model, hist_uni, hist_multi = train_brainflora(data, cfg, seed=seed, progress=progress)
    model.unify(False)
    scores["uni"] = {m: evaluate(model, data, m, seed=seed) for m in data}
    model.unify(True)
    scores["multi"] = {m: evaluate(model, data, m, seed=seed) for m in data}
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
    ds.attrs.update({"experiment": NAME, "experiment_quick": int(bool(quick)), "source": source,
                     "experiment_seed": int(seed), "epochs": cfg["epochs"],
                     "unified_epochs": cfg["unified_epochs"],
                     **{f"summary_{k}": v for k, v in metrics.items()}})
    figures = {"retrieval": _retrieval_figure(ds), "training": _training_figure(ds)}
    return ExperimentResult(dataset=ds, figures=figures, report=_report(ds, data, cfg, quick, seed,
                                                                         t_data, t_train, source),
                            metrics=metrics)


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


def _report(ds, data, cfg, quick, seed, t_data, t_train, source):
    lines = [f"# {NAME}", "",
             f"BrainFLORA ({'quick' if quick else 'full'} mode, seed {seed}) on {source}: "
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
