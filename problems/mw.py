"""The MW constrained multi-objective benchmarks MW1-MW14.

Ma & Wang (2019), "Evolutionary constrained multiobjective optimization: test suite
construction and performance comparisons", IEEE Transactions on Evolutionary Computation
23(6). Definitions, bounds and defaults follow pymoo's `MW1`...`MW14`, so values agree
with pymoo to rounding.

Every problem has one of three distance functions `g >= 1` (equal to 1 on the
Pareto-optimal set) of the variables `x_{m-1}..x_{n-1}`, an objective shape in the
position variables (`x_0` for the bi-objective problems), and constraints that depend on
the objective vector `F` alone; `constraint_values(F)` exposes them. Constraint values
follow pymoo's sign convention: a row is feasible when all its values are <= 0.

Bi-objective: MW1-MW3, MW5-MW7 and MW9-MW13. Scalable in `n_obj`: MW4, MW8 and MW14
(`n_var` defaults to `n_obj + 12`). Bounds are [0, 1] except MW6 ([0, 1.1]), MW11
([0, sqrt(2)]), MW13 and MW14 ([0, 1.5]).

`pareto_front` is provided where it can be computed offline: MW1-MW4, MW6, MW8 and MW12.
For MW5, MW7, MW9, MW10, MW11, MW13 and MW14 pymoo only ships downloaded data files (or
no front), so those return None.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems._common import as_batch, nested_products
from evo.problems.base import Problem
from evo.ref_dirs import reference_directions

_SQRT2 = float(np.sqrt(2.0))

# --- distance functions `g`: X `(n, n_var)` and n_obj -> `(n,)`, minimum 1 ------------


def _offsets(X: jax.Array, n_obj: int, scale: float) -> jax.Array:
    """`i * scale` for the distance-variable indices `i = n_obj - 1 .. n_var - 1`."""
    return jnp.asarray(np.arange(n_obj - 1, X.shape[-1]) * scale, X.dtype)


def _g_bumps(X: jax.Array, n_obj: int) -> jax.Array:
    """The paper's g1: inverted Gaussian wells in `x_i^(n - m)`, optimum shifted per index."""
    n = X.shape[-1]
    z = X[..., n_obj - 1 :] ** (n - n_obj) - 0.5 - _offsets(X, n_obj, 0.5 / n)
    return 1.0 + jnp.sum(1.0 - jnp.exp(-10.0 * z**2), axis=-1)


def _g_multimodal(X: jax.Array, n_obj: int) -> jax.Array:
    """The paper's g2: a cosine (Rastrigin-like) landscape on top of g1-style wells."""
    n = X.shape[-1]
    z = 1.0 - jnp.exp(-10.0 * (X[..., n_obj - 1 :] - _offsets(X, n_obj, 1.0 / n)) ** 2)
    terms = 0.1 / n * z**2 + 1.5 - 1.5 * jnp.cos(2.0 * jnp.pi * z)
    return 1.0 + jnp.sum(terms, axis=-1)


def _g_linked(X: jax.Array, n_obj: int) -> jax.Array:
    """The paper's g3: each distance variable is linked to its predecessor (optimum on
    `x_i = 1 - (x_{i-1} - 0.5)^2`)."""
    link = X[..., n_obj - 1 :] + (X[..., n_obj - 2 : -1] - 0.5) ** 2 - 1.0
    return 1.0 + jnp.sum(2.0 * link**2, axis=-1)


# --- constraint building blocks, all taking the array module `xp` (jnp or np) ----------


def _ripple_cut(total: Any, along: Any, offset: float, amp: float, freq: float, power: int,
                xp: ModuleType) -> Any:
    """`total - offset - amp * sin(freq * pi * along)^power`: a linear cut with a ripple."""
    return total - offset - amp * xp.sin(freq * xp.pi * along) ** power


def _diagonal(F: Any) -> tuple[Any, Any]:
    """`f0 + f1` and the signed distance `sqrt(2) (f1 - f0)` along the anti-diagonal."""
    return F[..., 0] + F[..., 1], _SQRT2 * (F[..., 1] - F[..., 0])


