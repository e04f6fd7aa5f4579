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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import as_bounds, check_fitness, frozen_setattr, static_config
from evo.bo.acquisition import distinct_argmins, joint_samples
from evo.bo.bo import design_or_propose, latin_hypercube
from evo.bo.gp import (
    GPParams,
    check_kernel,
    default_params,
    fit_gp,
    from_unit,
    gp_joint,
    gp_posterior,
    standardise,
    to_unit,
)


class TurboState(NamedTuple):
    key: jax.Array
    X: jax.Array  # (capacity, n_var) observations of every trust region so far
    F: jax.Array  # (capacity, 1) objectives; +inf in empty slots, NaN rows are ignored
    violation: jax.Array  # (capacity,) 0, or inf in empty slots and non-finite rows
    filled: jax.Array  # (capacity,) bool, slot holds an observation
    region: (
        jax.Array
    )  # (capacity,) int32, trust region (restart) that made the observation
    params: GPParams  # log hyperparameters of the current region's GP
    design: jax.Array  # (n_design, n_var) initial design of the current region
    pending: jax.Array  # (q, n_var) points handed out by the last ask
    length: (
        jax.Array
    )  # () side of the trust region in the unit cube, before ARD weights
    n_success: jax.Array  # int32, improving batches in a row
    n_failure: jax.Array  # int32, batches without improvement in a row
    n_regions: jax.Array  # int32, index of the current trust region (restarts so far)
    rounds: jax.Array  # int32, tells since the current region started


