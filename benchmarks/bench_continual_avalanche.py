"""neurosim's side of the Avalanche comparison (``peer-avalanche.md``), on the MNIST subset.

``../shared/references/peer-avalanche.md`` ran neurosim and Avalanche 0.6.0 on the same MLP
(784-256-256-10, ReLU), optimiser (SGD lr 0.01, momentum 0.9), batch (64), budget (3 epochs per
task: ``ceil(3 n_train / 64)`` iterations) and MNIST-subset streams (split: 5 class pairs,
class-incremental; permuted: 5 tasks, domain-incremental). avalanche-lib is not installed in this
project's environment (its torchvision wheel needs a patch to import with the CPU torch), so this
script reruns neurosim's column only and prints it next to the Avalanche numbers cited from that
file, one JSON line per (stream, learner): ACC and BWT, mean and SD over the seeds, and wall time.
The joint learner is run with the fixed per-phase budget that was compared (``scale_budget=False``)
and with the budget scaled to the union (the default now).

Usage: ``python benchmarks/bench_continual_avalanche.py [--data PATH] [--seeds 5] [--quick]``
(``--quick``: 2 seeds and the split stream only).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

#: Avalanche 0.6.0's ACC (mean, SD over 5 seeds) from peer-avalanche.md
AVALANCHE_ACC = {
    ("split", "finetune"): (0.143, 0.031), ("split", "replay"): (0.499, 0.069),
    ("split", "ewc"): (0.126, 0.036), ("split", "joint"): (0.871, 0.009),
    ("split", "joint_scaled"): (0.907, 0.003),  # Avalanche's Cumulative: 3 epochs of the union
    ("permuted", "finetune"): (0.788, 0.005), ("permuted", "replay"): (0.853, 0.003),
    ("permuted", "ewc"): (0.843, 0.011), ("permuted", "joint"): (0.890, 0.004),
    ("permuted", "joint_scaled"): (0.926, 0.003),
}


def _learners(n_it, seed):
    from neurosim.continual import EWC, ExperienceReplay, FineTuning, JointTraining

    common = {"hidden_sizes": (256, 256), "learning_rate": 0.01, "momentum": 0.9,
              "batch_size": 64, "n_iterations": n_it, "random_state": seed}
    return {
        "finetune": FineTuning(**common),
        "replay": ExperienceReplay(buffer_size=200, replay_batch_size=64, **common),
        "ewc": EWC(ewc_lambda=100.0, decay=1.0, **common),
        "joint": JointTraining(scale_budget=False, **common),
        "joint_scaled": JointTraining(**common),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="the MNIST subset file or folder")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    from neurosim.continual import permuted_mnist_subset, single_thread, split_mnist_subset

    seeds = range(2 if args.quick else args.seeds)
    streams = {"split": split_mnist_subset(n_tasks=5, path=args.data, random_state=0)}
    if not args.quick:
        streams["permuted"] = permuted_mnist_subset(n_tasks=5, path=args.data, random_state=0)
    with single_thread():
        for sname, stream in streams.items():
            n_it = math.ceil(3 * stream[0].X_train.shape[0] / 64)
            rows = {}
            for seed in seeds:
                for name, learner in _learners(n_it, seed).items():
                    t0 = time.perf_counter()
                    learner.fit_stream(stream)
                    rows.setdefault(name, []).append(
                        (learner.metrics_["acc"], learner.metrics_["bwt"],
                         time.perf_counter() - t0))
            for name, vals in rows.items():
                a = np.asarray(vals)
                av = AVALANCHE_ACC[(sname, name)]
                print(json.dumps({
                    "case": f"{sname}-{name}", "n_iterations_per_task": n_it,
                    "n_seeds": len(a), "acc_neurosim": float(a[:, 0].mean()),
                    "acc_neurosim_sd": float(a[:, 0].std(ddof=1)) if len(a) > 1 else 0.0,
                    "bwt_neurosim": float(a[:, 1].mean()), "seconds_per_run": float(
                        a[:, 2].mean()),
                    "acc_avalanche_cited": av[0], "acc_avalanche_sd_cited": av[1],
                    "delta_acc": float(a[:, 0].mean()) - av[0]}), flush=True)


if __name__ == "__main__":
    main()
