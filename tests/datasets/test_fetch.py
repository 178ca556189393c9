"""Fetchers: checksums, atomic writes, resume after truncation, offline errors (no network used:
``file://`` URLs and a loopback HTTP server)."""

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
from neurosim.datasets import (
    _fetch,
    _mnist,
    _nsd,
    fetch_mnist,
    fetch_nsd,
    fetch_things_eeg2,
    get_data_home,
    load_nsd,
)
from neurosim.datasets._fetch import DownloadError, RemoteFile, fetch_files


@pytest.fixture(autouse=True)
def _staging(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_DOWNLOAD_TMP", str(tmp_path / "staging"))


def _files_under(path):
    return sorted(p for p in Path(path).rglob("*") if p.is_file())


class _Server:
    """Loopback HTTP server; the first GET of a file can be cut short, Range requests are honoured."""

    def __init__(self, content):
        self.content = content
        self.truncate_next = False
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.headers.get("Range"))
                body = server.content
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                part = body[start:]
                if server.truncate_next:
                    server.truncate_next = False
                    part = part[: len(part) // 3]
                self.wfile.write(part)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.bin"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _source(tmp_path, content=b"neurosim test payload " * 1000):
    src = tmp_path / "remote" / "file.bin"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(content)
    return src, "sha256:" + hashlib.sha256(content).hexdigest()


def test_download_with_checksum(tmp_path):
    src, digest = _source(tmp_path)
    home = tmp_path / "home"
    (path,) = fetch_files(
        [RemoteFile("a/b/file.bin", src.as_uri(), digest)], folder="ds", dataset="test", data_home=home
    )
    assert path == home / "ds" / "a" / "b" / "file.bin" and path.read_bytes() == src.read_bytes()
    # present: no second download (the source may disappear)
    src.unlink()
    assert fetch_files(
        [RemoteFile("a/b/file.bin", src.as_uri(), digest)], folder="ds", dataset="test", data_home=home
    ) == [path]
    assert _files_under(tmp_path / "staging") == []


def test_checksum_mismatch_leaves_nothing(tmp_path):
    src, _ = _source(tmp_path)
    home = tmp_path / "home"
    with pytest.raises(DownloadError, match="does not match"):
        fetch_files(
            [RemoteFile("sub/file.bin", src.as_uri(), "sha256:" + "0" * 64)],
            folder="ds",
            dataset="test",
            data_home=home,
        )
    assert _files_under(home) == [] and not (home / "ds").exists()
    assert _files_under(tmp_path / "staging") == []


def test_truncated_transfer_is_resumed(tmp_path):
    content = bytes(range(256)) * 4000
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    home = tmp_path / "home"
    with _Server(content) as server:
        server.truncate_next = True
        f = RemoteFile("file.bin", server.url, digest)
        with pytest.raises(DownloadError, match="truncated"):
            fetch_files([f], folder="ds", dataset="test", data_home=home)
        assert _files_under(home) == []  # nothing half-written in the data home
        staged = _files_under(tmp_path / "staging")
        size = staged[0].stat().st_size
        assert len(staged) == 1 and 0 < size < len(content)
        (path,) = fetch_files([f], folder="ds", dataset="test", data_home=home)
        assert path.read_bytes() == content
        assert server.requests == [None, f"bytes={size}-"]  # resumed where the transfer stopped
    assert _files_under(tmp_path / "staging") == []


def test_offline_and_missing_errors(tmp_path):
    home = tmp_path / "home"
    files = [
        RemoteFile("x/one.bin", "https://example.invalid/one.bin", None),
        RemoteFile("two.bin", None, None),
    ]
    with pytest.raises(FileNotFoundError) as err:
        fetch_files(
            files,
            folder="ds",
            dataset="Demo",
            data_home=home,
            download=False,
            instructions="Get them from the lab.",
        )
    msg = str(err.value)
    assert "2 file(s) of Demo are missing" in msg and str(home / "ds" / "x" / "one.bin") in msg
    assert "Get them from the lab." in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError, match="no known public download URL"):
        fetch_files(files[1:], folder="ds", dataset="Demo", data_home=home)
    with pytest.raises(DownloadError, match="could not download"), pytest.warns(UserWarning):
        fetch_files(
            [RemoteFile("x.bin", (tmp_path / "nope.bin").as_uri(), None)],
            folder="ds",
            dataset="Demo",
            data_home=home,
        )
    assert _files_under(home) == []


def test_unknown_hash_warns(tmp_path):
    src, _ = _source(tmp_path)
    with pytest.warns(UserWarning, match="no checksum is known"):
        fetch_files(
            [RemoteFile("file.bin", src.as_uri(), None)],
            folder="ds",
            dataset="test",
            data_home=tmp_path / "home",
        )


def test_data_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "env_home"))
    assert get_data_home() == tmp_path / "env_home" and (tmp_path / "env_home").is_dir()


def test_fetch_mnist_from_mirror(mnist_dir, monkeypatch, tmp_path):
    folder, arrays = mnist_dir
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    monkeypatch.setitem(
        _mnist._VARIANTS,
        "mnist",
        {**_mnist._VARIANTS["mnist"], "url": folder.as_uri() + "/", "md5": md5},
    )
    ds = fetch_mnist(split="test")
    np.testing.assert_array_equal(ds.images, arrays["t10k"][0])
    assert (get_data_home() / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    with pytest.raises(FileNotFoundError, match="fashion"):
        fetch_mnist(variant="fashion", download=False)
    # a corrupted mirror: the official checksum protects the data home
    bad = dict(md5, **{"t10k-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setitem(
        _mnist._VARIANTS,
        "fashion",
        {**_mnist._VARIANTS["fashion"], "url": folder.as_uri() + "/", "md5": bad},
    )
    with pytest.raises(DownloadError, match="does not match"):
        fetch_mnist(variant="fashion")
    assert not (get_data_home() / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_fetch_nsd_from_mirror(nsd_root, monkeypatch):
    root, _ = nsd_root
    with pytest.raises(FileNotFoundError, match="betas_session01.hdf5"):
        fetch_nsd(subjects=[1], sessions=[1], download=False)
    monkeypatch.setattr(_nsd, "NSD_URL", root.as_uri() + "/")
    with pytest.warns(UserWarning, match="no checksum"):
        local = fetch_nsd(subjects=[1], sessions=[2])
    assert local == get_data_home() / "nsd"
    ds = load_nsd(local, subject=1)
    assert ds.sizes["trial"] == 750 and set(np.unique(ds.session)) == {2}
    with pytest.raises(ValueError, match="sessions 1..30"):
        fetch_nsd(subjects=[4], sessions=[31], download=False)


def test_fetch_things_eeg2(things_eeg2_root):
    root, _ = things_eeg2_root
    with pytest.raises(FileNotFoundError, match="osf.io/anp5v"):
        fetch_things_eeg2(subjects=[1])
    with pytest.warns(UserWarning, match="no checksum"):
        local = fetch_things_eeg2(subjects=[1, 2], base_url=root.as_uri())
    assert (local / "sub-02" / "preprocessed_eeg_test.npy").is_file()
    assert fetch_things_eeg2(subjects=[2], download=False) == local


def test_staging_dir_default(monkeypatch):
    monkeypatch.delenv("NEUROSIM_DOWNLOAD_TMP")
    assert _fetch._staging_dir().name == "neurosim-downloads"
