"""Active dendrites: exact formulas, Monte Carlo and network training against the usual peers.

Prints one JSON line per case:

- ``exact-grid``: :func:`neurosim.dendrites.false_match_probability` on a broadcast grid of
  ``(n, a, s, theta)`` against :func:`scipy.stats.hypergeom.sf` on the same grid (the peer a
  user would pick); ``max_rel_diff`` where scipy's value is above 1e-300.
- ``exact-large-n``: the same at ``n = 100,000``, ``a = 2,000`` (Table 1 of the paper).
- ``monte-carlo``: :func:`neurosim.dendrites.simulate_false_match` (numba, partial Fisher-Yates,
  warm JIT) against a vectorised numpy simulation (``argpartition`` of random keys per trial).
- ``train-one-task``: one task (permuted digits, 1,257 images, ``n_epochs`` epochs) with
  :class:`neurosim.dendrites.ActiveDendritesClassifier` and
  :class:`~neurosim.dendrites.ContextMLPClassifier` against a plain PyTorch loop training an
  ``nn.Sequential`` MLP of the same widths; one torch thread.

- ``train-permuted-mnist5k``: the issue's speed target: 10 permuted tasks of the 5,000-image
  MNIST subset (:func:`neurosim.datasets.load_mnist_subset`, 4,000 training images per task,
  784-512-512-10, 1 epoch per task, 10 segments, k-WTA 5 %), the active-dendrites network, its
  k-WTA-only control and the same-width :class:`~neurosim.dendrites.ContextMLPClassifier`,
  trained in interleaved rounds (dendrites, k-WTA only, MLP, dendrites, ...) so that machine load
  hits all alike; median times and the ratio dendrites / MLP (target <= 3). Needs the subset
  (``--data PATH`` or the data home); skipped with a line saying so otherwise.

Usage: ``python benchmarks/bench_dendrites.py [--quick] [--repeat 3] [--data PATH]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _best(repeat, fn, *args, **kwargs):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_exact(quick, repeat):
    from scipy.stats import hypergeom

    from neurosim.dendrites import false_match_probability

    n = np.array([1000, 5000, 10_000, 50_000])[:, None, None, None]
    a = np.array([20, 40, 100, 200])[None, :, None, None]
    s = np.arange(10, 51, 5 if quick else 1)[None, None, :, None]
    theta = np.arange(1, 11)[None, None, None, :]
    ours_t, ours = _best(repeat, false_match_probability, n, a, s, theta)
    ref_t, ref = _best(repeat, hypergeom.sf, theta - 1, n, s, a)
    ok = ref > 1e-300
    yield {"case": "exact-grid", "n_values": int(ours.size), "neurosim_s": ours_t,
           "scipy_hypergeom_s": ref_t, "ratio_scipy_over_neurosim": ref_t / ours_t,
           "max_rel_diff": float(np.max(np.abs(ours[ok] - ref[ok]) / ref[ok]))}
    sb = np.arange(2, 41, 2)
    ours_t, ours = _best(repeat, false_match_probability, 100_000, 2_000, sb, sb // 2)
    ref_t, ref = _best(repeat, hypergeom.sf, sb // 2 - 1, 100_000, sb, 2_000)
    yield {"case": "exact-large-n", "n_values": int(ours.size), "neurosim_s": ours_t,
           "scipy_hypergeom_s": ref_t, "ratio_scipy_over_neurosim": ref_t / ours_t,
           "max_rel_diff": float(np.max(np.abs(ours - ref) / ref))}


def _numpy_false_match(n, a, s, theta, n_trials, rng, batch=2000):
    """Vectorised numpy Monte Carlo: the segment is cells 0..s-1 (by symmetry)."""
    hits = 0
    for start in range(0, n_trials, batch):
        b = min(batch, n_trials - start)
        pattern = np.argpartition(rng.random((b, n)), a, axis=1)[:, :a]
        hits += int(np.sum((pattern < s).sum(axis=1) >= theta))
    return hits / n_trials


def bench_monte_carlo(quick, repeat):
    from neurosim.dendrites import simulate_false_match

    n_trials = 20_000 if quick else 200_000
    for n, a, s, theta in [(1000, 40, 20, 4), (10_000, 200, 30, 4)]:
        simulate_false_match(n, a, s, theta, n_trials=10, random_state=0)  # JIT warm-up
        ours_t, ours = _best(repeat, simulate_false_match, n, a, s, theta, n_trials=n_trials,
                             random_state=0)
        rng = np.random.default_rng(0)
        ref_t, ref = _best(repeat, _numpy_false_match, n, a, s, theta, n_trials, rng)
        yield {"case": "monte-carlo", "n": n, "a": a, "s": s, "theta": theta,
               "n_trials": n_trials, "neurosim_numba_s": ours_t, "numpy_s": ref_t,
               "ratio_numpy_over_numba": ref_t / ours_t, "p_numba": ours.probability,
               "p_numpy": ref}


def _plain_torch_mlp(X, y, hidden, n_epochs, batch_size, lr, seed):
    import torch

    torch.manual_seed(seed)
    sizes = [X.shape[1], *hidden]
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n_epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            loss = torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def _fit(model, X, y):
    return model.fit(X, y)


def bench_training(quick, repeat):
    import torch

    from neurosim.continual import permuted_digits
    from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        task = permuted_digits(n_tasks=2, random_state=0)[1]
        X, y = task.X_train, task.y_train
        for hidden in ([(128, 128)] if quick else [(128, 128), (512, 512)]):
            cfg = {"hidden_sizes": hidden, "n_epochs": 2 if quick else 5, "batch_size": 32,
                   "learning_rate": 1e-3}
            # warm-up: torch.optim's first construction imports lazily (seconds)
            ContextMLPClassifier(hidden_sizes=(8,), n_epochs=1).fit(X[:64], y[:64])
            ad_t, ad = _best(repeat, _fit, ActiveDendritesClassifier(random_state=0, **cfg), X, y)
            mlp_t, mlp = _best(repeat, _fit, ContextMLPClassifier(random_state=0, **cfg), X, y)
            ref_t, _ = _best(repeat, _plain_torch_mlp, X, y, hidden, cfg["n_epochs"], 32, 1e-3, 0)
            yield {"case": "train-one-task", "hidden_sizes": list(hidden),
                   "n_epochs": cfg["n_epochs"], "n_samples": int(X.shape[0]),
                   "active_dendrites_s": ad_t, "context_mlp_s": mlp_t, "plain_torch_mlp_s": ref_t,
                   "ratio_dendrites_over_plain": ad_t / ref_t,
                   "ratio_context_mlp_over_plain": mlp_t / ref_t,
                   "acc_active_dendrites": float(ad.score(task.X_test, task.y_test)),
                   "acc_context_mlp": float(mlp.score(task.X_test, task.y_test))}
    finally:
        torch.set_num_threads(before)


def bench_permuted_mnist(quick, repeat, data):
    import torch
    from neurosim.datasets import load_mnist_subset

    from neurosim.continual import permuted_stream
    from neurosim.dendrites import ActiveDendritesClassifier, ContextMLPClassifier

    try:
        X, y = load_mnist_subset(data, return_X_y=True)
    except FileNotFoundError as err:
        yield {"case": "train-permuted-mnist5k", "skipped": str(err).splitlines()[0]}
        return
    X = X.astype(np.float32) / 255.0
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    n_tasks = 2 if quick else 10
    stream = permuted_stream(X[:4000], y[:4000], X[4000:], y[4000:], n_tasks=n_tasks,
                             random_state=0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    for batch_size in ([32] if quick else [32, 256]):
        common = {"hidden_sizes": (512, 512), "n_epochs": 1, "batch_size": batch_size,
                  "learning_rate": 5e-4, "random_state": 0}
        makers = {
            "active_dendrites": lambda c=common: ActiveDendritesClassifier(
                n_segments=10, kw_percent_on=0.05, **c),
            "kwta_only": lambda c=common: ActiveDendritesClassifier(
                dendrites=False, kw_percent_on=0.05, **c),
            "mlp": lambda c=common: ContextMLPClassifier(**c),
        }
        times = {k: [] for k in makers}
        acc = {}
        try:
            for _ in range(repeat):
                for name, make in makers.items():  # interleaved: load hits every model alike
                    model = make()
                    for task in stream:
                        model.partial_fit(task.X_train, task.y_train, classes=np.arange(10))
                    times[name].append(model.train_time_s_)
                    acc[name] = float(np.mean([model.score(t.X_test, t.y_test)
                                               for t in stream]))
        finally:
            torch.set_num_threads(before)
        med = {k: float(np.median(v)) for k, v in times.items()}
        yield {"case": "train-permuted-mnist5k", "n_tasks": n_tasks, "batch_size": batch_size,
               "hidden_sizes": [512, 512], "repeat": repeat,
               **{f"{k}_s": v for k, v in med.items()},
               "ratio_dendrites_over_mlp": med["active_dendrites"] / med["mlp"],
               "ratio_kwta_only_over_mlp": med["kwta_only"] / med["mlp"],
               **{f"acc_{k}": v for k, v in acc.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids and fewer trials")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--data", default=None,
                        help="the MNIST subset file or its folder (default: the data home)")
    parser.add_argument("--only", default=None, choices=["exact", "monte-carlo", "training",
                                                         "permuted-mnist"])
    args = parser.parse_args(argv)
    benches = {"exact": bench_exact, "monte-carlo": bench_monte_carlo,
               "training": bench_training,
               "permuted-mnist": lambda q, r: bench_permuted_mnist(q, r, args.data)}
    for name, bench in benches.items():
        if args.only is not None and name != args.only:
            continue
        for row in bench(args.quick, args.repeat):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
