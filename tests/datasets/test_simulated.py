"""Simulated data sets: structure, determinism and the ground truth they were generated from."""


import numpy as np
import pytest
from neurosim.datasets import make_eeg_emotion, make_eeg_things, make_fmri_visual, make_meg_things

# ----------------------------------------------------------------------------------------------------
# make_fmri_visual


@pytest.fixture(scope="module")
def fmri():
    return make_fmri_visual(n_subjects=3, n_stimuli=300, n_shared=30, n_repeats=3, random_state=1)


def test_fmri_structure(fmri):
    assert list(fmri) == ["subj01", "subj02", "subj03"]
    counts = [ds.sizes["voxel"] for ds in fmri.values()]
    assert len(set(counts)) == 3 and all(300 <= c <= 2000 for c in counts)
    for name, ds in fmri.items():
        assert ds.betas.dims == ("trial", "voxel") and ds.betas.dtype == np.float32
        assert ds.embedding.dims == ("stimulus", "feature") and ds.embedding.dtype == np.float32
        assert ds.embedding.shape == (300, 64)
        np.testing.assert_allclose(np.linalg.norm(ds.embedding, axis=1), 1, rtol=1e-5)
        assert ds.weights.dims == ("voxel", "feature")
        for v in ("bias", "noise_ceiling", "ncsnr", "x", "y", "z"):
            assert ds[v].dims == ("voxel",)
        for c in ("stimulus", "repeat", "session"):
            assert ds[c].dims == ("trial",) and ds[c].dtype.kind == "i"
        assert ds.attrs["subject"] == name and ds.attrs["snr"] == 1.0
        assert ds.shared.dtype == bool and int(ds.shared.sum()) == 30
        np.testing.assert_array_equal(ds.stimulus_id, np.arange(300))
        np.testing.assert_array_equal(ds.embedding, fmri["subj01"].embedding)  # same for all subjects
        # every seen stimulus n_repeats times, repeats numbered 0, 1, 2 in presentation order
        stim, counts_per = np.unique(ds.stimulus, return_counts=True)
        assert np.all(counts_per == 3)
        for s in stim[:10]:
            np.testing.assert_array_equal(ds.repeat.values[ds.stimulus.values == s], [0, 1, 2])
        assert ds.session.max() == (ds.sizes["trial"] - 1) // 300


def test_fmri_voxels_in_occipitotemporal_grey_matter(fmri):
    from nilearn.datasets import load_mni152_gm_mask
    from nilearn.image import coord_transform

    mask = load_mni152_gm_mask(resolution=2)
    data = np.asarray(mask.dataobj)
    for ds in fmri.values():
        i, j, k = coord_transform(ds.x, ds.y, ds.z, np.linalg.inv(mask.affine))
        ijk = np.rint(np.column_stack([i, j, k])).astype(int)
        assert np.all(data[tuple(ijk.T)] > 0)  # real MNI coordinates inside grey matter
        assert ds.y.max() <= -30 and ds.z.min() >= -25 and ds.z.max() <= 70
        assert np.all((ds.y <= -70) | (np.abs(ds.x) >= 24))  # ventral part is lateral to the midline
        assert not np.any(ds[["x", "y", "z"]].to_dataframe().duplicated())


def test_fmri_stimulus_sets(fmri):
    seen = {k: set(np.unique(ds.stimulus.values)) for k, ds in fmri.items()}
    shared = set(range(30))
    for s in seen.values():
        assert shared <= s and len(s) == 30 + 270 // 3
    own = [s - shared for s in seen.values()]
    assert not (own[0] & own[1]) and not (own[0] & own[2]) and not (own[1] & own[2])


def test_fmri_deterministic():
    a = make_fmri_visual(n_subjects=2, n_stimuli=100, n_shared=10, random_state=3)
    b = make_fmri_visual(n_subjects=2, n_stimuli=100, n_shared=10, random_state=3)
    c = make_fmri_visual(n_subjects=2, n_stimuli=100, n_shared=10, random_state=4)
    for k in a:
        assert a[k].identical(b[k])
    assert not np.array_equal(a["subj01"].embedding, c["subj01"].embedding)


