"""HiSTN (Kuang, Song & Michoski 2024): hierarchical spatial-temporal graph network for EEG emotion.

The network, its Gaussian ordinal label smoothing, DREAMER preprocessing and the two evaluation
protocols (subject-dependent time-block folds; leave-one-subject-out with fine-tuning).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "HiSTN",
    "gaussian_ordinal_labels",
    "leave_one_subject_out_split",
    "majority_vote_labels",
    "make_windows",
    "preprocess_dreamer",
    "subject_dependent_split",
    "time_block_folds",
]

DREAMER_CHANNELS = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8",
                    "AF4")
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


class HiSTN(nn.Module):
    r"""Hierarchical spatial-temporal graph network for EEG emotion (Kuang et al. 2024).

    ``HiSTN()`` is the DREAMER configuration: 14 Emotiv channels, 1-s windows of 128 samples,
    5 ordinal classes (ratings 1-5 as 0-4), 1,181 trainable parameters. Input has shape
    ``(batch, channels, time)`` (as braindecode's models); the output is class logits.

    Layers:

    1. temporal convolution, ``F1`` filters of ``kernel_length`` samples shared by all channels;
    2. per-channel weighted sum of the ``F1`` filtered copies (depthwise, max-norm 1), BN, ELU;
    3. per-channel temporal convolution of 5 samples (max-norm 1), BN, ELU, average pooling by 2,
       dropout;
    4. **node level**: within each scalp region, message passing with a learnable Chebyshev
       polynomial of the normalised Laplacian,
       :math:`X \sum_{k=0}^{K} w_k T_k(\tilde L)`, then a separable convolution (5 samples), BN,
       ELU and a residual connection;
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
        Sampling frequency in Hz (checked by :meth:`check_input`, not used by the layers).
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

    def __init__(self, n_chans=14, n_times=128, n_outputs=5, sfreq=128.0, *,
                 regions=DREAMER_REGIONS, adjacency=None, region_adjacency=None, n_filters=8,
                 kernel_length=64, hops=2, region_hops=2, drop_prob=0.5, label_sigma=0.5):
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
        self.n_chans, self.n_times, self.n_outputs, self.sfreq = n_chans, n_times, n_outputs, sfreq
        self.regions, self.label_sigma = regions, label_sigma
        self._config = dict(n_chans=n_chans, n_times=n_times, n_outputs=n_outputs, sfreq=sfreq,
                            regions=regions, n_filters=n_filters, kernel_length=kernel_length,
                            hops=hops, region_hops=region_hops, drop_prob=drop_prob,
                            label_sigma=label_sigma,
                            adjacency=[np.asarray(A).tolist() for A in adjacency],
                            region_adjacency=np.asarray(region_adjacency).tolist())
        C = n_chans
        # 1-3: temporal filters, per-channel merge, per-channel temporal conv
        self.temporal = nn.Parameter(torch.empty(n_filters, kernel_length))  # shared filters
        nn.init.uniform_(self.temporal, -1 / np.sqrt(kernel_length), 1 / np.sqrt(kernel_length))
        self._pad = ((kernel_length - 1) // 2, kernel_length // 2)  # "same"
        self.merge = nn.Parameter(torch.empty(C, n_filters))  # per-channel weights of the F1 copies
        nn.init.uniform_(self.merge, -1 / np.sqrt(n_filters), 1 / np.sqrt(n_filters))
        self.bn1 = nn.BatchNorm1d(C)
        self.depthwise = nn.Parameter(torch.empty(C, 5))  # per-channel temporal conv, 5 samples
        nn.init.uniform_(self.depthwise, -1 / np.sqrt(5), 1 / np.sqrt(5))
        self.bn2 = nn.BatchNorm1d(C)
        self.drop1 = nn.Dropout(drop_prob)
        # 4: node level
        self.node_mp = nn.ModuleList(_ChebMessagePassing(A, hops) for A in adjacency)
        sizes = [b - a for a, b in zip(regions[:-1], regions[1:])]
        self.node_dw = nn.ParameterList(
            nn.Parameter(torch.empty(n, 5).uniform_(-1 / np.sqrt(5), 1 / np.sqrt(5))) for n in sizes)
        self.node_pw = nn.ParameterList(
            nn.Parameter(torch.empty(n, n).uniform_(-1 / np.sqrt(n), 1 / np.sqrt(n))) for n in sizes)
        self.bn_node = nn.BatchNorm1d(C)
        # 5-6: region and graph levels
        self.fusion = _RegionAttention(regions)
        self.region_mp = _ChebMessagePassing(region_adjacency, region_hops)
        self.fusion_latter = _RegionAttention(regions)
        self.collapse = _Collapse(n_regions)
        self.collapse_latter = _Collapse(n_regions)
        # 7: head
        self.drop2 = nn.Dropout(drop_prob)
        self.head = nn.Linear(C + n_regions + 1, n_outputs)

    def get_config(self):
        """Constructor arguments, JSON-serialisable; ``HiSTN.from_config(cfg)`` rebuilds the model."""
        return dict(self._config)

    @classmethod
    def from_config(cls, config):
        """Build a model from :meth:`get_config`'s output."""
        return cls(**config)

    def check_input(self, x, sfreq=None):
        """Raise ValueError if ``x`` (batch, channels, time) or ``sfreq`` do not fit the model."""
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            raise ValueError(f"HiSTN expects input of shape (batch, {self.n_chans}, {self.n_times}) "
                             f"(batch, channels, time), got {tuple(x.shape)}")
        if sfreq is not None and float(sfreq) != float(self.sfreq):
            raise ValueError(f"data sampled at {sfreq} Hz but the model expects {self.sfreq} Hz")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise ValueError("input contains NaN or inf values")

    def forward(self, x):
        """Class logits of windows ``x`` of shape (batch, channels, time)."""
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            self.check_input(x)
        if self.training:
            _max_norm_(self.merge)
            _max_norm_(self.depthwise)
            for pw in self.node_pw:
                _max_norm_(pw)
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
        logits = self(x)
        if self.label_sigma is None:
            return F.cross_entropy(logits.float(), y)
        target = gaussian_ordinal_labels(y, self.n_outputs, self.label_sigma)
        return torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def gaussian_ordinal_labels(y, n_classes=5, sigma=0.5):
    r"""Gaussian ordinal label smoothing: :math:`p_k \propto \exp(-(k - y)^2 / 2\sigma^2)`.

    Parameters
    ----------
    y : array-like or torch.Tensor of int, shape (n,)
        Labels in ``[0, n_classes)``.
    n_classes : int
        Number of ordinal classes.
    sigma : float
        Width in classes (HiSTN: 0.5).

    Returns
    -------
    p : torch.Tensor, shape (n, n_classes)
        Rows sum to one (a tensor on ``y``'s device for tensor input, float32).

    Examples
    --------
    >>> from neurosim.decoding import gaussian_ordinal_labels
    >>> [round(float(p), 4) for p in gaussian_ordinal_labels([2], 5, 0.5)[0]]
    [0.0003, 0.1065, 0.7866, 0.1065, 0.0003]
    """
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.ndim != 1:
        raise ValueError(f"y must be a 1-D integer array, got dtype {y.dtype} and shape "
                         f"{tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"labels must be in [0, {n_classes - 1}], got values from {int(y.min())} "
                         f"to {int(y.max())}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    k = torch.arange(n_classes, device=y.device, dtype=torch.float32)
    logits = -((k[None, :] - y[:, None].float()) ** 2) / (2.0 * sigma**2)
    return torch.softmax(logits, dim=-1)


def preprocess_dreamer(data, *, duration=60.0, baseline_segment=(25.5, 35.5), scale=True):
    """DREAMER preprocessing of HiSTN: last ``duration`` s, baseline z-score, per-channel max scaling.

    Parameters
    ----------
    data : xarray.Dataset
        As returned by :func:`neurosim.datasets.make_eeg_emotion` or ``load_dreamer``: ``eeg``
        (subject, trial, channel, time) and ``baseline`` (subject, trial, channel, baseline_time).
    duration : float
        Seconds kept at the end of each film.
    baseline_segment : (float, float)
        Part of the 61-s baseline (s) whose per-channel mean and standard deviation z-score the
        film (HiSTN: the middle 10 s).
    scale : bool
        Divide each trial's channels by their maximum absolute value (after z-scoring).

    Returns
    -------
    eeg : xarray.DataArray
        (subject, trial, channel, time), float32, dimensionless, with the input's coordinates.

    Examples
    --------
    >>> from neurosim.datasets import make_eeg_emotion  # doctest: +SKIP
    >>> eeg = preprocess_dreamer(make_eeg_emotion(n_subjects=1))  # doctest: +SKIP
    >>> float(abs(eeg).max())  # doctest: +SKIP
    1.0
    """
    for var in ("eeg", "baseline"):
        if var not in getattr(data, "data_vars", {}):
            raise ValueError(f"data must be an xarray.Dataset with an {var!r} variable "
                             "(see neurosim.datasets.make_eeg_emotion)")
    eeg = data["eeg"].transpose("subject", "trial", "channel", "time")
    sfreq = float(data.attrs.get("sfreq", 128.0))
    n_keep = int(round(duration * sfreq))
    if n_keep > eeg.sizes["time"]:
        raise ValueError(f"duration={duration} s needs {n_keep} samples, the films have "
                         f"{eeg.sizes['time']}")
    eeg = eeg.isel(time=slice(eeg.sizes["time"] - n_keep, None))
    base = data["baseline"].transpose("subject", "trial", "channel", "baseline_time")
    lo, hi = baseline_segment
    i0, i1 = int(round(lo * sfreq)), int(round(hi * sfreq))
    if not 0 <= i0 < i1 <= base.sizes["baseline_time"]:
        raise ValueError(f"baseline_segment={baseline_segment} s is outside the baseline "
                         f"({base.sizes['baseline_time'] / sfreq:g} s)")
    seg = base.values[..., i0:i1].astype(np.float64)
    x = eeg.values.astype(np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(seg))):
        raise ValueError("the EEG contains NaN or inf values")
    std = seg.std(axis=-1, keepdims=True)
    x = (x - seg.mean(axis=-1, keepdims=True)) / np.where(std > 0, std, 1.0)
    if scale:
        peak = np.abs(x).max(axis=-1, keepdims=True)
        x = x / np.where(peak > 0, peak, 1.0)
    out = eeg.copy(data=x.astype(np.float32))
    out.attrs = {"units": "1", "sfreq": sfreq, "duration": float(duration),
                 "baseline_segment": list(baseline_segment), "scaled": int(bool(scale)),
                 "long_name": "baseline z-scored EEG" + (", max-scaled" if scale else "")}
    return out


def make_windows(x, window=128, stride=None, *, start=0, stop=None):
    """Cut the last (time) axis of ``x`` into windows.

    Parameters
    ----------
    x : array-like, shape (..., n_times)
        Signals.
    window : int
        Samples per window.
    stride : int | None
        Step between window starts (None: ``window``, non-overlapping).
    start, stop : int
        Sample range to cut from (windows lie entirely inside it).

    Returns
    -------
    windows : numpy.ndarray, shape (..., n_windows, window) moved so that windows come before the
        second-to-last axis: ``x`` of shape (trial, channel, time) gives (trial, n_windows, channel,
        window).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import make_windows
    >>> make_windows(np.zeros((3, 14, 7680)), 128).shape
    (3, 60, 14, 128)
    """
    x = np.asarray(getattr(x, "values", x))
    stride = window if stride is None else stride
    stop = x.shape[-1] if stop is None else stop
    if not 0 <= start < stop <= x.shape[-1]:
        raise ValueError(f"need 0 <= start < stop <= {x.shape[-1]}, got start={start}, stop={stop}")
    if window > stop - start or window < 1 or stride < 1:
        raise ValueError(f"window={window} and stride={stride} must be >= 1 and window <= "
                         f"{stop - start} samples")
    w = np.lib.stride_tricks.sliding_window_view(x[..., start:stop], window, axis=-1)[..., ::stride, :]
    return np.moveaxis(w, -2, -3) if x.ndim >= 2 else w


def time_block_folds(n_times, n_folds=10, *, gap=128):
    """HiSTN's subject-dependent folds over the time axis of each trial.

    The recording is cut into ``n_folds`` equal blocks; fold ``f`` tests on block ``f``, validates
    on block ``f - 1`` (cyclically) and trains on the rest, leaving ``gap`` samples out on each
    side of the test and validation blocks so that no window straddles them.

    Parameters
    ----------
    n_times : int
        Samples per trial (e.g. 7680 = 60 s at 128 Hz).
    n_folds : int
        Number of blocks (HiSTN: 10 blocks of 6 s).
    gap : int
        Samples excluded next to the test and validation blocks.

    Returns
    -------
    folds : list of dict
        Per fold, boolean masks over samples: ``"train"``, ``"val"``, ``"test"``.

    Examples
    --------
    >>> from neurosim.decoding import time_block_folds
    >>> f = time_block_folds(7680)[3]
    >>> int(f["test"].sum()), int(f["val"].sum()), int(f["train"].sum())
    (768, 768, 5888)
    """
    if n_folds < 2 or n_times < n_folds:
        raise ValueError(f"need 2 <= n_folds <= n_times, got n_folds={n_folds}, n_times={n_times}")
    edges = np.linspace(0, n_times, n_folds + 1).astype(int)
    idx = np.arange(n_times)
    folds = []
    for f in range(n_folds):
        test = (idx >= edges[f]) & (idx < edges[f + 1])
        v = (f - 1) % n_folds
        val = (idx >= edges[v]) & (idx < edges[v + 1])
        held = test | val
        near = np.convolve(held.astype(int), np.ones(2 * gap + 1, dtype=int), mode="same") > 0 \
            if gap > 0 else held
        folds.append({"train": ~near, "val": val, "test": test})
    return folds


def window_starts(mask, window, stride):
    """Start indices of windows of ``window`` samples lying entirely where ``mask`` is True."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size < window:
        return np.zeros(0, dtype=int)
    inside = np.lib.stride_tricks.sliding_window_view(mask, window).all(axis=-1)
    starts = np.flatnonzero(inside)
    if stride <= 1 or starts.size == 0:
        return starts
    keep, last = [], -stride
    for s in starts:  # greedy: next start at least `stride` after the previous one
        if s - last >= stride:
            keep.append(s)
            last = s
    return np.asarray(keep, dtype=int)


def _windows_at(eeg, labels, starts, window, center=False):
    """(trial, channel, time) at the given starts -> X (n, channel, window), y (n,).

    ``center`` removes each window's per-channel mean (computed in float64).
    """
    X = np.stack([eeg[:, :, s:s + window] for s in starts], axis=1)  # (trial, n_w, ch, window)
    X = X.reshape(-1, eeg.shape[1], window)
    if center:
        X = X - X.mean(axis=-1, keepdims=True, dtype=np.float64)
    y = np.repeat(np.asarray(labels), len(starts))
    return X.astype(np.float32), y.astype(np.int64)


def subject_dependent_split(eeg, labels, fold, *, n_folds=10, window=128, stride=128, gap=128,
                            center=False):
    """Windows of one subject for one of HiSTN's subject-dependent time-block folds.

    Parameters
    ----------
    eeg : array-like, shape (n_trials, n_channels, n_times)
        Preprocessed EEG of one subject (:func:`preprocess_dreamer`).
    labels : array-like of int, shape (n_trials,)
        Class of each trial (ratings 1-5 as 0-4).
    fold : int
        Fold index in ``[0, n_folds)`` (see :func:`time_block_folds`).
    n_folds, gap : int
        As in :func:`time_block_folds`.
    window, stride : int
        Window length and step in samples (the paper trains on random crops: ``stride=1`` gives
        every crop).
    center : bool
        Remove each window's per-channel mean. Not in the paper (see
        :ref:`centred windows <histn-centering>`): when slow drifts dominate a 1-s window's
        variance, HiSTN otherwise fits the drift, which a band-power baseline (Welch, constant
        detrending) never sees.

    Returns
    -------
    split : dict
        ``"train"``, ``"val"``, ``"test"``: each ``(X, y)`` with X of shape
        (n_windows, n_channels, window), float32, and y int64. Windows never cross a block boundary
        or the gaps.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import subject_dependent_split
    >>> split = subject_dependent_split(np.zeros((18, 14, 7680)), np.arange(18) % 5, fold=0)
    >>> split["train"][0].shape, split["test"][0].shape
    ((828, 14, 128), (108, 14, 128))
    """
    eeg = np.asarray(getattr(eeg, "values", eeg))
    labels = np.asarray(getattr(labels, "values", labels))
    if eeg.ndim != 3 or labels.shape != (eeg.shape[0],):
        raise ValueError(f"eeg must be (trial, channel, time) and labels (trial,), got shapes "
                         f"{eeg.shape} and {labels.shape}")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in [0, {n_folds - 1}], got {fold}")
    masks = time_block_folds(eeg.shape[-1], n_folds, gap=gap)[fold]
    return {part: _windows_at(eeg, labels, window_starts(masks[part], window, stride), window,
                              center)
            for part in ("train", "val", "test")}


def majority_vote_labels(labels):
    """Per trial (video), the most frequent label over subjects (ties: the lower class).

    Parameters
    ----------
    labels : array-like of int, shape (n_subjects, n_trials)

    Returns
    -------
    votes : numpy.ndarray of int, shape (n_trials,)

    Examples
    --------
    >>> from neurosim.decoding import majority_vote_labels
    >>> majority_vote_labels([[0, 4, 2], [1, 4, 3], [1, 3, 3]])
    array([1, 4, 3])
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0 or labels.min() < 0:
        raise ValueError(f"labels must be a non-empty (subject, trial) array of classes >= 0, "
                         f"got shape {labels.shape}")
    n_classes = int(labels.max()) + 1
    counts = np.stack([(labels == k).sum(axis=0) for k in range(n_classes)])  # (class, trial)
    return counts.argmax(axis=0)


def leave_one_subject_out_split(eeg, labels, subject, *, window=128, stride=128,
                                finetune_s=10.0, finetune_stride=32, sfreq=128.0,
                                majority_vote=True, center=False):
    """HiSTN's subject-independent protocol: pretrain on the others, fine-tune on 10 s, test on 50 s.

    Parameters
    ----------
    eeg : array-like, shape (n_subjects, n_trials, n_channels, n_times)
        Preprocessed EEG (:func:`preprocess_dreamer`).
    labels : array-like of int, shape (n_subjects, n_trials)
        Classes.
    subject : int
        Index of the held-out subject.
    window, stride : int
        Window length and the step of the pretraining windows (samples).
    finetune_s : float
        Seconds at the start of each of the held-out subject's trials used for fine-tuning; the
        rest is the test set.
    finetune_stride : int
        Step of the fine-tuning windows (HiSTN: 0.25 s).
    sfreq : float
        Sampling frequency in Hz.
    majority_vote : bool
        Replace the pretraining labels by the majority vote over the training subjects for each
        trial (video), as HiSTN does.
    center : bool
        Remove each window's per-channel mean (see :func:`subject_dependent_split`).

    Returns
    -------
    split : dict
        ``"pretrain"``, ``"finetune"``, ``"test"``: each ``(X, y)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import leave_one_subject_out_split
    >>> s = leave_one_subject_out_split(np.zeros((3, 18, 14, 7680)), np.zeros((3, 18), int), 0)
    >>> s["pretrain"][0].shape[0], s["finetune"][0].shape[0], s["test"][0].shape[0]
    (2160, 666, 900)
    """
    eeg = np.asarray(getattr(eeg, "values", eeg))
    labels = np.asarray(getattr(labels, "values", labels))
    if eeg.ndim != 4 or labels.shape != eeg.shape[:2]:
        raise ValueError(f"eeg must be (subject, trial, channel, time) and labels (subject, trial), "
                         f"got shapes {eeg.shape} and {labels.shape}")
    n_sub, _, _, n_times = eeg.shape
    if not 0 <= subject < n_sub or n_sub < 2:
        raise ValueError(f"subject must be in [0, {n_sub - 1}] with >= 2 subjects, got {subject}")
    others = [s for s in range(n_sub) if s != subject]
    train_labels = labels[others]
    if majority_vote:
        train_labels = np.broadcast_to(majority_vote_labels(train_labels), train_labels.shape)
    starts = np.arange(0, n_times - window + 1, stride)
    Xs, ys = zip(*(_windows_at(eeg[s], train_labels[i], starts, window, center)
                   for i, s in enumerate(others)))
    n_ft = int(round(finetune_s * sfreq))
    if not window <= n_ft <= n_times - window:
        raise ValueError(f"finetune_s={finetune_s} s must leave at least one window on each side")
    ft = _windows_at(eeg[subject], labels[subject], np.arange(0, n_ft - window + 1, finetune_stride),
                     window, center)
    test = _windows_at(eeg[subject], labels[subject], np.arange(n_ft, n_times - window + 1, window),
                       window, center)
    return {"pretrain": (np.concatenate(Xs), np.concatenate(ys)), "finetune": ft, "test": test}
