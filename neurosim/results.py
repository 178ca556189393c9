"""Results as :class:`xarray.Dataset`: save and load NetCDF files, and read spike results.

Saving and loading
    :func:`save` writes a Dataset to NetCDF-4 (through h5netcdf) atomically: the file appears
    complete or not at all, and an existing file is only replaced with ``overwrite=True``.
    :func:`load` reads it back fully into memory and closes the file.

Integrity
    Every file :func:`save` writes carries two checksums: HDF5's Fletcher-32 checksum on every
    numeric variable, and a SHA-256 of the whole NetCDF-4 content stored in a 512-byte HDF5 user
    block at the start of the file (HDF5 and netCDF-C skip user blocks, so any NetCDF-4 reader
    still opens the file). :func:`load` checks the SHA-256 before it opens the file, so a file
    damaged anywhere (data, attributes, metadata) raises :class:`CorruptResultsError` naming the
    file, and never returns silently different data. Files without the user block (written by
    another program, or before neurosim 0.2) are read with the Fletcher-32 checks HDF5 makes.

Spike results
    :func:`neurosim.backends.run` stores spikes sparsely: ``spike_neuron`` and ``spike_time``
    (ms) on dim ``spike``, a ``neuron`` coordinate (with ``group`` and ``index_in_group``) and the
    simulated time in ``attrs["duration"]`` (ms). :func:`spike_counts`, :func:`firing_rates`,
    :func:`isi_cv`, :func:`population_rate` and :func:`spike_trains` read that layout.

Attribute conventions
    NetCDF attributes hold strings, numbers and 1-d arrays of numbers (or lists of strings), not
    bools, None or dicts. :func:`save` converts, on a copy: bools to ints (0/1), None to the string
    ``"None"``, dicts (and lists mixing types) to JSON strings. :func:`load` does not convert back:
    read such attributes with ``json.loads``.

``import neurosim.results`` is light: xarray is imported when a function is first called.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import shutil
from pathlib import Path

import numpy as np

__all__ = [
    "CorruptResultsError", "firing_rates", "isi_cv", "load", "population_rate", "save",
    "spike_counts", "spike_trains",
]

_ENGINE = "h5netcdf"
_BLOCK = 512  # the HDF5 user block: HDF5 looks for its signature at 0, 512, 1024, ...
_MAGIC = b"NEUROSIM-RESULTS-1 sha256="
_HEX = 64


class CorruptResultsError(ValueError):
    """A results file is damaged, or is not a NetCDF-4 file :func:`load` can read.

    Its message names the file and what is wrong (checksum mismatch, truncated, not NetCDF-4).
    A subclass of :class:`ValueError`.

    Parameters
    ----------
    path : str | os.PathLike
        The file (kept as :class:`pathlib.Path` in ``path``).
    reason : str
        What is wrong with it (kept in ``reason``).
    """

    def __init__(self, path, reason):
        self.path = Path(os.fspath(path))
        self.reason = str(reason)
        super().__init__(f"{str(self.path)!r} is damaged or not a neurosim results file: "
                         f"{self.reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


# --------------------------------------------------------------------------------------------
# save / load
# --------------------------------------------------------------------------------------------
def save(ds, path, *, overwrite=False):
    """Write ``ds`` to a NetCDF-4 file, atomically.

    The data go to a temporary file in the destination folder, which is then renamed to ``path``
    (:func:`os.replace`), so ``path`` never holds a half-written file; on any error the temporary
    file is removed and an existing ``path`` is left as it was.

    Every numeric variable gets HDF5's Fletcher-32 checksum, and the file starts with a 512-byte
    user block holding the SHA-256 of the rest, which :func:`load` verifies.

    NetCDF cannot store some attribute values; they are converted in the file (``ds`` itself is
    not modified): bools become ints (``True`` -> 1), None becomes the string ``"None"``, dicts and
    lists that are not all numbers or all strings become JSON strings. Other unsupported values
    raise :class:`TypeError` naming the attribute.

    Parameters
    ----------
    ds : xarray.Dataset
        The data set to write.
    path : str | os.PathLike
        Destination file (conventionally ``*.nc``). Its folder must exist.
    overwrite : bool
        Replace ``path`` if it exists. If False (default), an existing ``path`` raises
        :class:`FileExistsError`.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    TypeError
        If ``ds`` is not a Dataset or holds an attribute NetCDF cannot store.

    Examples
    --------
    >>> import xarray as xr
    >>> from neurosim.results import load, save
    >>> ds = xr.Dataset({"x": ("t", [1.0, 2.0])}, attrs={"converged": True, "note": None})
    >>> path = save(ds, tmp_path / "run.nc")  # doctest: +SKIP
    >>> load(path).attrs  # doctest: +SKIP
    {'converged': np.int64(1), 'note': 'None'}
    """
    import xarray as xr

    from ._utils import atomic_write

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    path = Path(os.fspath(path))
    out = _netcdf_ready(ds)
    encoding = {name: {"fletcher32": True} for name, var in out.variables.items()
                if var.dtype.kind in "biuf" and var.ndim > 0 and var.size > 0}
    with atomic_write(path, overwrite=overwrite) as tmp:
        body = tmp.with_name(tmp.name + ".body")
        try:
            out.to_netcdf(body, engine=_ENGINE, encoding=encoding)
            digest = _sha256(body, 0)
            header = _MAGIC + digest.encode("ascii") + b"\n"
            with open(tmp, "wb") as dst, open(body, "rb") as src:
                dst.write(header.ljust(_BLOCK, b"\0"))
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
        finally:
            body.unlink(missing_ok=True)
    return path


def _sha256(path, offset):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path):
    """Check the SHA-256 in the user block; return True if checked, False if the file has none."""
    with open(path, "rb") as f:
        head = f.read(_BLOCK)
    if not head:
        raise CorruptResultsError(path, "the file is empty")
    if not head.startswith(_MAGIC[:16]):
        return False
    stored = head[len(_MAGIC):len(_MAGIC) + _HEX]
    if (len(head) < _BLOCK or not head.startswith(_MAGIC)
            or not all(c in b"0123456789abcdef" for c in stored) or len(stored) != _HEX):
        raise CorruptResultsError(path, "its checksum header is damaged or truncated")
    actual = _sha256(path, _BLOCK)
    if actual != stored.decode("ascii"):
        raise CorruptResultsError(
            path, f"its SHA-256 checksum does not match (stored {stored.decode()[:12]}..., "
                  f"computed {actual[:12]}...): the file was changed or truncated after it "
                  "was written")
    return True


def load(path):
    """Read a NetCDF file written by :func:`save` fully into memory.

    The file is closed when this returns, so it can be moved, replaced or deleted. Attributes
    come back as written (bools as ints, None as ``"None"``, dicts as JSON strings: see
    :func:`save`); string variables come back as fixed-width unicode arrays (``<U``), whatever
    their dtype (``object`` or ``<U``) when saved.

    Parameters
    ----------
    path : str | os.PathLike
        A NetCDF file.

    Returns
    -------
    ds : xarray.Dataset
        The data set, loaded.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CorruptResultsError
        If the file's checksum (SHA-256 or Fletcher-32) does not match, or it is empty,
        truncated or not a NetCDF-4 file.

    Examples
    --------
    >>> from neurosim.results import load
    >>> ds = load("neurosim-output/spiking-izhikevich/results.nc")  # doctest: +SKIP
    >>> json.loads(ds.attrs["network"])["n"]  # doctest: +SKIP
    1000
    """
    import xarray as xr

    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; expected a NetCDF file")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    checked = _verify(path)
    try:
        return xr.load_dataset(path, engine=_ENGINE)
    except (OSError, ValueError, RuntimeError, KeyError, IndexError, TypeError) as err:
        if checked:
            reason = f"its checksum matches but it cannot be read ({type(err).__name__}: {err})"
        else:
            reason = (f"{type(err).__name__}: {err} (not a NetCDF-4/HDF5 file, or damaged; "
                      "NetCDF-3 files are not read)")
        raise CorruptResultsError(path, reason) from err


def _netcdf_ready(ds):
    """Shallow copy of ``ds`` whose attributes (its own and its variables') NetCDF can store."""
    out = ds.copy(deep=False)
    out.attrs = _convert_attrs(ds.attrs, "the dataset")
    for name, var in out.variables.items():
        var.attrs = _convert_attrs(ds.variables[name].attrs, f"variable {name!r}")
    return out


def _convert_attrs(attrs, where):
    return {key: _convert_attr(value, key, where) for key, value in attrs.items()}


def _convert_attr(value, key, where):
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, numbers.Number):
        if isinstance(value, numbers.Integral) and not -(2**63) <= int(value) < 2**63:
            raise TypeError(f"attribute {key!r} of {where} is an integer out of the int64 range "
                            f"({value}), which NetCDF cannot store; store it as a string")
        if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
            raise TypeError(f"attribute {key!r} of {where} is complex ({value!r}), which NetCDF "
                            "cannot store; store it as a string or as two numbers")
        return value
    if isinstance(value, dict):
        return json.dumps(value, default=_json_default)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iuf":
            return value
        if value.dtype.kind == "b":
            return value.astype(np.int8)
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = list(value)
        if all(isinstance(v, (bool, np.bool_)) for v in items):
            return [int(v) for v in items]
        if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in items):
            return items
        if all(isinstance(v, str) for v in items):
            return items
        return json.dumps(items, default=_json_default)
    raise TypeError(
        f"attribute {key!r} of {where} has type {type(value).__name__} ({value!r}), which NetCDF "
        "cannot store; use a str, a number, a list of numbers or strings, a bool, None or a dict"
    )


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