def test_fmri_ridge_recovers_weights():
    from sklearn.linear_model import RidgeCV

    ds = make_fmri_visual(
        n_subjects=1, n_voxels=400, n_stimuli=400, n_shared=0, snr=100.0, random_state=0
    )["subj01"]
    X = ds.embedding.values[ds.stimulus.values]
    model = RidgeCV(alphas=np.logspace(-5, 1, 13)).fit(X, ds.betas.values)
    w = ds.weights.values
    r = [np.corrcoef(model.coef_[v], w[v])[0, 1] for v in range(len(w))]
    assert np.median(r) > 0.99 and np.mean(r) > 0.9
    assert np.corrcoef(model.intercept_, ds.bias)[0, 1] > 0.99


def test_fmri_noise_ceiling_matches_nsd_estimate(fmri):
    """The NSD noise-ceiling estimate (Allen et al. 2022) computed from the betas tracks the truth."""
    ds = fmri["subj01"]
    b = ds.betas.values.astype(np.float64)
    order = np.lexsort((ds.repeat.values, ds.stimulus.values))
    reps = b[order].reshape(-1, 3, b.shape[1])  # (stimulus, repeat, voxel)
    reps = (reps - reps.mean((0, 1))) / reps.std((0, 1))
    noise_var = reps.var(axis=1, ddof=1).mean(0)
    ncsnr = np.sqrt(np.clip(1 - noise_var, 0, None)) / np.sqrt(noise_var)
    nc = 100 * ncsnr**2 / (ncsnr**2 + 1 / 3)
    assert np.corrcoef(nc, ds.noise_ceiling)[0, 1] > 0.85
    assert abs(np.median(nc) - float(ds.noise_ceiling.median())) < 8
    # voxels differ: realistic ceilings from low to high
    assert float(ds.noise_ceiling.min()) < 30 and float(ds.noise_ceiling.max()) > 85


def test_fmri_idiosyncrasy_controls_cross_subject_similarity():
    def similarity(idio):
        d = make_fmri_visual(
            n_subjects=2, n_voxels=1500, n_stimuli=50, n_shared=50, idiosyncrasy=idio, random_state=5
        )
        a, b = d["subj01"], d["subj02"]
        ka = {tuple(c): i for i, c in enumerate(np.column_stack([a.x, a.y, a.z]))}
        pairs = [
            (ka[tuple(c)], j) for j, c in enumerate(np.column_stack([b.x, b.y, b.z])) if tuple(c) in ka
        ]
        ia, ib = np.array(pairs).T
        wa, wb = a.weights.values[ia], b.weights.values[ib]
        return np.mean([np.corrcoef(wa[k], wb[k])[0, 1] for k in range(len(ia))])

    same, independent = similarity(0.0), similarity(1.0)
    assert same > 0.8 and abs(independent) < 0.15


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_shared=20, n_stimuli=10), "n_shared must be <="),
        (dict(idiosyncrasy=1.5), "idiosyncrasy must be between 0 and 1"),
        (dict(n_subjects=2, n_voxels=[300]), "one per subject"),
        (dict(n_voxels=10**7), "n_voxels must be <="),
        (dict(snr=-1.0), "snr must be a finite positive"),
        (dict(n_unique=5000), "n_unique must be <="),
    ],
)
def test_fmri_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_fmri_visual(**kwargs)


def test_fmri_bad_type():
    with pytest.raises(TypeError, match="n_subjects must be an integer"):
        make_fmri_visual(n_subjects=2.5)


# ----------------------------------------------------------------------------------------------------
# make_eeg_things / make_meg_things


