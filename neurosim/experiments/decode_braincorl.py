"""Experiment ``decode-braincorl``: in-context voxelwise encoding (BraInCoRL) vs ridge.

On :func:`neurosim.datasets.make_fmri_visual`, a :class:`~neurosim.decoding.BraInCoRL` transformer is
meta-trained on the voxels of four subjects (random context sizes, MSE on query responses). On the
held-out fifth subject, each voxel's encoder is then written from ``n`` in-context images (its own,
non-shared stimuli, repeat-averaged betas), with no gradient step, for increasing ``n`` (the
test-time scaling curve). It is compared with cross-validated ridge
(:class:`~neurosim.decoding.TorchRidgeCV`, penalty per voxel) fitted on the same images, and with
the simulation's ground-truth weights (the ceiling). The metric is the voxelwise explained
variance on the shared test stimuli, averaged over voxels and over independent context draws; the
cosine similarity between written and true weights is also reported.

With BraInCoRL-format NSD files in ``<data home>/nsd_braincorl`` (see :func:`find_nsd_braincorl`),
the same command runs on them instead of the simulation.

- quick: 8-dimensional embeddings, 2 attention blocks of width 32, 400 meta-training steps.
- full: 16-dimensional embeddings, 4 blocks of width 64, 3,000 steps, more context sizes.
"""

from __future__ import annotations

import time

import numpy as np

from . import ExperimentResult

NAME = "decode-braincorl"


def _config(quick):
    if quick:
        return {"embedding_dim": 8, "model": {"d_model": 32, "n_layers": 2, "n_heads": 4,
                                              "ffn_dim": 64},
                "tasks": {"min_context": 2, "max_context": 32, "n_query": 32,
                          "voxels_per_batch": 32, "steps_per_epoch": 50},
                "epochs": 8, "lr": 3e-3, "context_sizes": [2, 5, 10, 20, 50, 100],
                "n_draws": 4}
    return {"embedding_dim": 16, "model": {"d_model": 64, "n_layers": 4, "n_heads": 4,
                                           "ffn_dim": 128},
            "tasks": {"min_context": 2, "max_context": 100, "n_query": 50,
                      "voxels_per_batch": 64, "steps_per_epoch": 100},
            "epochs": 30, "lr": 1e-3, "context_sizes": [2, 5, 10, 20, 50, 100, 200],
            "n_draws": 10}


def meta_train(data, subjects, *, model_kwargs, task_kwargs, epochs=8, lr=3e-3, seed=0,
               device=None, progress=False):
    """Meta-train :class:`~neurosim.decoding.BraInCoRL` on the voxels of ``subjects``.

    Parameters
    ----------
    data : dict of str to xarray.Dataset | dict of str to tuple
        Subjects as returned by :func:`neurosim.datasets.make_fmri_visual` (all stimuli a subject
        saw, repeat-averaged, are used), or ``subject -> (embeddings, responses)`` arrays of shapes
        (n_images, E) and (n_images, n_voxels).
    subjects : list of str
        Training subjects.
    model_kwargs, task_kwargs : dict
        Arguments of :class:`~neurosim.decoding.BraInCoRL` and
        :func:`~neurosim.decoding.braincorl_tasks`.
    epochs : int
        Trainer epochs (``task_kwargs["steps_per_epoch"]`` batches each).
    lr : float
        Peak learning rate (one-cycle schedule).
    seed : int
        Seeds the model and the trainer.
    device : str | None
        Trainer device.
    progress : bool
        Progress bar.

    Returns
    -------
    model : BraInCoRL
    trainer : Trainer
    """
    from neurosim.decoding import BraInCoRL, Trainer, braincorl_tasks
    from neurosim.decoding._fmri_utils import stimulus_arrays

    arrays = {}
    for s in subjects:
        if isinstance(data[s], tuple):
            arrays[s] = (np.asarray(data[s][0]), np.asarray(data[s][1]))
        else:
            betas, _, emb = stimulus_arrays(data[s], split="all")
            arrays[s] = (emb, betas)
    tasks = braincorl_tasks({s: a[0] for s, a in arrays.items()},
                            {s: a[1] for s, a in arrays.items()}, **task_kwargs)
    dim = next(iter(arrays.values()))[0].shape[1]
    model = BraInCoRL(dim, random_state=seed, **model_kwargs)
    trainer = Trainer(max_epochs=epochs, lr=lr, weight_decay=1e-2, scheduler="onecycle",
                      device=device, random_state=seed, progress=progress)
    trainer.fit(model, tasks)
    return model, trainer


