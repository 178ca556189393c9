"""The ``neurosim`` command.

::

    neurosim list
    neurosim run NAME [--quick] [--backend numba|brian2] [--seed N] [--out DIR] [--overwrite]
                      [--data PATH] [--config JSON]
    neurosim demo [--out DIR] [--backend numba|brian2] [--seed N] [--overwrite] [--jobs N]
    neurosim sweep NAME --param KEY=V1,V2 [--param ...] [--seeds 0:10] [--quick]
                        [--scheduler ADDRESS | --workers N | --serial] [--out DIR]

``run`` runs one experiment (see ``neurosim list``) and writes ``results.nc`` (NetCDF, read it
with :func:`neurosim.results.load`), its figures as PNG and a short ``report.md`` into ``--out``
(default ``./neurosim-output/NAME``); ``--data PATH`` runs it on a real data set on disk, for the
experiments that read one (``decode-histn`` on ``DREAMER.mat``, ...: ``neurosim list`` says
which), ``--config JSON`` replaces some of its settings (``'{"device": "cuda"}'``; a bare name is
a preset, ``--config paper`` meaning ``'{"preset": "paper"}'``), and
``--backend`` picks the simulator of the experiments that run a simulation (it is refused by the
others). ``demo`` runs every experiment in quick mode, each into ``DIR/NAME``, and writes
``DIR/report.md``: per experiment its headline numbers next to what they are compared with
(default ``./neurosim-demo``); ``--jobs N`` runs N experiments at once, each in its own process
(default: one per CPU core, at most 4; ``--jobs 1`` runs them one after another with progress
bars). ``sweep`` runs one experiment at every combination of the
``--param`` values and every seed on Dask (:func:`neurosim.sweep`) and writes each point, then
the combined ``sweep.nc``, into ``--out`` (default ``./neurosim-sweep/NAME``); run again, it
computes only the points that are missing.
Neither writes into a folder that is not empty unless given ``--overwrite``, which replaces the
files of the same names and leaves other files alone.

Exit status: 0 on success, 2 for a usage error or a refused output folder (nothing written),
1 when an experiment fails, 130 when interrupted. A seed outside 0..2**32-1, an output folder
that cannot be written, a `--data` path that does not exist or cannot be read, a data file
the readers refuse and settings of `--config` the experiment refuses are usage errors (status
2, one line, checked before the run where possible).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

__all__ = ["main"]

_PROG = "neurosim"
_USAGE_ERROR = 2


class _UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


_MAX_SEED = 2**32 - 1  # as numpy's legacy seeding, scikit-learn and the NetCDF attributes allow


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {_MAX_SEED}, "
                                         f"got {text!r}") from None
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {_MAX_SEED}, got {value}")
    return value


def _jobs(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _config_json(text):
    import json
    import re

    if re.fullmatch(r"[A-Za-z][\w-]*", text):  # a preset's name: --config paper
        return {"preset": text}
    try:
        value = json.loads(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r} ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r}")
    return value


def _build_parser():
    from neurosim import __version__
    from neurosim.backends import list_backends
    from neurosim.experiments import list_experiments

    backends = list_backends()
    names = ", ".join(e.name for e in list_experiments())
    parser = _Parser(
        prog=_PROG,
        description="Brain-inspired memory and learning models: run the packaged experiments.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("list", help="list the experiments", description="List the experiments.")

    def add_common(p):
        p.add_argument("--backend", choices=backends, default=None,
                       help="simulation backend of the experiments that run a simulation "
                            "(default: numba)")
        p.add_argument("--seed", type=_seed, default=0,
                       help=f"random seed, an integer from 0 to {_MAX_SEED} "
                            "(default: %(default)s)")
        p.add_argument("--overwrite", action="store_true",
                       help="write into a non-empty output folder, replacing files of the same "
                            "names")

    run = sub.add_parser(
        "run", help="run one experiment",
        description="Run one experiment; write results.nc, figures (PNG) and report.md.")
    run.add_argument("name", metavar="NAME", help=f"experiment name ({names})")
    run.add_argument("--quick", action="store_true", help="run the small, fast version")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output folder (default: ./neurosim-output/NAME)")
    run.add_argument("--data", type=Path, default=None, metavar="PATH",
                     help="run on a real data set on disk instead of the embedded simulated one "
                          "(only for the experiments that read one, e.g. decode-histn with "
                          "DREAMER.mat; see 'neurosim list')")
    run.add_argument("--config", type=_config_json, default=None, metavar="JSON",
                     help="settings replacing the experiment's defaults, as a JSON object; a "
                          "bare NAME is {\"preset\": NAME} (e.g. 'paper' or 'small' for "
                          "decode-histn and decode-brainflora)")
    add_common(run)

    demo = sub.add_parser(
        "demo", help="run every experiment in quick mode",
        description="Run every experiment in quick mode, each into DIR/NAME, and write "
                    "DIR/report.md summarising them.")
    demo.add_argument("--out", type=Path, default=Path("neurosim-demo"), metavar="DIR",
                      help="output folder (default: ./neurosim-demo)")
    demo.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                      help="experiments run at once, each in its own process (default: one per "
                           "CPU core, at most 4; 1: one after another, with progress bars)")
    add_common(demo)
    _add_sweep_parser(sub, names)
    return parser


def main(argv=None):
    """Run the ``neurosim`` command.

    Parameters
    ----------
    argv : list of str | None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        Exit status: 0 on success, 2 for a usage error or a refused output folder, 1 when an
        experiment failed, 130 when interrupted.

    Examples
    --------
    >>> from neurosim.cli import main
    >>> main(["list"])  # doctest: +SKIP
    spiking-izhikevich  Izhikevich (2003) network of 80% excitatory / 20% inhibitory ...
    0
    """
    parser = _build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else 0
        if args.command is None:
            raise _UsageError(f"{_PROG}: error: a command is required: list, run, demo or sweep "
                              f"(see '{_PROG} --help')")
        if args.command == "list":
            return _cmd_list()
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        return _cmd_demo(args)
    except _UsageError as err:
        print(str(err), file=sys.stderr)
        return _USAGE_ERROR
    except OSError as err:  # e.g. the output folder cannot be written
        print(f"{_PROG}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
def _cmd_list():
    from neurosim.experiments import list_experiments

    experiments = list_experiments()
    width = max((len(e.name) for e in experiments), default=0)
    for e in experiments:
        print(f"{e.name:<{width}}  {e.summary}")
        extra = []
        if e.backends:
            extra.append(f"--backend {'|'.join(e.backends)}")
        if e.data is not None:
            extra.append(f"--data: {e.data}")
        if extra:
            print(f"{'':<{width}}  ({'; '.join(extra)})")
    return 0


def _get_experiment(name):
    from neurosim.experiments import get_experiment

    try:
        return get_experiment(name)
    except ValueError as err:
        raise _UsageError(f"{_PROG}: error: {err}") from None


def _cmd_run(args):
    experiment = _get_experiment(args.name)
    out = args.out if args.out is not None else Path("neurosim-output") / experiment.name
    _check_out(out, args.overwrite)
    options = {}
    if args.backend is not None:
        if not _accepts(experiment, "backend"):
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} runs no "
                              "simulation: --backend does not apply")
        if args.backend not in experiment.backends:
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} runs on "
                              f"{', '.join(experiment.backends)}, not {args.backend!r}")
        options["backend"] = args.backend
    if args.data is not None:
        if not _accepts(experiment, "data"):
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} runs on embedded "
                              "data only; it takes no --data")
        _check_data(args.data)
        options["data"] = args.data
    if args.config is not None:
        unknown = sorted(set(args.config) - set(_default_config(experiment, args.quick)))
        if unknown:
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} has no settings "
                              f"{unknown} (--config)")
        options["config"] = args.config
    mode = "quick" if args.quick else "full"
    backend = _backend_text(experiment, args.backend)
    print(f"Running {experiment.name} ({mode}{backend}, seed {args.seed})")
    result = _run_experiment(experiment, quick=args.quick, seed=args.seed, **options)
    if result is None:
        return 1
    command = _command_line(["run", experiment.name, *(["--quick"] if args.quick else []),
                             *(["--backend", options["backend"]] if "backend" in options else []),
                             "--seed", str(args.seed),
                             *(["--data", str(args.data)] if args.data is not None else []),
                             *(["--config", _quote_json(args.config)]
                               if args.config is not None else [])])
    files = _write_result(result, out, command=command)
    _print_metrics(result.metrics)
    print(f"Wrote {', '.join(files)} to {out}")
    return 0


def _cmd_demo(args):
    from neurosim.experiments import list_experiments

    out = args.out
    _check_out(out, args.overwrite)
    experiments = list_experiments()
    plan = []
    for experiment in experiments:
        backend = args.backend if experiment.backends else None
        if backend is not None and backend not in experiment.backends:
            backend = None  # this experiment's default backend
        plan.append((experiment, backend))
    jobs = min(args.jobs if args.jobs is not None else _default_jobs(), len(plan))
    if jobs <= 1:
        outcomes = _demo_serial(plan, out, args.seed)
    else:
        outcomes = _demo_parallel(plan, out, args.seed, jobs)
    done = [(e, o) for (e, _), o in zip(plan, outcomes) if o is not None]
    failed = [e for (e, _), o in zip(plan, outcomes) if o is None]
    report = _demo_report(done, failed, backend=args.backend, seed=args.seed)
    _write_bytes(out / "report.md", report.encode("utf-8"))
    print(f"Wrote {out / 'report.md'}"
          + (f"; {len(failed)} experiment(s) failed" if failed else ""))
    return 1 if failed else 0


class _DemoOutcome:
    """What the demo keeps of one experiment's run: its numbers, report and file names (a
    result's figures and dataset stay in the process that ran it)."""

    def __init__(self, result, files, seconds):
        self.metrics = dict(result.metrics)
        self.headline = list(result.headline or [])
        self.report = result.report
        self.files = files
        self.seconds = seconds


