"""Exact box decompositions of the region a point set does not dominate (minimisation).

The region of `z <= r` (reference point `r` `(m,)`) that no counted row of `F` `(n, m)`
weakly dominates is cut into disjoint boxes `[lower, upper]` (lower bounds may be -inf), so
the hypervolume improvement of new points is a sum over boxes (Daulton, Balandat & Bakshy
2020, "Differentiable Expected Hypervolume Improvement for Parallel Multi-Objective Bayesian
Optimization", eq. 2). Counted rows follow `evo.metrics.hypervolume`: finite, strictly
dominating `r`, and here also selected by `mask`.

Shapes are static: `n + 1` boxes for m = 2 (the staircase), `2n + 1` for m = 3 and
`(n + 1) * boxes(n, m - 1)` beyond. Unused boxes are empty, `lower = upper = r`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Boxes(NamedTuple):
    """Disjoint boxes (leading batch axes allowed)."""

    lower: jax.Array  # (k, m), -inf where unbounded below
    upper: jax.Array  # (k, m)


def n_boxes(n: int, m: int) -> int:
    """How many boxes `box_decomposition` returns for `n` rows and `m >= 2` objectives."""
    if m == 2:
        return n + 1
    if m == 3:
        return 2 * n + 1
    return (n + 1) * n_boxes(n, m - 1)


def box_decomposition(F: jax.Array, mask: jax.Array, ref: jax.Array) -> Boxes:
    """Boxes `(n_boxes(n, m), m)` partitioning `{z <= ref}` minus what the counted rows of
    `F` `(n, m)` (`mask` `(n,)`) dominate."""
    if F.shape[1] < 2:
        raise ValueError(f"box_decomposition needs m >= 2 objectives, got {F.shape[1]}")
    ref = ref.astype(F.dtype)
    counted = mask & jnp.all(jnp.isfinite(F), 1) & jnp.all(F < ref, 1)
    F = jnp.where(counted[:, None], F, ref)
    if F.shape[1] == 2:
        return _staircase(F, ref)
    if F.shape[1] == 3:
        return _sweep_3d(F, ref)
    return _slabs(F, ref)


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
    return Boxes(lower, jnp.stack([right, height], 1))


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
    return Boxes(
        jnp.where(used[:, None], lower, ref), jnp.where(used[:, None], upper, ref)
    )


def _slabs(F: jax.Array, ref: jax.Array) -> Boxes:
    """m >= 4: between consecutive values of the last objective, the (m - 1)-objective
    decomposition of the rows below."""
    n = F.shape[0]
    P = F[jnp.argsort(F[:, -1])]
    z = jnp.concatenate([jnp.full((1,), -jnp.inf, F.dtype), P[:, -1], ref[-1:]])
    every = jnp.ones((n,), bool)

    def slab(k):
        below = jnp.where(jnp.arange(n)[:, None] < k, P[:, :-1], ref[:-1])
        boxes = box_decomposition(below, every, ref[:-1])
        size = boxes.lower.shape[0]
        return Boxes(
            jnp.concatenate([boxes.lower, jnp.full((size, 1), z[k])], 1),
            jnp.concatenate([boxes.upper, jnp.full((size, 1), z[k + 1])], 1),
        )

    boxes = jax.vmap(slab)(jnp.arange(n + 1))
    m = F.shape[1]
    return Boxes(boxes.lower.reshape(-1, m), boxes.upper.reshape(-1, m))


def box_volumes(boxes: Boxes, floor: jax.Array) -> jax.Array:
    """Volumes `(..., k)` of the boxes cut off below at `floor` `(m,)`."""
    lower = jnp.maximum(boxes.lower, floor)
    return jnp.prod(jnp.maximum(boxes.upper - lower, 0.0), -1)