# --------------------------------------------------------------------------------------------
# spike results
# --------------------------------------------------------------------------------------------
def _check_spike_dataset(ds):
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    missing = [v for v in ("spike_neuron", "spike_time", "neuron") if v not in ds.variables]
    if missing:
        raise ValueError(
            f"ds is not a spike result: it lacks {', '.join(missing)} (expected the layout of "
            "neurosim.backends.run: spike_neuron/spike_time on dim 'spike', coordinate 'neuron')"
        )
    if "duration" not in ds.attrs:
        raise ValueError("ds lacks attrs['duration'] (simulated time in ms)")
    duration = float(ds.attrs["duration"])
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"attrs['duration'] must be a positive number of ms, got {duration!r}")
    return duration


def _monitored_groups(ds):
    """Names of the spike-monitored groups, or None if the data set does not say."""
    raw = ds.attrs.get("spike_monitored_groups")
    if raw is None:
        return None
    return list(json.loads(raw)) if isinstance(raw, str) else np.atleast_1d(raw).tolist()


def _select_neurons(ds, group):
    """Positions along ``neuron`` of the neurons asked for (``group``) that have spike monitors."""
    n = ds.sizes["neuron"]
    monitored = _monitored_groups(ds)
    if "group" not in ds.coords:
        if group is not None:
            raise ValueError(f"ds has no 'group' coordinate to select group={group!r} from")
        return np.arange(n)
    groups = np.asarray(ds["group"].values).astype(str)
    known = list(dict.fromkeys(groups.tolist()))
    if group is None:
        if monitored is None:
            return np.arange(n)
        return np.flatnonzero(np.isin(groups, monitored))
    wanted = [group] if isinstance(group, str) else list(group)
    for g in wanted:
        if not isinstance(g, str):
            raise TypeError(f"group must be a str or a list of str, got {type(g).__name__}: {g!r}")
        if g not in known:
            raise ValueError(f"unknown group {g!r}; the data set has groups {known}")
        if monitored is not None and g not in monitored:
            raise ValueError(f"group {g!r} has no spike monitor; monitored groups: {monitored}")
    return np.flatnonzero(np.isin(groups, wanted))


