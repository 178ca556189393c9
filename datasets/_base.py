"""Where data sets live on disk, and the error every reader raises for a file it cannot read."""

import contextlib
import os
from pathlib import Path

__all__ = ["DataFormatError", "get_data_home", "reading"]


class DataFormatError(ValueError):
    """A data file cannot be read as the format a reader expects.

    Raised by the readers of :mod:`neurosim.datasets` instead of the error of the library that
    failed (scipy, h5py, numpy, torch, pandas, MNE ...), so that one ``except`` catches every bad
    file and the message always names the file. A subclass of :class:`ValueError`.

    Parameters
    ----------
    path : str | path-like
        The file.
    expected : str
        The format the reader expected, e.g. ``"a MATLAB v5 .mat file holding the DREAMER
        struct"``.
    cause : BaseException | str | None
        What went wrong: the library's exception, or a sentence.

    Attributes
    ----------
    path : pathlib.Path
    expected : str
    cause : BaseException | str | None

    Examples
    --------
    >>> from neurosim.datasets import DataFormatError
    >>> err = DataFormatError("x.mat", "a MATLAB v5 .mat file", "the file is empty")
    >>> print(err)
    cannot read 'x.mat' as a MATLAB v5 .mat file: the file is empty
    >>> isinstance(err, ValueError)
    True
    """

    def __init__(self, path, expected, cause=None):
        self.path = Path(os.fspath(path))
        self.expected = str(expected)
        self.cause = cause
        super().__init__(self._message())

    def _message(self):
        msg = f"cannot read {str(self.path)!r} as {self.expected}"
        if self.cause is None:
            return msg
        if isinstance(self.cause, BaseException):
            text = str(self.cause).strip() or "no message"
            hint = _likely_cause(self.path, self.cause)
            return f"{msg}: {type(self.cause).__name__}: {text}" + (f" ({hint})" if hint else "")
        return f"{msg}: {self.cause}"

    __str__ = BaseException.__str__  # not KeyError's quoting, in the KeyError subclass

    def __reduce__(self):
        return type(self), (self.path, self.expected, self.cause)


class _MissingKeyError(DataFormatError, KeyError):
    """A key the reader needs is missing: a DataFormatError that is also a KeyError (as the
    readers raised before), so that ``except KeyError`` keeps working."""


def _likely_cause(path, err):
    """A short guess at why a library failed on ``path``: empty, truncated, not that format."""
    try:
        size = path.stat().st_size
    except OSError:
        return ""
    if size == 0:
        return "the file is empty"
    text = str(err).lower()
    if any(w in text for w in ("truncat", "could not read", "no data left", "ended before",
                               "eof", "mmap length", "failed to read all")):
        return "the file looks truncated: an interrupted download or copy?"
    if any(w in text for w in ("signature", "unknown mat file", "magic", "not a gzip",
                               "pickle", "invalid load key", "not a zip")):
        return "the file is not in that format (or its header is damaged)"
    return "the file may be damaged, or in another format"


class ArgumentError(ValueError):
    """A bad argument found while reading (e.g. a subject index beyond those in the file): raised
    from inside :func:`reading` without being turned into :class:`DataFormatError`."""


# libraries raise almost anything on a bad file (scipy's MatReadError derives from Exception
# only; MNE raises AttributeError on an empty .fif, torch IndexError on a text .pt), so every
# Exception raised while parsing is taken as the file's fault; the original stays chained
_LIBRARY_ERRORS = (Exception,)


@contextlib.contextmanager
def reading(path, expected):
    """Turn a library's failure on a bad file into :class:`DataFormatError` naming the file.

    Wrap only the code that reads and parses ``path``. Inside the block,
    :class:`DataFormatError`, :class:`FileNotFoundError`, :class:`PermissionError`,
    :class:`IsADirectoryError` and :class:`MemoryError` pass through unchanged (they already say
    what is wrong); any other library error (and the reader's own :class:`ValueError` on a
    missing key or a wrong shape) becomes ``DataFormatError(path, expected, err)``, chained to
    it.

    Parameters
    ----------
    path : str | path-like
        The file being read.
    expected : str
        The format expected, as a phrase ("a MATLAB v5 .mat file holding the DREAMER struct").

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from neurosim.datasets import DataFormatError
    >>> from neurosim.datasets._base import reading
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> _ = open(path, "w").write("not an array")
    >>> try:
    ...     with reading(path, "a .npy array"):
    ...         _ = np.load(path, allow_pickle=False)
    ... except DataFormatError as err:
    ...     print(err.expected)
    a .npy array
    """
    try:
        yield
    except (DataFormatError, ArgumentError, FileNotFoundError, PermissionError, IsADirectoryError,
            MemoryError, KeyboardInterrupt):
        raise
    except _LIBRARY_ERRORS as err:
        cls = _MissingKeyError if isinstance(err, KeyError) else DataFormatError
        raise cls(path, expected, err) from err


def get_data_home(data_home=None):
    """Return the folder that holds neurosim's data sets, creating it if needed.

    Parameters
    ----------
    data_home : str | path-like | None
        Folder to use. If None, ``$NEUROSIM_DATA`` is used, and ``~/neurosim_data`` if that is unset.

    Returns
    -------
    path : pathlib.Path
        The data folder.
    """
    if data_home is None:
        data_home = os.environ.get("NEUROSIM_DATA", Path("~") / "neurosim_data")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
