"""The Trainer's checkpoint folder: owned files only, last k kept, fallbacks, fingerprint, resume.

The cases of ``reliability-probe.md`` ("Trainer checkpoints") are here: user files next to the
checkpoints are neither deleted nor loaded, damaged checkpoints are reported by name and the
previous one is used, and a resumed fit with other settings or data raises (or, with
``resume="force"``, warns and uses the new learning rate).
"""

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.decoding import Trainer, _checkpoints  # noqa: E402

MANIFEST = _checkpoints.MANIFEST


def _data(n=48, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] - X[:, 2] > 0).astype(np.int64)
    return X, y


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(8, 2))


def _fit(folder, epochs, *, model=None, data=None, quiet=True, **kwargs):
    model = _model() if model is None else model
    X, y = _data() if data is None else data
    kwargs = {"batch_size": 16, "lr": 1e-2, "device": "cpu", "random_state": 1, **kwargs}
    tr = Trainer(max_epochs=epochs, checkpoint_dir=folder, **kwargs)
    with warnings.catch_warnings():
        if quiet:
            warnings.filterwarnings("ignore", message="resuming from checkpoint")
        tr.fit(model, (X, y))
    return tr, model


def _weights(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def _equal(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_user_files_are_never_deleted_nor_loaded(tmp_path):
    # probe: a user's backup next to the checkpoint was deleted; a user file sorting last was
    # loaded and crashed inside torch
    _fit(tmp_path, 2)
    backup = tmp_path / "checkpoint_epoch00002_backup.pt"
    backup.write_bytes((tmp_path / "checkpoint_epoch00002.pt").read_bytes())
    notes = tmp_path / "checkpoint_epoch_notes.pt"
    notes.write_text("my notes")
    tr, _ = _fit(tmp_path, 4)
    assert tr.resumed_from_ == 2 and tr.stopped_epoch_ == 4
    assert backup.exists() and notes.read_text() == "my notes"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["checkpoint_epoch00002_backup.pt", "checkpoint_epoch00003.pt",
                     "checkpoint_epoch00004.pt", "checkpoint_epoch_notes.pt", MANIFEST]


def test_user_file_in_a_fresh_folder_is_ignored(tmp_path):
    # probe: 'checkpoint_epoch00000_keep.pt' in a fresh folder crashed the fit
    keep = tmp_path / "checkpoint_epoch00000_keep.pt"
    keep.write_bytes(b"not a checkpoint")
    tr, _ = _fit(tmp_path, 1)
    assert tr.resumed_from_ == 0 and keep.read_bytes() == b"not a checkpoint"


def test_a_file_with_the_trainers_name_that_it_did_not_write_is_not_overwritten(tmp_path):
    mine = tmp_path / "checkpoint_epoch00002.pt"
    mine.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="checkpoint_epoch00002.pt, which this Trainer did "
                                              "not write"):
        _fit(tmp_path, 3)
    assert mine.read_bytes() == b"precious"
    assert not (tmp_path / "checkpoint_epoch00001.pt").exists()  # refused before training


def test_keeps_the_last_k(tmp_path):
    _fit(tmp_path / "a", 4)
    assert sorted(p.name for p in (tmp_path / "a").glob("*.pt")) == [
        "checkpoint_epoch00003.pt", "checkpoint_epoch00004.pt"]
    _fit(tmp_path / "b", 4, keep_checkpoints=3)
    assert len(list((tmp_path / "b").glob("*.pt"))) == 3
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    assert [e["epoch"] for e in manifest["checkpoints"]] == [2, 3, 4]
    assert all(len(e["sha256"]) == 64 and e["bytes"] > 0 for e in manifest["checkpoints"])
    with pytest.raises(ValueError, match="keep_checkpoints must be >= 1"):
        _fit(tmp_path / "c", 1, keep_checkpoints=0)


@pytest.mark.parametrize("damage", ["truncated", "empty", "text", "flipped"])
def test_unreadable_newest_falls_back_to_the_previous(tmp_path, damage):
    _, reference = _fit(tmp_path / "ref", 4)
    folder = tmp_path / "run"
    _fit(folder, 3)
    newest = folder / "checkpoint_epoch00003.pt"
    raw = bytearray(newest.read_bytes())
    if damage == "truncated":
        newest.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        newest.write_bytes(b"")
    elif damage == "text":
        newest.write_text("hello")
    else:
        raw[len(raw) // 3] ^= 0xFF
        newest.write_bytes(bytes(raw))
    reason = {"truncated": "truncated", "empty": "truncated", "text": "truncated",
              "flipped": "SHA-256 mismatch"}[damage]
    with pytest.warns(UserWarning, match=rf"checkpoint .*checkpoint_epoch00003.pt is unreadable "
                                         rf"\(.*{reason}.*\); resuming from the previous one"):
        tr, model = _fit(folder, 4)
    assert tr.resumed_from_ == 2
    # epochs 3 and 4 trained again from the epoch-2 state: the uninterrupted run's weights
    assert _equal(_weights(model), _weights(reference))


def test_no_readable_checkpoint_names_every_file(tmp_path):
    _fit(tmp_path, 2)
    for p in tmp_path.glob("checkpoint_epoch*.pt"):
        p.write_bytes(b"")
    with pytest.raises(ValueError, match=r"no readable checkpoint .*checkpoint_epoch00002.pt: "
                                         r"truncated.*checkpoint_epoch00001.pt: truncated"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _fit(tmp_path, 3)
    tr, _ = _fit(tmp_path, 1, resume=False)  # the way out the error names
    assert tr.resumed_from_ == 0
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch00001.pt"]


def test_a_foreign_torch_file_listed_in_the_manifest_is_not_a_checkpoint(tmp_path):
    # written through the store, so its checksum matches: the content check refuses it
    store = _checkpoints.CheckpointStore(tmp_path, keep=2)
    store.save(torch, {"weights": torch.zeros(2)}, 1)
    with pytest.raises(ValueError, match="checkpoint_epoch00001.pt: it is not a neurosim Trainer "
                                         "checkpoint"):
        _fit(tmp_path, 2)


def test_a_second_fit_with_other_data_lr_and_seed_raises(tmp_path):
    # probe: trained 0 epochs and silently returned the old weights
    _fit(tmp_path, 2)
    with pytest.raises(ValueError) as err:
        _fit(tmp_path, 2, data=_data(n=40, seed=5), lr=0.5, random_state=9)
    msg = str(err.value)
    assert "checkpoint_epoch00002.pt (epoch 2) was written by a run with other" in msg
    assert "lr: checkpoint 0.01, now 0.5" in msg
    assert "random_state: checkpoint 1, now 9" in msg
    assert "train data: checkpoint ((48, 6) float32, (48,) int64), now ((40, 6) float32" in msg
    assert "resume='force'" in msg


def test_force_resume_uses_the_new_learning_rate(tmp_path):
    # probe: lr 1e-3 -> 0.5 on resume kept 1e-3 without a word
    _fit(tmp_path, 2, lr=1e-3)
    with pytest.warns(UserWarning, match=r"resume='force'.*lr: checkpoint 0.001, now 0.5"):
        tr, _ = _fit(tmp_path, 4, lr=0.5, resume="force")
    np.testing.assert_allclose(tr.history_["lr"].values, [1e-3, 1e-3, 0.5, 0.5])
    assert tr.resumed_from_ == 2


def test_resume_announces_the_checkpoint_once(tmp_path):
    _fit(tmp_path, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr, _ = _fit(tmp_path, 3, quiet=False)
    said = [str(w.message) for w in caught if "resuming" in str(w.message)]
    assert len(said) == 1
    assert "checkpoint_epoch00002.pt (epoch 2); 1 of max_epochs=3 left to train" in said[0]
    assert tr.history_.attrs["resumed_from_epoch"] == 2


def test_onecycle_with_more_epochs_is_a_clear_error_or_a_rebuilt_schedule(tmp_path):
    # torch raised "Tried to step 5 times. The specified number of total steps is 4"
    X, y = _data(n=32)
    _fit(tmp_path, 2, data=(X, y), scheduler="onecycle")
    with pytest.raises(ValueError, match=r"scheduler_total_steps: checkpoint 4, now 8 \(max_epochs"):
        _fit(tmp_path, 4, data=(X, y), scheduler="onecycle")
    with pytest.warns(UserWarning, match="resume='force'"):
        tr, _ = _fit(tmp_path, 4, data=(X, y), scheduler="onecycle", resume="force")
    # the 8-step schedule advanced by the 4 steps already taken: its lr at steps 4 and 6
    ref = torch.optim.lr_scheduler.OneCycleLR(
        torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-2), max_lr=1e-2,
        total_steps=8)
    lrs = []
    for _ in range(8):
        lrs.append(ref.get_last_lr()[0])
        ref.optimizer.step()
        ref.step()
    np.testing.assert_allclose(tr.history_["lr"].values[2:], [lrs[4], lrs[6]], rtol=1e-12)


def test_no_scheduler_more_epochs_resumes(tmp_path):
    _, reference = _fit(tmp_path / "ref", 4)
    _fit(tmp_path / "run", 2)
    tr, model = _fit(tmp_path / "run", 4)
    assert tr.resumed_from_ == 2 and _equal(_weights(model), _weights(reference))


def test_checkpoint_dir_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="afile.* is a file, not a folder"):
        _fit(f, 1)


def test_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = _checkpoints.os.fsync, _checkpoints.os.replace
    monkeypatch.setattr(_checkpoints.os, "fsync", lambda fd: (events.append("fsync"),
                                                              real_fsync(fd)))
    monkeypatch.setattr(_checkpoints.os, "replace",
                        lambda a, b: (events.append(f"replace {b.name}"), real_replace(a, b)))
    _fit(tmp_path, 1)
    # the checkpoint file, the manifest (file, then folder), then the rename of the checkpoint
    i_manifest = events.index(f"replace {MANIFEST}")
    i_ckpt = events.index("replace checkpoint_epoch00001.pt")
    assert events[0] == "fsync" and events[i_manifest - 1] == "fsync" and i_manifest < i_ckpt


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    _fit(tmp_path, 1)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match=f"{MANIFEST} cannot be read"):
        _fit(tmp_path, 2)