def _spike_positions(ds):
    """Position along ``neuron`` of every spike."""
    index = ds.indexes["neuron"]
    spike_neuron = np.asarray(ds["spike_neuron"].values)
    pos = index.get_indexer(spike_neuron)
    if np.any(pos < 0):
        bad = spike_neuron[pos < 0][0]
        raise ValueError(f"spike_neuron holds neuron {bad}, which is not in the 'neuron' coordinate")
    return pos


def spike_counts(ds, group=None):
    """Number of spikes of each neuron.

    Parameters
    ----------
    ds : xarray.Dataset
        A spike result (layout of :func:`neurosim.backends.run`).
    group : str | list of str | None
        Only the neurons of this group (these groups). None: every neuron of a spike-monitored
        group (neurons without a spike monitor have no count and are left out).

    Returns
    -------
    counts : xarray.DataArray
        Integer counts over dim ``neuron``, with the data set's ``neuron`` coordinates.

    Raises
    ------
    ValueError
        For an unknown group, a group without spike monitor, or a data set without spikes.

    Examples
    --------
    >>> from neurosim.spiking import izhikevich_network
    >>> from neurosim.backends import run
    >>> from neurosim.results import spike_counts
    >>> ds = run(izhikevich_network(100, dt=0.5, random_state=0), 200.0, 0.5, random_state=0)
    >>> spike_counts(ds).sizes["neuron"]
    100
    """
    _check_spike_dataset(ds)
    sel = _select_neurons(ds, group)
    counts = np.bincount(_spike_positions(ds), minlength=ds.sizes["neuron"]).astype(np.int64)
    out = _per_neuron(ds, counts[sel], sel, "spike_count")
    out.attrs.update(long_name="number of spikes", units="1")
    return out


