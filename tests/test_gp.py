"""GP surrogate of evo.bo: interpolation, masking, ARD fit, log-EI stability."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr

from evo.bo import (
    BayesOpt,
    GPParams,
    fit_gp_batch,
    gp_posterior,
    gp_predict,
    latin_hypercube,
    log_expected_improvement,
    log_h,
    standardise,
)
from evo.bo.gp import fit_gp, kernel_matrix, map_objective

from compile_options import QUICK


def _params(d, ell=0.3, noise=1e-10):
    return GPParams(
        jnp.full((d,), math.log(ell)), jnp.zeros(()), jnp.asarray(math.log(noise))
    )


# Run op by op, the few GP operations of these tests compiled for most of their time.
_lhs = jax.jit(latin_hypercube, static_argnums=(1, 2, 3), compiler_options=QUICK)


@functools.partial(jax.jit, static_argnums=0, compiler_options=QUICK)
def _predict(kernel, params, X, y, mask, Xq):
    """Posterior mean and variance at `Xq` of the GP on the rows of `(X, y)` in `mask`."""
    return gp_predict(kernel, gp_posterior(kernel, params, X, y, mask), Xq)


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_posterior_interpolates_noise_free_data(kernel):
    with jax.enable_x64(True):
        X = _lhs(jax.random.key(0), 12, 2, jnp.float64)
        y = jnp.sin(6 * X[:, 0]) + X[:, 1] ** 2
        ys, _, _ = standardise(y, jnp.ones(12, bool))
        # the data, then a point away from it
        Xq = jnp.concatenate([X, jnp.array([[0.51, 0.51]])])
        mean, var = _predict(kernel, _params(2), X, ys, jnp.ones(12, bool), Xq)
        np.testing.assert_allclose(mean[:12], ys, atol=1e-4)
        assert float(jnp.max(var[:12])) < 1e-4
        # away from the data the variance is clearly positive
        assert float(var[12]) > float(jnp.max(var[:12]))


def test_masked_rows_do_not_change_posterior():
    with jax.enable_x64(True):
        X = _lhs(jax.random.key(1), 10, 2, jnp.float64)
        y = jnp.cos(3 * X[:, 0]) * X[:, 1]
        mask = jnp.ones(10, bool)
        junk_X = jnp.concatenate([X, jnp.full((5, 2), 0.123)])
        junk_y = jnp.concatenate([y, jnp.full(5, 1e3)])
        junk_mask = jnp.concatenate([mask, jnp.zeros(5, bool)])
        p = _params(2, noise=1e-4)
        Xq = jax.random.uniform(jax.random.key(2), (7, 2), jnp.float64)
        m1, v1 = _predict("matern52", p, X, y, mask, Xq)
        m2, v2 = _predict("matern52", p, junk_X, junk_y, junk_mask, Xq)
        np.testing.assert_allclose(m1, m2, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(v1, v2, rtol=1e-9, atol=1e-9)


def test_standardise_uses_only_masked_rows():
    y = jnp.array([1.0, 3.0, 100.0])
    ys, mean, std = standardise(y, jnp.array([True, True, False]))
    np.testing.assert_allclose(ys, [-1.0, 1.0, 0.0], atol=1e-6)
    assert float(mean) == pytest.approx(2.0) and float(std) == pytest.approx(1.0)


def test_batched_fit_recovers_anisotropy():
    """Two outputs fitted as one batched computation: the first varies fast in x0 and slowly
    in x1, the second the other way round; the ARD length scales must say so."""

    @functools.partial(jax.jit, compiler_options=QUICK)
    def fit(design_key, fit_key):
        X = latin_hypercube(design_key, 40, 2)
        Y = jnp.stack(
            [jnp.sin(8 * X[:, 0]) + 0.2 * X[:, 1], 0.2 * X[:, 0] + jnp.sin(8 * X[:, 1])], 1
        )
        masks = jnp.ones(Y.shape, bool)
        Ys = jax.vmap(standardise, in_axes=(1, 1), out_axes=(1, 0, 0))(Y, masks)[0]
        return fit_gp_batch(fit_key, X, Ys, masks, n_restarts=3, n_steps=150)

    params = fit(jax.random.key(3), jax.random.key(4))
    ell = np.exp(np.asarray(params.log_ell))
    assert ell.shape == (2, 2)
    assert ell[0, 0] * 3 < ell[0, 1], ell
    assert ell[1, 1] * 3 < ell[1, 0], ell
    noise = np.exp(np.asarray(params.log_noise))
    assert np.all(noise < 1e-2), noise


def test_fit_gp_rejects_unknown_kernel():
    X = jnp.zeros((3, 1))
    with pytest.raises(ValueError, match="kernel must be one of 'matern52', 'rbf', got 'cubic'"):
        fit_gp(jax.random.key(0), X, jnp.zeros(3), jnp.ones(3, bool), kernel="cubic")
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel_matrix("cubic", _params(1), X, X)


@functools.partial(jax.jit, static_argnames=("method", "n_steps"), compiler_options=QUICK)
def _fit(key, X, y, *, method, n_steps):
    mask = jnp.ones(y.shape, bool)
    params = fit_gp(key, X, y, mask, method=method, n_restarts=3, n_steps=n_steps)
    return params, map_objective("matern52", X, y, mask)(params)


def _ard_sample(key, n, ell):
    """`n` Latin-hypercube points and a draw `(n,)` from the zero-mean Matern-5/2 GP with
    length scales `ell`, unit signal variance and noise variance 1e-4 (float64)."""
    k_x, k_y = jax.random.split(key)
    X = latin_hypercube(k_x, n, len(ell), jnp.float64)
    params = GPParams(jnp.log(jnp.asarray(ell, jnp.float64)), jnp.zeros(()), jnp.zeros(()))
    L = jnp.linalg.cholesky(kernel_matrix("matern52", params, X, X) + 1e-4 * jnp.eye(n))
    return X, L @ jax.random.normal(k_y, (n,), jnp.float64)


@pytest.mark.slow
def test_lbfgs_fit_reaches_adams_objective():
    """On a fixed problem, 20 L-BFGS iterations end at a MAP objective no worse than 200
    Adam steps from the same starts (within 1e-3 nats)."""
    with jax.enable_x64(True):
        X, y = _ard_sample(jax.random.key(5), 40, [0.2, 1.0])
        y = standardise(y, jnp.ones(40, bool))[0]
        _, adam = _fit(jax.random.key(6), X, y, method="adam", n_steps=200)
        _, lbfgs = _fit(jax.random.key(6), X, y, method="lbfgs", n_steps=20)
        assert np.isfinite(float(lbfgs))
        assert float(lbfgs) <= float(adam) + 1e-3, (float(lbfgs), float(adam))


def test_lbfgs_fit_recovers_known_length_scales():
    """Data drawn from a GP with length scales (0.15, 0.6): the fitted ones are within a
    factor 1.5 of them."""
    with jax.enable_x64(True):
        X, y = _ard_sample(jax.random.key(7), 40, [0.15, 0.6])
        y = standardise(y, jnp.ones(40, bool))[0]
        params, _ = _fit(jax.random.key(8), X, y, method="lbfgs", n_steps=20)
        ratio = np.exp(np.asarray(params.log_ell)) / np.array([0.15, 0.6])
        assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), ratio


def test_unknown_fit_method_is_rejected():
    with pytest.raises(ValueError, match="fit_method must be one of 'adam', 'lbfgs', got 'bfgs'"):
        BayesOpt(n_obj=1, lb=[0.0], ub=[1.0], fit_method="bfgs")
    X = jnp.zeros((3, 1))
    with pytest.raises(ValueError, match="method must be one of 'adam', 'lbfgs', got 'sgd'"):
        fit_gp(jax.random.key(0), X, jnp.zeros(3), jnp.ones(3, bool), method="sgd")


def test_log_h_is_stable_and_matches_direct_formula():
    log_h_and_slope = jax.jit(jax.vmap(jax.value_and_grad(log_h)), compiler_options=QUICK)
    with jax.enable_x64(True):
        z = np.linspace(-30.0, 5.0, 351)
        z = z[z > -8]  # where the direct formula is still accurate in float64
        direct = np.log(np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi) + z * ndtr(z))
        np.testing.assert_allclose(log_h_and_slope(jnp.asarray(z))[0], direct,
                                   rtol=1e-8, atol=1e-10)
    z32 = jnp.array([-1e6, -1e4, -100.0, -40.0, -10.0, -1.0, 0.0, 3.0], jnp.float32)
    v, g = log_h_and_slope(z32)
    assert bool(jnp.all(jnp.isfinite(v)))
    assert bool(jnp.all(jnp.diff(v) > 0))  # increasing in z
    assert bool(jnp.all(jnp.isfinite(g))) and bool(jnp.all(g > 0))
    # log-EI far below the incumbent is finite (where plain EI underflows to 0)
    lei = jax.jit(log_expected_improvement, compiler_options=QUICK)(
        jnp.float32(50.0), jnp.float32(1.0), jnp.float32(0.0)
    )
    assert np.isfinite(float(lei)) and float(lei) < -1000
