"""The LSMOP large-scale benchmarks (Cheng, Jin, Olhofer & Sendhoff, 2017).

Formulas follow "Test problems for large-scale multiobjective and many-objective
optimization", IEEE Trans. Cybernetics 47(12), 2017, with the details (group sizes,
Rosenbrock's optimum at 1, which basic function serves which group) as in the authors'
reference code and PlatEMO. The first `n_obj - 1` variables in [0, 1] place a point on the
shape of the front. Every other variable `x_i` (1-based `i`) in [0, 10] is first linked to
`x_1`: `x^s_i = L_i x_i - 10 x_1`, with `L_i = 1 + i / n` (LSMOP1-4) or
`1 + cos(pi i / (2 n))` (LSMOP5-9). The linked variables are cut into `n_obj` consecutive
groups of chaotically varying size, each into `nk` equal subcomponents; group `j` (1-based)
contributes `G_j`, the mean over its subcomponents of a basic function divided by the
subcomponent size, with one basic function for odd `j` and another for even `j`. Variables
left over by the rounding down of the group sizes do not affect the objectives.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems._common import as_batch, dtlz7_bump, nested_products, quarter_turn
from evo.problems.base import Problem
from evo.problems.dtlz import DTLZ7
from evo.ref_dirs import reference_directions

# Basic single-objective functions, `(..., d)` -> `(...)`, each zero at the origin except
# Rosenbrock's, which is zero at (1, ..., 1).


def _sphere(x: jax.Array) -> jax.Array:
    return jnp.sum(x**2, axis=-1)


def _schwefel(x: jax.Array) -> jax.Array:
    """Schwefel's problem 2.21: the largest magnitude."""
    return jnp.max(jnp.abs(x), axis=-1)


def _rosenbrock(x: jax.Array) -> jax.Array:
    head, tail = x[..., :-1], x[..., 1:]
    return jnp.sum(100.0 * (head**2 - tail) ** 2 + (head - 1.0) ** 2, axis=-1)


def _rastrigin(x: jax.Array) -> jax.Array:
    return jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x) + 10.0, axis=-1)


def _griewank(x: jax.Array) -> jax.Array:
    scale = jnp.sqrt(jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype))
    return jnp.sum(x**2, axis=-1) / 4000.0 - jnp.prod(jnp.cos(x / scale), axis=-1) + 1.0


def _ackley(x: jax.Array) -> jax.Array:
    root_mean_square = jnp.sqrt(jnp.mean(x**2, axis=-1))
    return (
        20.0
        - 20.0 * jnp.exp(-0.2 * root_mean_square)
        - jnp.exp(jnp.mean(jnp.cos(2.0 * jnp.pi * x), axis=-1))
        + jnp.e
    )


def _linear_linkage(position: np.ndarray) -> np.ndarray:
    """`L_i` of LSMOP1-4 from `i / n`."""
    return 1.0 + position


def _nonlinear_linkage(position: np.ndarray) -> np.ndarray:
    """`L_i` of LSMOP5-9 from `i / n`."""
    return 1.0 + np.cos(0.5 * np.pi * position)


def _chaos(n_obj: int) -> np.ndarray:
    """`(n_obj,)` logistic-map values `c_1 = 3.8 * 0.1 * 0.9`, `c_j = 3.8 c_{j-1} (1 - c_{j-1})`."""
    c = [3.8 * 0.1 * (1.0 - 0.1)]
    for _ in range(n_obj - 1):
        c.append(3.8 * c[-1] * (1.0 - c[-1]))
    return np.array(c)


