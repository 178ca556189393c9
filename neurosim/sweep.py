"""Parameter sweeps on Dask: every point of a grid times every seed, one combined Dataset.

:func:`sweep` runs ``target`` at every point of ``grid`` and every seed of ``seeds`` on a
:mod:`dask.distributed` cluster (a :class:`~dask.distributed.LocalCluster` with one worker process
per core by default, or any scheduler: SLURM/PBS through ``dask-jobqueue``), writes each point to
disk as soon as it is done, and combines them into one :class:`xarray.Dataset` with one dimension
per grid key plus ``seed``. A rerun with the same ``out`` skips the points already on disk, so a
killed sweep resumes with nothing lost.

``import neurosim.sweep`` is light: Dask and xarray are imported when a sweep starts. The module
is callable, so ``neurosim.sweep(...)`` is :func:`sweep` whether or not the module was imported.
"""

from __future__ import annotations

import copyreg
import hashlib
import importlib
import inspect
import json
import math
import numbers
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

__all__ = ["sweep", "parse_seeds", "parse_values"]

_SPEC = "sweep.json"
_COMBINED = "sweep.nc"
_POINTS = "points"
_SPEC_FORMAT = 1
_RESERVED = {"seed", "random_state"}


# --------------------------------------------------------------------------------------------
# the target
# --------------------------------------------------------------------------------------------
class _Target:
    """What is swept: an experiment (by name) or a function; how one point is computed."""

    def __init__(self, target, options, run):
        self.options = dict(options or {})
        self.run = None if run is None else dict(run)
        if isinstance(target, str):
            from neurosim.experiments import get_experiment

            self.experiment = get_experiment(target)  # ValueError naming the known experiments
            self.function = None
            self.name = self.experiment.name
            self.id = f"experiment:{self.experiment.name}"
            if self.run is not None:
                raise ValueError("run=... is for functions that return a network; an experiment "
                                 "runs its own simulation")
        elif callable(target):
            self.experiment = None
            self.function = target
            self.name = getattr(target, "__qualname__", type(target).__name__)
            module = getattr(target, "__module__", None) or ""
            self.id = f"function:{module}.{self.name}"
        else:
            raise TypeError("target must be an experiment name (see `neurosim list`) or a function "
                            f"fn(**point, random_state=seed) -> xarray.Dataset, got "
                            f"{type(target).__name__}: {target!r}")

    def accepted(self):
        """``(names, open)``: the keyword arguments the target takes, and whether it takes any."""
        if self.experiment is not None:  # run options, and the keys of its settings
            exp = self.experiment
            names = {"quick"} | {o for o in ("backend", "data") if exp.accepts(o)}
            names |= set(exp.default_config(False)) | set(exp.default_config(True))
            return names, False
        try:
            params = inspect.signature(self.function).parameters
        except (TypeError, ValueError):
            return set(), True
        names = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY,
                                                            p.POSITIONAL_OR_KEYWORD)}
        is_open = any(p.kind is p.VAR_KEYWORD for p in params.values())
        if "random_state" not in names and not is_open:
            raise TypeError(f"target {self.name} must take random_state=... (the seed of each "
                            "point); its parameters are " + ", ".join(sorted(names)))
        return names - {"random_state"}, is_open

    def check_keys(self, grid, what="grid"):
        names, is_open = self.accepted()
        for key in grid:
            if key in _RESERVED:
                raise ValueError(f"{what} key {key!r} is reserved: seeds are given by seeds=...")
            if key not in names and not is_open:
                kind = "experiment" if self.experiment is not None else "function"
                raise ValueError(f"{what} key {key!r} is not a parameter of {kind} {self.name!r}; "
                                 f"it accepts: {', '.join(sorted(names)) or 'nothing'}")

    def __call__(self, point, seed):
        kwargs = {**self.options, **point}
        if self.experiment is not None:
            run_kw = {k: kwargs.pop(k) for k in ("quick", "backend", "data") if k in kwargs}
            config = dict(kwargs.pop("config", None) or {}) | kwargs  # the rest are settings
            result = self.experiment.run(seed=seed, progress=False, config=config or None,
                                         **run_kw)
            ds = result.dataset
            for name, value in result.metrics.items():  # the key numbers as sweep variables
                ds[f"metric_{name}"] = ((), float(value))
            return ds
        out = self.function(**kwargs, random_state=seed)
        from neurosim.spiking import Network

        if isinstance(out, Network):
            out = _run_network(out, self.run, seed)
        elif self.run is not None:
            raise TypeError(f"run=... was given but {self.name} returned "
                            f"{type(out).__name__}, not a neurosim.spiking.Network")
        import xarray as xr

        if not isinstance(out, xr.Dataset):
            raise TypeError(f"target {self.name} must return an xarray.Dataset (or a "
                            f"neurosim.spiking.Network, run with run=...), got {type(out).__name__}")
        return out


