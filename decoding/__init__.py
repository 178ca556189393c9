"""Brain decoders (PyTorch): BrainFLORA, MindBridge, BraInCoRL, HiSTN, and their shared trainer.

Installed as :mod:`neurosim.decoding`. Importing it is cheap and needs neither Brian2 nor torch:
each public name is imported from its module when first used, so that the subpackage also works
on machines where Brian2 cannot be installed.
"""

import importlib

# public name -> private module that defines it (one line per module; keep sorted by module)
_LAZY = {
    **dict.fromkeys(["Trainer"], "_trainer"),
    **dict.fromkeys(["TorchRidgeCV", "LinearClassifier"], "baselines"),
    **dict.fromkeys(["HiSTN", "gaussian_ordinal_labels", "preprocess_dreamer", "make_windows",
                     "time_block_folds", "subject_dependent_split", "leave_one_subject_out_split",
                     "majority_vote_labels"], "_histn"),
    **dict.fromkeys(["BrainFLORA", "clip_loss", "round_robin_batches", "retrieval_scores",
                     "prepare_retrieval_data"], "_brainflora"),
    **dict.fromkeys(["MindBridge", "reset_tune", "mindbridge_batches", "soft_clip_loss",
                     "mindbridge_memory_estimate"], "_mindbridge"),
    **dict.fromkeys(["BraInCoRL", "braincorl_tasks"], "_braincorl"),
}
_SUBMODULES = ("metrics", "baselines")

__all__ = sorted([*_LAZY, *_SUBMODULES])


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
