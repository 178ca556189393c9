"""Experiment ``decode-mindbridge``: cross-subject fMRI decoding and reset-tuning (MindBridge).

On :func:`neurosim.datasets.make_fmri_visual` (five NSD-like subjects with different voxel counts
and a shared linear encoding model with idiosyncratic parts), a MindBridge model is trained on four
source subjects (SoftCLIP + MSE on the stimulus embeddings, pooled-fMRI reconstruction and the cycle
loss). The fifth subject is then added by reset-tuning with a limited number of its trials and
compared with a single-subject model trained from scratch on the same trials, for several
target-data budgets. All models are evaluated on the shared test stimuli (repeat-averaged betas) by
forward and backward top-1 retrieval among all test stimuli and by 2-way retrieval.

With NSD and stimulus embeddings on disk (see :func:`find_nsd`), the same command runs on them:
the last subject found is the new one, the others the sources, with target budgets of 500, 1,000
and 4,000 trials (quick mode reads the first 4 sessions of each subject).

- quick: pooled size 256, shared width 128, 10 bridge epochs, budgets 30 / 90 / 300 trials.
- full: pooled size 512, shared width 256, 30 bridge epochs, budgets 30 / 60 / 150 / 300 / 660.
"""

from __future__ import annotations

import time

import numpy as np

from . import ExperimentResult

NAME = "decode-mindbridge"


def _config(quick):
    if quick:
        return {"model": {"pool_size": 256, "hidden_dim": 128, "adapter_rank": 8, "n_blocks": 2},
                "bridge_epochs": 10, "adapt_steps": 150, "budgets": [30, 90, 300],
                "batch_size": 32, "lr": 2e-3}
    return {"model": {"pool_size": 512, "hidden_dim": 256, "adapter_rank": 32, "n_blocks": 4},
            "bridge_epochs": 30, "adapt_steps": 600, "budgets": [30, 60, 150, 300, 660],
            "batch_size": 32, "lr": 1e-3}


def retrieval_scores(model, subject, betas, embedding, *, random_state=0):
    """Forward/backward top-1 (among all rows) and 2-way retrieval of one subject's predictions.

    Parameters
    ----------
    model : neurosim.decoding.MindBridge
    subject : str
    betas : numpy.ndarray, shape (n_stimuli, n_voxels)
    embedding : numpy.ndarray, shape (n_stimuli, n_features)
    random_state : int
        Seed of the 2-way distractors.

    Returns
    -------
    scores : dict of str to float
        ``top1_forward``, ``top1_backward``, ``two_way``.
    """
    from neurosim.decoding.metrics import retrieval_accuracy

    head = next(iter(model.heads))
    pred = model.predict(betas, subject)[head].reshape(len(betas), -1)
    target = np.asarray(embedding).reshape(len(embedding), -1)
    return {
        "top1_forward": retrieval_accuracy(pred, target),
        "top1_backward": retrieval_accuracy(target, pred),
        "two_way": retrieval_accuracy(pred, target, k_way=2, n_draws=20,
                                      random_state=random_state),
    }


