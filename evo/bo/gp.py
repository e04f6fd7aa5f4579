"""Gaussian-process surrogates in JAX: ARD kernels, masked fixed-size data, batched fits.

Data live in fixed-size buffers `X` `(capacity, d)`, `y` `(capacity,)` with a boolean `mask`
`(capacity,)`, so every function here has static shapes and stays jittable as data arrive.
Inputs are expected in the unit cube (`to_unit`); targets are standardised over the masked
rows (`standardise`). Masked-out rows are decoupled: their kernel rows and columns become
those of the identity and their targets 0, so they add nothing to the marginal likelihood
or to the posterior (Rasmussen & Williams, "Gaussian Processes for Machine Learning", 2006,
Algorithm 2.1 for the Cholesky-based posterior and log marginal likelihood).

Hyperparameters are kept in log space (`GPParams`) and fitted by maximising the log marginal
likelihood plus weak log-normal priors (`log_prior`), with optax Adam or L-BFGS from several
starts batched by `vmap`; `fit_gp_batch` fits one independent GP per output column as one
computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from evo.bo.linalg import cho_solve, cholesky, solve_lower
from evo.checks import check_choice

KERNELS = ("matern52", "rbf")
FIT_METHODS = ("adam", "lbfgs")

# Box for the log hyperparameters (inputs in [0, 1]^d, standardised outputs).
LOG_ELL_BOUNDS = (math.log(1e-2), math.log(1e2))
LOG_SF2_BOUNDS = (math.log(1e-2), math.log(1e2))
LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(1.0))
LBFGS_LINESEARCH_STEPS = 15


class GPParams(NamedTuple):
    """Log hyperparameters of one GP (leading batch axes allowed).

    Attributes:
        log_ell: `(d,)` log ARD length scales (in unit-cube coordinates).
        log_sf2: `()` log signal variance.
        log_noise: `()` log noise variance (of standardised outputs).
    """

    log_ell: jax.Array
    log_sf2: jax.Array
    log_noise: jax.Array


class GPPosterior(NamedTuple):
    """What prediction needs: data, hyperparameters and the Cholesky factor."""

    X: jax.Array  # (capacity, d) unit-cube inputs
    mask: jax.Array  # (capacity,) bool, rows that count
    params: GPParams
    L: jax.Array  # (capacity, capacity) Cholesky factor of the masked K + noise I
    alpha: jax.Array  # (capacity,) (K + noise I)^-1 y
    y: jax.Array  # (capacity,) standardised targets, 0 where masked


def to_unit(X: jax.Array, lb, ub) -> jax.Array:
    """Map `X` from the box `[lb, ub]` to the unit cube (zero-width dimensions map to 0)."""
    lb, ub = jnp.asarray(lb, X.dtype), jnp.asarray(ub, X.dtype)
    width = ub - lb
    return jnp.where(width > 0, (X - lb) / jnp.where(width > 0, width, 1.0), 0.0)


def from_unit(U: jax.Array, lb, ub) -> jax.Array:
    """Inverse of `to_unit`."""
    lb, ub = jnp.asarray(lb, U.dtype), jnp.asarray(ub, U.dtype)
    return lb + U * (ub - lb)


def standardise(
    y: jax.Array, mask: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`(y - mean) / std` over the masked rows of `y` `(n,)` (0 elsewhere), mean and std."""
    n = jnp.maximum(jnp.sum(mask), 1)
    y0 = jnp.where(mask, y, 0.0)
    mean = jnp.sum(y0) / n
    var = jnp.sum(jnp.where(mask, (y0 - mean) ** 2, 0.0)) / n
    std = jnp.where(var > 0, jnp.sqrt(jnp.where(var > 0, var, 1.0)), 1.0)
    return jnp.where(mask, (y0 - mean) / std, 0.0), mean, std


