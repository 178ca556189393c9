"""neurosim.sweep on a Dask LocalCluster against the serial loop, and Dask's overhead per task.

Case ``sweep-izhikevich``: an 8-point sweep (``p`` in {0.015, 0.02} x 4 seeds) of the Izhikevich
network (:func:`neurosim.spiking.izhikevich_network`, N=10,000, dt=0.5 ms, 5 s simulated: about
5 s per point on one core), run by ``neurosim.sweep(..., client=False)`` (the serial loop in
this process) and by ``neurosim.sweep(..., client=cluster)`` on a ``LocalCluster`` of
``--workers`` processes (one thread each). Both sides have warm numba caches (one point is run on
each before timing) and are timed alternately, ``--repeat`` times each, so that machine load hits
both alike; the line has the medians ``serial_s``, ``dask_s``, ``speedup`` = serial / dask, the
cluster's start-up time (not in ``dask_s``) and ``point_s`` (serial time per point).

Case ``overhead``: ``--tasks`` points of a function that returns a 0-d Dataset at once, on the
same cluster: ``per_task_ms`` is Dask's scheduling and transfer cost per point.

Usage: ``python benchmarks/bench_sweep.py [--quick] [--workers 2] [--repeat 2]``; ``--quick``
simulates 1 s per point.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def _noop(i, random_state=None):
    import xarray as xr

    return xr.Dataset({"v": ((), float(i))})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s simulated per point")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=64)
    args = parser.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    import neurosim
    from neurosim.spiking import izhikevich_network

    duration = 1000.0 if args.quick else 5000.0
    kwargs = {"grid": {"p": [0.015, 0.02]}, "seeds": range(4),
              "options": {"n": 10000, "dt": 0.5}, "run": {"duration": duration},
              "progress": False}
    warm = {**kwargs, "grid": {"p": [0.02]}, "seeds": [99], "run": {"duration": 10.0}}

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    start_s = time.perf_counter() - t0
    try:
        neurosim.sweep(izhikevich_network, client=False, **warm)
        client.run(lambda: neurosim.sweep(izhikevich_network, client=False, **warm))
        serial, dask = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            ref = neurosim.sweep(izhikevich_network, client=False, **kwargs)
            serial.append(time.perf_counter() - t)
            t = time.perf_counter()
            out = neurosim.sweep(izhikevich_network, client=client, **kwargs)
            dask.append(time.perf_counter() - t)
            assert out.identical(ref), "the Dask sweep differs from the serial loop"
        n_points = 8
        s, d = statistics.median(serial), statistics.median(dask)
        print(json.dumps({
            "case": "sweep-izhikevich", "n_points": n_points, "n_workers": args.workers,
            "simulated_ms": duration, "serial_s": round(s, 3), "dask_s": round(d, 3),
            "speedup": round(s / d, 3), "point_s": round(s / n_points, 3),
            "cluster_start_s": round(start_s, 3), "serial_all_s": [round(x, 3) for x in serial],
            "dask_all_s": [round(x, 3) for x in dask], "cpu_count": os.cpu_count(),
            "load_avg_1min": round(os.getloadavg()[0], 2), "identical": True}), flush=True)

        neurosim.sweep(_noop, grid={"i": [0, 1]}, client=client, progress=False)  # warm
        t = time.perf_counter()
        neurosim.sweep(_noop, grid={"i": list(range(args.tasks))}, client=client, progress=False)
        dt = time.perf_counter() - t
        print(json.dumps({"case": "overhead", "n_tasks": args.tasks, "n_workers": args.workers,
                          "total_s": round(dt, 3),
                          "per_task_ms": round(1000 * dt / args.tasks, 2),
                          "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
