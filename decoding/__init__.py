"""Brain decoders (PyTorch): BrainFLORA, MindBridge, BraInCoRL, HiSTN, and their shared trainer.

Installed as :mod:`neurosim.decoding`. The modules are split by job:

=======================  =======================================================================
module                   what it holds
=======================  =======================================================================
``_histn``, ...          one model each (:class:`HiSTN`, :class:`BrainFLORA`, :class:`MindBridge`,
                         :class:`BraInCoRL`), all built on :class:`DecoderMixin` (``_base``):
                         ``get_config``/``from_config``, ``save``/``load``, ``random_state``,
                         ``predict``
:mod:`.losses`           the training losses (CLIP, SoftCLIP, ordinal cross-entropy)
:mod:`.samplers`         the batch streams of each model's training
:mod:`.preprocessing`    from data sets to the arrays the models train on
:mod:`.model_selection`  the papers' protocols: splits and folds, training recipes, curves
:mod:`.metrics`          retrieval, classification, Seq2HR, voxelwise scores
:mod:`.baselines`        ridge (torch) and band-power logistic regression
``_trainer``             :class:`Trainer`: device, mixed precision, checkpoints, history
=======================  =======================================================================

Importing it is cheap and needs neither Brian2 nor torch: each public name is imported from its
module when first used, so that the subpackage also works on machines where Brian2 cannot be
installed (a GPU node with torch and the scientific stack only).
"""

from neurosim._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["baselines", "losses", "metrics", "model_selection", "preprocessing", "samplers"],
    submod_attrs={
        "_base": ["DecoderMixin"],
        "_trainer": ["Trainer"],
        "_histn": ["DREAMER_CHANNELS", "HiSTN"],
        "_brainflora": ["BrainFLORA", "PATCH_AUGMENTATIONS"],
        "_mindbridge": ["MindBridge", "mindbridge_memory_estimate", "reset_tune"],
        "_braincorl": ["BraInCoRL"],
        "_fmri_classifier": ["FMRIClassifier"],
        "baselines": ["BraInCoRLRidgeCV", "CorrelationClassifier", "LinearClassifier",
                      "TorchRidgeCV", "TorchRidgeClassifierCV"],
        "losses": ["clip_loss", "gaussian_ordinal_labels", "normalized_mse_loss",
                   "ordinal_cross_entropy", "soft_clip_loss"],
        "samplers": ["braincorl_tasks", "mindbridge_batches", "round_robin_batches"],
        "preprocessing": ["epochs_array", "make_windows", "pick_montage",
                          "prepare_retrieval_data", "preprocess_dreamer", "things_epochs"],
        "metrics": ["retrieval_scores"],
        "model_selection": ["BRAINFLORA_RECIPES", "HISTN_RECIPES", "brainflora_retrieval",
                            "class_balanced_crops", "crop_batches", "fit_brainflora",
                            "fit_histn", "histn_fold_starts", "histn_held_out_films",
                            "histn_leave_one_subject_out", "histn_subject_dependent",
                            "leave_one_run_out", "leave_one_subject_out_split", "majority_vote_labels",
                            "meta_train", "one_cycle_schedule",
                            "reset_tuning_curve", "retrieval_by_subject",
                            "ridge_retrieval_baseline", "scaling_curve",
                            "subject_dependent_split", "time_block_folds"],
    },
)
