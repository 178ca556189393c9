"""BrainFLORA's training and evaluation protocol (re-exported by
:mod:`neurosim.decoding.model_selection`).

As the official code runs it (``Retrieval/train_retrieval.py``, ``train/train_unified_encoder.py``
and ``eval/reproduce_retrieval.py`` of ``ncclab-sustech/BrainFLORA``): each modality's tower is
trained on single trials with the subjects pooled, AdamW (lr 3e-4, weight decay 0.01), batches of
100, gradient-norm clipping at 1, no schedule, 150 epochs; the unified stage trains the soft
mixture-of-experts projector on the frozen towers with batches of 250 for 150 epochs; retrieval is
evaluated per subject, k-way with one random draw of distractors per test image and k, ranking the
candidates by ``tau * f @ g`` (the dot product with unnormalised image features).
:data:`BRAINFLORA_RECIPES` holds these settings (``"paper"``) and a CPU-sized schedule
(``"small"``, with cosine ranking averaged over 10 draws).

Examples
--------
>>> from neurosim.decoding.model_selection import BRAINFLORA_RECIPES, brainflora_recipe
>>> BRAINFLORA_RECIPES["paper"]["lr"], BRAINFLORA_RECIPES["paper"]["similarity"]
(0.0003, 'dot')
>>> brainflora_recipe("paper", epochs=5)["epochs"]
5
"""

from __future__ import annotations

import numpy as np

__all__ = ["BRAINFLORA_RECIPES", "brainflora_retrieval", "fit_brainflora", "retrieval_by_subject",
           "ridge_retrieval_baseline"]

#: training and evaluation settings: the model configuration (:meth:`BrainFLORA.from_config`),
#: epochs and batch sizes of both stages, AdamW, ranking and distractor draws
BRAINFLORA_RECIPES = {
    "paper": {"model": "paper", "epochs": 150, "unified_epochs": 150, "batch_size": 100,
              "unified_batch_size": 250, "lr": 3e-4, "weight_decay": 0.01, "grad_clip": 1.0,
              "similarity": "dot", "n_draws": 1},
    "small": {"model": "small", "epochs": 40, "unified_epochs": 10, "batch_size": 64,
              "unified_batch_size": 64, "lr": 2e-3, "weight_decay": 0.01, "grad_clip": 1.0,
              "similarity": "cosine", "n_draws": 10},
}


def brainflora_recipe(config="small", **overrides):
    """The settings of a named configuration (:data:`BRAINFLORA_RECIPES`) with overrides.

    Parameters
    ----------
    config : "paper" | "small" | dict
        A name, or a full settings dict.
    **overrides
        Entries to replace (None leaves an entry as it is).

    Returns
    -------
    recipe : dict
    """
    if isinstance(config, str):
        if config not in BRAINFLORA_RECIPES:
            raise ValueError(f"unknown BrainFLORA configuration {config!r}; expected one of "
                             f"{sorted(BRAINFLORA_RECIPES)}")
        recipe = dict(BRAINFLORA_RECIPES[config])
    elif isinstance(config, dict):
        recipe = {**BRAINFLORA_RECIPES["small"], **config}
    else:
        raise TypeError(f"config must be one of {sorted(BRAINFLORA_RECIPES)} or a dict, got "
                        f"{type(config).__name__}")
    unknown = sorted(set(overrides) - set(BRAINFLORA_RECIPES["paper"]))
    if unknown:
        raise ValueError(f"unknown BrainFLORA settings {unknown}; expected some of "
                         f"{sorted(BRAINFLORA_RECIPES['paper'])}")
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    return recipe


