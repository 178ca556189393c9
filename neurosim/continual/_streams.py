"""Streams of classification tasks: split and permuted digits (and MNIST when present)."""

from __future__ import annotations

import numbers

import numpy as np

from neurosim._docs import fill_doc

from .._utils import check_random_state, check_size

__all__ = [
    "Task", "TaskStream", "permuted_digits", "permuted_mnist", "permuted_stream", "split_digits",
    "split_mnist", "split_stream",
]


def _as_features(name, X):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf values")
    return X


def _as_labels(name, y, n):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of labels, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but X has {n} samples")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
            raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{name} must hold non-negative class labels, got {int(y.min())}")
    return y


class Task:
    """One classification task of a continual-learning stream.

    Parameters
    ----------
    id : int
        Position of the task in its stream (0, 1, ...).
    name : str
        Human-readable name, e.g. ``"permutation-3"`` or ``"classes-2-3"``.
    X_train, X_test : array-like of shape (n_samples, n_features)
        Inputs, stored as contiguous float32.
    y_train, y_test : array-like of shape (n_samples,)
        Integer class labels (non-negative), stored as int64.
    classes : array-like of int or None
        Labels of this task; None: the sorted labels present in ``y_train`` and ``y_test``.

    Raises
    ------
    ValueError
        For empty training or test sets, inputs of mismatched shapes, NaN/inf inputs, negative
        labels, or labels outside ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import Task
    >>> task = Task(0, "toy", np.eye(4), [0, 1, 0, 1], np.eye(4)[:2], [0, 1])
    >>> task.n_features, task.classes.tolist(), task.X_train.dtype
    (4, [0, 1], dtype('float32'))
    """

    def __init__(self, id, name, X_train, y_train, X_test, y_test, classes=None):
        self.id = check_size("id", id, minimum=0)
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        self.name = name
        self.X_train = _as_features("X_train", X_train)
        self.y_train = _as_labels("y_train", y_train, self.X_train.shape[0])
        self.X_test = _as_features("X_test", X_test)
        self.y_test = _as_labels("y_test", y_test, self.X_test.shape[0])
        if self.X_train.shape[0] == 0:
            raise ValueError(f"task {name!r} is empty: X_train has no samples")
        if self.X_test.shape[0] == 0:
            raise ValueError(f"task {name!r} is empty: X_test has no samples")
        if self.X_train.shape[1] != self.X_test.shape[1]:
            raise ValueError(
                f"task {name!r}: X_train has {self.X_train.shape[1]} features but X_test has "
                f"{self.X_test.shape[1]}")
        present = np.union1d(self.y_train, self.y_test)
        if classes is None:
            classes = present
        classes = np.unique(np.asarray(classes, dtype=np.int64))
        outside = np.setdiff1d(present, classes)
        if outside.size:
            raise ValueError(f"task {name!r}: labels {outside.tolist()} are not in classes "
                             f"{classes.tolist()}")
        self.classes = classes

    @property
    def n_features(self):
        """Number of input features."""
        return self.X_train.shape[1]

    def __repr__(self):
        return (f"Task(id={self.id}, name={self.name!r}, n_train={self.X_train.shape[0]}, "
                f"n_test={self.X_test.shape[0]}, classes={self.classes.tolist()})")


