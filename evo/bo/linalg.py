"""Cholesky factors and triangular solves whose batches never wait on XLA's CPU thread pool.

jaxlib 0.10's CPU LAPACK kernels split a batch whose estimated cost reaches
`POOL_FREE_FLOPS` into chunks, schedule them on XLA's intra-op thread pool and block until
they finish. Two such calls running at once on a two-thread pool each hold a thread while
waiting for chunks that no free thread is left to run, and the program never returns (seen
in the batched GP fits and acquisitions of `BayesOpt`). Here a batch is cut into chunks
below that cost, run one after the other (`lax.map`), so each kernel runs its batch on the
calling thread (a single matrix always runs there, whatever its cost). jax's own source
stops using the pool in open-source builds after 0.11.0 (commit 8599924, 2026-07-21); the
chunks cost nothing there but the loop. The functions are `custom_vmap`s: under `vmap` a
batch grows by the mapped axis and is cut again; a triangular solve whose factor is shared
by the batch becomes one solve with the batch's right-hand sides side by side. Gradients
(`custom_vjp`) are the usual ones, computed with the same functions, so they are
pool-free too.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

# jaxlib/cpu/lapack_kernels.cc (0.10.x), GetLapackBatchChunkSize: kMinWorkPerTask, the
# smallest batch cost (its flop estimate) that it hands to the thread pool.
POOL_FREE_FLOPS = 200_000


def _chunked(op, cost_per_matrix: int, *args: jax.Array) -> jax.Array:
    """`op` over arrays `(..., r, c)` sharing their batch axes, in chunks of matrices
    whose summed cost (`cost_per_matrix` each) stays below `POOL_FREE_FLOPS`."""
    batch_shape = args[0].shape[:-2]
    size = math.prod(batch_shape)
    chunk = max(1, (POOL_FREE_FLOPS - 1) // max(cost_per_matrix, 1))
    if size <= chunk:
        return op(*args)
    flat = [a.reshape(size, *a.shape[-2:]) for a in args]
    out = jax.lax.map(lambda xs: op(*xs), flat, batch_size=chunk)
    return out.reshape(*batch_shape, *out.shape[-2:])


@custom_vmap
def _potrf(A: jax.Array) -> jax.Array:
    n = A.shape[-1]
    return _chunked(jnp.linalg.cholesky, n**3 // 3, A)


@_potrf.def_vmap
def _potrf_batched(axis_size, in_batched, A):
    return _potrf(A), in_batched[0]


def _trsm_op(transpose: bool):
    def op(L, B):
        return jax.lax.linalg.triangular_solve(
            L, B, left_side=True, lower=True, transpose_a=transpose
        )

    return op


def _trsm_unbatched(L: jax.Array, B: jax.Array, transpose: bool) -> jax.Array:
    n, k = B.shape[-2:]
    if L.ndim == 2 and B.ndim > 2:
        # One factor for the whole batch: its right-hand sides side by side.
        cols = jnp.moveaxis(B, -2, 0).reshape(n, -1)
        X = _chunked(_trsm_op(transpose), n * n * cols.shape[1], L, cols)
        return jnp.moveaxis(X.reshape(n, *B.shape[:-2], k), 0, -2)
    batch = jnp.broadcast_shapes(L.shape[:-2], B.shape[:-2])
    L = jnp.broadcast_to(L, (*batch, n, n))
    B = jnp.broadcast_to(B, (*batch, n, k))
    return _chunked(_trsm_op(transpose), n * n * k, L, B)


def _make_trsm(transpose: bool):
    @custom_vmap
    def trsm(L, B):
        return _trsm_unbatched(L, B, transpose)

    @trsm.def_vmap
    def trsm_batched(axis_size, in_batched, L, B):
        L_batched, B_batched = in_batched
        if B_batched and not L_batched:
            # The mapped axis joins the right-hand sides: (axis, ..., n, k) -> (..., n, k * axis).
            cols = jnp.moveaxis(B, 0, -1)
            X = trsm(L, cols.reshape(*cols.shape[:-2], -1)).reshape(cols.shape)
            return jnp.moveaxis(X, -1, 0), True
        if L_batched and not B_batched:
            B = jnp.broadcast_to(B, (axis_size, *B.shape))
        return trsm(L, B), True

    return trsm


_trsm = _make_trsm(False)
_trsm_t = _make_trsm(True)


def _symmetric(A: jax.Array) -> jax.Array:
    return 0.5 * (A + jnp.swapaxes(A, -1, -2))


def _t(A: jax.Array) -> jax.Array:
    return jnp.swapaxes(A, -1, -2)


@jax.custom_vjp
def cholesky(A: jax.Array) -> jax.Array:
    """Lower Cholesky factor `(..., n, n)` of symmetric `A` `(..., n, n)` (of its
    symmetric part, as `jnp.linalg.cholesky`); NaN where `A` is not positive definite."""
    return _potrf(_symmetric(A))


def _cholesky_fwd(A):
    L = cholesky(A)
    return L, L


def _cholesky_bwd(L, gL):
    # dL = L phi(L^-1 dA L^-T), phi: the lower triangle with its diagonal halved; its
    # adjoint gives dA-bar = L^-T phi(L^T gL) L^-1 (Murray 2016, "Differentiation of the
    # Cholesky decomposition"), symmetrised as the input is.
    P = jnp.tril(_t(L) @ gL)
    P = P - 0.5 * jnp.tril(jnp.triu(P))
    S = _trsm_t(L, _t(_trsm_t(L, _t(P))))
    return (_symmetric(S),)


cholesky.defvjp(_cholesky_fwd, _cholesky_bwd)


def _make_solve(transpose: bool):
    """`L^-1 B` (`L^-T B` with `transpose`) with its gradient: `B-bar = L^-T X-bar` (`L^-1`)
    and `L-bar = -tril(B-bar X^T)` (`-tril(X B-bar^T)`)."""
    trsm, adjoint = (_trsm_t, _trsm) if transpose else (_trsm, _trsm_t)

    @jax.custom_vjp
    def solve(L, B):
        return trsm(L, B)

    def fwd(L, B):
        X = trsm(L, B)
        return X, (L, X)

    def bwd(res, gX):
        L, X = res
        gB = adjoint(L, gX)
        return -jnp.tril(X @ _t(gB) if transpose else gB @ _t(X)), gB

    solve.defvjp(fwd, bwd)
    return solve


_solve = _make_solve(False)
_solve_t = _make_solve(True)


def solve_lower(L: jax.Array, B: jax.Array, *, transpose: bool = False) -> jax.Array:
    """`L^-1 B` (or `L^-T B` with `transpose`) for lower triangular `L` `(..., n, n)` and
    `B` `(..., n, k)` or `(..., n)`; batch axes broadcast."""
    vector = B.ndim == L.ndim - 1
    if vector:
        B = B[..., None]
    X = (_solve_t if transpose else _solve)(L, B)
    return X[..., 0] if vector else X


def cho_solve(L: jax.Array, B: jax.Array) -> jax.Array:
    """`A^-1 B` from the lower Cholesky factor `L` of `A` `(..., n, n)`; `B` `(..., n, k)`
    or `(..., n)`."""
    return solve_lower(L, solve_lower(L, B), transpose=True)
