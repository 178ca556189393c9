"""Baselines every decoder is compared with: closed-form ridge (torch, GPU-capable), logistic regression.

:class:`TorchRidgeCV` is ridge regression solved from one SVD per fold, with the penalty chosen per
target by k-fold, grouped (e.g. leave-one-run-out) or leave-one-out cross-validation; it runs on the
GPU when there is one. :class:`TorchRidgeClassifierCV` is the same model as a classifier
(one-vs-all targets in {-1, 1}, as :class:`sklearn.linear_model.RidgeClassifierCV`), and
:class:`BraInCoRLRidgeCV` is the ridge baseline exactly as BraInCoRL's official code runs it.
:class:`CorrelationClassifier` is Haxby et al.'s (2001) nearest-class-mean classifier by
correlation.
:class:`LinearClassifier` is a standardised logistic regression (scikit-learn), and
:func:`band_power_features` turns EEG epochs into the log band powers such classifiers use, and
:func:`band_power_scores` fits and scores that baseline (HiSTN's comparison).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["BraInCoRLRidgeCV", "CorrelationClassifier", "LinearClassifier", "TorchRidgeCV",
           "TorchRidgeClassifierCV", "band_power_features", "band_power_scores"]

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))
#: the penalties BraInCoRL's ``test_det.py`` searches
BRAINCORL_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e2, 1e3, 1e4, 1e5)
DEFAULT_BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
                 "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}


def _unwrap(X):
    """torch tensor / xarray.DataArray -> numpy; anything else unchanged (sklearn validates it)."""
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        X = X.detach().cpu()
        return (X.double() if X.is_floating_point() else X).numpy()
    if hasattr(X, "values") and hasattr(X, "dims"):
        return X.values
    return X


def _wrap_like(X, values, name="target"):
    """Return ``values`` as a DataArray with the first dim of ``X`` if ``X`` is a DataArray."""
    if not (hasattr(X, "dims") and hasattr(X, "coords")):
        return values
    import xarray as xr

    dim0 = X.dims[0]
    coords = {k: c for k, c in X.coords.items() if c.dims == (dim0,)}
    dims = (dim0,) if values.ndim == 1 else (dim0, name)
    return xr.DataArray(values, dims=dims, coords=coords)


def _check_numeric_y(estimator, y):
    """``y`` unwrapped; a regressor refuses text targets with a message naming the classifier
    to use instead (scikit-learn converts object arrays to float, numpy strings it passes on)."""
    y = _unwrap(y)
    dtype = getattr(y, "dtype", None)
    if dtype is None:
        dtype = np.asarray(y).dtype
    if getattr(dtype, "kind", "f") in "US":
        raise ValueError(f"{type(estimator).__name__} is a regressor: y must be numeric, got "
                         f"dtype {dtype}; for class labels use TorchRidgeClassifierCV")
    return y


class TorchRidgeCV(RegressorMixin, BaseEstimator):
    r"""Ridge regression with the penalty chosen by cross-validation, closed form, in torch.

    For each training fold the (centred) design matrix is decomposed once,
    :math:`X = U S V^\top`, and the ridge solution for every penalty :math:`\alpha` is

    .. math:: \hat W_\alpha = V \,\mathrm{diag}\!\left(\frac{s_j}{s_j^2+\alpha}\right) U^\top Y,

    so all penalties cost one SVD. The penalty minimising the held-out squared error is chosen per
    target (``alpha_per_target=True``, as in voxelwise encoding models) or jointly, and the model is
    refitted on all samples. With ``cv=None`` the exact leave-one-out error
    :math:`r_i / (1 - h_{ii})` is used instead of folds (as :class:`sklearn.linear_model.RidgeCV`).

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties (positive).
    cv : int | None | cross-validation splitter | iterable
        Number of contiguous folds (as :class:`sklearn.model_selection.KFold`), None for efficient
        leave-one-out, a scikit-learn splitter (e.g.
        :class:`~sklearn.model_selection.LeaveOneGroupOut`, which uses the ``groups`` given to
        :meth:`fit`), or an iterable of ``(train, test)`` index arrays - any ``cv`` that
        :func:`sklearn.model_selection.check_cv` accepts.
    alpha_per_target : bool
        Choose the penalty per target column (True) or one for all.
    fit_intercept : bool
        Fit an unpenalised intercept (centre X and Y).
    device : None | str
        None: CUDA if available, else CPU.
    dtype : None | "float32" | "float64"
        None: float64 on the CPU, float32 on CUDA.

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (n_targets, n_features) or (n_features,)
    intercept_ : numpy.ndarray, shape (n_targets,) or float
    alpha_ : numpy.ndarray, shape (n_targets,) or float
        The chosen penalties.
    cv_mse_ : numpy.ndarray, shape (n_alphas, n_targets)
        Cross-validated mean squared error of every penalty.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import TorchRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> Y = X @ rng.normal(size=(5, 3)) + 0.1 * rng.normal(size=(100, 3))
    >>> ridge = TorchRidgeCV(device="cpu").fit(X, Y)
    >>> ridge.coef_.shape, bool(ridge.score(X, Y) > 0.99)
    ((3, 5), True)
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, alpha_per_target=True, fit_intercept=True,
                 device=None, dtype=None):
        self.alphas = alphas
        self.cv = cv
        self.alpha_per_target = alpha_per_target
        self.fit_intercept = fit_intercept
        self.device = device
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _setup(self):
        import torch

        from neurosim._utils_torch import resolve_device

        device = resolve_device(self.device)
        if self.dtype is None:
            dtype = torch.float64 if device.type == "cpu" else torch.float32
        elif self.dtype in ("float32", "float64"):
            dtype = getattr(torch, self.dtype)
        else:
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=float))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) \
                or np.any(alphas <= 0):
            raise ValueError(f"alphas must be a non-empty 1-D sequence of positive numbers, "
                             f"got {self.alphas!r}")
        return torch, device, dtype, alphas

    def _splits(self, n, X, y, groups):
        cv = self.cv
        if cv is None:
            if groups is not None:
                raise ValueError("groups need a grouped splitter: cv=None is leave-one-sample-out; "
                                 "pass e.g. cv=LeaveOneGroupOut()")
            return None
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            if cv < 2 or cv > n:
                raise ValueError(f"cv must be between 2 and n_samples={n}, got {cv}")
        elif isinstance(cv, (str, bytes, float, bool)):
            raise TypeError(f"cv must be an int, None, a splitter or an iterable of (train, test) "
                            f"index pairs, got {cv!r}")
        from sklearn.model_selection import check_cv

        try:
            splitter = check_cv(cv)
        except ValueError as err:
            raise TypeError(f"cv must be an int, None, a splitter or an iterable of (train, test) "
                            f"index pairs, got {cv!r} ({err})") from None
        splits = []
        for train, test in splitter.split(X, y, groups):
            train, test = np.asarray(train), np.asarray(test)
            if train.dtype == bool:
                train = np.flatnonzero(train)
            if test.dtype == bool:
                test = np.flatnonzero(test)
            if len(train) == 0 or len(test) == 0 or max(train.max(), test.max()) >= n \
                    or min(train.min(), test.min()) < 0:
                raise ValueError(f"a cross-validation split has empty or out-of-range indices "
                                 f"for {n} samples")
            splits.append((train, test))
        if not splits:
            raise ValueError(f"cv={cv!r} gave no split")
        return splits

    def fit(self, X, y, groups=None):
        """Fit the ridge model, choosing the penalty by cross-validation.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Design matrix (numpy, torch or xarray).
        y : array-like, shape (n_samples,) or (n_samples, n_targets)
            Targets.
        groups : array-like, shape (n_samples,) | None
            Group of each sample (e.g. the fMRI run), passed to a grouped splitter ``cv`` such as
            :class:`~sklearn.model_selection.LeaveOneGroupOut`, so that the penalty is chosen on
            held-out runs.

        Returns
        -------
        self : TorchRidgeCV
        """
        from sklearn.utils.validation import validate_data

        torch, device, dtype, alphas = self._setup()
        Xn, Yn = validate_data(self, _unwrap(X), _check_numeric_y(self, y), multi_output=True,
                               y_numeric=True, dtype=np.float64)
        return self._fit_arrays(torch, device, dtype, alphas, Xn, Yn, groups)

    def _fit_arrays(self, torch, device, dtype, alphas, Xn, Yn, groups):
        if groups is not None:
            groups = np.asarray(_unwrap(groups))
            if groups.shape != (Xn.shape[0],):
                raise ValueError(f"groups must have one entry per sample ({Xn.shape[0]}), got "
                                 f"shape {groups.shape}")
        self._y_1d = Yn.ndim == 1
        Yn = Yn[:, None] if self._y_1d else Yn
        n = Xn.shape[0]
        Xt = torch.tensor(Xn, dtype=dtype, device=device)
        Yt = torch.tensor(Yn, dtype=dtype, device=device)
        a = torch.as_tensor(alphas, dtype=dtype, device=device)
        splits = self._splits(n, Xn, Yn, groups)
        if splits is None:
            if n < 2:
                raise ValueError(f"{type(self).__name__} with cv=None (leave-one-out) needs at "
                                 f"least 2 samples, got n_samples={n}")
            err = self._loo_mse(torch, Xt, Yt, a)
        else:
            err = torch.zeros(len(alphas), Yt.shape[1], dtype=dtype, device=device)
            n_tested = 0
            for train, test in splits:
                tr = torch.as_tensor(train, device=device)
                te = torch.as_tensor(test, device=device)
                err += self._fold_sse(torch, Xt[tr], Yt[tr], Xt[te], Yt[te], a)
                n_tested += len(test)
            err /= n_tested
        if self.alpha_per_target:
            best = torch.argmin(err, dim=0)
        else:
            best = torch.full((Yt.shape[1],), int(torch.argmin(err.mean(dim=1))), device=device)
        alpha_t = a[best]
        x_mean, y_mean, U, s, Vt = self._svd(torch, Xt, Yt)
        UtY = U.T @ (Yt - y_mean)
        d = s[:, None] / (s[:, None] ** 2 + alpha_t[None, :])  # (r, t)
        coef = (Vt.T @ (d * UtY)).T  # (t, p)
        intercept = y_mean[0] - coef @ x_mean[0]
        self.cv_mse_ = err.cpu().numpy()
        coef, intercept = coef.cpu().numpy(), intercept.cpu().numpy()
        alpha = alpha_t.cpu().numpy()
        if self._y_1d:
            self.coef_, self.intercept_, self.alpha_ = coef[0], float(intercept[0]), float(alpha[0])
        else:
            self.coef_, self.intercept_, self.alpha_ = coef, intercept, alpha
        return self

    def _svd(self, torch, X, Y):
        if self.fit_intercept:
            x_mean, y_mean = X.mean(dim=0, keepdim=True), Y.mean(dim=0, keepdim=True)
        else:
            x_mean = torch.zeros(1, X.shape[1], dtype=X.dtype, device=X.device)
            y_mean = torch.zeros(1, Y.shape[1], dtype=Y.dtype, device=Y.device)
        U, s, Vt = torch.linalg.svd(X - x_mean, full_matrices=False)
        return x_mean, y_mean, U, s, Vt

    def _fold_sse(self, torch, Xtr, Ytr, Xte, Yte, alphas):
        x_mean, y_mean, U, s, Vt = self._svd(torch, Xtr, Ytr)
        UtY = U.T @ (Ytr - y_mean)  # (r, t)
        A = (Xte - x_mean) @ Vt.T  # (n_te, r)
        R = Yte - y_mean
        out = []
        for alpha in alphas:
            pred = A @ ((s / (s**2 + alpha))[:, None] * UtY)
            out.append(((R - pred) ** 2).sum(dim=0))
        return torch.stack(out)

    def _loo_mse(self, torch, X, Y, alphas):
        n = X.shape[0]
        x_mean, y_mean, U, s, Vt = self._svd(torch, X, Y)
        Yc = Y - y_mean
        UtY = U.T @ Yc
        U2 = U**2
        out = []
        for alpha in alphas:
            shrink = s**2 / (s**2 + alpha)  # (r,)
            h = U2 @ shrink + (1.0 / n if self.fit_intercept else 0.0)  # leverage, (n,)
            resid = Yc - U @ (shrink[:, None] * UtY)
            out.append(((resid / (1.0 - h)[:, None]) ** 2).mean(dim=0))
        return torch.stack(out)

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Samples (numpy, torch or xarray; a DataArray gives a DataArray with its first dim).

        Returns
        -------
        y : numpy.ndarray | xarray.DataArray, shape (n_samples,) or (n_samples, n_targets)
        """
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "coef_")
        Xn = validate_data(self, _unwrap(X), reset=False, dtype=np.float64)
        return _wrap_like(X, Xn @ np.asarray(self.coef_).T + self.intercept_)

    def score(self, X, y):
        """Coefficient of determination R^2 of the predictions, averaged over targets.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Samples.
        y : array-like, shape (n_samples,) or (n_samples, n_targets)
            True targets.

        Returns
        -------
        r2 : float
        """
        from sklearn.metrics import r2_score

        return float(r2_score(_unwrap(y), np.asarray(self.predict(_unwrap(X)))))


class TorchRidgeClassifierCV(ClassifierMixin, TorchRidgeCV):
    """Ridge regression as a classifier, the penalty chosen by (grouped) cross-validation, in torch.

    As :class:`sklearn.linear_model.RidgeClassifierCV`: the labels are encoded one-vs-all as
    targets in {-1, 1} (one column per class; a single column for two classes), one ridge model
    is fitted to all columns with a penalty shared by the classes (chosen by the mean
    cross-validated squared error over them, ``alpha_per_target=False``), and the predicted
    class is the column with the largest score. The fitting is :class:`TorchRidgeCV`'s (one SVD
    per fold, GPU when available), so the penalty can be chosen on held-out runs:
    ``TorchRidgeClassifierCV(cv=LeaveOneGroupOut()).fit(X, y, groups=runs)``.

    Parameters
    ----------
    alphas, cv, fit_intercept, device, dtype
        As in :class:`TorchRidgeCV`.

    Attributes
    ----------
    classes_ : numpy.ndarray
    coef_ : numpy.ndarray, shape (n_classes, n_features) ((1, n_features) for two classes)
    intercept_ : numpy.ndarray
    alpha_ : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import LeaveOneGroupOut
    >>> from neurosim.decoding import TorchRidgeClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1, 2], 20)
    >>> X = np.eye(3)[y] + 0.5 * rng.normal(size=(60, 3))
    >>> runs = np.repeat(np.arange(4), 15)
    >>> clf = TorchRidgeClassifierCV(cv=LeaveOneGroupOut(), device="cpu").fit(X, y, groups=runs)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, fit_intercept=True, device=None, dtype=None):
        super().__init__(alphas=alphas, cv=cv, alpha_per_target=False,
                         fit_intercept=fit_intercept, device=device, dtype=dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags

    def fit(self, X, y, groups=None):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
            Class labels (any type).
        groups : array-like, shape (n_samples,) | None
            Group of each sample for a grouped ``cv`` (e.g. runs).

        Returns
        -------
        self : TorchRidgeClassifierCV
        """
        from sklearn.preprocessing import LabelBinarizer
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        torch, device, dtype, alphas = self._setup()
        Xn, yn = validate_data(self, _unwrap(X), _unwrap(y), dtype=np.float64)
        check_classification_targets(yn)
        binarizer = LabelBinarizer(neg_label=-1, pos_label=1)
        Yn = binarizer.fit_transform(yn).astype(np.float64)
        self.classes_ = binarizer.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"y has {len(self.classes_)} class; a classifier needs at least 2")
        self._fit_arrays(torch, device, dtype, alphas, Xn, Yn, groups)
        self.alpha_ = float(np.atleast_1d(self.alpha_)[0])  # one penalty for all classes
        return self

    def decision_function(self, X):
        """Class scores, shape (n_samples, n_classes) or (n_samples,) for two classes.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        out : numpy.ndarray
        """
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "coef_")
        Xn = validate_data(self, _unwrap(X), reset=False, dtype=np.float64)
        scores = Xn @ np.atleast_2d(self.coef_).T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predicted classes, shape (n_samples,) (a DataArray for DataArray input).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        out : numpy.ndarray
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return _wrap_like(X, self.classes_[idx])

    def score(self, X, y):
        """Accuracy of the predictions.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)

        Returns
        -------
        accuracy : float
        """
        return float(np.mean(np.asarray(self.predict(_unwrap(X))) == np.asarray(_unwrap(y))))


class BraInCoRLRidgeCV(RegressorMixin, BaseEstimator):
    r"""Voxelwise ridge regression as BraInCoRL's official baseline runs it (``ridge_fast_brainwise``).

    It differs from :class:`TorchRidgeCV` in four ways, all taken from the official code
    (``scripts/utils.py`` and ``scripts/test_det.py`` of ``leomqyu/BraInCoRL``):

    - the bias is a column of ones appended to the embeddings and **penalised** like the weights
      (no centring): :math:`\hat w_\lambda = (\tilde X^\top \tilde X + \lambda I)^{-1}
      \tilde X^\top y` with :math:`\tilde X = [X, 1]`;
    - the penalty grid is ``(1e-3, 1e-2, ..., 1e5)`` (9 values);
    - the penalty is chosen per target by the mean **explained variance** over ``n_folds``
      sequential folds (fold ``f`` tests rows ``f m .. (f + 1) m - 1`` with ``m = n // n_folds``;
      the last ``n % n_folds`` rows are never tested);
    - the final weights are the **average of the folds' solutions** at the chosen penalty (no
      refit on all rows).

    A fold whose test responses are constant has an undefined explained variance; it is left out
    of the mean (the official code then picks whatever ``argmax`` returns for NaN); a target with
    no defined fold gets the first penalty.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties (positive).
    n_folds : int
        Number of sequential folds (5).
    device : None | str
        None: CUDA if available, else CPU.
    dtype : None | "float32" | "float64"
        None: float64 on the CPU, float32 on CUDA.

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (n_targets, n_features) or (n_features,)
    intercept_ : numpy.ndarray, shape (n_targets,) or float
    alpha_ : numpy.ndarray, shape (n_targets,) or float
    cv_explained_variance_ : numpy.ndarray, shape (n_alphas, n_targets)
        Mean explained variance over the folds of every penalty.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import BraInCoRLRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> Y = X @ rng.normal(size=(5, 3)) + 1.0 + 0.1 * rng.normal(size=(100, 3))
    >>> ridge = BraInCoRLRidgeCV(device="cpu").fit(X, Y)
    >>> ridge.coef_.shape, bool(ridge.score(X, Y) > 0.99)
    ((3, 5), True)
    """

    def __init__(self, alphas=BRAINCORL_ALPHAS, n_folds=5, device=None, dtype=None):
        self.alphas = alphas
        self.n_folds = n_folds
        self.device = device
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Fit the ridge model as the official baseline does.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Embeddings (numpy, torch or xarray).
        y : array-like, shape (n_samples,) or (n_samples, n_targets)
            Responses.

        Returns
        -------
        self : BraInCoRLRidgeCV
        """
        from sklearn.utils.validation import validate_data

        from neurosim._utils import check_size

        torch, device, dtype, alphas = TorchRidgeCV._setup(self)
        n_folds = check_size("n_folds", self.n_folds, minimum=2)
        Xn, Yn = validate_data(self, _unwrap(X), _check_numeric_y(self, y), multi_output=True,
                               y_numeric=True, dtype=np.float64)
        y_1d = Yn.ndim == 1
        Yn = Yn[:, None] if y_1d else Yn
        n = Xn.shape[0]
        if n < n_folds:
            raise ValueError(f"BraInCoRLRidgeCV needs at least n_folds={n_folds} samples, got "
                             f"n_samples={n}")
        X1 = torch.tensor(np.column_stack([Xn, np.ones(n)]), dtype=dtype, device=device)
        Yt = torch.tensor(Yn, dtype=dtype, device=device)
        a = torch.as_tensor(alphas, dtype=dtype, device=device)
        size = n // n_folds
        ev = torch.empty(n_folds, len(alphas), Yt.shape[1], dtype=dtype, device=device)
        sol = torch.empty(n_folds, len(alphas), X1.shape[1], Yt.shape[1], dtype=dtype,
                          device=device)
        rows = torch.arange(n, device=device)
        for f in range(n_folds):
            test = (rows >= f * size) & (rows < (f + 1) * size)
            U, s, Vt = torch.linalg.svd(X1[~test], full_matrices=False)
            UtY = U.T @ Yt[~test]
            Xte, Yte = X1[test], Yt[test]
            var_y = Yte.var(dim=0, unbiased=False)  # the ratio is that of unbiased variances
            for i, alpha in enumerate(a):
                w = Vt.T @ ((s / (s**2 + alpha))[:, None] * UtY)  # (p + 1, t)
                sol[f, i] = w
                ev[f, i] = 1.0 - (Yte - Xte @ w).var(dim=0, unbiased=False) / var_y
        mean_ev = torch.nanmean(ev, dim=0)  # (alphas, targets)
        best = torch.argmax(torch.nan_to_num(mean_ev, nan=-torch.inf), dim=0)
        targets = torch.arange(Yt.shape[1], device=device)
        # (folds, alphas, t, p + 1) -> each target's solutions at its penalty, fold-averaged
        w = sol.permute(0, 1, 3, 2)[:, best, targets].mean(dim=0)  # (t, p + 1)
        w = w.cpu().numpy()
        self.cv_explained_variance_ = mean_ev.cpu().numpy()
        alpha = a[best].cpu().numpy()
        coef, intercept = w[:, :-1], w[:, -1]
        if y_1d:
            self.coef_, self.intercept_, self.alpha_ = coef[0], float(intercept[0]), float(alpha[0])
        else:
            self.coef_, self.intercept_, self.alpha_ = coef, intercept, alpha
        return self

    def predict(self, X):
        """Predict the responses.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        y : numpy.ndarray | xarray.DataArray, shape (n_samples,) or (n_samples, n_targets)
        """
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "coef_")
        Xn = validate_data(self, _unwrap(X), reset=False, dtype=np.float64)
        return _wrap_like(X, Xn @ np.asarray(self.coef_).T + self.intercept_)

    def score(self, X, y):
        """Coefficient of determination R^2, averaged over targets.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        r2 : float
        """
        from sklearn.metrics import r2_score

        return float(r2_score(_unwrap(y), np.asarray(self.predict(_unwrap(X)))))


