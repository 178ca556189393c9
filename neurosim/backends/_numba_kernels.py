"""numba kernels of the spiking engine. Imported only when the numba backend first runs.

One time step, in Brian2's schedule order (so that both backends compute the same thing):

1. monitors sample the state (Brian2 ``start``);
2. inputs: ``I_ext = I_const (+ timed arrays) (+ mean + std * N(0, 1))``;
3. integration (Brian2 ``groups``) with ``I = I_ext + I_syn``, then ``I_syn *= decay``;
4. threshold, then reset (Brian2 ``thresholds``/``resets``; the reset is done at once, and voltage
   jumps that arrive at a neuron in the step it spiked are dropped, which is what Brian2's order
   -- synapses before resets -- amounts to; jumps arriving during a LIF neuron's refractory
   period are dropped too, as Brian2 does for variables marked ``(unless refractory)``);
5. spike propagation (Brian2 ``synapses``): a homogeneous-delay pathway delivers the spikes of
   step ``n - delay`` event by event, in spike order (as Brian2's spike queue does); per-synapse
   delays go through a ring buffer that is added once per step.

The Izhikevich update is written in the same operation order as the code Brian2 generates for the
equivalent model, so that both backends round alike.
"""

import numpy as np
from numba import njit, uint64

_TWO53_INV = 1.0 / 9007199254740992.0
_ZIG_R = 3.6541528853610088
_ZIG_INV_R = 1.0 / _ZIG_R


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def _next_u64(state):
    s0 = state[0]
    s1 = state[1]
    result = _rotl(s0 + s1, 17) + s0
    s1 ^= s0
    state[0] = _rotl(s0, 49) ^ s1 ^ (s1 << uint64(21))
    state[1] = _rotl(s1, 28)
    return result


@njit(cache=True, inline="always")
def _next_double(state):
    return float(_next_u64(state) >> uint64(11)) * _TWO53_INV


@njit(cache=True, inline="always")
def fill_normal(out, n, state, zig_k, zig_w, zig_f):
    """Fill ``out[:n]`` with standard normal numbers (ziggurat, about 2 ns each).

    Written as one loop that keeps the generator state in registers: calling a per-number
    function with the rejection loops inside made numba's code about ten times slower.
    """
    s0 = state[0]
    s1 = state[1]
    i = 0
    tail = False
    neg = False
    while i < n:
        if not tail:
            r = _rotl(s0 + s1, 17) + s0
            s1 ^= s0
            s0 = _rotl(s0, 49) ^ s1 ^ (s1 << uint64(21))
            s1 = _rotl(s1, 28)
            idx = r & uint64(0xFF)
            r >>= uint64(8)
            rabs = (r >> uint64(1)) & uint64(0x000FFFFFFFFFFFFF)
            x = float(rabs) * zig_w[idx]
            if r & uint64(1):
                x = -x
            if rabs < zig_k[idx]:
                out[i] = x
                i += 1
                continue
            if idx == 0:  # base layer beyond r: sample the tail below
                tail = True
                neg = x < 0
                continue
            u = _rotl(s0 + s1, 17) + s0
            s1 ^= s0
            s0 = _rotl(s0, 49) ^ s1 ^ (s1 << uint64(21))
            s1 = _rotl(s1, 28)
            u1 = float(u >> uint64(11)) * _TWO53_INV
            if (zig_f[idx + 1] - zig_f[idx]) * u1 + zig_f[idx] < np.exp(-0.5 * x * x):
                out[i] = x
                i += 1
            continue
        # Marsaglia's tail method, repeated until accepted
        u = _rotl(s0 + s1, 17) + s0
        s1 ^= s0
        s0 = _rotl(s0, 49) ^ s1 ^ (s1 << uint64(21))
        s1 = _rotl(s1, 28)
        u1 = float(u >> uint64(11)) * _TWO53_INV
        u = _rotl(s0 + s1, 17) + s0
        s1 ^= s0
        s0 = _rotl(s0, 49) ^ s1 ^ (s1 << uint64(21))
        s1 = _rotl(s1, 28)
        u2 = float(u >> uint64(11)) * _TWO53_INV
        xx = -np.log(1.0 - u1) * _ZIG_INV_R
        yy = -np.log(1.0 - u2)
        if yy + yy > xx * xx:
            out[i] = -(_ZIG_R + xx) if neg else _ZIG_R + xx
            i += 1
            tail = False
    state[0] = s0
    state[1] = s1


