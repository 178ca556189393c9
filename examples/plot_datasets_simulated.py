"""
Simulated data sets: NSD-like fMRI, THINGS-like EEG and MEG, DREAMER-like emotion EEG
=====================================================================================

:mod:`neurosim.datasets` generates data in the structure of the public data sets the decoders were
published on, with the ground truth that produced them, so that every model runs on a fresh machine
with no download. This example generates each simulated set and looks at it with the plotting of
the field's usual tools: nilearn for voxels in MNI space, MNE for sensor data.
"""

# %%
# NSD-like fMRI: voxels in occipito-temporal cortex
# -------------------------------------------------
# :func:`~neurosim.datasets.make_fmri_visual` returns one :class:`xarray.Dataset` per subject
# (``"subj01"``, ...), each with its own number of voxels placed at real MNI coordinates of
# occipito-temporal grey matter. Single-trial ``betas`` follow a voxelwise linear encoding of the
# stimulus ``embedding``; the ground-truth ``weights`` and NSD-style ``noise_ceiling`` come along.
import matplotlib.pyplot as plt
import numpy as np
from neurosim.datasets import make_eeg_emotion, make_eeg_things, make_fmri_visual, make_meg_things
from nilearn import plotting

fmri = make_fmri_visual(n_subjects=2, random_state=0)
for name, ds in fmri.items():
    print(name, dict(ds.sizes))
subj = fmri["subj01"]
print(subj)

display = plotting.plot_markers(
    subj.noise_ceiling.values,
    np.column_stack([subj.x, subj.y, subj.z]),
    node_size=6,
    node_cmap="viridis",
    title="subj01: noise ceiling (%) of each simulated voxel",
    colorbar=True,
)

# %%
# The responses are a linear function of the embedding, so ridge regression on single trials
# recovers each voxel's weights (the basis of encoding-model analyses).
from sklearn.linear_model import RidgeCV

X = subj.embedding.values[subj.stimulus.values]  # each trial's stimulus embedding
ridge = RidgeCV(alphas=np.logspace(-3, 3, 7)).fit(X, subj.betas.values)
r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(ridge.coef_, subj.weights.values)])
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.scatter(subj.noise_ceiling, r, s=4)
ax.set(
    xlabel="noise ceiling (%)",
    ylabel="r(estimated, true weights)",
    title="Weight recovery improves with reliability",
)

# %%
# THINGS-EEG2-like EEG
# --------------------
# :func:`~neurosim.datasets.make_eeg_things` projects evoked components of occipito-temporal
# dipoles through an MNE sphere-model forward solution onto the 17 posterior channels of
# THINGS-EEG2 (or the 63-channel, 250 Hz layout). Averaging the test repetitions of one image gives
# an :class:`mne.EvokedArray`.
import mne

eeg = make_eeg_things(n_subjects=1, split="test", n_concepts=10, random_state=0)
print(eeg)
info = mne.create_info(list(eeg.channel.values), eeg.attrs["sfreq"], "eeg")
montage = mne.channels.make_dig_montage(
    ch_pos=dict(zip(eeg.channel.values, eeg.ch_pos.values)), coord_frame="head"
)
info.set_montage(montage)
evoked = mne.EvokedArray(
    eeg.eeg.values[0, 0].mean(0),
    info,
    tmin=float(eeg.time[0]),
    nave=eeg.sizes["repetition"],
    comment="image 0",
)
fig = evoked.plot_joint(
    times=[0.1, 0.17, 0.25], title="Simulated EEG, one image, 20 repetitions", show=False
)

# %%
# THINGS-MEG-like magnetometers
# -----------------------------
# :func:`~neurosim.datasets.make_meg_things` uses the same generative model, seen by point
# magnetometers on a helmet around an MNE spherical conductor; values are in tesla.
meg = make_meg_things(n_subjects=1, split="test", n_concepts=10, random_state=0)
avg = meg.meg.values[0].mean(axis=(0, 1))  # all test images and repetitions
pos = meg.ch_pos.values - [0.0, 0.0, 0.04]
theta = np.arccos(pos[:, 2] / np.linalg.norm(pos, axis=1))  # azimuthal equidistant projection
xy = np.column_stack(
    [np.cos(np.arctan2(pos[:, 1], pos[:, 0])), np.sin(np.arctan2(pos[:, 1], pos[:, 0]))]
)
xy *= theta[:, None] / np.pi * 0.2
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), layout="constrained")
axes[0].plot(meg.time, avg.T * 1e15, lw=0.5, color="k")
axes[0].set(xlabel="time (s)", ylabel="field (fT)", title="Simulated MEG, butterfly")
t170 = int(np.argmin(np.abs(meg.time.values - 0.17)))
mne.viz.plot_topomap(avg[:, t170], xy, axes=axes[1], show=False, sphere=0.2)
axes[1].set_title("170 ms, magnetometers")

# %%
# DREAMER-like emotion EEG
# ------------------------
# :func:`~neurosim.datasets.make_eeg_emotion` synthesises 14 Emotiv channels with a 1/f background
# and emotion-dependent spectral peaks. Higher valence shifts alpha power from the left to the
# right frontal channels (frontal alpha asymmetry); arousal raises beta and gamma power.
emo = make_eeg_emotion(n_subjects=3, n_trials=18, duration=20.0, random_state=0)
psd, freqs = mne.time_frequency.psd_array_welch(
    emo.eeg.values, emo.attrs["sfreq"], fmin=1.0, fmax=45.0, n_fft=256, verbose="error"
)
ch = list(emo.channel.values)
alpha = (freqs >= 8) & (freqs <= 13)
log_alpha = np.log(psd[..., alpha].mean(-1))
faa = log_alpha[..., [ch.index(c) for c in ("AF4", "F8", "F4")]].mean(-1) - log_alpha[
    ..., [ch.index(c) for c in ("AF3", "F7", "F3")]
].mean(-1)
r_faa = np.corrcoef(emo.valence.values.ravel(), faa.ravel())[0, 1]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
o1 = ch.index("O1")
for level, colour in ((1, "tab:blue"), (5, "tab:red")):
    sel = emo.arousal.values == level
    if sel.any():
        axes[0].semilogy(freqs, psd[sel][:, o1].mean(0), color=colour, label=f"arousal {level}")
axes[0].set(xlabel="frequency (Hz)", ylabel="PSD (V²/Hz)", title="O1: 1/f, alpha peak, beta")
axes[0].legend()
axes[1].scatter(
    emo.valence.values.ravel() + np.random.default_rng(0).uniform(-0.15, 0.15, faa.size),
    faa.ravel(),
    s=10,
)
axes[1].set(
    xlabel="valence rating",
    ylabel="ln alpha(right) - ln alpha(left)",
    title=f"Frontal alpha asymmetry (r = {r_faa:.2f})",
)
plt.show()
