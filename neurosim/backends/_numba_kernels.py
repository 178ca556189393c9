"""numba kernels of the spiking engine. Imported only when the numba backend first runs.

One time step, in Brian2's schedule order (so that both backends compute the same thing):

1. start: readouts ``y = W x`` from the traces, monitors sample the state, readout learning
   (three-factor rule, RLS every k steps) (Brian2 ``start``);
2. inputs: ``I_ext = I_const (+ timed arrays) (+ mean + std * N(0, 1)) (+ E y)``, adaptive
   thresholds decay, receptor currents are evaluated (``before_groups``);
3. integration (Brian2 ``groups``) with ``I = I_ext + I_syn (+ receptors)``, then ``I_syn``,
   receptor variables and traces decay (``after_groups``);
4. threshold, then reset (Brian2 ``thresholds``/``resets``; the reset is done at once, and voltage
   jumps that arrive at a neuron in the step it spiked are dropped, which is what Brian2's order
   -- synapses before resets -- amounts to; jumps arriving during a LIF neuron's refractory
   period are dropped too, as Brian2 does for variables marked ``(unless refractory)``); traces
   and thresholds jump;
5. spike propagation (Brian2 ``synapses``): a homogeneous-delay pathway delivers the spikes of
   step ``n - delay`` event by event, in spike order (as Brian2's spike queue does); per-synapse
   delays go through a ring buffer that is added once per step. STDP: the presynaptic arrivals
   of every pathway (Brian2's ``on_pre``, order -1), then the postsynaptic spikes of every
   pathway (``on_post``, order +1);
6. end: neuromodulators, reward-modulated STDP weight updates, synaptic scaling.

The Izhikevich update is written in the same operation order as the code Brian2 generates for the
equivalent model, so that both backends round alike.
"""

import numpy as np
from numba import uint64

from neurosim._numba import njit

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
def _sig(inp, s, n, c):
    # value of column c of signal s at step n (held after the last row; one column is shared)
    r = n // inp.sig_ratio[s]
    rows = inp.sig_rows[s]
    if r >= rows:
        r = rows - 1
    cols = inp.sig_cols[s]
    if cols == 1:
        c = 0
    return inp.sig_val[inp.sig_off[s] + r * cols + c]


@njit(cache=True, inline="always")
def _deliver(p, g_pre, n, sy, st, rc):
    # Deliver, now, every synapse of neuron g_pre in static pathway p. Views starting at 0 and
    # unsigned post indices let numba drop its negative-index checks from the inner loop.
    ip = sy.indptr_off[p] + g_pre - sy.pre_start[p]
    s0 = sy.syn_off[p] + sy.indptr[ip]
    s1 = sy.syn_off[p] + sy.indptr[ip + 1]
    post = sy.indices[s0:s1]
    w = sy.weights[s0:s1]
    t = sy.tarr[p]
    if t == 1:
        post0 = sy.post_start[p]
        target = st.v[post0:]
        last = st.lastspike[post0:]
        block = st.vblock[post0:]
        for k in range(s1 - s0):
            tg = post[k]
            if n - last[tg] >= block[tg]:  # v is clamped: spiked this step, or refractory
                target[tg] += w[k]
        return
    if t == 0:
        target = st.I_syn[sy.toff[p]:]
    elif t == 2:
        target = rc.rg[sy.toff[p]:]
    else:
        target = rc.rh[sy.toff[p]:]
    sc = sy.scale[p]
    if sc == 1.0:
        for k in range(s1 - s0):
            target[post[k]] += w[k]
    else:
        for k in range(s1 - s0):
            target[post[k]] += w[k] * sc


