"""Simulated NSD-like single-trial fMRI betas with a known voxelwise linear encoding model."""

import functools
import numbers

import numpy as np

from neurosim._docs import fill_doc
from neurosim._utils import check_positive, check_random_state, check_size

__all__ = ["make_fmri_blocks", "make_fmri_visual"]

# spatial length scale (mm) of the smooth tuning fields shared by neighbouring voxels
_TUNING_LENGTH_MM = 12.0
_N_FOURIER = 256


@functools.lru_cache(maxsize=2)
def _occipitotemporal_coords():
    """MNI coordinates (mm) of grey-matter voxels in occipito-temporal cortex of MNI152 (2 mm).

    The region is the posterior grey matter of nilearn's MNI152 grey-matter mask (shipped with
    nilearn, no download): occipital cortex (y <= -70 mm, z >= -20 mm) and ventral/lateral
    occipito-temporal cortex
    (-70 < y <= -30 mm, -25 <= z <= 5 mm, \\|x\\| >= 24 mm), which together cover early visual areas,
    fusiform and lateral occipital cortex - roughly NSD's ``nsdgeneral`` ROI.
    """
    from nilearn.datasets import load_mni152_gm_mask
    from nilearn.image import coord_transform

    mask = load_mni152_gm_mask(resolution=2)
    ijk = np.argwhere(np.asarray(mask.dataobj) > 0)
    x, y, z = coord_transform(ijk[:, 0], ijk[:, 1], ijk[:, 2], mask.affine)
    occipital = (y <= -70) & (z >= -20)
    ventral = (y > -70) & (y <= -30) & (z >= -25) & (z <= 5) & (np.abs(x) >= 24)
    keep = occipital | ventral
    coords = np.column_stack([x[keep], y[keep], z[keep]]).astype(np.float64)
    coords.setflags(write=False)
    return coords


def _smooth_field(coords, n_out, rng, length=_TUNING_LENGTH_MM):
    """Gaussian random field (squared-exponential kernel) at ``coords``, by random Fourier features."""
    omega = rng.normal(scale=1.0 / length, size=(3, _N_FOURIER))
    phase = rng.uniform(0, 2 * np.pi, size=_N_FOURIER)
    amp = rng.normal(size=(_N_FOURIER, n_out))
    return np.sqrt(2.0 / _N_FOURIER) * np.cos(coords @ omega + phase) @ amp


