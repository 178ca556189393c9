"""Sparse synapses: plain data (pre, post, weight, delay)."""

from __future__ import annotations

import numpy as np

from .._utils import check_random_state
from ._groups import Group, _check_name

TARGETS = ("current", "voltage")


class Synapses:
    """A sparse set of synapses from one group to another.

    Parameters
    ----------
    pre, post : Group
        Source and target groups. ``post`` must be a neuron model (Izhikevich, LIF).
    i, j : array of int, shape (n_synapses,)
        Presynaptic and postsynaptic indices (within ``pre`` and ``post``).
    w : float | array of shape (n_synapses,)
        Weights. For ``target="current"`` a spike adds ``w`` to the target's synaptic current
        ``I_syn`` (or to the variable of ``receptor``); for ``target="voltage"`` it adds ``w``
        (mV) to the membrane potential ``v``.
    delay : float | array of shape (n_synapses,)
        Transmission delays (ms): 0, or at least one time step ``dt``; rounded to whole steps at
        run time. A scalar (homogeneous) delay is delivered event by event in spike order, exactly
        as Brian2 does; per-synapse delays go through a ring buffer.
    target : {"current", "voltage"}
        What a spike changes on arrival.
    receptor : str | None
        Name of a :class:`Receptor` declared by ``post``: spikes add ``w`` to its variable
        ``g_<receptor>`` (``w / tau_rise`` to ``h_<receptor>`` for a double exponential). None
        (default) targets ``I_syn`` or ``v`` as ``target`` says.
    plasticity : STDP | RewardSTDP | None
        A learning rule applied to ``w`` inside the simulation step. Plastic synapses need one
        delay for all synapses (a scalar ``delay``).
    name : str | None
        Identifier.

    Notes
    -----
    The description is never changed by a run: backends copy ``w`` (the final weights are in
    the results, and a :class:`~neurosim.backends.Session` gives them between runs).

    Synapses are stored in the order given. When ``i`` is sorted (as the builders produce it) the
    numba backend uses the arrays as its CSR structure without copying them.
    """

    _counter = 0

    def __init__(self, pre, post, i, j, w, *, delay=0.0, target="current", receptor=None,
                 plasticity=None, name=None):
        if not isinstance(pre, Group) or not isinstance(post, Group):
            raise TypeError(
                f"pre and post must be neuron groups, got {type(pre).__name__} and "
                f"{type(post).__name__}"
            )
        if not post.receives_synapses:
            raise TypeError(f"synapses cannot target {post!r}: it is a spike source")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        i = np.asarray(i)
        j = np.asarray(j)
        if i.ndim != 1 or i.shape != j.shape:
            raise ValueError(f"i and j must be 1-D of equal length, got shapes {i.shape}, {j.shape}")
        for label, idx, grp in (("i", i, pre), ("j", j, post)):
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                raise TypeError(f"{label} must hold integers, got dtype {idx.dtype}")
            if idx.size and (idx.min() < 0 or idx.max() >= grp.n):
                raise ValueError(
                    f"{label} indices must lie in [0, {grp.n}) for group {grp.name!r}, got range "
                    f"[{idx.min()}, {idx.max()}]"
                )
        n_syn = i.size
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(n_syn, float(w))
        if w.shape != (n_syn,):
            raise ValueError(f"w must be a scalar or have shape ({n_syn},), got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("w contains NaN or inf")
        delay = np.asarray(delay, dtype=np.float64)
        if delay.ndim and delay.shape != (n_syn,):
            raise ValueError(f"delay must be a scalar or have shape ({n_syn},), got {delay.shape}")
        if not np.all(np.isfinite(delay)) or np.any(delay < 0):
            raise ValueError("delay must be finite and >= 0 ms")
        self.pre = pre
        self.post = post
        self.i = i.astype(np.int32, copy=False)
        self.j = j.astype(np.int32, copy=False)
        self.w = w
        self.delay = float(delay) if delay.ndim == 0 else delay
        self.target = target
        if receptor is not None:
            if target != "current":
                raise ValueError(f"receptor={receptor!r} needs target='current' (a spike adds w to "
                                 f"the receptor's variable), got target={target!r}")
            post.receptor(receptor)  # ValueError naming the declared receptors
        self.receptor = receptor
        if plasticity is not None:
            from ._plasticity import STDP

            if not isinstance(plasticity, STDP):
                raise TypeError(f"plasticity must be an STDP or RewardSTDP rule, got "
                                f"{type(plasticity).__name__}: {plasticity!r}")
            if np.ndim(self.delay):
                raise ValueError("plastic synapses need one delay for all synapses (a scalar "
                                 "delay); per-synapse delays are not supported with plasticity")
            lo, hi = plasticity.w_min, plasticity.w_max
            if n_syn and (w.min() < lo or w.max() > hi):
                raise ValueError(f"initial weights must lie within the rule's bounds [{lo}, {hi}], "
                                 f"got range [{w.min()}, {w.max()}]")
        self.plasticity = plasticity
        if name is None:
            Synapses._counter += 1
            name = f"synapses_{Synapses._counter}"
        self.name = _check_name(name)

    @property
    def n(self):
        """Number of synapses."""
        return int(self.i.size)

    def __len__(self):
        return self.n

    def __repr__(self):
        tgt = f"receptor={self.receptor!r}" if self.receptor else f"target={self.target!r}"
        rule = f", plasticity={self.plasticity!r}" if self.plasticity is not None else ""
        return (f"Synapses({self.pre.name!r} -> {self.post.name!r}, n={self.n}, {tgt}{rule}, "
                f"name={self.name!r})")

    def nbytes(self):
        """Bytes of the description's arrays (indices, weights, delays)."""
        return self.i.nbytes + self.j.nbytes + self.w.nbytes + np.asarray(self.delay).nbytes

    def delay_steps(self, dt):
        """Return the delays in whole time steps for step ``dt`` (ms).

        Raises ValueError for a delay that is not 0 and shorter than ``dt``, or that is not a
        whole number of steps (to 1e-6 relative).
        """
        d = np.asarray(self.delay, dtype=np.float64)
        steps = np.rint(d / dt)
        bad_short = (d > 0) & (d < dt * (1 - 1e-9))
        if np.any(bad_short):
            value = float(d[bad_short].flat[0]) if d.ndim else float(d)
            raise ValueError(
                f"synapses {self.name!r}: delay {value} ms is shorter than dt={dt} ms; "
                "use 0 (same-step delivery) or a delay of at least one step"
            )
        off = np.abs(steps * dt - d) > 1e-6 * np.maximum(d, dt)
        if np.any(off):
            value = float(d[off].flat[0]) if d.ndim else float(d)
            raise ValueError(
                f"synapses {self.name!r}: delay {value} ms is not a whole number of "
                f"steps of dt={dt} ms"
            )
        if steps.max(initial=0) > np.iinfo(np.int32).max:
            raise ValueError(f"synapses {self.name!r}: delays too long for dt={dt} ms")
        return int(steps) if d.ndim == 0 else steps.astype(np.int32)

    @classmethod
    def random(
        cls, pre, post, p, w, *, delay=0.0, target="current", receptor=None, plasticity=None,
        allow_autapses=True, random_state=None, name=None,
    ):
        """Connect each pair ``(i, j)`` independently with probability ``p``.

        Parameters
        ----------
        pre, post : Group
            Source and target groups.
        p : float
            Connection probability in [0, 1].
        w : float | callable
            Weight, or ``w(rng, size)`` returning one weight per synapse.
        delay, target, receptor, plasticity, name
            As for :class:`Synapses`.
        allow_autapses : bool
            If False and ``pre is post``, no neuron connects to itself.
        random_state : None | int | numpy.random.Generator
            Seed.

        Returns
        -------
        synapses : Synapses
            Sorted by presynaptic index (then postsynaptic index).
        """
        p = float(p)
        if not 0 <= p <= 1:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        rng = check_random_state(random_state)
        counts = rng.binomial(post.n, p, size=pre.n)
        if not allow_autapses and pre is post:
            counts = rng.binomial(post.n - 1, p, size=pre.n)
        total = int(counts.sum())
        i = np.repeat(np.arange(pre.n, dtype=np.int32), counts)
        j = np.empty(total, dtype=np.int32)
        start = 0
        n_targets = post.n - (0 if allow_autapses or pre is not post else 1)
        for src, k in enumerate(counts):
            if k:
                tgt = np.sort(rng.choice(n_targets, size=k, replace=False)).astype(np.int32)
                if n_targets < post.n:
                    tgt[tgt >= src] += 1
                j[start:start + k] = tgt
                start += k
        weights = w(rng, total) if callable(w) else w
        return cls(pre, post, i, j, weights, delay=delay, target=target, receptor=receptor,
                   plasticity=plasticity, name=name)
