"""The package's fMRI encoders as scikit-learn classifiers, trained through the Trainer.

:class:`FMRIClassifier` puts a linear head on one of the fMRI encoders of the package - a MindBridge
subject embedder (adaptive max pooling, low-rank adapter, linear layer, LayerNorm, GELU, dropout) or
the BrainFLORA fMRI tower - and trains both with cross-entropy through
:class:`~neurosim.decoding.Trainer`. It has scikit-learn's classifier API, so that
:func:`sklearn.model_selection.cross_val_score`, :class:`~sklearn.model_selection.LeaveOneGroupOut`
and :func:`neurosim.decoding.metrics.permutation_test` use it like any other classifier (e.g. on
Haxby et al. 2001: :func:`neurosim.datasets.load_haxby`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = ["FMRIClassifier"]

_ENCODERS = ("mindbridge", "brainflora")


class FMRIClassifier(ClassifierMixin, BaseEstimator):
    """A MindBridge embedder or BrainFLORA fMRI tower with a linear head, as a classifier.

    Parameters
    ----------
    encoder : {"mindbridge", "brainflora"}
        ``"mindbridge"``: one subject's :class:`~neurosim.decoding.MindBridge` embedder (the
        voxels pooled to ``pool_size`` by adaptive max pooling, a residual low-rank adapter, a
        linear layer to ``hidden_dim``, LayerNorm, GELU, dropout 0.5). ``"brainflora"``: the fMRI
        tower of :meth:`BrainFLORA.small <neurosim.decoding.BrainFLORA.small>` (linear map to
        tokens, multi-granularity transformer encoder, convolutional patch embedding, projection
        head) embedding into ``hidden_dim`` dimensions.
    hidden_dim : int
        Width of the embedding the linear head reads.
    pool_size : int
        MindBridge: pooled length (at most the number of voxels).
    adapter_rank : int
        MindBridge: rank of the adapter.
    tower : {"small", "tiny"}
        BrainFLORA: :meth:`BrainFLORA.small <neurosim.decoding.BrainFLORA.small>` as it is, or
        a tinier tower (4 x 32 fMRI tokens, width 16) for a few hundred training samples.
    epochs : int
        Training epochs.
    batch_size : int | None
        Samples per step (None: the whole training set, one step per epoch).
    lr : float
        Peak learning rate (one-cycle schedule, AdamW).
    weight_decay : float
        AdamW weight decay (off biases and norms for the MindBridge embedder).
    device : None | str
        Trainer device (None: CUDA when available).
    random_state : int
        Seeds the weights and the training.

    Attributes
    ----------
    classes_ : numpy.ndarray
    model_ : torch.nn.Module
        The encoder and head.
    history_ : xarray.Dataset
        The Trainer's history.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.decoding import FMRIClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 40)
    >>> X = rng.normal(size=(80, 50)) + 1.5 * y[:, None] * (np.arange(50) < 10)
    >>> clf = FMRIClassifier(pool_size=32, hidden_dim=16, epochs=30, device="cpu").fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(self, encoder="mindbridge", *, hidden_dim=64, pool_size=256, adapter_rank=8,
                 tower="small", epochs=40, batch_size=None, lr=1e-2, weight_decay=1e-2,
                 device=None, random_state=0):
        self.encoder = encoder
        self.tower = tower
        self.hidden_dim = hidden_dim
        self.pool_size = pool_size
        self.adapter_rank = adapter_rank
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state

    def _build(self, n_voxels, n_classes):
        seed = int(self.random_state)
        if self.encoder == "mindbridge":
            from ._mindbridge import MindBridge

            bridge = MindBridge(["s"], n_voxels, pool_size=min(self.pool_size, n_voxels),
                                hidden_dim=self.hidden_dim, adapter_rank=self.adapter_rank,
                                n_blocks=0, heads={"label": (n_classes,)}, rec_mult=0.0,
                                cyc_mult=0.0, random_state=seed)
            return _MindBridgeClassifier(bridge)
        if self.encoder == "brainflora":
            from ._brainflora import BrainFLORA

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                flora = BrainFLORA.small({"fmri": (n_voxels,)}, embed_dim=self.hidden_dim,
                                         **self._tower_kwargs())
                head = nn.Linear(self.hidden_dim, n_classes)
            return _TowerClassifier(flora.towers["fmri"], head)
        raise ValueError(f"encoder must be one of {_ENCODERS}, got {self.encoder!r}")

    def _tower_kwargs(self):
        # a tower sized for a few hundred training volumes: 4 x 32 fMRI tokens, width 16
        return {"fmri_tokens": (4, 32), "d_model": 16, "d_ff": 32, "n_heads": 2,
                "conv_filters": 4} if self.tower == "tiny" else {}

    def fit(self, X, y):
        """Train the encoder and head with cross-entropy.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)
        y : array-like, shape (n_samples,)

        Returns
        -------
        self : FMRIClassifier
        """
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        from neurosim._utils import check_size

        from ._trainer import Trainer

        Xn, yn = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(yn)
        self.classes_, codes = np.unique(yn, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has {len(self.classes_)} class; a classifier needs at least 2")
        epochs = check_size("epochs", self.epochs)
        batch = len(Xn) if self.batch_size is None else check_size("batch_size", self.batch_size)
        self.model_ = self._build(Xn.shape[1], len(self.classes_))
        inputs = Xn
        if isinstance(self.model_, _MindBridgeClassifier):  # pool once, on the data side
            bridge = self.model_.bridge
            inputs = bridge.pool(torch.from_numpy(Xn), bridge.subjects[0]).numpy()
            self.model_.pooled_input = True
        trainer = Trainer(max_epochs=epochs, batch_size=min(batch, len(Xn)), lr=self.lr,
                          weight_decay=self.weight_decay, scheduler="onecycle",
                          device=self.device, random_state=int(self.random_state),
                          precision="32")
        trainer.fit(self.model_, (inputs, codes.astype(np.int64)))
        self.history_ = trainer.history_
        self.model_.cpu().eval()
        if isinstance(self.model_, _MindBridgeClassifier):
            self.model_.pooled_input = False
        return self

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        out : numpy.ndarray
        """
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "model_")
        Xn = validate_data(self, X, reset=False, dtype=np.float32)
        with torch.no_grad():
            logits = self.model_(torch.from_numpy(Xn))
        return torch.softmax(logits.float(), dim=1).numpy()

    def decision_function(self, X):
        """Class scores (log-probabilities), shape (n_samples, n_classes).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        out : numpy.ndarray
        """
        return np.log(np.clip(self.predict_proba(X), 1e-30, None))

    def predict(self, X):
        """Predicted classes, shape (n_samples,).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        out : numpy.ndarray
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _MindBridgeClassifier(nn.Module):
    """Pooling, the subject embedder and a linear head (a MindBridge ``head`` of one vector)."""

    def __init__(self, bridge):
        super().__init__()
        self.bridge = bridge
        self.pooled_input = False  # True while training on data pooled once

    def no_weight_decay(self):
        return {f"bridge.{n}" for n in self.bridge.no_weight_decay()}

    def forward(self, x):
        b = self.bridge
        s = b.subjects[0]
        pooled = x if self.pooled_input else b.pool(x, s)
        return b._heads(b.embedder[s](pooled))["label"]


class _TowerClassifier(nn.Module):
    """BrainFLORA's fMRI tower and a linear head."""

    def __init__(self, tower, head):
        super().__init__()
        self.tower, self.head = tower, head

    def forward(self, x):
        return self.head(self.tower(x))