class TaskStream:
    """An ordered sequence of :class:`Task` objects sharing one input space and label space.

    Parameters
    ----------
    tasks : sequence of Task
        The tasks, in training order. Their ``id`` must be 0, 1, ... in this order.
    name : str
        Name of the stream (e.g. ``"permuted-digits"``).
    scenario : {"domain", "class", "task"}
        Continual-learning scenario (van de Ven & Tolias 2019): ``"domain"`` incremental (same
        labels, new input distribution: permuted streams), ``"class"`` incremental (new labels,
        one shared output head: split streams), or ``"task"`` incremental (new labels, the
        learner is told the task and predicts among its classes only).
    n_classes : int or None
        Size of the label space; None: one more than the largest label of any task.
    metadata : dict or None
        Extra facts about the stream (seed, permutations, ...), kept in :attr:`metadata`.

    Attributes
    ----------
    n_features : int
        Number of input features of every task.
    n_classes : int
        Size of the shared label space (the output layer of a learner).

    Raises
    ------
    ValueError
        For no tasks, tasks with mismatched numbers of features, ids out of order, an unknown
        scenario or labels >= ``n_classes``.

    Examples
    --------
    >>> from neurosim.continual import split_digits
    >>> stream = split_digits(n_tasks=5, random_state=0)
    >>> len(stream), stream.n_features, stream.n_classes, stream.scenario
    (5, 64, 10, 'class')
    >>> [task.classes.tolist() for task in stream][:2]
    [[0, 1], [2, 3]]
    """

    _SCENARIOS = ("domain", "class", "task")

    def __init__(self, tasks, *, name="stream", scenario="domain", n_classes=None, metadata=None):
        tasks = list(tasks)
        if not tasks:
            raise ValueError("a TaskStream needs at least one task, got none")
        for i, task in enumerate(tasks):
            if not isinstance(task, Task):
                raise TypeError(f"tasks[{i}] must be a Task, got {type(task).__name__}")
            if task.id != i:
                raise ValueError(f"tasks[{i}] has id {task.id}; ids must be 0, 1, ... in order")
        n_features = tasks[0].n_features
        for task in tasks[1:]:
            if task.n_features != n_features:
                raise ValueError(
                    f"task {task.id} ({task.name!r}) has {task.n_features} features but task 0 "
                    f"has {n_features}: all tasks of a stream must have the same input shape")
        if scenario not in self._SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; expected one of {self._SCENARIOS}")
        top = max(int(task.classes.max()) for task in tasks) + 1
        if n_classes is None:
            n_classes = top
        n_classes = check_size("n_classes", n_classes, minimum=1)
        if n_classes < top:
            raise ValueError(f"n_classes={n_classes} but the tasks hold label {top - 1}")
        self.tasks = tuple(tasks)
        self.name = str(name)
        self.scenario = scenario
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.metadata = dict(metadata or {})

    def __len__(self):
        return len(self.tasks)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return TaskStream(
                [Task(i, t.name, t.X_train, t.y_train, t.X_test, t.y_test, t.classes)
                 for i, t in enumerate(self.tasks[index])],
                name=self.name, scenario=self.scenario, n_classes=self.n_classes,
                metadata=self.metadata)
        return self.tasks[index]

    def __iter__(self):
        return iter(self.tasks)

    @property
    def names(self):
        """Names of the tasks, in order."""
        return [task.name for task in self.tasks]

    def __repr__(self):
        return (f"TaskStream(name={self.name!r}, n_tasks={len(self)}, scenario={self.scenario!r}, "
                f"n_features={self.n_features}, n_classes={self.n_classes})")


# --------------------------------------------------------------------------------------------
# generic builders
# --------------------------------------------------------------------------------------------
def _check_k_shot(k_shot):
    if k_shot is None:
        return None
    return check_size("k_shot", k_shot, minimum=1)


def _few_shot(y, classes, k_shot, rng):
    """Indices of ``k_shot`` random examples of each class in ``classes`` (sorted)."""
    chosen = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if idx.size < k_shot:
            raise ValueError(f"k_shot={k_shot} but class {int(c)} has only {idx.size} "
                             "training examples")
        chosen.append(rng.choice(idx, size=k_shot, replace=False))
    return np.sort(np.concatenate(chosen))


