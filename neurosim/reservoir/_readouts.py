"""Readouts trained online inside the simulation: the three-factor readout and FORCE (RLS)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.metadata_routing import UNUSED

from .._utils import check_positive, check_size
from ._network import connect_inputs, reservoir_group
from ._rule import attention_gate, replay_consolidation, traces_at
from ._task import WhatWhenTask

WHEN, WHAT, TRACE = "when", "what", "x"


def _signal_dt(dt):
    """Sampling step of teachers and gates: 1 ms when it is a whole number of steps, else dt."""
    r = 1.0 / dt
    return 1.0 if abs(r - round(r)) < 1e-9 and r >= 1 else dt


def _seeds(random_state):
    """Two independent seeds (input connections, backend noise) from ``random_state``."""
    if random_state is None:
        ss = np.random.SeedSequence()
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        ss = np.random.SeedSequence(int(random_state))
    elif isinstance(random_state, np.random.Generator):
        ss = np.random.SeedSequence(int(random_state.integers(2**63 - 1)))
    else:
        raise TypeError("random_state must be None, an int or a numpy.random.Generator, got "
                        f"{type(random_state).__name__}: {random_state!r}")
    a, b = ss.spawn(2)
    return np.random.default_rng(a), int(b.generate_state(1, dtype=np.uint32)[0])


class _TaskReadout(BaseEstimator):
    """Shared machinery: wire the task into the reservoir, run a Session trial by trial, record
    the readouts per trial, call the subclass between blocks."""

    # fit's arguments are the model's inputs, not metadata to route: no set_fit_request
    __metadata_request__fit = {k: UNUSED for k in ("reservoir", "task", "dt", "backend",
                                                   "random_state", "progress")}

    def _check_common(self):
        check_positive("tau_x", self.tau_x)
        check_positive("record_every", self.record_every)
        check_size("segment_trials", self.segment_trials)
        if not 0 < self.p_in <= 1:
            raise ValueError(f"p_in must lie in (0, 1], got {self.p_in!r}")
        check_positive("w_in", self.w_in, allow_zero=True)

    def _gate(self, task, sdt):
        gate = self.gate
        if gate is None:
            return attention_gate(task, sdt)
        if callable(gate):
            arr = np.asarray(gate(task, sdt), dtype=float)
        elif isinstance(gate, tuple) and len(gate) == 2:
            return attention_gate(task, sdt, start=gate[0], stop=gate[1])
        else:
            arr = np.asarray(gate, dtype=float)
        n = int(round(task.duration_ms / sdt))
        if arr.shape != (n,):
            raise ValueError(f"the gate must have one value per {sdt:g} ms sample of the task, "
                             f"shape ({n},), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("the gate contains NaN or inf")
        if not np.any(arr != 0):
            raise ValueError("the gate never opens (it is 0 everywhere): nothing would be learned")
        return arr

    def start(self, reservoir, task, *, dt=0.5, backend="numba", random_state=None,
              **backend_options):
        """Wire ``task`` into ``reservoir`` and open a simulation; no trial is run yet.

        Parameters
        ----------
        reservoir : neurosim.spiking.Network
            Built by :func:`spiking_reservoir` (not modified).
        task : WhatWhenTask
            The task.
        dt : float
            Time step (ms).
        backend : str
            ``"numba"`` or ``"brian2"``.
        random_state : None | int | numpy.random.Generator
            Seed of the input connections and of the backend's noise.
        **backend_options
            Passed to :class:`neurosim.backends.Session` (e.g. ``target="numpy"``).

        Returns
        -------
        self
        """
        from neurosim.backends import Session
        from neurosim.spiking import ReadoutMonitor, Trace

        if not isinstance(task, WhatWhenTask):
            raise TypeError(f"task must be a WhatWhenTask, got {type(task).__name__}")
        group = reservoir_group(reservoir)
        self._check_common()
        self._check_params()
        dt = check_positive("dt", dt)
        task._check_dt(dt)
        every = self.record_every / dt
        per = task.period_ms / self.record_every
        if abs(every - round(every)) > 1e-9 * every or abs(per - round(per)) > 1e-9 * per:
            raise ValueError(f"record_every={self.record_every:g} ms must be a whole number of "
                             f"steps of dt={dt:g} ms and divide the trial period "
                             f"{task.period_ms:g} ms")
        conn_rng, noise_seed = _seeds(random_state)
        net = connect_inputs(reservoir, task.input_groups(dt), p_in=self.p_in, w_in=self.w_in,
                             random_state=conn_rng)
        sdt = _signal_dt(dt)
        x = Trace(group, self.tau_x, increment=1000.0 / self.tau_x, name=TRACE)
        net.add(x)
        readouts = self._add_readouts(net, x, task, dt, sdt)
        for r in readouts:
            net.add(ReadoutMonitor(r, every=self.record_every))
        self.session_ = Session(net, dt, backend=backend, random_state=noise_seed,
                                **backend_options)
        self.task_ = task
        self.dt_ = dt
        self.backend_ = backend
        self.group_ = group
        self._offset = net.offsets()[group.name]
        self.trials_done_ = 0
        self._readout_names = [r.name for r in readouts]
        self._y = {r.name: [] for r in readouts}
        self.spike_counts_ = np.zeros(group.n, dtype=np.int64)
        self.run_time_s_ = 0.0
        return self

    def run_trials(self, n_trials=None, *, progress=False):
        """Run the next ``n_trials`` trials of the task (all remaining ones if None).

        Learning happens inside the simulation; between blocks the readout's block-change step
        runs (offline consolidation, or FORCE's reset of P).

        Returns
        -------
        self
        """
        import time

        if not hasattr(self, "session_"):
            raise RuntimeError("call start(reservoir, task) or fit(reservoir, task) first")
        task = self.task_
        remaining = task.n_trials - self.trials_done_
        n = remaining if n_trials is None else min(check_size("n_trials", n_trials), remaining)
        target = self.trials_done_ + n
        boundaries = list(task.block_starts[1:]) + [task.n_trials]
        while self.trials_done_ < target:
            nxt = next(b for b in boundaries if b > self.trials_done_)
            m = min(self.segment_trials, target - self.trials_done_, nxt - self.trials_done_)
            t0 = time.perf_counter()
            self._before_segment()
            ds = self.session_.run(m * task.period_ms, progress=progress)
            self.run_time_s_ += time.perf_counter() - t0
            self._collect(ds, m)
            self.trials_done_ += m
            if self.trials_done_ == nxt:
                self._block_end(int(task.trial_block[nxt - 1]), last=nxt == task.n_trials)
        return self

    def fit(self, reservoir, task, *, dt=0.5, backend="numba", random_state=None,
            progress=False, **backend_options):
        """Run the whole task, learning online (:meth:`start` then :meth:`run_trials`).

        Parameters
        ----------
        reservoir, task, dt, backend, random_state, **backend_options
            As for :meth:`start`.
        progress : bool
            Show progress bars.

        Returns
        -------
        self
        """
        self.start(reservoir, task, dt=dt, backend=backend, random_state=random_state,
                   **backend_options)
        return self.run_trials(progress=progress)

    # -- store and restore (several continuations of one run) ---------------------------------
    _extra_state = ()

    def _snapshot(self):
        """Keep the simulation and the recordings (see :func:`adaptation_after_switch`)."""
        import copy

        self.session_.store("_readout_snapshot")
        keep = {k: copy.copy(getattr(self, k)) for k in
                ("trials_done_", "run_time_s_", "spike_counts_", *self._extra_state)}
        keep["_y"] = {k: list(v) for k, v in self._y.items()}
        return keep

    def _restore(self, snap):
        import copy

        self.session_.restore("_readout_snapshot")
        for k, v in snap.items():
            setattr(self, k, copy.copy(v) if k != "_y" else {a: list(b) for a, b in v.items()})

    # -- recording ---------------------------------------------------------------------------
    def _before_segment(self):
        pass

    def _collect(self, ds, m):
        per = int(round(self.task_.period_ms / self.record_every))
        for name in self._readout_names:
            y = np.asarray(ds[f"y_{name}"].values)
            self._y[name].append(y[:m * per].reshape(m, per, -1))
        local, _ = self._reservoir_spikes(ds)
        np.add.at(self.spike_counts_, local, 1)
        return ds

    def _reservoir_spikes(self, ds):
        """Neuron (index in the reservoir) and time (ms) of the segment's reservoir spikes."""
        idx = np.asarray(ds["spike_neuron"].values) - self._offset
        t = np.asarray(ds["spike_time"].values)
        inside = (idx >= 0) & (idx < self.group_.n)
        return idx[inside], t[inside]

    @property
    def rates_(self):
        """Mean firing rate (Hz) of every reservoir neuron over the trials run."""
        t = self.trials_done_ * self.task_.period_ms / 1000.0
        return self.spike_counts_ / t if t > 0 else np.zeros(self.group_.n)

    def history(self):
        """The readouts of every trial run so far, with the trials' conditions.

        Returns
        -------
        history : xarray.Dataset
            ``y_when`` (dims ``trial``, ``time``) and, for the three-factor readout, ``y_what``
            (``trial``, ``time``, ``output``, one output per identity): the outputs sampled
            every ``record_every`` ms from cue onset; per-trial coordinates ``cue``,
            ``identity``, ``block``, ``delay``, ``probability``, ``occurred``; attrs
            ``trial_ms``, ``period_ms`` and the readout's parameters.
        """
        import xarray as xr

        task = self.task_
        n = self.trials_done_
        per = int(round(task.period_ms / self.record_every))
        t = np.arange(per) * self.record_every
        sched = task.to_dataset().isel(trial=slice(0, n))
        data = {}
        for name in self._readout_names:
            y = (np.concatenate(self._y[name]) if self._y[name]
                 else np.zeros((0, per, 1)))
            if name == WHAT:
                data[f"y_{name}"] = (("trial", "time", "output"), y)
            else:
                data[f"y_{name}"] = (("trial", "time"), y[:, :, 0])
        ds = xr.Dataset(data, coords={"trial": np.arange(n), "time": t,
                                      **{k: ("trial", sched[k].values) for k in
                                         ("cue", "identity", "block", "delay", "probability",
                                          "occurred")}})
        if WHAT in self._readout_names:
            ds = ds.assign_coords(output=list(task.identities))
        ds["time"].attrs["units"] = "ms"
        ds.attrs.update({"trial_ms": task.trial_ms, "period_ms": task.period_ms,
                         "readout": type(self).__name__, "dt": self.dt_,
                         "backend": self.backend_,
                         **{f"param_{k}": (v if isinstance(v, (int, float, str)) else repr(v))
                            for k, v in self.get_params().items()}})
        return ds

    def weights(self, name=WHEN):
        """Current weights of readout ``name`` (``"when"`` or ``"what"``), ``(n_out, n)``."""
        return self.session_.get_weights(name)


class ThreeFactorReadout(_TaskReadout):
    r"""A readout of the reservoir trained online by an error-modulated, gated three-factor rule.

    Two readouts of the reservoir's filtered spike trains :math:`x` (Hz; time constant
    ``tau_x``):

    - ``"when"`` (one output) predicts *when* a stimulus comes and *how likely* it is; it learns
      online, inside the simulation, by

      .. math::

          \tau_e \dot{\bar e}_j = -\bar e_j + x_j, \qquad
          \dot W_j = \eta\, G(t)\, M(t)\, \bar e_j, \qquad M(t) = \mathrm{teacher}(t) - y(t),

      where the teacher is the event that actually happened
      (:meth:`WhatWhenTask.event_teacher`), :math:`M` the signed prediction error and
      :math:`G` an attention gate open from cue onset to the end of the trial
      (:func:`attention_gate`). The eligibility is presynaptic (``post="none"``), so learning
      starts from ``W = 0``; with ``post="rate"`` (pre x post) it would never start;
    - ``"what"`` (one output per identity) predicts *which* stimulus comes; it learns offline,
      between blocks, by replaying the activity recorded at the moments each stimulus was
      observed (:func:`replay_consolidation`, on the session's weights).

    The engine runs the rule with its eligibility :math:`e = \bar e / (1 - \lambda)`,
    :math:`\lambda = e^{-\Delta t/\tau_e}` (:func:`eligibility_step`), so it is given the learning
    rate :math:`\eta (1 - \lambda)`.

    Parameters
    ----------
    eta : float
        Learning rate :math:`\eta` (per ms per Hz\ :sup:`2`), > 0.
    tau_e : float
        Eligibility time constant (ms).
    tau_x : float
        Time constant (ms) of the filtered spike trains.
    post : {"none", "rate"}
        Postsynaptic factor of the eligibility (see above).
    third_factor : "error" | callable
        ``"error"``: :math:`M = \mathrm{teacher} - y`. A callable ``f(task, dt)`` returning an
        array of shape ``(n_samples,)`` is used as the third factor instead (e.g. a reward or
        surprise signal), sampled every ``dt`` ms over the whole task.
    gate : None | (start, stop) | callable | array
        The gate: None opens it over every trial (:func:`attention_gate`); a ``(start, stop)``
        window in ms from cue onset; a callable ``f(task, dt)``; or an array, one value per
        sample.
    replay_eta : float
        Step of :func:`replay_consolidation`.
    replay_epochs : int
        Replay passes per consolidation (0 disables consolidation).
    replay_offsets : sequence of float
        Moments (ms, relative to each observed stimulus) whose activity is replayed.
    consolidate_every : int | None
        Also consolidate every this many trials (None: only at the end of each block).
    p_in, w_in : float
        Connection probability and weight of the task's inputs (:func:`connect_inputs`).
    record_every : float
        Sampling step (ms) of the recorded readouts.
    segment_trials : int
        Trials per simulation run (memory of the recordings).

    Attributes
    ----------
    session_ : neurosim.backends.Session
        The simulation (its weights: :meth:`weights`).
    trials_done_ : int
        Trials run so far.
    consolidations_ : list of dict
        One entry per consolidation (trial, number of replayed samples).

    Examples
    --------
    >>> from neurosim.reservoir import ThreeFactorReadout, WhatWhenTask, spiking_reservoir
    >>> net = spiking_reservoir(300, random_state=0)
    >>> task = WhatWhenTask(["A", "B"], [300.0, 600.0], [0.8, 0.5], trial_ms=900.0,
    ...                     iti_ms=300.0, blocks=10, random_state=0)
    >>> model = ThreeFactorReadout(eta=2e-7).fit(net, task, random_state=0)  # doctest: +SKIP
    >>> model.history()["y_when"].shape  # doctest: +SKIP
    (10, 240)
    """

    def __init__(self, eta=1e-6, *, tau_e=20.0, tau_x=50.0, post="none", third_factor="error",
                 gate=None, replay_eta=0.5, replay_epochs=5,
                 replay_offsets=(-150.0, -100.0, -50.0, 0.0), consolidate_every=None, p_in=0.1,
                 w_in=6.0, record_every=5.0, segment_trials=50):
        self.eta = eta
        self.tau_e = tau_e
        self.tau_x = tau_x
        self.post = post
        self.third_factor = third_factor
        self.gate = gate
        self.replay_eta = replay_eta
        self.replay_epochs = replay_epochs
        self.replay_offsets = replay_offsets
        self.consolidate_every = consolidate_every
        self.p_in = p_in
        self.w_in = w_in
        self.record_every = record_every
        self.segment_trials = segment_trials

    _extra_state = ("_replay", "consolidations_", "_since")

    def _check_params(self):
        if isinstance(self.eta, bool) or not isinstance(self.eta, numbers.Real) or \
                not np.isfinite(self.eta) or self.eta <= 0:
            raise ValueError(f"eta must be a learning rate > 0, got {self.eta!r}")
        check_positive("tau_e", self.tau_e)
        if self.post not in ("none", "rate"):
            raise ValueError(f"post must be 'none' or 'rate', got {self.post!r}")
        if not (self.third_factor == "error" or callable(self.third_factor)):
            raise ValueError(f"third_factor must be 'error' or a callable f(task, dt), got "
                             f"{self.third_factor!r}")
        check_positive("replay_eta", self.replay_eta)
        check_size("replay_epochs", self.replay_epochs, minimum=0)
        if self.consolidate_every is not None:
            check_size("consolidate_every", self.consolidate_every)

    def _add_readouts(self, net, x, task, dt, sdt):
        from neurosim.spiking import Readout, ThreeFactorRule

        when = Readout(x, 1, name=WHEN)
        what = Readout(x, task.n_identities, name=WHAT)
        lam = float(np.exp(-dt / self.tau_e))
        kwargs = {}
        if self.third_factor == "error":
            kwargs["teacher"] = task.event_teacher(sdt)
        else:
            mod = np.asarray(self.third_factor(task, sdt), dtype=float)
            n = int(round(task.duration_ms / sdt))
            if mod.shape not in ((n,), (n, 1)):
                raise ValueError(f"third_factor(task, dt) must return shape ({n},), got "
                                 f"{mod.shape}")
            kwargs["modulator"] = mod
        rule = ThreeFactorRule(when, eta=self.eta * (1.0 - lam), tau_e=self.tau_e,
                               gate=self._gate(task, sdt), signal_dt=sdt, post=self.post,
                               name="three_factor", **kwargs)
        net.add(when, what, rule)
        self._replay = []
        self.consolidations_ = []
        self._since = 0
        return [when, what]

    def _before_segment(self):
        if self.replay_epochs:
            self._x0 = self.session_.state[f"x_{TRACE}"]
            self._step0 = int(round(self.session_.t / self.dt_))

    def _collect(self, ds, m):
        super()._collect(ds, m)
        if not self.replay_epochs:
            return
        task, dt = self.task_, self.dt_
        first = self.trials_done_
        trials = np.arange(first, first + m)
        occ = trials[task.trial_occurred[trials]]
        if occ.size == 0:
            return
        t_ev = task.trial_start[occ] + task.trial_delay[occ]
        offs = np.asarray(self.replay_offsets, dtype=float)
        t_s = (t_ev[:, None] + offs[None, :]).reshape(-1)
        steps = np.round(t_s / dt).astype(np.int64)
        keep = steps >= self._step0
        spk_n, spk_t = self._reservoir_spikes(ds)
        X = traces_at(np.round(spk_t / dt).astype(np.int64), spk_n,
                      self.group_.n, steps[keep], tau=self.tau_x, increment=1000.0 / self.tau_x,
                      dt=dt, x0=self._x0, step0=self._step0)
        ident = np.repeat(task.trial_identity[occ], offs.size)[keep]
        self._replay.append((X, ident))
        self._since += m
        if self.consolidate_every and self._since >= self.consolidate_every:
            self.consolidate()

    def _block_end(self, block, last):
        if self.replay_epochs:
            self.consolidate()

    def consolidate(self):
        """Offline consolidation now: replay the activity recorded since the last one into the
        ``"what"`` readout (:func:`replay_consolidation`) and write the weights back to the
        session.

        Returns
        -------
        self
        """
        if not self._replay:
            return self
        X = np.concatenate([a for a, _ in self._replay])
        ident = np.concatenate([b for _, b in self._replay])
        T = np.eye(self.task_.n_identities)[ident]
        W = self.session_.get_weights(WHAT)
        W = replay_consolidation(W, X, T, eta=self.replay_eta, epochs=self.replay_epochs,
                                 random_state=self.trials_done_)
        self.session_.set_weights(WHAT, W)
        self.consolidations_.append({"trial": self.trials_done_, "n_samples": int(X.shape[0])})
        self._replay = []
        self._since = 0
        return self


class ForceReadout(_TaskReadout):
    r"""The FORCE baseline: recursive least squares on the same reservoir, task and teacher.

    One readout ``"when"`` of the filtered spike trains, trained every ``every`` ms while the
    gate is open by RLS (Sussillo & Abbott 2009; Nicola & Clopath 2017, as
    :class:`neurosim.spiking.RLSRule`):

    .. math::

        e = y - \mathrm{teacher}, \quad c = P x, \quad W \leftarrow W - e\, c^T, \quad
        P \leftarrow P - \frac{c c^T}{1 + x^T c}, \qquad P_0 = I / \alpha.

    ``P`` estimates the inverse correlation of all the activity seen so far, so its gain
    shrinks like 1/t: without a reset RLS adapts slowly after a change. With
    ``reset_at_block=True`` ``P`` goes back to :math:`I/\alpha` at every block change (the
    "explicit reset" that FORCE needs).

    Parameters
    ----------
    alpha : float
        Regulariser, ``P0 = I / alpha`` (Hz\ :sup:`2`).
    every : float
        Update interval (ms).
    reset_at_block : bool
        Reset ``P`` at each block change.
    gate, tau_x, p_in, w_in, record_every, segment_trials
        As for :class:`ThreeFactorReadout`.

    Examples
    --------
    >>> from neurosim.reservoir import ForceReadout
    >>> ForceReadout(alpha=100.0, every=10.0, reset_at_block=True)
    ForceReadout(alpha=100.0, every=10.0, reset_at_block=True)
    """

    def __init__(self, alpha=100.0, *, every=10.0, reset_at_block=False, gate=None, tau_x=50.0,
                 p_in=0.1, w_in=6.0, record_every=5.0, segment_trials=50):
        self.alpha = alpha
        self.every = every
        self.reset_at_block = reset_at_block
        self.gate = gate
        self.tau_x = tau_x
        self.p_in = p_in
        self.w_in = w_in
        self.record_every = record_every
        self.segment_trials = segment_trials

    _extra_state = ("resets_",)

    def _check_params(self):
        check_positive("alpha", self.alpha)
        check_positive("every", self.every)

    def _add_readouts(self, net, x, task, dt, sdt):
        from neurosim.spiking import Readout, RLSRule

        when = Readout(x, 1, name=WHEN)
        rule = RLSRule(when, teacher=task.event_teacher(sdt), signal_dt=sdt, alpha=self.alpha,
                       every=self.every, gate=self._gate(task, sdt), name="rls")
        net.add(when, rule)
        self.resets_ = []
        return [when]

    def _block_end(self, block, last):
        if self.reset_at_block and not last:
            self.session_.reset_rule("rls")
            self.resets_.append(self.trials_done_)
