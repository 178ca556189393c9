"""THINGS-EEG2, THINGS-MEG and THINGS-fMRI readers, and the THINGS-EEG2 fetcher."""

import os
import warnings
from pathlib import Path

import numpy as np

from ._fetch import RemoteFile, fetch_files
from ._specs import eeg_positions

__all__ = ["find_things", "load_things_eeg2", "fetch_things_eeg2", "load_things_meg",
           "load_things_fmri", "things_meg_split"]

_EEG2_FILES = {"train": "preprocessed_eeg_training.npy", "test": "preprocessed_eeg_test.npy"}
_EEG2_HOW = (
    "THINGS-EEG2 (Gifford et al. 2022, NeuroImage 264:119754) is on OSF: preprocessed data at "
    "https://osf.io/anp5v/ (one folder per subject, sub-01 ... sub-10) and image metadata at "
    "https://osf.io/y63gw/. Put sub-XX/preprocessed_eeg_training.npy, sub-XX/preprocessed_eeg_test.npy "
    "and image_metadata.npy in the folder named above."
)
MEG_CATCH_EVENT = 999999
N_MEG_SUBJECTS = 4
#: images per concept of BrainFLORA's zero-shot THINGS-MEG split (``CATEGORY_LIMIT``)
MEG_IMAGES_PER_CONCEPT = 12
_MEG_PROTOCOLS = ("zero-shot", "repetition")


