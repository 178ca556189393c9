"""numba kernels of the CSA over batches of items. Imported only when a SparseyMemory first runs.

Every mac of the hierarchy is described by flat arrays (see ``_hierarchy._Layout``). One item is
processed bottom-up: the input bits go into an activity buffer, and each mac, in order, reads its
receptive field from the buffer, runs the CSA (the same steps as ``_csa.csa_step``) and writes
its code's cells back into the buffer for the level above.

``params`` is ``CSAParams.as_array()``: g_min, gamma, chi, sigmoid_slope, sigmoid_center,
exponent_u, exponent_h, exponent_d.
"""

import math

import numpy as np
from numba import prange

from neurosim._numba import njit


@njit(cache=True, inline="always")
def _power(x, e):
    """``x ** e``; integral exponents 1-64 (Sparsey_Alt's 10) by repeated squaring, which is
    several times faster than ``pow`` in the innermost loop."""
    if e == 1.0:
        return x
    n = int(e)
    if n == e and 0 < n <= 64:
        result = 1.0
        base = x
        while n > 0:
            if n & 1:
                result *= base
            base *= base
            n >>= 1
        return result
    return x ** e


@njit(cache=True)
def _process_item(x, buf, n_in, Qs, Ks, rf_ptr, rf_idx, out_off, q_off, min_active, parent,
                  wu_ptr, wh_ptr, wd_ptr, wu, wh, wd, fanin, params, learn, use_h, use_d,
                  recall, prev_code, code, uniforms, g_out, active, V, acc):
    g_min, gamma, chi = params[0], params[1], params[2]
    slope, center = params[3], params[4]
    e_u, e_h, e_d = params[5], params[6], params[7]
    cosine = params[8] != 0.0  # U match normalised by sqrt(n_active * fan-in)
    for j in range(n_in):
        buf[j] = x[j]
    for j in range(n_in, buf.size):
        buf[j] = 0
    n_macs = Qs.size
    for m in range(n_macs):
        Q = Qs[m]
        K = Ks[m]
        QK = Q * K
        qo = q_off[m]
        n_a = 0
        r0 = rf_ptr[m]
        for r in range(r0, rf_ptr[m + 1]):
            if buf[rf_idx[r]] != 0:
                active[n_a] = r - r0
                n_a += 1
        has_u = n_a >= min_active[m]
        has_h = use_h and prev_code[qo] >= 0
        p = parent[m]
        has_d = use_d and p >= 0 and prev_code[q_off[p]] >= 0
        if not has_u and not (recall and (has_h or has_d)):
            for q in range(Q):
                code[qo + q] = -1
            g_out[m] = np.nan
            continue
        for c in range(QK):
            V[c] = 1.0
        if has_u:
            for c in range(QK):
                acc[c] = 0
            for a in range(n_a):
                row = wu_ptr[m] + active[a] * QK
                w = wu[row:row + QK]  # a contiguous slice: numba vectorises this loop
                for c in range(QK):
                    acc[c] += w[c]
            f0 = out_off[m] - n_in
            for c in range(QK):
                if cosine:
                    f = fanin[f0 + c]
                    x = acc[c] / math.sqrt(n_a * (f if f > 0 else 1))
                else:
                    x = acc[c] / n_a
                V[c] *= _power(x, e_u)
        if has_h:
            for c in range(QK):
                acc[c] = 0
            for q in range(Q):
                row = wh_ptr[m] + (q * K + prev_code[qo + q]) * QK
                w = wh[row:row + QK]
                for c in range(QK):
                    acc[c] += w[c]
            for c in range(QK):
                x = acc[c] / Q
                V[c] *= _power(x, e_h)
        if has_d:
            PQ = Qs[p]
            PK = Ks[p]
            for c in range(QK):
                acc[c] = 0
            for q in range(PQ):
                row = wd_ptr[m] + (q * PK + prev_code[q_off[p] + q]) * QK
                w = wd[row:row + QK]
                for c in range(QK):
                    acc[c] += w[c]
            for c in range(QK):
                x = acc[c] / PQ
                V[c] *= _power(x, e_d)
        # global familiarity and expansivity
        G = 0.0
        for q in range(Q):
            best = V[q * K]
            for k in range(1, K):
                if V[q * K + k] > best:
                    best = V[q * K + k]
            G += best
        G /= Q
        g_out[m] = G
        g = (G - g_min) / (1.0 - g_min)
        if g < 0.0:
            g = 0.0
        eta = 1.0 + g ** gamma * chi * K
        for q in range(Q):
            base = q * K
            win = 0
            if learn:
                total = 0.0
                for k in range(K):
                    mu = 1.0 + (eta - 1.0) / (1.0 + math.exp(-slope * (V[base + k] - center)))
                    V[base + k] = mu  # V is not needed any more in this CM: reuse it for mu
                    total += mu
                # roulette over rho = mu / total, as choose_winners does
                cum = 0.0
                last = 0.0
                for k in range(K):
                    last += V[base + k] / total
                target = uniforms[qo + q] * last
                win = K - 1
                for k in range(K):
                    cum += V[base + k] / total
                    if cum > target:
                        win = k
                        break
            else:
                # argmax V; on ties, the cell with the fewest U afferents (the most specific)
                best = V[base]
                for k in range(1, K):
                    if V[base + k] > best:
                        best = V[base + k]
                        win = k
                fan_best = -1
                for k in range(win, K if has_u else 0):
                    if V[base + k] == best:
                        fan = fanin[out_off[m] - n_in + base + k]
                        if fan_best < 0 or fan < fan_best:
                            fan_best = fan
                            win = k
            code[qo + q] = win
            buf[out_off[m] + base + win] = 1
        if learn:
            for q in range(Q):
                cell = q * K + code[qo + q]
                if has_u:
                    for a in range(n_a):
                        w = wu_ptr[m] + active[a] * QK + cell
                        if wu[w] == 0:
                            wu[w] = 1
                            fanin[out_off[m] - n_in + cell] += 1
                if has_h:
                    for qq in range(Q):
                        wh[wh_ptr[m] + (qq * K + prev_code[qo + qq]) * QK + cell] = 1
                if has_d:
                    PQ = Qs[p]
                    PK = Ks[p]
                    for qq in range(PQ):
                        wd[wd_ptr[m] + (qq * PK + prev_code[q_off[p] + qq]) * QK + cell] = 1


