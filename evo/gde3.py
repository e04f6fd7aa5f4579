"""GDE3 (Kukkonen & Lampinen, 2005): differential evolution with one-to-one Pareto selection."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from evo.checks import (
    check_choice,
    check_float,
    check_int,
    check_unused,
    frozen_setattr,
    settings_class,
)
from evo.genetic import GAState, GeneticAlgorithm, merged
from evo.nsga2 import select_by_rank_and_crowding
from evo.operators import DE_REPAIRS, de_binomial, distinct_donors, flat_draw


def constrained_dominates(
    F_a: jax.Array, violation_a: jax.Array, F_b: jax.Array, violation_b: jax.Array
) -> jax.Array:
    """Whether row i of `F_a` `(n, m)` constrained-dominates row i of `F_b` `(n, m)`: Pareto
    dominance between two feasible rows, else the smaller total violation `(n,)` (Deb,
    2000), row by row as `evo.sorting.dominance_matrix` compares all pairs. Returns `(n,)`
    bool; violations must be inf for rows holding NaN or inf."""
    pareto = jnp.all(F_a <= F_b, axis=1) & jnp.any(F_a < F_b, axis=1)
    both_feasible = (violation_a == 0) & (violation_b == 0)
    return jnp.where(both_feasible, pareto, violation_a < violation_b)


@settings_class
class GDE3(GeneticAlgorithm):
    """GDE3: every row makes one DE/rand/1/bin trial; a trial that constrained-dominates
    its parent replaces it, a parent that dominates its trial stays, and otherwise both
    enter the pool, which NSGA-II's rank and crowding distance trim back to `pop_size`.
    Defaults as pymoo's GDE3 (`pymoo.algorithms.moo.gde3`, on `nsde.py`): CR 0.5, F drawn
    uniformly from [0, 1) per trial with a jitter of 1e-4 per variable, bounce-back repair.

    Args:
        pop_size: population size (default 100), at least 4: each trial needs three
            donors besides its parent.
        de_cr: DE's crossover rate CR (default 0.5); one variable per trial always comes
            from the donor (j_rand).
        de_scale: DE's scale factor F, a number or a pair `(low, high)` for a uniform draw
            per trial (default `(0.0, 1.0)`), each within [0, 2].
        de_jitter: every variable's F is multiplied by `1 + de_jitter * (u - 0.5)`, u
            uniform (pymoo's gamma, default 1e-4).
        de_repair: "bounce-back" (default) or "clip", see `evo.operators.de_binomial`.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    The pool always has 2N rows, parents then trials, with a flag marking the rows GDE3
    puts in it; the flagged rows are ranked with constraints (feasible first, then by
    violation), and a row left out ranks after every flagged row of finite violation. So
    the survivors are GDE3's unless fewer than N pool rows have finite objectives; then a
    dominated finite row survives before a row holding NaN or inf. The SBX, mutation and
    duplicate settings of the base are not used (giving them raises ValueError). pymoo
    samples the initial population by Latin hypercube, evo uniformly.
    """

    paper = "Kukkonen & Lampinen 2005"
    reference = "pymoo `GDE3`"

    de_cr: float = 0.5
    de_scale: float | tuple[float, float] = (0.0, 1.0)
    de_jitter: float = 1e-4
    de_repair: str = "bounce-back"
    eliminate_duplicates: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("GDE3: pop_size", self.pop_size, 4)
        check_float("GDE3: de_cr", self.de_cr, 0.0, 1.0)
        scale = self.de_scale
        if not isinstance(scale, (tuple, list)):
            scale = (scale, scale)
        if len(scale) != 2:
            raise ValueError(f"GDE3: de_scale must be a number or a pair, got {scale!r}")
        low = check_float("GDE3: de_scale's low end", scale[0], 0.0, 2.0)
        high = check_float("GDE3: de_scale's high end", scale[1], low, 2.0)
        check_float("GDE3: de_jitter", self.de_jitter, 0.0)
        check_choice("GDE3: de_repair", self.de_repair, DE_REPAIRS)
        check_unused(self, ("sbx_eta", "sbx_prob", "mutation_eta", "eliminate_duplicates"),
                     "its trials come from de_cr, de_scale and de_jitter")
        frozen_setattr(self, de_scale=(low, high))

    def ask(self, state: GAState) -> tuple[jax.Array, GAState]:
        """One trial per row `(pop_size, n_var)`, row i's from target i and three other
        rows; the initial population before the first tell."""
        key, k_donors, k_scale, k_jitter, k_trial = jax.random.split(state.key, 5)
        X = state.X
        n, d = X.shape
        donors = distinct_donors(k_donors, n, 3)
        low, high = self.de_scale
        scale = flat_draw(jax.random.uniform, k_scale, (n, 1), X.dtype, low, high)
        jitter = flat_draw(jax.random.uniform, k_jitter, (n, d), X.dtype) - 0.5
        scale *= 1.0 + self.de_jitter * jitter
        trials = de_binomial(
            k_trial, X, X[donors[:, 0]], X[donors[:, 1]], X[donors[:, 2]], scale,
            self.de_cr, jnp.asarray(self.lb), jnp.asarray(self.ub), self.de_repair,
        )
        offspring = jnp.where(state.generation == 0, X, trials)
        return offspring, state.replace(key=key, offspring=offspring)

    def survive(self, state: GAState, F: jax.Array, violation: jax.Array) -> GAState:
        """Parents against their trials, then the pool trimmed by rank and crowding; the
        first tell installs the initial population, which dominates the empty one."""
        key, tie_key = jax.random.split(state.key)
        trial_wins = constrained_dominates(F, violation, state.F, state.violation)
        parent_wins = constrained_dominates(state.F, state.violation, F, violation)
        pooled = jnp.concatenate([~trial_wins, ~parent_wins])
        X, F, violation = merged(state, F, violation)
        left_out = jnp.finfo(violation.dtype).max
        ranked = jnp.where(pooled | jnp.isinf(violation), violation, left_out)
        chosen, _, _ = select_by_rank_and_crowding(tie_key, F, ranked, self.pop_size)
        return state.replace(key=key, X=X[chosen], F=F[chosen], violation=violation[chosen])
