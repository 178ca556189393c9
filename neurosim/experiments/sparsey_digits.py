"""Experiment ``sparsey-digits``: Sparsey's claims checked on scikit-learn's handwritten digits.

The 8 x 8 digits (grey levels 0-16) are coded as sparse binary inputs with
:func:`neurosim.sparsey.level_encode` (one unit per pixel and grey-level bin, 4 bins, zero pixels
silent: 256 inputs, about 33 active) and stored in a :class:`neurosim.sparsey.SparseyMemory` of
one mac of ``Q = 40`` CMs of ``K = 100`` cells (``match="cosine"``, ``g_min = 0``, ``gamma = 1``),
each in one presentation. The experiment measures

1. **similarity preservation**: random pairs (stored digit, probe), where the probe is the stored
   digit with a random fraction of its active units replaced by units of another digit; the
   probe is learned into a copy of the memory and the intersection of the code the CSA chooses
   for it with the stored code is compared with the input overlap (cosine) by Spearman's rho.
   The same statistic over random pairs of two stored digits is reported too;
2. **capacity**: the fraction of stored items retrieved with >= 95% of their learned code, and the
   mean retrieved fraction, against the number of stored items, up to failure;
3. **classification**: accuracy of the nearest-stored-code and the linear readouts on held-out
   digits, against chance and 1-nearest-neighbour classifiers on random projections of the
   same size (codes of the same format from Gaussian projections, and Gaussian projections to
   ``Q`` dimensions) and on the inputs themselves;
4. **sequences**: sequences of digits learned in one pass (each code also driven by the
   previous one, H weights), recalled from their first element.

- quick: 500 training digits, loads up to 400, 100 probe pairs, 4 sequences.
- full: 1,000 training digits (797 held out), loads up to 1,600, 300 probe pairs, 10 sequences.

With ``data=FOLDER`` (a data home holding ``mnist/``, as :func:`neurosim.datasets.fetch_mnist`
writes it; nothing is downloaded) the classification part runs on MNIST (28 x 28 x 4 inputs;
quick: 2,000 training images, full: all 60,000) and reports the learning time. The measurements
are :func:`neurosim.sparsey.similarity_preservation`, :func:`neurosim.sparsey.capacity_curve`,
:func:`neurosim.sparsey.projection_baselines` and :func:`neurosim.sparsey.sequence_recall`.
"""

from __future__ import annotations

import time

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "sparsey-digits"
# not the reference settings: a near-deterministic CSA (G- = 0, gamma = 1), the cosine match and
# the sigmoid that neurosim used before it took Sparsey_Alt's (slope 20, centre 0.75 on V = U)
MODEL = dict(Q=40, K=100, match="cosine", g_min=0.0, gamma=1.0, sigmoid_slope=20.0,
             sigmoid_center=0.75, exponent_u=1.0)
