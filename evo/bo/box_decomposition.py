"""Box decompositions of the region a point set does not dominate (minimisation).

The region of `z <= r` (reference point `r` `(m,)`) that no counted row of `F` `(n, m)`
weakly dominates is cut into disjoint boxes `[lower, upper]` (lower bounds may be -inf), so
the hypervolume improvement of new points is a sum over boxes (Daulton, Balandat & Bakshy
2020, "Differentiable Expected Hypervolume Improvement for Parallel Multi-Objective Bayesian
Optimization", eq. 2). Counted rows follow `evo.metrics.hypervolume`: finite, strictly
dominating `r`, and here also selected by `mask`.

For 2 and 3 objectives the boxes are exact: `n + 1` (the staircase) and `2n + 1`. An exact
decomposition grows as n^(m - 1) beyond, so for 4 or more the region is sampled
(`_sampled_cells`): `m` exact boxes for what lies beyond the counted rows' ideal point and
`SAMPLED_CELLS` small cells standing for the rest. Each box carries a weight (1 for exact
boxes). Shapes are static; unused boxes are empty, `lower = upper = r`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

SAMPLED_CELLS = 1024
CELL_SIDE = 0.01  # a sampled cell's side, as a fraction of the front's extent


class Boxes(NamedTuple):
    """Disjoint boxes (leading batch axes allowed), each counting `exp(log_weight)` times
    its volume."""

    lower: jax.Array  # (k, m), -inf where unbounded below
    upper: jax.Array  # (k, m)
    log_weight: jax.Array  # (k,)


def exact_boxes(lower: jax.Array, upper: jax.Array) -> Boxes:
    """Boxes of weight 1."""
    return Boxes(lower, upper, jnp.zeros(lower.shape[:-1], lower.dtype))


def n_boxes(n: int, m: int) -> int:
    """How many boxes `box_decomposition` returns for `n` rows and `m >= 2` objectives."""
    if m == 2:
        return n + 1
    if m == 3:
        return 2 * n + 1
    return m + SAMPLED_CELLS


def box_decomposition(F: jax.Array, mask: jax.Array, ref: jax.Array) -> Boxes:
    """Boxes `(n_boxes(n, m), m)` partitioning `{z <= ref}` minus what the counted rows of
    `F` `(n, m)` (`mask` `(n,)`) dominate; sampled for `m >= 4`."""
    if F.shape[1] < 2:
        raise ValueError(f"box_decomposition needs m >= 2 objectives, got {F.shape[1]}")
    ref = ref.astype(F.dtype)
    counted = mask & jnp.all(jnp.isfinite(F), 1) & jnp.all(F < ref, 1)
    F = jnp.where(counted[:, None], F, ref)
    if F.shape[1] == 2:
        return _staircase(F, ref)
    if F.shape[1] == 3:
        return _sweep_3d(F, ref)
    return _sampled_cells(F, ref)


def _edges(x: jax.Array, top: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cells `[left, right]` `(n + 1,)` between sorted values `x` `(n,)`, from -inf to `top`."""
    left = jnp.concatenate([jnp.full((1,), -jnp.inf, x.dtype), x])
    return left, jnp.concatenate([x, top[None]])


def _staircase(F: jax.Array, ref: jax.Array) -> Boxes:
    """m = 2: between consecutive f1 values, what lies below the lowest f2 to the left."""
    order = jnp.argsort(F[:, 0])
    left, right = _edges(F[order, 0], ref[0])
    height = jnp.concatenate([ref[1:], jax.lax.cummin(F[order, 1])])
    lower = jnp.stack([left, jnp.full_like(left, -jnp.inf)], 1)
    return exact_boxes(lower, jnp.stack([right, height], 1))