@njit(cache=True, inline="always")
def _deliver_plastic(p, g_pre, n, sy, st, rc, pl):
    # The presynaptic side of STDP: deliver each synapse's weight (as it was before this
    # spike), bump the presynaptic trace, then depress by the postsynaptic trace (into the
    # weight for STDP, into the eligibility for reward-modulated STDP), as Brian2's on_pre.
    ip = sy.indptr_off[p] + g_pre - sy.pre_start[p]
    s0 = sy.syn_off[p] + sy.indptr[ip]
    s1 = sy.syn_off[p] + sy.indptr[ip + 1]
    t = sy.tarr[p]
    sc = sy.scale[p]
    toff = sy.toff[p]
    post0 = sy.post_start[p]
    xi = pl.xpre_off[p] + g_pre - sy.pre_start[p]
    if pl.nearest[p]:
        pl.xpre[xi] = pl.aplus[p]
    else:
        pl.xpre[xi] += pl.aplus[p]
    xo = pl.xpost_off[p]
    kind = pl.kind[p]
    rule = pl.rule[p]
    lo = pl.wmin[p]
    hi = pl.wmax[p]
    for s in range(s0, s1):
        j = sy.indices[s]
        w = sy.weights[s]
        if t == 0:
            st.I_syn[toff + j] += w
        elif t == 1:
            g = post0 + j
            if n - st.lastspike[g] >= st.vblock[g]:
                st.v[g] += w
        elif t == 2:
            rc.rg[toff + j] += w * sc
        else:
            rc.rh[toff + j] += w * sc
        xp = pl.xpost[xo + j]
        if kind == 1:
            if rule == 0:
                w = w - xp
            else:
                w = w - xp * (w - lo)
            if w < lo:
                w = lo
            elif w > hi:
                w = hi
            sy.weights[s] = w
        else:
            pl.c[s] -= xp


@njit(cache=True, inline="always")
def _stdp_post(p, n, slot, ns, sy, pl):
    # The postsynaptic side of STDP for the spikes of this step: bump the postsynaptic trace,
    # then potentiate by the presynaptic traces (Brian2's on_post, after on_pre).
    lo_g = sy.post_start[p]
    hi_g = lo_g + sy.post_n[p]
    xo = pl.xpost_off[p]
    po = pl.xpre_off[p]
    co = pl.csc_off[p]
    kind = pl.kind[p]
    rule = pl.rule[p]
    lo = pl.wmin[p]
    hi = pl.wmax[p]
    for k in range(ns):
        g = sy.hist[slot, k]
        if g < lo_g or g >= hi_g:
            continue
        j = g - lo_g
        if pl.nearest[p]:
            pl.xpost[xo + j] = pl.aminus[p]
        else:
            pl.xpost[xo + j] += pl.aminus[p]
        for e in range(pl.csc_ptr[co + j], pl.csc_ptr[co + j + 1]):
            s = pl.csc_syn[e]
            x = pl.xpre[po + pl.csc_pre[e]]
            if kind == 1:
                w = sy.weights[s]
                if rule == 0:
                    w = w + x
                else:
                    w = w + x * (hi - w)
                if w < lo:
                    w = lo
                elif w > hi:
                    w = hi
                sy.weights[s] = w
            else:
                pl.c[s] += x


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


@njit(cache=True, inline="always")
def _izh2007_step(lo, hi, n, dtf, st, spikes, ns):
    v_ = st.v[lo:hi]
    u_ = st.u[lo:hi]
    I_ = st.I_syn[lo:hi]
    e_ = st.Iext[lo:hi]
    dec_ = st.syn_decay[lo:hi]
    C_ = st.i7_C[lo:hi]
    k_ = st.i7_k[lo:hi]
    vr_ = st.i7_vr[lo:hi]
    vt_ = st.i7_vt[lo:hi]
    a_ = st.i7_a[lo:hi]
    b_ = st.i7_b[lo:hi]
    for q in range(hi - lo):
        vv = v_[q]
        uu = u_[q]
        isyn = I_[q]
        v_[q] = vv + dtf * ((k_[q] * (vv - vr_[q]) * (vv - vt_[q]) - uu + (e_[q] + isyn)) / C_[q])
        u_[q] = uu + dtf * (a_[q] * (b_[q] * (vv - vr_[q]) - uu))
        I_[q] = isyn * dec_[q]
    vp_ = st.i7_vpeak[lo:hi]
    for q in range(hi - lo):
        if v_[q] >= vp_[q]:
            g = lo + q
            v_[q] = st.i7_c[g]
            u_[q] += st.i7_d[g]
            st.lastspike[g] = n
            spikes[ns] = g
            ns += 1
    return ns