def _polar(F: Any, xp: ModuleType) -> tuple[Any, Any]:
    """Squared norm and angle from the f0 axis of bi-objective `F`."""
    return F[..., 0] ** 2 + F[..., 1] ** 2, xp.arctan2(F[..., 1], F[..., 0])


def _inside_band(gap_a: Any, gap_b: Any) -> Any:
    """Feasible (<= 0) where `f1` lies between two curves; `gap = curve(f0) - f1`."""
    return gap_a * gap_b


def _outside_band(gap_a: Any, gap_b: Any) -> Any:
    """Feasible (<= 0) where `f1` lies on the same side of two curves."""
    return -gap_a * gap_b


def _parabola_gap(F: Any, top: float, curvature: float, shift: float = 0.0) -> Any:
    """`top - curvature * (f0 + shift)^2 - f1`."""
    return top - curvature * (F[..., 0] + shift) ** 2 - F[..., 1]


# --- the family --------------------------------------------------------------------------


@settings_class(eq=True)
class _MW(Problem):
    """Shared validation, bounds and evaluation of the MW family.

    `n_var` defaults to 15 for the bi-objective problems and `n_obj + 12` for the scalable
    ones (as pymoo).
    """

    n_var: int | None = None
    n_obj: int = 2

    _g: ClassVar[Callable[[jax.Array, int], jax.Array]]
    _upper: ClassVar[float] = 1.0
    _n_constr: ClassVar[int] = 1
    _scalable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not self._scalable and self.n_obj != 2:
            raise ValueError(f"{name} is bi-objective: n_obj must be 2, got {self.n_obj!r}")
        check_int(f"{name}: n_obj", self.n_obj, 2)
        if self.n_var is None:
            object.__setattr__(self, "n_var", self.n_obj + (12 if self._scalable else 13))
        check_int("n_var", self.n_var)
        if self.n_var < self.n_obj:
            raise ValueError(
                f"{name} needs n_var >= n_obj ({self.n_obj - 1} position variables and at "
                f"least one distance variable), got n_var={self.n_var}, n_obj={self.n_obj}"
            )

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds, shape `(n_var,)`."""
        return np.full(self.n_var, self._upper)

    @property
    def n_constr(self) -> int:
        return self._n_constr

    def _objectives(self, X: jax.Array) -> jax.Array:
        """Objectives `(n, n_obj)` of decision vectors `(n, n_var)`."""
        raise NotImplementedError

    def _constraints(self, F: Any, xp: ModuleType) -> list[Any]:
        """The `n_constr` constraint columns, each `(n,)`, of objective vectors `F`."""
        raise NotImplementedError

    def constraint_values(self, F: Any, xp: ModuleType = jnp) -> Any:
        """Constraint values `(n, n_constr)` of objective vectors `F` `(n, n_obj)`.

        Every MW constraint is a function of the objectives alone; `xp` is jnp or np.
        """
        return xp.stack(self._constraints(F, xp), axis=-1)

    def evaluate_constrained(self, X: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Objectives `(n, n_obj)` and constraint values `(n, n_constr)` of `X` `(n, n_var)`."""
        X = as_batch(X, self.n_var, type(self).__name__)
        F = self._objectives(X)
        return F, self.constraint_values(F)


def _nondominated_2d(F: np.ndarray) -> np.ndarray:
    """Rows of bi-objective `F` that no other row dominates, sorted by `f0`."""
    F = F[np.lexsort((F[:, 1], F[:, 0]))]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], F[:-1, 1]]))
    return F[F[:, 1] < best_before]


def _thin(F: np.ndarray, n_points: int) -> np.ndarray:
    """At most `n_points` rows of `F`, evenly spaced by index, both ends kept."""
    if len(F) <= n_points:
        return F
    return F[np.round(np.linspace(0, len(F) - 1, n_points)).astype(int)]