@settings_class(eq=True)
class _LSMOP(Problem):
    """Shared configuration, variable grouping and `G` of the LSMOP family.

    `n_var` defaults to `100 n_obj`; `nk` is the number of subcomponents per group.

    `G = 0` needs `x^s = 0` in every group, except `x^s = 1` in Rosenbrock groups
    (LSMOP3, 6, 7): `x_i = 10 x_1 / L_i`, or `(10 x_1 + 1) / L_i`. The latter leaves the box
    `x_i <= 10` when `x_1 > L_i - 0.1`, which happens for the `L_i` near 1 of a Rosenbrock
    group placed early (linear linkage) or late (nonlinear linkage) in the vector; with the
    default `n_var` this concerns LSMOP3 for `n_obj >= 7`, LSMOP6 for odd and LSMOP7 for
    even `n_obj`. There, for `x_1` close to 1, the attainable front lies slightly beyond
    the published one that `pareto_front` returns.
    """

    n_var: int | None = None
    n_obj: int = 3
    nk: int = 5

    _odd: ClassVar[Callable[[jax.Array], jax.Array]]
    _even: ClassVar[Callable[[jax.Array], jax.Array]]
    _linkage: ClassVar[Callable[[np.ndarray], np.ndarray]] = staticmethod(_nonlinear_linkage)

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(f"{name}: n_obj", self.n_obj, 2)
        check_int("nk", self.nk)
        if self.n_var is None:
            object.__setattr__(self, "n_var", 100 * self.n_obj)
        check_int("n_var", self.n_var)
        c = _chaos(self.n_obj)
        min_n_var = self.n_obj - 1 + math.ceil(self.nk * c.sum() / c.min())
        if self.n_var < min_n_var:
            raise ValueError(
                f"{name} with n_obj={self.n_obj} and nk={self.nk} needs n_var >= {min_n_var}, "
                f"so that every variable group has at least one variable per subcomponent; "
                f"got n_var={self.n_var}"
            )

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds: 1 for the first `n_obj - 1` variables, 10 for the others, `(n_var,)`."""
        return np.concatenate([np.ones(self.n_obj - 1), np.full(self.n_var - self.n_obj + 1, 10.0)])

    @property
    def subcomponent_sizes(self) -> tuple[int, ...]:
        """Variables per subcomponent in each of the `n_obj` groups.

        `floor(c_j / sum(c) * (n_var - n_obj + 1) / nk)` with the chaotic `c` of `_chaos`.
        """
        c = _chaos(self.n_obj)
        sizes = np.floor(c / c.sum() * (self.n_var - self.n_obj + 1) / self.nk)
        return tuple(int(s) for s in sizes)

    def _group_values(self, X: jax.Array) -> jax.Array:
        """`G` `(n, n_obj)` of decision vectors `X` `(n, n_var)`; zero on the Pareto set."""
        m = self.n_obj
        link = self._linkage(np.arange(m, self.n_var + 1) / self.n_var)
        linked = jnp.asarray(link, X.dtype) * X[..., m - 1 :] - 10.0 * X[..., :1]
        G, start = [], 0
        for j, size in enumerate(self.subcomponent_sizes):
            block = linked[..., start : start + self.nk * size]
            block = block.reshape(*block.shape[:-1], self.nk, size)
            basic = self._odd if j % 2 == 0 else self._even
            G.append(jnp.mean(basic(block), axis=-1) / size)
            start += self.nk * size
        return jnp.stack(G, axis=-1)

    def _objectives(self, pos: jax.Array, G: jax.Array) -> jax.Array:
        """Objectives `(n, n_obj)` from positions `(n, n_obj - 1)` and `G` `(n, n_obj)`."""
        raise NotImplementedError

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objectives `(n, n_obj)` of decision vectors `X` `(n, n_var)`."""
        X = as_batch(X, self.n_var, type(self).__name__)
        X = X.astype(jnp.promote_types(X.dtype, jnp.float32))
        return self._objectives(X[..., : self.n_obj - 1], self._group_values(X))


