"""Helpers shared by the benchmark families: input checking, shapes and front sampling."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np


def as_batch(X: jax.Array, n_var: int, problem_name: str) -> jax.Array:
    """`X` as a JAX array, after checking that its trailing dimension is `n_var`.

    The check runs at trace time, so a jitted `evaluate` fails before compiling.
    """
    X = jnp.asarray(X)
    if X.ndim == 0 or X.shape[-1] != n_var:
        raise ValueError(
            f"{problem_name}.evaluate expected X of shape (n, {n_var}), got shape {X.shape}"
        )
    return X


def nondominated_1d(
    curve: Callable[[np.ndarray], np.ndarray], n_points: int, resolution: int = 200_001
) -> np.ndarray:
    """`n_points` parameters `t` in [0, 1] where the curve `(t, curve(t))` is non-dominated.

    Both coordinates are minimised, so `t` is kept when `curve(t)` is below every value
    the curve takes for smaller `t`; this is checked on a uniform grid of `resolution`
    points. The kept parameters, which may form several disconnected intervals, are then
    thinned to `n_points` evenly spaced grid points (ends included). Returns `(n_points,)`.
    """
    t = np.linspace(0.0, 1.0, resolution)
    y = curve(t)
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], y[:-1]]))
    kept = t[y < best_before]
    return kept[np.round(np.linspace(0, len(kept) - 1, n_points)).astype(int)]


def nested_products(lead: Any, tail: Any, xp: ModuleType) -> Any:
    """The DTLZ shape `f_i = lead_0 * ... * lead_{m-2-i} * tail_{m-1-i}` with `tail_{m-1} = 1`.

    `lead`, `tail`: `(..., m - 1)` -> `(..., m)`. `xp` is the array module (jnp or np).
    """
    ones = xp.ones_like(lead[..., :1])
    prefix = xp.cumprod(xp.concatenate([ones, lead], axis=-1), axis=-1)
    closing = xp.concatenate([tail, ones], axis=-1)
    return (prefix * closing)[..., ::-1]


def quarter_turn(x: Any, xp: ModuleType) -> tuple[Any, Any]:
    """`cos` and `sin` of `pi x / 2` for `x` in [0, 1], exactly 0 and 1 at both ends in any
    precision: the cosine is taken as `sin(pi (1 - x) / 2)`, since float32 `cos(pi / 2)`
    is -4.4e-8 and would turn an objective that is 0 on the boundary negative."""
    return xp.sin(0.5 * xp.pi * (1.0 - x)), xp.sin(0.5 * xp.pi * x)


def dtlz7_bump(f: Any, xp: ModuleType) -> Any:
    """DTLZ7's per-objective term `f (1 + sin(3 pi f))`."""
    return f * (1.0 + xp.sin(3.0 * xp.pi * f))