def _demo_label(experiment, backend, seed):
    return f"{experiment.name} (quick{_backend_text(experiment, backend)}, seed {seed})"


def _demo_one(experiment, backend, seed, out, *, progress):
    """Run one experiment in quick mode and write it into ``out/NAME``; None if it failed."""
    import time

    t0 = time.perf_counter()
    result = _run_experiment(experiment, quick=True, backend=backend, seed=seed,
                             progress=progress)
    if result is None:
        return None
    command = _command_line(["run", experiment.name, "--quick",
                             *(["--backend", backend] if backend is not None else []),
                             "--seed", str(seed)])
    files = _write_result(result, out / experiment.name, command=command)
    outcome = _DemoOutcome(result, files, time.perf_counter() - t0)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    return outcome


def _demo_serial(plan, out, seed):
    outcomes = []
    for k, (experiment, backend) in enumerate(plan, 1):
        print(f"[{k}/{len(plan)}] {_demo_label(experiment, backend, seed)}")
        outcome = _demo_one(experiment, backend, seed, out, progress=True)
        if outcome is not None:
            _print_metrics(outcome.metrics)
        outcomes.append(outcome)
    return outcomes


def _default_jobs():
    """One process per CPU core, at most 4 and at most one per 3 GB of available memory."""
    from neurosim._utils import available_memory, n_cores

    cores = n_cores()
    memory = available_memory()
    by_memory = cores if memory is None else max(1, memory // (3 * 1024**3))
    return max(1, min(cores, 4, by_memory))


def _demo_worker_init(threads):
    """Share the cores between the demo's processes: set before numpy, numba or torch load."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)


def _demo_worker(experiment, backend, seed, out):
    return _demo_one(experiment, backend, seed, out, progress=False)


def _by_name(experiment):
    """Whether a fresh process can load ``experiment``: its function and settings are given
    as ``"module:function"`` (a callable may live in a script or a test that a new process
    cannot import)."""
    return all(spec is None or isinstance(spec, str)
               for spec in (experiment.function, experiment.config))


def _demo_parallel(plan, out, seed, jobs):
    """Run the experiments ``jobs`` at a time, each in a fresh process (spawned: no state of
    this one is shared); report each as it finishes, keep the results in ``plan``'s order.
    An experiment given as callables rather than ``"module:function"`` names runs in this
    process afterwards."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from neurosim._utils import n_cores

    threads = max(1, n_cores() // jobs)
    print(f"Running {len(plan)} experiments, {jobs} at a time ({threads} thread(s) each; "
          "--jobs 1 runs them one by one with progress bars)")
    outcomes = [None] * len(plan)
    finished = 0
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_demo_worker_init, initargs=(threads,))
    try:
        local = [k for k, (e, _) in enumerate(plan) if not _by_name(e)]
        pending = {pool.submit(_demo_worker, e, b, seed, out): k
                   for k, (e, b) in enumerate(plan) if k not in local}
        while pending:
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in ready:
                k = pending.pop(future)
                experiment, backend = plan[k]
                outcome = future.result()  # an unexpected error stops the demo, as with --jobs 1
                finished += 1
                label = _demo_label(experiment, backend, seed)
                if outcome is None:
                    print(f"[{finished}/{len(plan)}] {label}: failed")
                    continue
                print(f"[{finished}/{len(plan)}] {label}: {outcome.seconds:.0f} s")
                _print_metrics(outcome.metrics)
                outcomes[k] = outcome
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    for k in local:
        experiment, backend = plan[k]
        finished += 1
        print(f"[{finished}/{len(plan)}] {_demo_label(experiment, backend, seed)} (in this "
              "process)")
        outcomes[k] = _demo_one(experiment, backend, seed, out, progress=True)
        if outcomes[k] is not None:
            _print_metrics(outcomes[k].metrics)
    return outcomes


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _check_out(out, overwrite):
    """Refuse an output path that is a file, a non-empty folder without ``--overwrite``, or a
    place where no file can be written; nothing is created."""
    if out.exists() and not out.is_dir():
        raise _UsageError(f"{_PROG}: error: output path {str(out)!r} is a file, not a folder")
    if out.is_dir() and not overwrite and any(out.iterdir()):
        raise _UsageError(f"{_PROG}: error: output folder {str(out)!r} is not empty; pass "
                          "--overwrite to replace its files, or choose another --out")
    folder = out.absolute()
    while not folder.exists():  # the folder that will hold the new ones
        folder = folder.parent
    if not folder.is_dir():
        raise _UsageError(f"{_PROG}: error: cannot create output folder {str(out)!r}: "
                          f"{str(folder)!r} is a file")
    try:  # write a probe file: permissions alone miss read-only mounts, and root ignores them
        import tempfile

        with tempfile.TemporaryFile(dir=folder, prefix=".neurosim-probe-"):
            pass
    except OSError as err:
        raise _UsageError(f"{_PROG}: error: cannot write into {str(folder)!r} (for --out "
                          f"{str(out)!r}): {err.strerror or err}") from None


def _check_data(path):
    """Refuse a ``--data`` path that does not exist or cannot be read."""
    import os

    if not path.exists():
        raise _UsageError(f"{_PROG}: error: --data {str(path)!r} does not exist")
    try:
        if path.is_dir():
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
    except OSError as err:
        raise _UsageError(f"{_PROG}: error: --data {str(path)!r} cannot be read: "
                          f"{err.strerror or err}") from None


def _loaded(experiment, call):
    """``call()``, with an experiment whose module cannot be imported as a usage error."""
    try:
        return call()
    except ImportError as err:
        raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} cannot be loaded: "
                          f"{err}") from None


