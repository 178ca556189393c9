"""The base every decoder shares: configuration, save/load, random state, device and inference.

:class:`DecoderMixin` is mixed into each decoder (``class HiSTN(DecoderMixin, nn.Module)``), as
braindecode's ``EEGModuleMixin`` is into its models. It captures the arguments a model was built
with, so that every decoder has the same :meth:`~DecoderMixin.get_config` /
:meth:`~DecoderMixin.from_config`, :meth:`~DecoderMixin.save` / :meth:`~DecoderMixin.load`
(``weights_only=True``, with an error naming every weight whose shape does not fit), one way of
seeding its initialisation (``random_state``), a :attr:`~DecoderMixin.device` and one batched,
eval-mode inference helper behind each model's ``predict``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

__all__ = ["DecoderMixin", "load_checkpoint_state"]


def _builtin(value):
    """``value`` with numpy scalars/arrays, tuples and mappings turned into JSON-like builtins."""
    if isinstance(value, Mapping):
        return {k: _builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_builtin(v) for v in value]
    if isinstance(value, np.ndarray):
        return _builtin(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_checkpoint_state(model, state_dict, path):
    """``model.load_state_dict(state_dict)``, or a ValueError naming each shape that differs.

    A checkpoint whose weights do not fit the model its own config builds (e.g. an embedding or
    head size edited by hand, or weights of another configuration) is refused with the names and
    both shapes, instead of torch's generic error.

    Parameters
    ----------
    model : torch.nn.Module
        The model built from the checkpoint's configuration.
    state_dict : dict of str to torch.Tensor
        The checkpoint's weights.
    path : str | pathlib.Path
        The checkpoint (for the message).

    Returns
    -------
    model : torch.nn.Module
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [f"{k}: checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)}"
             for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append("shapes differ (" + "; ".join(wrong[:5])
                         + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else "") + ")")
        if missing:
            parts.append(f"missing weights {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected weights {unexpected[:5]}")
        raise ValueError(f"the weights in {path} do not match the {type(model).__name__} its "
                         f"config describes: {', '.join(parts)}")
    model.load_state_dict(state_dict)
    return model


