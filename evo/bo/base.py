"""The Bayesian-optimisation family: what `BayesOpt` and `Turbo` share.

Both keep their observations in a fixed-size buffer (static shapes keep `tell` jittable):
`capacity` slots, `filled` marking those that hold an observation, so the population an
optimiser holds is its filled slots. Both start from a Latin-hypercube design handed out
`q` points per ask, fit GP hyperparameters with batched restarts (Adam or L-BFGS), and propose
batches of `q` points once the design is spent. A subclass writes its own proposal, its
choice of slots to overwrite when the buffer is full and what its `tell` learns beyond
storing the observations.

Non-finite observations (a NaN or inf objective or constraint value) are stored, so
`state.F` shows them, but count as infinitely infeasible: the GP ignores them, they never
count as the best, and their slots are the first reused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import Algorithm, Population, State, state_class
from evo.bo.gp import FIT_METHODS, KERNELS, GPParams, from_unit
from evo.checks import check_choice, check_float, check_int, settings_class
from evo.operators import flat_draw


@state_class
class BOState(State):
    X: jax.Array  # (capacity, n_var) observation buffer; empty slots hold zeros
    F: jax.Array  # (capacity, n_obj) objectives; +inf in empty slots
    violation: jax.Array  # (capacity,) total violation; inf in empty slots and non-finite rows
    filled: jax.Array  # (capacity,) bool, slot holds an observation
    params: GPParams  # fitted log hyperparameters of the last proposal
    design: jax.Array  # (n_design, n_var) initial Latin-hypercube design
    offspring: jax.Array  # (q, n_var) the points handed out by the last ask

    renamed = {**State.renamed, "n_told": "generation", "pending": "offspring"}


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def latin_hypercube(key: jax.Array, n: int, d: int, dtype=None) -> jax.Array:
    """`n` points of a random Latin hypercube in `[0, 1]^d` (McKay et al. 1979). One
    compiled program: run op by op, the vmapped permutations compile a dozen small ones
    (0.9 s at a process's first design)."""
    dtype = dtype or jnp.result_type(float)
    kp, ku = jax.random.split(key)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(kp, d)).T
    return (perms + flat_draw(jax.random.uniform, ku, (n, d), dtype)) / n


