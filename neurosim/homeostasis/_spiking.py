"""Homeostasis of a recurrent spiking network: a set point, a push away from it, the recovery.

The network (:func:`homeostatic_network`) is a recurrent excitatory/inhibitory network of LIF
neurons with current synapses, driven by independent Poisson input, and regulated by the spiking
engine's homeostatic rules: intrinsic plasticity of the threshold
(:class:`neurosim.spiking.AdaptiveThreshold`) and multiplicative synaptic scaling of the
excitatory synapses (:class:`neurosim.spiking.SynapticScaling`). Nothing here re-implements
plasticity: the rules run inside the step of either backend.

:func:`input_rate_for` finds the input rate at which the *unregulated* network fires at a given
rate; :func:`rate_recovery` uses it to push the network ``factor`` times above and below its set
point (by changing its input) and measures how the regulated network returns to the target.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._utils import check_positive, check_random_state, check_size

__all__ = ["homeostatic_network", "input_rate_for", "rate_recovery"]

MECHANISMS = ("both", "threshold", "scaling", "none")


def _check_target(target_rate):
    if isinstance(target_rate, bool) or not isinstance(target_rate, numbers.Real):
        raise TypeError(f"target_rate must be a number (Hz), got {type(target_rate).__name__}: "
                        f"{target_rate!r}")
    if not (math.isfinite(target_rate) and target_rate > 0):
        raise ValueError(f"target_rate must be a finite rate > 0 Hz, got {target_rate!r}")
    return float(target_rate)


def homeostatic_network(n=1000, *, target_rate=5.0, input_rate=650.0, mechanism="both",
                        exc_fraction=0.8, p=0.1, w_input=4.0, w_exc=0.5, w_inh=-2.0,
                        eta_threshold=0.1, eta_scaling=1e-4, tau_rate=1000.0,
                        scaling_every=10.0, w_max=50.0, record_every=100.0, n_record=50,
                        random_state=None):
    r"""Build a recurrent E/I network of LIF neurons regulated toward a target rate.

    ``n`` leaky integrate-and-fire neurons (80 % excitatory), with two current receptors,

    .. math::

        \tau_m \dot v = v_{rest} - v + g_e + g_i, \quad \tau_e \dot g_e = -g_e, \quad
        \tau_i \dot g_i = -g_i,

    ``tau_m = 20`` ms, ``v_rest = v_reset = -65`` mV, threshold -50 mV (plus the adaptive offset
    :math:`\theta`), a 2 ms refractory period, ``tau_e = 5``, ``tau_i = 10`` ms. Every pair is
    connected with probability ``p``: a spike adds ``w_exc`` (mV) to :math:`g_e` from an
    excitatory cell and ``w_inh`` to :math:`g_i` from an inhibitory one. Each neuron receives
    its own Poisson input at ``input_rate`` (Hz: the summed rate of its external afferents), each
    spike adding ``w_input`` to :math:`g_e`. The homeostatic rules, chosen by ``mechanism``:

    - intrinsic plasticity (``"threshold"``): :class:`~neurosim.spiking.AdaptiveThreshold` on all
      neurons, on average :math:`\dot\theta = \eta_\theta (r - r^*)` (mV/s, rates in Hz);
    - synaptic scaling (``"scaling"``): :class:`~neurosim.spiking.SynapticScaling` of the input
      and the recurrent excitatory synapses, every ``scaling_every`` ms
      :math:`w \leftarrow w (1 + \eta_s (r^* - \hat r_j))`, :math:`\hat r_j` the postsynaptic
      rate estimate (time constant ``tau_rate``);
    - ``"both"`` (the default) or ``"none"`` (the unregulated network).

    Parameters
    ----------
    n : int
        Number of neurons (>= 10).
    target_rate : float
        Target rate :math:`r^*` (Hz), > 0.
    input_rate : float
        Rate (Hz) of each neuron's Poisson input. The default puts the unregulated default
        network near 5 Hz; :func:`input_rate_for` finds it for other settings.
    mechanism : {"both", "threshold", "scaling", "none"}
        The homeostatic rules.
    exc_fraction : float
        Fraction of excitatory neurons, in (0, 1).
    p : float
        Recurrent connection probability, in (0, 1].
    w_input, w_exc : float
        Weights (mV, > 0) of the input and of the excitatory synapses.
    w_inh : float
        Weight (mV, < 0) of the inhibitory synapses.
    eta_threshold : float
        Threshold rate :math:`\eta_\theta` (mV per spike) of the intrinsic plasticity.
    eta_scaling : float
        Scaling rate :math:`\eta_s` (per Hz per update).
    tau_rate : float
        Time constant (ms) of the scaling's rate estimate.
    scaling_every : float
        Interval (ms) between scaling updates.
    w_max : float
        Upper bound (mV) of scaled weights.
    record_every : float | None
        Sampling interval (ms) of the thresholds and input weights of ``n_record`` neurons
        (monitors ``StateMonitor`` of ``theta`` and ``WeightMonitor`` of ``"input"``); None
        records no state (the spikes are always recorded).
    n_record : int
        Number of neurons whose state is sampled.
    random_state : None | int | numpy.random.Generator
        Seed of the connectivity and the initial potentials.

    Returns
    -------
    network : neurosim.spiking.Network
        Groups ``"source"`` (Poisson input) and ``"neurons"``; synapses ``"input"`` (one to
        one), ``"exc"`` and ``"inh"``; the rules; a spike monitor of ``"neurons"``. The
        parameters are in ``network.meta``.

    Examples
    --------
    >>> from neurosim.homeostasis import homeostatic_network
    >>> net = homeostatic_network(200, target_rate=5.0, p=0.5, random_state=0)
    >>> net.meta["mechanism"], net.meta["n_exc"]
    ('both', 160)
    """
    from neurosim.spiking import (
        LIF,
        AdaptiveThreshold,
        Network,
        PoissonGroup,
        Receptor,
        SpikeMonitor,
        StateMonitor,
        Synapses,
        SynapticScaling,
        WeightMonitor,
    )
    from neurosim.spiking._builders import _random_pairs

    n = check_size("n", n, minimum=10)
    target_rate = _check_target(target_rate)
    input_rate = check_positive("input_rate", input_rate)
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism must be one of {MECHANISMS}, got {mechanism!r}")
    exc_fraction = float(exc_fraction)
    if not 0 < exc_fraction < 1:
        raise ValueError(f"exc_fraction must lie in (0, 1), got {exc_fraction}")
    p = float(p)
    if not 0 < p <= 1:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    w_input = check_positive("w_input", w_input)
    w_exc = check_positive("w_exc", w_exc)
    if not (isinstance(w_inh, numbers.Real) and math.isfinite(w_inh) and w_inh < 0):
        raise ValueError(f"w_inh must be a finite negative weight (mV), got {w_inh!r}")
    eta_threshold = check_positive("eta_threshold", eta_threshold, allow_zero=True)
    eta_scaling = check_positive("eta_scaling", eta_scaling, allow_zero=True)
    w_max = check_positive("w_max", w_max)
    if w_max < max(w_input, w_exc):
        raise ValueError(f"w_max={w_max} is below the initial weights ({w_input}, {w_exc})")
    n_record = check_size("n_record", n_record)
    rng = check_random_state(random_state)
    n_exc = int(round(exc_fraction * n))
    if not 0 < n_exc < n:
        raise ValueError(f"exc_fraction={exc_fraction} leaves no excitatory or no inhibitory "
                         f"neuron among n={n}")

    cells = LIF(n, tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0, t_ref=2.0,
                v_init=rng.uniform(-65.0, -50.0, n),
                receptors=[Receptor("exc", "current", tau=5.0),
                           Receptor("inh", "current", tau=10.0)], name="neurons")
    source = PoissonGroup(n, input_rate, name="source")
    idx = np.arange(n, dtype=np.int32)
    drive = Synapses(source, cells, idx, idx, w_input, receptor="exc", name="input")
    ie, je = _random_pairs(rng, np.arange(n_exc), n, p)
    ii, ji = _random_pairs(rng, np.arange(n_exc, n), n, p)
    exc = Synapses(cells, cells, ie, je, w_exc, receptor="exc", name="exc")
    inh = Synapses(cells, cells, ii, ji, float(w_inh), receptor="inh", name="inh")
    parts = [source, cells, drive, exc, inh, SpikeMonitor(cells)]
    if mechanism in ("both", "threshold"):
        parts.append(AdaptiveThreshold(cells, target_rate=target_rate, eta=eta_threshold))
    if mechanism in ("both", "scaling"):
        for syn in (drive, exc):
            parts.append(SynapticScaling(syn, target_rate=target_rate, tau_rate=tau_rate,
                                         eta=eta_scaling, every=scaling_every, w_max=w_max))
    if record_every is not None:
        record_every = check_positive("record_every", record_every)
        rec = np.linspace(0, n - 1, min(n_record, n)).round().astype(np.int64)
        if mechanism in ("both", "threshold"):
            parts.append(StateMonitor(cells, "theta", record=rec, every=record_every))
        parts.append(WeightMonitor(drive, record=rec, every=record_every))
    meta = {"model": "homeostatic_network", "n": n, "n_exc": n_exc, "n_inh": n - n_exc,
            "p": p, "target_rate": target_rate, "input_rate": input_rate,
            "mechanism": mechanism, "w_input": w_input, "w_exc": w_exc, "w_inh": float(w_inh),
            "eta_threshold": eta_threshold, "eta_scaling": eta_scaling,
            "tau_rate": float(tau_rate), "scaling_every": float(scaling_every), "w_max": w_max,
            "tau_m": 20.0, "tau_e": 5.0, "tau_i": 10.0, "v_rest": -65.0, "v_thresh": -50.0,
            "t_ref": 2.0}
    return Network(*parts, meta=meta)


def _network_params(params):
    params = dict(params)
    for key in ("input_rate", "random_state", "record_every"):
        if key in params:
            raise TypeError(f"{key!r} is set by the protocol; it cannot be passed as a network "
                            "parameter")
    return params


def _measure_rate(input_rate, dt, duration, warmup, seed, params):
    from neurosim.backends import run

    net = homeostatic_network(input_rate=input_rate, mechanism="none", record_every=None,
                              random_state=seed, **params)
    ds = run(net, warmup + duration, dt, random_state=seed)
    t = ds["spike_time"].values
    return float(np.count_nonzero(t >= warmup) / net.meta["n"] / (duration / 1000.0))


def input_rate_for(rate, *, dt=0.1, duration=2000.0, warmup=300.0, rtol=0.02, max_runs=12,
                   input_rate=650.0, random_state=0, **network_params):
    """Find the input rate at which the unregulated network fires at ``rate``.

    Runs :func:`homeostatic_network` with ``mechanism="none"`` on the numba backend, ``warmup +
    duration`` ms per run, and searches the input rate by interpolation in log-log coordinates
    (the population rate grows monotonically with the input), bracketing first.

    Parameters
    ----------
    rate : float
        The population rate (Hz, > 0) to reach.
    dt : float
        Time step (ms).
    duration, warmup : float
        Measured time and discarded start (ms) of each run.
    rtol : float
        Relative tolerance on the rate.
    max_runs : int
        Largest number of runs.
    input_rate : float
        First guess (Hz).
    random_state : int
        Seed of the network and of every run (so that the rate is a deterministic function of
        the input rate).
    **network_params
        Parameters of :func:`homeostatic_network` (``n``, ``p``, weights, ...).

    Returns
    -------
    input_rate : float
        The input rate (Hz).
    measured : float
        The population rate (Hz) measured at that input rate.

    Raises
    ------
    RuntimeError
        If no input rate within ``rtol`` is found in ``max_runs`` runs (the message gives the
        closest).
    """
    rate = _check_target(rate)
    dt = check_positive("dt", dt)
    duration = check_positive("duration", duration)
    warmup = check_positive("warmup", warmup, allow_zero=True)
    rtol = check_positive("rtol", rtol)
    max_runs = check_size("max_runs", max_runs, minimum=2)
    x = check_positive("input_rate", input_rate)
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"random_state must be an int (the rate must be a deterministic function "
                        f"of the input), got {random_state!r}")
    params = _network_params(network_params)
    params.pop("target_rate", None)
    params.pop("mechanism", None)

    def f(nu):
        r = _measure_rate(nu, dt, duration, warmup, int(random_state), params)
        return r, math.log(r + 0.05) - math.log(rate + 0.05)

    tried = []
    lo = hi = None
    for _ in range(max_runs):
        r, err = f(x)
        tried.append((x, r))
        if abs(r - rate) <= rtol * rate:
            return x, r
        if err < 0:
            lo = (x, err) if lo is None or x > lo[0] else lo
        else:
            hi = (x, err) if hi is None or x < hi[0] else hi
        if lo is None:
            x = hi[0] / 1.3
        elif hi is None:
            x = lo[0] * 1.3
        else:
            (xl, el), (xh, eh) = lo, hi
            ll, lh = math.log(xl), math.log(xh)
            frac = el / (el - eh)
            frac = min(max(frac, 0.1), 0.9)  # keep inside the bracket, away from its ends
            x = math.exp(ll + frac * (lh - ll))
    best = min(tried, key=lambda t: abs(t[1] - rate))
    raise RuntimeError(f"no input rate gives {rate:g} Hz within {rtol:.0%} in {max_runs} runs; "
                       f"closest: {best[0]:.4g} Hz input -> {best[1]:.4g} Hz")


def _settle_time(rate, times, target, tolerance):
    """Start (ms) of the first bin from which every bin lies within ``tolerance`` of target."""
    ok = np.abs(rate - target) <= tolerance * target
    if not ok[-1]:
        return math.nan
    bad = np.flatnonzero(~ok)
    first = 0 if bad.size == 0 else bad[-1] + 1
    width = times[1] - times[0] if times.size > 1 else 2 * times[0]
    return float(times[first] - width / 2)


def rate_recovery(factor=3.0, *, duration=60000.0, dt=0.1, backend="numba", bin_size=1000.0,
                  tolerance=0.1, final_window=10000.0, input_rates=None, random_state=0,
                  record_every=100.0, progress=False, backend_options=None, **network_params):
    r"""Push a homeostatic network ``factor`` times above and below its set point; measure the
    recovery.

    The set point is the target rate :math:`r^*`. The unregulated network fires at :math:`r^*`
    with some input rate :math:`\nu_0`, at :math:`f r^*` with :math:`\nu_+` and at
    :math:`r^* / f` with :math:`\nu_-` (found by :func:`input_rate_for` on the numba backend,
    unless ``input_rates`` gives them). Each recovery starts the regulated network (thresholds
    at 0, weights at their initial values, rate estimates at the target: the state of the set
    point) with its input switched to :math:`\nu_\pm`, and runs it for ``duration`` ms.

    Parameters
    ----------
    factor : float
        The push, > 1 (3: three times above and below the target).
    duration : float
        Simulated time (ms) of each recovery.
    dt : float
        Time step (ms).
    backend : str
        Backend of the recoveries (``"numba"`` or ``"brian2"``).
    bin_size : float
        Bin (ms) of the population rate.
    tolerance : float
        Relative tolerance of "at the target" (0.1: within 10 %).
    final_window : float
        Length (ms) of the end of the run over which the final rate is measured.
    input_rates : dict | None
        ``{"set_point": nu0, "above": nu_plus, "below": nu_minus}`` (Hz), e.g. from an earlier
        call's ``attrs``, to skip the search (and to give two backends the same inputs).
    random_state : int
        Seed of the network and of the runs.
    record_every : float | None
        Sampling interval (ms) of the thresholds and input weights; None records only the spikes
        (faster on Brian2's numpy target) and leaves ``theta_mean`` and ``w_input_mean`` out.
    progress : bool
        Show progress bars.
    backend_options : dict | None
        Options of the backend (``{"target": "numpy"}`` for Brian2, ...).
    **network_params
        Parameters of :func:`homeostatic_network` (``n``, ``target_rate``, ``p``, the rates of
        the rules, ...).

    Returns
    -------
    result : xarray.Dataset
        ``rate`` (Hz; dims ``start`` = ``["above", "below"]`` and ``time``, bin centres in ms),
        ``theta_mean`` (mV; mean threshold offset of the sampled neurons, over ``state_time``)
        and ``w_input_mean`` (mV; their mean input weight, over ``w_time``); ``attrs``: ``target_rate``,
        ``input_rate_set_point`` / ``_above`` / ``_below`` (Hz), ``initial_rate_above`` /
        ``_below`` (Hz, the unregulated network at that input), ``first_bin_rate_<start>``,
        ``final_rate_<start>`` (mean over ``final_window``), ``rate_error_from_<start>``
        (:math:`|r_{final} - r^*| / r^*`), ``settle_time_<start>_s`` (start of the first bin
        from which every bin is within ``tolerance`` of the target; NaN if the last is not),
        ``mean_rate_<start>`` (over the whole run), the backend and the network's parameters.

    Examples
    --------
    >>> from neurosim.homeostasis import rate_recovery
    >>> res = rate_recovery(3.0, duration=20000.0, n=200, p=0.5, dt=0.5,
    ...                     bin_size=2000.0)  # doctest: +SKIP
    >>> res.attrs["rate_error_from_above"], res.attrs["settle_time_above_s"]  # doctest: +SKIP
    """
    import xarray as xr

    from neurosim.backends import run
    from neurosim.results import population_rate

    factor = check_positive("factor", factor)
    if not factor > 1:
        raise ValueError(f"factor must be > 1 (the push away from the set point), got {factor}")
    duration = check_positive("duration", duration)
    dt = check_positive("dt", dt)
    bin_size = check_positive("bin_size", bin_size)
    if bin_size > duration:
        raise ValueError(f"bin_size={bin_size} ms is longer than the run ({duration} ms)")
    tolerance = check_positive("tolerance", tolerance)
    final_window = check_positive("final_window", final_window)
    if final_window > duration:
        raise ValueError(f"final_window={final_window} ms is longer than the run "
                         f"({duration} ms)")
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"random_state must be an int, got {random_state!r}")
    params = _network_params(network_params)
    target = _check_target(params.get("target_rate", 5.0))
    params["target_rate"] = target
    opts = dict(backend_options or {})

    initial = {}
    if input_rates is None:
        input_rates = {}
        for key, r in (("set_point", target), ("above", target * factor),
                       ("below", target / factor)):
            input_rates[key], initial[key] = input_rate_for(r, dt=dt, random_state=random_state,
                                                            **params)
    else:
        missing = {"set_point", "above", "below"} - set(input_rates)
        if missing:
            raise ValueError(f"input_rates needs the keys 'set_point', 'above' and 'below'; "
                             f"missing {sorted(missing)}")
        input_rates = {k: check_positive(f"input_rates[{k!r}]", v)
                       for k, v in input_rates.items()}

    rates, theta, w_in, attrs = [], [], [], {}
    for start in ("above", "below"):
        net = homeostatic_network(input_rate=input_rates[start], random_state=random_state,
                                  record_every=record_every, **params)
        ds = run(net, duration, dt, backend=backend, random_state=random_state,
                 progress=progress, **opts)
        pr = population_rate(ds, bin_size, group="neurons")
        rates.append(pr.values)
        times = pr["time"].values
        if "theta" in ds:
            theta.append(ds["theta"].values.mean(axis=1))
            state_time = ds["theta"]["time"].values
        if "w_input" in ds:
            w_in.append(ds["w_input"].values.mean(axis=1))
            w_time = ds["w_input_time"].values
        t_spk = ds["spike_time"].values
        final = float(np.count_nonzero(t_spk >= duration - final_window) / net.meta["n"]
                      / (final_window / 1000.0))
        attrs.update({
            f"initial_rate_{start}": initial.get(start, math.nan),
            f"first_bin_rate_{start}": float(pr.values[0]),
            f"final_rate_{start}": final,
            f"rate_error_from_{start}": abs(final - target) / target,
            f"settle_time_{start}_s": _settle_time(pr.values, times, target, tolerance) / 1000,
            f"mean_rate_{start}": float(t_spk.size / net.meta["n"] / (duration / 1000.0)),
            f"run_time_{start}_s": float(ds.attrs.get("info_run_time_s", math.nan)),
        })
    data = {"rate": (("start", "time"), np.array(rates), {"units": "Hz"})}
    coords = {"start": ["above", "below"], "time": ("time", times, {"units": "ms"})}
    if w_in:
        data["w_input_mean"] = (("start", "w_time"), np.array(w_in), {"units": "mV"})
        coords["w_time"] = ("w_time", w_time, {"units": "ms"})
    if theta:
        data["theta_mean"] = (("start", "state_time"), np.array(theta), {"units": "mV"})
        coords["state_time"] = ("state_time", state_time, {"units": "ms"})
    meta = {f"network_{k}": v for k, v in net.meta.items() if k not in ("input_rate", "model")}
    attrs.update({
        "target_rate": target, "factor": factor, "tolerance": tolerance, "backend": backend,
        "backend_options": str(opts), "dt": dt, "duration": duration, "bin_size": bin_size,
        "final_window": final_window, "random_state": int(random_state),
        "input_rate_set_point": input_rates["set_point"],
        "input_rate_above": input_rates["above"], "input_rate_below": input_rates["below"],
        "initial_rate_set_point": initial.get("set_point", math.nan), **meta,
    })
    return xr.Dataset(data, coords=coords, attrs=attrs)
