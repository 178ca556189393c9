"""Downloading: pooch with checksums, atomic moves, resumable transfers and clear offline errors.

Every file is described by a :class:`RemoteFile` (path relative to the data set's folder, URL, known
hash). :func:`fetch_files` returns the local paths, downloading what is missing unless
``download=False``. A download goes through :func:`pooch.retrieve` with a resumable downloader:

* bytes are first appended to a staging file *outside* the data home (``$NEUROSIM_DOWNLOAD_TMP``,
  default ``<system temp>/neurosim-downloads``), resumed with an HTTP ``Range`` request after an
  interruption;
* a complete transfer is copied to a temporary name next to its destination, its hash checked by
  pooch, and only then renamed into place (atomic on one file system);
* a hash mismatch or a truncated transfer raises an error and leaves nothing in the data home.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from neurosim._docs import fill_doc

from ._base import get_data_home

__all__ = ["RemoteFile", "fetch_files", "DownloadError", "mismatched_files"]

_CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed (network error, truncated transfer or checksum mismatch)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set.

    Parameters
    ----------
    name : str
        Path relative to the data set's folder, with ``/`` separators.
    url : str | None
        Where to download it from (``http(s)://``, ``ftp://`` or ``file://``); None if the file has
        no known public URL (it must then be put in place by hand).
    known_hash : str | None
        ``"sha256:..."`` or ``"md5:..."``; None when the hash is not known, in which case the file
        is downloaded without verification and a warning says so.
    """

    name: str
    url: str | None = None
    known_hash: str | None = None


def _staging_dir():
    path = os.environ.get("NEUROSIM_DOWNLOAD_TMP")
    path = Path(path) if path else Path(tempfile.gettempdir()) / "neurosim-downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _staged_path(url):
    return _staging_dir() / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".part")


def _transfer(url, part, *, progress=False):
    """Append ``url`` to ``part``, resuming from its current size; return the expected total or None."""
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "neurosim"})
    if start and url.startswith(("http://", "https://")):
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416:  # the staged file is already complete
            return start
        raise
    with response:
        status = getattr(response, "status", None)
        resumed = status == 206
        if not resumed:
            start = 0  # the server (or a file:// URL) sends everything: start over
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=Path(part).name)
        with open(part, "ab" if resumed else "wb") as out:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        if bar is not None:
            bar.close()
    return total


class _ResumableDownloader:
    """pooch downloader: stage outside the data home with resume, then copy to pooch's temp file."""

    def __init__(self, progress=False):
        self.progress = progress

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        part = _staged_path(url)
        try:
            total = _transfer(url, part, progress=self.progress)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise DownloadError(
                f"could not download {url}: {err}. Partial data were kept in {part} and the next call "
                "resumes from there."
            ) from err
        size = part.stat().st_size
        if total is not None and size < total:
            raise DownloadError(
                f"the download of {url} is truncated: got {size} of {total} bytes. Nothing was written "
                f"to the data folder; the partial file {part} is resumed by the next call."
            )
        shutil.copyfile(part, output_file)
        part.unlink()


def _missing_message(folder, missing, dataset, instructions):
    lines = [
        f"{len(missing)} file(s) of {dataset} are missing from {folder}:",
        *[f"  {folder / f.name}" for f in missing],
    ]
    if instructions:
        lines.append(instructions)
    return "\n".join(lines)


def _remove_empty_dirs(path, stop):
    path = Path(path)
    while path != stop and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        path = path.parent


@fill_doc
def fetch_files(
    files, *, folder, dataset, download=True, data_home=None, instructions="", progress=False
):
    """Return local paths of ``files`` under ``<data_home>/<folder>``, downloading missing ones.

    Parameters
    ----------
    files : list of RemoteFile
        The files.
    folder : str
        Sub-folder of the data home for this data set.
    dataset : str
        Name used in messages.
    download : bool
        If False, never touch the network: missing files raise :class:`FileNotFoundError`.
    data_home : str | path-like | None
        See :func:`~neurosim.datasets.get_data_home`.
    instructions : str
        Added to error messages: how to obtain the files by hand.
    %(progress)s
        Show a progress bar per file.

    Returns
    -------
    paths : list of pathlib.Path
        One per file, in order.
    """
    import pooch

    root = get_data_home(data_home) / folder
    missing = [f for f in files if not (root / f.name).is_file()]
    if missing and not download:
        raise FileNotFoundError(
            _missing_message(root, missing, dataset, instructions)
            + "\nRun again with download=True to download them, or put them there by hand."
        )
    no_url = [f for f in missing if f.url is None]
    if no_url:
        raise FileNotFoundError(
            _missing_message(root, no_url, dataset, instructions)
            + "\nThese files have no known public download URL: put them there by hand."
        )
    for f in missing:
        dest = root / f.name
        if f.known_hash is None:
            warnings.warn(
                f"{dataset}: no checksum is known for {f.name}; it is downloaded without verification. "
                "Check it against the provider's checksum if one is published.",
                UserWarning,
                stacklevel=3,
            )
        created = [p for p in [dest.parent, *dest.parent.parents] if not p.exists()]
        try:
            pooch.retrieve(
                f.url,
                known_hash=f.known_hash,
                fname=dest.name,
                path=dest.parent,
                downloader=_ResumableDownloader(progress=progress),
                progressbar=False,
            )
        except ValueError as err:  # pooch: hash mismatch (pooch has deleted its temporary file)
            _staged_path(f.url).unlink(missing_ok=True)
            if created:
                _remove_empty_dirs(dest.parent, created[-1].parent)
            raise DownloadError(
                f"{dataset}: the checksum of {f.name} downloaded from {f.url} does not match "
                f"{f.known_hash}; the file was deleted and nothing was written to {root}. "
                f"({err})"
            ) from err
        except DownloadError:
            if created:
                _remove_empty_dirs(dest.parent, created[-1].parent)
            raise
    return [root / f.name for f in files]


def mismatched_files(files, *, folder, data_home=None):
    """The files of ``files`` already in ``<data_home>/<folder>`` whose checksum is wrong.

    :func:`fetch_files` checks a file's hash when it downloads it, not each time it finds it in
    place (that would read every file of a large data set on every call); a fetcher whose
    reader fails on a file found in place calls this to tell a damaged copy from a reader error.

    Returns
    -------
    bad : list of pathlib.Path
        Files present, with a known hash, whose content does not match it.
    """
    import pooch

    root = get_data_home(data_home) / folder
    bad = []
    for f in files:
        path = root / f.name
        if f.known_hash is None or not path.is_file():
            continue
        alg, _, expected = f.known_hash.partition(":")
        if pooch.file_hash(str(path), alg=alg) != expected.lower():
            bad.append(path)
    return bad