class CorrelationClassifier(ClassifierMixin, BaseEstimator):
    """Nearest class mean by Pearson correlation (Haxby et al. 2001), the classic fMRI decoder.

    ``fit`` stores the mean training pattern of each class; a test pattern is assigned the class
    whose mean pattern it correlates with most (correlation across features, i.e. voxels).

    Attributes
    ----------
    classes_ : numpy.ndarray
    means_ : numpy.ndarray, shape (n_classes, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import CorrelationClassifier
    >>> X = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1.0], [0, 0.2, 0.8]])
    >>> CorrelationClassifier().fit(X, ["a", "a", "b", "b"]).predict([[0.8, 0.1, 0.1]])
    array(['a'], dtype='<U1')
    """

    def fit(self, X, y):
        """Store the mean pattern of each class.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)

        Returns
        -------
        self : CorrelationClassifier
        """
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        Xn, yn = validate_data(self, _unwrap(X), _unwrap(y), dtype=np.float64)
        check_classification_targets(yn)
        self.classes_, inverse = np.unique(yn, return_inverse=True)
        onehot = np.zeros((len(self.classes_), len(Xn)))
        onehot[inverse, np.arange(len(Xn))] = 1.0
        self.means_ = (onehot @ Xn) / onehot.sum(axis=1, keepdims=True)
        return self

    def decision_function(self, X):
        """Correlation of each sample with each class mean, shape (n_samples, n_classes).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        out : numpy.ndarray
        """
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "means_")
        Xn = validate_data(self, _unwrap(X), reset=False, dtype=np.float64)

        def unit(a):
            a = a - a.mean(axis=1, keepdims=True)
            norm = np.linalg.norm(a, axis=1, keepdims=True)
            return a / np.where(norm > 0, norm, 1.0)

        return unit(Xn) @ unit(self.means_).T

    def predict(self, X):
        """Predicted classes, shape (n_samples,) (a DataArray for DataArray input).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        out : numpy.ndarray
        """
        return _wrap_like(X, self.classes_[np.argmax(self.decision_function(X), axis=1)])


class LinearClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression on standardised features: the linear baseline for classification.

    A :class:`sklearn.pipeline.Pipeline` of :class:`~sklearn.preprocessing.StandardScaler` (when
    ``standardize``) and :class:`~sklearn.linear_model.LogisticRegression` (multinomial, L2).

    Parameters
    ----------
    C : float
        Inverse L2 penalty strength.
    standardize : bool
        Z-score each feature with the training mean and standard deviation first.
    class_weight : None | "balanced" | dict
        As in :class:`~sklearn.linear_model.LogisticRegression`.
    max_iter : int
        Maximum solver iterations.

    Attributes
    ----------
    classes_ : numpy.ndarray
    coef_ : numpy.ndarray, shape (n_classes, n_features) (1 row for 2 classes)
    intercept_ : numpy.ndarray
    pipeline_ : sklearn.pipeline.Pipeline

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import LinearClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X[:, 0] + 0.1 * rng.normal(size=200) > 0).astype(int)
    >>> bool(LinearClassifier().fit(X, y).score(X, y) > 0.9)
    True
    """

    def __init__(self, C=1.0, standardize=True, class_weight=None, max_iter=1000):
        self.C = C
        self.standardize = standardize
        self.class_weight = class_weight
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Features.
        y : array-like, shape (n_samples,)
            Class labels.

        Returns
        -------
        self : LinearClassifier
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        Xn, y = validate_data(self, _unwrap(X), _unwrap(y), dtype=np.float64)
        check_classification_targets(y)
        steps = [StandardScaler()] if self.standardize else []
        steps.append(LogisticRegression(C=self.C, class_weight=self.class_weight,
                                        max_iter=self.max_iter))
        self.pipeline_ = make_pipeline(*steps).fit(Xn, y)
        clf = self.pipeline_[-1]
        self.classes_, self.coef_, self.intercept_ = clf.classes_, clf.coef_, clf.intercept_
        self.n_iter_ = clf.n_iter_
        return self

    def _check_X(self, X):
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "pipeline_")
        return validate_data(self, _unwrap(X), reset=False, dtype=np.float64)

    def decision_function(self, X):
        """Class scores (logits).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : numpy.ndarray, shape (n_samples, n_classes) or (n_samples,) for 2 classes
        """
        Xn = self._check_X(X)
        return self.pipeline_.decision_function(Xn)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : numpy.ndarray | xarray.DataArray, shape (n_samples, n_classes)
        """
        Xn = self._check_X(X)
        return _wrap_like(X, self.pipeline_.predict_proba(Xn), name="class")

    def predict(self, X):
        """Predicted classes.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : numpy.ndarray | xarray.DataArray, shape (n_samples,)
            A DataArray for DataArray input.
        """
        Xn = self._check_X(X)
        return _wrap_like(X, self.pipeline_.predict(Xn))

    def score(self, X, y):
        """Accuracy of the predictions.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Samples.
        y : array-like, shape (n_samples,)
            True labels.

        Returns
        -------
        accuracy : float
        """
        return float(np.mean(np.asarray(self.predict(_unwrap(X))) == np.asarray(_unwrap(y))))


