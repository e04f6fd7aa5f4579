"""The problem interface shared by every family in `evo.problems`."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Problem:
    """A batched minimisation problem over a box.

    Subclasses are frozen dataclasses whose fields are static configuration (ints and
    floats), so a problem is hashable and can be closed over by jitted code.

    Attributes:
        n_var: number of decision variables.
        n_obj: number of objectives.
    """

    n_var: int
    n_obj: int

    @property
    def lb(self) -> np.ndarray:
        """Lower bounds, shape `(n_var,)`."""
        return np.zeros(self.n_var)

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds, shape `(n_var,)`."""
        return np.ones(self.n_var)

    @property
    def n_constr(self) -> int:
        """Number of constraint values `evaluate_constrained` returns; 0 when unconstrained."""
        return 0

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objective values `(n, n_obj)` of a batch of decision vectors `X` `(n, n_var)`."""
        return self.evaluate_constrained(X)[0]

    def evaluate_constrained(self, X: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Objectives `(n, n_obj)` and constraint values `G` `(n, n_constr)` of `X` `(n, n_var)`.

        A row is feasible when all its constraint values are <= 0. A problem overrides
        `evaluate` (unconstrained) or this method (constrained), not both.
        """
        F = self.evaluate(X)
        return F, jnp.zeros((*F.shape[:-1], 0), F.dtype)

    def init_state(self, key: jax.Array) -> Any:
        """The state a stateful problem starts from; None (a stateless problem) by default.

        A stateful problem's objectives depend on more than `X`: a random key (noisy
        evaluations, fresh simulator episodes) or statistics gathered across generations.
        `evo.run` starts the state here and carries it from one generation to the next.
        """
        return None

    def evaluate_with_state(self, state: Any, X: jax.Array) -> tuple[jax.Array, Any]:
        """Objectives `(n, n_obj)` of `X` `(n, n_var)` given `state`, and the next state.

        Pure and jittable; the default ignores the state. A stateful problem overrides this
        and `init_state`; stateful problems are unconstrained.
        """
        return self.evaluate(X), state

    def pareto_front(self, n_points: int) -> np.ndarray | None:
        """About `n_points` points `(k, n_obj)` on the true Pareto front, or None if unknown.

        Deterministic: the same `n_points` gives the same array.
        """
        return None


def check_positive_int(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
