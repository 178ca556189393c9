"""Spiking engine: neurosim's numba backend against Brian2 (cython runtime and cpp_standalone).

Runs the Izhikevich (2003) network from the public builder through ``neurosim.backends.run`` --
the code users run -- and prints one JSON line per case.

Part 1, ``case`` = ``dense-1000`` (N=1,000, p=1) and ``sparse-10000`` (N=10,000, p=0.02), dt=0.5
ms, 5 s simulated:

- ``numba_run_s``: wall time of ``run(...)`` with warm JIT caches (best of ``--repeat``);
- ``numba_first_run_s``: the same call in a fresh process with an empty numba cache, so JIT
  compilation included;
- ``brian2_runtime_run_s``: Brian2 cython runtime, simulation only (code generation and compilation
  done beforehand by a zero-length run);
- ``brian2_standalone_run_s``: Brian2 ``cpp_standalone``, the simulation loop as timed by Brian2;
- ``brian2_standalone_total_s``: wall time of the standalone ``run(...)``: code generation,
  compilation and run;
- ``rate_hz_numba``/``rate_hz_brian2``: mean firing rates (each backend draws its own noise, so
  only statistics compare).

Part 2, ``case`` = ``scaling-N``: N from 1,000 to 100,000 at 200 synapses per neuron on average
(p = 200/N), 1 s simulated; run time and peak memory of numba and of Brian2's cython runtime, each
measured in a fresh process, and the bytes of the numba run's own arrays (synapses in CSR form and
neuron state).

Part 3, ``case`` = ``cuba-4000``, ``coba-4000`` and ``stdp-cuba-4000`` (the CUBA/COBA benchmarks
of Brette et al. 2007, 4,000 neurons, 10 s simulated, dt = 0.1 ms; ``stdp-cuba-4000`` adds additive
STDP on every excitatory synapse). neurosim's numba run against plain Brian2 code on the same draw
(:func:`neurosim.backends.brian2_reference`, Brian2's own example equations) on the cython runtime
and the cpp_standalone device, the three interleaved ``--repeat`` times so that machine load hits
all alike (best of each is reported):

- ``numba_run_s``, ``brian2_cython_run_s``, ``brian2_standalone_run_s`` (Brian2's own timer),
  ``brian2_standalone_total_s`` (code generation, compilation and run);
- ``numba_vs_standalone_run`` (target <= 0.6) and ``rate_rel_diff`` (target <= 0.05);
- ``numba_first_run_s`` (fresh process, empty JIT cache) and ``numba_first_vs_standalone_total``;
- for ``stdp-cuba-4000``: ``numba_static_run_s`` and ``plastic_over_static`` (target <= 2).

Usage: ``python benchmarks/bench_spiking.py [--quick] [--repeat 3] [--skip-brian2-scaling]
[--part 1|2|3|all]``.
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

import numpy as np

DT = 0.5


def _child(code, env=None):
    """Run ``code`` in a fresh interpreter; it prints one JSON object on its last line."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env={**os.environ, **(env or {})}, check=False)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


_BUILD = """
import json, time, resource, numpy as np
from neurosim.spiking import izhikevich_network
from neurosim.backends import run
net = izhikevich_network({n}, {p}, dt={dt}, random_state=0)
"""


def first_run_numba(n, p, duration):
    """numba run in a fresh process with an empty JIT cache."""
    with tempfile.TemporaryDirectory() as cache:
        code = _BUILD.format(n=n, p=p, dt=DT) + f"""
t0 = time.perf_counter()
ds = run(net, {duration}, {DT}, random_state=1)
print(json.dumps({{"s": time.perf_counter() - t0}}))
"""
        return _child(code, env={"NUMBA_CACHE_DIR": cache})["s"]