def kernel_matrix(
    kernel: str, params: GPParams, A: jax.Array, B: jax.Array
) -> jax.Array:
    """Covariance `(n, m)` between rows of `A` `(n, d)` and `B` `(m, d)`."""
    ell = jnp.exp(params.log_ell)
    diff = (A[:, None, :] - B[None, :, :]) / ell
    r2 = jnp.sum(diff**2, axis=-1)
    sf2 = jnp.exp(params.log_sf2)
    if kernel == "rbf":
        return sf2 * jnp.exp(-0.5 * r2)
    if kernel == "matern52":
        # sqrt with a safe gradient at r = 0.
        r = jnp.sqrt(jnp.where(r2 > 1e-30, r2, 1.0)) * (r2 > 1e-30)
        s5r = math.sqrt(5.0) * r
        return sf2 * (1.0 + s5r + 5.0 / 3.0 * r2) * jnp.exp(-s5r)
    raise ValueError(f"unknown kernel {kernel!r}; known kernels: {', '.join(KERNELS)}")


def jitter_for(dtype) -> float:
    return 1e-6 if jnp.finfo(dtype).bits > 32 else 1e-5


def _masked_cov(
    kernel: str, params: GPParams, X: jax.Array, mask: jax.Array
) -> jax.Array:
    K = kernel_matrix(kernel, params, X, X)
    pair = mask[:, None] & mask[None, :]
    eye = jnp.eye(X.shape[0], dtype=X.dtype)
    noise = jnp.exp(params.log_noise) + jitter_for(X.dtype)
    return jnp.where(pair, K + noise * eye, eye)


def neg_log_marginal_likelihood(
    kernel: str, params: GPParams, X: jax.Array, y: jax.Array, mask: jax.Array
) -> jax.Array:
    """`-log p(y | X, params)` over the masked rows (R&W Algorithm 2.1), `y` standardised."""
    C = _masked_cov(kernel, params, X, mask)
    L = cholesky(C)
    y = jnp.where(mask, y, 0.0)
    v = solve_lower(L, y)
    n = jnp.sum(mask)
    return (
        0.5 * jnp.sum(v**2)
        + jnp.sum(jnp.log(jnp.diagonal(L)))
        + 0.5 * n * math.log(2.0 * math.pi)
    )


def log_prior(params: GPParams) -> jax.Array:
    """Log density (up to a constant) of the weak priors: independent normals on the log
    hyperparameters, log length scale N(log 0.5, 1.5^2) per dimension, log signal variance
    N(0, 1.5^2), log noise variance N(log 1e-3, 3^2). They keep the fit away from
    degenerate corners with few data."""
    lp_ell = -0.5 * jnp.sum(((params.log_ell - math.log(0.5)) / 1.5) ** 2)
    lp_sf2 = -0.5 * (params.log_sf2 / 1.5) ** 2
    lp_noise = -0.5 * ((params.log_noise - math.log(1e-3)) / 3.0) ** 2
    return lp_ell + lp_sf2 + lp_noise


def clip_params(params: GPParams) -> GPParams:
    return GPParams(
        jnp.clip(params.log_ell, *LOG_ELL_BOUNDS),
        jnp.clip(params.log_sf2, *LOG_SF2_BOUNDS),
        jnp.clip(params.log_noise, *LOG_NOISE_BOUNDS),
    )


def default_params(d: int, dtype=None) -> GPParams:
    dtype = dtype or jnp.result_type(float)
    return GPParams(
        jnp.full((d,), math.log(0.5), dtype),
        jnp.zeros((), dtype),
        jnp.asarray(math.log(1e-3), dtype),
    )


def _random_params(key: jax.Array, d: int, dtype) -> GPParams:
    k1, k2, k3 = jax.random.split(key, 3)
    return GPParams(
        jax.random.uniform(k1, (d,), dtype, math.log(0.05), math.log(2.0)),
        jax.random.uniform(k2, (), dtype, math.log(0.3), math.log(3.0)),
        jax.random.uniform(k3, (), dtype, math.log(1e-5), math.log(1e-2)),
    )


def map_objective(
    kernel: str, X: jax.Array, y: jax.Array, mask: jax.Array
) -> Callable[[GPParams], jax.Array]:
    """The fit's objective, `params -> -log p(y | X, params) - log_prior(params)`."""

    def objective(params: GPParams) -> jax.Array:
        return neg_log_marginal_likelihood(kernel, params, X, y, mask) - log_prior(params)

    return objective


