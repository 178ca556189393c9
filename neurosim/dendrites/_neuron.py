"""Binary dendritic neurons (Ahmad & Hawkins 2016; Hawkins & Ahmad 2016), in numpy.

A :class:`DendriticNeuron` owns dendritic segments; each segment is a set of ``s`` synapses
onto cells of a presynaptic (context) population and produces an NMDA spike -- depolarising
the neuron -- when at least ``theta`` of those cells are active. A neuron learns a pattern by
growing a segment onto ``s`` randomly chosen active cells of it (subsampling), which is the
setting of :func:`~neurosim.dendrites.theory.false_match_probability`.

A :class:`DendriticLayer` combines feed-forward drive with such context segments: depolarised
(predicted) neurons win the k-winners-take-all competition before any other, so the context
gates which neurons respond to the feed-forward input.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

from .._utils import check_random_state, check_size

__all__ = ["DendriticLayer", "DendriticNeuron"]


def _as_binary_patterns(name, X, n):
    """(n_samples, n) boolean array from a binary matrix, or one pattern as a 1-d vector."""
    X = np.asarray(X)
    if X.dtype == object or X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a binary (0/1 or bool) array, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"{name} must have shape (n_samples, {n}) or ({n},), got {X.shape}")
    if X.dtype != bool and not np.all((X == 0) | (X == 1)):
        raise ValueError(f"{name} must hold only 0 and 1")
    return X.astype(bool)


class _Segments:
    """Segments of one or many neurons stored as rows of synapse indices."""

    def __init__(self, n_inputs, n_synapses, theta, rng):
        self.n_inputs, self.s, self.theta, self.rng = n_inputs, n_synapses, theta, rng
        self.synapses = np.empty((0, n_synapses), dtype=np.int64)
        self.owner = np.empty(0, dtype=np.int64)

    def grow(self, pattern, owner):
        active = np.flatnonzero(pattern)
        if active.size < self.s:
            raise ValueError(f"the pattern has {active.size} active cells; a segment needs at "
                             f"least n_synapses={self.s}")
        syn = np.sort(self.rng.choice(active, size=self.s, replace=False))
        self.synapses = np.vstack([self.synapses, syn[None, :]])
        self.owner = np.append(self.owner, owner)
        return self.synapses.shape[0] - 1

    def overlaps(self, X):
        # active synapses of every segment: (n_samples, n_segments)
        return X[:, self.synapses].sum(axis=2) if self.synapses.size else np.zeros(
            (X.shape[0], 0), dtype=np.int64)


@fill_doc
class DendriticNeuron:
    """A neuron with dendritic segments that recognises (predicts) context patterns.

    Parameters
    ----------
    n_inputs : int
        Size ``n`` of the presynaptic population the segments sample.
    n_synapses : int
        Synapses ``s`` per segment.
    theta : int
        NMDA-spike threshold: a segment is active when at least ``theta`` of its synapses see an
        active cell (``1 <= theta <= n_synapses``).
    %(random_state)s
        Seed of the synapse sampling.

    Attributes
    ----------
    segments_ : ndarray of shape (n_segments, n_synapses)
        Presynaptic cell of every synapse, one row per learned segment.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.dendrites import DendriticNeuron
    >>> rng = np.random.default_rng(0)
    >>> pattern = np.zeros(1000, dtype=bool)
    >>> pattern[rng.choice(1000, 40, replace=False)] = True
    >>> neuron = DendriticNeuron(1000, n_synapses=20, theta=10, random_state=0)
    >>> neuron.learn(pattern)
    0
    >>> neuron.predict(pattern).tolist()
    [True]
    """

    def __init__(self, n_inputs, n_synapses=20, theta=10, random_state=None):
        self.n_inputs = check_size("n_inputs", n_inputs)
        self.n_synapses = check_size("n_synapses", n_synapses)
        self.theta = check_size("theta", theta)
        if self.n_synapses > self.n_inputs:
            raise ValueError(f"n_synapses must be <= n_inputs, got {n_synapses} > {n_inputs}")
        if self.theta > self.n_synapses:
            raise ValueError(f"theta must be <= n_synapses, got {theta} > {n_synapses}")
        self.random_state = random_state
        self._seg = _Segments(self.n_inputs, self.n_synapses, self.theta,
                              check_random_state(random_state))

    @property
    def segments_(self):
        return self._seg.synapses

    def learn(self, pattern):
        """Grow a segment onto ``n_synapses`` random active cells of ``pattern``.

        Parameters
        ----------
        pattern : array_like of shape (n_inputs,)
            Binary pattern (0/1 or bool) with at least ``n_synapses`` active cells.

        Returns
        -------
        segment : int
            Index of the new segment.
        """
        return self._seg.grow(_as_binary_patterns("pattern", pattern, self.n_inputs)[0], 0)

    def segment_overlaps(self, X):
        """Active synapses of every segment for every pattern.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_inputs) or (n_inputs,)
            Binary patterns.

        Returns
        -------
        overlaps : ndarray of int, shape (n_samples, n_segments)
        """
        return self._seg.overlaps(_as_binary_patterns("X", X, self.n_inputs))

    def predict(self, X):
        """Whether each pattern depolarises the neuron (any segment reaches ``theta``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_inputs) or (n_inputs,)
            Binary patterns.

        Returns
        -------
        depolarised : ndarray of bool, shape (n_samples,)
        """
        return (self.segment_overlaps(X) >= self.theta).any(axis=1)


@fill_doc
class DendriticLayer:
    """A layer of dendritic neurons: context segments gate a k-winners-take-all on input.

    Each neuron has feed-forward weights (standard normal, fixed) onto ``n_inputs`` cells and
    dendritic segments onto ``n_context`` context cells. For an input ``x`` and context ``c``,
    the neurons whose segments recognise ``c`` are depolarised and fire first: the ``k`` winners
    are the depolarised neurons with the largest feed-forward drive ``W x``, then, if fewer than
    ``k`` are depolarised, the other neurons by drive.

    Parameters
    ----------
    n_neurons : int
        Neurons in the layer.
    n_inputs : int
        Feed-forward input size.
    n_context : int
        Context population size.
    k : int
        Winners per input, ``k <= n_neurons``.
    n_synapses : int
        Synapses per segment.
    theta : int
        Segment threshold.
    %(random_state)s
        Seed of the weights and the synapse sampling.

    Attributes
    ----------
    weights_ : ndarray of shape (n_neurons, n_inputs)
        Feed-forward weights.
    n_segments_ : ndarray of int, shape (n_neurons,)
        Segments learned by each neuron.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.dendrites import DendriticLayer
    >>> layer = DendriticLayer(100, 20, 500, k=5, n_synapses=10, theta=6, random_state=0)
    >>> context = np.zeros(500, dtype=bool); context[:25] = True
    >>> layer.learn_context(context, [3, 14, 15, 92, 65])
    >>> x = np.random.default_rng(1).random(20)
    >>> sorted(np.flatnonzero(layer.forward(x, context)[0]).tolist())
    [3, 14, 15, 65, 92]
    """

    def __init__(self, n_neurons, n_inputs, n_context, k, n_synapses=20, theta=10,
                 random_state=None):
        self.n_neurons = check_size("n_neurons", n_neurons)
        self.n_inputs = check_size("n_inputs", n_inputs)
        self.n_context = check_size("n_context", n_context)
        self.k = check_size("k", k)
        if self.k > self.n_neurons:
            raise ValueError(f"k must be <= n_neurons, got {k} > {n_neurons}")
        self.n_synapses = check_size("n_synapses", n_synapses)
        self.theta = check_size("theta", theta)
        if self.n_synapses > self.n_context:
            raise ValueError(f"n_synapses must be <= n_context, got {n_synapses} > {n_context}")
        if self.theta > self.n_synapses:
            raise ValueError(f"theta must be <= n_synapses, got {theta} > {n_synapses}")
        self.random_state = random_state
        rng = check_random_state(random_state)
        self.weights_ = rng.standard_normal((self.n_neurons, self.n_inputs))
        self._seg = _Segments(self.n_context, self.n_synapses, self.theta, rng)

    @property
    def n_segments_(self):
        return np.bincount(self._seg.owner, minlength=self.n_neurons)

    def learn_context(self, context, neurons):
        """Give each of ``neurons`` a segment that recognises ``context``.

        Parameters
        ----------
        context : array_like of shape (n_context,)
            Binary context pattern with at least ``n_synapses`` active cells.
        neurons : array_like of int
            Neurons that learn it.
        """
        context = _as_binary_patterns("context", context, self.n_context)[0]
        neurons = np.atleast_1d(np.asarray(neurons))
        if neurons.dtype.kind not in "iu" or np.any((neurons < 0) | (neurons >= self.n_neurons)):
            raise ValueError(f"neurons must be indices in [0, {self.n_neurons}), got {neurons!r}")
        for i in neurons:
            self._seg.grow(context, int(i))

    def depolarized(self, context):
        """Neurons with at least one active segment, per context pattern.

        Parameters
        ----------
        context : array_like of shape (n_samples, n_context) or (n_context,)
            Binary context patterns.

        Returns
        -------
        depolarized : ndarray of bool, shape (n_samples, n_neurons)
        """
        context = _as_binary_patterns("context", context, self.n_context)
        active = self._seg.overlaps(context) >= self.theta
        out = np.zeros((context.shape[0], self.n_neurons), dtype=bool)
        rows, segs = np.nonzero(active)
        out[rows, self._seg.owner[segs]] = True
        return out

    def forward(self, X, context):
        """Binary output of the layer: the ``k`` winners for each input.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_inputs) or (n_inputs,)
            Feed-forward input (real valued).
        context : array_like of shape (n_samples, n_context) or (n_context,)
            Binary context; one pattern is used for every input.

        Returns
        -------
        active : ndarray of bool, shape (n_samples, n_neurons)
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n_samples, {self.n_inputs}), got {X.shape}")
        drive = X @ self.weights_.T
        dep = self.depolarized(context)
        if dep.shape[0] not in (1, X.shape[0]):
            raise ValueError(f"context has {dep.shape[0]} rows for {X.shape[0]} inputs")
        # lexicographic ranking: depolarised first, then by drive
        rank = np.argsort(-drive, axis=1, kind="stable")
        dep_sorted = np.take_along_axis(np.broadcast_to(dep, drive.shape), rank, axis=1)
        order = np.argsort(~dep_sorted, axis=1, kind="stable")
        winners = np.take_along_axis(rank, order[:, :self.k], axis=1)
        out = np.zeros(drive.shape, dtype=bool)
        np.put_along_axis(out, winners, True, axis=1)
        return out
