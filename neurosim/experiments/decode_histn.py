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

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "decode-histn"
DECODERS = ("histn_smoothed", "histn_onehot", "logreg", "chance")  # model_selection.HISTN_DECODERS
METRICS = ("weighted_f1", "seq2hr", "top1", "top2")
#: HiSTN's reported subject-dependent results on DREAMER (arXiv 2408.15255, mean weighted F1, %)
PAPER_SD_F1 = {"valence": 96.82, "arousal": 95.62}


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        3 simulated subjects, 20-s films, one fold and one held-out subject, few epochs.

    Returns
    -------
    config : dict
        ``target`` (``"valence"``, ``"arousal"`` or ``"dominance"``), ``n_subjects`` and
        ``duration`` (simulated data; ``duration`` also the seconds kept of each DREAMER film),
        ``sd_subjects``, ``sd_folds``, ``si_subjects`` (None: all), ``epochs``,
        ``pretrain_epochs``, ``finetune_epochs``, ``lr``, ``batch_size``, ``stride`` and
        ``si_stride`` (samples between training windows).
    """
    if quick:
        return {"target": "valence", "n_subjects": 3, "duration": 20.0, "sd_subjects": [0],
                "sd_folds": [4], "si_subjects": [0], "epochs": 8, "pretrain_epochs": 3,
                "finetune_epochs": 8, "lr": 1e-2, "batch_size": 64, "stride": 32,
                "si_stride": 128}
    # SD training windows every 16 samples stand in for the paper's random 1-s crops
    return {"target": "valence", "n_subjects": 4, "duration": 60.0, "sd_subjects": None,
            "sd_folds": list(range(10)), "si_subjects": None, "epochs": 30, "pretrain_epochs": 20,
            "finetune_epochs": 40, "lr": 1e-2, "batch_size": 128, "stride": 16, "si_stride": 32}


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train HiSTN with smoothed and one-hot labels under both protocols, against baselines.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        Path of ``DREAMER.mat``: run on the real data and report the paper's numbers beside ours.
        None: simulated DREAMER-like data.
    %(experiment_seed)s
        Seed of the simulated data, the initialisation and the batches.
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``score`` (protocol, decoder, metric) mean over subjects and folds,
        ``score_sd``; ``metrics``: ``<protocol>_<decoder>_<metric>``; figures ``"scores"``.
    """
    import xarray as xr

    from neurosim.decoding import (
        histn_leave_one_subject_out,
        histn_subject_dependent,
        preprocess_dreamer,
    )

    cfg = config
    target = cfg["target"]
    if target not in ("valence", "arousal", "dominance"):
        raise ValueError(f"target must be 'valence', 'arousal' or 'dominance', got {target!r}")
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
    out.attrs.update({"target": target, "source": source, "label_sigma": 0.5,
                      **{k: v for k, v in cfg.items() if isinstance(v, (int, float))}})
    report = _report(out, source, target, cfg, seed, t_data, t_train, real=data is not None)
    headline = [
        Headline("subject-dependent weighted F1, HiSTN (smoothed labels)",
                 metrics["sd_histn_smoothed_weighted_f1"], "band-power logistic regression",
                 metrics["sd_logreg_weighted_f1"]),
        Headline("subject-dependent Seq2HR, smoothed labels", metrics["sd_histn_smoothed_seq2hr"],
                 "one-hot labels", metrics["sd_histn_onehot_seq2hr"]),
        Headline("leave-one-subject-out weighted F1, HiSTN (smoothed)",
                 metrics["si_histn_smoothed_weighted_f1"], "chance (stratified)",
                 metrics["si_chance_weighted_f1"]),
    ]
    if data is not None and target in PAPER_SD_F1:
        headline.insert(0, Headline(f"subject-dependent weighted F1 on DREAMER {target} (%)",
                                    100 * metrics["sd_histn_smoothed_weighted_f1"], "paper",
                                    PAPER_SD_F1[target], fmt=".1f"))
    return ExperimentResult(dataset=out, figures={"scores": _figure(out)}, report=report,
                            metrics=metrics, headline=headline)


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


def _report(ds, source, target, cfg, seed, t_data, t_train, real):
    score = ds["score"].sel(protocol="sd", metric="weighted_f1")
    lines = [f"# {NAME}", "",
             f"Classifying 1-s EEG windows into 5 {target} ratings, HiSTN reaches a "
             f"subject-dependent weighted F1 of {float(score.sel(decoder='histn_smoothed')):.3f} "
             f"with Gaussian-smoothed labels ({float(score.sel(decoder='histn_onehot')):.3f} "
             f"with one-hot labels), against {float(score.sel(decoder='logreg')):.3f} for a "
             f"logistic regression on band power and {float(score.sel(decoder='chance')):.3f} "
             "for chance. *Weighted F1*: the per-class F1 averaged with the class frequencies; "
             "*Seq2HR*: the fraction of windows whose two most probable ratings are adjacent and "
             "include the true one; *sd*: subject-dependent (train and test on one subject's "
             "films, in time blocks); *si*: leave one subject out (pretrain on the others, "
             "fine-tune on 10 s of the new one).", "",
             f"HiSTN on {source}, target {target} (5 classes), seed {seed}: "
             f"{int(ds['n_runs'].sel(protocol='sd'))} subject-dependent runs "
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
