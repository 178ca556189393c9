"""Concept shift by label swaps (Man, Damasio & Neven 2022): the schedule of swaps."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from .._utils import check_random_state, check_size

__all__ = ["ConceptShift"]


def _check_rate(value, name="swaps_per_epoch"):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative integer (the number of swaps of two classes per "
            f"epoch, e.g. 0, 1, 5 or 20; not a rate in [0, 1]), got "
            f"{type(value).__name__}: {value!r}"
        )
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


class ConceptShift:
    """Concept shift by swapping the labels of two random classes, a set number of times per epoch.

    This is the environment of Man, Damasio & Neven (2022) as their released code defines it
    (``swap_labels`` in ``mnist_utils.py``): at each swap two different classes :math:`a \\ne b`
    are drawn uniformly and every image of class :math:`a` is labelled :math:`b` from then on, and
    vice versa, in the training *and* the validation labels. Swaps compose: the labels shown are
    the true classes mapped through the product of all swaps so far (:meth:`schedule` returns that
    mapping after every swap).

    Timing: exactly ``swaps_per_epoch`` swaps per epoch, spaced evenly by sample count. Swap
    :math:`k = 1 \\dots s` of an epoch of :math:`n` used samples takes effect after the minibatch
    that reaches sample :math:`\\lceil k n / s \\rceil`, so the last one falls at the end of the
    epoch, before the validation accuracy is measured (as in the released code, where a swap
    fires when ``sampleidx % (num_train // swapsperepoch) == 0``; that modulo never fires on data
    sets whose ``num_train // swapsperepoch`` is not a multiple of the minibatch size, which the
    even spacing here avoids). With more swaps than minibatches, several swaps take effect at the
    same minibatch boundary; there are still exactly ``swaps_per_epoch`` of them.

    Parameters
    ----------
    swaps_per_epoch : int or sequence of int
        The shift rate: swaps per epoch, a non-negative integer (0: a stationary environment).
        A sequence gives one rate per epoch, cycled: a *second-order* shift (the rate itself
        changes with time, the paper's "seasonality"). That is this project's reading: the
        released code has a constant rate.
    n_classes : int
        Number of classes (10 for MNIST).
    random_state : None | int | numpy.random.Generator
        Seed of the class pairs. With an int, every call of :meth:`schedule` returns the same
        swaps.

    Attributes
    ----------
    second_order : bool
        Whether the rate varies from epoch to epoch (a sequence was given).

    Examples
    --------
    >>> from neurosim.homeostasis import ConceptShift
    >>> shift = ConceptShift(4, random_state=0)
    >>> shift.positions(n_samples=1000, batch_size=10)
    array([ 250,  500,  750, 1000])
    >>> events = shift.schedule(n_epochs=2, n_samples=1000)
    >>> events["position"].tolist()
    [250, 500, 750, 1000, 1250, 1500, 1750, 2000]
    >>> ConceptShift(0).positions(1000).size
    0
    """

    def __init__(self, swaps_per_epoch, n_classes=10, *, random_state=None):
        if isinstance(swaps_per_epoch, (str, bytes)) or not (
            isinstance(swaps_per_epoch, Sequence | np.ndarray)
        ):
            self._rates = (_check_rate(swaps_per_epoch),)
            self.second_order = False
        else:
            rates = list(np.asarray(swaps_per_epoch, dtype=object).ravel())
            if not rates:
                raise ValueError("swaps_per_epoch must not be an empty sequence")
            self._rates = tuple(_check_rate(r, "every entry of swaps_per_epoch") for r in rates)
            self.second_order = True
        self.swaps_per_epoch = swaps_per_epoch
        self.n_classes = check_size("n_classes", n_classes, minimum=2)
        check_random_state(random_state)  # validate now, use per call
        self.random_state = random_state

    def __repr__(self):
        return (f"ConceptShift(swaps_per_epoch={self.swaps_per_epoch!r}, "
                f"n_classes={self.n_classes}, random_state={self.random_state!r})")

    def swaps_in_epoch(self, epoch):
        """Number of swaps in ``epoch`` (0-based).

        Parameters
        ----------
        epoch : int
            Epoch index.

        Returns
        -------
        n_swaps : int
        """
        epoch = check_size("epoch", epoch, minimum=0)
        return self._rates[epoch % len(self._rates)]

    def positions(self, n_samples, batch_size=10, epoch=0):
        """Sample counts within an epoch after which each swap of that epoch takes effect.

        Parameters
        ----------
        n_samples : int
            Samples used per epoch (a multiple of ``batch_size`` when the learner drops the last
            incomplete minibatch, as the released code does).
        batch_size : int
            Minibatch size: swaps happen between minibatches.
        epoch : int
            Epoch index (matters for a second-order shift).

        Returns
        -------
        positions : ndarray of int
            Sorted, one per swap (repeated where several swaps share a boundary), each a multiple
            of ``batch_size`` (or ``n_samples`` itself), in ``[batch_size, n_samples]``.
        """
        n = check_size("n_samples", n_samples, minimum=1)
        m = check_size("batch_size", batch_size, minimum=1)
        s = self.swaps_in_epoch(epoch)
        k = np.arange(1, s + 1, dtype=np.int64)
        target = -(-k * n // s) if s else k  # ceil(k n / s), exact in integers
        return np.minimum(-(-target // m) * m, n).astype(np.int64)

    def schedule(self, n_epochs, n_samples, batch_size=10):
        """Every swap of ``n_epochs`` epochs: when, which classes, and the label mapping after it.

        Parameters
        ----------
        n_epochs : int
            Number of epochs.
        n_samples : int
            Samples used per epoch.
        batch_size : int
            Minibatch size.

        Returns
        -------
        events : dict of ndarray
            ``epoch`` (int, per swap), ``offset`` (sample count within the epoch after which it
            takes effect), ``position`` (the same counted from the start of the stream:
            ``epoch * n_samples + offset``), ``pair`` (n_swaps, 2) the two classes swapped, and
            ``mapping`` (n_swaps, n_classes): ``mapping[k][c]`` is the label shown for true class
            ``c`` from swap ``k`` on.
        """
        n_epochs = check_size("n_epochs", n_epochs, minimum=0)
        n = check_size("n_samples", n_samples, minimum=1)
        rng = check_random_state(self.random_state)
        epochs, offsets, pairs, maps = [], [], [], []
        mapping = np.arange(self.n_classes)
        for e in range(n_epochs):
            for pos in self.positions(n, batch_size, e):
                a, b = rng.choice(self.n_classes, 2, replace=False)
                shown = mapping.copy()
                mapping[shown == a] = b
                mapping[shown == b] = a
                epochs.append(e)
                offsets.append(int(pos))
                pairs.append((int(a), int(b)))
                maps.append(mapping.copy())
        epochs = np.asarray(epochs, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.int64)
        return {
            "epoch": epochs,
            "offset": offsets,
            "position": epochs * n + offsets,
            "pair": np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
            "mapping": np.asarray(maps, dtype=np.int64).reshape(-1, self.n_classes),
        }
