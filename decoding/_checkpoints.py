"""The Trainer's checkpoint folder: a manifest of the files it wrote, the last k kept, fsync'ed.

The :class:`~neurosim.decoding.Trainer` owns only the files its manifest
(``trainer_checkpoints.json`` in ``checkpoint_dir``) lists. It loads nothing else and deletes
nothing else: a user's ``checkpoint_epoch00002_backup.pt`` next to its checkpoints is never
touched, and a file of the Trainer's own name pattern that the manifest does not list is never
loaded nor overwritten (writing over it is refused with an error naming it).

Writing a checkpoint: the state goes to a hidden temporary file (``.checkpoint_epochNNNNN.pt.<hex>
.tmp``), is flushed and fsync'ed, its size and SHA-256 are recorded in the manifest (written the
same way: temporary file, fsync, rename, fsync of the folder), and only then is it renamed into
place; checkpoints beyond the last ``keep`` are deleted after that. A kill at any point leaves
either the previous state or the new one: the manifest never lists a checkpoint that is half
written, only, at worst, one whose rename did not happen (it is then skipped with a warning).

Reading: the newest listed checkpoint whose size and checksum match and that torch can read;
an unreadable one gives a warning naming the file and the reason, and the previous one is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
from pathlib import Path

MANIFEST = "trainer_checkpoints.json"
CKPT_FORMAT = 2
_MANIFEST_FORMAT = 1
_NAME = "checkpoint_epoch{:05d}.pt"
_TMP_RE = re.compile(r"^\.(checkpoint_epoch\d{5}\.pt|trainer_checkpoints\.json)\.[0-9a-f]{32}\.tmp$")


def checkpoint_name(epoch):
    """File name of the checkpoint written after ``epoch``."""
    return _NAME.format(int(epoch))


def _fsync_dir(folder):
    """Make a rename in ``folder`` durable (no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _tmp_path(path):
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


class CheckpointStore:
    """The checkpoints that one Trainer wrote in ``folder``, as its manifest lists them.

    Parameters
    ----------
    folder : path-like
        The ``checkpoint_dir``.
    keep : int
        How many checkpoints to keep (the newest).
    """

    def __init__(self, folder, keep):
        self.folder = Path(folder)
        self.keep = int(keep)
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"checkpoint_dir {str(self.folder)!r} is a file, not a folder")

    @property
    def manifest_path(self):
        return self.folder / MANIFEST

    # ------------------------------------------------------------------ manifest
    def read_manifest(self):
        """The manifest as a dict (``{"written": [...], "checkpoints": [...]}``), empty if absent."""
        path = self.manifest_path
        if not path.exists():
            return {"format": _MANIFEST_FORMAT, "written": [], "checkpoints": []}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            ok = (isinstance(manifest, dict) and manifest.get("format") == _MANIFEST_FORMAT
                  and isinstance(manifest.get("written"), list)
                  and isinstance(manifest.get("checkpoints"), list)
                  and all(isinstance(e, dict) and {"file", "epoch", "bytes", "sha256"} <= set(e)
                          for e in manifest["checkpoints"]))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ValueError(f"the Trainer's checkpoint manifest {path} cannot be read ({err}); "
                             "restore it, or use another checkpoint_dir") from err
        if not ok:
            raise ValueError(f"{path} is not a neurosim Trainer checkpoint manifest; restore it, or "
                             "use another checkpoint_dir")
        return manifest

    def _write_manifest(self, manifest):
        path = self.manifest_path
        tmp = _tmp_path(path)
        try:
            with open(tmp, "x", encoding="utf-8") as f:
                json.dump(manifest, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.folder)

    # ------------------------------------------------------------------ checks
    def check_can_write(self, epochs):
        """Raise if a file the Trainer would write for ``epochs`` exists and is not its own."""
        manifest = self.read_manifest()
        own = set(manifest["written"])
        for epoch in epochs:
            name = checkpoint_name(epoch)
            if name not in own and (self.folder / name).exists():
                raise FileExistsError(
                    f"checkpoint_dir {str(self.folder)!r} holds {name}, which this Trainer did not "
                    f"write (its manifest {MANIFEST} does not list it); the Trainer would write its "
                    f"epoch-{epoch} checkpoint there. Move that file away or choose another "
                    "checkpoint_dir")

    # ------------------------------------------------------------------ write
    def save(self, torch, state, epoch):
        """Write ``state`` as the checkpoint of ``epoch``; keep the newest ``keep``; return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = self.read_manifest()
        name = checkpoint_name(epoch)
        path = self.folder / name
        if name not in manifest["written"] and path.exists():
            self.check_can_write([epoch])  # raises, naming the file
        tmp = _tmp_path(path)
        try:
            with open(tmp, "xb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            entry = {"file": name, "epoch": int(epoch), "bytes": tmp.stat().st_size,
                     "sha256": _sha256(tmp)}
            # a checkpoint of an epoch at or after this one belongs to an earlier run (resume=False)
            kept = [e for e in manifest["checkpoints"]
                    if e["file"] != name and e["epoch"] < epoch] + [entry]
            kept = kept[-self.keep:]
            written = [w for w in manifest["written"] if w != name] + [name]
            # the manifest lists the new file before it exists: a kill between the two steps
            # leaves a listed, missing checkpoint (skipped with a warning), never an unlisted one
            self._write_manifest({"format": _MANIFEST_FORMAT, "written": written,
                                  "checkpoints": kept})
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.folder)
        kept_names = {e["file"] for e in kept}
        # delete the checkpoints beyond the newest `keep` and any file the Trainer wrote earlier
        # but no longer lists (a kill between the manifest and the deletion), then its own
        # temporary files left by a kill
        for w in written:
            if w not in kept_names:
                (self.folder / w).unlink(missing_ok=True)
        if len(written) > len(kept_names):
            self._write_manifest({"format": _MANIFEST_FORMAT, "written": sorted(kept_names),
                                  "checkpoints": kept})
        for p in self.folder.iterdir():
            if _TMP_RE.match(p.name) and p != tmp:
                p.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ read
    def load_latest(self, torch, *, is_checkpoint):
        """Return ``(path, state)`` of the newest readable checkpoint, or None if none is listed.

        Unreadable checkpoints give a :class:`UserWarning` naming the file and the reason; when
        every listed checkpoint is unreadable, :class:`ValueError` lists them all.
        """
        manifest = self.read_manifest()
        entries = sorted(manifest["checkpoints"], key=lambda e: e["epoch"])
        if not entries:
            return None
        failures = []
        for k, entry in enumerate(reversed(entries)):
            path = self.folder / entry["file"]
            reason = self._check_file(path, entry)
            state = None
            if reason is None:
                try:
                    state = torch.load(path, map_location="cpu", weights_only=True)
                except Exception as err:  # noqa: BLE001 - any failure to read is reported
                    msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
                    reason = f"torch cannot read it: {type(err).__name__}" + (f": {msg}" if msg
                                                                               else "")
                else:
                    if not is_checkpoint(state):
                        reason = "it is not a neurosim Trainer checkpoint"
            if reason is None:
                return path, state
            failures.append(f"{path}: {reason}")
            older = len(entries) - k - 1
            if older:
                prev = self.folder / entries[older - 1]["file"]
                warnings.warn(f"checkpoint {path} is unreadable ({reason}); resuming from the "
                              f"previous one, {prev}", UserWarning, stacklevel=5)
        raise ValueError("no readable checkpoint in checkpoint_dir "
                         f"{str(self.folder)!r}: " + "; ".join(failures)
                         + ". Pass resume=False to start again from epoch 0 (the Trainer then "
                         "replaces its own checkpoints), or use another checkpoint_dir")

    @staticmethod
    def _check_file(path, entry):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return "the file is missing"
        except OSError as err:
            return f"it cannot be opened: {err}"
        if size != entry["bytes"]:
            what = "truncated" if size < entry["bytes"] else "longer than written"
            return f"{what}: {size} bytes, {entry['bytes']} were written"
        try:
            digest = _sha256(path)
        except OSError as err:
            return f"it cannot be read: {err}"
        if digest != entry["sha256"]:
            return "its contents changed since it was written (SHA-256 mismatch)"
        return None
