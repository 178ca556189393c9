"""Plain Brian2 peers: the CUBA and COBA benchmarks written as Brian2's own scripts.

neurosim's ``brian2`` backend translates a network description and follows neurosim's step order;
these functions instead write the model the way a Brian2 user would (Brian2's ``examples/CUBA.py``
and the COBA benchmark script, with units, ``method="exact"`` / ``"exponential_euler"``), on the
connectivity and initial state of a :func:`~neurosim.spiking.cuba_network` or
:func:`~neurosim.spiking.coba_network` description, so that a comparison with neurosim starts
from the same draw.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np


def brian2_reference(network, duration, dt=0.1, *, device="runtime", target="cython",
                     build_dir=None, random_state=None):
    """Run a CUBA/COBA description with plain Brian2 code (Brian2's own example equations).

    Parameters
    ----------
    network : neurosim.spiking.Network
        Built by :func:`~neurosim.spiking.cuba_network` or :func:`~neurosim.spiking.coba_network`
        (its excitatory synapses may carry an additive :class:`~neurosim.spiking.STDP` rule,
        written as Brian2's ``STDP.py`` example).
    duration, dt : float
        Simulated time and step (ms).
    device : {"runtime", "cpp_standalone"}
        Brian2 device.
    target : {"numpy", "cython"}
        Code generation target (runtime device).
    build_dir : str | None
        Standalone build folder (a temporary one by default).
    random_state : int | None
        Brian2 seed (the models have no noise; kept for symmetry).

    Returns
    -------
    results : xarray.Dataset
        ``spike_neuron``/``spike_time`` and the ``neuron``/``group``/``index_in_group``
        coordinates as :func:`~neurosim.backends.run` returns them, ``final_w_exc`` with STDP, and
        in ``attrs`` ``info_run_time_s`` (the simulation loop: Brian2's own timer on standalone,
        wall time after a zero-length compile run on runtime) and ``info_build_time_s``.
    """
    import brian2 as b2
    import xarray as xr

    from ._brian2 import _notice

    model = network.meta.get("model")
    if model not in ("cuba", "coba"):
        raise ValueError(f"brian2_reference runs cuba_network/coba_network descriptions, got "
                         f"model={model!r}")
    if device not in ("runtime", "cpp_standalone"):
        raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
    meta = network.meta
    cells = network.groups[0]
    exc, inh = network.synapses
    ms, mV = b2.ms, b2.mV
    standalone = device == "cpp_standalone"
    tmp = None
    old_target = b2.prefs.codegen.target
    if standalone:
        if build_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="neurosim_brian2_ref_")
            build_dir = tmp.name
        b2.set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
    else:
        b2.prefs.codegen.target = target
    try:
        t0 = time.perf_counter()
        b2.defaultclock.dt = dt * ms
        ns = {"taum": meta["tau_m"] * ms, "taue": meta["tau_e"] * ms, "taui": meta["tau_i"] * ms,
              "Vt": meta["v_thresh"] * mV, "Vr": meta["v_reset"] * mV, "El": meta["E_l"] * mV}
        if model == "cuba":
            eqs = """
            dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
            dge/dt = -ge/taue : volt
            dgi/dt = -gi/taui : volt
            """
            method, unit = "exact", mV
        else:
            ns.update(Ee=meta["E_e"] * mV, Ei=meta["E_i"] * mV)
            eqs = """
            dv/dt = (ge*(Ee-v)+gi*(Ei-v)-(v-El))/taum : volt (unless refractory)
            dge/dt = -ge/taue : 1
            dgi/dt = -gi/taui : 1
            """
            method, unit = "exponential_euler", 1
        P = b2.NeuronGroup(cells.n, eqs, threshold="v>Vt", reset="v = Vr",
                           refractory=meta["t_ref"] * ms, method=method, namespace=ns,
                           name="P")
        P.v = cells.v_init * mV
        P.ge = cells.receptors[0].g_init * unit
        P.gi = cells.receptors[1].g_init * unit
        rule = exc.plasticity
        if rule is None:
            Ce = b2.Synapses(P, P, "w : 1", on_pre="ge += w*unit", namespace={"unit": unit},
                             name="Ce")
        else:
            if rule.kind != "STDP" or rule.rule != "additive":
                raise NotImplementedError("brian2_reference supports additive STDP only")
            Ce = b2.Synapses(
                P, P, """w : 1
                dApre/dt = -Apre / taupre : 1 (event-driven)
                dApost/dt = -Apost / taupost : 1 (event-driven)""",
                on_pre="""ge += w*unit
                Apre += dApre
                w = clip(w + Apost, wmin, wmax)""",
                on_post="""Apost += dApost
                w = clip(w + Apre, wmin, wmax)""",
                namespace={"unit": unit, "taupre": rule.tau_pre * ms,
                           "taupost": rule.tau_post * ms, "dApre": rule.a_plus,
                           "dApost": -rule.a_minus, "wmin": rule.w_min, "wmax": rule.w_max},
                name="Ce")
        Ci = b2.Synapses(P, P, "w : 1", on_pre="gi += w*unit", namespace={"unit": unit},
                         name="Ci")
        Ce.connect(i=exc.i, j=exc.j)
        Ci.connect(i=inh.i, j=inh.j)
        Ce.w = exc.w
        Ci.w = inh.w
        mon = b2.SpikeMonitor(P, name="spikes")
        net = b2.Network(P, Ce, Ci, mon)
        if random_state is not None:
            b2.seed(int(random_state))
        build = time.perf_counter() - t0
        if standalone:
            net.run(duration * ms, namespace={})
            _notice("cpp")
            t1 = time.perf_counter()
            b2.device.build(directory=str(build_dir), compile=True, run=True, clean=True)
            total = time.perf_counter() - t1
            run_time = float(b2.device._last_run_time)
            build += total - run_time
        else:
            t1 = time.perf_counter()
            net.run(0 * ms, namespace={})
            build += time.perf_counter() - t1
            t1 = time.perf_counter()
            net.run(duration * ms, namespace={})
            run_time = time.perf_counter() - t1
        i = np.asarray(mon.i[:], dtype=np.int32)
        steps = np.rint(np.asarray(mon.t_[:]) / (dt * 1e-3)).astype(np.int64)
        w_final = np.asarray(Ce.w[:]).copy() if rule is not None else None
    finally:
        if standalone:
            b2.device.reinit()
            b2.device.activate()
            from brian2.devices.device import reset_device

            reset_device("runtime")
            if tmp is not None:
                tmp.cleanup()
        b2.prefs.codegen.target = old_target
    order = np.lexsort((i, steps))
    data = {"spike_neuron": ("spike", i[order]),
            "spike_time": ("spike", steps[order] * dt, {"units": "ms"})}
    if w_final is not None:
        data["final_w_exc"] = ("exc_synapse", w_final)
    import json

    return xr.Dataset(
        data,
        coords={"neuron": ("neuron", np.arange(cells.n)),
                "group": ("neuron", np.full(cells.n, cells.name, dtype=object)),
                "index_in_group": ("neuron", np.arange(cells.n))},
        attrs={"backend": "brian2-plain", "device": device,
               "target": "cpp" if standalone else target, "dt": float(dt),
               "duration": float(duration), "info_run_time_s": run_time,
               "info_build_time_s": build, "model": model,
               "spike_monitored_groups": json.dumps([cells.name]),
               "groups": json.dumps({cells.name: {"model": "LIF", "n": cells.n}})},
    )