def in_design(design: jax.Array, round_: Any, n_modelled: Any, q: int) -> Any:
    """Whether ask `round_` of a Bayesian optimiser hands out design points: while the
    initial `design` `(n_design, n_var)` lasts, or while fewer than 2 observations can be
    modelled (`n_modelled`). JAX or Python values alike."""
    return (round_ < design.shape[0] // q) | (n_modelled < 2)


def design_points(
    design: jax.Array, round_: jax.Array, q: int, key: jax.Array, lb: np.ndarray,
    ub: np.ndarray,
) -> jax.Array:
    """Batch `round_` of the initial `design` `(n_design, n_var)`, `(q, n_var)`; past its
    end, uniform random points drawn with `key`."""
    n_rounds = design.shape[0] // q
    start = jnp.minimum(round_, n_rounds - 1) * q
    X = jax.lax.dynamic_slice_in_dim(design, start, q)
    U = flat_draw(jax.random.uniform, key, X.shape, X.dtype)
    return jnp.where(round_ < n_rounds, X, from_unit(U, lb, ub))


def design_or_propose(
    design: jax.Array,
    round_: jax.Array,
    n_modelled: jax.Array,
    q: int,
    key: jax.Array,
    lb: np.ndarray,
    ub: np.ndarray,
    params: Any,
    propose: Callable[[], tuple[jax.Array, Any]],
) -> tuple[jax.Array, Any]:
    """The next `q` points `(q, n_var)` and GP parameters of a Bayesian optimiser: the
    `design_points` and `params` unchanged while `in_design`, otherwise `propose()`."""
    return jax.lax.cond(
        in_design(design, round_, n_modelled, q),
        lambda: (design_points(design, round_, q, key, lb, ub), params),
        propose,
    )


@settings_class(renamed={"n_restarts": "fit_restarts"})
class BayesianOptimizer(Algorithm):
    """Settings every Bayesian optimiser has.

    Args:
        q: points per ask (and per `evo.run` generation); `pop_size` is the same number.
        n_init: size of the initial Latin-hypercube design, rounded up to a multiple of `q`.
        capacity: size of the observation buffer; it must hold the initial design.
        kernel: "matern52" or "rbf", ARD length scales on unit-cube inputs.
        fit_method: how the GP hyperparameters are fitted: "adam" (`fit_steps` Adam steps
            at learning rate `fit_lr`, projected onto the hyperparameter box) or "lbfgs"
            (`fit_steps` L-BFGS iterations with a backtracking line search; `fit_lr`
            unused; 20 iterations reach the optimum Adam approaches in 200 steps).
        fit_restarts, fit_steps, fit_lr: hyperparameter fit (restarts batched; the
            previous fit is always one start, the others are drawn at random).
        n_candidates: random candidates scored per proposal.
        lb, ub, n_obj: box bounds `(n_var,)` and number of objectives.

    The fit maximises the log marginal likelihood plus independent normal log priors on
    the log hyperparameters (`evo.bo.gp.log_prior`), with inputs in the unit cube and
    outputs standardised: log length scale N(log 0.5, 1.5^2) per dimension, log signal
    variance N(0, 1.5^2), log noise variance N(log 1e-3, 3^2); the values are kept in the
    box length scale [0.01, 100], signal variance [0.01, 100], noise [1e-6, 1].
    """

    q: int = 1
    n_init: int | None = 10
    capacity: int = 100
    kernel: str = "matern52"
    fit_method: str = "adam"
    fit_restarts: int = 4
    fit_steps: int = 50
    fit_lr: float = 0.05
    n_candidates: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        for setting in ("q", "n_init", "capacity", "fit_restarts", "n_candidates"):
            check_int(f"{name}: {setting}", getattr(self, setting))
        check_int(f"{name}: fit_steps", self.fit_steps, 0)
        check_float(f"{name}: fit_lr", self.fit_lr, 0.0, open_low=True)
        check_choice(f"{name}: kernel", self.kernel, KERNELS)
        check_choice(f"{name}: fit_method", self.fit_method, FIT_METHODS)
        if self.capacity < self.n_design:
            raise ValueError(
                f"{name}: capacity={self.capacity} must hold the initial design of "
                f"{self.n_design} points"
            )

    @classmethod
    def for_problem(cls, problem: Any, **settings: Any) -> BayesianOptimizer:
        """As `Algorithm.for_problem`, with `pop_size` taken as the batch size `q`."""
        if "pop_size" in settings:
            settings["q"] = settings.pop("pop_size")
        return super().for_problem(problem, **settings)

    @property
    def pop_size(self) -> int:
        """Points per ask: `q`."""
        return self.q

    @property
    def n_design(self) -> int:
        return -(-self.n_init // self.q) * self.q

    def initial_state(self, key: jax.Array) -> dict[str, Any]:
        """The shared fields of a fresh state but `params`: an empty buffer and a new
        design drawn with `key`."""
        dtype = jnp.result_type(float)
        c = self.capacity
        design = from_unit(
            latin_hypercube(key, self.n_design, self.n_var, dtype), self.lb, self.ub
        )
        return {
            "generation": jnp.int32(0),
            "X": jnp.zeros((c, self.n_var), dtype),
            "F": jnp.full((c, self.n_obj), jnp.inf, dtype),
            "violation": jnp.full((c,), jnp.inf, dtype),
            "filled": jnp.zeros((c,), bool),
            "design": design,
            "offspring": design[: self.q],
        }

    def stored(
        self, state: BOState, slots: jax.Array, F: jax.Array, violation: jax.Array
    ) -> dict[str, jax.Array]:
        """The buffer fields after writing the last ask's points, their objectives `F`
        `(q, n_obj)` and violations `(q,)` into `slots` `(q,)`."""
        return {
            "X": state.X.at[slots].set(state.offspring.astype(state.X.dtype)),
            "F": state.F.at[slots].set(F),
            "violation": state.violation.at[slots].set(violation),
            "filled": state.filled.at[slots].set(True),
        }

    def population(self, state: BOState) -> Population:
        """The observations so far (filled slots)."""
        return Population(state.X, state.F, state.violation, state.filled)