@settings_class(eq=True)
class _MW2(_MW):
    """Bi-objective MW problems: `F = g * shape(x_0)`, or `shape(x_0) + (0, g - 1)` for
    MW1-MW3, so `g = 1` puts `F` on the unconstrained front `shape(x_0)`.

    The front, where provided, is computed from a dense grid of `x_0` (evenly spaced along
    the unconstrained front): for each value the smallest feasible `g` (1 where the
    unconstrained front is feasible, otherwise found by stepping `g` by 1e-3 up to
    `_front_max_g` and bisecting onto the constraint boundary), then the non-dominated
    points among those. At a fixed `x_0` a larger `g` gives a dominated point, so nothing
    else can be on the front; feasible slivers thinner than the step can be missed, which
    shifts parts of the front by about 1e-3.
    """

    _additive_g: ClassVar[bool] = False
    # None: no front; 1.0: the feasible part of the unconstrained front.
    _front_max_g: ClassVar[float | None] = None
    _front_g_step: ClassVar[float] = 1e-3

    def _shape(self, x0: Any, xp: ModuleType) -> tuple[Any, Any]:
        """The unconstrained front `(f0, f1)` at `g = 1` as a function of `x_0`."""
        raise NotImplementedError

    def _place(self, x0: Any, g: Any, xp: ModuleType) -> Any:
        """Objectives `(n, 2)` at position `x0` `(n,)` and distance value `g` `(n,)`."""
        a, b = self._shape(x0, xp)
        if self._additive_g:
            return xp.stack([a, b + (g - 1.0)], axis=-1)
        return xp.stack([g * a, g * b], axis=-1)

    def _objectives(self, X: jax.Array) -> jax.Array:
        return self._place(X[..., 0], self._g(X, 2), jnp)

    def _feasible(self, x0: np.ndarray, g: np.ndarray | float) -> np.ndarray:
        G = self.constraint_values(self._place(x0, g + np.zeros_like(x0), np), np)
        return np.all(G <= 0.0, axis=-1)

    def pareto_front(self, n_points: int) -> np.ndarray | None:
        """`n_points` points `(k, 2)` (fewer only if the front has fewer grid points) on the
        constrained front, sorted by `f0`; None where not provided (see the module)."""
        check_int("n_points", n_points)
        if self._front_max_g is None:
            return None
        # `x_0` evenly spaced along the unconstrained front's arc length.
        fine = np.linspace(0.0, self._upper, 200_001)
        a, b = self._shape(fine, np)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(a), np.diff(b)))])
        x0 = np.interp(np.linspace(0.0, arc[-1], max(10_001, 10 * n_points)), arc, fine)
        g = np.ones_like(x0)
        found = self._feasible(x0, g)
        step = self._front_g_step
        for level in np.arange(1.0 + step, self._front_max_g + 0.5 * step, step):
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            hit = todo[self._feasible(x0[todo], level)]
            g[hit], found[hit] = level, True
        pushed = np.flatnonzero(found & (g > 1.0))
        lo, hi = g[pushed] - step, g[pushed]
        for _ in range(50):  # keep `hi` feasible, `lo` infeasible
            mid = 0.5 * (lo + hi)
            ok = self._feasible(x0[pushed], mid)
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        g[pushed] = hi
        F = _nondominated_2d(self._place(x0[found], g[found], np))
        return _thin(F, n_points)


@settings_class(eq=True)
class MW1(_MW2):
    """Linear front `f1 = 1 - 0.85 f0` cut into pieces by a rippled linear constraint."""

    _g = staticmethod(_g_bumps)
    _additive_g = True
    _front_max_g = 1.0

    def _shape(self, x0, xp):
        return x0, 1.0 - 0.85 * x0

    def _constraints(self, F, xp):
        total, along = _diagonal(F)
        return [_ripple_cut(total, along, 1.0, 0.5, 2.0, 8, xp)]


@settings_class(eq=True)
class MW2(_MW2):
    """Linear front `f1 = 1 - f0`, all feasible; away from it the rippled cut leaves only
    narrow feasible channels. Multimodal `g`."""

    _g = staticmethod(_g_multimodal)
    _additive_g = True
    _front_max_g = 1.0

    def _shape(self, x0, xp):
        return x0, 1.0 - x0

    def _constraints(self, F, xp):
        total, along = _diagonal(F)
        return [_ripple_cut(total, along, 1.0, 0.5, 3.0, 8, xp)]