@pytest.mark.parametrize(("layout", "n_ch", "n_t"), [("17ch-100hz", 17, 100), ("63ch-250hz", 63, 250)])
def test_eeg_things_structure(layout, n_ch, n_t):
    from neurosim.datasets._specs import THINGS_EEG2_17CH

    tr = make_eeg_things(layout=layout, n_concepts=4, n_images=8, n_subjects=2)
    te = make_eeg_things(layout=layout, split="test", n_concepts=3)
    assert tr.eeg.dims == ("subject", "image", "repetition", "channel", "time")
    assert tr.eeg.shape == (2, 8, 4, n_ch, n_t) and tr.eeg.dtype == np.float32
    assert te.eeg.shape == (2, 3, 20, n_ch, n_t)
    assert list(tr.subject.values) == ["sub-01", "sub-02"]
    np.testing.assert_allclose(tr.time[[0, -1]], [-0.2, 0.8 - 1 / (n_t)], atol=1e-9)
    assert tr.attrs["sfreq"] == n_t and tr.attrs["layout"] == layout and tr.attrs["split"] == "train"
    assert tr.embedding.shape == (8, 64) and tr.embedding.dtype == np.float32
    np.testing.assert_array_equal(tr.concept, np.repeat(np.arange(4), 2))
    if n_ch == 17:
        assert list(tr.channel.values) == THINGS_EEG2_17CH
    # EEG amplitudes in volts: microvolts, not volts or raw units
    assert 1e-7 < float(tr.eeg.std()) < 1e-4
    # zero-shot: test concepts never appear in training; ground truth is shared between the splits
    assert not set(te.concept.values) & set(tr.concept.values)
    np.testing.assert_array_equal(tr.leadfield, te.leadfield)
    np.testing.assert_array_equal(tr.encoding, te.encoding)


def test_eeg_things_deterministic_and_consistent_embeddings():
    a = make_eeg_things(n_concepts=3, n_images=6, random_state=2)
    b = make_eeg_things(n_concepts=3, n_images=6, random_state=2)
    c = make_eeg_things(n_concepts=3, n_images=6, random_state=3)
    assert a.identical(b)
    assert not np.array_equal(a.eeg, c.eeg)


def test_eeg_things_evoked_is_linear_in_embedding_and_snr_holds():
    ds = make_eeg_things(n_concepts=10, n_images=80, n_repeats=4, snr=0.5, random_state=0)
    for s in range(2):
        evoked = ds.evoked.values[s].reshape(80, -1).astype(np.float64)
        design = np.column_stack([ds.embedding.values, np.ones(80)])
        coef, *_ = np.linalg.lstsq(design, evoked, rcond=None)
        resid = evoked - design @ coef
        assert np.sum(resid**2) / np.sum((evoked - evoked.mean(0)) ** 2) < 1e-6
        # single-trial SNR (post-stimulus power of signal vs noise) is what was asked for
        post = ds.time.values >= 0
        noise = ds.eeg.values[s] - ds.evoked.values[s][:, None]
        snr = np.mean(ds.evoked.values[s][..., post] ** 2) / np.mean(noise[..., post] ** 2)
        assert snr == pytest.approx(0.5, rel=0.1)
        # averaging repetitions converges to the noise-free response
        err1 = np.mean(noise[:, 0] ** 2)
        err4 = np.mean((ds.eeg.values[s].mean(1) - ds.evoked.values[s]) ** 2)
        assert err4 == pytest.approx(err1 / 4, rel=0.1)


def test_eeg_things_embedding_is_decodable():
    """Ridge from training EEG to embeddings retrieves held-out test images far above chance."""
    from sklearn.linear_model import RidgeCV

    tr = make_eeg_things(n_subjects=1, n_concepts=40, random_state=0)
    te = make_eeg_things(n_subjects=1, split="test", n_concepts=40, random_state=0)
    X = tr.eeg.values[0].mean(1).reshape(-1, 17 * 100) / 1e-6  # repetition-averaged, as in THINGS-EEG2
    model = RidgeCV(alphas=np.logspace(-1, 5, 7)).fit(X, tr.embedding.values)
    pred = model.predict(te.eeg.values[0].mean(1).reshape(40, -1) / 1e-6)
    pred /= np.linalg.norm(pred, axis=1, keepdims=True)
    top1 = np.mean(np.argmax(pred @ te.embedding.values.T, axis=1) == np.arange(40))
    assert top1 > 0.3  # chance 0.025


def test_meg_things_structure():
    tr = make_meg_things(n_concepts=3, n_images=6, n_channels=32)
    te = make_meg_things(split="test", n_concepts=3, n_channels=32)
    assert tr.meg.dims == ("subject", "image", "repetition", "channel", "time")
    assert tr.meg.shape == (2, 6, 1, 32, 200) and te.meg.shape == (2, 3, 12, 32, 200)
    assert tr.attrs["sfreq"] == 200.0 and tr.attrs["units"] == "T"
    assert 1e-15 < float(tr.meg.std()) < 1e-11  # femto- to picotesla
    np.testing.assert_allclose(np.linalg.norm(tr.ch_pos - [0, 0, 0.04], axis=1), 0.12)
    np.testing.assert_array_equal(tr.encoding, te.encoding)


