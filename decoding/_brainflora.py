"""BrainFLORA (2025): EEG, MEG and fMRI encoders into one image-embedding space, for retrieval.

Each modality has a tower: a Medformer-style multi-granularity patch encoder, a convolutional patch
embedding and a projection head to the embedding dimension. A shared soft mixture-of-experts
projector maps every tower's output into the unified space. Training is contrastive (symmetric
CLIP loss with a learnable temperature) on single-modality batches taken in turn (round-robin),
with the subjects of a modality pooled; the unified stage freezes the towers and trains the
projector.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "BrainFLORA",
    "clip_loss",
    "prepare_retrieval_data",
    "retrieval_scores",
    "round_robin_batches",
]

MODALITIES = ("eeg", "meg", "fmri")


def clip_loss(pred, target, logit_scale):
    r"""Symmetric CLIP (InfoNCE) loss between two batches of embeddings.

    .. math::

        \mathcal L = \tfrac12\left[\mathrm{CE}(s\,\hat P T^\top, I) + \mathrm{CE}(s\,T \hat P^\top, I)
        \right],\qquad s = e^{\tau},

    with :math:`\hat P` and :math:`T` the L2-normalised rows of ``pred`` and ``target`` and
    :math:`\tau` the learnable log inverse temperature (initialised at :math:`\log(1/0.07)`,
    :math:`s` clamped to 100 as in CLIP).

    Parameters
    ----------
    pred, target : torch.Tensor, shape (batch, dim)
        Row ``i`` of ``pred`` matches row ``i`` of ``target``.
    logit_scale : torch.Tensor
        Scalar :math:`\tau`.

    Returns
    -------
    loss : torch.Tensor

    Examples
    --------
    >>> import math, torch
    >>> from neurosim.decoding import clip_loss
    >>> t = torch.eye(4)
    >>> float(clip_loss(t, t, torch.tensor(math.log(100.0)))) < 1e-3
    True
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape (batch, dim), got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    p = F.normalize(pred.float(), dim=-1)
    t = F.normalize(target.float(), dim=-1)
    logits = logit_scale.float().exp().clamp(max=100.0) * p @ t.T
    labels = torch.arange(p.shape[0], device=p.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class _MultiGranularityEncoder(nn.Module):
    """Medformer-style encoder: patches of several lengths, intra- and inter-granularity attention.

    (B, C, L) -> (B, sum_g P_g, d_model), with ``P_g = floor((L - p_g) / p_g) + 2`` patches of
    length ``p_g`` (the last one padded by repeating the final sample, as Medformer).
    """

    def __init__(self, n_chans, n_times, d_model, n_heads, d_ff, patch_lens, dropout):
        super().__init__()
        self.patch_lens = tuple(int(p) for p in patch_lens)
        self.n_patches = [(n_times - p) // p + 2 for p in self.patch_lens]
        self.embed = nn.ModuleList(nn.Linear(n_chans * p, d_model) for p in self.patch_lens)
        self.pos = nn.ParameterList(nn.Parameter(0.02 * torch.randn(n, d_model))
                                    for n in self.n_patches)
        self.granularity = nn.Parameter(0.02 * torch.randn(len(self.patch_lens), d_model))
        self.router = nn.Parameter(0.02 * torch.randn(len(self.patch_lens), d_model))
        self.intra = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.inter = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(d_ff, d_model))
        self.drop = nn.Dropout(dropout)

    @property
    def n_tokens(self):
        return sum(self.n_patches)

    def forward(self, x):
        B, C, L = x.shape
        tokens, routers = [], []
        for g, p in enumerate(self.patch_lens):
            pad = self.n_patches[g] * p - L
            xp = torch.cat([x, x[..., -1:].expand(B, C, pad)], dim=-1) if pad > 0 else x
            patches = xp.unfold(-1, p, p)[:, :, :self.n_patches[g]]  # (B, C, P, p)
            patches = patches.permute(0, 2, 1, 3).reshape(B, self.n_patches[g], C * p)
            t = self.embed[g](patches) + self.pos[g] + self.granularity[g]
            r = self.router[g].expand(B, 1, -1)
            seq = torch.cat([r, t], dim=1)
            seq = seq + self.drop(self.intra(seq, seq, seq, need_weights=False)[0])  # within g
            routers.append(seq[:, :1])
            tokens.append(seq[:, 1:])
        r = torch.cat(routers, dim=1)  # (B, G, d): routers exchange across granularities
        r = r + self.drop(self.inter(r, r, r, need_weights=False)[0])
        out = torch.cat([t + r[:, g:g + 1] for g, t in enumerate(tokens)], dim=1)
        out = self.norm1(out)
        return self.norm2(out + self.drop(self.ff(out)))


class _ConvPatchEmbedding(nn.Module):
    """Conv over the feature axis, average pooling, conv across all tokens: (B, P, d) -> (B, F)."""

    def __init__(self, n_tokens, d_model, n_filters, kernel, pool, stride, dropout):
        super().__init__()
        width = (d_model - kernel + 1 - pool) // stride + 1
        if width < 1:
            raise ValueError(f"d_model={d_model} is too small for conv kernel {kernel} and pooling "
                             f"{pool}: need d_model >= {kernel + pool - 1}")
        self.net = nn.Sequential(
            nn.Conv2d(1, n_filters, (1, kernel)), nn.AvgPool2d((1, pool), (1, stride)),
            nn.BatchNorm2d(n_filters), nn.ELU(),
            nn.Conv2d(n_filters, n_filters, (n_tokens, 1)), nn.BatchNorm2d(n_filters), nn.ELU(),
            nn.Dropout(dropout), nn.Conv2d(n_filters, n_filters, 1))
        self.out_features = n_filters * width

    def forward(self, x):
        return self.net(x.unsqueeze(1)).flatten(1)


class _ProjectionHead(nn.Module):
    def __init__(self, in_features, embed_dim, dropout):
        super().__init__()
        self.proj = nn.Linear(in_features, embed_dim)
        self.fc = nn.Linear(embed_dim, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        h = self.proj(x)
        return self.norm(h + self.drop(self.fc(F.gelu(h))))


class _Tower(nn.Module):
    """One modality: [fMRI: zero-pad + linear to (enc_in, seq_len)] -> encoder -> conv -> head."""

    def __init__(self, modality, shape, embed_dim, cfg):
        super().__init__()
        self.modality = modality
        if modality == "fmri":
            n_vox = int(shape[0])
            self.n_voxels = n_vox
            enc_in, seq_len = cfg["fmri_tokens"]
            self.fmri_in = nn.Linear(n_vox, enc_in * seq_len)
            n_chans, n_times = enc_in, seq_len
        else:
            n_chans, n_times = int(shape[0]), int(shape[1])
            self.fmri_in = None
        self.input_shape = tuple(int(s) for s in shape)
        self.encoder = _MultiGranularityEncoder(n_chans, n_times, cfg["d_model"], cfg["n_heads"],
                                                cfg["d_ff"], cfg["patch_lens"], cfg["dropout"])
        self.conv = _ConvPatchEmbedding(self.encoder.n_tokens, cfg["d_model"], cfg["conv_filters"],
                                        cfg["conv_kernel"], cfg["conv_pool"], cfg["conv_stride"],
                                        cfg["proj_dropout"])
        self.head = _ProjectionHead(self.conv.out_features, embed_dim, cfg["proj_dropout"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self._seq = (n_chans, n_times)

    def forward(self, x):
        if self.fmri_in is not None:
            if x.shape[-1] < self.n_voxels:  # zero-pad subjects with fewer voxels
                x = F.pad(x, (0, self.n_voxels - x.shape[-1]))
            x = self.fmri_in(x).view(x.shape[0], *self._seq)
        return self.head(self.conv(self.encoder(x)))


class _SoftMoE(nn.Module):
    """Soft mixture of experts: sigmoid router weights renormalised to sum to 1."""

    def __init__(self, dim, n_experts):
        super().__init__()
        self.n_experts = n_experts
        self.experts = nn.Linear(dim, dim * n_experts)
        self.router = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, n_experts))

    def forward(self, x):
        e = self.experts(x).view(x.shape[0], self.n_experts, -1)  # (B, E, D)
        w = torch.sigmoid(self.router(x))
        w = w / w.sum(dim=-1, keepdim=True)
        return torch.einsum("be,bed->bd", w, e)


class BrainFLORA(nn.Module):
    r"""BrainFLORA: modality towers and a shared soft-MoE projector into an image-embedding space.

    Parameters
    ----------
    input_shapes : dict of str to tuple
        Per modality (``"eeg"``, ``"meg"``, ``"fmri"``), the shape of one sample: ``(channels,
        time)`` for EEG/MEG, ``(n_voxels,)`` for fMRI (the largest voxel count of the pooled
        subjects; smaller voxel vectors are zero-padded, as in the paper).
    embed_dim : int
        Dimension of the target (image) embeddings.
    n_experts : int
        Experts of the shared soft mixture-of-experts projector (paper: 5).
    d_model, n_heads, d_ff : int
        Width, attention heads and feed-forward width of the multi-granularity encoder
        (paper: 250, 4, 256; the default is 5 heads because :class:`torch.nn.MultiheadAttention`
        needs ``d_model`` divisible by ``n_heads``).
    patch_lens : sequence of int
        Patch lengths of the granularities (paper: 2, 4, 8).
    conv_filters, conv_kernel, conv_pool, conv_stride : int
        Convolutional patch embedding (paper: 40, 25, 51, 5).
    fmri_tokens : (int, int)
        The fMRI voxel vector is mapped linearly to (``enc_in``, ``seq_len``) (paper: 8, 1024).
    dropout, proj_dropout : float
        Encoder dropout (paper 0.25) and convolution/projection dropout (paper 0.5).

    Attributes
    ----------
    towers : torch.nn.ModuleDict
        One tower per modality, each with its own ``logit_scale``.
    projector : torch.nn.Module
        The shared soft mixture of experts (used when ``unified`` is True).
    unified : bool
        False: a modality's embedding is its tower's output (single-modality training). True: the
        tower's output goes through the shared projector (set by :meth:`unify`).

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import BrainFLORA
    >>> model = BrainFLORA.small({"eeg": (17, 100), "fmri": (500,)}, embed_dim=64)
    >>> model(torch.zeros(3, 17, 100), "eeg").shape
    torch.Size([3, 64])
    >>> model.unify()  # freeze the towers, train the shared projector
    >>> sorted({n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad})
    ['logit_scale', 'projector']
    """

    def __init__(self, input_shapes, embed_dim=1024, *, n_experts=5, d_model=250, n_heads=5,
                 d_ff=256, patch_lens=(2, 4, 8), conv_filters=40, conv_kernel=25, conv_pool=51,
                 conv_stride=5, fmri_tokens=(8, 1024), dropout=0.25, proj_dropout=0.5):
        super().__init__()
        if not isinstance(input_shapes, dict) or not input_shapes:
            raise ValueError("input_shapes must be a non-empty dict modality -> sample shape")
        for m, shape in input_shapes.items():
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r}; expected one of {MODALITIES}")
            want = 1 if m == "fmri" else 2
            if len(tuple(shape)) != want or any(int(s) < 1 for s in shape):
                expected = "(n_voxels,)" if want == 1 else "(channels, time)"
                raise ValueError(f"input_shapes[{m!r}] must be {expected}, got {shape!r}")
        for name, v in (("embed_dim", embed_dim), ("n_experts", n_experts), ("d_model", d_model)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        cfg = dict(d_model=d_model, n_heads=n_heads, d_ff=d_ff, patch_lens=tuple(patch_lens),
                   conv_filters=conv_filters, conv_kernel=conv_kernel, conv_pool=conv_pool,
                   conv_stride=conv_stride, fmri_tokens=tuple(fmri_tokens), dropout=dropout,
                   proj_dropout=proj_dropout)
        self._config = dict(input_shapes={k: list(v) for k, v in input_shapes.items()},
                            embed_dim=embed_dim, n_experts=n_experts, **cfg)
        self.embed_dim = embed_dim
        self.towers = nn.ModuleDict({m: _Tower(m, tuple(s), embed_dim, cfg)
                                     for m, s in input_shapes.items()})
        self.projector = _SoftMoE(embed_dim, n_experts)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.unified = False

    @classmethod
    def small(cls, input_shapes, embed_dim=64, **kwargs):
        """A CPU-sized configuration for small data sets and tests.

        ``d_model=32``, 2 heads, ``d_ff=64``, 8 convolution filters (kernel 5, pooling 9, stride
        4) and fMRI tokens (8, 64); keyword arguments override these.
        """
        cfg = dict(d_model=32, n_heads=2, d_ff=64, conv_filters=8, conv_kernel=5, conv_pool=9,
                   conv_stride=4, fmri_tokens=(8, 64))
        cfg.update(kwargs)
        return cls(input_shapes, embed_dim, **cfg)

    def get_config(self):
        """Constructor arguments; ``BrainFLORA.from_config(cfg)`` rebuilds the model."""
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self._config.items()}

    @classmethod
    def from_config(cls, config):
        """Build a model from :meth:`get_config`'s output."""
        return cls(**config)

    def unify(self, unified=True):
        """Switch to the unified stage: freeze the towers and train the shared projector.

        Parameters
        ----------
        unified : bool
            True: towers frozen (``requires_grad=False``, eval-mode batch norm), embeddings pass
            through the projector. False: back to single-modality training of unfrozen towers.
        """
        self.unified = bool(unified)
        self.towers.requires_grad_(not self.unified)
        self.projector.requires_grad_(self.unified)
        self.logit_scale.requires_grad_(self.unified)
        return None

    def train(self, mode=True):
        super().train(mode)
        if self.unified:
            self.towers.eval()  # frozen towers keep their batch-norm statistics and no dropout
        return self

    def _check(self, x, modality):
        if modality not in self.towers:
            raise ValueError(f"modality {modality!r} has no tower; this model has "
                             f"{sorted(self.towers)}")
        tower = self.towers[modality]
        if modality == "fmri":
            if x.ndim != 2 or x.shape[1] > tower.n_voxels:
                raise ValueError(f"fmri input must be (batch, n_voxels <= {tower.n_voxels}), got "
                                 f"{tuple(x.shape)}")
        elif x.ndim != 3 or tuple(x.shape[1:]) != tower.input_shape:
            raise ValueError(f"{modality} input must be (batch, {tower.input_shape[0]}, "
                             f"{tower.input_shape[1]}) (batch, channels, time), got {tuple(x.shape)}")

    def forward(self, x, modality):
        """Embed a batch of one modality: (batch, channels, time) or (batch, voxels) -> (batch, dim)."""
        self._check(x, modality)
        z = self.towers[modality](x)
        return self.projector(z) if self.unified else z

    def training_step(self, batch):
        """Symmetric CLIP loss of a single-modality batch ``{"modality", "x", "target"}``."""
        modality = batch["modality"]
        if isinstance(modality, (list, tuple)):
            modality = modality[0]
        pred = self(batch["x"], modality)
        target = batch["target"]
        if target.shape[-1] != self.embed_dim:
            raise ValueError(f"target embeddings have dim {target.shape[-1]}, the model embeds into "
                             f"{self.embed_dim}")
        scale = self.logit_scale if self.unified else self.towers[modality].logit_scale
        return clip_loss(pred, target, scale)

    @torch.no_grad()
    def embed(self, x, modality, *, batch_size=256):
        """Embeddings of ``x`` (numpy or torch) in eval mode, as a float32 numpy array."""
        was = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x)
            out = [self(x[i:i + batch_size].to(device), modality).float().cpu()
                   for i in range(0, x.shape[0], batch_size)]
        finally:
            self.train(was)
        return torch.cat(out).numpy()


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
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        y = torch.as_tensor(np.asarray(y, dtype=np.float32))
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{m}: x has {x.shape[0]} samples but target has {y.shape[0]}")
        if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
            raise ValueError(f"{m}: data contain NaN or inf values")
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


