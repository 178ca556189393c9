"""Experiment ``decode-histn``: HiSTN EEG emotion decoding, Gaussian-smoothed vs one-hot labels.

On DREAMER-like simulated EEG (:func:`neurosim.datasets.make_eeg_emotion`; or DREAMER itself
with ``run(data="DREAMER.mat")``), preprocessed as in the paper
(:func:`neurosim.decoding.preprocess_dreamer`), it trains :class:`neurosim.decoding.HiSTN` to
classify 1-s windows into the 5 valence ratings under both protocols of Kuang et al. (2024):

- **subject-dependent (SD)**: per subject, time-block folds of each film (test block, the block
  before it for validation, 1-s gaps), training windows from the rest;
- **subject-independent (SI)**: leave one subject out, pretrain on the others with majority-vote
  labels, freeze the first layers, fine-tune on the first 10 s of each of the held-out subject's
  films and test on the rest.

Each is run with Gaussian ordinal label smoothing (sigma 0.5) and with one-hot labels, and compared
with a logistic regression on log band-power features
(:func:`neurosim.decoding.baselines.band_power_features`) and with chance (stratified guessing), in
weighted F1, Seq2HR, top-1 and top-2 accuracy.

Every 1-s window is centred (its per-channel mean removed, ``center=True`` in the split functions)
before either decoder sees it: the band-power baseline's Welch estimate discards the mean anyway,
and without centring HiSTN fits the slow drifts that dominate a 1-s window of 1/f EEG (see the
HiSTN section of ``docs/decoding.rst``). SD training windows start every 16 samples, standing in
for the paper's random 1-s crops.

The protocols are :func:`neurosim.decoding.histn_subject_dependent` and
:func:`neurosim.decoding.histn_leave_one_subject_out`.

- quick: 3 simulated subjects, 20-s films, 1 SD fold of 1 subject and 1 SI subject, few epochs.
- full: 4 simulated subjects, 60-s films, 10 SD folds of every subject, every SI subject, 30 SD
  epochs (hours on a CPU; minutes on a GPU).
"""

from __future__ import annotations

import time

import numpy as np

from . import ExperimentResult

NAME = "decode-histn"
DECODERS = ("histn_smoothed", "histn_onehot", "logreg", "chance")  # model_selection.HISTN_DECODERS
METRICS = ("weighted_f1", "seq2hr", "top1", "top2")
#: HiSTN's reported subject-dependent results on DREAMER (arXiv 2408.15255, mean weighted F1, %)
PAPER_SD_F1 = {"valence": 96.82, "arousal": 95.62}


def _config(quick):
    if quick:
        return {"n_subjects": 3, "duration": 20.0, "sd_subjects": [0], "sd_folds": [4],
                "si_subjects": [0], "epochs": 8, "pretrain_epochs": 3, "finetune_epochs": 8,
                "lr": 1e-2, "batch_size": 64, "stride": 32, "si_stride": 128}
    # SD training windows every 16 samples stand in for the paper's random 1-s crops
    return {"n_subjects": 4, "duration": 60.0, "sd_subjects": None, "sd_folds": list(range(10)),
            "si_subjects": None, "epochs": 30, "pretrain_epochs": 20, "finetune_epochs": 40,
            "lr": 1e-2, "batch_size": 128, "stride": 16, "si_stride": 32}


