"""Levels of macs and their receptive fields, laid out as flat arrays for the kernels.

A hierarchy has hidden levels (each a grid of macs) and one top mac. The macs of the first
hidden level tile the input: each sees one patch, and the patches cover the input exactly once.
The macs of each next level tile the grid of the level below in the same way, and the top mac
sees every mac of the last hidden level (or the whole input when there is no hidden level).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._utils import check_size

__all__ = ["Level", "tile_receptive_fields"]


@dataclass(frozen=True)
class Level:
    """A level of a Sparsey hierarchy: a grid of macs of ``Q`` CMs of ``K`` cells each.

    Parameters
    ----------
    grid : tuple of int
        Number of macs along each axis of the level below (the input for the first level). Each
        size must divide the size of that axis, so that the receptive fields tile it exactly.
    Q : int
        Competitive modules (CMs) per mac, >= 1.
    K : int
        Cells per CM, >= 1.
    min_active : int
        A mac computes a code only when at least this many of its afferents are active (the
        lower bound of Sparsey's activation gate); otherwise it stays silent.

    Examples
    --------
    >>> from neurosim.sparsey import Level
    >>> Level((4, 4), Q=8, K=8).n_macs
    16
    """

    grid: tuple
    Q: int
    K: int
    min_active: int = 1

    def __post_init__(self):
        grid = self.grid
        if isinstance(grid, numbers.Integral) and not isinstance(grid, bool):
            grid = (grid,)
        try:
            grid = tuple(grid)
        except TypeError:
            raise TypeError(f"grid must be a tuple of ints, got {type(self.grid).__name__}: "
                            f"{self.grid!r}") from None
        if not grid:
            raise ValueError("grid must have at least one axis")
        object.__setattr__(self, "grid", tuple(check_size("grid size", g) for g in grid))
        object.__setattr__(self, "Q", check_size("Q", self.Q))
        object.__setattr__(self, "K", check_size("K", self.K))
        object.__setattr__(self, "min_active", check_size("min_active", self.min_active))

    @property
    def n_macs(self):
        """Number of macs in the level."""
        return int(np.prod(self.grid))


def tile_receptive_fields(shape, grid):
    """Receptive fields of a grid of macs that tile an array of ``shape`` exactly.

    Parameters
    ----------
    shape : tuple of int
        Shape of the level below (the input image, or the grid of macs below).
    grid : tuple of int
        Macs along each axis; ``shape[d]`` must be a multiple of ``grid[d]``.

    Returns
    -------
    fields : ndarray of int64, shape (n_macs, units_per_field)
        Flat (C-order) indices of the units each mac sees, macs in C order of the grid.

    Raises
    ------
    ValueError
        If the grid has another number of axes than ``shape`` or does not divide it.

    Examples
    --------
    >>> from neurosim.sparsey import tile_receptive_fields
    >>> tile_receptive_fields((2, 4), (1, 2))
    array([[0, 1, 4, 5],
           [2, 3, 6, 7]])
    """
    shape = tuple(check_size("shape size", s) for s in np.atleast_1d(shape).tolist())
    grid = Level(grid, 1, 1).grid
    if len(grid) != len(shape):
        raise ValueError(f"grid {grid} has {len(grid)} axes but the level below has shape "
                         f"{shape} ({len(shape)} axes); give one grid size per axis")
    for axis, (s, g) in enumerate(zip(shape, grid)):
        if s % g:
            raise ValueError(
                f"receptive fields must tile the level below: grid {grid} does not divide shape "
                f"{shape} ({s} is not a multiple of {g} along axis {axis}); choose grid sizes "
                f"that divide {shape}")
    patch = tuple(s // g for s, g in zip(shape, grid))
    index = np.arange(int(np.prod(shape))).reshape(shape)
    # split every axis d into (grid[d], patch[d]), bring the grid axes first
    split = index.reshape([v for g, p in zip(grid, patch) for v in (g, p)])
    nd = len(shape)
    order = [2 * d for d in range(nd)] + [2 * d + 1 for d in range(nd)]
    return split.transpose(order).reshape(int(np.prod(grid)), int(np.prod(patch)))


class _Layout:
    """Flat description of every mac of a hierarchy (bottom level first, top mac last)."""

    def __init__(self, input_shape, levels):
        self.input_shape = tuple(input_shape)
        self.levels = tuple(levels)
        self.n_features = int(np.prod(self.input_shape))
        n_macs = sum(lv.n_macs for lv in self.levels)
        self.n_macs = n_macs
        self.Qs = np.empty(n_macs, np.int64)
        self.Ks = np.empty(n_macs, np.int64)
        self.level_of = np.empty(n_macs, np.int64)
        self.min_active = np.empty(n_macs, np.int64)
        self.parent = np.full(n_macs, -1, np.int64)
        self.out_off = np.empty(n_macs, np.int64)
        self.q_off = np.empty(n_macs + 1, np.int64)
        rf_chunks = []
        self.level_start = []
        below_shape, below_out = self.input_shape, None  # below_out: out_off of the macs below
        m = 0
        buf = self.n_features
        qo = 0
        for li, lv in enumerate(self.levels):
            fields = tile_receptive_fields(below_shape, lv.grid)
            self.level_start.append(m)
            for f in fields:
                QK = lv.Q * lv.K
                self.Qs[m], self.Ks[m], self.level_of[m] = lv.Q, lv.K, li
                self.min_active[m] = lv.min_active
                self.out_off[m] = buf
                self.q_off[m] = qo
                if below_out is None:
                    rf_chunks.append(f.astype(np.int64))
                else:
                    first = self.level_start[li - 1]
                    qk_below = int(self.Qs[first] * self.Ks[first])
                    rf_chunks.append(np.concatenate(
                        [below_out[c] + np.arange(qk_below) for c in f]).astype(np.int64))
                    for c in f:
                        self.parent[first + c] = m
                buf += QK
                qo += lv.Q
                m += 1
            below_shape = lv.grid
            below_out = self.out_off[self.level_start[li]:m].copy()
        self.level_start.append(m)
        self.q_off[n_macs] = qo
        self.total_q = qo
        self.buffer_size = buf
        self.rf_ptr = np.zeros(n_macs + 1, np.int64)
        self.rf_ptr[1:] = np.cumsum([len(c) for c in rf_chunks])
        self.rf_idx = np.concatenate(rf_chunks)
        qk = self.Qs * self.Ks
        rf_len = np.diff(self.rf_ptr)
        self.wu_ptr = np.concatenate([[0], np.cumsum(rf_len * qk)]).astype(np.int64)
        self.wh_ptr = np.concatenate([[0], np.cumsum(qk * qk)]).astype(np.int64)
        parent_qk = np.where(self.parent >= 0, qk[np.maximum(self.parent, 0)], 0)
        self.wd_ptr = np.concatenate([[0], np.cumsum(parent_qk * qk)]).astype(np.int64)
        self.top = n_macs - 1

    def mac_slice(self, level):
        """Global indices of the macs of ``level``."""
        return range(self.level_start[level], self.level_start[level + 1])

    def kernel_args(self):
        return (self.Qs, self.Ks, self.rf_ptr, self.rf_idx, self.out_off, self.q_off,
                self.min_active, self.parent, self.wu_ptr, self.wh_ptr, self.wd_ptr)


def _resolve_levels(input_shape, n_features, hidden_levels, Q, K, min_active):
    """Check the hierarchy and return (input_shape, levels including the top mac)."""
    if input_shape is None:
        input_shape = (n_features,)
    else:
        if isinstance(input_shape, numbers.Integral):
            input_shape = (input_shape,)
        input_shape = tuple(check_size("input_shape size", s) for s in input_shape)
        if int(np.prod(input_shape)) != n_features:
            raise ValueError(f"input_shape {input_shape} has {int(np.prod(input_shape))} units but X "
                             f"has {n_features} features")
    levels = []
    for i, lv in enumerate(hidden_levels or ()):
        if not isinstance(lv, Level):
            try:
                lv = Level(**lv) if isinstance(lv, dict) else Level(*lv)
            except TypeError as err:
                raise TypeError(f"hidden_levels[{i}] must be a Level, a dict or a (grid, Q, K) "
                                f"tuple, got {lv!r} ({err})") from None
        levels.append(lv)
    shape = input_shape
    for i, lv in enumerate(levels):
        try:
            tile_receptive_fields(shape, lv.grid)
        except ValueError as err:
            what = f"the input (input_shape={input_shape})" if i == 0 else f"hidden level {i - 1}"
            raise ValueError(f"hidden level {i} (grid {lv.grid}) does not tile {what}: {err}") \
                from None
        shape = lv.grid
    levels.append(Level((1,) * len(shape), Q, K, min_active))
    return input_shape, levels
