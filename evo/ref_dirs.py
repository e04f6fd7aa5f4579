"""Reference directions on the unit simplex, for NSGA-III, MOEA/D and front sampling.

NumPy only: problems use it to sample their fronts without depending on any algorithm.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from evo.checks import check_int


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
    n_obj = check_int("reference_directions: n_obj", n_obj)
    n_points = check_int("reference_directions: n_points (a count of points)", n_points)
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
    given, else about `pop_size` (default 100) from `reference_directions`. Raises
    ValueError when the directions are not finite, non-negative, non-zero rows of `n_obj`."""
    n_obj = check_int(f"{name}: n_obj", n_obj, 2)
    if ref_dirs is None:
        n_points = 100 if pop_size is None else check_int(f"{name}: pop_size", pop_size, 2)
        return reference_directions(n_obj, max(n_points, n_obj))
    ref_dirs = np.asarray(ref_dirs, dtype=float)
    if ref_dirs.ndim != 2 or ref_dirs.shape[1] != n_obj:
        raise ValueError(
            f"{name}: ref_dirs must have shape (R, n_obj={n_obj}), got {ref_dirs.shape}"
        )
    valid = np.all(np.isfinite(ref_dirs)) and np.all(ref_dirs >= 0)
    if not valid or np.any(ref_dirs.sum(axis=1) <= 0):
        raise ValueError(f"{name}: ref_dirs must be finite, non-negative and non-zero")
    return ref_dirs


class DirectionLattice(NamedTuple):
    """Lookup that finds the Das-Dennis direction nearest to a point without a scan.

    A point `t` on the simplex scaled by `partitions` (entries sum to p) is rounded to a
    lattice point `b`; its nearest direction by angle is `b + offsets[j]` for some j (see
    `direction_lattice`), and `table` maps a lattice point `k` to its row in `ref_dirs`
    through `lattice_key(k)`.
    """

    partitions: int
    offsets: np.ndarray  # (K, m) int32, integer vectors summing to 0
    table: np.ndarray  # ((p + 1) ** (m - 1),) int32 row of ref_dirs, -1 off the lattice


def lattice_partitions(ref_dirs: np.ndarray) -> int | None:
    """p when the rows of `ref_dirs` `(R, m)` are exactly `das_dennis(m, p)`, in any
    order; None otherwise (two layers, random or hand-made directions)."""
    n_obj = ref_dirs.shape[1]
    p = 0
    while n_das_dennis(n_obj, p) < len(ref_dirs):
        p += 1
    if n_das_dennis(n_obj, p) != len(ref_dirs) or p == 0:
        return None
    counts = np.rint(ref_dirs * p)
    on_lattice = np.allclose(ref_dirs * p, counts, atol=1e-6) and np.all(counts.sum(axis=1) == p)
    if not on_lattice or len(np.unique(counts, axis=0)) != len(ref_dirs):
        return None
    return p


def direction_lattice(
    ref_dirs: np.ndarray, max_offsets: int | None = None, max_table: int = 1 << 24
) -> DirectionLattice | None:
    """The `DirectionLattice` of Das-Dennis `ref_dirs` `(R, m)`, or None when the rows are
    not one lattice or a scan over them is as cheap (more than `max_offsets`, default
    R / 8, candidates per point, or a table above `max_table` entries).

    Why a few candidates suffice: let `t` lie on the plane sum = p and `b` be its
    largest-remainder rounding, e = |t - b| <= sqrt(m) / 2. The plane is p / sqrt(m) from
    the origin and every lattice point `k` has |k| <= p, so the angle at `k` in the
    triangle (0, t, k) has sine >= p / (sqrt(m) |k|); by the law of sines,
    |t - k| <= sqrt(m) |t| sin(angle(t, k)). The line through `b` gives
    |t| sin(angle(t, b)) <= e, so any `k` at least as close in angle as `b` has
    |t - k| <= sqrt(m) e, hence |k - b| <= (1 + sqrt(m)) e <= (1 + sqrt(m)) sqrt(m) / 2.
    """
    p = lattice_partitions(ref_dirs)
    R, m = ref_dirs.shape
    max_offsets = R // 8 if max_offsets is None else max_offsets
    if p is None or (p + 1) ** (m - 1) > max_table:
        return None
    radius = (1.0 + math.sqrt(m)) * math.sqrt(m) / 2.0
    reach = int(radius)
    if (2 * reach + 1) ** (m - 1) > 1 << 22:
        return None
    grid = np.array(list(itertools.product(range(-reach, reach + 1), repeat=m - 1)))
    offsets = np.concatenate([grid, -grid.sum(axis=1, keepdims=True)], axis=1)
    offsets = offsets[np.sum(offsets**2, axis=1) <= radius**2 + 1e-9]
    if len(offsets) > max_offsets:
        return None
    counts = np.rint(ref_dirs * p).astype(np.int64)
    table = np.full((p + 1) ** (m - 1), -1, np.int32)
    table[lattice_key(counts, p)] = np.arange(R, dtype=np.int32)
    return DirectionLattice(p, offsets.astype(np.int32), table)


def lattice_key(counts, p: int):
    """Position in `DirectionLattice.table` of lattice points `counts` `(..., m)` (integer
    entries summing to p): the first m - 1 entries as digits in base p + 1."""
    weights = (p + 1) ** np.arange(counts.shape[-1] - 1)
    return (counts[..., :-1] * weights).sum(axis=-1)
