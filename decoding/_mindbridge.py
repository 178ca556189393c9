"""MindBridge (Wang et al., CVPR 2024): one model for cross-subject fMRI decoding.

Each subject's voxel vector (its own length) is aggregated to a fixed size by adaptive max pooling,
mapped by a per-subject *embedder* (residual low-rank adapter + linear layer) into a shared space,
passed through a shared residual MLP *translator* and projected by shared *heads* onto the target
embedding spaces (token grids such as CLIP ViT-L/14's 257 x 768 image and 77 x 768 text hidden
states, or single vectors). Per-subject *builders* map the shared space back to the pooled fMRI;
the cycle loss ``MSE(e_a, embedder_b(builder_b(e_a)))`` ties subjects together. A new subject is
added by *reset-tuning* (:func:`reset_tune`): fresh embedder and builder, everything else frozen.

The loss is in :mod:`neurosim.decoding.losses` (:func:`~neurosim.decoding.losses.soft_clip_loss`),
the batch stream in :mod:`neurosim.decoding.samplers`
(:func:`~neurosim.decoding.samplers.mindbridge_batches`) and the reset-tuning protocol in
:mod:`neurosim.decoding.model_selection`
(:func:`~neurosim.decoding.model_selection.reset_tuning_curve`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neurosim._docs import fill_doc

from ._base import DecoderMixin
from .losses import normalized_mse_loss, soft_clip_loss

__all__ = ["MindBridge", "mindbridge_memory_estimate", "reset_tune"]

_POOL_TYPES = ("max", "avg")
#: voxels of NSD's ``nsdgeneral`` ROI per subject (1.8 mm), as in MindEye and MindBridge
NSD_NSDGENERAL_VOXELS = {1: 15724, 2: 14278, 3: 15226, 4: 13153, 5: 13039, 6: 17907, 7: 12682,
                         8: 14386}


def _unwrap_state_dict(state_dict, key):
    """The state dict inside a checkpoint dict (``state_dict[key]``), without ``module.``."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a dict of str to tensor, got {type(state_dict).__name__}")
    if key in state_dict and isinstance(state_dict[key], Mapping):
        state_dict = state_dict[key]
    return {(k[len("module."):] if k.startswith("module.") else k): v
            for k, v in state_dict.items()}


class _Adapter(nn.Module):
    """Residual low-rank adapter: ``x + up(dropout(relu(down(x))))``, LoRA initialisation."""

    def __init__(self, dim, rank, dropout=0.0):
        super().__init__()
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, dim)
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)  # starts as the identity
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        return x + self.up(self.dropout(F.relu(self.down(x))))


class _ResMLP(nn.Module):
    """Residual MLP: blocks of Linear -> LayerNorm -> GELU -> Dropout, each with a skip."""

    def __init__(self, dim, n_blocks, dropout):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim), nn.GELU(), nn.Dropout(dropout))
            for _ in range(n_blocks)
        )

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return x


def _check_subjects(subjects, n_voxels):
    if isinstance(subjects, str) or not isinstance(subjects, Sequence):
        raise TypeError(f"subjects must be a sequence of str, got {subjects!r}")
    subjects = list(subjects)
    if not subjects:
        raise ValueError("subjects must not be empty")
    for s in subjects:
        if not isinstance(s, str) or not s or "." in s:
            raise ValueError(f"subject ids must be non-empty str without '.', got {s!r}")
    if len(set(subjects)) != len(subjects):
        raise ValueError(f"subject ids must be unique, got {subjects}")
    if isinstance(n_voxels, Mapping):
        missing = [s for s in subjects if s not in n_voxels]
        if missing:
            raise ValueError(f"n_voxels has no entry for subjects {missing}")
        n_voxels = [n_voxels[s] for s in subjects]
    elif isinstance(n_voxels, numbers.Integral):
        n_voxels = [n_voxels] * len(subjects)
    else:
        n_voxels = list(n_voxels)
        if len(n_voxels) != len(subjects):
            raise ValueError(f"n_voxels must have one entry per subject ({len(subjects)}), "
                             f"got {len(n_voxels)}")
    out = {}
    for s, n in zip(subjects, n_voxels):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n_voxels for subject {s!r} must be a positive int, got {n!r}")
        out[s] = int(n)
    return out


def _check_heads(heads):
    if not isinstance(heads, Mapping) or not heads:
        raise ValueError(f"heads must be a non-empty dict of name -> shape, got {heads!r}")
    out = {}
    for name, shape in heads.items():
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"head names must be non-empty str without '.', got {name!r}")
        shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
        if not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
                            for d in shape):
            raise ValueError(f"head {name!r}: shape must be positive ints, e.g. (257, 768) or "
                             f"(768,), got {heads[name]!r}")
        out[name] = tuple(int(d) for d in shape)
    return out