def adam_descent(
    objective: Callable[[GPParams], jax.Array],
    start: GPParams,
    n_steps: int,
    learning_rate: float,
) -> GPParams:
    """`n_steps` Adam steps on `objective` from `start`, projected onto the box after each
    (non-finite gradient entries count as 0)."""
    opt = optax.adam(learning_rate)

    def step(carry, _):
        params, opt_state = carry
        grad = jax.grad(objective)(params)
        grad = jax.tree.map(lambda g: jnp.where(jnp.isfinite(g), g, 0.0), grad)
        updates, opt_state = opt.update(grad, opt_state, params)
        return (clip_params(optax.apply_updates(params, updates)), opt_state), None

    (params, _), _ = jax.lax.scan(step, (start, opt.init(start)), None, length=n_steps)
    return params


def lbfgs_descent(
    objective: Callable[[GPParams], jax.Array], start: GPParams, n_steps: int
) -> GPParams:
    """`n_steps` iterations of optax's L-BFGS on `objective` from `start`, unconstrained,
    each with a backtracking (Armijo) line search of at most `LBFGS_LINESEARCH_STEPS`
    steps; returns the iterate with the lowest finite objective (`start` if none is).

    The line search hands back the objective and gradient at the point it accepts, so an
    iteration evaluates the objective only inside it. optax's zoom line search is not used:
    batched by `vmap` over 24 or more restarts, it deadlocked XLA's CPU runtime (jaxlib
    0.10.2); on the fits measured the backtracking search reaches the same optimum.
    """
    opt = optax.lbfgs(
        linesearch=optax.scale_by_backtracking_linesearch(
            LBFGS_LINESEARCH_STEPS, store_grad=True
        )
    )
    value, grad = jax.value_and_grad(objective)(start)
    best_value = jnp.where(jnp.isfinite(value), value, jnp.inf)

    def step(carry, _):
        params, opt_state, value, grad, best, best_value = carry
        updates, opt_state = opt.update(
            grad, opt_state, params, value=value, grad=grad, value_fn=objective
        )
        params = optax.apply_updates(params, updates)
        value = optax.tree.get(opt_state, "value")
        grad = optax.tree.get(opt_state, "grad")
        better = jnp.isfinite(value) & (value < best_value)
        best = jax.tree.map(lambda p, b: jnp.where(better, p, b), params, best)
        best_value = jnp.where(better, value, best_value)
        return (params, opt_state, value, grad, best, best_value), None

    carry = (start, opt.init(start), value, grad, start, best_value)
    (*_, best, _), _ = jax.lax.scan(step, carry, None, length=n_steps)
    return best


def fit_gp(
    key: jax.Array,
    X: jax.Array,
    y: jax.Array,
    mask: jax.Array,
    *,
    kernel: str = "matern52",
    method: str = "adam",
    n_restarts: int = 4,
    n_steps: int = 100,
    learning_rate: float = 0.05,
    init: GPParams | None = None,
) -> GPParams:
    """Maximum-a-posteriori hyperparameters of one GP on unit-cube `X` `(n, d)` and
    standardised `y` `(n,)` (rows where `mask` is False ignored).

    `n_restarts` starts (the first is `init`, e.g. the previous fit, when given) each run
    `n_steps` steps of `method`, batched with `vmap`: "adam" (`adam_descent` at
    `learning_rate`) or "lbfgs" (`lbfgs_descent`; `learning_rate` unused). Each result is
    projected onto the hyperparameter box; a start whose result has a non-finite objective
    keeps its starting point. The start with the best final objective wins.
    """
    check_choice("kernel", kernel, KERNELS)
    check_choice("method", method, FIT_METHODS)
    d = X.shape[1]
    starts = jax.vmap(lambda k: _random_params(k, d, X.dtype))(
        jax.random.split(key, n_restarts)
    )
    first = default_params(d, X.dtype) if init is None else init
    starts = jax.tree.map(lambda s, f: s.at[0].set(f.astype(s.dtype)), starts, first)
    objective = map_objective(kernel, X, y, mask)

    def run_one(start):
        if method == "lbfgs":
            params = lbfgs_descent(objective, start, n_steps)
        else:
            params = adam_descent(objective, start, n_steps, learning_rate)
        params = clip_params(params)
        value = objective(params)
        finite = jnp.isfinite(value)
        params = jax.tree.map(lambda p, s: jnp.where(finite, p, s), params, start)
        return params, jnp.where(finite, value, objective(start))

    params, values = jax.vmap(run_one)(starts)
    values = jnp.where(jnp.isfinite(values), values, jnp.inf)
    best = jnp.argmin(values)
    return jax.tree.map(lambda t: t[best], params)