@njit(cache=True, inline="always")
def _deliver(p, g_pre, n, pw_pre_start, pw_post_start, pw_target, pw_indptr_off, indptr_all,
             pw_syn_off, indices_all, weights_all, v, I_syn, lastspike, vblock):
    # Deliver, now, every synapse of neuron g_pre in pathway p. Views starting at 0 and unsigned
    # post indices let numba drop its negative-index checks from the inner loop.
    ip = pw_indptr_off[p] + g_pre - pw_pre_start[p]
    s0 = pw_syn_off[p] + indptr_all[ip]
    s1 = pw_syn_off[p] + indptr_all[ip + 1]
    post = indices_all[s0:s1]
    w = weights_all[s0:s1]
    post0 = pw_post_start[p]
    if pw_target[p] == 0:
        target = I_syn[post0:]
        for k in range(s1 - s0):
            target[post[k]] += w[k]
    else:
        target = v[post0:]
        last = lastspike[post0:]
        block = vblock[post0:]
        for k in range(s1 - s0):
            tg = post[k]
            if n - last[tg] >= block[tg]:  # v is clamped: spiked this step, or refractory
                target[tg] += w[k]


@njit(cache=True, inline="always")
def _izhikevich_step(lo, hi, n, dtf, v, u, I_syn, Iext, syn_decay, a, b, c, d, vpeak, lastspike,
                     spikes, ns):
    # Integrate in a branch-free loop the compiler vectorises, then threshold and reset. The loops
    # run over views from 0: with an unknown start index numba's negative-index checks stayed in
    # the loop and blocked vectorisation (4x slower).
    m = hi - lo
    v_ = v[lo:hi]
    u_ = u[lo:hi]
    I_ = I_syn[lo:hi]
    e_ = Iext[lo:hi]
    dec_ = syn_decay[lo:hi]
    a_ = a[lo:hi]
    b_ = b[lo:hi]
    for k in range(m):
        vv = v_[k]
        uu = u_[k]
        isyn = I_[k]
        # same operation order as Brian2's generated Euler code
        v_[k] = dtf * ((140.0 + (((e_[k] + isyn) + 0.04 * (vv * vv)) + 5.0 * vv)) - uu) + vv
        u_[k] = dtf * (a_[k] * (b_[k] * vv - uu)) + uu
        I_[k] = isyn * dec_[k]
    vp_ = vpeak[lo:hi]
    for k in range(m):
        if v_[k] >= vp_[k]:
            g = lo + k
            v_[k] = c[g]
            u_[k] += d[g]
            lastspike[g] = n
            spikes[ns] = g
            ns += 1
    return ns


