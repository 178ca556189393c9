"""Simulated DREAMER-like emotion EEG: 1/f background with emotion-dependent spectral signatures."""

import numpy as np

from neurosim._docs import fill_doc
from neurosim._utils import check_positive, check_random_state, check_size

from ._specs import DREAMER_BASELINE_S, DREAMER_CHANNELS, eeg_positions

__all__ = ["make_eeg_emotion"]

_LEFT_FRONTAL = ("AF3", "F7", "F3")
_RIGHT_FRONTAL = ("AF4", "F8", "F4")
_POSTERIOR = ("P7", "O1", "O2", "P8")
# mean (valence, arousal, dominance) targeted by DREAMER's 18 film clips (calm, surprise, amusement,
# fear, excitement, disgust, happiness, anger, sadness, ...), on the 1-5 scale
_FILM_TARGETS = np.array([
    [3.5, 2.0, 3.0], [3.5, 3.5, 3.2], [4.0, 3.0, 3.5], [2.0, 3.8, 2.5], [4.2, 3.8, 3.8], [1.8, 3.2, 2.8],
    [4.3, 3.2, 3.8], [1.8, 3.6, 2.6], [1.7, 2.5, 2.4], [3.6, 2.0, 3.1], [3.6, 3.6, 3.3], [4.1, 3.1, 3.6],
    [2.0, 4.0, 2.4], [1.9, 3.3, 2.9], [4.3, 3.5, 3.9], [1.8, 3.5, 2.6], [1.8, 2.4, 2.5], [4.4, 3.9, 3.9],
])  # fmt: skip
_BANDS = {"theta": (6.0, 1.0), "alpha": (10.0, 1.2), "beta": (20.0, 4.0), "gamma": (38.0, 5.0)}


def _band_shape(freqs, centre, width):
    return np.exp(-0.5 * ((freqs - centre) / width) ** 2)