@static_config
class Turbo:
    """TuRBO-1 (Eriksson et al. 2019) proposing `q` points per `ask`, single objective.

    Args:
        lb, ub: box bounds `(n_var,)`.
        q: points per ask (and per `evo.run` generation).
        n_init: initial design of each trust region (default `2 n_var`), rounded up to a
            multiple of `q`.
        capacity: observation buffer size; must hold the initial design. When full, new
            observations replace empty and non-finite slots first, then the worst of past
            regions, then the worst of the current one.
        kernel: "matern52" or "rbf" (ARD).
        n_candidates: Thompson-sampling candidates per ask: copies of the region's best
            point with each coordinate replaced, with probability `min(1, 20 / n_var)` (at
            least one), by a uniform draw from the trust region.
        length_init, length_min, length_max: trust-region side (0.8, 0.5^7, 1.6 in the
            paper); a region smaller than `length_min` ends in a restart.
        success_tolerance, failure_tolerance: batches in a row that double / halve the side;
            `failure_tolerance` defaults to `ceil(max(4, n_var) / q)` as in the paper.
        n_restarts, fit_steps, fit_lr: hyperparameter fit, as in `BayesOpt`.

    A batch improves when its best value beats the region's best by more than `1e-3 |best|`.
    Non-finite observations are stored but ignored, as in `BayesOpt`. The batch is `q`
    distinct minimisers of joint posterior samples over the candidates.
    """

    lb: np.ndarray
    ub: np.ndarray
    q: int = 1
    n_init: int | None = None
    capacity: int = 200
    kernel: str = "matern52"
    n_candidates: int = 1000
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_tolerance: int = 3
    failure_tolerance: int | None = None
    n_restarts: int = 4
    fit_steps: int = 50
    fit_lr: float = 0.05

    def __post_init__(self):
        lb, ub = as_bounds(self.lb, self.ub)
        frozen_setattr(self, lb=lb, ub=ub)
        d = lb.shape[0]
        if self.n_init is None:
            frozen_setattr(self, n_init=2 * d)
        counts = ["q", "n_init", "capacity", "n_candidates", "success_tolerance", "n_restarts"]
        if self.failure_tolerance is not None:
            counts.append("failure_tolerance")
        for name in counts:
            value = getattr(self, name)
            if (
                not isinstance(value, (int, np.integer))
                or isinstance(value, bool)
                or value < 1
            ):
                raise ValueError(
                    f"Turbo: {name} must be a positive integer, got {value!r}"
                )
        if self.failure_tolerance is None:
            frozen_setattr(self, failure_tolerance=math.ceil(max(4, d) / self.q))
        if not 0 < self.length_min <= self.length_init <= self.length_max:
            raise ValueError(
                "Turbo: need 0 < length_min <= length_init <= length_max, got "
                f"{self.length_min}, {self.length_init}, {self.length_max}"
            )
        if self.n_candidates < self.q:
            raise ValueError(
                f"Turbo: n_candidates={self.n_candidates} must be at least q={self.q}"
            )
        check_kernel(self.kernel)
        if self.capacity < self.n_design:
            raise ValueError(
                f"Turbo: capacity={self.capacity} must hold the initial design of "
                f"{self.n_design} points"
            )

    @property
    def n_obj(self) -> int:
        return 1

    @property
    def n_var(self) -> int:
        return self.lb.shape[0]

    @property
    def pop_size(self) -> int:
        """Points per ask."""
        return self.q

    @property
    def n_design(self) -> int:
        return -(-self.n_init // self.q) * self.q

    # ------------------------------------------------------------------ init / ask / tell

    def init(self, key: jax.Array) -> TurboState:
        key, design_key = jax.random.split(key)
        dtype = jnp.result_type(float)
        c = self.capacity
        design = from_unit(
            latin_hypercube(design_key, self.n_design, self.n_var, dtype),
            self.lb,
            self.ub,
        )
        return TurboState(
            key=key,
            X=jnp.zeros((c, self.n_var), dtype),
            F=jnp.full((c, 1), jnp.inf, dtype),
            violation=jnp.full((c,), jnp.inf, dtype),
            filled=jnp.zeros((c,), bool),
            region=jnp.zeros((c,), jnp.int32),
            params=default_params(self.n_var, dtype),
            design=design,
            pending=design[: self.q],
            length=jnp.asarray(self.length_init, dtype),
            n_success=jnp.int32(0),
            n_failure=jnp.int32(0),
            n_regions=jnp.int32(0),
            rounds=jnp.int32(0),
        )

    def ask(self, state: TurboState) -> tuple[jax.Array, TurboState]:
        """The next `q` points `(q, n_var)`: the region's design, then Thompson samples."""
        key, fit_key, prop_key = jax.random.split(state.key, 3)
        X, params = design_or_propose(
            state.design, state.rounds, jnp.sum(self._current(state)), self.q, prop_key,
            self.lb, self.ub, state.params, lambda: self._propose(state, fit_key, prop_key),
        )
        return X, state._replace(key=key, pending=X, params=params)

    def tell(
        self, state: TurboState, F: jax.Array, G: jax.Array | None = None
    ) -> TurboState:
        """Add the observations `F` `(q, 1)` of the last ask and move the trust region."""
        if G is not None and G.shape[-1]:
            raise ValueError("Turbo takes no constraints: tell(state, F) only")
        F = jnp.asarray(F)
        check_fitness(F, self.q, 1)
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
        state = state._replace(
            key=key,
            X=state.X.at[slots].set(state.pending.astype(dtype)),
            F=state.F.at[slots].set(F),
            violation=state.violation.at[slots].set(jnp.where(finite, 0.0, jnp.inf)),
            filled=state.filled.at[slots].set(True),
            region=state.region.at[slots].set(state.n_regions),
            length=length,
            n_success=n_success,
            n_failure=n_failure,
            rounds=state.rounds + 1,
        )
        return jax.tree.map(
            lambda new, old: jnp.where(restart, new, old),
            state._replace(
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
            n_restarts=self.n_restarts,
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
        perturbed = lo + (hi - lo) * jax.random.uniform(kp, (m, d), centre.dtype)
        change = jax.random.uniform(km, (m, d)) <= min(1.0, 20.0 / d)
        forced = jax.nn.one_hot(jax.random.randint(kd, (m,), 0, d), d, dtype=bool)
        change = change | (forced & ~jnp.any(change, 1, keepdims=True))
        return jnp.where(change, perturbed, centre)