@fill_doc
def permuted_stream(X_train, y_train, X_test, y_test, *, n_tasks=10, k_shot=None,
                    identity_first=True, name="permuted", random_state=None):
    """Domain-incremental stream: every task is the same data with its features permuted.

    Task ``t`` applies one fixed random permutation :math:`\\pi_t` of the features to every
    input, :math:`x \\mapsto x_{\\pi_t}`; labels are unchanged (Goodfellow et al. 2013).

    Parameters
    ----------
    X_train, X_test : array-like of shape (n_samples, n_features)
        Inputs shared by all tasks.
    y_train, y_test : array-like of shape (n_samples,)
        Integer labels.
    n_tasks : int
        Number of tasks (permutations).
    k_shot : int or None
        Few-shot variant: keep only ``k_shot`` training examples per class in each task (drawn
        independently per task); the test sets are complete. None: all training examples.
    identity_first : bool
        Task 0 uses the identity permutation (the original images).
    name : str
        Name of the stream; tasks are named ``"permutation-<t>"``.
    %(random_state)s
        Seed of the permutations and of the few-shot subsets.

    Returns
    -------
    stream : TaskStream
        ``scenario="domain"``; ``metadata["permutations"]`` holds the permutations,
        shape (n_tasks, n_features).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import permuted_stream
    >>> X, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])
    >>> stream = permuted_stream(X, y, X, y, n_tasks=2, random_state=0)
    >>> stream[0].X_train[0].tolist(), sorted(stream[1].X_train[0].tolist())
    ([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    """
    n_tasks = check_size("n_tasks", n_tasks, minimum=1)
    k_shot = _check_k_shot(k_shot)
    rng = check_random_state(random_state)
    X_train = _as_features("X_train", X_train)
    X_test = _as_features("X_test", X_test)
    y_train = _as_labels("y_train", y_train, X_train.shape[0])
    y_test = _as_labels("y_test", y_test, X_test.shape[0])
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_train has {X_train.shape[1]} features but X_test has "
                         f"{X_test.shape[1]}")
    n_features = X_train.shape[1]
    classes = np.union1d(y_train, y_test)
    perms = np.empty((n_tasks, n_features), dtype=np.int64)
    tasks = []
    for t in range(n_tasks):
        perm = np.arange(n_features) if (t == 0 and identity_first) else rng.permutation(n_features)
        perms[t] = perm
        keep = slice(None) if k_shot is None else _few_shot(y_train, classes, k_shot, rng)
        tasks.append(Task(t, f"permutation-{t}", X_train[keep][:, perm], y_train[keep],
                          X_test[:, perm], y_test, classes))
    return TaskStream(tasks, name=name, scenario="domain",
                      metadata={"permutations": perms, "k_shot": k_shot})


@fill_doc
def split_stream(X_train, y_train, X_test, y_test, *, n_tasks=5, classes_per_task=None,
                 k_shot=None, scenario="class", name="split", random_state=None):
    """Class- (or task-) incremental stream: the classes are split into disjoint groups.

    Parameters
    ----------
    X_train, X_test : array-like of shape (n_samples, n_features)
        Inputs.
    y_train, y_test : array-like of shape (n_samples,)
        Integer labels.
    n_tasks : int
        Number of tasks; the sorted classes are cut into ``n_tasks`` consecutive groups of (as
        nearly as possible) equal size, e.g. 10 classes and 5 tasks: (0, 1), (2, 3), ...
    classes_per_task : sequence of sequences of int or None
        Explicit class groups (overrides ``n_tasks``).
    k_shot : int or None
        Few-shot variant: ``k_shot`` training examples per class (test sets complete).
    scenario : {"class", "task"}
        ``"class"``: one head over all classes, the task is not given at test time (the hard
        setting); ``"task"``: learners predict among the current task's classes only.
    name : str
        Name of the stream; tasks are named ``"classes-<a>-<b>"``.
    %(random_state)s
        Seed of the few-shot subsets (the split itself is deterministic).

    Returns
    -------
    stream : TaskStream

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.continual import split_stream
    >>> X, y = np.eye(4), np.array([0, 1, 2, 3])
    >>> [t.name for t in split_stream(X, y, X, y, n_tasks=2)]
    ['classes-0-1', 'classes-2-3']
    """
    k_shot = _check_k_shot(k_shot)
    rng = check_random_state(random_state)
    if scenario not in ("class", "task"):
        raise ValueError(f"scenario must be 'class' or 'task' for a split stream, got {scenario!r}")
    X_train = _as_features("X_train", X_train)
    X_test = _as_features("X_test", X_test)
    y_train = _as_labels("y_train", y_train, X_train.shape[0])
    y_test = _as_labels("y_test", y_test, X_test.shape[0])
    all_classes = np.union1d(y_train, y_test)
    if classes_per_task is None:
        n_tasks = check_size("n_tasks", n_tasks, minimum=1)
        if n_tasks > all_classes.size:
            raise ValueError(f"n_tasks={n_tasks} but the data hold only {all_classes.size} "
                             "classes; expected 1 <= n_tasks <= number of classes")
        groups = np.array_split(all_classes, n_tasks)
    else:
        groups = [np.asarray(g, dtype=np.int64).ravel() for g in classes_per_task]
        flat = np.concatenate(groups) if groups else np.array([], dtype=np.int64)
        if flat.size != np.unique(flat).size:
            raise ValueError(f"classes_per_task must be disjoint, got {classes_per_task!r}")
        missing = np.setdiff1d(flat, all_classes)
        if missing.size:
            raise ValueError(f"classes_per_task names classes {missing.tolist()} absent from the "
                             "data")
        groups = [np.sort(g) for g in groups]
    tasks = []
    for t, group in enumerate(groups):
        if group.size == 0:
            raise ValueError(f"task {t} of classes_per_task has no classes")
        tr = np.flatnonzero(np.isin(y_train, group))
        te = np.flatnonzero(np.isin(y_test, group))
        if k_shot is not None:
            tr = tr[_few_shot(y_train[tr], group, k_shot, rng)]
        tasks.append(Task(t, "classes-" + "-".join(str(int(c)) for c in group), X_train[tr],
                          y_train[tr], X_test[te], y_test[te], group))
    n_classes = int(all_classes.max()) + 1
    return TaskStream(tasks, name=name, scenario=scenario, n_classes=n_classes,
                      metadata={"k_shot": k_shot})