@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (make_eeg_things, dict(layout="32ch"), "layout must be one of"),
        (make_eeg_things, dict(split="val"), "split must be"),
        (make_meg_things, dict(split="val"), "split must be"),
        (make_eeg_things, dict(n_concepts=5, n_images=3), "n_images must be >="),
        (make_eeg_things, dict(snr=0), "snr must be"),
        (make_meg_things, dict(n_channels=3), "n_channels must be >="),
    ],
)
def test_things_bad_input(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


# ----------------------------------------------------------------------------------------------------
# make_eeg_emotion


@pytest.fixture(scope="module")
def emotion():
    return make_eeg_emotion(n_subjects=3, n_trials=18, duration=20.0, random_state=0)


def _band_power(x, sfreq, lo, hi):
    from scipy.signal import welch

    f, p = welch(x, fs=sfreq, nperseg=int(2 * sfreq), axis=-1)
    return f, p, np.log(p[..., (f >= lo) & (f <= hi)].mean(-1))


def test_emotion_structure(emotion):
    from neurosim.datasets._specs import DREAMER_CHANNELS

    ds = emotion
    assert ds.eeg.dims == ("subject", "trial", "channel", "time")
    assert ds.eeg.shape == (3, 18, 14, 2560) and ds.eeg.dtype == np.float32
    assert ds.baseline.shape == (3, 18, 14, 7808) and ds.baseline.dtype == np.float32
    assert list(ds.channel.values) == DREAMER_CHANNELS
    assert ds.attrs["sfreq"] == 128.0
    np.testing.assert_array_equal(ds.trial, np.arange(18))
    np.testing.assert_allclose(ds.time[[0, -1]], [0, 2559 / 128])
    for v in ("valence", "arousal", "dominance"):
        assert ds[v].dims == ("subject", "trial") and ds[v].dtype.kind == "i"
        assert ds[v].min() >= 1 and ds[v].max() <= 5 and len(np.unique(ds[v])) >= 4
    assert 1e-6 < float(ds.eeg.std()) < 1e-4


def test_emotion_spectral_signatures(emotion):
    ds = emotion
    ch = list(ds.channel.values)
    left = [ch.index(c) for c in ("AF3", "F7", "F3")]
    right = [ch.index(c) for c in ("AF4", "F8", "F4")]
    _, _, alpha = _band_power(ds.eeg.values, 128.0, 8, 13)
    faa = alpha[..., right].mean(-1) - alpha[..., left].mean(-1)
    assert np.corrcoef(faa.ravel(), ds.valence.values.ravel())[0, 1] > 0.6
    assert np.corrcoef(faa.ravel(), ds.alpha_asymmetry.values.ravel())[0, 1] > 0.7
    _, _, beta = _band_power(ds.eeg.values, 128.0, 14, 30)
    beta = beta.mean(-1)
    beta -= beta.mean(1, keepdims=True)  # within subject
    assert np.corrcoef(beta.ravel(), ds.arousal.values.ravel())[0, 1] > 0.6


def test_emotion_aperiodic_exponent(emotion):
    f, p, _ = _band_power(emotion.baseline.values[:, :3], 128.0, 1, 2)
    band = (f >= 48) & (f <= 60)
    for s in range(3):
        slope = np.polyfit(np.log(f[band]), np.log(p[s][..., band].mean((0, 1))), 1)[0]
        assert -slope == pytest.approx(float(emotion.aperiodic_exponent[s]), abs=0.25)


def test_emotion_deterministic():
    a = make_eeg_emotion(n_subjects=1, n_trials=2, duration=2.0, random_state=7)
    b = make_eeg_emotion(n_subjects=1, n_trials=2, duration=2.0, random_state=7)
    assert a.identical(b)


def test_emotion_bad_input():
    with pytest.raises(ValueError, match="duration must be"):
        make_eeg_emotion(duration=-1.0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        make_eeg_emotion(duration=0.001)


# ----------------------------------------------------------------------------------------------------
