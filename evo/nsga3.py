"""NSGA-III (Deb & Jain, 2014): Pareto rank, then niching around reference directions."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import state_class
from evo.checks import check_choice, frozen_setattr, settings_class
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.operators import permutation_pairs
from evo.ref_dirs import (
    DirectionLattice,
    direction_lattice,
    lattice_key,
    resolve_ref_dirs,
)
from evo.sorting import TILE_ELEMENTS, first_argmax, first_argmin, lexsort, non_dominated_rank


@state_class
class NSGA3State(GAState):
    ideal: jax.Array  # (n_obj,) best value seen per objective
    worst: jax.Array  # (n_obj,) worst finite value seen per objective
    extremes: jax.Array  # (n_obj, n_obj) row i: the point closest to objective axis i
    rank: jax.Array  # (pop_size,) constrained Pareto rank within the merged population
    niche: jax.Array  # (pop_size,) index of the nearest reference direction
    distance: jax.Array  # (pop_size,) perpendicular distance to that direction's line


class Normalization(NamedTuple):
    ideal: jax.Array  # (m,)
    nadir: jax.Array  # (m,)
    worst: jax.Array  # (m,)
    extremes: jax.Array  # (m, m)


def update_normalization(
    F: jax.Array,
    valid: jax.Array,
    first_front: jax.Array,
    ideal: jax.Array,
    worst: jax.Array,
    extremes: jax.Array,
) -> Normalization:
    """Ideal point, extreme points and the nadir estimate from their hyperplane.

    `F` `(N, m)`; `valid` marks finite, feasible rows and `first_front` the first front;
    `ideal`, `worst` `(m,)` and `extremes` `(m, m)` are the estimates carried over from
    earlier generations.
    Extreme point i minimises the achievement scalarising function with weight vector
    e_i (1e-6 elsewhere) over the first front and the previous extremes. The hyperplane
    through the extremes gives intercepts; when its system is singular, an intercept is
    not positive, or the solve does not reproduce the right-hand side, the nadir falls back
    to the worst point of the first front. Any axis whose span is below 1e-6 uses the
    worst point of the population. These rules follow pymoo's hyperplane normalisation
    (Blank et al., 2019).
    """
    m = F.shape[1]
    ideal = jnp.minimum(ideal, jnp.min(jnp.where(valid[:, None], F, jnp.inf), axis=0))
    worst = jnp.maximum(worst, jnp.max(jnp.where(valid[:, None], F, -jnp.inf), axis=0))

    candidates = jnp.concatenate([extremes, F])
    eligible = jnp.concatenate([jnp.ones(m, bool), first_front & valid])
    shifted = candidates - ideal
    shifted = jnp.where(shifted < 1e-3, 0.0, shifted)
    weights = jnp.where(jnp.eye(m, dtype=bool), 1.0, 1e6)
    asf = jnp.max(shifted[None, :, :] * weights[:, None, :], axis=2)  # (m, N + m)
    asf = jnp.where(eligible[None, :] & jnp.all(jnp.isfinite(candidates), axis=1), asf, jnp.inf)
    extremes = candidates[first_argmin(asf, axis=1)]

    worst_of_front = jnp.max(jnp.where((first_front & valid)[:, None], F, -jnp.inf), axis=0)
    worst_of_population = jnp.max(jnp.where(valid[:, None], F, -jnp.inf), axis=0)
    M = extremes - ideal
    plane = jnp.linalg.solve(M, jnp.ones(m, F.dtype))
    intercepts = 1.0 / plane
    solved = jnp.all(jnp.isfinite(plane)) & jnp.allclose(M @ plane, 1.0, rtol=1e-4, atol=1e-4)
    degenerate = ~solved | jnp.any(intercepts <= 1e-6) | ~jnp.all(jnp.isfinite(intercepts))
    nadir = jnp.where(degenerate, worst_of_front, jnp.minimum(ideal + intercepts, worst))
    nadir = jnp.where(nadir - ideal <= 1e-6, worst_of_population, nadir)
    return Normalization(ideal, nadir, worst, extremes)


def associate(
    F: jax.Array,
    directions: jax.Array,
    ideal: jax.Array,
    nadir: jax.Array,
    lattice: DirectionLattice | None = None,
):
    """Nearest reference line of each normalised row of `F` `(N, m)`.

    `directions` `(R, m)` are unit vectors. With the `lattice` of Das-Dennis directions
    (in the row order of `directions`), each row checks only the few lattice points
    around its own projection onto the simplex (`nearest_on_lattice`), unless some finite
    row has a negative normalised coordinate (an infeasible row below the ideal point),
    in which case every row scans all directions. The scan takes at most `TILE_ELEMENTS`
    row-direction pairs at a time, so memory stays O(N + R + TILE_ELEMENTS). Rows holding
    NaN or inf get niche 0 and distance inf. Returns the niche index `(N,)` and the
    perpendicular distance to that line `(N,)`.
    """
    scale = jnp.where(nadir - ideal > 0, nadir - ideal, 1.0)
    normalized = (F - ideal) / scale
    finite = jnp.all(jnp.isfinite(normalized), axis=1)
    normalized = jnp.where(finite[:, None], normalized, 0.0)

    def largest_projection(row: jax.Array) -> jax.Array:
        # The squared distance to line r is |f|^2 - projection_r^2: the nearest line has
        # the largest squared projection.
        return first_argmax((directions @ row) ** 2)

    def scan_all(rows: jax.Array) -> jax.Array:
        batch = max(1, TILE_ELEMENTS // directions.shape[0])
        return jax.lax.map(largest_projection, rows, batch_size=min(batch, len(rows)))

    if lattice is None:
        niche = scan_all(normalized)
    else:
        niche = jax.lax.cond(
            jnp.any(normalized < 0), scan_all,
            lambda rows: nearest_on_lattice(rows, lattice), normalized,
        )
    nearest = directions[niche]
    projection = jnp.sum(normalized * nearest, axis=1, keepdims=True)
    # The distance comes from the explicit residual: |f|^2 - projection^2 cancels
    # catastrophically near the line.
    distance = jnp.linalg.norm(normalized - projection * nearest, axis=1)
    return niche, jnp.where(finite, distance, jnp.inf)


def nearest_on_lattice(points: jax.Array, lattice: DirectionLattice) -> jax.Array:
    """Row index `(N,)` in the lattice's directions of the line nearest (in angle) to each
    of `points` `(N, m)`, all entries >= 0; a zero row gets 0.

    The point is scaled onto the simplex of sum p and rounded to the lattice by largest
    remainders; the candidates are that point plus `lattice.offsets`, and the one with
    the largest projection wins (the lowest row on exact ties, as a scan's argmax would).
    """
    p = lattice.partitions
    total = jnp.sum(points, axis=1, keepdims=True)
    t = p * points / jnp.where(total > 0, total, 1.0)
    floor = jnp.floor(t)
    remainder = t - floor
    # The largest remainders round up, as many as it takes to bring the sum to p.
    rounds_up = p - jnp.sum(floor, axis=1, keepdims=True)
    # place[n, i]: how many entries of row n round up before entry i (larger remainder,
    # or an equal one further left).
    column = jnp.arange(t.shape[1])
    ahead = (remainder[:, None, :] > remainder[:, :, None]) | (
        (remainder[:, None, :] == remainder[:, :, None]) & (column < column[:, None])
    )
    place = jnp.sum(ahead, axis=2)
    base = (floor + (place < rounds_up)).astype(jnp.int32)
    candidates = base[:, None, :] + jnp.asarray(lattice.offsets)  # (N, K, m)
    on_lattice = jnp.all(candidates >= 0, axis=2)
    row = jnp.asarray(lattice.table)[jnp.where(on_lattice, lattice_key(candidates, p), 0)]
    counts = candidates.astype(points.dtype)
    projection = jnp.einsum("nkm,nm->nk", counts, points) / jnp.linalg.norm(counts, axis=2)
    projection = jnp.where(on_lattice, projection, -jnp.inf)
    best = projection == jnp.max(projection, axis=1, keepdims=True)
    niche = jnp.min(jnp.where(best, row, jnp.iinfo(jnp.int32).max), axis=1)
    return jnp.where(total[:, 0] > 0, niche, 0)


def niching_order(
    key: jax.Array,
    niche: jax.Array,
    distance: jax.Array,
    survivor: jax.Array,
    candidate: jax.Array,
    n_niches: int,
) -> jax.Array:
    """A score per row: picking candidates by ascending score is NSGA-III's niching.

    Niching repeatedly takes a least-crowded niche (ties at random) and adds one of its
    candidates: the closest one if the niche is empty, otherwise a random one. So the
    j-th candidate taken from niche r enters when the niche count reaches
    `count[r] + j`, and candidates enter in order of that level, niches at the same level
    in random order. The score is that level plus a random fraction; rows that are not
    candidates score inf.
    """
    count = jnp.zeros(n_niches, jnp.int32).at[niche].add(survivor.astype(jnp.int32))
    empty = count[niche] == 0
    tiebreak = jax.random.uniform(key, niche.shape, minval=1.0, maxval=2.0)
    closest = distance == jax.ops.segment_min(
        jnp.where(candidate, distance, jnp.inf), niche, num_segments=n_niches
    )[niche]
    within = jnp.where(candidate & empty & closest, 0.0, tiebreak)
    within = jnp.where(candidate, within, jnp.inf)
    order = lexsort((within, niche))
    sorted_niche = niche[order]
    position = jnp.arange(niche.shape[0]) - jnp.searchsorted(sorted_niche, sorted_niche)
    taken_before = jnp.zeros_like(position).at[order].set(position)
    level = count[niche] + taken_before
    score = level + jax.random.uniform(jax.random.fold_in(key, 1), niche.shape)
    return jnp.where(candidate, score, jnp.inf)


def niching_tournament(
    key: jax.Array, violation: jax.Array, rank: jax.Array, niche: jax.Array,
    distance: jax.Array, n: int,
) -> jax.Array:
    """Indices `(n,)` of the winners of `n` binary tournaments between the
    `permutation_pairs` of a population of `N` with `violation`, `rank`, `niche` and
    `distance` `(N,)` each (U-NSGA-III, Seada & Deb 2015, as pymoo's
    `comp_by_rank_and_ref_line_dist`).

    If either row is infeasible the smaller violation wins. Two feasible rows compete
    only within one niche: the smaller rank wins, then the smaller distance to the
    niche's line. Every other pair, and every tie, goes to either at random.
    """
    pair_key, coin_key = jax.random.split(key)
    a, b = permutation_pairs(pair_key, violation.shape[0], n)

    def beats(x, y):
        return jnp.where(
            (violation[x] > 0) | (violation[y] > 0),
            violation[x] < violation[y],
            (niche[x] == niche[y]) & ((rank[x] < rank[y])
                                      | ((rank[x] == rank[y]) & (distance[x] < distance[y]))),
        )

    coin = jax.random.bernoulli(coin_key, 0.5, (n,))
    return jnp.where(beats(b, a) | (~beats(a, b) & coin), b, a)


MATINGS = ("random", "niching")


@settings_class
class NSGA3(GeneticAlgorithm):
    """NSGA-III: Pareto rank, then niching around reference directions (hyperplane
    normalisation with a degenerate-case fallback); with Das-Dennis directions each row
    finds its nearest line among a few lattice neighbours (7 for 3 objectives). SBX
    (eta 30, p 1) and polynomial mutation (eta 20), population = directions, as pymoo.

    Args:
        ref_dirs: reference directions `(R, n_obj)` on the simplex; by default about
            `pop_size` of them (Das-Dennis, two layers for many objectives).
        pop_size: population size, at least R; defaults to R, and to about 100 directions
            when neither is given.
        mating: "random" (default, as pymoo's NSGA-III): the less infeasible of two random
            parents, else either; "niching": U-NSGA-III's tournament
            (`niching_tournament`), which also compares two feasible parents of the same
            niche by rank, then by distance to its line.
        sbx_eta, sbx_prob, mutation_eta: SBX (30, 1.0) and polynomial mutation (20), as
            pymoo's NSGA-III.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.
    """

    paper = "Deb & Jain 2014"
    reference = "pymoo `NSGA3`"

    ref_dirs: np.ndarray | None = None
    pop_size: int | None = None
    mating: str = "random"
    sbx_eta: float = 30.0
    sbx_prob: float = 1.0

    state_type = NSGA3State

    def __post_init__(self):
        ref_dirs = resolve_ref_dirs("NSGA3", self.n_obj, self.ref_dirs, self.pop_size)
        pop_size = len(ref_dirs) if self.pop_size is None else self.pop_size
        frozen_setattr(self, ref_dirs=ref_dirs, pop_size=pop_size)
        super().__post_init__()
        check_choice(f"{type(self).__name__}: mating", self.mating, MATINGS)
        if pop_size < len(ref_dirs):
            raise ValueError(
                f"NSGA3: pop_size={pop_size} is smaller than the {len(ref_dirs)} reference "
                "directions; use at least as many individuals as directions"
            )

    @functools.cached_property
    def lattice(self) -> DirectionLattice | None:
        """The lookup `associate` uses for Das-Dennis `ref_dirs`, built once; else None."""
        return direction_lattice(self.ref_dirs)

    def extra_state(self, X: jax.Array) -> dict[str, jax.Array]:
        m = self.n_obj
        return {
            "ideal": jnp.full(m, jnp.inf, X.dtype),
            "worst": jnp.full(m, -jnp.inf, X.dtype),
            "extremes": jnp.full((m, m), jnp.inf, X.dtype),
            "rank": jnp.zeros(self.pop_size, jnp.int32),
            "niche": jnp.zeros(self.pop_size, jnp.int32),
            "distance": jnp.zeros(self.pop_size, X.dtype),
        }

    def select_parents(self, key: jax.Array, state: NSGA3State, n: int) -> jax.Array:
        if self.mating == "niching":
            return niching_tournament(key, state.violation, state.rank, state.niche,
                                      state.distance, n)
        return super().select_parents(key, state, n)

    def survive(self, state: NSGA3State, F: jax.Array, violation: jax.Array) -> NSGA3State:
        """`pop_size` of population and offspring: whole fronts, then niching on the last.

        Infeasible rows rank after feasible ones, by violation; only feasible rows shape
        the normalisation.
        """
        key, niche_key = jax.random.split(state.key)
        X, F, violation = merged(state, F, violation)
        valid = violation == 0

        rank = non_dominated_rank(F, n_stop=self.pop_size, violation=violation)
        last_rank = jnp.sort(rank)[self.pop_size - 1]
        norm = update_normalization(
            F, valid, rank == 0, state.ideal, state.worst, state.extremes
        )
        directions = self.ref_dirs / np.linalg.norm(self.ref_dirs, axis=1, keepdims=True)
        niche, distance = associate(
            F, jnp.asarray(directions, F.dtype), norm.ideal, norm.nadir, self.lattice
        )
        score = niching_order(
            niche_key, niche, distance, rank < last_rank, rank == last_rank, len(directions)
        )
        priority = jnp.where(rank < last_rank, -1.0, score)
        chosen = lexsort((priority,))[: self.pop_size]
        return state.replace(
            key=key, X=X[chosen], F=F[chosen], violation=violation[chosen],
            ideal=norm.ideal, worst=norm.worst, extremes=norm.extremes, rank=rank[chosen],
            niche=niche[chosen], distance=distance[chosen],
        )


@settings_class
class UNSGA3(NSGA3):
    """U-NSGA-III: NSGA-III with the niching tournament for mating (Seada & Deb, 2015),
    as pymoo's UNSGA3; `NSGA3(mating="niching")` under its own name.

    Args: as `NSGA3`, with `mating` "niching" by default.
    """

    paper = "Seada & Deb 2015"
    reference = "pymoo `UNSGA3`"

    mating: str = "niching"
