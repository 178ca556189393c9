"""Small shared helpers: random state and argument checks."""

import numbers

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
