"""Distance-based quality indicators: GD, GD+, IGD and IGD+ (minimisation).

Each compares objective vectors `F` `(n, m)` with a reference front `(k, m)` and returns
the arithmetic mean of nearest-point distances (the p = 1 forms used by pymoo, not the
power-mean variants). All four are jittable.

Rows of `F` that contain NaN or +-inf (failed or diverged evaluations, say) are ignored:
`gd` and `gd_plus` leave them out of the mean, and for `igd` and `igd_plus` they are never
the nearest point. If no row of `F` is finite, every indicator returns inf. The front is
assumed to be finite. Gradients with respect to `F` stay finite too (zero for ignored rows).

Called on concrete arrays they compute in float64 and return a NumPy float64, whatever
`jax_enable_x64` says; inside `jit`, `vmap` or `grad` they follow the input dtype
(`evo.metrics.precision`). Distances are summed objective by objective from differences,
so nothing cancels when the points sit far from the origin.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from evo.metrics.precision import float64_on_host


def _check_shapes(name: str, F: jax.Array, front: jax.Array) -> None:
    if F.ndim != 2 or front.ndim != 2:
        raise ValueError(
            f"{name} expects F of shape (n, m) and front of shape (k, m), "
            f"got {F.shape} and {front.shape}"
        )
    if F.shape[1] != front.shape[1]:
        raise ValueError(
            f"{name}: F has {F.shape[1]} objectives but front has {front.shape[1]}"
        )
    if F.shape[0] == 0 or front.shape[0] == 0:
        raise ValueError(
            f"{name} needs at least one point in F and in front, got {F.shape} and {front.shape}"
        )


def _norm(diff: jax.Array) -> jax.Array:
    """Euclidean norm over the last axis whose gradient stays finite at zero."""
    return _safe_sqrt(jnp.sum(diff**2, axis=-1))


def _safe_sqrt(squared: jax.Array) -> jax.Array:
    """`sqrt(squared)` whose gradient stays finite at zero."""
    return jnp.where(squared > 0, jnp.sqrt(jnp.where(squared > 0, squared, 1)), 0)


def _prepare(name: str, F: jax.Array, front: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Checked `F` with non-finite rows zeroed, `front`, and the finite-row mask `(n,)`.

    Zeroing (rather than masking only the final distances) keeps NaN out of gradients.
    """
    F, front = jnp.asarray(F), jnp.asarray(front)
    _check_shapes(name, F, front)
    finite = jnp.all(jnp.isfinite(F), axis=1)
    return jnp.where(finite[:, None], F, 0), front, finite


def _nearest_euclidean(P: jax.Array, Q: jax.Array, usable: jax.Array) -> jax.Array:
    """Distance from each row of `P` `(a, m)` to its nearest usable row of `Q` `(b, m)`. `(a,)`

    The squared differences are summed objective by objective, so no `(a, b, m)` array is
    formed and nothing cancels (`|p|^2 + |q|^2 - 2 p.q` loses every digit when the points
    sit far from the origin); XLA fuses the sum into the minimum.
    """
    squared = (P[:, None, 0] - Q[None, :, 0]) ** 2
    for j in range(1, P.shape[1]):
        squared = squared + (P[:, None, j] - Q[None, :, j]) ** 2
    return _safe_sqrt(jnp.min(jnp.where(usable[None, :], squared, jnp.inf), axis=1))


def _plus_distances(F: jax.Array, front: jax.Array) -> jax.Array:
    """`|max(f - z, 0)|` from each row of `F` `(n, m)` to each front point `(k, m)`. `(n, k)`"""
    return _norm(jnp.maximum(F[:, None, :] - front[None, :, :], 0))


def _mean_over_finite(nearest: jax.Array, finite: jax.Array) -> jax.Array:
    count = jnp.sum(finite)
    total = jnp.sum(jnp.where(finite, nearest, 0))
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.inf)


@float64_on_host
def gd(F: jax.Array, front: jax.Array) -> jax.Array:
    """Generational distance: mean over finite rows of `F` `(n, m)` of the Euclidean
    distance to the nearest point of `front` `(k, m)`. Returns a scalar."""
    F, front, finite = _prepare("gd", F, front)
    usable = jnp.ones(front.shape[0], bool)
    return _mean_over_finite(_nearest_euclidean(F, front, usable), finite)


@float64_on_host
def gd_plus(F: jax.Array, front: jax.Array) -> jax.Array:
    """GD+: as `gd`, with the distance from `f` to `z` taken as `|max(f - z, 0)|`.

    `F` `(n, m)`, `front` `(k, m)`; returns a scalar.
    """
    F, front, finite = _prepare("gd_plus", F, front)
    return _mean_over_finite(jnp.min(_plus_distances(F, front), axis=1), finite)


@float64_on_host
def igd(F: jax.Array, front: jax.Array) -> jax.Array:
    """Inverted generational distance: mean over `front` `(k, m)` of the Euclidean
    distance to the nearest finite row of `F` `(n, m)`. Returns a scalar."""
    F, front, finite = _prepare("igd", F, front)
    nearest = _nearest_euclidean(front, F, finite)
    return jnp.where(jnp.any(finite), jnp.mean(nearest), jnp.inf)


@float64_on_host
def igd_plus(F: jax.Array, front: jax.Array) -> jax.Array:
    """IGD+: as `igd`, with the distance from `f` to `z` taken as `|max(f - z, 0)|`.

    `F` `(n, m)`, `front` `(k, m)`; returns a scalar.
    """
    F, front, finite = _prepare("igd_plus", F, front)
    dist = jnp.where(finite[:, None], _plus_distances(F, front), jnp.inf)
    return jnp.mean(jnp.min(dist, axis=0))
