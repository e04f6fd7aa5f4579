"""Acquisition functions (for minimisation) and their batched, jitted maximisation.

All values are "larger is better". Inputs are GP posterior means `mu` and standard
deviations `sigma` of standardised outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import erfcx, log_ndtr, ndtr

from evo.bo.gp import jitter_for
from evo.bo.linalg import cholesky
from evo.operators import flat_draw

ACQUISITIONS = ("logei", "ucb", "thompson")

_C1 = 0.5 * math.log(2.0 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2.0)


def log1mexp(x: jax.Array) -> jax.Array:
    """log(1 - exp(x)) for x < 0 (Maechler 2012, "Accurately computing log(1 - exp(-|a|))")."""
    x = jnp.minimum(x, -1e-30)
    return jnp.where(
        x > -math.log(2.0),
        jnp.log(-jnp.expm1(jnp.where(x > -math.log(2.0), x, -1.0))),
        jnp.log1p(-jnp.exp(jnp.where(x > -math.log(2.0), -1.0, x))),
    )


def log_h(z: jax.Array) -> jax.Array:
    """log(phi(z) + z Phi(z)), accurate for very negative z.

    Piecewise form of Ament et al. 2023, "Unexpected Improvements to Expected Improvement
    for Bayesian Optimization" (NeurIPS), eq. (9): direct for z > -1, via the scaled
    complementary error function erfcx below, and the asymptote -z^2/2 - c1 - 2 log|z|
    beyond -1/sqrt(eps).
    """
    eps = jnp.finfo(z.dtype).eps
    big = -1.0 / math.sqrt(eps)
    z_hi = jnp.where(z > -1.0, z, 0.0)
    direct = jnp.log(jnp.exp(-0.5 * z_hi**2 - _C1) + z_hi * ndtr(z_hi))
    z_mid = jnp.clip(z, big, -1.0)
    mid = (
        -0.5 * z_mid**2
        - _C1
        + log1mexp(jnp.log(erfcx(-z_mid / math.sqrt(2.0)) * jnp.abs(z_mid)) + _C2)
    )
    z_lo = jnp.minimum(z, big)
    tail = -0.5 * z_lo**2 - _C1 - 2.0 * jnp.log(jnp.abs(z_lo))
    return jnp.where(z > -1.0, direct, jnp.where(z > big, mid, tail))


def log_expected_improvement(
    mu: jax.Array, sigma: jax.Array, best: jax.Array
) -> jax.Array:
    """log E[max(best - f, 0)] for f ~ N(mu, sigma^2) (minimisation), Ament et al. 2023."""
    z = (best - mu) / sigma
    return log_h(z) + jnp.log(sigma)


def upper_confidence_bound(mu: jax.Array, sigma: jax.Array, beta: float) -> jax.Array:
    """Negated lower confidence bound `-(mu - sqrt(beta) sigma)` (Srinivas et al. 2010)."""
    return -(mu - math.sqrt(beta) * sigma)


def q_expected_improvement(
    mean: jax.Array, cov: jax.Array, best: jax.Array, z: jax.Array
) -> jax.Array:
    """Monte Carlo q-EI, E[max(best - min_j f_j, 0)] for f ~ N(`mean` `(q,)`, `cov` `(q, q)`)
    (minimisation), from base samples `z` `(n, q)` reparameterised as f = mean + L z with
    L the Cholesky factor of `cov` (Wilson, Hutter & Deisenroth 2018, "Maximizing
    acquisition functions for Bayesian optimization"). Fixed `z` make the estimate a
    deterministic, differentiable function of the batch."""
    q = mean.shape[0]
    L = cholesky(cov + jitter_for(cov.dtype) * jnp.eye(q, dtype=cov.dtype))
    f = mean + z @ L.T
    return jnp.mean(jnp.maximum(best - jnp.min(f, axis=1), 0.0))


def log_probability_of_feasibility(
    mu: jax.Array, sigma: jax.Array, threshold: jax.Array
) -> jax.Array:
    """log P(g <= threshold) for g ~ N(mu, sigma^2) (Gardner et al. 2014, constrained BO)."""
    return log_ndtr((threshold - mu) / sigma)


def safe_cholesky(cov: jax.Array, jitter: jax.Array) -> jax.Array:
    """Cholesky factor of `cov` `(..., m, m)` plus `jitter` `(...)` on the diagonal; where
    that still fails, the diagonal factor of the independent marginals."""
    eye = jnp.eye(cov.shape[-1], dtype=cov.dtype)
    L = cholesky(cov + jnp.asarray(jitter)[..., None, None] * eye)
    diag = jnp.sqrt(jnp.maximum(jnp.diagonal(cov, axis1=-2, axis2=-1), 1e-12))
    ok = jnp.all(jnp.isfinite(L), (-2, -1), keepdims=True)
    return jnp.where(ok, L, diag[..., None, :] * eye)


def joint_samples(
    key: jax.Array, mean: jax.Array, cov: jax.Array, jitter: jax.Array, n: int
) -> jax.Array:
    """`n` draws `(n, ..., m)` from N(`mean` `(..., m)`, `cov` `(..., m, m)`) for Thompson
    sampling, with `jitter` `(...)` added to the diagonal; where the Cholesky factorisation
    still fails, the draws fall back to independent marginals."""
    L = safe_cholesky(cov, jitter)
    z = flat_draw(jax.random.normal, key, (n, *mean.shape), mean.dtype)
    return mean + jnp.einsum("...ij,n...j->n...i", L, z)


def distinct_argmins(scores: jax.Array) -> jax.Array:
    """Indices `(q,)` of the minimum of each row of `scores` `(q, m)`, each row skipping the
    columns already taken by the rows before it (so `q <= m` distinct indices)."""

    def pick(taken, s):
        i = jnp.argmin(jnp.where(taken, jnp.inf, s))
        return taken.at[i].set(True), i

    _, idx = jax.lax.scan(pick, jnp.zeros(scores.shape[1], bool), scores)
    return idx


def maximise(
    key: jax.Array,
    acq: Callable[[jax.Array], jax.Array],
    candidates: jax.Array,
    *,
    n_starts: int = 8,
    n_steps: int = 20,
    learning_rate: float = 0.02,
) -> tuple[jax.Array, jax.Array]:
    """Maximise `acq` `(m, d) -> (m,)` over the unit cube: score `candidates` `(m, d)`, then
    run `n_steps` Adam steps from the `n_starts` best ones, clipped to the cube.

    Returns the best point `(d,)` and its value. `key` is unused (kept for symmetry).
    """
    del key
    values = acq(candidates)
    values = jnp.where(jnp.isnan(values), -jnp.inf, values)
    n_starts = min(n_starts, candidates.shape[0])
    _, top = jax.lax.top_k(values, n_starts)
    starts = candidates[top]
    if n_steps > 0:
        opt = optax.adam(learning_rate)

        def loss(U):
            v = acq(U)
            return -jnp.sum(jnp.where(jnp.isfinite(v), v, 0.0))

        def step(carry, _):
            U, s = carry
            g = jax.grad(loss)(U)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            updates, s = opt.update(g, s, U)
            return (jnp.clip(optax.apply_updates(U, updates), 0.0, 1.0), s), None

        (polished, _), _ = jax.lax.scan(
            step, (starts, opt.init(starts)), None, length=n_steps
        )
        pv = acq(polished)
        pv = jnp.where(jnp.isnan(pv), -jnp.inf, pv)
        # keep a start's polished point only where it improved
        better = pv > values[top]
        starts = jnp.where(better[:, None], polished, starts)
        start_values = jnp.where(better, pv, values[top])
    else:
        start_values = values[top]
    i = jnp.argmax(start_values)
    return starts[i], start_values[i]
