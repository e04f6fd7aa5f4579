"""The WFG scalable benchmarks (Huband, Hingston, Barone & While, 2006).

Formulas follow "A review of multiobjective test problems and a scalable test problem
toolkit", IEEE Trans. Evolutionary Computation 10(5), 2006. A decision vector has `k`
position parameters followed by `l` distance parameters, `z_i` in `[0, 2 i]`. Each problem
normalises `y = z / (2 i)`, applies a chain of published transformations (shifts, biases,
reductions) that ends with `n_obj` values `t`, and maps them to objectives
`f_m = x_M + S_m h_m(x_1..x_{M-1})` with `S_m = 2 m` and `x` derived from `t` through the
degeneracy constants `A`. On the Pareto-optimal set the transformed distance value
`t_M = x_M` is 0, so the front is `S * h` over the non-dominated shape points.
"""

from __future__ import annotations

import functools
import math
from types import ModuleType
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int, settings_class
from evo.problems._common import as_batch, nested_products, nondominated_1d, quarter_turn
from evo.problems.base import Problem
from evo.ref_dirs import reference_directions

# Constants of the parameter-dependent bias shared by WFG7-9.
_B_PARAM = (0.98 / 49.98, 0.02, 50.0)


def _clip01(y: jax.Array) -> jax.Array:
    """Every transformation maps into [0, 1]; this removes rounding overshoot."""
    return jnp.clip(y, 0.0, 1.0)


# Transformations. Each maps values in [0, 1] elementwise (shifts and biases) or along the
# last axis (reductions) back into [0, 1].


def _s_linear(z: jax.Array, a: float, u: Any = 1.0) -> jax.Array:
    """Linear shift of `y = z / u` (of `z` itself by default): 0 at `y = a`.

    Evaluated as `|z - a u| / (u |floor(a - y) + a|)`, so that `z = a u`, computed the same
    way, gives exactly 0 (`z / u` need not round back to `a`).
    """
    return _clip01(jnp.abs(z - a * u) / (u * jnp.abs(jnp.floor(a - z / u) + a)))


def _s_decept(y: jax.Array, a: float, b: float, c: float) -> jax.Array:
    """Deceptive shift: global minimum at `y = a`, deceptive minima at 0 and 1."""
    lower = jnp.floor(y - a + b) * (1.0 - c + (a - b) / b) / (a - b)
    upper = jnp.floor(a + b - y) * (1.0 - c + (1.0 - a - b) / b) / (1.0 - a - b)
    return _clip01(1.0 + (jnp.abs(y - a) - b) * (lower + upper + 1.0 / b))


def _s_multi(y: jax.Array, a: float, b: float, c: float) -> jax.Array:
    """Multi-modal shift with `a` minima and hill size `b`: global minimum at `y = c`."""
    r = jnp.abs(y - c) / (2.0 * (jnp.floor(c - y) + c))
    wave = jnp.cos((4.0 * a + 2.0) * jnp.pi * (0.5 - r))
    return _clip01((1.0 + wave + 4.0 * b * r**2) / (b + 2.0))


def _b_flat(y: jax.Array, a: float, b: float, c: float) -> jax.Array:
    """Flat region: `y` in `[b, c]` maps to `a`; `y = 0` maps to exactly 0."""
    below = jnp.minimum(0.0, jnp.floor(y - b)) * (a * ((b - y) / b))
    above = jnp.minimum(0.0, jnp.floor(c - y)) * ((1.0 - a) * ((y - c) / (1.0 - c)))
    return _clip01(a + below - above)


def _b_poly(y: jax.Array, alpha: float) -> jax.Array:
    """Polynomial bias `y^alpha`."""
    return _clip01(y**alpha)


def _b_param(y: jax.Array, u: jax.Array) -> jax.Array:
    """Parameter-dependent bias of `y` by the reduced value `u` (same shape), WFG7-9 constants."""
    a, b, c = _B_PARAM
    exponent = b + (c - b) * (a - (1.0 - 2.0 * u) * jnp.abs(jnp.floor(0.5 - u) + a))
    return _clip01(y**exponent)


def _r_mean(y: jax.Array) -> jax.Array:
    """Weighted-sum reduction with equal weights, `(..., d)` -> `(...)`."""
    return _clip01(jnp.mean(y, axis=-1))


