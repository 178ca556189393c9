"""The numba backend: flattens a network into arrays once and runs the JIT kernel in segments.

The layout (:class:`_Layout`) owns copies of everything a run changes (state, weights, plastic
variables), so a description is never modified, and it persists between the segments of a
:class:`~neurosim.backends.Session`.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ._base import ALL_FEATURES, Backend, RawResult

_NEVER = -(2**40)
_COMPILE_NOTICE_SHOWN = []


def _compile_notice(kernel):
    """Say once per process that numba is compiling the kernel, when it has no cached copy for
    this installation (the first run takes about a minute; later runs load it in about a
    second)."""
    if _COMPILE_NOTICE_SHOWN or kernel.signatures:
        return
    try:
        index = kernel._cache._cache_file._index_path  # numba's cache index of the kernel
    except AttributeError:  # another numba version: say nothing rather than guess
        return
    if os.path.exists(index):
        return
    _COMPILE_NOTICE_SHOWN.append(True)
    print("neurosim: numba is compiling the simulation kernel for this installation (about a "
          f"minute, once; cached in {os.path.dirname(index)})", file=sys.stderr, flush=True)
_MODEL_CODES = {"Izhikevich": 0, "LIF": 1, "Izhikevich2007": 2, "AdEx": 3}


def _csr(syn):
    """Return (indptr, post indices, weights (a copy), order) for one synapse set.

    ``order`` maps CSR positions to description indices (None when ``syn.i`` is sorted).
    """
    i = syn.i
    if i.size and np.any(i[1:] < i[:-1]):
        order = np.argsort(i, kind="stable")
        i_sorted = i[order]
    else:
        order = None
        i_sorted = i
    indptr = np.zeros(syn.pre.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(i_sorted, minlength=syn.pre.n), out=indptr[1:])
    j = syn.j if order is None else syn.j[order]
    w = syn.w.copy() if order is None else syn.w[order]
    return indptr, np.ascontiguousarray(j, dtype=np.int32), np.ascontiguousarray(w), order


def _cat(arrays, dtype):
    if len(arrays) == 1:
        return np.ascontiguousarray(arrays[0], dtype=dtype)
    if not arrays:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


def _i64(values):
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _f64(values):
    return np.asarray(values, dtype=np.float64).reshape(-1)


def double_exp_coupling(tau, tau_rise, dt):
    """One-step coupling of ``h`` into ``g`` for ``g' = -g/tau + h``, ``h' = -h/tau_rise``."""
    if tau_rise <= 0:
        return 0.0
    if abs(tau - tau_rise) <= 1e-9 * tau:
        return float(dt * np.exp(-dt / tau))
    return float(tau * tau_rise / (tau - tau_rise) * (np.exp(-dt / tau) - np.exp(-dt / tau_rise)))


def lif_receptor_coefficients(tau_m, tau, tau_rise, dt):
    """Exact one-step coefficients of a current receptor on a LIF membrane, per neuron.

    For ``tau_m v' = -(v - v_inf) + g``, ``g' = -g / tau + h``, ``h' = -h / tau_rise``, the
    step adds ``k_g * g + k_h * h`` (values at the start of the step) to the membrane update.
    """
    from scipy.linalg import expm

    kg = np.empty(tau_m.size)
    kh = np.zeros(tau_m.size)
    for tm in np.unique(tau_m):
        if tau_rise > 0:
            A = np.array([[-1 / tm, 1 / tm, 0.0], [0.0, -1 / tau, 1.0], [0.0, 0.0, -1 / tau_rise]])
        else:
            A = np.array([[-1 / tm, 1 / tm], [0.0, -1 / tau]])
        E = expm(A * dt)
        sel = tau_m == tm
        kg[sel] = E[0, 1]
        if tau_rise > 0:
            kh[sel] = E[0, 2]
    return kg, kh


class _Signals:
    """Concatenates every sampled signal of a network into one flat array for the kernel."""

    def __init__(self, dt):
        self.dt = dt
        self.parts, self.off, self.rows, self.cols, self.ratio = [], [], [], [], []
        self.size = 0

    def add(self, sig, scale=None):
        vals = sig.values if scale is None else sig.values * scale
        self.parts.append(vals.reshape(-1))
        self.off.append(self.size)
        self.rows.append(vals.shape[0])
        self.cols.append(vals.shape[1])
        self.ratio.append(sig.steps_per_sample(self.dt))
        self.size += vals.size
        return len(self.off) - 1

    def arrays(self):
        val = self.parts[0] if len(self.parts) == 1 else (
            np.concatenate(self.parts) if self.parts else np.zeros(0))
        return (np.ascontiguousarray(val, dtype=np.float64), _i64(self.off), _i64(self.rows),
                _i64(self.cols), _i64(self.ratio))


class _Layout:
    """Every array the kernel needs, built once from the description (which it never changes)."""

    def __init__(self, network, dt, rng):
        from neurosim.spiking import (
            LIF,
            AdEx,
            ConstantInput,
            GaussianNoise,
            Izhikevich,
            Izhikevich2007,
            PoissonGroup,
            RewardSTDP,
            RLSRule,
            SpikeGeneratorGroup,
            ThreeFactorRule,
            TimedInput,
            UniformNoise,
        )
        from neurosim.spiking._plasticity import Modulator

        from ._numba_types import Inputs, Learning, Monitors, Neurons, Plasticity, Receptors
        from ._numba_types import Synapses as SynBundle
        from ._rng import seed_state, ziggurat_tables

        self.network = network
        self.dt = dt
        offsets = network.offsets()
        self.offsets = offsets
        N = network.n_neurons
        self.N = N
        # Brian2 computes dt/ms from dt in seconds: reproduce that rounding
        self.dtf = (dt * 0.001) / 0.001
        sig = _Signals(dt)
        rng_idx = lambda g: slice(offsets[g.name], offsets[g.name] + g.n)  # noqa: E731

        def lo_hi(groups):
            return (_i64([offsets[g.name] for g in groups]),
                    _i64([offsets[g.name] + g.n for g in groups]))

        def per_neuron(groups, fn, dtype=np.float64):
            out = np.zeros(N, dtype=dtype)
            for g in groups:
                out[rng_idx(g)] = fn(g)
            return out

        # ---- neurons
        izh = [g for g in network.groups if type(g) is Izhikevich]
        lif = [g for g in network.groups if type(g) is LIF]
        i7 = [g for g in network.groups if type(g) is Izhikevich2007]
        ad = [g for g in network.groups if type(g) is AdEx]
        models = izh + lif + i7 + ad
        v = np.zeros(N)
        u = np.zeros(N)
        for g in models:
            v[rng_idx(g)] = g.v_init
            if hasattr(g, "u_init"):
                u[rng_idx(g)] = g.u_init
        lif_ref = per_neuron(lif, lambda g: int((g.t_ref + 1e-3 * dt) / dt), np.int64)
        lif_mode = []
        for g in lif:
            kinds = {r.kind for r in g.receptors}
            lif_mode.append(0 if not kinds else (2 if "conductance" in kinds else 1))
        izh_lo, izh_hi = lo_hi(izh)
        lif_lo, lif_hi = lo_hi(lif)
        i7_lo, i7_hi = lo_hi(i7)
        ad_lo, ad_hi = lo_hi(ad)
        pn = lambda groups, name: per_neuron(groups, lambda g: getattr(g, name))  # noqa: E731
        self.st = Neurons(
            v=v, u=u, I_syn=np.zeros(N), lastspike=np.full(N, _NEVER, dtype=np.int64),
            Iext=np.zeros(N), syn_decay=per_neuron(models, lambda g: syn_decay(g.tau_syn, dt)),
            vblock=np.maximum(lif_ref, 1).astype(np.int64),
            izh_lo=izh_lo, izh_hi=izh_hi, izh_a=pn(izh, "a"), izh_b=pn(izh, "b"),
            izh_c=pn(izh, "c"), izh_d=pn(izh, "d"), izh_vpeak=pn(izh, "v_peak"),
            lif_lo=lif_lo, lif_hi=lif_hi, lif_mode=_i64(lif_mode),
            lif_decay=per_neuron(lif, lambda g: np.exp(-dt / g.tau_m)),
            lif_vrest=pn(lif, "v_rest"), lif_vreset=pn(lif, "v_reset"),
            lif_vthresh=pn(lif, "v_thresh"), lif_ref=lif_ref,
            lif_dt_tau=per_neuron(lif, lambda g: dt / g.tau_m),
            i7_lo=i7_lo, i7_hi=i7_hi, i7_C=pn(i7, "C"), i7_k=pn(i7, "k"), i7_vr=pn(i7, "v_r"),
            i7_vt=pn(i7, "v_t"), i7_a=pn(i7, "a"), i7_b=pn(i7, "b"), i7_c=pn(i7, "c"),
            i7_d=pn(i7, "d"), i7_vpeak=pn(i7, "v_peak"),
            ad_lo=ad_lo, ad_hi=ad_hi, ad_C=pn(ad, "C"), ad_gL=pn(ad, "g_L"),
            ad_EL=pn(ad, "E_L"), ad_VT=pn(ad, "V_T"), ad_DT=pn(ad, "delta_T"),
            ad_tauw=pn(ad, "tau_w"), ad_a=pn(ad, "a"), ad_b=pn(ad, "b"),
            ad_vreset=pn(ad, "v_reset"), ad_vpeak=pn(ad, "v_peak"),
        )

        # ---- receptors
        rec = {k: [] for k in ("lo", "hi", "kind", "E", "off", "double", "dg", "dh", "cgh",
                               "mode", "first")}
        kg_all, kh_all = [], []
        self.receptor_offset = {}  # (group name, receptor name) -> offset in rg/rh
        size = 0
        for g in models:
            if not g.receptors:
                continue
            mode = 0 if type(g) is not LIF else lif_mode[lif.index(g)]
            for q, r in enumerate(g.receptors):
                rec["first"].append(int(q == 0))
                rec["lo"].append(offsets[g.name])
                rec["hi"].append(offsets[g.name] + g.n)
                rec["kind"].append(1 if r.kind == "conductance" else 0)
                rec["E"].append(0.0 if r.E_rev is None else r.E_rev)
                rec["off"].append(size)
                rec["double"].append(int(r.double))
                rec["dg"].append(np.exp(-dt / r.tau))
                rec["dh"].append(np.exp(-dt / r.tau_rise) if r.double else 0.0)
                rec["cgh"].append(double_exp_coupling(r.tau, r.tau_rise, dt))
                rec["mode"].append(mode)
                if mode == 1:
                    kg, kh = lif_receptor_coefficients(g.tau_m, r.tau, r.tau_rise, dt)
                else:
                    kg, kh = np.zeros(g.n), np.zeros(g.n)
                kg_all.append(kg)
                kh_all.append(kh)
                self.receptor_offset[(g.name, r.name)] = size
                size += g.n
        rg0 = np.zeros(size)
        for g in models:
            for r in g.receptors:
                o = self.receptor_offset[(g.name, r.name)]
                rg0[o:o + g.n] = r.g_init
        self.rc = Receptors(
            lo=_i64(rec["lo"]), hi=_i64(rec["hi"]), kind=_i64(rec["kind"]), E=_f64(rec["E"]),
            off=_i64(rec["off"]), double=_i64(rec["double"]), dg=_f64(rec["dg"]),
            dh=_f64(rec["dh"]), cgh=_f64(rec["cgh"]), mode=_i64(rec["mode"]),
            first=_i64(rec["first"]),
            rg=rg0, rh=np.zeros(size), rk_g=_cat(kg_all, np.float64),
            rk_h=_cat(kh_all, np.float64), accA=np.zeros(N), accB=np.zeros(N),
        )

        # ---- inputs and spike sources
        I_const = np.zeros(N)
        ti = {k: [] for k in ("lo", "n", "sig", "mode", "goff")}
        gains, goff = [], 0
        noise_lo, noise_hi, noise_off, noise_mu, noise_std, off = [], [], [], [], [], 0
        noise_kind = []
        for inp in network.inputs:
            idx = rng_idx(inp.target)
            if isinstance(inp, ConstantInput):
                I_const[idx] += inp.value
            elif isinstance(inp, TimedInput):
                s = inp.signal
                ti["lo"].append(idx.start)
                ti["n"].append(inp.target.n)
                ti["sig"].append(sig.add(s))
                ti["mode"].append({"shared": 0, "dense": 1, "lowrank": 2}[s.mode])
                ti["goff"].append(goff if s.mode == "lowrank" else -1)
                if s.mode == "lowrank":
                    gains.append(s.gains.reshape(-1))
                    goff += s.gains.size
            elif isinstance(inp, GaussianNoise):
                noise_lo.append(idx.start)
                noise_hi.append(idx.stop)
                noise_off.append(off)
                off += inp.target.n
                noise_mu.append(inp.mean)
                noise_std.append(inp.std)
                noise_kind.append(0)
            elif isinstance(inp, UniformNoise):
                noise_lo.append(idx.start)
                noise_hi.append(idx.stop)
                noise_off.append(off)
                off += inp.target.n
                noise_mu.append(inp.low)
                noise_std.append(inp.high - inp.low)
                noise_kind.append(1)
        ip = {k: [] for k in ("lo", "n", "sig", "mode", "goff", "pscale")}
        pois = [g for g in network.groups if isinstance(g, PoissonGroup) and not g.inhomogeneous]
        for g in network.groups:
            if isinstance(g, PoissonGroup) and g.inhomogeneous:
                s = g.signal
                ip["lo"].append(offsets[g.name])
                ip["n"].append(g.n)
                ip["sig"].append(sig.add(s))
                ip["mode"].append({"shared": 0, "dense": 1, "lowrank": 2}[s.mode])
                ip["goff"].append(goff if s.mode == "lowrank" else -1)
                ip["pscale"].append(dt * 0.001)
                if s.mode == "lowrank":
                    gains.append(s.gains.reshape(-1))
                    goff += s.gains.size
        pois_lo, pois_hi = lo_hi(pois)
        pois_p = per_neuron(pois, lambda g: g.rates * (dt * 0.001))
        if np.any(pois_p > 1):
            raise ValueError(f"Poisson rates up to {pois_p.max() / (dt * 1e-3):g} Hz exceed "
                             f"one spike per step of dt={dt} ms")
        steps, gids = [], []
        for g in network.groups:
            if isinstance(g, SpikeGeneratorGroup):
                steps.append(spike_generator_steps(g, dt))
                gids.append(offsets[g.name] + g.indices)
        sg_step = _cat(steps, np.int64)
        sg_gidx = _cat(gids, np.int64)
        order = np.lexsort((sg_gidx, sg_step))
        # feedback of the readouts
        readouts = list(network.readouts)
        fb = {k: [] for k in ("lo", "n", "ro", "off")}
        fbE, fboff = [], 0
        for f in network.feedbacks:
            fb["lo"].append(offsets[f.group.name])
            fb["n"].append(f.group.n)
            fb["ro"].append(readouts.index(f.readout))
            fb["off"].append(fboff)
            fbE.append(f.E.reshape(-1))
            fboff += f.E.size
        # signals of the rules and modulators go into the same store
        modulators = list(network.modulators)
        mod_sig = [sig.add(m.signal) if m.signal is not None else -1 for m in modulators]
        tf_rules = [r for r in network.rules if isinstance(r, ThreeFactorRule)]
        rls_rules = [r for r in network.rules if isinstance(r, RLSRule)]
        tf_sig, tf_gate, tf_mkind, tf_mod = [], [], [], []
        for r in tf_rules:
            if r.teacher is not None:
                tf_mkind.append(0)
                tf_sig.append(sig.add(r.teacher))
                tf_mod.append(-1)
            elif isinstance(r.modulator, Modulator):
                tf_mkind.append(2)
                tf_sig.append(-1)
                tf_mod.append(modulators.index(r.modulator))
            else:
                tf_mkind.append(1)
                tf_sig.append(sig.add(r.modulator))
                tf_mod.append(-1)
            tf_gate.append(sig.add(r.gate) if r.gate is not None else -1)
        rls_sig = [sig.add(r.teacher) for r in rls_rules]
        rls_gate = [sig.add(r.gate) if r.gate is not None else -1 for r in rls_rules]
        sig_val, sig_off, sig_rows, sig_cols, sig_ratio = sig.arrays()
        self.inp = Inputs(
            I_const=I_const, sig_val=sig_val, sig_off=sig_off, sig_rows=sig_rows,
            sig_cols=sig_cols, sig_ratio=sig_ratio,
            ti_lo=_i64(ti["lo"]), ti_n=_i64(ti["n"]), ti_sig=_i64(ti["sig"]),
            ti_mode=_i64(ti["mode"]), ti_goff=_i64(ti["goff"]), gains=_cat(gains, np.float64),
            noise_lo=_i64(noise_lo), noise_hi=_i64(noise_hi), noise_off=_i64(noise_off),
            noise_mu=_cat(noise_mu, np.float64), noise_std=_cat(noise_std, np.float64),
            noise_kind=_i64(noise_kind),
            zbuf=np.zeros(max((g.n for g in network.groups), default=1)),
            fb_lo=_i64(fb["lo"]), fb_n=_i64(fb["n"]), fb_ro=_i64(fb["ro"]), fb_off=_i64(fb["off"]),
            fb_E=_cat(fbE, np.float64),
            pois_lo=pois_lo, pois_hi=pois_hi, pois_p=pois_p,
            ip_lo=_i64(ip["lo"]), ip_n=_i64(ip["n"]), ip_sig=_i64(ip["sig"]),
            ip_mode=_i64(ip["mode"]), ip_goff=_i64(ip["goff"]), ip_pscale=_f64(ip["pscale"]),
            sg_step=sg_step[order], sg_gidx=sg_gidx[order], sg_ptr=np.zeros(1, dtype=np.int64),
        )

        # ---- synapses
        pw = {k: [] for k in ("pre_start", "pre_n", "post_start", "post_n", "tarr", "toff",
                              "scale", "homog", "delay", "indptr_off", "syn_off")}
        indptrs, idx_all, w_all, d_all, i_local = [], [], [], [], []
        n_ip, n_syn, max_homog, max_het = 0, 0, 0, 0
        het_targets = set()
        self.syn_index = {}  # name -> (pathway, syn_off, n, order)
        for p, s in enumerate(network.synapses):
            indptr, j, w, order = _csr(s)
            steps = s.delay_steps(dt)
            pw["pre_start"].append(offsets[s.pre.name])
            pw["pre_n"].append(s.pre.n)
            pw["post_start"].append(offsets[s.post.name])
            pw["post_n"].append(s.post.n)
            if s.receptor is not None:
                r = s.post.receptor(s.receptor)
                tarr = 3 if r.double else 2
                pw["toff"].append(self.receptor_offset[(s.post.name, r.name)])
                pw["scale"].append(1.0 / r.tau_rise if r.double else 1.0)
            else:
                tarr = 0 if s.target == "current" else 1
                pw["toff"].append(offsets[s.post.name])
                pw["scale"].append(1.0)
            pw["tarr"].append(tarr)
            pw["indptr_off"].append(n_ip)
            pw["syn_off"].append(n_syn)
            self.syn_index[s.name] = (p, n_syn, j.size, order)
            n_ip += indptr.size
            n_syn += j.size
            indptrs.append(indptr)
            idx_all.append(j)
            w_all.append(w)
            i_local.append(indptr)  # the presynaptic index of each synapse, when plastic
            if np.ndim(steps) == 0:
                pw["homog"].append(1)
                pw["delay"].append(steps)
                max_homog = max(max_homog, steps)
                d_all.append(np.zeros(j.size, np.int32))
            else:
                pw["homog"].append(0)
                pw["delay"].append(0)
                d_all.append(steps if order is None else steps[order])
                max_het = max(max_het, int(steps.max(initial=0)))
                het_targets.add(tarr)
        has_het = bool(het_targets)
        D = max_het + 1 if has_het else 1

        def buf(tarr, width):
            return np.zeros((D, width if tarr in het_targets else 0))

        weights = np.ascontiguousarray(np.concatenate(w_all)) if w_all else np.zeros(0)
        self.sy = SynBundle(
            pre_start=_i64(pw["pre_start"]), pre_n=_i64(pw["pre_n"]),
            post_start=_i64(pw["post_start"]), post_n=_i64(pw["post_n"]),
            tarr=_i64(pw["tarr"]), toff=_i64(pw["toff"]), scale=_f64(pw["scale"]),
            homog=_i64(pw["homog"]), delay=_i64(pw["delay"]),
            indptr_off=_i64(pw["indptr_off"]), indptr=_cat(indptrs, np.int64),
            syn_off=_i64(pw["syn_off"]),
            # unsigned: numba then skips negative-index handling (a view, no copy, for one set)
            indices=_cat(idx_all, np.int32).view(np.uint32),
            weights=weights,
            delays=_cat(d_all, np.int32) if has_het else np.zeros(0, np.int32),
            hist=np.zeros((max_homog + 1, max(N, 1)), dtype=np.int32),
            hist_n=np.zeros(max_homog + 1, dtype=np.int64),
            bufI=buf(0, N), bufV=buf(1, N), bufG=buf(2, size), bufH=buf(3, size),
            has_het=has_het,
        )

        # ---- STDP and reward-modulated STDP
        plastic = [s.plasticity is not None for s in network.synapses]
        n_pw = len(network.synapses)
        P = {k: [] for k in ("kind", "rule", "nearest", "postfirst", "xpre_off", "xpost_off",
                             "dpre", "dpost", "aplus", "aminus", "wmin", "wmax", "csc_off",
                             "mod", "every", "cdecay", "eta", "dtonic")}
        xpre_n = xpost_n = csc_n = csc_e = 0
        csc_ptr, csc_syn, csc_pre = [], [], []
        any_reward = False
        for p, s in enumerate(network.synapses if any(plastic) else []):
            rule = s.plasticity
            syn_off = pw["syn_off"][p]
            if rule is None:
                for k in P:
                    P[k].append(0)
                continue
            reward = isinstance(rule, RewardSTDP)
            any_reward |= reward
            P["kind"].append(2 if reward else 1)
            P["rule"].append(0 if rule.rule == "additive" else 1)
            P["nearest"].append(int(rule.pairing == "nearest"))
            P["postfirst"].append(int(rule.order == "post_first"))
            P["xpre_off"].append(xpre_n)
            P["xpost_off"].append(xpost_n)
            xpre_n += s.pre.n
            xpost_n += s.post.n
            P["dpre"].append(np.exp(-dt / rule.tau_pre))
            P["dpost"].append(np.exp(-dt / rule.tau_post))
            P["aplus"].append(rule.a_plus)
            P["aminus"].append(rule.a_minus)
            P["wmin"].append(rule.w_min)
            P["wmax"].append(rule.w_max)
            # synapses by postsynaptic neuron (CSC), to potentiate on a postsynaptic spike
            j = idx_all[p].astype(np.int64)
            by_post = np.argsort(j, kind="stable")
            ptr = np.zeros(s.post.n + 1, dtype=np.int64)
            np.cumsum(np.bincount(j, minlength=s.post.n), out=ptr[1:])
            P["csc_off"].append(csc_n)
            csc_ptr.append(ptr + csc_e)
            csc_n += ptr.size
            csc_e += j.size
            csc_syn.append(syn_off + by_post)
            pre_of = np.repeat(np.arange(s.pre.n, dtype=np.int64), np.diff(i_local[p]))
            csc_pre.append(pre_of[by_post])
            if reward:
                every = 1 if rule.every is None else int(round(rule.every / dt))
                P["mod"].append(modulators.index(rule.modulator))
                P["every"].append(every)
                P["cdecay"].append(np.exp(-every * dt / rule.tau_c))
                P["eta"].append(rule.eta)
                P["dtonic"].append(rule.d_tonic)
            else:
                for k in ("mod", "every", "cdecay", "eta", "dtonic"):
                    P[k].append(0 if k != "every" else 1)
        ev_steps, ev_amts, ev_hi, ev_lo = [], [], [], []
        start = 0
        for m in modulators:
            st_ = np.floor((m.times + 1e-3 * dt) / dt).astype(np.int64)
            o = np.argsort(st_, kind="stable")
            ev_steps.append(st_[o])
            ev_amts.append(m.amounts[o])
            ev_lo.append(start)
            start += st_.size
            ev_hi.append(start)
        self.pl = Plasticity(
            kind=_i64(P["kind"]), rule=_i64(P["rule"]), nearest=_i64(P["nearest"]),
            postfirst=_i64(P["postfirst"]), xpre_off=_i64(P["xpre_off"]),
            xpost_off=_i64(P["xpost_off"]), dpre=_f64(P["dpre"]), dpost=_f64(P["dpost"]),
            aplus=_f64(P["aplus"]), aminus=_f64(P["aminus"]), wmin=_f64(P["wmin"]),
            wmax=_f64(P["wmax"]), csc_off=_i64(P["csc_off"]), mod=_i64(P["mod"]),
            every=_i64(P["every"]) if P["every"] else np.zeros(0, np.int64),
            cdecay=_f64(P["cdecay"]), eta=_f64(P["eta"]), dtonic=_f64(P["dtonic"]),
            xpre=np.zeros(xpre_n), xpost=np.zeros(xpost_n), csc_ptr=_cat(csc_ptr, np.int64),
            csc_syn=_cat(csc_syn, np.int64), csc_pre=_cat(csc_pre, np.int64),
            c=np.zeros(weights.size if any_reward else 0),
            mod_d=np.zeros(len(modulators)),
            mod_decay=_f64([np.exp(-dt / m.tau) for m in modulators]),
            mod_sig=_i64(mod_sig), mod_ev_step=_cat(ev_steps, np.int64),
            mod_ev_amt=_cat(ev_amts, np.float64), mod_ev_hi=_i64(ev_hi),
            mod_ev_ptr=_i64(ev_lo),
        )
        assert len(P["kind"]) in (0, n_pw)
        self.modulators = modulators

        # ---- traces (user traces, then the rate estimates of synaptic scaling)
        traces = [(t.name, t.group, t.tau, t.tau_rise, t.increment, 0.0)
                  for t in network.traces]
        for sc in network.scalings:
            traces.append((f"_rate_{sc.synapses.name}", sc.synapses.post, sc.tau_rate, 0.0,
                           1000.0 / sc.tau_rate, sc.rate_init))
        T = {k: [] for k in ("lo", "hi", "off", "double", "dg", "dh", "cgh", "inc", "hinc")}
        self.trace_index = {}
        toff_ = 0
        x0 = []
        for k, (name, g, tau, tau_rise, inc, init) in enumerate(traces):
            x0.append(np.full(g.n, float(init)))
            T["lo"].append(offsets[g.name])
            T["hi"].append(offsets[g.name] + g.n)
            T["off"].append(toff_)
            T["double"].append(int(tau_rise > 0))
            T["dg"].append(np.exp(-dt / tau))
            T["dh"].append(np.exp(-dt / tau_rise) if tau_rise > 0 else 0.0)
            T["cgh"].append(double_exp_coupling(tau, tau_rise, dt))
            T["inc"].append(inc)
            T["hinc"].append(inc / tau_rise if tau_rise > 0 else 0.0)
            self.trace_index[name] = (k, toff_, g)
            toff_ += g.n
        # readouts
        R = {k: [] for k in ("nout", "nin", "woff", "yoff", "inoff")}
        ro_in, Ws = [], []
        woff = yoff = inoff = 0
        for r in readouts:
            R["nout"].append(r.n_out)
            R["nin"].append(r.n_in)
            R["woff"].append(woff)
            R["yoff"].append(yoff)
            R["inoff"].append(inoff)
            for t in r.traces:
                ro_in.append(self.trace_index[t.name][1] + np.arange(t.n))
            Ws.append(r.w.reshape(-1).copy())
            woff += r.n_out * r.n_in
            yoff += r.n_out
            inoff += r.n_in
        self.readouts = readouts
        tf = {k: [] for k in ("ro", "eta", "de", "post", "eoff", "wmin", "wmax")}
        eoff = 0
        for r in tf_rules:
            tf["ro"].append(readouts.index(r.readout))
            tf["eta"].append(r.eta)
            tf["de"].append(np.exp(-dt / r.tau_e))
            tf["post"].append(0 if r.post == "none" else 1)
            tf["eoff"].append(eoff)
            tf["wmin"].append(r.w_min)
            tf["wmax"].append(r.w_max)
            eoff += r.readout.n_out * r.readout.n_in
        self.tf_rules, self.rls_rules = tf_rules, rls_rules
        rls = {k: [] for k in ("ro", "every", "poff")}
        poff = 0
        Ps = []
        for r in rls_rules:
            rls["ro"].append(readouts.index(r.readout))
            rls["every"].append(int(round(r.every / dt)))
            rls["poff"].append(poff)
            Ps.append((np.eye(r.readout.n_in) / r.alpha).reshape(-1))
            poff += r.readout.n_in ** 2
        # adaptive thresholds
        at = {k: [] for k in ("lo", "hi", "model")}
        theta = np.zeros(N)
        at_decay, at_drift, at_jump = np.ones(N), np.zeros(N), np.zeros(N)
        thr_field = {0: "izh_vpeak", 1: "lif_vthresh", 2: "i7_vpeak", 3: "ad_vpeak"}
        thr_base = np.zeros(N)
        for th in network.thresholds:
            g = th.group
            idx = rng_idx(g)
            model = _MODEL_CODES[type(g).__name__]
            at["lo"].append(idx.start)
            at["hi"].append(idx.stop)
            at["model"].append(model)
            theta[idx] = th.theta_init
            at_decay[idx] = np.exp(-dt / th.tau)
            at_drift[idx] = th.eta * th.target_rate * dt / 1000.0
            at_jump[idx] = th.increment + th.eta
            arr = getattr(self.st, thr_field[model])
            thr_base[idx] = arr[idx]
            arr[idx] = thr_base[idx] + theta[idx]
        sc_ = {k: [] for k in ("pw", "tr", "every", "target", "eta", "wmin", "wmax")}
        for sc in network.scalings:
            sc_["pw"].append(network.synapses.index(sc.synapses))
            sc_["tr"].append(self.trace_index[f"_rate_{sc.synapses.name}"][0])
            sc_["every"].append(int(round(sc.every / dt)))
            sc_["target"].append(sc.target_rate)
            sc_["eta"].append(sc.eta)
            sc_["wmin"].append(sc.w_min)
            sc_["wmax"].append(sc.w_max)
        self.le = Learning(
            tr_lo=_i64(T["lo"]), tr_hi=_i64(T["hi"]), tr_off=_i64(T["off"]),
            tr_double=_i64(T["double"]), tr_dg=_f64(T["dg"]), tr_dh=_f64(T["dh"]),
            tr_cgh=_f64(T["cgh"]), tr_inc=_f64(T["inc"]), tr_hinc=_f64(T["hinc"]),
            tr_x=_cat(x0, np.float64).copy(), tr_h=np.zeros(toff_),
            ro_nout=_i64(R["nout"]), ro_nin=_i64(R["nin"]), ro_woff=_i64(R["woff"]),
            ro_yoff=_i64(R["yoff"]), ro_inoff=_i64(R["inoff"]), ro_in=_cat(ro_in, np.int64),
            W=_cat(Ws, np.float64).copy(), y=np.zeros(yoff), xin=np.zeros(inoff),
            tf_ro=_i64(tf["ro"]), tf_eta=_f64(tf["eta"]), tf_de=_f64(tf["de"]),
            tf_post=_i64(tf["post"]), tf_mkind=_i64(tf_mkind), tf_sig=_i64(tf_sig),
            tf_mod=_i64(tf_mod), tf_gate=_i64(tf_gate), tf_eoff=_i64(tf["eoff"]),
            tf_wmin=_f64(tf["wmin"]), tf_wmax=_f64(tf["wmax"]), elig=np.zeros(eoff),
            rls_ro=_i64(rls["ro"]), rls_every=_i64(rls["every"]), rls_sig=_i64(rls_sig),
            rls_gate=_i64(rls_gate), rls_poff=_i64(rls["poff"]), P=_cat(Ps, np.float64).copy(),
            cbuf=np.zeros(max([r.readout.n_in for r in rls_rules], default=0)),
            at_lo=_i64(at["lo"]), at_hi=_i64(at["hi"]), at_model=_i64(at["model"]),
            theta=theta, at_decay=at_decay, at_drift=at_drift, at_jump=at_jump,
            thr_base=thr_base,
            sc_pw=_i64(sc_["pw"]), sc_tr=_i64(sc_["tr"]), sc_every=_i64(sc_["every"]),
            sc_target=_f64(sc_["target"]), sc_eta=_f64(sc_["eta"]), sc_wmin=_f64(sc_["wmin"]),
            sc_wmax=_f64(sc_["wmax"]),
        )

        # ---- monitors and random numbers
        spk_flag = np.zeros(N, dtype=np.bool_)
        for m in network.spike_monitors:
            spk_flag[rng_idx(m.group)] = True
        cap = max(4 * N, 1 << 16)
        codes, idxs, self.state_columns = [], [], []
        for m in network.state_monitors:
            base = offsets[m.group.name]
            for var in m.variables:
                code, index = self._var_location(m.group, var)
                codes.append(np.full(m.record.size, code))
                idxs.append(index[m.record] if index is not None else base + m.record)
                self.state_columns.append((var, m.group, m.record))
        self.mon_every = network.state_monitors[0].steps_per_sample(dt) if codes else 1
        vm = {k: [] for k in ("every", "width", "coloff", "kind")}
        vm_idx, coloff = [], 0
        self.vector_monitors = []
        for m in network.weight_monitors:
            if m.synapses in network.synapses:
                p, so, n, order = self.syn_index[m.synapses.name]
                pos = np.empty(n, np.int64)
                if order is None:
                    pos = np.arange(n)
                else:
                    pos[order] = np.arange(n)
                vm_idx.append(so + pos[m.record])
                vm["kind"].append(0)
            else:
                k = readouts.index(m.synapses)
                vm_idx.append(R["woff"][k] + m.record)
                vm["kind"].append(1)
            self.vector_monitors.append(("w", m.name, m.record, m))
            vm["every"].append(m.steps_per_sample(dt))
            vm["width"].append(m.record.size)
            vm["coloff"].append(coloff)
            coloff += m.record.size
        for m in network.readout_monitors:
            k = readouts.index(m.readout)
            vm_idx.append(R["yoff"][k] + np.arange(m.readout.n_out))
            vm["kind"].append(2)
            self.vector_monitors.append(("y", m.readout.name, np.arange(m.readout.n_out), m))
            vm["every"].append(m.steps_per_sample(dt))
            vm["width"].append(m.readout.n_out)
            vm["coloff"].append(coloff)
            coloff += m.readout.n_out
        self.mo = Monitors(
            rng_state=seed_state(rng)[0], zig_k=None, zig_w=None, zig_f=None,
            spk_flag=spk_flag, out_spk_idx=np.zeros(cap, dtype=np.int32),
            out_spk_step=np.zeros(cap, dtype=np.int64), n_out=np.zeros(1, dtype=np.int64),
            mon_every=self.mon_every, mon_code=_cat(codes, np.int64), mon_idx=_cat(idxs, np.int64),
            mon_out=np.zeros((0, sum(c.size for c in codes))), mon_row=np.zeros(1, np.int64),
            vm_every=_i64(vm["every"]), vm_width=_i64(vm["width"]),
            vm_off=np.zeros(len(vm["every"]), np.int64), vm_row=np.zeros(len(vm["every"]), np.int64),
            vm_coloff=_i64(vm["coloff"]), vm_kind=_i64(vm["kind"]),
            vm_idx=_cat(vm_idx, np.int64), vm_out=np.zeros(0),
        )
        k, w_, f = ziggurat_tables()
        self.mo = self.mo._replace(zig_k=k, zig_w=w_, zig_f=f)
        self.step = 0

    # ------------------------------------------------------------------ helpers
    def _var_location(self, group, var):
        """(monitor code, index array into the source array) for a state variable of a group."""
        if var in ("v", "u", "I_syn"):
            return {"v": 0, "u": 1, "I_syn": 2}[var], None
        if var == "theta":
            return 3, None
        if var.startswith(("g_", "h_")) and any(f"g_{r.name}" == "g_" + var[2:]
                                                for r in group.receptors):
            off = self.receptor_offset[(group.name, var[2:])]
            return (4 if var[0] == "g" else 5), off + np.arange(group.n)
        if var.startswith("x_") and var[2:] in self.trace_index:
            _, off, _ = self.trace_index[var[2:]]
            return 6, off + np.arange(group.n)
        raise ValueError(f"unknown state variable {var!r} for group {group.name!r}")  # pragma: no cover

    def bundles(self):
        return self.st, self.rc, self.inp, self.sy, self.pl, self.le, self.mo

    def begin_segment(self, n_steps):
        """Allocate the monitor buffers for the next ``n_steps`` steps."""
        n0, n1 = self.step, self.step + n_steps
        rows = len(range(-(-n0 // self.mon_every) * self.mon_every, n1, self.mon_every)) \
            if self.mo.mon_idx.size else 0
        self.mo = self.mo._replace(mon_out=np.zeros((rows, self.mo.mon_idx.size)))
        self.mo.mon_row[0] = 0
        self.mo.n_out[0] = 0
        offs, size = [], 0
        self.vm_rows = []
        for every, width in zip(self.mo.vm_every, self.mo.vm_width):
            r = len(range(-(-n0 // every) * every, n1, every))
            offs.append(size)
            self.vm_rows.append((r, int(width)))
            size += r * int(width)
        self.mo = self.mo._replace(vm_off=_i64(offs), vm_out=np.zeros(size))
        self.mo.vm_row[:] = 0

    def grow_spike_buffer(self):
        n = self.mo.n_out[0]
        cap = 2 * self.mo.out_spk_idx.size
        idx = np.zeros(cap, dtype=np.int32)
        step = np.zeros(cap, dtype=np.int64)
        idx[:n] = self.mo.out_spk_idx[:n]
        step[:n] = self.mo.out_spk_step[:n]
        self.mo = self.mo._replace(out_spk_idx=idx, out_spk_step=step)

    def synapse_weights(self, name):
        """Current weights of a synapse set, in the description's order (a copy)."""
        _, so, n, order = self.syn_index[name]
        w = self.sy.weights[so:so + n]
        if order is None:
            return w.copy()
        out = np.empty(n)
        out[order] = w
        return out

    def set_synapse_weights(self, name, w):
        _, so, n, order = self.syn_index[name]
        self.sy.weights[so:so + n] = w if order is None else w[order]

    def readout_weights(self, name):
        k = [r.name for r in self.readouts].index(name)
        r = self.readouts[k]
        o = self.le.ro_woff[k]
        return self.le.W[o:o + r.n_out * r.n_in].reshape(r.n_out, r.n_in).copy()

    def set_readout_weights(self, name, W):
        k = [r.name for r in self.readouts].index(name)
        r = self.readouts[k]
        o = self.le.ro_woff[k]
        self.le.W[o:o + r.n_out * r.n_in] = W.reshape(-1)

    def eligibility(self, name):
        """Eligibility of a RewardSTDP synapse set, in the description's order."""
        _, so, n, order = self.syn_index[name]
        c = self.pl.c[so:so + n]
        if order is None:
            return c.copy()
        out = np.empty(n)
        out[order] = c
        return out

    def rls_matrix(self, name):
        k = [r.name for r in self.rls_rules].index(name)
        n_in = self.rls_rules[k].readout.n_in
        o = self.le.rls_poff[k]
        return self.le.P[o:o + n_in * n_in].reshape(n_in, n_in)

    def reset_rule(self, name):
        names = [r.name for r in self.rls_rules] + [r.name for r in self.tf_rules]
        if name not in names:
            raise ValueError(f"no readout rule named {name!r}; rules: {names}")
        if name in [r.name for r in self.rls_rules]:
            rule = self.rls_rules[[r.name for r in self.rls_rules].index(name)]
            P = self.rls_matrix(name)
            P[:] = np.eye(P.shape[0]) / rule.alpha
        else:
            k = [r.name for r in self.tf_rules].index(name)
            r = self.tf_rules[k]
            o = self.le.tf_eoff[k]
            self.le.elig[o:o + r.readout.n_out * r.readout.n_in] = 0.0

    def add_modulator_events(self, name, times, amounts):
        names = [m.name for m in self.modulators]
        if name not in names:
            raise ValueError(f"no Modulator named {name!r}; modulators: {names}")
        k = names.index(name)
        if self.pl.mod_sig[k] >= 0:
            raise ValueError(f"modulator {name!r} is a time series; it takes no events")
        steps = np.floor((times + 1e-3 * self.dt) / self.dt).astype(np.int64)
        if steps.size and steps.min() < self.step:
            raise ValueError(f"modulator events must lie at or after the current time "
                             f"{self.step * self.dt:g} ms, got {times.min():g} ms")
        pl = self.pl
        lo = [pl.mod_ev_ptr[m] for m in range(len(names))]
        st_, am, hi, ptr = [], [], [], []
        size = 0
        for m in range(len(names)):
            s = pl.mod_ev_step[lo[m]:pl.mod_ev_hi[m]]
            a = pl.mod_ev_amt[lo[m]:pl.mod_ev_hi[m]]
            if m == k:
                s = np.concatenate([s, steps])
                a = np.concatenate([a, amounts])
                o = np.argsort(s, kind="stable")
                s, a = s[o], a[o]
            st_.append(s)
            am.append(a)
            ptr.append(size)
            size += s.size
            hi.append(size)
        self.pl = pl._replace(mod_ev_step=_cat(st_, np.int64), mod_ev_amt=_cat(am, np.float64),
                              mod_ev_hi=_i64(hi), mod_ev_ptr=_i64(ptr))

    # state that changes during a run, for store/restore
    _MUTABLE = {
        "st": ("v", "u", "I_syn", "lastspike", "izh_vpeak", "lif_vthresh", "i7_vpeak",
               "ad_vpeak"),
        "rc": ("rg", "rh"),
        "inp": ("sg_ptr",),
        "sy": ("weights", "hist", "hist_n", "bufI", "bufV", "bufG", "bufH"),
        "pl": ("xpre", "xpost", "c", "mod_d", "mod_ev_step", "mod_ev_amt", "mod_ev_hi",
               "mod_ev_ptr"),
        "le": ("tr_x", "tr_h", "W", "elig", "P", "theta"),
        "mo": ("rng_state",),
    }

    def snapshot(self):
        snap = {"step": self.step}
        for bundle, fields in self._MUTABLE.items():
            b = getattr(self, bundle)
            for f in fields:
                snap[(bundle, f)] = getattr(b, f).copy()
        return snap

    def restore(self, snap):
        self.step = snap["step"]
        for bundle, fields in self._MUTABLE.items():
            b = getattr(self, bundle)
            repl = {}
            for f in fields:
                arr = getattr(b, f)
                saved = snap[(bundle, f)]
                if arr.shape == saved.shape:
                    arr[...] = saved
                else:
                    repl[f] = saved.copy()
            if repl:
                setattr(self, bundle, b._replace(**repl))

    def run(self, n_steps, chunk, bar=None):
        """Advance ``n_steps`` steps from the current one; returns the run time (s)."""
        from ._numba_kernels import simulate as kernel

        _compile_notice(kernel)
        self.begin_segment(n_steps)
        n, stop_all = self.step, self.step + n_steps
        t0 = time.perf_counter()
        while n < stop_all:
            stop = min(n + chunk, stop_all)
            reached = kernel(n, stop, self.dtf, self.dt, *self.bundles())
            if reached < stop:
                self.grow_spike_buffer()
            if bar is not None:
                bar.update(reached - n)
            n = reached
        self.step = stop_all
        return time.perf_counter() - t0

    def collect(self, n_start, n_steps, info):
        """The RawResult of the segment just run."""
        k = self.mo.n_out[0]
        state = {}
        cols = 0
        for var, group, record in self.state_columns:
            values = self.mo.mon_out[:, cols:cols + record.size]
            cols += record.size
            if var in state:
                groups, rec, old = state[var]
                state[var] = (groups + [group.name] * record.size,
                              np.concatenate([rec, record]), np.hstack([old, values]))
            else:
                state[var] = ([group.name] * record.size, record, values)
        steps = None
        if self.state_columns:
            steps = np.arange(-(-n_start // self.mon_every) * self.mon_every,
                              n_start + n_steps, self.mon_every)
        vectors = {}
        for (kind, name, record, m), (rows, width), off, every in zip(
                self.vector_monitors, self.vm_rows, self.mo.vm_off, self.mo.vm_every):
            vals = self.mo.vm_out[off:off + rows * width].reshape(rows, width).copy()
            t = np.arange(-(-n_start // every) * every, n_start + n_steps, every)
            vectors[f"{kind}_{name}"] = (t, record, vals, m)
        return RawResult(
            spike_index=self.mo.out_spk_idx[:k].copy(), spike_step=self.mo.out_spk_step[:k].copy(),
            state=state, state_steps=steps, vectors=vectors, final=self.final_state(), info=info,
        )

    def final_state(self):
        """Final weights and plastic state, by result variable name."""
        net = self.network
        out = {}
        for s in net.synapses:
            if s.plasticity is not None or any(sc.synapses is s for sc in net.scalings):
                out[f"w_{s.name}"] = ("synapse", self.synapse_weights(s.name))
                if s.plasticity is not None and s.plasticity.kind == "RewardSTDP":
                    out[f"c_{s.name}"] = ("synapse", self.eligibility(s.name))
        for r in self.readouts:
            out[f"W_{r.name}"] = ("readout", self.readout_weights(r.name))
        for th in net.thresholds:
            o = self.offsets[th.group.name]
            out[f"theta_{th.group.name}"] = ("neuron", self.le.theta[o:o + th.group.n].copy())
        for k, m in enumerate(self.modulators):
            out[f"d_{m.name}"] = ("scalar", float(self.pl.mod_d[k]))
        return out

    def state_dict(self):
        """A dict of copies of the state: per group, then plastic variables."""
        out = {}
        for g in self.network.groups:
            o = self.offsets[g.name]
            sl = slice(o, o + g.n)
            d = {"v": self.st.v[sl].copy()} if g.receives_synapses else {}
            if "u" in g.state_variables:
                d["u"] = self.st.u[sl].copy()
            if "I_syn" in g.state_variables:
                d["I_syn"] = self.st.I_syn[sl].copy()
            for r in getattr(g, "receptors", ()):
                ro = self.receptor_offset[(g.name, r.name)]
                d[f"g_{r.name}"] = self.rc.rg[ro:ro + g.n].copy()
                if r.double:
                    d[f"h_{r.name}"] = self.rc.rh[ro:ro + g.n].copy()
            d["lastspike_ms"] = np.where(self.st.lastspike[sl] == _NEVER, -np.inf,
                                         self.st.lastspike[sl] * self.dt)
            out[g.name] = d
        for name, (_, off, g) in self.trace_index.items():
            if not name.startswith("_"):
                out[f"x_{name}"] = self.le.tr_x[off:off + g.n].copy()
        for key, (_, value) in self.final_state().items():
            out[key] = value
        for r in self.rls_rules:
            out[f"P_{r.name}"] = self.rls_matrix(r.name).copy()
        return out


def syn_decay(tau_syn, dt):
    """Per-step decay factor of the synaptic current (0 for one-step pulses)."""
    return float(np.exp(-dt / tau_syn)) if tau_syn > 0 else 0.0


def spike_generator_steps(group, dt):
    """Time steps of a SpikeGeneratorGroup's spikes (Brian2's rounding); error on duplicates."""
    steps = np.floor((group.times + 1e-3 * dt) / dt).astype(np.int64)
    key = steps * group.n + group.indices
    if np.unique(key).size != key.size:
        raise ValueError(
            f"SpikeGeneratorGroup {group.name!r} has two spikes of one neuron in one time step "
            f"of dt={dt} ms"
        )
    return steps


class NumbaBackend(Backend):
    """neurosim's own engine (see :mod:`neurosim.backends`)."""

    name = "numba"
    features = ALL_FEATURES

    def build(self, network, dt, rng, **options):
        """Return a persistent simulation of ``network`` (used by Session)."""
        unknown = set(options) - {"chunk_ms"}
        if unknown:
            raise TypeError(f"unknown option(s) for the numba backend: {sorted(unknown)}; "
                            "expected chunk_ms")
        return _NumbaSim(network, dt, rng, options.get("chunk_ms"))


class _NumbaSim:
    """The numba side of a Session: the layout, advanced segment by segment."""

    def __init__(self, network, dt, rng, chunk_ms):
        t0 = time.perf_counter()
        self.lay = _Layout(network, dt, rng)
        self.build_time = time.perf_counter() - t0
        self.dt = dt
        self.chunk_ms = chunk_ms

    def run(self, n_steps, progress):
        from tqdm.auto import tqdm

        if self.chunk_ms is None:
            chunk = max(1, n_steps // 100) if progress else n_steps
        else:
            chunk = max(1, int(round(self.chunk_ms / self.dt)))
        n_start = self.lay.step
        bar = tqdm(total=n_steps, desc="numba", unit="step", disable=not progress, leave=False)
        t_run = self.lay.run(n_steps, chunk, bar)
        bar.close()
        info = {"build_time_s": self.build_time, "run_time_s": t_run}
        self.build_time = 0.0
        return self.lay.collect(n_start, n_steps, info)

    def get_weights(self, name):
        lay = self.lay
        if name in lay.syn_index:
            return lay.synapse_weights(name)
        return lay.readout_weights(name)

    def set_weights(self, name, w):
        lay = self.lay
        if name in lay.syn_index:
            lay.set_synapse_weights(name, w)
        else:
            lay.set_readout_weights(name, w)

    @property
    def state(self):
        return self.lay.state_dict()

    def store(self):
        return self.lay.snapshot()

    def restore(self, snap):
        self.lay.restore(snap)

    def reset_rule(self, name):
        self.lay.reset_rule(name)

    def add_modulator_events(self, name, times, amounts):
        self.lay.add_modulator_events(name, times, amounts)

    def close(self):
        pass
