"""The Brian2 backend: builds the equivalent Brian2 objects and runs them.

Every object is given Brian2's own scheduling slots so that a time step does what the numba
kernel does (see :mod:`neurosim.backends._numba_kernels`): readouts, monitors and readout rules
in ``start``; the inputs are summed into ``I_ext`` in ``before_groups``; the neurons integrate in
``groups``; ``I_syn``, receptor variables and traces decay in ``after_groups``; then thresholds,
synapses (every ``on_pre`` pathway, then every ``on_post`` pathway) and resets; neuromodulators,
reward-modulated STDP and synaptic scaling in ``end``. Brian2's own devices are options, not
re-implemented: ``device="runtime"`` (code generation ``target="auto"|"numpy"|"cython"``) or
``device="cpp_standalone"``.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

from ._base import ALL_FEATURES, Backend, RawResult
from ._numba import double_exp_coupling, spike_generator_steps, syn_decay

_IZH_EQS = """
dv/dt = (0.04*v**2 + 5*v + 140 - u + I_ext + I_syn{rec})/ms : 1
du/dt = a*(b*v - u)/ms : 1
a : 1 (constant)
b : 1 (constant)
c : 1 (constant)
d : 1 (constant)
v_peak : 1 (constant)
"""

_IZH07_EQS = """
dv/dt = (k*(v - v_r)*(v - v_t) - u + I_ext + I_syn{rec})/C/ms : 1
du/dt = a*(b*(v - v_r) - u)/ms : 1
C : 1 (constant)
k : 1 (constant)
v_r : 1 (constant)
v_t : 1 (constant)
a : 1 (constant)
b : 1 (constant)
c : 1 (constant)
d : 1 (constant)
v_peak : 1 (constant)
"""

_ADEX_EQS = """
dv/dt = (-g_L*(v - E_L) + g_L*delta_T*exp((v - V_T)/delta_T) - u + I_ext + I_syn{rec})/C/ms : 1
du/dt = (a*(v - E_L) - u)/tau_w : 1
C : 1 (constant)
g_L : 1 (constant)
E_L : 1 (constant)
V_T : 1 (constant)
delta_T : 1 (constant)
tau_w : second (constant)
a : 1 (constant)
b : 1 (constant)
v_reset : 1 (constant)
v_peak : 1 (constant)
"""

_LIF_EQS = """
dv/dt = (v_rest - v + I_ext + I_syn{rec})/tau_m : 1 (unless refractory)
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

_NOTICE_SHOWN = set()


def _import_brian2():
    try:
        import brian2
    except Exception as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'brian2' backend needs Brian2, which failed to import "
            f"({type(err).__name__}: {err}). Brian2 2.9 needs numpy < 2.4."
        ) from err
    return brian2


def _notice(kind):
    """Say once per process that Brian2 is compiling (its first run can take minutes)."""
    if kind in _NOTICE_SHOWN:
        return
    _NOTICE_SHOWN.add(kind)
    what = {"cython": "Cython code (cached in ~/.cython/brian_extensions)",
            "cpp": "a C++ program (cpp_standalone compiles every build)"}[kind]
    print(f"neurosim: Brian2 is generating and compiling {what}; the first run in a fresh "
          "environment can take a few minutes.", file=sys.stderr, flush=True)


class Brian2Backend(Backend):
    """Run networks with Brian2 (runtime or ``cpp_standalone`` device)."""

    name = "brian2"
    features = ALL_FEATURES
    #: what cpp_standalone cannot run: RLS is a Python network operation (as in Brian2's own
    #: Nicola_Clopath_2017 example)
    standalone_missing = frozenset({"RLSRule"})

    def supported(self, device="runtime", **options):
        if device == "cpp_standalone":
            return frozenset(self.features) - self.standalone_missing
        return frozenset(self.features)

    def describe(self, device="runtime", **options):
        return "'brian2' with device='cpp_standalone'" if device == "cpp_standalone" else \
            "'brian2'"

    def build(self, network, dt, rng, device="runtime", target="auto", build_dir=None,
              clean=True):
        if device not in ("runtime", "cpp_standalone"):
            raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
        if target not in ("auto", "numpy", "cython"):
            raise ValueError(f"target must be 'auto', 'numpy' or 'cython', got {target!r}")
        return _Brian2Sim(network, dt, rng, device, target, build_dir, clean)