def _synthesise(rng, n_samples, sfreq, gains, exponent, mixing, alpha_freq):
    """Random-phase spectral synthesis of (..., channel, time) EEG.

    The amplitude spectrum of every channel is ``f**(-exponent/2) * (1 + sum_b gain_b * bump_b(f))``.
    """
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    f = np.maximum(freqs, freqs[1])
    shapes = {b: _band_shape(freqs, c, w) for b, (c, w) in _BANDS.items()}
    shapes["alpha"] = _band_shape(freqs[None, :], alpha_freq[:, None], _BANDS["alpha"][1])
    power = f ** (-exponent)
    for band, g in gains.items():  # g: (..., channel) power gain of the band peak
        power = power * (1 + g[..., None] * shapes[band])
    amp = np.sqrt(power)
    amp[..., 0] = 0.0
    shape = amp.shape
    coef = amp * (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / np.sqrt(2)
    x = np.fft.irfft(coef, n=n_samples, axis=-1) * np.sqrt(n_samples * sfreq)
    return np.einsum("ij,...jt->...it", mixing, x)


@fill_doc
def make_eeg_emotion(n_subjects=4, n_trials=18, duration=60.0, sfreq=128.0, random_state=0):
    r"""Simulate DREAMER-like emotion EEG with valence, arousal and dominance ratings.

    Each subject watches ``n_trials`` film clips (a 61 s neutral baseline precedes each) while 14
    Emotiv channels record at ``sfreq``, and rates each film 1-5 for valence, arousal and dominance
    (ratings scatter around the film's target emotion, as in DREAMER). The EEG of a channel is
    random-phase noise with power spectrum

    .. math::

        P(f) = A^2 f^{-\chi} \prod_b \big(1 + g_b\, e^{-(f - f_b)^2 / 2 w_b^2}\big),

    a 1/f background with exponent :math:`\chi` (subject-specific, about 1.5) and theta, alpha,
    beta and gamma peaks, mixed across channels by volume conduction. The rated emotion sets the
    peak gains (the ground truth):

    * frontal alpha asymmetry: higher valence lowers alpha power over the left frontal channels
      (AF3, F7, F3: more left-frontal activity) and raises it over the right (AF4, F8, F4),
      :math:`\ln\alpha_R - \ln\alpha_L` grows linearly with valence (Davidson's model);
    * arousal raises beta and gamma power on all channels and lowers posterior alpha;
    * dominance raises frontal theta.

    Subjects differ in overall amplitude, 1/f exponent, individual alpha frequency and the size of
    each effect. Baselines share the subject's background with neutral gains.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (DREAMER: 23).
    n_trials : int
        Film clips per subject (DREAMER: 18; more than 18 repeats the film targets).
    duration : float
        Seconds of each film kept (the last ``duration`` s, as in the DREAMER literature).
    sfreq : float
        Sampling frequency (Hz); DREAMER's is 128.
    %(random_state)s

    Returns
    -------
    data : xarray.Dataset
        ``eeg`` (subject, trial, channel, time) float32 in volts; ``baseline`` (subject, trial,
        channel, baseline_time) float32 in volts (61 s); ``valence``, ``arousal``, ``dominance``
        (subject, trial) int 1-5; coordinates ``subject`` (``"S01"``...), ``trial`` (0-based),
        ``channel``, ``ch_pos`` (channel, xyz; m, head frame of the standard 10-20 montage),
        ``time`` and ``baseline_time`` (s); ground truth as variables
        ``alpha_asymmetry`` (subject, trial; the simulated :math:`\ln g_{\alpha,R} - \ln g_{\alpha,L}`),
        ``beta_gain``, ``gamma_gain``, ``theta_gain`` (subject, trial), ``aperiodic_exponent`` and
        ``alpha_frequency`` (subject); attr ``sfreq``.

    Examples
    --------
    >>> from neurosim.datasets import make_eeg_emotion
    >>> ds = make_eeg_emotion(n_subjects=2, n_trials=3, duration=4.0)
    >>> ds.eeg.shape, ds.baseline.shape
    ((2, 3, 14, 512), (2, 3, 14, 7808))
    """
    n_subjects = check_size("n_subjects", n_subjects)
    n_trials = check_size("n_trials", n_trials)
    duration = check_positive("duration", duration)
    sfreq = check_positive("sfreq", sfreq)
    rng = check_random_state(random_state)
    n_t = int(round(duration * sfreq))
    n_b = int(round(DREAMER_BASELINE_S * sfreq))
    if n_t < 2:
        raise ValueError(f"duration * sfreq must give at least 2 samples, got {n_t}")
    n_ch = len(DREAMER_CHANNELS)
    idx = {c: i for i, c in enumerate(DREAMER_CHANNELS)}
    left = np.array([idx[c] for c in _LEFT_FRONTAL])
    right = np.array([idx[c] for c in _RIGHT_FRONTAL])
    posterior = np.array([idx[c] for c in _POSTERIOR])
    frontal = np.concatenate([left, right])

    # volume conduction: channels mix with neighbours (fixed, from electrode order on the headset)
    dist = np.abs(np.subtract.outer(np.arange(n_ch), np.arange(n_ch)))
    dist = np.minimum(dist, n_ch - dist)  # the Emotiv montage closes into a ring AF3 ... AF4
    mixing = np.exp(-dist / 0.8)
    mixing /= np.sqrt((mixing**2).sum(1, keepdims=True))

    eeg = np.empty((n_subjects, n_trials, n_ch, n_t), dtype=np.float32)
    baseline = np.empty((n_subjects, n_trials, n_ch, n_b), dtype=np.float32)
    ratings = np.empty((3, n_subjects, n_trials), dtype=np.int64)
    truth = {k: np.empty((n_subjects, n_trials)) for k in ("alpha_asymmetry", "beta", "gamma", "theta")}
    exponents = np.empty(n_subjects)
    alpha_freqs = np.empty(n_subjects)
    targets = _FILM_TARGETS[np.arange(n_trials) % len(_FILM_TARGETS)]
    for s in range(n_subjects):
        exponent = rng.normal(1.5, 0.15)
        alpha_f = rng.normal(10.0, 0.8)
        scale = rng.lognormal(np.log(5e-6), 0.2)  # ~5 uV per sqrt(Hz) at 1 Hz
        effect = rng.lognormal(0.0, 0.2, size=3)  # subject's sensitivity to valence/arousal/dominance
        rated = np.clip(np.rint(targets + rng.normal(0, 0.8, size=targets.shape)), 1, 5)
        ratings[:, s] = rated.T.astype(np.int64)
        v, a, d = ((rated - 3.0) / 2.0).T  # centred on neutral, in [-1, 1]

        base = {
            "theta": np.full((n_trials, n_ch), 1.0),
            "alpha": np.full((n_trials, n_ch), 2.0),
            "beta": np.full((n_trials, n_ch), 0.5),
            "gamma": np.full((n_trials, n_ch), 0.2),
        }
        base["alpha"][:, posterior] = 6.0  # posterior dominant alpha
        # trial-to-trial variability unrelated to emotion (state, artefacts, electrode contact)
        gains = {k: g * rng.lognormal(0.0, 0.3, size=g.shape) for k, g in base.items()}
        asym = 0.8 * effect[0] * v  # ln(alpha_R) - ln(alpha_L)
        gains["alpha"][:, left] *= np.exp(-asym / 2)[:, None]
        gains["alpha"][:, right] *= np.exp(asym / 2)[:, None]
        gains["alpha"][:, posterior] *= np.exp(-0.4 * effect[1] * a)[:, None]
        beta_gain = np.exp(0.8 * effect[1] * a)
        gamma_gain = np.exp(0.8 * effect[1] * a)
        theta_gain = np.exp(0.6 * effect[2] * d)
        gains["beta"] *= beta_gain[:, None]
        gains["gamma"] *= gamma_gain[:, None]
        gains["theta"][:, frontal] *= theta_gain[:, None]

        af = np.full(n_ch, alpha_f)
        eeg[s] = scale * _synthesise(rng, n_t, sfreq, gains, exponent, mixing, af)
        baseline[s] = scale * _synthesise(rng, n_b, sfreq, base, exponent, mixing, af)
        truth["alpha_asymmetry"][s] = asym
        truth["beta"][s] = beta_gain
        truth["gamma"][s] = gamma_gain
        truth["theta"][s] = theta_gain
        exponents[s] = exponent
        alpha_freqs[s] = alpha_f

    import xarray as xr

    st = ("subject", "trial")
    return xr.Dataset(
        {
            "eeg": (("subject", "trial", "channel", "time"), eeg, {"units": "V"}),
            "baseline": (("subject", "trial", "channel", "baseline_time"), baseline, {"units": "V"}),
            "valence": (st, ratings[0]),
            "arousal": (st, ratings[1]),
            "dominance": (st, ratings[2]),
            "alpha_asymmetry": (st, truth["alpha_asymmetry"]),
            "beta_gain": (st, truth["beta"]),
            "gamma_gain": (st, truth["gamma"]),
            "theta_gain": (st, truth["theta"]),
            "aperiodic_exponent": ("subject", exponents),
            "alpha_frequency": ("subject", alpha_freqs, {"units": "Hz"}),
        },
        coords={
            "subject": [f"S{i + 1:02d}" for i in range(n_subjects)],
            "trial": np.arange(n_trials),
            "channel": list(DREAMER_CHANNELS),
            "ch_pos": (
                ("channel", "xyz"),
                eeg_positions(tuple(DREAMER_CHANNELS)),
                {"units": "m", "coord_frame": "head"},
            ),
            "time": ("time", np.arange(n_t) / sfreq, {"units": "s"}),
            "baseline_time": ("baseline_time", np.arange(n_b) / sfreq, {"units": "s"}),
        },
        attrs={
            "sfreq": float(sfreq),
            "duration": float(duration),
            "units": "V",
            "random_state": str(random_state),
            "simulated": 1,
            "description": "make_eeg_emotion: DREAMER-like EEG, emotion-dependent spectral signatures",
        },
    )
