"""The homeostatic MLP of Man, Damasio & Neven (2022) and its constant and random twins."""

from __future__ import annotations

import contextlib
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import metadata_routing

from .._utils import check_positive, check_random_state, check_size
from .._utils_torch import check_finite_loss

__all__ = ["HomeostaticMLP", "MODES"]

MODES = ("lrh", "lrr", "lrc")
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _resolve_device(device):
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a str ('cpu', 'cuda', 'cuda:0', 'auto'), got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'auto'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use 'cpu' or 'auto'")
    return dev


@contextlib.contextmanager
def _torch_threads(n, device):
    """Run torch's CPU operations on ``n`` threads (None: unchanged), restoring the setting."""
    if n is None or device.type != "cpu" or torch.get_num_threads() == n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _elu_and_slope(z):
    """ELU (alpha = 1) and its derivative, as ``mnist_utils.elu`` / ``elu_derivative``.

    The derivative is 1 for z > 0 and exp(z) = elu(z) + 1 otherwise: ``min(elu(z) + 1, 1)``.
    """
    a = torch.nn.functional.elu(z)
    return a, torch.clamp(a + 1, max=1)


class HomeostaticMLP(ClassifierMixin, BaseEstimator):
    """Homeostatic learning-rate regulation (LRH) and its constant (LRC) and random (LRR) twins.

    The classifier of Man, Damasio & Neven (2022), as their released code defines it
    (``lrh.py``, ``lrr.py``, ``mnist_utils.py`` in ``kingsonman/homeostatic-neural-networks``):
    a multilayer perceptron (784-80-60-10 on MNIST) with ELU hidden units and a softmax output,
    He-normal weights and N(0, 1) biases, trained by plain SGD on the cross-entropy, one sample at
    a time within minibatches of ``batch_size`` = 10 (the summed gradient divided by
    ``batch_size``), at an initial learning rate :math:`\\eta_0` = ``lr0`` = 1e-3. The samples
    are seen once each, in order (:meth:`partial_fit`); the prediction made for each sample
    *before* the update is the streaming ("training") accuracy.

    Each image carries an effect on the learner's own learning rate: classes in the upper half of
    ``classes_`` (digits 5-9) are excitatory, :math:`\\eta \\leftarrow \\eta + \\Delta`, those in the
    lower half (digits 0-4) inhibitory, :math:`\\eta \\leftarrow \\eta - \\Delta`, with
    :math:`\\Delta` = ``lr_step`` = :math:`\\eta_0/10`; a learning rate that falls below 0 is set to
    ``lr_floor`` = 1e-8. The three modes differ in whether an effect is taken:

    ``"lrh"`` (homeostatic)
        At sample :math:`i` of a pass with :math:`i > n_{mem}` (``n_memory`` = 20) and
        :math:`i \\bmod 10 = 0` (``lr_interval``) -- the *first* sample of a minibatch, so the
        pending gradient :math:`G` is that one sample's gradient -- the learner looks ahead: it
        applies :math:`G` with the current :math:`\\eta` ("leave it") and with :math:`\\eta \\pm
        \\Delta` in the direction of its *predicted* class ("take it"), both as
        :math:`W - \\eta' G / m`, and counts the correct predictions on the 20 samples
        :math:`i - 20 \\dots i - 1` (with their current labels). If "take it" scores strictly
        better, :math:`\\eta` moves by :math:`\\Delta` in the direction of the *true* class, so a
        misclassified image pushes it the wrong way.
    ``"lrr"`` (random)
        At every :math:`i \\ne 0` with :math:`i \\bmod 10 = 0`, a coin flip with probability 0.5
        decides whether the effect of the true class is taken (so :math:`P(\\pm\\Delta)` = 1/4
        each).
    ``"lrc"`` (constant)
        :math:`\\eta = \\eta_0` throughout.

    At the end of each minibatch the weights move by :math:`-\\eta\\, G_{batch} / m` with the
    current :math:`\\eta`. Like the released code, a pass uses ``n // batch_size`` full minibatches
    (``drop_last=True``): the last ``n mod batch_size`` samples are neither trained on nor scored.

    Parameters
    ----------
    mode : {"lrh", "lrr", "lrc"}
        Homeostatic, random or constant learning-rate regulation.
    hidden_sizes : tuple of int
        Hidden layer widths (the paper: (80, 60)).
    lr0 : float
        Initial learning rate :math:`\\eta_0` (> 0).
    batch_size : int
        Minibatch size :math:`m`.
    n_epochs : int
        Passes over the data in :meth:`fit` (the paper: 50).
    lr_interval : int
        A learning-rate decision is considered at every sample index divisible by this.
    lr_step : float or None
        :math:`\\Delta`; None: ``lr0 / 10``. A larger step is a *variant*, not the paper's rule.
    n_memory : int
        Recent samples on which the look-ahead is scored (LRH).
    lr_floor : float
        Value given to a learning rate that falls below 0.
    drop_last : bool
        Skip the last incomplete minibatch of a pass (the released code does). If False it is
        trained on, still with the gradient divided by ``batch_size``.
    dtype : {"float64", "float32"}
        Floating-point type of the weights (the released code: float64).
    device : str
        ``"cpu"``, ``"cuda"`` (``"cuda:1"``, ...) or ``"auto"``.
    n_threads : int or None
        torch CPU threads while training, set for the duration of :meth:`fit` /
        :meth:`partial_fit` and restored after (None: torch's setting). Minibatches of 10 are too
        small for intra-op parallelism: on a busy 2-core machine 2 threads were 50 times slower
        than 1.
    random_state : None | int | numpy.random.Generator
        Seed of the initial weights, of the data order in :meth:`fit` and of LRR's coin flips
        (three independent streams: learners of different modes with the same seed start from
        the same weights and see the same order).

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Number of input features.
    coefs_, intercepts_ : list of ndarray
        Weights of each layer, shape (n_out, n_in) as in the released code (``w12``, ``w23``,
        ``w34``), and biases (n_out,).
    lr_ : float
        Current learning rate :math:`\\eta`.
    lr_history_ : ndarray
        :math:`\\eta` after every minibatch so far (the released code's ``lr_list``).
    n_lr_changes_ : int
        Decisions that changed (or clipped) :math:`\\eta` so far.
    n_samples_seen_ : int
        Samples trained on so far.
    last_pass_ : dict
        The last pass: ``correct`` (bool per used sample: the prediction before the update was
        right), ``lr`` (per minibatch), and per decision opportunity ``decision_index`` (sample
        index), ``decision_taken`` (bool), ``decision_label`` and ``decision_guess`` (class
        positions), ``acc_keep`` and ``acc_take`` (LRH look-ahead accuracies, NaN otherwise) and
        ``lr_take`` (the learning rate simulated by "take it").

    References
    ----------
    Man, K., Damasio, A. & Neven, H. (2022). Need is all you need: homeostatic neural networks
    adapt to concept shift. arXiv:2205.08645.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from neurosim.homeostasis import HomeostaticMLP
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = HomeostaticMLP(mode="lrh", n_epochs=2, random_state=0).fit(X / 16, y)
    >>> clf.lr_history_.shape
    (358,)
    >>> round(clf.score(X / 16, y), 2) > 0.1
    True
    """

    __metadata_request__partial_fit = {"classes": metadata_routing.UNUSED,
                                       "relabel": metadata_routing.UNUSED}
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    def __init__(self, mode="lrh", hidden_sizes=(80, 60), lr0=1e-3, batch_size=10, n_epochs=50,
                 lr_interval=10, lr_step=None, n_memory=20, lr_floor=1e-8, drop_last=True,
                 dtype="float64", device="cpu", n_threads=1, random_state=None):
        self.mode = mode
        self.hidden_sizes = hidden_sizes
        self.lr0 = lr0
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.lr_interval = lr_interval
        self.lr_step = lr_step
        self.n_memory = n_memory
        self.lr_floor = lr_floor
        self.drop_last = drop_last
        self.dtype = dtype
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ validation and setup
    def _validate_params(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        hidden = self.hidden_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        try:
            hidden = tuple(check_size("hidden_sizes", h, minimum=1) for h in hidden)
        except TypeError as err:
            raise TypeError(f"hidden_sizes must be a tuple of positive ints, got "
                            f"{self.hidden_sizes!r}") from err
        lr0 = check_positive("lr0", self.lr0)
        check_size("batch_size", self.batch_size, minimum=1)
        check_size("n_epochs", self.n_epochs, minimum=1)
        check_size("lr_interval", self.lr_interval, minimum=1)
        check_size("n_memory", self.n_memory, minimum=1)
        step = lr0 / 10 if self.lr_step is None else check_positive("lr_step", self.lr_step)
        check_positive("lr_floor", self.lr_floor)
        if self.n_threads is not None:
            check_size("n_threads", self.n_threads, minimum=1)
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        self._hidden = hidden
        self._step = step
        self._device = _resolve_device(self.device)
        self._tdtype = _DTYPES[self.dtype]

    def _setup(self, n_features, classes):
        self._validate_params()
        root = int(check_random_state(self.random_state).integers(2**63 - 1))
        init, order, coin = (np.random.default_rng(s) for s in np.random.SeedSequence(root).spawn(3))
        self._order_rng, self._coin_rng = order, coin
        sizes = (n_features, *self._hidden, len(classes))
        # He normal weights, then N(0, 1) biases, in the order of initialize_parameters()
        W = [init.standard_normal((n_out, n_in)) * np.sqrt(2 / n_in)
             for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        b = [init.standard_normal(n_out) for n_out in sizes[1:]]
        kw = {"dtype": self._tdtype, "device": self._device}
        self._W = [torch.as_tensor(w, **kw) for w in W]
        self._b = [torch.as_tensor(v, **kw) for v in b]
        self.classes_ = np.asarray(classes)
        self.n_features_in_ = int(n_features)
        self.lr_ = float(self.lr0)
        self._lr_chunks = []
        self.n_lr_changes_ = 0
        self.n_samples_seen_ = 0
        self.last_pass_ = None

    def _reset(self):
        self._W = None

    @property
    def coefs_(self):
        return [w.detach().cpu().numpy().copy() for w in self._W]

    @property
    def intercepts_(self):
        return [v.detach().cpu().numpy().copy() for v in self._b]

    @property
    def lr_history_(self):
        if not self._lr_chunks:
            return np.empty(0)
        return np.concatenate(self._lr_chunks)

    def _encode(self, y):
        pos = np.searchsorted(self.classes_, y)
        pos = np.clip(pos, 0, len(self.classes_) - 1)
        bad = self.classes_[pos] != y
        if np.any(bad):
            raise ValueError(f"y holds labels {np.unique(np.asarray(y)[bad]).tolist()} that are "
                             f"not in classes_ {self.classes_.tolist()}")
        return pos.astype(np.int64)

    # ------------------------------------------------------------------ the network
    def _forward(self, X, W=None, b=None, slopes=True):
        """Activations of every layer (input first) and the ELU slopes of the hidden layers."""
        W = self._W if W is None else W
        b = self._b if b is None else b
        acts, grads = [X], []
        a = X
        last = len(W) - 1
        for k, (w, v) in enumerate(zip(W, b)):
            z = torch.nn.functional.linear(a, w, v)
            if k == last:
                a = torch.softmax(z, dim=-1)
            elif slopes:
                a, slope = _elu_and_slope(z)
                grads.append(slope)
            else:
                a = torch.nn.functional.elu(z)
            acts.append(a)
        return acts, grads

    def _memory_correct(self, Xm, ym, lr, gW, gb, m):
        """Correct predictions on the memory after the simulated update ``W - lr / m * G``."""
        W = [torch.add(w, g, alpha=-lr / m) for w, g in zip(self._W, gW)]
        b = [torch.add(v, g, alpha=-lr / m) for v, g in zip(self._b, gb)]
        acts, _ = self._forward(Xm, W, b, slopes=False)
        return int((acts[-1].argmax(-1) == ym).sum())

    # ------------------------------------------------------------------ training
    def _check_Xy(self, X, y, reset):
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        n_x = getattr(X, "shape", (len(X),))[0] if hasattr(X, "__len__") else None
        n_y = len(y) if hasattr(y, "__len__") else None
        if n_x is not None and n_y is not None and n_x != n_y:
            raise ValueError(f"y has {n_y} labels but X has {n_x} samples; expected one label "
                             "per row of X")
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64)
        check_classification_targets(y)
        return X, y

    def partial_fit(self, X, y, classes=None, *, relabel=None):
        """One pass over ``X``, ``y`` in the given order (one epoch of the released code).

        Sample indices :math:`i` (for the decision times and the look-ahead memory) count from
        the start of this pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs (the paper: pixels scaled to [0, 1]).
        y : array-like of shape (n_samples,)
            Labels, as shown at the start of the pass.
        classes : array-like or None
            All labels; needed on the first call unless ``y`` holds every class.
        relabel : dict of int to array-like, or None
            Concept shift within the pass: ``{k: perm}`` maps every label of this pass (those
            still to come and those in the look-ahead memory) through ``perm`` (a permutation of
            the class positions ``0..n_classes-1``) right after the minibatch that ends at sample
            count ``k``. :func:`~neurosim.homeostasis.run_shift_stream` builds it from a
            :class:`~neurosim.homeostasis.ConceptShift`.

        Returns
        -------
        self
        """
        first = getattr(self, "_W", None) is None
        X, y = self._check_Xy(X, y, reset=first)
        if first:
            self._setup(X.shape[1], np.unique(y if classes is None else np.asarray(classes)))
        else:
            self._validate_params()
        self._train_pass(X, self._encode(y), relabel)
        return self

    def fit(self, X, y):
        """Reset and train for ``n_epochs`` passes, each in a new random order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self
        """
        self._reset()
        X, y = self._check_Xy(X, y, reset=True)
        self._setup(X.shape[1], np.unique(y))
        pos = self._encode(y)
        for _ in range(int(self.n_epochs)):
            order = self._order_rng.permutation(X.shape[0])
            self._train_pass(X[order], pos[order], None)
        return self

    def _relabel_plan(self, relabel, n_used, m):
        if relabel is None:
            return {}
        if not isinstance(relabel, dict):
            raise TypeError(f"relabel must be a dict {{sample count: permutation}}, got "
                            f"{type(relabel).__name__}")
        K = len(self.classes_)
        plan = {}
        for k, perm in relabel.items():
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not (
                    0 < k <= n_used and (k % m == 0 or k == n_used)):
                raise ValueError(f"relabel key {k!r} is not the end of a minibatch of this pass "
                                 f"(a multiple of batch_size={m} in [{m}, {n_used}])")
            perm = np.asarray(perm)
            if perm.shape != (K,) or not np.array_equal(np.sort(perm), np.arange(K)):
                raise ValueError(f"relabel[{k}] must be a permutation of 0..{K - 1}, got {perm!r}")
            plan[int(k)] = perm.astype(np.int64)
        return plan

    def _train_pass(self, X, pos, relabel):
        with _torch_threads(self.n_threads, self._device), torch.inference_mode():
            self._train_pass_inner(X, pos, relabel)

    def _train_pass_inner(self, X, pos, relabel):
        m = int(self.batch_size)
        n = X.shape[0]
        n_used = (n // m) * m if self.drop_last else n
        plan = self._relabel_plan(relabel, n_used, m)
        dev, mode = self._device, self.mode
        Xt = torch.as_tensor(np.ascontiguousarray(X[:n_used]), dtype=self._tdtype, device=dev)
        ynp = pos[:n_used].copy()  # the current labels (class positions), relabelled in place
        yt = torch.as_tensor(ynp, device=dev)
        n_classes = len(self.classes_)
        half = n_classes // 2  # classes at positions >= half raise the learning rate
        interval, n_mem = int(self.lr_interval), int(self.n_memory)
        step, floor = self._step, float(self.lr_floor)
        eye = torch.eye(n_classes, dtype=self._tdtype, device=dev)
        targets = eye[yt]  # one-hot, as y in the released code
        guesses = torch.empty(n_used, dtype=torch.int64, device=dev)
        seen = np.empty(n_used, dtype=np.int64)  # the label of each sample when it was seen
        starts = range(0, n_used, m)
        lrs = np.empty(len(starts))
        log = {k: [] for k in ("decision_index", "decision_taken", "decision_label",
                               "decision_guess", "acc_keep", "acc_take", "lr_take")}
        if mode == "lrh":
            due = [i for i in range(0, n_used, interval) if i > n_mem]
        elif mode == "lrr":
            due = [i for i in range(interval, n_used, interval)]
        else:
            due = []
        coins = self._coin_rng.random(len(due)) if mode == "lrr" else None
        n_due = 0
        eta = self.lr_
        for j, s in enumerate(starts):
            e = min(s + m, n_used)
            acts, slopes = self._forward(Xt[s:e])
            out = acts[-1]
            guess = out.argmax(1)
            guesses[s:e] = guess
            seen[s:e] = ynp[s:e]
            # backward pass: output error, then ELU layers
            deltas = [out - targets[s:e]]
            for k in range(len(self._W) - 1, 0, -1):
                deltas.insert(0, (deltas[0] @ self._W[k]) * slopes[k - 1])
            while n_due < len(due) and due[n_due] < e:
                i = due[n_due]
                p = i - s
                label = int(ynp[i])
                g_guess = int(guess[p])
                taken, acc_keep, acc_take, lr_take = False, np.nan, np.nan, np.nan
                if mode == "lrh":
                    # gradient accumulated in this minibatch up to and including sample i
                    gW = [d[:p + 1].T @ a[:p + 1] for d, a in zip(deltas, acts[:-1])]
                    gb = [d[:p + 1].sum(0) for d in deltas]
                    lr_take = eta + step if g_guess >= half else eta - step
                    if lr_take < 0:
                        lr_take = 1e-8  # the released code's clip of the simulated rate
                    Xm, ym = Xt[i - n_mem:i], yt[i - n_mem:i]
                    acc_keep = self._memory_correct(Xm, ym, eta, gW, gb, m)
                    acc_take = self._memory_correct(Xm, ym, lr_take, gW, gb, m)
                    taken = acc_take > acc_keep
                    acc_keep, acc_take = acc_keep / n_mem, acc_take / n_mem
                elif mode == "lrr":
                    taken = bool(coins[n_due] > 0.5)
                if taken:
                    eta = eta + step if label >= half else eta - step
                    self.n_lr_changes_ += 1
                if mode == "lrr" or taken:
                    if eta < 0:
                        eta = floor
                for key, val in zip(log, (i, taken, label, g_guess, acc_keep, acc_take, lr_take)):
                    log[key].append(val)
                n_due += 1
            # gradient descent with the current learning rate
            for k in range(len(self._W)):
                self._W[k].addmm_(deltas[k].T, acts[k], alpha=-eta / m)
                self._b[k].add_(deltas[k].sum(0), alpha=-eta / m)
            lrs[j] = eta
            if e in plan:
                ynp = plan[e][ynp]
                yt = torch.as_tensor(ynp, device=dev)
                targets = eye[yt]
        check_finite_loss(self._W[-1], "the end of a training pass of HomeostaticMLP (the "
                          "output weights are not finite)")
        self.lr_ = float(eta)
        self._lr_chunks.append(lrs)
        self.n_samples_seen_ += n_used
        dtypes = {"decision_index": np.int64, "decision_taken": bool, "decision_label": np.int64,
                  "decision_guess": np.int64}
        self.last_pass_ = {"correct": guesses.cpu().numpy() == seen, "lr": lrs} | {
            k: np.asarray(v, dtype=dtypes.get(k, float)) for k, v in log.items()}

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict_proba(self, X):
        """Class probabilities (softmax output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        out = []
        for s in range(0, X.shape[0], 4096):
            xb = torch.as_tensor(X[s:s + 4096], dtype=self._tdtype, device=self._device)
            out.append(self._forward(xb)[0][-1].cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.classes_)))

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        index = self.predict_proba(X).argmax(1)
        return self.classes_[index]
