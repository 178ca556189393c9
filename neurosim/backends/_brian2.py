"""The Brian2 backend: builds the equivalent Brian2 objects and runs them.

Every object is given Brian2's own scheduling slots so that a time step does what the numba
kernel does (see :mod:`neurosim.backends._numba_kernels`): the inputs are summed into ``I_ext`` in
``before_groups``, the neurons integrate in ``groups``, ``I_syn`` decays in ``after_groups``,
then thresholds, synapses and resets. Brian2's own devices are options, not re-implemented:
``device="runtime"`` (code generation ``target="auto"|"numpy"|"cython"``) or
``device="cpp_standalone"``.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from ._base import ALL_FEATURES, Backend, RawResult
from ._numba import spike_generator_steps, syn_decay

_IZH_EQS = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + I_ext + I_syn)/ms : 1
du/dt = a*(b*v - u)/ms : 1
a : 1 (constant)
b : 1 (constant)
c : 1 (constant)
d : 1 (constant)
v_peak : 1 (constant)
"""

_LIF_EQS = """
dv/dt = (v_rest - v + I_ext + I_syn)/tau_m : 1 (unless refractory)
tau_m : second (constant)
v_rest : 1 (constant)
v_reset : 1 (constant)
v_thresh : 1 (constant)
"""

_COMMON_EQS = """
I_syn : 1
I_ext : 1
I_const : 1 (constant)
syn_decay : 1 (constant)
"""


def _import_brian2():
    try:
        import brian2
    except Exception as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'brian2' backend needs Brian2, which failed to import "
            f"({type(err).__name__}: {err}). Brian2 2.9 needs numpy < 2.4."
        ) from err
    return brian2


class Brian2Backend(Backend):
    """Run networks with Brian2 (runtime or ``cpp_standalone`` device)."""

    name = "brian2"
    features = ALL_FEATURES

    def simulate(self, network, n_steps, dt, rng, progress, device="runtime", target="auto",
                 build_dir=None, clean=True):
        b2 = _import_brian2()
        if device not in ("runtime", "cpp_standalone"):
            raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
        if target not in ("auto", "numpy", "cython"):
            raise ValueError(f"target must be 'auto', 'numpy' or 'cython', got {target!r}")
        seed = int(rng.integers(0, 2**31 - 1))
        old_target = b2.prefs.codegen.target
        standalone = device == "cpp_standalone"
        tmp = None
        if standalone:
            if build_dir is None:
                tmp = tempfile.TemporaryDirectory(prefix="neurosim_brian2_")
                build_dir = tmp.name
            b2.set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
        else:
            b2.prefs.codegen.target = target
        try:
            t0 = time.perf_counter()
            b2.defaultclock.dt = dt * b2.ms
            net, spike_mons, state_mons = _build(b2, network, dt)
            b2.seed(seed)
            t_build = time.perf_counter() - t0
            duration = n_steps * dt * b2.ms
            t0 = time.perf_counter()
            if standalone:
                net.run(duration)
                b2.device.build(directory=str(build_dir), compile=True, run=True,
                                clean=clean)
                total = time.perf_counter() - t0
                run_time = float(b2.device._last_run_time)
                info = {"build_time_s": t_build, "run_time_s": run_time,
                        "total_time_s": total + t_build}
            else:
                net.run(0 * b2.ms)  # code generation and compilation, timed apart
                t_compile = time.perf_counter() - t0
                bar = None
                report = None
                if progress:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=n_steps, desc="brian2", unit="step", leave=False)

                    def report(elapsed, completed, start, duration_):
                        bar.n = int(round(float(completed) * n_steps))
                        bar.refresh()

                t1 = time.perf_counter()
                net.run(duration, report=report, report_period=0.5 * b2.second)
                run_time = time.perf_counter() - t1
                if bar is not None:
                    bar.n = n_steps
                    bar.close()
                info = {"build_time_s": t_build + t_compile, "run_time_s": run_time,
                        "total_time_s": t_build + t_compile + run_time}
            info["device"] = device
            info["target"] = "cpp" if standalone else str(b2.prefs.codegen.target)
            return _collect(network, dt, spike_mons, state_mons, info)
        finally:
            if standalone:
                b2.device.reinit()
                b2.device.activate()
                from brian2.devices.device import reset_device

                reset_device("runtime")
                if tmp is not None:
                    tmp.cleanup()
            b2.prefs.codegen.target = old_target


