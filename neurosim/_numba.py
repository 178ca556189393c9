"""numba's on-disk cache for neurosim's kernels, kept out of the installed package.

With ``@numba.njit(cache=True)`` numba writes its cache files (``*.nbi``, ``*.nbc``) into
``__pycache__`` next to the source. For an installed neurosim that is
``site-packages/neurosim/...``: files pip does not know about, which survive
``pip uninstall`` and turn the folder into a namespace package that shadows a later editable
install (``pip install .`` then ``pip install -e .`` in one environment: "cannot import name
... (unknown location)"). :func:`njit` here is ``numba.njit`` with the cache of neurosim's
kernels in a user cache folder instead:

* ``$NUMBA_CACHE_DIR`` when set (numba's own setting, for every numba cache);
* else ``$NEUROSIM_CACHE_DIR/numba``;
* else ``$XDG_CACHE_HOME/neurosim/numba`` or ``~/.cache/neurosim/numba``.

The folder is chosen when neurosim is imported and applies only to neurosim's kernels (other
packages' numba caches are left where numba puts them). numba keys each cache on the source
file's path, so an editable checkout and an installed copy do not share entries.

This module does not import numba; :func:`njit` does, when a kernel module is imported.
"""

import os
from pathlib import Path

__all__ = ["CACHE_DIR", "njit"]


def _cache_dir():
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None  # numba's own setting wins, for every cache
    base = os.environ.get("NEUROSIM_CACHE_DIR")
    if base:
        return str(Path(base).expanduser() / "numba")
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path("~").expanduser() / ".cache"
    return str(root / "neurosim" / "numba")


# chosen once, at import: tests that point HOME elsewhere keep the same cache
CACHE_DIR = _cache_dir()


def njit(*args, **kwargs):
    """``numba.njit``, with the cache (``cache=True``) in :data:`CACHE_DIR`.

    Use as ``@njit(cache=True, ...)`` or ``@njit``, like numba's.
    """
    import numba
    from numba.core import config

    if not kwargs.get("cache") or CACHE_DIR is None:
        return numba.njit(*args, **kwargs)
    decorate = numba.njit(**kwargs)

    def with_cache_dir(func):
        # numba reads config.CACHE_DIR when it sets up a function's cache (at decoration)
        old = config.CACHE_DIR
        config.CACHE_DIR = CACHE_DIR
        try:
            return decorate(func)
        finally:
            config.CACHE_DIR = old

    if args and callable(args[0]):
        return with_cache_dir(args[0])
    return with_cache_dir
