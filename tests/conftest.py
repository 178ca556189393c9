"""Shared fixtures: tests never touch the network or the user's home."""

import os

import pytest


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