@settings_class(eq=True)
class MW3(_MW2):
    """Linear front `f1 = 1 - f0` where a lower rippled cut makes two pieces infeasible;
    there the front follows that cut's boundary. Two constraints.

    pymoo (after PlatEMO) pushes the infeasible points outwards in 0.1% steps and keeps
    some dominated ones; this front lies on the boundary and is non-dominated.
    """

    _g = staticmethod(_g_linked)
    _n_constr = 2
    _additive_g = True
    _front_max_g = 1.5

    def _shape(self, x0, xp):
        return x0, 1.0 - x0

    def _constraints(self, F, xp):
        total, along = _diagonal(F)
        return [
            _ripple_cut(total, along, 1.05, 0.45, 0.75, 6, xp),
            -_ripple_cut(total, along, 0.85, 0.3, 0.75, 2, xp),
        ]


@settings_class(eq=True)
class MW4(_MW):
    """Scalable linear front `sum(f) = 1` (all feasible) behind a rippled cut."""

    n_obj: int = 3

    _g = staticmethod(_g_bumps)
    _scalable = True

    def _objectives(self, X):
        pos = X[..., : self.n_obj - 1]
        return self._g(X, self.n_obj)[..., None] * nested_products(1.0 - pos, pos, jnp)

    def _constraints(self, F, xp):
        along = F[..., -1] - xp.sum(F[..., :-1], axis=-1)
        return [_ripple_cut(xp.sum(F, axis=-1), along, 1.0, 0.4, 2.5, 8, xp)]

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the simplex `sum(f) = 1`."""
        check_int("n_points", n_points)
        return reference_directions(self.n_obj, n_points)


@settings_class(eq=True)
class _CircularMW2(_MW2):
    """MW5-MW7 and MW11: `F = g * (x_0, sqrt(r^2 - x_0^2))` with `r` the upper bound."""

    def _shape(self, x0, xp):
        return x0, xp.sqrt(self._upper**2 - x0**2)


@settings_class(eq=True)
class MW5(_CircularMW2):
    """Quarter circle front cut to a few short arcs by three angle-dependent radii.

    Front not provided (pymoo downloads it): `pareto_front` returns None.
    """

    _g = staticmethod(_g_bumps)
    _n_constr = 3

    def _constraints(self, F, xp):
        r2, angle = _polar(F, xp)
        t = 0.5 * xp.pi - 2.0 * xp.abs(angle - 0.25 * xp.pi)
        return [
            r2 - (1.7 - 0.2 * xp.sin(2.0 * angle)) ** 2,
            (1.0 + 0.5 * xp.sin(6.0 * t**3)) ** 2 - r2,
            (1.0 - 0.45 * xp.sin(6.0 * t**3)) ** 2 - r2,
        ]


@settings_class(eq=True)
class MW6(_CircularMW2):
    """Quarter circle front of radius 1.1, feasible only at the angles where an
    angle-dependent ellipse reaches beyond it. Bounds [0, 1.1]."""

    _g = staticmethod(_g_multimodal)
    _upper = 1.1
    _front_max_g = 1.0

    def _constraints(self, F, xp):
        _, angle = _polar(F, xp)
        bump = xp.cos(6.0 * angle**4) ** 10
        return [
            F[..., 0] ** 2 / (1.0 + 0.15 * bump) ** 2
            + F[..., 1] ** 2 / (1.0 + 0.75 * bump) ** 2
            - 1.0
        ]


@settings_class(eq=True)
class MW7(_CircularMW2):
    """Quarter circle front inside a rippled annulus. Two constraints.

    Front not provided (pymoo downloads it): `pareto_front` returns None.
    """

    _g = staticmethod(_g_linked)
    _n_constr = 2

    def _constraints(self, F, xp):
        r2, angle = _polar(F, xp)
        return [
            r2 - (1.2 + xp.abs(0.4 * xp.sin(4.0 * angle) ** 16)) ** 2,
            (1.15 - 0.2 * xp.sin(4.0 * angle) ** 8) ** 2 - r2,
        ]


@settings_class(eq=True)
class MW8(_MW):
    """Scalable spherical front `|f| = 1`, feasible only where an elevation-dependent
    radius reaches beyond it."""

    n_obj: int = 3

    _g = staticmethod(_g_multimodal)
    _scalable = True

    def _objectives(self, X):
        theta = 0.5 * jnp.pi * X[..., : self.n_obj - 1]
        shape = nested_products(jnp.cos(theta), jnp.sin(theta), jnp)
        return self._g(X, self.n_obj)[..., None] * shape

    def _constraints(self, F, xp):
        r2 = xp.sum(F**2, axis=-1)
        elevation = xp.arcsin(F[..., -1] / xp.sqrt(r2))
        return [r2 - (1.25 - 0.5 * xp.sin(6.0 * elevation) ** 2) ** 2]

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)`: the feasible part of a unit-sphere sample,
        sampled densely enough that about `n_points` remain."""
        check_int("n_points", n_points)

        def feasible_sample(n: int) -> np.ndarray:
            w = reference_directions(self.n_obj, n)
            F = w / np.linalg.norm(w, axis=1, keepdims=True)
            return F[self.constraint_values(F, np)[:, 0] <= 0.0]

        F = feasible_sample(max(n_points, self.n_obj))
        fraction = len(F) / len(reference_directions(self.n_obj, max(n_points, self.n_obj)))
        return feasible_sample(max(n_points, round(n_points / max(fraction, 1e-3))))