@njit(cache=True, inline="always")
def _adex_step(lo, hi, n, dtf, st, spikes, ns):
    v_ = st.v[lo:hi]
    u_ = st.u[lo:hi]
    I_ = st.I_syn[lo:hi]
    e_ = st.Iext[lo:hi]
    dec_ = st.syn_decay[lo:hi]
    C_ = st.ad_C[lo:hi]
    gL_ = st.ad_gL[lo:hi]
    EL_ = st.ad_EL[lo:hi]
    VT_ = st.ad_VT[lo:hi]
    DT_ = st.ad_DT[lo:hi]
    tw_ = st.ad_tauw[lo:hi]
    a_ = st.ad_a[lo:hi]
    for q in range(hi - lo):
        vv = v_[q]
        uu = u_[q]
        isyn = I_[q]
        spike_current = gL_[q] * DT_[q] * np.exp((vv - VT_[q]) / DT_[q])
        v_[q] = vv + dtf * ((-gL_[q] * (vv - EL_[q]) + spike_current - uu + (e_[q] + isyn))
                            / C_[q])
        u_[q] = uu + dtf * ((a_[q] * (vv - EL_[q]) - uu) / tw_[q])
        I_[q] = isyn * dec_[q]
    vp_ = st.ad_vpeak[lo:hi]
    for q in range(hi - lo):
        if v_[q] >= vp_[q]:
            g = lo + q
            v_[q] = st.ad_vreset[g]
            u_[q] += st.ad_b[g]
            st.lastspike[g] = n
            spikes[ns] = g
            ns += 1
    return ns


@njit(cache=True, inline="always")
def _lif_step(blk, n, st, rc, spikes, ns):
    # Integrate in a branch-free loop over views from 0 (so that the compiler vectorises it),
    # then threshold and reset. Refractory neurons keep their v.
    lo = st.lif_lo[blk]
    hi = st.lif_hi[blk]
    mode = st.lif_mode[blk]
    m = hi - lo
    v_ = st.v[lo:hi]
    I_ = st.I_syn[lo:hi]
    e_ = st.Iext[lo:hi]
    dec_ = st.syn_decay[lo:hi]
    last_ = st.lastspike[lo:hi]
    ref_ = st.lif_ref[lo:hi]
    vr_ = st.lif_vrest[lo:hi]
    ld_ = st.lif_decay[lo:hi]
    A_ = rc.accA[lo:hi]
    B_ = rc.accB[lo:hi]
    dtt_ = st.lif_dt_tau[lo:hi]
    if mode == 0:  # I_syn held during the step: exact for a constant input
        for k in range(m):
            isyn = I_[k]
            I_[k] = isyn * dec_[k]
            vinf = vr_[k] + (e_[k] + isyn)
            vn = vinf + (v_[k] - vinf) * ld_[k]
            v_[k] = vn if n - last_[k] >= ref_[k] else v_[k]
    elif mode == 1:  # current receptors integrated exactly with v
        for k in range(m):
            isyn = I_[k]
            I_[k] = isyn * dec_[k]
            vinf = vr_[k] + (e_[k] + isyn)
            vn = vinf + (v_[k] - vinf) * ld_[k] + A_[k]
            v_[k] = vn if n - last_[k] >= ref_[k] else v_[k]
    else:  # conductances: exponential Euler, receptors held at their start values
        for k in range(m):
            isyn = I_[k]
            I_[k] = isyn * dec_[k]
            gt = 1.0 + B_[k]
            vinf = (vr_[k] + (e_[k] + isyn) + A_[k]) / gt
            vn = vinf + (v_[k] - vinf) * np.exp(-gt * dtt_[k])
            v_[k] = vn if n - last_[k] >= ref_[k] else v_[k]
    vth_ = st.lif_vthresh[lo:hi]
    for k in range(m):
        if v_[k] >= vth_[k] and n - last_[k] >= ref_[k]:
            g = lo + k
            v_[k] = st.lif_vreset[g]
            last_[k] = n
            spikes[ns] = g
            ns += 1
    return ns


@njit(cache=True, inline="always")
def _decay_pairs(g, h, m, dg, dh, cgh, double):
    # views from 0 so that the loops vectorise
    if double:
        for k in range(m):
            g[k] = g[k] * dg + h[k] * cgh
            h[k] = h[k] * dh
    else:
        for k in range(m):
            g[k] = g[k] * dg


