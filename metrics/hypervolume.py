"""Hypervolume indicator (minimisation): exact for any number of objectives, Monte Carlo in JAX.

Convention shared by every function here: the reference point `r` `(m,)` is an explicit,
finite, required argument. The hypervolume of `F` `(n, m)` is the Lebesgue measure of
`{x : f <= x <= r for some row f of F}`. Only rows that are finite and strictly dominate
`r` (`f_j < r_j` in every objective) count; the others (NaN or inf from failed
evaluations, points on or beyond the reference point) contribute nothing, and a set with
no such row, or no rows at all, has hypervolume 0.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.checks import check_int
from evo.metrics.precision import float64_on_host

# Elements of one `(chunk, n)` block of samples against rows: bounds the memory of the MC loop.
_BLOCK_ELEMENTS = 1 << 22


def _check_shapes(name: str, F: tuple[int, ...], ref: tuple[int, ...]) -> None:
    """Raise unless the shapes are those of `F` `(n, m)` and `ref_point` `(m,)`, m >= 1."""
    if len(F) != 2 or F[1] == 0:
        raise ValueError(f"{name} expects F of shape (n, m) with m >= 1, got {F}")
    if ref != (F[1],):
        raise ValueError(f"{name}: ref_point must have shape ({F[1]},) to match F {F}, got {ref}")


def _counted_rows(F: jax.Array, ref: jax.Array) -> jax.Array:
    """Rows of `F` `(n, m)` that are finite and strictly dominate `ref` `(m,)`. `(n,)` bool."""
    return jnp.all(jnp.isfinite(F), axis=1) & jnp.all(F < ref, axis=1)


def _hypervolume_2d(F: jax.Array, ref: jax.Array) -> jax.Array:
    """Sort by f1 and sweep: each slab between consecutive f1 values is dominated up from
    the lowest f2 seen so far (the classic staircase). Rows not counted equal `ref`."""
    order = jnp.argsort(F[:, 0])
    dx = jnp.diff(F[order, 0], append=ref[0])
    return jnp.dot(dx, ref[1] - jax.lax.cummin(F[order, 1]))


def _hypervolume_3d(F: jax.Array, ref: jax.Array) -> jax.Array:
    """Sweep over f3 (the idea of HV3D, Beume et al. 2009, without its balanced tree).

    With the points taken in increasing f3, the slab between one f3 value and the next is
    dominated exactly over the 2-D (f1, f2) staircase of the points seen so far. The scan
    carries that staircase as its height at every point's f1 (an `(n,)` profile); each step
    lowers the profile right of the new point and measures it: O(n^2) work, O(n) memory.
    Rows not counted equal `ref`.
    """
    by_f1 = jnp.argsort(F[:, 0])
    x = F[by_f1, 0]
    dx = jnp.diff(x, append=ref[0])
    by_f3 = jnp.argsort(F[:, 2])
    dz = jnp.diff(F[by_f3, 2], append=ref[2])

    def add_point(height: jax.Array, f: jax.Array) -> tuple[jax.Array, jax.Array]:
        height = jnp.where(x >= f[0], jnp.minimum(height, f[1]), height)
        return height, jnp.dot(dx, ref[1] - height)

    _, areas = jax.lax.scan(add_point, jnp.full_like(x, ref[1]), F[by_f3])
    return jnp.dot(dz, areas)


@jax.jit
def _hypervolume_jax(F: jax.Array, ref: jax.Array) -> jax.Array:
    """`hypervolume` for m <= 3, on inputs of checked shapes."""
    F, ref = jnp.asarray(F), jnp.asarray(ref)
    dtype = jnp.result_type(F, ref, float)
    F, ref = F.astype(dtype), ref.astype(dtype)
    if F.shape[0] == 0:
        return jnp.zeros((), F.dtype)
    F = jnp.where(_counted_rows(F, ref)[:, None], F, ref)
    if F.shape[1] == 1:
        return ref[0] - jnp.min(F[:, 0])
    if F.shape[1] == 2:
        return _hypervolume_2d(F, ref)
    return _hypervolume_3d(F, ref)


def _hypervolume_host(F: np.ndarray, ref: np.ndarray) -> np.float64:
    try:
        import moocore
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("hypervolume with 4 or more objectives needs moocore: "
                          "pip install moocore") from error
    F = F[np.all(np.isfinite(F), axis=1) & np.all(F < ref, axis=1)]
    if len(F) == 0:
        return np.float64(0.0)
    return np.float64(moocore.hypervolume(F, ref=ref))


@float64_on_host
def hypervolume(
    F: jax.Array | np.ndarray, ref_point: jax.Array | np.ndarray
) -> jax.Array | np.float64:
    """Exact hypervolume dominated by the rows of `F` `(n, m)` and bounded by `ref_point` `(m,)`.

    See the module docstring for the convention (minimisation; rows that are not finite or
    do not strictly dominate the reference point are ignored; an empty set gives 0).

    For m <= 3 the computation is JAX and jittable. Called on concrete arrays it computes in
    float64 and returns a NumPy float64 (~1e-15 relative accuracy), whatever
    `jax_enable_x64` says, as for m >= 4; traced, it returns a scalar array in the promoted
    float dtype of the inputs. m = 2
    sorts and sweeps in O(n log n). m = 3 sweeps over f3 in a `lax.scan` of n steps with
    O(n^2) work and O(n) memory: about 0.05 s at n = 5000 on two CPU cores, so practical
    up to n of a few 10^4.

    For m >= 4 it calls moocore's exact C implementation on the host (`moocore.hypervolume`:
    HV4D+ for m = 4, a recursive algorithm or inclusion-exclusion beyond): NumPy float64 in
    and out, not jittable (raises TypeError when traced by `jax.jit`, `vmap` or `grad`).
    """
    if np.ndim(F) == 2 and np.shape(F)[1] >= 4:
        if isinstance(F, jax.core.Tracer) or isinstance(ref_point, jax.core.Tracer):
            raise TypeError("hypervolume with m >= 4 runs moocore on the host and cannot be "
                            "traced (jit, vmap, grad); call it on concrete arrays")
        F, ref = np.asarray(F, np.float64), np.asarray(ref_point, np.float64)
        _check_shapes("hypervolume", F.shape, ref.shape)
        return _hypervolume_host(F, ref)

    _check_shapes("hypervolume", np.shape(F), np.shape(ref_point))
    return _hypervolume_jax(F, ref_point)


def dominated_by(samples: jax.Array, F: jax.Array) -> jax.Array:
    """`out[i, j]` is True when row j of `F` `(n, m)` weakly dominates `samples[i]` `(s, m)`.

    That is, `F[j] <= samples[i]` in every objective: the sample lies in the box that row j
    dominates. Returns `(s, n)` bool, built objective by objective so that no `(s, n, m)`
    array is formed. Rows of `F` set to +inf dominate nothing, which is how callers leave
    rows out. Jittable.
    """
    out = F[None, :, 0] <= samples[:, None, 0]
    for j in range(1, F.shape[1]):
        out = out & (F[None, :, j] <= samples[:, None, j])
    return out


class HVEstimate(NamedTuple):
    """A Monte Carlo hypervolume estimate: `value` and its standard error `stderr` (scalars)."""

    value: jax.Array
    stderr: jax.Array


@float64_on_host
@functools.partial(jax.jit, static_argnames=("n_samples", "chunk_size"))
def hypervolume_mc(
    key: jax.Array,
    F: jax.Array,
    ref_point: jax.Array,
    n_samples: int,
    lower: jax.Array | None = None,
    *,
    chunk_size: int | None = None,
) -> HVEstimate:
    """Monte Carlo estimate of `hypervolume(F, ref_point)` for any number of objectives.

    Draws `n_samples` points uniformly in the box `[lower, ref_point]` and counts those
    dominated by a row of `F` `(n, m)` (same convention as `hypervolume`). `lower` `(m,)`
    defaults to the per-objective minimum of the counted rows, the tightest box that holds
    the whole dominated region; a `lower` above that minimum leaves volume out. With h hits
    of n samples in a box of volume V, returns `HVEstimate(value=V h / n, stderr=V sqrt(q
    (1 - q) / (n + 4)))` with q = (h + 2) / (n + 4), the Agresti-Coull interval's centre
    (Agresti & Coull, 1998): unlike the plain binomial error sqrt(p (1 - p) / n), it is not 0
    when every sample hits or none does, so `value +- 3 stderr` holds the true hypervolume
    about as often at a hit fraction near 1 as at 1/2.

    Jittable with `n_samples` and `chunk_size` static; on concrete arrays it computes in
    float64 and returns NumPy float64 values, as `hypervolume` does. Samples are drawn and tested
    `chunk_size` at a time in a `lax.map`, so memory is O(chunk_size * n); by default the
    chunk holds about 4 million (sample, row) pairs.
    """
    F, ref = jnp.asarray(F), jnp.asarray(ref_point)
    _check_shapes("hypervolume_mc", F.shape, ref.shape)
    check_int("hypervolume_mc: n_samples", n_samples)
    if chunk_size is not None:
        check_int("hypervolume_mc: chunk_size", chunk_size)
    dtype = jnp.result_type(F, ref, float)
    F, ref = F.astype(dtype), ref.astype(dtype)
    counted = _counted_rows(F, ref)[:, None]
    if lower is None:
        lower = jnp.min(jnp.concatenate([jnp.where(counted, F, ref), ref[None]]), axis=0)
    lower = jnp.asarray(lower, dtype)
    points = jnp.where(counted, F, jnp.inf)

    default_chunk = max(1, _BLOCK_ELEMENTS // max(F.shape[0], 1))
    chunk = min(n_samples, default_chunk if chunk_size is None else chunk_size)
    n_chunks = math.ceil(n_samples / chunk)

    def hits(args: tuple[jax.Array, jax.Array]) -> jax.Array:
        chunk_key, start = args
        samples = jax.random.uniform(chunk_key, (chunk, F.shape[1]), dtype, lower, ref)
        inside = start + jnp.arange(chunk) < n_samples
        return jnp.sum(jnp.any(dominated_by(samples, points), axis=1) & inside)

    starts = jnp.arange(n_chunks) * chunk
    total = jnp.sum(jax.lax.map(hits, (jax.random.split(key, n_chunks), starts)))
    hits_fraction = total.astype(dtype) / n_samples
    centre = (total.astype(dtype) + 2) / (n_samples + 4)
    volume = jnp.prod(ref - lower)
    return HVEstimate(volume * hits_fraction,
                      volume * jnp.sqrt(centre * (1 - centre) / (n_samples + 4)))