@settings_class(eq=True)
class MW9(_MW2):
    """Convex-concave front `f1 = 1 - f0^0.6` where feasibility is the union of two bands.

    Front not provided (pymoo downloads it): `pareto_front` returns None.
    """

    _g = staticmethod(_g_bumps)

    def _shape(self, x0, xp):
        return x0, 1.0 - x0**0.6

    def _constraints(self, F, xp):
        low = _inside_band(_parabola_gap(F, 1.0, 0.64), _parabola_gap(F, 1.0, 0.36))
        high = _inside_band(
            _parabola_gap(F, 1.35**2, 1.0, 0.35), _parabola_gap(F, 1.15**2, 1.0, 0.15)
        )
        return [xp.minimum(low, high)]


@settings_class(eq=True)
class MW10(_MW2):
    """Concave front `f1 = 1 - f0^2` with `f0 = g x_0^n_var`, mostly cut away by three bands.

    Front not provided (pymoo downloads it): `pareto_front` returns None.
    """

    _g = staticmethod(_g_multimodal)
    _n_constr = 3

    def _shape(self, x0, xp):
        a = x0**self.n_var
        return a, 1.0 - a**2

    def _constraints(self, F, xp):
        return [
            _outside_band(_parabola_gap(F, 2.0, 4.0), _parabola_gap(F, 2.0, 8.0)),
            _inside_band(_parabola_gap(F, 2.0, 2.0), _parabola_gap(F, 2.0, 16.0)),
            _inside_band(_parabola_gap(F, 1.0, 1.0), _parabola_gap(F, 1.2, 1.2)),
        ]


@settings_class(eq=True)
class MW11(_CircularMW2):
    """Quarter circle of radius sqrt(2) where four bands leave only a few feasible pieces,
    some at `g > 1`. Bounds [0, sqrt(2)].

    Front not provided (pymoo downloads it): `pareto_front` returns None.
    """

    _g = staticmethod(_g_linked)
    _upper = _SQRT2
    _n_constr = 4

    def _constraints(self, F, xp):
        return [
            _outside_band(_parabola_gap(F, 3.0, 1.0), _parabola_gap(F, 3.0, 2.0)),
            _inside_band(_parabola_gap(F, 3.0, 0.625), _parabola_gap(F, 3.0, 7.0)),
            _outside_band(_parabola_gap(F, 1.62, 0.18), _parabola_gap(F, 1.125, 0.125)),
            _inside_band(_parabola_gap(F, 2.07, 0.23), _parabola_gap(F, 0.63, 0.07)),
        ]