class _Brian2Sim:
    """The Brian2 side of a Session: one Brian2 Network, run segment by segment."""

    def __init__(self, network, dt, rng, device, target, build_dir, clean):
        b2 = _import_brian2()
        self.b2 = b2
        self.network = network
        self.dt = dt
        self.seed = int(rng.integers(0, 2**31 - 1))
        self.standalone = device == "cpp_standalone"
        self.device = device
        self.target = target
        self.clean = clean
        self._tmp = None
        self.done = False
        self.step = 0
        self._standalone_values = None
        if self.standalone:
            if build_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="neurosim_brian2_")
                build_dir = self._tmp.name
            b2.set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
        self.build_dir = build_dir
        t0 = time.perf_counter()
        try:
            b2.defaultclock.dt = dt * b2.ms
            self.objects = _Builder(b2, network, dt, self.standalone).build()
        except BaseException:
            self._reset_device()
            raise
        self.build_time = time.perf_counter() - t0
        self.counts = {}

    # ------------------------------------------------------------------ running
    def run(self, n_steps, progress):
        b2 = self.b2
        ob = self.objects
        duration = n_steps * self.dt * b2.ms
        if self.standalone:
            if self.done:
                raise NotImplementedError(
                    "a Session on brian2's cpp_standalone device runs once: the compiled program "
                    "simulates the whole run; use device='runtime' or the numba backend to "
                    "continue a simulation")
            try:
                b2.defaultclock.dt = self.dt * b2.ms
                b2.seed(self.seed)
                ob.net.run(duration, namespace={})
                _notice("cpp")
                t0 = time.perf_counter()
                b2.device.build(directory=str(self.build_dir), compile=True, run=True,
                                clean=self.clean)
                total = time.perf_counter() - t0
                info = {"build_time_s": self.build_time,
                        "run_time_s": float(b2.device._last_run_time),
                        "total_time_s": total + self.build_time, "device": "cpp_standalone",
                        "target": "cpp"}
                raw = self._collect(0, n_steps, info)
                self._standalone_values = {
                    "weights": {name: self.get_weights(name) for name in ob.weight_names()},
                    "state": self._read_state(),
                }
            finally:
                self.done = True
                self._reset_device()
            self.step += n_steps
            return raw
        old_target = b2.prefs.codegen.target
        b2.prefs.codegen.target = self.target
        try:
            b2.defaultclock.dt = self.dt * b2.ms
            t0 = time.perf_counter()
            if self.step == 0:
                if self.target != "numpy" and _cython_available():
                    _notice("cython")
                b2.seed(self.seed)
                ob.net.run(0 * b2.ms, namespace={})  # code generation and compilation, timed apart
            t_compile = time.perf_counter() - t0
            bar = report = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=n_steps, desc="brian2", unit="step", leave=False)

                def report(elapsed, completed, start, duration_):
                    bar.n = int(round(float(completed) * n_steps))
                    bar.refresh()

            t1 = time.perf_counter()
            ob.net.run(duration, report=report, report_period=0.5 * b2.second, namespace={})
            run_time = time.perf_counter() - t1
            if bar is not None:
                bar.n = n_steps
                bar.close()
            build = self.build_time + t_compile
            info = {"build_time_s": build, "run_time_s": run_time,
                    "total_time_s": build + run_time, "device": "runtime",
                    "target": str(b2.prefs.codegen.target)}
            self.build_time = 0.0
        finally:
            b2.prefs.codegen.target = old_target
        raw = self._collect(self.step, n_steps, info)
        self.step += n_steps
        return raw

    def _reset_device(self):
        if not self.standalone:
            return
        b2 = self.b2
        b2.device.reinit()
        b2.device.activate()
        from brian2.devices.device import reset_device

        reset_device("runtime")
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _since(self, key, n):
        start = self.counts.get(key, 0)
        self.counts[key] = n
        return start

    def _collect(self, n_start, n_steps, info):
        ob = self.objects
        offsets = self.network.offsets()
        dt_s = self.dt * 1e-3
        idx, steps = [], []
        for name, mon in ob.spike_mons.items():
            i = np.asarray(mon.i[:], dtype=np.int64)
            t = np.asarray(mon.t_[:])
            a = self._since(("spk", name), i.size)
            idx.append(offsets[name] + i[a:])
            steps.append(np.rint(t[a:] / dt_s).astype(np.int64))
        state, state_steps = {}, None
        for m, mon in ob.state_mons:
            t = np.asarray(mon.t_[:])
            a = self._since(("state", id(m)), t.size)
            state_steps = np.rint(t[a:] / dt_s).astype(np.int64)
            for var in m.variables:
                values = np.asarray(getattr(mon, var)[:]).T[a:]  # (time, neuron)
                names = [m.group.name] * m.record.size
                if var in state:
                    g0, r0, v0 = state[var]
                    state[var] = (g0 + names, np.concatenate([r0, m.record]), np.hstack([v0, values]))
                else:
                    state[var] = (names, m.record, values)
        vectors = {}
        for key, (m, parts, labels) in ob.vector_mons.items():
            cols, t = [], None
            for mon, var, pos in parts:
                tt = np.asarray(mon.t_[:])
                a = self.counts.get(("vec", id(mon)), 0)
                t = tt[a:]
                cols.append((pos, np.asarray(getattr(mon, var)[:]).T[a:]))
            for mon, _, _ in parts:
                self.counts[("vec", id(mon))] = np.asarray(mon.t_[:]).size
            vals = np.zeros((t.size, labels.size))
            for pos, v in cols:
                vals[:, pos] = v
            vectors[key] = (np.rint(t / dt_s).astype(np.int64), labels, vals, m)
        return RawResult(
            spike_index=np.concatenate(idx) if idx else np.zeros(0, np.int64),
            spike_step=np.concatenate(steps) if steps else np.zeros(0, np.int64),
            state=state, state_steps=state_steps, vectors=vectors, final=self._final(),
            info=info,
        )

    def _final(self):
        net = self.network
        out = {}
        for s in net.synapses:
            if s.plasticity is not None or any(sc.synapses is s for sc in net.scalings):
                S = self.objects.syn[s.name]
                out[f"w_{s.name}"] = ("synapse", np.asarray(S.w[:]).copy())
                if s.plasticity is not None and s.plasticity.kind == "RewardSTDP":
                    out[f"c_{s.name}"] = ("synapse", np.asarray(S.c[:]).copy())
        for r in net.readouts:
            out[f"W_{r.name}"] = ("readout", self.objects.readout_weights(r))
        for th in net.thresholds:
            G = self.objects.groups[th.group.name]
            out[f"theta_{th.group.name}"] = ("neuron", np.asarray(G.theta[:]).copy())
        for m in net.modulators:
            out[f"d_{m.name}"] = ("scalar", self.objects.modulator_value(m))
        return out

    # ------------------------------------------------------------------ between runs
    def get_weights(self, name):
        if self._standalone_values is not None:
            return self._standalone_values["weights"][name].copy()
        return self.objects.get_weights(name)

    def set_weights(self, name, w):
        if self.standalone and self.done:
            raise NotImplementedError("weights cannot change after a cpp_standalone run")
        self.objects.set_weights(name, w)

    def _read_state(self):
        ob = self.objects
        out = {}
        for g in self.network.groups:
            G = ob.groups[g.name]
            d = {}
            for var in g.state_variables:
                d[var] = np.asarray(getattr(G, var)[:]).copy()
            # only groups with a refractory period (or STDP) have Brian2's lastspike
            if g.receives_synapses and "lastspike" in G.variables:
                last = np.asarray(G.lastspike_[:]) * 1e3
                d["lastspike_ms"] = np.where(last < -1e8, -np.inf, last)
            out[g.name] = d
        for t in self.network.traces:
            out[f"x_{t.name}"] = np.asarray(getattr(ob.groups[t.group.name],
                                                    f"x_{t.name}")[:]).copy()
        for key, (_, value) in self._final().items():
            out[key] = value
        for r in self.network.rules:
            if r.name in ob.rls:
                out[f"P_{r.name}"] = ob.rls[r.name].P.copy()
        return out

    @property
    def state(self):
        if self._standalone_values is not None:
            return self._standalone_values["state"]
        return self._read_state()

    def store(self):
        if self.standalone:
            raise NotImplementedError("store/restore is not available on cpp_standalone")
        name = f"neurosim_{len(self.counts)}_{time.perf_counter_ns()}"
        self.objects.net.store(name)
        extra = {k: op.snapshot() for k, op in self.objects.rls.items()}
        return (name, dict(self.counts), self.step, extra,
                {k: dict(v) for k, v in self.objects.pending.items()})

    def restore(self, snap):
        name, counts, step, extra, pending = snap
        self.objects.net.restore(name, restore_random_state=True)
        self.counts = dict(counts)
        self.step = step
        for k, v in extra.items():
            self.objects.rls[k].restore(v)
        self.objects.pending = {k: dict(v) for k, v in pending.items()}

    def reset_rule(self, name):
        ob = self.objects
        if name in ob.rls:
            ob.rls[name].reset()
        elif name in ob.tf:
            for S in ob.tf[name]:
                S.elig = 0.0
        else:
            raise ValueError(f"no readout rule named {name!r}; rules: "
                             f"{sorted(ob.rls) + sorted(ob.tf)}")

    def add_modulator_events(self, name, times, amounts):
        if self.standalone:
            raise NotImplementedError("events added between runs (a Python hook) are not "
                                      "available on brian2's cpp_standalone device")
        names = [m.name for m in self.network.modulators]
        if name not in names:
            raise ValueError(f"no Modulator named {name!r}; modulators: {names}")
        m = self.network.modulators[names.index(name)]
        if m.signal is not None:
            raise ValueError(f"modulator {name!r} is a time series; it takes no events")
        steps = np.floor((times + 1e-3 * self.dt) / self.dt).astype(np.int64)
        if steps.size and steps.min() < self.step:
            raise ValueError(f"modulator events must lie at or after the current time "
                             f"{self.step * self.dt:g} ms, got {times.min():g} ms")
        self.objects.add_events(name, steps, amounts)

    def close(self):
        if self.standalone and not self.done:
            self._reset_device()


