"""BrainFLORA (2025): EEG, MEG and fMRI encoders into one image-embedding space, for retrieval.

Each modality has a tower: a Medformer-style multi-granularity patch encoder, a convolutional patch
embedding and a projection head to the embedding dimension. A shared soft mixture-of-experts
projector maps every tower's output into the unified space. Training is contrastive (symmetric
CLIP loss with a learnable temperature) on single-modality batches taken in turn (round-robin),
with the subjects of a modality pooled; the unified stage freezes the towers and trains the
projector.

The loss is :func:`~neurosim.decoding.losses.clip_loss`, the batch stream
:func:`~neurosim.decoding.samplers.round_robin_batches`, the data preparation
:func:`~neurosim.decoding.preprocessing.prepare_retrieval_data` and the training and evaluation
protocol :func:`~neurosim.decoding.model_selection.fit_brainflora` and
:func:`~neurosim.decoding.model_selection.retrieval_by_subject`.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

from neurosim._docs import fill_doc

from ._base import DecoderMixin
from .losses import clip_loss
from .preprocessing import MODALITIES

__all__ = ["BrainFLORA"]


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


@fill_doc
class BrainFLORA(DecoderMixin, nn.Module):
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
    >>> model = BrainFLORA.small({"eeg": (17, 100), "fmri": (500,)}, embed_dim=64)
    >>> model(torch.zeros(3, 17, 100), "eeg").shape
    torch.Size([3, 64])
    >>> model.unify()  # freeze the towers, train the shared projector
    >>> sorted({n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad})
    ['logit_scale', 'projector']
    """

    def __init__(self, input_shapes, embed_dim=1024, *, n_experts=5, d_model=250, n_heads=5,
                 d_ff=256, patch_lens=(2, 4, 8), conv_filters=40, conv_kernel=25, conv_pool=51,
                 conv_stride=5, fmri_tokens=(8, 1024), dropout=0.25, proj_dropout=0.5,
                 random_state=None):
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
        self.embed_dim = embed_dim
        with self._seeded(random_state):
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
        cfg = dict(d_model=32, n_heads=2, d_ff=64, conv_filters=8, conv_kernel=5, conv_pool=9,
                   conv_stride=4, fmri_tokens=(8, 64))
        cfg.update(kwargs)
        return cls(input_shapes, embed_dim, **cfg)

    def _checkpoint_state(self):
        return {"unified": self.unified}

    def _restore_state(self, state):
        self.unify(bool(state.get("unified", False)))

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
        """Symmetric CLIP loss of a single-modality batch (used by the Trainer).

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
        scale = self.logit_scale if self.unified else self.towers[modality].logit_scale
        return clip_loss(pred, target, scale)

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

    #: the same as :meth:`predict` (the embeddings of ``x``)
    embed = predict
