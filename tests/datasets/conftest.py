"""Fixtures in the real on-disk formats of the public data sets (small, written by the tests)."""

import gzip
import pickle

import numpy as np
import pytest

DREAMER_CHANNELS = [
    "AF3",
    "F7",
    "F3",
    "FC5",
    "T7",
    "P7",
    "O1",
    "O2",
    "P8",
    "T8",
    "FC6",
    "F4",
    "F8",
    "AF4",
]
EEG2_17 = [
    "P7",
    "P5",
    "P3",
    "P1",
    "Pz",
    "P2",
    "P4",
    "P6",
    "P8",
    "PO7",
    "PO3",
    "POz",
    "PO4",
    "PO8",
    "O1",
    "Oz",
    "O2",
]
NSD_GRID = (6, 7, 5)


def write_idx(path, array):
    """IDX file as distributed with MNIST: magic 0x0000 + dtype code + ndim, big-endian sizes, data."""
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist_src"
    folder.mkdir()
    arrays = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        arrays[prefix] = (images, labels)
    return folder, arrays


def _cell(items, shape):
    out = np.empty(shape, dtype=object)
    for i, item in enumerate(items):
        out.flat[i] = item
    return out


@pytest.fixture(scope="session")
def dreamer_mat(tmp_path_factory):
    """DREAMER.mat: 1x1 struct -> Data 1xN cell -> 1x1 subject struct -> EEG struct -> 18x1 cells."""
    import scipy.io

    rng = np.random.default_rng(0)
    n_subjects, n_films = 2, 18
    subjects, truth = [], {"films": [], "baselines": [], "scores": []}
    for _ in range(n_subjects):
        lengths = rng.integers(3 * 128, 5 * 128, size=n_films)
        films = [4200 + rng.normal(0, 20, size=(n, 14)) for n in lengths]
        bases = [4200 + rng.normal(0, 20, size=(7808, 14)) for _ in range(n_films)]
        scores = rng.integers(1, 6, size=(3, n_films, 1)).astype(np.float64)
        subjects.append(
            {
                "Age": "25",
                "Gender": "female",
                "EEG": {"stimuli": _cell(films, (n_films, 1)), "baseline": _cell(bases, (n_films, 1))},
                "ECG": {
                    "stimuli": _cell([np.zeros((2 * n, 2)) for n in lengths], (n_films, 1)),
                    "baseline": _cell([np.zeros((15616, 2))] * n_films, (n_films, 1)),
                },
                "ScoreValence": scores[0],
                "ScoreArousal": scores[1],
                "ScoreDominance": scores[2],
            }
        )
        truth["films"].append(films)
        truth["baselines"].append(bases)
        truth["scores"].append(scores[..., 0].astype(int))
    dreamer = {
        "Data": _cell(subjects, (1, n_subjects)),
        "EEG_SamplingRate": 128.0,
        "ECG_SamplingRate": 256.0,
        "EEG_Electrodes": _cell(DREAMER_CHANNELS, (1, 14)),
        "noOfSubjects": float(n_subjects),
        "noOfVideoSequences": float(n_films),
        "Disclaimer": "test fixture",
    }
    path = tmp_path_factory.mktemp("dreamer") / "DREAMER.mat"
    scipy.io.savemat(path, {"DREAMER": dreamer})
    return path, truth


def _nsd_design(rng):
    shared = rng.choice(73000, size=1000, replace=False)
    others = np.setdiff1d(np.arange(73000), shared)
    subjectim = np.empty((8, 10000), dtype=np.int64)
    for s in range(8):
        subjectim[s, :1000] = shared
        subjectim[s, 1000:] = rng.choice(others, size=9000, replace=False)
    masterordering = rng.permutation(np.repeat(np.arange(10000), 3))
    return masterordering, subjectim, shared