def _cython_available():
    try:
        import Cython  # noqa: F401
    except ImportError:
        return False
    return True


class _RLSOperation:
    """Recursive least squares as a Brian2 network operation (runtime devices only)."""

    def __init__(self, objects, rule, dt):
        self.ob = objects
        self.rule = rule
        self.dt = dt
        self.P = np.eye(rule.readout.n_in) / rule.alpha

    def __call__(self, t):
        n = int(round(t / (self.dt * 1e-3)))
        rule = self.rule
        if rule.gate is not None and _signal_at(rule.gate, n, self.dt, 0) == 0.0:
            return
        r = rule.readout
        x = self.ob.readout_input(r)
        y = np.asarray(self.ob.readouts[r.name][0].y[:])
        target = np.array([_signal_at(rule.teacher, n, self.dt, k) for k in range(r.n_out)])
        W = self.ob.readout_weights(r)
        c = self.P @ x
        e = y - target
        W -= np.outer(e, c)
        self.P -= np.outer(c, c) / (1.0 + x @ c)
        self.ob.set_readout_weights(r, W)

    def snapshot(self):
        return self.P.copy()

    def restore(self, P):
        self.P = P.copy()

    def reset(self):
        self.P = np.eye(self.rule.readout.n_in) / self.rule.alpha


def _as_operation(obj):
    """A plain function of ``t`` calling ``obj`` (Brian2 inspects the signature)."""

    def operation(t):
        obj(float(np.asarray(t[:] if hasattr(t, "get_item") else t)))

    return operation


class _PendingEvents:
    """Network operation adding the modulator events scheduled between runs (runtime only)."""

    def __init__(self, pending, name, group, var, dt):
        self.pending, self.name, self.group, self.var = pending, name, group, var
        self.dt_s = dt * 1e-3

    def __call__(self, t):
        pend = self.pending[self.name]
        if pend:
            n = int(round(t / self.dt_s))
            if n in pend:
                values = getattr(self.group, self.var)
                values[:] = np.asarray(values[:]) + pend[n]


def _ta_values(sig):
    """TimedArray values of a signal: 1-D for one shared signal, 2-D otherwise."""
    return sig.values[:, 0] if sig.mode == "shared" else sig.values