def part1(quick, repeat):
    from neurosim.backends import run
    from neurosim.spiking import izhikevich_network

    duration = 1000.0 if quick else 5000.0
    cases = [("dense-1000", 1000, 1.0), ("sparse-10000", 10000, 0.02)]
    for case, n, p in cases:
        net = izhikevich_network(n, p, dt=DT, random_state=0)
        run(net, 10.0, DT)  # warm the JIT cache
        best, ds = float("inf"), None
        for _ in range(repeat):
            t0 = time.perf_counter()
            ds = run(net, duration, DT, random_state=1)
            best = min(best, time.perf_counter() - t0)
        rate_numba = ds.sizes["spike"] / n / (duration / 1000)
        first = first_run_numba(n, p, duration)
        rt = run(net, duration, DT, backend="brian2", target="cython", random_state=1)
        t0 = time.perf_counter()
        sa = run(net, duration, DT, backend="brian2", device="cpp_standalone", random_state=1)
        sa_total = time.perf_counter() - t0
        rate_b2 = sa.sizes["spike"] / n / (duration / 1000)
        row = {
            "case": case, "n": n, "p": p, "duration_ms": duration, "dt_ms": DT,
            "n_synapses": int(ds.attrs["n_synapses"]),
            "numba_run_s": round(best, 4),
            "numba_first_run_s": round(first, 3),
            "brian2_runtime_run_s": round(rt.attrs["info_run_time_s"], 4),
            "brian2_standalone_run_s": round(sa.attrs["info_run_time_s"], 4),
            "brian2_standalone_total_s": round(sa_total, 3),
            "rate_hz_numba": round(rate_numba, 3),
            "rate_hz_brian2": round(rate_b2, 3),
            "rate_hz_brian2_runtime": round(rt.sizes["spike"] / n / (duration / 1000), 3),
        }
        row["numba_vs_standalone_run"] = round(best / row["brian2_standalone_run_s"], 3)
        row["numba_first_vs_standalone_total"] = round(first / sa_total, 3)
        row["rate_rel_diff"] = round(abs(rate_numba - rate_b2) / rate_b2, 4)
        print(json.dumps(row), flush=True)


_MEASURE = """
import gc, resource
gc.collect()
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""


def scaling_numba(n, duration):
    code = _MEASURE + _BUILD.format(n=n, p=200.0 / n, dt=DT) + f"""
run(net, 10.0, {DT})  # JIT cache loaded; also the first allocation of everything
gc.collect()
base = rss()
# ru_maxrss cannot be reset: measure the run's peak as growth of the process peak, when the run
# allocates more than anything before it did; also report the arrays the run owns
before_peak = peak()
t0 = time.perf_counter()
ds = run(net, {duration}, {DT}, random_state=1)
wall = time.perf_counter() - t0
syn = net.synapses[0]
own = syn.j.nbytes + syn.w.nbytes + (net.n_neurons + 1) * 8 + net.n_neurons * 8 * 16
print(json.dumps({{"run_s": wall, "rss_before": base, "peak_before": before_peak,
                   "peak_after": peak(), "own_bytes": own, "desc_bytes": syn.i.nbytes,
                   "rate": ds.sizes["spike"] / {n} / ({duration} / 1000)}}))
"""
    return _child(code)


def scaling_brian2(n, duration):
    code = _MEASURE + _BUILD.format(n=n, p=200.0 / n, dt=DT) + f"""
import brian2  # imported before the baseline, as numba is for the numba case
gc.collect()
base = rss()
t0 = time.perf_counter()
ds = run(net, {duration}, {DT}, backend="brian2", target="cython", random_state=1)
wall = time.perf_counter() - t0
print(json.dumps({{"run_s": ds.attrs["info_run_time_s"], "total_s": wall, "rss_before": base,
                   "peak_after": peak(),
                   "rate": ds.sizes["spike"] / {n} / ({duration} / 1000)}}))
"""
    return _child(code)


def part2(quick, skip_brian2):
    sizes = [1000, 10000] if quick else [1000, 10000, 30000, 100000]
    duration = 1000.0
    for n in sizes:
        nb = scaling_numba(n, duration)
        # peak memory of the run: how far the process peak rose above the RSS before it
        numba_peak = max(nb["peak_after"] - nb["rss_before"], 0)
        row = {
            "case": f"scaling-{n}", "n": n, "synapses_per_neuron": 200, "duration_ms": duration,
            "numba_run_s": round(nb["run_s"], 4),
            "numba_own_bytes": nb["own_bytes"],
            "numba_run_peak_extra_bytes": numba_peak,
            "numba_run_peak_over_own": round(numba_peak / nb["own_bytes"], 3),
            "numba_process_peak_bytes": nb["peak_after"],
            "rate_hz_numba": round(nb["rate"], 3),
        }
        if not skip_brian2:
            b2 = scaling_brian2(n, duration)
            row["brian2_runtime_run_s"] = round(b2["run_s"], 4)
            row["brian2_total_s"] = round(b2["total_s"], 3)
            row["brian2_run_peak_extra_bytes"] = b2["peak_after"] - b2["rss_before"]
            row["brian2_process_peak_bytes"] = b2["peak_after"]
            row["rate_hz_brian2"] = round(b2["rate"], 3)
        print(json.dumps(row), flush=True)


def first_run_cuba(model, duration, stdp):
    """numba run of CUBA/COBA in a fresh process with an empty JIT cache."""
    with tempfile.TemporaryDirectory() as cache:
        code = f"""
