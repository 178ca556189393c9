"""Batch streams for :class:`~neurosim.decoding.Trainer`: how each decoder's training data are drawn.

Each function checks the data once and returns ``train(epoch, generator) -> list of batches``, the
callable form the Trainer accepts; the ``generator`` (a seeded :class:`torch.Generator`) makes
every epoch's draw reproducible.

- :func:`round_robin_batches`: single-modality batches of several modalities in turn
  (BrainFLORA).
- :func:`mindbridge_batches`: a batch of every subject per step, or target + one rotating source
  subject for reset-tuning (MindBridge).
- :func:`braincorl_tasks`: in-context tasks with random context sizes over voxels and subjects
  (BraInCoRL meta-training).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["braincorl_tasks", "mindbridge_batches", "round_robin_batches"]


def _shared_tensor(a):
    """A tensor on ``a``'s memory (no copy; a read-only memory map is only ever read)."""
    import warnings

    if not a.flags.c_contiguous:
        return torch.as_tensor(np.ascontiguousarray(a))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(a)


def round_robin_batches(data, batch_size, *, drop_last=True):
    """Single-modality batches of several modalities, taken in turn: a ``train`` for the Trainer.

    Parameters
    ----------
    data : dict of str to (array, array)
        Per modality, ``(x, target)`` with the subjects pooled.
    batch_size : int
        Samples per batch.
    drop_last : bool
        Drop each modality's last incomplete batch (contrastive losses want full batches).

    Returns
    -------
    train : callable
        ``train(epoch, generator)`` returning the epoch's batches, dicts ``{"modality", "x",
        "target"}``: a shuffled batch of the first modality, then of the second, ... cycling until
        every modality's batches are used.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from neurosim.decoding import round_robin_batches
    >>> data = {"eeg": (np.zeros((8, 2, 5)), np.zeros((8, 3))), "fmri": (np.zeros((4, 6)),
    ...                                                               np.zeros((4, 3)))}
    >>> batches = round_robin_batches(data, 4)(1, torch.Generator().manual_seed(0))
    >>> [b["modality"] for b in batches]
    ['eeg', 'fmri', 'eeg']
    """
    tensors = {}
    for m, (x, y) in data.items():
        # memory-mapped arrays (prepare_retrieval_data(out=...)) stay on disk: batches are gathered
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{m}: x has {x.shape[0]} samples but target has {y.shape[0]}")
        for a in (x, y):
            for i in range(0, a.shape[0], 4096):  # in chunks: no full-size temporary
                if not np.isfinite(a[i:i + 4096]).all():
                    raise ValueError(f"{m}: data contain NaN or inf values")
        x, y = (_shared_tensor(a) for a in (x, y))
        if x.shape[0] < (batch_size if drop_last else 1):
            raise ValueError(f"{m} has {x.shape[0]} samples, fewer than batch_size={batch_size}")
        tensors[m] = (x, y)

    def train(epoch, generator):
        queues = {}
        for m, (x, _) in tensors.items():
            order = torch.randperm(x.shape[0], generator=generator)
            n = x.shape[0] // batch_size if drop_last else math.ceil(x.shape[0] / batch_size)
            queues[m] = [order[i * batch_size:(i + 1) * batch_size] for i in range(n)]
        batches = []
        while any(queues.values()):
            for m, q in queues.items():
                if q:
                    idx = q.pop(0)
                    x, y = tensors[m]
                    batches.append({"modality": m, "x": x[idx], "target": y[idx]})
        return batches

    return train


