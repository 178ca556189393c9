"""Protocols: re-adaptation after a block switch."""

from __future__ import annotations

from .._utils import check_size
from ._analysis import trials_to_criterion


def adaptation_after_switch(readout, reservoir, task, *, max_trials=300, window=20,
                            check_every=10, tolerance=0.1, variants=None, dt=0.5,
                            backend="numba", random_state=None, progress=False,
                            **backend_options):
    """Train on the first block, switch, and count the trials until the criteria hold again.

    The readout learns the task's first block (the same pre-switch training for every readout
    given the same task and seed), then runs the second block in steps of ``check_every`` trials
    until a window of ``window`` trials meets both criteria of :func:`prediction_scores`
    (:func:`trials_to_criterion`), or ``max_trials`` trials have run.

    Parameters
    ----------
    readout : ThreeFactorReadout | ForceReadout
        An unfitted readout (it is started here).
    reservoir : neurosim.spiking.Network
        From :func:`spiking_reservoir`.
    task : WhatWhenTask
        At least two blocks; the switch is the start of the second.
    max_trials : int
        Cap on the trials after the switch (and on the answer).
    window, check_every : int
        Window of the criteria and how often (trials) to check.
    tolerance : float
        Relative timing tolerance.
    variants : dict of str to callable | None
        Several continuations of the same pre-switch training: each callable ``f(readout)`` is
        applied at the switch (e.g. ``lambda r: r.session_.reset_rule("rls")``, FORCE with reset),
        after which the second block runs from the same stored state. None: one continuation,
        named ``""``.
    dt, backend, random_state, progress, **backend_options
        As for :meth:`ThreeFactorReadout.start`.

    Returns
    -------
    results : dict of str to dict
        Per variant: ``trials`` (trials to criterion, or None if not met within ``max_trials``),
        ``trials_capped`` (``trials`` or ``max_trials``), ``switch`` (first trial of the second
        block) and ``history`` (the readout's :meth:`history`, pre- and post-switch).
    """
    if len(task.blocks) < 2:
        raise ValueError("the task needs at least two blocks (the switch is the start of the "
                         "second)")
    max_trials = check_size("max_trials", max_trials)
    window = check_size("window", window)
    check_every = check_size("check_every", check_every)
    switch = int(task.block_starts[1])
    n_post = min(max_trials, task.blocks[1].n_trials)
    variants = {"": None} if variants is None else dict(variants)
    readout.start(reservoir, task, dt=dt, backend=backend, random_state=random_state,
                  **backend_options)
    readout.run_trials(switch, progress=progress)
    snap = readout._snapshot() if len(variants) > 1 else None
    out = {}
    for k, (name, action) in enumerate(variants.items()):
        if k:
            readout._restore(snap)
        if action is not None:
            action(readout)
        found, checked = None, 0
        while found is None and readout.trials_done_ < switch + n_post:
            step = min(check_every, switch + n_post - readout.trials_done_)
            readout.run_trials(step, progress=progress)
            done = readout.trials_done_ - switch
            if done >= window:
                # only the windows that end in the trials just run
                found = trials_to_criterion(readout.history(), switch, window=window,
                                            tolerance=tolerance, first=max(checked + 1, 1))
                checked = done
        out[name] = {"trials": found, "trials_capped": max_trials if found is None else found,
                     "switch": switch, "history": readout.history()}
    return out