@njit(cache=True, error_model="numpy")
def simulate(
    n_start, n_stop, dtf,
    # state (global arrays, one entry per neuron or source)
    v, u, I_syn, lastspike, Iext,
    # neuron models: contiguous index ranges [lo, hi) per group, parameters as global arrays
    izh_lo, izh_hi, izh_a, izh_b, izh_c, izh_d, izh_vpeak,
    lif_lo, lif_hi, lif_decay, lif_vrest, lif_vreset, lif_vthresh, lif_ref,
    # synaptic current decay per neuron; steps after a spike during which v ignores jumps
    syn_decay, vblock,
    # inputs; noise entries are ranges [lo, hi) with mean/std from offset off
    I_const, tv, tv_target, tv_ratio, noise_lo, noise_hi, noise_off, noise_mu, noise_std, zbuf,
    # spike sources
    pois_lo, pois_hi, pois_p, sg_step, sg_gidx, sg_ptr,
    # synapses, concatenated over pathways
    pw_pre_start, pw_pre_n, pw_post_start, pw_target, pw_homog, pw_delay,
    pw_indptr_off, indptr_all, pw_syn_off, indices_all, weights_all, delays_all,
    # spike history for homogeneous delays, ring buffers for heterogeneous ones
    hist, hist_n, bufI, bufV, has_het,
    # random numbers
    rng_state, zig_k, zig_w, zig_f,
    # monitors
    spk_flag, out_spk_idx, out_spk_step, n_out, mon_every, mon_var, mon_gidx, mon_out, mon_row,
):
    """Advance the network from step ``n_start`` to ``n_stop``.

    Returns the step reached: less than ``n_stop`` when the spike buffer may overflow during the
    next step (the caller grows it and calls again).
    """
    N = v.size
    Dh = hist.shape[0]
    Dhet = bufI.shape[0]
    n_pw = pw_pre_start.size
    n_tv = tv_target.size
    n_tv_rows = tv.shape[0]
    n_mon = mon_gidx.size
    for n in range(n_start, n_stop):
        if out_spk_idx.size - n_out[0] < N:
            return n
        # 1. monitors
        if n_mon > 0 and n % mon_every == 0:
            row = mon_row[0]
            for k in range(n_mon):
                g = mon_gidx[k]
                code = mon_var[k]
                if code == 0:
                    mon_out[row, k] = v[g]
                elif code == 1:
                    mon_out[row, k] = u[g]
                else:
                    mon_out[row, k] = I_syn[g]
            mon_row[0] = row + 1
        # 2. inputs
        for g in range(N):
            Iext[g] = I_const[g]
        for k in range(n_tv):
            r = n // tv_ratio[k]
            if r >= n_tv_rows:
                r = n_tv_rows - 1
            Iext[tv_target[k]] += tv[r, k]
        for e in range(noise_lo.size):
            lo = noise_lo[e]
            m = noise_hi[e] - lo
            off = noise_off[e]
            fill_normal(zbuf, m, rng_state, zig_k, zig_w, zig_f)
            e_ = Iext[lo:lo + m]
            mu_ = noise_mu[off:off + m]
            sd_ = noise_std[off:off + m]
            for k in range(m):
                e_[k] += mu_[k] + sd_[k] * zbuf[k]
        # 3-4. integrate (a branch-free loop the compiler vectorises), then threshold and reset
        slot = n % Dh
        ns = 0
        for blk in range(izh_lo.size):
            ns = _izhikevich_step(izh_lo[blk], izh_hi[blk], n, dtf, v, u, I_syn, Iext, syn_decay,
                                  izh_a, izh_b, izh_c, izh_d, izh_vpeak, lastspike, hist[slot],
                                  ns)
        for blk in range(lif_lo.size):
            for g in range(lif_lo[blk], lif_hi[blk]):
                isyn = I_syn[g]
                I_syn[g] = isyn * syn_decay[g]
                if n - lastspike[g] >= lif_ref[g]:
                    vinf = lif_vrest[g] + (Iext[g] + isyn)
                    vn = vinf + (v[g] - vinf) * lif_decay[g]
                    if vn >= lif_vthresh[g]:
                        vn = lif_vreset[g]
                        lastspike[g] = n
                        hist[slot, ns] = g
                        ns += 1
                    v[g] = vn
        for blk in range(pois_lo.size):
            for g in range(pois_lo[blk], pois_hi[blk]):
                if _next_double(rng_state) < pois_p[g]:
                    lastspike[g] = n
                    hist[slot, ns] = g
                    ns += 1
        while sg_ptr[0] < sg_step.size and sg_step[sg_ptr[0]] == n:
            g = sg_gidx[sg_ptr[0]]
            lastspike[g] = n
            hist[slot, ns] = g
            ns += 1
            sg_ptr[0] += 1
        hist_n[slot] = ns
        for k in range(ns):
            g = hist[slot, k]
            if spk_flag[g]:
                out_spk_idx[n_out[0]] = g
                out_spk_step[n_out[0]] = n
                n_out[0] += 1
        # 5. propagation
        for p in range(n_pw):
            lo = pw_pre_start[p]
            hi = lo + pw_pre_n[p]
            if pw_homog[p]:
                m = n - pw_delay[p]
                if m < 0:
                    continue
                ms = m % Dh
                for k in range(hist_n[ms]):
                    g = hist[ms, k]
                    if lo <= g < hi:
                        _deliver(p, g, n, pw_pre_start, pw_post_start, pw_target, pw_indptr_off,
                                 indptr_all, pw_syn_off, indices_all, weights_all, v, I_syn,
                                 lastspike, vblock)
            else:
                post0 = pw_post_start[p]
                for k in range(ns):
                    g = hist[slot, k]
                    if g < lo or g >= hi:
                        continue
                    ip = pw_indptr_off[p] + g - lo
                    s0 = pw_syn_off[p] + indptr_all[ip]
                    s1 = pw_syn_off[p] + indptr_all[ip + 1]
                    for s in range(s0, s1):
                        tg = post0 + indices_all[s]
                        dl = delays_all[s]
                        if dl == 0:
                            if pw_target[p] == 0:
                                I_syn[tg] += weights_all[s]
                            elif n - lastspike[tg] >= vblock[tg]:
                                v[tg] += weights_all[s]
                        elif pw_target[p] == 0:
                            bufI[(n + dl) % Dhet, tg] += weights_all[s]
                        else:
                            bufV[(n + dl) % Dhet, tg] += weights_all[s]
        if has_het:
            b = n % Dhet
            for g in range(N):
                I_syn[g] += bufI[b, g]
                bufI[b, g] = 0.0
                if n - lastspike[g] >= vblock[g]:
                    v[g] += bufV[b, g]
                bufV[b, g] = 0.0
    return n_stop
