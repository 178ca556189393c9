"""A spiking reservoir that learns "what", "when" and "how likely" with a three-factor readout.

After Yamada & Chao (2025), "Joint encoding of 'what' and 'when' predictions through
error-modulated plasticity in reservoir spiking networks" (whose methods and numbers could not be
obtained: the thresholds of this package's tests and experiment are this project's targets).

Network
    :func:`spiking_reservoir` (heterogeneous Izhikevich 2003 neurons, sparse random recurrent
    weights), :func:`connect_inputs`.
Task
    :class:`WhatWhenTask` (cues, stimuli that occur with a probability, blocks that change
    delays or probabilities without warning) and :class:`Block`.
Readouts, trained online inside the simulation on either backend
    :class:`ThreeFactorReadout` (error-modulated, gated three-factor rule; offline
    consolidation between blocks) and :class:`ForceReadout` (RLS, with or without reset).
Rule pieces
    :func:`eligibility_step`, :func:`prediction_error`, :func:`attention_gate`,
    :func:`weight_step`, :func:`three_factor_step`, :func:`replay_consolidation`,
    :func:`traces_at`.
Analysis
    :func:`trial_average`, :func:`peak_times`, :func:`peak_heights`,
    :func:`prediction_scores`, :func:`learning_curve`, :func:`trials_to_criterion`,
    :func:`what_accuracy`,
    :func:`principal_angles`, :func:`random_subspace_angles`,
    :func:`subspace_angles_with_null`; the protocol :func:`adaptation_after_switch`.
"""

from ._analysis import (
    learning_curve,
    peak_heights,
    peak_times,
    prediction_scores,
    principal_angles,
    random_subspace_angles,
    subspace_angles_with_null,
    trial_average,
    trials_to_criterion,
    what_accuracy,
)
from ._network import connect_inputs, spiking_reservoir
from ._protocols import adaptation_after_switch
from ._readouts import ForceReadout, ThreeFactorReadout
from ._rule import (
    attention_gate,
    eligibility_step,
    prediction_error,
    replay_consolidation,
    three_factor_step,
    traces_at,
    weight_step,
)
from ._task import Block, WhatWhenTask

__all__ = [
    "Block", "ForceReadout", "ThreeFactorReadout", "WhatWhenTask", "adaptation_after_switch",
    "attention_gate", "connect_inputs", "eligibility_step", "learning_curve", "peak_heights",
    "peak_times", "prediction_error",
    "prediction_scores", "principal_angles", "random_subspace_angles", "replay_consolidation",
    "spiking_reservoir", "subspace_angles_with_null", "three_factor_step", "traces_at",
    "trial_average", "trials_to_criterion", "weight_step", "what_accuracy",
]
