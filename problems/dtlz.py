"""The DTLZ scalable benchmarks (Deb, Thiele, Laumanns & Zitzler, 2005).

A decision vector splits into `n_obj - 1` position variables, which place a point on the
shape of the front, and `k = n_var - n_obj + 1` distance variables, which enter only
through a function `g` that pushes the point away from the front. The Pareto-optimal set
is where `g` is minimal (0, or 1 for DTLZ7).
"""

from __future__ import annotations

from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems._common import (
    as_batch,
    dtlz7_bump,
    nested_products,
    nondominated_1d,
    quarter_turn,
)
from evo.problems.base import Problem
from evo.ref_dirs import reference_directions


def _g_multimodal(dist: jax.Array) -> jax.Array:
    """Rastrigin-like `g` of DTLZ1 and DTLZ3, `(n, k)` -> `(n,)`; zero at `dist = 0.5`."""
    shifted = dist - 0.5
    terms = shifted**2 - jnp.cos(20.0 * jnp.pi * shifted)
    return 100.0 * (dist.shape[-1] + jnp.sum(terms, axis=-1))


def _g_sphere(dist: jax.Array) -> jax.Array:
    """Sphere `g` of DTLZ2, DTLZ4 and DTLZ5, `(n, k)` -> `(n,)`; zero at `dist = 0.5`."""
    return jnp.sum((dist - 0.5) ** 2, axis=-1)


def _g_power(dist: jax.Array) -> jax.Array:
    """DTLZ6's `g`, `(n, k)` -> `(n,)`; zero at `dist = 0`."""
    return jnp.sum(dist**0.1, axis=-1)


def _g_linear(dist: jax.Array) -> jax.Array:
    """DTLZ7's `g`, `(n, k)` -> `(n,)`; one at `dist = 0`."""
    return 1.0 + 9.0 * jnp.mean(dist, axis=-1)