N_LEVELS = 4


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        500 training digits, loads up to 400, 100 probe pairs, 4 sequences.

    Returns
    -------
    config : dict
        ``n_train`` (digits), ``loads``, ``n_pairs``, ``n_sequences``, ``seq_len``,
        ``n_background`` and ``mnist_n_train`` / ``mnist_n_test`` (with ``data``).
    """
    if quick:
        return {"n_train": 500, "loads": [25, 50, 100, 200, 400], "n_pairs": 100,
                "n_sequences": 4, "seq_len": 6, "n_background": 100, "mnist_n_train": 2000,
                "mnist_n_test": 2000}
    return {"n_train": 1000, "loads": [25, 50, 100, 200, 400, 800, 1600], "n_pairs": 300,
            "n_sequences": 10, "seq_len": 6, "n_background": 100, "mnist_n_train": 60000,
            "mnist_n_test": 10000}


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Check Sparsey's similarity preservation, capacity, accuracy and sequence recall.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        A data home holding ``mnist/`` (:func:`neurosim.datasets.fetch_mnist`): run the
        classification part on MNIST; the other parts always use the digits. None: digits only.
    %(experiment_seed)s
        Seed of the data shuffle, the probes and the memories' roulette.
    progress : bool
        Print a line per part.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``recall_exact`` and ``recall_mean`` on dim ``load``; ``input_overlap`` and
        ``code_overlap`` on dim ``pair`` (probes) and ``stored_input_overlap`` /
        ``stored_code_overlap`` on dim ``stored_pair``; ``accuracy`` on dim ``classifier``;
        ``sequence_correct`` on dims ``sequence``, ``step``; parameters and metrics in
        ``attrs``. ``figures``: ``similarity``, ``capacity``, ``accuracy``, ``sequences``.
        ``metrics``: ``similarity_rho``, ``similarity_rho_stored_pairs``, ``capacity_load``,
        ``recall_exact_low_load``, ``accuracy``, ``accuracy_linear``, ``accuracy_rp_codes``,
        ``accuracy_rp_q``, ``accuracy_raw_1nn``, ``chance``, ``sequence_recall``,
        ``learn_items_per_s``.
    """
    import xarray as xr
    from scipy.stats import spearmanr
    from sklearn.datasets import load_digits

    from neurosim.sparsey import (
        SparseyMemory,
        capacity_curve,
        level_encode,
        projection_baselines,
        sequence_recall,
        similarity_preservation,
    )

    cfg = config
    say = print if progress else (lambda *a, **k: None)
    rng = np.random.default_rng(seed)
    digits = load_digits()
    order = rng.permutation(len(digits.target))
    images, y = digits.images[order], digits.target[order]
    X = level_encode(images, N_LEVELS, vmax=16).reshape(len(y), -1)
    shape = (8, 8, N_LEVELS)

    def memory(**kw):
        return SparseyMemory(**MODEL, input_shape=shape, random_state=seed, **kw)

    # 1. similarity preservation -------------------------------------------------------------
    say(f"[{NAME}] similarity preservation ({cfg['n_pairs']} probes)")
    sim = similarity_preservation(memory(), X, 50, cfg["n_pairs"], rng)
    input_overlap, code_overlap = sim["input_overlap"], sim["code_overlap"]
    stored_input, stored_code = sim["stored_input_overlap"], sim["stored_code_overlap"]
    rho = float(spearmanr(input_overlap, code_overlap).statistic)
    rho_stored = float(spearmanr(stored_input, stored_code).statistic)

    # 2. capacity ------------------------------------------------------------------------------
    say(f"[{NAME}] capacity (loads {cfg['loads']})")
    exact, mean = capacity_curve(memory, X, cfg["loads"])
    failed = [n for n, e in zip(cfg["loads"], exact) if e < 0.5]
    capacity = float(failed[0]) if failed else float("nan")

    # 3. classification --------------------------------------------------------------------------
    if data is not None:
        Xtr, ytr, Xte, yte, cshape = _mnist(data, cfg)
        data_name = f"MNIST ({len(ytr)} training, {len(yte)} test images)"
    else:
        n_train = cfg["n_train"]
        Xtr, ytr, Xte, yte, cshape = X[:n_train], y[:n_train], X[1000:], y[1000:], shape
        data_name = f"digits ({len(ytr)} training, {len(yte)} test images)"
    say(f"[{NAME}] classification on {data_name}")
    clf = SparseyMemory(**MODEL, input_shape=cshape, random_state=seed)
    t0 = time.perf_counter()
    clf.fit(Xtr, ytr)
    learn_s = time.perf_counter() - t0
    acc = clf.score(Xte, yte)
    acc_linear = clf.set_params(readout="linear").score(Xte, yte)
    clf.set_params(readout="nearest")
    acc_rp_codes, acc_rp_q, acc_raw = projection_baselines(Xtr, ytr, Xte, yte, clf.Q, clf.K, seed)

    # 4. sequences -------------------------------------------------------------------------------
    say(f"[{NAME}] sequences ({cfg['n_sequences']} of {cfg['seq_len']} digits)")
    smem = memory().fit(X[:cfg["n_background"]])
    pool = rng.permutation(np.arange(1000, len(y)))
    seqs = pool[:cfg["n_sequences"] * cfg["seq_len"]].reshape(cfg["n_sequences"], cfg["seq_len"])
    correct, recalled = sequence_recall(smem, X, seqs)
    seq_recall = float(correct[:, 1:].mean())
    stored_images = np.concatenate([images[:cfg["n_background"]], images[seqs.ravel()]])

    metrics = {
        "similarity_rho": rho,
        "similarity_rho_stored_pairs": rho_stored,
        "capacity_load": capacity,
        "recall_exact_low_load": exact[cfg["loads"].index(50)],
        "accuracy": float(acc),
        "accuracy_linear": float(acc_linear),
        "accuracy_rp_codes": float(acc_rp_codes),
        "accuracy_rp_q": float(acc_rp_q),
        "accuracy_raw_1nn": float(acc_raw),
        "chance": 0.1,
        "sequence_recall": seq_recall,
        "learn_items_per_s": len(ytr) / learn_s,
        "learn_time_s": learn_s,
    }
    classifiers = ["sparsey_nearest", "sparsey_linear", "rp_codes_1nn", "rp_q_1nn", "raw_1nn",
                   "chance"]
    ds = xr.Dataset(
        {
            "recall_exact": ("load", exact, {"long_name": "fraction of items retrieved with "
                                             ">= 95% of their code", "units": "1"}),
            "recall_mean": ("load", mean, {"long_name": "mean retrieved fraction of the code",
                                           "units": "1"}),
            "input_overlap": ("pair", input_overlap, {"units": "1", "long_name": "cosine"}),
            "code_overlap": ("pair", code_overlap, {"units": "1",
                                                    "long_name": "code intersection / Q"}),
            "stored_input_overlap": ("stored_pair", stored_input, {"units": "1"}),
            "stored_code_overlap": ("stored_pair", stored_code, {"units": "1"}),
            "accuracy": ("classifier", [acc, acc_linear, acc_rp_codes, acc_rp_q, acc_raw, 0.1],
                         {"units": "1"}),
            "sequence_correct": (("sequence", "step"), correct),
        },
        coords={"load": ("load", cfg["loads"], {"units": "items"}),
                "classifier": ("classifier", classifiers),
                "step": ("step", np.arange(cfg["seq_len"]))},
        attrs={"dataset": "digits" if data is None else "mnist",
               "model": {**MODEL, "input_levels": N_LEVELS}, "config": cfg},
    )
    figures = {
        "similarity": _similarity_figure(input_overlap, code_overlap, stored_input, stored_code,
                                         rho, rho_stored),
        "capacity": _capacity_figure(cfg["loads"], exact, mean, clf.Q, clf.K),
        "accuracy": _accuracy_figure(classifiers, ds["accuracy"].values, data_name),
        "sequences": _sequence_figure(images, seqs, stored_images, recalled, correct),
    }
    headline = [
        Headline("similarity preservation, Spearman rho (input vs code overlap)", rho,
                 "pairs of stored digits", rho_stored),
        Headline(f"accuracy, nearest stored code, {data_name.split(' (')[0]}", float(acc),
                 "1-NN on random-projection codes of the same size", float(acc_rp_codes)),
        Headline("sequence steps recalled in order", seq_recall, "chance", 0.1),
    ]
    report = _report(metrics, cfg, data_name, seed)
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics,
                            headline=headline)