def retrieval_scores(pred, target, *, k_ways=(2, 4, 10, None), n_draws=10, random_state=0):
    """BrainFLORA's evaluation: k-way top-1 retrieval (and top-5 for k >= 5 / all).

    Parameters
    ----------
    pred, target : array-like, shape (n, dim)
        Predicted and true embeddings of the ``n`` test images (repetitions averaged).
    k_ways : sequence of int | None
        Values of k; None means all ``n`` images.
    n_draws : int
        Distractor draws per image.
    random_state : None | int | numpy.random.Generator
        Seed of the distractor draws.

    Returns
    -------
    scores : dict of str to float
        ``"top1_2way"``, ``"top1_4way"``, ``"top1_10way"``, ``"top1_all"``, ``"top5_10way"``,
        ``"top5_all"`` ... (fractions).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import retrieval_scores
    >>> t = np.eye(12)
    >>> retrieval_scores(t, t)["top1_all"]
    1.0
    """
    from .metrics import retrieval_accuracy

    out = {}
    n = np.shape(pred)[0]
    for k in k_ways:
        name = "all" if k is None else f"{k}way"
        kk = n if k is None else k
        if kk > n:
            continue
        out[f"top1_{name}"] = retrieval_accuracy(pred, target, k_way=k, top=1, n_draws=n_draws,
                                                 random_state=random_state)
        if kk >= 5:
            out[f"top5_{name}"] = retrieval_accuracy(pred, target, k_way=k, top=5,
                                                     n_draws=n_draws, random_state=random_state)
    return out