def scaling_curve(model, ds, context_sizes, *, n_draws=4, seed=0, ridge_device=None):
    """Explained variance on held-out images vs number of in-context images, for one subject.

    Parameters
    ----------
    model : BraInCoRL
        Meta-trained model.
    ds : xarray.Dataset | dict
        The held-out subject: a ``make_fmri_visual`` Dataset (context from its own stimuli, test
        on the shared ones, ground truth from ``weights`` and ``bias``), or a dict of arrays
        ``context_embeddings``, ``context_responses``, ``test_embeddings``, ``test_responses``
        and optionally ``weights`` (n_voxels, E) and ``bias`` (n_voxels,), plus ``subject``.
    context_sizes : list of int
        Numbers of in-context images.
    n_draws : int
        Independent context draws per size (disjoint when the subject has enough images).
    seed : int
        Seed of the draws.
    ridge_device : str | None
        Device of :class:`~neurosim.decoding.TorchRidgeCV`.

    Returns
    -------
    curve : xarray.Dataset
        ``explained_variance`` (encoder, context_size, draw), the voxel mean, and
        ``weight_cosine`` (encoder, context_size, draw) for ``braincorl`` and ``ridge`` against
        the ground truth; encoder in ``["braincorl", "ridge", "ground_truth"]``.
    """
    import xarray as xr

    from neurosim.decoding import TorchRidgeCV
    from neurosim.decoding._fmri_utils import stimulus_arrays
    from neurosim.decoding.metrics import explained_variance

    if isinstance(ds, dict):
        ctx_x, ctx_y = np.asarray(ds["context_embeddings"]), np.asarray(ds["context_responses"])
        test_x, test_y = np.asarray(ds["test_embeddings"]), np.asarray(ds["test_responses"])
        gt = (ds.get("weights"), ds.get("bias"))
        subject = str(ds.get("subject", ""))
    else:
        ctx_y, _, ctx_x = stimulus_arrays(ds, split="train")
        test_y, _, test_x = stimulus_arrays(ds, split="test")
        gt = (ds["weights"].values if "weights" in ds else None,
              ds["bias"].values if "bias" in ds else None)
        subject = str(ds.attrs.get("subject", ""))
    has_gt = gt[0] is not None and gt[1] is not None
    if has_gt:
        gt_w = np.asarray(gt[0], dtype=np.float64)
        gt_pred = test_x @ gt_w.T + np.asarray(gt[1], dtype=np.float64)
        gt_ev = float(np.mean(explained_variance(test_y, gt_pred)))
    rng = np.random.default_rng(seed)
    methods = ["braincorl", "ridge", "ground_truth"]
    ev = np.full((3, len(context_sizes), n_draws), np.nan)
    cos = np.full((3, len(context_sizes), n_draws), np.nan)

    def _cos(w):
        num = np.sum(w * gt_w, axis=1)
        den = np.linalg.norm(w, axis=1) * np.linalg.norm(gt_w, axis=1)
        return float(np.mean(num / np.where(den > 0, den, 1.0)))

    for j, n in enumerate(context_sizes):
        if n > len(ctx_y):
            raise ValueError(f"context size {n} exceeds the {len(ctx_y)} training images of "
                             f"subject {subject!r}")
        order = rng.permutation(len(ctx_y))
        for d in range(n_draws):
            start = (d * n) % max(1, len(ctx_y) - n + 1)
            idx = order[start:start + n]
            w, b = model.fit_voxels(ctx_x[idx], ctx_y[idx])
            ev[0, j, d] = np.mean(explained_variance(test_y, test_x @ w.T + b))
            ridge = TorchRidgeCV(cv=5 if n >= 10 else None, device=ridge_device)
            ridge.fit(ctx_x[idx], ctx_y[idx])
            ev[1, j, d] = np.mean(explained_variance(test_y, ridge.predict(test_x)))
            if has_gt:
                ev[2, j, d] = gt_ev
                cos[0, j, d] = _cos(w)
                cos[1, j, d] = _cos(np.asarray(ridge.coef_))
    unit = {"units": "fraction of variance"}
    return xr.Dataset(
        {"explained_variance": (("encoder", "context_size", "draw"), ev,
                                {**unit, "long_name": "voxel-mean explained variance on test"}),
         "weight_cosine": (("encoder", "context_size", "draw"), cos,
                           {"long_name": "voxel-mean cosine(weights, ground truth)"})},
        coords={"encoder": methods,
                "context_size": ("context_size", np.asarray(context_sizes, dtype=np.int64),
                                 {"units": "images"}),
                "draw": np.arange(n_draws)},
        attrs={"subject": subject, "n_test_images": int(len(test_y)),
               "n_voxels": int(ctx_y.shape[1])},
    )