def _r_nonsep(y: jax.Array) -> jax.Array:
    """Non-separable reduction, `(..., d)` -> `(...)`, with degree `A = d` as in every WFG use.

    With `A = d` the published inner sum runs over all other members, so the numerator is
    `sum(y) + sum_{i != j} |y_i - y_j|`; the pair sum is taken over the sorted values
    (`2 sum_i (2 i - d + 1) y_(i)`), which avoids a `(d, d)` intermediate.
    """
    d = y.shape[-1]
    half = math.ceil(d / 2)
    ranked = jnp.sort(y, axis=-1)
    pairs = 2.0 * jnp.sum((2 * jnp.arange(d) - d + 1) * ranked, axis=-1)
    return _clip01((jnp.sum(y, axis=-1) + pairs) / (half * (1 + 2 * d - 2 * half)))


def _mean_after(y: jax.Array) -> jax.Array:
    """`(..., n)` -> `(..., n - 1)`: entry `i` is the mean of `y[i + 1:]`."""
    tail = jnp.cumsum(y[..., ::-1], axis=-1)[..., ::-1]
    return _clip01(tail[..., 1:] / jnp.arange(y.shape[-1] - 1, 0, -1))


def _mean_before(y: jax.Array) -> jax.Array:
    """`(..., n)` -> `(..., n - 1)`: entry `i - 1` is the mean of `y[:i]`."""
    return _clip01(jnp.cumsum(y, axis=-1)[..., :-1] / jnp.arange(1, y.shape[-1]))


def _normalise(z: jax.Array) -> jax.Array:
    """`y = z / (2 i)`, `(..., n)`."""
    return z / jnp.arange(2, 2 * z.shape[-1] + 1, 2, dtype=z.dtype)


def _shift_distance(y: jax.Array, k: int) -> jax.Array:
    """The linear shift with optimum 0.35 applied to the distance parameters `y[..., k:]`."""
    return jnp.concatenate([y[..., :k], _s_linear(y[..., k:], 0.35)], axis=-1)