@njit(cache=True, inline="always")
def _receptor_inputs(st, rc):
    # Receptor currents at the start of the step -- into I_ext for Euler models, into the LIF
    # accumulators (exact or exponential-Euler coefficients) for LIF groups -- and, in the same
    # pass, the receptors' decay over the step (which does not depend on v). One pass per
    # receptor over views from 0, so that the loops vectorise.
    for r in range(rc.lo.size):
        lo = rc.lo[r]
        m = rc.hi[r] - lo
        off = rc.off[r]
        mode = rc.mode[r]
        E = rc.E[r]
        dg = rc.dg[r]
        double = rc.double[r]
        g_ = rc.rg[off:off + m]
        h_ = rc.rh[off:off + m]
        dh = rc.dh[r]
        cgh = rc.cgh[r]
        if mode == 0:
            e_ = st.Iext[lo:lo + m]
            if rc.kind[r] == 1:
                v_ = st.v[lo:lo + m]
                for k in range(m):
                    e_[k] += g_[k] * (E - v_[k])
            else:
                for k in range(m):
                    e_[k] += g_[k]
        else:
            A_ = rc.accA[lo:lo + m]
            B_ = rc.accB[lo:lo + m]
            first = rc.first[r]
            if mode == 1:
                kg_ = rc.rk_g[off:off + m]
                kh_ = rc.rk_h[off:off + m]
                if first:
                    for k in range(m):
                        A_[k] = kg_[k] * g_[k] + kh_[k] * h_[k] if double else kg_[k] * g_[k]
                else:
                    for k in range(m):
                        A_[k] += kg_[k] * g_[k] + kh_[k] * h_[k] if double else kg_[k] * g_[k]
            elif rc.kind[r] == 1:
                if first:
                    for k in range(m):
                        A_[k] = g_[k] * E
                        B_[k] = g_[k]
                else:
                    for k in range(m):
                        A_[k] += g_[k] * E
                        B_[k] += g_[k]
            else:
                if first:
                    for k in range(m):
                        A_[k] = g_[k]
                        B_[k] = 0.0
                else:
                    for k in range(m):
                        A_[k] += g_[k]
        _decay_pairs(g_, h_, m, dg, dh, cgh, double)


@njit(cache=True, inline="always")
def _decay_traces(le):
    for t in range(le.tr_lo.size):
        off = le.tr_off[t]
        m = le.tr_hi[t] - le.tr_lo[t]
        _decay_pairs(le.tr_x[off:off + m], le.tr_h[off:off + m], m, le.tr_dg[t], le.tr_dh[t],
                     le.tr_cgh[t], le.tr_double[t])


@njit(cache=True, inline="always")
def _readouts(le):
    for r in range(le.ro_nout.size):
        nin = le.ro_nin[r]
        io = le.ro_inoff[r]
        for j in range(nin):
            le.xin[io + j] = le.tr_x[le.ro_in[io + j]]
        wo = le.ro_woff[r]
        yo = le.ro_yoff[r]
        for k in range(le.ro_nout[r]):
            acc = 0.0
            base = wo + k * nin
            for j in range(nin):
                acc += le.W[base + j] * le.xin[io + j]
            le.y[yo + k] = acc