# --------------------------------------------------------------------------------------------
# scikit-learn digits (embedded) and MNIST (through neurosim.datasets)
# --------------------------------------------------------------------------------------------
def _split_indices(y, test_size, rng):
    from sklearn.model_selection import train_test_split

    if not isinstance(test_size, numbers.Real) or isinstance(test_size, bool) \
            or not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    idx = np.arange(y.shape[0])
    seed = int(rng.integers(2**31 - 1))
    return train_test_split(idx, test_size=float(test_size), stratify=y, random_state=seed)


def _digits(test_size, rng):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    tr, te = _split_indices(y, test_size, rng)
    return X[tr], y[tr], X[te], y[te]


@fill_doc
def permuted_digits(n_tasks=10, *, test_size=0.3, k_shot=None, random_state=0):
    """Permuted digits: scikit-learn's 8x8 digits with a fixed pixel permutation per task.

    The 1,797 images of :func:`sklearn.datasets.load_digits` (64 pixels scaled to [0, 1]) are
    split once into training and test sets (stratified, seeded); every task uses the same split,
    task 0 the original pixel order and task ``t > 0`` a random permutation of the pixels.
    Labels 0-9 are the same in every task (domain-incremental).

    Parameters
    ----------
    n_tasks : int
        Number of tasks.
    test_size : float
        Fraction of the images in the test set.
    k_shot : int or None
        Few-shot variant: ``k_shot`` training images per digit in each task.
    %(random_state)s
        Seed of the split, the permutations and the few-shot subsets.

    Returns
    -------
    stream : TaskStream

    Examples
    --------
    >>> from neurosim.continual import permuted_digits
    >>> stream = permuted_digits(n_tasks=3, random_state=0)
    >>> stream
    TaskStream(name='permuted-digits', n_tasks=3, scenario='domain', n_features=64, n_classes=10)
    >>> stream[1].name, stream[1].X_train.shape, stream[1].classes.tolist()
    ('permutation-1', (1257, 64), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    rng = check_random_state(random_state)
    data = _digits(test_size, rng)
    return permuted_stream(*data, n_tasks=n_tasks, k_shot=k_shot, name="permuted-digits",
                           random_state=rng)


@fill_doc
def split_digits(n_tasks=5, *, test_size=0.3, k_shot=None, scenario="class", random_state=0):
    """Split digits: scikit-learn's 8x8 digits cut into tasks of disjoint classes.

    With ``n_tasks=5`` the tasks hold the digit pairs (0, 1), (2, 3), ..., (8, 9).

    Parameters
    ----------
    n_tasks : int
        Number of tasks, 1 to 10.
    test_size : float
        Fraction of the images in the test set (stratified, seeded split).
    k_shot : int or None
        Few-shot variant: ``k_shot`` training images per digit.
    scenario : {"class", "task"}
        Class-incremental (one shared 10-way head) or task-incremental.
    %(random_state)s
        Seed of the split and of the few-shot subsets.

    Returns
    -------
    stream : TaskStream

    Examples
    --------
    >>> from neurosim.continual import split_digits
    >>> stream = split_digits(n_tasks=5, k_shot=5, random_state=0)
    >>> stream[4].name, stream[4].X_train.shape
    ('classes-8-9', (10, 64))
    """
    rng = check_random_state(random_state)
    data = _digits(test_size, rng)
    return split_stream(*data, n_tasks=n_tasks, k_shot=k_shot, scenario=scenario,
                        name="split-digits", random_state=rng)


def _mnist_arrays(variant, data_home):
    """(X_train, y_train, X_test, y_test) of MNIST or Fashion-MNIST, from neurosim.datasets."""
    if variant not in ("mnist", "fashion"):
        raise ValueError(f"unknown variant {variant!r}; expected 'mnist' or 'fashion'")
    from neurosim.datasets import fetch_mnist

    arrays = []
    for split in ("train", "test"):
        ds = fetch_mnist(data_home=data_home, split=split, variant=variant, download=False)
        images = np.asarray(ds["images"].values)
        X = images.reshape(images.shape[0], -1).astype(np.float32) / 255.0
        arrays += [X, np.asarray(ds["labels"].values, dtype=np.int64)]
    return arrays


@fill_doc
def permuted_mnist(n_tasks=10, *, variant="mnist", k_shot=None, data_home=None, random_state=0):
    """Permuted MNIST (or Fashion-MNIST) from the files already on disk.

    The data are read by :func:`neurosim.datasets.fetch_mnist` with ``download=False``: they
    must have been fetched before (its :class:`FileNotFoundError` names the missing files
    otherwise). The 28x28 pixels are flattened to 784 features scaled to [0, 1]; the official
    training/test split is kept.

    Parameters
    ----------
    n_tasks : int
        Number of permutations (task 0 is the identity).
    variant : {"mnist", "fashion"}
        MNIST digits or Fashion-MNIST clothes.
    k_shot : int or None
        Few-shot variant: ``k_shot`` training images per class in each task.
    data_home : str or None
        Data folder (default ``$NEUROSIM_DATA``).
    %(random_state)s
        Seed of the permutations and of the few-shot subsets.

    Returns
    -------
    stream : TaskStream

    Examples
    --------
    >>> from neurosim.continual import permuted_mnist
    >>> stream = permuted_mnist(n_tasks=5, k_shot=20)  # doctest: +SKIP
    """
    data = _mnist_arrays(variant, data_home)
    return permuted_stream(*data, n_tasks=n_tasks, k_shot=k_shot, name=f"permuted-{variant}",
                           random_state=random_state)


@fill_doc
def split_mnist(n_tasks=5, *, variant="mnist", k_shot=None, scenario="class", data_home=None,
                random_state=0):
    """Split MNIST (or Fashion-MNIST) from the files already on disk.

    Parameters
    ----------
    n_tasks : int
        Number of tasks; 5 gives the class pairs (0, 1), ..., (8, 9).
    variant : {"mnist", "fashion"}
        MNIST digits or Fashion-MNIST clothes.
    k_shot : int or None
        Few-shot variant: ``k_shot`` training images per class.
    scenario : {"class", "task"}
        Class- or task-incremental.
    data_home : str or None
        Data folder (default ``$NEUROSIM_DATA``).
    %(random_state)s
        Seed of the few-shot subsets.

    Returns
    -------
    stream : TaskStream

    Examples
    --------
    >>> from neurosim.continual import split_mnist
    >>> stream = split_mnist(variant="fashion")  # doctest: +SKIP
    """
    data = _mnist_arrays(variant, data_home)
    return split_stream(*data, n_tasks=n_tasks, k_shot=k_shot, scenario=scenario,
                        name=f"split-{variant}", random_state=random_state)
