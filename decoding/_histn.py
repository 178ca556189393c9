"""HiSTN (Kuang, Song & Michoski 2024): hierarchical spatial-temporal graph network for EEG emotion.

Kuang, D., Song, X. & Michoski, C. "Emotion Classification from Multi-Channel EEG Signals Using
HiSTN: A Hierarchical Graph-based Spatial-Temporal Approach", arXiv:2408.15255 (2024); official
TensorFlow code ``dykuang/EEG-based-affective-computing``.

The network only. Its loss (Gaussian ordinal label smoothing) is in
:mod:`neurosim.decoding.losses`, the DREAMER preprocessing in :mod:`neurosim.decoding.preprocessing`
and the two evaluation protocols (subject-dependent time-block folds; leave-one-subject-out with
fine-tuning) in :mod:`neurosim.decoding.model_selection`.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from neurosim.datasets._specs import DREAMER_CHANNELS
from torch import nn
from torch.nn import functional as F

from neurosim._docs import fill_doc

from ._base import DecoderMixin
from .losses import ordinal_cross_entropy

__all__ = ["DREAMER_CHANNELS", "HiSTN"]

_MAX_NORMS = ("keras", "row")

#: DREAMER's four scalp regions as channel index boundaries (left frontal, left temporo-occipital,
#: right temporo-occipital, right frontal), HiSTN's ``loc = [0, 4, 7, 10, 14]``
DREAMER_REGIONS = (0, 4, 7, 10, 14)
_A4 = np.array([[0, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 0]], dtype=float)
_A3 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
#: intra-region adjacency matrices of the DREAMER regions (the 4th mirrors the 1st)
DREAMER_ADJACENCY = (_A4, _A3, _A3, _A4[::-1, ::-1].copy())
_RING4 = np.array([[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], dtype=float)


def chebyshev_basis(adjacency, hops):
    """Chebyshev polynomials ``T_0..T_hops`` of the scaled graph Laplacian, shape (hops+1, n, n).

    ``L = D - A``, ``L~ = 2 L / lambda_max - I``, ``T_0 = I``, ``T_1 = L~``,
    ``T_k = 2 L~ T_{k-1} - T_{k-2}``.
    """
    A = np.asarray(adjacency, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.allclose(A, A.T):
        raise ValueError(f"adjacency must be a symmetric square matrix, got shape {A.shape}")
    n = A.shape[0]
    L = np.diag(A.sum(axis=1)) - A
    lam = np.max(np.abs(np.linalg.eigvalsh(L))) if n > 1 else 0.0
    L_t = 2.0 * L / lam - np.eye(n) if lam > 0 else -np.eye(n)
    basis = [np.eye(n), L_t]
    for _ in range(hops - 1):
        basis.append(2.0 * L_t @ basis[-1] - basis[-2])
    return np.stack(basis[:hops + 1])


class _ChebMessagePassing(nn.Module):
    """``X @ sum_k w_k T_k(L~)`` over the node axis of (B, T, n): hops+1 learnable scalars."""

    def __init__(self, adjacency, hops):
        super().__init__()
        self.register_buffer("basis", torch.as_tensor(chebyshev_basis(adjacency, hops),
                                                      dtype=torch.float32))
        self.weight = nn.Parameter(torch.empty(hops + 1).uniform_(-1.0, 1.0))

    def forward(self, x):  # (B, T, n)
        return x @ torch.einsum("k,kij->ij", self.weight, self.basis)


class _RegionAttention(nn.Module):
    """Softmax attention over the nodes of each region from time-averaged features: (B,T,C)->(B,T,R)."""

    def __init__(self, bounds):
        super().__init__()
        self.bounds = tuple(bounds)
        self.att = nn.ModuleList(nn.Linear(b - a, b - a) for a, b in zip(bounds[:-1], bounds[1:]))

    def forward(self, x):
        pooled = x.mean(dim=1)  # (B, C)
        out = []
        for att, a, b in zip(self.att, self.bounds[:-1], self.bounds[1:]):
            w = torch.softmax(att(pooled[:, a:b]), dim=-1)  # (B, n_r)
            out.append(torch.einsum("btn,bn->bt", x[..., a:b], w))
        return torch.stack(out, dim=-1)


class _Collapse(nn.Module):
    """Softmax attention over regions: (B, T, R) -> (B, T, 1)."""

    def __init__(self, n):
        super().__init__()
        self.att = nn.Linear(n, n)

    def forward(self, x):
        w = torch.softmax(self.att(x.mean(dim=1)), dim=-1)
        return torch.einsum("btr,br->bt", x, w)[..., None]


def _depthwise(x, weight, pad=(0, 0)):
    """Per-channel temporal filter: x (B, C, T), weight (C, K) -> (B, C, T + 2 pad - K + 1).

    A grouped (depthwise) cross-correlation; with torch 2.x on CPUs it is about 4 times faster
    (forward and backward) than the equivalent unfold + einsum.
    """
    if any(pad):
        x = F.pad(x, pad)
    return F.conv1d(x, weight.to(x.dtype)[:, None, :], groups=weight.shape[0])


def _max_norm_(weight, max_norm=1.0):
    """Rescale each output filter of ``weight`` to an L2 norm of at most ``max_norm`` (in place)."""
    with torch.no_grad():
        flat = weight.view(weight.shape[0], -1)
        norms = flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
        flat.mul_(torch.clamp(max_norm / norms, max=1.0))


def _clip_(weight, max_norm=1.0):
    """Keras ``max_norm(1.)`` on a kernel whose axis 0 has length 1: clip each element to [-1, 1]."""
    with torch.no_grad():
        weight.clamp_(-max_norm, max_norm)


@fill_doc
class HiSTN(DecoderMixin, nn.Module):
    r"""Hierarchical spatial-temporal graph network for EEG emotion (Kuang, Song & Michoski 2024).

    ``HiSTN()`` is the DREAMER configuration of the official code: 14 Emotiv channels in
    :data:`DREAMER_CHANNELS` order, 1-s windows of 128 samples, 5 ordinal classes (ratings 1-5
    as 0-4), 1,181 trainable parameters, dropout 0.5, Keras's max-norm constraints and
    batch-norm epsilon; ``HiSTN.from_config("paper")`` also takes Keras's batch-norm momentum
    (``"paper-si"``: and dropout 0.2, the subject-independent protocol's). Input has shape
    ``(batch, channels, time)`` (as braindecode's models); the output is class logits.
    :class:`mne.Epochs` go through :meth:`prepare_epochs` (channels matched by name, the paper's
    per-channel scaling).

    Layers:

    1. temporal convolution, ``F1`` filters of ``kernel_length`` samples shared by all channels;
    2. per-channel weighted sum of the ``F1`` filtered copies (depthwise; each weight in [-1, 1]),
       BN, ELU;
    3. per-channel temporal convolution of 5 samples (max-norm 1), BN, ELU, average pooling by 2,
       dropout;
    4. **node level**: within each scalp region, message passing with a learnable Chebyshev
       polynomial of the scaled combinatorial Laplacian :math:`\tilde L = 2L/\lambda_{max} - I`,
       :math:`L = D - A`: :math:`X \sum_{k=0}^{K} w_k T_k(\tilde L)`, then a separable
       convolution (5 samples; pointwise weights in [-1, 1]), BN, ELU and a residual connection;
    5. **region level**: softmax attention over each region's nodes gives one signal per region,
       message passing over the ring of the 4 regions, plus the attention-fused node-level output;
    6. **graph level**: softmax attention over regions gives one global signal;
    7. the 14 node, 4 region and 1 graph signals are averaged over time, dropout, linear layer.

    Parameters
    ----------
    n_chans : int
        Channels (must match ``regions[-1]``).
    n_times : int
        Samples per window.
    n_outputs : int
        Classes.
    sfreq : float
        Sampling frequency in Hz (checked by :meth:`check_input` and :meth:`prepare_epochs`, not
        used by the layers).
    ch_names : sequence of str | None
        The channel names, in the order of the input's channel axis (None: :data:`DREAMER_CHANNELS`
        for DREAMER's regions, else ``ch1 ... chN``); :meth:`prepare_epochs` matches them.
    regions : sequence of int
        Region boundaries over the channel axis (channels must be ordered by region), starting at 0
        and ending at ``n_chans``.
    adjacency : sequence of array-like | None
        One symmetric adjacency matrix per region (None: DREAMER's; other layouts need their own).
    region_adjacency : array-like | None
        Adjacency between regions (None: a ring).
    n_filters : int
        ``F1``, temporal filters.
    kernel_length : int
        Samples of the temporal filters.
    hops : int
        Chebyshev order of node-level message passing.
    region_hops : int
        Chebyshev order of region-level message passing.
    drop_prob : float
        Dropout probability.
    label_sigma : float | None
        Width (in classes) of the Gaussian ordinal label smoothing used by :meth:`training_step`;
        None trains on one-hot labels.
    bn_eps, bn_momentum : float
        Batch-norm constants. The paper's are Keras's ``epsilon=1e-3`` and ``momentum=0.99``,
        i.e. torch momentum 0.01 (``from_config("paper")``): its running statistics need the
        paper's ~20,000 steps to settle, and after a few hundred steps the eval-mode model still
        predicts one class. The default momentum, 0.1 (torch's), settles within ~50 steps.
    max_norm : "keras" | "row"
        The paper's constraints: ``"keras"`` as Keras's ``max_norm(1.)`` acts on these kernels
        (each merge and node-pointwise weight clipped to [-1, 1], each channel's 5-sample filter
        to L2 norm 1); ``"row"``: an L2 norm of at most 1 per output row of all three.
    %(random_state_torch)s

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import HiSTN
    >>> model = HiSTN()
    >>> sum(p.numel() for p in model.parameters() if p.requires_grad)
    1181
    >>> model(torch.zeros(2, 14, 128)).shape
    torch.Size([2, 5])
    """

    _configs = {
        # subject-dependent (Dreamer_10cv.py, droprate=0.5) and subject-independent
        # (..._reston1_...py, droprate=0.2), with Keras's batch-norm momentum 0.99
        "paper": {"drop_prob": 0.5, "bn_momentum": 0.01},
        "paper-si": {"drop_prob": 0.2, "bn_momentum": 0.01},
        # HiSTN is CPU-sized already: "small" differs in its training (HISTN_RECIPES) and in a
        # batch-norm momentum whose running statistics settle within a few hundred steps
        "small": {"drop_prob": 0.5, "bn_momentum": 0.1},
    }

    def __init__(self, n_chans=14, n_times=128, n_outputs=5, sfreq=128.0, *, ch_names=None,
                 regions=DREAMER_REGIONS, adjacency=None, region_adjacency=None, n_filters=8,
                 kernel_length=64, hops=2, region_hops=2, drop_prob=0.5, label_sigma=0.5,
                 bn_eps=1e-3, bn_momentum=0.1, max_norm="keras", random_state=None):
        super().__init__()
        for name, v, lo in (("n_chans", n_chans, 2), ("n_times", n_times, 8),
                            ("n_outputs", n_outputs, 2), ("n_filters", n_filters, 1),
                            ("kernel_length", kernel_length, 1), ("hops", hops, 1),
                            ("region_hops", region_hops, 1)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        regions = tuple(int(r) for r in regions)
        if regions[0] != 0 or regions[-1] != n_chans or any(b <= a for a, b in
                                                              zip(regions[:-1], regions[1:])):
            raise ValueError(f"regions must increase from 0 to n_chans={n_chans}, got {regions}")
        n_regions = len(regions) - 1
        if adjacency is None:
            if regions != DREAMER_REGIONS:
                raise ValueError("adjacency is required for regions other than DREAMER's")
            adjacency = DREAMER_ADJACENCY
        if len(adjacency) != n_regions:
            raise ValueError(f"adjacency must hold {n_regions} matrices, got {len(adjacency)}")
        for i, (A, a, b) in enumerate(zip(adjacency, regions[:-1], regions[1:])):
            if np.shape(A) != (b - a, b - a):
                raise ValueError(f"adjacency[{i}] must be ({b - a}, {b - a}), got {np.shape(A)}")
        if region_adjacency is None:
            region_adjacency = (_RING4 if n_regions == 4 else
                                np.roll(np.eye(n_regions), 1, 1) + np.roll(np.eye(n_regions), -1, 1))
            region_adjacency = np.minimum(region_adjacency, 1.0)
        if not 0 <= drop_prob < 1:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob!r}")
        if label_sigma is not None and not label_sigma > 0:
            raise ValueError(f"label_sigma must be None or positive, got {label_sigma!r}")
        if max_norm not in _MAX_NORMS:
            raise ValueError(f"max_norm must be one of {_MAX_NORMS}, got {max_norm!r}")
        if ch_names is None:
            ch_names = (DREAMER_CHANNELS if regions == DREAMER_REGIONS and n_chans == 14
                        else [f"ch{i + 1}" for i in range(n_chans)])
        ch_names = [str(c) for c in ch_names]
        if len(ch_names) != n_chans or len(set(ch_names)) != n_chans:
            raise ValueError(f"ch_names must be {n_chans} distinct names, got {ch_names!r}")
        self.n_chans, self.n_times, self.n_outputs, self.sfreq = n_chans, n_times, n_outputs, sfreq
        self.regions, self.label_sigma, self.ch_names = regions, label_sigma, ch_names
        self.max_norm = max_norm
        bn = {"eps": float(bn_eps), "momentum": float(bn_momentum)}
        C = n_chans
        with self._seeded(random_state):
            # 1-3: temporal filters, per-channel merge, per-channel temporal conv
            self.temporal = nn.Parameter(torch.empty(n_filters, kernel_length))  # shared filters
            nn.init.uniform_(self.temporal, -1 / np.sqrt(kernel_length), 1 / np.sqrt(kernel_length))
            self._pad = ((kernel_length - 1) // 2, kernel_length // 2)  # "same"
            self.merge = nn.Parameter(torch.empty(C, n_filters))  # per-channel weights of the F1 copies
            nn.init.uniform_(self.merge, -1 / np.sqrt(n_filters), 1 / np.sqrt(n_filters))
            self.bn1 = nn.BatchNorm1d(C, **bn)
            self.depthwise = nn.Parameter(torch.empty(C, 5))  # per-channel temporal conv, 5 samples
            nn.init.uniform_(self.depthwise, -1 / np.sqrt(5), 1 / np.sqrt(5))
            self.bn2 = nn.BatchNorm1d(C, **bn)
            self.drop1 = nn.Dropout(drop_prob)
            # 4: node level
            self.node_mp = nn.ModuleList(_ChebMessagePassing(A, hops) for A in adjacency)
            sizes = [b - a for a, b in zip(regions[:-1], regions[1:])]
            self.node_dw = nn.ParameterList(
                nn.Parameter(torch.empty(n, 5).uniform_(-1 / np.sqrt(5), 1 / np.sqrt(5))) for n in sizes)
            self.node_pw = nn.ParameterList(
                nn.Parameter(torch.empty(n, n).uniform_(-1 / np.sqrt(n), 1 / np.sqrt(n))) for n in sizes)
            self.bn_node = nn.BatchNorm1d(C, **bn)
            # 5-6: region and graph levels
            self.fusion = _RegionAttention(regions)
            self.region_mp = _ChebMessagePassing(region_adjacency, region_hops)
            self.fusion_latter = _RegionAttention(regions)
            self.collapse = _Collapse(n_regions)
            self.collapse_latter = _Collapse(n_regions)
            # 7: head
            self.drop2 = nn.Dropout(drop_prob)
            self.head = nn.Linear(C + n_regions + 1, n_outputs)

    def check_input(self, x, sfreq=None):
        """Raise ValueError if ``x`` or ``sfreq`` do not fit the model.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, n_chans, n_times)
            Windows.
        sfreq : float | None
            Their sampling frequency in Hz (None: not checked).
        """
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            raise ValueError(f"HiSTN expects input of shape (batch, {self.n_chans}, {self.n_times}) "
                             f"(batch, channels, time), got {tuple(x.shape)}")
        if sfreq is not None and float(sfreq) != float(self.sfreq):
            raise ValueError(f"data sampled at {sfreq} Hz but the model expects {self.sfreq} Hz")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise ValueError("input contains NaN or inf values")

    def prepare_epochs(self, epochs):
        """:class:`mne.Epochs` as this model's input: channels by name, in microvolts.

        The channels named in :attr:`ch_names` are picked, in the model's order, by name (case is
        ignored; other channels are left out); the sampling rate and the epoch length must be the
        model's. The data, in volts as MNE holds EEG, are converted to microvolts: at about 1e-6
        V the first batch norm's epsilon would swamp the signal. No per-epoch scaling is applied:
        the paper's scaling (:func:`~neurosim.decoding.preprocess_dreamer`) divides each 60-s
        trial by its maximum, and applied to each 1-s epoch it would remove the power differences
        between epochs that carry the emotion (see the HiSTN section of the decoding docs). The
        :class:`~neurosim.decoding.Trainer` calls this for :class:`mne.Epochs` input.

        Parameters
        ----------
        epochs : mne.Epochs | mne.EpochsArray
            Epochs of at least the model's channels, in volts (MNE's unit).

        Returns
        -------
        x : numpy.ndarray, shape (n_epochs, n_chans, n_times), float32
            Microvolts.

        Raises
        ------
        ValueError
            If channels are missing (named, with a pointer to
            :func:`~neurosim.decoding.preprocessing.pick_montage` for caps with other names), or
            the sampling rate or the number of samples differ.
        """
        from .preprocessing import epochs_array

        x = epochs_array(epochs, self.ch_names, sfreq=self.sfreq, n_times=self.n_times,
                         what="HiSTN")
        return (x * 1e6).astype(np.float32)

    def forward(self, x):
        """Class logits of windows.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, n_chans, n_times)
            Windows.

        Returns
        -------
        logits : torch.Tensor, shape (batch, n_outputs)
        """
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            self.check_input(x)
        if self.training:
            elementwise = _clip_ if self.max_norm == "keras" else _max_norm_
            elementwise(self.merge)
            _max_norm_(self.depthwise)
            for pw in self.node_pw:
                elementwise(pw)
        # F1 shared temporal filters, then a per-channel weighted sum of the F1 filtered copies:
        # both linear, so applied as one per-channel kernel merge @ temporal, shape (C, K)
        h = _depthwise(x, self.merge @ self.temporal, pad=self._pad)  # (B, C, T)
        h = F.elu(self.bn1(h))
        h = F.elu(self.bn2(_depthwise(h, self.depthwise)))
        h = self.drop1(F.avg_pool1d(h, 2))  # (B, C, T')
        # node level (layout (B, T', C) for message passing)
        xt = h.transpose(1, 2)
        parts = []
        for i, (a, b) in enumerate(zip(self.regions[:-1], self.regions[1:])):
            m = self.node_mp[i](xt[..., a:b]).transpose(1, 2)  # (B, n_r, T')
            m = _depthwise(m, self.node_dw[i], pad=(2, 2))
            parts.append(torch.einsum("bnt,mn->bmt", m, self.node_pw[i]))
        agg = F.elu(self.bn_node(torch.cat(parts, dim=1))).transpose(1, 2)  # (B, T', C)
        node_out = xt + agg
        # region level
        regions_x = self.fusion(xt)  # (B, T', R)
        regions_latter = self.fusion_latter(agg)
        region_out = self.region_mp(regions_x) + regions_latter
        # graph level
        graph_out = self.collapse(regions_x) + self.collapse_latter(regions_latter)
        feats = torch.cat([node_out, region_out, graph_out], dim=-1).mean(dim=1)  # (B, C+R+1)
        return self.head(self.drop2(feats))

    def training_step(self, batch):
        """Cross-entropy against Gaussian-smoothed ordinal labels (``label_sigma``) or one-hot.

        Parameters
        ----------
        batch : tuple
            ``(x, y)`` with integer labels ``y`` in ``[0, n_outputs)``.

        Returns
        -------
        loss : torch.Tensor
        """
        x, y = batch[0], batch[1]
        return ordinal_cross_entropy(self(x), y, self.label_sigma)

    def predict_proba(self, x, *, batch_size=512):
        """Class probabilities of windows ``x`` (eval mode, batch by batch, no gradients).

        Parameters
        ----------
        x : array-like | torch.Tensor, shape (n, n_chans, n_times)
            Windows.
        batch_size : int
            Windows per forward pass.

        Returns
        -------
        proba : numpy.ndarray, shape (n, n_outputs)
            Softmax of the logits, float32.
        """
        return self._predict_batches(x, lambda xb: torch.softmax(self(xb).float(), -1),
                                     batch_size=batch_size)

    def predict(self, x, *, batch_size=512):
        """Predicted class (``0 .. n_outputs - 1``) of windows ``x``.

        Parameters
        ----------
        x : array-like | torch.Tensor, shape (n, n_chans, n_times)
            Windows.
        batch_size : int
            Windows per forward pass.

        Returns
        -------
        y : numpy.ndarray of int, shape (n,)
        """
        return self.predict_proba(x, batch_size=batch_size).argmax(axis=1)

