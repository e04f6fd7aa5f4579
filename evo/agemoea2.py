"""AGE-MOEA-2 (Panichella, 2022): survival by proximity and diversity measured on the first
front's estimated geometry, with geodesic distances on the fitted L_p manifold."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from evo.checks import settings_class
from evo.genetic import merged
from evo.nsga2 import NSGA2, NSGA2State
from evo.operators import power
from evo.sorting import first_argmax, first_argmin, lexsort, non_dominated_rank
from evo.spea2 import gathered, pairwise_distances


class Geometry(NamedTuple):
    """The first front's shape: objectives are normalised as `(f - ideal) / scale` and the
    front is fitted by the unit sphere of the L_p norm."""

    ideal: jax.Array  # (m,) best value of the first front per objective
    scale: jax.Array  # (m,) intercepts of the extremes' hyperplane, or the front's span
    p: jax.Array  # () exponent of the fitted L_p norm, in [0.1, 20]
    extreme: jax.Array  # (n,) bool: the corner rows of the first front


def lp_norm(X: jax.Array, p: jax.Array) -> jax.Array:
    """`(sum_k x_k^p)^(1/p)` `(n,)` of the rows of `X` `(n, m)`, entries >= 0."""
    return power(jnp.sum(power(X, p), axis=1), 1.0 / p)


def corner_rows(F: jax.Array, front: jax.Array) -> jax.Array:
    """Indices `(m,)` of the `front` `(n,)` rows of `F` `(n, m)` (shifted to the ideal
    point) nearest each objective axis in turn, each row used once (pymoo's
    `find_corner_solutions`: the axis is `e_i + 1e-6`); with `m` or fewer front rows, those
    rows (padded with `n`)."""
    n, m = F.shape
    taken = ~front
    corners = []
    for i in range(m):
        axis = jnp.full(m, 1e-6, F.dtype).at[i].add(1.0)
        along = jnp.sum(F * axis, axis=1) / jnp.sum(axis * axis)
        squared = jnp.sum((F - along[:, None] * axis) ** 2, axis=1)
        corner = first_argmin(jnp.where(taken, jnp.inf, squared))
        corners.append(corner)
        taken = taken.at[corner].set(True)
    return jnp.where(jnp.sum(front) <= m, gathered(front, m), jnp.stack(corners))


def intercepts(corners: jax.Array, span: jax.Array) -> jax.Array:
    """Scale `(m,)` of each objective (pymoo's `normalize`): the intercepts of the
    hyperplane through the rows of `corners` `(m, m)`; where that plane is singular or cuts
    an axis at a non-positive value, `span` `(m,)`."""
    plane = jnp.linalg.solve(corners, jnp.ones(corners.shape[1], corners.dtype))
    scale = 1.0 / plane
    usable = jnp.all(jnp.isfinite(plane) & (plane > 0) & jnp.isfinite(scale))
    return jnp.where(usable, scale, span)


def lp_exponent(point: jax.Array, precision: float = 1e-3, max_iter: int = 100) -> jax.Array:
    """The `p` that puts `point` `(m,)` on the unit L_p sphere, `sum_k point_k^p = 1` over
    its positive entries: Newton's method on `log sum_k point_k^p` from p = 1, stopping when
    a step is at most `precision` (pymoo's AGEMOEA2 `find_zero`, with its 1e-10 added to
    each entry). Overflow, a zero or non-finite derivative, or a non-finite result give 1;
    the result is then clipped as pymoo does: below 0.1 (or NaN) 1, above 20 20."""
    dtype = point.dtype
    log_max = jnp.log(jnp.finfo(dtype).max)
    positive = point > 0
    log_point = jnp.where(positive, jnp.log(jnp.where(positive, point, 1.0) + 1e-10), 0.0)

    def step(carry):
        x, _, iteration, _ = carry
        exponent = x * log_point
        overflow = jnp.any(positive & (exponent >= log_max))
        powers = jnp.where(positive, jnp.exp(jnp.minimum(exponent, log_max)), 0.0)
        total = jnp.sum(powers)
        value = jnp.where(total > 0, jnp.log(jnp.where(total > 0, total, 1.0)), 0.0)
        # pymoo caps a term of the derivative's numerator that would overflow at the
        # largest float.
        capped = exponent + jnp.log(jnp.abs(log_point) + 1e-10) >= log_max
        slope = jnp.sum(jnp.where(positive, jnp.where(capped, jnp.finfo(dtype).max,
                                                      powers * log_point), 0.0))
        derivative = slope / total
        failed = (overflow | (total == 0) | ~jnp.isfinite(total) | ~jnp.isfinite(slope)
                  | (derivative == 0))
        new = x - value / jnp.where(failed, 1.0, derivative)
        converged = jnp.abs(new - x) <= precision
        return new, failed, iteration + 1, failed | converged

    start = (jnp.ones((), dtype), jnp.bool_(False), jnp.int32(0), jnp.bool_(False))
    x, failed, _, _ = jax.lax.while_loop(lambda c: (c[2] < max_iter) & ~c[3], step, start)
    p = jnp.where(failed | ~jnp.isfinite(x), 1.0, x)
    return jnp.where(jnp.isnan(p) | (p <= 0.1), 1.0, jnp.minimum(p, 20.0))


def front_geometry(F: jax.Array, front: jax.Array) -> Geometry:
    """Ideal point, scale, corner rows and L_p exponent of the `front` `(n,)` rows of `F`
    `(n, m)` (pymoo's AGEMOEA2 `survival_score` up to the distances).

    The exponent is fitted to the non-corner front row nearest the ideal point in the
    normalised objectives. A front of fewer than `m` rows has no corners, p = 1 and scale
    its span; a zero scale becomes 1."""
    n, m = F.shape
    ideal = jnp.min(jnp.where(front[:, None], F, jnp.inf), axis=0)
    shifted = jnp.where(front[:, None], F - ideal, 0.0)
    corners = corner_rows(shifted, front)
    few = jnp.sum(front) < m
    span = jnp.max(jnp.where(front[:, None], shifted, -jnp.inf), axis=0)
    scale = jnp.where(few, span, intercepts(shifted[corners], span))
    scale = jnp.where(scale == 0, 1.0, scale)
    extreme = jnp.zeros(n, bool).at[corners].set(~few, mode="drop")
    normalized = shifted / scale
    distance = jnp.where(front & ~extreme, jnp.linalg.norm(normalized, axis=1), jnp.inf)
    nearest = jnp.where(jnp.any(front & ~extreme), first_argmin(distance), first_argmax(front))
    p = jnp.where(few, 1.0, lp_exponent(normalized[nearest]))
    return Geometry(ideal, scale, p.astype(F.dtype), extreme)


def project(P: jax.Array, p: jax.Array) -> jax.Array:
    """The rows of `P` `(n, m)` (entries >= 0) scaled onto the unit L_p sphere (pymoo's
    `project_on_manifold`); zero rows stay zero."""
    norm = lp_norm(P, p)
    return P / jnp.where(norm > 0, norm, 1.0)[:, None]


def geodesic_distances(P: jax.Array, p: jax.Array) -> jax.Array:
    """AGE-MOEA-2's distances `(n, n)` between the rows of `P` `(n, m)` (normalised, >= 0)
    projected onto the L_p sphere: through the projected midpoint of each pair, `|a - c| +
    |b - c|`; for `0.95 < p < 1.05` straight, `|a - b|` (pymoo's `pairwise_distances`)."""
    Q = project(P, p)
    m = Q.shape[1]
    half = [0.5 * Q[:, None, k] + 0.5 * Q[None, :, k] for k in range(m)]
    mid_norm = power(sum(power(h, p) for h in half), 1.0 / p)
    mid_norm = jnp.where(mid_norm > 0, mid_norm, 1.0)
    to_a = jnp.sqrt(sum((Q[:, None, k] - h / mid_norm) ** 2 for k, h in enumerate(half)))
    to_b = jnp.sqrt(sum((Q[None, :, k] - h / mid_norm) ** 2 for k, h in enumerate(half)))
    return jnp.where((p > 0.95) & (p < 1.05), pairwise_distances(Q), to_a + to_b)


def diversity_scores(
    W: jax.Array, extreme: jax.Array, candidates: jax.Array, n_picks: jax.Array
) -> jax.Array:
    """Greedy diversity selection (AGE-MOEA): from the `extreme` `(n,)` rows, add
    `n_picks` of the `candidates` `(n,)` one at a time, each time the one whose two
    smallest distances `W[s, r]` `(n, n)` to the rows `s` chosen so far sum highest (its
    one distance while one row is chosen; ties to the lowest index).

    Returns each chosen row's score when it was chosen `(n,)`: inf for the extremes, -inf
    for rows never chosen. Once two rows are chosen the scores never rise, so the first
    k chosen are the k best."""
    n = W.shape[0]
    D = jnp.where(extreme[:, None], W, jnp.inf)
    nearest = first_argmin(D, axis=0)
    d1 = jnp.min(D, axis=0)
    d2 = jnp.min(jnp.where(jnp.arange(n)[:, None] == nearest[None, :], jnp.inf, D), axis=0)

    def pick(_, carry):
        remaining, d1, d2, score = carry
        gain = d1 + jnp.where(jnp.isfinite(d2), d2, 0.0)
        best = first_argmax(jnp.where(remaining, gain, -jnp.inf))
        score = score.at[best].set(gain[best])
        new = W[best]
        d2 = jnp.where(new < d1, d1, jnp.minimum(d2, new))
        return remaining.at[best].set(False), jnp.minimum(d1, new), d2, score

    score = jnp.where(extreme, jnp.inf, -jnp.inf).astype(W.dtype)
    start = (candidates & ~extreme, d1, d2, score)
    return jax.lax.fori_loop(0, n_picks, pick, start)[3]


def survival_scores(F: jax.Array, rank: jax.Array, valid: jax.Array, n: int) -> jax.Array:
    """AGE-MOEA-2's survival score `(N,)` of rows of `F` `(N, m)` with constrained `rank`
    `(N,)` (`valid` `(N,)`: feasible and finite), for keeping `n`, higher better.

    First front: the diversity scores (`diversity_scores`) on geodesic distances divided
    by the chosen row's L_p norm (pymoo's `distances / nn[:, None]`, floored at 1e-8),
    picking until `n` rows of it are chosen; a front smaller than the number of objectives
    scores 0. Later feasible fronts: 1 / the L_p norm of the normalised objectives
    (proximity). Infeasible rows score 0."""
    first = valid & (rank == 0)
    geometry = front_geometry(F, first)
    normalized = jnp.where(valid[:, None], (F - geometry.ideal) / geometry.scale, 0.0)
    norm = lp_norm(jnp.maximum(normalized, 0.0), geometry.p)
    points = jnp.where(first[:, None], normalized, 0.0)
    distances = jnp.maximum(geodesic_distances(points, geometry.p), 1e-8)
    W = distances / jnp.where(norm < 1e-8, 1.0, norm)[:, None]
    few = jnp.sum(first) < F.shape[1]
    n_picks = jnp.minimum(jnp.sum(first), n) - jnp.sum(geometry.extreme)
    diversity = diversity_scores(W, geometry.extreme, first, jnp.where(few, 0, n_picks))
    score = jnp.where(first, jnp.where(few, 0.0, diversity), 1.0 / norm)
    return jnp.where(valid, score, 0.0)


@settings_class
class AGEMOEA2(NSGA2):
    """AGE-MOEA-2: Pareto rank, then a survival score from the first front's fitted L_p
    geometry (Newton-estimated p, geodesic distances); SBX (eta 15, p 0.9) and polynomial
    mutation (eta 20), binary tournaments on rank and score, as pymoo's AGEMOEA2.

    Args:
        pop_size: population size (default 100); each generation makes as many offspring.
        sbx_eta, sbx_prob, mutation_eta: SBX (15, 0.9) and polynomial mutation (20), as
            pymoo's AGEMOEA2.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    Survival (Panichella, 2022, on pymoo's AGEMOEA2 and its parent AGEMOEA): population
    and offspring are sorted into fronts; the first front is shifted to its ideal point and
    scaled by the intercepts of the hyperplane through its corner rows; p is fitted so the
    non-corner row nearest the ideal point lies on the unit L_p sphere; the corners survive,
    then the row with the largest sum of its two smallest geodesic distances to the rows
    kept so far, one at a time. Later fronts score by proximity, 1 / the L_p norm of their
    normalised objectives, and the last front that fits only in part keeps its best
    scores. Infeasible rows follow the feasible ones by violation. Two differences from
    pymoo 0.6.2: the last front is scored too, as in the paper and Panichella's PlatEMO
    code (pymoo's loop stops one front short and cuts that front unscored); and proximity
    is measured in the first front's normalised space, `(f - ideal) / scale`, as in the
    paper (pymoo and PlatEMO take `f / scale - ideal`; the two agree when the ideal point
    is at the origin). pymoo's duplicate elimination is not done here. Memory: a few
    `(2 pop_size, 2 pop_size)` arrays; the greedy selection is at most `pop_size`
    sequential steps of O(pop_size) each.
    """

    paper = "Panichella 2022"
    reference = "pymoo `AGEMOEA2`"

    def survive(self, state: NSGA2State, F: jax.Array, violation: jax.Array) -> NSGA2State:
        """The best `pop_size` of population and offspring by rank, then survival score
        (kept in the state's `crowding` for mating)."""
        X, F, violation = merged(state, F, violation)
        rank = non_dominated_rank(F, n_stop=self.pop_size, violation=violation)
        score = survival_scores(F, rank, violation == 0, self.pop_size)
        chosen = lexsort((-score, rank))[: self.pop_size]
        return state.replace(
            X=X[chosen], F=F[chosen], violation=violation[chosen], rank=rank[chosen],
            crowding=score[chosen],
        )