@fill_doc
class MindBridge(DecoderMixin, nn.Module):
    """MindBridge: cross-subject fMRI decoder onto embedding spaces (Wang et al., 2024).

    Parameters
    ----------
    subjects : sequence of str
        Subject ids (e.g. ``["subj01", "subj02"]``); one embedder and one builder each.
    n_voxels : dict of str to int | sequence of int | int
        Each subject's voxel count (the length of its input vectors).
    pool_size : int
        Length after adaptive pooling (8192 in the paper).
    pool_type : {"max", "avg"}
        Adaptive max pooling (the paper's "biologically-inspired aggregation") or average pooling.
    hidden_dim : int
        Width of the shared space (2048 in the paper).
    adapter_rank : int
        Bottleneck of the residual low-rank adapters (128 in the paper).
    n_blocks : int
        Residual blocks of the shared translator (4 in the paper).
    heads : dict of str to tuple of int
        Output heads, name -> shape of one target: ``{"image": (257, 768), "text": (77, 768)}``
        (the paper's CLIP ViT-L/14 hidden states, the default) or e.g. ``{"image": (64,)}``.
    embedder_dropout, translator_dropout : float
        Dropout of the embedders (0.5) and of the translator blocks (0.15).
    temperature : float
        SoftCLIP temperature (0.005).
    mse_mult, rec_mult, cyc_mult : float
        Weights of the MSE between the L2-normalised, flattened prediction and target of each
        head (1e4 in the paper; as in the official trainer the MSE acts on unit vectors, so with
        the 257 x 768 head it is about ``1e4 * 2 (1 - cos) / 197376``, a small regulariser next
        to SoftCLIP), of the pooled-fMRI reconstruction loss and of the cycle loss (1 and 1 in
        the paper's bridge and adapt runs).
    %(random_state_torch)s

    Attributes
    ----------
    subjects : list of str
    n_voxels : dict of str to int
    adapt_target : str | None
        Set by :func:`reset_tune`: the cycle loss then always maps source subjects onto it.

    Notes
    -----
    Named configurations (:meth:`from_config`): ``MindBridge.from_config("paper", subjects=...,
    n_voxels=...)`` is the published model (the defaults above); ``"small"`` is a CPU-sized one
    (pooled 256, width 128, rank 8, 2 blocks, one vector head, temperature 0.05, ``mse_mult``
    100). Weights of the official code load with :meth:`from_official_state_dict`.

    Input contract: raw voxel vectors are ``float`` tensors of shape ``(batch, n_voxels[s])``
    for one subject ``s`` (:meth:`forward`, :meth:`predict`); training batches
    (:meth:`training_step`) carry *pooled* vectors ``(batch, pool_size)`` of several subjects with
    an integer ``subject`` index, as built by :func:`~neurosim.decoding.mindbridge_batches`
    (pooling on the data side, as in the reference code). Outputs have shape ``(batch, *heads[name])``.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import MindBridge
    >>> model = MindBridge(["subj01", "subj02"], {"subj01": 300, "subj02": 250}, pool_size=128,
    ...                    hidden_dim=32, adapter_rank=8, n_blocks=2, heads={"image": (4, 16)})
    >>> out = model(torch.randn(5, 300), "subj01")
    >>> tuple(out["image"].shape)
    (5, 4, 16)
    """

    _derive_int_seed = True  # the torch seed of an int random_state, as before the mixin
    _configs = {
        # the official scripts (train_bridge.sh, adapt_bridge.sh): the constructor's defaults
        "paper": {"pool_size": 8192, "pool_type": "max", "hidden_dim": 2048, "adapter_rank": 128,
                  "n_blocks": 4, "heads": {"image": (257, 768), "text": (77, 768)},
                  "embedder_dropout": 0.5, "translator_dropout": 0.15, "temperature": 0.005,
                  "mse_mult": 1e4, "rec_mult": 1.0, "cyc_mult": 1.0},
        # a CPU-sized model for vector targets (pass heads={"image": (dim,)}), as the simulated
        # experiment runs it: a softer temperature and a smaller MSE weight suit one short vector
        "small": {"pool_size": 256, "pool_type": "max", "hidden_dim": 128, "adapter_rank": 8,
                  "n_blocks": 2, "heads": {"image": (64,)}, "embedder_dropout": 0.5,
                  "translator_dropout": 0.15, "temperature": 0.05, "mse_mult": 100.0,
                  "rec_mult": 1.0, "cyc_mult": 1.0},
    }

    def __init__(self, subjects, n_voxels, *, pool_size=8192, pool_type="max", hidden_dim=2048,
                 adapter_rank=128, n_blocks=4, heads=None, embedder_dropout=0.5,
                 translator_dropout=0.15, temperature=0.005, mse_mult=1e4, rec_mult=1.0,
                 cyc_mult=1.0, random_state=0):
        super().__init__()
        from neurosim._utils import check_positive, check_size

        self.n_voxels = _check_subjects(subjects, n_voxels)
        self.subjects = list(self.n_voxels)
        self.pool_size = check_size("pool_size", pool_size)
        if pool_type not in _POOL_TYPES:
            raise ValueError(f"pool_type must be one of {_POOL_TYPES}, got {pool_type!r}")
        self.pool_type = pool_type
        self.hidden_dim = check_size("hidden_dim", hidden_dim)
        self.adapter_rank = check_size("adapter_rank", adapter_rank)
        self.n_blocks = check_size("n_blocks", n_blocks, minimum=0)
        self.heads = _check_heads({"image": (257, 768), "text": (77, 768)} if heads is None
                                  else heads)
        for name, p in [("embedder_dropout", embedder_dropout),
                        ("translator_dropout", translator_dropout)]:
            if not 0 <= check_positive(name, p, allow_zero=True) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        self.embedder_dropout = float(embedder_dropout)
        self.translator_dropout = float(translator_dropout)
        self.temperature = check_positive("temperature", temperature)
        self.mse_mult = check_positive("mse_mult", mse_mult, allow_zero=True)
        self.rec_mult = check_positive("rec_mult", rec_mult, allow_zero=True)
        self.cyc_mult = check_positive("cyc_mult", cyc_mult, allow_zero=True)
        self.random_state = random_state
        self.adapt_target = None

        with self._seeded(random_state):
            self.embedder = nn.ModuleDict({s: self._new_embedder() for s in self.subjects})
            self.builder = nn.ModuleDict({s: self._new_builder() for s in self.subjects})
            self.translator = _ResMLP(self.hidden_dim, self.n_blocks, self.translator_dropout)
            self.head = nn.ModuleDict({
                name: nn.Linear(self.hidden_dim, math.prod(shape))
                for name, shape in self.heads.items()
            })

    # ------------------------------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------------------------------
    def _new_embedder(self):
        p, h = self.pool_size, self.hidden_dim
        return nn.Sequential(_Adapter(p, self.adapter_rank), nn.Linear(p, h), nn.LayerNorm(h),
                             nn.GELU(), nn.Dropout(self.embedder_dropout))

    def _new_builder(self):
        p, h = self.pool_size, self.hidden_dim
        return nn.Sequential(nn.Linear(h, p), nn.LayerNorm(p), nn.GELU(),
                             _Adapter(p, self.adapter_rank))

    def _checkpoint_state(self):
        return {"adapt_target": self.adapt_target}

    def _restore_state(self, state):
        self.adapt_target = state.get("adapt_target")

    def no_weight_decay(self):
        """Names of the parameters that AdamW does not decay: biases and LayerNorm weights.

        The official trainer puts parameters whose name contains ``bias``, ``Norm`` or
        ``temperature`` in a group with ``weight_decay=0``; :class:`~neurosim.decoding.Trainer`
        reads this method and does the same. (In the official model the LayerNorms sit unnamed in
        ``nn.Sequential`` containers, so the ``Norm`` pattern matches none of them and their
        weights are in fact decayed there; here they are exempt, as the rule intends. There is no
        learnable temperature.)

        Returns
        -------
        names : set of str
            Parameter names, as in :meth:`~torch.nn.Module.named_parameters`.
        """
        names = set()
        for module_name, module in self.named_modules():
            for name, _ in module.named_parameters(recurse=False):
                if name == "bias" or isinstance(module, nn.LayerNorm):
                    names.add(f"{module_name}.{name}" if module_name else name)
        return names

    @classmethod
    def from_official_state_dict(cls, state_dict, n_voxels=None, *, subjects=None, heads=None,
                                 **kwargs):
        """Build a MindBridge holding the weights of the official code (``littlepure2333/MindBridge``).

        Reads the state dict of the official ``MindBridge`` or ``MindSingle`` class (the
        ``model_state_dict`` of its ``last.pth``/``best.pth`` checkpoints, or the checkpoint
        itself) and maps its keys: ``embedder.<k>.0.down_proj`` -> ``embedder.<subject>.0.down``,
        ``up_proj`` -> ``up``, ``builder.<k>.3.*_proj`` likewise, ``translator.mlp.<i>`` ->
        ``translator.blocks.<i>``, ``head_image``/``head_text`` -> ``head.image``/``head.text``.
        The sizes (pooled length, width, adapter rank, blocks, heads) are read from the weights.
        A single-subject ``MindSingle`` has no builders: the model keeps freshly initialised ones
        and ``rec_mult = cyc_mult = 0`` unless given.

        Parameters
        ----------
        state_dict : dict of str to torch.Tensor
            The official weights (a ``{"model_state_dict": ...}`` checkpoint is unwrapped; a
            ``module.`` prefix is removed).
        n_voxels : dict of str to int | sequence of int | None
            Each subject's voxel count before pooling (not stored in the checkpoint). None: the
            ``nsdgeneral`` counts of NSD subjects 1-8 (15,724, 14,278, 15,226, 13,153, 13,039,
            17,907, 12,682, 14,386), for official subject ids 1-8.
        subjects : sequence of str | None
            Names for the official subject ids (in their numeric order); None: ``"subj01"``, ...
        heads : dict of str to tuple of int | None
            Head shapes; None: ``image`` of ``(257, out / 257)`` and ``text`` of
            ``(77, out / 77)`` (the official CLIP hidden-state heads), or vectors.
        **kwargs
            Other constructor arguments (dropouts, loss weights, ``random_state``).

        Returns
        -------
        model : MindBridge

        Raises
        ------
        ValueError
            If the keys or shapes do not fit the official layout (the message names them).
        """
        import re

        sd = _unwrap_state_dict(state_dict, "model_state_dict")
        ids = sorted({k.split(".")[1] for k in sd if k.startswith("embedder.")},
                     key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        if not ids:
            raise ValueError("the state dict has no 'embedder.<subject>.*' keys: not an official "
                             f"MindBridge/MindSingle state dict (keys: {sorted(sd)[:8]} ...)")
        if subjects is None:
            names = [f"subj{int(k):02d}" if k.isdigit() else k for k in ids]
        else:
            names = list(subjects)
            if len(names) != len(ids):
                raise ValueError(f"subjects names {len(names)} subjects, the state dict holds "
                                 f"{len(ids)} (official ids {ids})")
        rename = dict(zip(ids, names))
        if n_voxels is None:
            unknown = [k for k in ids if not (k.isdigit() and int(k) in NSD_NSDGENERAL_VOXELS)]
            if unknown:
                raise ValueError(f"n_voxels is needed for official subject ids {unknown} (the "
                                 "default knows NSD subjects 1-8)")
            n_voxels = {rename[k]: NSD_NSDGENERAL_VOXELS[int(k)] for k in ids}
        first = ids[0]
        try:
            down = sd[f"embedder.{first}.0.down_proj.weight"]
            linear = sd[f"embedder.{first}.1.weight"]
        except KeyError as err:
            raise ValueError(f"the official state dict lacks {err.args[0]!r}") from None
        n_blocks = len({k.split(".")[2] for k in sd if k.startswith("translator.mlp.")})
        if heads is None:
            heads = {}
            for name, tokens in (("image", 257), ("text", 77)):
                w = sd.get(f"head_{name}.weight")
                if w is not None:
                    out = int(w.shape[0])
                    heads[name] = (tokens, out // tokens) if out % tokens == 0 else (out,)
        has_builder = any(k.startswith("builder.") for k in sd)
        if not has_builder:
            kwargs = {"rec_mult": 0.0, "cyc_mult": 0.0, **kwargs}
        model = cls(names, n_voxels, pool_size=int(down.shape[1]), adapter_rank=int(down.shape[0]),
                    hidden_dim=int(linear.shape[0]), n_blocks=n_blocks, heads=heads, **kwargs)

        def ours(key):
            parts = key.split(".")
            if parts[0] in ("embedder", "builder") and len(parts) > 2:
                if parts[1] not in rename:
                    return None
                parts[1] = rename[parts[1]]
                key = ".".join(parts)
                key = re.sub(r"\.(\d+)\.down_proj\.", r".\1.down.", key)
                return re.sub(r"\.(\d+)\.up_proj\.", r".\1.up.", key)
            if key.startswith("translator.mlp."):
                return "translator.blocks." + key[len("translator.mlp."):]
            m = re.fullmatch(r"head_(\w+)\.(weight|bias)", key)
            if m:
                return f"head.{m.group(1)}.{m.group(2)}"
            return None

        own = model.state_dict()
        mapped, unmapped = {}, []
        for key, value in sd.items():
            new = ours(key)
            if new is None or new not in own:
                unmapped.append(key)
            else:
                mapped[new] = value
        if not has_builder:  # MindSingle: keep the fresh builders
            mapped.update({k: v for k, v in own.items() if k.startswith("builder.")})
        if unmapped:
            raise ValueError(f"official MindBridge keys that fit no weight of the model: "
                             f"{sorted(unmapped)[:8]}" + (" ..." if len(unmapped) > 8 else ""))
        from ._base import load_checkpoint_state

        load_checkpoint_state(model, {k: torch.as_tensor(v) for k, v in mapped.items()},
                              "the official state dict")
        return model

    # ------------------------------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------------------------------
    def check_input(self, x, subject):
        """Raise a clear error unless ``x`` holds voxel vectors of the known ``subject``.

        Parameters
        ----------
        x : torch.Tensor | numpy.ndarray, shape (..., n_voxels[subject])
            Floating-point voxel vectors (None checks the subject only).
        subject : str
            One of :attr:`subjects`.

        Returns
        -------
        subject : str
        """
        if subject not in self.n_voxels:
            raise ValueError(f"unknown subject {subject!r}; this model knows {self.subjects} "
                             "(add one with reset_tune)")
        if x is not None:
            if not (torch.is_floating_point(x) if isinstance(x, torch.Tensor)
                    else np.issubdtype(np.asarray(x).dtype, np.floating)):
                raise TypeError(f"voxel vectors must be floating point, got {x.dtype}")
            n = self.n_voxels[subject]
            if x.ndim < 1 or x.shape[-1] != n:
                raise ValueError(f"subject {subject!r} has {n} voxels, got voxel vectors of shape "
                                 f"{tuple(x.shape)}")
        return subject

    def pool(self, x, subject):
        """Aggregate one subject's voxel vectors to ``pool_size`` values by adaptive pooling.

        Parameters
        ----------
        x : torch.Tensor | numpy.ndarray, shape (..., n_voxels[subject])
        subject : str

        Returns
        -------
        pooled : torch.Tensor, shape (..., pool_size)
        """
        x = torch.as_tensor(x)
        self.check_input(x, subject)
        n = self.n_voxels[subject]
        lead = x.shape[:-1]
        flat = x.reshape(-1, 1, n)
        pool = F.adaptive_max_pool1d if self.pool_type == "max" else F.adaptive_avg_pool1d
        return pool(flat, self.pool_size).reshape(*lead, self.pool_size)

    def _heads(self, e):
        h = self.translator(e)
        return {name: self.head[name](h).reshape(len(h), *shape)
                for name, shape in self.heads.items()}

    def forward(self, x, subject):
        """Decode one subject's voxel vectors.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, n_voxels[subject])
            Raw (unpooled) voxel vectors.
        subject : str

        Returns
        -------
        out : dict of str to torch.Tensor
            Per head, shape ``(batch, *heads[name])``.
        """
        pooled = self.pool(x, subject).to(self.device, torch.float32)
        return self._heads(self.embedder[subject](pooled))

    def training_step(self, batch):
        """Loss of one multi-subject batch (used by :class:`~neurosim.decoding.Trainer`).

        Parameters
        ----------
        batch : dict of str to torch.Tensor
            ``"voxels"`` (batch, pool_size) pooled fMRI, ``"subject"`` (batch,) int index into
            :attr:`subjects`, and one target tensor per head, ``(batch, *heads[name])``.

        Returns
        -------
        loss : torch.Tensor
        logs : dict of str to float
            The loss terms: ``clip_<head>``, ``mse_<head>`` (unweighted, on the L2-normalised
            vectors: :func:`~neurosim.decoding.losses.normalized_mse_loss`), ``rec``, ``cyc``.
        """
        out, rec, cyc = self._forward_batch(batch["voxels"], batch["subject"])
        loss = 0.0
        logs = {}
        for name in self.heads:
            target = batch[name].to(out[name].dtype)
            clip = soft_clip_loss(out[name], target, self.temperature)
            mse = normalized_mse_loss(out[name], target)  # on unit vectors, as the official trainer
            loss = loss + clip + self.mse_mult * mse
            logs[f"clip_{name}"], logs[f"mse_{name}"] = float(clip.detach()), float(mse.detach())
        if self.rec_mult > 0:
            rec_loss = F.mse_loss(rec, batch["voxels"].to(rec.dtype))
            loss = loss + self.rec_mult * rec_loss
            logs["rec"] = float(rec_loss.detach())
        if self.cyc_mult > 0 and cyc is not None:
            loss = loss + self.cyc_mult * cyc
            logs["cyc"] = float(cyc.detach())
        return loss, logs

    def _forward_batch(self, voxels, subject_index):
        """Embed each subject's rows, rebuild them, cycle between two subjects, decode all."""
        subject_index = torch.as_tensor(subject_index).long()
        if voxels.ndim != 2 or voxels.shape[1] != self.pool_size:
            raise ValueError(f"pooled voxels must have shape (batch, {self.pool_size}), got "
                             f"{tuple(voxels.shape)}")
        present = torch.unique(subject_index).tolist()
        if min(present) < 0 or max(present) >= len(self.subjects):
            raise ValueError(f"subject indices must be in [0, {len(self.subjects)}), got "
                             f"{present}")
        e = voxels.new_empty(len(voxels), self.hidden_dim, dtype=torch.float32)
        rec = voxels.new_empty(len(voxels), self.pool_size, dtype=torch.float32)
        embedded = {}
        for i in present:
            rows = subject_index == i
            s = self.subjects[i]
            e_i = self.embedder[s](voxels[rows].float())
            embedded[s] = e_i
            e = e.index_put((rows,), e_i.to(e.dtype))
            if self.rec_mult > 0:
                r_i = self.builder[s](e_i)
                rec = rec.index_put((rows,), r_i.to(rec.dtype))
        cyc = None
        names = [self.subjects[i] for i in present]
        if len(names) >= 2 and self.cyc_mult > 0:
            if self.adapt_target is not None and self.adapt_target in names:
                b = self.adapt_target
                sources = [s for s in names if s != b]
                a = sources[int(torch.randint(len(sources), (1,)))]
            else:
                a_i, b_i = torch.randperm(len(names))[:2].tolist()
                a, b = names[a_i], names[b_i]
            e_a = embedded[a]
            cyc = F.mse_loss(self.embedder[b](self.builder[b](e_a)), e_a)
        return self._heads(e), rec, cyc

    # ------------------------------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------------------------------
    def predict(self, x, subject, *, batch_size=256):
        """Predicted embeddings for one subject's voxel vectors (eval mode, no gradients).

        Parameters
        ----------
        x : numpy.ndarray | torch.Tensor, shape (n_samples, n_voxels[subject])
            Raw (unpooled) voxel vectors.
        subject : str
            Whose voxels they are.
        batch_size : int
            Samples per forward pass.

        Returns
        -------
        out : dict of str to numpy.ndarray
            Per head, shape ``(n_samples, *heads[name])``, float32.
        """
        shape = tuple(getattr(x, "shape", np.shape(x)))
        if len(shape) != 2:
            raise ValueError(f"x must be 2-D (n_samples, n_voxels), got shape {shape}")
        return self._predict_batches(x, lambda xb: self(xb, subject), batch_size=batch_size,
                                     to_device=False)

    def score(self, x, subject, target, *, head=None, k_way=None, random_state=0):
        """Forward top-1 retrieval accuracy of the predicted embeddings.

        Parameters
        ----------
        x : numpy.ndarray, shape (n_samples, n_voxels[subject])
        subject : str
        target : numpy.ndarray
            The true embeddings, shape ``(n_samples, *heads[head])``, row ``i`` for sample ``i``.
        head : str | None
            Which head (default: the first).
        k_way : int | None
            Among ``k_way - 1`` random distractors (None: among all targets).
        random_state : int | None
            Seeds the distractor draws.

        Returns
        -------
        accuracy : float
        """
        from .metrics import retrieval_accuracy

        head = next(iter(self.heads)) if head is None else head
        if head not in self.heads:
            raise ValueError(f"unknown head {head!r}; this model has {list(self.heads)}")
        pred = self.predict(x, subject)[head].reshape(len(x), -1)
        target = np.asarray(target, dtype=np.float32).reshape(len(target), -1)
        return float(retrieval_accuracy(pred, target, k_way=k_way, top=1,
                                        random_state=random_state))

    def generate(self, x, subject, generator, **kwargs):
        """Feed predicted embeddings to a user-supplied image generator.

        MindBridge reconstructs images by conditioning a diffusion model (Versatile Diffusion in
        the paper: ``text_image_ratio=0.5``, ``guidance=5``, 8 samples per brain, ``img2img``
        strength 0.85) on the predicted CLIP image (257 x 768) and text (77 x 768) tokens. neurosim
        ships no generator: pass your own callable; it receives one keyword argument per head,
        ``<head>_embeds``, as float32 tensors of shape ``(batch, *heads[head])``, plus ``kwargs``.

        Parameters
        ----------
        x : numpy.ndarray | torch.Tensor, shape (n_samples, n_voxels[subject])
        subject : str
        generator : callable
            E.g. a wrapper around ``diffusers.VersatileDiffusionDualGuidedPipeline`` that turns
            ``image_embeds`` and ``text_embeds`` into images.
        **kwargs
            Passed to ``generator``.

        Returns
        -------
        result
            Whatever ``generator`` returns.
        """
        if not callable(generator):
            raise TypeError(f"generator must be callable, got {type(generator).__name__}")
        pred = self.predict(x, subject)
        return generator(**{f"{k}_embeds": torch.from_numpy(v) for k, v in pred.items()}, **kwargs)


# ----------------------------------------------------------------------------------------------
# reset-tuning
# ----------------------------------------------------------------------------------------------
@fill_doc
def reset_tune(model, subject, n_voxels, *, random_state=0):
    """Prepare a trained multi-subject model for a new subject (MindBridge reset-tuning).

    Builds a model with the new subject added, copies every trained weight, gives the new subject a
    freshly initialised embedder and builder (the "reset"), freezes everything else
    (``requires_grad=False``) and sets ``adapt_target`` so that the cycle loss synthesises the new
    subject's fMRI from the source subjects' batches. Train it on batches that mix source and
    target subjects (:func:`~neurosim.decoding.mindbridge_batches` with ``target=subject``).

    Parameters
    ----------
    model : MindBridge | str | pathlib.Path
        The trained source model, or a checkpoint written by :meth:`MindBridge.save`.
    subject : str
        The new subject's id (must not be one of the source subjects).
    n_voxels : int
        Its voxel count.
    %(random_state)s
        Seeds the new embedder and builder.

    Returns
    -------
    model : MindBridge
        A new model; only ``embedder[subject]`` and ``builder[subject]`` are trainable.

    Examples
    --------
    >>> from neurosim.decoding import MindBridge, reset_tune
    >>> src = MindBridge(["a", "b"], 100, pool_size=64, hidden_dim=16, adapter_rank=4,
    ...                  n_blocks=1, heads={"image": (8,)})
    >>> new = reset_tune(src, "c", 120)
    >>> sorted({".".join(n.split(".")[:2]) for n, p in new.named_parameters() if p.requires_grad})
    ['builder.c', 'embedder.c']
    """
    if not isinstance(model, MindBridge):
        model = MindBridge.load(model)
    if subject in model.n_voxels:
        raise ValueError(f"subject {subject!r} is already in the model ({model.subjects}); "
                         "reset-tuning adds a new subject")
    config = model.get_config()
    config["subjects"] = [*model.subjects, subject]
    config["n_voxels"] = {**model.n_voxels, subject: n_voxels}
    config["random_state"] = random_state
    new = MindBridge.from_config(config)
    source_state = model.state_dict()
    new_state = new.state_dict()
    for key, value in source_state.items():
        if new_state[key].shape != value.shape:  # cannot happen for one config; kept as a guard
            raise ValueError(f"checkpoint parameter {key} has shape {tuple(value.shape)}, "
                             f"expected {tuple(new_state[key].shape)}")
    missing, unexpected = new.load_state_dict(source_state, strict=False)
    assert not unexpected and all(k.split(".")[1] == subject for k in missing)
    for name, p in new.named_parameters():
        parts = name.split(".")
        p.requires_grad_(parts[0] in ("embedder", "builder") and parts[1] == subject)
    new.adapt_target = subject
    return new


# ----------------------------------------------------------------------------------------------
# memory estimate
# ----------------------------------------------------------------------------------------------
def mindbridge_memory_estimate(n_subjects=4, *, pool_size=8192, hidden_dim=2048, adapter_rank=128,
                               n_blocks=4, heads=None, batch_size=50, trainable_subjects=None,
                               subjects_per_step=None, activation_bytes=4, optimizer="foreach"):
    """Analytic estimate of MindBridge's peak training memory on one GPU (AdamW, float32 weights).

    Counts the parameters exactly (same layers as :class:`MindBridge`) and charges, per
    parameter, 4 bytes for the float32 weights and, for trainable ones, 4 for the gradient and 8
    for AdamW's two moments. On top of that state, the peak of a step is the larger of

    - the **optimizer step's temporary**: PyTorch's default AdamW on CUDA (``foreach``)
      computes ``sqrt(v)`` for all parameters at once, one more float32 copy of every trainable
      parameter (4 bytes each; ``"fused"`` AdamW needs none, the ``"for-loop"`` one the largest
      tensor only). This is what the first estimate missed: at the paper's size it is 2.6 GiB,
      and the GPU peak (13.03 GiB measured on an H200, against 10.98 GiB estimated) is reached in
      ``optimizer.step()``, not in the backward pass;
    - the **activations** kept for the backward pass, approximated by the largest tensors of one
      step: per sample the pooled input, adapter bottleneck, embedder (4 x ``hidden_dim``:
      linear, norm, GELU, dropout), translator (4 x ``hidden_dim`` per block), the head outputs
      and their normalised copies (3 x the head size, for the SoftCLIP and MSE terms) and the
      builder (4 x ``pool_size``), for ``n_subjects x batch_size`` samples, plus a cycle pass
      over one subject's batch; under bf16 autocast (``activation_bytes=2``) also the bf16 copies
      of the weights that autocast caches during the forward pass (2 bytes per parameter).

    The CUDA context (~0.5 GiB, outside PyTorch's allocator) is not counted.

    Parameters
    ----------
    n_subjects : int
        Subjects in the model (and in each step's batch).
    pool_size, hidden_dim, adapter_rank, n_blocks, heads
        As in :class:`MindBridge` (defaults: the paper's configuration).
    batch_size : int
        Samples per subject per step (50 in the paper: 200 per step with 4 subjects).
    trainable_subjects : int | None
        Subjects whose embedder and builder are trained; None: all, and the shared translator
        and heads too (bridge training). ``1`` with frozen shared parts is reset-tuning.
    subjects_per_step : int | None
        Subjects in each step's batch (None: ``n_subjects``; reset-tuning: 2, one source and the
        new subject).
    activation_bytes : int
        4 for float32, 2 under bf16/fp16 autocast.
    optimizer : {"foreach", "fused", "for-loop"}
        The AdamW implementation (``"foreach"``: PyTorch's default on CUDA, used by
        :class:`~neurosim.decoding.Trainer`).

    Returns
    -------
    estimate : dict of str to float
        ``n_parameters``, ``n_trainable``, and gibibytes: ``weights_gib``, ``gradients_gib``,
        ``optimizer_gib`` (the moments), ``optimizer_step_gib`` (the step's temporary),
        ``activations_gib``, ``total_gib`` (the state plus the larger of the last two).

    Examples
    --------
    >>> est = mindbridge_memory_estimate(4)  # the paper's 4-subject bridge, batch 50 per subject
    >>> round(est["n_parameters"] / 1e6)
    694
    >>> round(est["total_gib"], 1)  # 13.0 GiB measured on an H200 (12.5 samples per subject)
    12.9
    """
    heads = _check_heads({"image": (257, 768), "text": (77, 768)} if heads is None else heads)
    if optimizer not in ("foreach", "fused", "for-loop"):
        raise ValueError(f"optimizer must be 'foreach', 'fused' or 'for-loop', got {optimizer!r}")
    if activation_bytes not in (2, 4):
        raise ValueError(f"activation_bytes must be 4 (float32) or 2 (bf16/fp16 autocast), got "
                         f"{activation_bytes!r}")
    p, h, r = pool_size, hidden_dim, adapter_rank
    adapter = 2 * p * r + r + p
    embedder = adapter + p * h + h + 2 * h
    builder = h * p + p + 2 * p + adapter
    head_out = sum(math.prod(shape) for shape in heads.values())
    shared = n_blocks * (h * h + 3 * h) + h * head_out + head_out
    n_params = n_subjects * (embedder + builder) + shared
    if trainable_subjects is None:
        n_train = n_params
        largest = h * max(math.prod(shape) for shape in heads.values())
    else:
        n_train = trainable_subjects * (embedder + builder)
        largest = p * h
    n_samples = (n_subjects if subjects_per_step is None else subjects_per_step) * batch_size
    per_sample = (p + r) + 4 * h + 4 * h * n_blocks + 3 * head_out + 4 * p
    cycle = batch_size * (2 * (p + r + 4 * h) + 4 * p)
    gib = 1024.0 ** 3
    acts = activation_bytes * (n_samples * per_sample + cycle)
    if activation_bytes == 2:
        acts += 2 * n_params  # autocast's cached bf16 copies of the weights
    step_tmp = {"foreach": 4 * n_train, "fused": 0, "for-loop": 4 * min(largest, n_train)}[optimizer]
    out = {
        "n_parameters": float(n_params), "n_trainable": float(n_train),
        "weights_gib": 4 * n_params / gib, "gradients_gib": 4 * n_train / gib,
        "optimizer_gib": 8 * n_train / gib, "optimizer_step_gib": step_tmp / gib,
        "activations_gib": acts / gib,
    }
    out["total_gib"] = (out["weights_gib"] + out["gradients_gib"] + out["optimizer_gib"]
                        + max(out["optimizer_step_gib"], out["activations_gib"]))
    return out
