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


def constraint_violation(G: jax.Array) -> jax.Array:
    """Total violation `(n,)` of constraint values `G` `(n, c)`: sum of max(g, 0).

    Feasible rows (every g <= 0) score 0; a NaN constraint value scores inf.
    """
    violation = jnp.sum(jnp.maximum(G, 0.0), axis=1)
    return jnp.where(jnp.isnan(violation), jnp.inf, violation)


def effective_violation(F: jax.Array, violation: jax.Array | None = None) -> jax.Array:
    """Violation `(n,)` with rows of `F` `(n, m)` holding NaN or inf counted as infinitely
    infeasible, so that every ranking puts them last. `violation` defaults to zeros."""
    finite = jnp.all(jnp.isfinite(F), axis=1)
    violation = jnp.zeros(F.shape[0], F.dtype) if violation is None else violation
    return jnp.where(finite & ~jnp.isnan(violation), violation, jnp.inf)


def dominance_matrix(F: jax.Array, violation: jax.Array | None = None) -> jax.Array:
    """`D[i, j]` is True when row i constrained-dominates row j (minimisation). `(n, n)`

    Between two feasible rows of `F` `(n, m)` this is Pareto dominance; otherwise the row
    with the smaller `violation` `(n,)` dominates (Deb, 2000). Rows holding NaN or inf count
    as infinitely infeasible: every valid row dominates them, and they tie with each other.
    """
    violation = effective_violation(F, violation)
    feasible = violation == 0
    no_worse = jnp.all(F[:, None, :] <= F[None, :, :], axis=-1)
    better = jnp.any(F[:, None, :] < F[None, :, :], axis=-1)
    pareto = no_worse & better
    both_feasible = feasible[:, None] & feasible[None, :]
    return jnp.where(both_feasible, pareto, violation[:, None] < violation[None, :])


def non_dominated_rank(
    F: jax.Array, n_stop: int | None = None, violation: jax.Array | None = None
) -> jax.Array:
    """Rank of every row of `F` `(n, m)`: 0 for the first front, 1 for the next, ...

    Fronts are peeled from the dominance counts: the rows nobody unranked dominates form
    the next front, and their dominance is subtracted from the counts. With constraint
    `violation` `(n,)`, feasible rows come first and infeasible ones follow in order of
    violation; rows with NaN or inf come last. With `n_stop`, peeling stops once at least
    `n_stop` rows are ranked; the rest get rank `n` (what selecting `n_stop` survivors
    needs). Returns int32 `(n,)`.
    """
    n = F.shape[0]
    n_stop = n if n_stop is None else n_stop
    dominates = dominance_matrix(F, violation)
    count = jnp.sum(dominates, axis=0, dtype=jnp.int32)
    rank = jnp.full(n, n, dtype=jnp.int32)

    def unfinished(carry):
        _, rank, _ = carry
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
