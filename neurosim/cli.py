"""The ``neurosim`` command.

::

    neurosim list
    neurosim run NAME [--quick] [--backend numba|brian2] [--seed N] [--out DIR] [--overwrite]
                      [--data PATH] [--config NAME]
    neurosim demo [--out DIR] [--backend numba|brian2] [--seed N] [--overwrite]

``run`` runs one experiment (see ``neurosim list``) and writes ``results.nc`` (NetCDF, read it
with :func:`neurosim.results.load`), its figures as PNG and a short ``report.md`` into ``--out``
(default ``./neurosim-output/NAME``); ``--data PATH`` runs it on a real data set on disk, for the
experiments that support one (``decode-histn`` on ``DREAMER.mat``), and ``--config NAME`` picks
a named configuration (``paper`` or ``small`` for ``decode-histn`` and ``decode-brainflora``).
``demo`` runs every
experiment in quick mode, each into ``DIR/NAME``, and writes ``DIR/report.md`` summarising them
all (default ``./neurosim-demo``).
Neither writes into a folder that is not empty unless given ``--overwrite``, which replaces the
files of the same names and leaves other files alone.

Exit status: 0 on success, 2 for a usage error or a refused output folder (nothing written),
1 when an experiment fails, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import uuid
from pathlib import Path

__all__ = ["main"]

_PROG = "neurosim"
_USAGE_ERROR = 2


class _UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
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
        p.add_argument("--backend", choices=backends, default="numba",
                       help="simulation backend (default: %(default)s)")
        p.add_argument("--seed", type=_seed, default=0,
                       help="random seed, a non-negative integer (default: %(default)s)")
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
                          "(only for the experiments that support it, e.g. decode-histn with "
                          "DREAMER.mat)")
    run.add_argument("--config", default=None, metavar="NAME",
                     help="named configuration of the experiments that have several, e.g. "
                          "'paper' (the paper's model and training, the default with --data) or "
                          "'small' (CPU-sized) for decode-histn and decode-brainflora")
    add_common(run)

    demo = sub.add_parser(
        "demo", help="run every experiment in quick mode",
        description="Run every experiment in quick mode, each into DIR/NAME, and write "
                    "DIR/report.md summarising them.")
    demo.add_argument("--out", type=Path, default=Path("neurosim-demo"), metavar="DIR",
                      help="output folder (default: ./neurosim-demo)")
    add_common(demo)
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
            raise _UsageError(f"{_PROG}: error: a command is required: list, run or demo "
                              f"(see '{_PROG} --help')")
        if args.command == "list":
            return _cmd_list()
        if args.command == "run":
            return _cmd_run(args)
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
    if args.data is not None:
        if not _accepts(experiment, "data"):
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} runs on embedded "
                              "data only; it takes no --data")
        if not args.data.exists():
            raise _UsageError(f"{_PROG}: error: --data {str(args.data)!r} does not exist")
        options["data"] = args.data
    if args.config is not None:
        if not _accepts(experiment, "config"):
            raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} has one "
                              "configuration; it takes no --config")
        options["config"] = args.config
    mode = "quick" if args.quick else "full"
    print(f"Running {experiment.name} ({mode}, {args.backend} backend, seed {args.seed})")
    result = _run_experiment(experiment, quick=args.quick, backend=args.backend, seed=args.seed,
                             **options)
    if result is None:
        return 1
    command = _command_line(["run", experiment.name, *(["--quick"] if args.quick else []),
                             "--backend", args.backend, "--seed", str(args.seed),
                             *(["--data", str(args.data)] if args.data is not None else []),
                             *(["--config", args.config] if args.config is not None else [])])
    files = _write_result(result, out, command=command)
    _print_metrics(result.metrics)
    print(f"Wrote {', '.join(files)} to {out}")
    return 0


def _cmd_demo(args):
    from neurosim.experiments import list_experiments

    out = args.out
    _check_out(out, args.overwrite)
    experiments = list_experiments()
    done, failed = [], []
    for k, experiment in enumerate(experiments, 1):
        print(f"[{k}/{len(experiments)}] {experiment.name} "
              f"(quick, {args.backend} backend, seed {args.seed})")
        result = _run_experiment(experiment, quick=True, backend=args.backend, seed=args.seed)
        if result is None:
            failed.append(experiment)
            continue
        command = _command_line(["run", experiment.name, "--quick", "--backend", args.backend,
                                 "--seed", str(args.seed)])
        files = _write_result(result, out / experiment.name, command=command)
        _print_metrics(result.metrics)
        done.append((experiment, result, files))
    report = _demo_report(done, failed, backend=args.backend, seed=args.seed)
    _write_bytes(out / "report.md", report.encode("utf-8"))
    print(f"Wrote {out / 'report.md'}"
          + (f"; {len(failed)} experiment(s) failed" if failed else ""))
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _check_out(out, overwrite):
    """Refuse an output path that is a file, or a non-empty folder without ``--overwrite``."""
    if out.exists() and not out.is_dir():
        raise _UsageError(f"{_PROG}: error: output path {str(out)!r} is a file, not a folder")
    if out.is_dir() and not overwrite and any(out.iterdir()):
        raise _UsageError(f"{_PROG}: error: output folder {str(out)!r} is not empty; pass "
                          "--overwrite to replace its files, or choose another --out")


def _accepts(experiment, option):
    try:
        return experiment.accepts(option)
    except ImportError as err:
        raise _UsageError(f"{_PROG}: error: experiment {experiment.name!r} cannot be loaded: "
                          f"{err}") from None


def _run_experiment(experiment, **kwargs):
    """Run ``experiment``; on an expected failure print one line and return None."""
    _use_agg()
    try:
        return experiment.run(progress=True, **kwargs)
    except (ImportError, NotImplementedError, OSError, MemoryError) as err:
        print(f"{_PROG}: error: experiment {experiment.name!r} failed: "
              f"{type(err).__name__}: {err}", file=sys.stderr)
        return None


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
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _command_line(args):
    return " ".join([_PROG, *args])


def _print_metrics(metrics):
    for key, value in metrics.items():
        print(f"  {key}: {value:.4g}")


def _demo_report(done, failed, *, backend, seed):
    from neurosim import __version__

    lines = [
        "# neurosim demo",
        "",
        f"Every experiment in quick mode on the {backend} backend, seed {seed} "
        f"(neurosim {__version__}). Each folder holds `results.nc`, the figures and its own "
        "`report.md`.",
        "",
        "| experiment | summary | key numbers | status |",
        "|---|---|---|---|",
    ]
    for experiment, result, _ in done:
        numbers = ", ".join(f"{k} = {v:.4g}" for k, v in result.metrics.items())
        lines.append(f"| [{experiment.name}]({experiment.name}/report.md) | {experiment.summary} "
                     f"| {numbers} | ok |")
    for experiment in failed:
        lines.append(f"| {experiment.name} | {experiment.summary} | | failed |")
    lines.append("")
    for experiment, result, files in done:
        body = result.report.strip().splitlines()
        # demote the experiment's headings one level under this report's title
        body = [f"#{line}" if line.startswith("#") else line for line in body]
        lines += [*body, ""]
        for f in files:
            if f.endswith(".png"):
                lines += [f"![{f[:-4]}]({experiment.name}/{f})", ""]
    return "\n".join(lines)
