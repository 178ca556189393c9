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

With ``dataset="mnist"`` (MNIST files present through :func:`neurosim.datasets.fetch_mnist`),
the classification part runs on MNIST (28 x 28 x 4 inputs; quick: 2,000 training images, full:
all 60,000) and reports the learning time.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from . import ExperimentResult

NAME = "sparsey-digits"
MODEL = dict(Q=40, K=100, match="cosine", g_min=0.0, gamma=1.0)
N_LEVELS = 4


def _config(quick):
    if quick:
        return {"n_train": 500, "loads": [25, 50, 100, 200, 400], "n_pairs": 100,
                "n_sequences": 4, "seq_len": 6, "n_background": 100}
    return {"n_train": 1000, "loads": [25, 50, 100, 200, 400, 800, 1600], "n_pairs": 300,
            "n_sequences": 10, "seq_len": 6, "n_background": 100}


def run(*, quick=False, backend="numba", seed=0, progress=False, dataset="digits"):
    """Check Sparsey's similarity preservation, capacity, accuracy and sequence recall.

    Parameters
    ----------
    quick : bool
        The small version (about 10 s) or the full one.
    backend : str
        Ignored: Sparsey has one implementation (numba kernels); ``"numba"`` (the CLI's default)
        and any other name are accepted and recorded.
    seed : int
        Seed of the data shuffle, the probes and the memories' roulette.
    progress : bool
        Print a line per part.
    dataset : {"digits", "mnist"}
        ``"mnist"`` runs the classification part on MNIST (the files must be present, see
        :func:`neurosim.datasets.fetch_mnist`); the other parts always use the digits.

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

    Examples
    --------
    >>> from neurosim.experiments.sparsey_digits import run
    >>> result = run(quick=True, seed=0)  # doctest: +SKIP
    >>> result.metrics["similarity_rho"] > 0.8  # doctest: +SKIP
    True
    """
    import xarray as xr
    from scipy.stats import spearmanr
    from sklearn.datasets import load_digits

    from neurosim.sparsey import SparseyMemory, code_intersection, level_encode

    from .._utils import check_size

    seed = check_size("seed", seed, minimum=0)
    if dataset not in ("digits", "mnist"):
        raise ValueError(f"dataset must be 'digits' or 'mnist', got {dataset!r}")
    cfg = _config(quick)
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
    n_store = 50
    mem = memory().fit(X[:n_store])
    i = rng.integers(0, n_store, cfg["n_pairs"])
    j = rng.integers(n_store, len(y), cfg["n_pairs"])
    frac = rng.random(cfg["n_pairs"])
    probes = np.array([_morph(rng, X[a], X[b], f) for a, b, f in zip(i, j, frac)])
    input_overlap = _cosine(probes, X[i])
    probe_codes = np.array([copy.deepcopy(mem).partial_fit(p[None]).codes_[-1] for p in probes])
    code_overlap = code_intersection(probe_codes, mem.codes_[i]) / mem.Q
    rho = float(spearmanr(input_overlap, code_overlap).statistic)
    a, b = np.triu_indices(n_store, 1)
    stored_input = _cosine(X[a], X[b])
    stored_code = code_intersection(mem.codes_[a], mem.codes_[b]) / mem.Q
    rho_stored = float(spearmanr(stored_input, stored_code).statistic)

    # 2. capacity ------------------------------------------------------------------------------
    say(f"[{NAME}] capacity (loads {cfg['loads']})")
    exact, mean = [], []
    for n in cfg["loads"]:
        m = memory().fit(X[:n])
        ov = code_intersection(m.transform(X[:n]), m.codes_) / m.Q
        exact.append(float(np.mean(ov >= 0.95)))
        mean.append(float(ov.mean()))
    failed = [n for n, e in zip(cfg["loads"], exact) if e < 0.5]
    capacity = float(failed[0]) if failed else float("nan")

    # 3. classification --------------------------------------------------------------------------
    if dataset == "mnist":
        Xtr, ytr, Xte, yte, cshape = _mnist(quick)
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
    acc_rp_codes, acc_rp_q, acc_raw = _baselines(Xtr, ytr, Xte, yte, clf.Q, clf.K, seed)

    # 4. sequences -------------------------------------------------------------------------------
    say(f"[{NAME}] sequences ({cfg['n_sequences']} of {cfg['seq_len']} digits)")
    smem = memory().fit(X[:cfg["n_background"]])
    pool = rng.permutation(np.arange(1000, len(y)))
    seqs = pool[:cfg["n_sequences"] * cfg["seq_len"]].reshape(cfg["n_sequences"], cfg["seq_len"])
    starts = []
    for s in seqs:
        starts.append(smem.codes_.shape[0])
        smem.learn_sequence(X[s])
    correct = np.zeros(seqs.shape, bool)
    recalled = np.zeros(seqs.shape, np.int64)
    for k, (s, start) in enumerate(zip(seqs, starts)):
        index, _ = smem.nearest_stored(smem.recall_sequence(X[s[0]], len(s)))
        recalled[k] = index
        correct[k] = index == start + np.arange(len(s))
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
        attrs={"experiment": NAME, "experiment_quick": int(bool(quick)),
               "experiment_seed": int(seed), "backend": str(backend), "dataset": dataset,
               "model": {**MODEL, "input_levels": N_LEVELS}, "config": cfg,
               **{f"summary_{k}": v for k, v in metrics.items()}},
    )
    figures = {
        "similarity": _similarity_figure(input_overlap, code_overlap, stored_input, stored_code,
                                         rho, rho_stored),
        "capacity": _capacity_figure(cfg["loads"], exact, mean, clf.Q, clf.K),
        "accuracy": _accuracy_figure(classifiers, ds["accuracy"].values, data_name),
        "sequences": _sequence_figure(images, seqs, stored_images, recalled, correct),
    }
    report = _report(metrics, cfg, data_name, quick, seed)
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics)


