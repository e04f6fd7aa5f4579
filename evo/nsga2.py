"""NSGA-II (Deb et al., 2002): elitist selection by Pareto rank, then crowding distance."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from evo.algorithm import state_class
from evo.checks import settings_class
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.sorting import crowding_distance, lexsort, non_dominated_rank


@state_class
class NSGA2State(GAState):
    rank: jax.Array  # (pop_size,) constrained Pareto rank within the population
    crowding: jax.Array  # (pop_size,) crowding distance within its front


def select_by_rank_and_crowding(
    key: jax.Array, F: jax.Array, violation: jax.Array, n: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The `n` best rows of `F` `(N, m)` by constrained rank, then larger crowding distance,
    then at random (`key`), so that no position, parent or offspring, wins ties.

    `violation` `(N,)` is the total constraint violation. Returns the chosen indices `(n,)`
    and their rank and crowding distance.
    """
    rank = non_dominated_rank(F, n_stop=n, violation=violation)
    crowding = crowding_distance(F, rank)
    tiebreak = jax.random.bits(key, rank.shape, jnp.uint32)
    chosen = lexsort((tiebreak, -crowding, rank))[:n]
    return chosen, rank[chosen], crowding[chosen]


@settings_class
class NSGA2(GeneticAlgorithm):
    """NSGA-II: Pareto rank, then crowding distance (ties at random); binary tournament on
    both; SBX (eta 15, p 0.9) and polynomial mutation (eta 20), as pymoo.

    Args:
        pop_size: population size (default 100); each generation makes as many offspring.
        sbx_eta, sbx_prob, mutation_eta: SBX (15, 0.9) and polynomial mutation (20), as
            pymoo's NSGA-II.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.
    """

    paper = "Deb, Pratap, Agarwal & Meyarivan 2002"
    reference = "pymoo `NSGA2`"

    state_type = NSGA2State

    def extra_state(self, X: jax.Array) -> dict[str, jax.Array]:
        return {
            "rank": jnp.zeros(self.pop_size, jnp.int32),
            "crowding": jnp.zeros(self.pop_size, X.dtype),
        }

    def mating_scores(self, state: NSGA2State) -> tuple[jax.Array, jax.Array]:
        return state.rank, state.crowding

    def survive(self, state: NSGA2State, F: jax.Array, violation: jax.Array) -> NSGA2State:
        """The best `pop_size` of population and offspring by rank, then crowding."""
        key, tie_key = jax.random.split(state.key)
        X, F, violation = merged(state, F, violation)
        chosen, rank, crowding = select_by_rank_and_crowding(tie_key, F, violation, self.pop_size)
        return state.replace(
            key=key, X=X[chosen], F=F[chosen], violation=violation[chosen], rank=rank,
            crowding=crowding,
        )
