"""Domain constants of the data sets, defined once: channel lists, layouts and sensor positions.

Readers (``_dreamer``, ``_things``, ``_nsd``) and simulators (``_simulated_*``) both import from
here; readers never import a simulator. File layouts of a data set live next to its reader
(``_nsd.EXPDESIGN``, ``_things._EEG2_FILES``, ...), which is the only module that builds paths.
"""

import functools

import numpy as np

#: Emotiv EPOC channel order used by DREAMER
DREAMER_CHANNELS = [
    "AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4",
]  # fmt: skip
#: DREAMER: the neutral clip before each film lasts 61 s (7808 samples at 128 Hz)
DREAMER_BASELINE_S = 61.0

#: THINGS-EEG2 official preprocessing: the 17 occipital and parietal channels (regex ``^O *|^P *``)
THINGS_EEG2_17CH = [
    "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8",
    "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2",
]  # fmt: skip
#: THINGS-EEG2 63 channels (Preprocessed_data_250Hz variant used by NICE/ATM/BrainFLORA)
THINGS_EEG2_63CH = (
    "Fp1 Fp2 AF7 AF3 AFz AF4 AF8 F7 F5 F3 F1 F2 F4 F6 F8 FT9 FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8 FT10 "
    "T7 C5 C3 C1 Cz C2 C4 C6 T8 TP9 TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8 TP10 P7 P5 P3 P1 Pz P2 P4 P6 P8 "
    "PO7 PO3 POz PO4 PO8 O1 Oz O2"
).split()


def standard_montage():
    """MNE's standard 10-20 montage (``colin27_1020`` on MNE >= 1.13, else ``standard_1020``)."""
    import mne

    # MNE >= 1.13 renamed the standard montages after their template head
    name = "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else "standard_1020"
    return mne.channels.make_standard_montage(name)


@functools.lru_cache(maxsize=8)
def eeg_positions(names):
    """Head-frame positions (m) of 10-20/10-10 channel ``names`` (a tuple); NaN for unknown names."""
    import mne

    info = mne.create_info(list(names), 100.0, "eeg")
    info.set_montage(standard_montage(), on_missing="ignore", verbose=False)
    pos = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=np.float64)
    pos[~np.isfinite(pos).all(1) | (np.abs(pos).sum(1) == 0)] = np.nan
    pos.setflags(write=False)
    return pos