def firing_rates(ds, group=None):
    """Mean firing rate of each neuron over the run, in Hz.

    The rate is the spike count divided by the simulated time ``attrs["duration"]`` (ms).

    Parameters
    ----------
    ds : xarray.Dataset
        A spike result (layout of :func:`neurosim.backends.run`).
    group : str | list of str | None
        Only the neurons of this group (these groups). None: every neuron of a spike-monitored
        group.

    Returns
    -------
    rates : xarray.DataArray
        Rates (Hz, float64) over dim ``neuron``, with the data set's ``neuron`` coordinates;
        ``attrs["units"] == "Hz"``.

    Raises
    ------
    ValueError
        For an unknown group, a group without spike monitor, or a data set without spikes.

    Examples
    --------
    >>> from neurosim.spiking import izhikevich_network
    >>> from neurosim.backends import run
    >>> from neurosim.results import firing_rates
    >>> ds = run(izhikevich_network(100, dt=0.5, random_state=0), 200.0, 0.5, random_state=0)
    >>> rates = firing_rates(ds)
    >>> rates.attrs["units"]
    'Hz'
    >>> float(rates.mean()) > 0
    True
    """
    duration = _check_spike_dataset(ds)
    counts = spike_counts(ds, group)
    rates = counts.astype(np.float64) / (duration * 1e-3)
    rates.name = "firing_rate"
    rates.attrs = {"long_name": "mean firing rate", "units": "Hz"}
    return rates