import json, time
from neurosim.spiking import STDP, coba_network, cuba_network
from neurosim.backends import run
rule = STDP(a_plus=0.01, a_minus=0.0105, w_max=5.0) if {stdp} else None
net = (cuba_network(4000, plasticity=rule, random_state=0) if "{model}" == "cuba"
       else coba_network(4000, random_state=0))
t0 = time.perf_counter()
run(net, {duration}, 0.1)
print(json.dumps({{"s": time.perf_counter() - t0}}))
"""
        return _child(code, env={"NUMBA_CACHE_DIR": cache})["s"]


def part3(quick, repeat):
    from neurosim.backends import brian2_reference, run
    from neurosim.spiking import STDP, coba_network, cuba_network

    duration = 1000.0 if quick else 10000.0
    for case in ("cuba-4000", "coba-4000", "stdp-cuba-4000"):
        stdp = case.startswith("stdp")
        rule = STDP(a_plus=0.01, a_minus=0.0105, w_max=5.0) if stdp else None
        net = (coba_network(4000, random_state=0) if case.startswith("coba")
               else cuba_network(4000, plasticity=rule, random_state=0))
        static = cuba_network(4000, random_state=0) if stdp else None
        run(net, 10.0, 0.1)  # warm the JIT cache
        best = {k: float("inf") for k in ("numba", "static", "cython", "standalone", "sa_total")}
        for _ in range(repeat):
            t0 = time.perf_counter()
            ds = run(net, duration, 0.1)
            best["numba"] = min(best["numba"], time.perf_counter() - t0)
            if static is not None:
                t0 = time.perf_counter()
                run(static, duration, 0.1)
                best["static"] = min(best["static"], time.perf_counter() - t0)
            cy = brian2_reference(net, duration, 0.1, target="cython")
            best["cython"] = min(best["cython"], cy.attrs["info_run_time_s"])
            t0 = time.perf_counter()
            sa = brian2_reference(net, duration, 0.1, device="cpp_standalone")
            best["sa_total"] = min(best["sa_total"], time.perf_counter() - t0)
            best["standalone"] = min(best["standalone"], sa.attrs["info_run_time_s"])
        rate_n = ds.sizes["spike"] / 4000 / (duration / 1000)
        rate_b = sa.sizes["spike"] / 4000 / (duration / 1000)
        first = first_run_cuba(case.split("-")[-2] if not stdp else "cuba", duration, stdp)
        row = {
            "case": case, "n": 4000, "duration_ms": duration, "dt_ms": 0.1,
            "n_synapses": int(sum(s.n for s in net.synapses)),
            "numba_run_s": round(best["numba"], 4),
            "brian2_cython_run_s": round(best["cython"], 4),
            "brian2_standalone_run_s": round(best["standalone"], 4),
            "brian2_standalone_total_s": round(best["sa_total"], 3),
            "numba_first_run_s": round(first, 3),
            "rate_hz_numba": round(rate_n, 3), "rate_hz_brian2_standalone": round(rate_b, 3),
            "rate_rel_diff": round(abs(rate_n - rate_b) / rate_b, 4),
            "numba_vs_standalone_run": round(best["numba"] / best["standalone"], 3),
            "numba_vs_cython_run": round(best["numba"] / best["cython"], 3),
            "numba_first_vs_standalone_total": round(first / best["sa_total"], 3),
            "repeat": repeat,
        }
        if stdp:
            row["numba_static_run_s"] = round(best["static"], 4)
            row["plastic_over_static"] = round(best["numba"] / best["static"], 3)
            w_n, w_b = ds["final_w_exc"].values, sa["final_w_exc"].values
            row["final_w_max_abs_diff"] = float(np.abs(w_n - w_b).max()) if \
                w_n.shape == w_b.shape else None
        print(json.dumps(row), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s runs and N <= 10,000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-brian2-scaling", action="store_true")
    parser.add_argument("--part", choices=["1", "2", "3", "all"], default="all")
    args = parser.parse_args(argv)
    if args.part in ("1", "all"):
        part1(args.quick, args.repeat)
    if args.part in ("2", "all"):
        part2(args.quick, args.skip_brian2_scaling)
    if args.part in ("3", "all"):
        part3(args.quick, args.repeat)


if __name__ == "__main__":
    main()
