"""Tests of neurosim.results: NetCDF round trip, atomic writes, spike helpers."""

import json

import numpy as np
import pytest
import xarray as xr

from neurosim.results import (
    firing_rates,
    isi_cv,
    load,
    population_rate,
    save,
    spike_counts,
    spike_trains,
)


def _mixed_dataset():
    return xr.Dataset(
        {
            "f64": ("x", np.array([0.5, np.nan, 2.0]), {"units": "mV", "flag": True}),
            "f32": ("x", np.array([1, 2, 3], dtype=np.float32)),
            "i32": ("x", np.array([-1, 0, 7], dtype=np.int32)),
            "i64": ("x", np.array([2**40, 0, 1], dtype=np.int64)),
            "b": ("x", np.array([True, False, True])),
            "grid": (("x", "y"), np.arange(6, dtype=np.int16).reshape(3, 2)),
        },
        coords={"x": ("x", np.array([10, 20, 30])),
                "label": ("x", np.array(["a", "bb", "c"], dtype=object))},
        attrs={
            "title": "test", "n": 3, "rate": 2.5, "seq": [1.0, 2.0], "names": ["a", "b"],
            "on": True, "off": np.False_, "nothing": None, "params": {"a": 1, "b": [1, 2]},
            "mixed": [1, "a"], "flags": [True, False], "arr": np.arange(3),
        },
    )


def test_round_trip_keeps_values_dtypes_and_attrs(tmp_path):
    ds = _mixed_dataset()
    before = dict(ds.attrs)
    path = save(ds, tmp_path / "ds.nc")
    assert path == tmp_path / "ds.nc"
    out = load(path)
    # data: values and numeric dtypes survive
    for name in ["f64", "f32", "i32", "i64", "b", "grid", "x"]:
        assert out[name].dtype == ds[name].dtype, name
        np.testing.assert_array_equal(out[name].values, ds[name].values)
    assert out["grid"].dims == ("x", "y")
    # strings come back as unicode arrays with the same values
    assert out["label"].values.tolist() == ["a", "bb", "c"]
    assert out["f64"].attrs["units"] == "mV"
    assert out["f64"].attrs["flag"] == 1
    # attrs: stored as is, or converted as documented
    a = out.attrs
    assert a["title"] == "test" and a["n"] == 3 and a["rate"] == 2.5
    np.testing.assert_array_equal(a["seq"], [1.0, 2.0])
    assert list(a["names"]) == ["a", "b"]
    assert a["on"] == 1 and a["off"] == 0
    assert a["nothing"] == "None"
    assert json.loads(a["params"]) == {"a": 1, "b": [1, 2]}
    assert json.loads(a["mixed"]) == [1, "a"]
    np.testing.assert_array_equal(a["flags"], [1, 0])
    np.testing.assert_array_equal(a["arr"], [0, 1, 2])
    # the caller's data set is not modified
    assert ds.attrs.keys() == before.keys()
    assert ds.attrs["on"] is True and ds.attrs["nothing"] is None
    assert ds["f64"].attrs["flag"] is True


def test_load_returns_a_closed_in_memory_dataset(tmp_path):
    path = save(_mixed_dataset(), tmp_path / "ds.nc")
    out = load(path)
    path.unlink()  # the file is closed: removing it does not affect the data
    assert float(out["f64"][2]) == 2.0
    with pytest.raises(FileNotFoundError, match="ds.nc"):
        load(path)


