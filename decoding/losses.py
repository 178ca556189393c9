"""Losses of the decoders, and the label smoothing of HiSTN.

- :func:`clip_loss`: symmetric CLIP (InfoNCE) loss with a learnable temperature (BrainFLORA).
- :func:`soft_clip_loss`: SoftCLIP, soft labels from the targets' own similarities (MindBridge).
- :func:`normalized_mse_loss`: MSE between L2-normalised, flattened predictions and targets
  (MindBridge's regulariser next to SoftCLIP).
- :func:`ordinal_cross_entropy` with :func:`gaussian_ordinal_labels`: cross-entropy against
  Gaussian-smoothed ordinal labels (HiSTN).

The models' ``training_step`` methods call these; they are public so that a training loop written
by hand uses the same losses.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["clip_loss", "gaussian_ordinal_labels", "normalized_mse_loss", "ordinal_cross_entropy",
           "soft_clip_loss"]


def clip_loss(pred, target, logit_scale, *, normalize=True):
    r"""Symmetric CLIP (InfoNCE) loss between two batches of embeddings.

    .. math::

        \mathcal L = \tfrac12\left[\mathrm{CE}(s\,P T^\top, I) + \mathrm{CE}(s\,T P^\top, I)
        \right]

    - ``normalize=True`` (CLIP's form): :math:`P` and :math:`T` are the L2-normalised rows of
      ``pred`` and ``target`` and :math:`s = e^{\tau}` (clamped to 100), :math:`\tau` the
      learnable log inverse temperature.
    - ``normalize=False`` (BrainFLORA's official ``ClipLoss`` as its training scripts call it):
      :math:`P` and :math:`T` are the raw features and :math:`s = \tau` itself, no exponential,
      no clamp.

    :math:`\tau` is initialised at :math:`\log(1/0.07)` in both.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (batch, dim)
        Row ``i`` of ``pred`` matches row ``i`` of ``target``.
    logit_scale : torch.Tensor
        Scalar :math:`\tau`.
    normalize : bool
        Normalised features and :math:`e^{\tau}` (True), or the official raw form (False).

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
    >>> float(clip_loss(10 * t, t, torch.tensor(2.0), normalize=False)) < 1e-7  # logits 20 * I
    True
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape (batch, dim), got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if normalize:
        p = F.normalize(pred.float(), dim=-1)
        t = F.normalize(target.float(), dim=-1)
        logits = logit_scale.float().exp().clamp(max=100.0) * p @ t.T
    else:
        p, t = pred.float(), target.float()
        logits = logit_scale.float() * p @ t.T
    labels = torch.arange(p.shape[0], device=p.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def soft_clip_loss(pred, target, temperature=0.005):
    """SoftCLIP contrastive loss (MindEye / MindBridge) between predictions and targets.

    Both are flattened per row and L2-normalised. The soft labels are the softmax of the targets'
    own similarities, so near-duplicate targets are not pushed apart:

    .. math::

        L = -\\frac{1}{2B}\\sum_i \\sum_j \\operatorname{softmax}_j\\!\\left(
        \\frac{t_i \\cdot t_j}{\\tau}\\right)\\left[\\log\\operatorname{softmax}_j\\!\\left(
        \\frac{p_i \\cdot t_j}{\\tau}\\right) + \\log\\operatorname{softmax}_j\\!\\left(
        \\frac{p_j \\cdot t_i}{\\tau}\\right)\\right]

    Parameters
    ----------
    pred, target : torch.Tensor, shape (batch, ...)
        Predicted and target embeddings (any trailing shape, flattened).
    temperature : float
        Softmax temperature :math:`\\tau` (0.005 in MindBridge).

    Returns
    -------
    loss : torch.Tensor
        Scalar.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import soft_clip_loss
    >>> t = torch.eye(4)
    >>> float(soft_clip_loss(t, t, temperature=0.01)) < 1e-6
    True
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    p = F.normalize(pred.reshape(len(pred), -1).float(), dim=-1)
    t = F.normalize(target.reshape(len(target), -1).float(), dim=-1)
    soft = (t @ t.T / temperature).softmax(-1)
    logits = p @ t.T / temperature
    loss_fwd = -(logits.log_softmax(-1) * soft).sum(-1).mean()
    loss_bwd = -(logits.T.log_softmax(-1) * soft).sum(-1).mean()
    return (loss_fwd + loss_bwd) / 2


def normalized_mse_loss(pred, target):
    r"""Mean squared error between L2-normalised, flattened predictions and targets (MindBridge).

    .. math::

        L = \frac{1}{B D}\sum_{i=1}^{B}\Big\lVert \frac{p_i}{\lVert p_i\rVert}
        - \frac{t_i}{\lVert t_i\rVert}\Big\rVert^2 = \frac{2}{B D}\sum_i (1 - \cos(p_i, t_i)),

    with :math:`p_i, t_i` sample :math:`i` flattened to :math:`D` numbers. This is the MSE term of
    MindBridge's official trainer (``nn.MSELoss()`` on the normalised vectors that SoftCLIP also
    uses), weighted there by ``mse_mult = 1e4``: with the 257 x 768 image head, ``D = 197,376``,
    so the weighted term is at most ``4e4 / D = 0.2``.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (batch, ...)
        Predictions and targets (any trailing shape, flattened per sample).

    Returns
    -------
    loss : torch.Tensor
        Scalar, in float32.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import normalized_mse_loss
    >>> p = torch.tensor([[3.0, 4.0]])
    >>> float(normalized_mse_loss(p, 10 * p))  # same direction: 0 whatever the norms
    0.0
    >>> float(normalized_mse_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])))
    1.0
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    p = F.normalize(pred.reshape(len(pred), -1).float(), dim=-1)
    t = F.normalize(target.reshape(len(target), -1).float(), dim=-1)
    return F.mse_loss(p, t)


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



def ordinal_cross_entropy(logits, y, sigma=0.5):
    r"""Cross-entropy against Gaussian-smoothed ordinal labels (HiSTN's training loss).

    .. math:: L = -\frac{1}{n}\sum_i \sum_k p_{ik} \log \operatorname{softmax}_k(z_i),

    with :math:`p_i` = :func:`gaussian_ordinal_labels` of :math:`y_i`; ``sigma=None`` is the
    plain cross-entropy against one-hot labels.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, n_classes)
        Class scores (computed in float32).
    y : torch.Tensor of int, shape (n,)
        Labels in ``[0, n_classes)``.
    sigma : float | None
        Width of the smoothing in classes (HiSTN: 0.5); None for one-hot labels.

    Returns
    -------
    loss : torch.Tensor
        Scalar.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import ordinal_cross_entropy
    >>> logits = torch.tensor([[0.0, 5.0, 0.0]])
    >>> bool(ordinal_cross_entropy(logits, torch.tensor([1]), None) < 0.02)
    True
    """
    if sigma is None:
        return F.cross_entropy(logits.float(), y)
    target = gaussian_ordinal_labels(y, logits.shape[-1], sigma)
    return torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