def _mnist(data_home, cfg):
    from neurosim.datasets import fetch_mnist
    from neurosim.sparsey import level_encode

    try:
        train = fetch_mnist(data_home=data_home, split="train", download=False)
        test = fetch_mnist(data_home=data_home, split="test", download=False)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"data={str(data_home)!r} must be a data home holding MNIST's files ({err}); "
            "download them once with neurosim.datasets.fetch_mnist(data_home=...)") from None
    n_train, n_test = cfg["mnist_n_train"], cfg["mnist_n_test"]
    enc = [level_encode(np.asarray(d["images"].values[:n]), N_LEVELS, vmax=255)
           for d, n in ((train, n_train), (test, n_test))]
    Xtr, Xte = (e.reshape(len(e), -1) for e in enc)
    ytr = np.asarray(train["labels"].values[:n_train])
    yte = np.asarray(test["labels"].values[:n_test])
    return Xtr, ytr, Xte, yte, (28, 28, N_LEVELS)


def _binned(x, y, n_bins=10):
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(x, edges) - 1, 0, n_bins - 1)
    keep = [k for k in range(n_bins) if np.sum(idx == k) >= 3]
    return (edges[keep] + 0.5 / n_bins, np.array([y[idx == k].mean() for k in keep]))


def _similarity_figure(xi, yi, xs, ys, rho, rho_stored):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(xs, ys, s=3, color="0.75", alpha=0.4, rasterized=True,
               label=f"pairs of stored digits (rho = {rho_stored:.2f})")
    ax.scatter(xi, yi, s=10, color="tab:blue", alpha=0.7,
               label=f"stored digit vs new probe (rho = {rho:.2f})")
    bx, by = _binned(xi, yi)
    ax.plot(bx, by, "o-", color="tab:blue", lw=2, label="probes, binned mean")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("input overlap (cosine)")
    ax.set_ylabel("code overlap (intersection / Q)")
    ax.set_title("Similarity preservation")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small", loc="upper left")
    return fig


