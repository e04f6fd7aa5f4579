"""TuRBO-1: Bayesian optimisation in a trust region, for 20 to 100 dimensions.

Eriksson, Pearce, Gardner, Turner & Poloczek 2019, "Scalable Global Optimization via Local
Bayesian Optimization" (NeurIPS). One GP is fitted to the observations of the current trust
region only; the region is a box around the best of them whose sides follow the GP's ARD
length scales; it doubles after `success_tolerance` improving batches in a row, halves after
`failure_tolerance` batches without improvement, and when its side falls below `length_min`
the search restarts from a fresh Latin-hypercube design.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import check_objectives, check_unconstrained, state_class
from evo.bo.acquisition import distinct_argmins, joint_samples
from evo.bo.base import BayesianOptimizer, BOState, design_or_propose
from evo.bo.gp import (
    GPParams,
    default_params,
    fit_gp,
    from_unit,
    gp_joint,
    gp_posterior,
    standardise,
    to_unit,
)
from evo.checks import check_int, frozen_setattr, settings_class
from evo.operators import flat_draw


@state_class
class TurboState(BOState):
    region: jax.Array  # (capacity,) int32, trust region (restart) that made the observation
    length: jax.Array  # () side of the trust region in the unit cube, before ARD weights
    n_success: jax.Array  # int32, improving batches in a row
    n_failure: jax.Array  # int32, batches without improvement in a row
    n_regions: jax.Array  # int32, index of the current trust region (restarts so far)
    rounds: jax.Array  # int32, tells since the current region started


@settings_class
class Turbo(BayesianOptimizer):
    """TuRBO-1 trust-region Bayesian optimisation for 20-100 variables: a box around the
    best point shaped by the GP length scales, doubled after 3 improving batches, halved
    after `ceil(max(4, n_var) / q)` failing ones, restarted from a fresh design when it
    collapses; Thompson sampling for `q` points. Single objective. Needs
    `pip install "evo[bo]"`.

    Args:
        lb, ub: box bounds `(n_var,)`.
        q: points per ask (and per `evo.run` generation).
        n_init: initial design of each trust region (default `2 n_var`), rounded up to a
            multiple of `q`.
        capacity: observation buffer size (default 200); must hold the initial design. When
            full, new observations replace empty and non-finite slots first, then the worst
            of past regions, then the worst of the current one.
        kernel: "matern52" or "rbf" (ARD).
        n_candidates: Thompson-sampling candidates per ask (default 1000): copies of the
            region's best point with each coordinate replaced, with probability
            `min(1, 20 / n_var)` (at least one), by a uniform draw from the trust region.
        length_init, length_min, length_max: trust-region side (0.8, 0.5^7, 1.6 in the
            paper); a region smaller than `length_min` ends in a restart.
        success_tolerance, failure_tolerance: batches in a row that double / halve the side;
            `failure_tolerance` defaults to `ceil(max(4, n_var) / q)` as in the paper.
        fit_method, fit_restarts, fit_steps, fit_lr: hyperparameter fit, as in `BayesOpt`.
        n_obj: must be 1.

    A batch improves when its best value beats the region's best by more than `1e-3 |best|`.
    Non-finite observations are stored but ignored, as in `BayesOpt`. The batch is `q`
    distinct minimisers of joint posterior samples over the candidates.
    """

    paper = "Eriksson et al. 2019"
    reference = "BoTorch's TuRBO-1 tutorial"

    n_obj: int = 1
    n_init: int | None = None
    capacity: int = 200
    n_candidates: int = 1000
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_tolerance: int = 3
    failure_tolerance: int | None = None

    single_objective: ClassVar[bool] = True
    takes_constraints: ClassVar[bool] = False

    def __post_init__(self):
        if self.n_init is None:
            frozen_setattr(self, n_init=2 * np.asarray(self.lb).size)
        super().__post_init__()
        check_int("Turbo: success_tolerance", self.success_tolerance)
        if self.failure_tolerance is None:
            frozen_setattr(self, failure_tolerance=math.ceil(max(4, self.n_var) / self.q))
        check_int("Turbo: failure_tolerance", self.failure_tolerance)
        if not 0 < self.length_min <= self.length_init <= self.length_max:
            raise ValueError(
                "Turbo: need 0 < length_min <= length_init <= length_max, got "
                f"{self.length_min}, {self.length_init}, {self.length_max}"
            )
        if self.n_candidates < self.q:
            raise ValueError(
                f"Turbo: n_candidates={self.n_candidates} must be at least q={self.q}"
            )

    # ------------------------------------------------------------------ init / ask / tell

    def init(self, key: jax.Array) -> TurboState:
        key, design_key = jax.random.split(key)
        fields = self.initial_state(design_key)
        dtype = fields["X"].dtype
        return TurboState(
            key=key,
            params=default_params(self.n_var, dtype),
            region=jnp.zeros((self.capacity,), jnp.int32),
            length=jnp.asarray(self.length_init, dtype),
            n_success=jnp.int32(0),
            n_failure=jnp.int32(0),
            n_regions=jnp.int32(0),
            rounds=jnp.int32(0),
            **fields,
        )

    def ask(self, state: TurboState) -> tuple[jax.Array, TurboState]:
        """The next `q` points `(q, n_var)`: the region's design, then Thompson samples."""
        key, fit_key, prop_key = jax.random.split(state.key, 3)
        X, params = design_or_propose(
            state.design, state.rounds, jnp.sum(self._current(state)), self.q, prop_key,
            self.lb, self.ub, state.params, lambda: self._propose(state, fit_key, prop_key),
        )
        return X, state.replace(key=key, offspring=X, params=params)

    def tell(
        self, state: TurboState, F: jax.Array, G: jax.Array | None = None
    ) -> TurboState:
        """Add the observations `F` `(q, 1)` of the last ask and move the trust region."""
        check_unconstrained("Turbo", G)
        F = jnp.asarray(F)
        check_objectives(F, self.q, 1)
        dtype = state.F.dtype
        F = F.astype(dtype)
        finite = jnp.isfinite(F[:, 0])

        current = self._current(state)
        best = jnp.min(jnp.where(current, state.F[:, 0], jnp.inf))
        batch_best = jnp.min(jnp.where(finite, F[:, 0], jnp.inf))
        # tells of the initial design leave the region alone (best is inf before the first)
        counts = state.rounds >= self.n_design // self.q
        improved = batch_best < best - 1e-3 * jnp.abs(best)
        length, n_success, n_failure = self._resize(state, improved)
        length = jnp.where(counts, length, state.length)
        n_success = jnp.where(counts, n_success, state.n_success)
        n_failure = jnp.where(counts, n_failure, state.n_failure)

        slots = self._slots_to_fill(state)
        key, design_key = jax.random.split(state.key)
        restart = length < self.length_min
        fresh = self.init(design_key)  # the next region's starting values
        state = state.replace(
            **self.stored(state, slots, F, jnp.where(finite, 0.0, jnp.inf)),
            key=key,
            region=state.region.at[slots].set(state.n_regions),
            length=length,
            n_success=n_success,
            n_failure=n_failure,
            rounds=state.rounds + 1,
            generation=state.generation + 1,
        )
        return jax.tree.map(
            lambda new, old: jnp.where(restart, new, old),
            state.replace(
                params=fresh.params,
                design=fresh.design,
                length=fresh.length,
                n_success=fresh.n_success,
                n_failure=fresh.n_failure,
                n_regions=state.n_regions + 1,
                rounds=fresh.rounds,
            ),
            state,
        )

    def trust_region(self, state: TurboState) -> tuple[jax.Array, jax.Array]:
        """Lower and upper corners `(n_var,)` of the current trust region in the box: side
        `length * w` around the region's best point, with ARD weights `w` = length scales
        over their geometric mean, clipped to the box."""
        _, lo, hi = self._region(state, state.params)
        return from_unit(lo, self.lb, self.ub), from_unit(hi, self.lb, self.ub)

    # ------------------------------------------------------------------ internals

    def _current(self, state: TurboState) -> jax.Array:
        """Slots the current region's GP sees: its finite observations `(capacity,)`."""
        return state.filled & (state.violation == 0) & (state.region == state.n_regions)

    def _region(self, state: TurboState, params: GPParams):
        """Centre, lower and upper corners `(n_var,)` of the trust region in the unit cube."""
        U = to_unit(state.X, self.lb, self.ub)
        centre = U[jnp.argmin(jnp.where(self._current(state), state.F[:, 0], jnp.inf))]
        half = 0.5 * state.length * jnp.exp(params.log_ell - jnp.mean(params.log_ell))
        return (
            centre,
            jnp.clip(centre - half, 0.0, 1.0),
            jnp.clip(centre + half, 0.0, 1.0),
        )

    def _resize(self, state: TurboState, improved: jax.Array):
        n_success = jnp.where(improved, state.n_success + 1, 0)
        n_failure = jnp.where(improved, 0, state.n_failure + 1)
        expand = n_success >= self.success_tolerance
        shrink = n_failure >= self.failure_tolerance
        length = jnp.where(
            expand,
            jnp.minimum(2.0 * state.length, self.length_max),
            jnp.where(shrink, 0.5 * state.length, state.length),
        )
        return length, jnp.where(expand, 0, n_success), jnp.where(shrink, 0, n_failure)

    def _slots_to_fill(self, state: TurboState) -> jax.Array:
        usable = state.filled & (state.violation == 0)
        klass = jnp.where(
            ~state.filled,
            0,
            jnp.where(~usable, 1, jnp.where(state.region < state.n_regions, 2, 3)),
        )
        worst_first = jnp.where(usable, -state.F[:, 0], 0.0)
        return jnp.lexsort((worst_first, klass))[: self.q]

    def _propose(self, state: TurboState, fit_key: jax.Array, key: jax.Array):
        current = self._current(state)
        U = to_unit(state.X, self.lb, self.ub)
        y, _, _ = standardise(jnp.where(current, state.F[:, 0], 0.0), current)
        params = fit_gp(
            fit_key,
            U,
            y,
            current,
            kernel=self.kernel,
            method=self.fit_method,
            n_restarts=self.fit_restarts,
            n_steps=self.fit_steps,
            learning_rate=self.fit_lr,
            init=state.params,
        )
        centre, lo, hi = self._region(state, params)
        cand_key, ts_key = jax.random.split(key)
        candidates = self._candidates(cand_key, centre, lo, hi)
        post = gp_posterior(self.kernel, params, U, y, current)
        mean, cov = gp_joint(self.kernel, post, candidates)
        samples = joint_samples(
            ts_key, mean, cov, 1e-4 * jnp.exp(params.log_sf2), self.q
        )
        return from_unit(
            candidates[distinct_argmins(samples)], self.lb, self.ub
        ), params

    def _candidates(self, key, centre, lo, hi):
        """`(n_candidates, n_var)` copies of `centre` with coordinates resampled in `[lo, hi]`."""
        m, d = self.n_candidates, self.n_var
        kp, km, kd = jax.random.split(key, 3)
        perturbed = lo + (hi - lo) * flat_draw(jax.random.uniform, kp, (m, d), centre.dtype)
        change = flat_draw(jax.random.uniform, km, (m, d)) <= min(1.0, 20.0 / d)
        forced = jax.nn.one_hot(jax.random.randint(kd, (m,), 0, d), d, dtype=bool)
        change = change | (forced & ~jnp.any(change, 1, keepdims=True))
        return jnp.where(change, perturbed, centre)
