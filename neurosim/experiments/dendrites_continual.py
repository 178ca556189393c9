"""Experiment ``dendrites-continual``: active dendrites against MLPs on permuted digits.

Three networks of the same hidden widths learn a sequence of permuted-digit tasks
(:func:`neurosim.continual.permuted_digits`: scikit-learn's 8x8 digits, one fixed pixel
permutation per task), one task after another with no replay:

- ``dendritic``: :class:`neurosim.dendrites.ActiveDendritesClassifier` (Iyer et al. 2022:
  dendritic segments driven by the task prototype gate the hidden units, k-WTA);
- ``mlp``: :class:`neurosim.dendrites.ContextMLPClassifier`, a plain ReLU MLP;
- ``mlp-context``: the same MLP given the task prototype as extra input.

All three see the same data, epochs, batch size and learning rate, and infer the task of a test
sample from the nearest stored prototype. After each task every model is tested on every task;
the key number is the mean accuracy over all tasks after the whole sequence.

- quick: 10 tasks, hidden layers (128, 128), 4 epochs per task, batch 64, learning rate 4e-3,
  k-WTA 20 %.
- full: 10 tasks, hidden layers (512, 512), 5 epochs per task, batch 32, learning rate 1e-3,
  k-WTA 20 %.

On these small layers 20 % winners work better than the paper's 5 % (for 2,048-unit layers).

With ``data=FOLDER`` (a data home holding ``mnist/``, as :func:`neurosim.datasets.fetch_mnist`
writes it; nothing is downloaded) the comparison is repeated on permuted MNIST with the paper's
settings. Each network is trained with its ``fit_stream``
(:meth:`neurosim.continual.TaskwiseClassifier.fit_stream`), in PyTorch on the CPU with one thread
(:class:`neurosim.continual.single_thread`).
"""

from __future__ import annotations