@settings_class(eq=True)
class _DTLZ(Problem):
    """Shared configuration, validation and position/distance split of the DTLZ family.

    `n_var` defaults to `n_obj + k - 1` with the published `k` of each problem.
    """

    n_var: int | None = None
    n_obj: int = 3

    _default_k: ClassVar[int] = 10
    _g: ClassVar[Callable[[jax.Array], jax.Array]]

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(f"{name}: n_obj", self.n_obj, 2)
        if self.n_var is None:
            object.__setattr__(self, "n_var", self.n_obj + self._default_k - 1)
        check_int("n_var", self.n_var)
        if self.n_var < self.n_obj:
            raise ValueError(
                f"{name} needs n_var >= n_obj (n_obj - 1 position variables and at least one "
                f"distance variable), got n_var={self.n_var}, n_obj={self.n_obj}"
            )

    def _objectives(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        """Objectives `(n, n_obj)` from positions `(n, n_obj - 1)` and `g` `(n,)`."""
        raise NotImplementedError

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objectives `(n, n_obj)` of decision vectors `X` `(n, n_var)`."""
        X = as_batch(X, self.n_var, type(self).__name__)
        pos, dist = X[..., : self.n_obj - 1], X[..., self.n_obj - 1 :]
        return self._objectives(pos, self._g(dist))


@settings_class(eq=True)
class DTLZ1(_DTLZ):
    """Linear front `sum(f) = 0.5` behind a multimodal `g`."""

    _default_k = 5
    _g = staticmethod(_g_multimodal)

    def _objectives(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        return 0.5 * (1.0 + g)[..., None] * nested_products(pos, 1.0 - pos, jnp)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the simplex `sum(f) = 0.5`."""
        return 0.5 * reference_directions(self.n_obj, n_points)


@settings_class(eq=True)
class _SphericalDTLZ(_DTLZ):
    """DTLZ2-6: `f = (1 + g) * (point on the unit sphere given by angles)`."""

    def _angles(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        """Angles as fractions of pi/2, `(n, n_obj - 1)`."""
        return pos

    def _objectives(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        cos, sin = quarter_turn(self._angles(pos, g), jnp)
        return (1.0 + g)[..., None] * nested_products(cos, sin, jnp)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the positive octant of the unit sphere."""
        w = reference_directions(self.n_obj, n_points)
        return w / np.linalg.norm(w, axis=1, keepdims=True)


@settings_class(eq=True)
class DTLZ2(_SphericalDTLZ):
    """Spherical front `|f| = 1`."""

    _g = staticmethod(_g_sphere)


@settings_class(eq=True)
class DTLZ3(_SphericalDTLZ):
    """Spherical front behind DTLZ1's multimodal `g`."""

    _g = staticmethod(_g_multimodal)


@settings_class(eq=True)
class DTLZ4(_SphericalDTLZ):
    """Spherical front with positions raised to `alpha`, biasing density towards the axes."""

    alpha: float = 100.0

    _g = staticmethod(_g_sphere)

    def _angles(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        return pos**self.alpha


@settings_class(eq=True)
class _DegenerateDTLZ(_SphericalDTLZ):
    """DTLZ5-6: all angles but the first tend to pi/4 as `g -> 0`, so the front is a curve."""

    def _angles(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        g = g[..., None]
        squeezed = (1.0 + 2.0 * g * pos[..., 1:]) / (2.0 * (1.0 + g))
        return jnp.concatenate([pos[..., :1], squeezed], axis=-1)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """`n_points` points `(n_points, n_obj)` on the published degenerate front.

        The quarter circle of the unit sphere with the first angle in [0, pi/2] and every
        other angle pi/4. For `n_obj >= 4` this follows the published definition, although
        points with `g > 0` off this curve are known to be non-dominated too
        (Huband et al., 2006).
        """
        check_int("n_points", n_points)
        theta = np.full((n_points, self.n_obj - 1), 0.25 * np.pi)
        theta[:, 0] = np.linspace(0.0, 0.5 * np.pi, n_points)
        return nested_products(np.cos(theta), np.sin(theta), np)


@settings_class(eq=True)
class DTLZ5(_DegenerateDTLZ):
    """Degenerate curved front with DTLZ2's `g`."""

    _g = staticmethod(_g_sphere)


@settings_class(eq=True)
class DTLZ6(_DegenerateDTLZ):
    """Degenerate curved front with the harder `g = sum(x^0.1)`."""

    _g = staticmethod(_g_power)


@settings_class(eq=True)
class DTLZ7(_DTLZ):
    """Disconnected front: `2^(n_obj - 1)` pieces of `f_m = 2 m - sum(f_i (1 + sin(3 pi f_i)))`."""

    _default_k = 20
    _g = staticmethod(_g_linear)

    def _objectives(self, pos: jax.Array, g: jax.Array) -> jax.Array:
        h = self.n_obj - jnp.sum(dtlz7_bump(pos, jnp), axis=-1) / (1.0 + g)
        return jnp.concatenate([pos, ((1.0 + g) * h)[..., None]], axis=-1)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the non-dominated pieces of the front.

        The last objective is `2 n_obj - sum_i bump(f_i)` over the others, so a point is
        dominated exactly when one `f_i` could decrease without lowering `bump(f_i)`: the
        front is a product of the same 1-D non-dominated set in every leading objective,
        sampled here with `round(n_points^(1 / (n_obj - 1)))` values (at least 2) each.
        """
        check_int("n_points", n_points)
        per_axis = max(2, round(n_points ** (1.0 / (self.n_obj - 1))))
        values = nondominated_1d(lambda f: -dtlz7_bump(f, np), per_axis)
        axes = np.meshgrid(*[values] * (self.n_obj - 1), indexing="ij")
        leading = np.stack([a.ravel() for a in axes], axis=-1)
        last = 2.0 * self.n_obj - np.sum(dtlz7_bump(leading, np), axis=-1)
        return np.concatenate([leading, last[:, None]], axis=-1)
