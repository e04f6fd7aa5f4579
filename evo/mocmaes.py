"""MO-CMA-ES (Igel, Hansen & Roth, 2007): one (1+1)-CMA-ES per member of the population,
the parents and their offspring selected together by non-dominated sorting and
hypervolume contributions, as DEAP's `cma.StrategyMultiObjective` (with lambda = mu)."""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import (
    Algorithm,
    Population,
    State,
    check_objectives,
    state_class,
    violation_of,
)
from evo.checks import check_float, check_int, frozen_setattr, settings_class
from evo.operators import flat_draw, uniform_sample
from evo.smsemoa import hypervolume_survivors


@state_class
class MOCMAESState(State):
    X: jax.Array  # (mu, n) the parents' search points; they may leave the box (see MOCMAES)
    F: jax.Array  # (mu, m) objectives at their closest points in the box; +inf before a tell
    violation: jax.Array  # (mu,) total constraint violation, 0 when feasible
    offspring: jax.Array  # (mu, n) the search points of the last ask, row i from parent i
    sigma: jax.Array  # (mu,) step sizes
    A: jax.Array  # (mu, n, n) factors of the covariance matrices, C = A A^T
    A_inv: jax.Array  # (mu, n, n) their inverses
    p_c: jax.Array  # (mu, n) evolution paths
    p_succ: jax.Array  # (mu,) smoothed success rates


class StrategyConstants(NamedTuple):
    """Learning rates and targets of the (1+1)-CMA-ES strategies, as DEAP's defaults (Voss,
    Hansen & Igel 2010, after Igel, Hansen & Roth 2007 with lambda = 1)."""

    d: float  # step-size damping, 1 + n / 2
    p_target: float  # target success rate, 1 / (5 + 1/2)
    c_p: float  # success-rate learning rate, p_target / (2 + p_target)
    c_c: float  # evolution-path learning rate, 2 / (n + 2)
    c_cov: float  # covariance learning rate, 2 / (n^2 + 6)
    p_thresh: float  # success rate above which the path stalls, 0.44

    @classmethod
    def for_dimension(cls, n: int) -> StrategyConstants:
        p_target = 1.0 / (5.0 + 0.5)
        return cls(1.0 + n / 2.0, p_target, p_target / (2.0 + p_target), 2.0 / (n + 2.0),
                   2.0 / (n**2 + 6.0), 0.44)


