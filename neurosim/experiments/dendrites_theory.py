"""Experiment ``dendrites-theory``: the predictions of Ahmad & Hawkins (2016), exact and simulated.

Evaluates the exact formulas of :mod:`neurosim.dendrites.theory` for the paper's figures and
checks them against Monte-Carlo simulation (numba) on a grid of ``(n, a, s, theta)``:

- error vs synapses per segment: ``n = 10,000``, ``a = 300`` (3 %), ``theta = s / 2``;
- error vs population size ``n`` for ``a = 64, 128, 256`` active cells and the dense control
  ``a = n / 2`` (``s = 24``, ``theta = 12``);
- the NMDA-threshold prediction: the median false-match error over ``n``, sparsity and ``s``
  for each ``theta``, next to the false-negative error of 50 % noise (``a = 128``, ``s = 30``):
  low thresholds give false matches, high ones miss noisy patterns;
- the union property: error vs number of patterns stored on one segment (``n = 4,000``,
  ``a = 40``, ``theta = 15``);
- theory vs Monte Carlo: z-scores ``(p_mc - p) / se`` of the false-match, union and noise
  formulas over a grid (quick: 20,000 trials per point; full: 200,000).

The Monte-Carlo simulations are numba kernels; the formulas are
:mod:`neurosim.dendrites.theory`.
"""

from __future__ import annotations

import numpy as np

from neurosim._docs import fill_doc

from . import ExperimentResult, Headline

NAME = "dendrites-theory"


@fill_doc
def config(quick=False):
    """Settings of the experiment (``quick``: the small, fast version).

    Parameters
    ----------
    %(quick)s
        A third of the false-match grid and 20,000 Monte-Carlo trials per point.

    Returns
    -------
    config : dict
        ``n_trials`` (Monte-Carlo trials per point) and the grids ``false_match`` ``(n, a, s,
        theta)``, ``union`` ``(n, a, theta, m, s)`` and ``noise`` ``(a, s, theta, v)``.
    """
    fm = [(n, a, s, th) for n in (200, 1000, 5000) for a in (20, 64) for s in (12, 24)
          for th in (2, 4, 6) if a <= n]
    union = [(500, 20, 4, 5, 8), (1000, 25, 3, 2, 15), (4000, 40, 6, 20, 40), (300, 30, 5, 4, 10)]
    noise = [(128, 30, 12, 64), (128, 30, 16, 50), (40, 10, 6, 20), (60, 20, 10, 30)]
    return {"n_trials": 20_000 if quick else 200_000, "false_match": fm[::3] if quick else fm,
            "union": union, "noise": noise}


