"""Shared parameter text for docstrings: a ``docdict`` and the :func:`fill_doc` decorator.

As in MNE-Python and nilearn, a parameter documented the same way in many places is written once
here and referenced as ``%(name)s`` on a line of its own in a numpydoc ``Parameters`` section::

    @fill_doc
    def permuted_digits(n_tasks=5, *, random_state=0):
        \"""...

        Parameters
        ----------
        n_tasks : int
            Number of tasks.
        %(random_state)s
            Seeds the permutations.
        \"""

The entry is indented to the placeholder's column; lines that follow it at the description's
indentation add to the entry (what this particular function seeds, for example). Entries may
hold placeholders themselves, and a subpackage may add its own entries (``docdict[name] = ...``)
before decorating. An unknown name raises :class:`KeyError` when the module is imported.
"""

from __future__ import annotations

import re

__all__ = ["docdict", "fill_doc"]

docdict = {
    "random_state": """\
random_state : None | int | numpy.random.Generator
    The random state: None draws fresh entropy, an int gives the same result on every run (on
    the same backend and device), a Generator is used as is (and advanced).""",
    "random_state_torch": """\
random_state : None | int | numpy.random.Generator
    Seeds the parameter initialisation without touching torch's global random state: the same
    int builds the same weights. None uses torch's global random state, as a plain
    :class:`torch.nn.Module` does.""",
    "device": """\
device : None | str | torch.device
    Where to compute: None or ``"auto"`` picks ``"cuda"`` when available, else ``"cpu"``;
    otherwise a torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...). A CUDA device without
    CUDA is a :class:`ValueError`.""",
    "progress": """\
progress : bool
    Show a progress bar (tqdm).""",
    # experiments (neurosim.experiments.<name>)
    "quick": """\
quick : bool
    The settings of the small, fast version (``neurosim run NAME --quick``, ``neurosim demo``).""",
    "experiment_config": """\
config : dict
    The experiment's settings: :func:`config`'s, with any the caller replaced
    (:meth:`neurosim.experiments.Experiment.run` merges them).""",
    "experiment_seed": """\
seed : int
    The random seed (non-negative, checked by :meth:`neurosim.experiments.Experiment.run`).""",
    "experiment_returns": """\
result : neurosim.experiments.ExperimentResult
    The data set, figures, report, metrics and headline numbers.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<key>\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(obj):
    """Replace ``%(name)s`` lines of ``obj.__doc__`` with the :data:`docdict` entries.

    Parameters
    ----------
    obj : callable | type
        A function or class whose docstring holds placeholders on lines of their own.

    Returns
    -------
    obj : callable | type
        The same object, its docstring filled in.

    Examples
    --------
    >>> @fill_doc
    ... def f(random_state=None):
    ...     '''Do something.
    ...
    ...     Parameters
    ...     ----------
    ...     %(random_state)s
    ...     '''
    >>> "an int gives the same result" in f.__doc__
    True
    """
    doc = obj.__doc__
    if not doc:
        return obj

    def entry(match):
        indent = match.group("indent")
        return "\n".join(indent + line if line else line
                         for line in docdict[match.group("key")].splitlines())

    for _ in range(4):  # entries may hold placeholders themselves
        doc, n = _PLACEHOLDER.subn(entry, doc)
        if not n:
            break
    obj.__doc__ = doc
    return obj