def band_power_features(X, sfreq, bands=None, *, log=True):
    """Log band power per channel and band (Welch), the classic EEG-emotion feature set.

    Parameters
    ----------
    X : array-like, shape (..., n_channels, n_times)
        Epochs (numpy, torch, xarray or :class:`mne.Epochs`).
    sfreq : float
        Sampling frequency in Hz.
    bands : dict of str to (float, float) | None
        Frequency bands in Hz, default delta 1-4, theta 4-8, alpha 8-13, beta 13-30, gamma 30-45
        (bands above the Nyquist frequency are an error).
    log : bool
        Return ``log10`` of the power.

    Returns
    -------
    features : numpy.ndarray, shape (..., n_channels * n_bands)
        Channel-major: the bands of channel 0, then of channel 1, ...

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.baselines import band_power_features
    >>> t = np.arange(256) / 128.0
    >>> x = np.sin(2 * np.pi * 10 * t)[None, None]  # a 10 Hz sine: alpha band
    >>> int(np.argmax(band_power_features(x, 128.0)[0]))
    2
    """
    from scipy.signal import welch

    if hasattr(X, "get_data") and hasattr(X, "info"):  # mne.Epochs
        sfreq = X.info["sfreq"] if sfreq is None else sfreq
        X = X.get_data()
    if hasattr(X, "detach"):
        X = X.detach().cpu().double().numpy()
    elif hasattr(X, "values") and hasattr(X, "dims"):
        X = X.values
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2:
        raise ValueError(f"X must be (..., n_channels, n_times), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf values")
    if not isinstance(sfreq, numbers.Real) or not sfreq > 0:
        raise ValueError(f"sfreq must be a positive number, got {sfreq!r}")
    bands = DEFAULT_BANDS if bands is None else dict(bands)
    nyq = sfreq / 2
    for name, (lo, hi) in bands.items():
        if not 0 <= lo < hi <= nyq:
            raise ValueError(f"band {name!r} = ({lo}, {hi}) Hz must satisfy 0 <= low < high <= "
                             f"Nyquist ({nyq} Hz)")
    n_times = X.shape[-1]
    freqs, psd = welch(X, fs=sfreq, nperseg=min(n_times, int(round(sfreq))), axis=-1)
    df = freqs[1] - freqs[0]
    out = []
    for lo, hi in bands.values():
        sel = (freqs >= lo) & (freqs < hi)
        if not sel.any():
            raise ValueError(f"no frequency bin in band ({lo}, {hi}) Hz at resolution {df:g} Hz")
        out.append(psd[..., sel].sum(axis=-1) * df)
    power = np.stack(out, axis=-1)  # (..., ch, band)
    if log:
        power = np.log10(np.maximum(power, np.finfo(float).tiny))
    return power.reshape(*power.shape[:-2], -1)


