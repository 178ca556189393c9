"""Simulated THINGS-EEG2 / THINGS-MEG-like evoked responses from MNE sphere-model forward solutions."""

import functools

import numpy as np

from neurosim._docs import fill_doc
from neurosim._utils import check_positive, check_random_state, check_size

from ._specs import THINGS_EEG2_17CH, THINGS_EEG2_63CH, standard_montage

__all__ = ["make_eeg_things", "make_meg_things"]

_LAYOUTS = {"17ch-100hz": (THINGS_EEG2_17CH, 100.0), "63ch-250hz": (THINGS_EEG2_63CH, 250.0)}
_SPLITS = ("train", "test")
# test concepts are disjoint from training concepts (zero-shot, as in THINGS-EEG2); their ids start here
TEST_CONCEPT_OFFSET = 10_000
# evoked components (latency s, width s): P1, N1, P2/N2 and a late sustained component
_COMPONENTS = ((0.10, 0.020), (0.17, 0.030), (0.25, 0.045), (0.40, 0.100))
_N_SOURCES = 8
_N_NOISE_SOURCES = 40
_DIPOLE_NAM = 20e-9  # typical evoked source amplitude, A*m


def _source_grid(r0, radius, step=0.012):
    """Regular grid of candidate dipole positions inside a sphere, and its posterior subset."""
    ax = np.arange(-radius, radius + 1e-9, step)
    grid = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
    grid = grid[np.linalg.norm(grid, axis=1) <= radius]
    posterior = (
        (grid[:, 1] < -0.02) & (grid[:, 2] > -0.03) & (np.linalg.norm(grid, axis=1) > 0.4 * radius)
    )
    return grid + r0, posterior


def _free_orientation_gain(info, sphere, rr, r0):
    import mne

    # the source space only needs a bounding sphere; the conductor model is used by the forward
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr, nn=np.tile([0.0, 0.0, 1.0], (len(rr), 1))),
        sphere=np.r_[r0, 0.09],
        mindist=0.0,
        verbose=False,
    )
    fwd = mne.make_forward_solution(
        info, trans=None, src=src, bem=sphere, eeg=True, meg=True, verbose=False
    )
    if len(fwd["src"][0]["vertno"]) != len(rr):  # pragma: no cover - all grid points lie inside
        raise RuntimeError("some source positions were dropped by MNE")
    gain = fwd["sol"]["data"]  # (n_channels, 3 * n_sources), x/y/z for each source
    return gain.reshape(gain.shape[0], len(rr), 3)


@functools.lru_cache(maxsize=4)
def _eeg_forward(layout):
    """Channel names, positions and the free-orientation gain (channel, position, 3) of a layout."""
    import mne

    names, sfreq = _LAYOUTS[layout]
    info = mne.create_info(list(names), sfreq, "eeg")
    info.set_montage(standard_montage(), verbose=False)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    r0 = np.asarray(sphere["r0"])
    rr, posterior = _source_grid(r0, 0.7 * sphere.radius)
    gain = _free_orientation_gain(info, sphere, rr, r0)
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    return tuple(names), pos, gain, posterior


def _helmet(n_channels, r0, radius=0.12):
    """Magnetometers spread evenly (Fibonacci lattice) over a helmet-shaped cap, normals radial."""
    # polar angles up to ~115 degrees cover the back of the head down to the neck, like MEG helmets
    cos_max = np.cos(np.deg2rad(115))
    k = np.arange(n_channels) + 0.5
    cos_t = 1 - (1 - cos_max) * k / n_channels
    phi = np.pi * (1 + 5**0.5) * k
    sin_t = np.sqrt(1 - cos_t**2)
    nn = np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
    return r0 + radius * nn, nn