class _Cache:
    """Arrays of a reader, in RAM or in a memory-mapped ``.npy`` file of a cache folder.

    The file is named after a hash of what was read (source files with their sizes and
    modification times, and the reader's parameters), so that an unchanged call reuses it and a
    changed one never overwrites it; it is written under a temporary name and renamed when
    complete (a killed read leaves no half-written cache).
    """

    def __init__(self, folder, what, sources, params):
        import hashlib
        import json

        self.folder = None if folder is None else Path(folder).expanduser()
        key = {"what": what, "params": params,
               "sources": [(str(Path(p).resolve()), Path(p).stat().st_size,
                            Path(p).stat().st_mtime_ns) for p in sources]}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        self.path = None if self.folder is None else self.folder / f"{what}_{digest[:16]}.npy"
        self._tmp = None

    @property
    def hit(self):
        return self.path is not None and self.path.is_file()

    def open(self):
        return np.load(self.path, mmap_mode="r")

    def allocate(self, shape, fill=np.nan):
        if self.folder is None:
            return np.full(shape, fill, dtype=np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npy")
        out = np.lib.format.open_memmap(self._tmp, mode="w+", dtype=np.float32, shape=shape)
        out[...] = fill
        return out

    def finish(self, out):
        if self._tmp is None:
            return out
        out.flush()
        del out
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.open()


def _meg_file(subject):
    return f"preprocessed_P{subject}-epo.fif"


def _fmri_file(subject, kind):
    return f"sub-{subject:02d}_{kind}"  # kind: ResponseData.h5, VoxelMetadata.csv, ...


def _load_pickled_dict(path):
    """``np.save(dict)`` (official) or ``pickle.dump(dict)`` (250 Hz variant) files both load here."""
    obj = np.load(path, allow_pickle=True)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a dict (got {type(obj).__name__})")
    return obj


def _subject_list(subjects, n_max, name):
    if isinstance(subjects, int | np.integer):
        subjects = [subjects]
    subjects = [int(s) for s in subjects]
    for s in subjects:
        if not 1 <= s <= n_max:
            raise ValueError(f"{name} subjects are numbered 1..{n_max}, got {s}")
    return subjects


def load_things_eeg2(root, subjects=(1,), split="train", *, cache=None):
    """Load preprocessed THINGS-EEG2 data as distributed (official 100 Hz or the 250 Hz variant).

    Reads ``<root>/sub-XX/preprocessed_eeg_training.npy`` or ``..._test.npy``: a dict with
    ``preprocessed_eeg_data`` (images, repetitions, channels, times), ``ch_names`` and ``times``.
    The official files (17 channels, 100 Hz, saved with ``np.save``; train (16540, 4, 17, 100),
    test (200, 80, 17, 100)) and the NICE/ATM/BrainFLORA ``Preprocessed_data_250Hz`` files (63
    channels, pickled; 250 samples while ``times`` keeps 300: the first 50 were dropped) are both
    recognised. These files are pickles: only open files from a source you trust.

    Parameters
    ----------
    root : str | path-like
        Folder holding ``sub-01``, ``sub-02``, ... (and optionally ``image_metadata.npy``).
    subjects : int | sequence of int
        Subjects 1-10.
    split : {"train", "test"}
        Training (1654 concepts x 10 images) or test (200 concepts x 1 image) set.
    cache : str | path-like | None
        Folder for a memory-mapped copy of the data: the subjects are read one at a time into it
        (a subject's pickled file must be loaded whole, 4.2 GB for the 63-channel training file),
        so that ten subjects never sit in memory at once; an identical later call reuses it.
        None keeps the data in memory.

    Returns
    -------
    data : xarray.Dataset
        ``eeg`` (subject, image, repetition, channel, time) float32 (MVNN-whitened, arbitrary units);
        coordinates ``subject`` (``"sub-01"``...), ``image`` (row in the file), ``repetition``,
        ``channel``, ``ch_pos`` (channel, xyz; m, standard 10-20 positions), ``time`` (s) and
        ``concept`` (image; 0-based, from ``image_metadata.npy`` when present, else ``image // 10``
        for train and ``image`` for test, the files' ordering), and
        ``image_file`` (image) when the metadata are present; attrs ``sfreq``, ``split``.

    Examples
    --------
    >>> from neurosim.datasets import load_things_eeg2
    >>> root = "~/neurosim_data/things_eeg2"
    >>> ds = load_things_eeg2(root, subjects=[1, 2], split="test")  # doctest: +SKIP
    >>> ds.eeg.shape  # doctest: +SKIP
    (2, 200, 80, 17, 100)
    """
    import xarray as xr

    if split not in _EEG2_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root).expanduser()
    subjects = _subject_list(subjects, 10, "THINGS-EEG2")
    paths = [root / f"sub-{s:02d}" / _EEG2_FILES[split] for s in subjects]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "missing THINGS-EEG2 files:\n  " + "\n  ".join(missing) + "\n" + _EEG2_HOW
        )
    store = _Cache(cache, f"things_eeg2_{split}", paths, {"subjects": subjects})
    out, shape0, ch_names, times = None, None, None, None
    for si, p in enumerate(paths):
        if store.hit and si > 0:
            break  # the cached array holds every subject; the first file gave names and times
        d = _load_pickled_dict(p)
        for key in ("preprocessed_eeg_data", "ch_names", "times"):
            if key not in d:
                raise ValueError(f"{p} has no key {key!r}; keys: {sorted(d)}")
        x = np.asarray(d["preprocessed_eeg_data"])
        if x.ndim != 4:
            raise ValueError(
                f"{p}: expected (images, repetitions, channels, times), got shape {x.shape}"
            )
        names = [str(c) for c in d["ch_names"]]
        t = np.asarray(d["times"], dtype=np.float64)
        if len(names) != x.shape[2] or len(t) < x.shape[3]:
            raise ValueError(
                f"{p}: {len(names)} ch_names and {len(t)} times for data of shape {x.shape}"
            )
        t = t[
            len(t) - x.shape[3] :
        ]  # the 250 Hz variant keeps all 300 times but drops the first 50 samples
        if ch_names is not None and (names != ch_names or not np.allclose(t, times)):
            raise ValueError(f"{p}: channels or times differ from the first subject's")
        if shape0 is not None and x.shape != shape0:
            raise ValueError(f"{p}: shape {x.shape} differs from the first subject's {shape0}")
        ch_names, times, shape0 = names, t, x.shape
        if store.hit:
            out = store.open()
            continue
        if out is None:
            out = store.allocate((len(paths), *x.shape), fill=0.0)
        out[si] = x  # one subject at a time
        del d, x
    if not store.hit:
        out = store.finish(out)
    n_img = shape0[0]
    coords = {
        "subject": [f"sub-{s:02d}" for s in subjects],
        "image": np.arange(n_img),
        "repetition": np.arange(shape0[1]),
        "channel": ch_names,
        "ch_pos": (
            ("channel", "xyz"),
            eeg_positions(tuple(ch_names)),
            {"units": "m", "coord_frame": "head", "source": "standard 10-20 montage"},
        ),
        "time": ("time", times, {"units": "s"}),
    }
    meta_path = root / "image_metadata.npy"
    if meta_path.is_file():
        meta = _load_pickled_dict(meta_path)
        prefix = "train" if split == "train" else "test"
        concepts = [str(c) for c in meta[f"{prefix}_img_concepts"]]
        files = [str(f) for f in meta[f"{prefix}_img_files"]]
        if len(concepts) != n_img or len(files) != n_img:
            raise ValueError(f"{meta_path}: {len(concepts)} {prefix} concepts for {n_img} images")
        coords["concept"] = ("image", np.array([int(c.split("_")[0]) - 1 for c in concepts]))
        coords["concept_name"] = ("image", np.array(["_".join(c.split("_")[1:]) for c in concepts]))
        coords["image_file"] = ("image", np.array(files))
    else:
        coords["concept"] = ("image", np.arange(n_img) // 10 if split == "train" else np.arange(n_img))
    sfreq = float(np.round(1.0 / np.median(np.diff(times)), 6)) if len(times) > 1 else float("nan")
    return xr.Dataset(
        {
            "eeg": (
                ("subject", "image", "repetition", "channel", "time"),
                out,
                {"units": "a.u. (MVNN-whitened)"},
            )
        },
        coords=coords,
        attrs={
            "sfreq": sfreq,
            "split": split,
            "layout": f"{len(ch_names)}ch-{sfreq:g}hz",
            "citation": "Gifford et al. (2022), NeuroImage 264:119754",
        },
    )


def fetch_things_eeg2(data_home=None, subjects=(1,), *, download=True, base_url=None, progress=False):
    """Locate (and, from a mirror, download) the preprocessed THINGS-EEG2 files.

    The data are on OSF (https://osf.io/anp5v/), which gives files no stable direct URL, so
    neurosim does not download from OSF itself: put the files in ``<data_home>/things_eeg2``
    (``sub-XX/preprocessed_eeg_training.npy``, ``sub-XX/preprocessed_eeg_test.npy``,
    ``image_metadata.npy``) or pass ``base_url``, a mirror with that same layout. No checksums are
    published, so mirrored files are downloaded without verification (a warning says so).

    Parameters
    ----------
    data_home : str | path-like | None
        Data folder; None uses ``$NEUROSIM_DATA`` or ``~/neurosim_data``.
    subjects : int | sequence of int
        Subjects 1-10.
    download : bool
        If False, raise :class:`FileNotFoundError` listing missing files instead of downloading.
    base_url : str | None
        Mirror URL (``https://...``, ``file://...``) holding ``sub-XX/...`` files.
    progress : bool
        Show download progress.

    Returns
    -------
    root : pathlib.Path
        The folder to pass to :func:`load_things_eeg2`.

    Examples
    --------
    >>> from neurosim.datasets import fetch_things_eeg2, load_things_eeg2
    >>> root = fetch_things_eeg2(subjects=[1], download=False)  # doctest: +SKIP
    >>> ds = load_things_eeg2(root, subjects=[1])  # doctest: +SKIP
    """
    subjects = _subject_list(subjects, 10, "THINGS-EEG2")
    names = [f"sub-{s:02d}/{f}" for s in subjects for f in _EEG2_FILES.values()] + ["image_metadata.npy"]
    base = None if base_url is None else base_url.rstrip("/") + "/"
    files = [RemoteFile(n, None if base is None else base + n, None) for n in names]
    paths = fetch_files(
        files,
        folder="things_eeg2",
        dataset="THINGS-EEG2",
        download=download,
        data_home=data_home,
        instructions=_EEG2_HOW,
        progress=progress,
    )
    return paths[-1].parent


def _read_image_paths(path):
    """THINGS' ``image_paths.csv``: one image path per row, no header (row i = MEG event i + 1)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"THINGS-MEG needs THINGS' image list {path.name} at {path}: one image path per row "
            "(e.g. images/aardvark/aardvark_01b.jpg; row i is MEG event i + 1), from the THINGS "
            "metadata (Metadata/Image-specific/image_paths.csv, https://osf.io/jum2f/)")
    rows = [r.strip().strip('"') for r in path.read_text().splitlines() if r.strip()]
    if not rows:
        raise ValueError(f"{path} is empty")
    return rows


def _concept_of(image_path):
    """THINGS concept of an image path: its folder (``images/<concept>/<file>``)."""
    parts = image_path.replace("\\", "/").split("/")
    return parts[-2] if len(parts) >= 2 else image_path


def _read_test_concepts(root):
    """The 200 zero-shot test concepts of THINGS-EEG2, from ``test_concepts.txt`` or the
    ``test_img_concepts`` of THINGS-EEG2's ``image_metadata.npy`` (``"00001_aircraft_carrier"``)."""
    txt, meta = root / "test_concepts.txt", root / "image_metadata.npy"
    if txt.is_file():
        return [c.strip() for c in txt.read_text().splitlines() if c.strip()]
    if meta.is_file():
        d = _load_pickled_dict(meta)
        if "test_img_concepts" in d:
            return ["_".join(str(c).split("_")[1:]) for c in d["test_img_concepts"]]
    raise FileNotFoundError(
        f"the zero-shot THINGS-MEG split needs THINGS-EEG2's 200 test concepts: put "
        f"test_concepts.txt (one concept per line, e.g. aircraft_carrier) or THINGS-EEG2's "
        f"image_metadata.npy in {root}, or pass test_concepts=...")


def things_meg_split(events, image_paths, test_concepts, *,
                     images_per_concept=MEG_IMAGES_PER_CONCEPT):
    """BrainFLORA's zero-shot split of THINGS-MEG by THINGS-EEG2's concepts.

    As ``utils/split_meg_rerank.py`` of the official code: catch trials (999999) and repeated
    presentations are dropped (each image once), every image goes to the test set if its concept
    is one of THINGS-EEG2's 200 test concepts and to the training set otherwise, and each concept
    keeps its first ``images_per_concept`` images in event order (12: 1,654 training concepts x 12
    images, 200 test concepts x 12). Training and test concepts never overlap. Concepts with fewer
    images are left out (the official script keeps them, which misaligns its 12-per-concept
    indexing).

    Parameters
    ----------
    events : array-like of int
        MEG event values (1-based rows of ``image_paths``).
    image_paths : sequence of str
        THINGS' ``image_paths.csv`` rows (``images/<concept>/<file>``).
    test_concepts : sequence of str
        The test concepts (THINGS-EEG2's, e.g. ``"aircraft_carrier"``).
    images_per_concept : int
        Images kept per concept.

    Returns
    -------
    split : dict
        ``"train"``: event values (n_train_concepts * images_per_concept,), grouped by concept;
        ``"train_concept"``: their concepts; ``"test"``: event values (n_test_concepts,
        images_per_concept); ``"test_concept"``: the test concepts, in event order.

    Examples
    --------
    >>> from neurosim.datasets import things_meg_split
    >>> paths = [f"images/{c}/{c}_{i:02d}.jpg" for c in ("ant", "bee", "cat") for i in range(2)]
    >>> split = things_meg_split([1, 2, 3, 4, 4, 5, 6, 999999], paths, ["bee"],
    ...                          images_per_concept=2)
    >>> split["train"].tolist(), split["test"].tolist()
    ([1, 2, 5, 6], [[3, 4]])
    """
    events = np.asarray(events, dtype=np.int64)
    ids = np.unique(events[events != MEG_CATCH_EVENT])
    if ids.size and (ids.min() < 1 or ids.max() > len(image_paths)):
        raise ValueError(f"MEG events run from {ids.min()} to {ids.max()} but image_paths has "
                         f"{len(image_paths)} rows (event i is row i, 1-based)")
    test_set = {str(c) for c in test_concepts}
    groups = {}
    for e in ids:  # ascending event ids: the official sort
        groups.setdefault(_concept_of(image_paths[e - 1]), []).append(int(e))
    missing = sorted(test_set - set(groups))
    if missing:
        warnings.warn(f"{len(missing)} test concepts have no MEG image, e.g. {missing[:3]}",
                      UserWarning, stacklevel=2)
    train, train_concept, test, test_concept, short = [], [], [], [], []
    for concept, evs in groups.items():
        if len(evs) < images_per_concept:
            short.append(concept)
            continue
        if concept in test_set:
            test.append(evs[:images_per_concept])
            test_concept.append(concept)
        else:
            train.extend(evs[:images_per_concept])
            train_concept.extend([concept] * images_per_concept)
    if short:
        warnings.warn(f"{len(short)} concepts have fewer than {images_per_concept} MEG images and "
                      f"are left out, e.g. {short[:3]}", UserWarning, stacklevel=2)
    return {"train": np.asarray(train, dtype=np.int64), "train_concept": np.asarray(train_concept),
            "test": np.asarray(test, dtype=np.int64).reshape(-1, images_per_concept),
            "test_concept": np.asarray(test_concept)}


def load_things_meg(root, subjects=(1,), split="train", *, picks="meg", decim=1,
                    protocol="zero-shot", crop="auto", image_paths=None, test_concepts=None,
                    images_per_concept=MEG_IMAGES_PER_CONCEPT, cache=None):
    """Load THINGS-MEG preprocessed epochs (``preprocessed_P{n}-epo.fif``) through MNE.

    Catch trials (event 999999) are dropped; event values are 1-based rows of THINGS'
    ``image_paths.csv``. Two splits:

    - ``protocol="zero-shot"`` (BrainFLORA's, :func:`things_meg_split`): training = 1,654
      concepts x 12 images, one trial each; test = THINGS-EEG2's 200 test concepts x 12 images,
      as ``(image, repetition)`` = (concept, its 12 images) so that averaging the repetitions
      gives the official per-concept test responses (the ``image`` coordinate is the concept's
      first image, the official ``img_features[::12]`` target); cropped to 0-1 s (201 samples).
    - ``protocol="repetition"``: images shown once train, images shown repeatedly (the 200
      THINGS-MEG test images x 12) test. Not zero-shot: the test concepts are also in training.

    The data are read subject by subject in blocks of 512 epochs; with ``cache`` they go into a
    memory-mapped file, so that four subjects (17 GB of float32) never sit in memory at once.

    Parameters
    ----------
    root : str | path-like
        Folder holding ``preprocessed_P1-epo.fif`` ... (or one such file when loading one subject),
        and for the zero-shot split ``image_paths.csv`` and ``test_concepts.txt`` (or THINGS-EEG2's
        ``image_metadata.npy``).
    subjects : int | sequence of int
        Participants 1-4.
    split : {"train", "test"}
        Which part.
    picks : str | list
        Channels, as :meth:`mne.Epochs.pick` takes them.
    decim : int
        Keep every ``decim``-th sample (the files are at 200 Hz).
    protocol : "zero-shot" | "repetition"
        The split (see above).
    crop : (float, float) | None | "auto"
        Keep ``tmin <= t <= tmax`` (s); ``"auto"``: (0, 1) for the zero-shot split, everything
        (-0.1 to 1.3 s) for the repetition split.
    image_paths : str | path-like | sequence of str | None
        THINGS' ``image_paths.csv`` (None: ``<root>/image_paths.csv``); zero-shot only.
    test_concepts : sequence of str | None
        The test concepts (None: read from ``<root>``); zero-shot only.
    images_per_concept : int
        Zero-shot: images per concept (12).
    cache : str | path-like | None
        Folder for a memory-mapped copy of the data (reused by an identical later call); None
        keeps the data in memory.

    Returns
    -------
    data : xarray.Dataset
        ``meg`` (subject, image, repetition, channel, time) float32 in the files' units (tesla, or
        z-scores after the official baseline normalisation), NaN where a subject lacks a trial;
        coordinates ``subject`` (``"P1"``...), ``image`` (0-based row of ``image_paths.csv``),
        ``repetition``, ``channel``, ``ch_pos`` (channel, xyz; sensor positions from the file, m,
        device frame), ``time`` (s), and for the zero-shot split ``concept`` (image) and
        ``image_row`` (image, repetition); attrs ``sfreq``, ``split``, ``protocol``.

    Examples
    --------
    >>> from neurosim.datasets import load_things_meg
    >>> ds = load_things_meg("~/neurosim_data/things_meg", subjects=[1], split="test")  # doctest: +SKIP
    >>> ds.meg.shape  # 200 concepts x 12 images, 271 channels, 0-1 s at 200 Hz  # doctest: +SKIP
    (1, 200, 12, 271, 201)
    """
    import mne
    import xarray as xr

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if protocol not in _MEG_PROTOCOLS:
        raise ValueError(f"protocol must be one of {_MEG_PROTOCOLS}, got {protocol!r}")
    if int(decim) < 1:
        raise ValueError(f"decim must be a positive int, got {decim}")
    root = Path(root).expanduser()
    subjects = _subject_list(subjects, 4, "THINGS-MEG")
    if root.is_file():
        if len(subjects) != 1:
            raise ValueError("root is a single file: give exactly one subject")
        paths, folder = [root], root.parent
    else:
        paths, folder = [root / _meg_file(s) for s in subjects], root
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "missing THINGS-MEG files:\n  "
            + "\n  ".join(missing)
            + "\nTHINGS-MEG (Hebart et al. 2023) is OpenNeuro ds004212; the preprocessed epochs are "
            "in its "
            "derivatives/preprocessed folder."
        )
    if crop == "auto":
        crop = (0.0, 1.0) if protocol == "zero-shot" else None
    per_subject = []
    for p in paths:
        epochs = mne.read_epochs(p, preload=False, verbose="error")
        per_subject.append((epochs, epochs.events[:, 2]))
    sources = list(paths)
    if protocol == "zero-shot":
        if image_paths is None or isinstance(image_paths, (str, os.PathLike)):
            ip_file = folder / "image_paths.csv" if image_paths is None else Path(image_paths)
            rows = _read_image_paths(ip_file)
            sources.append(ip_file)
        else:
            rows = [str(r) for r in image_paths]
        concepts = _read_test_concepts(folder) if test_concepts is None else list(test_concepts)
        common = per_subject[0][1]
        for _, ev in per_subject[1:]:
            common = np.intersect1d(common, ev)
        sp = things_meg_split(common, rows, concepts, images_per_concept=images_per_concept)
        if split == "train":
            layout = sp["train"][:, None]  # (image, repetition=1) of event values
            coords_extra = {"concept": ("image", sp["train_concept"])}
        else:
            layout = sp["test"]
            coords_extra = {"concept": ("image", sp["test_concept"]),
                            "image_row": (("image", "repetition"), layout - 1)}
        if layout.size == 0:
            raise ValueError(f"the zero-shot split has no {split} images: check image_paths.csv "
                             "and the test concepts")
        images = layout[:, 0]
    else:
        coords_extra = {}
        chosen_per = []
        for _, events in per_subject:
            keep = events != MEG_CATCH_EVENT
            ids, counts = np.unique(events[keep], return_counts=True)
            chosen_per.append(ids[counts == 1] if split == "train" else ids[counts > 1])
        images = chosen_per[0]
        for chosen in chosen_per[1:]:
            images = np.intersect1d(images, chosen)
        if images.size == 0:
            raise ValueError(
                f"no {split} images (shown {'once' if split == 'train' else 'repeatedly'}) found"
            )
        n_rep = max(int(np.max(np.unique(ev[np.isin(ev, images)], return_counts=True)[1]))
                    for _, ev in per_subject)
        layout = None
    # resolve `picks` on one loaded epoch; the data are then read block by block
    first = per_subject[0][0]
    ch_names = first[:1].load_data().pick(picks).ch_names
    times = first.times
    tsel = np.ones(len(times), dtype=bool)
    if crop is not None:
        tmin, tmax = crop
        tsel = (times >= tmin - 1e-9) & (times <= tmax + 1e-9)
        if not tsel.any():
            raise ValueError(f"crop={crop} keeps no sample of epochs from {times[0]:g} to "
                             f"{times[-1]:g} s")
    tidx = np.flatnonzero(tsel)[:: int(decim)]
    n_rep = layout.shape[1] if layout is not None else n_rep
    shape = (len(paths), len(images), n_rep, len(ch_names), len(tidx))
    store = _Cache(cache, f"things_meg_{split}", sources,
                   {"picks": picks, "decim": int(decim), "protocol": protocol, "crop": crop,
                    "ipc": images_per_concept, "subjects": subjects,
                    "concepts": None if protocol != "zero-shot" else sorted(map(str, concepts))})
    if store.hit:
        out = store.open()
    else:
        out = store.allocate(shape)
        for s, (epochs, events) in enumerate(per_subject):
            if not set(ch_names) <= set(epochs.ch_names):
                raise ValueError(f"{paths[s].name}: channels differ from the first subject's")
            if layout is not None:  # each event once (its first presentation) at its slot
                first_of = {}
                for i, e in enumerate(events):
                    first_of.setdefault(int(e), i)
                slot = {int(e): (i, r) for i, row in enumerate(layout) for r, e in enumerate(row)}
                sel = np.array(sorted(first_of[e] for e in slot if e in first_of), dtype=np.int64)
            else:
                pos = {im: i for i, im in enumerate(images)}
                sel = np.flatnonzero(np.isin(events, images))
                seen = {}
            for start in range(0, len(sel), 512):  # in blocks: never a whole file in float64
                block = sel[start:start + 512]
                data = epochs.get_data(picks=ch_names, item=block, verbose="error")[..., tidx]
                for e, x in zip(block, data):
                    im = int(events[e])
                    if layout is not None:
                        i, r = slot[im]
                    else:
                        i, r = pos[im], seen.get(im, 0)
                        seen[im] = r + 1
                    out[s, i, r] = x
        out = store.finish(out)
    sfreq = first.info["sfreq"] / int(decim)
    loc = {ch["ch_name"]: ch["loc"][:3] for ch in first.info["chs"]}
    ch_pos = np.array([loc[c] for c in ch_names], dtype=np.float64)
    return xr.Dataset(
        {"meg": (("subject", "image", "repetition", "channel", "time"), out)},
        coords={
            "subject": [f"P{s}" for s in subjects],
            "image": images - 1,
            "repetition": np.arange(n_rep),
            "channel": list(ch_names),
            "ch_pos": (("channel", "xyz"), ch_pos, {"units": "m", "coord_frame": "meg device"}),
            "time": ("time", times[tidx], {"units": "s"}),
            **coords_extra,
        },
        attrs={
            "sfreq": float(sfreq),
            "split": split,
            "protocol": protocol,
            "citation": "Hebart et al. (2023), eLife 12:e82580",
        },
    )