def mindbridge_batches(model, voxels, targets, *, batch_size=50, target=None, length=None):
    """Build the batch stream of MindBridge training for :meth:`neurosim.decoding.Trainer.fit`.

    Follows the official trainer (``src/trainer.py``, ``src/data.py``). Voxel vectors are pooled
    once (on the data side, as there). Each subject's images are shuffled independently every
    epoch and served in batches of ``batch_size`` (the last one of an epoch may be smaller):

    - bridge training (``target=None``): every step concatenates the next batch of **every**
      subject; an epoch ends when the subject with the fewest images runs out (the official
      ``zip`` over the subjects' loaders);
    - reset-tuning (``target=subject``): every step concatenates a batch of **one** source
      subject (``step % n_sources``, rotating) and the next batch of the target; an epoch is one
      pass over the target's images.

    With repetitions (``voxels[s]`` of shape ``(n_images, n_repeats, n_voxels)``, as in the
    MindEye1 webdataset: :func:`neurosim.datasets.load_mindeye_webdataset`), step ``i`` of an
    epoch uses repetition ``i % n_repeats`` of every image in it (the official
    ``repeat_index = train_i % 3``).

    Parameters
    ----------
    model : MindBridge
        Supplies the subject order and the pooling.
    voxels : dict of str to array
        Training fMRI per subject: ``(n_images_s, n_voxels[s])`` (one row per trial or image)
        or ``(n_images_s, n_repeats, n_voxels[s])`` (the repetitions of each image).
    targets : dict of str to dict of str to array
        Per subject, per head, ``(n_images_s, *heads[head])`` target embeddings (one per image).
    batch_size : int
        Samples per subject per step (50 in the paper).
    target : str | None
        The reset-tuned subject, or None for bridge training over all subjects in ``voxels``.
    length : int | None
        The paper's data budget (``--length``): only the first ``length`` images of **every**
        subject, sources included, are used. As in the official data set class, a ``length``
        larger than a subject's images enlarges its epoch to ``length`` samples, cycling through
        the images.

    Returns
    -------
    train : callable
        ``train(epoch, generator) -> list of dict batches`` (``"voxels"``, ``"subject"`` and one
        tensor per head), the callable form accepted by the Trainer.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import MindBridge, mindbridge_batches
    >>> m = MindBridge(["a", "b"], [30, 20], pool_size=16, hidden_dim=8, adapter_rank=2,
    ...                n_blocks=1, heads={"image": (4,)})
    >>> rng = np.random.default_rng(0)
    >>> vox = {"a": rng.normal(size=(10, 30)), "b": rng.normal(size=(10, 20))}
    >>> tgt = {s: {"image": rng.normal(size=(10, 4))} for s in vox}
    >>> batches = mindbridge_batches(m, vox, tgt, batch_size=5)(0, None)
    >>> len(batches), tuple(batches[0]["voxels"].shape)
    (2, (10, 16))
    """
    from neurosim._utils import check_size

    batch_size = check_size("batch_size", batch_size)
    if length is not None:
        length = check_size("length", length)
    if not isinstance(voxels, Mapping) or not voxels:
        raise TypeError("voxels must be a non-empty dict of subject -> array")
    pooled, tgts, sizes = {}, {}, {}
    n_repeats = None
    for s, x in voxels.items():
        model.check_input(None, s)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2:
            x = x[:, None, :]
        if x.ndim != 3:
            raise ValueError(f"voxels[{s!r}] must be (n_images, n_voxels) or (n_images, "
                             f"n_repeats, n_voxels), got shape {x.shape}")
        if n_repeats is None:
            n_repeats = x.shape[1]
        elif x.shape[1] != n_repeats:
            raise ValueError(f"every subject needs the same number of repetitions per image: "
                             f"{s!r} has {x.shape[1]}, others {n_repeats}")
        if not np.isfinite(x).all():
            raise ValueError(f"voxels[{s!r}] contain NaN or inf values")
        if s not in targets:
            raise ValueError(f"targets has no entry for subject {s!r}")
        t = {}
        for name, shape in model.heads.items():
            if name not in targets[s]:
                raise ValueError(f"targets[{s!r}] has no {name!r} head")
            arr = np.asarray(targets[s][name], dtype=np.float32)
            if arr.shape != (len(x), *shape):
                raise ValueError(f"targets[{s!r}][{name!r}] must have shape "
                                 f"{(len(x), *shape)}, got {arr.shape}")
            t[name] = torch.from_numpy(arr)
        if len(x) == 0:
            raise ValueError(f"voxels[{s!r}] holds no images")
        if length is not None:
            x, t = x[:length], {k: v[:length] for k, v in t.items()}
        pooled[s] = model.pool(torch.from_numpy(x), s)  # (n_images, n_repeats, pool_size)
        tgts[s] = t
        sizes[s] = len(x) if length is None else length  # an enlarged epoch cycles the images
    if target is not None:
        if target not in pooled:
            raise ValueError(f"target {target!r} is not among the subjects of voxels "
                             f"({list(pooled)})")
        sources = [s for s in pooled if s != target]
        if not sources:
            raise ValueError("reset-tuning needs at least one source subject besides the target")
    index = {s: model.subjects.index(s) for s in pooled}

    def _take(s, idx, rep):
        idx = idx % len(pooled[s])
        return ({"voxels": pooled[s][idx, rep],
                 "subject": torch.full((len(idx),), index[s], dtype=torch.long)}
                | {k: v[idx] for k, v in tgts[s].items()})

    def _cat(parts):
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def _loader(s, generator):
        """One shuffled pass over subject s: its batches of indices (last one partial)."""
        perm = torch.randperm(sizes[s], generator=generator)
        return [perm[i:i + batch_size] for i in range(0, sizes[s], batch_size)]

    def train(epoch, generator):
        loaders = {s: _loader(s, generator) for s in pooled}
        batches = []
        if target is None:
            n_steps = min(len(b) for b in loaders.values())
            for step in range(n_steps):
                rep = step % n_repeats
                batches.append(_cat([_take(s, loaders[s][step], rep) for s in pooled]))
            return batches
        used = dict.fromkeys(sources, 0)
        for step, idx in enumerate(loaders[target]):
            rep = step % n_repeats
            s = sources[step % len(sources)]
            if used[s] == len(loaders[s]):  # a source ran out: start a new pass over it
                loaders[s], used[s] = _loader(s, generator), 0
            src = loaders[s][used[s]]
            used[s] += 1
            batches.append(_cat([_take(s, src, rep), _take(target, idx, rep)]))
        return batches

    return train


