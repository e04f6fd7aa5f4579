"""Pool-free Cholesky and triangular solves of evo.bo.linalg: values and gradients against
jax.numpy's, and the compiled LAPACK calls of a batched GP fit all below the batch cost that
jaxlib hands to its thread pool."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evo.bo import GPParams
from evo.bo.gp import neg_log_marginal_likelihood
from evo.bo.linalg import POOL_FREE_FLOPS, cho_solve, cholesky, solve_lower


def _spd(key, batch, n):
    """Well-conditioned symmetric positive definite matrices `(*batch, n, n)` (float64)."""
    G = jax.random.normal(key, (*batch, n, n), jnp.float64)
    return G @ jnp.swapaxes(G, -1, -2) / n + jnp.eye(n, dtype=jnp.float64)


def _reference(A, B):
    L = jnp.linalg.cholesky(A)
    X = jax.scipy.linalg.solve_triangular(L, B, lower=True)
    Y = jax.scipy.linalg.cho_solve((L, True), B)
    return L, X, Y


def _ours(A, B):
    L = cholesky(A)
    return L, solve_lower(L, B), cho_solve(L, B)


def _loss(solver):
    def loss(A, B):
        L, X, Y = solver(A, B)
        return jnp.sum(jnp.sin(L)) + jnp.sum(X**2) + jnp.sum(jnp.cos(Y))

    return loss


# n = 40: a Cholesky factor costs about 21,333 flops, so a batch of 30 runs in 4 chunks.
@pytest.mark.parametrize("batch, n, k", [((), 5, 2), ((30,), 40, 3), ((2, 7), 12, 1)])
def test_values_and_gradients_match_jax_numpy(batch, n, k):
    with jax.enable_x64(True):
        kA, kB = jax.random.split(jax.random.key(0))
        A, B = _spd(kA, batch, n), jax.random.normal(kB, (*batch, n, k), jnp.float64)
        for ours, ref in zip(_ours(A, B), _reference(A, B)):
            np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
        g_ours = jax.grad(_loss(_ours), argnums=(0, 1))(A, B)
        g_ref = jax.grad(_loss(_reference), argnums=(0, 1))(A, B)
        for ours, ref in zip(g_ours, g_ref):
            # jnp.linalg.cholesky's gradient is symmetrised, as ours.
            np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-10)


def test_vector_right_hand_side_and_nested_vmap_match_jax_numpy():
    with jax.enable_x64(True):
        kA, kB = jax.random.split(jax.random.key(1))
        A = _spd(kA, (3, 4), 9)
        b = jax.random.normal(kB, (3, 4, 9), jnp.float64)
        ours = jax.vmap(jax.vmap(lambda A, b: cho_solve(cholesky(A), b)))(A, b)
        np.testing.assert_allclose(ours, jnp.linalg.solve(A, b[..., None])[..., 0], rtol=1e-10)


def test_factor_shared_by_a_batch_of_right_hand_sides():
    """A factor that `vmap` does not map solves its batch of right-hand sides side by side;
    gradients reach the factor's input from every right-hand side."""
    with jax.enable_x64(True):
        kA, kB = jax.random.split(jax.random.key(2))
        A = _spd(kA, (), 30)
        B = jax.random.normal(kB, (50, 30, 4), jnp.float64)

        def ours(A, B):
            L = cholesky(A)
            return jnp.sum(jax.vmap(lambda b: cho_solve(L, b))(B) ** 2)

        def reference(A, B):
            L = jnp.linalg.cholesky(A)
            return jnp.sum(jax.vmap(lambda b: jax.scipy.linalg.cho_solve((L, True), b))(B) ** 2)

        np.testing.assert_allclose(
            jax.vmap(lambda b: cho_solve(cholesky(A), b))(B), jnp.linalg.solve(A, B), rtol=1e-10
        )
        for ours_grad, ref_grad in zip(
            jax.grad(ours, argnums=(0, 1))(A, B), jax.grad(reference, argnums=(0, 1))(A, B)
        ):
            np.testing.assert_allclose(ours_grad, ref_grad, rtol=1e-8, atol=1e-10)


_CALL = re.compile(r"= \(?(\w+)\[([\d,]*)\].*custom_call_target=\"lapack_\w(potrf|trsm)_ffi\"")


def _lapack_batches(hlo: str) -> list[tuple[str, int, int]]:
    """(kind, batch size, estimated flops a matrix) of each LAPACK Cholesky and triangular
    solve in compiled HLO text; the estimates are jaxlib's (n^3 / 3 and n^2 k)."""
    calls = []
    for call in _CALL.finditer(hlo):
        _, dims, kind = call.groups()
        *batch, n, k = (int(d) for d in dims.split(","))
        calls.append(
            (kind, int(np.prod(batch, dtype=np.int64)), n**3 // 3 if kind == "potrf" else n * n * k)
        )
    return calls


def test_batched_gp_likelihood_gradient_stays_below_the_pool_cost():
    """The gradient of the likelihood of 12 GPs on 64 points, as a batched fit computes it:
    with jax.numpy's Cholesky one call costs 12 * 64^3 / 3 = 1.05e6 flops and would go to the
    thread pool; here each call is a single matrix (run where it is called, whatever its
    cost) or a batch below `POOL_FREE_FLOPS`."""
    capacity, d, fits = 64, 3, 12
    X = jax.random.uniform(jax.random.key(3), (fits, capacity, d))
    y = jax.random.normal(jax.random.key(4), (fits, capacity))
    mask = jnp.arange(capacity) < 50
    params = GPParams(jnp.zeros((fits, d)), jnp.zeros(fits), jnp.full(fits, -4.0))
    grad = jax.vmap(
        jax.grad(lambda p, X, y: neg_log_marginal_likelihood("matern52", p, X, y, mask))
    )
    hlo = jax.jit(grad).lower(params, X, y).compile().as_text()
    calls = _lapack_batches(hlo)
    assert {kind for kind, _, _ in calls} == {"potrf", "trsm"}
    for kind, batch, cost in calls:
        assert batch == 1 or batch * cost < POOL_FREE_FLOPS, (kind, batch, cost)