def _sweep_3d(F: jax.Array, ref: jax.Array) -> Boxes:
    """m = 3: sweep over f3, keeping the (f1, f2) staircase as heights over the cells between
    all sorted f1 values; in each slab, a run of cells of equal height is one box, and a box
    extends up in f3 until a later point changes its run.

    Each point changes at most two runs (the one it cuts on the left and the one it lowers),
    so at most 2n + 1 boxes ever open: the bound of Lacour, Klamroth & Fonseca 2017, "A box
    decomposition algorithm to compute the hypervolume indicator", for m = 3.
    """
    n = F.shape[0]
    left, right = _edges(jnp.sort(F[:, 0]), ref[0])
    P = F[jnp.argsort(F[:, 2])]
    z = jnp.concatenate([jnp.full((1,), -jnp.inf, F.dtype), P[:, 2], ref[2:]])

    def add(height, p):
        height = jnp.where(left >= p[0], jnp.minimum(height, p[1]), height)
        return height, height

    _, later = jax.lax.scan(add, jnp.full_like(left, ref[1]), P)
    H = jnp.concatenate([jnp.full((1, n + 1), ref[1], F.dtype), later])  # (slab, cell)
    cells = jnp.arange(n + 1)
    starts = jnp.concatenate([jnp.ones((n + 1, 1), bool), H[:, 1:] != H[:, :-1]], 1)
    next_start = jax.lax.cummin(jnp.where(starts, cells, n + 1), axis=1, reverse=True)
    end = jnp.concatenate([next_start[:, 1:], jnp.full((n + 1, 1), n + 1)], 1)
    same = starts[1:] & starts[:-1] & (end[1:] == end[:-1]) & (H[1:] == H[:-1])
    kept = jnp.concatenate([jnp.zeros((1, n + 1), bool), same])
    opens = starts & ~kept
    slabs = jnp.arange(n + 1)[:, None]
    breaks = jnp.where(kept, n + 1, jnp.broadcast_to(slabs, kept.shape))
    closes = jnp.concatenate(
        [jax.lax.cummin(breaks, axis=0, reverse=True)[1:], jnp.full((1, n + 1), n + 1)]
    )
    k, j = jnp.nonzero(opens, size=2 * n + 1, fill_value=-1)
    used = k >= 0
    lower = jnp.stack([left[j], jnp.full_like(left[j], -jnp.inf), z[k]], 1)
    upper = jnp.stack([right[end[k, j] - 1], H[k, j], z[closes[k, j]]], 1)
    return exact_boxes(
        jnp.where(used[:, None], lower, ref), jnp.where(used[:, None], upper, ref)
    )


def halton(n: int, m: int) -> np.ndarray:
    """The first `n` points `(n, m)` of the Halton sequence in [0, 1)^m (radical inverses
    in the first `m` primes, from index 1)."""
    primes, k = [], 2
    while len(primes) < m:
        if all(k % p for p in primes):
            primes.append(k)
        k += 1
    points = np.zeros((n, m))
    for j, base in enumerate(primes):
        index, scale = np.arange(1, n + 1), 1.0
        while np.any(index > 0):
            scale /= base
            index, digit = np.divmod(index, base)
            points[:, j] += digit * scale
    return points


def _sampled_cells(F: jax.Array, ref: jax.Array) -> Boxes:
    """m >= 4: exact boxes for `z <= ref` beyond the counted rows' ideal point `a` (box k
    holds the points whose first objective below `a` is the k-th), and in `[a, ref]` one
    cell per Halton point `c` that no row weakly dominates: `[c - s, c]` cut at `a`, with
    `s` = `CELL_SIDE` of the extent `ref - a`. Everything below `c` is undominated too, so
    a cell never holds a dominated point. Each cell is weighted to stand for a
    `1/SAMPLED_CELLS` share of the volume of `[a, ref]`: the cells' total is the quasi-Monte
    Carlo estimate of the undominated part, and a point improves on a cell in proportion
    to the part of it the point dominates."""
    m = F.shape[1]
    ideal = jnp.min(F, 0)  # ref where no row is counted: the beyond boxes then cover all
    before = jnp.arange(m)[None, :] < jnp.arange(m)[:, None]
    beyond_lower = jnp.where(before, ideal, -jnp.inf)
    beyond_upper = jnp.where(jnp.eye(m, dtype=bool), ideal, ref)
    extent = ref - ideal
    corner = ideal + jnp.asarray(halton(SAMPLED_CELLS, m), F.dtype) * extent
    lower = jnp.maximum(corner - CELL_SIDE * extent, ideal)
    free = ~jnp.any(jnp.all(F[None] <= corner[:, None], -1), 1) & jnp.all(corner > lower, 1)
    log_share = jnp.sum(jnp.log(jnp.where(extent > 0, extent, 1.0))) - math.log(SAMPLED_CELLS)
    log_volume = jnp.sum(jnp.log(jnp.where(free[:, None], corner - lower, 1.0)), 1)
    return Boxes(
        jnp.concatenate([beyond_lower, jnp.where(free[:, None], lower, ref)]),
        jnp.concatenate([beyond_upper, jnp.where(free[:, None], corner, ref)]),
        jnp.concatenate([jnp.zeros(m, F.dtype), jnp.where(free, log_share - log_volume, 0.0)]),
    )


def box_volumes(boxes: Boxes, floor: jax.Array) -> jax.Array:
    """Weighted volumes `(..., k)` of the boxes cut off below at `floor` `(m,)`."""
    lower = jnp.maximum(boxes.lower, floor)
    return jnp.prod(jnp.maximum(boxes.upper - lower, 0.0), -1) * jnp.exp(boxes.log_weight)
