"""DREAMER (Katsigiannis & Ramzan 2018): reader for the licence-gated ``DREAMER.mat``."""

from pathlib import Path

import numpy as np

from ._base import ArgumentError, reading
from ._specs import DREAMER_CHANNELS, eeg_positions

__all__ = ["load_dreamer"]

_HOW_TO_GET = (
    "DREAMER is distributed under a licence that must be accepted by hand: request access at "
    "https://zenodo.org/record/546113 (Katsigiannis & Ramzan 2018, IEEE J. Biomed. Health Inform. "
    "22(1):98-107), download DREAMER.mat and pass its path to load_dreamer()."
)
_EEG_UNITS_SCALE = 1e-6  # Emotiv EPOC samples are in microvolts
_EXPECTED = "DREAMER.mat (a MATLAB v5/v7 file holding the struct 'DREAMER')"


def _field(struct, name):
    """``struct[name]`` for a MATLAB struct read with the default loadmat options (1x1 record arrays)."""
    try:
        return struct[name][0, 0] if struct[name].shape == (1, 1) else struct[name]
    except (ValueError, KeyError, IndexError) as err:
        raise ValueError(f"DREAMER.mat: struct field {name!r} is missing or malformed") from err


def _cell(arr, i):
    return arr[i, 0] if arr.shape[1] == 1 else arr[0, i]


def load_dreamer(path, duration=60.0, *, subjects=None):
    """Read ``DREAMER.mat``: EEG of 23 subjects watching 18 film clips, with self-assessed emotions.

    Parameters
    ----------
    path : str | path-like
        Path of ``DREAMER.mat`` (MATLAB v5/v7, as distributed), or of the folder holding it.
    duration : float | None
        Seconds kept from the end of each film (the DREAMER literature uses the last 60 s); None
        keeps the shortest film's length for all films.
    subjects : sequence of int | None
        0-based subject indices to read (at least one); None reads all.

    Returns
    -------
    data : xarray.Dataset
        Same structure as :func:`make_eeg_emotion`: ``eeg`` (subject, trial, channel, time) and
        ``baseline`` (subject, trial, channel, baseline_time) float32 in volts (the Emotiv
        amplifier's DC offset of a few mV is kept as recorded: high-pass filter or subtract the mean
        before use), ``valence``, ``arousal``, ``dominance`` (subject, trial) int 1-5, ``age``
        (subject), ``gender`` (subject) and ``film_samples`` (subject, trial; each film's full
        length), coordinates ``subject`` (``"S01"``...), ``trial``, ``channel``, ``ch_pos``
        (channel, xyz; m, standard 10-20 positions), ``time``,
        ``baseline_time`` (s); attrs ``sfreq`` (128), ``duration``.

    Raises
    ------
    FileNotFoundError
        If the file is absent, saying how to obtain it.
    neurosim.datasets.DataFormatError
        If the file cannot be read as DREAMER.mat (empty, truncated, another format, a missing
        struct field, wrong shapes): a :class:`ValueError` naming the file.
    ValueError, TypeError
        For a bad ``duration`` or ``subjects``.

    Examples
    --------
    >>> from neurosim.datasets import load_dreamer
    >>> ds = load_dreamer("DREAMER.mat")  # doctest: +SKIP
    >>> ds.eeg.shape  # doctest: +SKIP
    (23, 18, 14, 7680)
    """
    import xarray as xr

    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "DREAMER.mat"
    if not path.is_file():
        raise FileNotFoundError(f"DREAMER.mat not found at {path}. {_HOW_TO_GET}")
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, (int, float, np.number)):
            raise TypeError(f"duration must be a number of seconds or None, got "
                            f"{type(duration).__name__}: {duration!r}")
        if not np.isfinite(duration) or duration <= 0:
            raise ValueError(f"duration must be a finite positive number of seconds or None, "
                             f"got {duration!r}")
    if subjects is not None:
        subjects = list(subjects)
        if not subjects:
            raise ValueError("subjects must name at least one subject (0-based), got []")
        for s in subjects:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
                raise TypeError(f"subjects must be 0-based int indices, got "
                                f"{type(s).__name__}: {s!r}")
    with reading(path, _EXPECTED):
        return _read(path, duration, subjects, xr)


