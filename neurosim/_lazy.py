"""Lazy subpackage namespaces, through :func:`lazy_loader.attach` (as MNE and scikit-image do).

Every ``__init__`` that loads its heavy modules on first use calls :func:`attach` once::

    __getattr__, __dir__, __all__ = attach(__name__, submodules=["metrics"],
                                           submod_attrs={"_trainer": ["Trainer"]})

``lazy_loader`` is a required dependency. Machines that lack it (a bare GPU node with only the
scientific stack, where ``neurosim.decoding`` must still import) get :func:`_attach`, a fallback
with the same behaviour: a public name is imported from its module on first access and cached in
the package namespace.
"""

from __future__ import annotations

import importlib

__all__ = ["attach"]


def _attach(package_name, submodules=None, submod_attrs=None):
    """:func:`lazy_loader.attach`'s contract, for when lazy_loader is not installed."""
    submodules = set(submodules or ())
    submod_attrs = dict(submod_attrs or {})
    attr_to_modules = {attr: mod for mod, attrs in submod_attrs.items() for attr in attrs}
    names = sorted(submodules | set(attr_to_modules))

    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f"{package_name}.{name}")
        if name in attr_to_modules:
            module = importlib.import_module(f"{package_name}.{attr_to_modules[name]}")
            value = getattr(module, name)
            # cache, as lazy_loader does: later lookups no longer go through __getattr__
            importlib.import_module(package_name).__dict__[name] = value
            return value
        raise AttributeError(f"module {package_name!r} has no attribute {name!r}")

    def __dir__():
        return names

    return __getattr__, __dir__, list(names)


def attach(package_name, submodules=None, submod_attrs=None):
    """Lazy ``__getattr__``, ``__dir__`` and ``__all__`` for a package.

    Parameters
    ----------
    package_name : str
        ``__name__`` of the package.
    submodules : sequence of str | None
        Submodules importable as attributes (``package.metrics``).
    submod_attrs : dict of str to list of str | None
        Names defined in each submodule, imported from it on first access.

    Returns
    -------
    __getattr__, __dir__ : callable
    __all__ : list of str
    """
    try:
        import lazy_loader
    except ImportError:  # a bare machine without lazy_loader: same behaviour
        return _attach(package_name, submodules, submod_attrs)
    return lazy_loader.attach(package_name, submodules=submodules, submod_attrs=submod_attrs)
