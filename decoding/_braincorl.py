"""BraInCoRL (Yu et al., NeurIPS 2025): in-context learning of voxelwise encoders.

For one voxel, a transformer reads a set of (image embedding, response) pairs and writes the
voxel's linear encoding model ``(w, b)``; the response to any new image ``x`` is ``w . x + b``.
Tokens carry no position, so the output does not depend on the order of the context; learnable
register tokens are prepended and token 0 is read out; attention queries are scaled by the log of
the sequence length so that attention stays sharp for long contexts. The model is meta-trained over
voxels and subjects with random context sizes (:func:`braincorl_tasks`), and then encodes a new
subject's voxels from a few images, without gradient steps.

The task stream is :func:`~neurosim.decoding.samplers.braincorl_tasks`; the meta-training and
test-time scaling protocols are :func:`~neurosim.decoding.model_selection.meta_train` and
:func:`~neurosim.decoding.model_selection.scaling_curve`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neurosim._docs import fill_doc

from ._base import DecoderMixin

__all__ = ["BraInCoRL"]

# embedding dim / internal dim / layers of the reference code's presets
_PRESETS = {
    "CLIP": {"embedding_dim": 512, "d_model": 560, "n_layers": 20},
    "DINO": {"embedding_dim": 768, "d_model": 800, "n_layers": 20},
    "SIGLIP": {"embedding_dim": 1152, "d_model": 1200, "n_layers": 20},
}


class _ResidualBlock(nn.Module):
    """Pre-norm residual block (LayerNorm -> LeakyReLU -> Linear, twice) with a linear bypass."""

    def __init__(self, d_in, d_out, d_hidden, dropout):
        super().__init__()
        self.block = nn.Sequential(
            nn.LayerNorm(d_in), nn.LeakyReLU(0.1), nn.Dropout(dropout), nn.Linear(d_in, d_hidden),
            nn.LayerNorm(d_hidden), nn.LeakyReLU(0.1), nn.Dropout(dropout),
            nn.Linear(d_hidden, d_out),
        )
        self.bypass = nn.Identity() if d_in == d_out else nn.Linear(d_in, d_out)

    def forward(self, x):
        return self.block(x) + self.bypass(x)


class _SwiGLUBlock(nn.Module):
    """Pre-norm self-attention with log-length query scaling, then a SwiGLU feed-forward."""

    def __init__(self, d_model, n_heads, ffn_dim, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn_in = nn.Linear(d_model, 2 * ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, d_model)

    def forward(self, x):
        h = self.norm1(x)
        scale = math.log(x.shape[1])  # log of the number of tokens (context + registers)
        x = x + self.drop(self.attn(scale * h, h, h, need_weights=False)[0])
        a, b = self.ffn_in(self.norm2(x)).chunk(2, dim=-1)
        return x + self.ffn_out(F.silu(a) * b)


@fill_doc
class BraInCoRL(DecoderMixin, nn.Module):
    """In-context transformer that writes voxelwise linear encoders (BraInCoRL, Yu et al. 2025).

    Parameters
    ----------
    embedding_dim : int
        Dimension ``E`` of the image embeddings (512 for CLIP in the paper).
    d_model : int
        Internal token width (560 for CLIP).
    n_layers : int
        Attention blocks (20 in the paper).
    n_heads : int
        Attention heads (10); must divide ``d_model``.
    ffn_dim : int
        Hidden width of the SwiGLU feed-forward (2048).
    n_registers : int
        Learnable register tokens prepended to the context (4); the first one is read out.
    hidden_dim : int | None
        Hidden width of the input and output residual blocks (default ``2 * d_model``).
    dropout : float
        Dropout everywhere (0 in the presets, 0.5 in the paper's training script).
    standardize : bool
        False (the official model): the context responses are tokenised as they are. True (a
        neurosim option): each voxel's context responses are standardised (mean 0, std 1 over
        its context) before tokenising and the written encoder is mapped back to response units
        (:math:`w \\leftarrow \\sigma w`, :math:`b \\leftarrow \\sigma b + \\mu`), which makes
        the model equivariant to the responses' offset and scale (voxels and data sets differ in
        both). Official checkpoints need ``standardize=False``.
    %(random_state_torch)s

    Notes
    -----
    Input contract: ``context_embeddings`` ``(n_voxels, S, E)`` float (unit-norm rows in the
    paper), ``context_responses`` ``(n_voxels, S)``, ``query_embeddings`` ``(n_voxels, Q, E)``;
    the batch dimension is voxels. Each context token is ``[x_i, y_i]`` mapped to ``d_model`` by a
    residual block; there is no positional encoding. The read-out gives ``E + 1`` numbers per voxel:
    the encoder weights ``w`` and bias ``b``; predictions are ``w . x + b``.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import BraInCoRL
    >>> model = BraInCoRL(embedding_dim=8, d_model=16, n_layers=1, n_heads=2, ffn_dim=32)
    >>> pred, params = model(torch.randn(3, 10, 8), torch.randn(3, 10), torch.randn(3, 4, 8))
    >>> tuple(pred.shape), tuple(params.shape)
    ((3, 4), (3, 9))
    """

    _derive_int_seed = True  # the torch seed of an int random_state, as before the mixin
    _configs = {
        # the official CLIP model as trained (train.sh: dropout 0.5) and as released
        "paper": {"embedding_dim": 512, "d_model": 560, "n_layers": 20, "n_heads": 10,
                  "ffn_dim": 2048, "n_registers": 4, "dropout": 0.5, "standardize": False},
        # a CPU-sized model of the same architecture (give embedding_dim)
        "small": {"d_model": 64, "n_layers": 4, "n_heads": 4, "ffn_dim": 128, "n_registers": 4,
                  "dropout": 0.0, "standardize": False},
    }

    def __init__(self, embedding_dim=512, *, d_model=560, n_layers=20, n_heads=10, ffn_dim=2048,
                 n_registers=4, hidden_dim=None, dropout=0.0, standardize=False, random_state=0):
        super().__init__()
        from neurosim._utils import check_positive, check_size

        self.embedding_dim = check_size("embedding_dim", embedding_dim)
        self.d_model = check_size("d_model", d_model)
        self.n_layers = check_size("n_layers", n_layers)
        self.n_heads = check_size("n_heads", n_heads)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads ({n_heads}) must divide d_model ({d_model})")
        self.ffn_dim = check_size("ffn_dim", ffn_dim)
        self.n_registers = check_size("n_registers", n_registers)
        self.hidden_dim = 2 * self.d_model if hidden_dim is None else check_size("hidden_dim",
                                                                                 hidden_dim)
        if not 0 <= check_positive("dropout", dropout, allow_zero=True) < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.standardize = bool(standardize)
        self.random_state = random_state
        e, d = self.embedding_dim, self.d_model
        with self._seeded(random_state):
            self.tokenizer = _ResidualBlock(e + 1, d, self.hidden_dim, self.dropout)
            self.registers = nn.Parameter(torch.randn(1, self.n_registers, d) / math.sqrt(d + 1))
            self.input_dropout = nn.Dropout(self.dropout)
            self.blocks = nn.ModuleList(_SwiGLUBlock(d, self.n_heads, self.ffn_dim, self.dropout)
                                        for _ in range(self.n_layers))
            self.readout = _ResidualBlock(d, e + 1, self.hidden_dim, self.dropout)

    @classmethod
    def from_official_state_dict(cls, state_dict, **kwargs):
        """Build a BraInCoRL holding the weights of the official ``HyperweightsPredictorModel``.

        Maps the keys of ``leomqyu/BraInCoRL`` (``scripts/model.py``):
        ``early_layers.0.*`` -> ``tokenizer.*``, ``cls_token`` -> ``registers``,
        ``transformer.<i>.layer_norm_1/attn/layer_norm_2/ffn.linear1/ffn.linear2`` ->
        ``blocks.<i>.norm1/attn/norm2/ffn_in/ffn_out``, ``weight_pred.0.*`` -> ``readout.*``. The
        sizes are read from the weights; ``standardize=False`` (the official model feeds raw
        responses).

        Parameters
        ----------
        state_dict : dict of str to torch.Tensor
            The official weights, or a Lightning checkpoint ``{"state_dict": ...}`` (as the
            official ``test_det.py`` loads it; a ``model.`` or ``module.`` prefix is removed).
        **kwargs
            Other constructor arguments (``dropout``, ``random_state``; ``n_heads`` if not 10).

        Returns
        -------
        model : BraInCoRL

        Raises
        ------
        ValueError
            If keys or shapes do not fit the official layout (the message names them), or the
            official model has more than one early or read-out block (``num_early_lyr > 1``).
        """
        import re
        from collections.abc import Mapping

        from ._base import load_checkpoint_state

        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        sd = state_dict.get("state_dict", state_dict)
        sd = {re.sub(r"^(model|module)\.", "", k): v for k, v in sd.items()}
        for key in ("cls_token", "early_layers.0.block.3.weight"):
            if key not in sd:
                raise ValueError(f"not an official BraInCoRL state dict: {key!r} is missing "
                                 f"(keys: {sorted(sd)[:8]} ...)")
        deeper = sorted(k for k in sd if re.match(r"(early_layers|weight_pred)\.[1-9]", k))
        if deeper:
            raise ValueError(f"official models with more than one early/read-out residual block "
                             f"are not supported: {deeper[:4]}")
        tok_in = sd["early_layers.0.block.3.weight"]
        n_layers = len({k.split(".")[1] for k in sd if k.startswith("transformer.")})
        ffn = sd.get("transformer.0.ffn.linear2.weight")
        config = {"embedding_dim": int(tok_in.shape[1]) - 1, "d_model": int(sd["cls_token"].shape[2]),
                  "n_layers": n_layers, "n_registers": int(sd["cls_token"].shape[1]),
                  "hidden_dim": int(tok_in.shape[0]), "standardize": False}
        if ffn is not None:
            config["ffn_dim"] = int(ffn.shape[1])
        config.update(kwargs)
        model = cls(**config)
        names = {"layer_norm_1": "norm1", "layer_norm_2": "norm2", "ffn.linear1": "ffn_in",
                 "ffn.linear2": "ffn_out", "attn": "attn", "attn_dropout": "drop"}

        def ours(key):
            if key == "cls_token":
                return "registers"
            if key.startswith("early_layers.0."):
                return "tokenizer." + key[len("early_layers.0."):]
            if key.startswith("weight_pred.0."):
                return "readout." + key[len("weight_pred.0."):]
            m = re.fullmatch(r"transformer\.(\d+)\.(layer_norm_1|layer_norm_2|ffn\.linear1|"
                             r"ffn\.linear2|attn)\.(.+)", key)
            if m:
                return f"blocks.{m.group(1)}.{names[m.group(2)]}.{m.group(3)}"
            return None

        own = model.state_dict()
        mapped, unmapped = {}, []
        for key, value in sd.items():
            new = ours(key)
            if new is None or new not in own:
                unmapped.append(key)
            else:
                mapped[new] = torch.as_tensor(value)
        if unmapped:
            raise ValueError(f"official BraInCoRL keys that fit no weight of the model: "
                             f"{sorted(unmapped)[:8]}" + (" ..." if len(unmapped) > 8 else ""))
        return load_checkpoint_state(model, mapped, "the official state dict")

    @classmethod
    def from_preset(cls, name, **kwargs):
        """The reference code's architecture presets: ``"CLIP"``, ``"DINO"``, ``"SIGLIP"``.

        Parameters
        ----------
        name : str
        **kwargs
            Override any constructor argument.

        Returns
        -------
        model : BraInCoRL
        """
        if name not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(_PRESETS)}")
        return cls(**{**_PRESETS[name], **kwargs})

    # ------------------------------------------------------------------------------------------
    def check_input(self, context_embeddings, context_responses):
        """Raise a clear error unless the context tensors fit the model.

        Parameters
        ----------
        context_embeddings : torch.Tensor, shape (n_voxels, n_context, embedding_dim)
        context_responses : torch.Tensor, shape (n_voxels, n_context)
        """
        x, y = context_embeddings, context_responses
        if x.ndim != 3:
            raise ValueError("context_embeddings must have shape (n_voxels, n_context, "
                             f"embedding_dim), got {tuple(x.shape)}")
        if x.shape[-1] != self.embedding_dim:
            raise ValueError(f"embedding dim {x.shape[-1]} does not match the model's "
                             f"embedding_dim={self.embedding_dim}")
        if x.shape[1] == 0:
            raise ValueError("the context is empty (0 images); give at least one in-context image")
        if y.shape != x.shape[:2]:
            raise ValueError(f"context_responses must have shape {tuple(x.shape[:2])}, got "
                             f"{tuple(y.shape)}")

    def encoder_parameters(self, context_embeddings, context_responses):
        """Write each voxel's linear encoder from its context.

        Parameters
        ----------
        context_embeddings : torch.Tensor, shape (n_voxels, n_context, embedding_dim)
        context_responses : torch.Tensor, shape (n_voxels, n_context)

        Returns
        -------
        params : torch.Tensor, shape (n_voxels, embedding_dim + 1)
            Weights ``w`` (first ``embedding_dim`` columns) and bias ``b`` (last column).
        """
        self.check_input(context_embeddings, context_responses)
        y = context_responses.to(self.registers.dtype)
        if self.standardize:
            mean = y.mean(dim=1, keepdim=True)
            std = y.std(dim=1, unbiased=False, keepdim=True)
            std = torch.where(std > 0, std, torch.ones_like(std))
            y = (y - mean) / std
        tokens = torch.cat([context_embeddings.to(y.dtype), y.unsqueeze(-1)], dim=-1)
        h = self.tokenizer(tokens)
        h = torch.cat([self.registers.expand(len(h), -1, -1), h], dim=1)
        h = self.input_dropout(h)
        for block in self.blocks:
            h = block(h)
        params = self.readout(h[:, 0])
        if self.standardize:  # back to response units: y = std * (w.x + b) + mean
            params = params * std
            params = torch.cat([params[:, :-1], params[:, -1:] + mean], dim=1)
        return params

    def forward(self, context_embeddings, context_responses, query_embeddings):
        """Predict the responses to query images from the context.

        Parameters
        ----------
        context_embeddings : torch.Tensor, shape (n_voxels, n_context, embedding_dim)
        context_responses : torch.Tensor, shape (n_voxels, n_context)
        query_embeddings : torch.Tensor, shape (n_voxels, n_query, embedding_dim)

        Returns
        -------
        pred : torch.Tensor, shape (n_voxels, n_query)
        params : torch.Tensor, shape (n_voxels, embedding_dim + 1)
        """
        params = self.encoder_parameters(context_embeddings, context_responses)
        if query_embeddings.ndim != 3 or query_embeddings.shape[-1] != self.embedding_dim \
                or len(query_embeddings) != len(params):
            raise ValueError(f"query_embeddings must have shape ({len(params)}, n_query, "
                             f"{self.embedding_dim}), got {tuple(query_embeddings.shape)}")
        pred = torch.einsum("vqe,ve->vq", query_embeddings.to(params.dtype), params[:, :-1])
        return pred + params[:, -1:], params

    def training_step(self, batch):
        """MSE on the query responses (the reference ``pmse`` loss), for the Trainer.

        Parameters
        ----------
        batch : dict of str to torch.Tensor
            ``context_embeddings``, ``context_responses``, ``query_embeddings``,
            ``query_responses`` (see :func:`braincorl_tasks`).

        Returns
        -------
        loss : torch.Tensor
        """
        pred, _ = self(batch["context_embeddings"], batch["context_responses"],
                       batch["query_embeddings"])
        return F.mse_loss(pred, batch["query_responses"].to(pred.dtype))

    @torch.no_grad()
    def fit_voxels(self, embeddings, responses, *, batch_size=256):
        """Encoders of many voxels that share one set of in-context images (no gradient steps).

        Parameters
        ----------
        embeddings : array-like, shape (n_context, embedding_dim)
            The in-context images' embeddings.
        responses : array-like, shape (n_context, n_voxels)
            Each voxel's responses to them.
        batch_size : int
            Voxels per forward pass.

        Returns
        -------
        weights : numpy.ndarray, shape (n_voxels, embedding_dim)
        bias : numpy.ndarray, shape (n_voxels,)

        Examples
        --------
        >>> import numpy as np
        >>> model = BraInCoRL(embedding_dim=4, d_model=8, n_layers=1, n_heads=2, ffn_dim=8)
        >>> w, b = model.fit_voxels(np.ones((6, 4)), np.zeros((6, 3)))
        >>> w.shape, b.shape
        ((3, 4), (3,))
        """
        x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        y = torch.as_tensor(np.asarray(responses, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.embedding_dim:
            raise ValueError(f"embeddings must have shape (n_context, {self.embedding_dim}) to "
                             f"match the model's embedding_dim, got {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise ValueError("the context is empty (0 images); give at least one in-context image")
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise ValueError(f"responses must have shape ({x.shape[0]}, n_voxels), got "
                             f"{tuple(y.shape)}")
        device = self.registers.device
        was_training = self.training
        self.eval()
        try:
            x = x.to(device)
            out = []
            for i in range(0, y.shape[1], batch_size):
                yy = y[:, i:i + batch_size].T.to(device)
                out.append(self.encoder_parameters(x.expand(len(yy), -1, -1), yy).float().cpu())
        finally:
            self.train(was_training)
        params = torch.cat(out).numpy() if out else np.zeros((0, self.embedding_dim + 1),
                                                             np.float32)
        return params[:, :-1], params[:, -1]


    def predict(self, embeddings, responses, query_embeddings, *, batch_size=256):
        """Responses of many voxels to new images, from one shared set of in-context images.

        Writes each voxel's encoder with :meth:`fit_voxels` (no gradient steps) and applies it:
        ``query_embeddings @ w.T + b``.

        Parameters
        ----------
        embeddings : array-like, shape (n_context, embedding_dim)
            The in-context images' embeddings.
        responses : array-like, shape (n_context, n_voxels)
            Each voxel's responses to them.
        query_embeddings : array-like, shape (n_query, embedding_dim)
            The images to predict.
        batch_size : int
            Voxels per forward pass.

        Returns
        -------
        pred : numpy.ndarray, shape (n_query, n_voxels)

        Examples
        --------
        >>> import numpy as np
        >>> model = BraInCoRL(embedding_dim=4, d_model=8, n_layers=1, n_heads=2, ffn_dim=8)
        >>> model.predict(np.ones((6, 4)), np.zeros((6, 3)), np.ones((2, 4))).shape
        (2, 3)
        """
        q = np.asarray(query_embeddings, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.embedding_dim:
            raise ValueError(f"query_embeddings must have shape (n_query, {self.embedding_dim}), "
                             f"got {q.shape}")
        w, b = self.fit_voxels(embeddings, responses, batch_size=batch_size)
        return q @ w.T + b