@njit(cache=True, inline="always")
def _readout_rules(n, dt, inp, pl, le):
    # three-factor rule: e <- e * decay + x g(y); W <- clip(W + eta G M e dt)
    for q in range(le.tf_ro.size):
        r = le.tf_ro[q]
        nin = le.ro_nin[r]
        io = le.ro_inoff[r]
        wo = le.ro_woff[r]
        yo = le.ro_yoff[r]
        eo = le.tf_eoff[q]
        G = 1.0 if le.tf_gate[q] < 0 else _sig(inp, le.tf_gate[q], n, 0)
        de = le.tf_de[q]
        eta = le.tf_eta[q]
        lo = le.tf_wmin[q]
        hi = le.tf_wmax[q]
        for k in range(le.ro_nout[r]):
            yk = le.y[yo + k]
            mk = le.tf_mkind[q]
            if mk == 0:
                M = _sig(inp, le.tf_sig[q], n, k) - yk
            elif mk == 1:
                M = _sig(inp, le.tf_sig[q], n, k)
            else:
                M = pl.mod_d[le.tf_mod[q]]
            gk = 1.0 if le.tf_post[q] == 0 else yk
            f = eta * G * M
            base = k * nin
            for j in range(nin):
                e = le.elig[eo + base + j] * de + le.xin[io + j] * gk
                le.elig[eo + base + j] = e
                w = le.W[wo + base + j] + f * e * dt
                if w < lo:
                    w = lo
                elif w > hi:
                    w = hi
                le.W[wo + base + j] = w
    # recursive least squares (FORCE), every k steps while the gate is open
    for q in range(le.rls_ro.size):
        if n % le.rls_every[q] != 0:
            continue
        if le.rls_gate[q] >= 0 and _sig(inp, le.rls_gate[q], n, 0) == 0.0:
            continue
        r = le.rls_ro[q]
        nin = le.ro_nin[r]
        io = le.ro_inoff[r]
        wo = le.ro_woff[r]
        yo = le.ro_yoff[r]
        po = le.rls_poff[q]
        x = le.xin[io:io + nin]
        c = le.cbuf
        # c = P x, accumulated row by row (P is symmetric, so row a is column a): the inner loop
        # is an element-wise update that vectorises, unlike a dot-product reduction
        for b in range(nin):
            c[b] = 0.0
        for a in range(nin):
            xa = x[a]
            row = le.P[po + a * nin:po + (a + 1) * nin]
            for b in range(nin):
                c[b] += row[b] * xa
        den = 1.0
        for a in range(nin):
            den += x[a] * c[a]
        for k in range(le.ro_nout[r]):
            e = le.y[yo + k] - _sig(inp, le.rls_sig[q], n, k)
            wrow = le.W[wo + k * nin:wo + (k + 1) * nin]
            for a in range(nin):
                wrow[a] -= e * c[a]
        inv = 1.0 / den
        for a in range(nin):
            ca = c[a]
            row = le.P[po + a * nin:po + (a + 1) * nin]
            for b in range(nin):
                # (c_a c_b) / den with the product first keeps P exactly symmetric
                row[b] -= ca * c[b] * inv


@njit(cache=True, inline="always")
def _monitors(n, st, rc, sy, le, mo):
    n_mon = mo.mon_idx.size
    if n_mon > 0 and n % mo.mon_every == 0:
        row = mo.mon_row[0]
        for k in range(n_mon):
            i = mo.mon_idx[k]
            code = mo.mon_code[k]
            if code == 0:
                val = st.v[i]
            elif code == 1:
                val = st.u[i]
            elif code == 2:
                val = st.I_syn[i]
            elif code == 3:
                val = le.theta[i]
            elif code == 4:
                val = rc.rg[i]
            elif code == 5:
                val = rc.rh[i]
            else:
                val = le.tr_x[i]
            mo.mon_out[row, k] = val
        mo.mon_row[0] = row + 1
    for m in range(mo.vm_every.size):
        if n % mo.vm_every[m] != 0:
            continue
        width = mo.vm_width[m]
        base = mo.vm_off[m] + mo.vm_row[m] * width
        co = mo.vm_coloff[m]
        kind = mo.vm_kind[m]
        for c in range(width):
            i = mo.vm_idx[co + c]
            if kind == 0:
                mo.vm_out[base + c] = sy.weights[i]
            elif kind == 1:
                mo.vm_out[base + c] = le.W[i]
            else:
                mo.vm_out[base + c] = le.y[i]
        mo.vm_row[m] += 1


