"""Spiking reservoir: trials per second of the whole learning loop, numba against Brian2 cython.

The loop is the one users run: :class:`neurosim.reservoir.ThreeFactorReadout` on a
:func:`~neurosim.reservoir.spiking_reservoir` of ``n`` neurons (1,000 and 5,000) on the
what/when task (2 identities x 3 probabilities, 0.9 s trials + 0.3 s inter-trial interval, dt =
0.5 ms): the reservoir, the time-cell inputs, the filtered spike trains, the ``"when"`` readout
with its three-factor rule, the ``"what"`` readout and the readout monitors, all inside the
simulation step, with the replay consolidation at the end. On both backends the trials run as
**one long session run** (``segment_trials`` = all trials), after a one-trial warm-up run of the
same session that absorbs numba's JIT compilation and Brian2's code generation and Cython
compilation. The two backends alternate ``--repeat`` times so that machine load hits both alike
(best of each reported).

One JSON line per case: ``case``, ``n``, ``trials``, ``numba_trials_per_s``,
``brian2_cython_trials_per_s``, ``numba_over_brian2`` (target >= 3), ``rate_hz_numba``,
``rate_hz_brian2`` and ``rate_rel_diff`` (each backend draws its own noise: only statistics
compare).

Usage: ``python benchmarks/bench_reservoir.py [--quick] [--repeat 2] [--trials 20]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _loop(n, trials, backend, seed):
    from neurosim.reservoir import ThreeFactorReadout, WhatWhenTask, spiking_reservoir

    net = spiking_reservoir(n, random_state=0)
    task = WhatWhenTask(["A", "B"], [300.0, 600.0], [[0.2, 0.5, 0.8]] * 2, trial_ms=900.0,
                        iti_ms=300.0, blocks=trials + 1, random_state=0)
    opts = {"target": "cython"} if backend == "brian2" else {}
    m = ThreeFactorReadout(eta=1e-7, tau_e=5.0, segment_trials=trials)
    m.start(net, task, backend=backend, random_state=seed, **opts)
    m.run_trials(1)                              # warm-up: JIT / code generation, compilation
    t0 = time.perf_counter()
    m.run_trials(trials)                         # one session run, consolidation at the end
    wall = time.perf_counter() - t0
    return trials / wall, float(np.mean(m.rates_))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 neurons only, 5 trials")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args(argv)
    sizes = (1000,) if args.quick else (1000, 5000)
    trials = 5 if args.quick else args.trials
    for n in sizes:
        best = {"numba": (0.0, 0.0), "brian2": (0.0, 0.0)}
        for r in range(args.repeat):
            for backend in ("numba", "brian2"):
                tps, rate = _loop(n, trials, backend, seed=r)
                if tps > best[backend][0]:
                    best[backend] = (tps, rate)
        (tn, rn), (tb, rb) = best["numba"], best["brian2"]
        print(json.dumps({
            "case": f"reservoir-{n}", "n": n, "trials": trials,
            "numba_trials_per_s": round(tn, 3), "brian2_cython_trials_per_s": round(tb, 3),
            "numba_over_brian2": round(tn / tb, 2), "rate_hz_numba": round(rn, 3),
            "rate_hz_brian2": round(rb, 3), "rate_rel_diff": round(abs(rn - rb) / rb, 4),
        }), flush=True)


if __name__ == "__main__":
    main()
