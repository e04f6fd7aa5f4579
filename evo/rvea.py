"""RVEA (Cheng, Jin, Olhofer & Sendhoff, 2016): reference vectors and angle-penalised distance.

Every reference vector spans a subspace: the rows whose direction from the ideal point is
closest to it in angle. Each non-empty subspace keeps the one row with the smallest
angle-penalised distance (APD)

    d(x) = |f(x) - z| (1 + P(theta)),  P(theta) = M (t / t_max)^alpha theta / gamma,

where `z` is the ideal point, `theta` the angle between `f(x) - z` and the subspace's
vector, `gamma` the smallest angle between that vector and any other one, `M` the number
of objectives (pymoo takes 1 for two objectives, and so does `RVEA` by default) and
`t / t_max` the share of the run done; empty subspaces stay empty, so the
population holds one row per non-empty subspace, often fewer than `pop_size`. Every
`ceil(adapt_freq * n_gen)` generations the vectors are rescaled by the spread of the
survivors, `v_i = u_i * (nadir - z) / |u_i * (nadir - z)|`, `u_i` the unit reference
directions.

A fixed-shape state holds `capacity = max(R, pop_size)` rows: the survivors, one per
non-empty subspace in the order of the vectors, then (with constraints) the rows that fill
the population up to `pop_size`; `population(state).held` marks them, and the slots after
them hold rows that lost, flagged as not held.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import Population, state_class
from evo.checks import check_float, check_int, frozen_setattr, settings_class
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.operators import uniform_sample
from evo.ref_dirs import resolve_ref_dirs
from evo.sorting import TILE_ELEMENTS, first_argmax, lexsort


@state_class
class RVEAState(GAState):
    held: jax.Array  # (capacity,) bool: the slots holding a member of the population
    vectors: jax.Array  # (R, n_obj) the current reference vectors, unit length
    gamma: jax.Array  # (R,) smallest angle from each vector to any other
    ideal: jax.Array  # (n_obj,) best feasible value seen per objective
    nadir: jax.Array  # (n_obj,) worst value per objective among the last APD survivors


def unit_rows(V: jax.Array) -> jax.Array:
    """The rows of `V` `(R, m)` scaled to unit length."""
    return V / jnp.linalg.norm(V, axis=1, keepdims=True)


@jax.jit  # also called by `init`, outside any trace: its `lax.map` compiles once
def neighbour_angles(vectors: jax.Array) -> jax.Array:
    """`gamma` `(R,)`: the smallest angle between each unit vector of `vectors` `(R, m)` and
    any other one (pymoo's `calc_gamma`), at least the smallest positive normal float, so a
    duplicated vector gets a tiny angle rather than 0. At most `TILE_ELEMENTS` pairs at a
    time."""
    R = vectors.shape[0]
    index = jnp.arange(R)

    def largest_other_cosine(i: jax.Array) -> jax.Array:
        cosine = vectors @ vectors[i]
        return jnp.max(jnp.where(index == i, -jnp.inf, cosine))

    batch = max(1, min(R, TILE_ELEMENTS // R))
    cosine = jax.lax.map(largest_other_cosine, index, batch_size=batch)
    gamma = jnp.arccos(jnp.clip(cosine, -1.0, 1.0))
    return jnp.maximum(gamma, jnp.finfo(vectors.dtype).tiny)


def nearest_vectors(directions: jax.Array, vectors: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The vector of `vectors` `(R, m)` closest in angle to each unit row of `directions`
    `(N, m)` (the largest cosine, the lowest index on ties) and that angle: `(N,)` int32
    and `(N,)`. At most `TILE_ELEMENTS` pairs at a time.

    The angle is `atan2(|u - (u.v) v|, u.v)`, not `arccos(u.v)`: near 0 the arccosine
    resolves angles only to about `sqrt(2 eps)` (3.5e-4 rad in float32), a penalty step
    larger than the late differences in distance it must weigh."""

    def nearest(row: jax.Array) -> tuple[jax.Array, jax.Array]:
        cosine = vectors @ row
        largest = jnp.max(cosine)
        # The first position of the maximum without `first_argmax(cosine)`'s pass that
        # looks for NaN (a NaN row gets vector 0 either way): 2,000 rows among 990
        # vectors in 1.6 ms instead of 4.9.
        k = first_argmax(cosine == largest)
        sine = jnp.linalg.norm(row - largest * vectors[k])
        return k, jnp.arctan2(sine, largest)

    batch = max(1, min(directions.shape[0], TILE_ELEMENTS // vectors.shape[0]))
    return jax.lax.map(nearest, directions, batch_size=batch)


class Selection(NamedTuple):
    order: jax.Array  # (n,) merged rows: APD survivors by subspace, then fillers, then the rest
    n_held: jax.Array  # () how many of `order`'s first rows form the population
    survivor: jax.Array  # (n,) bool: the APD survivors
    ideal: jax.Array  # (m,)


def apd_selection(
    F: jax.Array,
    violation: jax.Array,
    real: jax.Array,
    vectors: jax.Array,
    gamma: jax.Array,
    ideal: jax.Array,
    progress: jax.Array,
    alpha: float,
    factor: float,
    pop_size: int,
) -> Selection:
    """RVEA's environmental selection over `F` `(n, m)`, of which `real` `(n,)` marks the
    rows that exist.

    The feasible rows (violation 0, finite objectives) are translated by the ideal point
    (`ideal` `(m,)` updated with them) and each joins the subspace of the vector of
    `vectors` `(R, m)` nearest in angle; each non-empty subspace keeps its row of smallest
    APD, penalty `factor progress^alpha theta / gamma` (`gamma` `(R,)`), the first row on
    ties.
    When the survivors are fewer than `pop_size`, infeasible rows with finite violation
    fill up to it, least violation first (pymoo's `filter_infeasible`); when no row
    survives at all, the `pop_size` least infeasible rows of any kind do, so the population
    is never empty.
    """
    n, R = F.shape[0], vectors.shape[0]
    feasible = real & (violation == 0)
    ideal = jnp.minimum(ideal, jnp.min(jnp.where(feasible[:, None], F, jnp.inf), axis=0))
    shifted = jnp.where(feasible[:, None], F - ideal, 0.0)
    distance = jnp.linalg.norm(shifted, axis=1)
    distance = jnp.maximum(distance, jnp.finfo(F.dtype).tiny)
    niche, theta = nearest_vectors(shifted / distance[:, None], vectors)
    penalty = factor * progress**alpha * theta / gamma[niche]
    apd = jnp.where(feasible, distance * (1.0 + penalty), jnp.inf)

    best = jax.ops.segment_min(apd, niche, num_segments=R)
    index = jnp.arange(n)
    tied = feasible & (apd == best[niche])
    first = jax.ops.segment_min(jnp.where(tied, index, n), niche, num_segments=R)
    survivor = feasible & (first[niche] == index)
    n_survivors = jnp.sum(survivor)

    fills_finite = jnp.where(n_survivors > 0, jnp.isfinite(violation), True)
    filler = real & ~feasible & fills_finite
    n_fill = jnp.minimum(jnp.maximum(pop_size - n_survivors, 0), jnp.sum(filler))
    group = jnp.where(survivor, 0, jnp.where(filler, 1, 2))
    within = jnp.where(survivor, niche.astype(violation.dtype), violation)
    order = lexsort((jnp.where(group == 2, 0.0, within), group))
    return Selection(order, n_survivors + n_fill, survivor, ideal)


def random_mating(key: jax.Array, held: jax.Array, n: int) -> jax.Array:
    """`n` parent indices `(n,)` among the `held` `(N,)` rows, as pymoo's
    `RandomSelection`: consecutive random permutations of the held rows, the last one cut
    short. (No row is held only before the first tell, when the result goes unused.)"""
    order_key, shuffle_key = jax.random.split(key)
    N = held.shape[0]
    order = jnp.argsort(jnp.where(held, jax.random.uniform(order_key, (N,)), jnp.inf))
    n_held = jnp.maximum(jnp.sum(held), 1)
    i = jnp.arange(n)
    block, position = i // n_held, i % n_held
    # Sorted by block, in random order within each: every block a random permutation of
    # positions (the last one of the first n mod n_held of them).
    shuffled = lexsort((jax.random.uniform(shuffle_key, (n,)), block))
    return order[position[shuffled]].astype(jnp.int32)


@settings_class
class RVEA(GeneticAlgorithm):
    """RVEA: one survivor per non-empty subspace of each reference vector, by angle-penalised
    distance (alpha 2, penalty growing with the share of `n_gen` done); vectors adapted to
    the survivors' spread every 10% of the run; random mating; SBX (eta 30, p 1) and
    polynomial mutation (eta 20), population = directions, as pymoo. `n_gen` is required.

    Args:
        n_gen: the run's length in generations (required; as pymoo's RVEA needs an `n_gen`
            termination): the penalty grows as `(t / n_gen)^alpha`, `t` the generations
            told before the current one, and the vectors are adapted every
            `ceil(adapt_freq * n_gen)`. Running past it is allowed: `t / n_gen` stays 1
            (the last generation's penalty) and adaptation keeps its period.
        ref_dirs: reference directions `(R, n_obj)` on the simplex (at least 2); by default
            about `pop_size` of them (Das-Dennis, two layers for many objectives).
        pop_size: offspring per generation, and the population's size after the first
            tell; defaults to R, and to about 100 directions when neither is given.
        alpha: exponent of the penalty's schedule (default 2).
        penalty_factor: the penalty's factor M; by default pymoo's: the number of
            objectives, but 1 for two objectives. The paper (and PlatEMO) use the number of
            objectives for two as well: `penalty_factor=2`.
        adapt_freq: share of `n_gen` between vector adaptations (default 0.1); None or 0
            never adapts.
        sbx_eta, sbx_prob, mutation_eta: SBX (30, 1.0) and polynomial mutation (20), as
            pymoo's RVEA.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    The population: after the first tell it is the initial sample itself (pymoo keeps it
    whole); afterwards one row per non-empty subspace, so it can hold fewer than
    `pop_size` rows (and more, up to R, when `pop_size` < R). The state keeps
    `max(R, pop_size)` slots and `population(state).held` marks the real ones; `evo.run`'s
    result and its IGD and hypervolume use only those. Parents are drawn at random from
    the held rows, pymoo's way (consecutive random permutations), `pop_size` offspring per
    generation.

    As pymoo: the ideal point is the running minimum over the feasible rows seen, the nadir
    the maximum over the last APD survivors, and `t` counts the tells before the current
    one, so a run of `n_gen` ends at `(n_gen - 1) / n_gen`. Adaptation is skipped while
    the nadir does not exceed the ideal point in every objective. Constraints as pymoo's
    `filter_infeasible`: only feasible rows enter the subspaces; if they leave fewer than
    `pop_size` survivors, the least infeasible rows fill up to it. Angles are taken as
    `atan2(sine, cosine)`, so in float32 they resolve to the float resolution rather than
    `arccos`'s 3.5e-4 rad (which cost DTLZ2 a 1.4x larger IGD).
    """

    paper = "Cheng, Jin, Olhofer & Sendhoff 2016"
    reference = "pymoo `RVEA`"
    # Its survival also adapts the reference vectors on a schedule of generations.
    takes_reevaluation = False

    n_gen: int
    ref_dirs: np.ndarray | None = None
    pop_size: int | None = None
    alpha: float = 2.0
    adapt_freq: float | None = 0.1
    penalty_factor: float | None = None
    sbx_eta: float = 30.0
    sbx_prob: float = 1.0

    state_type = RVEAState

    def __post_init__(self):
        ref_dirs = resolve_ref_dirs("RVEA", self.n_obj, self.ref_dirs, self.pop_size)
        if len(ref_dirs) < 2:
            raise ValueError(f"RVEA: needs at least 2 reference directions, got {len(ref_dirs)}")
        pop_size = len(ref_dirs) if self.pop_size is None else self.pop_size
        frozen_setattr(self, ref_dirs=ref_dirs, pop_size=pop_size)
        super().__post_init__()
        check_int("RVEA: n_gen", self.n_gen)
        check_float("RVEA: alpha", self.alpha, 0.0)
        if self.adapt_freq is not None:
            check_float("RVEA: adapt_freq", self.adapt_freq, 0.0, 1.0)
        if self.penalty_factor is not None:
            check_float("RVEA: penalty_factor", self.penalty_factor, 0.0)

    @property
    def factor(self) -> float:
        """The penalty's factor: `penalty_factor`, else pymoo's n_obj, or 1 for 2 objectives."""
        if self.penalty_factor is not None:
            return float(self.penalty_factor)
        return float(self.n_obj) if self.n_obj > 2 else 1.0

    @property
    def capacity(self) -> int:
        """Rows the state holds: the most the population can have."""
        return max(len(self.ref_dirs), self.pop_size)

    @property
    def adapt_period(self) -> int | None:
        """Generations between vector adaptations, None when they never happen."""
        if not self.adapt_freq:
            return None
        return max(1, math.ceil(self.n_gen * self.adapt_freq))

    def init(self, key: jax.Array) -> RVEAState:
        key, sample_key = jax.random.split(key)
        lb, ub = jnp.asarray(self.lb), jnp.asarray(self.ub)
        X = uniform_sample(sample_key, lb, ub, self.pop_size)
        C, m = self.capacity, self.n_obj
        vectors = unit_rows(jnp.asarray(self.ref_dirs, X.dtype))
        return RVEAState(
            key=key,
            generation=jnp.int32(0),
            X=jnp.concatenate([X, jnp.broadcast_to(X[:1], (C - self.pop_size, X.shape[1]))]),
            F=jnp.full((C, m), jnp.inf, X.dtype),
            violation=jnp.full(C, jnp.inf, X.dtype),
            offspring=X,
            held=jnp.zeros(C, bool),
            vectors=vectors,
            gamma=neighbour_angles(vectors),
            ideal=jnp.full(m, jnp.inf, X.dtype),
            nadir=jnp.full(m, -jnp.inf, X.dtype),
        )

    def ask(self, state: RVEAState) -> tuple[jax.Array, RVEAState]:
        """Offspring `(pop_size, n_var)` of parents drawn at random from the held rows
        (`breed`); the initial sample before the first tell."""
        key, select_key, mate_key = jax.random.split(state.key, 3)
        children = self.breed(select_key, mate_key, state, self.pop_size)
        offspring = jnp.where(state.generation == 0, state.offspring, children)
        return offspring, state.replace(key=key, offspring=offspring)

    def select_parents(self, key: jax.Array, state: RVEAState, n: int) -> jax.Array:
        return random_mating(key, state.held, n)

    def survive(self, state: RVEAState, F: jax.Array, violation: jax.Array) -> RVEAState:
        """The initial sample as it is at the first tell; afterwards APD selection over
        the held rows and the offspring, then the vectors' adaptation when it is due."""
        return jax.lax.cond(state.generation == 0, self.keep_initial, self.select,
                            state, F, violation)

    def keep_initial(self, state: RVEAState, F: jax.Array, violation: jax.Array) -> RVEAState:
        C, pad = self.capacity, self.capacity - self.pop_size
        return state.replace(
            X=jnp.concatenate([state.offspring, state.X[self.pop_size:]]),
            F=jnp.concatenate([F, jnp.full((pad, self.n_obj), jnp.inf, F.dtype)]),
            violation=jnp.concatenate([violation, jnp.full(pad, jnp.inf, F.dtype)]),
            held=jnp.arange(C) < self.pop_size,
        )

    def select(self, state: RVEAState, F: jax.Array, violation: jax.Array) -> RVEAState:
        X, F, violation = merged(state, F, violation)
        real = jnp.concatenate([state.held, jnp.ones(self.pop_size, bool)])
        progress = jnp.minimum(state.generation.astype(F.dtype) / self.n_gen, 1.0)
        chosen = apd_selection(F, violation, real, state.vectors, state.gamma, state.ideal,
                               progress, self.alpha, self.factor, self.pop_size)
        kept = chosen.order[: self.capacity]
        survivors_max = jnp.max(jnp.where(chosen.survivor[:, None], F, -jnp.inf), axis=0)
        nadir = jnp.where(jnp.any(chosen.survivor), survivors_max, state.nadir)
        state = state.replace(
            X=X[kept], F=F[kept], violation=violation[kept],
            held=jnp.arange(self.capacity) < chosen.n_held, ideal=chosen.ideal, nadir=nadir,
        )
        if self.adapt_period is None:
            return state
        scale = nadir - chosen.ideal
        due = ((state.generation + 1) % self.adapt_period == 0) & jnp.all(
            jnp.isfinite(scale) & (scale > 0)
        )
        return jax.lax.cond(due, self.adapt, lambda s, _: s, state, scale)

    def adapt(self, state: RVEAState, scale: jax.Array) -> RVEAState:
        """The reference vectors rescaled by the survivors' spread `scale` `(n_obj,)`."""
        vectors = unit_rows(unit_rows(jnp.asarray(self.ref_dirs, scale.dtype)) * scale)
        return state.replace(vectors=vectors, gamma=neighbour_angles(vectors))

    def population(self, state: RVEAState) -> Population:
        return Population(state.X, state.F, state.violation, state.held)