def _capacity_figure(loads, exact, mean, Q, K):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(loads, exact, "o-", label="items retrieved with >= 95% of their code")
    ax.plot(loads, mean, "s--", label="mean retrieved fraction of the code")
    ax.axhline(0.5, color="0.6", lw=1, ls=":")
    ax.set_xscale("log")
    ax.set_xticks(loads, [str(n) for n in loads])
    ax.minorticks_off()
    ax.set_xlabel("stored items")
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Capacity of one mac ({Q} CMs x {K} cells)")
    ax.legend(fontsize="small")
    return fig


def _accuracy_figure(names, values, data_name):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    colors = ["tab:blue", "tab:blue", "tab:gray", "tab:gray", "tab:green", "k"]
    bars = ax.bar(range(len(names)), values, color=colors)
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center",
                fontsize="small")
    ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names], fontsize="small")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Classification, {data_name}")
    return fig


def _sequence_figure(images, seqs, stored_images, recalled, correct):
    from matplotlib.figure import Figure

    n_show = min(4, len(seqs))
    L = seqs.shape[1]
    fig = Figure(figsize=(1.1 * L, 2.3 * n_show), layout="constrained")
    axes = fig.subplots(2 * n_show, L, squeeze=False)
    for k in range(n_show):
        for t in range(L):
            top, bottom = axes[2 * k, t], axes[2 * k + 1, t]
            top.imshow(images[seqs[k, t]], cmap="gray_r")
            bottom.imshow(stored_images[recalled[k, t]], cmap="gray_r" if correct[k, t]
                          else "Reds")
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
        axes[2 * k, 0].set_ylabel("stored", fontsize="small")
        axes[2 * k + 1, 0].set_ylabel("recalled", fontsize="small")
    fig.suptitle("Sequences recalled from their first element")
    return fig


def _report(m, cfg, data_name, seed):
    cap = "not reached" if np.isnan(m["capacity_load"]) else f"{m['capacity_load']:.0f} items"
    return "\n".join([
        f"# {NAME}",
        "",
        f"Inputs that overlap more get codes that overlap more (Spearman rho "
        f"{m['similarity_rho']:.3f} between input and code overlap), items are learned in one "
        f"presentation, and the nearest stored code classifies held-out images with accuracy "
        f"{m['accuracy']:.3f}, against {m['accuracy_rp_codes']:.3f} for random-projection codes "
        f"of the same size and {m['chance']:.3f} for chance. *Mac*: a macrocolumn of *Q* "
        "competitive modules (*CM*s) of *K* binary cells; a *code* is one active cell per CM; "
        "*code overlap*: the fraction of CMs where two codes choose the same cell.",
        "",
        f"Sparsey memory (seed {seed}): one mac of {MODEL['Q']} CMs x {MODEL['K']} "
        f"cells, inputs coded as 8 x 8 pixels x {N_LEVELS} grey levels, single-trial learning.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| similarity preservation, Spearman rho (stored digit vs probe) "
        f"| {m['similarity_rho']:.3f} |",
        f"| Spearman rho over pairs of stored digits | {m['similarity_rho_stored_pairs']:.3f} |",
        f"| exact recall (>= 95% of the code) at 50 items | {m['recall_exact_low_load']:.3f} |",
        f"| load where exact recall falls below 50% | {cap} |",
        f"| accuracy, nearest stored code, {data_name} | {m['accuracy']:.3f} |",
        f"| accuracy, linear readout | {m['accuracy_linear']:.3f} |",
        f"| 1-NN on random-projection codes of the same size | {m['accuracy_rp_codes']:.3f} |",
        f"| 1-NN on Gaussian projections to Q dimensions | {m['accuracy_rp_q']:.3f} |",
        f"| 1-NN on the inputs | {m['accuracy_raw_1nn']:.3f} |",
        f"| chance | {m['chance']:.3f} |",
        f"| sequence steps recalled in order ({cfg['n_sequences']} sequences) "
        f"| {m['sequence_recall']:.3f} |",
        f"| learning time | {m['learn_time_s']:.2f} s ({m['learn_items_per_s']:.0f} items/s) |",
        "",
    ])
