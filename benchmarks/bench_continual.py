"""Benchmark: neurosim.continual learners vs equivalent plain PyTorch loops.

For each learner, the whole permuted-digits stream is learned twice: by
``make_learner(name).fit_stream(stream)`` (evaluated at the end of every task) and by a
hand-written PyTorch loop doing the same work (same MLP, SGD, minibatches, method-specific
penalty / memory / consolidation, end-of-task evaluation on all tasks), the loop a user would
write without a continual-learning library. Prints one JSON line per learner with both wall
times and both CPU times (best of ``--repeat``) and their ratios (our overhead: ratio - 1). On a
shared machine compare the CPU times of single-threaded runs (``--threads 1``).

Usage::

    python benchmarks/bench_continual.py [--quick] [--threads N] [--repeat R] [--learners a,b]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from neurosim.continual import make_learner, permuted_digits


def _mlp(n_in, hidden, n_out, seed):
    gen = torch.Generator().manual_seed(seed)
    layers, width = [], n_in
    for h in (*hidden, n_out):
        lin = torch.nn.Linear(width, h)
        bound = 1.0 / np.sqrt(width)
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.uniform_(-bound, bound, generator=gen)
        layers += [lin, torch.nn.ReLU()]
        width = h
    return torch.nn.Sequential(*layers[:-1])


def _fisher(model, X, y, n):
    """Diagonal empirical Fisher from per-sample gradients (torch.func, as neurosim does)."""
    from torch.func import functional_call, grad, vmap

    sel = torch.randperm(X.shape[0])[:n]
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, x, t):
        return F.cross_entropy(functional_call(model, p, (x[None],)), t[None])

    g = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X[sel], y[sel])
    return [(g[k] ** 2).mean(0) for k in params]


def plain_loop(name, stream, n_iterations, batch_size=32, lr=0.1, seed=0):
    """The loop a user writes by hand; returns the final accuracy on every task."""
    rng = np.random.default_rng(seed)
    model = _mlp(stream.n_features, (100,), stream.n_classes, seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    tests = [(torch.as_tensor(t.X_test), torch.as_tensor(t.y_test)) for t in stream]
    seen_X, seen_y = [], []
    buf_X = torch.empty((0, stream.n_features))
    buf_y = torch.empty(0, dtype=torch.int64)
    n_seen, M = 0, 200
    importance, anchor = None, None
    lam = 100.0 if name == "ewc" else 300.0  # EWC's lambda, fast/slow's consolidation
    slow = [p.detach().clone() for p in model.parameters()]
    plast = None
    for task in stream:
        X, y = torch.as_tensor(task.X_train), torch.as_tensor(task.y_train)
        if name == "joint":
            seen_X.append(X)
            seen_y.append(y)
            X, y = torch.cat(seen_X), torch.cat(seen_y)
        n = X.shape[0]
        count = n_iterations * batch_size
        order = np.concatenate([rng.permutation(n) for _ in range(-(-count // n))])[:count]
        order = torch.as_tensor(order.reshape(n_iterations, batch_size))
        for step in range(n_iterations):
            xb, yb = X[order[step]], y[order[step]]
            if name == "replay" and buf_y.shape[0]:
                r = torch.randint(buf_y.shape[0], (batch_size,))
                xb, yb = torch.cat([xb, buf_X[r]]), torch.cat([yb, buf_y[r]])
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            if importance is not None:
                ref = anchor if name == "ewc" else slow
                loss = loss + 0.5 * sum(((lam * w).clamp(max=1 / lr) * (p - a) ** 2).sum()
                                        for p, w, a in zip(model.parameters(), importance, ref))
            loss.backward()
            opt.step()
            if name == "fastslow" and (step + 1) % 10 == 0:
                with torch.no_grad():
                    for i, (s, p) in enumerate(zip(slow, model.parameters())):
                        s += (0.5 if plast is None else 0.5 * plast[i]) * (p - s)
        if name == "replay":
            for i in rng.permutation(n):
                j = n_seen if n_seen < M else int(rng.integers(n_seen + 1))
                if n_seen < M:
                    buf_X = torch.cat([buf_X, X[i:i + 1]])
                    buf_y = torch.cat([buf_y, y[i:i + 1]])
                elif j < M:
                    buf_X[j], buf_y[j] = X[i], y[i]
                n_seen += 1
        if name in ("ewc", "fastslow"):
            if name == "fastslow":
                with torch.no_grad():
                    for i, (s, p) in enumerate(zip(slow, model.parameters())):
                        s += (1.0 if plast is None else plast[i]) * (p - s)
                        p.copy_(s)
            fisher = _fisher(model, X, y, 500)
            importance = fisher if importance is None else [w + f for w, f in
                                                            zip(importance, fisher)]
            anchor = [p.detach().clone() for p in model.parameters()]
            if name == "fastslow":
                plast = [1 / (1 + 30.0 * w) for w in importance]
        with torch.no_grad():
            accs = [float((model(Xt).argmax(1) == yt).float().mean()) for Xt, yt in tests]
    return accs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 tasks of 50 iterations")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--learners", default="finetune,ewc,replay,joint,fastslow",
                        help="comma-separated learner names")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    n_tasks, n_it = (3, 50) if args.quick else (10, 200)
    stream = permuted_digits(n_tasks=n_tasks, random_state=0)
    make_learner("finetune", n_iterations=5).fit_stream(stream[:1])  # warm-up
    for name in args.learners.split(","):
        ours, plain, ours_cpu, plain_cpu = [], [], [], []
        for r in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            extra = {"buffer_size": 200} if name == "replay" else {}
            learner = make_learner(name, n_iterations=n_it, random_state=r, **extra)
            learner.fit_stream(stream)
            ours.append(time.perf_counter() - t)
            ours_cpu.append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            accs = plain_loop(name, stream, n_it, seed=r)
            plain.append(time.perf_counter() - t)
            plain_cpu.append(time.process_time() - c)
        print(json.dumps({
            "case": f"permuted-digits/{name}", "n_tasks": n_tasks, "n_iterations": n_it,
            "threads": torch.get_num_threads(),
            "neurosim_s": round(min(ours), 4), "plain_torch_s": round(min(plain), 4),
            "ratio": round(min(ours) / min(plain), 3),
            "neurosim_cpu_s": round(min(ours_cpu), 4), "plain_torch_cpu_s": round(min(plain_cpu), 4),
            "cpu_ratio": round(min(ours_cpu) / min(plain_cpu), 3),
            "neurosim_acc": round(learner.metrics_["acc"], 3),
            "plain_acc": round(float(np.mean(accs)), 3),
        }), flush=True)


if __name__ == "__main__":
    main()