def reset_tuning_curve(data, sources, target, budgets, *, model_kwargs, bridge_epochs=10,
                       adapt_steps=200, batch_size=32, lr=1e-3, seed=0, source_model=None,
                       device=None, progress=False):
    """Train a bridge on ``sources``, then reset-tune vs train from scratch on ``target``.

    Parameters
    ----------
    data : dict of str to xarray.Dataset
        Subjects as returned by :func:`neurosim.datasets.make_fmri_visual`.
    sources : list of str
        Source subjects of the bridge model.
    target : str
        New subject.
    budgets : list of int
        Numbers of target training trials (the first ``b`` trials of its non-shared stimuli;
        budgets beyond the trials available are capped at them).
    model_kwargs : dict
        :class:`~neurosim.decoding.MindBridge` arguments (``heads`` defaults to one vector head
        of the embedding's size).
    bridge_epochs : int
        Epochs of bridge training.
    adapt_steps : int
        Optimisation steps for each target model (reset-tuned or from scratch), whatever the
        budget: both see the same number of updates.
    batch_size : int
        Samples per subject per step.
    lr : float
        Peak learning rate (one-cycle schedule).
    seed : int
        Seeds the models and the trainers.
    source_model : MindBridge | None
        A trained bridge to reuse (skips bridge training).
    device : str | None
        Trainer device.
    progress : bool
        Progress bars.

    Returns
    -------
    curve : xarray.Dataset
        ``top1_forward``, ``top1_backward``, ``two_way`` with dims (training, budget), training in
        ``["reset_tuning", "from_scratch"]``, plus ``source_top1_forward`` (source_subject).
    source_model : MindBridge
        The bridge model.
    """
    import xarray as xr

    from neurosim.decoding import MindBridge, Trainer
    from neurosim.decoding._fmri_utils import stimulus_arrays, trial_arrays
    from neurosim.decoding._mindbridge import mindbridge_batches, reset_tune

    subjects = [*sources, target]
    n_vox = {s: int(data[s].sizes["voxel"]) for s in subjects}
    train = {s: trial_arrays(data[s], split="train") for s in subjects}
    test = {s: stimulus_arrays(data[s], split="test") for s in subjects}
    dim = train[target][2].shape[1]
    n_target = len(train[target][0])
    budgets = sorted({min(int(b), n_target) for b in budgets})  # as far as the data go
    kwargs = {"heads": {"image": (dim,)}, "temperature": 0.05, "mse_mult": 100.0,
              **model_kwargs}

    def trainer(epochs, offset):
        return Trainer(max_epochs=epochs, lr=lr, scheduler="onecycle", device=device,
                       random_state=seed + offset, progress=progress)

    if source_model is None:
        source_model = MindBridge(sources, n_vox, random_state=seed, **kwargs)
        batches = mindbridge_batches(source_model, {s: train[s][0] for s in sources},
                                     {s: {"image": train[s][2]} for s in sources},
                                     batch_size=batch_size)
        trainer(bridge_epochs, 0).fit(source_model, batches)
    source_scores = [retrieval_scores(source_model, s, test[s][0], test[s][2], random_state=seed)
                     for s in sources]
    names = ["top1_forward", "top1_backward", "two_way"]
    values = {k: np.full((2, len(budgets)), np.nan) for k in names}
    for j, budget in enumerate(budgets):
        steps_per_epoch = max(1, budget // batch_size)
        epochs = max(1, int(np.ceil(adapt_steps / steps_per_epoch)))
        # reset-tuning: fresh target embedder/builder, the rest frozen, source batches mixed in
        tuned = reset_tune(source_model, target, n_vox[target], random_state=seed + 1)
        voxels = {s: train[s][0] for s in sources} | {target: train[target][0][:budget]}
        targets = {s: {"image": train[s][2]} for s in sources} | {
            target: {"image": train[target][2][:budget]}}
        trainer(epochs, 1 + j).fit(tuned, mindbridge_batches(tuned, voxels, targets,
                                                             batch_size=batch_size,
                                                             target=target))
        # baseline: the same architecture for the target alone, trained from scratch
        scratch = MindBridge([target], n_vox, random_state=seed + 1,
                             **{**kwargs, "rec_mult": 0.0, "cyc_mult": 0.0})
        trainer(epochs, 1 + j).fit(scratch, mindbridge_batches(
            scratch, {target: voxels[target]}, {target: targets[target]},
            batch_size=batch_size))
        for i, model in enumerate([tuned, scratch]):
            scores = retrieval_scores(model, target, test[target][0], test[target][2],
                                      random_state=seed)
            for k in names:
                values[k][i, j] = scores[k]
    curve = xr.Dataset(
        {k: (("training", "budget"), v, {"units": "fraction", "long_name": k.replace("_", " ")})
         for k, v in values.items()}
        | {"source_top1_forward": ("source_subject",
                                   np.array([s["top1_forward"] for s in source_scores]))},
        coords={"training": ["reset_tuning", "from_scratch"],
                "budget": ("budget", np.asarray(budgets, dtype=np.int64),
                           {"units": "trials", "long_name": "target-subject training trials"}),
                "source_subject": list(sources)},
        attrs={"target_subject": target, "n_test_stimuli": int(len(test[target][0])),
               "chance_top1": 1.0 / len(test[target][0]), "chance_two_way": 0.5,
               "adapt_steps": int(adapt_steps), "bridge_epochs": int(bridge_epochs)},
    )
    return curve, source_model


_EMBEDDING_FILES = ("nsd_embeddings.npz", "nsd_embeddings.npy", "nsd_embeddings.h5",
                    "nsd_embeddings.hdf5", "nsd_embeddings.pt")


def find_nsd(folder=None, *, max_sessions=None):
    """NSD on disk, with stimulus embeddings, in the structure of ``make_fmri_visual``.

    Looks in ``folder`` (default ``<data home>/nsd``, see
    :func:`neurosim.datasets.get_data_home`) for the NSD release layout read by
    :func:`neurosim.datasets.load_nsd` (``nsd_expdesign.mat``, each subject's ``nsdgeneral`` ROI and
    beta sessions) and for the embeddings of the 73,000 images in ``nsd_embeddings.{npz,npy,h5,pt}``
    (any format of :func:`neurosim.datasets.load_embeddings`, rows in ``nsdId`` order; compute them
    with the image model whose space you decode into, e.g. CLIP).

    Parameters
    ----------
    folder : str | path-like | None
    max_sessions : int | None
        Read at most this many sessions per subject (the first ones on disk).

    Returns
    -------
    data : dict of str to xarray.Dataset | None
        ``"subjNN"`` -> single-trial betas with ``embedding``; None unless the design file, the
        embeddings and at least two subjects with beta files are present.
    """
    from pathlib import Path

    from neurosim.datasets import get_data_home, load_embeddings, load_nsd

    root = Path(folder) if folder is not None else get_data_home() / "nsd"
    if not (root / "nsddata/experiments/nsd/nsd_expdesign.mat").is_file():
        return None
    emb_path = next((root / f for f in _EMBEDDING_FILES if (root / f).is_file()), None)
    if emb_path is None:
        return None
    sessions = {}
    for n in range(1, 9):
        roi = root / f"nsddata/ppdata/subj{n:02d}/func1pt8mm/roi/nsdgeneral.nii.gz"
        beta_dir = root / f"nsddata_betas/ppdata/subj{n:02d}/func1pt8mm/betas_fithrf_GLMdenoise_RR"
        found = sorted({int(p.name[len("betas_session"):len("betas_session") + 2])
                        for p in beta_dir.glob("betas_session[0-9][0-9].*")})
        if roi.is_file() and found:
            sessions[n] = found[:max_sessions] if max_sessions else found
    if len(sessions) < 2:
        return None
    embeddings = load_embeddings(emb_path)
    return {f"subj{n:02d}": load_nsd(root, n, sessions=s, embeddings=embeddings)
            for n, s in sessions.items()}


def run(*, quick=False, backend="numba", seed=0, progress=False):
    """Train MindBridge on 4 simulated subjects, reset-tune it on a 5th, compare with scratch.

    Parameters
    ----------
    quick : bool
        Small model and three target budgets (True) or the full curve (False).
    backend : str
        Ignored (decoders run on torch: CUDA when available, else the CPU); kept for the CLI.
    seed : int
        Seed of the simulated data, the models and the training.
    progress : bool
        Show progress bars.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the curve (see :func:`reset_tuning_curve`); ``figures``: ``"reset_tuning"``;
        ``metrics``: ``top1_reset_<b>``, ``top1_scratch_<b>`` for each budget ``b`` and
        ``source_top1_mean``, ``run_time_s``.

    Examples
    --------
    >>> from neurosim.experiments.decode_mindbridge import run
    >>> result = run(quick=True)  # doctest: +SKIP
    """
    from neurosim._utils import check_size
    from neurosim.datasets import make_fmri_visual

    seed = check_size("seed", seed, minimum=0)
    cfg = _config(quick)
    t0 = time.perf_counter()
    data = find_nsd(max_sessions=4 if quick else None)
    if data is None:
        data = make_fmri_visual(n_subjects=5, random_state=seed)
        source = "make_fmri_visual"
    else:  # real data: the paper's budgets (500, 1000, 4000 trials), as far as the data go
        source = "NSD"
        cfg["budgets"] = [500, 1000, 4000]
    subjects = sorted(data)
    curve, _ = reset_tuning_curve(
        data, subjects[:-1], subjects[-1], cfg["budgets"], model_kwargs=cfg["model"],
        bridge_epochs=cfg["bridge_epochs"], adapt_steps=cfg["adapt_steps"],
        batch_size=cfg["batch_size"], lr=cfg["lr"], seed=seed, progress=progress)
    elapsed = time.perf_counter() - t0
    metrics = {}
    for b in curve["budget"].values:
        top1 = curve["top1_forward"].sel(budget=b)
        metrics[f"top1_reset_{b}"] = float(top1.sel(training="reset_tuning"))
        metrics[f"top1_scratch_{b}"] = float(top1.sel(training="from_scratch"))
    metrics["source_top1_mean"] = float(curve["source_top1_forward"].mean())
    metrics["run_time_s"] = elapsed
    curve.attrs.update({"experiment": NAME, "experiment_quick": int(bool(quick)),
                        "experiment_seed": int(seed), "data": source, "n_voxels": str(
                            {s: int(data[s].sizes["voxel"]) for s in subjects}),
                        **{f"summary_{k}": v for k, v in metrics.items()}})
    return ExperimentResult(dataset=curve, figures={"reset_tuning": _figure(curve)},
                            report=_report(curve, data, metrics, quick, seed), metrics=metrics)


def _figure(curve):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    budgets = curve["budget"].values
    styles = {"reset_tuning": ("tab:blue", "reset-tuning"),
              "from_scratch": ("tab:gray", "from scratch")}
    for ax, key, chance in zip(axes, ["top1_forward", "top1_backward", "two_way"],
                               [curve.attrs["chance_top1"]] * 2 + [0.5]):
        for method, (color, label) in styles.items():
            ax.plot(budgets, curve[key].sel(training=method), "o-", color=color, label=label)
        ax.axhline(chance, color="k", ls=":", lw=1, label="chance")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_xlabel("target-subject training trials")
        ax.set_title(key.replace("_", " "))
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("retrieval accuracy")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"MindBridge on a new subject ({curve.attrs['target_subject']}), "
                 f"{curve.attrs['n_test_stimuli']} test stimuli")
    return fig