def _run_network(network, run, seed):
    from neurosim.backends import run as run_network

    if run is None or "duration" not in run:
        raise ValueError("the target returned a network: pass run={'duration': ms, ...} (the "
                         "arguments of neurosim.run) to simulate it")
    options = dict(run)
    options.setdefault("dt", network.meta.get("dt", 0.1))
    # the network was built with random_state=seed; its noise gets an independent stream
    noise_seed = int(np.random.SeedSequence([int(seed), 1]).generate_state(1, np.uint64)[0] >> 1)
    return run_network(network, random_state=noise_seed, **options)


def _compute(target, point, seed):
    """One point on a worker: the Dataset, loaded in memory."""
    ds = target(point, seed)
    return ds.load()


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _scalar(key, value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, numbers.Integral, str)):
        return value if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
            else int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise ValueError(f"grid[{key!r}] holds {value!r}; values must be finite")
        return float(value)
    raise TypeError(f"grid[{key!r}] values must be numbers, strings or bools (they become "
                    f"coordinates), got {type(value).__name__}: {value!r}")


def _check_grid(grid):
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of parameter name -> list of values, got "
                        f"{type(grid).__name__}")
    if not grid:
        raise ValueError("grid is empty: give at least one parameter and its values, e.g. "
                         "grid={'p': [0.05, 0.1]}")
    out = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"grid keys must be parameter names, got {key!r}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        values = [_scalar(key, v) for v in values]
        if not values:
            raise ValueError(f"grid[{key!r}] is empty: give at least one value")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"grid[{key!r}] repeats a value: {values}")
        out[key] = values
    return out


def _check_seeds(seeds):
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = range(int(seeds))
    try:
        seeds = list(seeds)
    except TypeError:
        raise TypeError(f"seeds must be an int n (seeds 0..n-1) or a range/list of non-negative "
                        f"ints, got {seeds!r}") from None
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds=range(4)")
    out = []
    for s in seeds:
        if isinstance(s, np.integer):
            s = int(s)
        if isinstance(s, bool) or not isinstance(s, int) or s < 0 or s >= 2**63:
            raise ValueError(f"seeds must be non-negative integers below 2**63, got {s!r}")
        out.append(s)
    if len(set(out)) != len(out):
        raise ValueError(f"seeds repeat a value: {out}")
    return out


def parse_values(text):
    """Parse ``"v1,v2,..."`` from the command line: ints, floats, true/false, else strings.

    Parameters
    ----------
    text : str
        Comma-separated values, as given to ``--param KEY=...``.

    Returns
    -------
    values : list of int, float, bool or str
        The values, each converted to the first type that reads it.

    Examples
    --------
    >>> parse_values("0.05,0.1,1")
    [0.05, 0.1, 1]
    >>> parse_values("numba,brian2")
    ['numba', 'brian2']
    """
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"empty value in {text!r}")
        low = item.lower()
        if low in ("true", "false"):
            out.append(low == "true")
            continue
        try:
            out.append(int(item))
            continue
        except ValueError:
            pass
        try:
            out.append(float(item))
        except ValueError:
            out.append(item)
    return out


def parse_seeds(text):
    """Parse ``"0:10"`` (a range, end excluded) or ``"1,5,7"`` into a list of seeds.

    Parameters
    ----------
    text : str
        ``START:STOP[:STEP]`` or comma-separated integers, as given to ``--seeds``.

    Returns
    -------
    seeds : list of int
        Non-negative, distinct seeds.

    Examples
    --------
    >>> parse_seeds("0:4")
    [0, 1, 2, 3]
    >>> parse_seeds("3,7")
    [3, 7]
    """
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            seeds = list(range(*parts))
        else:
            seeds = [int(p) for p in text.split(",")]
    except ValueError:
        raise ValueError(f"seeds must be START:STOP[:STEP] or a comma-separated list of "
                         f"integers, got {text!r}") from None
    return _check_seeds(seeds)


