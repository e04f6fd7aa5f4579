"""Helpers shared by the benchmark families: input checking and front sampling."""

from __future__ import annotations

from typing import Callable

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
