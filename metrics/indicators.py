"""Distance-based quality indicators: GD, GD+, IGD and IGD+ (minimisation).

Each compares objective vectors `F` `(n, m)` with a reference front `(k, m)` and returns
the arithmetic mean of nearest-point distances (the p = 1 forms used by pymoo, not the
power-mean variants). All four are jittable.

Rows of `F` that contain NaN or +-inf (failed or diverged evaluations, say) are ignored:
`gd` and `gd_plus` leave them out of the mean, and for `igd` and `igd_plus` they are never
the nearest point. If no row of `F` is finite, every indicator returns inf. The front is
assumed to be finite. Gradients with respect to `F` stay finite too (zero for ignored rows).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


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


def _distances(
    name: str, F: jax.Array, front: jax.Array, plus: bool
) -> tuple[jax.Array, jax.Array]:
    """Distances `(n, k)` from each row of `F` to each front point, and the finite-row mask `(n,)`.

    With `plus`, only the amounts by which `f` is worse than `z` count: `|max(f - z, 0)|`.
    Non-finite rows get distance inf.
    """
    F, front = jnp.asarray(F), jnp.asarray(front)
    _check_shapes(name, F, front)
    finite = jnp.all(jnp.isfinite(F), axis=1)
    # The two inner `where`s keep gradients finite: masking only the final distances would
    # still let NaN rows, and sqrt's infinite slope at 0, put NaN in the backward pass.
    F = jnp.where(finite[:, None], F, 0)
    diff = F[:, None, :] - front[None, :, :]
    if plus:
        diff = jnp.maximum(diff, 0)
    squared = jnp.sum(diff**2, axis=-1)
    dist = jnp.where(squared > 0, jnp.sqrt(jnp.where(squared > 0, squared, 1)), 0)
    return jnp.where(finite[:, None], dist, jnp.inf), finite


def _mean_over_finite(nearest: jax.Array, finite: jax.Array) -> jax.Array:
    count = jnp.sum(finite)
    total = jnp.sum(jnp.where(finite, nearest, 0))
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.inf)


def gd(F: jax.Array, front: jax.Array) -> jax.Array:
    """Generational distance: mean over finite rows of `F` `(n, m)` of the Euclidean
    distance to the nearest point of `front` `(k, m)`. Returns a scalar."""
    dist, finite = _distances("gd", F, front, plus=False)
    return _mean_over_finite(jnp.min(dist, axis=1), finite)


def gd_plus(F: jax.Array, front: jax.Array) -> jax.Array:
    """GD+: as `gd`, with the distance from `f` to `z` taken as `|max(f - z, 0)|`.

    `F` `(n, m)`, `front` `(k, m)`; returns a scalar.
    """
    dist, finite = _distances("gd_plus", F, front, plus=True)
    return _mean_over_finite(jnp.min(dist, axis=1), finite)


def igd(F: jax.Array, front: jax.Array) -> jax.Array:
    """Inverted generational distance: mean over `front` `(k, m)` of the Euclidean
    distance to the nearest finite row of `F` `(n, m)`. Returns a scalar."""
    dist, _ = _distances("igd", F, front, plus=False)
    return jnp.mean(jnp.min(dist, axis=0))


def igd_plus(F: jax.Array, front: jax.Array) -> jax.Array:
    """IGD+: as `igd`, with the distance from `f` to `z` taken as `|max(f - z, 0)|`.

    `F` `(n, m)`, `front` `(k, m)`; returns a scalar.
    """
    dist, _ = _distances("igd_plus", F, front, plus=True)
    return jnp.mean(jnp.min(dist, axis=0))