def _things_arrays(ds, var, average, decim):
    x = ds[var].transpose("subject", "image", "repetition", "channel", "time").values
    if decim > 1:
        n = x.shape[-1] // decim * decim
        x = x[..., :n].reshape(*x.shape[:-1], n // decim, decim).mean(-1)
    if average:
        x = x.mean(axis=2, keepdims=True)
    S, I, R = x.shape[:3]
    emb = ds["embedding"].values
    Y = np.broadcast_to(emb[None, :, None], (S, I, R, emb.shape[1])).reshape(S * I * R, -1)
    subject = np.repeat(np.asarray(ds["subject"].values), I * R)
    image = np.tile(np.repeat(np.arange(I), R), S)
    return x.reshape(S * I * R, *x.shape[3:]), Y, subject, image


def _fmri_arrays(data):
    train, test = {"x": [], "y": [], "s": [], "i": []}, {"x": [], "y": [], "s": [], "i": []}
    n_max = max(ds.sizes["voxel"] for ds in data.values())
    for name, ds in data.items():
        betas = ds["betas"].values.astype(np.float64)
        stim = ds["stimulus"].values
        shared = ds["shared"].values[stim]
        emb = ds["embedding"].values
        mu, sd = betas[~shared].mean(0), betas[~shared].std(0)
        z = (betas - mu) / np.where(sd > 0, sd, 1.0)  # voxelwise z-score with the training trials
        z = np.pad(z, ((0, 0), (0, n_max - z.shape[1])))  # zero-pad to the largest subject
        for part, sel in ((train, ~shared), (test, shared)):
            xs, ss = z[sel], stim[sel]
            if part is test:  # average the repetitions of each shared stimulus
                ss = np.unique(ss)
                xs = np.stack([z[sel][stim[sel] == u].mean(0) for u in ss])
            part["x"].append(xs)
            part["y"].append(emb[ss])
            part["s"].append(np.full(len(ss), name))
            part["i"].append(ss)
    return [tuple(np.concatenate(p[k]) for k in "xysi") for p in (train, test)]


def prepare_retrieval_data(modality, train, test=None, *, decim=1):
    """Arrays for BrainFLORA and ridge from simulated or real THINGS/NSD-like data sets.

    EEG/MEG: single trials of the training split (subjects pooled) and the test split with the
    repetitions averaged, each channel z-scored with the training mean and standard deviation.
    fMRI: per subject, voxelwise z-scored betas zero-padded to the largest voxel count; trials of
    non-shared stimuli train, the shared stimuli (repetitions averaged) test.

    Parameters
    ----------
    modality : "eeg" | "meg" | "fmri"
        Which data.
    train : xarray.Dataset | dict of str to xarray.Dataset
        EEG/MEG: the ``split="train"`` data set of :func:`neurosim.datasets.make_eeg_things` /
        :func:`~neurosim.datasets.make_meg_things`. fMRI: the dict of
        :func:`~neurosim.datasets.make_fmri_visual`.
    test : xarray.Dataset | None
        EEG/MEG: the ``split="test"`` data set. Unused for fMRI.
    decim : int
        EEG/MEG: average blocks of ``decim`` samples (downsampling).

    Returns
    -------
    data : dict
        ``"train"`` and ``"test"``: dicts with ``x`` (float32), ``y`` (target embeddings, float32),
        ``subject`` and ``image`` (stimulus index) per sample.

    Examples
    --------
    >>> from neurosim.datasets import make_eeg_things  # doctest: +SKIP
    >>> d = prepare_retrieval_data("eeg", make_eeg_things(split="train"),
    ...                            make_eeg_things(split="test"))  # doctest: +SKIP
    >>> d["train"]["x"].shape, d["test"]["x"].shape  # doctest: +SKIP
    ((800, 17, 100), (40, 17, 100))
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    keys = ("x", "y", "subject", "image")
    if modality == "fmri":
        if not isinstance(train, dict) or not train:
            raise TypeError("fmri data must be the dict subject -> Dataset of make_fmri_visual")
        tr, te = _fmri_arrays(train)
    else:
        if test is None:
            raise ValueError(f"{modality} needs the train and the test split")
        for ds, split in ((train, "train"), (test, "test")):
            if modality not in getattr(ds, "data_vars", {}):
                raise ValueError(f"the {split} data set has no {modality!r} variable")
        if train.sizes["channel"] != test.sizes["channel"] or \
                train.sizes["feature"] != test.sizes["feature"]:
            raise ValueError("train and test must have the same channels and embedding dim")
        tr = _things_arrays(train, modality, False, decim)
        te = _things_arrays(test, modality, True, decim)
        mu = tr[0].mean(axis=(0, 2), keepdims=True)
        sd = tr[0].std(axis=(0, 2), keepdims=True)
        sd = np.where(sd > 0, sd, 1.0)
        tr = ((tr[0] - mu) / sd, *tr[1:])
        te = ((te[0] - mu) / sd, *te[1:])
    out = {}
    for name, arrays in (("train", tr), ("test", te)):
        d = dict(zip(keys, arrays))
        d["x"] = np.ascontiguousarray(d["x"], dtype=np.float32)
        d["y"] = np.ascontiguousarray(d["y"], dtype=np.float32)
        if not np.all(np.isfinite(d["x"])):
            raise ValueError(f"the {modality} {name} data contain NaN or inf values")
        out[name] = d
    return out