@njit(cache=True)
def run_sequential(X, resets, Qs, Ks, rf_ptr, rf_idx, out_off, q_off, min_active, parent,
                   wu_ptr, wh_ptr, wd_ptr, wu, wh, wd, fanin, params, learn, use_h, use_d,
                   recall, prev_code, uniforms, codes_out, g_out):
    """Process the rows of ``X`` in order (learning or sequence recall).

    ``resets[i]`` clears the previous code (start of a sequence) before item ``i``; the previous
    code is carried over between items otherwise (when ``use_h`` or ``use_d``). ``prev_code`` is
    updated in place, so a later call continues the sequence.
    """
    n, n_in = X.shape
    buf = np.zeros(out_off[-1] + Qs[-1] * Ks[-1], np.uint8)
    max_rf = 0
    max_qk = 0
    for m in range(Qs.size):
        max_rf = max(max_rf, rf_ptr[m + 1] - rf_ptr[m])
        max_qk = max(max_qk, Qs[m] * Ks[m])
    active = np.empty(max_rf, np.int64)
    V = np.empty(max_qk, np.float64)
    acc = np.empty(max_qk, np.int32)
    for i in range(n):
        if resets[i]:
            for j in range(prev_code.size):
                prev_code[j] = -1
        _process_item(X[i], buf, n_in, Qs, Ks, rf_ptr, rf_idx, out_off, q_off, min_active,
                      parent, wu_ptr, wh_ptr, wd_ptr, wu, wh, wd, fanin, params, learn, use_h,
                      use_d, recall, prev_code, codes_out[i], uniforms[i], g_out[i], active, V, acc)
        if use_h or use_d:
            for j in range(prev_code.size):
                prev_code[j] = codes_out[i, j]


@njit(cache=True, parallel=True)
def retrieve_parallel(X, Qs, Ks, rf_ptr, rf_idx, out_off, q_off, min_active, parent, wu_ptr,
                      wh_ptr, wd_ptr, wu, wh, wd, fanin, params, codes_out, g_out):
    """Retrieve the code of every row of ``X`` independently (argmax, no learning), in parallel."""
    n, n_in = X.shape
    size = out_off[-1] + Qs[-1] * Ks[-1]
    max_rf = 0
    max_qk = 0
    for m in range(Qs.size):
        max_rf = max(max_rf, rf_ptr[m + 1] - rf_ptr[m])
        max_qk = max(max_qk, Qs[m] * Ks[m])
    total_q = codes_out.shape[1]
    n_chunks = min(n, 256)
    for ch in prange(n_chunks):
        buf = np.zeros(size, np.uint8)
        active = np.empty(max_rf, np.int64)
        V = np.empty(max_qk, np.float64)
        acc = np.empty(max_qk, np.int32)
        prev = np.full(total_q, -1, np.int32)
        unif = np.zeros(total_q, np.float64)
        for i in range(ch, n, n_chunks):
            _process_item(X[i], buf, n_in, Qs, Ks, rf_ptr, rf_idx, out_off, q_off, min_active,
                          parent, wu_ptr, wh_ptr, wd_ptr, wu, wh, wd, fanin, params, False, False,
                          False, False, prev, codes_out[i], unif, g_out[i], active, V, acc)


@njit(cache=True, parallel=True)
def nearest_by_intersection(queries, K, post_ptr, post_items, n_stored, best, score):
    """For each query code, the stored code of largest intersection (lowest index on ties).

    ``queries`` is (m, Q) int32 with -1 for silent CMs; stored codes are given as an inverted
    index: the items holding cell ``q * K + k`` are ``post_items[post_ptr[c]:post_ptr[c + 1]]``.
    """
    m, Q = queries.shape
    n_chunks = min(m, 256)
    for ch in prange(n_chunks):
        counts = np.zeros(n_stored, np.int32)
        for i in range(ch, m, n_chunks):
            counts[:] = 0
            for q in range(Q):
                k = queries[i, q]
                if k < 0:
                    continue
                c = q * K + k
                for t in range(post_ptr[c], post_ptr[c + 1]):
                    counts[post_items[t]] += 1
            b = 0
            s = -1
            for j in range(n_stored):
                if counts[j] > s:
                    s = counts[j]
                    b = j
            best[i] = b
            score[i] = s
