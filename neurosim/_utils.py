"""Small shared helpers: random state, argument checks, memory and atomic writes (never torch).

The torch helpers (:func:`~neurosim._utils_torch.resolve_device`) are in ``_utils_torch``, so that
the simulation core, which uses this module, never depends on torch.
"""

import contextlib
import numbers
import os
import uuid
from pathlib import Path

import numpy as np


def check_random_state(random_state):
    """Turn ``random_state`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : None | int | numpy.random.Generator
        None gives fresh entropy, an int seeds a new generator, a Generator is returned as is.

    Returns
    -------
    rng : numpy.random.Generator
    """
    if random_state is None or isinstance(random_state, numbers.Integral):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator, "
        f"got {type(random_state).__name__}: {random_state!r}"
    )


def check_positive(name, value, *, allow_zero=False):
    """Return ``value`` as a float, raising a clear error if it is not a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not np.isfinite(value) or not ok:
        expected = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a finite {expected} number, got {value!r}")
    return value


def check_size(name, value, *, minimum=1):
    """Return ``value`` as an int, raising a clear error if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_per_neuron(name, value, n, *, dtype=np.float64):
    """Broadcast a scalar or a length-``n`` array to a contiguous length-``n`` array.

    Raises ValueError naming ``name`` for a wrong shape or non-finite values.
    """
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(n, arr, dtype=dtype)
    elif arr.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or an array of shape ({n},), got shape {arr.shape}"
        )
    else:
        arr = np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def seed_from(random_state):
    """Draw one integer seed (for torch, or for another library) from ``random_state``.

    Parameters
    ----------
    random_state : None | int | numpy.random.Generator
        None gives fresh entropy; an int always gives the same seed; a Generator is advanced.

    Returns
    -------
    seed : int
        In ``[0, 2**62)``.

    Examples
    --------
    >>> seed_from(0) == seed_from(0)
    True
    """
    return int(check_random_state(random_state).integers(2**62))


def n_cores():
    """The number of CPU cores this process may run on (its affinity mask where the system has
    one, else ``os.cpu_count()``, at least 1)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def available_memory():
    """Bytes of memory a new allocation can use now, as the operating system reports it.

    Linux: ``MemAvailable`` of ``/proc/meminfo`` (free memory plus the caches the kernel can
    drop), capped by the cgroup (container) limit when one is set. Elsewhere:
    ``os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")``. None when neither is
    available (the checks that use it are then skipped).

    Returns
    -------
    available : int | None

    Examples
    --------
    >>> available_memory() is None or available_memory() > 0
    True
    """
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    try:  # cgroup v2 limit (containers, batch jobs)
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
                used = int(f.read().strip())
            avail = min(avail, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return int(avail)


def format_bytes(n):
    """``n`` bytes as a short human-readable string (``"1.5 GB"``).

    Examples
    --------
    >>> format_bytes(1.5e9)
    '1.5 GB'
    """
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def check_memory(need, what, *, check=True, option="check_memory=False"):
    """Raise MemoryError before allocating ``need`` bytes if they exceed the available memory.

    Parameters
    ----------
    need : int | float
        Estimated bytes.
    what : str
        What would be allocated, for the message.
    check : bool
        False skips the check (the user's override).
    option : str
        How the user turns the check off, for the message.

    Examples
    --------
    >>> check_memory(1024, "a small array")
    >>> check_memory(2**80, "a huge array")
    Traceback (most recent call last):
    ...
    MemoryError: a huge array needs about ... TB, but only ... of memory is available; ...
    """
    if not check:
        return
    avail = available_memory()
    if avail is not None and need > avail:
        raise MemoryError(f"{what} needs about {format_bytes(need)}, but only "
                          f"{format_bytes(avail)} of memory is available; make it smaller, or "
                          f"pass {option} to allocate it anyway")


@contextlib.contextmanager
def atomic_write(path, *, overwrite=False):
    """Write a file through a temporary file in the same folder, renamed into place at the end.

    The block receives the temporary path and writes the whole file to it (with any writer:
    ``open``, :func:`numpy.savez`, :func:`torch.save`, ``Dataset.to_netcdf``). When the block
    ends without an error the file is renamed to ``path``, so ``path`` never holds a half-written
    file; on any error (or an interrupt) the temporary file is removed and ``path`` is left as it
    was.

    Parameters
    ----------
    path : str | os.PathLike
        The destination file. Its folder must exist.
    overwrite : bool
        Replace an existing ``path``. If False, an existing ``path`` raises
        :class:`FileExistsError`, checked before the block runs and again, atomically where the
        file system has hard links, when the file is moved into place.

    Yields
    ------
    tmp : pathlib.Path
        The temporary file to write: ``.<name>.<random>.tmp<suffix>`` next to ``path`` (it keeps
        the suffix, for writers such as :func:`numpy.savez` that add one otherwise).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a folder.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_write(path) as tmp:
    ...     _ = tmp.write_text("done")
    >>> path.read_text()
    'done'
    """
    if not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"overwrite must be a bool, got {type(overwrite).__name__}: {overwrite!r}")
    path = Path(os.fspath(path))
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a directory")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    tmp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp{path.suffix}"
    # O_EXCL: never clobber anything; mode 0o666 honours the umask (unlike tempfile.mkstemp)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _move_no_clobber(tmp, path):
    """Rename ``tmp`` to ``path``, failing if ``path`` appeared since it was checked."""
    try:
        os.link(tmp, path)  # atomic and fails on an existing path
    except FileExistsError:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it") from None
    except OSError:  # no hard links on this file system: check, then rename
        if path.exists():
            raise FileExistsError(
                f"{str(path)!r} exists; pass overwrite=True to replace it") from None
        os.replace(tmp, path)
    else:
        tmp.unlink()
