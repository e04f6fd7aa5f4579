"""HypE (Bader & Zitzler, 2011): selection by Monte Carlo estimates of hypervolume shares."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import state_class
from evo.checks import check_int, frozen_setattr, settings_class
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.metrics.hypervolume import dominated_by
from evo.sorting import lexsort, non_dominated_rank


@state_class
class HypEState(GAState):
    fitness: jax.Array  # (pop_size,) estimated hypervolume share (k = pop_size), higher better


def loss_probability(count: jax.Array, k: jax.Array, size: jax.Array) -> jax.Array:
    """`alpha_c / c` for each count `c` `(s,)`: the share of a point dominated by exactly `c`
    of `size` members charged to each of them when `k` members are removed at random.

    `alpha_c = prod_{l<c} (k - l) / (size - l)` is the chance that the other `c - 1`
    dominators are removed too (Bader & Zitzler, 2011, eq. 7). A count of 0 charges 0.
    """
    l = jnp.arange(1, count.shape[0] + 1, dtype=k.dtype)
    ratio = jnp.where(l < size, (k - l) / jnp.maximum(size - l, 1), 0.0)
    alpha = jnp.concatenate([jnp.ones(1, k.dtype), jnp.cumprod(jnp.maximum(ratio, 0.0))])
    return jnp.where(count > 0, alpha[jnp.clip(count - 1, 0, count.shape[0])] / jnp.maximum(count, 1), 0.0)


class SampleDominance(NamedTuple):
    dominated: jax.Array  # (n_samples, n) float: sample i lies in the box member j dominates
    volume: jax.Array  # scalar, volume of the sampled box


def sample_dominance(
    key: jax.Array, F: jax.Array, members: jax.Array, ref_point: jax.Array, n_samples: int
) -> SampleDominance:
    """Uniform samples of the box between the members' minimum and `ref_point` `(m,)`, and
    which members of `F` `(n, m)` (flagged in `members` `(n,)`) dominate each of them."""
    F = jnp.where(members[:, None], F, jnp.inf)
    lower = jnp.min(F, axis=0)
    extent = jnp.where(jnp.isfinite(lower), jnp.maximum(ref_point - lower, 0.0), 0.0)
    u = jax.random.uniform(key, (n_samples, F.shape[1]), F.dtype)
    samples = jnp.where(jnp.isfinite(lower), lower, ref_point) + u * extent
    return SampleDominance(dominated_by(samples, F).astype(F.dtype), jnp.prod(extent))


def hype_fitness(sampled: SampleDominance, alive: jax.Array, k: jax.Array) -> jax.Array:
    """HypE's fitness `(n,)` of the `alive` `(n,)` members: each one's expected loss of
    dominated hypervolume when `k` of them are removed at random; others score 0."""
    dominated = sampled.dominated * alive.astype(sampled.dominated.dtype)
    count = jnp.sum(dominated, axis=1).astype(jnp.int32)
    share = loss_probability(count, k, jnp.sum(alive).astype(k.dtype))
    return sampled.volume * (share @ dominated) / dominated.shape[0]


def greedy_removal(sampled: SampleDominance, alive: jax.Array, n_remove: jax.Array) -> jax.Array:
    """`alive` `(n,)` after removing `n_remove` members one at a time, each time the one
    with the smallest HypE fitness for `k` = the number still to remove. The samples are
    drawn once, so each step costs one `(n_samples, n)` matrix-vector product."""

    def remove_worst(carry):
        alive, left = carry
        fitness = hype_fitness(sampled, alive, left.astype(sampled.volume.dtype))
        worst = jnp.argmin(jnp.where(alive, fitness, jnp.inf))
        return alive.at[worst].set(False), left - 1

    alive, _ = jax.lax.while_loop(lambda c: c[1] > 0, remove_worst, (alive, n_remove))
    return alive


@settings_class
class HypE(GeneticAlgorithm):
    """HypE: Monte Carlo estimates of hypervolume shares (10,000 samples) for mating
    (binary tournaments on the shares, k = pop_size) and for greedy trimming of the last
    front; `ref_point` is required.

    Args:
        ref_point: hypervolume reference point `(n_obj,)`, required: only objective vectors
            that dominate it earn a share, so it should lie beyond the front of interest
            (for problems normalised to [0, 1], 1.1 in every objective is common).
        n_samples: Monte Carlo samples per fitness estimate (default 10,000).
        pop_size: population size (default 100); each generation makes as many offspring.
        sbx_eta, sbx_prob, mutation_eta: SBX (30, 1.0) and polynomial mutation (20).
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    Mating follows Bader & Zitzler (2011): binary tournaments on the fitness, with the
    less infeasible row winning first when there are constraints. Environmental selection
    keeps whole fronts and trims the last front greedily, one member at a time, as in the
    original; the Monte Carlo samples are drawn once per generation and reused by every
    removal step, which then costs one `(n_samples, 2 * pop_size)` matrix-vector product.
    Memory: that matrix, as floats.

    Maximising hypervolume does not spread points evenly on a concave front: they gather
    where the front's slope is near -1 and thin out towards its edges. On DTLZ2 with 3
    objectives HypE ends with a higher hypervolume than NSGA-III (0.746 against 0.743 with
    reference point 1.1) but a 1.37x larger IGD, like pymoo's SMS-EMOA (1.42x).
    """

    ref_point: np.ndarray
    n_samples: int = 10_000
    sbx_eta: float = 30.0
    sbx_prob: float = 1.0

    state_type = HypEState

    def __post_init__(self):
        super().__post_init__()
        ref_point = np.asarray(self.ref_point, dtype=float)
        if ref_point.shape != (self.n_obj,) or not np.all(np.isfinite(ref_point)):
            raise ValueError(
                f"HypE: ref_point must be {self.n_obj} finite numbers, got {self.ref_point!r}"
            )
        check_int("HypE: n_samples", self.n_samples)
        frozen_setattr(self, ref_point=ref_point)

    @classmethod
    def for_problem(cls, problem: Any, **settings: Any) -> HypE:
        """As `Algorithm.for_problem`; `ref_point` defaults to the problem's own."""
        if "ref_point" not in settings:
            if problem.ref_point is None:
                raise ValueError(
                    f"HypE needs ref_point: {type(problem).__name__} has no known front "
                    "to place one beyond"
                )
            settings["ref_point"] = problem.ref_point
        return super().for_problem(problem, **settings)

    def extra_state(self, X: jax.Array) -> dict[str, jax.Array]:
        return {"fitness": jnp.zeros(self.pop_size, X.dtype)}

    def mating_scores(self, state: HypEState) -> tuple[jax.Array, jax.Array]:
        return state.violation, state.fitness

    def survive(self, state: HypEState, F: jax.Array, violation: jax.Array) -> HypEState:
        """`pop_size` of population and offspring: whole fronts, then greedy HypE trimming
        of the last one; then the survivors' shares for the next mating."""
        key, trim_key, mating_key = jax.random.split(state.key, 3)
        X, F, violation = merged(state, F, violation)
        ref_point = jnp.asarray(self.ref_point, F.dtype)

        rank = non_dominated_rank(F, n_stop=self.pop_size, violation=violation)
        last_rank = jnp.sort(rank)[self.pop_size - 1]
        last_front = (rank == last_rank) & (violation == 0)
        n_remove = jnp.sum(rank <= last_rank) - self.pop_size
        sampled = sample_dominance(trim_key, F, last_front, ref_point, self.n_samples)
        kept = greedy_removal(sampled, last_front, jnp.where(jnp.any(last_front), n_remove, 0))
        # Survivors: earlier fronts, then the kept part of the last front; an infeasible last
        # "front" has no shares and keeps the rows its violation order lists first.
        chosen = lexsort((~kept, rank))[: self.pop_size]

        X, F, violation = X[chosen], F[chosen], violation[chosen]
        usable = violation == 0
        sampled = sample_dominance(mating_key, F, usable, ref_point, self.n_samples)
        fitness = hype_fitness(sampled, usable, jnp.asarray(self.pop_size, F.dtype))
        return state.replace(key=key, X=X, F=F, violation=violation, fitness=fitness)