# --------------------------------------------------------------------------------------------
# the folder
# --------------------------------------------------------------------------------------------
def _point_file(point, seed):
    key = json.dumps({"point": point, "seed": seed}, sort_keys=True)
    return f"point-{hashlib.sha1(key.encode()).hexdigest()[:20]}.nc"


def _prepare_out(out, target, overwrite):
    out = Path(out)
    spec = {"format": _SPEC_FORMAT, "target": target.id, "options": target.options,
            "run": target.run}
    try:
        json.dumps(spec)
    except TypeError as err:
        raise TypeError(f"options and run must hold JSON values (numbers, strings, lists) to be "
                        f"recorded in {out / _SPEC}: {err}") from None
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out {str(out)!r} is a file, not a folder")
    spec_path = out / _SPEC
    if spec_path.exists():
        try:
            old = json.loads(spec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{spec_path} cannot be read ({err}); use another out") from None
        same = {k: old.get(k) for k in ("target", "options", "run")} == \
            {k: spec[k] for k in ("target", "options", "run")}
        if not same:
            raise ValueError(
                f"out {str(out)!r} holds a sweep of {old.get('target')} with options "
                f"{old.get('options')} and run {old.get('run')}; this sweep is {spec['target']} "
                f"with options {spec['options']} and run {spec['run']}. Use another out")
    elif out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"out {str(out)!r} is a folder that holds files but no {_SPEC}: not "
                              "a sweep folder. Choose an empty or new folder")
    (out / _POINTS).mkdir(parents=True, exist_ok=True)
    if not spec_path.exists():
        _write_text(spec_path, json.dumps(spec, indent=1))
    return out


