"""neurosim.results: checksums, and one clear error for a damaged file (issue #14)."""

import h5py
import numpy as np
import pytest
import xarray as xr

from neurosim.results import CorruptResultsError, load, save


def _dataset():
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {"error_vs_n": (("n", "s"), rng.normal(size=(4, 198))),
         "v": ("t", rng.normal(size=300).astype(np.float32)),
         "label": ("t", np.array(["a", "bb", "c"] * 100, dtype=object)),
         "count": ((), 7)},
        coords={"t": np.arange(300.0), "n": [1, 2, 3, 4]},
        attrs={"seed": 3, "params": '{"a": 1}'},
    )


def test_save_writes_fletcher32_and_a_sha256_user_block(tmp_path):
    path = save(_dataset(), tmp_path / "r.nc")
    assert path.read_bytes()[:26] == b"NEUROSIM-RESULTS-1 sha256="
    with h5py.File(path, "r") as f:
        assert f["error_vs_n"].fletcher32 and f["v"].fletcher32 and f["t"].fletcher32
    assert load(path).identical(load(path))
    xr.testing.assert_identical(load(path)[["error_vs_n", "v"]], _dataset()[["error_vs_n", "v"]])


def test_byte_flips_at_60_offsets_give_identical_data_or_the_error(tmp_path):
    """4 bytes inverted at 60 random offsets: never silently different data."""
    path = save(_dataset(), tmp_path / "r.nc")
    ref = load(path)
    raw = path.read_bytes()
    rng = np.random.default_rng(14)
    outcome = {"identical": 0, "error": 0}
    bad = tmp_path / "bad.nc"
    for off in rng.integers(0, len(raw) - 4, 60):
        data = bytearray(raw)
        data[off:off + 4] = bytes(b ^ 0xFF for b in data[off:off + 4])
        bad.write_bytes(bytes(data))
        try:
            got = load(bad)
        except CorruptResultsError as err:
            assert str(bad) in str(err)
            outcome["error"] += 1
        else:
            assert got.identical(ref), f"offset {off}: silently different data"
            outcome["identical"] += 1
    # only the zero padding of the 512-byte user block is outside the checksum
    assert outcome["error"] >= 55, outcome


@pytest.mark.parametrize("damage", ["empty", "text", "truncated", "header"])
def test_damaged_file_raises_one_error_naming_it(tmp_path, damage):
    path = save(_dataset(), tmp_path / "r.nc")
    raw = path.read_bytes()
    data = {"empty": b"", "text": b"hello, not NetCDF\n" * 10, "truncated": raw[:len(raw) // 2],
            "header": raw[:30] + b"zz" + raw[32:]}[damage]
    path.write_bytes(data)
    with pytest.raises(CorruptResultsError, match="r.nc") as info:
        load(path)
    assert isinstance(info.value, ValueError)


def test_file_without_user_block_still_loads_and_fletcher32_catches_damage(tmp_path):
    """A NetCDF-4 file written by another program (no user block) is read; a damaged numeric
    chunk is caught by HDF5's Fletcher-32 check and reported as CorruptResultsError."""
    ds = xr.Dataset({"x": ("t", np.arange(4000.0))})
    plain = tmp_path / "plain.nc"
    ds.to_netcdf(plain, engine="h5netcdf", encoding={"x": {"fletcher32": True}})
    xr.testing.assert_identical(load(plain), ds)
    raw = bytearray(plain.read_bytes())
    start = raw.find(np.arange(4000.0).tobytes()[8000:8016])
    assert start > 0
    raw[start:start + 8] = np.float64(-1.0).tobytes()
    plain.write_bytes(bytes(raw))
    with pytest.raises(CorruptResultsError, match="plain.nc"):
        load(plain)


def test_netcdf3_and_folder_are_refused_clearly(tmp_path):
    nc3 = tmp_path / "classic.nc"
    xr.Dataset({"x": ("t", [1.0, 2.0])}).to_netcdf(nc3, engine="scipy")
    with pytest.raises(CorruptResultsError, match="NetCDF-3"):
        load(nc3)
    with pytest.raises(IsADirectoryError, match="folder"):
        load(tmp_path)