def fit_brainflora(data, *, config="small", epochs=None, unified_epochs=None, batch_size=None,
                   lr=None, weight_decay=None, equal_epochs=False, model_kwargs=None,
                   random_state=0, device=None, progress=False):
    """Train BrainFLORA: the modality towers, then the unified projector (towers frozen).

    Round-robin single-modality batches (:func:`~neurosim.decoding.round_robin_batches`), AdamW
    with gradient-norm clipping, no schedule, as the official code.

    Parameters
    ----------
    data : dict of str to dict
        Per modality, :func:`~neurosim.decoding.prepare_retrieval_data`'s output (``"train"``
        with ``x`` and ``y``).
    config : "paper" | "small" | dict
        Model and training settings (:data:`BRAINFLORA_RECIPES`); the arguments below override
        them.
    epochs, unified_epochs : int | None
        Epochs of tower training and of the unified stage.
    batch_size : int | None
        Samples per batch of the tower stage (the unified stage uses ``unified_batch_size``).
    lr, weight_decay : float | None
        AdamW settings of both stages.
    equal_epochs : bool
        Also train a copy of the towers alone for ``unified_epochs`` more epochs, so that the
        single-modality model (``"uni"``) and the unified one (``"multi"``) have had the same
        number of epochs (the control of the "unified beats single-modality" comparison).
    model_kwargs : dict | None
        Constructor arguments replacing those of the configuration's model.
    random_state : int | numpy.random.Generator | None
        Seeds the model (``seed``), the towers' trainer (``seed``) and the unified trainer and
        the towers' continued training (``seed + 1``).
    device : str | None
        Trainer device.
    progress : bool
        Progress bars.

    Returns
    -------
    model : BrainFLORA
        In the unified stage (``model.unify(False)`` gives the single-modality towers after
        ``epochs``).
    history_towers, history_unified : xarray.Dataset
        The two trainers' ``history_``.
    uni : BrainFLORA
        Only with ``equal_epochs``: the towers trained for ``epochs + unified_epochs`` epochs.
    """
    import copy

    from ._brainflora import BrainFLORA
    from ._trainer import Trainer
    from .model_selection import _int_seed
    from .samplers import round_robin_batches

    r = brainflora_recipe(config, epochs=epochs, unified_epochs=unified_epochs,
                          batch_size=batch_size, lr=lr, weight_decay=weight_decay)
    seed = _int_seed(random_state)
    shapes = {m: tuple(d["train"]["x"].shape[1:]) for m, d in data.items()}
    embed_dim = int(next(iter(data.values()))["train"]["y"].shape[1])
    model = BrainFLORA.from_config(r["model"], **{"input_shapes": shapes, "embed_dim": embed_dim,
                                                  "random_state": seed, **(model_kwargs or {})})
    arrays = {m: (d["train"]["x"], d["train"]["y"]) for m, d in data.items()}

    def trainer(n_epochs, s):
        return Trainer(max_epochs=n_epochs, lr=r["lr"], weight_decay=r["weight_decay"],
                       grad_clip=r["grad_clip"], random_state=s, progress=progress,
                       device=device)

    towers = trainer(r["epochs"], seed).fit(model, round_robin_batches(arrays, r["batch_size"]))
    uni = copy.deepcopy(model) if equal_epochs else None
    model.unify()
    multi = trainer(r["unified_epochs"], seed + 1).fit(
        model, round_robin_batches(arrays, r["unified_batch_size"]))
    if not equal_epochs:
        return model, towers.history_, multi.history_
    trainer(r["unified_epochs"], seed + 1).fit(uni, round_robin_batches(arrays, r["batch_size"]))
    return model, towers.history_, multi.history_, uni


def retrieval_by_subject(pred, test, *, k_ways=(2, 4, 10, None), random_state=0,
                         similarity="cosine", n_draws=10):
    """:func:`~neurosim.decoding.metrics.retrieval_scores` of each subject's test images.

    Parameters
    ----------
    pred : numpy.ndarray, shape (n, dim)
        Predicted embeddings of the rows of ``test``.
    test : dict
        ``y`` (true embeddings, (n, dim)) and ``subject`` (n,), as in
        :func:`~neurosim.decoding.prepare_retrieval_data`'s ``"test"``.
    k_ways : sequence of int | None
        As in :func:`~neurosim.decoding.metrics.retrieval_scores`.
    random_state : int | numpy.random.Generator | None
        Seed of the distractor draws (the same for every subject).
    similarity : "cosine" | "dot"
        Ranking (official: ``"dot"`` of ``tau * pred``, see :func:`brainflora_retrieval`).
    n_draws : int
        Distractor draws per image and k (official: 1).

    Returns
    -------
    scores : dict of str to dict of str to float
        Per subject, the retrieval scores.
    """
    from .metrics import retrieval_scores

    out = {}
    for s in np.unique(test["subject"]):
        sel = test["subject"] == s
        out[str(s)] = retrieval_scores(pred[sel], test["y"][sel], k_ways=k_ways,
                                       random_state=random_state, similarity=similarity,
                                       n_draws=n_draws)
    return out


