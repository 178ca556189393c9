"""Benchmark: HomeostaticMLP against a plain PyTorch SGD loop and a per-sample port loop.

One training pass (epoch) over the data, for each mode (LRC, LRR, LRH), timed three ways in the
same process, interleaved (best of ``--repeat``; wall and CPU time):

- ``neurosim``: :class:`neurosim.homeostasis.HomeostaticMLP` ``partial_fit`` (torch, minibatch
  forward/backward with hand-written gradients, vectorised look-ahead);
- ``torch_loop``: the loop a user would write in PyTorch for the same MLP (``nn.Linear`` + ELU,
  cross-entropy, ``torch.optim.SGD``, minibatches of 10, autograd), *without* any learning-rate
  regulation: for LRC it is the same computation (the weights are compared), for LRR/LRH it is
  the floor the regulation adds to;
- ``port_loop``: a per-sample NumPy loop written as the authors' ``lrh.py`` / ``lrr.py`` are
  (and as the faithful port of the project's audit is): one sample at a time, column vectors,
  the look-ahead scoring its 20 memory samples one at a time. Its learning-rate trajectory is
  compared with ours (same initial weights, order and coin flips).

Prints one JSON line per (data, mode) with the times, ratios (``*_over_neurosim`` > 1: we are
faster) and the checks. ``--data mnist-subset`` needs the MNIST subset
(:func:`neurosim.datasets.load_mnist_subset`). On a shared machine compare CPU times.

Usage::

    python benchmarks/bench_homeostasis.py [--data digits|mnist-subset] [--repeat R]
        [--modes lrc,lrr,lrh] [--device cpu|cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch

from neurosim.homeostasis import HomeostaticMLP, load_shift_data


def torch_loop(W, b, X, y, lr, m=10, device="cpu"):
    """Plain PyTorch minibatch SGD of the same MLP; returns the final weights."""
    layers = []
    for k, (w, v) in enumerate(zip(W, b)):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w))
            lin.bias.copy_(torch.as_tensor(v))
        layers.append(lin)
        if k < len(W) - 1:
            layers.append(torch.nn.ELU())
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y, device=device)
    for s in range(0, len(y) // m * m, m):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(Xt[s:s + m]), yt[s:s + m]).backward()
        opt.step()
    if device != "cpu":
        torch.cuda.synchronize()
    return [p.detach().cpu().numpy() for p in model.parameters()]


def _elu(x):
    return np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1)


def _softmax(x):
    e = np.exp(x - x.max(0))
    return e / e.sum(0)


def port_loop(mode, W, b, X, y, coins, lr0=1e-3, m=10, n_mem=20):
    """Per-sample loop as the released lrh.py / lrr.py; returns the lr after every minibatch."""
    W = [w.copy() for w in W]
    b = [v[:, None].copy() for v in b]
    imgs, eta, step, lrs, c = X.T, lr0, lr0 / 10, [], 0

    def forward(Ws, bs, a):
        zs, acts = [], [a]
        for k, (w, v) in enumerate(zip(Ws, bs)):
            zs.append(w @ acts[-1] + v)
            acts.append(_softmax(zs[-1]) if k == len(Ws) - 1 else _elu(zs[-1]))
        return zs, acts

    for s in range(0, len(y) // m * m, m):
        G = [np.zeros_like(w) for w in W]
        g = [np.zeros_like(v) for v in b]
        for i in range(s, s + m):
            zs, acts = forward(W, b, imgs[:, [i]])
            guess = int(np.argmax(acts[-1]))
            t = np.zeros((W[-1].shape[0], 1))
            t[y[i]] = 1
            d = [acts[-1] - t]
            for k in range(len(W) - 1, 0, -1):
                d.insert(0, (W[k].T @ d[0]) * np.where(zs[k - 1] > 0, 1.0,
                                                         np.exp(np.minimum(zs[k - 1], 0))))
            for k in range(len(W)):
                G[k] += d[k] @ acts[k].T
                g[k] += d[k]
            if mode == "lrh" and i > n_mem and i % 10 == 0:
                def acc(lr, G=G, g=g, i=i):
                    Ws = [w - lr / m * Gk for w, Gk in zip(W, G)]
                    bs = [v - lr / m * gk for v, gk in zip(b, g)]
                    return sum(int(np.argmax(forward(Ws, bs, imgs[:, [j]])[1][-1])) == y[j]
                               for j in range(i - n_mem, i)) / n_mem
                lr2 = eta + step if guess >= 5 else eta - step
                lr2 = 1e-8 if lr2 < 0 else lr2
                if acc(lr2) > acc(eta):
                    eta = eta + step if y[i] >= 5 else eta - step
                    eta = 1e-8 if eta < 0 else eta
            if mode == "lrr" and i != 0 and i % 10 == 0:
                if coins[c] > 0.5:
                    eta = eta + step if y[i] >= 5 else eta - step
                    eta = 1e-8 if eta < 0 else eta
                c += 1
        for k in range(len(W)):
            W[k] = W[k] - eta / m * G[k]
            b[k] = b[k] - eta / m * g[k]
        lrs.append(eta)
    return np.array(lrs)


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", choices=("digits", "mnist-subset"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="lrc,lrr,lrh")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (all three)")
    parser.add_argument("--no-port", action="store_true", help="skip the per-sample port loop")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    d = load_shift_data(args.data, random_state=0)
    X, y = d["X_train"], d["y_train"]
    n_used = len(y) // 10 * 10
    HomeostaticMLP("lrc", device=args.device).partial_fit(X[:100], y[:100], classes=np.arange(10))
    for mode in args.modes.split(","):
        times = {k: [] for k in ("neurosim", "torch_loop", "port_loop")}
        cpu = {k: [] for k in times}
        checks = {}
        for r in range(args.repeat):
            clf = HomeostaticMLP(mode, device=args.device, n_threads=args.threads, random_state=r)
            clf._setup(X.shape[1], np.arange(10))
            W0, b0 = clf.coefs_, clf.intercepts_
            coins = copy.deepcopy(clf._coin_rng).random(n_used // 10 - 1)  # LRR's flips

            def ours(clf=clf):
                clf.partial_fit(X, y)
                if args.device != "cpu":
                    torch.cuda.synchronize()
                return clf

            _, t, c = _timed(ours)
            times["neurosim"].append(t)
            cpu["neurosim"].append(c)
            Wt, t, c = _timed(lambda W0=W0, b0=b0: torch_loop(W0, b0, X, y, 1e-3,
                                                              device=args.device))
            times["torch_loop"].append(t)
            cpu["torch_loop"].append(c)
            if mode == "lrc":
                ok = all(np.allclose(a, p, rtol=1e-9, atol=1e-12) for a, p in zip(
                    [w for pair in zip(clf.coefs_, clf.intercepts_) for w in pair], Wt))
                checks["lrc_weights_equal_torch_loop"] = checks.get(
                    "lrc_weights_equal_torch_loop", True) and bool(ok)
            if not args.no_port:
                lrs, t, c = _timed(lambda W0=W0, b0=b0, coins=coins, mode=mode: port_loop(
                    mode, W0, b0, X, y, coins))
                times["port_loop"].append(t)
                cpu["port_loop"].append(c)
                checks["lr_trajectory_equals_port"] = checks.get(
                    "lr_trajectory_equals_port", True) and bool(np.array_equal(lrs,
                                                                               clf.lr_history_))
        row = {"case": f"{args.data}/{mode}", "n_samples": n_used, "n_features": X.shape[1],
               "device": args.device, "threads": args.threads, "repeat": args.repeat}
        for k in times:
            if times[k]:
                row[f"{k}_s"] = round(min(times[k]), 4)
                row[f"{k}_cpu_s"] = round(min(cpu[k]), 4)
        row["neurosim_samples_per_s"] = round(n_used / min(times["neurosim"]), 1)
        for k in ("torch_loop", "port_loop"):
            if times[k]:
                row[f"{k}_over_neurosim"] = round(min(times[k]) / min(times["neurosim"]), 3)
                row[f"{k}_over_neurosim_cpu"] = round(min(cpu[k]) / min(cpu["neurosim"]), 3)
        print(json.dumps(row | checks), flush=True)


if __name__ == "__main__":
    main()
