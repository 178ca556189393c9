"""Private helpers shared by the fMRI decoders: NSD-like data sets to arrays."""

from __future__ import annotations

import numpy as np

_REQUIRED = ("betas", "embedding")


def check_fmri_dataset(ds, name="data"):
    """Raise a clear error unless ``ds`` has the structure of ``make_fmri_visual``'s data sets."""
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{name} must be an xarray.Dataset (one subject of make_fmri_visual or "
                        f"load_nsd), got {type(ds).__name__}")
    missing = [v for v in _REQUIRED if v not in ds] + [c for c in ("stimulus", "shared")
                                                      if c not in ds.coords]
    if missing:
        raise ValueError(f"{name} lacks {missing}; expected betas (trial, voxel) with a "
                         "'stimulus' trial coordinate and embedding (stimulus, feature) with a "
                         "'shared' coordinate")
    if ds["betas"].dims != ("trial", "voxel"):
        raise ValueError(f"{name}.betas must have dims ('trial', 'voxel'), got {ds['betas'].dims}")


def trial_arrays(ds, *, split="train"):
    """Single trials of one subject as arrays.

    Parameters
    ----------
    ds : xarray.Dataset
        One subject.
    split : {"train", "test", "all"}
        Trials of the subject's own (non-shared) stimuli, of the shared stimuli, or all.

    Returns
    -------
    betas : numpy.ndarray, (n_trials, n_voxels) float32
    stimulus : numpy.ndarray, (n_trials,) int
    embedding : numpy.ndarray, (n_trials, n_features) float32
    """
    check_fmri_dataset(ds)
    stim = np.asarray(ds["stimulus"].values).astype(np.int64)
    shared = np.asarray(ds["shared"].values, dtype=bool)
    keep = _split_mask(shared[stim], split)
    emb = np.asarray(ds["embedding"].values, dtype=np.float32)
    betas = np.asarray(ds["betas"].values, dtype=np.float32)[keep]
    return betas, stim[keep], emb[stim[keep]]


def stimulus_arrays(ds, *, split="train"):
    """Repeat-averaged responses of one subject, one row per stimulus it saw.

    Parameters
    ----------
    ds : xarray.Dataset
    split : {"train", "test", "all"}

    Returns
    -------
    betas : numpy.ndarray, (n_stimuli_seen, n_voxels) float32
        Mean over the repeats of each stimulus.
    stimulus : numpy.ndarray, (n_stimuli_seen,) int, sorted
    embedding : numpy.ndarray, (n_stimuli_seen, n_features) float32
    """
    betas, stim, _ = trial_arrays(ds, split=split)
    ids, inverse = np.unique(stim, return_inverse=True)
    sums = np.zeros((len(ids), betas.shape[1]))
    np.add.at(sums, inverse, betas)
    mean = sums / np.bincount(inverse, minlength=len(ids))[:, None]
    emb = np.asarray(ds["embedding"].values, dtype=np.float32)[ids]
    return mean.astype(np.float32), ids, emb


def _split_mask(is_shared, split):
    if split == "train":
        return ~is_shared
    if split == "test":
        return is_shared
    if split == "all":
        return np.ones_like(is_shared)
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")


def load_checkpoint_state(model, state_dict, path):
    """``model.load_state_dict(state_dict)``, or a ValueError naming each shape that differs.

    A checkpoint whose weights do not fit the model its own config builds (e.g. an embedding or
    head size edited by hand, or weights of another configuration) is refused with the names and
    both shapes, instead of torch's generic error.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [f"{k}: checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)}"
             for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append("shapes differ (" + "; ".join(wrong[:5])
                         + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else "") + ")")
        if missing:
            parts.append(f"missing weights {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected weights {unexpected[:5]}")
        raise ValueError(f"the weights in {path} do not match the {type(model).__name__} its "
                         f"config describes: {', '.join(parts)}")
    model.load_state_dict(state_dict)
    return model