@functools.lru_cache(maxsize=4)
def _meg_forward(n_channels, sfreq):
    import mne
    from mne.io.constants import FIFF

    r0 = np.array([0.0, 0.0, 0.04])
    pos, nn = _helmet(n_channels, r0)
    names = [f"MAG{i + 1:03d}" for i in range(n_channels)]
    info = mne.create_info(names, sfreq, "mag")
    with info._unlock():
        for ch, p, n in zip(info["chs"], pos, nn):
            ex = np.cross(n, [0.0, 0.0, 1.0]) if abs(n[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
            ex /= np.linalg.norm(ex)
            ey = np.cross(n, ex)
            ch["loc"][:] = np.concatenate([p, ex, ey, n])
            ch["coil_type"] = FIFF.FIFFV_COIL_POINT_MAGNETOMETER
            ch["coord_frame"] = FIFF.FIFFV_COORD_DEVICE
        info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
    sphere = mne.make_sphere_model(r0=r0, head_radius=None, verbose=False)
    rr, posterior = _source_grid(r0, 0.07)
    gain = _free_orientation_gain(info, sphere, rr, r0)
    return tuple(names), pos, gain, posterior


def _unit(v, axis=-1):
    return v / np.linalg.norm(v, axis=axis, keepdims=True)


def _concept_embeddings(concepts, dim, seed):
    """Concept embeddings that depend only on (seed, concept id), so splits and sizes agree."""
    scale = 1.0 / np.sqrt(np.arange(1, dim + 1))
    rot = np.linalg.qr(np.random.default_rng([seed, 1]).normal(size=(dim, dim)))[0]
    out = np.array([np.random.default_rng([seed, 2, int(c)]).normal(size=dim) for c in concepts])
    return _unit((out * scale) @ rot)


def _things_design(split, n_concepts, n_images, dim, seed):
    if split == "train":
        concepts = np.arange(n_concepts)
        n_images = 5 * n_concepts if n_images is None else n_images  # THINGS-EEG2 has 10 per concept
    else:
        concepts = TEST_CONCEPT_OFFSET + np.arange(n_concepts)
        n_images = n_concepts if n_images is None else n_images  # THINGS-EEG2: 1 per test concept
    n_images = check_size("n_images", n_images)
    if n_images < n_concepts:
        raise ValueError(f"n_images must be >= n_concepts={n_concepts}, got {n_images}")
    concept_of = concepts[np.arange(n_images) * n_concepts // n_images]
    centres = _concept_embeddings(concepts, dim, seed)
    rng = np.random.default_rng([seed, 3, _SPLITS.index(split)])
    scale = 1.0 / np.sqrt(np.arange(1, dim + 1))
    rot = np.linalg.qr(np.random.default_rng([seed, 1]).normal(size=(dim, dim)))[0]
    within = _unit((rng.normal(size=(n_images, dim)) * scale) @ rot)
    emb = _unit(centres[np.searchsorted(concepts, concept_of)] + 0.6 * within)
    return concept_of, emb.astype(np.float32)


def _simulate_evoked_set(
    *,
    gain_full,
    posterior,
    sfreq,
    times,
    n_subjects,
    split,
    n_concepts,
    n_images,
    n_repeats,
    embedding_dim,
    snr,
    idiosyncrasy,
    random_state,
):
    """Shared generator of THINGS-like M/EEG: returns data, embedding, concepts and ground truth."""
    n_subjects = check_size("n_subjects", n_subjects)
    n_concepts = check_size("n_concepts", n_concepts)
    n_repeats = check_size("n_repeats", n_repeats)
    embedding_dim = check_size("embedding_dim", embedding_dim)
    snr = check_positive("snr", snr)
    idiosyncrasy = check_positive("idiosyncrasy", idiosyncrasy, allow_zero=True)
    if idiosyncrasy > 1:
        raise ValueError(f"idiosyncrasy must be between 0 and 1, got {idiosyncrasy}")
    rng0 = check_random_state(random_state)
    # one integer seed drives everything: the ground truth is the same for both splits
    seed = int(rng0.integers(2**63)) if not isinstance(random_state, int) else int(random_state)
    concept_of, emb = _things_design(split, n_concepts, n_images, embedding_dim, seed)
    n_img = len(emb)
    n_ch = gain_full.shape[0]
    n_t = len(times)
    basis = np.array([np.exp(-0.5 * ((times - lat) / wid) ** 2) for lat, wid in _COMPONENTS])
    n_comp = len(basis)
    gt_rng = np.random.default_rng([seed, 4])
    enc_shared = gt_rng.normal(size=(_N_SOURCES, n_comp, embedding_dim))
    offset_shared = gt_rng.normal(size=(_N_SOURCES, n_comp))
    candidates = np.flatnonzero(posterior)
    all_pos = np.arange(gain_full.shape[1])
    # AR(1) background: correlation time ~25 ms at any sampling rate
    alpha = np.exp(-1.0 / (0.025 * sfreq))

    from scipy.signal import lfilter

    data = np.empty((n_subjects, n_img, n_repeats, n_ch, n_t), dtype=np.float32)
    evoked_all = np.empty((n_subjects, n_img, n_ch, n_t), dtype=np.float32)
    leadfields = np.empty((n_subjects, n_ch, _N_SOURCES))
    encodings = np.empty((n_subjects, _N_SOURCES, n_comp, embedding_dim))
    noise_sd = np.empty(n_subjects)
    for s in range(n_subjects):
        srng = np.random.default_rng([seed, 5, s])
        picks = srng.choice(candidates, size=_N_SOURCES, replace=False)
        ori = _unit(srng.normal(size=(_N_SOURCES, 3)))
        lead = np.einsum("cpk,pk->cp", gain_full[:, picks], ori)
        enc = np.sqrt(1 - idiosyncrasy) * enc_shared + np.sqrt(idiosyncrasy) * srng.normal(
            size=enc_shared.shape
        )
        # source amplitude (A*m): offset (image-independent ERP) + linear read-out of the embedding
        amp = _DIPOLE_NAM * (offset_shared + np.einsum("pkf,if->ipk", enc, emb))
        sources = np.einsum("ipk,kt->ipt", amp, basis)
        evoked = np.einsum("cp,ipt->ict", lead, sources)
        post = times >= 0
        signal_power = np.mean(evoked[..., post] ** 2)
        # background activity: randomly placed, randomly oriented dipoles with AR(1) time courses
        noise_pos = srng.choice(all_pos, size=_N_NOISE_SOURCES, replace=False)
        noise_lead = np.einsum(
            "cpk,pk->cp", gain_full[:, noise_pos], _unit(srng.normal(size=(_N_NOISE_SOURCES, 3)))
        )
        z = srng.normal(size=(n_img, n_repeats, _N_NOISE_SOURCES, n_t)).astype(np.float32)
        z = lfilter([np.sqrt(1 - alpha**2)], [1.0, -alpha], z, axis=-1).astype(np.float32)
        noise = np.einsum("cp,irpt->irct", noise_lead.astype(np.float32), z)
        sensor = srng.normal(size=noise.shape).astype(np.float32)
        noise += 0.3 * np.sqrt(np.mean(noise**2)) * sensor
        scale = np.sqrt(signal_power / snr / np.mean(noise**2))
        data[s] = evoked[:, None] + scale * noise
        evoked_all[s] = evoked
        leadfields[s] = lead
        encodings[s] = enc
        noise_sd[s] = scale * np.sqrt(np.mean(noise**2))
    gt = {
        "evoked": evoked_all,
        "leadfield": leadfields,
        "encoding": encodings,
        "temporal_basis": basis,
        "noise_sd": noise_sd,
    }
    return data, emb, concept_of, gt, seed


def _things_dataset(var, data, emb, concept_of, gt, *, names, pos, times, sfreq, units, attrs):
    import xarray as xr

    n_sub, n_img, n_rep = data.shape[:3]
    comp_names = ["P1", "N1", "P2N2", "late"]
    return xr.Dataset(
        {
            var: (("subject", "image", "repetition", "channel", "time"), data, {"units": units}),
            "embedding": (("image", "feature"), emb),
            "evoked": (
                ("subject", "image", "channel", "time"),
                gt["evoked"].astype(np.float32),
                {"units": units, "description": "noise-free ground-truth response"},
            ),
            "leadfield": (
                ("subject", "channel", "source"),
                gt["leadfield"],
                {"units": f"{units}/(A*m)"},
            ),
            "encoding": (("subject", "source", "component", "feature"), gt["encoding"]),
            "temporal_basis": (("component", "time"), gt["temporal_basis"]),
            "noise_sd": ("subject", gt["noise_sd"], {"units": units}),
        },
        coords={
            "subject": [f"sub-{i + 1:02d}" for i in range(n_sub)],
            "image": np.arange(n_img),
            "repetition": np.arange(n_rep),
            "concept": ("image", concept_of.astype(np.int64)),
            "channel": list(names),
            "ch_pos": (("channel", "xyz"), pos, {"units": "m", "coord_frame": "head"}),
            "time": ("time", times, {"units": "s"}),
            "component": comp_names,
        },
        attrs={"sfreq": float(sfreq), "units": units, "simulated": 1, **attrs},
    )


def _simulate_things(var, *, units, names, pos, gain, posterior, sfreq, layout, forward_model,
                     description, split, snr, idiosyncrasy, embedding_dim, random_state, **design):
    """Simulate a THINGS-like evoked data set on a forward model and assemble it (EEG and MEG)."""
    times = np.round(np.arange(int(round(sfreq))) / sfreq - 0.2, 10)
    data, emb, concept_of, gt, seed = _simulate_evoked_set(
        gain_full=gain, posterior=posterior, sfreq=sfreq, times=times, split=split,
        embedding_dim=embedding_dim, snr=snr, idiosyncrasy=idiosyncrasy,
        random_state=random_state, **design,
    )
    attrs = {
        "layout": layout,
        "split": split,
        "snr": float(snr),
        "idiosyncrasy": float(idiosyncrasy),
        "embedding_dim": int(embedding_dim),
        "random_state": str(random_state),
        "seed": str(seed),
        "forward_model": forward_model,
        "description": description,
    }
    return _things_dataset(var, data, emb, concept_of, gt, names=names, pos=pos, times=times,
                           sfreq=sfreq, units=units, attrs=attrs)


@fill_doc
def make_eeg_things(
    n_subjects=2,
    layout="17ch-100hz",
    split="train",
    n_concepts=20,
    n_images=None,
    n_repeats=None,
    embedding_dim=64,
    snr=1.0,
    random_state=0,
    *,
    idiosyncrasy=0.3,
):
    r"""Simulate THINGS-EEG2-like single-trial EEG responses to images with known ground truth.

    Each image :math:`i` has a unit-norm embedding :math:`e_i` (the decoders' target) close to its
    concept's embedding. Eight dipoles in occipito-temporal cortex (posterior grid of a three-shell
    sphere model fitted to the standard 10-20 montage; gain from
    :func:`mne.make_forward_solution`) carry four evoked components (P1 100 ms, N1 170 ms, P2/N2
    250 ms, late 400 ms) whose amplitudes are linear in the embedding,

    .. math::

        x_{i r}(t) = L\, \Big[\sum_k \big(a_{k} + B_{k} e_i\big)\, \phi_k(t)\Big] + n_{i r}(t),

    where :math:`L` is the subject's lead field, :math:`\phi_k` Gaussian temporal components and
    :math:`n_{ir}` background activity of 40 randomly placed dipoles with AR(1) (25 ms) time
    courses plus sensor noise, scaled to the requested ``snr`` (signal power / noise power,
    single trial, post-stimulus). Subjects differ in source positions, orientations and (by
    ``idiosyncrasy``) in :math:`B`. Test images belong to concepts never seen in training
    (zero-shot, as in THINGS-EEG2); the ground truth is identical for both splits.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (``"sub-01"``, ...).
    layout : {"17ch-100hz", "63ch-250hz"}
        The official 17 posterior channels at 100 Hz, or the 63-channel 250 Hz variant.
    split : {"train", "test"}
        Which split to generate; the two use disjoint images and concepts.
    n_concepts : int
        Concepts in this split.
    n_images : int | None
        Images in this split; None gives 5 per concept (train; the real data have 10) or 1 per concept
        (test, as in the real data).
    n_repeats : int | None
        Repetitions per image; None gives 4 (train) or 20 (test; the real test set has 80).
    embedding_dim : int
        Dimension of the image embeddings.
    snr : float
        Single-trial signal-to-noise power ratio after stimulus onset.
    %(random_state)s
        Seed; the same seed gives the same data, and the same ground truth across splits.
    idiosyncrasy : float
        0: all subjects share the embedding-to-source mapping; 1: independent mappings.

    Returns
    -------
    data : xarray.Dataset
        ``eeg`` (subject, image, repetition, channel, time) float32 in volts, time from -0.2 s to
        0.8 s; ``embedding`` (image, feature) float32; coordinates ``subject``, ``image``, ``concept``
        (image), ``channel`` (10-20 names), ``ch_pos`` (channel, xyz; m, head frame) and ``time`` (s);
        ground truth ``evoked`` (noise-free responses), ``leadfield``, ``encoding``,
        ``temporal_basis`` and ``noise_sd``; attrs ``sfreq``, ``layout``, ``split``, ``snr``.

    Examples
    --------
    >>> from neurosim.datasets import make_eeg_things
    >>> ds = make_eeg_things(n_concepts=5, n_images=10)
    >>> ds.eeg.dims
    ('subject', 'image', 'repetition', 'channel', 'time')
    >>> ds.eeg.shape
    (2, 10, 4, 17, 100)
    >>> float(ds.time[0]), ds.attrs["sfreq"]
    (-0.2, 100.0)
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(_LAYOUTS)}, got {layout!r}")
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n_repeats is None:
        n_repeats = 4 if split == "train" else 20
    names, pos, gain, posterior = _eeg_forward(layout)
    return _simulate_things(
        "eeg", units="V", names=names, pos=pos, gain=gain, posterior=posterior,
        sfreq=_LAYOUTS[layout][1], layout=layout,
        forward_model="mne three-shell sphere model fitted to the standard 10-20 montage",
        description="make_eeg_things: THINGS-EEG2-like simulated EEG", split=split, snr=snr,
        idiosyncrasy=idiosyncrasy, embedding_dim=embedding_dim, random_state=random_state,
        n_subjects=n_subjects, n_concepts=n_concepts, n_images=n_images, n_repeats=n_repeats,
    )


@fill_doc
def make_meg_things(
    n_subjects=2,
    split="train",
    n_concepts=20,
    n_images=None,
    n_repeats=None,
    embedding_dim=64,
    snr=1.0,
    random_state=0,
    *,
    n_channels=102,
    sfreq=200.0,
    idiosyncrasy=0.3,
):
    r"""Simulate THINGS-MEG-like single-trial magnetometer responses to images with known ground truth.

    The same generative model as :func:`make_eeg_things` (occipito-temporal dipoles whose evoked
    components are linear in the image embedding, AR(1) background sources, sensor noise), seen by
    ``n_channels`` point magnetometers spread evenly over a helmet 12 cm from the centre of an MNE
    spherical conductor (:func:`mne.make_sphere_model`), with radial normals. THINGS-MEG (a CTF
    system, 271 sensors at 200 Hz) shows each training image once and each test image 12 times.

    Parameters
    ----------
    n_subjects : int
        Number of subjects.
    split : {"train", "test"}
        Which split; disjoint images and concepts, same ground truth.
    n_concepts : int
        Concepts in this split.
    n_images : int | None
        Images in this split; None gives 5 per concept (train) or 1 per concept (test).
    n_repeats : int | None
        Repetitions per image; None gives 1 (train) or 12 (test), as in THINGS-MEG.
    embedding_dim : int
        Dimension of the image embeddings.
    snr : float
        Single-trial signal-to-noise power ratio after stimulus onset.
    %(random_state)s
    n_channels : int
        Number of magnetometers.
    sfreq : float
        Sampling frequency (Hz); epochs run from -0.2 s to 0.8 s.
    idiosyncrasy : float
        0: all subjects share the embedding-to-source mapping; 1: independent mappings.

    Returns
    -------
    data : xarray.Dataset
        ``meg`` (subject, image, repetition, channel, time) float32 in tesla, ``embedding``
        (image, feature), and the same coordinates, ground truth and attrs as :func:`make_eeg_things`
        (``ch_pos`` are the sensor positions in m).

    Examples
    --------
    >>> from neurosim.datasets import make_meg_things
    >>> ds = make_meg_things(n_concepts=4, n_images=8, n_channels=32)
    >>> ds.meg.shape
    (2, 8, 1, 32, 200)
    >>> ds.attrs["units"]
    'T'
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n_channels = check_size("n_channels", n_channels, minimum=8)
    sfreq = check_positive("sfreq", sfreq)
    if n_repeats is None:
        n_repeats = 1 if split == "train" else 12
    names, pos, gain, posterior = _meg_forward(n_channels, sfreq)
    return _simulate_things(
        "meg", units="T", names=names, pos=pos, gain=gain, posterior=posterior, sfreq=sfreq,
        layout=f"{n_channels}mag",
        forward_model="mne spherical conductor, point magnetometers on a helmet",
        description="make_meg_things: THINGS-MEG-like simulated magnetometer data", split=split,
        snr=snr, idiosyncrasy=idiosyncrasy, embedding_dim=embedding_dim,
        random_state=random_state, n_subjects=n_subjects, n_concepts=n_concepts,
        n_images=n_images, n_repeats=n_repeats,
    )
