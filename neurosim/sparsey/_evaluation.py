"""Protocols that test Sparsey's claims: similarity preservation, capacity, baselines, sequences.

Each function runs one measurement on binary inputs (rows of 0/1 units) with a
:class:`~neurosim.sparsey.SparseyMemory` and returns plain arrays, so that an experiment, an
example or a test makes the same measurement the same way. Random draws come from the
:class:`numpy.random.Generator` passed in, in a fixed order.
"""

from __future__ import annotations

import copy

import numpy as np

from ._codes import code_intersection

__all__ = ["binary_cosine", "capacity_curve", "morph", "projection_baselines",
           "sequence_recall", "similarity_preservation"]


def binary_cosine(a, b):
    """Cosine similarity of paired rows of two binary arrays.

    Parameters
    ----------
    a, b : array-like of 0/1, shape (n, n_inputs)
        Paired binary vectors.

    Returns
    -------
    cosine : numpy.ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> binary_cosine(np.array([[1, 1, 0, 0]]), np.array([[1, 0, 1, 0]])).round(2)
    array([0.5])
    """
    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    return (a & b).sum(1) / np.sqrt(np.maximum(a.sum(1) * b.sum(1), 1))


def morph(rng, a, b, keep_fraction):
    """``a`` with a fraction ``1 - keep_fraction`` of its active units moved onto ``b``'s.

    Parameters
    ----------
    rng : numpy.random.Generator
        Chooses the units kept and added.
    a, b : numpy.ndarray of 0/1, shape (n_inputs,)
        The binary input to morph and the one whose units replace its dropped ones.
    keep_fraction : float
        Fraction of ``a``'s active units kept, in [0, 1].

    Returns
    -------
    probe : numpy.ndarray of 0/1, shape (n_inputs,)
        As many active units as ``a`` (fewer when ``b`` has too few units of its own).

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.array([1, 1, 1, 1, 0, 0, 0, 0]), np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> int(morph(np.random.default_rng(0), a, b, 0.5)[:4].sum())
    2
    """
    on, other = np.flatnonzero(a), np.flatnonzero(b & (1 - a))
    keep = int(round(keep_fraction * on.size))
    out = np.zeros_like(a)
    out[rng.choice(on, keep, replace=False)] = 1
    out[rng.choice(other, min(on.size - keep, other.size), replace=False)] = 1
    return out


def similarity_preservation(memory, X, n_store, n_pairs, rng):
    """Do similar inputs get similar codes? Code overlap against input overlap.

    ``memory`` learns the first ``n_store`` rows of ``X``. Each of ``n_pairs`` probes is a stored
    row morphed (:func:`morph`, a random kept fraction) towards a row not stored; the probe is
    learned into a copy of the memory and the intersection of its code with the stored row's
    code (divided by ``Q``) is compared with the input cosine. The same is done for every pair
    of stored rows.

    Parameters
    ----------
    memory : SparseyMemory
        An unfitted memory (it is fitted here).
    X : numpy.ndarray of 0/1, shape (n_items, n_inputs)
        Inputs, ``n_items > n_store``.
    n_store : int
        Rows stored first.
    n_pairs : int
        Probes.
    rng : numpy.random.Generator
        Draws the pairs, the kept fractions and the morphs.

    Returns
    -------
    result : dict of str to numpy.ndarray
        ``input_overlap`` and ``code_overlap`` (n_pairs,) of the probes, ``stored_input_overlap``
        and ``stored_code_overlap`` of the pairs of stored rows.
    """
    mem = memory.fit(X[:n_store])
    i = rng.integers(0, n_store, n_pairs)
    j = rng.integers(n_store, len(X), n_pairs)
    frac = rng.random(n_pairs)
    probes = np.array([morph(rng, X[a], X[b], f) for a, b, f in zip(i, j, frac)])
    input_overlap = binary_cosine(probes, X[i])
    probe_codes = np.array([copy.deepcopy(mem).partial_fit(p[None]).codes_[-1] for p in probes])
    code_overlap = code_intersection(probe_codes, mem.codes_[i]) / mem.Q
    a, b = np.triu_indices(n_store, 1)
    return {"input_overlap": input_overlap, "code_overlap": code_overlap,
            "stored_input_overlap": binary_cosine(X[a], X[b]),
            "stored_code_overlap": code_intersection(mem.codes_[a], mem.codes_[b]) / mem.Q}