def _signal_at(sig, n, dt, col):
    r = min(n // sig.steps_per_sample(dt), sig.n_times - 1)
    return float(sig.values[r, col if sig.values.shape[1] > 1 else 0])


class _Objects:
    """The Brian2 objects of one network, and how to read and change them."""

    def weight_names(self):
        return list(self.syn) + list(self.readouts)

    def get_weights(self, name):
        if name in self.syn:
            return np.asarray(self.syn[name].w[:]).copy()
        r = next(r for r in self.network.readouts if r.name == name)
        return self.readout_weights(r)

    def set_weights(self, name, w):
        if name in self.syn:
            self.syn[name].w[:] = w
        else:
            r = next(r for r in self.network.readouts if r.name == name)
            self.set_readout_weights(r, w)

    def readout_weights(self, r):
        R, syns = self.readouts[r.name]
        W = np.zeros((r.n_out, r.n_in))
        col = 0
        for t, S in zip(r.traces, syns):
            W[:, col:col + t.n] = np.asarray(S.w[:]).reshape(r.n_out, t.n)
            col += t.n
        return W

    def set_readout_weights(self, r, W):
        R, syns = self.readouts[r.name]
        col = 0
        for t, S in zip(r.traces, syns):
            S.w[:] = np.ascontiguousarray(W[:, col:col + t.n]).reshape(-1)
            col += t.n

    def readout_input(self, r):
        return np.concatenate([np.asarray(getattr(self.groups[t.group.name],
                                                  f"x_{t.name}")[:]) for t in r.traces])

    def modulator_value(self, m):
        G, var = self.mod_copies[m.name][0]
        return float(np.asarray(getattr(G, var)[:]).reshape(-1)[0])

    def add_events(self, name, steps, amounts):
        pend = self.pending[name]
        for s, a in zip(steps.tolist(), amounts.tolist()):
            pend[s] = pend.get(s, 0.0) + a


class _Builder:
    """Translate a network description into Brian2 objects."""

    def __init__(self, b2, network, dt, standalone=False):
        self.b2 = b2
        self.network = network
        self.dt = dt
        self.standalone = standalone
        self._ops = []

    def build(self):
        b2, network, dt = self.b2, self.network, self.dt
        from neurosim.spiking import (
            LIF,
            AdEx,
            ConstantInput,
            GaussianNoise,
            Izhikevich,
            Izhikevich2007,
            PoissonGroup,
            RewardSTDP,
            SpikeGeneratorGroup,
            TimedInput,
            UniformNoise,
        )

        ob = _Objects()
        ob.network = network
        ob.groups, ob.syn, ob.readouts, ob.rls, ob.tf = {}, {}, {}, {}, {}
        ob.pending = {m.name: {} for m in network.modulators}
        ob.mod_copies = {m.name: [] for m in network.modulators}
        objects = []
        ms = b2.ms
        # which groups hold a copy of which modulator (R-STDP post groups, readouts)
        mod_users = {}
        for s in network.synapses:
            if isinstance(s.plasticity, RewardSTDP):
                mod_users.setdefault(s.post.name, set()).add(s.plasticity.modulator.name)
        feedback_terms = {}
        for q, fb in enumerate(network.feedbacks):
            feedback_terms.setdefault(fb.group.name, []).append(f"Ifb{q}")
        traces_of = {}
        for t in network.traces:
            traces_of.setdefault(t.group.name, []).append(
                (f"x_{t.name}", t.tau, t.tau_rise, t.increment, 0.0))
        for sc in network.scalings:
            traces_of.setdefault(sc.synapses.post.name, []).append(
                (f"rhat_{sc.synapses.name}", sc.tau_rate, 0.0, 1000.0 / sc.tau_rate,
                 sc.rate_init))
        thresholds = {th.group.name: th for th in network.thresholds}

        for k, g in enumerate(network.groups):
            name = f"ns{k:03d}_{g.name}"
            if isinstance(g, (Izhikevich, LIF, Izhikevich2007, AdEx)):
                G = self._neuron_group(g, name, traces_of.get(g.name, ()),
                                       thresholds.get(g.name), feedback_terms.get(g.name, ()),
                                       mod_users.get(g.name, ()), objects, ob)
            elif isinstance(g, PoissonGroup):
                if not g.inhomogeneous:
                    G = b2.PoissonGroup(g.n, rates=g.rates * b2.Hz, name=name)
                else:
                    sig = g.signal
                    ta = b2.TimedArray(_ta_values(sig), dt=sig.dt * ms, name=f"{name}_rates")
                    eqs, expr, gains = self._signal_expr(sig, ta.name, "rg")
                    G = b2.NeuronGroup(g.n, eqs or "", threshold=f"rand() < ({expr})*dt/second",
                                       namespace={ta.name: ta}, name=name)
                    for c, col in gains:
                        setattr(G, c, col)
            elif isinstance(g, SpikeGeneratorGroup):
                steps = spike_generator_steps(g, dt)
                G = b2.SpikeGeneratorGroup(g.n, g.indices, steps * dt * ms, name=name)
            else:  # pragma: no cover - check() rejects unknown groups first
                raise NotImplementedError(f"brian2 backend cannot build {g!r}")
            ob.groups[g.name] = G

        # inputs (after all groups exist: feedback needs the readouts, built below)
        for g in network.groups:
            if not g.receives_synapses:
                continue
            G = ob.groups[g.name]
            name = G.name
            const = np.zeros(g.n)
            terms, ns = [], {}
            inputs = [inp for inp in network.inputs if inp.target is g]
            for m, inp in enumerate(inputs):
                if isinstance(inp, ConstantInput):
                    const += inp.value
                elif isinstance(inp, TimedInput):
                    sig = inp.signal
                    inp.steps_per_sample(dt)  # validates the sampling step
                    ta = b2.TimedArray(_ta_values(sig), dt=sig.dt * ms, name=f"{name}_timed_{m}")
                    objects.append(ta)
                    ns[ta.name] = ta
                    _, expr, gains = self._signal_expr(sig, ta.name, f"tg{m}_")
                    for c, col in gains:
                        setattr(G, c, col)
                    terms.append(expr if sig.mode != "lowrank" else f"({expr})")
                elif isinstance(inp, GaussianNoise):
                    setattr(G, f"noise_mu_{m}", inp.mean)
                    setattr(G, f"noise_std_{m}", inp.std)
                    terms.append(f"(noise_mu_{m} + noise_std_{m}*randn())")
                elif isinstance(inp, UniformNoise):
                    setattr(G, f"noise_mu_{m}", inp.low)
                    setattr(G, f"noise_std_{m}", inp.high - inp.low)
                    terms.append(f"(noise_mu_{m} + noise_std_{m}*rand())")
            terms += list(feedback_terms.get(g.name, ()))
            G.I_const = const
            # Summed in the numba kernel's order. The first line must not be "I_ext = I_const"
            # followed by "+=": Brian2 2.9's numpy target makes that an alias of I_const and the
            # in-place additions then change I_const itself.
            code = ["I_ext = I_const" + (f" + {terms[0]}" if terms else "")]
            code += [f"I_ext = I_ext + {term}" for term in terms[1:]]
            G.namespace.update(ns)
            G.run_regularly("\n".join(code), when="before_groups", name=f"{name}_inputs")

        # synapses
        syn_objs = []
        for k, s in enumerate(network.synapses):
            syn_objs.append(self._synapses(k, s, ob))

        # modulators: a copy of d in every group that needs it, updated identically
        self._modulators(ob, objects)
        # readouts, their rules and feedback
        extra = self._readouts(ob, objects)

        # monitors
        ob.spike_mons = {m.group.name: b2.SpikeMonitor(ob.groups[m.group.name],
                                                       name=f"spikemon_{m.group.name}")
                         for m in network.spike_monitors}
        ob.state_mons = []
        for q, m in enumerate(network.state_monitors):
            kwargs = {} if m.every is None else {"dt": m.every * ms}
            mon = b2.StateMonitor(ob.groups[m.group.name], list(m.variables), record=m.record,
                                  name=f"statemon{q:03d}", **kwargs)
            ob.state_mons.append((m, mon))
        ob.vector_mons = {}
        vmons = []
        for q, m in enumerate(network.weight_monitors):
            kwargs = {} if m.every is None else {"dt": m.every * ms}
            parts = []
            if m.synapses in network.synapses:
                mon = b2.StateMonitor(ob.syn[m.synapses.name], "w", record=m.record,
                                      when="start", name=f"weightmon{q:03d}", **kwargs)
                parts.append((mon, "w", np.arange(m.record.size)))
            else:
                r = m.synapses
                R, syns = ob.readouts[r.name]
                k_out, j_in = np.divmod(m.record, r.n_in)
                col = 0
                for ti, (t, S) in enumerate(zip(r.traces, syns)):
                    sel = np.flatnonzero((j_in >= col) & (j_in < col + t.n))
                    if sel.size:
                        idx = k_out[sel] * t.n + (j_in[sel] - col)
                        mon = b2.StateMonitor(S, "w", record=idx, when="start",
                                              name=f"weightmon{q:03d}_{ti}", **kwargs)
                        parts.append((mon, "w", sel))
                    col += t.n
            ob.vector_mons[f"w_{m.name}"] = (m, parts, m.record)
            vmons += [p[0] for p in parts]
        for q, m in enumerate(network.readout_monitors):
            kwargs = {} if m.every is None else {"dt": m.every * ms}
            R, _ = ob.readouts[m.readout.name]
            mon = b2.StateMonitor(R, "y", record=True, when="start", name=f"readoutmon{q:03d}",
                                  **kwargs)
            ob.vector_mons[f"y_{m.readout.name}"] = (m, [(mon, "y", np.arange(m.readout.n_out))],
                                                     np.arange(m.readout.n_out))
            vmons.append(mon)
        ob.net = b2.Network(*ob.groups.values(), *syn_objs, *ob.spike_mons.values(),
                            *[mon for _, mon in ob.state_mons], *vmons, *extra, *self._ops,
                            *self._holders)
        return ob

    # ------------------------------------------------------------------ pieces
    def _signal_expr(self, sig, ta, prefix):
        """Brian2 expression of a sampled signal; returns (extra equations, expression, gains)."""
        if sig.mode == "shared":
            return "", f"{ta}(t)", []
        if sig.mode == "dense":
            return "", f"{ta}(t, i)", []
        K = sig.values.shape[1]
        eqs = "".join(f"{prefix}{c} : 1 (constant)\n" for c in range(K))
        expr = " + ".join(f"{prefix}{c}*{ta}(t, {c})" for c in range(K))
        return eqs, expr, [(f"{prefix}{c}", sig.gains[:, c]) for c in range(K)]

    def _neuron_group(self, g, name, traces, threshold, fb_terms, mods, objects, ob):
        from neurosim.spiking import LIF, AdEx, GaussianNoise, Izhikevich, TimedInput, UniformNoise

        b2, dt, ms = self.b2, self.dt, self.b2.ms
        ns = {}
        extra = ""
        inputs = [inp for inp in self.network.inputs if inp.target is g]
        for m, inp in enumerate(inputs):
            if isinstance(inp, (GaussianNoise, UniformNoise)):
                extra += f"noise_mu_{m} : 1 (constant)\nnoise_std_{m} : 1 (constant)\n"
            elif isinstance(inp, TimedInput) and inp.signal.mode == "lowrank":
                extra += self._signal_expr(inp.signal, "x", f"tg{m}_")[0]
        for term in fb_terms:
            extra += f"{term} : 1\n"
        # receptors
        lif = type(g) is LIF
        has_cond = any(r.kind == "conductance" for r in g.receptors)
        exact = lif and g.receptors and not has_cond
        rec_terms, decay_code = [], []
        for r in g.receptors:
            gv, hv = f"g_{r.name}", f"h_{r.name}"
            if exact:
                extra += f"d{gv}/dt = -{gv}/rtau_{r.name}"
                extra += f" + {hv}/ms : 1\nd{hv}/dt = -{hv}/rtaur_{r.name} : 1\n" if r.double \
                    else " : 1\n"
                ns[f"rtau_{r.name}"] = r.tau * ms
                if r.double:
                    ns[f"rtaur_{r.name}"] = r.tau_rise * ms
            else:
                extra += f"{gv} : 1\n" + (f"{hv} : 1\n" if r.double else "")
                ns[f"rdg_{r.name}"] = float(np.exp(-dt / r.tau))
                if r.double:
                    ns[f"rdh_{r.name}"] = float(np.exp(-dt / r.tau_rise))
                    ns[f"rcgh_{r.name}"] = double_exp_coupling(r.tau, r.tau_rise, dt)
                    decay_code.append(f"{gv} = {gv}*rdg_{r.name} + {hv}*rcgh_{r.name}")
                    decay_code.append(f"{hv} = {hv}*rdh_{r.name}")
                else:
                    decay_code.append(f"{gv} = {gv}*rdg_{r.name}")
            if r.kind == "conductance":
                ns[f"E_{r.name}"] = float(r.E_rev)
                rec_terms.append(f"{gv}*(E_{r.name} - v)")
            else:
                rec_terms.append(gv)
        rec = "".join(f" + {t}" for t in rec_terms)
        # traces and thresholds
        reset_extra = []
        trace_code = []
        for var, tau, tau_rise, inc, _ in traces:
            extra += f"{var} : 1\n"
            ns[f"tdg_{var}"] = float(np.exp(-dt / tau))
            if tau_rise > 0:
                extra += f"{var}_h : 1\n"
                ns[f"tdh_{var}"] = float(np.exp(-dt / tau_rise))
                ns[f"tcgh_{var}"] = double_exp_coupling(tau, tau_rise, dt)
                ns[f"thinc_{var}"] = float(inc / tau_rise)
                trace_code.append(f"{var} = {var}*tdg_{var} + {var}_h*tcgh_{var}")
                trace_code.append(f"{var}_h = {var}_h*tdh_{var}")
                reset_extra.append(f"{var}_h += thinc_{var}")
            else:
                ns[f"tinc_{var}"] = float(inc)
                trace_code.append(f"{var} = {var}*tdg_{var}")
                reset_extra.append(f"{var} += tinc_{var}")
        theta = ""
        if threshold is not None:
            extra += ("theta : 1\nat_decay : 1 (constant)\nat_drift : 1 (constant)\n"
                      "at_jump : 1 (constant)\n")
            theta = " + theta"
            reset_extra.append("theta += at_jump")
        for m in mods:
            extra += f"d_{m} : 1 (shared)\n"
        if isinstance(g, Izhikevich):
            eqs = _IZH_EQS.format(rec=rec)
            thr, reset, method = f"v >= v_peak{theta}", "v = c; u += d", "euler"
            kwargs = {}
        elif lif:
            eqs = _LIF_EQS.format(rec=rec)
            thr, reset = f"v >= v_thresh{theta}", "v = v_reset"
            method = "exponential_euler" if has_cond else "exact"
            kwargs = {"refractory": g.t_ref * ms}
        elif isinstance(g, AdEx):
            eqs = _ADEX_EQS.format(rec=rec)
            thr, reset, method = f"v >= v_peak{theta}", "v = v_reset; u += b", "euler"
            kwargs = {}
        else:
            eqs = _IZH07_EQS.format(rec=rec)
            thr, reset, method = f"v >= v_peak{theta}", "v = c; u += d", "euler"
            kwargs = {}
        reset = "; ".join([reset] + reset_extra)
        G = b2.NeuronGroup(g.n, eqs + _COMMON_EQS + extra, threshold=thr, reset=reset,
                           method=method, namespace=ns, name=name, **kwargs)
        if isinstance(g, Izhikevich):
            G.a, G.b, G.c, G.d = g.a, g.b, g.c, g.d
            G.v_peak = g.v_peak
            G.u = g.u_init
        elif lif:
            G.tau_m = g.tau_m * ms
            G.v_rest, G.v_reset, G.v_thresh = g.v_rest, g.v_reset, g.v_thresh
        elif isinstance(g, AdEx):
            for key in ("C", "g_L", "E_L", "V_T", "delta_T", "a", "b", "v_reset", "v_peak"):
                setattr(G, key, getattr(g, key))
            G.tau_w = g.tau_w * ms
            G.u = g.u_init
        else:
            for key in ("C", "k", "v_r", "v_t", "a", "b", "c", "d", "v_peak"):
                setattr(G, key, getattr(g, key))
            G.u = g.u_init
        G.v = g.v_init
        G.syn_decay = syn_decay(g.tau_syn, dt)
        for r in g.receptors:
            setattr(G, f"g_{r.name}", r.g_init)
        for var, _, _, _, init in traces:
            setattr(G, var, init)
        if threshold is not None:
            th = threshold
            G.theta = th.theta_init
            G.at_decay = float(np.exp(-dt / th.tau))
            G.at_drift = th.eta * th.target_rate * dt / 1000.0
            G.at_jump = th.increment + th.eta
            G.run_regularly("theta = theta*at_decay - at_drift", when="before_groups",
                            order=1, name=f"{name}_theta")
        G.run_regularly("I_syn = I_syn*syn_decay", when="after_groups", name=f"{name}_syndecay")
        if decay_code:
            G.run_regularly("\n".join(decay_code), when="after_groups",
                            name=f"{name}_receptors")
        if trace_code:
            G.run_regularly("\n".join(trace_code), when="after_groups", name=f"{name}_traces")
        return G

    def _synapses(self, k, s, ob):
        from neurosim.spiking import RewardSTDP

        b2, dt, ms = self.b2, self.dt, self.b2.ms
        ns = {}
        if s.receptor is not None:
            r = s.post.receptor(s.receptor)
            if r.double:
                deliver = f"h_{r.name}_post += w*rscale"
                ns["rscale"] = 1.0 / r.tau_rise
            else:
                deliver = f"g_{r.name}_post += w"
        else:
            deliver = "I_syn_post += w" if s.target == "current" else "v_post += w"
        model = "w : 1"
        on_pre, on_post = deliver, None
        rule = s.plasticity
        if rule is not None:
            reward = isinstance(rule, RewardSTDP)
            model += ("\ndapre/dt = -apre/tau_pre : 1 (event-driven)"
                      "\ndapost/dt = -apost/tau_post : 1 (event-driven)")
            ns.update(tau_pre=rule.tau_pre * ms, tau_post=rule.tau_post * ms,
                      a_plus=rule.a_plus, a_minus=rule.a_minus, w_min=rule.w_min,
                      w_max=rule.w_max)

            def clip(expr):
                lo, hi = np.isfinite(rule.w_min), np.isfinite(rule.w_max)
                if lo and hi:
                    return f"clip({expr}, w_min, w_max)"
                if lo:
                    return f"clip({expr}, w_min, inf)"
                if hi:
                    return f"clip({expr}, -inf, w_max)"
                return expr

            op = "=" if rule.pairing == "nearest" else "+="
            if reward:
                model += "\nc : 1"
                on_pre += f"\napre {op} a_plus\nc = c - apost"
                on_post = f"apost {op} a_minus\nc = c + apre"
            elif rule.rule == "additive":
                on_pre += f"\napre {op} a_plus\nw = " + clip("w - apost")
                on_post = f"apost {op} a_minus\nw = " + clip("w + apre")
            else:
                on_pre += f"\napre {op} a_plus\nw = " + clip("w - apost*(w - w_min)")
                on_post = f"apost {op} a_minus\nw = " + clip("w + apre*(w_max - w)")
        steps = s.delay_steps(dt)
        kwargs = {"delay": steps * dt * ms} if np.ndim(steps) == 0 else {}
        name = f"ns{k:03d}_syn_{s.name}"
        S = b2.Synapses(ob.groups[s.pre.name], ob.groups[s.post.name], model, on_pre=on_pre,
                        on_post=on_post, namespace=ns, name=name, **kwargs)
        S.connect(i=s.i, j=s.j)
        S.w = s.w
        if rule is not None and rule.order == "post_first":
            S.post.order = -2  # before every on_pre pathway (order -1)
        if np.ndim(steps):
            S.delay = steps * dt * ms
        if rule is not None and isinstance(rule, RewardSTDP):
            every = 1 if rule.every is None else int(round(rule.every / dt))
            ns.update(eta=rule.eta, d_tonic=rule.d_tonic,
                      cdecay=float(np.exp(-every * dt / rule.tau_c)))
            S.run_regularly(f"w = clip(w + eta*(d_{rule.modulator.name}_post + d_tonic)*c, "
                            "w_min, w_max)\nc = c*cdecay", dt=every * dt * ms, when="end",
                            order=5, name=f"{name}_reward")
        for sc in self.network.scalings:
            if sc.synapses is s:
                ns.update(sc_eta=sc.eta, sc_target=sc.target_rate, sc_wmin=sc.w_min,
                          sc_wmax=sc.w_max)
                expr = f"w*(1 + sc_eta*(sc_target - rhat_{s.name}_post))"
                lo, hi = np.isfinite(sc.w_min), np.isfinite(sc.w_max)
                expr = (f"clip({expr}, {'sc_wmin' if lo else '-inf'}, "
                        f"{'sc_wmax' if hi else 'inf'})") if (lo or hi) else expr
                S.run_regularly(f"w = {expr}", dt=int(round(sc.every / dt)) * dt * ms,
                                when="end", order=10, name=f"{name}_scaling")
        ob.syn[s.name] = S
        return S

    def _modulators(self, ob, objects):
        b2 = self.b2
        net = self.network
        users = []
        for s in net.synapses:
            if s.plasticity is not None and s.plasticity.kind == "RewardSTDP":
                users.append((s.plasticity.modulator, ob.groups[s.post.name]))
        self._holders = []
        for q, m in enumerate(net.modulators):
            # a group of its own holds the reference copy (read for the results)
            H = b2.NeuronGroup(1, f"d_{m.name} : 1 (shared)", name=f"ns_mod{q:03d}_{m.name}")
            self._holders.append(H)
            self._mod_copy(m, H, ob, objects)
            seen = set()
            for mm, G in users:
                if mm is m and id(G) not in seen:
                    seen.add(id(G))
                    self._mod_copy(m, G, ob, objects)

    def _mod_copy(self, m, G, ob, objects):
        b2, dt, ms = self.b2, self.dt, self.b2.ms
        var = f"d_{m.name}"
        if m.signal is not None:
            ta = b2.TimedArray(m.signal.values[:, 0], dt=m.signal.dt * ms,
                               name=f"{G.name}_{m.name}_series")
            G.namespace[ta.name] = ta
            code = f"{var} = {ta.name}(t)"
        else:
            steps = np.floor((m.times + 1e-3 * dt) / dt).astype(np.int64)
            inc = np.zeros(int(steps.max(initial=-1)) + 2)
            np.add.at(inc, steps, m.amounts)
            ta = b2.TimedArray(inc, dt=dt * ms, name=f"{G.name}_{m.name}_events")
            G.namespace[ta.name] = ta
            G.namespace[f"mdecay_{m.name}"] = float(np.exp(-dt / m.tau))
            code = f"{var} = {var}*mdecay_{m.name} + {ta.name}(t)"
        G.run_regularly(code, when="end", order=0, name=f"{G.name}_{m.name}")
        ob.mod_copies[m.name].append((G, var))
        if m.signal is None and not self.standalone:
            add_pending = _as_operation(_PendingEvents(ob.pending, m.name, G, var, dt))
            op = b2.NetworkOperation(add_pending, when="end", order=1,
                                     name=f"{G.name}_{m.name}_added")
            # events added between runs apply after the decay, as in the numba kernel
            self._ops.append(op)

    def _readouts(self, ob, objects):
        from neurosim.spiking import Modulator, RLSRule, ThreeFactorRule

        b2, dt, ms = self.b2, self.dt, self.b2.ms
        net = self.network
        extra = []
        for q, r in enumerate(net.readouts):
            rule = next((x for x in net.rules if x.readout is r), None)
            parts = [f"y{p}" for p in range(len(r.traces))]
            eqs = "y : 1\n" if len(parts) == 1 else (
                f"y = {' + '.join(parts)} : 1\n" + "".join(f"{p} : 1\n" for p in parts))
            mod = rule.modulator if isinstance(rule, ThreeFactorRule) and isinstance(
                rule.modulator, Modulator) else None
            if mod is not None:
                eqs += f"d_{mod.name} : 1 (shared)\n"
            R = b2.NeuronGroup(r.n_out, eqs, name=f"ns_ro{q:03d}_{r.name}")
            syns = []
            col = 0
            for p, t in enumerate(r.traces):
                yvar = "y" if len(parts) == 1 else parts[p]
                G = ob.groups[t.group.name]
                model = f"w : 1\n{yvar}_post = w*x_{t.name}_pre : 1 (summed)"
                ns = {}
                code = None
                if isinstance(rule, ThreeFactorRule):
                    model += "\nelig : 1"
                    ns.update(tf_de=float(np.exp(-dt / rule.tau_e)), tf_eta=rule.eta,
                              tf_dt=float(dt), tf_wmin=rule.w_min, tf_wmax=rule.w_max)
                    gate = "1.0"
                    if rule.gate is not None:
                        ta = b2.TimedArray(rule.gate.values[:, 0], dt=rule.gate.dt * ms,
                                           name=f"{R.name}_gate{p}")
                        ns[ta.name] = ta
                        gate = f"{ta.name}(t)"
                    if rule.teacher is not None or mod is None:
                        sig = rule.teacher if rule.teacher is not None else rule.modulator
                        vals = sig.values
                        ta = b2.TimedArray(vals if vals.shape[1] > 1 else vals[:, 0],
                                           dt=sig.dt * ms, name=f"{R.name}_signal{p}")
                        ns[ta.name] = ta
                        value = f"{ta.name}(t, j)" if vals.shape[1] > 1 else f"{ta.name}(t)"
                        M = f"({value} - y_post)" if rule.teacher is not None else value
                    else:
                        M = f"d_{mod.name}_post"
                    gfac = "1.0" if rule.post == "none" else "y_post"
                    upd = f"w + tf_eta*{gate}*{M}*elig*tf_dt"
                    lo, hi = np.isfinite(rule.w_min), np.isfinite(rule.w_max)
                    if lo or hi:
                        upd = (f"clip({upd}, {'tf_wmin' if lo else '-inf'}, "
                               f"{'tf_wmax' if hi else 'inf'})")
                    code = f"elig = elig*tf_de + x_{t.name}_pre*{gfac}\nw = {upd}"
                S = b2.Synapses(G, R, model, namespace=ns, name=f"ns_ro{q:03d}_{r.name}_s{p}")
                S.connect(i=np.tile(np.arange(t.n), r.n_out), j=np.repeat(np.arange(r.n_out), t.n))
                S.w = np.ascontiguousarray(r.w[:, col:col + t.n]).reshape(-1)
                S.summed_updaters[f"{yvar}_post"].when = "start"
                S.summed_updaters[f"{yvar}_post"].order = -10
                if code is not None:
                    S.run_regularly(code, when="start", order=5, name=f"{S.name}_rule")
                syns.append(S)
                col += t.n
            ob.readouts[r.name] = (R, syns)
            if isinstance(rule, ThreeFactorRule):
                ob.tf[rule.name] = syns
                if mod is not None:
                    self._mod_copy(mod, R, ob, objects)
            if isinstance(rule, RLSRule):
                op_obj = _RLSOperation(ob, rule, dt)
                ob.rls[rule.name] = op_obj
                extra.append(b2.NetworkOperation(_as_operation(op_obj), dt=rule.every * ms,
                                                 when="start",
                                                 order=6, name=f"{R.name}_rls"))
            extra.append(R)
            extra.extend(syns)
        for q, fb in enumerate(net.feedbacks):
            R, _ = ob.readouts[fb.readout.name]
            G = ob.groups[fb.group.name]
            S = b2.Synapses(R, G, f"Efb : 1\nIfb{q}_post = Efb*y_pre : 1 (summed)",
                            name=f"ns_fb{q:03d}")
            n, n_out = fb.group.n, fb.readout.n_out
            S.connect(i=np.tile(np.arange(n_out), n), j=np.repeat(np.arange(n), n_out))
            S.Efb = fb.E.reshape(-1)
            S.summed_updaters[f"Ifb{q}_post"].when = "before_groups"
            S.summed_updaters[f"Ifb{q}_post"].order = -10
            extra.append(S)
        return extra
