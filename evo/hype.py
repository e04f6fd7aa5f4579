"""HypE (Bader & Zitzler, 2011): selection by Monte Carlo estimates of hypervolume shares."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import state_class
from evo.checks import check_float, check_int, frozen_setattr, settings_class
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.metrics.hypervolume import dominated_by
from evo.operators import flat_draw
from evo.sorting import lexsort, non_dominated_rank


@state_class
class HypEState(GAState):
    fitness: jax.Array  # (pop_size,) estimated hypervolume share (k = pop_size), higher better


def loss_shares(k: jax.Array, size: jax.Array, n: int) -> jax.Array:
    """`alpha_c / c` for every count `c` = 0..n `(n + 1,)`: the share of a point dominated
    by exactly `c` of `size` members charged to each of them when `k` members are removed
    at random.

    `alpha_c = prod_{i<c} (k - i) / (size - i)` is the chance that the other `c - 1`
    dominators are removed too (Bader & Zitzler, 2011, eq. 7). A count of 0 charges 0.
    """
    i = jnp.arange(1, n, dtype=k.dtype)
    ratio = jnp.where(i < size, (k - i) / jnp.maximum(size - i, 1), 0.0)
    alpha = jnp.cumprod(jnp.concatenate([jnp.ones(1, k.dtype), jnp.maximum(ratio, 0.0)]))
    return jnp.concatenate([jnp.zeros(1, k.dtype), alpha / jnp.arange(1, n + 1, dtype=k.dtype)])


# Largest `(n_samples, n)` dominance matrix kept in memory between trimming rounds (1 GiB as
# float32); beyond it each round recomputes the matrix in blocks of samples.
_STORED_ELEMENTS = 1 << 28
_BLOCK_ELEMENTS = 1 << 24


class SampleDominance(NamedTuple):
    """Uniform samples of a box and what is needed to tell which members dominate each.

    `samples` `(n_blocks, block, m)`: the samples, padded with `-inf` rows that nothing
    dominates; `F` `(n, m)`: the members, `+inf` rows for non-members; `sample_volume`:
    the box's volume over the number of samples; `matrix` `(n_samples, n)` float: which
    members dominate each sample when that fits in memory, else None and each use
    recomputes it one block of samples at a time.
    """

    samples: jax.Array
    F: jax.Array
    sample_volume: jax.Array
    matrix: jax.Array | None


def sample_dominance(
    key: jax.Array, F: jax.Array, members: jax.Array, ref_point: jax.Array, n_samples: int
) -> SampleDominance:
    """Uniform samples of the box between the members' minimum and `ref_point` `(m,)`, and
    which members of `F` `(n, m)` (flagged in `members` `(n,)`) dominate each of them."""
    n, m = F.shape
    F = jnp.where(members[:, None], F, jnp.inf)
    lower = jnp.min(F, axis=0)
    extent = jnp.where(jnp.isfinite(lower), jnp.maximum(ref_point - lower, 0.0), 0.0)
    u = flat_draw(jax.random.uniform, key, (n_samples, m), F.dtype)
    samples = jnp.where(jnp.isfinite(lower), lower, ref_point) + u * extent
    sample_volume = jnp.prod(extent) / n_samples
    if n_samples * n <= _STORED_ELEMENTS:
        matrix = dominated_by(samples, F).astype(F.dtype)
        return SampleDominance(samples[None], F, sample_volume, matrix)
    block = max(1, min(n_samples, _BLOCK_ELEMENTS // n))
    n_blocks = -(-n_samples // block)
    padded = jnp.full((n_blocks * block - n_samples, m), -jnp.inf, F.dtype)
    samples = jnp.concatenate([samples, padded]).reshape(n_blocks, block, m)
    return SampleDominance(samples, F, sample_volume, None)


def hype_fitness(sampled: SampleDominance, alive: jax.Array, k: jax.Array) -> jax.Array:
    """HypE's fitness `(n,)` of the `alive` `(n,)` members: each one's expected loss of
    dominated hypervolume when `k` of them are removed at random. Members that are not
    alive get a score that means nothing. Two matrix-vector products per sample block."""
    weights = alive.astype(sampled.F.dtype)
    shares = loss_shares(k, jnp.sum(weights).astype(k.dtype), alive.shape[0])

    def block_loss(dominated: jax.Array) -> jax.Array:
        count = jnp.round(dominated @ weights).astype(jnp.int32)
        return shares[count] @ dominated

    if sampled.matrix is not None:
        loss = block_loss(sampled.matrix)
    else:
        loss = jnp.sum(jax.lax.map(
            lambda block: block_loss(dominated_by(block, sampled.F).astype(weights.dtype)),
            sampled.samples,
        ), axis=0)
    return sampled.sample_volume * loss


def trim(
    sampled: SampleDominance, alive: jax.Array, n_remove: jax.Array, fraction: float
) -> jax.Array:
    """`alive` `(n,)` after removing `n_remove` members in rounds. Each round computes the
    HypE fitness for `k` = the number still to remove and drops the `max(1, ceil(fraction
    * k))` alive members that score lowest (ties by index). `fraction = 0` is the original
    greedy removal of one member at a time; 1 removes all at once from one fitness; 0.5
    takes about `log2(n_remove) + 1` rounds. The samples are drawn once for all rounds."""

    def remove_worst(carry):
        alive, left = carry
        fitness = hype_fitness(sampled, alive, left.astype(sampled.F.dtype))
        batch = jnp.maximum(1, jnp.ceil(fraction * left).astype(left.dtype))
        rank = jnp.argsort(jnp.argsort(jnp.where(alive, fitness, jnp.inf)))
        return alive & (rank >= batch), left - batch

    alive, _ = jax.lax.while_loop(lambda c: c[1] > 0, remove_worst, (alive, n_remove))
    return alive


@settings_class
class HypE(GeneticAlgorithm):
    """HypE: Monte Carlo estimates of hypervolume shares (10,000 samples) for mating
    (binary tournaments on the shares, k = pop_size) and for trimming the last front in
    rounds; `ref_point` is required.

    Args:
        ref_point: hypervolume reference point `(n_obj,)`, required: only objective vectors
            that dominate it earn a share, so it should lie beyond the front of interest
            (for problems normalised to [0, 1], 1.1 in every objective is common).
        n_samples: Monte Carlo samples per fitness estimate (default 10,000).
        trim_fraction: share of the members still to remove that each trimming round
            removes (default 0.5, about `log2(pop_size) + 1` rounds); 0 removes one per
            round as in the original, 1 all at once as the tensorized HypE of Liang et al.
            (2025) does.
        pop_size: population size (default 100); each generation makes as many offspring.
        sbx_eta, sbx_prob, mutation_eta: SBX (20, 1.0) and polynomial mutation (20), as
            PlatEMO's HypE and the tensorized HypE use.
        eliminate_duplicates: replace children that copy a row by new ones, as
            `GeneticAlgorithm` (default False: neither of those does).
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    Mating follows Bader & Zitzler (2011): binary tournaments on the fitness, with the
    less infeasible row winning first when there are constraints. Environmental selection
    keeps whole fronts and trims the last front: each round recomputes the fitness for
    `k` = the number still to remove and drops the lowest-scoring `trim_fraction` of
    them (at least one). The original removes one at a time, n rounds for n removals;
    halving needs about log2(n) + 1. On DTLZ2 (3 objectives, reference point 1.1,
    medians) halving reaches IGD 0.0301 and hypervolume 0.7806 at population 1,000
    after 100 generations (10 seeds; all at once 0.0304 over 5) at 39 ms per generation;
    at population 92 after 200 generations (3 seeds) it gives up some hypervolume:
    0.737, against 0.747 one at a time and 0.727 all at once, for 2.3 ms per generation
    against 11.5 and 1.3. The Monte Carlo samples are drawn once per generation; a round
    costs two `(n_samples, 2 * pop_size)` matrix-vector products. Memory: that matrix as
    floats while it has at most 2^28 entries (1 GiB in float32: population 13,000 with
    10,000 samples); beyond that, blocks of about 2^24 entries recomputed in every round.

    Maximising hypervolume does not spread points evenly on a concave front: they gather
    where the front's slope is near -1 and thin out towards its edges. On DTLZ2 with 3
    objectives HypE removing one at a time ends with a higher hypervolume than NSGA-III
    (0.747 against 0.743 with reference point 1.1, 92 members, 200 generations) but a
    1.37x larger IGD, like pymoo's SMS-EMOA (1.42x).
    """

    paper = "Bader & Zitzler 2011"
    reference = "PlatEMO `HypE`; the tensorized HypE of Liang et al. 2025"

    ref_point: np.ndarray
    n_samples: int = 10_000
    trim_fraction: float = 0.5
    sbx_eta: float = 20.0
    sbx_prob: float = 1.0
    eliminate_duplicates: bool = False

    state_type = HypEState

    def __post_init__(self):
        super().__post_init__()
        ref_point = np.asarray(self.ref_point, dtype=float)
        if ref_point.shape != (self.n_obj,) or not np.all(np.isfinite(ref_point)):
            raise ValueError(
                f"HypE: ref_point must be {self.n_obj} finite numbers, got {self.ref_point!r}"
            )
        check_int("HypE: n_samples", self.n_samples)
        check_float("HypE: trim_fraction", self.trim_fraction, 0.0, 1.0)
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
        """`pop_size` of population and offspring: whole fronts, then HypE trimming of the
        last one; then the survivors' shares for the next mating."""
        key, trim_key, mating_key = jax.random.split(state.key, 3)
        X, F, violation = merged(state, F, violation)
        ref_point = jnp.asarray(self.ref_point, F.dtype)

        rank = non_dominated_rank(F, n_stop=self.pop_size, violation=violation)
        last_rank = jnp.sort(rank)[self.pop_size - 1]
        last_front = (rank == last_rank) & (violation == 0)
        n_remove = jnp.sum(rank <= last_rank) - self.pop_size
        sampled = sample_dominance(trim_key, F, last_front, ref_point, self.n_samples)
        kept = trim(sampled, last_front, jnp.where(jnp.any(last_front), n_remove, 0),
                    self.trim_fraction)
        # Survivors: earlier fronts, then the kept part of the last front; an infeasible last
        # "front" has no shares and keeps the rows its violation order lists first.
        chosen = lexsort((~kept, rank))[: self.pop_size]

        X, F, violation = X[chosen], F[chosen], violation[chosen]
        usable = violation == 0
        sampled = sample_dominance(mating_key, F, usable, ref_point, self.n_samples)
        fitness = hype_fitness(sampled, usable, jnp.asarray(self.pop_size, F.dtype))
        return state.replace(key=key, X=X, F=F, violation=violation, fitness=fitness)