@settings_class(eq=True)
class _LinearLSMOP(_LSMOP):
    """LSMOP1-4: `f_j = (1 + G_j) h_j` with DTLZ1's linear shape, front `sum(f) = 1`."""

    _linkage = staticmethod(_linear_linkage)

    def _objectives(self, pos: jax.Array, G: jax.Array) -> jax.Array:
        return (1.0 + G) * nested_products(pos, 1.0 - pos, jnp)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the simplex `sum(f) = 1`."""
        return reference_directions(self.n_obj, n_points)


@settings_class(eq=True)
class _SphericalLSMOP(_LSMOP):
    """LSMOP5-8: `f_j = (1 + G_j + G_{j+1}) h_j` (`G_{M+1} = 0`), spherical front `|f| = 1`."""

    def _objectives(self, pos: jax.Array, G: jax.Array) -> jax.Array:
        shifted = jnp.concatenate([G[..., 1:], jnp.zeros_like(G[..., :1])], axis=-1)
        cos, sin = quarter_turn(pos, jnp)
        return (1.0 + G + shifted) * nested_products(cos, sin, jnp)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the positive octant of the unit sphere."""
        w = reference_directions(self.n_obj, n_points)
        return w / np.linalg.norm(w, axis=1, keepdims=True)


@settings_class(eq=True)
class LSMOP1(_LinearLSMOP):
    """Sphere in every group; linear front."""

    _odd = staticmethod(_sphere)
    _even = staticmethod(_sphere)


@settings_class(eq=True)
class LSMOP2(_LinearLSMOP):
    """Griewank (odd groups) and Schwefel 2.21 (even groups); linear front."""

    _odd = staticmethod(_griewank)
    _even = staticmethod(_schwefel)


@settings_class(eq=True)
class LSMOP3(_LinearLSMOP):
    """Rastrigin (odd groups) and Rosenbrock (even groups); linear front."""

    _odd = staticmethod(_rastrigin)
    _even = staticmethod(_rosenbrock)


@settings_class(eq=True)
class LSMOP4(_LinearLSMOP):
    """Ackley (odd groups) and Griewank (even groups); linear front."""

    _odd = staticmethod(_ackley)
    _even = staticmethod(_griewank)


@settings_class(eq=True)
class LSMOP5(_SphericalLSMOP):
    """Sphere in every group; spherical front."""

    _odd = staticmethod(_sphere)
    _even = staticmethod(_sphere)


@settings_class(eq=True)
class LSMOP6(_SphericalLSMOP):
    """Rosenbrock (odd groups) and Schwefel 2.21 (even groups); spherical front."""

    _odd = staticmethod(_rosenbrock)
    _even = staticmethod(_schwefel)


@settings_class(eq=True)
class LSMOP7(_SphericalLSMOP):
    """Ackley (odd groups) and Rosenbrock (even groups); spherical front."""

    _odd = staticmethod(_ackley)
    _even = staticmethod(_rosenbrock)


@settings_class(eq=True)
class LSMOP8(_SphericalLSMOP):
    """Griewank (odd groups) and Sphere (even groups); spherical front."""

    _odd = staticmethod(_griewank)
    _even = staticmethod(_sphere)


@settings_class(eq=True)
class LSMOP9(_LSMOP):
    """Sphere (odd groups) and Ackley (even groups); disconnected DTLZ7-like front.

    `f_j = x_j` for `j < M` and `f_M = (1 + g) (M - sum_j f_j (1 + sin(3 pi f_j)) / (1 + g))`
    with `g = 1 + sum(G)`.
    """

    _odd = staticmethod(_sphere)
    _even = staticmethod(_ackley)

    def _objectives(self, pos: jax.Array, G: jax.Array) -> jax.Array:
        g = 1.0 + jnp.sum(G, axis=-1)
        last = (1.0 + g) * self.n_obj - jnp.sum(dtlz7_bump(pos, jnp), axis=-1)
        return jnp.concatenate([pos, last[..., None]], axis=-1)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the non-dominated pieces of the front.

        At the optimum `g = 1`, exactly DTLZ7's front `f_M = 2 M - sum_j f_j (1 + sin(3 pi f_j))`.
        """
        return DTLZ7(n_obj=self.n_obj).pareto_front(n_points)