def run(*, quick=False, backend="numba", seed=0, progress=False, data=None, target="valence"):
    """Train HiSTN with smoothed and one-hot labels under both protocols, against baselines.

    Parameters
    ----------
    quick : bool
        Small and fast (True) or the full protocol on 4 simulated subjects (False).
    backend : str
        Unused (no spiking simulation); accepted for the common experiment signature.
    seed : int
        Seed of the simulated data, the initialisation and the batches.
    progress : bool
        Show progress bars.
    data : None | str | path-like
        Path of ``DREAMER.mat``: run on the real data and report the paper's numbers beside ours.
    target : "valence" | "arousal" | "dominance"
        The rating to classify.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``score`` (protocol, decoder, metric) mean over subjects and folds,
        ``score_sd``; ``metrics``: ``<protocol>_<decoder>_<metric>``; figures ``"scores"``.

    Examples
    --------
    >>> from neurosim.experiments.decode_histn import run
    >>> result = run(quick=True)  # doctest: +SKIP
    >>> m = result.metrics  # doctest: +SKIP
    >>> m["sd_histn_smoothed_seq2hr"] > m["sd_histn_onehot_seq2hr"]  # doctest: +SKIP
    True
    """
    import xarray as xr

    from neurosim.decoding import (
        histn_leave_one_subject_out,
        histn_subject_dependent,
        preprocess_dreamer,
    )

    from .._utils import check_size

    seed = check_size("seed", seed, minimum=0)
    if target not in ("valence", "arousal", "dominance"):
        raise ValueError(f"target must be 'valence', 'arousal' or 'dominance', got {target!r}")
    cfg = _config(quick)
    t0 = time.perf_counter()
    if data is None:
        from neurosim.datasets import make_eeg_emotion

        ds = make_eeg_emotion(n_subjects=cfg["n_subjects"], duration=cfg["duration"],
                              random_state=seed)
        source = "simulated (make_eeg_emotion)"
    else:
        from neurosim.datasets import load_dreamer

        ds = load_dreamer(data, duration=cfg["duration"])
        source = f"DREAMER ({data})"
    eeg = preprocess_dreamer(ds, duration=cfg["duration"]).values
    labels = ds[target].values.astype(int) - 1
    sfreq = float(ds.attrs.get("sfreq", 128.0))
    t_data = time.perf_counter() - t0

    common = {"batch_size": cfg["batch_size"], "lr": cfg["lr"], "random_state": seed,
              "progress": progress, "center": True}
    results = {
        "sd": histn_subject_dependent(eeg, labels, sfreq, subjects=cfg["sd_subjects"],
                                      folds=cfg["sd_folds"], epochs=cfg["epochs"],
                                      stride=cfg["stride"], **common),
        "si": histn_leave_one_subject_out(eeg, labels, sfreq, subjects=cfg["si_subjects"],
                                          pretrain_epochs=cfg["pretrain_epochs"],
                                          finetune_epochs=cfg["finetune_epochs"],
                                          stride=cfg["si_stride"], **common),
    }
    t_train = time.perf_counter() - t0 - t_data

    protocols = ["sd", "si"]
    mean = np.array([[[np.mean([r[m] for r in results[p][d]]) for m in METRICS] for d in DECODERS]
                     for p in protocols])
    sd = np.array([[[np.std([r[m] for r in results[p][d]]) for m in METRICS] for d in DECODERS]
                   for p in protocols])
    out = xr.Dataset(
        {"score": (("protocol", "decoder", "metric"), mean,
                   {"long_name": "mean over subjects and folds", "units": "1"}),
         "score_sd": (("protocol", "decoder", "metric"), sd,
                      {"long_name": "sd over subjects and folds", "units": "1"}),
         "n_runs": (("protocol",), [len(results[p]["logreg"]) for p in protocols])},
        coords={"protocol": protocols, "decoder": list(DECODERS), "metric": list(METRICS)},
    )
    metrics = {f"{p}_{d}_{m}": float(out["score"].sel(protocol=p, decoder=d, metric=m))
               for p in protocols for d in DECODERS for m in METRICS}
    metrics.update(data_time_s=t_data, train_time_s=t_train)
    out.attrs.update({"experiment": NAME, "experiment_quick": int(bool(quick)),
                      "experiment_seed": int(seed), "target": target, "source": source,
                      "label_sigma": 0.5, **{k: v for k, v in cfg.items()
                                             if isinstance(v, (int, float))},
                      **{f"summary_{k}": v for k, v in metrics.items()
                         if np.isfinite(v)}})
    report = _report(out, source, target, cfg, quick, seed, t_data, t_train, real=data is not None)
    return ExperimentResult(dataset=out, figures={"scores": _figure(out)}, report=report,
                            metrics=metrics)


def _figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(2)
    width = 0.2
    for ax, p in zip(axes, ds["protocol"].values):
        for i, d in enumerate(ds["decoder"].values):
            v = ds["score"].sel(protocol=p, decoder=d, metric=["weighted_f1", "seq2hr"]).values
            e = ds["score_sd"].sel(protocol=p, decoder=d, metric=["weighted_f1", "seq2hr"]).values
            ax.bar(x + (i - 1.5) * width, 100 * np.nan_to_num(v), width, yerr=100 * np.nan_to_num(e),
                   label=d)
        ax.set_xticks(x, ["weighted F1", "Seq2HR"])
        ax.set_title("subject-dependent" if p == "sd" else "leave-one-subject-out")
    axes[0].set_ylabel("%")
    axes[1].legend(fontsize="small")
    return fig


def _report(ds, source, target, cfg, quick, seed, t_data, t_train, real):
    lines = [f"# {NAME}", "",
             f"HiSTN on {source}, target {target} (5 classes), {'quick' if quick else 'full'} mode, "
             f"seed {seed}: {int(ds['n_runs'].sel(protocol='sd'))} subject-dependent runs "
             f"(subject x fold), {int(ds['n_runs'].sel(protocol='si'))} leave-one-subject-out runs "
             f"(data {t_data:.1f} s, training {t_train:.1f} s).", "",
             "| protocol | decoder | " + " | ".join(ds["metric"].values) + " |",
             "|---|---|" + "---|" * ds.sizes["metric"]]
    for p in ds["protocol"].values:
        for d in ds["decoder"].values:
            v = ds["score"].sel(protocol=p, decoder=d).values
            lines.append(f"| {p} | {d} | " + " | ".join("-" if not np.isfinite(x) else f"{100 * x:.1f}"
                                                         for x in v) + " |")
    if real and target in PAPER_SD_F1:
        ours = 100 * float(ds["score"].sel(protocol="sd", decoder="histn_smoothed",
                                           metric="weighted_f1"))
        lines += ["", "| subject-dependent weighted F1 (%) | paper | ours |", "|---|---|---|",
                  f"| {target} | {PAPER_SD_F1[target]:.2f} | {ours:.2f} |"]
    return "\n".join(lines + [""])