def _decode(values):
    return [
        v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v
        for v in values
    ]


def _read_pandas_fixed(path, key):
    """Read a pandas ``to_hdf(format="fixed")`` DataFrame with h5py (no PyTables needed)."""
    import h5py
    import pandas as pd

    with h5py.File(path, "r") as f:
        if key not in f:
            raise ValueError(f"{path} has no group {key!r}; it has {sorted(f.keys())}")
        g = f[key]
        if "axis0" not in g or "block0_values" not in g:
            raise ValueError(
                f"{path}[{key!r}] is not a pandas fixed-format frame (no axis0/block0_values)"
            )
        columns = _decode(g["axis0"][()])
        index = _decode(g["axis1"][()])
        n_blocks = int(g.attrs.get("nblocks", sum(k.endswith("_values") for k in g)))
        data = {}
        for b in range(n_blocks):
            items = _decode(g[f"block{b}_items"][()])
            node = g[f"block{b}_values"]
            values = node[()]
            if bool(node.attrs.get("transposed", False)):
                values = values.T  # pandas stores blocks as (rows, items) and flags them "transposed"
            if values.shape != (len(items), len(index)):
                raise ValueError(
                    f"{path}: block{b} has shape {values.shape}, expected {(len(items), len(index))}"
                )
            for item, col in zip(items, values):
                data[item] = col
    return pd.DataFrame({c: data[c] for c in columns}, index=index)


