"""The Trainer under torchrun: 2 CPU processes (gloo) against 1, and gradient accumulation.

Case ``ddp-cpu``: one script trains an MLP (``--features`` -> 512 -> 512 -> 10, no dropout) on
``--samples`` random samples for ``--epochs`` epochs with the same global batch of 128: run with
``python`` (one process, ``batch_size=128``) and with ``torchrun --standalone --nproc_per_node=2``
(``batch_size=64`` per process), each process with one torch thread. The runs alternate,
``--repeat`` times each, so that machine load hits both alike. ``samples_per_s`` is training
samples per second of the epochs' wall time (``history_.time_s``, epoch 1 left out as warm-up);
``efficiency`` = samples/s of 2 processes / (2 x samples/s of 1); ``max_weight_diff`` compares the
final weights of the two (they should agree to rounding).

Case ``accumulation``: in this process, ``batch_size=128`` against ``batch_size=32,
accumulate_grad_batches=4`` (the same gradient): samples/s of each and their ratio.

Usage: ``python benchmarks/bench_ddp.py [--quick] [--repeat 2]``. For one GPU, see
``benchmarks/gpu_check.py --checks accumulation,ddp_world1``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from neurosim.decoding import Trainer

    out, n, d, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(d, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10))
    tr = Trainer(max_epochs=epochs, batch_size=128 // world, lr=1e-3, device="cpu", random_state=0)
    tr.fit(model, (X, y))
    if int(os.environ.get("RANK", "0")) == 0:
        times = tr.history_["time_s"].values[1:]
        torch.save({"weights": model.state_dict(), "train_s": float(times.sum()),
                    "samples": n * len(times), "world": tr.world_size_}, out)
""")


def _launch(script, out, nproc, args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, script] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", script]
    t = time.perf_counter()
    done = subprocess.run([*cmd, out, str(args.samples), str(args.features), str(args.epochs)],
                          env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.epochs, args.repeat = 4096, 3, 1

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "ddp_bench.py")
        with open(script, "w") as f:
            f.write(_SCRIPT)
        sps = {1: [], 2: []}
        wall = {1: [], 2: []}
        res = {}
        for _ in range(args.repeat):
            for nproc in (1, 2):
                out = os.path.join(tmp, f"w{nproc}.pt")
                wall[nproc].append(_launch(script, out, nproc, args))
                res[nproc] = torch.load(out, weights_only=True)
                sps[nproc].append(res[nproc]["samples"] / res[nproc]["train_s"])
        diff = max(float((res[1]["weights"][k] - res[2]["weights"][k]).abs().max())
                   for k in res[1]["weights"])
        s1, s2 = statistics.median(sps[1]), statistics.median(sps[2])
        print(json.dumps({
            "case": "ddp-cpu", "global_batch": 128, "samples": args.samples,
            "features": args.features, "epochs_timed": args.epochs - 1,
            "samples_per_s_1proc": round(s1, 1), "samples_per_s_2proc": round(s2, 1),
            "speedup": round(s2 / s1, 3), "efficiency": round(s2 / (2 * s1), 3),
            "launch_wall_s_1proc": round(statistics.median(wall[1]), 2),
            "launch_wall_s_2proc": round(statistics.median(wall[2]), 2),
            "max_weight_diff": diff, "cpu_count": os.cpu_count(),
            "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)

    import numpy as np
    from neurosim.decoding import Trainer

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.samples, args.features)).astype(np.float32)
    y = rng.integers(0, 10, size=args.samples)
    rates = {"batch128": [], "batch32x4": []}
    for _ in range(args.repeat):
        for name, bs, k in (("batch128", 128, 1), ("batch32x4", 32, 4)):
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(args.features, 512), torch.nn.ReLU(),
                                        torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                        torch.nn.Linear(512, 10))
            tr = Trainer(max_epochs=2, batch_size=bs, accumulate_grad_batches=k, device="cpu")
            tr.fit(model, (X, y))
            rates[name].append(args.samples / float(tr.history_["time_s"].values[1]))
    a, b = statistics.median(rates["batch128"]), statistics.median(rates["batch32x4"])
    print(json.dumps({"case": "accumulation", "samples_per_s_batch128": round(a, 1),
                      "samples_per_s_batch32x4": round(b, 1), "ratio": round(b / a, 3),
                      "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