def braincorl_tasks(embeddings, responses, *, min_context=30, max_context=500, n_query=100,
                    voxels_per_batch=64, steps_per_epoch=100):
    """Meta-training task stream for :class:`BraInCoRL` (callable form for the Trainer).

    Each batch takes one training subject (in rotation), ``voxels_per_batch`` random voxels of it,
    one context size drawn uniformly in ``[min_context, max_context]`` for the whole batch, and, per
    voxel, that many random context images plus ``n_query`` other random query images.

    Parameters
    ----------
    embeddings : dict of str to array, each (n_images_s, embedding_dim)
        Per subject, the embeddings of the images it saw.
    responses : dict of str to array, each (n_images_s, n_voxels_s)
        Per subject, each voxel's (repeat-averaged) response to those images.
    min_context, max_context : int
        Range of context sizes (30-500 in the paper's script).
    n_query : int
        Query images per voxel (100).
    voxels_per_batch : int
        Voxels per batch (64).
    steps_per_epoch : int
        Batches per epoch.

    Returns
    -------
    train : callable
        ``train(epoch, generator) -> list of dict batches`` with ``context_embeddings``
        (V, S, E), ``context_responses`` (V, S), ``query_embeddings`` (V, Q, E),
        ``query_responses`` (V, Q).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> tasks = braincorl_tasks({"s1": rng.normal(size=(50, 4))}, {"s1": rng.normal(size=(50, 7))},
    ...                         min_context=5, max_context=10, n_query=3, voxels_per_batch=2,
    ...                         steps_per_epoch=2)
    >>> batch = tasks(0, None)[0]
    >>> tuple(batch["query_responses"].shape)
    (2, 3)
    """
    from neurosim._utils import check_size

    if not isinstance(embeddings, Mapping) or not embeddings:
        raise TypeError("embeddings must be a non-empty dict of subject -> array")
    if not isinstance(responses, Mapping) or set(responses) != set(embeddings):
        raise ValueError("responses must be a dict with the same subjects as embeddings")
    min_context = check_size("min_context", min_context)
    max_context = check_size("max_context", max_context)
    if max_context < min_context:
        raise ValueError(f"max_context ({max_context}) must be >= min_context ({min_context})")
    n_query = check_size("n_query", n_query)
    voxels_per_batch = check_size("voxels_per_batch", voxels_per_batch)
    steps_per_epoch = check_size("steps_per_epoch", steps_per_epoch)
    subjects = list(embeddings)
    data = {}
    dim = None
    for s in subjects:
        x = torch.from_numpy(np.array(embeddings[s], dtype=np.float32))
        y = torch.from_numpy(np.array(responses[s], dtype=np.float32))
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
            raise ValueError(f"subject {s!r}: embeddings (n_images, E) and responses "
                             f"(n_images, n_voxels) must match, got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        if dim is not None and x.shape[1] != dim:
            raise ValueError(f"subject {s!r}: embedding dim {x.shape[1]} differs from {dim}")
        dim = x.shape[1]
        if len(x) < max_context + n_query:
            raise ValueError(f"subject {s!r} has {len(x)} images, fewer than max_context + "
                             f"n_query = {max_context + n_query}")
        data[s] = (x, y)

    def train(epoch, generator):
        batches = []
        for step in range(steps_per_epoch):
            s = subjects[(epoch * steps_per_epoch + step) % len(subjects)]
            x, y = data[s]
            n_ctx = int(torch.randint(min_context, max_context + 1, (1,), generator=generator))
            vox = torch.randint(y.shape[1], (voxels_per_batch,), generator=generator)
            order = torch.rand(voxels_per_batch, len(x), generator=generator).argsort(dim=1)
            ctx, qry = order[:, :n_ctx], order[:, n_ctx:n_ctx + n_query]
            batches.append({
                "context_embeddings": x[ctx], "context_responses": y[ctx, vox[:, None]],
                "query_embeddings": x[qry], "query_responses": y[qry, vox[:, None]],
            })
        return batches

    return train
