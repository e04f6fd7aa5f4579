"""Single-objective test functions for any dimension (minimisation, `F` of shape `(n, 1)`).

Formulas, bounds and optima follow Surjanovic & Bingham, "Virtual Library of Simulation
Experiments" (sfu.ca/~ssurjano), except where a docstring says otherwise. Several functions
are written in an algebraically equal form that keeps float32 precise near the optimum
(`1 - cos t = 2 sin^2(t / 2)`, `e - exp(1 - s) = -e expm1(-s)`), so that values such as
1e-8 can be reached without enabling x64.

`pareto_front` returns the single optimal value `[[optimum_value]]`: the Pareto front of a
one-objective problem, so `evo.run` records the optimality gap `min f - f*` as `igd`.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_float, check_int, settings_class
from evo.problems._common import as_batch
from evo.problems.base import Problem

# Schwefel 2.26: argmax of x sin(sqrt(|x|)) on [-500, 500] and its value there.
_SCHWEFEL_X = 420.968746359982
_SCHWEFEL_C = 418.9828872724338

# Styblinski-Tang: the global minimiser per coordinate is the smallest root of
# d/dx (x^4 - 16 x^2 + 5 x) = 4 x^3 - 32 x + 5.
_STYBLINSKI_X = float(np.min(np.roots([4.0, 0.0, -32.0, 5.0]).real))


def _styblinski_term(x: np.ndarray | float) -> np.ndarray | float:
    return 0.5 * (x**4 - 16.0 * x**2 + 5.0 * x)


@settings_class(eq=True)
class SingleObjective(Problem):
    """Shared configuration of the single-objective functions: `n_obj = 1`, a cubic box.

    Subclasses set the box `[_lower, _upper]^n_var` and implement `_f` `(..., n_var) -> (...)`.
    """

    n_var: int = 10
    n_obj: int = 1

    _lower: ClassVar[float]
    _upper: ClassVar[float]
    _min_n_var: ClassVar[int] = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.n_obj != 1:
            raise ValueError(f"{name} is single-objective, n_obj must be 1, got {self.n_obj!r}")
        check_int(f"{name}: n_var", self.n_var, self._min_n_var)

    @property
    def lb(self) -> np.ndarray:
        """Lower bounds, shape `(n_var,)`."""
        return np.full(self.n_var, self._lower)

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds, shape `(n_var,)`."""
        return np.full(self.n_var, self._upper)

    @property
    def optimum_x(self) -> np.ndarray:
        """A global minimiser, shape `(n_var,)`."""
        return np.zeros(self.n_var)

    @property
    def optimum_value(self) -> float:
        """The global minimum of `f` over the box."""
        return 0.0

    def _f(self, X: jax.Array) -> jax.Array:
        raise NotImplementedError

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objective values `(n, 1)` of decision vectors `X` `(n, n_var)`."""
        X = as_batch(X, self.n_var, type(self).__name__)
        if not jnp.issubdtype(X.dtype, jnp.floating):
            X = X.astype(jnp.result_type(float))
        return self._f(X)[..., None]

    def pareto_front(self, n_points: int) -> np.ndarray:
        """The optimal value as a one-point front, `(1, 1)`."""
        check_int("n_points", n_points)
        return np.array([[self.optimum_value]])


def _ellipsoid_weights(n: int, condition: float, dtype) -> jax.Array:
    """Axis weights `condition^(i / (n - 1))` `(n,)`: a Hessian of condition `condition`."""
    exponents = np.arange(n) / max(n - 1, 1)
    return jnp.asarray(condition**exponents, dtype)


@functools.lru_cache(maxsize=32)
def _rotation(n: int, seed: int) -> np.ndarray:
    """A random orthogonal matrix `(n, n)`, Haar-distributed, fixed by `seed` (float64)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


@settings_class(eq=True)
class Sphere(SingleObjective):
    """`f = sum x_i^2` on [-5.12, 5.12]^n."""

    _lower = -5.12
    _upper = 5.12

    def _f(self, X: jax.Array) -> jax.Array:
        return jnp.sum(X**2, axis=-1)


@settings_class(eq=True)
class Ellipsoid(SingleObjective):
    """Separable ellipsoid `f = sum condition^((i-1)/(n-1)) x_i^2` on [-5, 5]^n.

    The default `condition = 1e6` is the ellipsoid of the CMA-ES literature (and BBOB f2).
    """

    condition: float = 1e6

    _lower = -5.0
    _upper = 5.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("condition", self.condition, 1.0, math.inf)
        if not math.isfinite(self.condition):
            raise ValueError(f"condition must be finite, got {self.condition!r}")

    def _f(self, X: jax.Array) -> jax.Array:
        return jnp.sum(_ellipsoid_weights(self.n_var, self.condition, X.dtype) * X**2, axis=-1)


@settings_class(eq=True)
class RotatedEllipsoid(Ellipsoid):
    """The ellipsoid in a rotated basis, `f(x) = ellipsoid(R x)`, on [-5, 5]^n.

    `R` `(n, n)` is a random orthogonal matrix drawn from `seed` (NumPy's default generator),
    the same for the same `(n_var, seed)`.
    """

    seed: int = 0

    @property
    def rotation(self) -> np.ndarray:
        """The rotation `R` `(n_var, n_var)`."""
        return _rotation(self.n_var, self.seed)

    def _f(self, X: jax.Array) -> jax.Array:
        return super()._f(X @ jnp.asarray(self.rotation.T, X.dtype))


