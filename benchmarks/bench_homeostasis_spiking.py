"""Benchmark: the homeostatic spiking network on numba against Brian2, in one run.

The network of :func:`neurosim.homeostasis.homeostatic_network` (LIF, 80 % excitatory, Poisson
input, adaptive thresholds and synaptic scaling of the input and excitatory synapses), pushed
3x above its set point, simulated for ``duration`` ms on the numba backend and on the Brian2
backend (same description, independent Poisson draws), interleaved, best of ``--repeat``. Each
case prints one JSON line: run times (simulation only; Brian2's code generation and compilation
are reported apart as ``brian2_build_s``), CPU times, the ratio ``brian2_over_numba`` (> 1: numba
is faster) and both backends' mean rates with their relative difference.

Cases: ``small`` (200 neurons, dt 0.5 ms, 5 s; Brian2 numpy target, no compiler) and ``full``
(1,000 neurons, dt 0.1 ms, 5 s; Brian2 cython target; the first cython run in a fresh
environment compiles for minutes, which is why the build time is reported apart).

Usage::

    python benchmarks/bench_homeostasis_spiking.py [--cases small,full] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

CASES = {
    "small": {"n": 200, "p": 0.5, "dt": 0.5, "duration": 5000.0, "target": "numpy",
              "input_rate": 920.0},
    "full": {"n": 1000, "p": 0.1, "dt": 0.1, "duration": 5000.0, "target": "cython",
             "input_rate": 900.0},
}


def _one(net, case, backend):
    from neurosim.backends import run

    opts = {"target": case["target"]} if backend == "brian2" else {}
    c0, t0 = time.process_time(), time.perf_counter()
    ds = run(net, case["duration"], case["dt"], backend=backend, random_state=0, **opts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = ds.sizes["spike"] / case["n"] / (case["duration"] / 1000)
    return {"run_s": float(ds.attrs["info_run_time_s"]),
            "build_s": float(ds.attrs.get("info_build_time_s", 0.0)),
            "wall_s": wall, "cpu_s": cpu, "rate_hz": rate}


def bench(name, repeat):
    from neurosim.homeostasis import homeostatic_network

    case = CASES[name]
    net = homeostatic_network(case["n"], p=case["p"], input_rate=case["input_rate"],
                              record_every=None, random_state=0)
    _one(net, case, "numba")  # compile / load the kernels
    best = {"numba": None, "brian2": None}
    for _ in range(repeat):
        for backend in ("numba", "brian2"):  # interleaved: load hits both alike
            r = _one(net, case, backend)
            if best[backend] is None or r["run_s"] < best[backend]["run_s"]:
                best[backend] = r
    a, b = best["numba"], best["brian2"]
    return {
        "case": f"homeostasis-spiking-{name}", "n": case["n"], "dt_ms": case["dt"],
        "duration_ms": case["duration"], "brian2_target": case["target"],
        "numba_run_s": round(a["run_s"], 4), "brian2_run_s": round(b["run_s"], 4),
        "brian2_build_s": round(b["build_s"], 3),
        "numba_cpu_s": round(a["cpu_s"], 4), "brian2_cpu_s": round(b["cpu_s"], 4),
        "brian2_over_numba": round(b["run_s"] / a["run_s"], 2),
        "numba_rate_hz": round(a["rate_hz"], 3), "brian2_rate_hz": round(b["rate_hz"], 3),
        "rate_rel_diff": round(abs(b["rate_hz"] - a["rate_hz"]) / a["rate_hz"], 4),
        "repeat": repeat,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="small,full")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    for name in args.cases.split(","):
        if name not in CASES:
            raise SystemExit(f"unknown case {name!r}; expected one of {sorted(CASES)}")
        print(json.dumps(bench(name, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