@njit(cache=True, inline="always")
def _inputs(n, st, inp, le, mo):
    N = st.v.size
    for g in range(N):
        st.Iext[g] = inp.I_const[g]
    for e in range(inp.ti_lo.size):
        lo = inp.ti_lo[e]
        m = inp.ti_n[e]
        s = inp.ti_sig[e]
        mode = inp.ti_mode[e]
        r = n // inp.sig_ratio[s]
        if r >= inp.sig_rows[s]:
            r = inp.sig_rows[s] - 1
        cols = inp.sig_cols[s]
        base = inp.sig_off[s] + r * cols
        if mode == 0:
            val = inp.sig_val[base]
            for k in range(m):
                st.Iext[lo + k] += val
        elif mode == 1:
            row = inp.sig_val[base:base + m]
            e_ = st.Iext[lo:lo + m]
            for k in range(m):
                e_[k] += row[k]
        else:
            go = inp.ti_goff[e]
            for k in range(m):
                acc = 0.0
                for c in range(cols):
                    acc += inp.gains[go + k * cols + c] * inp.sig_val[base + c]
                st.Iext[lo + k] += acc
    for e in range(inp.noise_lo.size):
        lo = inp.noise_lo[e]
        m = inp.noise_hi[e] - lo
        off = inp.noise_off[e]
        if inp.noise_kind[e] == 0:
            fill_normal(inp.zbuf, m, mo.rng_state, mo.zig_k, mo.zig_w, mo.zig_f)
        else:
            for k in range(m):
                inp.zbuf[k] = _next_double(mo.rng_state)
        e_ = st.Iext[lo:lo + m]
        mu_ = inp.noise_mu[off:off + m]
        sd_ = inp.noise_std[off:off + m]
        for k in range(m):
            e_[k] += mu_[k] + sd_[k] * inp.zbuf[k]
    for e in range(inp.fb_lo.size):
        lo = inp.fb_lo[e]
        r = inp.fb_ro[e]
        nout = le.ro_nout[r]
        yo = le.ro_yoff[r]
        off = inp.fb_off[e]
        for k in range(inp.fb_n[e]):
            acc = 0.0
            for c in range(nout):
                acc += inp.fb_E[off + k * nout + c] * le.y[yo + c]
            st.Iext[lo + k] += acc


@njit(cache=True, inline="always")
def _thresholds(st, le):
    for b in range(le.at_lo.size):
        model = le.at_model[b]
        for g in range(le.at_lo[b], le.at_hi[b]):
            th = le.theta[g] * le.at_decay[g] - le.at_drift[g]
            le.theta[g] = th
            thr = le.thr_base[g] + th
            if model == 0:
                st.izh_vpeak[g] = thr
            elif model == 1:
                st.lif_vthresh[g] = thr
            elif model == 2:
                st.i7_vpeak[g] = thr
            else:
                st.ad_vpeak[g] = thr


@njit(cache=True, inline="always")
def _after_spikes(slot, ns, sy, le):
    # resets of the plastic state: trace jumps, threshold jumps
    if le.tr_lo.size == 0 and le.at_lo.size == 0:
        return
    for k in range(ns):
        g = sy.hist[slot, k]
        for t in range(le.tr_lo.size):
            if le.tr_lo[t] <= g < le.tr_hi[t]:
                i = le.tr_off[t] + g - le.tr_lo[t]
                if le.tr_double[t]:
                    le.tr_h[i] += le.tr_hinc[t]
                else:
                    le.tr_x[i] += le.tr_inc[t]
        for b in range(le.at_lo.size):
            if le.at_lo[b] <= g < le.at_hi[b]:
                le.theta[g] += le.at_jump[g]


@njit(cache=True, inline="always")
def _end_of_step(n, inp, sy, pl, le):
    # neuromodulators: decay, then this step's events (or the time series)
    for m in range(pl.mod_d.size):
        if pl.mod_sig[m] >= 0:
            pl.mod_d[m] = _sig(inp, pl.mod_sig[m], n, 0)
        else:
            d = pl.mod_d[m] * pl.mod_decay[m]
            ptr = pl.mod_ev_ptr[m]
            while ptr < pl.mod_ev_hi[m] and pl.mod_ev_step[ptr] <= n:
                d += pl.mod_ev_amt[ptr]
                ptr += 1
            pl.mod_ev_ptr[m] = ptr
            pl.mod_d[m] = d
    # reward-modulated STDP: w += eta (d + d_tonic) c, then c decays, every k steps
    for p in range(pl.kind.size):
        if pl.kind[p] != 2 or n % pl.every[p] != 0:
            continue
        f = pl.eta[p] * (pl.mod_d[pl.mod[p]] + pl.dtonic[p])
        lo = pl.wmin[p]
        hi = pl.wmax[p]
        cd = pl.cdecay[p]
        s0 = sy.syn_off[p]
        s1 = s0 + sy.indptr[sy.indptr_off[p] + sy.pre_n[p]]
        w_ = sy.weights[s0:s1]
        c_ = pl.c[s0:s1]
        for s in range(s1 - s0):  # branch-free, so that it vectorises
            w_[s] = min(max(w_[s] + f * c_[s], lo), hi)
            c_[s] *= cd
    # synaptic scaling toward a target rate, every k steps
    for q in range(le.sc_pw.size):
        if n % le.sc_every[q] != 0:
            continue
        p = le.sc_pw[q]
        t = le.sc_tr[q]
        xo = le.tr_off[t]
        target = le.sc_target[q]
        eta = le.sc_eta[q]
        lo = le.sc_wmin[q]
        hi = le.sc_wmax[q]
        s0 = sy.syn_off[p]
        s1 = s0 + sy.indptr[sy.indptr_off[p] + sy.pre_n[p]]
        for s in range(s0, s1):
            w = sy.weights[s] * (1.0 + eta * (target - le.tr_x[xo + sy.indices[s]]))
            if w < lo:
                w = lo
            elif w > hi:
                w = hi
            sy.weights[s] = w