def _build(b2, network, dt):
    from neurosim.spiking import (
        LIF,
        ConstantInput,
        GaussianNoise,
        Izhikevich,
        PoissonGroup,
        SpikeGeneratorGroup,
        TimedInput,
    )

    objects, groups = [], {}
    for k, g in enumerate(network.groups):
        name = f"ns{k}_{g.name}"
        if isinstance(g, (Izhikevich, LIF)):
            extra = ""
            inputs = [inp for inp in network.inputs if inp.target is g]
            for m, inp in enumerate(inputs):
                if isinstance(inp, GaussianNoise):
                    extra += f"noise_mu_{m} : 1 (constant)\nnoise_std_{m} : 1 (constant)\n"
            if isinstance(g, Izhikevich):
                G = b2.NeuronGroup(g.n, _IZH_EQS + _COMMON_EQS + extra, threshold="v >= v_peak",
                                   reset="v = c; u += d", method="euler", name=name)
                G.a, G.b, G.c, G.d = g.a, g.b, g.c, g.d
                G.v_peak = g.v_peak
                G.v = g.v_init
                G.u = g.u_init
            else:
                G = b2.NeuronGroup(g.n, _LIF_EQS + _COMMON_EQS + extra,
                                   threshold="v >= v_thresh", reset="v = v_reset",
                                   refractory=g.t_ref * b2.ms, method="exact", name=name)
                G.tau_m = g.tau_m * b2.ms
                G.v_rest, G.v_reset, G.v_thresh = g.v_rest, g.v_reset, g.v_thresh
                G.v = g.v_init
            G.syn_decay = syn_decay(g.tau_syn, dt)
            const = np.zeros(g.n)
            terms = []
            for m, inp in enumerate(inputs):
                if isinstance(inp, ConstantInput):
                    const += inp.value
                elif isinstance(inp, TimedInput):
                    inp.steps_per_sample(dt)  # validates the sampling step
                    ta = b2.TimedArray(inp.values[:, 0] if inp.shared else inp.values,
                                       dt=inp.dt * b2.ms, name=f"{name}_timed_{m}")
                    objects.append(ta)
                    terms.append(f"{ta.name}(t)" if inp.shared else f"{ta.name}(t, i)")
                elif isinstance(inp, GaussianNoise):
                    setattr(G, f"noise_mu_{m}", inp.mean)
                    setattr(G, f"noise_std_{m}", inp.std)
                    terms.append(f"(noise_mu_{m} + noise_std_{m}*randn())")
            G.I_const = const
            # Summed in the numba kernel's order. The first line must not be "I_ext = I_const"
            # followed by "+=": Brian2 2.9's numpy target makes that an alias of I_const and the
            # in-place additions then change I_const itself.
            code = ["I_ext = I_const" + (f" + {terms[0]}" if terms else "")]
            code += [f"I_ext = I_ext + {term}" for term in terms[1:]]
            ns = {ta.name: ta for ta in objects if isinstance(ta, b2.TimedArray)}
            G.run_regularly("\n".join(code), when="before_groups", name=f"{name}_inputs")
            G.run_regularly("I_syn = I_syn*syn_decay", when="after_groups",
                            name=f"{name}_syndecay")
            G.namespace.update(ns)
        elif isinstance(g, PoissonGroup):
            G = b2.PoissonGroup(g.n, rates=g.rates * b2.Hz, name=name)
        elif isinstance(g, SpikeGeneratorGroup):
            steps = spike_generator_steps(g, dt)
            G = b2.SpikeGeneratorGroup(g.n, g.indices, steps * dt * b2.ms, name=name)
        else:  # pragma: no cover - check() rejects unknown groups first
            raise NotImplementedError(f"brian2 backend cannot build {g!r}")
        groups[g.name] = G
    syn_objs = []
    for k, s in enumerate(network.synapses):
        on_pre = "I_syn_post += w" if s.target == "current" else "v_post += w"
        steps = s.delay_steps(dt)
        kwargs = {"delay": steps * dt * b2.ms} if np.ndim(steps) == 0 else {}
        S = b2.Synapses(groups[s.pre.name], groups[s.post.name], "w : 1", on_pre=on_pre,
                        order=k, name=f"ns{k}_syn_{s.name}", **kwargs)
        S.connect(i=s.i, j=s.j)
        S.w = s.w
        if np.ndim(steps):
            S.delay = steps * dt * b2.ms
        syn_objs.append(S)
    spike_mons = {m.group.name: b2.SpikeMonitor(groups[m.group.name])
                  for m in network.spike_monitors}
    state_mons = []
    for m in network.state_monitors:
        kwargs = {} if m.every is None else {"dt": m.every * b2.ms}
        mon = b2.StateMonitor(groups[m.group.name], list(m.variables), record=m.record,
                              **kwargs)
        state_mons.append((m, mon))
    net = b2.Network(*groups.values(), *syn_objs, *spike_mons.values(),
                     *[mon for _, mon in state_mons])
    return net, spike_mons, state_mons


def _collect(network, dt, spike_mons, state_mons, info):
    offsets = network.offsets()
    idx, steps = [], []
    for name, mon in spike_mons.items():
        idx.append(offsets[name] + np.asarray(mon.i[:], dtype=np.int64))
        steps.append(np.rint(np.asarray(mon.t_[:]) / (dt * 1e-3)).astype(np.int64))
    state = {}
    state_steps = None
    for m, mon in state_mons:
        state_steps = np.rint(np.asarray(mon.t_[:]) / (dt * 1e-3)).astype(np.int64)
        for var in m.variables:
            values = np.asarray(getattr(mon, var)[:]).T  # (time, neuron)
            gidx = offsets[m.group.name] + m.record
            if var in state:
                old_idx, old_vals = state[var]
                gidx = np.concatenate([old_idx, gidx])
                values = np.hstack([old_vals, values])
            state[var] = (gidx, values)
    return RawResult(
        spike_index=np.concatenate(idx) if idx else np.zeros(0, np.int64),
        spike_step=np.concatenate(steps) if steps else np.zeros(0, np.int64),
        state=state, state_steps=state_steps, info=info,
    )