def find_nsd_braincorl(folder=None):
    """BraInCoRL-format NSD arrays on disk, if any: meta-training subjects and a held-out one.

    Looks in ``folder`` (default ``<data home>/nsd_braincorl``, see
    :func:`neurosim.datasets.get_data_home`) for ``s{N}_unique_img_feats_normed.npy`` and the
    other files read by :func:`neurosim.datasets.load_nsd_braincorl`. With at least two subjects,
    the last one (by number) is held out: its "unique" images are the context pool and the shared
    ("common") images the test set; ``s{N}_gt.npy`` gives the reference weights when present.

    Parameters
    ----------
    folder : str | path-like | None

    Returns
    -------
    found : tuple | None
        ``(train, heldout, folder)``: ``train`` maps ``"subjN"`` to ``(embeddings, betas)``,
        ``heldout`` is the dict accepted by :func:`scaling_curve`; None when fewer than two
        subjects are on disk.
    """
    import re
    from pathlib import Path

    from neurosim.datasets import get_data_home, load_nsd_braincorl

    folder = Path(folder) if folder is not None else get_data_home() / "nsd_braincorl"
    if not folder.is_dir():
        return None
    numbers = sorted(int(m.group(1)) for p in folder.glob("s*_unique_img_feats_normed.npy")
                     if (m := re.fullmatch(r"s(\d+)_unique_img_feats_normed\.npy", p.name)))
    if len(numbers) < 2:
        return None
    train = {}
    for n in numbers[:-1]:
        ds = load_nsd_braincorl(folder, n, split="train")
        train[f"subj{n:02d}"] = (np.asarray(ds["embedding"].values, dtype=np.float32),
                                 np.asarray(ds["betas"].values, dtype=np.float32))
    n = numbers[-1]
    ctx = load_nsd_braincorl(folder, n, split="train")
    test = load_nsd_braincorl(folder, n, split="test")
    heldout = {"subject": f"subj{n:02d}",
               "context_embeddings": np.asarray(ctx["embedding"].values, dtype=np.float32),
               "context_responses": np.asarray(ctx["betas"].values, dtype=np.float32),
               "test_embeddings": np.asarray(test["embedding"].values, dtype=np.float32),
               "test_responses": np.asarray(test["betas"].values, dtype=np.float32)}
    if "gt" in ctx:
        gt = np.asarray(ctx["gt"].values, dtype=np.float64)
        heldout["weights"], heldout["bias"] = gt[:, :-1], gt[:, -1]
    return train, heldout, folder


def run(*, quick=False, backend="numba", seed=0, progress=False):
    """Meta-train BraInCoRL on 4 simulated subjects; test-time scaling on the 5th vs ridge.

    Parameters
    ----------
    quick : bool
        Small model and short meta-training (True) or the full run (False).
    backend : str
        Ignored (decoders run on torch: CUDA when available, else the CPU); kept for the CLI.
    seed : int
        Seed of the simulated data, the model, the meta-training and the context draws.
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the curve (see :func:`scaling_curve`) with the meta-training loss
        (``train_loss`` over ``epoch``); ``figures``: ``"scaling"``; ``metrics``:
        ``ev_braincorl_<n>``, ``ev_ridge_<n>`` per context size ``n``, ``ev_ground_truth``,
        ``run_time_s``.

    Examples
    --------
    >>> from neurosim.experiments.decode_braincorl import run
    >>> result = run(quick=True)  # doctest: +SKIP
    """
    from neurosim._utils import check_size
    from neurosim.datasets import make_fmri_visual

    seed = check_size("seed", seed, minimum=0)
    cfg = _config(quick)
    t0 = time.perf_counter()
    real = find_nsd_braincorl()
    if real is None:
        data = make_fmri_visual(n_subjects=5, embedding_dim=cfg["embedding_dim"],
                                random_state=seed)
        subjects = sorted(data)
        train, heldout, source = data, data[subjects[4]], "make_fmri_visual"
        embedding_dim = cfg["embedding_dim"]
    else:
        train, heldout, folder = real
        subjects = [*train, heldout["subject"]]
        source = f"BraInCoRL-format NSD files in {folder}"
        embedding_dim = int(heldout["context_embeddings"].shape[1])
        cfg["context_sizes"] = [n for n in cfg["context_sizes"]
                                if n <= len(heldout["context_responses"])]
    model, trainer = meta_train(train, subjects[:-1], model_kwargs=cfg["model"],
                                task_kwargs=cfg["tasks"], epochs=cfg["epochs"], lr=cfg["lr"],
                                seed=seed, progress=progress)
    curve = scaling_curve(model, heldout, cfg["context_sizes"], n_draws=cfg["n_draws"],
                          seed=seed)
    curve["train_loss"] = trainer.history_["train_loss"].assign_attrs(
        long_name="meta-training MSE on query responses")
    elapsed = time.perf_counter() - t0
    mean_ev = curve["explained_variance"].mean("draw")
    metrics = {}
    for n in curve["context_size"].values:
        metrics[f"ev_braincorl_{n}"] = float(mean_ev.sel(encoder="braincorl", context_size=n))
        metrics[f"ev_ridge_{n}"] = float(mean_ev.sel(encoder="ridge", context_size=n))
    metrics["ev_ground_truth"] = float(mean_ev.sel(encoder="ground_truth").mean())
    metrics["run_time_s"] = elapsed
    curve.attrs.update({"experiment": NAME, "experiment_quick": int(bool(quick)),
                        "experiment_seed": int(seed), "data": source,
                        "train_subjects": ",".join(subjects[:-1]),
                        "embedding_dim": embedding_dim,
                        **{f"summary_{k}": v for k, v in metrics.items()}})
    return ExperimentResult(dataset=curve, figures={"scaling": _figure(curve)},
                            report=_report(curve, metrics, quick, seed), metrics=metrics)