def _accepts(experiment, option):
    return _loaded(experiment, lambda: experiment.accepts(option))


def _default_config(experiment, quick):
    return _loaded(experiment, lambda: experiment.default_config(quick))


def _backend_text(experiment, backend):
    if not experiment.backends:
        return ""
    return f", {backend if backend is not None else experiment.backends[0]} backend"


def _quote_json(value):
    import json
    import shlex

    return shlex.quote(json.dumps(value))


def _run_experiment(experiment, **kwargs):
    """Run ``experiment``; on an expected failure print one line and return None.

    A file the readers refuse (:class:`~neurosim.datasets.DataFormatError`), with ``--data``
    any ValueError or missing file, and with ``--config`` any ValueError, are the user's: a
    usage error (exit status 2). Without either, a ValueError is a bug: its traceback is
    printed."""
    _use_agg()
    data, config = kwargs.get("data"), kwargs.get("config")
    kwargs.setdefault("progress", True)
    try:
        return experiment.run(**kwargs)
    except (ValueError, FileNotFoundError, KeyError) as err:
        if _is_data_format_error(err) or data is not None:
            where = f" with --data {str(data)!r}" if data is not None else ""
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} cannot use its "
                              f"data{where}: {_one_line(err)}") from None
        if config is not None and isinstance(err, ValueError):
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} cannot run with "
                              f"--config {_quote_json(config)}: {_one_line(err)}") from None
        raise
    except (ImportError, NotImplementedError, OSError, MemoryError) as err:
        print(f"{_PROG}: error: experiment {experiment.name!r} failed: "
              f"{type(err).__name__}: {err}", file=sys.stderr)
        return None


