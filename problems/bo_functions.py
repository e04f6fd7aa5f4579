"""Classic low-dimensional Bayesian-optimisation test functions (minimisation, `F` `(n, 1)`).

Formulas, domains and optima from Surjanovic & Bingham, "Virtual Library of Simulation
Experiments" (sfu.ca/~ssurjano): Branin (Branin-Hoo, Dixon & Szego 1978 constants) and
Hartmann 6-D. `pareto_front` returns `[[optimum_value]]` so `evo.run` records `min f - f*`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems._common import as_batch
from evo.problems.base import Problem


@settings_class(eq=True)
class _Fixed(Problem):
    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.n_obj != 1:
            raise ValueError(
                f"{name} is single-objective, n_obj must be 1, got {self.n_obj!r}"
            )
        if self.n_var != self._dim:
            raise ValueError(f"{name} has n_var = {self._dim}, got {self.n_var!r}")

    def evaluate(self, X: jax.Array) -> jax.Array:
        X = as_batch(X, self.n_var, type(self).__name__)
        if not jnp.issubdtype(X.dtype, jnp.floating):
            X = X.astype(jnp.result_type(float))
        return self._f(X)[..., None]

    def pareto_front(self, n_points: int) -> np.ndarray:
        check_int("n_points", n_points)
        return np.array([[self.optimum_value]])


@settings_class(eq=True)
class Branin(_Fixed):
    """Branin-Hoo on [-5, 10] x [0, 15]:
    `f = (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos x1 + s` with `b = 5.1 / (4 pi^2)`,
    `c = 5 / pi`, `r = 6`, `s = 10`, `t = 1 / (8 pi)`. Three global minima, f* = 0.397887.
    """

    n_var: int = 2
    n_obj: int = 1
    _dim = 2

    @property
    def lb(self) -> np.ndarray:
        return np.array([-5.0, 0.0])

    @property
    def ub(self) -> np.ndarray:
        return np.array([10.0, 15.0])

    @property
    def optimum_x(self) -> np.ndarray:
        """The three global minimisers `(3, 2)`."""
        return np.array([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]])

    @property
    def optimum_value(self) -> float:
        return 5.0 / (4.0 * math.pi)  # 0.39788735...

    def _f(self, X: jax.Array) -> jax.Array:
        x1, x2 = X[..., 0], X[..., 1]
        b = 5.1 / (4.0 * math.pi**2)
        c = 5.0 / math.pi
        t = 1.0 / (8.0 * math.pi)
        return (
            (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * jnp.cos(x1) + 10.0
        )


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


@settings_class(eq=True)
class Hartmann6(_Fixed):
    """Hartmann 6-D on [0, 1]^6: `f = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)`;
    f* = -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)."""

    n_var: int = 6
    n_obj: int = 1
    _dim = 6

    @property
    def optimum_x(self) -> np.ndarray:
        return np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])

    @property
    def optimum_value(self) -> float:
        return -3.32236801141551

    def _f(self, X: jax.Array) -> jax.Array:
        A = jnp.asarray(_H6_A, X.dtype)
        P = jnp.asarray(_H6_P, X.dtype)
        alpha = jnp.asarray(_H6_ALPHA, X.dtype)
        inner = jnp.sum(A * (X[..., None, :] - P) ** 2, axis=-1)
        return -jnp.sum(alpha * jnp.exp(-inner), axis=-1)
