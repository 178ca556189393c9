"""Data sets: reading NSD-session-sized HDF5 files, and memory while a torch dataset streams them.

An NSD session holds 750 trials; ``nsdgeneral`` has about 15,000 voxels (12,682-17,907 across
subjects). Each case writes such sessions to temporary HDF5 files (``betas``, float32, one chunk
per trial, as in MindEye2's ``betas_all`` files) and prints one JSON line:

- ``read-session``: a whole session into memory, :func:`neurosim.datasets.load_nsd_mindeye2`
  (an :class:`xarray.Dataset`) against plain ``h5py`` (``f["betas"][:]``); best of ``--repeat``.
- ``iterate-session``: every trial as a tensor, ``as_torch_dataset(path)`` items against a plain
  ``h5py`` loop (``torch.from_numpy(d[i])``), and through a ``DataLoader`` (batch 64) against a
  plain ``TensorDataset`` holding the session in memory.
- ``stream-sessions``: a ``DataLoader`` over ``as_torch_dataset([40 session files])`` in a fresh
  process; peak traced allocations (``tracemalloc``: numpy and Python) and peak resident-memory
  growth (``psutil``, sampled every 5 ms) during the pass, against the bytes of ONE session. The
  issue's target: both below 2x one session.

Usage: ``python benchmarks/bench_datasets.py [--quick] [--repeat 3] [--sessions 40]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

N_TRIALS, N_VOXELS = 750, 15000


def _write_sessions(folder, n_sessions, n_trials, n_voxels):
    import h5py

    rng = np.random.default_rng(0)
    paths = []
    block = rng.standard_normal((n_trials, n_voxels), dtype=np.float32)
    for s in range(n_sessions):
        path = Path(folder) / f"betas_session{s + 1:02d}.hdf5"
        with h5py.File(path, "w") as f:
            f.create_dataset("betas", data=block + s, chunks=(1, n_voxels))
        paths.append(path)
    return paths


def _best(fn, repeat):
    fn()  # warm-up: imports and file-system caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_read(path, repeat):
    import h5py
    from neurosim.datasets import load_nsd_mindeye2

    def plain():
        with h5py.File(path, "r") as f:
            return f["betas"][:]

    ours = _best(lambda: load_nsd_mindeye2(path), repeat)
    ref = _best(plain, repeat)
    return {"case": "read-session", "neurosim_s": ours, "h5py_s": ref, "ratio": ours / ref}


def bench_iterate(path, repeat):
    import h5py
    import torch
    from neurosim.datasets import as_torch_dataset

    def ours_items():
        ds = as_torch_dataset(path)
        for i in range(len(ds)):
            ds[i]

    def plain_items():
        with h5py.File(path, "r") as f:
            d = f["betas"]
            for i in range(d.shape[0]):
                torch.from_numpy(d[i])

    def ours_loader():
        for _ in torch.utils.data.DataLoader(as_torch_dataset(path), batch_size=64):
            pass

    with h5py.File(path, "r") as f:
        tensor = torch.from_numpy(f["betas"][:])

    def memory_loader():
        for _ in torch.utils.data.DataLoader(torch.utils.data.TensorDataset(tensor), batch_size=64):
            pass

    a, b = _best(ours_items, repeat), _best(plain_items, repeat)
    c, d = _best(ours_loader, repeat), _best(memory_loader, repeat)
    return {
        "case": "iterate-session",
        "neurosim_items_s": a,
        "h5py_items_s": b,
        "ratio": a / b,
        "neurosim_loader_s": c,
        "in_memory_loader_s": d,
        "loader_ratio": c / d,
    }


_STREAM = """
import json, sys, threading, time, tracemalloc
import psutil, torch
from neurosim.datasets import as_torch_dataset
paths = {paths!r}
ds = as_torch_dataset(paths)
loader = torch.utils.data.DataLoader(ds, batch_size=64)
proc = psutil.Process()
cold = proc.memory_info().rss
next(iter(loader))  # warm-up: lazy imports and one-time allocations of the first batch
base = proc.memory_info().rss
peak = [base]
done = [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.005)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
tracemalloc.start()
t0 = time.perf_counter()
n = 0
for (x,) in loader:
    n += len(x)
elapsed = time.perf_counter() - t0
traced = tracemalloc.get_traced_memory()[1]
done[0] = True
thread.join()
print(json.dumps({{"items": n, "s": elapsed, "traced_peak": traced, "rss_growth": peak[0] - base,
                  "rss_growth_with_warmup": peak[0] - cold}}))
"""


def bench_stream(paths, n_trials, n_voxels):
    code = textwrap.dedent(_STREAM.format(paths=[str(p) for p in paths]))
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    r = json.loads(out.stdout.strip().splitlines()[-1])
    session = n_trials * n_voxels * 4
    return {
        "case": "stream-sessions",
        "sessions": len(paths),
        "items": r["items"],
        "seconds": r["s"],
        "session_bytes": session,
        "all_sessions_bytes": session * len(paths),
        "traced_peak_bytes": r["traced_peak"],
        "rss_growth_bytes": r["rss_growth"],
        "rss_growth_with_warmup_bytes": r["rss_growth_with_warmup"],
        "traced_peak_over_session": r["traced_peak"] / session,
        "rss_growth_over_session": r["rss_growth"] / session,
        "target_met": bool(max(r["traced_peak"], r["rss_growth"]) < 2 * session),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 sessions of 750 x 2,000, 1 repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=40)
    args = parser.parse_args(argv)
    n_voxels = 2000 if args.quick else N_VOXELS
    n_sessions = 4 if args.quick else args.sessions
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_sessions(tmp, n_sessions, N_TRIALS, n_voxels)
        for result in (
            bench_read(paths[0], repeat),
            bench_iterate(paths[0], repeat),
            bench_stream(paths, N_TRIALS, n_voxels),
        ):
            result.update(n_trials=N_TRIALS, n_voxels=n_voxels)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
