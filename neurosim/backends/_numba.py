"""The numba backend: flattens a network into arrays and runs the JIT kernel in chunks."""

from __future__ import annotations

import time

import numpy as np

from ._base import ALL_FEATURES, Backend, RawResult

_VAR_CODES = {"v": 0, "u": 1, "I_syn": 2}
_NEVER = -(2**40)


def _csr(syn):
    """Return (indptr, post indices, weights, delay steps or None, order) for one synapse set.

    When ``syn.i`` is already sorted the arrays are used as they are (no copy).
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
    w = syn.w if order is None else syn.w[order]
    return indptr, np.ascontiguousarray(j, dtype=np.int32), np.ascontiguousarray(w), order


def _cat(arrays, dtype):
    if len(arrays) == 1:
        return np.ascontiguousarray(arrays[0], dtype=dtype)
    if not arrays:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


class _Layout:
    """Every array the kernel needs, built once per run."""

    def __init__(self, network, n_steps, dt, rng):
        from neurosim.spiking import (
            LIF,
            ConstantInput,
            GaussianNoise,
            Izhikevich,
            PoissonGroup,
            SpikeGeneratorGroup,
            TimedInput,
        )

        from ._rng import seed_state, ziggurat_tables

        offsets = network.offsets()
        N = network.n_neurons
        self.N = N
        self.v = np.zeros(N)
        self.u = np.zeros(N)
        self.I_syn = np.zeros(N)
        self.lastspike = np.full(N, _NEVER, dtype=np.int64)
        self.Iext = np.zeros(N)
        # Brian2 computes dt/ms from dt in seconds: reproduce that rounding
        self.dtf = (dt * 0.001) / 0.001

        izh = [g for g in network.groups if isinstance(g, Izhikevich)]
        lif = [g for g in network.groups if isinstance(g, LIF)]
        rng_idx = lambda g: slice(offsets[g.name], offsets[g.name] + g.n)  # noqa: E731
        lo_hi = lambda groups: (  # noqa: E731
            np.array([offsets[g.name] for g in groups], dtype=np.int64),
            np.array([offsets[g.name] + g.n for g in groups], dtype=np.int64))

        def per_neuron(groups, fn, dtype=np.float64):
            out = np.zeros(N, dtype=dtype)
            for g in groups:
                out[rng_idx(g)] = fn(g)
            return out

        self.izh_lo, self.izh_hi = lo_hi(izh)
        for name in "abcd":
            setattr(self, f"izh_{name}", per_neuron(izh, lambda g, name=name: getattr(g, name)))
        self.izh_vpeak = per_neuron(izh, lambda g: g.v_peak)
        for g in izh:
            self.v[rng_idx(g)] = g.v_init
            self.u[rng_idx(g)] = g.u_init
        self.lif_lo, self.lif_hi = lo_hi(lif)
        self.lif_decay = per_neuron(lif, lambda g: np.exp(-dt / g.tau_m))
        self.lif_vrest = per_neuron(lif, lambda g: g.v_rest)
        self.lif_vreset = per_neuron(lif, lambda g: g.v_reset)
        self.lif_vthresh = per_neuron(lif, lambda g: g.v_thresh)
        self.lif_ref = per_neuron(lif, lambda g: int((g.t_ref + 1e-3 * dt) / dt), np.int64)
        for g in lif:
            self.v[rng_idx(g)] = g.v_init
        self.syn_decay = per_neuron(izh + lif, lambda g: syn_decay(g.tau_syn, dt))
        # voltage jumps are ignored for this many steps after a spike (reset, refractoriness)
        self.vblock = np.ones(N, dtype=np.int64)
        self.vblock[:] = np.maximum(self.lif_ref, 1)

        # inputs
        self.I_const = np.zeros(N)
        timed_cols, timed_tgt, timed_ratio = [], [], []
        noise_lo, noise_hi, noise_off, noise_mu, noise_std, off = [], [], [], [], [], 0
        for inp in network.inputs:
            idx = rng_idx(inp.target)
            if isinstance(inp, ConstantInput):
                self.I_const[idx] += inp.value
            elif isinstance(inp, TimedInput):
                vals = inp.values if not inp.shared else np.repeat(inp.values, inp.target.n, 1)
                timed_cols.append(vals)
                timed_tgt.append(np.arange(idx.start, idx.stop))
                timed_ratio.append(np.full(inp.target.n, inp.steps_per_sample(dt)))
            elif isinstance(inp, GaussianNoise):
                noise_lo.append(idx.start)
                noise_hi.append(idx.stop)
                noise_off.append(off)
                off += inp.target.n
                noise_mu.append(inp.mean)
                noise_std.append(inp.std)
        if timed_cols:
            rows = max(c.shape[0] for c in timed_cols)
            padded = [c if c.shape[0] == rows else
                      np.vstack([c, np.repeat(c[-1:], rows - c.shape[0], 0)]) for c in timed_cols]
            self.tv = np.ascontiguousarray(np.hstack(padded))
        else:
            self.tv = np.zeros((1, 0))
        self.tv_target = _cat(timed_tgt, np.int64)
        self.tv_ratio = _cat(timed_ratio, np.int64)
        self.noise_lo = np.array(noise_lo, dtype=np.int64)
        self.noise_hi = np.array(noise_hi, dtype=np.int64)
        self.noise_off = np.array(noise_off, dtype=np.int64)
        self.noise_mu = _cat(noise_mu, np.float64)
        self.noise_std = _cat(noise_std, np.float64)
        self.zbuf = np.zeros(max((g.n for g in network.groups), default=1))

        # spike sources
        pois = [g for g in network.groups if isinstance(g, PoissonGroup)]
        self.pois_lo, self.pois_hi = lo_hi(pois)
        self.pois_p = per_neuron(pois, lambda g: g.rates * (dt * 0.001))
        if np.any(self.pois_p > 1):
            raise ValueError(f"Poisson rates up to {self.pois_p.max() / (dt * 1e-3):g} Hz exceed "
                             f"one spike per step of dt={dt} ms")
        steps, gids = [], []
        for g in network.groups:
            if isinstance(g, SpikeGeneratorGroup):
                s = spike_generator_steps(g, dt)
                steps.append(s)
                gids.append(offsets[g.name] + g.indices)
        sg_step = _cat(steps, np.int64)
        sg_gidx = _cat(gids, np.int64)
        order = np.lexsort((sg_gidx, sg_step))
        self.sg_step, self.sg_gidx = sg_step[order], sg_gidx[order]
        self.sg_ptr = np.zeros(1, dtype=np.int64)

        # synapses
        pre_start, pre_n, post_start, target, homog, delay = [], [], [], [], [], []
        indptrs, idx_all, w_all, d_all = [], [], [], []
        indptr_off, syn_off, n_ip, n_syn = [], [], 0, 0
        max_homog, max_het = 0, 0
        for s in network.synapses:
            indptr, j, w, order = _csr(s)
            steps = s.delay_steps(dt)
            pre_start.append(offsets[s.pre.name])
            pre_n.append(s.pre.n)
            post_start.append(offsets[s.post.name])
            target.append(0 if s.target == "current" else 1)
            indptr_off.append(n_ip)
            syn_off.append(n_syn)
            n_ip += indptr.size
            n_syn += j.size
            indptrs.append(indptr)
            idx_all.append(j)
            w_all.append(w)
            if np.ndim(steps) == 0:
                homog.append(1)
                delay.append(steps)
                max_homog = max(max_homog, steps)
                d_all.append(np.zeros(j.size if len(network.synapses) > 1 else 0, np.int32))
            else:
                homog.append(0)
                delay.append(0)
                d_all.append(steps if order is None else steps[order])
                max_het = max(max_het, int(steps.max(initial=0)))
        self.pw_pre_start = np.array(pre_start, dtype=np.int64)
        self.pw_pre_n = np.array(pre_n, dtype=np.int64)
        self.pw_post_start = np.array(post_start, dtype=np.int64)
        self.pw_target = np.array(target, dtype=np.int64)
        self.pw_homog = np.array(homog, dtype=np.int64)
        self.pw_delay = np.array(delay, dtype=np.int64)
        self.pw_indptr_off = np.array(indptr_off, dtype=np.int64)
        self.pw_syn_off = np.array(syn_off, dtype=np.int64)
        self.indptr_all = _cat(indptrs, np.int64)
        # unsigned: numba then skips negative-index handling (a view, no copy, for one pathway)
        self.indices_all = _cat(idx_all, np.int32).view(np.uint32)
        self.weights_all = _cat(w_all, np.float64)
        has_het = any(h == 0 for h in homog)
        self.delays_all = _cat(d_all, np.int32) if has_het else np.zeros(0, np.int32)
        self.hist = np.zeros((max_homog + 1, max(N, 1)), dtype=np.int32)
        self.hist_n = np.zeros(max_homog + 1, dtype=np.int64)
        shape = (max_het + 1, N) if has_het else (1, 1)
        self.bufI = np.zeros(shape)
        self.bufV = np.zeros(shape)
        self.has_het = has_het

        # random numbers
        self.rng_state = seed_state(rng)[0]
        self.zig_k, self.zig_w, self.zig_f = ziggurat_tables()

        # monitors
        self.spk_flag = np.zeros(N, dtype=np.bool_)
        for m in network.spike_monitors:
            self.spk_flag[rng_idx(m.group)] = True
        cap = max(4 * N, 1 << 16)
        self.out_spk_idx = np.zeros(cap, dtype=np.int32)
        self.out_spk_step = np.zeros(cap, dtype=np.int64)
        self.n_out = np.zeros(1, dtype=np.int64)
        cols_var, cols_g = [], []
        for m in network.state_monitors:
            for var in m.variables:
                cols_var.append(np.full(m.record.size, _VAR_CODES[var]))
                cols_g.append(offsets[m.group.name] + m.record)
        self.mon_var = _cat(cols_var, np.int64)
        self.mon_gidx = _cat(cols_g, np.int64)
        self.mon_every = network.state_monitors[0].steps_per_sample(dt) if cols_g else 1
        n_rows = len(range(0, n_steps, self.mon_every)) if cols_g else 0
        self.mon_out = np.zeros((n_rows, self.mon_gidx.size))
        self.mon_row = np.zeros(1, dtype=np.int64)

    def args(self, n_start, n_stop):
        return (
            n_start, n_stop, self.dtf,
            self.v, self.u, self.I_syn, self.lastspike, self.Iext,
            self.izh_lo, self.izh_hi, self.izh_a, self.izh_b, self.izh_c, self.izh_d,
            self.izh_vpeak,
            self.lif_lo, self.lif_hi, self.lif_decay, self.lif_vrest, self.lif_vreset,
            self.lif_vthresh, self.lif_ref,
            self.syn_decay, self.vblock,
            self.I_const, self.tv, self.tv_target, self.tv_ratio, self.noise_lo, self.noise_hi,
            self.noise_off, self.noise_mu, self.noise_std, self.zbuf,
            self.pois_lo, self.pois_hi, self.pois_p, self.sg_step, self.sg_gidx, self.sg_ptr,
            self.pw_pre_start, self.pw_pre_n, self.pw_post_start, self.pw_target, self.pw_homog,
            self.pw_delay, self.pw_indptr_off, self.indptr_all, self.pw_syn_off,
            self.indices_all, self.weights_all, self.delays_all,
            self.hist, self.hist_n, self.bufI, self.bufV, self.has_het,
            self.rng_state, self.zig_k, self.zig_w, self.zig_f,
            self.spk_flag, self.out_spk_idx, self.out_spk_step, self.n_out, self.mon_every,
            self.mon_var, self.mon_gidx, self.mon_out, self.mon_row,
        )

    def grow_spike_buffer(self):
        n = self.n_out[0]
        cap = 2 * self.out_spk_idx.size
        idx = np.zeros(cap, dtype=np.int32)
        step = np.zeros(cap, dtype=np.int64)
        idx[:n] = self.out_spk_idx[:n]
        step[:n] = self.out_spk_step[:n]
        self.out_spk_idx, self.out_spk_step = idx, step


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

    def simulate(self, network, n_steps, dt, rng, progress, chunk_ms=None):
        from tqdm.auto import tqdm

        from ._numba_kernels import simulate as kernel

        t0 = time.perf_counter()
        lay = _Layout(network, n_steps, dt, rng)
        t_build = time.perf_counter() - t0
        if chunk_ms is None:
            chunk = max(1, n_steps // 100) if progress else n_steps
        else:
            chunk = max(1, int(round(chunk_ms / dt)))
        bar = tqdm(total=n_steps, desc="numba", unit="step", disable=not progress, leave=False)
        t0 = time.perf_counter()
        n = 0
        while n < n_steps:
            stop = min(n + chunk, n_steps)
            reached = kernel(*lay.args(n, stop))
            if reached < stop:
                lay.grow_spike_buffer()
            bar.update(reached - n)
            n = reached
        bar.close()
        t_run = time.perf_counter() - t0
        k = lay.n_out[0]
        state = {}
        for var, code in _VAR_CODES.items():
            cols = np.flatnonzero(lay.mon_var == code)
            if cols.size:
                state[var] = (lay.mon_gidx[cols], lay.mon_out[:, cols])
        steps = np.arange(0, n_steps, lay.mon_every) if state else None
        return RawResult(
            spike_index=lay.out_spk_idx[:k].copy(), spike_step=lay.out_spk_step[:k].copy(),
            state=state, state_steps=steps,
            info={"build_time_s": t_build, "run_time_s": t_run},
        )
