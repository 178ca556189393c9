"""The argument bundles of the numba kernel (named tuples of arrays, one per concern).

Kept apart from the kernels so that the layout can be built without importing numba. Scalars in
a bundle are constants of the call; state that the kernel changes lives in arrays.
"""

from collections import namedtuple

#: neuron state and models; per-neuron arrays are global (one entry per neuron or source), models
#: are contiguous blocks [lo, hi)
Neurons = namedtuple("Neurons", [
    "v", "u", "I_syn", "lastspike", "Iext", "syn_decay", "vblock",
    "izh_lo", "izh_hi", "izh_a", "izh_b", "izh_c", "izh_d", "izh_vpeak",
    "lif_lo", "lif_hi", "lif_mode", "lif_decay", "lif_vrest", "lif_vreset", "lif_vthresh",
    "lif_ref", "lif_dt_tau",
    "i7_lo", "i7_hi", "i7_C", "i7_k", "i7_vr", "i7_vt", "i7_a", "i7_b", "i7_c", "i7_d",
    "i7_vpeak",
    "ad_lo", "ad_hi", "ad_C", "ad_gL", "ad_EL", "ad_VT", "ad_DT", "ad_tauw", "ad_a", "ad_b",
    "ad_vreset", "ad_vpeak",
])

#: receptors: one entry per (group, receptor); rg/rh hold the variables, rk_g/rk_h the exact
#: LIF coefficients; accA/accB are per-neuron accumulators for LIF groups with receptors
Receptors = namedtuple("Receptors", [
    "lo", "hi", "kind", "E", "off", "double", "dg", "dh", "cgh", "mode", "first",
    "rg", "rh", "rk_g", "rk_h", "accA", "accB",
])

#: inputs and spike sources; signals are flattened (n_rows, n_cols) arrays
Inputs = namedtuple("Inputs", [
    "I_const", "sig_val", "sig_off", "sig_rows", "sig_cols", "sig_ratio",
    "ti_lo", "ti_n", "ti_sig", "ti_mode", "ti_goff", "gains",
    "noise_lo", "noise_hi", "noise_off", "noise_mu", "noise_std", "noise_kind", "zbuf",
    "fb_lo", "fb_n", "fb_ro", "fb_off", "fb_E",
    "pois_lo", "pois_hi", "pois_p",
    "ip_lo", "ip_n", "ip_sig", "ip_mode", "ip_goff", "ip_pscale",
    "sg_step", "sg_gidx", "sg_ptr",
])

#: synapses, concatenated over pathways (CSR by presynaptic neuron)
Synapses = namedtuple("Synapses", [
    "pre_start", "pre_n", "post_start", "post_n", "tarr", "toff", "scale", "homog", "delay",
    "indptr_off", "indptr", "syn_off", "indices", "weights", "delays",
    "hist", "hist_n", "bufI", "bufV", "bufG", "bufH", "has_het",
])

#: STDP and reward-modulated STDP per pathway, and the neuromodulators
Plasticity = namedtuple("Plasticity", [
    "kind", "rule", "nearest", "postfirst", "xpre_off", "xpost_off", "dpre", "dpost", "aplus",
    "aminus", "wmin", "wmax",
    "csc_off", "mod", "every", "cdecay", "eta", "dtonic",
    "xpre", "xpost", "csc_ptr", "csc_syn", "csc_pre", "c",
    "mod_d", "mod_decay", "mod_sig", "mod_ev_step", "mod_ev_amt", "mod_ev_hi", "mod_ev_ptr",
])

#: traces, readouts and their rules, feedback, adaptive thresholds, synaptic scaling
Learning = namedtuple("Learning", [
    "tr_lo", "tr_hi", "tr_off", "tr_double", "tr_dg", "tr_dh", "tr_cgh", "tr_inc", "tr_hinc",
    "tr_x", "tr_h",
    "ro_nout", "ro_nin", "ro_woff", "ro_yoff", "ro_inoff", "ro_in", "W", "y", "xin",
    "tf_ro", "tf_eta", "tf_de", "tf_post", "tf_mkind", "tf_sig", "tf_mod", "tf_gate", "tf_eoff",
    "tf_wmin", "tf_wmax", "elig",
    "rls_ro", "rls_every", "rls_sig", "rls_gate", "rls_poff", "P", "cbuf",
    "at_lo", "at_hi", "at_model", "theta", "at_decay", "at_drift", "at_jump", "thr_base",
    "sc_pw", "sc_tr", "sc_every", "sc_target", "sc_eta", "sc_wmin", "sc_wmax",
])

#: monitors and random numbers
Monitors = namedtuple("Monitors", [
    "rng_state", "zig_k", "zig_w", "zig_f",
    "spk_flag", "out_spk_idx", "out_spk_step", "n_out",
    "mon_every", "mon_code", "mon_idx", "mon_out", "mon_row",
    "vm_every", "vm_width", "vm_off", "vm_row", "vm_coloff", "vm_kind", "vm_idx", "vm_out",
])