@pytest.fixture(scope="session")
def nsd_root(tmp_path_factory):
    """NSD release layout: expdesign (1-based), nsdgeneral ROI, two sessions as NIfTI and HDF5."""
    import h5py
    import nibabel as nib
    import scipy.io

    rng = np.random.default_rng(1)
    root = tmp_path_factory.mktemp("nsd")
    order, subjectim, shared = _nsd_design(rng)
    exp = root / "nsddata/experiments/nsd"
    exp.mkdir(parents=True)
    scipy.io.savemat(
        exp / "nsd_expdesign.mat",
        {
            "masterordering": (order + 1)[None, :].astype(np.float64),
            "subjectim": (subjectim + 1).astype(np.float64),
            "sharedix": (shared + 1)[None, :].astype(np.float64),
            "basiccnt": np.zeros((3, 40)),
            "stimpattern": np.zeros((40, 12, 75)),
        },
    )
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    affine[:3, 3] = [-10.0, -20.0, -5.0]
    roi = rng.choice([-1, 0, 1], size=NSD_GRID, p=[0.2, 0.4, 0.4]).astype(np.float32)
    roi_dir = root / "nsddata/ppdata/subj01/func1pt8mm/roi"
    roi_dir.mkdir(parents=True)
    nib.save(nib.Nifti1Image(roi, affine), roi_dir / "nsdgeneral.nii.gz")
    beta_dir = root / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
    beta_dir.mkdir(parents=True)
    sessions = {}
    for n in (1, 2):
        psc = rng.normal(0, 2, size=(*NSD_GRID, 750))
        raw = np.round(psc * 300).astype(np.int16)  # int16, percent signal change x 300
        sessions[n] = raw
        nib.save(nib.Nifti1Image(raw, affine), beta_dir / f"betas_session{n:02d}.nii.gz")
        with h5py.File(beta_dir / f"betas_session{n:02d}.hdf5", "w") as f:
            # MATLAB writes X x Y x Z x 750 with chunks [1 1 1 750]; h5py sees it reversed
            f.create_dataset("betas", data=raw.T, chunks=(750, 1, 1, 1))
    stim = root / "nsddata_stimuli/stimuli/nsd"
    stim.mkdir(parents=True)
    with h5py.File(stim / "nsd_stimuli.hdf5", "w") as f:
        f.create_dataset("imgBrick", data=rng.integers(0, 256, size=(4, 425, 425, 3), dtype=np.uint8))
    return root, dict(
        order=order, subjectim=subjectim, shared=shared, roi=roi, affine=affine, sessions=sessions
    )


@pytest.fixture(scope="session")
def things_eeg2_root(tmp_path_factory):
    """sub-XX/preprocessed_eeg_{training,test}.npy as np.save(dict) (official, 17 ch, 100 Hz)."""
    rng = np.random.default_rng(2)
    root = tmp_path_factory.mktemp("things_eeg2")
    times = np.round(np.arange(100) / 100 - 0.2, 2)
    data = {}
    for s in (1, 2):
        folder = root / f"sub-{s:02d}"
        folder.mkdir()
        for split, shape in (("training", (30, 4, 17, 100)), ("test", (5, 80, 17, 100))):
            x = rng.normal(size=shape)
            np.save(
                folder / f"preprocessed_eeg_{split}.npy",
                {"preprocessed_eeg_data": x, "ch_names": EEG2_17, "times": times},
            )
            data[s, split] = x
    concepts = [f"{c + 1:05d}_concept{c}" for c in range(3) for _ in range(10)]
    np.save(
        root / "image_metadata.npy",
        {
            "train_img_concepts": concepts,
            "train_img_files": [f"{c.split('_')[1]}_{i:02d}s.jpg" for i, c in enumerate(concepts)],
            "test_img_concepts": [f"{c + 1:05d}_test{c}" for c in range(5)],
            "test_img_files": [f"test{c}_01b.jpg" for c in range(5)],
        },
    )
    return root, data


@pytest.fixture
def things_eeg2_250hz(tmp_path):
    """Preprocessed_data_250Hz variant: pickle.dump(dict) despite .npy, 63 ch, 250 samples, 300 times."""
    from neurosim.datasets._simulated_eeg import THINGS_EEG2_63CH

    rng = np.random.default_rng(3)
    folder = tmp_path / "sub-01"
    folder.mkdir()
    x = rng.normal(size=(4, 2, 63, 250))
    with open(folder / "preprocessed_eeg_training.npy", "wb") as f:
        pickle.dump(
            {
                "preprocessed_eeg_data": x,
                "ch_names": THINGS_EEG2_63CH,
                "times": np.round(np.arange(300) / 250 - 0.2, 3),
            },
            f,
        )
    return tmp_path, x