def test_round_trip_of_a_simulation(tmp_path):
    from neurosim.backends import run
    from neurosim.spiking import izhikevich_network

    ds = run(izhikevich_network(50, dt=0.5, random_state=1), 100.0, 0.5, random_state=1)
    out = load(save(ds, tmp_path / "run.nc"))
    assert out.identical(ds)
    assert out["spike_neuron"].dtype == np.int32
    assert out["spike_time"].dtype == np.float64
    assert json.loads(out.attrs["network"])["n"] == 50


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "ds.nc"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="ds.nc"):
        save(_mixed_dataset(), path)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.nc"]
    save(_mixed_dataset(), path, overwrite=True)
    assert load(path)["i32"].values.tolist() == [-1, 0, 7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.nc"]


def test_save_leaves_no_temporary_file(tmp_path):
    save(_mixed_dataset(), tmp_path / "a.nc")
    save(_mixed_dataset(), tmp_path / "a.nc", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "ds.nc"
    path.write_bytes(b"old")

    def broken(self, target, *args, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save(_mixed_dataset(), path, overwrite=True)
    with pytest.raises(RuntimeError, match="disk full"):
        save(_mixed_dataset(), tmp_path / "new.nc")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ds.nc"]


def test_unsupported_attribute_is_named(tmp_path):
    ds = xr.Dataset({"x": ("t", [1.0])}, attrs={"when": np.datetime64("2020-01-01")})
    with pytest.raises(TypeError, match="'when'"):
        save(ds, tmp_path / "ds.nc")
    assert list(tmp_path.iterdir()) == []


def test_save_checks_its_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        save(_mixed_dataset(), tmp_path / "missing" / "ds.nc")
    with pytest.raises(TypeError, match="xarray.Dataset"):
        save(xr.DataArray([1.0]), tmp_path / "ds.nc")
    with pytest.raises(IsADirectoryError):
        save(_mixed_dataset(), tmp_path, overwrite=True)


# --------------------------------------------------------------------------------------------
# spike helpers on a hand-built result
# --------------------------------------------------------------------------------------------
#: neuron -> spike times (ms); neurons 0-2 in group "exc", 3-4 in "inh"; 500 ms simulated
_TRAINS = {0: [10.0, 20.0, 30.0], 1: [], 2: [250.0], 3: [5.0, 15.0, 45.0, 100.0, 400.0],
           4: [499.5, 1.0]}


def _spike_dataset(monitored=("exc", "inh")):
    neuron = np.concatenate([[n] * len(t) for n, t in _TRAINS.items()]).astype(np.int32)
    time = np.concatenate([t for t in _TRAINS.values()])
    order = np.lexsort((neuron, time))
    return xr.Dataset(
        {"spike_neuron": ("spike", neuron[order]), "spike_time": ("spike", time[order])},
        coords={"neuron": ("neuron", np.arange(5)),
                "group": ("neuron", np.array(["exc"] * 3 + ["inh"] * 2, dtype=object)),
                "index_in_group": ("neuron", np.array([0, 1, 2, 0, 1]))},
        attrs={"duration": 500.0, "duration_units": "ms",
               "spike_monitored_groups": json.dumps(list(monitored))},
    )


def test_firing_rates_and_counts():
    ds = _spike_dataset()
    counts = spike_counts(ds)
    assert counts.dims == ("neuron",)
    assert counts.values.tolist() == [3, 0, 1, 5, 2]
    rates = firing_rates(ds)
    np.testing.assert_allclose(rates.values, [6.0, 0.0, 2.0, 10.0, 4.0])  # count / 0.5 s
    assert rates.attrs["units"] == "Hz"
    assert rates["group"].values.tolist() == ["exc"] * 3 + ["inh"] * 2
    inh = firing_rates(ds, group="inh")
    assert inh["neuron"].values.tolist() == [3, 4]
    np.testing.assert_allclose(inh.values, [10.0, 4.0])
    np.testing.assert_allclose(firing_rates(ds, group=["exc", "inh"]).values, rates.values)


def test_firing_rates_of_a_longer_run_scale_with_duration():
    ds = _spike_dataset()
    ds.attrs["duration"] = 2000.0
    np.testing.assert_allclose(firing_rates(ds).values, [1.5, 0.0, 0.5, 2.5, 1.0])


def test_groups_without_spike_monitor():
    ds = _spike_dataset(monitored=["exc"])
    ds = ds.isel(spike=np.flatnonzero(ds["spike_neuron"].values < 3))
    assert firing_rates(ds)["neuron"].values.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="'inh' has no spike monitor"):
        firing_rates(ds, group="inh")


def test_bad_group_and_dataset():
    ds = _spike_dataset()
    with pytest.raises(ValueError, match=r"unknown group 'pyr'.*\['exc', 'inh'\]"):
        firing_rates(ds, group="pyr")
    with pytest.raises(ValueError, match="spike_neuron"):
        firing_rates(ds.drop_vars("spike_neuron"))
    no_duration = ds.copy()
    del no_duration.attrs["duration"]
    with pytest.raises(ValueError, match="duration"):
        spike_counts(no_duration)


def test_spike_trains():
    ds = _spike_dataset()
    np.testing.assert_array_equal(spike_trains(ds, 4), [1.0, 499.5])
    np.testing.assert_array_equal(spike_trains(ds, 3), _TRAINS[3])
    assert spike_trains(ds, 1).size == 0
    assert spike_trains(ds, 1).dtype == np.float64
    with pytest.raises(ValueError, match="neuron 99"):
        spike_trains(ds, 99)
    with pytest.raises(TypeError, match="int"):
        spike_trains(ds, 1.5)


def test_isi_cv():
    cv = isi_cv(_spike_dataset())
    # neuron 0: ISIs 10, 10 -> 0; neuron 3: ISIs 10, 30, 55, 300; 1, 2, 4 have < 3 spikes
    isi = np.diff(_TRAINS[3])
    expected = [0.0, np.nan, np.nan, isi.std() / isi.mean(), np.nan]
    np.testing.assert_allclose(cv.values, expected)


def test_population_rate():
    ds = _spike_dataset()
    rate = population_rate(ds, bin_size=100.0)
    np.testing.assert_allclose(rate["time"].values, [50, 150, 250, 350, 450])
    # bin 0 holds 7 spikes of 5 neurons in 0.1 s: 14 Hz per neuron; 100 ms opens bin 1
    np.testing.assert_allclose(rate.values, [14.0, 2.0, 2.0, 0.0, 4.0])
    assert rate.attrs["units"] == "Hz"
    total = rate.sum() * 0.1 * 5
    assert float(total) == ds.sizes["spike"]
    with pytest.raises(ValueError, match="bin_size"):
        population_rate(ds, bin_size=0.0)
