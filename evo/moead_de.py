"""MOEA/D-DE (Li & Zhang, 2009): MOEA/D with differential evolution and limited replacement."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_float, check_unused, settings_class
from evo.moead import MOEAD
from evo.operators import de_binomial, distinct_donors, polynomial_mutation


@settings_class
class MOEADDE(MOEAD):
    """MOEA/D-DE: MOEA/D whose child of subproblem i is `x_i + F (x_r1 - x_r2)`, crossed
    with `x_i` at rate CR and clipped to the box, then polynomially mutated, and replaces
    at most `max_replacements` incumbents. Defaults as jmetalpy's MOEAD
    (`jmetal.algorithm.multiobjective.moead`, with its DifferentialEvolutionCrossover,
    PolynomialMutation and Tschebycheff and the settings of its MOEA/D-DE examples): CR 1,
    F 0.5, mutation index 20 at rate 1 / n_var per variable, Tchebycheff counting a zero
    weight as 1e-4, T 20, neighbour mating 0.9; but nr 5 rather than 2 (see below).

    Args:
        de_cr: DE's crossover rate CR (default 1.0); one variable always comes from the
            donor (j_rand).
        de_scale: DE's scale factor F (default 0.5), within [0, 2].
        max_replacements: nr, the most subproblems one child replaces per generation
            (default 5); None: no limit.
        aggregation: "tchebycheff" (default, for any number of objectives) or "pbi".
        mutation_eta: polynomial-mutation index (default 20); every variable mutates with
            probability 1 / n_var, as jmetalpy's PolynomialMutation.
        ref_dirs, pop_size, n_neighbors, pbi_theta, neighbor_prob, lb, ub, n_obj: as
            `MOEAD`; `n_neighbors` and the number of weight vectors must be at least 3.

    r1 and r2 are distinct rows of the neighbourhood of i (probability `neighbor_prob`) or
    of the whole population, never i itself. Replacement is `MOEAD`'s batched one: all
    children are compared with the incumbents of the start of the generation, each is
    offered to the nr subproblems of the neighbourhood of i it improves most on (whatever
    its parents' origin; jmetalpy offers the child of a population-wide mating to the whole
    population), and each subproblem takes the best child offered to it (lowest violation up
    to `MOEAD`'s epsilon level, then value, then index) when it beats its incumbent; a child
    that loses a subproblem to a better one is not offered another. jmetalpy replaces one
    child at a time, in the first nr neighbours by distance that the child improves on, and
    the next children mate from the updated population, so a good child spreads within the
    generation. Without that, nr 2 converged far more slowly: on ZDT1 (100 subproblems,
    20,000 evaluations) the median IGD over seeds 0-9 was 0.159 against jmetalpy's 0.043,
    while nr 5 reached 0.042 over seeds 0-19 against jmetalpy's 0.045 (DTLZ2: 0.0770 with nr
    2, 0.0765 with 5, jmetalpy 0.0765). The SBX settings are not used (giving them raises
    ValueError).
    """

    paper = "Li & Zhang 2009"
    reference = "jmetalpy `MOEAD` (with DE)"

    aggregation: str | None = "tchebycheff"
    max_replacements: int | None = 5
    de_cr: float = 1.0
    de_scale: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("MOEADDE: de_cr", self.de_cr, 0.0, 1.0)
        check_float("MOEADDE: de_scale", self.de_scale, 0.0, 2.0)
        check_unused(self, ("sbx_eta", "sbx_prob"), "its children come from de_cr and de_scale")
        if self.neighbours.shape[1] < 3:
            raise ValueError(
                "MOEADDE: each child needs two parents besides its own subproblem's, so "
                f"n_neighbors and the number of weight vectors must be at least 3, got "
                f"n_neighbors={self.n_neighbors} and {self.pop_size} weight vectors"
            )

    def aggregation_weights(self) -> np.ndarray:
        """`ref_dirs` with zero weights counted as 1e-4 by Tchebycheff, as jmetalpy's
        Tschebycheff does: a subproblem on the simplex's boundary then still prefers the
        better of two rows that differ only in the objectives it does not weigh."""
        if self.aggregation != "tchebycheff":
            return self.ref_dirs
        return np.where(self.ref_dirs == 0, 1e-4, self.ref_dirs)

    def mates(self, key: jax.Array, pool: int | jax.Array) -> jax.Array:
        """The rows r1, r2 `(pop_size, 2)` of every subproblem i's child, distinct and not i,
        drawn from `pool`: the neighbourhood table `(pop_size, T)` or the population size."""
        return distinct_donors(key, pool, 2)

    def children(
        self, k_cross: jax.Array, k_mutate: jax.Array, X: jax.Array, parents: jax.Array
    ) -> jax.Array:
        """Subproblem i's child `(pop_size, n_var)`: DE from `X[i]` and the rows `parents[i]`,
        then polynomial mutation."""
        lb, ub = jnp.asarray(self.lb), jnp.asarray(self.ub)
        child = de_binomial(
            k_cross, X, X, X[parents[:, 0]], X[parents[:, 1]], self.de_scale, self.de_cr,
            lb, ub, repair="clip",
        )
        return polynomial_mutation(k_mutate, child, lb, ub, eta=self.mutation_eta, prob=1.0)
