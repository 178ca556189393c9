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
    scratch on a new subject, per budget of its trials.
BraInCoRL (in-context voxelwise encoding)
    :func:`meta_train` and :func:`scaling_curve` (explained variance against the number of
    in-context images, with ridge and the ground truth).

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
    "leave_one_subject_out_split",
    "majority_vote_labels",
    "meta_train",
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
@fill_doc
def reset_tuning_curve(data, sources, target, budgets, *, model_kwargs, bridge_epochs=10,
                       adapt_steps=200, batch_size=32, lr=1e-3, random_state=0,
                       source_model=None, device=None, progress=False):
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
    from .preprocessing import stimulus_arrays, trial_arrays
    from .samplers import mindbridge_batches

    seed = _int_seed(random_state)
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

    def scores(model, subject, betas, embedding):
        head = next(iter(model.heads))
        pred = model.predict(betas, subject)[head].reshape(len(betas), -1)
        return forward_backward_retrieval(pred, np.asarray(embedding).reshape(len(embedding), -1),
                                          random_state=seed)

    if source_model is None:
        source_model = MindBridge(sources, n_vox, random_state=seed, **kwargs)
        batches = mindbridge_batches(source_model, {s: train[s][0] for s in sources},
                                     {s: {"image": train[s][2]} for s in sources},
                                     batch_size=batch_size)
        trainer(bridge_epochs, 0).fit(source_model, batches)
    source_scores = [scores(source_model, s, test[s][0], test[s][2]) for s in sources]
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
                           {"units": "trials", "long_name": "target-subject training trials"}),
                "source_subject": list(sources)},
        attrs={"target_subject": target, "n_test_stimuli": int(len(test[target][0])),
               "chance_top1": 1.0 / len(test[target][0]), "chance_two_way": 0.5,
               "adapt_steps": int(adapt_steps), "bridge_epochs": int(bridge_epochs)},
    )
    return curve, source_model


# ==============================================================================================
# BraInCoRL
# ==============================================================================================
@fill_doc
def meta_train(data, subjects, *, model_kwargs, task_kwargs, epochs=8, lr=3e-3, random_state=0,
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


@fill_doc
def scaling_curve(model, ds, context_sizes, *, n_draws=4, random_state=0, ridge_device=None):
    """Explained variance on held-out images vs number of in-context images, for one subject.

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
        Device of :class:`~neurosim.decoding.TorchRidgeCV`.

    Returns
    -------
    curve : xarray.Dataset
        ``explained_variance`` (encoder, context_size, draw), the voxel mean, and
        ``weight_cosine`` (encoder, context_size, draw) for ``braincorl`` and ``ridge`` against
        the ground truth; encoder in ``["braincorl", "ridge", "ground_truth"]``.
    """
    import xarray as xr

    from neurosim._utils import check_random_state

    from .baselines import TorchRidgeCV
    from .metrics import explained_variance
    from .preprocessing import stimulus_arrays

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
    rng = check_random_state(random_state)
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