def load_things_fmri(root, subject=1, *, rois=None):
    """Load THINGS-fMRI single-trial responses (the figshare ``betas_csv`` release) of one subject.

    Reads ``sub-0X_ResponseData.h5`` (pandas HDF: one row per voxel, a ``voxel_id`` column and one
    column per trial), ``sub-0X_VoxelMetadata.csv`` (voxel information and boolean ROI columns such
    as ``V1``, ``hV4``, ``lFFA``) and ``sub-0X_StimulusMetadata.csv`` (one row per trial: ``trial_type``
    train/test, ``stimulus``, ``session``, ``concept``, ...). Uses :func:`pandas.read_hdf` when PyTables
    is installed, and reads the fixed-format layout directly with h5py otherwise.

    Parameters
    ----------
    root : str | path-like
        Folder holding the three files.
    subject : int
        Subject 1-3.
    rois : list of str | None
        Keep voxels flagged in any of these ROI columns; None keeps all.

    Returns
    -------
    data : xarray.Dataset
        ``betas`` (trial, voxel) float32; trial coordinates from the stimulus metadata (``trial_type``,
        ``stimulus``, ``session``, ``concept``, ...) plus ``repeat`` (0-based presentation count of the
        stimulus); voxel coordinates ``voxel_id`` and every voxel-metadata column (ROI flags as bool).

    Examples
    --------
    >>> from neurosim.datasets import load_things_fmri
    >>> root = "~/neurosim_data/things_fmri"
    >>> ds = load_things_fmri(root, subject=1, rois=["V1", "V2"])  # doctest: +SKIP
    >>> test = ds.isel(trial=ds.trial_type.values == "test")  # doctest: +SKIP
    """
    import pandas as pd
    import xarray as xr

    root = Path(root).expanduser()
    subject = _subject_list(subject, 3, "THINGS-fMRI")[0]
    paths = {
        k: root / _fmri_file(subject, k)
        for k in ("ResponseData.h5", "VoxelMetadata.csv", "StimulusMetadata.csv")
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "missing THINGS-fMRI files:\n  "
            + "\n  ".join(missing)
            + "\nThe single-trial responses are on figshare "
            "(doi:10.25452/figshare.plus.20492835, betas_csv)."
        )
    try:
        import tables  # noqa: F401

        resp = pd.read_hdf(paths["ResponseData.h5"])
    except ImportError:
        resp = _read_pandas_fixed(paths["ResponseData.h5"], "ResponseData")
    if "voxel_id" not in resp.columns:
        raise ValueError(f"{paths['ResponseData.h5'].name} has no 'voxel_id' column")
    voxels = pd.read_csv(paths["VoxelMetadata.csv"])
    stims = pd.read_csv(paths["StimulusMetadata.csv"])
    trial_cols = [c for c in resp.columns if c != "voxel_id"]
    if len(trial_cols) != len(stims):
        raise ValueError(
            f"{len(trial_cols)} trial columns in the responses but {len(stims)} rows of "
            "stimulus metadata"
        )
    if "voxel_id" in voxels.columns:
        voxels = voxels.set_index("voxel_id").loc[resp["voxel_id"].to_numpy()].reset_index()
    elif len(voxels) != len(resp):
        raise ValueError(f"{len(voxels)} rows of voxel metadata for {len(resp)} voxels")
    betas = resp[trial_cols].to_numpy(dtype=np.float32).T
    keep = np.ones(len(resp), dtype=bool)
    if rois is not None:
        unknown = [r for r in rois if r not in voxels.columns]
        if unknown:
            raise ValueError(f"unknown ROI columns {unknown}; voxel metadata has {list(voxels.columns)}")
        keep = voxels[list(rois)].astype(bool).any(axis=1).to_numpy()
    coords = {"voxel_id": ("voxel", resp["voxel_id"].to_numpy()[keep])}
    for c in voxels.columns:
        if c != "voxel_id":
            col = voxels[c].to_numpy()[keep]
            coords[str(c)] = ("voxel", col.astype(bool) if voxels[c].dtype == bool else col)
    for c in stims.columns:
        coords[str(c)] = ("trial", stims[c].to_numpy())
    if "stimulus" in stims.columns:
        coords["repeat"] = ("trial", stims.groupby("stimulus").cumcount().to_numpy())
    if betas.shape[1] and not np.isfinite(betas).all():
        warnings.warn("THINGS-fMRI responses contain NaN/inf values", UserWarning, stacklevel=2)
    return xr.Dataset(
        {"betas": (("trial", "voxel"), betas[:, keep])},
        coords=coords,
        attrs={"subject": f"sub-{subject:02d}", "citation": "Hebart et al. (2023), eLife 12:e82580"},
    )