def isi_cv(ds, group=None):
    """Coefficient of variation of each neuron's inter-spike intervals.

    ``CV = std(ISI) / mean(ISI)`` (population standard deviation): 0 for a regular spike train,
    about 1 for a Poisson process. Neurons with fewer than three spikes (two intervals) get NaN.

    Parameters
    ----------
    ds : xarray.Dataset
        A spike result (layout of :func:`neurosim.backends.run`).
    group : str | list of str | None
        As for :func:`firing_rates`.

    Returns
    -------
    cv : xarray.DataArray
        CV (dimensionless, float64, NaN where undefined) over dim ``neuron``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.results import isi_cv
    >>> cv = isi_cv(ds)  # doctest: +SKIP
    >>> float(np.nanmean(cv))  # doctest: +SKIP
    0.9
    """
    _check_spike_dataset(ds)
    sel = _select_neurons(ds, group)
    pos = _spike_positions(ds)
    times = np.asarray(ds["spike_time"].values, dtype=np.float64)
    order = np.lexsort((times, pos))
    pos, times = pos[order], times[order]
    cv = np.full(ds.sizes["neuron"], np.nan)
    same = pos[1:] == pos[:-1]
    isi, owner = np.diff(times)[same], pos[1:][same]
    n = np.bincount(owner, minlength=cv.size)
    s1 = np.bincount(owner, isi, minlength=cv.size)
    ok = n >= 2
    mean = s1[ok] / n[ok]
    # second pass for the variance (numerically safer than sum of squares)
    dev2 = np.bincount(owner, (isi - (s1 / np.maximum(n, 1))[owner]) ** 2, minlength=cv.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv[ok] = np.sqrt(dev2[ok] / n[ok]) / mean
    out = _per_neuron(ds, cv[sel], sel, "isi_cv")
    out.attrs.update(long_name="coefficient of variation of inter-spike intervals", units="1")
    return out


def population_rate(ds, bin_size=1.0, group=None):
    """Population firing rate (mean rate per neuron, Hz) in time bins.

    Parameters
    ----------
    ds : xarray.Dataset
        A spike result (layout of :func:`neurosim.backends.run`).
    bin_size : float
        Bin width (ms), > 0. The last bin is dropped if the duration is not a whole number of
        bins.
    group : str | list of str | None
        As for :func:`firing_rates`.

    Returns
    -------
    rate : xarray.DataArray
        Rate (Hz) over dim ``time`` (bin centres, ms).

    Examples
    --------
    >>> from neurosim.results import population_rate
    >>> rate = population_rate(ds, bin_size=5.0)  # doctest: +SKIP
    >>> rate.plot()  # doctest: +SKIP
    """
    import xarray as xr

    from ._utils import check_positive

    duration = _check_spike_dataset(ds)
    bin_size = check_positive("bin_size", bin_size)
    n_bins = int(np.floor(duration / bin_size + 1e-9))
    if n_bins < 1:
        raise ValueError(f"bin_size={bin_size} ms is longer than the run ({duration} ms)")
    sel = _select_neurons(ds, group)
    keep = np.zeros(ds.sizes["neuron"], dtype=bool)
    keep[sel] = True
    times = np.asarray(ds["spike_time"].values, dtype=np.float64)[keep[_spike_positions(ds)]]
    counts, edges = np.histogram(times, bins=n_bins, range=(0.0, n_bins * bin_size))
    rate = counts / max(sel.size, 1) / (bin_size * 1e-3)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return xr.DataArray(
        rate, dims="time", name="population_rate",
        coords={"time": ("time", centres, {"units": "ms"})},
        attrs={"long_name": "population firing rate per neuron", "units": "Hz",
               "bin_size": bin_size, "bin_size_units": "ms", "n_neurons": int(sel.size)},
    )


def spike_trains(ds, neuron):
    """Spike times of one neuron.

    Parameters
    ----------
    ds : xarray.Dataset
        A spike result (layout of :func:`neurosim.backends.run`).
    neuron : int
        Global neuron index (a value of the ``neuron`` coordinate).

    Returns
    -------
    times : ndarray of float64
        Sorted spike times (ms); empty if the neuron did not fire.

    Raises
    ------
    ValueError
        If ``neuron`` is not in the data set.

    Examples
    --------
    >>> from neurosim.results import spike_trains
    >>> spike_trains(ds, 0)  # doctest: +SKIP
    array([ 12.5,  98. , 170.5])
    """
    _check_spike_dataset(ds)
    if isinstance(neuron, (bool, np.bool_)) or not isinstance(neuron, numbers.Integral):
        raise TypeError(f"neuron must be an int, got {type(neuron).__name__}: {neuron!r}")
    index = ds.indexes["neuron"]
    if neuron not in index:
        raise ValueError(
            f"neuron {neuron} is not in the data set (neuron coordinate from {index.min()} to "
            f"{index.max()}, {len(index)} neurons)"
        )
    mask = np.asarray(ds["spike_neuron"].values) == neuron
    return np.sort(np.asarray(ds["spike_time"].values, dtype=np.float64)[mask])


def _per_neuron(ds, values, sel, name):
    """DataArray of ``values`` over the neurons at positions ``sel``, with their coordinates."""
    import xarray as xr

    coords = {k: c for k, c in ds["neuron"].isel(neuron=sel).coords.items()}
    return xr.DataArray(values, dims="neuron", coords=coords, name=name)