def fit_gp_batch(
    key: jax.Array,
    X: jax.Array,
    Y: jax.Array,
    masks: jax.Array,
    *,
    kernel: str = "matern52",
    method: str = "adam",
    n_restarts: int = 4,
    n_steps: int = 100,
    learning_rate: float = 0.05,
    init: GPParams | None = None,
) -> GPParams:
    """One independent GP per column of standardised `Y` `(n, k)` with masks `(n, k)`,
    fitted as one batched computation (`fit_gp`); returns params with a leading `(k,)`
    axis."""
    k = Y.shape[1]
    keys = jax.random.split(key, k)

    def one(key, y, mask, p0):
        return fit_gp(
            key,
            X,
            y,
            mask,
            kernel=kernel,
            method=method,
            n_restarts=n_restarts,
            n_steps=n_steps,
            learning_rate=learning_rate,
            init=p0,
        )

    if init is None:
        init = jax.tree.map(
            lambda t: jnp.broadcast_to(t, (k, *t.shape)),
            default_params(X.shape[1], X.dtype),
        )
    return jax.vmap(one)(keys, Y.T, masks.T, init)


def gp_posterior(
    kernel: str, params: GPParams, X: jax.Array, y: jax.Array, mask: jax.Array
) -> GPPosterior:
    """Cholesky factor and weights for prediction from masked data (standardised `y`)."""
    C = _masked_cov(kernel, params, X, mask)
    L = cholesky(C)
    y = jnp.where(mask, y, 0.0)
    alpha = cho_solve(L, y)
    return GPPosterior(X=X, mask=mask, params=params, L=L, alpha=alpha, y=y)


def _projected(
    kernel: str, post: GPPosterior, Xq: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Cross-covariances `(m, capacity)` of `Xq` `(m, d)` with the data and their
    whitened form `L^-1 K` `(capacity, m)`."""
    Ks = kernel_matrix(kernel, post.params, Xq, post.X) * post.mask[None, :]
    return Ks, solve_lower(post.L, Ks.T)


def gp_predict(
    kernel: str, post: GPPosterior, Xq: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and latent variance (noise excluded) `(m,)` at `Xq` `(m, d)`."""
    Ks, v = _projected(kernel, post, Xq)
    prior = jnp.exp(post.params.log_sf2)
    var = jnp.maximum(prior - jnp.sum(v**2, axis=0), 1e-12)
    return Ks @ post.alpha, var


def gp_joint(
    kernel: str, post: GPPosterior, Xq: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Posterior mean `(m,)` and covariance `(m, m)` at `Xq` `(m, d)` (latent, noise-free)."""
    mean, cov, _ = gp_joint_with(kernel, post, Xq, Xq[:0])
    return mean, cov


def gp_joint_with(
    kernel: str, post: GPPosterior, Xq: jax.Array, B: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Posterior mean `(m,)` and covariance `(m, m)` at `Xq` `(m, d)` and the posterior
    cross-covariance `(m, b)` with the points `B` `(b, d)` (latent, noise-free)."""
    Ks, v = _projected(kernel, post, Xq)
    _, vb = _projected(kernel, post, B)
    cov = kernel_matrix(kernel, post.params, Xq, Xq) - v.T @ v
    cross = kernel_matrix(kernel, post.params, Xq, B) - v.T @ vb
    return Ks @ post.alpha, cov, cross
