"""The ZDT bi-objective benchmarks (Zitzler, Deb & Thiele, 2000).

Every ZDT problem has the form `f1 = f1(x_1)`, `f2 = g(x_2..x_n) * h(f1, g)`, where
`g >= 1` with equality exactly on the Pareto-optimal set; the front is `f2 = h(f1, 1)`
over the non-dominated part of the `f1` range. ZDT5 (binary variables) is not included.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems._common import as_batch, nondominated_1d
from evo.problems.base import Problem

# Minimum over x_1 in [0, 1] of ZDT6's f1 = 1 - exp(-4 x_1) sin^6(6 pi x_1).
_ZDT6_MIN_F1 = 0.2807753191

# The `h` shapes take the array module as `xp`: JAX for `evaluate`, NumPy (float64) for
# the front.


def _h_convex(f1: Any, g: Any, xp: ModuleType) -> Any:
    return 1.0 - xp.sqrt(f1 / g)


def _h_concave(f1: Any, g: Any, xp: ModuleType) -> Any:
    return 1.0 - (f1 / g) ** 2


def _h_disconnected(f1: Any, g: Any, xp: ModuleType) -> Any:
    return 1.0 - xp.sqrt(f1 / g) - f1 / g * xp.sin(10.0 * xp.pi * f1)


@settings_class(eq=True)
class _ZDT(Problem):
    """Shared structure of the ZDT family: bounds [0, 1], linear `g`, `f1 = x_1`."""

    n_var: int = 30
    n_obj: int = 2

    _h: ClassVar[Callable[[Any, Any, ModuleType], Any]]

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.n_obj != 2:
            raise ValueError(
                f"{name}: ZDT problems are bi-objective, n_obj must be 2, got {self.n_obj!r}"
            )
        check_int(f"{name}: n_var", self.n_var, 2)

    def _f1(self, x1: jax.Array) -> jax.Array:
        """First objective from the first variable, `(n,)` -> `(n,)`."""
        return x1

    def _g(self, rest: jax.Array) -> jax.Array:
        """Distance function of the remaining variables, `(n, n_var - 1)` -> `(n,)`."""
        return 1.0 + 9.0 * jnp.mean(rest, axis=-1)

    def _front_f1(self, n_points: int) -> np.ndarray:
        """First objective along the true front, `(n_points,)`."""
        return np.linspace(0.0, 1.0, n_points)

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objectives `(n, 2)` of decision vectors `X` `(n, n_var)`."""
        X = as_batch(X, self.n_var, type(self).__name__)
        f1 = self._f1(X[..., 0])
        g = self._g(X[..., 1:])
        return jnp.stack([f1, g * self._h(f1, g, jnp)], axis=-1)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """`n_points` points `(n_points, 2)` on the true front, evenly spread in `f1`."""
        check_int("n_points", n_points)
        f1 = self._front_f1(n_points)
        return np.stack([f1, self._h(f1, 1.0, np)], axis=-1)


@settings_class(eq=True)
class ZDT1(_ZDT):
    """Convex front `f2 = 1 - sqrt(f1)`."""

    _h = staticmethod(_h_convex)


@settings_class(eq=True)
class ZDT2(_ZDT):
    """Concave front `f2 = 1 - f1^2`."""

    _h = staticmethod(_h_concave)


@settings_class(eq=True)
class ZDT3(_ZDT):
    """Front made of five disconnected pieces of `f2 = 1 - sqrt(f1) - f1 sin(10 pi f1)`."""

    _h = staticmethod(_h_disconnected)

    def _front_f1(self, n_points: int) -> np.ndarray:
        return nondominated_1d(lambda f1: _h_disconnected(f1, 1.0, np), n_points)


@settings_class(eq=True)
class ZDT4(_ZDT):
    """ZDT1's front behind a Rastrigin-like `g` with many local fronts.

    `x_1` lies in [0, 1], the other variables in [-5, 5].
    """

    n_var: int = 10

    _h = staticmethod(_h_convex)

    @property
    def lb(self) -> np.ndarray:
        """Lower bounds, shape `(n_var,)`."""
        return np.concatenate([[0.0], np.full(self.n_var - 1, -5.0)])

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds, shape `(n_var,)`."""
        return np.concatenate([[1.0], np.full(self.n_var - 1, 5.0)])

    def _g(self, rest: jax.Array) -> jax.Array:
        return 1.0 + jnp.sum(rest**2 + 10.0 * (1.0 - jnp.cos(4.0 * jnp.pi * rest)), axis=-1)


@settings_class(eq=True)
class ZDT6(_ZDT):
    """Concave front with a non-uniform mapping `x_1 -> f1`; `f1` spans [0.2808, 1]."""

    n_var: int = 10

    _h = staticmethod(_h_concave)

    def _f1(self, x1: jax.Array) -> jax.Array:
        return 1.0 - jnp.exp(-4.0 * x1) * jnp.sin(6.0 * jnp.pi * x1) ** 6

    def _g(self, rest: jax.Array) -> jax.Array:
        return 1.0 + 9.0 * jnp.mean(rest, axis=-1) ** 0.25

    def _front_f1(self, n_points: int) -> np.ndarray:
        return np.linspace(_ZDT6_MIN_F1, 1.0, n_points)