@settings_class(eq=True)
class Rosenbrock(SingleObjective):
    """`f = sum_{i<n} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2` on [-5, 10]^n; minimum at ones."""

    _lower = -5.0
    _upper = 10.0
    _min_n_var = 2

    @property
    def optimum_x(self) -> np.ndarray:
        return np.ones(self.n_var)

    def _f(self, X: jax.Array) -> jax.Array:
        head, tail = X[..., :-1], X[..., 1:]
        return jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2, axis=-1)


@settings_class(eq=True)
class Rastrigin(SingleObjective):
    """`f = 10 n + sum x_i^2 - 10 cos(2 pi x_i)` on [-5.12, 5.12]^n."""

    _lower = -5.12
    _upper = 5.12

    def _f(self, X: jax.Array) -> jax.Array:
        return jnp.sum(X**2 + 20.0 * jnp.sin(jnp.pi * X) ** 2, axis=-1)


@settings_class(eq=True)
class Ackley(SingleObjective):
    """Ackley with `a = 20, b = 0.2, c = 2 pi` on [-32.768, 32.768]^n.

    `f = -a exp(-b sqrt(mean x^2)) - exp(mean cos(c x)) + a + e`.
    """

    _lower = -32.768
    _upper = 32.768

    def _f(self, X: jax.Array) -> jax.Array:
        radius = jnp.sqrt(jnp.mean(X**2, axis=-1))
        one_minus_mean_cos = jnp.mean(2.0 * jnp.sin(jnp.pi * X) ** 2, axis=-1)
        return -20.0 * jnp.expm1(-0.2 * radius) - jnp.e * jnp.expm1(-one_minus_mean_cos)


@settings_class(eq=True)
class Griewank(SingleObjective):
    """`f = 1 + sum x_i^2 / 4000 - prod cos(x_i / sqrt(i))` on [-600, 600]^n."""

    _lower = -600.0
    _upper = 600.0

    def _f(self, X: jax.Array) -> jax.Array:
        theta = X / jnp.sqrt(jnp.arange(1, self.n_var + 1, dtype=X.dtype))
        cos = jnp.cos(theta)
        # 1 - prod_k c_k = sum_k (1 - c_k) prod_{i<k} c_i, with 1 - c_k = 2 sin^2(theta_k / 2).
        prefix = jnp.cumprod(jnp.concatenate([jnp.ones_like(cos[..., :1]), cos[..., :-1]], -1), -1)
        one_minus_prod = jnp.sum(2.0 * jnp.sin(0.5 * theta) ** 2 * prefix, axis=-1)
        return jnp.sum(X**2, axis=-1) / 4000.0 + one_minus_prod


@settings_class(eq=True)
class Schwefel(SingleObjective):
    """Schwefel's problem 2.26 (Yao, Liu & Lin 1999, f8) shifted to a minimum near 0.

    `f = 418.9828872724338 n - sum x_i sin(sqrt(|x_i|))` on [-500, 500]^n; the minimiser
    is `x_i = 420.968746...`, far from the next-best local minima.
    """

    _lower = -500.0
    _upper = 500.0

    @property
    def optimum_x(self) -> np.ndarray:
        return np.full(self.n_var, _SCHWEFEL_X)

    @property
    def optimum_value(self) -> float:
        return float(
            self.n_var * (_SCHWEFEL_C - _SCHWEFEL_X * np.sin(np.sqrt(_SCHWEFEL_X)))
        )

    def _f(self, X: jax.Array) -> jax.Array:
        return _SCHWEFEL_C * self.n_var - jnp.sum(X * jnp.sin(jnp.sqrt(jnp.abs(X))), axis=-1)


@settings_class(eq=True)
class Levy(SingleObjective):
    """Levy on [-10, 10]^n; minimum 0 at ones.

    With `w = 1 + (x - 1) / 4`: `f = sin^2(pi w_1) + sum_{i<n} (w_i - 1)^2 (1 + 10 sin^2(pi w_i
    + 1)) + (w_n - 1)^2 (1 + sin^2(2 pi w_n))`.
    """

    _lower = -10.0
    _upper = 10.0

    @property
    def optimum_x(self) -> np.ndarray:
        return np.ones(self.n_var)

    def _f(self, X: jax.Array) -> jax.Array:
        w = 1.0 + (X - 1.0) / 4.0
        # sin^2(pi w) = sin^2(pi (w - 1)), which is exactly 0 at the optimum.
        first = jnp.sin(jnp.pi * (w[..., 0] - 1.0)) ** 2
        middle = (w[..., :-1] - 1.0) ** 2 * (1.0 + 10.0 * jnp.sin(jnp.pi * w[..., :-1] + 1.0) ** 2)
        last = (w[..., -1] - 1.0) ** 2 * (1.0 + jnp.sin(2.0 * jnp.pi * (w[..., -1] - 1.0)) ** 2)
        return first + jnp.sum(middle, axis=-1) + last


@settings_class(eq=True)
class StyblinskiTang(SingleObjective):
    """`f = sum (x_i^4 - 16 x_i^2 + 5 x_i) / 2` on [-5, 5]^n.

    The minimum `-39.16617 n` is at `x_i = -2.90353`.
    """

    _lower = -5.0
    _upper = 5.0

    @property
    def optimum_x(self) -> np.ndarray:
        return np.full(self.n_var, _STYBLINSKI_X)

    @property
    def optimum_value(self) -> float:
        return float(self.n_var * _styblinski_term(_STYBLINSKI_X))

    def _f(self, X: jax.Array) -> jax.Array:
        return jnp.sum(_styblinski_term(X), axis=-1)
