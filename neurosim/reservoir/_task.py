"""The what/when/how-likely task: cues, stochastic stimuli, blocks that change without warning."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._utils import check_positive, check_random_state, check_size


@dataclass(frozen=True)
class Block:
    """A block of trials of a :class:`WhatWhenTask`.

    Parameters
    ----------
    n_trials : int
        Number of trials in the block.
    delays : sequence of float | None
        Delay (ms, from cue onset) of each identity's stimulus in this block; None keeps the
        task's ``delays``.
    probabilities : array | None
        Probability of each cue's stimulus in this block, shaped like the task's
        ``probabilities``; None keeps the task's.

    Examples
    --------
    >>> from neurosim.reservoir import Block
    >>> Block(150, delays=(500.0, 600.0))      # identity 0 now comes at 500 ms
    Block(n_trials=150, delays=(500.0, 600.0), probabilities=None)
    """

    n_trials: int
    delays: tuple | None = None
    probabilities: tuple | None = None


def _as_block(b, i):
    if isinstance(b, Block):
        return b
    if isinstance(b, dict):
        unknown = set(b) - {"n_trials", "delays", "probabilities"}
        if unknown:
            raise ValueError(f"block {i}: unknown key(s) {sorted(unknown)}; expected n_trials, "
                             "delays, probabilities")
        if "n_trials" not in b:
            raise ValueError(f"block {i}: n_trials is required")
        return Block(**b)
    if isinstance(b, numbers.Integral) and not isinstance(b, bool):
        return Block(int(b))
    raise TypeError(f"block {i} must be a Block, a dict or an int (number of trials), got "
                    f"{type(b).__name__}: {b!r}")


def _check_probabilities(p, n_id, what):
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[0] != n_id or p.shape[1] < 1:
        raise ValueError(f"{what} must have shape ({n_id},) (one cue per identity) or "
                         f"({n_id}, n_levels) (one cue per identity and level), got "
                         f"{np.shape(p)}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        bad = p[~(np.isfinite(p) & (p >= 0) & (p <= 1))]
        raise ValueError(f"{what} must lie in [0, 1]; got {bad.tolist()}")
    return p


def _check_delays(d, n_id, trial_ms, what):
    d = np.asarray(d, dtype=np.float64)
    if d.shape != (n_id,):
        raise ValueError(f"{what} must have one delay per identity, shape ({n_id},), got "
                         f"{d.shape}")
    if not np.all(np.isfinite(d)) or d.min() <= 0:
        raise ValueError(f"{what} must be positive finite delays (ms), got {d.tolist()}")
    if d.max() >= trial_ms:
        raise ValueError(f"{what}: delay {d.max():g} ms is past the trial length "
                         f"trial_ms={trial_ms:g} ms; every delay must be shorter than the trial")
    return d


class WhatWhenTask:
    r"""Cues that predict which stimulus comes, when, and how likely it is.

    Each trial starts with a cue ``c``. The cue stands for an identity ``k`` (the "what") and a
    probability level: stimulus ``k`` then **occurs with probability** :math:`p_c` at the delay
    :math:`d_k` after cue onset (the "when" and the "how likely"). Whether it occurs is drawn
    per trial: it is a stochastic event, and the teacher of a readout is the event that actually
    happened (:meth:`event_teacher`), never a bump of height :math:`p_c`. A readout that
    predicts the events well therefore peaks at :math:`d_k` with a height of about
    :math:`p_c` on average over trials. Blocks change delays or probabilities without warning.

    The cue reaches the reservoir through cue-specific **time cells**
    (:meth:`input_groups`): for every cue, ``time_cells`` fields tile the trial, each with
    ``time_cell_copies`` Poisson spike sources firing at up to ``time_cell_rate`` Hz around the
    field's centre, only in trials of that cue (as the odour-specific time cells of MacDonald
    et al. 2011, or the "high-dimensional temporal signal" Nicola & Clopath 2017 feed their FORCE
    networks). The stimulus, when it occurs, drives ``stimulus_cells`` spike sources per
    identity for ``stimulus_ms``.

    Parameters
    ----------
    identities : sequence of str
        Names of the ``K`` stimulus identities.
    delays : sequence of float
        Delay (ms) from cue onset of each identity's stimulus, each shorter than ``trial_ms``.
    probabilities : array of shape (K,) or (K, n_levels)
        Probability that the stimulus occurs, in [0, 1]: one cue per identity, or one cue per
        (identity, level) cell. Cues are numbered identity-major, ``c = k * n_levels + level``.
    trial_ms : float
        Length of a trial from cue onset (ms); readouts learn in this window.
    iti_ms : float
        Inter-trial interval (ms) after each trial.
    blocks : int | sequence of Block or dict
        The trials: an int gives one block of that many trials; a sequence gives consecutive
        blocks, each of which may change the delays or the probabilities.
    event_width_ms : float
        Standard deviation (ms) of the Gaussian bump that represents an event in the teacher.
    balanced : bool
        If True (default), in every block each cue appears equally often (to within one trial),
        in random order, and the number of its trials with an event is ``round(p n)``, placed on
        random trials: the event of a given trial stays unpredictable but the block's frequency
        equals ``p``. If False, events are independent Bernoulli draws.
    time_cells, time_cell_copies : int
        Fields per cue, and spike sources per field.
    time_cell_rate : float
        Peak rate (Hz) of a time cell.
    time_cell_process : {"poisson", "regular"}
        Poisson spikes, or a regular train whose rate follows the field (with a random phase per
        trial and a Gaussian jitter of ``time_cell_jitter`` ms).
    time_cell_jitter : float
        Jitter (ms) of the regular trains.
    stimulus_cells : int
        Spike sources per identity (default 0: the stimulus is the teacher and does not drive
        the reservoir; with stimulus input, the readout also learns to detect the stimulus once
        it has come, and its trial average then follows how many events a window happened to
        hold rather than the prediction).
    stimulus_rate, stimulus_ms : float
        Rate (Hz) and duration (ms) of the stimulus burst.
    random_state : None | int | numpy.random.Generator
        Seed of the trial order, the events and the input spikes.

    Attributes
    ----------
    trial_cue, trial_identity, trial_block : ndarray of int, shape (n_trials,)
        Cue, identity index and block of each trial.
    trial_delay, trial_probability : ndarray of float, shape (n_trials,)
        Delay (ms) and probability of the trial's stimulus.
    trial_occurred : ndarray of bool, shape (n_trials,)
        Whether the stimulus occurred.
    trial_start : ndarray of float, shape (n_trials,)
        Cue onset of each trial (ms from the start of the run).

    Examples
    --------
    >>> from neurosim.reservoir import Block, WhatWhenTask
    >>> task = WhatWhenTask(["A", "B"], delays=[300.0, 600.0],
    ...                     probabilities=[[0.2, 0.5, 0.8], [0.2, 0.5, 0.8]],
    ...                     trial_ms=900.0, iti_ms=300.0,
    ...                     blocks=[Block(120), Block(120, delays=(500.0, 600.0))],
    ...                     random_state=0)
    >>> task.n_cues, task.n_trials, task.duration_ms
    (6, 240, 288000.0)
    >>> task.cue_label(4)
    'B p=0.5'
    """

    def __init__(self, identities, delays, probabilities, trial_ms=1200.0, iti_ms=300.0,
                 blocks=200, *, event_width_ms=50.0, balanced=True, time_cells=12,
                 time_cell_copies=4, time_cell_rate=40.0, time_cell_process="regular",
                 time_cell_jitter=2.0, stimulus_cells=0, stimulus_rate=200.0, stimulus_ms=20.0,
                 random_state=None):
        if isinstance(identities, str) or not hasattr(identities, "__len__"):
            raise TypeError(f"identities must be a sequence of names, got {identities!r}")
        identities = tuple(str(x) for x in identities)
        if not identities:
            raise ValueError("identities must name at least one stimulus")
        if len(set(identities)) != len(identities):
            raise ValueError(f"identities must be unique, got {identities}")
        self.identities = identities
        K = len(identities)
        self.trial_ms = check_positive("trial_ms", trial_ms)
        self.iti_ms = check_positive("iti_ms", iti_ms, allow_zero=True)
        self.delays = _check_delays(delays, K, self.trial_ms, "delays")
        self.probabilities = _check_probabilities(probabilities, K, "probabilities")
        self.event_width_ms = check_positive("event_width_ms", event_width_ms)
        self.balanced = bool(balanced)
        self.time_cells = check_size("time_cells", time_cells)
        self.time_cell_copies = check_size("time_cell_copies", time_cell_copies)
        self.time_cell_rate = check_positive("time_cell_rate", time_cell_rate, allow_zero=True)
        if time_cell_process not in ("poisson", "regular"):
            raise ValueError(f"time_cell_process must be 'poisson' or 'regular', got "
                             f"{time_cell_process!r}")
        self.time_cell_process = time_cell_process
        self.time_cell_jitter = check_positive("time_cell_jitter", time_cell_jitter,
                                               allow_zero=True)
        self.stimulus_cells = check_size("stimulus_cells", stimulus_cells, minimum=0)
        self.stimulus_rate = check_positive("stimulus_rate", stimulus_rate, allow_zero=True)
        self.stimulus_ms = check_positive("stimulus_ms", stimulus_ms)
        if isinstance(blocks, (numbers.Integral, Block, dict)) and not isinstance(blocks, bool):
            blocks = [blocks]
        blocks = [_as_block(b, i) for i, b in enumerate(blocks)]
        if not blocks:
            raise ValueError("blocks must hold at least one block")
        self.blocks = []
        for i, b in enumerate(blocks):
            n = check_size(f"block {i}: n_trials", b.n_trials)
            d = self.delays if b.delays is None else _check_delays(
                b.delays, K, self.trial_ms, f"block {i}: delays")
            p = self.probabilities if b.probabilities is None else _check_probabilities(
                b.probabilities, K, f"block {i}: probabilities")
            if p.shape != self.probabilities.shape:
                raise ValueError(f"block {i}: probabilities must have the task's shape "
                                 f"{self.probabilities.shape}, got {p.shape}")
            self.blocks.append(Block(n, tuple(d.tolist()), tuple(map(tuple, p.tolist()))))
        rng = check_random_state(random_state)
        self._seed_inputs = int(rng.integers(2**63 - 1))
        self._draw_schedule(rng)

    # -- structure -------------------------------------------------------------------------
    @property
    def n_identities(self):
        """Number of stimulus identities ``K``."""
        return len(self.identities)

    @property
    def n_levels(self):
        """Probability levels per identity."""
        return self.probabilities.shape[1]

    @property
    def n_cues(self):
        """Number of cues (identity, probability level) cells."""
        return self.probabilities.size

    @property
    def cue_identity(self):
        """Identity index of each cue, shape ``(n_cues,)``."""
        return np.repeat(np.arange(self.n_identities), self.n_levels)

    def cue_label(self, c):
        """A short name of cue ``c``: ``"<identity> p=<probability of the first block>"``.

        Parameters
        ----------
        c : int
            Cue index.

        Returns
        -------
        label : str
        """
        k, level = divmod(int(c), self.n_levels)
        return f"{self.identities[k]} p={self.probabilities[k, level]:g}"

    def block_delays(self, b):
        """Delay (ms) of each identity in block ``b``, shape ``(K,)``.

        Parameters
        ----------
        b : int
            Block index.

        Returns
        -------
        delays : ndarray of shape (K,)
        """
        return np.asarray(self.blocks[b].delays)

    def block_probabilities(self, b):
        """Probability of each cue's stimulus in block ``b``, shape ``(n_cues,)``.

        Parameters
        ----------
        b : int
            Block index.

        Returns
        -------
        probabilities : ndarray of shape (n_cues,)
        """
        return np.asarray(self.blocks[b].probabilities).reshape(-1)

    @property
    def period_ms(self):
        """Trial plus inter-trial interval (ms)."""
        return self.trial_ms + self.iti_ms

    @property
    def n_trials(self):
        """Number of trials over all blocks."""
        return int(self.trial_cue.size)

    @property
    def duration_ms(self):
        """Length of the whole task (ms)."""
        return self.n_trials * self.period_ms

    @property
    def block_starts(self):
        """Index of the first trial of each block."""
        return np.cumsum([0] + [b.n_trials for b in self.blocks[:-1]])

    def _draw_schedule(self, rng):
        cues, blocks, occurred = [], [], []
        for bi, b in enumerate(self.blocks):
            C = self.n_cues
            order = np.concatenate([np.arange(C)] * (b.n_trials // C + 1))[:b.n_trials] \
                if self.balanced else rng.integers(0, C, b.n_trials)
            order = rng.permutation(order) if self.balanced else order
            p = self.block_probabilities(bi)[order]
            if self.balanced:
                occ = np.zeros(b.n_trials, dtype=bool)
                for c in range(C):
                    where = np.flatnonzero(order == c)
                    n_ev = int(np.floor(self.block_probabilities(bi)[c] * where.size + 0.5))
                    occ[rng.choice(where, size=n_ev, replace=False)] = True
            else:
                occ = rng.random(b.n_trials) < p
            cues.append(order)
            blocks.append(np.full(b.n_trials, bi))
            occurred.append(occ)
        self.trial_cue = np.concatenate(cues).astype(np.int64)
        self.trial_block = np.concatenate(blocks).astype(np.int64)
        self.trial_occurred = np.concatenate(occurred)
        self.trial_identity = self.cue_identity[self.trial_cue]
        self.trial_delay = np.array([self.blocks[b].delays[k] for b, k in
                                     zip(self.trial_block, self.trial_identity)], dtype=float)
        self.trial_probability = np.array([self.block_probabilities(b)[c] for b, c in
                                           zip(self.trial_block, self.trial_cue)], dtype=float)
        self.trial_start = np.arange(self.n_trials) * self.period_ms

    # -- signals ---------------------------------------------------------------------------
    def _check_dt(self, dt):
        dt = check_positive("dt", dt)
        for what, value in (("trial_ms", self.trial_ms), ("iti_ms", self.iti_ms)):
            r = value / dt
            if abs(r - round(r)) > 1e-9 * max(r, 1.0):
                raise ValueError(f"{what}={value:g} ms must be a whole number of steps of "
                                 f"dt={dt:g} ms")
        return dt

    def event_times(self):
        """Absolute time (ms) and identity of every stimulus that occurred.

        Returns
        -------
        trials, times, identities : ndarray
            Trial index, time from the start of the run (ms) and identity index of each event.
        """
        trials = np.flatnonzero(self.trial_occurred)
        return (trials, self.trial_start[trials] + self.trial_delay[trials],
                self.trial_identity[trials])

    def event_teacher(self, dt, *, width=None, trials=None):
        """The events that actually happened, as a teacher signal for a readout.

        A Gaussian bump of height 1 and standard deviation ``width`` centred on every stimulus
        that occurred (and nothing on trials without one), sampled every ``dt`` ms over the
        whole task.

        Parameters
        ----------
        dt : float
            Sampling step (ms); ``trial_ms`` and ``iti_ms`` must be whole multiples of it.
        width : float | None
            Standard deviation (ms); None uses ``event_width_ms``.
        trials : slice | None
            Only these trials (the others get zeros).

        Returns
        -------
        teacher : ndarray of shape (n_samples,)
            ``n_samples = duration_ms / dt``.
        """
        dt = self._check_dt(dt)
        width = self.event_width_ms if width is None else check_positive("width", width)
        n_per = int(round(self.period_ms / dt))
        out = np.zeros((self.n_trials, n_per))
        t = np.arange(n_per) * dt
        sel = np.zeros(self.n_trials, dtype=bool)
        sel[trials if trials is not None else slice(None)] = True
        for i in np.flatnonzero(self.trial_occurred & sel):
            out[i] = np.exp(-0.5 * ((t - self.trial_delay[i]) / width) ** 2)
        # an event's bump belongs to its own trial
        out[:, int(round(self.trial_ms / dt)):] = 0.0
        return out.reshape(-1)

    def input_groups(self, dt):
        """The cue and stimulus input as spike generators.

        Parameters
        ----------
        dt : float
            Time step (ms) of the simulation; spikes are placed on its grid.

        Returns
        -------
        time_cells : neurosim.spiking.SpikeGeneratorGroup
            ``"time_cells"``: ``n_cues * time_cells * time_cell_copies`` sources; source
            ``(c * time_cells + m) * time_cell_copies + q`` is copy ``q`` of field ``m`` of cue
            ``c``.
        stimulus_cells : neurosim.spiking.SpikeGeneratorGroup | None
            ``"stimulus_cells"``: ``K * stimulus_cells`` sources (identity-major), or None
            without stimulus cells.

        Notes
        -----
        The spikes are drawn from the task's seed, the same for every ``dt``; two spikes of one
        source in one step of ``dt`` are merged (a spike generator emits one per step).
        """
        from neurosim.spiking import SpikeGeneratorGroup

        dt = self._check_dt(dt)
        rng = np.random.default_rng(self._seed_inputs)
        M, q = self.time_cells, self.time_cell_copies
        spacing = self.trial_ms / M
        centres = (np.arange(M) + 0.5) * spacing
        sd = 0.6 * spacing
        lam = self.time_cell_rate * sd * np.sqrt(2 * np.pi) / 1000.0
        idx, tms = [], []
        from scipy.special import ndtri

        for i in range(self.n_trials):
            c = self.trial_cue[i]
            src = (c * M + np.repeat(np.arange(M), q)) * q + np.tile(np.arange(q), M)
            if self.time_cell_process == "poisson":
                counts = rng.poisson(lam, size=M * q)
                z = rng.standard_normal(int(counts.sum()))
            else:
                # a regular train whose rate follows the field: spikes where the integrated
                # rate crosses k + phase (random phase per trial and source), then jitter
                phase = rng.random(M * q)
                counts = np.floor(lam - phase).astype(np.int64) + 1
                counts[lam <= phase] = 0
                k = np.concatenate([np.arange(n) for n in counts]) if counts.sum() else \
                    np.zeros(0)
                u = (k + np.repeat(phase, counts)) / lam
                z = ndtri(np.clip(u, 1e-12, 1 - 1e-12))
            src = np.repeat(src, counts)
            cen = np.repeat(np.repeat(centres, q), counts)
            t = cen + sd * z
            if self.time_cell_process == "regular" and self.time_cell_jitter > 0:
                t = t + self.time_cell_jitter * rng.standard_normal(t.size)
            keep = (t >= 0) & (t < self.trial_ms)
            idx.append(src[keep])
            tms.append(self.trial_start[i] + t[keep])
        time_cells = SpikeGeneratorGroup(self.n_cues * M * q, *_one_per_step(idx, tms, dt),
                                         name="time_cells")
        stim = None
        if self.stimulus_cells:
            S = self.stimulus_cells
            idx, tms = [], []
            lam = self.stimulus_rate * self.stimulus_ms / 1000.0
            for _i, t0, k in zip(*self.event_times()):
                counts = rng.poisson(lam, size=S)
                src = np.repeat(k * S + np.arange(S), counts)
                idx.append(src)
                tms.append(t0 + rng.random(src.size) * self.stimulus_ms)
            stim = SpikeGeneratorGroup(self.n_identities * S, *_one_per_step(idx, tms, dt),
                                       name="stimulus_cells")
        return time_cells, stim

    def to_dataset(self):
        """The schedule as an :class:`xarray.Dataset` with dimension ``trial``."""
        import xarray as xr

        return xr.Dataset(
            {
                "cue": ("trial", self.trial_cue),
                "identity": ("trial", np.asarray(self.identities)[self.trial_identity]),
                "block": ("trial", self.trial_block),
                "delay": ("trial", self.trial_delay, {"units": "ms"}),
                "probability": ("trial", self.trial_probability),
                "occurred": ("trial", self.trial_occurred),
                "start": ("trial", self.trial_start, {"units": "ms"}),
            },
            coords={"trial": np.arange(self.n_trials)},
        )

    def __repr__(self):
        return (f"WhatWhenTask(identities={list(self.identities)}, delays={self.delays.tolist()}, "
                f"probabilities={self.probabilities.tolist()}, {len(self.blocks)} block(s), "
                f"{self.n_trials} trials)")


def _one_per_step(idx, tms, dt):
    idx = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
    tms = np.concatenate(tms) if tms else np.zeros(0)
    steps = np.floor(tms / dt).astype(np.int64)
    key = np.unique(np.stack([steps, idx.astype(np.int64)], axis=1), axis=0)
    return key[:, 1], key[:, 0] * dt