def _stimulus_embeddings(n_stimuli, dim, rng):
    """Unit-norm stimulus embeddings with a decaying (CLIP-like) eigen-spectrum, float32."""
    n_clusters = max(2, min(40, n_stimuli // 20))
    scale = 1.0 / np.sqrt(np.arange(1, dim + 1))  # power-law spectrum over feature directions
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    centres = rng.normal(size=(n_clusters, dim)) * scale
    labels = rng.integers(n_clusters, size=n_stimuli)
    emb = centres[labels] + 0.7 * rng.normal(size=(n_stimuli, dim)) * scale
    emb = emb @ rotation
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return emb.astype(np.float32)


def _check_n_voxels(n_voxels, n_subjects, n_available, rng):
    if n_voxels is None:
        return [int(v) for v in rng.integers(300, 2001, size=n_subjects)]
    if isinstance(n_voxels, numbers.Integral) and not isinstance(n_voxels, bool):
        counts = [int(n_voxels)] * n_subjects
    else:
        counts = list(n_voxels)
        if len(counts) != n_subjects:
            raise ValueError(
                f"n_voxels must be an int or a sequence of {n_subjects} ints (one per subject), "
                f"got {len(counts)} values"
            )
    counts = [check_size("n_voxels", c) for c in counts]
    if max(counts) > n_available:
        raise ValueError(
            f"n_voxels must be <= {n_available} (grey-matter voxels of the occipito-temporal region at "
            f"2 mm), got {max(counts)}"
        )
    return counts


@fill_doc
def make_fmri_visual(
    n_subjects=5,
    n_voxels=None,
    n_stimuli=1200,
    n_shared=100,
    n_repeats=3,
    embedding_dim=64,
    snr=1.0,
    idiosyncrasy=0.5,
    random_state=0,
    *,
    n_unique=None,
    trials_per_session=300,
):
    r"""Simulate NSD-like single-trial fMRI responses of several subjects to a shared stimulus set.

    Every stimulus :math:`s` has a unit-norm embedding :math:`e_s \in \mathbb{R}^d` (the decoders'
    target, e.g. a CLIP feature). Voxel :math:`v` of subject :math:`n` responds on a trial showing
    :math:`s` with

    .. math::

        b_{t v} = w_v^\top e_{s(t)} + c_v + \varepsilon_{t v}, \qquad
        \varepsilon_{t v} \sim \mathcal{N}(0, \sigma_v^2),

    a voxelwise linear encoding model (so ridge regression recovers ``weights``). The tuning
    :math:`w_v = \sqrt{1-\iota}\, g(x_v) + \sqrt{\iota}\, g_n(x_v)` mixes a smooth random field
    :math:`g` over MNI space shared by all subjects with a subject-specific one :math:`g_n`
    (:math:`\iota` = ``idiosyncrasy``), so neighbouring voxels have similar tuning and subjects
    are alike but not identical. Each voxel's single-trial signal-to-noise ratio is
    :math:`\mathrm{ncsnr}_v^2 = \operatorname{var}(w_v^\top e)/\sigma_v^2`, drawn around ``snr``;
    the noise ceiling follows NSD (Allen et al. 2022):
    :math:`\mathrm{NC}_v = 100\, \mathrm{ncsnr}_v^2 / (\mathrm{ncsnr}_v^2 + 1/n_\mathrm{repeats})`.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (keys ``"subj01"``, ``"subj02"``, ...).
    n_voxels : int | sequence of int | None
        Voxels per subject. None draws a different count for each subject between 300 and 2,000.
    n_stimuli : int
        Size of the stimulus set (indices ``0 .. n_stimuli - 1``).
    n_shared : int
        Stimuli seen by every subject (the test set, like NSD's shared 1,000): stimuli
        ``0 .. n_shared - 1``.
    n_repeats : int
        Presentations of every seen stimulus.
    embedding_dim : int
        Dimension :math:`d` of the stimulus embeddings.
    snr : float
        Mean single-trial signal-to-noise variance ratio over voxels (voxels vary around it). With
        3 repeats, the median noise ceiling is about 19 % at ``snr=0.1``, 32 % at 0.2, 54 % at 0.5,
        70 % at 1 and 88 % at 3 (10th-90th percentiles 38-86 % at 1).
    idiosyncrasy : float
        Between 0 (all subjects share one tuning map) and 1 (independent tuning maps).
    %(random_state)s
    n_unique : int | None
        Non-shared stimuli seen by each subject. None splits the ``n_stimuli - n_shared`` others evenly
        and disjointly between subjects (as in NSD); a larger value draws overlapping random subsets.
    trials_per_session : int
        Trials per scanning session (NSD: 750); sets the ``session`` coordinate.

    Returns
    -------
    data : dict of str to xarray.Dataset
        One Dataset per subject with ``betas`` (trial, voxel) float32 in percent signal change,
        trial coordinates ``stimulus``, ``repeat`` (0-based) and ``session``, voxel coordinates
        ``x``, ``y``, ``z`` (MNI mm), ``embedding`` (stimulus, feature) float32 of all stimuli with
        coordinates ``shared`` (bool) and ``stimulus_id`` on the ``stimulus`` dimension, and the ground
        truth ``weights`` (voxel, feature), ``bias`` (voxel), ``ncsnr`` (voxel) and ``noise_ceiling``
        (voxel, percent). The ``stimulus`` dimension has no index coordinate of its own (the name
        is used by the per-trial coordinate): row ``i`` of ``embedding`` is stimulus ``i``, so
        ``ds.embedding[ds.stimulus]`` gives every trial's target.

    Examples
    --------
    >>> from neurosim.datasets import make_fmri_visual
    >>> data = make_fmri_visual(n_subjects=2, n_voxels=[300, 400], n_stimuli=200, n_shared=20)
    >>> sorted(data)
    ['subj01', 'subj02']
    >>> data["subj02"].betas.shape  # (20 shared + 180 // 2 own stimuli) x 3 repeats
    (330, 400)
    >>> int(data["subj01"].shared.sum())
    20
    """
    n_subjects = check_size("n_subjects", n_subjects)
    n_stimuli = check_size("n_stimuli", n_stimuli)
    n_shared = check_size("n_shared", n_shared, minimum=0)
    n_repeats = check_size("n_repeats", n_repeats)
    embedding_dim = check_size("embedding_dim", embedding_dim)
    trials_per_session = check_size("trials_per_session", trials_per_session)
    snr = check_positive("snr", snr)
    idiosyncrasy = check_positive("idiosyncrasy", idiosyncrasy, allow_zero=True)
    if idiosyncrasy > 1:
        raise ValueError(f"idiosyncrasy must be between 0 and 1, got {idiosyncrasy}")
    if n_shared > n_stimuli:
        raise ValueError(f"n_shared must be <= n_stimuli={n_stimuli}, got {n_shared}")
    n_other = n_stimuli - n_shared
    if n_unique is None:
        n_unique = n_other // n_subjects
    n_unique = check_size("n_unique", n_unique, minimum=0)
    if n_unique > n_other:
        raise ValueError(f"n_unique must be <= n_stimuli - n_shared = {n_other}, got {n_unique}")
    if n_shared + n_unique == 0:
        raise ValueError("each subject must see at least one stimulus: n_shared + n_unique is 0")

    import xarray as xr

    rng = check_random_state(random_state)
    candidates = _occipitotemporal_coords()
    counts = _check_n_voxels(n_voxels, n_subjects, len(candidates), rng)
    embedding = _stimulus_embeddings(n_stimuli, embedding_dim, rng)
    shared_mask = np.zeros(n_stimuli, dtype=bool)
    shared_mask[:n_shared] = True
    others = n_shared + rng.permutation(n_other)
    disjoint = n_unique * n_subjects <= n_other
    # the field's random features are drawn once so that all subjects share g(x)
    shared_seed = int(rng.integers(2**63))
    emb_std = np.sqrt(np.mean(np.var(embedding.astype(np.float64), axis=0)))

    out = {}
    for n in range(n_subjects):
        name = f"subj{n + 1:02d}"
        sub_rng = np.random.default_rng(rng.integers(2**63))
        vox = np.sort(sub_rng.choice(len(candidates), size=counts[n], replace=False))
        coords = candidates[vox]
        g_shared = _smooth_field(coords, embedding_dim, np.random.default_rng(shared_seed))
        g_own = _smooth_field(coords, embedding_dim, sub_rng)
        weights = np.sqrt(1 - idiosyncrasy) * g_shared + np.sqrt(idiosyncrasy) * g_own
        weights += 0.3 * sub_rng.normal(size=weights.shape)  # voxel-specific part of the tuning
        # percent signal change: a typical voxel's stimulus-driven std is about 1 %
        gain = sub_rng.lognormal(mean=0.0, sigma=0.3, size=(counts[n], 1))
        weights *= gain / (np.linalg.norm(weights, axis=1, keepdims=True) * emb_std)
        bias = sub_rng.normal(loc=0.5, scale=0.5, size=counts[n])
        if disjoint:
            own = others[n * n_unique : (n + 1) * n_unique]
        else:
            own = sub_rng.choice(others, size=n_unique, replace=False)
        seen = np.concatenate([np.arange(n_shared), np.sort(own)])
        stim = sub_rng.permutation(np.repeat(seen, n_repeats))
        repeat = np.zeros(len(stim), dtype=np.int64)
        counter = {}
        for t, s in enumerate(stim):
            repeat[t] = counter.get(s, 0)
            counter[s] = repeat[t] + 1
        signal = embedding[stim].astype(np.float64) @ weights.T
        signal_var = np.var(embedding[seen].astype(np.float64) @ weights.T, axis=0)
        # voxels differ in reliability: ncsnr^2 ~ snr * Gamma(shape 1.5), mean snr
        ncsnr2 = snr * sub_rng.gamma(shape=1.5, scale=1 / 1.5, size=counts[n])
        noise_sd = np.sqrt(signal_var / ncsnr2)
        betas = signal + bias + sub_rng.normal(size=signal.shape) * noise_sd
        ncsnr = np.sqrt(signal_var) / noise_sd
        noise_ceiling = 100 * ncsnr**2 / (ncsnr**2 + 1.0 / n_repeats)
        ds = xr.Dataset(
            {
                "betas": (("trial", "voxel"), betas.astype(np.float32), {"units": "%"}),
                "embedding": (("stimulus", "feature"), embedding),
                "weights": (("voxel", "feature"), weights.astype(np.float32)),
                "bias": ("voxel", bias.astype(np.float32), {"units": "%"}),
                "ncsnr": ("voxel", ncsnr.astype(np.float32)),
                "noise_ceiling": ("voxel", noise_ceiling.astype(np.float32), {"units": "%"}),
            },
            coords={
                "stimulus": ("trial", stim.astype(np.int64)),
                "repeat": ("trial", repeat),
                "session": ("trial", np.arange(len(stim)) // trials_per_session),
                "x": ("voxel", coords[:, 0], {"units": "mm", "space": "MNI152"}),
                "y": ("voxel", coords[:, 1], {"units": "mm", "space": "MNI152"}),
                "z": ("voxel", coords[:, 2], {"units": "mm", "space": "MNI152"}),
                "shared": ("stimulus", shared_mask),
                "stimulus_id": ("stimulus", np.arange(n_stimuli)),
            },
            attrs={
                "subject": name,
                "snr": snr,
                "idiosyncrasy": idiosyncrasy,
                "embedding_dim": embedding_dim,
                "n_repeats": n_repeats,
                "random_state": str(random_state),
                "units": "percent signal change",
                "space": "MNI152NLin2009cSym 2 mm",
                "simulated": 1,
                "description": "make_fmri_visual: betas = embedding @ weights.T + bias + noise",
            },
        )
        out[name] = ds
    return out


HAXBY_CATEGORIES = ("bottle", "cat", "chair", "face", "house", "scissors", "scrambledpix", "shoe")


def make_fmri_blocks(n_runs=12, n_voxels=300, *, n_categories=8, block_volumes=9, rest_volumes=6,
                     tr=2.5, signal=0.5, drift=2.0, random_state=0):
    r"""Simulate a block-design fMRI session like Haxby et al. (2001), in :func:`load_haxby`'s form.

    Each run starts with ``rest_volumes`` of rest, then shows every category once, in a random
    order, in blocks of ``block_volumes`` volumes separated by rest (Haxby's design: 12 runs of
    121 volumes, 8 categories in 24-s blocks). Voxel :math:`v` has a response pattern
    :math:`p_{c v} \sim \mathcal N(0, 1)` per category; its signal is

    .. math::

        s_{t v} = 100 + \text{signal}\sum_c (h * b_c)(t)\, p_{c v} + d_{r v}(t) + \varepsilon_{t v},

    with :math:`b_c` the category's boxcar, :math:`h` the Glover haemodynamic response
    (:func:`nilearn.glm.first_level.glover_hrf`), :math:`d_{r v}` a linear drift of random slope
    per run (amplitude ``drift`` over a run) and AR(1) noise (:math:`\rho = 0.3`, unit variance).
    The labels are the blocks' categories, unshifted, as in Haxby's files.

    Parameters
    ----------
    n_runs : int
        Runs (12 in Haxby et al.).
    n_voxels : int
        Voxels.
    n_categories : int
        Categories (at most 8; named as Haxby's).
    block_volumes, rest_volumes : int
        Volumes of a block and of the rest between blocks.
    tr : float
        Repetition time (s).
    signal : float
        Amplitude of the category responses against unit noise.
    drift : float
        Amplitude of the linear drift over a run.
    random_state : int | numpy.random.Generator | None
        Seed.

    Returns
    -------
    data : xarray.Dataset
        ``bold`` (volume, voxel) float32 with volume coordinates ``label``, ``run`` and ``time``,
        ``patterns`` (category, voxel) the ground truth, attrs ``tr``.

    Examples
    --------
    >>> from neurosim.datasets import make_fmri_blocks
    >>> ds = make_fmri_blocks(n_runs=2, n_voxels=10)
    >>> ds.bold.shape, int((ds.label == "face").sum())
    ((252, 10), 18)
    """
    import xarray as xr
    from nilearn.glm.first_level import glover_hrf

    n_runs = check_size("n_runs", n_runs, minimum=2)
    n_voxels = check_size("n_voxels", n_voxels)
    n_categories = check_size("n_categories", n_categories, minimum=2)
    if n_categories > len(HAXBY_CATEGORIES):
        raise ValueError(f"n_categories must be at most {len(HAXBY_CATEGORIES)}, got {n_categories}")
    block_volumes = check_size("block_volumes", block_volumes)
    rest_volumes = check_size("rest_volumes", rest_volumes)
    tr = check_positive("tr", tr)
    signal = check_positive("signal", signal, allow_zero=True)
    drift = check_positive("drift", drift, allow_zero=True)
    rng = check_random_state(random_state)
    names = np.array(HAXBY_CATEGORIES[:n_categories])
    patterns = rng.normal(size=(n_categories, n_voxels))
    hrf = glover_hrf(tr, oversampling=1, time_length=32.0)
    hrf = hrf / hrf.sum()
    per_run = rest_volumes + n_categories * (block_volumes + rest_volumes)
    bold, labels, runs, times = [], [], [], []
    for r in range(n_runs):
        lab = np.full(per_run, "rest", dtype=object)
        boxcar = np.zeros((per_run, n_categories))
        for i, c in enumerate(rng.permutation(n_categories)):
            start = rest_volumes + i * (block_volumes + rest_volumes)
            lab[start:start + block_volumes] = names[c]
            boxcar[start:start + block_volumes, c] = 1.0
        resp = np.stack([np.convolve(boxcar[:, c], hrf)[:per_run] for c in range(n_categories)], 1)
        noise = np.empty((per_run, n_voxels))
        noise[0] = rng.normal(size=n_voxels)
        innovations = rng.normal(scale=np.sqrt(1 - 0.3**2), size=(per_run, n_voxels))
        for t in range(1, per_run):
            noise[t] = 0.3 * noise[t - 1] + innovations[t]
        trend = np.linspace(-0.5, 0.5, per_run)[:, None] * drift * rng.normal(size=n_voxels)
        bold.append(100.0 + signal * resp @ patterns + trend + noise)
        labels.append(lab.astype(str))
        runs.append(np.full(per_run, r))
        times.append(np.arange(per_run) * tr)
    return xr.Dataset(
        {"bold": (("volume", "voxel"), np.concatenate(bold).astype(np.float32)),
         "patterns": (("category", "voxel"), patterns)},
        coords={"label": ("volume", np.concatenate(labels)), "run": ("volume", np.concatenate(runs)),
                "time": ("volume", np.concatenate(times), {"units": "s"}), "category": names},
        attrs={"tr": float(tr), "layout": "simulated", "signal": float(signal),
               "drift": float(drift), "mask": "all voxels"},
    )