def _group_reduce(
    y: jax.Array, k: int, n_obj: int, reduce: Callable[[jax.Array], jax.Array]
) -> jax.Array:
    """`(..., n)` -> `(..., n_obj)`: `n_obj - 1` equal position groups, then the distance block."""
    groups = y[..., :k].reshape(*y.shape[:-1], n_obj - 1, k // (n_obj - 1))
    return jnp.concatenate([reduce(groups), reduce(y[..., k:])[..., None]], axis=-1)


# The transformation chain of each problem: `z` `(..., n)` -> `t` `(..., n_obj)`.


def _t_wfg1(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    # The shift works on z itself: the polynomial bias turns a rounding residue r of the
    # optimum into r^0.02 (0.46 for r = 1e-17), so z = 0.35 (2 i) must give exactly 0.
    u = jnp.arange(2 * k + 2, 2 * z.shape[-1] + 1, 2, dtype=z.dtype)
    dist = _b_flat(_s_linear(z[..., k:], 0.35, u), 0.8, 0.75, 0.85)
    y = _b_poly(jnp.concatenate([_normalise(z[..., :k]), dist], axis=-1), 0.02)
    # Weighted sums with weights 2 i, as sum(w y) / sum(w) per group.
    w = jnp.arange(2, 2 * y.shape[-1] + 1, 2)
    total = functools.partial(jnp.sum, axis=-1)
    return _clip01(_group_reduce(y * w, k, n_obj, total) / _group_reduce(w, k, n_obj, total))


def _t_wfg2(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    """WFG2 and WFG3: distance parameters merged in pairs, then averaged."""
    y = _shift_distance(_normalise(z), k)
    pairs = y[..., k:].reshape(*y.shape[:-1], -1, 2)
    y = jnp.concatenate([y[..., :k], _r_nonsep(pairs)], axis=-1)
    return _group_reduce(y, k, n_obj, _r_mean)


def _t_wfg4(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    return _group_reduce(_s_multi(_normalise(z), 30.0, 10.0, 0.35), k, n_obj, _r_mean)


def _t_wfg5(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    return _group_reduce(_s_decept(_normalise(z), 0.35, 0.001, 0.05), k, n_obj, _r_mean)


def _t_wfg6(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    return _group_reduce(_shift_distance(_normalise(z), k), k, n_obj, _r_nonsep)


def _t_wfg7(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    y = _normalise(z)
    pos = _b_param(y[..., :k], _mean_after(y)[..., :k])
    y = _shift_distance(jnp.concatenate([pos, y[..., k:]], axis=-1), k)
    return _group_reduce(y, k, n_obj, _r_mean)


def _t_wfg8(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    y = _normalise(z)
    dist = _b_param(y[..., k:], _mean_before(y)[..., k - 1 :])
    y = _shift_distance(jnp.concatenate([y[..., :k], dist], axis=-1), k)
    return _group_reduce(y, k, n_obj, _r_mean)


def _t_wfg9(z: jax.Array, k: int, n_obj: int) -> jax.Array:
    y = _normalise(z)
    y = jnp.concatenate([_b_param(y[..., :-1], _mean_after(y)), y[..., -1:]], axis=-1)
    pos = _s_decept(y[..., :k], 0.35, 0.001, 0.05)
    dist = _s_multi(y[..., k:], 30.0, 95.0, 0.35)
    return _group_reduce(jnp.concatenate([pos, dist], axis=-1), k, n_obj, _r_nonsep)


# Shapes: `x` `(..., M - 1)` -> `h` `(..., M)`; `xp` is the array module (jnp or np).


def _linear(x: Any, xp: ModuleType) -> Any:
    return nested_products(x, 1.0 - x, xp)


def _convex(x: Any, xp: ModuleType) -> Any:
    cos, sin = quarter_turn(x, xp)
    return nested_products(1.0 - cos, 1.0 - sin, xp)


def _concave(x: Any, xp: ModuleType) -> Any:
    cos, sin = quarter_turn(x, xp)
    return nested_products(sin, cos, xp)


def _mixed(x1: Any, xp: ModuleType) -> Any:
    """WFG1's last shape, mixed convex/concave with `A = 5` segments and `alpha = 1`."""
    h = 1.0 - x1 - xp.cos(10.0 * xp.pi * x1 + 0.5 * xp.pi) / (10.0 * xp.pi)
    return xp.maximum(h, 0.0)  # nonnegative by definition; rounding at x1 = 0 or 1 is not


def _disc(x1: Any, xp: ModuleType) -> Any:
    """WFG2's last shape, disconnected with `A = 5` regions and `alpha = beta = 1`."""
    return 1.0 - x1 * xp.cos(5.0 * xp.pi * x1) ** 2


@settings_class(eq=True)
class _WFG(Problem):
    """Shared configuration, validation and objective assembly of the WFG family.

    `k` defaults to pymoo's choice, 4 for two objectives and `2 (n_obj - 1)` otherwise;
    `l` defaults to `n_var - k` when `n_var` is given and to 20 otherwise, and
    `n_var = k + l`.
    """

    n_var: int | None = None
    n_obj: int = 3
    k: int | None = None
    l: int | None = None  # noqa: E741 (the published name)

    _transform: ClassVar[Callable[[jax.Array, int, int], jax.Array]]
    _l_even: ClassVar[bool] = False
    _degenerate: ClassVar[bool] = False

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(f"{name}: n_obj", self.n_obj, 2)
        if self.k is None:
            object.__setattr__(self, "k", 4 if self.n_obj == 2 else 2 * (self.n_obj - 1))
        check_int("k", self.k)
        if self.k % (self.n_obj - 1):
            raise ValueError(
                f"{name}: the number of position parameters k must be divisible by "
                f"n_obj - 1 = {self.n_obj - 1}, got k={self.k}"
            )
        if self.l is None:
            if self.n_var is None:
                object.__setattr__(self, "l", 20)
            else:
                check_int("n_var", self.n_var)
                if self.n_var <= self.k:
                    raise ValueError(
                        f"{name} needs at least one distance parameter, n_var > k, "
                        f"got n_var={self.n_var}, k={self.k}"
                    )
                object.__setattr__(self, "l", self.n_var - self.k)
        check_int("l", self.l)
        if self.n_var is None:
            object.__setattr__(self, "n_var", self.k + self.l)
        if self.n_var != self.k + self.l:
            raise ValueError(
                f"{name}: n_var must equal k + l = {self.k} + {self.l}, got n_var={self.n_var}"
            )
        if self._l_even and self.l % 2:
            raise ValueError(
                f"{name}: the number of distance parameters l must be even, got l={self.l}"
            )

    @property
    def ub(self) -> np.ndarray:
        """Upper bounds `2 i`, shape `(n_var,)`."""
        return 2.0 * np.arange(1, self.n_var + 1)

    @property
    def _scales(self) -> np.ndarray:
        """`S_m = 2 m`, shape `(n_obj,)`."""
        return 2.0 * np.arange(1, self.n_obj + 1)

    def _shape(self, x: Any, xp: ModuleType) -> Any:
        """Shape values `h` `(..., n_obj)` of `x` `(..., n_obj - 1)`."""
        return _concave(x, xp)

    def evaluate(self, X: jax.Array) -> jax.Array:
        """Objectives `(n, n_obj)` of decision vectors `X` `(n, n_var)`."""
        X = as_batch(X, self.n_var, type(self).__name__)
        t = self._transform(X.astype(jnp.promote_types(X.dtype, jnp.float32)), self.k, self.n_obj)
        x_last = t[..., -1:]
        # A_1 = 1 always; A_i = 0 for i >= 2 makes WFG3 degenerate.
        a = jnp.asarray([1.0] + [0.0 if self._degenerate else 1.0] * (self.n_obj - 2), t.dtype)
        x = jnp.maximum(x_last, a) * (t[..., :-1] - 0.5) + 0.5
        return x_last + jnp.arange(2, 2 * self.n_obj + 1, 2) * self._shape(x, jnp)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the concave front `sum((f / S)^2) = 1`."""
        w = reference_directions(self.n_obj, n_points)
        return self._scales * w / np.linalg.norm(w, axis=1, keepdims=True)


@settings_class(eq=True)
class _ConvexWFG(_WFG):
    """WFG1-2: convex shape in the first `n_obj - 1` objectives, a special last one."""

    _last: ClassVar[Callable[[Any, ModuleType], Any]]

    def _shape(self, x: Any, xp: ModuleType) -> Any:
        h = _convex(x, xp)
        return xp.concatenate([h[..., :-1], self._last(x[..., :1], xp)], axis=-1)

    def _front_x1(self, n: int) -> np.ndarray:
        """`n` values of `x_1` whose shape points are non-dominated, `(n,)`."""
        return np.linspace(0.0, 1.0, n)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """About `n_points` points `(k, n_obj)` on the front, from a grid over `x`.

        The first `n_obj - 1` shape values are `(1 - cos(pi x_1 / 2))` times a factor of
        the other `x`, and the last depends on `x_1` alone, so a point is dominated exactly
        when a smaller `x_1` has a last value no larger: the front is a product of a 1-D
        set of `x_1` and a full grid over the other `x`, `round(n_points^(1 / (n_obj - 1)))`
        values (at least 2) per axis. Points that coincide (`x_1 = 0`) are merged.
        """
        check_int("n_points", n_points)
        per_axis = max(2, round(n_points ** (1.0 / (self.n_obj - 1))))
        axes = [self._front_x1(per_axis)] + [np.linspace(0.0, 1.0, per_axis)] * (self.n_obj - 2)
        x = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=-1)
        return np.unique(self._scales * self._shape(x, np), axis=0)


@settings_class(eq=True)
class WFG1(_ConvexWFG):
    """Convex front with a mixed last objective; flat and polynomial biases."""

    _transform = staticmethod(_t_wfg1)
    _last = staticmethod(_mixed)


@settings_class(eq=True)
class WFG2(_ConvexWFG):
    """Convex, disconnected front; distance parameters merged non-separably in pairs."""

    _transform = staticmethod(_t_wfg2)
    _last = staticmethod(_disc)
    _l_even = True

    def _front_x1(self, n: int) -> np.ndarray:
        return nondominated_1d(lambda x1: _disc(x1, np), n)


@settings_class(eq=True)
class WFG3(_WFG):
    """Linear front, degenerate (a line) through `A = (1, 0, ..., 0)`; WFG2's transformations."""

    _transform = staticmethod(_t_wfg2)
    _l_even = True
    _degenerate = True

    def _shape(self, x: Any, xp: ModuleType) -> Any:
        return _linear(x, xp)

    def pareto_front(self, n_points: int) -> np.ndarray:
        """`n_points` points `(n_points, n_obj)` on the published degenerate front.

        The segment `x_1` in [0, 1], other `x_i = 0.5`. For `n_obj >= 3` this follows the
        published definition, although points with `t_M > 0` off this line are known to be
        non-dominated too (Ishibuchi, Masuda & Nojima, 2016).
        """
        check_int("n_points", n_points)
        x = np.full((n_points, self.n_obj - 1), 0.5)
        x[:, 0] = np.linspace(0.0, 1.0, n_points)
        return self._scales * _linear(x, np)


@settings_class(eq=True)
class WFG4(_WFG):
    """Concave front behind a multi-modal shift of every parameter."""

    _transform = staticmethod(_t_wfg4)


@settings_class(eq=True)
class WFG5(_WFG):
    """Concave front behind a deceptive shift of every parameter."""

    _transform = staticmethod(_t_wfg5)


@settings_class(eq=True)
class WFG6(_WFG):
    """Concave front; non-separable reduction of each group."""

    _transform = staticmethod(_t_wfg6)


@settings_class(eq=True)
class WFG7(_WFG):
    """Concave front; position parameters biased by the mean of the later parameters."""

    _transform = staticmethod(_t_wfg7)


@settings_class(eq=True)
class WFG8(_WFG):
    """Concave front; distance parameters biased by the mean of the earlier parameters.

    The optimal distance parameters therefore depend on the position parameters.
    """

    _transform = staticmethod(_t_wfg8)


@settings_class(eq=True)
class WFG9(_WFG):
    """Concave front; parameter-dependent bias, deceptive and multi-modal shifts, non-separable."""

    _transform = staticmethod(_t_wfg9)
