"""BrainFLORA (2025): EEG, MEG and fMRI encoders into one image-embedding space, for retrieval.

Each modality has a tower: the Medformer encoder of the official code (multi-granularity patch
tokens, per-granularity self-attention, cross-granularity attention between the last token of each
granularity, a convolutional feed-forward block, a final LayerNorm, GELU and dropout), a
convolutional patch embedding and a projection head to the embedding dimension. A shared soft
mixture-of-experts projector maps every tower's output into the unified space. Training is
contrastive (CLIP loss with a learnable temperature) on single-modality batches taken in turn
(round-robin), with the subjects of a modality pooled; the unified stage freezes the towers and
trains the projector.

:meth:`BrainFLORA.from_config` builds the named configurations: ``"paper"`` (the official sizes,
the official raw-temperature loss and patch augmentations; the EEG Medformer encoder has exactly
the official 1,347,232 effective parameters) and ``"small"`` (the same architecture at CPU size).

The loss is :func:`~neurosim.decoding.losses.clip_loss`, the batch stream
:func:`~neurosim.decoding.samplers.round_robin_batches`, the data preparation
:func:`~neurosim.decoding.preprocessing.prepare_retrieval_data` and the training and evaluation
protocol :func:`~neurosim.decoding.model_selection.fit_brainflora` and
:func:`~neurosim.decoding.model_selection.retrieval_by_subject`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neurosim._docs import fill_doc

from ._base import DecoderMixin
from .losses import clip_loss
from .preprocessing import MODALITIES

__all__ = ["BrainFLORA", "PATCH_AUGMENTATIONS"]

#: the official patch augmentations (``layers/Augmentation.py``), one drawn per granularity in every
#: training forward pass; they act on the (patch, d_model) token matrix of each granularity
PATCH_AUGMENTATIONS = ("flip", "shuffle", "frequency", "jitter", "mask", "drop")
_LOSSES = ("official", "normalized")


def _augment(x, name):
    """One official patch augmentation of tokens ``x`` (batch, patch, d_model), training mode.

    ``flip``: reverse the feature axis with probability 0.5; ``shuffle``: permute the patches
    (one permutation for the batch) with probability 0.5; ``frequency``: zero each rFFT
    coefficient of the feature axis with probability 0.1; ``jitter``: add N(0, 0.1^2) noise;
    ``mask``: zero 10 % of the feature indices; ``drop``: dropout 0.1.
    """
    if name == "flip":
        return torch.flip(x, [-1]) if float(torch.rand(1)) < 0.5 else x
    if name == "shuffle":
        return x[:, torch.randperm(x.shape[1], device=x.device)] if float(torch.rand(1)) < 0.5 \
            else x
    if name == "frequency":  # in float32: the FFT has no bf16 kernel
        spec = torch.fft.rfft(x.float(), dim=-1)
        spec = spec * (torch.rand(spec.shape, device=x.device) > 0.1)
        return torch.fft.irfft(spec, n=x.shape[-1], dim=-1).to(x.dtype)
    if name == "jitter":
        return x + 0.1 * torch.randn_like(x)
    if name == "mask":
        idx = torch.randperm(x.shape[-1], device=x.device)[:int(x.shape[-1] * 0.1)]
        x = x.clone()
        x[..., idx] = 0
        return x
    if name == "drop":
        return F.dropout(x, 0.1, training=True)
    raise ValueError(f"unknown patch augmentation {name!r}; expected one of {PATCH_AUGMENTATIONS}")


def _sinusoid(n, d_model):
    """Fixed sinusoidal positions (Vaswani et al.), shape (n, d_model), as Medformer's."""
    position = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    pe = torch.zeros(n, d_model)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)[:, : d_model // 2]
    return pe


class _PatchTokens(nn.Module):
    """Medformer's ``ListPatchEmbedding``: (B, C, L) -> one (B, P_g, d) token matrix per granularity.

    Per patch length ``p``: replicate-pad the end by ``p`` samples, a bias-free ``Conv2d`` over all
    channels and ``p`` samples with stride ``p`` (``P_g = L // p + 1`` patches, Kaiming-normal
    initialisation), one augmentation drawn at random in training, plus fixed sinusoidal positions
    and a learnable per-granularity embedding (standard normal, as the official ``randn(1, d)``).
    """

    def __init__(self, n_chans, n_times, d_model, patch_lens, augmentations):
        super().__init__()
        self.patch_lens = tuple(int(p) for p in patch_lens)
        self.n_patches = [n_times // p + 1 for p in self.patch_lens]
        self.augmentations = tuple(augmentations)
        for a in self.augmentations:
            if a not in PATCH_AUGMENTATIONS:
                raise ValueError(f"unknown patch augmentation {a!r}; expected a subset of "
                                 f"{PATCH_AUGMENTATIONS}")
        self.value = nn.ModuleList(nn.Conv2d(1, d_model, (n_chans, p), stride=(1, p), bias=False)
                                   for p in self.patch_lens)
        for conv in self.value:
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="leaky_relu")
        self.register_buffer("position", _sinusoid(max(self.n_patches), d_model), persistent=False)
        self.granularity = nn.ParameterList(nn.Parameter(torch.randn(1, d_model))
                                            for _ in self.patch_lens)

    def forward(self, x):
        out = []
        for p, conv, emb in zip(self.patch_lens, self.value, self.granularity):
            t = conv(F.pad(x, (0, p), mode="replicate").unsqueeze(1))  # (B, d, 1, P)
            t = t.squeeze(2).transpose(1, 2)  # (B, P, d)
            if self.training and self.augmentations:
                pick = int(torch.randint(len(self.augmentations), (1,)))
                t = _augment(t, self.augmentations[pick])
            out.append(t + emb + self.position[:t.shape[1]].to(t.dtype))
        return out


class _Attention(nn.Module):
    """Medformer's ``AttentionLayer`` + ``FullAttention``: heads of ``d_model // n_heads`` dims.

    Query, key and value projections to ``n_heads * (d_model // n_heads)`` dimensions (248 for
    d_model 250 and 4 heads), scaled dot-product attention with dropout on the attention weights,
    output projection back to ``d_model``.
    """

    def __init__(self, d_model, n_heads, dropout):
        super().__init__()
        inner = n_heads * (d_model // n_heads)
        self.n_heads, self.dropout = n_heads, float(dropout)
        self.query = nn.Linear(d_model, inner)
        self.key = nn.Linear(d_model, inner)
        self.value = nn.Linear(d_model, inner)
        self.out = nn.Linear(inner, d_model)

    def forward(self, x):
        B, L, _ = x.shape
        q, k, v = (proj(x).view(B, L, self.n_heads, -1).transpose(1, 2)
                   for proj in (self.query, self.key, self.value))
        o = F.scaled_dot_product_attention(q, k, v,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(o.transpose(1, 2).reshape(B, L, -1))


class _MedformerLayer(nn.Module):
    """One encoder layer: intra-granularity attention (one attention per granularity), the router
    exchange between granularities, then residual, LayerNorm, a 1x1-convolution feed-forward block
    (as linear layers: the same parameters) and LayerNorm.

    The router of a granularity is the last token of its attention output; the attention across
    the routers replaces only that token (``SelfAttention_Family.MedformerLayer``).
    """

    def __init__(self, n_granularities, d_model, n_heads, d_ff, dropout, inter=True):
        super().__init__()
        self.intra = nn.ModuleList(_Attention(d_model, n_heads, dropout)
                                   for _ in range(n_granularities))
        self.inter = (_Attention(d_model, n_heads, dropout)
                      if inter and n_granularities > 1 else None)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, xs):
        new = [att(x) for att, x in zip(self.intra, xs)]
        if self.inter is not None:
            routers = self.inter(torch.cat([t[:, -1:] for t in new], dim=1))  # (B, G, d)
            new = [torch.cat([t[:, :-1], routers[:, g:g + 1]], dim=1) for g, t in enumerate(new)]
        sizes = [x.shape[1] for x in xs]
        # every operation from here on acts token by token: run them on all tokens at once
        x = self.norm1(torch.cat(xs, dim=1) + self.drop(torch.cat(new, dim=1)))
        y = self.drop(self.ff2(self.drop(F.gelu(self.ff1(x)))))
        return list(torch.split(self.norm2(x + y), sizes, dim=1))


class _Medformer(nn.Module):
    """Medformer as BrainFLORA uses it: (B, C, L) -> (B, sum_g P_g, d_model).

    Patch tokens of every granularity, ``e_layers`` encoder layers, all tokens concatenated, a final
    LayerNorm, then GELU and dropout (``model/Medformer.py``; the official classification
    projection, unused by BrainFLORA's forward pass, is not built).
    """

    def __init__(self, n_chans, n_times, d_model, n_heads, d_ff, patch_lens, dropout, e_layers,
                 augmentations, inter=True):
        super().__init__()
        self.embed = _PatchTokens(n_chans, n_times, d_model, patch_lens, augmentations)
        self.layers = nn.ModuleList(
            _MedformerLayer(len(self.embed.patch_lens), d_model, n_heads, d_ff, dropout, inter)
            for _ in range(e_layers))
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    @property
    def n_tokens(self):
        return sum(self.embed.n_patches)

    def forward(self, x):
        xs = self.embed(x)
        for layer in self.layers:
            xs = layer(xs)
        return self.drop(F.gelu(self.norm(torch.cat(xs, dim=1))))


class _ConvPatchEmbedding(nn.Module):
    """Conv over the feature axis, average pooling, conv across all tokens: (B, P, d) -> (B, F).

    The official ``ConvPatchEmbedding``; the output is flattened position-major, as its
    ``Rearrange("b e h w -> b (h w) e")``.
    """

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
        return self.net(x.unsqueeze(1)).squeeze(2).transpose(1, 2).flatten(1)


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
    """One modality: [fMRI: zero-pad + linear to (enc_in, seq_len)] -> Medformer -> conv -> head."""

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
        self.encoder = _Medformer(n_chans, n_times, cfg["d_model"], cfg["n_heads"], cfg["d_ff"],
                                  cfg["patch_lens"], cfg["dropout"], cfg["e_layers"],
                                  cfg["augmentations"])
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


#: the paper's three towers: THINGS-EEG (63 channels, 0-1 s at 250 Hz), THINGS-MEG (271 channels,
#: 0-1 s at 200 Hz) and THINGS-fMRI (ROI voxels zero-padded to 7000)
PAPER_INPUT_SHAPES = {"eeg": (63, 250), "meg": (271, 201), "fmri": (7000,)}


@fill_doc
class BrainFLORA(DecoderMixin, nn.Module):
    r"""BrainFLORA: modality towers and a shared soft-MoE projector into an image-embedding space.

    The towers are the official ones (``model/medformer_encoders.py`` of
    ``ncclab-sustech/BrainFLORA``): a Medformer encoder, the convolutional patch embedding (40
    filters, 1,440 features at the paper sizes) and the residual projection head.
    ``BrainFLORA.from_config("paper")`` builds the paper's configuration (EEG 63 x 250, MEG
    271 x 201, fMRI 7000 voxels, embedding 1024); its EEG Medformer encoder has 1,347,232
    parameters, the official effective count; ``from_config("small", input_shapes=...)`` is the same
    architecture at CPU size.

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
    d_model, n_heads, d_ff, e_layers : int
        Width, attention heads (of ``d_model // n_heads`` dimensions each), feed-forward width and
        number of layers of the Medformer encoder (paper: 250, 4, 256, 1).
    patch_lens : sequence of int
        Patch lengths of the granularities (paper: 2, 4, 8).
    conv_filters, conv_kernel, conv_pool, conv_stride : int
        Convolutional patch embedding (paper: 40, 25, 51, 5).
    fmri_tokens : (int, int)
        The fMRI voxel vector is mapped linearly to (``enc_in``, ``seq_len``) (paper: 8, 1024).
    dropout, proj_dropout : float
        Encoder dropout (paper 0.25; also on the attention weights) and convolution/projection
        dropout (paper 0.5).
    augmentations : sequence of str
        Patch augmentations drawn from in training, a subset of :data:`PATCH_AUGMENTATIONS`
        (paper: all six; ``()`` for none).
    loss : "official" | "normalized"
        ``"official"``: the CLIP loss of the official code, logits ``tau * f @ t.T`` with the raw
        learnable ``tau`` and unnormalised features; ``"normalized"``: L2-normalised features and
        ``exp(tau)`` (CLIP's form). See :func:`~neurosim.decoding.clip_loss`.
    ch_names : dict of str to sequence of str | None
        Per EEG/MEG tower, the channel names in the order of its input's channel axis, which
        :meth:`prepare_epochs` matches by name. None (or a tower left out): THINGS-EEG2's 63
        channels (:data:`~neurosim.datasets.THINGS_EEG2_63CH`) for a 63-channel EEG tower; other
        towers take the epochs' channels of their type in the epochs' order.
    %(random_state_torch)s

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
    >>> paper = BrainFLORA.from_config("paper", input_shapes={"eeg": (63, 250)})
    >>> sum(p.numel() for p in paper.towers["eeg"].encoder.parameters())
    1347232
    >>> model = BrainFLORA.from_config("small", input_shapes={"eeg": (17, 100), "fmri": (500,)},
    ...                                embed_dim=64)
    >>> model(torch.zeros(3, 17, 100), "eeg").shape
    torch.Size([3, 64])
    >>> model.unify()  # freeze the towers, train the shared projector
    >>> sorted({n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad})
    ['logit_scale', 'projector']
    """

    _configs = {
        "paper": dict(input_shapes=PAPER_INPUT_SHAPES, embed_dim=1024, n_experts=5, d_model=250,
                      n_heads=4, d_ff=256, e_layers=1, patch_lens=(2, 4, 8), conv_filters=40,
                      conv_kernel=25, conv_pool=51, conv_stride=5, fmri_tokens=(8, 1024),
                      dropout=0.25, proj_dropout=0.5, augmentations=PATCH_AUGMENTATIONS,
                      loss="official"),
        "small": dict(embed_dim=64, n_experts=5, d_model=32, n_heads=2, d_ff=64, e_layers=1,
                      patch_lens=(2, 4, 8), conv_filters=8, conv_kernel=5, conv_pool=9,
                      conv_stride=4, fmri_tokens=(8, 64), dropout=0.25, proj_dropout=0.5,
                      augmentations=PATCH_AUGMENTATIONS, loss="normalized"),
    }

    def __init__(self, input_shapes, embed_dim=1024, *, n_experts=5, d_model=250, n_heads=4,
                 d_ff=256, e_layers=1, patch_lens=(2, 4, 8), conv_filters=40, conv_kernel=25,
                 conv_pool=51, conv_stride=5, fmri_tokens=(8, 1024), dropout=0.25,
                 proj_dropout=0.5, augmentations=PATCH_AUGMENTATIONS, loss="official",
                 ch_names=None, random_state=None):
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
        for name, v in (("embed_dim", embed_dim), ("n_experts", n_experts), ("d_model", d_model),
                        ("n_heads", n_heads), ("d_ff", d_ff), ("e_layers", e_layers)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if n_heads > d_model:
            raise ValueError(f"n_heads={n_heads} must be <= d_model={d_model}")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        if isinstance(augmentations, str):
            augmentations = (augmentations,)
        cfg = dict(d_model=d_model, n_heads=n_heads, d_ff=d_ff, e_layers=e_layers,
                   patch_lens=tuple(patch_lens), conv_filters=conv_filters,
                   conv_kernel=conv_kernel, conv_pool=conv_pool, conv_stride=conv_stride,
                   fmri_tokens=tuple(fmri_tokens), dropout=dropout, proj_dropout=proj_dropout,
                   augmentations=tuple(augmentations))
        self.embed_dim = embed_dim
        self.loss = loss
        with self._seeded(random_state):
            self.towers = nn.ModuleDict({m: _Tower(m, tuple(s), embed_dim, cfg)
                                         for m, s in input_shapes.items()})
            self.projector = _SoftMoE(embed_dim, n_experts)
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.unified = False
        self.ch_names = self._channel_names(ch_names, input_shapes)

    @classmethod
    def small(cls, input_shapes, embed_dim=64, **kwargs):
        """``from_config("small", input_shapes=..., embed_dim=..., **kwargs)``: CPU-sized.

        ``d_model=32``, 2 heads, ``d_ff=64``, 8 convolution filters (kernel 5, pooling 9, stride
        4), fMRI tokens (8, 64), the official augmentations and the normalised loss; keyword
        arguments override these.

        Parameters
        ----------
        input_shapes : dict of str to tuple
            As in :class:`BrainFLORA`.
        embed_dim : int
            Dimension of the target embeddings.
        **kwargs
            Any other constructor argument (``random_state``, ``d_model``, ...).

        Returns
        -------
        model : BrainFLORA
        """
        return cls.from_config("small", input_shapes=input_shapes, embed_dim=embed_dim, **kwargs)

    def _checkpoint_state(self):
        return {"unified": self.unified}

    def _restore_state(self, state):
        self.unify(bool(state.get("unified", False)))

    def unify(self, unified=True):
        """Switch to the unified stage: freeze the towers and train the shared projector.

        Parameters
        ----------
        unified : bool
            True: towers frozen (``requires_grad=False``, eval-mode batch norm, no dropout or
            augmentation), embeddings pass through the projector. False: back to single-modality
            training of unfrozen towers.
        """
        self.unified = bool(unified)
        self.towers.requires_grad_(not self.unified)
        self.projector.requires_grad_(self.unified)
        self.logit_scale.requires_grad_(self.unified)
        return None

    def train(self, mode=True):
        """Set training mode; in the unified stage the frozen towers stay in eval mode.

        Parameters
        ----------
        mode : bool
            Training (True) or evaluation (False) mode.

        Returns
        -------
        self : BrainFLORA
        """
        super().train(mode)
        if self.unified:
            self.towers.eval()  # frozen towers keep their batch-norm statistics and no dropout
        return self

    def temperature(self, modality):
        """The learnable ``tau`` that scales ``modality``'s logits (the unified one when unified).

        Parameters
        ----------
        modality : str
            One of the model's towers.

        Returns
        -------
        tau : torch.Tensor
            Scalar parameter (used raw by the official loss, as ``exp(tau)`` by the normalised one).
        """
        if modality not in self.towers:
            raise ValueError(f"modality {modality!r} has no tower; this model has "
                             f"{sorted(self.towers)}")
        return self.logit_scale if self.unified else self.towers[modality].logit_scale

    def check_input(self, x, modality):
        """Raise a clear error unless ``x`` is a batch of ``modality`` that this model embeds.

        Parameters
        ----------
        x : torch.Tensor
            (batch, channels, time) for EEG/MEG, (batch, n_voxels) for fMRI.
        modality : str
            One of the model's towers.
        """
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

    @staticmethod
    def _channel_names(ch_names, input_shapes):
        from neurosim.datasets._specs import THINGS_EEG2_63CH

        ch_names = dict(ch_names or {})
        unknown = sorted(set(ch_names) - {m for m in input_shapes if m != "fmri"})
        if unknown:
            raise ValueError(f"ch_names has modalities {unknown} without an EEG/MEG tower; towers: "
                             f"{sorted(input_shapes)}")
        out = {}
        for m, shape in input_shapes.items():
            if m == "fmri":
                continue
            names = ch_names.get(m)
            if names is None and m == "eeg" and int(shape[0]) == len(THINGS_EEG2_63CH):
                names = THINGS_EEG2_63CH
            if names is not None:
                names = [str(c) for c in names]
                if len(names) != int(shape[0]) or len(set(names)) != len(names):
                    raise ValueError(f"ch_names[{m!r}] must be {int(shape[0])} distinct names (the "
                                     f"tower's channels), got {len(names)}")
            out[m] = names
        return out

    def prepare_epochs(self, epochs, modality=None):
        """:class:`mne.Epochs` as a tower's input: channels by name, units removed, 0 s onwards.

        The tower's channels (:attr:`ch_names`) are picked by name, in the tower's order (None:
        the epochs' channels of the modality's type, bad ones excluded, whose number must be the
        tower's). Each epoch's channels are z-scored with the mean and standard deviation of
        its baseline (the samples before 0 s, when there are at least 10; else of the whole
        epoch), as THINGS-MEG's preprocessing, so volts, teslas or already standardised data
        give the same input; then the tower's number of samples from 0 s is kept. The sampling
        rate is the user's business (THINGS-EEG2: 250 Hz, THINGS-MEG: 200 Hz; see
        :func:`~neurosim.decoding.preprocessing.things_epochs` for the whole path from a raw
        recording). The :class:`~neurosim.decoding.Trainer` calls this for
        :class:`mne.Epochs` input.

        Parameters
        ----------
        epochs : mne.Epochs | mne.EpochsArray
            Epochs holding at least the tower's channels.
        modality : "eeg" | "meg" | None
            The tower (None: the only EEG/MEG tower whose channel type the epochs hold).

        Returns
        -------
        x : numpy.ndarray, shape (n_epochs, channels, time), float32

        Raises
        ------
        ValueError
            Naming the missing channels, or if the epochs are too short or the modality is
            ambiguous.
        """
        from .preprocessing import _is_mne, epochs_array

        if not _is_mne(epochs):
            raise TypeError(f"epochs must be mne.Epochs, got {type(epochs).__name__}")
        types = set(epochs.get_channel_types())
        has = {"eeg": "eeg" in types, "meg": bool(types & {"mag", "grad"})}
        if modality is None:
            cand = [m for m in ("eeg", "meg") if m in self.towers and has[m]]
            if len(cand) != 1:
                raise ValueError(f"cannot tell which tower the epochs are for (towers "
                                 f"{sorted(self.towers)}, channel types {sorted(types)}): pass "
                                 "modality='eeg' or 'meg' to prepare_epochs")
            modality = cand[0]
        if modality not in self.towers or modality == "fmri":
            raise ValueError(f"modality must be an EEG/MEG tower of this model "
                             f"{[m for m in self.towers if m != 'fmri']}, got {modality!r}")
        n_chans, n_times = self.towers[modality].input_shape
        names = self.ch_names.get(modality)
        what = f"BrainFLORA's {modality} tower"
        if names is None:
            picks = epochs.copy().pick(modality, exclude="bads").ch_names
            if len(picks) != n_chans:
                raise ValueError(f"{what} has {n_chans} channels; the epochs have {len(picks)} "
                                 f"{modality} channels: pass ch_names={{{modality!r}: [...]}} to "
                                 "the model, or pick the channels first")
            names = picks
        x = epochs_array(epochs, names, what=what)
        times = np.asarray(epochs.times)
        base = times < 0
        ref = x[..., base] if base.sum() >= 10 else x
        mean, std = ref.mean(-1, keepdims=True), ref.std(-1, keepdims=True)
        x = (x - mean) / np.where(std > 0, std, 1.0)
        start = int(np.searchsorted(times, -0.5 / epochs.info["sfreq"]))
        if x.shape[-1] - start < n_times:
            raise ValueError(f"{what} takes {n_times} samples from 0 s; the epochs have "
                             f"{x.shape[-1] - start} (tmin {epochs.tmin:g} s, tmax "
                             f"{epochs.tmax:g} s at {epochs.info['sfreq']:g} Hz)")
        return np.ascontiguousarray(x[..., start:start + n_times], dtype=np.float32)

    def forward(self, x, modality):
        """Embed a batch of one modality.

        Parameters
        ----------
        x : torch.Tensor
            (batch, channels, time) for EEG/MEG, (batch, n_voxels) for fMRI.
        modality : str
            One of the model's towers.

        Returns
        -------
        z : torch.Tensor, shape (batch, embed_dim)
        """
        self.check_input(x, modality)
        z = self.towers[modality](x)
        return self.projector(z) if self.unified else z

    def training_step(self, batch):
        """CLIP loss (``loss``) of a single-modality batch (used by the Trainer).

        Parameters
        ----------
        batch : dict
            ``{"modality", "x", "target"}`` (see :func:`~neurosim.decoding.round_robin_batches`).

        Returns
        -------
        loss : torch.Tensor
        """
        modality = batch["modality"]
        if isinstance(modality, (list, tuple)):
            modality = modality[0]
        pred = self(batch["x"], modality)
        target = batch["target"]
        if target.shape[-1] != self.embed_dim:
            raise ValueError(f"target embeddings have dim {target.shape[-1]}, the model embeds into "
                             f"{self.embed_dim}")
        return clip_loss(pred, target, self.temperature(modality),
                         normalize=self.loss == "normalized")

    def predict(self, x, modality, *, batch_size=256):
        """Embeddings of ``x`` in eval mode, batch by batch, as a float32 NumPy array.

        Parameters
        ----------
        x : array-like | torch.Tensor
            (n, channels, time) for EEG/MEG, (n, n_voxels) for fMRI.
        modality : str
            One of the model's towers.
        batch_size : int
            Samples per forward pass.

        Returns
        -------
        embeddings : numpy.ndarray, shape (n, embed_dim)
        """
        return self._predict_batches(x, lambda xb: self(xb, modality), batch_size=batch_size)

    def embed(self, x, modality, *, batch_size=256):
        """Alias of :meth:`predict` (the embeddings of ``x``).

        Parameters
        ----------
        x : array-like | torch.Tensor
            (n, channels, time) for EEG/MEG, (n, n_voxels) for fMRI.
        modality : str
            One of the model's towers.
        batch_size : int
            Samples per forward pass.

        Returns
        -------
        embeddings : numpy.ndarray, shape (n, embed_dim)
        """
        return self.predict(x, modality, batch_size=batch_size)
