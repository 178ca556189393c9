"""Evaluation protocols of the decoders: splits, folds, training recipes and learning curves.

As :mod:`sklearn.model_selection` holds the splitters and the curves, this module holds how each
paper trains and evaluates its model, so that experiments, examples and tests call one
implementation:

HiSTN (EEG emotion; the official protocols, ``HISTN_RECIPES``)
    :func:`histn_fold_starts`, :func:`class_balanced_crops` and :func:`crop_batches` (the official
    sampling); :func:`leave_one_subject_out_split` and :func:`majority_vote_labels`;
    :func:`fit_histn`; :func:`histn_subject_dependent`, :func:`histn_leave_one_subject_out` and
    :func:`histn_held_out_films` (run end to end, with the band-power and chance baselines);
    :func:`time_block_folds` and :func:`subject_dependent_split` (dense windows with gaps).
BrainFLORA (EEG/MEG/fMRI retrieval; ``BRAINFLORA_RECIPES``)
    :func:`fit_brainflora` (towers, then the unified projector), :func:`brainflora_retrieval`,
    :func:`retrieval_by_subject` and :func:`ridge_retrieval_baseline`.
MindBridge (cross-subject fMRI)
    :func:`reset_tuning_curve`: bridge on source subjects, then reset-tuning vs training from
    scratch on a new subject, per budget of images (the paper's ``--length``), with the official
    recipes (:data:`MINDBRIDGE_RECIPES`) and schedule (:func:`one_cycle_schedule`).
BraInCoRL (in-context voxelwise encoding)
    :func:`meta_train` and :func:`scaling_curve` (explained variance against the number of
    in-context images, with ridge and the ground truth).
fMRI classification by run (Haxby et al. 2001)
    :func:`leave_one_run_out`: the leave-one-run-out accuracy of any classifier, with a
    permutation test (labels shuffled within runs).

Every protocol takes ``random_state``; an int gives the same result on the same device, and is
offset in a fixed way for each model and trainer it seeds.

Examples
--------
>>> from neurosim.decoding.model_selection import HISTN_RECIPES
>>> HISTN_RECIPES["paper"]["sd"]["epochs"], HISTN_RECIPES["paper"]["si"]["finetune_epochs"]
(50, 400)
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

__all__ = [
    "BRAINFLORA_RECIPES",
    "HISTN_RECIPES",
    "brainflora_recipe",
    "brainflora_retrieval",
    "class_balanced_crops",
    "crop_batches",
    "fit_brainflora",
    "fit_histn",
    "histn_fold_starts",
    "histn_held_out_films",
    "histn_leave_one_subject_out",
    "histn_subject_dependent",
    "leave_one_run_out",
    "leave_one_subject_out_split",
    "majority_vote_labels",
    "meta_train",
    "one_cycle_schedule",
    "reset_tuning_curve",
    "retrieval_by_subject",
    "ridge_retrieval_baseline",
    "scaling_curve",
    "subject_dependent_split",
    "time_block_folds",
]


def _int_seed(random_state):
    """An int seed: the int itself, or one drawn from a Generator / fresh entropy for None."""
    import numbers

    from neurosim._utils import check_random_state

    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_random_state(random_state)  # validates the sign
        return int(random_state)
    return int(check_random_state(random_state).integers(2**31))


from ._brainflora_protocol import (  # noqa: E402, F401  (re-exported)
    BRAINFLORA_RECIPES,
    brainflora_recipe,
    brainflora_retrieval,
    fit_brainflora,
    retrieval_by_subject,
    ridge_retrieval_baseline,
)
from ._histn_protocol import (  # noqa: E402, F401  (re-exported)
    HISTN_DECODERS,
    HISTN_RECIPES,
    class_balanced_crops,
    crop_batches,
    fit_histn,
    histn_fold_starts,
    histn_held_out_films,
    histn_leave_one_subject_out,
    histn_subject_dependent,
    leave_one_subject_out_split,
    majority_vote_labels,
    subject_dependent_split,
    time_block_folds,
    window_starts,
)

# ==============================================================================================
# MindBridge
# ==============================================================================================
#: MindBridge's training recipes. ``"paper"``: the official scripts as one process runs them
#: (``train_bridge.sh``, ``adapt_bridge.sh``, ``train_single.sh``: batch 50 per subject, 600 bridge
#: and 200 adaptation epochs, ``max_lr`` 1.5e-4 / 1.5e-4 / 3e-4 - the official code multiplies
#: it by the number of processes, and the paper's bridge ran on 8 GPUs: 1.2e-3 at 8 x the batch),
#: AdamW with weight decay 1e-2 off biases and norms, the official one-cycle schedule.
#: ``"small"``: a CPU-sized run of the simulated experiment.
MINDBRIDGE_RECIPES = {
    "paper": {"batch_size": 50, "bridge_epochs": 600, "adapt_epochs": 200, "adapt_steps": None,
              "lr": 1.5e-4, "adapt_lr": 1.5e-4, "scratch_lr": 3e-4, "weight_decay": 1e-2,
              "n_repeats": 3},
    "small": {"batch_size": 32, "bridge_epochs": 30, "adapt_epochs": None, "adapt_steps": 150,
              "lr": 2e-3, "adapt_lr": 2e-3, "scratch_lr": 2e-3, "weight_decay": 1e-2,
              "n_repeats": 3},
}


def one_cycle_schedule(epochs, *, final_div_factor=100.0, div_factor=25.0):
    """MindBridge's official learning-rate schedule, for :class:`~neurosim.decoding.Trainer`.

    :class:`~torch.optim.lr_scheduler.OneCycleLR` over all steps, rising from
    ``max_lr / div_factor`` to the trainer's ``lr`` during the first two epochs
    (``pct_start = 2 / epochs``, at most 0.5) and annealing to ``max_lr / (div_factor *
    final_div_factor)`` (``final_div_factor = 100``), as in the official ``prepare_scheduler``.

    Parameters
    ----------
    epochs : int
        The number of training epochs.
    final_div_factor, div_factor : float
        As in :class:`~torch.optim.lr_scheduler.OneCycleLR`.

    Returns
    -------
    scheduler : callable
        ``scheduler(optimizer, total_steps)``, the callable form of ``Trainer(scheduler=...)``.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding.model_selection import one_cycle_schedule
    >>> opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3)
    >>> sched = one_cycle_schedule(100)(opt, 1000)
    >>> round(sched.get_last_lr()[0], 8), sched.total_steps
    (4e-05, 1000)
    """
    from neurosim._utils import check_positive, check_size

    epochs = check_size("epochs", epochs)
    final_div_factor = check_positive("final_div_factor", final_div_factor)
    div_factor = check_positive("div_factor", div_factor)

    def make(optimizer, total_steps):
        import torch

        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=max(int(total_steps), 2), pct_start=min(2.0 / epochs, 0.5),
            div_factor=div_factor, final_div_factor=final_div_factor)

    return make


@fill_doc
def reset_tuning_curve(data, sources, target, budgets, *, config="small", model_kwargs=None,
                       bridge_epochs=None, adapt_epochs=None, adapt_steps=None, batch_size=None,
                       lr=None, adapt_lr=None, random_state=0, source_model=None, device=None,
                       progress=False):
    """Train a bridge on ``sources``, then reset-tune vs train from scratch on ``target``.

    The protocol of MindBridge's official scripts: every subject's training images carry their
    3 repetitions and training step ``i`` of an epoch uses repetition ``i % 3``
    (:func:`~neurosim.decoding.preprocessing.repetition_arrays`,
    :func:`~neurosim.decoding.mindbridge_batches`); the data budget is the paper's ``--length``:
    the first ``b`` images of **every** subject (sources included) during reset-tuning, and the
    target's first ``b`` images for the model trained from scratch; test responses are the
    repetition means of the shared images.

    Parameters
    ----------
    data : dict of str to xarray.Dataset
        Subjects as returned by :func:`neurosim.datasets.make_fmri_visual` or
        :func:`neurosim.datasets.find_nsd`.
    sources : list of str
        Source subjects of the bridge model.
    target : str
        New subject.
    budgets : list of int
        Numbers of training images per subject (budgets beyond the target's images are capped at
        them).
    config : {"small", "paper"}
        The model (:meth:`MindBridge.from_config <neurosim.decoding.MindBridge.from_config>`) and
        training recipe (:data:`MINDBRIDGE_RECIPES`); ``"paper"`` is the published one.
    model_kwargs : dict | None
        :class:`~neurosim.decoding.MindBridge` arguments replacing the configuration's (``heads``
        defaults to one vector head of the embedding's size for ``"small"``).
    bridge_epochs, adapt_epochs : int | None
        Epochs of bridge training and of each target model (None: the recipe's).
    adapt_steps : int | None
        If given, each target model (reset-tuned or from scratch) trains for about this many
        optimisation steps whatever the budget (the ``"small"`` recipe: 150), instead of
        ``adapt_epochs``.
    batch_size : int | None
        Samples per subject per step (None: the recipe's, 50 in the paper).
    lr, adapt_lr : float | None
        Peak learning rates of the bridge and of the target models (official one-cycle schedule,
        :func:`one_cycle_schedule`).
    %(random_state)s
        Seeds the models and the trainers (``seed`` for the bridge, ``seed + 1`` for the target
        models, ``seed + 1 + j`` for the trainers of budget ``j``, ``seed`` for the 2-way
        distractors).
    source_model : MindBridge | None
        A trained bridge to reuse (skips bridge training).
    %(device)s
    %(progress)s
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

    from ._mindbridge import MindBridge, reset_tune
    from ._trainer import Trainer
    from .metrics import forward_backward_retrieval
    from .preprocessing import repetition_arrays, stimulus_arrays
    from .samplers import mindbridge_batches

    if config not in MINDBRIDGE_RECIPES:
        raise ValueError(f"config must be one of {sorted(MINDBRIDGE_RECIPES)}, got {config!r}")
    recipe = dict(MINDBRIDGE_RECIPES[config])
    given = {"bridge_epochs": bridge_epochs, "adapt_epochs": adapt_epochs,
             "adapt_steps": adapt_steps, "batch_size": batch_size, "lr": lr, "adapt_lr": adapt_lr}
    recipe.update({k: v for k, v in given.items() if v is not None})
    if adapt_epochs is not None and adapt_steps is None:
        recipe["adapt_steps"] = None
    if adapt_lr is None and lr is not None and config == "small":
        recipe["adapt_lr"] = recipe["scratch_lr"] = lr
    seed = _int_seed(random_state)
    subjects = [*sources, target]
    n_vox = {s: int(data[s].sizes["voxel"]) for s in subjects}
    train = {s: repetition_arrays(data[s], split="train", n_repeats=recipe["n_repeats"])
             for s in subjects}
    test = {s: stimulus_arrays(data[s], split="test") for s in subjects}
    dim = train[target][2].shape[1]
    n_target = len(train[target][0])
    budgets = sorted({min(int(b), n_target) for b in budgets})  # as far as the data go
    kwargs = dict(MindBridge.named_configs()[config])
    if config == "small":
        kwargs["heads"] = {"image": (dim,)}
    else:  # the paper's token heads need token targets: a vector embedding gets one vector head
        kwargs["heads"] = {"image": tuple(np.asarray(train[target][2]).shape[1:])}
    kwargs.update(model_kwargs or {})
    bs = recipe["batch_size"]

    def trainer(epochs, offset, peak):
        return Trainer(max_epochs=epochs, lr=peak, weight_decay=recipe["weight_decay"],
                       scheduler=one_cycle_schedule(epochs), device=device,
                       random_state=seed + offset, progress=progress)

    def scores(model, subject, betas, embedding):
        head = next(iter(model.heads))
        pred = model.predict(betas, subject)[head].reshape(len(betas), -1)
        return forward_backward_retrieval(pred, np.asarray(embedding).reshape(len(embedding), -1),
                                          random_state=seed)

    if source_model is None:
        source_model = MindBridge(sources, n_vox, **{**kwargs, "random_state": seed})
        batches = mindbridge_batches(source_model, {s: train[s][0] for s in sources},
                                     {s: {"image": train[s][2]} for s in sources},
                                     batch_size=bs)
        trainer(recipe["bridge_epochs"], 0, recipe["lr"]).fit(source_model, batches)
    source_scores = [scores(source_model, s, test[s][0], test[s][2]) for s in sources]
    names = ["top1_forward", "top1_backward", "two_way"]
    values = {k: np.full((2, len(budgets)), np.nan) for k in names}
    voxels = {s: train[s][0] for s in subjects}
    targets = {s: {"image": train[s][2]} for s in subjects}
    for j, budget in enumerate(budgets):
        if recipe["adapt_steps"] is not None:
            steps_per_epoch = int(np.ceil(budget / bs))
            epochs = max(1, int(np.ceil(recipe["adapt_steps"] / steps_per_epoch)))
        else:
            epochs = recipe["adapt_epochs"]
        # reset-tuning: fresh target embedder/builder, the rest frozen, source batches mixed in,
        # the first `budget` images of every subject (the paper's --length)
        tuned = reset_tune(source_model, target, n_vox[target], random_state=seed + 1)
        trainer(epochs, 1 + j, recipe["adapt_lr"]).fit(tuned, mindbridge_batches(
            tuned, voxels, targets, batch_size=bs, target=target, length=budget))
        # baseline: the same architecture for the target alone, trained from scratch
        scratch = MindBridge([target], n_vox, **{**kwargs, "rec_mult": 0.0, "cyc_mult": 0.0,
                                                 "random_state": seed + 1})
        trainer(epochs, 1 + j, recipe["scratch_lr"]).fit(scratch, mindbridge_batches(
            scratch, {target: voxels[target]}, {target: targets[target]}, batch_size=bs,
            length=budget))
        for i, model in enumerate([tuned, scratch]):
            result = scores(model, target, test[target][0], test[target][2])
            for k in names:
                values[k][i, j] = result[k]
    curve = xr.Dataset(
        {k: (("training", "budget"), v, {"units": "fraction", "long_name": k.replace("_", " ")})
         for k, v in values.items()}
        | {"source_top1_forward": ("source_subject",
                                   np.array([s["top1_forward"] for s in source_scores]))},
        coords={"training": ["reset_tuning", "from_scratch"],
                "budget": ("budget", np.asarray(budgets, dtype=np.int64),
                           {"units": "images", "long_name": "training images per subject"}),
                "source_subject": list(sources)},
        attrs={"target_subject": target, "n_test_stimuli": int(len(test[target][0])),
               "chance_top1": 1.0 / len(test[target][0]), "chance_two_way": 0.5,
               "config": config, "bridge_epochs": int(recipe["bridge_epochs"]),
               "adapt_steps": -1 if recipe["adapt_steps"] is None else int(recipe["adapt_steps"]),
               "adapt_epochs": -1 if recipe["adapt_epochs"] is None else int(recipe["adapt_epochs"]),
               "batch_size": int(bs), "lr": float(recipe["lr"]),
               "adapt_lr": float(recipe["adapt_lr"]), "n_repeats": int(recipe["n_repeats"])},
    )
    return curve, source_model


# ==============================================================================================
# BraInCoRL
# ==============================================================================================
@fill_doc
def meta_train(data, subjects, *, model_kwargs, task_kwargs, epochs=8, lr=3e-3, weight_decay=1e-2,
               random_state=0, device=None, progress=False):
    """Meta-train :class:`~neurosim.decoding.BraInCoRL` on the voxels of ``subjects``.

    As in the official code, only each subject's **unique** (non-shared) images are used, so
    the shared test images are never seen during meta-training. (The official recipe is AdamW
    with ``lr=1e-4``, ``weight_decay=0.1``, dropout 0.5 and a ReduceLROnPlateau schedule on a
    weight-space validation loss over 100 epochs of every voxel; here the schedule is one-cycle.)

    Parameters
    ----------
    data : dict of str to xarray.Dataset | dict of str to tuple
        Subjects as returned by :func:`neurosim.datasets.make_fmri_visual` (the repeat-averaged
        responses to the subject's own, non-shared stimuli are used), or ``subject ->
        (embeddings, responses)`` arrays of shapes (n_images, E) and (n_images, n_voxels).
    subjects : list of str
        Training subjects.
    model_kwargs, task_kwargs : dict
        Arguments of :class:`~neurosim.decoding.BraInCoRL` and
        :func:`~neurosim.decoding.braincorl_tasks`.
    epochs : int
        Trainer epochs (``task_kwargs["steps_per_epoch"]`` batches each).
    lr : float
        Peak learning rate (one-cycle schedule).
    weight_decay : float
        AdamW weight decay (0.1 in the official script).
    %(random_state)s
        Seeds the model and the trainer.
    %(device)s
    %(progress)s
        Progress bar.

    Returns
    -------
    model : BraInCoRL
    trainer : Trainer
    """
    from ._braincorl import BraInCoRL
    from ._trainer import Trainer
    from .preprocessing import stimulus_arrays
    from .samplers import braincorl_tasks

    seed = _int_seed(random_state)
    arrays = {}
    for s in subjects:
        if isinstance(data[s], tuple):
            arrays[s] = (np.asarray(data[s][0]), np.asarray(data[s][1]))
        else:
            betas, _, emb = stimulus_arrays(data[s], split="train")  # unique images only
            arrays[s] = (emb, betas)
    tasks = braincorl_tasks({s: a[0] for s, a in arrays.items()},
                            {s: a[1] for s, a in arrays.items()}, **task_kwargs)
    dim = next(iter(arrays.values()))[0].shape[1]
    model = BraInCoRL(dim, random_state=seed, **model_kwargs)
    trainer = Trainer(max_epochs=epochs, lr=lr, weight_decay=weight_decay, scheduler="onecycle",
                      device=device, random_state=seed, progress=progress)
    trainer.fit(model, tasks)
    return model, trainer


@fill_doc
def scaling_curve(model, ds, context_sizes, *, n_draws=4, random_state=0, ridge_device=None,
                  context_order=None):
    """Explained variance on held-out images vs number of in-context images, for one subject.

    Three encoders write each voxel's linear model from the same ``n`` context images:
    BraInCoRL (no gradient step), :class:`~neurosim.decoding.TorchRidgeCV` (penalty per voxel by
    5-fold cross-validated squared error, leave-one-out below 10 images, unpenalised intercept,
    refit on all images) and :class:`~neurosim.decoding.BraInCoRLRidgeCV` (the paper's baseline:
    penalised bias, explained-variance-based sequential 5-fold CV, fold-averaged weights), next to
    the ground truth when known.

    Parameters
    ----------
    model : BraInCoRL
        Meta-trained model.
    ds : xarray.Dataset | dict
        The held-out subject: a ``make_fmri_visual`` Dataset (context from its own stimuli, test
        on the shared ones, ground truth from ``weights`` and ``bias``), or a dict of arrays
        ``context_embeddings``, ``context_responses``, ``test_embeddings``, ``test_responses``
        and optionally ``weights`` (n_voxels, E) and ``bias`` (n_voxels,), plus ``subject``
        (:func:`neurosim.datasets.find_nsd_braincorl`'s held-out subject).
    context_sizes : list of int
        Numbers of in-context images.
    n_draws : int
        Independent context draws per size (disjoint when the subject has enough images).
    %(random_state)s
        Seed of the draws.
    ridge_device : str | None
        Device of the ridge models.
    context_order : array-like of int | None
        The order in which context images are taken: draw ``d`` of size ``n`` uses
        ``context_order[d n : (d + 1) n]`` (the official test takes consecutive blocks of
        ``test_time_icl_idx.json["large_shuffled"]``, which
        :func:`neurosim.datasets.find_nsd_braincorl` returns as ``context_order``). None: the
        ``context_order`` entry of a dict ``ds`` when it has one, else a permutation drawn from
        ``random_state``.

    Returns
    -------
    curve : xarray.Dataset
        ``explained_variance`` (encoder, context_size, draw), the voxel mean, and
        ``weight_cosine`` (encoder, context_size, draw) against the ground truth; encoder in
        ``["braincorl", "ridge", "ridge_official", "ground_truth"]``.
    """
    import xarray as xr

    from neurosim._utils import check_random_state

    from .baselines import BraInCoRLRidgeCV, TorchRidgeCV
    from .metrics import explained_variance
    from .preprocessing import stimulus_arrays

    if isinstance(ds, dict):
        ctx_x, ctx_y = np.asarray(ds["context_embeddings"]), np.asarray(ds["context_responses"])
        test_x, test_y = np.asarray(ds["test_embeddings"]), np.asarray(ds["test_responses"])
        gt = (ds.get("weights"), ds.get("bias"))
        subject = str(ds.get("subject", ""))
        if context_order is None:
            context_order = ds.get("context_order")
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
    rng = check_random_state(random_state)
    if context_order is not None:
        context_order = np.asarray(context_order, dtype=np.int64).ravel()
        if context_order.size and (context_order.min() < 0 or context_order.max() >= len(ctx_y)):
            raise ValueError(f"context_order must index the {len(ctx_y)} context images")
    methods = ["braincorl", "ridge", "ridge_official", "ground_truth"]
    ev = np.full((len(methods), len(context_sizes), n_draws), np.nan)
    cos = np.full((len(methods), len(context_sizes), n_draws), np.nan)

    def _cos(w):
        num = np.sum(w * gt_w, axis=1)
        den = np.linalg.norm(w, axis=1) * np.linalg.norm(gt_w, axis=1)
        return float(np.mean(num / np.where(den > 0, den, 1.0)))

    for j, n in enumerate(context_sizes):
        if n > len(ctx_y):
            raise ValueError(f"context size {n} exceeds the {len(ctx_y)} training images of "
                             f"subject {subject!r}")
        order = rng.permutation(len(ctx_y)) if context_order is None else context_order
        for d in range(n_draws):
            if context_order is None:
                start = (d * n) % max(1, len(ctx_y) - n + 1)
            else:
                start = d * n
                if start + n > len(order):
                    raise ValueError(f"context_order has {len(order)} entries, fewer than "
                                     f"{n_draws} draws of {n} images need")
            idx = order[start:start + n]
            w, b = model.fit_voxels(ctx_x[idx], ctx_y[idx])
            ev[0, j, d] = np.mean(explained_variance(test_y, test_x @ w.T + b))
            ridge = TorchRidgeCV(cv=5 if n >= 10 else None, device=ridge_device)
            ridge.fit(ctx_x[idx], ctx_y[idx])
            ev[1, j, d] = np.mean(explained_variance(test_y, ridge.predict(test_x)))
            official = None
            if n >= 2:  # 5 sequential folds (fewer below 5 images)
                official = BraInCoRLRidgeCV(n_folds=min(5, n), device=ridge_device)
                official.fit(ctx_x[idx], ctx_y[idx])
                ev[2, j, d] = np.mean(explained_variance(test_y, official.predict(test_x)))
            if has_gt:
                ev[3, j, d] = gt_ev
                cos[0, j, d] = _cos(w)
                cos[1, j, d] = _cos(np.asarray(ridge.coef_))
                if official is not None:
                    cos[2, j, d] = _cos(np.asarray(official.coef_))
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


# ==============================================================================================
# fMRI classification by run (Haxby et al. 2001)
# ==============================================================================================
def leave_one_run_out(estimator, X, y, runs, *, n_permutations=0, random_state=0):
    """Leave-one-run-out accuracy of a classifier, and its permutation test.

    For each run, a fresh copy of ``estimator`` (:func:`sklearn.base.clone`) is fitted on the
    other runs and scored on it; an estimator whose ``fit`` takes ``groups`` (e.g.
    :class:`~neurosim.decoding.TorchRidgeClassifierCV` with
    ``cv=LeaveOneGroupOut()``) gets the training runs, so that its own penalty is chosen by run
    too. With ``n_permutations``, the whole cross-validation is repeated on labels shuffled within
    each run (:func:`~neurosim.decoding.metrics.permutation_test`; for a scikit-learn estimator
    this equals :func:`sklearn.model_selection.permutation_test_score` with
    ``cv=LeaveOneGroupOut()``).

    Parameters
    ----------
    estimator : scikit-learn classifier | dict of str to classifier
        Any estimator with ``fit`` and ``predict`` (e.g.
        :class:`~neurosim.decoding.CorrelationClassifier`,
        :class:`~neurosim.decoding.FMRIClassifier`). A dict of several: each is scored, and the
        permutation test is on the **best** of them (the maximum accuracy over the dict, on the
        true and on every shuffled labelling), so that picking the best does not bias its
        p-value.
    X : array-like, shape (n_samples, n_features)
    y : array-like, shape (n_samples,)
    runs : array-like, shape (n_samples,)
        The run of each sample.
    n_permutations : int
        Shuffles of the permutation test (0: none). The smallest p-value reachable is
        ``1 / (n_permutations + 1)``: at least 19 are needed for p <= 0.05.
    random_state : int | numpy.random.Generator | None
        Seeds the shuffles.

    Returns
    -------
    result : dict
        ``accuracy`` (mean over runs; for a dict, per name), ``fold_accuracy`` (per run, array
        or dict of arrays), and with ``n_permutations``: ``best`` (a dict's best name),
        ``pvalue`` and ``permutation_scores``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import CorrelationClassifier, leave_one_run_out
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 30)
    >>> X = rng.normal(size=(60, 20)) + 0.8 * y[:, None] * (np.arange(20) < 5)
    >>> res = leave_one_run_out(CorrelationClassifier(), X, y, np.repeat(np.arange(3), 20),
    ...                         n_permutations=19)
    >>> res["accuracy"] > 0.7, res["pvalue"]
    (True, 0.05)
    """
    import inspect
    from collections.abc import Mapping

    from sklearn.base import clone
    from sklearn.model_selection import LeaveOneGroupOut

    from neurosim._utils import check_size

    from .metrics import permutation_test

    X = np.asarray(getattr(X, "values", X))
    y = np.asarray(getattr(y, "values", y))
    runs = np.asarray(getattr(runs, "values", runs))
    if X.ndim != 2 or len(X) != len(y) or y.shape != runs.shape:
        raise ValueError(f"X (n_samples, n_features), y and runs (n_samples,) must match, got "
                         f"{X.shape}, {y.shape} and {runs.shape}")
    n_runs = len(np.unique(runs))
    if n_runs < 2:
        raise ValueError(f"leave-one-run-out needs at least 2 runs, got {n_runs}")
    n_permutations = check_size("n_permutations", n_permutations, minimum=0)
    single = not isinstance(estimator, Mapping)
    estimators = {"estimator": estimator} if single else dict(estimator)
    if not estimators:
        raise ValueError("estimator must be a classifier or a non-empty dict of them")
    splits = list(LeaveOneGroupOut().split(X, y, runs))

    def folds(est, labels):
        takes_groups = "groups" in inspect.signature(est.fit).parameters
        out = []
        for train, test in splits:
            model = clone(est)
            kwargs = {"groups": runs[train]} if takes_groups else {}
            model.fit(X[train], labels[train], **kwargs)
            out.append(float(np.mean(np.asarray(model.predict(X[test])) == labels[test])))
        return np.asarray(out)

    fold_acc = {name: folds(est, y) for name, est in estimators.items()}
    acc = {name: float(f.mean()) for name, f in fold_acc.items()}
    result = {"accuracy": acc["estimator"] if single else acc,
              "fold_accuracy": fold_acc["estimator"] if single else fold_acc}
    if n_permutations:
        best = max(acc, key=acc.get)

        def score(labels):
            if labels is y:
                return acc[best]
            return max(float(folds(est, labels).mean()) for est in estimators.values())

        _, perm, pvalue = permutation_test(score, y, groups=runs, n_permutations=n_permutations,
                                           random_state=random_state)
        result.update({"pvalue": pvalue, "permutation_scores": perm})
        if not single:
            result["best"] = best
    return result