def capacity_curve(make_memory, X, loads, *, threshold=0.95):
    """Recall of stored items against the number stored.

    Parameters
    ----------
    make_memory : callable
        Returns a new unfitted :class:`~neurosim.sparsey.SparseyMemory`.
    X : numpy.ndarray of 0/1, shape (n_items, n_inputs)
        Inputs; the first ``n`` are stored for each load ``n``.
    loads : sequence of int
        Numbers of stored items.
    threshold : float
        An item counts as recalled exactly when at least this fraction of its learned code is
        retrieved.

    Returns
    -------
    exact : list of float
        Per load, the fraction of items recalled exactly.
    mean : list of float
        Per load, the mean retrieved fraction of the code.
    """
    exact, mean = [], []
    for n in loads:
        m = make_memory().fit(X[:n])
        ov = code_intersection(m.transform(X[:n]), m.codes_) / m.Q
        exact.append(float(np.mean(ov >= threshold)))
        mean.append(float(ov.mean()))
    return exact, mean


def projection_baselines(Xtr, ytr, Xte, yte, Q, K, seed):
    """1-NN classifiers on random projections of Sparsey's code size, and on the inputs.

    Parameters
    ----------
    Xtr, Xte : numpy.ndarray, shape (n, n_inputs)
        Training and test inputs.
    ytr, yte : numpy.ndarray
        Their labels.
    Q, K : int
        Code format: ``Q`` winners among ``K`` cells (codes of random Gaussian projections to
        ``Q * K`` dimensions, the argmax of each group of ``K``).
    seed : int
        Seeds the projections (an independent stream: ``SeedSequence(seed).spawn(1)``).

    Returns
    -------
    acc_codes : float
        Nearest code (largest intersection) on random-projection codes.
    acc_q : float
        1-NN on Gaussian projections to ``Q`` dimensions.
    acc_raw : float
        1-NN on the inputs.
    """
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    R = rng.standard_normal((Xtr.shape[1], Q * K)).astype(np.float32)

    def rp(Z):
        return (Z.astype(np.float32) @ R).reshape(len(Z), Q, K).argmax(2)

    ctr, cte = rp(Xtr), rp(Xte)
    nearest = np.concatenate([code_intersection(cte[s:s + 256, None], ctr[None]).argmax(1)
                              for s in range(0, len(cte), 256)])
    acc_codes = float(np.mean(ytr[nearest] == yte))
    G = rng.standard_normal((Xtr.shape[1], Q)).astype(np.float32)
    acc_q = KNeighborsClassifier(1).fit(Xtr @ G, ytr).score(Xte @ G, yte)
    acc_raw = KNeighborsClassifier(1).fit(Xtr, ytr).score(Xte, yte)
    return acc_codes, float(acc_q), float(acc_raw)


def sequence_recall(memory, X, sequences):
    """Learn sequences in one pass each and recall them from their first element.

    Parameters
    ----------
    memory : SparseyMemory
        A fitted memory (its stored items are the background).
    X : numpy.ndarray of 0/1, shape (n_items, n_inputs)
        Inputs.
    sequences : numpy.ndarray of int, shape (n_sequences, length)
        Rows of ``X`` forming each sequence.

    Returns
    -------
    correct : numpy.ndarray of bool, shape (n_sequences, length)
        Whether step ``t`` of each recalled sequence is its own stored item.
    recalled : numpy.ndarray of int, shape (n_sequences, length)
        Index of the stored item nearest to each recalled code.
    """
    starts = []
    for s in sequences:
        starts.append(memory.codes_.shape[0])
        memory.learn_sequence(X[s])
    correct = np.zeros(sequences.shape, bool)
    recalled = np.zeros(sequences.shape, np.int64)
    for k, (s, start) in enumerate(zip(sequences, starts)):
        index, _ = memory.nearest_stored(memory.recall_sequence(X[s[0]], len(s)))
        recalled[k] = index
        correct[k] = index == start + np.arange(len(s))
    return correct, recalled