def _write_text(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _save_point(ds, path, point, seed):
    from neurosim.results import load, save

    ds = ds.copy()
    ds.attrs.update({"sweep_point": json.dumps(point, sort_keys=True), "sweep_seed": int(seed)})
    save(ds, path, overwrite=True)
    return load(path)


def _load_point(path):
    from neurosim.results import load

    return load(path)


# --------------------------------------------------------------------------------------------
# the cluster
# --------------------------------------------------------------------------------------------
def _connect(client, timeout):
    """Return ``(client, owned)``: a Dask client, and whether this sweep must close it."""
    from dask.distributed import Client, LocalCluster

    from neurosim._utils import n_cores

    if isinstance(client, Client):
        return client, False
    if client is None:
        cluster = LocalCluster(n_workers=n_cores(), threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        return Client(cluster), True
    if isinstance(client, str):
        try:
            return Client(client, timeout=timeout), True
        except (OSError, TimeoutError) as err:
            raise ConnectionError(f"cannot reach the Dask scheduler at {client!r} within {timeout} "
                                  f"s ({type(err).__name__}: {err}); is it running, and is the "
                                  "address right (e.g. tcp://host:8786)?") from None
    if hasattr(client, "scheduler_address"):  # a cluster object (LocalCluster, SLURMCluster)
        return Client(client), True
    raise TypeError("client must be None (a LocalCluster with one worker per core), False (no "
                    "Dask: a loop in this process), a scheduler address, a dask.distributed "
                    f"Client or a cluster; got {type(client).__name__}: {client!r}")


def _close(client, owned):
    if owned:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------
# sweep
# --------------------------------------------------------------------------------------------
def sweep(target, grid, seeds=1, *, client=None, out=None, options=None, run=None,
          progress=True, timeout=30, overwrite=False):
    """Run ``target`` at every point of ``grid`` for every seed, on Dask; combine the results.

    Parameters
    ----------
    target : str | callable
        An experiment name (see ``neurosim list``), run as
        ``Experiment.run(seed=seed, quick=..., backend=..., data=..., config=settings)`` where the
        point's and ``options``' keys other than ``quick``, ``backend`` and ``data`` are settings
        of its configuration (its dataset, plus its key numbers as 0-d variables
        ``metric_<name>``), or a function called as
        ``fn(**options, **point, random_state=seed)`` that returns an :class:`xarray.Dataset`
        or a :class:`neurosim.spiking.Network`; a network is simulated with
        :func:`neurosim.run` and ``run`` (so builders such as
        :func:`neurosim.spiking.izhikevich_network` are swept as they are). On a cluster the
        function must be importable by the workers (defined in a module, not in ``__main__``).
    grid : dict of str to list
        Parameter name -> values (numbers, strings or bools). Every key must be a parameter of
        ``target`` (for an experiment: ``quick``, ``backend`` and ``data`` where it takes them, and
        the keys of its configuration, :meth:`neurosim.experiments.Experiment.default_config`).
    seeds : int | range | list of int
        Seeds: ``n`` means ``range(n)``. Each point runs once per seed.
    client : None | False | str | dask.distributed.Client | cluster
        None: a :class:`~dask.distributed.LocalCluster` with one worker process per core
        (closed at the end); a string: the address of a running scheduler
        (``"tcp://host:8786"``); a Client or a cluster object (e.g. ``dask_jobqueue.SLURMCluster``)
        to use; False: no Dask, a loop in this process (the reference the tests compare with).
    out : None | path-like
        Folder for the results: each point is written as ``points/point-<hash>.nc`` (NetCDF) as
        soon as it is done, and the combined data set as ``sweep.nc``. A rerun with the same
        folder loads the points already there and computes only the others; the folder's
        ``sweep.json`` records the target, ``options`` and ``run``, and a rerun with others is
        refused. None keeps everything in memory.
    options : dict | None
        Keyword arguments passed to every point (e.g. ``{"quick": True}`` for an experiment,
        ``{"n": 200}`` for a builder).
    run : dict | None
        For a target that returns a network: the arguments of :func:`neurosim.run`
        (``duration`` is required; ``dt`` defaults to the step the network was built for). The
        network is built with ``random_state=seed`` and its noise seeded from an independent
        stream of the same seed.
    progress : bool
        Show Dask's progress bar (and print the dashboard link), or a tqdm bar without Dask.
    timeout : float
        Seconds to wait for a scheduler given by address before a :class:`ConnectionError`.
    overwrite : bool
        Allow ``out`` to be an existing folder that holds other files (they are left alone).

    Returns
    -------
    ds : xarray.Dataset
        Every point's variables with the grid's dimensions (in ``grid``'s order, coordinates
        its values) and ``seed`` first. Dimensions whose size differs between points (e.g.
        ``spike``) get an integer index and are padded with NaN; attributes that differ between
        points are dropped, and ``attrs`` records the sweep (``sweep_target``, ``sweep_grid``,
        ``sweep_seeds``).

    Raises
    ------
    ValueError
        An empty grid or seeds, a grid key the target does not accept, an ``out`` folder of
        another sweep.
    ConnectionError
        A scheduler address that does not answer within ``timeout``.

    Examples
    --------
    >>> import neurosim
    >>> from neurosim.spiking import izhikevich_network
    >>> ds = neurosim.sweep(izhikevich_network, grid={"p": [0.05, 0.1]}, seeds=2,
    ...                     options={"n": 100}, run={"duration": 200.0},
    ...                     client=False, progress=False)  # doctest: +SKIP
    >>> ds["spike_time"].dims  # doctest: +SKIP
    ('p', 'seed', 'spike')
    """
    grid = _check_grid(grid)
    seeds = _check_seeds(seeds)
    target = _Target(target, options, run)
    target.check_keys(grid)
    target.check_keys(target.options, what="options")
    if not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    folder = None if out is None else _prepare_out(out, target, overwrite)

    keys = list(grid)
    points = []  # (index tuple, point dict, seed)
    for idx in np.ndindex(*[len(grid[k]) for k in keys], len(seeds)):
        point = {k: grid[k][i] for k, i in zip(keys, idx[:-1])}
        points.append((idx, point, seeds[idx[-1]]))
    results = {}
    todo = []
    for idx, point, seed in points:
        path = None if folder is None else folder / _POINTS / _point_file(point, seed)
        if path is not None and path.exists():
            results[idx] = _load_point(path)
        else:
            todo.append((idx, point, seed, path))
    if progress and folder is not None and results:
        print(f"neurosim sweep: {len(results)} of {len(points)} points already in {folder}; "
              f"computing {len(todo)}", flush=True)

    if todo:
        if client is False:
            _run_serial(target, todo, results, progress)
        else:
            _run_dask(target, todo, results, client, progress, timeout)

    ds = _combine(results, grid, seeds, keys)
    ds.attrs.update({"sweep_target": target.id, "sweep_grid": json.dumps(grid),
                     "sweep_seeds": json.dumps(seeds),
                     "sweep_options": json.dumps(target.options, sort_keys=True)})
    if folder is not None:
        from neurosim.results import save

        save(ds, folder / _COMBINED, overwrite=True)
    return ds


def _store(results, idx, ds, point, seed, path):
    results[idx] = ds if path is None else _save_point(ds, path, point, seed)


def _run_serial(target, todo, results, progress):
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="sweep", unit="point")
    try:
        for idx, point, seed, path in todo:
            _store(results, idx, _compute(target, point, seed), point, seed, path)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def _run_dask(target, todo, results, client, progress, timeout):
    from dask.distributed import as_completed

    client, owned = _connect(client, timeout)
    try:
        futures = {}
        for idx, point, seed, path in todo:
            key = f"sweep-{_point_file(point, seed)[6:-3]}"
            fut = client.submit(_compute, target, point, seed, key=key, pure=False)
            futures[fut] = (idx, point, seed, path)
        if progress:
            link = getattr(client, "dashboard_link", None)
            print(f"neurosim sweep: {len(futures)} points on {_describe(client)}"
                  + (f"; dashboard: {link}" if link else ""), flush=True)
            _start_progress_bar(client, list(futures))
        for fut in as_completed(futures):
            idx, point, seed, path = futures.pop(fut)
            ds = fut.result()  # re-raises a point's error, with its traceback
            _store(results, idx, ds, point, seed, path)
            fut.release()
        if progress:
            time.sleep(0.2)  # let the bar draw its last state
            print(flush=True)
    finally:
        _close(client, owned)


def _describe(client):
    try:
        n = len(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # noqa: BLE001 - only for the message
        return str(client.scheduler.address)
    return f"{n} Dask worker(s) at {client.scheduler.address}"


def _start_progress_bar(client, futures):
    """Dask's text progress bar, drawn from the client's event loop while results are written."""
    try:
        from distributed.diagnostics.progressbar import TextProgressBar

        bar = TextProgressBar(futures, scheduler=client.scheduler.address, start=False,
                              complete=True)
        client.loop.add_callback(bar.listen)
    except Exception as err:  # noqa: BLE001 - the bar is a convenience
        print(f"neurosim sweep: no progress bar ({type(err).__name__}: {err})", file=sys.stderr)


def _combine(results, grid, seeds, keys):
    import xarray as xr

    dims = [*keys, "seed"]
    datasets = [results[idx] for idx in sorted(results)]
    # dimensions without an index whose size differs between points get 0..n-1 so that they
    # can be aligned (outer join, NaN padding)
    sizes = {}
    for ds in datasets:
        for dim, size in ds.sizes.items():
            sizes.setdefault(dim, set()).add(size)
    ragged = [d for d, s in sizes.items() if len(s) > 1]
    for d in dims:
        if d in sizes:
            raise ValueError(f"the target's results already have a dimension {d!r}; rename the "
                             "grid key")

    def prepared(idx):
        ds = results[idx].drop_encoding()  # a point's int dtype on disk cannot hold the NaN padding
        for d in ragged:
            if d in ds.dims and d not in ds.indexes:
                ds = ds.assign_coords({d: np.arange(ds.sizes[d])})
        coords = {k: [grid[k][i]] for k, i in zip(keys, idx[:-1])}
        coords["seed"] = [seeds[idx[-1]]]
        return ds.expand_dims(coords)

    def nest(prefix, level):
        n = len(grid[keys[level]]) if level < len(keys) else len(seeds)
        if level == len(dims) - 1:
            return [prepared((*prefix, i)) for i in range(n)]
        return [nest((*prefix, i), level + 1) for i in range(n)]

    combined = xr.combine_nested(nest((), 0), concat_dim=dims, join="outer",
                                 combine_attrs="drop_conflicts")
    return combined.transpose(*dims, ...)


class _CallableModule(types.ModuleType):
    """``neurosim.sweep(...)`` calls :func:`sweep` even after ``import neurosim.sweep``."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


def _reduce_module(module):
    return importlib.import_module, (module.__name__,)


copyreg.pickle(_CallableModule, _reduce_module)  # pickled by name, like any module
sys.modules[__name__].__class__ = _CallableModule