# ----------------------------------------------------------------------------------------------
# a folder of THINGS recordings with image embeddings (BrainFLORA's real-data input)
# ----------------------------------------------------------------------------------------------
EMBEDDING_SUFFIXES = (".npz", ".npy", ".pt", ".h5", ".hdf5")


def _embedding_file(root, name, what):
    from ._embeddings import load_embeddings

    found = [root / f"embeddings_{name}{suffix}" for suffix in EMBEDDING_SUFFIXES]
    found = [p for p in found if p.is_file()]
    if not found:
        raise FileNotFoundError(
            f"no stimulus-embedding file embeddings_{name}.<npz|npy|pt|h5> in {root}: it must hold "
            f"one row per {what} (e.g. CLIP image features saved with "
            "neurosim.datasets.save_embeddings; see load_embeddings for the formats)"
        )
    if len(found) > 1:
        raise ValueError(f"several embedding files embeddings_{name}.* in {root}: "
                         f"{[p.name for p in found]}; keep one")
    emb = load_embeddings(found[0])
    values = np.asarray(emb.values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{found[0].name} contains NaN or inf values")
    return found[0].name, values


def _find_eeg2(root, subjects, cache=None):
    out = {}
    for split in ("train", "test"):
        ds = load_things_eeg2(root, subjects=subjects, split=split, cache=cache)
        what = f"image of the THINGS-EEG2 {split} files, in their order"
        name, emb = _embedding_file(root, split, what)
        if len(emb) != ds.sizes["image"]:
            raise ValueError(
                f"{name} has {len(emb)} rows but the THINGS-EEG2 {split} files have "
                f"{ds.sizes['image']} images: one embedding row per image is expected"
            )
        out[split] = ds.assign(embedding=(("image", "feature"), emb))
    tr, te = out["train"], out["test"]
    text = (f"THINGS-EEG2 (subjects {', '.join(tr['subject'].values)}; "
            f"{tr.sizes['image']} training images x {tr.sizes['repetition']} repetitions, "
            f"{te.sizes['image']} test images x {te.sizes['repetition']} repetitions averaged; "
            f"{tr.sizes['channel']} channels x {tr.sizes['time']} samples; "
            f"{tr.sizes['feature']}-d image embeddings)")
    return out, text


def _find_meg(root, subjects, protocol="zero-shot", cache=None):
    name, emb = _embedding_file(root, "meg", "row of THINGS' image_paths.csv (the MEG event value - 1)")
    if protocol == "zero-shot":
        rows = _read_image_paths(root / "image_paths.csv")
        if len(emb) != len(rows):
            raise ValueError(f"{name} has {len(emb)} rows but image_paths.csv lists {len(rows)} "
                             "images: one embedding row per image of image_paths.csv is expected")
    out = {}
    for split in ("train", "test"):
        ds = load_things_meg(root, subjects=subjects, split=split, protocol=protocol, cache=cache)
        images = ds["image"].values
        if images.max() >= len(emb):
            raise ValueError(f"{name} has {len(emb)} rows but the THINGS-MEG files show image "
                             f"{images.max() + 1} (1-based row of image_paths.csv)")
        # repetitions that some subject lacks (NaN) are dropped rather than averaged in
        values = ds["meg"].values
        complete = np.ones(values.shape[2], dtype=bool)
        for si in range(values.shape[0]):  # in chunks: never the whole array at once
            for i in range(0, values.shape[1], 256):
                chunk = values[si, i:i + 256]
                complete &= np.isfinite(chunk).all(axis=(0, 2, 3))
        if not complete.any():
            raise ValueError(f"no THINGS-MEG {split} repetition is complete for every subject")
        if not complete.all():
            ds = ds.isel(repetition=np.flatnonzero(complete))
        out[split] = ds.assign(embedding=(("image", "feature"), emb[images]))
    tr, te = out["train"], out["test"]
    if protocol == "zero-shot":
        text = (f"THINGS-MEG, zero-shot concept split (subjects {', '.join(tr['subject'].values)}; "
                f"{tr.sizes['image']} training images of {len(np.unique(tr['concept'].values))} "
                f"concepts, {te.sizes['image']} test concepts x {te.sizes['repetition']} images "
                f"averaged; {tr.sizes['channel']} channels x {tr.sizes['time']} samples; "
                f"{tr.sizes['feature']}-d image embeddings)")
    else:
        text = (f"THINGS-MEG (subjects {', '.join(tr['subject'].values)}; "
                f"{tr.sizes['image']} training images, {te.sizes['image']} test images x "
                f"{te.sizes['repetition']} repetitions averaged; {tr.sizes['channel']} channels x "
                f"{tr.sizes['time']} samples; {tr.sizes['feature']}-d image embeddings)")
    return out, text


def find_things(path, *, max_subjects=None, meg_protocol="zero-shot", cache=None):
    """Read the THINGS-EEG2 and/or THINGS-MEG recordings in a folder, with image embeddings.

    The folder ``path`` holds the data of at least one modality:

    - EEG: ``sub-XX/preprocessed_eeg_training.npy`` and ``sub-XX/preprocessed_eeg_test.npy`` for one
      or more subjects ``XX`` in 01-10, as distributed on OSF (read by :func:`load_things_eeg2`;
      the official 17-channel 100 Hz files or the 63-channel 250 Hz variant), with
      ``embeddings_train.<ext>`` and ``embeddings_test.<ext>`` (``ext`` one of ``npz``, ``npy``,
      ``pt``, ``h5``, ``hdf5``; read by :func:`load_embeddings`): (image, feature) image
      embeddings, row ``i`` for image ``i`` of the EEG files (16540 training and 200 test images
      in the official release), e.g. CLIP features. BrainFLORA's ``ViT-H-14_features_train.pt``
      / ``..._test.pt`` (key ``img_features``) can be linked under these names.
    - MEG: ``preprocessed_P1-epo.fif`` ... ``preprocessed_P4-epo.fif`` (THINGS-MEG, OpenNeuro
      ds004212 derivatives; read by :func:`load_things_meg`, MEG channels), THINGS'
      ``image_paths.csv`` and THINGS-EEG2's test concepts (``test_concepts.txt`` or
      ``image_metadata.npy``) for BrainFLORA's zero-shot concept split (1,654 training concepts x
      12 images, 200 test concepts x 12 images averaged, 0-1 s; :func:`things_meg_split`), with
      ``embeddings_meg.<ext>``: row ``i`` for row ``i`` of ``image_paths.csv`` (event value
      ``i + 1``).

    THINGS-fMRI tables are not read (a warning says so when they are present).

    Parameters
    ----------
    path : str | path-like
        The folder.
    max_subjects : int | None
        Use only the first ``max_subjects`` subjects found of each modality (None: all).
    meg_protocol : "zero-shot" | "repetition"
        The THINGS-MEG split (:func:`load_things_meg`).
    cache : str | path-like | None
        Folder for memory-mapped copies of the recordings (read subject by subject; see
        :func:`load_things_eeg2` and :func:`load_things_meg`); None keeps them in memory.

    Returns
    -------
    data : dict
        Per modality found (``"eeg"``, ``"meg"``), ``{"train": Dataset, "test": Dataset}``, the
        readers' data sets with ``embedding`` (image, feature) added (the input of
        :func:`neurosim.decoding.prepare_retrieval_data`).
    description : str
        What was read, for a report.

    Examples
    --------
    >>> from neurosim.datasets import find_things
    >>> data, text = find_things("~/neurosim_data/things")  # doctest: +SKIP
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"data must be a folder holding THINGS-EEG2 and/or THINGS-MEG files, got {str(path)!r}"
        )
    files = tuple(_EEG2_FILES.values())
    eeg_subjects = sorted(int(d.name[4:]) for d in root.glob("sub-[0-9][0-9]")
                          if d.is_dir() and all((d / f).is_file() for f in files))
    meg_subjects = [s for s in range(1, N_MEG_SUBJECTS + 1) if (root / _meg_file(s)).is_file()]
    if not eeg_subjects and not meg_subjects:
        raise FileNotFoundError(
            f"no THINGS-EEG2 or THINGS-MEG data in {root}: expected sub-XX/{files[0]} and "
            f"sub-XX/{files[1]} (XX in 01-10, from https://osf.io/anp5v/) and/or "
            f"{_meg_file('N')} (N in 1-{N_MEG_SUBJECTS}, OpenNeuro ds004212)"
        )
    fmri = sorted(p.name for p in root.glob(_fmri_file(0, "ResponseData.h5").replace("00", "0*")))
    if fmri:
        warnings.warn(f"find_things does not read THINGS-fMRI; ignoring {fmri}", UserWarning,
                      stacklevel=2)
    data, texts = {}, []
    if eeg_subjects:
        data["eeg"], text = _find_eeg2(root, eeg_subjects[:max_subjects], cache=cache)
        texts.append(text)
    if meg_subjects:
        data["meg"], text = _find_meg(root, meg_subjects[:max_subjects], meg_protocol, cache)
        texts.append(text)
    return data, f"{' and '.join(texts)} from {root}"
