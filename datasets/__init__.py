"""Fetchers, readers and simulated data sets with known ground truth.

Installed as :mod:`neurosim.datasets`; never as a top-level ``datasets`` package, which would shadow
Hugging Face's package of the same name.

* ``make_*`` generate simulated data sets (no download) in the structure of the real ones, with the
  ground truth that produced them: :func:`make_fmri_visual` (NSD-like fMRI), :func:`make_eeg_things`
  and :func:`make_meg_things` (THINGS-EEG2/MEG-like), :func:`make_eeg_emotion` (DREAMER-like).
* :func:`as_torch_dataset` wraps any of them, or an array/HDF5/netCDF file, as a lazily read
  :class:`torch.utils.data.Dataset`.

Importing this package is light: torch, MNE and nilearn are imported by the functions that need them.
"""

from ._base import get_data_home
from ._simulated_eeg import make_eeg_things, make_meg_things
from ._simulated_emotion import make_eeg_emotion
from ._simulated_fmri import make_fmri_visual
from ._torch import as_torch_dataset

__all__ = [
    "as_torch_dataset",
    "get_data_home",
    "make_eeg_emotion",
    "make_eeg_things",
    "make_fmri_visual",
    "make_meg_things",
]
