"""Plotting helpers for run results: spike rasters and state-variable traces (matplotlib)."""

from __future__ import annotations

import numpy as np


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_raster(ds, group=None, *, ax=None, time_range=None, marker_size=None, colors=None):
    """Draw a spike raster of a run's results, one row per neuron, groups in colour.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`neurosim.backends.run` or :meth:`neurosim.backends.Session.run`.
    group : str | sequence of str | None
        Group(s) to draw (None: every spike-monitored group). Rows are the neurons' indices
        within their group, groups stacked in network order.
    ax : matplotlib.axes.Axes | None
        Where to draw; None makes a new figure.
    time_range : (float, float) | None
        Time window (ms).
    marker_size : float | None
        Marker size; None picks one from the number of neurons.
    colors : dict of str to color | None
        Colour per group name.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> from neurosim.spiking import plot_raster
    >>> ax = plot_raster(ds, group="exc", time_range=(0, 500))  # doctest: +SKIP
    """
    import json

    groups_all = list(json.loads(ds.attrs.get("groups", "{}")))
    monitored = json.loads(ds.attrs.get("spike_monitored_groups", "[]"))
    if group is None:
        groups = [g for g in groups_all if g in monitored] or groups_all
    else:
        groups = [group] if isinstance(group, str) else list(group)
        unknown = [g for g in groups if g not in groups_all]
        if unknown:
            raise ValueError(f"unknown group(s) {unknown}; the results hold {groups_all}")
    ax = _axes(ax, (8, 4))
    t = np.asarray(ds["spike_time"].values)
    idx = np.asarray(ds["spike_neuron"].values)
    gname = np.asarray(ds["group"].values).astype(str)
    local = np.asarray(ds["index_in_group"].values)
    if time_range is not None:
        lo, hi = time_range
        keep = (t >= lo) & (t < hi)
        t, idx = t[keep], idx[keep]
    row0 = 0
    ticks, labels = [], []
    n_total = sum(int((gname == g).sum()) for g in groups)
    size = marker_size if marker_size is not None else (2.0 if n_total <= 2000 else 0.5)
    cycle = ["tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown"]
    for k, g in enumerate(groups):
        members = gname == g
        n_g = int(members.sum())
        sel = members[idx]
        color = (colors or {}).get(g, cycle[k % len(cycle)])
        ax.scatter(t[sel], row0 + local[idx[sel]], s=size, c=color, marker=".", linewidths=0,
                   rasterized=True, label=g)
        ticks.append(row0 + n_g / 2)
        labels.append(g)
        row0 += n_g
    ax.set_ylim(-0.5, max(row0, 1) - 0.5)
    if time_range is not None:
        ax.set_xlim(*time_range)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron (index in group)")
    if len(groups) > 1:
        ax.legend(loc="upper right", markerscale=6, fontsize="small")
    return ax


def plot_state(ds, var="v", neurons=None, *, group=None, ax=None, spikes=True):
    """Plot a recorded state variable (e.g. the membrane potential) over time.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with ``var`` recorded by a :class:`~neurosim.spiking.StateMonitor`.
    var : str
        Variable name (``"v"``, ``"u"``, ``"I_syn"``, ``"g_<receptor>"``, ``"theta"``, ...).
    neurons : sequence of int | None
        Neurons to draw, as indices within their group (None: all recorded, at most 10).
    group : str | None
        Group of those neurons, when ``var`` is recorded in several groups.
    ax : matplotlib.axes.Axes | None
        Where to draw; None makes a new figure.
    spikes : bool
        Mark the neurons' spike times (for ``v``) with vertical ticks.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    if var not in ds:
        recorded = [k for k in ds.data_vars if f"{k}_neuron" in ds.dims]
        raise ValueError(f"{var!r} was not recorded; recorded state variables: {recorded}")
    da = ds[var]
    dim = f"{var}_neuron"
    gcoord = np.asarray(ds[f"{var}_group"].values).astype(str)
    local = np.asarray(ds[dim].values)
    cols = np.arange(local.size)
    if group is not None:
        cols = cols[gcoord == group]
        if cols.size == 0:
            raise ValueError(f"{var!r} is not recorded in group {group!r}; groups: "
                             f"{sorted(set(gcoord))}")
    if neurons is not None:
        wanted = np.asarray(neurons)
        cols = np.asarray([c for c in cols if local[c] in wanted], dtype=np.int64)
        missing = sorted(set(wanted.tolist()) - set(local[cols].tolist()))
        if missing:
            raise ValueError(f"neurons {missing} of {var!r} were not recorded; recorded: "
                             f"{sorted(set(local.tolist()))}")
    else:
        cols = cols[:10]
    ax = _axes(ax, (8, 3))
    t = np.asarray(ds["time"].values)
    glob = np.asarray(ds[f"{var}_global"].values)
    for c in cols:
        line, = ax.plot(t, da.values[:, c], lw=0.8, label=f"{gcoord[c]}[{local[c]}]")
        if spikes and var == "v" and "spike_neuron" in ds:
            st = ds["spike_time"].values[ds["spike_neuron"].values == glob[c]]
            if st.size:
                top = np.nanmax(da.values[:, c])
                ax.vlines(st, top, top + 5, color=line.get_color(), lw=0.8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{var} ({da.attrs.get('units', '')})".replace(" ()", ""))
    if cols.size > 1:
        ax.legend(fontsize="small", ncol=min(cols.size, 5))
    return ax
