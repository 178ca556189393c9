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

In full mode the comparison is repeated on permuted MNIST when its files are on disk
(:func:`run_permuted_mnist`; nothing is downloaded). The ``backend`` argument does not apply
(the networks run in PyTorch, on the CPU, with one thread: :func:`single_thread`).
"""

from __future__ import annotations

import contextlib
import json

import numpy as np

from . import ExperimentResult

NAME = "dendrites-continual"
MODELS = ("dendritic", "mlp", "mlp-context")
_COLORS = {"dendritic": "tab:green", "mlp": "tab:red", "mlp-context": "tab:blue"}


def _config(quick):
    common = {"n_tasks": 10, "n_segments": 10, "weight_sparsity": 0.5}
    if quick:
        return {**common, "hidden_sizes": (128, 128), "n_epochs": 4, "batch_size": 64,
                "learning_rate": 4e-3, "kw_percent_on": 0.2}
    return {**common, "hidden_sizes": (512, 512), "n_epochs": 5, "batch_size": 32,
            "learning_rate": 1e-3, "kw_percent_on": 0.2}


def _mnist_config():
    # the paper's 10-task permuted-MNIST settings (batch 256, learning rate 5e-4, k-WTA 5 %,
    # 10 segments), with narrower layers (512 instead of 2,048) and 1 epoch per task for the CPU
    return {"n_tasks": 10, "n_segments": 10, "weight_sparsity": 0.5, "hidden_sizes": (512, 512),
            "n_epochs": 1, "batch_size": 256, "learning_rate": 5e-4, "kw_percent_on": 0.05}


def run_permuted_mnist(seed=0, progress=False):
    """The same comparison on permuted MNIST, if the MNIST files are on disk.

    Reads MNIST through :func:`neurosim.continual.permuted_mnist` (never downloads).

    Parameters
    ----------
    seed : int
        Seed of the permutations and of the models.
    progress : bool
        Show a progress bar.

    Returns
    -------
    accuracy : ndarray of shape (3, n_tasks, n_tasks) | None
        As returned by :func:`run_sequence` (models in the order of :data:`MODELS`), or None
        when the MNIST files are not there.
    cfg : dict
        The configuration used.
    """
    from neurosim.continual import permuted_mnist

    cfg = _mnist_config()
    try:
        stream = permuted_mnist(n_tasks=cfg["n_tasks"], random_state=seed)
    except FileNotFoundError:
        return None, cfg
    with single_thread():
        acc, _ = run_sequence(make_models(cfg, seed), stream, progress=progress)
    return acc, cfg


def make_models(cfg, seed):
    """The three networks of the comparison, built from one configuration.

    Parameters
    ----------
    cfg : dict
        ``hidden_sizes``, ``n_epochs``, ``batch_size``, ``learning_rate``, ``n_segments``,
        ``kw_percent_on``, ``weight_sparsity``.
    seed : int
        ``random_state`` of every model.

    Returns
    -------
    models : dict of str to estimator
        ``"dendritic"``, ``"mlp"`` and ``"mlp-context"``.
    """
    from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

    train = {k: cfg[k] for k in ("hidden_sizes", "n_epochs", "batch_size", "learning_rate")}
    return {
        "dendritic": ActiveDendritesClassifier(
            n_segments=cfg["n_segments"], kw_percent_on=cfg["kw_percent_on"],
            weight_sparsity=cfg["weight_sparsity"], random_state=seed, **train),
        "mlp": ContextMLPClassifier(context_input=False, random_state=seed, **train),
        "mlp-context": ContextMLPClassifier(context_input=True, random_state=seed, **train),
    }


@contextlib.contextmanager
def single_thread():
    """Run torch on one thread inside the block, then restore the previous setting.

    These networks are small: one thread is as fast on an idle machine and many times faster
    on a busy one (torch's worker threads spin while waiting for each other).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_sequence(models, stream, progress=False):
    """Train each model on the tasks of ``stream`` in order and test on all tasks after each.

    Parameters
    ----------
    models : dict of str to estimator
        Models with ``partial_fit``, ``score`` and ``predict_task``.
    stream : neurosim.continual.TaskStream
        The tasks.
    progress : bool
        Show a progress bar.

    Returns
    -------
    accuracy : ndarray of shape (n_models, n_tasks, n_tasks)
        ``accuracy[m, i, j]``: accuracy of model ``m`` on task ``j`` after training on tasks
        ``0..i``.
    task_accuracy : ndarray of shape (n_models,)
        Fraction of test samples of all tasks assigned their own task's prototype at the end.
    """
    from tqdm.auto import tqdm

    n = len(stream)
    acc = np.full((len(models), n, n), np.nan)
    task_acc = np.empty(len(models))
    classes = np.arange(stream.n_classes)
    bar = tqdm(total=len(models) * n, desc=NAME, disable=not progress)
    for m, model in enumerate(models.values()):
        for i, task in enumerate(stream):
            model.partial_fit(task.X_train, task.y_train, classes=classes)
            for j, other in enumerate(stream):
                acc[m, i, j] = model.score(other.X_test, other.y_test)
            bar.update()
        hits = [model.predict_task(t.X_test) == k for k, t in enumerate(stream)]
        task_acc[m] = float(np.concatenate(hits).mean())
    bar.close()
    return acc, task_acc


def run(*, quick=False, backend="numba", seed=0, progress=False):
    """Train active dendrites and two MLPs on permuted digits, task after task.

    Parameters
    ----------
    quick : bool
        Smaller networks and fewer epochs (see the module docstring).
    backend : str
        Recorded only: the networks run in PyTorch on the CPU.
    seed : int
        Seed of the task stream (split and permutations) and of every model.
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: ``accuracy`` (dims ``model``, ``trained``, ``task``) and
        ``final_accuracy`` (``model``, ``task``), with the metrics in ``attrs`` as
        ``summary_<name>``; ``figures``: ``"accuracy"``; ``report``: markdown; ``metrics``:
        ``acc_dendritic``, ``acc_mlp``, ``acc_mlp_context`` (mean final accuracy over all
        tasks), ``margin_vs_mlp``, ``task_inference_acc``, ``train_time_<model>_s`` and
        ``n_params_<model>``.

    Examples
    --------
    >>> from neurosim.experiments.dendrites_continual import run
    >>> result = run(quick=True, seed=0)  # doctest: +SKIP
    >>> result.metrics["acc_dendritic"] > result.metrics["acc_mlp"]  # doctest: +SKIP
    True
    """
    import xarray as xr

    from neurosim.continual import permuted_digits

    from .._utils import check_size

    seed = check_size("seed", seed, minimum=0)
    cfg = _config(quick)
    stream = permuted_digits(n_tasks=cfg["n_tasks"], random_state=seed)
    models = make_models(cfg, seed)
    with single_thread():
        acc, task_acc = run_sequence(models, stream, progress=progress)

    mnist_acc = None
    if not quick:
        mnist_acc, mnist_cfg = run_permuted_mnist(seed, progress)

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
            "experiment": NAME, "experiment_quick": int(bool(quick)), "experiment_seed": seed,
            "backend": backend, "device": "cpu", "data": "permuted digits (sklearn load_digits)",
            "n_train_per_task": int(stream[0].X_train.shape[0]),
            "n_test_per_task": int(stream[0].X_test.shape[0]),
            **{f"config_{k}": (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
            **{f"summary_{k}": v for k, v in metrics.items()},
        },
    )
    if quick:
        ds.attrs["permuted_mnist"] = "not run (quick mode)"
    elif mnist_acc is None:
        ds.attrs["permuted_mnist"] = "not run: MNIST files not found (neurosim.datasets.fetch_mnist)"
    else:
        ds["mnist_accuracy"] = (("model", "mnist_trained", "mnist_task"), mnist_acc,
                                {"long_name": "permuted MNIST: accuracy on `mnist_task` after "
                                              "training tasks 0..mnist_trained", "units": "1"})
        ds.attrs["permuted_mnist"] = json.dumps({k: (list(v) if isinstance(v, tuple) else v)
                                                 for k, v in mnist_cfg.items()})
    figures = {"accuracy": _figure(ds)}
    return ExperimentResult(dataset=ds, figures=figures, report=_report(ds, cfg, metrics, seed),
                            metrics=metrics)


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