def _figure(curve):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax_ev, ax_cos = fig.subplots(1, 2)
    n = curve["context_size"].values
    styles = {"braincorl": ("tab:red", "BraInCoRL (in-context)"),
              "ridge": ("tab:blue", "ridge, CV penalty per voxel"),
              "ground_truth": ("k", "ground-truth weights")}
    for method, (color, label) in styles.items():
        ev = curve["explained_variance"].sel(encoder=method)
        ls = "--" if method == "ground_truth" else "-"
        ax_ev.errorbar(n, ev.mean("draw"), yerr=ev.std("draw"), fmt="o" + ls, color=color,
                       label=label, capsize=2, ms=4)
        if method != "ground_truth":
            ax_cos.plot(n, curve["weight_cosine"].sel(encoder=method).mean("draw"), "o-",
                        color=color, label=label, ms=4)
    for ax in (ax_ev, ax_cos):
        ax.set_xscale("log")
        ax.set_xlabel("in-context images")
    ax_ev.set_ylabel("explained variance (voxel mean)")
    ax_ev.set_title(f"held-out subject {curve.attrs['subject']}: test images")
    ax_ev.legend(fontsize="small")
    ax_cos.set_ylabel("cosine(weights, ground truth)")
    ax_cos.set_title("recovered encoding weights")
    return fig


def _report(curve, metrics, quick, seed):
    mode = "quick" if quick else "full"
    mean_ev = curve["explained_variance"].mean("draw")
    cos = curve["weight_cosine"].mean("draw")
    lines = [
        f"# {NAME}",
        "",
        f"BraInCoRL ({mode} mode, seed {seed}) meta-trained on {curve.attrs['train_subjects']} of "
        f"{curve.attrs['data']} ({curve.attrs['embedding_dim']}-dimensional embeddings); encoders of "
        f"the {curve.attrs['n_voxels']} voxels of held-out {curve.attrs['subject']} written from "
        f"n in-context images, tested on {curve.attrs['n_test_images']} shared images "
        f"({curve.sizes['draw']} context draws per n).",
        "",
        "| n | BraInCoRL EV | ridge EV | BraInCoRL weight cos | ridge weight cos |",
        "|---|---|---|---|---|",
    ]
    for n in curve["context_size"].values:
        lines.append(
            f"| {n} | {float(mean_ev.sel(encoder='braincorl', context_size=n)):.3f} "
            f"| {float(mean_ev.sel(encoder='ridge', context_size=n)):.3f} "
            f"| {float(cos.sel(encoder='braincorl', context_size=n)):.3f} "
            f"| {float(cos.sel(encoder='ridge', context_size=n)):.3f} |")
    lines += ["", f"Ground-truth weights: EV {metrics['ev_ground_truth']:.3f}. "
              f"Run time {metrics['run_time_s']:.1f} s.", ""]
    return "\n".join(lines)
