"""Fetchers, readers and simulated data sets with known ground truth.

Installed as :mod:`neurosim.datasets`; never as a top-level ``datasets`` package, which would shadow
Hugging Face's package of the same name.

* ``load_*`` read the public data sets in their real on-disk formats with no network: NSD
  (:func:`load_nsd`, and the derived MindEye1 webdataset, MindEye2 and BraInCoRL files), Haxby et
  al. (2001) (:func:`load_haxby`), THINGS-EEG2, THINGS-MEG, THINGS-fMRI, DREAMER,
  MNIST/Fashion-MNIST and precomputed stimulus embeddings.
* ``find_*`` discover a data set's layout in a folder and read what is there, in the structure
  the decoders take: :func:`find_nsd` (NSD release + stimulus embeddings), :func:`find_nsd_braincorl`
  (BraInCoRL's NSD arrays), :func:`find_things` (THINGS-EEG2/MEG + image embeddings). Nothing
  reads real data unless its folder is named (``neurosim run ... --data PATH``).
* ``fetch_*`` download openly available files into the data home (:func:`get_data_home`) with
  pooch: checksums where known, atomic renames, resumable transfers, clear offline errors.
* ``make_*`` generate simulated data sets (no download) in the structure of the real ones, with the
  ground truth that produced them: :func:`make_fmri_visual` (NSD-like fMRI), :func:`make_fmri_blocks`
  (a Haxby-like block design), :func:`make_eeg_things`
  and :func:`make_meg_things` (THINGS-EEG2/MEG-like), :func:`make_eeg_emotion` (DREAMER-like).
* :func:`as_torch_dataset` wraps any of them, or an array/HDF5/netCDF file, as a lazily read
  :class:`torch.utils.data.Dataset`.

A file a reader cannot read (empty, truncated, another format, a missing key, wrong shapes)
raises :class:`DataFormatError`, a :class:`ValueError` naming the file, the format expected and
the likely cause, never a library's own error.

Importing this package is light: torch, MNE and nilearn are imported by the functions that need them.
"""

from ._base import DataFormatError, get_data_home
from ._dreamer import load_dreamer
from ._embeddings import load_embeddings, save_embeddings
from ._haxby import load_haxby
from ._mindeye import load_mindeye_webdataset
from ._mnist import fetch_mnist, load_mnist, read_idx
from ._mnist_subset import load_mnist_subset
from ._nsd import (
    fetch_nsd,
    find_nsd,
    find_nsd_braincorl,
    load_nsd,
    load_nsd_braincorl,
    load_nsd_expdesign,
    load_nsd_images,
    load_nsd_mindeye2,
)
from ._simulated_eeg import make_eeg_things, make_meg_things
from ._simulated_emotion import make_eeg_emotion
from ._simulated_fmri import make_fmri_blocks, make_fmri_visual
from ._specs import DREAMER_CHANNELS, THINGS_EEG2_63CH
from ._things import (
    fetch_things_eeg2,
    find_things,
    load_things_eeg2,
    load_things_fmri,
    load_things_meg,
    things_meg_split,
)
from ._torch import as_torch_dataset

__all__ = [
    "DREAMER_CHANNELS",
    "DataFormatError",
    "THINGS_EEG2_63CH",
    "as_torch_dataset",
    "fetch_mnist",
    "fetch_nsd",
    "fetch_things_eeg2",
    "find_nsd",
    "find_nsd_braincorl",
    "find_things",
    "get_data_home",
    "load_dreamer",
    "load_embeddings",
    "load_haxby",
    "load_mindeye_webdataset",
    "load_mnist",
    "load_mnist_subset",
    "load_nsd",
    "load_nsd_braincorl",
    "load_nsd_expdesign",
    "load_nsd_images",
    "load_nsd_mindeye2",
    "load_things_eeg2",
    "load_things_fmri",
    "load_things_meg",
    "make_eeg_emotion",
    "make_eeg_things",
    "make_fmri_blocks",
    "make_fmri_visual",
    "make_meg_things",
    "read_idx",
    "save_embeddings",
    "things_meg_split",
]