def rank_one_update(
    A: jax.Array, A_inv: jax.Array, alpha: jax.Array, beta: float, v: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The factor `(n, n)` of `alpha A A^T + beta v v^T` and its inverse, from `A`, `A_inv`
    `(n, n)` and `v` `(n,)` in O(n^2) (Igel, Suttorp & Hansen 2006). When
    `A^-1 v` is below 1e-20 in every component the update would be noise, and both are
    returned unchanged (DEAP tests only the largest signed component)."""
    w = A_inv @ v
    norm_w2 = w @ w
    changes = jnp.max(jnp.abs(w)) > 1e-20
    a = jnp.sqrt(alpha)
    b = a / jnp.where(changes, norm_w2, 1.0) * (jnp.sqrt(1.0 + beta / alpha * norm_w2) - 1.0)
    A_new = a * A + b * jnp.outer(v, w)
    A_inv_new = A_inv / a - b / (a**2 + a * b * norm_w2) * jnp.outer(w, w @ A_inv)
    return jnp.where(changes, A_new, A), jnp.where(changes, A_inv_new, A_inv)


@settings_class
class MOCMAES(Algorithm):
    """MO-CMA-ES: mu (1+1)-CMA-ES strategies, each with its own step size, covariance
    factor, evolution path and success rate, make one offspring each; parents and
    offspring are selected together, the last front by least hypervolume contribution.

    Args:
        pop_size: mu, the number of strategies and of offspring per generation (default 100).
        sigma0: initial step size of every strategy (default 0.3 times the mean box width,
            as `CMAES`; DEAP has no default).
        bound_penalty: a point outside the box is evaluated at its closest point in the box,
            and for selection `bound_penalty` times their squared distance is added to every
            objective (default 1e6, as DEAP's MO-CMA-ES example with `ClosestValidPenalty`).
        n_samples: Monte Carlo samples per contribution estimate, used with 4 or more
            objectives only (default 10,000).
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    As DEAP 1.4's `StrategyMultiObjective` with `lambda_ = mu`: offspring i is parent i plus
    `sigma_i A_i z` with z standard normal. Parents and offspring, offspring first, are
    ranked by non-dominated sorting and the front that does not fit loses its least
    hypervolume contributors one at a time, contributions recomputed after each removal
    (`evo.smsemoa.remove_least_contributors`), with the reference point 1 beyond the
    worst value of every objective among all candidates. An offspring that survives is a
    success: its parent's success rate and step size are updated with it (Voss, Hansen &
    Igel 2010), and the offspring inherits them with its evolution path and covariance
    updated by a rank-one step (`rank_one_update`). Where the success rate reaches
    `p_thresh` the path stalls and the covariance update takes the form of Igel et al. (2007),
    `(1 - c_cov) C + c_cov (p_c p_c^T + c_c (2 - c_c) C)`; DEAP scales C there by
    `1 - c_cov + c_c (2 - c_c)`, without the factor c_cov. Constraints, which DEAP does not
    take, are handled as by the other algorithms here: feasible rows first, then by total
    violation; rows with NaN or inf objectives rank last.

    DEAP's own indicator takes each contribution as the difference of two hypervolumes,
    which cancels to noise once a candidate far outside the box has pushed the reference
    point out (1e4 and beyond with the penalty); the contributions here are exact
    (`evo.metrics.hypervolume.hypervolume_contributions`). Median IGD over 10 seeds, mu 50,
    sigma0 0.3: 0.0112 against DEAP's 0.0122 (0.0138 with exact contributions as its
    indicator) on 5-variable ZDT1 after 20,000 evaluations, and 0.116 against 0.273
    (0.120) on DTLZ2 after 10,000.

    One generation is one batched program: the mu samples, the selection (a `while_loop`
    over removals) and the mu strategy updates (vmapped, O(mu n^2)).
    """

    paper = "Igel, Hansen & Roth 2007"
    reference = "DEAP `cma.StrategyMultiObjective`"

    pop_size: int = 100
    sigma0: float | None = None
    bound_penalty: float = 1e6
    n_samples: int = 10_000

    takes_constraints: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("MOCMAES: pop_size", self.pop_size, 2)
        sigma0 = 0.3 * float(np.mean(self.ub - self.lb)) if self.sigma0 is None else self.sigma0
        sigma0 = check_float("MOCMAES: sigma0 (the default 0.3 * mean box width needs ub > lb)",
                             sigma0, 0.0, open_low=True)
        penalty = check_float("MOCMAES: bound_penalty", self.bound_penalty, 0.0)
        for name, value in (("sigma0", sigma0), ("bound_penalty", penalty)):
            if not math.isfinite(value):
                raise ValueError(f"MOCMAES: {name} must be finite, got {value!r}")
        check_int("MOCMAES: n_samples", self.n_samples)
        frozen_setattr(self, sigma0=sigma0)

    @property
    def constants(self) -> StrategyConstants:
        return StrategyConstants.for_dimension(self.n_var)

    def init(self, key: jax.Array) -> MOCMAESState:
        key, sample_key = jax.random.split(key)
        mu, n = self.pop_size, self.n_var
        X = uniform_sample(sample_key, jnp.asarray(self.lb), jnp.asarray(self.ub), mu)
        identity = jnp.broadcast_to(jnp.eye(n, dtype=X.dtype), (mu, n, n))
        return MOCMAESState(
            key=key, generation=jnp.int32(0), X=X,
            F=jnp.full((mu, self.n_obj), jnp.inf, X.dtype),
            violation=jnp.full(mu, jnp.inf, X.dtype), offspring=X,
            sigma=jnp.full(mu, self.sigma0, X.dtype), A=identity, A_inv=identity,
            p_c=jnp.zeros((mu, n), X.dtype),
            p_succ=jnp.full(mu, self.constants.p_target, X.dtype),
        )

    def in_box(self, X: jax.Array) -> jax.Array:
        """The closest points `(k, n)` in the box to the search points `X` `(k, n)`."""
        return jnp.clip(X, jnp.asarray(self.lb, X.dtype), jnp.asarray(self.ub, X.dtype))

    def ask(self, state: MOCMAESState) -> tuple[jax.Array, MOCMAESState]:
        """Points to evaluate `(mu, n)`, in the box: the initial population at first, then
        each parent's offspring (its closest point in the box)."""
        key, sample_key = jax.random.split(state.key)
        Z = flat_draw(jax.random.normal, sample_key, state.X.shape, state.X.dtype)
        steps = jnp.einsum("kij,kj->ki", state.A, Z)
        children = state.X + state.sigma[:, None] * steps
        offspring = jnp.where(state.generation == 0, state.X, children)
        return self.in_box(offspring), state.replace(key=key, offspring=offspring)

    def tell(self, state: MOCMAESState, F: jax.Array, G: jax.Array | None = None) -> MOCMAESState:
        """Selection and strategy updates after the points of the last ask got objectives
        `F` `(mu, n_obj)` and optional constraint values `G` `(mu, n_constr)`; the first
        tell only records the initial population's."""
        F = jnp.asarray(F)
        check_objectives(F, self.pop_size, self.n_obj)
        F = F.astype(state.F.dtype)
        violation = violation_of(F, G)
        state = jax.lax.cond(
            state.generation == 0,
            lambda s, F, v: s.replace(F=F, violation=v),
            self.select_and_adapt, state, F, violation,
        )
        return state.replace(generation=state.generation + 1)

    def penalized(self, X: jax.Array, F: jax.Array) -> jax.Array:
        """`F` `(k, m)` plus `bound_penalty` times the squared distance of each search point
        of `X` `(k, n)` to the box, in every objective."""
        distance2 = jnp.sum((X - self.in_box(X)) ** 2, axis=1, keepdims=True)
        return F + self.bound_penalty * distance2

    def select_and_adapt(
        self, state: MOCMAESState, F: jax.Array, violation: jax.Array
    ) -> MOCMAESState:
        """The next parents among offspring and parents, with their strategies updated."""
        c = self.constants
        mu = self.pop_size
        key, removal_key = jax.random.split(state.key)
        X = jnp.concatenate([state.offspring, state.X])
        F_all = jnp.concatenate([F, state.F])
        violation_all = jnp.concatenate([violation, state.violation])
        scores = self.penalized(X, F_all)
        finite = jnp.all(jnp.isfinite(scores), axis=1)
        ref_point = jnp.max(jnp.where(finite[:, None], scores, -jnp.inf), axis=0) + 1.0
        chosen = hypervolume_survivors(removal_key, scores, violation_all, mu, ref_point,
                                       self.n_samples)
        success = jnp.zeros(2 * mu, bool).at[chosen].set(True)[:mu]

        # A parent learns from its offspring's fate; a surviving offspring shares the result.
        p_succ = (1.0 - c.c_p) * state.p_succ + c.c_p * success
        sigma = state.sigma * jnp.exp((p_succ - c.p_target) / (c.d * (1.0 - c.p_target)))
        stalled = p_succ >= c.p_thresh
        steps = (state.offspring - state.X) / state.sigma[:, None]
        path_weight = jnp.where(stalled, 0.0, math.sqrt(c.c_c * (2.0 - c.c_c)))
        p_c = (1.0 - c.c_c) * state.p_c + path_weight[:, None] * steps
        alpha = 1.0 - c.c_cov + jnp.where(stalled, c.c_cov * c.c_c * (2.0 - c.c_c), 0.0)
        A, A_inv = jax.vmap(rank_one_update, in_axes=(0, 0, 0, None, 0))(
            state.A, state.A_inv, alpha, c.c_cov, p_c
        )

        def pick(child: jax.Array, parent: jax.Array) -> jax.Array:
            return jnp.concatenate([child, parent])[chosen]

        return state.replace(
            key=key, X=X[chosen], F=F_all[chosen], violation=violation_all[chosen],
            sigma=pick(sigma, sigma), p_succ=pick(p_succ, p_succ), p_c=pick(p_c, state.p_c),
            A=pick(A, state.A), A_inv=pick(A_inv, state.A_inv),
        )

    def population(self, state: MOCMAESState) -> Population:
        """The parents at their closest points in the box, where they were evaluated."""
        return Population(self.in_box(state.X), state.F, state.violation,
                          jnp.ones(self.pop_size, bool))
