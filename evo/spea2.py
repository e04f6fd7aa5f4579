"""SPEA2 (Zitzler, Laumanns & Thiele, 2001): strength fitness, k-th nearest neighbour density
and archive truncation by nearest-neighbour distances."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from evo.algorithm import state_class
from evo.checks import settings_class
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.nsga3 import update_normalization
from evo.operators import permutation_pairs
from evo.sorting import first_argmax, first_argmin, lexsort, pareto_dominance


@state_class
class SPEA2State(GAState):
    fitness: jax.Array  # (pop_size,) SPEA2 fitness for mating, lower better
    # The hyperplane normalisation's estimates (with `normalize`; else they stay inf):
    ideal: jax.Array  # (n_obj,) best feasible value seen per objective
    worst: jax.Array  # (n_obj,) worst feasible value seen per objective
    extremes: jax.Array  # (n_obj, n_obj) row i: the point closest to objective axis i


def cross_distances(A: jax.Array, B: jax.Array) -> jax.Array:
    """Euclidean distances `(a, b)` between the rows of `A` `(a, m)` and `B` `(b, m)`,
    summed from squared differences objective by objective (no `(a, b, m)` array)."""
    squared = (A[:, None, 0] - B[None, :, 0]) ** 2
    for j in range(1, A.shape[1]):
        squared = squared + (A[:, None, j] - B[None, :, j]) ** 2
    return jnp.sqrt(squared)


def pairwise_distances(P: jax.Array) -> jax.Array:
    """Euclidean distances `(n, n)` between the rows of `P` `(n, m)`, exactly symmetric: a
    pair of mutual nearest neighbours must tie on its first distance, and compiled code may
    round d(i, j) and d(j, i) differently."""
    D = cross_distances(P, P)
    return jnp.minimum(D, D.T)


def strength_fitness(F: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """SPEA2's raw fitness `(n,)` int32 of the `valid` `(n,)` rows of `F` `(n, m)`: the sum
    of the strengths (how many rows each dominates) of the rows that dominate it; and which
    valid rows no valid row dominates `(n,)` bool. Invalid rows score 0."""
    dominates = pareto_dominance(F, F) & valid[:, None] & valid[None, :]
    strength = jnp.sum(dominates, axis=1, dtype=jnp.int32)
    raw = jnp.sum(jnp.where(dominates, strength[:, None], 0), axis=0, dtype=jnp.int32)
    return raw, valid & ~jnp.any(dominates, axis=0)


def density(distances: jax.Array, n_valid: jax.Array) -> jax.Array:
    """SPEA2's density `1 / (sigma_k + 2)` `(n,)` from `distances` `(n, n)` (inf on the
    diagonal and to invalid rows), with `sigma_k` the distance to the (k+1)-th nearest
    neighbour at sorted position `k = floor(sqrt(n_valid))`, at most `n_valid - 1`, as
    pymoo (the paper's k-th with k counted from 0). With no such neighbour it is 0."""
    n = distances.shape[0]
    k = jnp.floor(jnp.sqrt(n_valid.astype(distances.dtype))).astype(jnp.int32)
    k = jnp.clip(k, 0, jnp.maximum(n_valid - 1, 0))
    nearest = -jax.lax.top_k(-distances, min(n, math.isqrt(n) + 1))[0]
    return 1.0 / (jnp.take(nearest, k, axis=1) + 2.0)


GATHERED_ROWS = 8
"""Rows a truncation step works on by gathering them (those whose two nearest neighbours
lost one, or that tie on both); more than this, and it works on the whole matrix."""


def two_nearest(D: jax.Array, alive: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nearest and second-nearest `alive` `(n,)` column of each row of distances `D`
    `(k, n)`: their indices `(k, 2)` int32 and distances `(k, 2)`."""
    D = jnp.where(alive[None, :], D, jnp.inf)
    first = first_argmin(D, axis=1)
    d1 = jnp.min(D, axis=1)
    D = jnp.where(jnp.arange(D.shape[1]) == first[:, None], jnp.inf, D)
    second = first_argmin(D, axis=1)
    index = jnp.stack([first, second], axis=1).astype(jnp.int32)
    return index, jnp.stack([d1, jnp.min(D, axis=1)], axis=1)


def gathered(mask: jax.Array, size: int) -> jax.Array:
    """The indices `(size,)` of the first `size` rows set in `mask` `(n,)`, ascending,
    padded with `n`."""
    return jnp.nonzero(mask, size=size, fill_value=mask.shape[0])[0].astype(jnp.int32)


def lexicographic_first(D: jax.Array, alive: jax.Array, rows: jax.Array) -> jax.Array:
    """The one of `rows` `(k,)` (indices into `D` `(n, n)`, ascending, padded with `n`)
    whose sorted distances to the `alive` `(n,)` columns are lexicographically smallest;
    rows equal in every place go to the lowest index."""
    S = jnp.sort(jnp.where(alive[None, :], jnp.take(D, rows, axis=0, mode="fill",
                                                    fill_value=jnp.inf), jnp.inf), axis=1)

    def differing(tied):
        lead = first_argmax(tied)
        return jnp.any(tied[:, None] & (S != S[lead]), axis=0)

    def narrow(tied):
        column = S[:, first_argmax(differing(tied))]
        return tied & (column == jnp.min(jnp.where(tied, column, jnp.inf)))

    tied = jax.lax.while_loop(lambda t: jnp.any(differing(t)), narrow, rows < D.shape[0])
    return rows[first_argmax(tied)]


def most_crowded(D: jax.Array, alive: jax.Array, distance: jax.Array) -> jax.Array:
    """Index of the `alive` `(n,)` row whose sorted distances `D` `(n, n)` to the other
    alive rows are lexicographically smallest, given each row's two nearest `distance`
    `(n, 2)`: those decide unless rows tie in both (duplicates, say)."""
    d1 = jnp.where(alive, distance[:, 0], jnp.inf)
    tied = alive & (d1 == jnp.min(d1))
    d2 = jnp.where(tied, distance[:, 1], jnp.inf)
    tied = tied & (d2 == jnp.min(d2))
    n_tied = jnp.sum(tied)
    return jax.lax.cond(
        n_tied > 1,
        lambda: jax.lax.cond(
            n_tied > GATHERED_ROWS,
            lambda: lexicographic_first(D, alive, gathered(tied, D.shape[0])),
            lambda: lexicographic_first(D, alive, gathered(tied, GATHERED_ROWS)),
        ),
        lambda: first_argmax(tied),
    )


def truncate(D: jax.Array, alive: jax.Array, n_remove: jax.Array) -> jax.Array:
    """`alive` `(n,)` after removing `n_remove` rows one at a time, each time the one whose
    sorted distances `D` `(n, n)` (inf on the diagonal) to the others left are
    lexicographically smallest (SPEA2's archive truncation).

    Each row's two nearest neighbours are kept and refreshed only for the rows that lose
    one of them, so a removal costs O(n) for the few rows concerned, not O(n^2)."""

    def remove(carry):
        alive, index, distance, left = carry
        alive = alive.at[most_crowded(D, alive, distance)].set(False)
        lost = alive & ~alive[index].all(axis=1)

        def refresh_some():
            rows = gathered(lost, GATHERED_ROWS)
            i, d = two_nearest(jnp.take(D, rows, axis=0, mode="fill", fill_value=jnp.inf), alive)
            return index.at[rows].set(i, mode="drop"), distance.at[rows].set(d, mode="drop")

        index, distance = jax.lax.cond(
            jnp.sum(lost) > GATHERED_ROWS, lambda: two_nearest(D, alive), refresh_some
        )
        return alive, index, distance, left - 1

    index, distance = two_nearest(D, alive)
    return jax.lax.while_loop(
        lambda c: c[3] > 0, remove, (alive, index, distance, n_remove)
    )[0]


def boundary_rows(F: jax.Array, nondominated: jax.Array, extremes: jax.Array) -> jax.Array:
    """Which rows `(n,)` of `F` `(n, m)` are the `nondominated` `(n,)` row nearest one of
    the extreme points `(m, m)`."""
    distance = jnp.where(nondominated[None, :], cross_distances(extremes, F), jnp.inf)
    nearest = first_argmin(distance, axis=1)
    return jnp.zeros_like(nondominated).at[nearest].set(nondominated[nearest])


def permutation_tournament(
    key: jax.Array, violation: jax.Array, fitness: jax.Array, n: int
) -> jax.Array:
    """Indices `(n,)` of `n` binary-tournament winners between the `permutation_pairs` of
    the rows (pymoo's `TournamentSelection`): the smaller `violation` `(N,)` wins when either row is
    infeasible, else the smaller `fitness` `(N,)`; a tie goes to the first of the pair."""
    a, b = permutation_pairs(key, violation.shape[0], n)
    infeasible = (violation[a] > 0) | (violation[b] > 0)
    b_wins = jnp.where(infeasible, violation[b] < violation[a], fitness[b] < fitness[a])
    return jnp.where(b_wins, b, a)


@settings_class
class SPEA2(GeneticAlgorithm):
    """SPEA2: strength fitness plus k-th nearest neighbour density; archive truncation by
    nearest-neighbour distances in objectives normalised by the hyperplane, as pymoo.

    Args:
        normalize: measure distances in objectives normalised by the ideal point and the
            hyperplane nadir estimate, and give the non-dominated rows nearest the extreme
            points the best mating fitness (-1), as pymoo's default; False: raw objectives,
            as the paper.
        pop_size: population (archive) size (default 100); each generation makes as many
            offspring.
        sbx_eta, sbx_prob, mutation_eta: SBX (15, 0.9) and polynomial mutation (20), as
            pymoo's SPEA2.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    Environmental selection follows Zitzler, Laumanns & Thiele (2001) on population and
    offspring together: a row's fitness is its raw fitness (the summed strengths of its
    dominators) plus `1 / (sigma_k + 2)`, with `sigma_k` its distance to the (k+1)-th
    nearest row, `k = floor(sqrt(2 pop_size))` (pymoo's `sdists[:, k]`). The non-dominated
    rows survive; too few, and the rest are filled by fitness; too many, and the row whose
    sorted distances to the others are lexicographically smallest is removed, one at a
    time. Infeasible rows come after feasible ones, by violation. Mating: binary
    tournaments over random permutations, the less infeasible row first, then the lower
    fitness, as pymoo (whose duplicate elimination is not done here). Memory: a few
    `(2 pop_size, 2 pop_size)` arrays; a removal usually costs O(pop_size).
    """

    paper = "Zitzler, Laumanns & Thiele 2001"
    reference = "pymoo `SPEA2`"

    normalize: bool = True

    state_type = SPEA2State

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.normalize, bool):
            raise ValueError(f"SPEA2: normalize must be True or False, got {self.normalize!r}")

    def extra_state(self, X: jax.Array) -> dict[str, jax.Array]:
        m = self.n_obj
        return {
            "fitness": jnp.zeros(self.pop_size, X.dtype),
            "ideal": jnp.full(m, jnp.inf, X.dtype),
            "worst": jnp.full(m, -jnp.inf, X.dtype),
            "extremes": jnp.full((m, m), jnp.inf, X.dtype),
        }

    def select_parents(self, key: jax.Array, state: SPEA2State, n: int) -> jax.Array:
        return permutation_tournament(key, state.violation, state.fitness, n)

    def survive(self, state: SPEA2State, F: jax.Array, violation: jax.Array) -> SPEA2State:
        """The `pop_size`-row archive of population and offspring, and its fitness."""
        X, F, violation = merged(state, F, violation)
        valid = violation == 0
        finite = jnp.where(valid[:, None], F, 0.0)
        points = finite
        if self.normalize:
            norm = update_normalization(F, valid, valid, state.ideal, state.worst, state.extremes)
            span = norm.nadir - norm.ideal
            points = (finite - norm.ideal) / jnp.where(span > 0, span, 1.0)
            state = state.replace(ideal=norm.ideal, worst=norm.worst, extremes=norm.extremes)
        n = F.shape[0]
        pair = valid[:, None] & valid[None, :] & ~jnp.eye(n, dtype=bool)
        distances = jnp.where(pair, pairwise_distances(points), jnp.inf)

        raw, nondominated = strength_fitness(F, valid)
        fitness = raw.astype(F.dtype) + density(distances, jnp.sum(valid))
        n_remove = jnp.maximum(jnp.sum(nondominated) - self.pop_size, 0)
        kept = truncate(distances, nondominated, n_remove)
        # Non-dominated rows have fitness below 1 and dominated ones above, so ordering by
        # fitness fills the archive with the best dominated rows when it is short.
        score = jnp.where(valid, jnp.where(nondominated & ~kept, jnp.inf, fitness), 0.0)
        chosen = lexsort((score, violation))[: self.pop_size]
        if self.normalize:
            fitness = jnp.where(boundary_rows(finite, nondominated, state.extremes), -1.0, fitness)
        return state.replace(
            X=X[chosen], F=F[chosen], violation=violation[chosen], fitness=fitness[chosen]
        )