@njit(cache=True, error_model="numpy", _nrt=False)
def simulate(n_start, n_stop, dtf, dt, st, rc, inp, sy, pl, le, mo):
    """Advance the network from step ``n_start`` to ``n_stop``.

    The bundles are described in :mod:`neurosim.backends._numba_types`. Returns the step reached:
    less than ``n_stop`` when the spike buffer may overflow during the next step (the caller
    grows it and calls again).
    """
    N = st.v.size
    Dh = sy.hist.shape[0]
    Dhet = sy.bufI.shape[0]
    n_pw = sy.pre_start.size
    has_plastic = pl.kind.size > 0
    for n in range(n_start, n_stop):
        if mo.out_spk_idx.size - mo.n_out[0] < N:
            return n
        # 1. start: readouts from the traces, monitors, readout learning
        _readouts(le)
        _monitors(n, st, rc, sy, le, mo)
        _readout_rules(n, dt, inp, pl, le)
        # 2. inputs (and the feedback of the readouts), thresholds, receptor currents
        _inputs(n, st, inp, le, mo)
        _thresholds(st, le)
        _receptor_inputs(st, rc)
        # 3-4. integrate, then threshold and reset; spike sources
        slot = n % Dh
        ns = 0
        spikes = sy.hist[slot]
        for blk in range(st.izh_lo.size):
            ns = _izhikevich_step(st.izh_lo[blk], st.izh_hi[blk], n, dtf, st.v, st.u, st.I_syn,
                                  st.Iext, st.syn_decay, st.izh_a, st.izh_b, st.izh_c, st.izh_d,
                                  st.izh_vpeak, st.lastspike, spikes, ns)
        for blk in range(st.lif_lo.size):
            ns = _lif_step(blk, n, st, rc, spikes, ns)
        for blk in range(st.i7_lo.size):
            ns = _izh2007_step(st.i7_lo[blk], st.i7_hi[blk], n, dtf, st, spikes, ns)
        for blk in range(st.ad_lo.size):
            ns = _adex_step(st.ad_lo[blk], st.ad_hi[blk], n, dtf, st, spikes, ns)
        _decay_traces(le)
        for blk in range(inp.pois_lo.size):
            for g in range(inp.pois_lo[blk], inp.pois_hi[blk]):
                if _next_double(mo.rng_state) < inp.pois_p[g]:
                    st.lastspike[g] = n
                    spikes[ns] = g
                    ns += 1
        for e in range(inp.ip_lo.size):
            lo = inp.ip_lo[e]
            s = inp.ip_sig[e]
            mode = inp.ip_mode[e]
            scale = inp.ip_pscale[e]
            cols = inp.sig_cols[s]
            r = n // inp.sig_ratio[s]
            if r >= inp.sig_rows[s]:
                r = inp.sig_rows[s] - 1
            base = inp.sig_off[s] + r * cols
            for k in range(inp.ip_n[e]):
                if mode == 0:
                    rate = inp.sig_val[base]
                elif mode == 1:
                    rate = inp.sig_val[base + k]
                else:
                    rate = 0.0
                    go = inp.ip_goff[e]
                    for c in range(cols):
                        rate += inp.gains[go + k * cols + c] * inp.sig_val[base + c]
                if _next_double(mo.rng_state) < rate * scale:
                    st.lastspike[lo + k] = n
                    spikes[ns] = lo + k
                    ns += 1
        while inp.sg_ptr[0] < inp.sg_step.size and inp.sg_step[inp.sg_ptr[0]] == n:
            g = inp.sg_gidx[inp.sg_ptr[0]]
            st.lastspike[g] = n
            spikes[ns] = g
            ns += 1
            inp.sg_ptr[0] += 1
        sy.hist_n[slot] = ns
        for k in range(ns):
            g = spikes[k]
            if mo.spk_flag[g]:
                mo.out_spk_idx[mo.n_out[0]] = g
                mo.out_spk_step[mo.n_out[0]] = n
                mo.n_out[0] += 1
        _after_spikes(slot, ns, sy, le)
        # 5. propagation, with the STDP updates
        if has_plastic:
            for p in range(n_pw):
                if pl.kind[p] != 0:  # views from 0, so that the loops vectorise
                    xo = pl.xpre_off[p]
                    x_ = pl.xpre[xo:xo + sy.pre_n[p]]
                    d = pl.dpre[p]
                    for k in range(x_.size):
                        x_[k] *= d
                    xo = pl.xpost_off[p]
                    x_ = pl.xpost[xo:xo + sy.post_n[p]]
                    d = pl.dpost[p]
                    for k in range(x_.size):
                        x_[k] *= d
        if has_plastic:  # rules whose postsynaptic side comes first in the step
            for p in range(n_pw):
                if pl.kind[p] != 0 and pl.postfirst[p]:
                    _stdp_post(p, n, slot, ns, sy, pl)
        for p in range(n_pw):
            lo = sy.pre_start[p]
            hi = lo + sy.pre_n[p]
            plastic = has_plastic and pl.kind[p] != 0
            if sy.homog[p]:
                m = n - sy.delay[p]
                if m >= 0:
                    ms = m % Dh
                    for k in range(sy.hist_n[ms]):
                        g = sy.hist[ms, k]
                        if lo <= g < hi:
                            if plastic:
                                _deliver_plastic(p, g, n, sy, st, rc, pl)
                            else:
                                _deliver(p, g, n, sy, st, rc)
            else:
                post0 = sy.post_start[p]
                t = sy.tarr[p]
                toff = sy.toff[p]
                sc = sy.scale[p]
                for k in range(ns):
                    g = spikes[k]
                    if g < lo or g >= hi:
                        continue
                    ip = sy.indptr_off[p] + g - lo
                    s0 = sy.syn_off[p] + sy.indptr[ip]
                    s1 = sy.syn_off[p] + sy.indptr[ip + 1]
                    for s in range(s0, s1):
                        j = sy.indices[s]
                        dl = sy.delays[s]
                        w = sy.weights[s]
                        if t == 1:
                            tg = post0 + j
                            if dl == 0:
                                if n - st.lastspike[tg] >= st.vblock[tg]:
                                    st.v[tg] += w
                            else:
                                sy.bufV[(n + dl) % Dhet, tg] += w
                        elif t == 0:
                            if dl == 0:
                                st.I_syn[toff + j] += w
                            else:
                                sy.bufI[(n + dl) % Dhet, toff + j] += w
                        elif t == 2:
                            if dl == 0:
                                rc.rg[toff + j] += w * sc
                            else:
                                sy.bufG[(n + dl) % Dhet, toff + j] += w * sc
                        elif dl == 0:
                            rc.rh[toff + j] += w * sc
                        else:
                            sy.bufH[(n + dl) % Dhet, toff + j] += w * sc
        # Brian2 runs every on_pre pathway (order -1) before every on_post pathway (order +1)
        if has_plastic:
            for p in range(n_pw):
                if pl.kind[p] != 0 and not pl.postfirst[p]:
                    _stdp_post(p, n, slot, ns, sy, pl)
        if sy.has_het:
            b = n % Dhet
            for g in range(sy.bufI.shape[1]):
                st.I_syn[g] += sy.bufI[b, g]
                sy.bufI[b, g] = 0.0
            for g in range(sy.bufV.shape[1]):
                if n - st.lastspike[g] >= st.vblock[g]:
                    st.v[g] += sy.bufV[b, g]
                sy.bufV[b, g] = 0.0
            for i in range(sy.bufG.shape[1]):
                rc.rg[i] += sy.bufG[b, i]
                sy.bufG[b, i] = 0.0
            for i in range(sy.bufH.shape[1]):
                rc.rh[i] += sy.bufH[b, i]
                sy.bufH[b, i] = 0.0
        # 6. end: neuromodulators, reward-modulated STDP, synaptic scaling
        _end_of_step(n, inp, sy, pl, le)
    return n_stop