def _report(curve, data, metrics, quick, seed):
    mode = "quick" if quick else "full"
    lines = [
        f"# {NAME}",
        "",
        f"MindBridge ({mode} mode, seed {seed}) trained on {', '.join(curve['source_subject'].values)}"
        f" of {curve.attrs['data']}, reset-tuned on {curve.attrs['target_subject']} and compared with "
        "a single-subject model trained from scratch on the same trials. Voxels: "
        + ", ".join(f"{s} {data[s].sizes['voxel']}" for s in sorted(data)) + ".",
        "",
        f"Source subjects, forward top-1 among {curve.attrs['n_test_stimuli']} test stimuli: "
        f"{metrics['source_top1_mean']:.3f} (mean).",
        "",
        "| target trials | reset-tuning: top-1 fwd / bwd, 2-way "
        "| from scratch: top-1 fwd / bwd, 2-way |",
        "|---|---|---|",
    ]
    for b in curve["budget"].values:
        cells = []
        for method in ("reset_tuning", "from_scratch"):
            v = [float(curve[k].sel(training=method, budget=b))
                 for k in ("top1_forward", "top1_backward", "two_way")]
            cells.append(" / ".join(f"{x:.3f}" for x in v))
        lines.append(f"| {b} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Chance: top-1 {curve.attrs['chance_top1']:.3f}, 2-way 0.5. "
              f"Run time {metrics['run_time_s']:.1f} s.", ""]
    return "\n".join(lines)
