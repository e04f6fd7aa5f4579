"""The genetic-algorithm family: what NSGA-II, NSGA-III, HypE, MOEA/D and every MOEA share.

`GeneticAlgorithm` owns the state fields every such algorithm has (`GAState`), the
variation settings (SBX and polynomial mutation), `init`, the checks of its input, the
binary-tournament `ask` and the frame of `tell`. An algorithm on this base writes only
what is its own:

- `mating_scores(state)`: the two keys of the binary tournament, or `select_parents` for
  a mating selection of its own (or its own `ask`);
- `survive(state, F, violation)`: the next population from the offspring's objectives
  `F` `(pop_size, n_obj)` and total constraint violations `(pop_size,)`, checked and cast
  by `tell`, which then counts the generation;
- `extra_state(X)`: initial values of its own state fields, if it has any.

The first `ask` returns the uniform initial population itself; every later one returns
offspring, by default children that copy no row first (`eliminate_duplicates`,
`new_first`). Constraints are handled alike everywhere: feasible rows first, infeasible
ones by total violation (the sum of the positive parts of `G`), and a row whose
objectives hold NaN or inf counts as infinitely infeasible.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import jax
import jax.numpy as jnp

from evo.algorithm import (
    Algorithm,
    Population,
    State,
    check_objectives,
    state_class,
    violation_of,
)
from evo.checks import check_float, check_int, settings_class
from evo.operators import binary_tournament, mate, uniform_sample
from evo.sorting import lexsort


# Children an ask mates, in multiples of the offspring, when duplicates are eliminated:
# the new ones go first. pymoo mates again, up to 100 times, for the children still
# missing; on a converged population about 4% of SBX + mutation children copy a parent,
# so twice the offspring leaves an ask short only when over half of them are copies.
DUPLICATE_POOL = 2


@state_class
class GAState(State):
    X: jax.Array  # (pop_size, n_var) current population
    F: jax.Array  # (pop_size, n_obj) its objectives; +inf before the first tell
    violation: jax.Array  # (pop_size,) total constraint violation, 0 when feasible
    offspring: jax.Array  # (pop_size, n_var) the rows handed out by the last ask


def offspring_count(pop_size: int) -> int:
    """SBX makes children in pairs: the even number of children needed for `pop_size`."""
    return pop_size + pop_size % 2


def repeats(X: jax.Array, n_known: int) -> jax.Array:
    """Which rows of `X` `(n, d)` after the first `n_known` equal an earlier row. `(n - n_known,)`

    Rows are sorted by a digest of their bits, then by position, and each is compared with
    its predecessor: equal rows sort together unless a different row has exactly the same
    digest, so a repeat can be missed (almost never) but is never invented. The digest is
    integer arithmetic, exact in any order of summation: a float projection rounds the
    same row differently at different positions of a matrix product, and missed repeats.
    """
    n = X.shape[0]
    if X.dtype.itemsize < 4:
        X = X.astype(jnp.float32)
    canonical = jnp.where(X == 0, jnp.zeros((), X.dtype), X)  # -0.0 equals 0.0
    words = jax.lax.bitcast_convert_type(canonical, jnp.uint32).reshape(n, -1)
    weights = jax.random.bits(jax.random.key(0), (words.shape[1],), jnp.uint32) | 1
    digest = jax.lax.bitcast_convert_type(jnp.sum(words * weights, axis=1, dtype=jnp.uint32),
                                          jnp.int32)
    order = lexsort((digest,))
    digest, rows = digest[order], X[order]
    same = (digest[1:] == digest[:-1]) & jnp.all(rows[1:] == rows[:-1], axis=1)
    repeated = jnp.zeros(n, bool).at[order[1:]].set(same)
    return repeated[n_known:]


def new_first(X: jax.Array, pool: jax.Array, n: int) -> jax.Array:
    """`n` rows `(n, n_var)` of the children `pool` `(c, n_var)`: first, in their order,
    those equal to no row of the population `X` nor to an earlier child, then the others."""
    fresh = ~repeats(jnp.concatenate([X, pool]), X.shape[0])
    return pool[lexsort((~fresh,))[:n]]


@settings_class
class GeneticAlgorithm(Algorithm):
    """Base of the evolutionary multi-objective algorithms.

    Args:
        pop_size: population size; each generation makes as many offspring.
        sbx_eta, sbx_prob: SBX distribution index and per-pair crossover probability.
        mutation_eta: polynomial-mutation distribution index (per-variable rate 1 / n_var).
        eliminate_duplicates: children equal to a member of the population or to an
            earlier child are replaced by further children (`new_first`; default True,
            pymoo's default for its genetic algorithms).
        lb, ub, n_obj: as `Algorithm`.
    """

    pop_size: int = 100
    sbx_eta: float = 15.0
    sbx_prob: float = 0.9
    mutation_eta: float = 20.0
    eliminate_duplicates: bool = True

    state_type: ClassVar[type[GAState]] = GAState
    takes_reevaluation: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        check_int(f"{name}: pop_size", self.pop_size, 2)
        check_float(f"{name}: sbx_eta", self.sbx_eta, 0.0)
        check_float(f"{name}: sbx_prob", self.sbx_prob, 0.0, 1.0)
        check_float(f"{name}: mutation_eta", self.mutation_eta, 0.0)
        if not isinstance(self.eliminate_duplicates, bool):
            raise ValueError(f"{name}: eliminate_duplicates must be True or False, got "
                             f"{self.eliminate_duplicates!r}")

    def init(self, key: jax.Array) -> GAState:
        """The state before the first ask: `pop_size` rows drawn uniformly in the box, their
        objectives +inf until the first tell."""
        key, sample_key = jax.random.split(key)
        X = uniform_sample(sample_key, jnp.asarray(self.lb), jnp.asarray(self.ub), self.pop_size)
        return self.state_type(
            key=key,
            generation=jnp.int32(0),
            X=X,
            F=jnp.full((self.pop_size, self.n_obj), jnp.inf, X.dtype),
            violation=jnp.full(self.pop_size, jnp.inf, X.dtype),
            offspring=X,
            **self.extra_state(X),
        )

    def extra_state(self, X: jax.Array) -> dict[str, jax.Array]:
        """Initial values of the fields a subclass's state adds, given the population `X`."""
        return {}

    def ask(self, state: GAState) -> tuple[jax.Array, GAState]:
        """`pop_size` offspring `(pop_size, n_var)` (`breed`); the initial population
        before the first tell."""
        key, select_key, mate_key = jax.random.split(state.key, 3)
        children = self.breed(select_key, mate_key, state, self.pop_size)
        offspring = jnp.where(state.generation == 0, state.X, children)
        return offspring, state.replace(key=key, offspring=offspring)

    def breed(
        self, select_key: jax.Array, mate_key: jax.Array, state: GAState, n: int
    ) -> jax.Array:
        """`n` children `(n, n_var)` of the parents `select_parents` picks, by SBX and
        polynomial mutation; with `eliminate_duplicates`, `DUPLICATE_POOL` times as many
        are mated and the new ones come first (`new_first`)."""
        n_mated = offspring_count(n) * (DUPLICATE_POOL if self.eliminate_duplicates else 1)
        parents = self.select_parents(select_key, state, n_mated)
        children = self.variation(mate_key, state.X, parents)
        if self.eliminate_duplicates:
            return new_first(state.X, children, n)
        return children[:n]

    def select_parents(self, key: jax.Array, state: GAState, n: int) -> jax.Array:
        """Indices `(n,)` into the population, paired consecutively: winners of binary
        tournaments on `mating_scores`."""
        primary, secondary = self.mating_scores(state)
        return binary_tournament(key, primary, secondary, n)

    def mating_scores(self, state: GAState) -> tuple[jax.Array, jax.Array]:
        """The tournament's keys `(pop_size,)` each: the smaller first one wins, then the
        larger second one. By default the less infeasible row, else either."""
        return state.violation, jnp.zeros_like(state.violation)

    def variation(self, key: jax.Array, X: jax.Array, parents: jax.Array) -> jax.Array:
        """Children `(len(parents), n_var)` of consecutive pairs of `parents` (indices into
        `X`), by SBX and polynomial mutation within the bounds."""
        return mate(
            key, X, parents, jnp.asarray(self.lb), jnp.asarray(self.ub),
            self.sbx_eta, self.sbx_prob, self.mutation_eta,
        )

    def tell(self, state: GAState, F: jax.Array, G: jax.Array | None = None) -> GAState:
        """Survival after the offspring of the last ask got objectives `F`
        `(pop_size, n_obj)` and optional constraint values `G` `(pop_size, n_constr)`."""
        F = jnp.asarray(F)
        check_objectives(F, self.pop_size, self.n_obj)
        F = F.astype(state.F.dtype)
        state = self.survive(state, F, violation_of(F, G))
        return state.replace(generation=state.generation + 1)

    def reevaluate(self, state: GAState, F: jax.Array, G: jax.Array | None = None) -> GAState:
        """Survival again, of the population alone, after its rows got fresh objectives `F`
        `(pop_size, n_obj)` (and `G`): what selection derives from them (ranks, crowding,
        niches, fitness) follows the new values. The last offspring take part with +inf
        objectives, so that `survive` keeps its shapes; they never win over a finite row."""
        F = jnp.asarray(F)
        check_objectives(F, state.X.shape[0], self.n_obj)
        F = F.astype(state.F.dtype)
        refreshed = state.replace(F=F, violation=violation_of(F, G))
        n = state.offspring.shape[0]
        return self.survive(refreshed, jnp.full((n, self.n_obj), jnp.inf, F.dtype),
                            jnp.full(n, jnp.inf, F.dtype))

    @abc.abstractmethod
    def survive(self, state: GAState, F: jax.Array, violation: jax.Array) -> GAState:
        """The state holding the next population, given the offspring's objectives `F`
        `(pop_size, n_obj)` and violations `(pop_size,)`."""

    def population(self, state: GAState) -> Population:
        return Population(state.X, state.F, state.violation, jnp.ones(self.pop_size, bool))


def merged(
    state: GAState, F: jax.Array, violation: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Population and offspring together, for (mu + lambda) survival: `X` `(2N, n_var)`,
    `F` `(2N, m)` and violation `(2N,)`, population first."""
    return (
        jnp.concatenate([state.X, state.offspring]),
        jnp.concatenate([state.F, F]),
        jnp.concatenate([state.violation, violation]),
    )