import json

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "dendrites-continual"
MODELS = ("dendritic", "mlp", "mlp-context")
_COLORS = {"dendritic": "tab:green", "mlp": "tab:red", "mlp-context": "tab:blue"}


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        Smaller networks and fewer epochs.

    Returns
    -------
    config : dict
        ``n_tasks``, ``n_segments``, ``weight_sparsity``, ``hidden_sizes``, ``n_epochs``,
        ``batch_size``, ``learning_rate``, ``kw_percent_on`` (permuted digits), and ``mnist``:
        the same keys for permuted MNIST (run with ``data``).
    """
    common = {"n_tasks": 10, "n_segments": 10, "weight_sparsity": 0.5}
    # the paper's 10-task permuted-MNIST settings (batch 256, learning rate 5e-4, k-WTA 5 %,
    # 10 segments), with narrower layers (512 instead of 2,048) and 1 epoch per task for the CPU
    mnist = {"n_tasks": 10, "n_segments": 10, "weight_sparsity": 0.5, "hidden_sizes": (512, 512),
             "n_epochs": 1, "batch_size": 256, "learning_rate": 5e-4, "kw_percent_on": 0.05}
    if quick:
        return {**common, "hidden_sizes": (128, 128), "n_epochs": 4, "batch_size": 64,
                "learning_rate": 4e-3, "kw_percent_on": 0.2, "mnist": mnist}
    return {**common, "hidden_sizes": (512, 512), "n_epochs": 5, "batch_size": 32,
            "learning_rate": 1e-3, "kw_percent_on": 0.2, "mnist": mnist}


def _models(cfg, seed):
    """The three networks of the comparison, built from one configuration."""
    from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

    train = {k: cfg[k] for k in ("hidden_sizes", "n_epochs", "batch_size", "learning_rate")}
    return {
        "dendritic": ActiveDendritesClassifier(
            n_segments=cfg["n_segments"], kw_percent_on=cfg["kw_percent_on"],
            weight_sparsity=cfg["weight_sparsity"], random_state=seed, **train),
        "mlp": ContextMLPClassifier(context_input=False, random_state=seed, **train),
        "mlp-context": ContextMLPClassifier(context_input=True, random_state=seed, **train),
    }


def _fit(models, stream, progress):
    """``fit_stream`` of every model: accuracy (model, trained, task), task-inference accuracy."""
    from neurosim.continual import single_thread

    with single_thread():
        for model in models.values():
            model.fit_stream(stream, progress=progress)
    acc = np.stack([m.history_["accuracy_matrix"].values for m in models.values()])
    task_acc = np.array([m.history_.attrs["task_inference_accuracy"] for m in models.values()])
    return acc, task_acc


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Train active dendrites and two MLPs on permuted digits, task after task.

    Parameters
    ----------
    %(experiment_config)s
    data : None | str | path-like
        A data home holding ``mnist/`` (:func:`neurosim.datasets.fetch_mnist`): also run the
        comparison on permuted MNIST. None: permuted digits only.
    %(experiment_seed)s
        Seed of the task stream (split and permutations) and of every model.
    %(progress)s

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``accuracy`` (dims ``model``, ``trained``, ``task``) and
        ``final_accuracy`` (``model``, ``task``); ``figures``: ``"accuracy"``; ``report``:
        markdown; ``metrics``: ``acc_dendritic``, ``acc_mlp``, ``acc_mlp_context`` (mean final
        accuracy over all tasks), ``margin_vs_mlp``, ``task_inference_acc``,
        ``train_time_<model>_s`` and ``n_params_<model>``.
    """
    import xarray as xr

    from neurosim.continual import permuted_digits, permuted_mnist

    cfg = config
    stream = permuted_digits(n_tasks=cfg["n_tasks"], random_state=seed)
    models = _models(cfg, seed)
    acc, task_acc = _fit(models, stream, progress)

    mnist_acc = None
    if data is not None:
        mnist_cfg = cfg["mnist"]
        mnist_stream = permuted_mnist(n_tasks=mnist_cfg["n_tasks"], data_home=data,
                                      random_state=seed)
        mnist_acc, _ = _fit(_models(mnist_cfg, seed), mnist_stream, progress)

    final = acc[:, -1, :]
    names = list(models)
    metrics = {f"acc_{k.replace('-', '_')}": float(final[m].mean()) for m, k in enumerate(names)}
    metrics["margin_vs_mlp"] = metrics["acc_dendritic"] - metrics["acc_mlp"]
    metrics["task_inference_acc"] = float(task_acc[0])
    for k, model in models.items():
        metrics[f"train_time_{k.replace('-', '_')}_s"] = float(model.train_time_s_)
        metrics[f"n_params_{k.replace('-', '_')}"] = float(model.n_parameters_)
    if mnist_acc is not None:
        for m, k in enumerate(names):
            metrics[f"mnist_acc_{k.replace('-', '_')}"] = float(mnist_acc[m, -1].mean())

    ds = xr.Dataset(
        {
            "accuracy": (("model", "trained", "task"), acc,
                         {"long_name": "test accuracy on `task` after training tasks 0..trained",
                          "units": "1"}),
            "final_accuracy": (("model", "task"), final,
                               {"long_name": "test accuracy after the whole sequence",
                                "units": "1"}),
        },
        coords={"model": names, "trained": np.arange(cfg["n_tasks"]),
                "task": np.arange(cfg["n_tasks"])},
        attrs={
            "device": "cpu", "data": "permuted digits (sklearn load_digits)",
            "n_train_per_task": int(stream[0].X_train.shape[0]),
            "n_test_per_task": int(stream[0].X_test.shape[0]),
            **{f"config_{k}": (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()
               if k != "mnist"},
        },
    )
    if mnist_acc is None:
        ds.attrs["permuted_mnist"] = "not run (no data=: run with a data home holding mnist/)"
    else:
        ds["mnist_accuracy"] = (("model", "mnist_trained", "mnist_task"), mnist_acc,
                                {"long_name": "permuted MNIST: accuracy on `mnist_task` after "
                                              "training tasks 0..mnist_trained", "units": "1"})
        ds.attrs["permuted_mnist"] = json.dumps({k: (list(v) if isinstance(v, tuple) else v)
                                                 for k, v in cfg["mnist"].items()})
    headline = [
        Headline("mean accuracy over 10 permuted-digit tasks, active dendrites",
                 metrics["acc_dendritic"], "plain MLP", metrics["acc_mlp"]),
        Headline("the same, active dendrites", metrics["acc_dendritic"],
                 "MLP given the task context", metrics["acc_mlp_context"]),
    ]
    if mnist_acc is not None:
        headline.append(Headline("permuted MNIST mean accuracy, active dendrites",
                                 metrics["mnist_acc_dendritic"], "plain MLP",
                                 metrics["mnist_acc_mlp"]))
    figures = {"accuracy": _figure(ds)}
    return ExperimentResult(dataset=ds, figures=figures, report=_report(ds, cfg, metrics, seed),
                            metrics=metrics, headline=headline)


def _figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_final, ax_seq = fig.subplots(1, 2)
    tasks = ds["task"].values
    width = 0.8 / ds.sizes["model"]
    for m, name in enumerate(ds["model"].values):
        final = ds["final_accuracy"].sel(model=name).values
        ax_final.bar(tasks + (m - 1) * width, final, width, color=_COLORS.get(str(name)),
                     label=f"{name} (mean {final.mean():.2f})")
        acc = ds["accuracy"].sel(model=name).values
        seen = [acc[i, :i + 1].mean() for i in range(acc.shape[0])]
        ax_seq.plot(tasks + 1, seen, "o-", color=_COLORS.get(str(name)), label=str(name))
    ax_final.set_xlabel("task")
    ax_final.set_ylabel("test accuracy after all tasks")
    ax_final.set_ylim(0, 1)
    ax_final.set_xticks(tasks)
    ax_final.legend(fontsize="small", loc="lower left")
    ax_final.set_title("Accuracy on each task at the end")
    ax_seq.set_xlabel("tasks trained")
    ax_seq.set_ylabel("mean accuracy over the tasks seen")
    ax_seq.set_ylim(0, 1)
    ax_seq.set_title("Forgetting along the sequence")
    ax_seq.legend(fontsize="small")
    return fig


def _report(ds, cfg, metrics, seed):
    lines = [
        f"# {NAME}",
        "",
        f"Learning {cfg['n_tasks']} permuted-digit tasks one after another with no replay, the "
        f"active-dendrites network keeps a mean accuracy of {metrics['acc_dendritic']:.3f} over "
        f"all tasks at the end, against {metrics['acc_mlp']:.3f} for a plain MLP (which forgets) "
        f"and {metrics['acc_mlp_context']:.3f} for an MLP given the task context as input. "
        "*Permuted digits*: each task is scikit-learn's 8x8 digits with its own fixed pixel "
        "permutation; *context*: the task's prototype (mean training input), inferred at test "
        "time from the nearest stored prototype; *k-WTA*: only the k most active hidden units "
        "of each layer stay on.",
        "",
        f"{cfg['n_tasks']} permuted-digit tasks ({ds.attrs['n_train_per_task']} training and "
        f"{ds.attrs['n_test_per_task']} test images each), learned one after another; hidden "
        f"layers {tuple(cfg['hidden_sizes'])}, {cfg['n_epochs']} epochs per task, Adam "
        f"(learning rate {cfg['learning_rate']:g}), batch {cfg['batch_size']}, seed {seed}. "
        f"Dendritic network: {cfg['n_segments']} segments per unit, k-WTA "
        f"{cfg['kw_percent_on']:.0%}, feed-forward weight sparsity {cfg['weight_sparsity']:.0%}.",
        "",
        "| model | mean accuracy over all tasks after the sequence | parameters | train time |",
        "|---|---|---|---|",
    ]
    for name in ds["model"].values:
        key = str(name).replace("-", "_")
        lines.append(f"| {name} | {metrics['acc_' + key]:.3f} | "
                     f"{int(metrics['n_params_' + key])} | "
                     f"{metrics['train_time_' + key + '_s']:.1f} s |")
    lines += [
        "",
        f"Active dendrites minus MLP: {metrics['margin_vs_mlp']:+.3f}. Task inferred from the "
        f"nearest prototype for {metrics['task_inference_acc']:.1%} of test samples.",
        "",
    ]
    if "mnist_acc_dendritic" in metrics:
        lines += ["Permuted MNIST (10 tasks, hidden (512, 512), 1 epoch per task): " + ", ".join(
            f"{name} {metrics['mnist_acc_' + str(name).replace('-', '_')]:.3f}"
            for name in ds["model"].values) + ".", ""]
    else:
        lines += [f"Permuted MNIST: {ds.attrs['permuted_mnist']}.", ""]
    return "\n".join(lines)