def _read(path, duration, subjects, xr):
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError as err:  # MATLAB v7.3 (HDF5): not how DREAMER is distributed
        raise ValueError(f"{path} is a MATLAB v7.3 file; DREAMER.mat is distributed as v5/v7") from err
    if "DREAMER" not in mat:
        raise ValueError(
            f"{path} has no variable 'DREAMER'; variables: {sorted(k for k in mat if k[0] != '_')}"
        )
    top = mat["DREAMER"][0, 0]
    sfreq = float(np.squeeze(_field(top, "EEG_SamplingRate")))
    electrodes = [str(np.squeeze(e)) for e in np.ravel(_field(top, "EEG_Electrodes"))]
    if electrodes and electrodes != DREAMER_CHANNELS:
        raise ValueError(f"unexpected EEG_Electrodes {electrodes}; expected {DREAMER_CHANNELS}")
    data = top["Data"]
    n_total = data.shape[1]
    subjects = range(n_total) if subjects is None else [int(s) for s in subjects]
    for s in subjects:
        if not 0 <= s < n_total:
            raise ArgumentError(f"subjects must be 0-based indices below {n_total}, got {s}")

    films, baselines, scores, ages, genders = [], [], [], [], []
    for s in subjects:
        subj = data[0, s][0, 0]
        eeg = _field(subj, "EEG")
        stim, base = _field(eeg, "stimuli"), _field(eeg, "baseline")
        n_trials = max(stim.shape)
        films.append([np.asarray(_cell(stim, t), dtype=np.float64) for t in range(n_trials)])
        baselines.append([np.asarray(_cell(base, t), dtype=np.float64) for t in range(n_trials)])
        scores.append(
            [
                np.ravel(_field(subj, k)).astype(np.int64)
                for k in ("ScoreValence", "ScoreArousal", "ScoreDominance")
            ]
        )
        ages.append(str(np.squeeze(_field(subj, "Age"))))
        genders.append(str(np.squeeze(_field(subj, "Gender"))))
    n_trials = len(films[0])
    shortest = min(f.shape[0] for subj in films for f in subj)
    n_t = shortest if duration is None else int(round(duration * sfreq))
    if n_t < 1:
        raise ArgumentError(f"duration={duration} s is shorter than one sample at {sfreq} Hz")
    if n_t > shortest:
        raise ArgumentError(
            f"duration={duration} s ({n_t} samples) is longer than the shortest film "
            f"({shortest} samples, "
            f"{shortest / sfreq:.1f} s)"
        )
    n_b = min(b.shape[0] for subj in baselines for b in subj)
    n_ch = len(DREAMER_CHANNELS)
    eeg = np.empty((len(films), n_trials, n_ch, n_t), dtype=np.float32)
    base = np.empty((len(films), n_trials, n_ch, n_b), dtype=np.float32)
    for i, (fs, bs) in enumerate(zip(films, baselines)):
        for t, (f, b) in enumerate(zip(fs, bs)):
            if f.ndim != 2 or f.shape[1] != n_ch:
                raise ValueError(f"subject {i}, film {t}: expected (n_samples, {n_ch}), got {f.shape}")
            eeg[i, t] = f[-n_t:].T * _EEG_UNITS_SCALE
            base[i, t] = b[-n_b:].T * _EEG_UNITS_SCALE
    ratings = np.array(scores)  # (subject, 3, trial)
    if ratings.min() < 1 or ratings.max() > 5:
        raise ValueError(f"scores must lie in 1..5, got {ratings.min()}..{ratings.max()}")
    st = ("subject", "trial")
    return xr.Dataset(
        {
            "eeg": (("subject", "trial", "channel", "time"), eeg, {"units": "V"}),
            "baseline": (("subject", "trial", "channel", "baseline_time"), base, {"units": "V"}),
            "valence": (st, ratings[:, 0]),
            "arousal": (st, ratings[:, 1]),
            "dominance": (st, ratings[:, 2]),
            "age": ("subject", ages),
            "gender": ("subject", genders),
            "film_samples": (st, np.array([[f.shape[0] for f in fs] for fs in films])),
        },
        coords={
            "subject": [f"S{s + 1:02d}" for s in subjects],
            "trial": np.arange(n_trials),
            "channel": list(DREAMER_CHANNELS),
            "ch_pos": (
                ("channel", "xyz"),
                eeg_positions(tuple(DREAMER_CHANNELS)),
                {"units": "m", "coord_frame": "head", "source": "standard 10-20 montage"},
            ),
            "time": ("time", np.arange(n_t) / sfreq, {"units": "s"}),
            "baseline_time": ("baseline_time", np.arange(n_b) / sfreq, {"units": "s"}),
        },
        attrs={
            "sfreq": sfreq,
            "duration": n_t / sfreq,
            "units": "V",
            "source": str(path),
            "citation": "Katsigiannis & Ramzan (2018), IEEE J. Biomed. Health Inform. 22(1):98-107",
        },
    )
