"""Non-dominated sorting and crowding distance as tensor programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def finite_or_worst(F: jax.Array) -> jax.Array:
    """`F` `(n, m)` with every row that holds a NaN or inf replaced by +inf.

    Such a row is then dominated by every finite row and ties with the other invalid rows.
    """
    valid = jnp.all(jnp.isfinite(F), axis=1, keepdims=True)
    return jnp.where(valid, F, jnp.inf)


def dominance_matrix(F: jax.Array) -> jax.Array:
    """`D[i, j]` is True when row i of `F` `(n, m)` dominates row j (minimisation). `(n, n)`."""
    no_worse = jnp.all(F[:, None, :] <= F[None, :, :], axis=-1)
    better = jnp.any(F[:, None, :] < F[None, :, :], axis=-1)
    return no_worse & better


def non_dominated_rank(F: jax.Array, n_stop: int | None = None) -> jax.Array:
    """Pareto rank of every row of `F` `(n, m)`: 0 for the first front, 1 for the next, ...

    Fronts are peeled from the dominance counts: the rows nobody unranked dominates form
    the next front, and their dominance is subtracted from the counts. Rows with NaN or
    inf rank after all finite rows. With `n_stop`, peeling stops once at least `n_stop`
    rows are ranked; the rest get rank `n` (what selection of `n_stop` survivors needs).
    Returns int32 `(n,)`.
    """
    n = F.shape[0]
    n_stop = n if n_stop is None else n_stop
    dominates = dominance_matrix(finite_or_worst(F))
    count = jnp.sum(dominates, axis=0, dtype=jnp.int32)
    rank = jnp.full(n, n, dtype=jnp.int32)

    def unfinished(carry):
        _, rank, front_index = carry
        return jnp.sum(rank < n) < n_stop

    def peel(carry):
        count, rank, front_index = carry
        front = (count == 0) & (rank == n)
        rank = jnp.where(front, front_index, rank)
        count = count - jnp.sum(dominates & front[:, None], axis=0, dtype=jnp.int32)
        return count, rank, front_index + 1

    _, rank, _ = jax.lax.while_loop(unfinished, peel, (count, rank, jnp.int32(0)))
    return rank


def crowding_distance(F: jax.Array, rank: jax.Array) -> jax.Array:
    """NSGA-II crowding distance of every row of `F` `(n, m)` within its own front.

    For each objective the rows of a front are sorted; an inner row scores the gap between
    its neighbours divided by the front's range, and the two extremes score inf. Scores
    are summed over objectives. Rows in fronts of size <= 2 score inf. Returns `(n,)`.
    """
    F = finite_or_worst(F)
    n = F.shape[0]

    def along(f: jax.Array) -> jax.Array:
        order = jnp.lexsort((f, rank))
        f_sorted, rank_sorted = f[order], rank[order]
        same_prev = jnp.concatenate([jnp.array([False]), rank_sorted[1:] == rank_sorted[:-1]])
        same_next = jnp.concatenate([rank_sorted[1:] == rank_sorted[:-1], jnp.array([False])])
        prev = jnp.concatenate([f_sorted[:1], f_sorted[:-1]])
        next_ = jnp.concatenate([f_sorted[1:], f_sorted[-1:]])
        lo = jax.ops.segment_min(f, rank, num_segments=n + 1)[rank_sorted]
        hi = jax.ops.segment_max(f, rank, num_segments=n + 1)[rank_sorted]
        span = hi - lo
        gap = jnp.where(span > 0, (next_ - prev) / jnp.where(span > 0, span, 1.0), 0.0)
        gap = jnp.where(same_prev & same_next, gap, jnp.inf)
        return jnp.zeros(n, F.dtype).at[order].set(gap)

    return jnp.sum(jax.vmap(along, in_axes=1, out_axes=1)(F), axis=1)