def _is_data_format_error(err):
    datasets = sys.modules.get("neurosim.datasets")
    return datasets is not None and isinstance(err, datasets.DataFormatError)


def _one_line(err):
    text = " ".join(str(err).split())
    if isinstance(err, KeyError) and not _is_data_format_error(err):
        text = f"missing key {text}"
    return text


def _use_agg():
    """Draw with the non-interactive Agg backend (unless pyplot is already in use)."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")


def _write_result(result, out, *, command):
    """Write results.nc, the figures (PNG) and report.md into ``out``; return the file names."""
    from neurosim import __version__
    from neurosim.results import save

    out.mkdir(parents=True, exist_ok=True)
    save(result.dataset, out / "results.nc", overwrite=True)
    files = ["results.nc"]
    for stem, fig in result.figures.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        _write_bytes(out / f"{stem}.png", buf.getvalue())
        files.append(f"{stem}.png")
    figures = "".join(f"![{stem}]({stem}.png)\n\n" for stem in result.figures)
    report = (
        f"{result.report.rstrip()}\n\n"
        + (f"## Figures\n\n{figures}" if figures else "")
        + "## Files\n\n"
        + "".join(f"- `{name}`\n" for name in [*files, "report.md"])
        + "\nLoad the results with `neurosim.results.load(\"results.nc\")`.\n\n"
        + f"Command: `{command}` (neurosim {__version__})\n"
    )
    _write_bytes(out / "report.md", report.encode("utf-8"))
    files.append("report.md")
    return files


def _write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    from neurosim._utils import atomic_write

    with atomic_write(path, overwrite=True) as tmp:
        tmp.write_bytes(data)


def _command_line(args):
    return " ".join([_PROG, *args])


def _print_metrics(metrics):
    for key, value in metrics.items():
        print(f"  {key}: {value:.4g}")


def _demo_report(done, failed, *, backend, seed):
    from neurosim import __version__

    sims = f"the {backend or 'numba'} backend for the simulations, "
    lines = [
        "# neurosim demo",
        "",
        f"Every experiment in quick mode ({sims}seed {seed}; neurosim {__version__}). Per "
        "experiment, its headline numbers next to what they are compared with; each folder "
        "holds `results.nc`, the figures and the experiment's own `report.md`, which opens with "
        "what the numbers show and gives the full set.",
        "",
        "| experiment | number | value | compared with | value |",
        "|---|---|---|---|---|",
    ]
    for experiment, result in done:
        link = f"[{experiment.name}]({experiment.name}/report.md)"
        rows = result.headline or []
        if not rows:
            lines.append(f"| {link} | see its report | | | |")
        for k, h in enumerate(rows):
            lines.append(f"| {link if k == 0 else ''} | {h.what} | {h.format(h.value)} "
                         f"| {h.reference} | {h.format(h.reference_value)} |")
    for experiment in failed:
        lines.append(f"| {experiment.name} | failed (see the log) | | | |")
    lines.append("")
    for experiment, result in done:
        body = result.report.strip().splitlines()
        # demote the experiment's headings one level under this report's title
        body = [f"#{line}" if line.startswith("#") else line for line in body]
        lines += [*body, ""]
        for f in result.files:
            if f.endswith(".png"):
                lines += [f"![{f[:-4]}]({experiment.name}/{f})", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# sweep (issue #19)
# --------------------------------------------------------------------------------------------
def _param(text):
    from neurosim.sweep import parse_values

    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"must be KEY=V1,V2,..., got {text!r}")
    try:
        return key.strip(), parse_values(values)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _seeds(text):
    from neurosim.sweep import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_sweep_parser(sub, names):
    p = sub.add_parser(
        "sweep", help="run one experiment over a grid of parameters and seeds, on Dask",
        description="Run one experiment at every combination of the --param values and every "
                    "seed, on a Dask cluster (a local one by default); write each point, then "
                    "the combined sweep.nc, into --out. Run again with the same --out, it "
                    "computes only the missing points.")
    p.add_argument("name", metavar="NAME", help=f"experiment name ({names})")
    p.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=V1,V2",
                   help="a parameter of the experiment and its values (repeat for a grid), "
                        "e.g. --param backend=numba,brian2")
    p.add_argument("--seeds", type=_seeds, default=[0], metavar="SEEDS",
                   help="START:STOP (STOP excluded) or a list 1,5,7 (default: 0)")
    p.add_argument("--quick", action="store_true", help="run the small, fast version of each point")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                            "(default: a local cluster)")
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes of the local cluster (default: one per core)")
    where.add_argument("--serial", action="store_true",
                       help="no Dask: run the points one after the other in this process")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for --scheduler (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: ./neurosim-sweep/NAME)")


def _cmd_sweep(args):
    from neurosim import sweep as sweep_module

    experiment = _get_experiment(args.name)
    if not args.param:
        raise _UsageError(f"{_PROG}: error: sweep needs at least one --param KEY=V1,V2")
    grid = {}
    for key, values in args.param:
        if key in grid:
            raise _UsageError(f"{_PROG}: error: --param {key} is given twice")
        grid[key] = values
    if args.workers is not None and args.workers < 1:
        raise _UsageError(f"{_PROG}: error: --workers must be >= 1, got {args.workers}")
    if not args.timeout > 0:
        raise _UsageError(f"{_PROG}: error: --timeout must be > 0, got {args.timeout}")
    options = {"quick": True} if args.quick else {}
    out = args.out if args.out is not None else Path("neurosim-sweep") / experiment.name
    try:  # every check before anything runs
        grid = sweep_module._check_grid(grid)
        target = sweep_module._Target(experiment.name, options, None)
        target.check_keys(grid, what="--param")
        if "quick" in grid and args.quick:
            raise ValueError("--quick and --param quick=... are both given")
        if out.exists() and not out.is_dir():
            raise ValueError(f"output path {str(out)!r} is a file, not a folder")
    except (ValueError, TypeError) as err:
        raise _UsageError(f"{_PROG}: error: {err}") from None
    except ImportError as err:
        raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} cannot be loaded: "
                          f"{err}") from None
    client = None
    if args.serial:
        client = False
    elif args.scheduler is not None:
        client = args.scheduler
    elif args.workers is not None:
        from dask.distributed import LocalCluster

        client = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                              dashboard_address=":0")
    _use_agg()
    try:
        ds = sweep_module.sweep(experiment.name, grid, args.seeds, client=client, out=out,
                                options=options, timeout=args.timeout)
    except ConnectionError as err:
        print(f"{_PROG}: error: {err}", file=sys.stderr)
        return 1
    except (FileExistsError, NotADirectoryError) as err:
        raise _UsageError(f"{_PROG}: error: {err}") from None
    sizes = ", ".join(f"{d}={n}" for d, n in ds.sizes.items() if d in (*grid, "seed"))
    print(f"Wrote {out / 'sweep.nc'} ({sizes}); points in {out / 'points'}")
    metrics = [v for v in ds.data_vars if v.startswith("metric_")]
    if metrics:
        import numpy as np

        table = ds[metrics].mean("seed")
        for name in metrics:
            print(f"  {name[len('metric_'):]} (mean over seeds):")
            da = table[name]
            for idx in np.ndindex(*da.shape):
                where = ", ".join(f"{d}={da[d].values[i]}" for d, i in zip(da.dims, idx))
                print(f"    {where}: {float(da.values[idx]):.4g}")
    return 0