@fill_doc
def run(config, *, data=None, seed=0, progress=False):
    """Reproduce the paper's predictions and check the formulas by simulation.

    Parameters
    ----------
    %(experiment_config)s
    data : None
        No data set: the formulas and their simulation.
    %(experiment_seed)s
        Seed of the Monte-Carlo simulations.
    progress : bool
        Show a progress bar over the Monte-Carlo grid.

    Returns
    -------
    result : neurosim.experiments.ExperimentResult
        ``dataset``: the curves (``error_vs_s``, ``error_vs_n``, ``median_error_vs_theta``,
        ``false_negative_vs_theta``, ``error_vs_union``) and the Monte-Carlo comparison
        (``mc_theory``, ``mc_estimate``, ``mc_standard_error`` on dim ``mc_case``);
        ``figures``: ``"predictions"`` and ``"monte_carlo"``; ``metrics``:
        ``max_abs_z``, ``n_mc_cases``, ``n_mc_within_3se``, ``best_theta_noise50``,
        ``error_s24_theta12``, ``median_error_theta8``.
    """
    import xarray as xr
    from tqdm.auto import tqdm

    from neurosim.dendrites import (
        false_match_probability,
        false_negative_probability,
        simulate_false_match,
        simulate_false_negative,
        simulate_union_false_match,
        threshold_error_summary,
        union_false_match_probability,
    )

    rng = np.random.default_rng(seed)

    # ---- the paper's curves (exact) -------------------------------------------------------
    s_values = np.arange(2, 41, 2)
    err_s = false_match_probability(10_000, 300, s_values, s_values // 2)
    n_values = np.arange(300, 20_001, 100)
    a_values = np.array([64, 128, 256])
    err_n = np.full((a_values.size + 1, n_values.size), np.nan)
    for i, a in enumerate(a_values):
        ok = n_values >= a
        err_n[i, ok] = false_match_probability(n_values[ok], a, 24, 12)
    err_n[-1] = false_match_probability(n_values, n_values // 2, 24, 12)
    thetas = np.arange(3, 21)
    median_err = threshold_error_summary(thetas)
    fn_noise = false_negative_probability(128, 30, thetas, 64)
    best_theta = int(thetas[np.argmin(median_err + fn_noise)])
    m_values = np.arange(1, 61)
    err_union = union_false_match_probability(4000, 40, 15, m_values, method="expected")

    # ---- Monte Carlo ----------------------------------------------------------------------
    n_trials = config["n_trials"]
    fm_grid, union_grid, noise_grid = config["false_match"], config["union"], config["noise"]
    cases, theory, est, se = [], [], [], []
    bar = tqdm(total=len(fm_grid) + len(union_grid) + len(noise_grid), desc=NAME,
               disable=not progress)
    for n, a, s, th in fm_grid:
        cases.append(f"false-match n={n} a={a} s={s} theta={th}")
        theory.append(float(false_match_probability(n, a, s, th)))
        r = simulate_false_match(n, a, s, th, n_trials=n_trials, random_state=rng)
        est.append(r.probability)
        bar.update()
    for n, a, th, m, s in union_grid:
        cases.append(f"union n={n} a={a} theta={th} m={m} s={s}")
        theory.append(float(union_false_match_probability(n, a, th, m, s)))
        est.append(simulate_union_false_match(n, a, th, m, s, n_trials=n_trials,
                                              random_state=rng).probability)
        bar.update()
    for a, s, th, v in noise_grid:
        cases.append(f"noise a={a} s={s} theta={th} v={v}")
        theory.append(float(false_negative_probability(a, s, th, v)))
        est.append(simulate_false_negative(a, s, th, v, n_trials=n_trials,
                                           random_state=rng).probability)
        bar.update()
    bar.close()
    theory, est = np.array(theory), np.array(est)
    se = np.sqrt(theory * (1 - theory) / n_trials)  # standard error under the formula
    z = np.where(se > 0, (est - theory) / np.where(se > 0, se, 1.0), 0.0)

    metrics = {
        "max_abs_z": float(np.abs(z).max()),
        "n_mc_cases": float(len(cases)),
        "n_mc_within_3se": float(np.sum(np.abs(z) <= 3)),
        "best_theta_noise50": float(best_theta),
        "error_s24_theta12": float(err_s[s_values == 24][0]),
        "median_error_theta8": float(median_err[thetas == 8][0]),
    }
    ds = xr.Dataset(
        {
            "error_vs_s": ("synapses", err_s, {
                "long_name": "P(false match), n=10000, a=300, theta=s/2", "units": "1"}),
            "error_vs_n": (("active", "population"), err_n, {
                "long_name": "P(false match), s=24, theta=12", "units": "1"}),
            "median_error_vs_theta": ("threshold", median_err, {
                "long_name": "median P(false match) over n, sparsity and s", "units": "1"}),
            "false_negative_vs_theta": ("threshold", fn_noise, {
                "long_name": "P(false negative), a=128, s=30, 50% noise", "units": "1"}),
            "error_vs_union": ("union_size", err_union, {
                "long_name": "P(false match), n=4000, a=40, theta=15, expected union",
                "units": "1"}),
            "mc_theory": ("mc_case", theory, {"long_name": "exact probability", "units": "1"}),
            "mc_estimate": ("mc_case", est, {"long_name": "Monte-Carlo estimate", "units": "1"}),
            "mc_standard_error": ("mc_case", se, {"long_name": "binomial standard error",
                                                  "units": "1"}),
            "mc_z": ("mc_case", z, {"long_name": "(estimate - exact) / standard error",
                                    "units": "1"}),
        },
        coords={
            "synapses": s_values, "population": n_values,
            "active": np.array([str(a) for a in a_values] + ["n/2"], dtype=object),
            "threshold": thetas, "union_size": m_values,
            "mc_case": np.array(cases, dtype=object),
        },
        attrs={"mc_n_trials": n_trials},
    )
    figures = {"predictions": _predictions_figure(ds, best_theta),
               "monte_carlo": _mc_figure(ds)}
    headline = [
        Headline("Monte-Carlo cases within 3 standard errors of the exact formulas",
                 metrics["n_mc_within_3se"], "cases", metrics["n_mc_cases"], fmt=".0f"),
        Headline("P(false match), n=10000, a=300, s=24, theta=12", metrics["error_s24_theta12"],
                 "paper (Ahmad & Hawkins 2016)", 8.376e-13, fmt=".3e"),
    ]
    return ExperimentResult(dataset=ds, figures=figures, report=_report(ds, metrics, n_trials),
                            metrics=metrics, headline=headline)


def _predictions_figure(ds, best_theta):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7.5), layout="constrained")
    (ax_s, ax_n), (ax_t, ax_u) = fig.subplots(2, 2)
    ax_s.semilogy(ds["synapses"], ds["error_vs_s"], "o-", color="k", ms=3)
    ax_s.set_xlabel("synapses per segment s (theta = s / 2)")
    ax_s.set_ylabel("P(false match)")
    ax_s.set_title("n = 10,000, a = 300")
    for i, label in enumerate(ds["active"].values):
        ax_n.semilogy(ds["population"], ds["error_vs_n"][i],
                      "--" if label == "n/2" else "-", label=f"a = {label}")
    ax_n.set_xlabel("population size n")
    ax_n.set_ylabel("P(false match)")
    ax_n.set_title("s = 24, theta = 12")
    ax_n.legend(fontsize="small")
    ax_t.semilogy(ds["threshold"], ds["median_error_vs_theta"], "o-",
                  label="median false match (n, sparsity, s)")
    ax_t.semilogy(ds["threshold"], ds["false_negative_vs_theta"], "s-",
                  label="false negative, 50% noise (a=128, s=30)")
    ax_t.axvline(best_theta, color="gray", ls=":", label=f"smallest sum: theta = {best_theta}")
    ax_t.set_xlabel("NMDA threshold theta")
    ax_t.set_ylabel("error")
    ax_t.set_title("The threshold trade-off")
    ax_t.legend(fontsize="small")
    ax_u.semilogy(ds["union_size"], ds["error_vs_union"], "o-", ms=3, color="tab:purple")
    ax_u.set_xlabel("patterns stored on the segment M")
    ax_u.set_ylabel("P(false match)")
    ax_u.set_title("Union property: n = 4,000, a = 40, theta = 15")
    return fig