def band_power_scores(X_train, y_train, X_test, y_test, sfreq, *, n_classes=5, C=1.0):
    """Fit :class:`LinearClassifier` on log band power and score it on the test windows.

    Parameters
    ----------
    X_train, X_test : array-like, shape (n, n_channels, n_times)
        Training and test windows.
    y_train, y_test : array-like of int
        Their classes, in ``[0, n_classes)``.
    sfreq : float
        Sampling frequency in Hz.
    n_classes : int
        Number of classes (columns of the probabilities; classes absent from training get 0).
    C : float
        Inverse regularisation strength of the logistic regression.

    Returns
    -------
    scores : dict of str to float
        :func:`~neurosim.decoding.metrics.classification_scores`: ``weighted_f1``, ``seq2hr``,
        ``top1``, ``top2``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding.baselines import band_power_scores
    >>> t = np.arange(128) / 128.0
    >>> X = np.stack([np.sin(2 * np.pi * f * t)[None] for f in [6, 20] * 10])
    >>> y = np.array([0, 1] * 10)
    >>> band_power_scores(X, y, X, y, 128.0, n_classes=2)["top1"]
    1.0
    """
    from .metrics import classification_scores

    clf = LinearClassifier(C=C).fit(band_power_features(X_train, sfreq), y_train)
    proba = np.zeros((len(X_test), n_classes))
    proba[:, clf.classes_] = clf.predict_proba(band_power_features(X_test, sfreq))
    return classification_scores(proba, y_test)
