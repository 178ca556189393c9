"""Shared fixtures: tests never touch the network or the user's home."""

import ipaddress
import os
import socket
from pathlib import Path

import pytest

# numba's cache of neurosim's kernels: in the checkout, out of the real home, kept between
# sessions (set before neurosim is imported, which fixes the folder; see neurosim._numba)
os.environ.setdefault("NEUROSIM_CACHE_DIR", str(Path(__file__).resolve().parents[1]
                                                / ".neurosim-cache"))

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "", socket.gethostname()}


def _is_local(address):
    """Whether a socket address is on this machine (loopback, unspecified, this host's name or a
    Unix socket): local servers such as a Dask ``LocalCluster`` bind to ``0.0.0.0``."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str) or host in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


class NetworkBlocked(OSError):
    """Raised by a test that tries to reach the network without the ``network`` marker."""


@pytest.fixture(autouse=True)
def _block_network(request, monkeypatch):
    """Refuse connections and name lookups beyond this machine (as nilearn's request mocker).

    Loopback servers (e.g. the fetcher tests' HTTP server) and Unix sockets still work. Tests
    marked ``network`` may reach the network. The error is an :class:`OSError`, what an offline
    machine gives, so the code under test reacts as it would without a network.
    """
    if request.node.get_closest_marker("network") is not None:
        yield
        return

    def refuse(what):
        raise NetworkBlocked(f"network access is blocked in tests ({what}); mark the test "
                             "@pytest.mark.network if it needs the network")

    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def guarded_connect(self, address):
        if not _is_local(address):
            refuse(f"connect to {address!r}")
        return connect(self, address)

    def guarded_connect_ex(self, address):
        if not _is_local(address):
            refuse(f"connect to {address!r}")
        return connect_ex(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_local((host,)):
            refuse(f"look up {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield


@pytest.fixture(autouse=True)
def _sandbox_home(tmp_path_factory, monkeypatch):
    """Point HOME and NEUROSIM_DATA at a temporary folder for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NEUROSIM_DATA", str(home / "neurosim_data"))
    # numba's cache and matplotlib's config must stay writable and out of the real home
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the default, see pyproject.toml): one worker per core, at most 4, each
    worker loading numba, torch and Brian2 (about 1.5 GB each). ``-n 0`` runs in this process."""
    from neurosim._utils import n_cores

    return min(n_cores(), 4)
