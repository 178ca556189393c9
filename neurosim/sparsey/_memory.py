"""SparseyMemory: a scikit-learn estimator around a hierarchy of Sparsey macs."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from neurosim._docs import fill_doc

from .._utils import check_memory, check_random_state, check_size
from ._csa import SPARSEY_ALT_CENTER, SPARSEY_ALT_SLOPE, CSAParams
from ._hierarchy import _Layout, _resolve_levels

__all__ = ["SparseyMemory"]

_CHUNK = 4096


def _kernels():
    from . import _kernels

    return _kernels


def _postings(codes, K):
    """Inverted index of stored codes: the items holding cell ``c`` are
    ``items[ptr[c]:ptr[c + 1]]``."""
    Q = codes.shape[1]
    rows, cms = np.nonzero(codes >= 0)
    cells = cms * K + codes[rows, cms]
    order = np.argsort(cells, kind="stable")
    ptr = np.zeros(Q * K + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(cells, minlength=Q * K))
    return ptr, rows[order].astype(np.int64)


@fill_doc
class SparseyMemory(TransformerMixin, BaseEstimator):
    """Sparsey episodic memory: single-trial learning of sparse distributed codes (Rinkus 2017).

    Every item is learned in one presentation: the Code Selection Algorithm (CSA) chooses one
    winning cell in each of the ``Q`` competitive modules (CMs) of ``K`` cells of the top mac,
    with a randomness that shrinks as the input's familiarity grows, and binary Hebbian learning
    stores the code. Similar inputs get overlapping codes. With ``hidden_levels`` the input first
    goes through levels of macs whose receptive fields tile it (a 2-level hierarchy is one hidden
    level plus the top mac). Codes are stored compactly as ``(n_items, Q)`` winner indices.

    Parameters
    ----------
    Q : int
        CMs of the top mac (code length), >= 1.
    K : int
        Cells per CM of the top mac, >= 1.
    hidden_levels : sequence of Level
        Levels below the top mac, bottom first (each may also be a ``(grid, Q, K)`` tuple or a
        dict of :class:`Level`'s arguments). The first level's grid must divide
        ``input_shape`` and each next grid the grid below, so that receptive fields tile.
    input_shape : tuple of int | None
        Shape of one input (e.g. ``(8, 8)`` for scikit-learn's digits); None means the shape of
        one item of the first ``X`` learned (``X.shape[1:]``, so images may be passed as
        ``(n_items, height, width)``). Needed when the hidden levels are 2-d grids and ``X`` is
        flat.
    binarize : float | None
        Sparsey's inputs are binary. None: ``X`` must already hold only 0 and 1 (or bools);
        a number ``t``: each value is replaced by ``X > t``.
    min_active : int
        The top mac computes a code only when at least this many of its afferents are active.
    g_min, gamma, chi : float
        Expansivity :math:`\\eta = 1 + [\\max(0, (G - G^-)/(1 - G^-))]^\\gamma \\chi K`
        (see :class:`CSAParams`).
    sigmoid_slope, sigmoid_center : float
        The V-to-mu sigmoid :math:`\\mu = 1 + (\\eta - 1)\\sigma(\\lambda (V - V_c))`. The
        defaults, 32 and :math:`1 - \\ln 10 / 4 \\approx 0.4244`, with ``exponent_u=10``, are
        Sparsey_Alt's sigmoid exactly (see :class:`CSAParams`).
    exponent_u, exponent_h, exponent_d : float
        Exponents of the U, H and D matches in the local familiarity ``V`` (Sparsey_Alt:
        :math:`V = U^{10}`).
    match : {"input", "cosine"}
        How bottom-up sums are normalised. ``"input"`` (Sparsey's): the fraction of the active
        afferents a cell is connected to, :math:`u(i)/n`. ``"cosine"``:
        :math:`u(i)/\\sqrt{n f(i)}` with :math:`f(i)` the afferents cell ``i`` has learned, which
        stops cells that learned many inputs from matching every input (needed for dense inputs
        such as digits, where ``"input"`` makes all codes collapse onto such cells).
    readout : {"nearest", "linear"}
        Label readout of :meth:`predict`: the label of the stored item whose code has the
        largest intersection with the retrieved code (``"nearest"``), or a linear classifier
        (:class:`sklearn.linear_model.RidgeClassifier`) fitted on the stored codes' cells
        (``"linear"``).
    top_down : bool
        In sequences (:meth:`learn_sequence`), also use top-down (D) input from the parent mac's
        previous code. Horizontal (H) input from each mac's own previous code is always used in
        sequences.
    %(random_state)s
        Seed of the roulette choice during learning.
    check_memory : bool
        Refuse (:class:`MemoryError` naming the size) weights larger than the available memory
        before allocating them; False allocates anyway.

    Attributes
    ----------
    n_features_in_ : int
        Number of input features.
    input_shape_ : tuple of int
        Shape of one input.
    levels_ : list of Level
        Every level, the top mac last (a grid of ones).
    codes_ : ndarray of int32, shape (n_stored, Q)
        Learned code of every stored item, in order of learning.
    labels_ : ndarray, shape (n_stored,) | None
        Labels of the stored items (when ``y`` was given).
    classes_ : ndarray | None
        Sorted distinct labels.
    familiarity_ : ndarray of float64, shape (n_stored,)
        Global familiarity ``G`` of the top mac when each item was learned.
    weights_u_, weights_h_, weights_d_ : ndarray of uint8
        Bottom-up, horizontal and top-down binary weights of all macs, flat; read one mac's with
        :meth:`mac_weights`.
    fan_in_ : ndarray of int64
        Number of bottom-up afferents each cell (of all macs, bottom level first) has learned.

    See Also
    --------
    csa_step : the CSA of one mac, step by step, in numpy.

    Notes
    -----
    Learning is sequential (each item changes the weights the next one sees); retrieval
    (:meth:`transform`, :meth:`predict`) runs items in parallel. ``transform`` returns each
    CM's cell of largest ``V`` (no noise); a CM of a silent mac (no active input) is -1.

    References
    ----------
    .. [1] Rinkus, G. J. (2014). Sparsey: event recognition via deep hierarchical sparse
       distributed codes. Front. Comput. Neurosci. 8:160.
    .. [2] Rinkus, G. J. & Leveille, J. (2017). Superposed episodic and semantic memory via
       sparse distributed representation. arXiv:1710.07829.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.sparsey import SparseyMemory
    >>> X = (np.random.default_rng(0).random((20, 64)) < 0.2).astype(np.uint8)
    >>> mem = SparseyMemory(Q=12, K=8, random_state=0).fit(X, y=np.arange(20))
    >>> mem.codes_.shape
    (20, 12)
    >>> float(np.mean(mem.transform(X) == mem.codes_))  # fraction of CMs recalled exactly
    1.0
    >>> bool(np.all(mem.predict(X) == np.arange(20)))
    True
    """

    def __init__(self, Q=20, K=10, *, hidden_levels=(), input_shape=None, binarize=None,
                 min_active=1, g_min=0.1, gamma=2.0, chi=100.0,
                 sigmoid_slope=SPARSEY_ALT_SLOPE, sigmoid_center=SPARSEY_ALT_CENTER,
                 exponent_u=10.0, exponent_h=1.0, exponent_d=1.0,
                 match="input", readout="nearest", top_down=False, random_state=None,
                 check_memory=True):
        self.Q = Q
        self.K = K
        self.hidden_levels = hidden_levels
        self.input_shape = input_shape
        self.binarize = binarize
        self.min_active = min_active
        self.g_min = g_min
        self.gamma = gamma
        self.chi = chi
        self.sigmoid_slope = sigmoid_slope
        self.sigmoid_center = sigmoid_center
        self.exponent_u = exponent_u
        self.exponent_h = exponent_h
        self.exponent_d = exponent_d
        self.match = match
        self.readout = readout
        self.top_down = top_down
        self.random_state = random_state
        self.check_memory = check_memory

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # converted to dense arrays
        tags.transformer_tags.preserves_dtype = []  # transform returns int32 winner indices
        return tags

    # ----------------------------------------------------------------------------------------
    # set-up and checks
    # ----------------------------------------------------------------------------------------
    def _csa_params(self):
        return CSAParams(g_min=self.g_min, gamma=self.gamma, chi=self.chi,
                         sigmoid_slope=self.sigmoid_slope, sigmoid_center=self.sigmoid_center,
                         exponent_u=self.exponent_u, exponent_h=self.exponent_h,
                         exponent_d=self.exponent_d)

    def _initialize(self, n_features, item_shape=None):
        Q = check_size("Q", self.Q)
        K = check_size("K", self.K)
        min_active = check_size("min_active", self.min_active)
        if not isinstance(self.top_down, (bool, np.bool_)):
            raise TypeError(f"top_down must be a bool, got {self.top_down!r}")
        if self.readout not in ("nearest", "linear"):
            raise ValueError(f"readout must be 'nearest' or 'linear', got {self.readout!r}")
        if self.match not in ("input", "cosine"):
            raise ValueError(f"match must be 'input' or 'cosine', got {self.match!r}")
        self._params = np.append(self._csa_params().as_array(), float(self.match == "cosine"))
        shape = self.input_shape
        if shape is None and item_shape is not None and len(item_shape) > 1:
            shape = item_shape  # X given as (n_items, *shape), e.g. images
        input_shape, levels = _resolve_levels(shape, n_features, self.hidden_levels,
                                              Q, K, min_active)
        layout = _Layout(input_shape, levels)
        self._layout = layout
        self.n_features_in_ = n_features
        self.input_shape_ = input_shape
        self.levels_ = levels
        check_memory(int(layout.wu_ptr[-1]) + int(layout.wh_ptr[-1]) + int(layout.wd_ptr[-1])
                     + 8 * (layout.buffer_size - layout.n_features),
                     f"SparseyMemory(Q={Q}, K={K}) on {n_features} features (its weights)",
                     check=getattr(self, "check_memory", True))
        self.weights_u_ = np.zeros(int(layout.wu_ptr[-1]), np.uint8)
        self.weights_h_ = np.zeros(int(layout.wh_ptr[-1]), np.uint8)
        self.weights_d_ = np.zeros(int(layout.wd_ptr[-1]), np.uint8)
        self.fan_in_ = np.zeros(layout.buffer_size - layout.n_features, np.int64)
        self.codes_ = np.empty((0, Q), np.int32)
        self.labels_ = None
        self.classes_ = None
        self.familiarity_ = np.empty(0, np.float64)
        self._rng = check_random_state(self.random_state)
        self._prev_code = np.full(layout.total_q, -1, np.int32)
        self._postings = _postings(self.codes_, K)
        self._linear = None

    def _check_fitted(self):
        if not hasattr(self, "codes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this SparseyMemory has learned nothing yet; call fit, "
                                 "partial_fit or learn_sequence first")

    def _check_X(self, X, *, name="X", return_shape=False):
        """Binary uint8 (n_items, n_features) array from ``X``, with clear errors (and the shape
        of one item as given, with ``return_shape``)."""
        if hasattr(X, "toarray"):
            X = X.toarray()
        X = np.asarray(X)
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}")
        if X.dtype == object:
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must be a numeric or boolean array, got an object "
                                f"array that does not convert to numbers ({err})") from None
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric or boolean array, got dtype {X.dtype}")
        if X.ndim < 2:
            raise ValueError(f"Expected a 2-d array (n_items, n_features) for {name}, got a "
                             f"{X.ndim}-d array of shape {X.shape}. Reshape your data with "
                             "x.reshape(1, -1) for a single item")
        item_shape = X.shape[1:]
        if X.ndim > 2:
            X = X.reshape(X.shape[0], -1)
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                             f"of 1 is required: {name} must hold at least one item")
        if X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                             f"of 1 is required: {name} must have at least one feature")
        if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
            raise ValueError(f"{name} contains NaN or infinite values; Sparsey needs binary "
                             "input: remove or fill them (e.g. numpy.nan_to_num) first")
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {X.shape[1]} features, but SparseyMemory is "
                             f"expecting {self.n_features_in_} features as input")
        binarize = self.binarize
        if binarize is not None:
            if isinstance(binarize, bool) or not isinstance(binarize, numbers.Real) \
                    or not np.isfinite(binarize):
                raise TypeError(f"binarize must be None or a finite number (threshold), got "
                                f"{binarize!r}")
            Xb = np.ascontiguousarray(X > binarize, dtype=np.uint8)
            return (Xb, item_shape) if return_shape else Xb
        if X.dtype.kind != "b":
            bad = (X != 0) & (X != 1)
            if bad.any():
                value = X[bad].flat[0]
                raise ValueError(
                    f"{name} must be binary (0/1 or bool): it holds {value!r} (and "
                    f"{int(bad.sum()) - 1} other non-binary values). Sparsey codes binary "
                    "inputs: binarise X yourself (e.g. X > threshold) or pass "
                    "binarize=<threshold> to use X > threshold")
        Xb = np.ascontiguousarray(X, dtype=np.uint8)
        return (Xb, item_shape) if return_shape else Xb

    def _check_y(self, y, n):
        if y is None:
            if self.labels_ is not None:
                raise ValueError("this SparseyMemory stores labelled items: pass y for the new "
                                 "items too")
            return None
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"y must have shape ({n},) (one label per item), got {y.shape}")
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            bad = int(np.sum(~np.isfinite(y)))
            raise ValueError(f"y holds {bad} NaN or infinite label(s) of {n}: every item needs a "
                             "label (or pass y=None for unlabelled items)")
        if self.labels_ is None and self.codes_.shape[0] > 0:
            raise ValueError("this SparseyMemory stores unlabelled items: y cannot be given "
                             "now; refit with labels for every item")
        return y

    def _store(self, codes, g_top, y):
        self.codes_ = np.concatenate([self.codes_, codes])
        self.familiarity_ = np.concatenate([self.familiarity_, g_top])
        if y is not None:
            self.labels_ = y.copy() if self.labels_ is None else np.concatenate([self.labels_, y])
            self.classes_ = np.unique(self.labels_)
        self._postings = _postings(self.codes_, self.levels_[-1].K)
        self._linear = None

    def _writable(self):
        """Make the learned arrays writable (they may be read-only after unpickling)."""
        for name in ("weights_u_", "weights_h_", "weights_d_", "fan_in_"):
            arr = getattr(self, name)
            if not arr.flags.writeable:
                setattr(self, name, arr.copy())

    def _run(self, Xb, *, learn, temporal, recall, resets):
        """Run the sequential kernel over ``Xb``; return (top codes, top G)."""
        k = _kernels()
        self._writable()
        lay = self._layout
        n = Xb.shape[0]
        top_codes = np.empty((n, self.codes_.shape[1]), np.int32)
        top_g = np.empty(n, np.float64)
        qo = int(lay.q_off[lay.top])
        use_d = bool(temporal and self.top_down)
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            m = stop - start
            uniforms = (self._rng.random((m, lay.total_q)) if learn
                        else np.zeros((m, lay.total_q)))
            codes = np.empty((m, lay.total_q), np.int32)
            g = np.empty((m, lay.n_macs), np.float64)
            k.run_sequential(Xb[start:stop], resets[start:stop], *lay.kernel_args(),
                             self.weights_u_, self.weights_h_, self.weights_d_, self.fan_in_,
                             self._params, learn, bool(temporal), use_d, recall,
                             self._prev_code, uniforms, codes, g)
            top_codes[start:stop] = codes[:, qo:]
            top_g[start:stop] = g[:, lay.top]
        return top_codes, top_g

    # ----------------------------------------------------------------------------------------
    # learning
    # ----------------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Forget everything, then learn every row of ``X`` as an independent item.

        Parameters
        ----------
        X : array-like, shape (n_items, n_features)
            Binary inputs (or any numbers with ``binarize`` set).
        y : array-like, shape (n_items,) | None
            Labels, needed by :meth:`predict` and :meth:`score`.

        Returns
        -------
        self : SparseyMemory
        """
        for attr in ("codes_", "n_features_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        return self.partial_fit(X, y)

    def partial_fit(self, X, y=None):
        """Learn every row of ``X`` as an independent item, in one presentation each.

        Parameters
        ----------
        X : array-like, shape (n_items, n_features)
            Binary inputs (or any numbers with ``binarize`` set).
        y : array-like, shape (n_items,) | None
            Labels; give them for all items or for none.

        Returns
        -------
        self : SparseyMemory
        """
        Xb, item_shape = self._check_X(X, return_shape=True)
        if not hasattr(self, "codes_"):
            self._initialize(Xb.shape[1], item_shape)
        y = self._check_y(y, Xb.shape[0])
        resets = np.ones(Xb.shape[0], np.bool_)
        codes, g = self._run(Xb, learn=True, temporal=False, recall=False, resets=resets)
        self._prev_code[:] = -1
        self._store(codes, g, y)
        return self

    def learn_sequence(self, X, y=None):
        """Learn the rows of ``X`` as one sequence, in one presentation.

        Each mac also receives horizontal (H) input from its own code at the previous step (and
        top-down input from its parent's previous code if ``top_down``), so an item's code
        depends on its context and the sequence is stored as a chain of codes.

        Parameters
        ----------
        X : array-like, shape (n_steps, n_features)
            The sequence, first element first.
        y : array-like, shape (n_steps,) | None
            Labels of the elements.

        Returns
        -------
        self : SparseyMemory

        Notes
        -----
        The elements' codes are appended to :attr:`codes_` in order. :meth:`transform` presents
        items out of context (no H input), so an element other than the first may retrieve a
        code that differs from the one it got in the sequence; recall a sequence with
        :meth:`recall_sequence`.
        """
        Xb, item_shape = self._check_X(X, return_shape=True)
        if not hasattr(self, "codes_"):
            self._initialize(Xb.shape[1], item_shape)
        y = self._check_y(y, Xb.shape[0])
        resets = np.zeros(Xb.shape[0], np.bool_)
        resets[0] = True
        codes, g = self._run(Xb, learn=True, temporal=True, recall=False, resets=resets)
        self._prev_code[:] = -1
        self._store(codes, g, y)
        return self

    # ----------------------------------------------------------------------------------------
    # retrieval
    # ----------------------------------------------------------------------------------------
    def _retrieve(self, X):
        self._check_fitted()
        Xb = self._check_X(X)
        self._writable()
        lay = self._layout
        codes = np.empty((Xb.shape[0], lay.total_q), np.int32)
        g = np.empty((Xb.shape[0], lay.n_macs), np.float64)
        if Xb.shape[0]:
            _kernels().retrieve_parallel(Xb, *lay.kernel_args(), self.weights_u_,
                                         self.weights_h_, self.weights_d_, self.fan_in_,
                                         self._params, codes, g)
        return codes[:, int(lay.q_off[lay.top]):], g[:, lay.top]

    def transform(self, X):
        """Retrieve the code of every row of ``X`` (the CSA without noise and without learning).

        Parameters
        ----------
        X : array-like, shape (n_items, n_features)
            Inputs.

        Returns
        -------
        codes : ndarray of int32, shape (n_items, Q)
            Winning cell of each top-level CM (-1 where the top mac stays silent). Use
            :func:`codes_to_sparse` for the binary ``(n_items, Q * K)`` form.
        """
        return self._retrieve(X)[0]

    def familiarity(self, X):
        """Global familiarity ``G`` of the top mac for every row of ``X`` (1: fully familiar).

        Parameters
        ----------
        X : array-like, shape (n_items, n_features)
            Inputs.

        Returns
        -------
        G : ndarray of float64, shape (n_items,)
            NaN where the top mac stays silent.
        """
        return self._retrieve(X)[1]

    def nearest_stored(self, codes):
        """Stored item whose learned code has the largest intersection with each code.

        Parameters
        ----------
        codes : array of int, shape (n, Q)
            Codes, e.g. from :meth:`transform` or :meth:`recall_sequence`.

        Returns
        -------
        index : ndarray of int64, shape (n,)
            Index into :attr:`codes_` (the first one on ties).
        intersection : ndarray of int32, shape (n,)
            Size of that intersection (0 to ``Q``).
        """
        self._check_fitted()
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        Q, K = self.codes_.shape[1], self.levels_[-1].K
        if codes.ndim != 2 or codes.shape[1] != Q:
            raise ValueError(f"codes must have shape (n, {Q}), got {codes.shape}")
        n_stored = self.codes_.shape[0]
        if n_stored == 0:
            raise ValueError("no item is stored yet")
        ptr, items = self._postings
        best = np.zeros(codes.shape[0], np.int64)
        score = np.zeros(codes.shape[0], np.int32)
        if codes.shape[0]:
            _kernels().nearest_by_intersection(codes, K, ptr, items, n_stored, best, score)
        return best, score

    def predict(self, X):
        """Label of the stored item whose code best intersects the retrieved code of each row.

        Parameters
        ----------
        X : array-like, shape (n_items, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray, shape (n_items,)
        """
        codes = self.transform(X)
        if self.labels_ is None:
            raise ValueError("predict needs labels: fit (or partial_fit) with y")
        if self.readout == "linear":
            from sklearn.linear_model import RidgeClassifier

            from ._codes import codes_to_sparse

            K = self.levels_[-1].K
            if self._linear is None:
                if self.classes_.size < 2:
                    raise ValueError("the linear readout needs at least 2 classes among the "
                                     f"stored labels, got {self.classes_.tolist()}")
                self._linear = RidgeClassifier().fit(codes_to_sparse(self.codes_, K),
                                                     self.labels_)
            return self._linear.predict(codes_to_sparse(codes, K))
        best, _ = self.nearest_stored(codes)
        return self.labels_[best]

    def score(self, X, y):
        """Accuracy of :meth:`predict` on ``X`` against ``y``.

        Parameters
        ----------
        X : array-like, shape (n_items, n_features)
            Inputs.
        y : array-like, shape (n_items,)
            True labels.

        Returns
        -------
        accuracy : float
        """
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got {y.shape}")
        return float(np.mean(pred == y))

    def recall_sequence(self, x0, n_steps):
        """Recall a stored sequence from its first element.

        The first element is presented (retrieval, no learning); at every later step there is
        no input, and each mac's code is chosen from its horizontal (and top-down) input alone,
        i.e. from the previous codes.

        Parameters
        ----------
        x0 : array-like, shape (n_features,) or (1, n_features)
            First element of the sequence.
        n_steps : int
            Number of codes to recall, the first element's included.

        Returns
        -------
        codes : ndarray of int32, shape (n_steps, Q)
            Recalled top-level codes; find the stored items with :meth:`nearest_stored`.
        """
        self._check_fitted()
        n_steps = check_size("n_steps", n_steps)
        x0 = np.asarray(x0)
        if x0.ndim == 1:
            x0 = x0.reshape(1, -1)
        if x0.ndim != 2 or x0.shape[0] != 1:
            raise ValueError(f"x0 must be one item, shape (n_features,), got {x0.shape}")
        x = self._check_X(x0, name="x0")
        Xs = np.zeros((n_steps, x.shape[1]), np.uint8)
        Xs[0] = x[0]
        resets = np.zeros(n_steps, np.bool_)
        resets[0] = True
        codes, _ = self._run(Xs, learn=False, temporal=True, recall=True, resets=resets)
        self._prev_code[:] = -1
        return codes

    def mac_weights(self, level, index=0):
        """The binary weight matrices of one mac, as views into the flat weights.

        Parameters
        ----------
        level : int
            Level of the mac (0: the first hidden level; -1: the top mac).
        index : int
            Index of the mac in its level's grid (C order).

        Returns
        -------
        weights : dict of str to ndarray of uint8
            ``"U"``: ``(n_afferents, Q * K)``; ``"H"``: ``(Q * K, Q * K)``; ``"D"``
            (not for the top mac): ``(Q_parent * K_parent, Q * K)``.
        """
        self._check_fitted()
        lay = self._layout
        n_levels = len(lay.levels)
        if not -n_levels <= level < n_levels:
            raise ValueError(f"level must be in [{-n_levels}, {n_levels}), got {level}")
        level %= n_levels
        macs = lay.mac_slice(level)
        if not 0 <= index < len(macs):
            raise ValueError(f"index must be in [0, {len(macs)}) for level {level}, got {index}")
        m = macs[index]
        qk = int(lay.Qs[m] * lay.Ks[m])
        n_aff = int(lay.rf_ptr[m + 1] - lay.rf_ptr[m])
        out = {
            "U": self.weights_u_[lay.wu_ptr[m]:lay.wu_ptr[m + 1]].reshape(n_aff, qk),
            "H": self.weights_h_[lay.wh_ptr[m]:lay.wh_ptr[m + 1]].reshape(qk, qk),
        }
        p = lay.parent[m]
        if p >= 0:
            out["D"] = self.weights_d_[lay.wd_ptr[m]:lay.wd_ptr[m + 1]].reshape(
                int(lay.Qs[p] * lay.Ks[p]), qk)
        return out