def _wavy_line_gap(F: Any, top: float, slope: float, along_f1: float, along_f0: float,
                   xp: ModuleType) -> Any:
    """MW12's boundary gap `top - slope f0 - f1 + 0.08 sin(2 pi (f1 / a1 - f0 / a0))`."""
    wave = 0.08 * xp.sin(2.0 * xp.pi * (F[..., 1] / along_f1 - F[..., 0] / along_f0))
    return top - slope * F[..., 0] - F[..., 1] + wave


@settings_class(eq=True)
class MW12(_MW2):
    """Wavy decreasing front, partly pushed out to a band between two wavy lines. Two
    constraints. As for MW3, the front lies on the constraint boundary where the
    unconstrained front is infeasible."""

    _g = staticmethod(_g_bumps)
    _n_constr = 2
    _front_max_g = 2.0

    def _shape(self, x0, xp):
        return x0, 0.85 - 0.8 * x0 - 0.08 * xp.abs(xp.sin(3.2 * xp.pi * x0))

    def _constraints(self, F, xp):
        return [
            _outside_band(
                _wavy_line_gap(F, 1.0, 0.625, 1.0, 1.6, xp),
                _wavy_line_gap(F, 1.4, 0.875, 1.4, 1.6, xp),
            ),
            _inside_band(
                _wavy_line_gap(F, 1.0, 0.8, 1.0, 1.5, xp),
                _wavy_line_gap(F, 1.8, 1.125, 1.8, 1.6, xp),
            ),
        ]


def _wavy_gap(F: Any, curve: Any, xp: ModuleType) -> Any:
    """MW13's boundary gap `5 - curve(f0) - 0.5 sin(3 pi f0) - f1`."""
    return 5.0 - curve - 0.5 * xp.sin(3.0 * xp.pi * F[..., 0]) - F[..., 1]


@settings_class(eq=True)
class MW13(_MW2):
    """Front `f1 = 5 - exp(f0) - 0.5 |sin(3 pi f0)|` inside two wavy bands. Bounds [0, 1.5].

    Front not provided (pymoo downloads it): `pareto_front` returns None.
    """

    _g = staticmethod(_g_multimodal)
    _upper = 1.5
    _n_constr = 2

    def _shape(self, x0, xp):
        return x0, 5.0 - xp.exp(x0) - xp.abs(0.5 * xp.sin(3.0 * xp.pi * x0))

    def _constraints(self, F, xp):
        f0 = F[..., 0]
        return [
            _outside_band(
                _wavy_gap(F, 1.0 + f0 + 0.5 * f0**2, xp), _wavy_gap(F, 1.0 + 0.7 * f0, xp)
            ),
            _inside_band(_wavy_gap(F, xp.exp(f0), xp), _wavy_gap(F, 1.0 + 0.4 * f0, xp)),
        ]


@settings_class(eq=True)
class MW14(_MW):
    """Scalable disconnected front `f_m = mean_i(6 - exp(f_i) - 1.5 sin(1.1 pi f_i^2))`
    over `f_i = x_i`, below a cut of the same form. Bounds [0, 1.5].

    Front not provided (pymoo downloads it for 3 objectives and has none otherwise):
    `pareto_front` returns None.
    """

    n_obj: int = 3

    _g = staticmethod(_g_linked)
    _upper = 1.5
    _scalable = True

    @staticmethod
    def _ripple(f: Any, xp: ModuleType) -> Any:
        return 1.5 * xp.sin(1.1 * xp.pi * f**2)

    def _objectives(self, X):
        pos = X[..., : self.n_obj - 1]
        height = jnp.mean(6.0 - jnp.exp(pos) - self._ripple(pos, jnp), axis=-1)
        return jnp.concatenate([pos, (self._g(X, self.n_obj) * height)[..., None]], axis=-1)

    def _constraints(self, F, xp):
        lead = F[..., :-1]
        cap = xp.mean(5.1 - lead - 0.5 * lead**2 - self._ripple(lead, xp), axis=-1)
        return [F[..., -1] - cap]
