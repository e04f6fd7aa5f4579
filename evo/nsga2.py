"""NSGA-II (Deb et al., 2002): elitist selection by Pareto rank, then crowding distance."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import (
    as_bounds,
    check_config,
    frozen_setattr,
    initial_population,
    merge_offspring,
    static_config,
    tournament_offspring,
)
from evo.sorting import crowding_distance, lexsort, non_dominated_rank


class NSGA2State(NamedTuple):
    key: jax.Array
    X: jax.Array  # (pop_size, n_var) current population
    F: jax.Array  # (pop_size, n_obj) its objectives; +inf before the first tell
    violation: jax.Array  # (pop_size,) total constraint violation, 0 when feasible
    rank: jax.Array  # (pop_size,) constrained Pareto rank within the population
    crowding: jax.Array  # (pop_size,) crowding distance within its front
    offspring: jax.Array  # (pop_size, n_var) the candidates handed out by the last ask
    generation: jax.Array  # int32 scalar, number of completed tells


def select_by_rank_and_crowding(
    F: jax.Array, violation: jax.Array, n: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The `n` best rows of `F` `(N, m)` by constrained rank, then larger crowding distance.

    `violation` `(N,)` is the total constraint violation. Returns the chosen indices `(n,)`
    and their rank and crowding distance.
    """
    rank = non_dominated_rank(F, n_stop=n, violation=violation)
    crowding = crowding_distance(F, rank)
    chosen = lexsort((-crowding, rank))[:n]
    return chosen, rank[chosen], crowding[chosen]


@static_config
class NSGA2:
    """NSGA-II with binary tournament, SBX crossover and polynomial mutation.

    Args:
        pop_size: population size; each generation makes as many offspring.
        n_obj: number of objectives.
        lb, ub: box bounds `(n_var,)`.
        sbx_eta, sbx_prob: SBX distribution index and per-pair crossover probability.
        mutation_eta: polynomial-mutation distribution index (per-variable rate 1 / n_var).

    The first `ask` returns the uniform initial population; every later one returns
    offspring. Defaults follow pymoo's NSGA-II.
    """

    pop_size: int
    n_obj: int
    lb: np.ndarray
    ub: np.ndarray
    sbx_eta: float = 15.0
    sbx_prob: float = 0.9
    mutation_eta: float = 20.0

    def __post_init__(self):
        check_config("NSGA2", self.pop_size, self.n_obj)
        lb, ub = as_bounds(self.lb, self.ub)
        frozen_setattr(self, lb=lb, ub=ub)

    @property
    def n_var(self) -> int:
        return self.lb.shape[0]

    def init(self, key: jax.Array) -> NSGA2State:
        key, sample_key = jax.random.split(key)
        X, F, violation = initial_population(sample_key, self.lb, self.ub, self.pop_size, self.n_obj)
        return NSGA2State(
            key=key,
            X=X,
            F=F,
            violation=violation,
            rank=jnp.zeros(self.pop_size, jnp.int32),
            crowding=jnp.zeros(self.pop_size, X.dtype),
            offspring=X,
            generation=jnp.int32(0),
        )

    def ask(self, state: NSGA2State) -> tuple[jax.Array, NSGA2State]:
        return tournament_offspring(self, state, state.rank, state.crowding)

    def tell(self, state: NSGA2State, F: jax.Array, G: jax.Array | None = None) -> NSGA2State:
        """Survival of the best `pop_size` among population and offspring.

        `F` `(pop_size, n_obj)` and optional constraint values `G` `(pop_size, n_constr)`,
        feasible when `G <= 0`, belong to the offspring of the last `ask`.
        """
        X, F, violation = merge_offspring(state, F, G)
        chosen, rank, crowding = select_by_rank_and_crowding(F, violation, self.pop_size)
        return state._replace(
            X=X[chosen], F=F[chosen], violation=violation[chosen], rank=rank,
            crowding=crowding, generation=state.generation + 1,
        )