def _cosine(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum(1) / np.sqrt(np.maximum(a.sum(1) * b.sum(1), 1))


def _morph(rng, a, b, keep_fraction):
    """``a`` with a fraction ``1 - keep_fraction`` of its active units moved onto ``b``'s."""
    on, other = np.flatnonzero(a), np.flatnonzero(b & (1 - a))
    keep = int(round(keep_fraction * on.size))
    out = np.zeros_like(a)
    out[rng.choice(on, keep, replace=False)] = 1
    out[rng.choice(other, min(on.size - keep, other.size), replace=False)] = 1
    return out


def _baselines(Xtr, ytr, Xte, yte, Q, K, seed):
    """1-NN on random projections of the same size, and on the inputs."""
    from sklearn.neighbors import KNeighborsClassifier

    from neurosim.sparsey import code_intersection

    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    R = rng.standard_normal((Xtr.shape[1], Q * K)).astype(np.float32)

    def rp(Z):
        return (Z.astype(np.float32) @ R).reshape(len(Z), Q, K).argmax(2)

    ctr, cte = rp(Xtr), rp(Xte)
    nearest = np.concatenate([code_intersection(cte[s:s + 256, None], ctr[None]).argmax(1)
                              for s in range(0, len(cte), 256)])
    acc_codes = float(np.mean(ytr[nearest] == yte))
    G = rng.standard_normal((Xtr.shape[1], Q)).astype(np.float32)
    acc_q = KNeighborsClassifier(1).fit(Xtr @ G, ytr).score(Xte @ G, yte)
    acc_raw = KNeighborsClassifier(1).fit(Xtr, ytr).score(Xte, yte)
    return acc_codes, float(acc_q), float(acc_raw)


def _mnist(quick):
    from neurosim.sparsey import level_encode

    try:
        from neurosim.datasets import fetch_mnist

        train = fetch_mnist(split="train", download=False)
        test = fetch_mnist(split="test", download=False)
    except (ImportError, AttributeError, FileNotFoundError, OSError) as err:
        raise FileNotFoundError(
            f"dataset='mnist' needs the MNIST files on disk ({err}); download them once with "
            "neurosim.datasets.fetch_mnist()") from None
    n_train, n_test = (2000, 2000) if quick else (60000, 10000)
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


def _report(m, cfg, data_name, quick, seed):
    mode = "quick" if quick else "full"
    cap = "not reached" if np.isnan(m["capacity_load"]) else f"{m['capacity_load']:.0f} items"
    return "\n".join([
        f"# {NAME}",
        "",
        f"Sparsey memory ({mode} mode, seed {seed}): one mac of {MODEL['Q']} CMs x {MODEL['K']} "
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