def _mc_figure(ds):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    p, e, se = (ds[k].values for k in ("mc_theory", "mc_estimate", "mc_standard_error"))
    ok = p > 0
    ax.errorbar(p[ok], e[ok], yerr=3 * se[ok], fmt="o", ms=4, capsize=2,
                label="Monte Carlo (bars: 3 standard errors)")
    lo, hi = p[ok].min() / 2, 1.0
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="exact formula")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("exact probability")
    ax.set_ylabel("simulated probability")
    ax.set_title(f"Theory vs simulation ({ds.attrs['mc_n_trials']} trials per point)")
    ax.legend(fontsize="small")
    return fig


def _report(ds, metrics, n_trials):
    return "\n".join([
        f"# {NAME}",
        "",
        f"The exact formulas for the error of a dendritic segment recognising sparse patterns "
        f"agree with simulation: {int(metrics['n_mc_within_3se'])} of "
        f"{int(metrics['n_mc_cases'])} Monte-Carlo cases fall within 3 standard errors (largest "
        f"|z| {metrics['max_abs_z']:.2f}). *SDR*: a sparse distributed representation, ``a`` "
        "active cells out of ``n``; a segment with ``s`` synapses onto one SDR fires when at "
        "least ``theta`` (the NMDA threshold) of them are active; a *false match* is a random "
        "SDR that makes it fire; the *union* stores several patterns on one segment.",
        "",
        "Ahmad & Hawkins (2016): exact false-match, union and noise formulas, checked by "
        f"Monte Carlo ({n_trials} trials per point).",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| P(false match), n=10000, a=300, s=24, theta=12 | {metrics['error_s24_theta12']:.3e} |",
        f"| median P(false match) at theta=8 (paper grid) | {metrics['median_error_theta8']:.3e} |",
        f"| theta minimising false match + 50% noise false negative | "
        f"{int(metrics['best_theta_noise50'])} |",
        f"| Monte-Carlo cases within 3 standard errors | {int(metrics['n_mc_within_3se'])} / "
        f"{int(metrics['n_mc_cases'])} |",
        f"| largest abs z-score | {metrics['max_abs_z']:.2f} |",
        "",
    ])
