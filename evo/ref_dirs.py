"""Reference directions on the unit simplex, for NSGA-III, MOEA/D and front sampling."""

from __future__ import annotations

import itertools
import math

import numpy as np


def das_dennis(n_obj: int, n_partitions: int) -> np.ndarray:
    """All points of the simplex lattice with spacing `1 / n_partitions`.

    Das & Dennis (1998): every vector with entries in {0, 1/p, ..., 1} summing to 1.
    Returns `(comb(p + m - 1, m - 1), m)` rows in lexicographic order.
    """
    if n_obj < 1 or n_partitions < 0:
        raise ValueError(
            f"das_dennis needs n_obj >= 1 and n_partitions >= 0, got {n_obj} and {n_partitions}"
        )
    if n_obj == 1:
        return np.ones((1, 1))
    if n_partitions == 0:
        return np.full((1, n_obj), 1.0 / n_obj)
    # Stars and bars: choosing m - 1 bar positions among p + m - 1 slots gives the counts.
    bars = np.array(list(itertools.combinations(range(n_partitions + n_obj - 1), n_obj - 1)))
    edges = np.concatenate(
        [np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), n_partitions + n_obj - 1)],
        axis=1,
    )
    counts = np.diff(edges, axis=1) - 1
    return counts[::-1] / n_partitions


def two_layer(n_obj: int, outer_partitions: int, inner_partitions: int) -> np.ndarray:
    """Boundary layer plus an inner layer shrunk halfway to the centre (Deb & Jain, 2014).

    For many objectives a single lattice with few partitions has no interior points; the
    inner layer `0.5 * w + 0.5 / m` fills the middle. Returns `(n_outer + n_inner, m)`.
    """
    outer = das_dennis(n_obj, outer_partitions)
    inner = 0.5 * das_dennis(n_obj, inner_partitions) + 0.5 / n_obj
    return np.concatenate([outer, inner], axis=0)


def n_das_dennis(n_obj: int, n_partitions: int) -> int:
    """Number of lattice points `das_dennis(n_obj, n_partitions)` returns."""
    return math.comb(n_partitions + n_obj - 1, n_obj - 1)


def reference_directions(n_obj: int, n_points: int) -> np.ndarray:
    """About `n_points` well-spread directions for `n_obj` objectives.

    Uses the largest single Das-Dennis lattice with at most `n_points` points; when that
    lattice would have no interior points (fewer partitions than objectives), two layers.
    """
    if n_obj < 2 or n_points < n_obj:
        raise ValueError(f"need n_obj >= 2 and n_points >= n_obj, got {n_obj} and {n_points}")
    p = 1
    while n_das_dennis(n_obj, p + 1) <= n_points:
        p += 1
    if p >= n_obj:
        return das_dennis(n_obj, p)
    outer, inner = 1, 1
    for candidate in range(1, p + 1):
        for inner_candidate in range(1, candidate + 1):
            size = n_das_dennis(n_obj, candidate) + n_das_dennis(n_obj, inner_candidate)
            best = n_das_dennis(n_obj, outer) + n_das_dennis(n_obj, inner)
            if best < size <= n_points:
                outer, inner = candidate, inner_candidate
    return two_layer(n_obj, outer, inner)


def resolve_ref_dirs(
    name: str, n_obj: int, ref_dirs: np.ndarray | None, pop_size: int | None
) -> np.ndarray:
    """Checked reference directions `(R, n_obj)` for algorithm `name`: `ref_dirs` when
    given, else about `pop_size` from `reference_directions`. Raises ValueError when
    neither is given or the directions are not non-negative, non-zero rows of `n_obj`."""
    if ref_dirs is None and pop_size is None:
        raise ValueError(f"{name} needs pop_size or ref_dirs")
    ref_dirs = (
        reference_directions(n_obj, pop_size)
        if ref_dirs is None
        else np.asarray(ref_dirs, dtype=float)
    )
    if ref_dirs.ndim != 2 or ref_dirs.shape[1] != n_obj:
        raise ValueError(
            f"{name}: ref_dirs must have shape (R, n_obj={n_obj}), got {ref_dirs.shape}"
        )
    if np.any(ref_dirs < 0) or np.any(ref_dirs.sum(axis=1) <= 0):
        raise ValueError(f"{name}: ref_dirs must be non-negative and non-zero")
    return ref_dirs