class DecoderMixin:
    """What every neurosim decoder shares (mix in before :class:`torch.nn.Module`).

    - **Configuration.** The arguments of ``__init__`` are captured when the model is built
      (defaults filled in); :meth:`get_config` returns them as JSON-like builtins and
      :meth:`from_config` rebuilds the model.
    - **Saving.** :meth:`save` writes the class name, the configuration, the weights and any
      extra state (:meth:`_checkpoint_state`) atomically; :meth:`load` reads it back with
      ``torch.load(weights_only=True)`` and refuses weights whose shapes do not fit, naming them.
    - **Random state.** Every decoder takes ``random_state``: None builds the weights from
      torch's global random state (as a plain :class:`torch.nn.Module` does); an int or a
      :class:`numpy.random.Generator` seeds the initialisation without touching the global
      state, and the same int always builds the same weights.
    - **Device.** :attr:`device` is where the weights are.
    - **Inference.** Each decoder's ``predict`` runs through :meth:`_predict_batches`: eval
      mode, no gradients, batch by batch, float32 NumPy output, training mode restored.

    How an int ``random_state`` becomes a torch seed is fixed per class, so that every number
    measured before the mixin existed is reproduced: by default the int itself (as
    :func:`torch.manual_seed` and :class:`~neurosim.decoding.Trainer` use it); classes with
    ``_derive_int_seed = True`` draw the seed from ``numpy.random.default_rng(int)``.

    Examples
    --------
    >>> import torch
    >>> from neurosim.decoding import HiSTN
    >>> a, b = HiSTN(random_state=0), HiSTN(random_state=0)
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
    >>> HiSTN.from_config(a.get_config()).get_config() == a.get_config()
    True
    """

    #: draw the torch seed of an int ``random_state`` from ``numpy.random.default_rng(int)``
    _derive_int_seed = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            init(self, *args, **kw)
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            config = dict(bound.arguments)
            config.pop("self")
            for name, p in signature.parameters.items():  # **kwargs: flatten
                if p.kind is p.VAR_KEYWORD:
                    config.update(config.pop(name))
            # the most derived class's __init__ finishes last and wins
            object.__setattr__(self, "_init_config", config)

        cls.__init__ = __init__

    # ------------------------------------------------------------------ configuration
    def get_config(self):
        """The arguments the model was built with, as JSON-like builtins.

        ``type(model).from_config(model.get_config())`` builds the same architecture (and, for an
        int ``random_state``, the same initial weights). A :class:`numpy.random.Generator`
        ``random_state`` is stored as None.

        Returns
        -------
        config : dict
        """
        config = dict(self._init_config)
        if "random_state" in config and not (
                isinstance(config["random_state"], numbers.Integral)
                and not isinstance(config["random_state"], bool)):
            config["random_state"] = None
        return _builtin(config)

    #: named configurations of :meth:`from_config` (name -> constructor arguments); each decoder
    #: defines its own (e.g. ``"paper"`` and ``"small"``)
    _configs = {}

    @classmethod
    def config_names(cls):
        """The names :meth:`from_config` accepts, e.g. ``["paper", "small"]``.

        Returns
        -------
        names : list of str
        """
        return sorted(cls._configs)

    @classmethod
    def from_config(cls, config, **overrides):
        """Build a model from :meth:`get_config`'s dict or from a named configuration.

        Parameters
        ----------
        config : dict | str
            Constructor arguments, or the name of one of the class's configurations
            (:meth:`config_names`, e.g. ``"paper"`` for the paper's sizes).
        **overrides
            Constructor arguments replacing those of ``config``.

        Returns
        -------
        model
            A new model of this class (fresh weights: see :meth:`load` for trained ones).
        """
        if isinstance(config, str):
            if config not in cls._configs:
                raise ValueError(f"unknown {cls.__name__} configuration {config!r}; expected one "
                                 f"of {cls.config_names()} or a dict of constructor arguments")
            config = cls._configs[config]
        elif not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict of constructor arguments or a configuration "
                            f"name, got {type(config).__name__}")
        return cls(**{**config, **overrides})


    @classmethod
    def named_configs(cls):
        """The named configurations :meth:`from_config` accepts, name -> constructor arguments.

        Returns
        -------
        configs : dict of str to dict
        """
        import copy

        return copy.deepcopy(dict(cls._configs))

    # ------------------------------------------------------------------ save / load
    def _checkpoint_state(self):
        """Extra state saved next to the weights (builtins only); see :meth:`_restore_state`."""
        return {}

    def _restore_state(self, state):
        """Restore what :meth:`_checkpoint_state` returned."""

    def save(self, path, *, overwrite=False):
        """Save class, configuration, weights and extra state to ``path`` (:func:`torch.save`).

        The file is written atomically (a temporary file renamed into place).

        Parameters
        ----------
        path : str | pathlib.Path
            Destination file (conventionally ``*.pt``).
        overwrite : bool
            Replace an existing file; otherwise :class:`FileExistsError`.

        Returns
        -------
        path : pathlib.Path
        """
        from neurosim._utils import atomic_write

        ckpt = {"class": type(self).__name__, "config": self.get_config(),
                "state_dict": self.state_dict(), **_builtin(self._checkpoint_state())}
        with atomic_write(path, overwrite=overwrite) as tmp:
            torch.save(ckpt, tmp)
        return Path(path)

    @classmethod
    def load(cls, path, *, map_location="cpu"):
        """Load a model written by :meth:`save` (``torch.load(weights_only=True)``).

        Parameters
        ----------
        path : str | pathlib.Path
            The checkpoint.
        map_location : str | torch.device
            Passed to :func:`torch.load`.

        Returns
        -------
        model

        Raises
        ------
        ValueError
            If the file is not a checkpoint of this class, or its weights do not fit the model
            its configuration builds (the message names each weight and both shapes).
        """
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("class") != cls.__name__:
            raise ValueError(f"{path} is not a {cls.__name__} checkpoint written by save()")
        model = cls.from_config(ckpt["config"])
        load_checkpoint_state(model, ckpt["state_dict"], path)
        model._restore_state({k: v for k, v in ckpt.items()
                              if k not in ("class", "config", "state_dict")})
        return model

    # ------------------------------------------------------------------ random state, device
    @classmethod
    def _torch_seed(cls, random_state):
        from neurosim._utils import check_random_state, seed_from

        if cls._derive_int_seed or not isinstance(random_state, numbers.Integral) \
                or isinstance(random_state, bool):
            return seed_from(random_state)
        check_random_state(random_state)  # validates the sign
        return int(random_state)

    @contextlib.contextmanager
    def _seeded(self, random_state):
        """Build layers inside this block to seed their initialisation with ``random_state``.

        None leaves torch's global random state in charge; otherwise the CPU generator is forked
        (the caller's random state is untouched) and seeded with :meth:`_torch_seed`.
        """
        if random_state is None:
            yield
            return
        seed = self._torch_seed(random_state)
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            yield

    @property
    def device(self):
        """The :class:`torch.device` of the model's weights."""
        return next(self.parameters()).device

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def _predict_batches(self, x, forward, *, batch_size, to_device=True):
        """Run ``forward`` on ``x`` batch by batch in eval mode; float32 NumPy output.

        ``x`` (array-like or tensor) is converted to a float32 tensor (on the CPU; each batch is
        moved to :attr:`device` when ``to_device``). ``forward`` returns a tensor or a dict of
        tensors; the batches are concatenated (per key). The training mode is restored.
        """
        from neurosim._utils import check_size

        batch_size = check_size("batch_size", batch_size)
        if isinstance(x, torch.Tensor):
            x = x.detach().to("cpu", torch.float32)
        else:
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        if len(x) == 0:
            raise ValueError(f"x is empty (shape {tuple(x.shape)}); give at least one sample")
        device = self.device
        was_training = self.training
        self.eval()
        try:
            chunks = [forward(x[i:i + batch_size].to(device) if to_device else x[i:i + batch_size])
                      for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        if chunks and isinstance(chunks[0], Mapping):
            return {k: torch.cat([c[k] for c in chunks]).float().cpu().numpy() for k in chunks[0]}
        return torch.cat([c.float().cpu() for c in chunks]).numpy()