def brainflora_retrieval(model, data, *, config="small", k_ways=(2, 4, 10, None),
                         random_state=0, batch_size=256):
    """Per-subject retrieval of a trained BrainFLORA on each modality's test set.

    With ``config="paper"`` the candidates are ranked as the official evaluation does, by
    ``tau * f @ g`` with the unnormalised image features ``g`` (one distractor draw per image and
    k); with ``"small"`` by cosine similarity, averaged over 10 draws.

    Parameters
    ----------
    model : BrainFLORA
        Trained (in the stage to evaluate: ``model.unify(...)``).
    data : dict of str to dict
        Per modality, :func:`~neurosim.decoding.prepare_retrieval_data`'s output.
    config : "paper" | "small" | dict
        Ranking and draws (:data:`BRAINFLORA_RECIPES`).
    k_ways : sequence of int | None
        As in :func:`~neurosim.decoding.metrics.retrieval_scores`.
    random_state : int | numpy.random.Generator | None
        Seed of the distractor draws.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    scores : dict of str to dict of str to dict of str to float
        Per modality, per subject, the retrieval scores.
    """
    r = brainflora_recipe(config)
    out = {}
    for m, d in data.items():
        pred = model.predict(d["test"]["x"], m, batch_size=batch_size)
        if r["similarity"] == "dot":
            pred = pred * float(model.temperature(m).detach())  # the sign of tau matters
        out[m] = retrieval_by_subject(pred, d["test"], k_ways=k_ways, random_state=random_state,
                                      similarity=r["similarity"], n_draws=r["n_draws"])
    return out


def ridge_retrieval_baseline(train, test, *, k_ways=(2, 4, 10, None), random_state=0,
                             device=None, max_train=None, similarity="cosine", n_draws=10):
    """Per-subject retrieval of a ridge regression from the flattened sample to the embedding.

    :class:`~neurosim.decoding.TorchRidgeCV` with one penalty for all targets chosen by 5-fold
    cross-validation among ``logspace(0, 6, 13)``.

    Parameters
    ----------
    train, test : dict
        :func:`~neurosim.decoding.prepare_retrieval_data`'s ``"train"`` and ``"test"``.
    k_ways : sequence of int | None
        As in :func:`~neurosim.decoding.metrics.retrieval_scores`.
    random_state : int | numpy.random.Generator | None
        Seed of the distractor draws and of the subsample.
    device : str | None
        Ridge device.
    max_train : int | None
        Fit on at most this many training samples drawn at random (the full THINGS-EEG2
        training set of 10 subjects, 661,600 trials x 15,750 features, does not fit in memory).
    similarity : "cosine" | "dot"
        Ranking of the candidates.
    n_draws : int
        Distractor draws per image and k.

    Returns
    -------
    scores : dict of str to dict of str to float
        Per subject, the retrieval scores (see :func:`retrieval_by_subject`).
    """
    from neurosim._utils import check_random_state

    from .baselines import TorchRidgeCV

    n = len(train["x"])
    idx = np.arange(n)
    if max_train is not None and n > max_train:
        idx = np.sort(check_random_state(random_state).choice(n, int(max_train), replace=False))
    X = np.asarray(train["x"][idx] if len(idx) < n else train["x"], dtype=np.float32)
    ridge = TorchRidgeCV(alphas=np.logspace(0, 6, 13), cv=5, alpha_per_target=False, device=device)
    ridge.fit(X.reshape(len(X), -1), np.asarray(train["y"])[idx])
    pred = ridge.predict(np.asarray(test["x"], dtype=np.float32).reshape(len(test["x"]), -1))
    return retrieval_by_subject(pred, test, k_ways=k_ways, random_state=random_state,
                                similarity=similarity, n_draws=n_draws)
