import jax
import jax.numpy as jnp
import numpy as np
from pymoo.operators.crossover.sbx import cross_sbx
from pymoo.operators.mutation.pm import mut_pm
from scipy.stats import ks_2samp

from evo.operators import binary_tournament, polynomial_mutation, sbx, uniform_sample

N = 20_000
LB, UB = jnp.zeros(3), jnp.ones(3)
sbx_jit = jax.jit(sbx, static_argnames=("eta", "prob", "prob_var"))
pm_jit = jax.jit(polynomial_mutation, static_argnames=("eta", "prob", "prob_var"))


def parents():
    a = jnp.tile(jnp.array([0.2, 0.5, 0.05]), (N, 1))
    b = jnp.tile(jnp.array([0.4, 0.5, 0.95]), (N, 1))
    return a, b


def test_sbx_children_follow_pymoo_distribution():
    a, b = parents()
    c1, c2 = sbx_jit(jax.random.key(0), a, b, LB, UB, eta=15.0, prob=1.0, prob_var=1.0)
    X = np.stack([np.asarray(a, float), np.asarray(b, float)])
    theirs = cross_sbx(
        X, np.zeros(3), np.ones(3), np.full((N, 1), 15.0), np.full((N, 1), 1.0),
        np.full((N, 1), 0.5), random_state=np.random.default_rng(0),
    )
    ours = np.concatenate([np.asarray(c1), np.asarray(c2)])
    theirs = theirs.reshape(-1, 3)
    for var in (0, 2):  # var 1 has equal parents: unchanged in both
        assert ks_2samp(ours[:, var], theirs[:, var]).pvalue > 1e-3
    np.testing.assert_array_equal(ours[:, 1], 0.5)


def test_sbx_keeps_bounds_and_preserves_the_mean_far_from_them():
    a, b = parents()
    c1, c2 = sbx_jit(jax.random.key(1), a, b, LB, UB, eta=2.0, prob=1.0, prob_var=1.0)
    for c in (c1, c2):
        assert jnp.all((c >= LB) & (c <= UB))
    wide_lb, wide_ub = jnp.full(3, -1e6), jnp.full(3, 1e6)
    c1, c2 = sbx_jit(jax.random.key(2), a, b, wide_lb, wide_ub, eta=15.0, prob=1.0, prob_var=1.0)
    np.testing.assert_allclose(np.asarray(c1 + c2), np.asarray(a + b), atol=1e-5)


def test_sbx_with_zero_probability_returns_the_parents():
    a, b = parents()
    c1, c2 = sbx_jit(jax.random.key(3), a, b, LB, UB, eta=15.0, prob=0.0, prob_var=0.5)
    np.testing.assert_array_equal(np.asarray(c1), np.asarray(a))
    np.testing.assert_array_equal(np.asarray(c2), np.asarray(b))


def test_polynomial_mutation_follows_pymoo_distribution():
    X = jnp.tile(jnp.array([0.1, 0.5, 0.97]), (N, 1))
    ours = np.asarray(pm_jit(jax.random.key(4), X, LB, UB, eta=20.0, prob=1.0, prob_var=1.0))
    theirs = mut_pm(
        np.asarray(X, float), np.zeros(3), np.ones(3), np.full(N, 20.0), np.ones(N), False,
        random_state=np.random.default_rng(1),
    )
    for var in range(3):
        assert ks_2samp(ours[:, var], theirs[:, var]).pvalue > 1e-3
    assert np.all((ours >= 0) & (ours <= 1))


def test_polynomial_mutation_rates_per_row_and_per_variable():
    X = uniform_sample(jax.random.key(5), jnp.zeros(50), jnp.ones(50), 4_000)
    Y = pm_jit(jax.random.key(6), X, jnp.zeros(50), jnp.ones(50), eta=20.0, prob=0.9, prob_var=None)
    changed = np.asarray(Y != X)
    assert abs(changed.mean() - 0.9 / 50) < 0.002
    # Rows left alone by the 0.9 row draw: with 50 variables at 1/50, P(no change) = 0.1 + 0.9 * 0.98^50.
    assert abs((~changed.any(axis=1)).mean() - (0.1 + 0.9 * 0.98**50)) < 0.025


def test_binary_tournament_prefers_rank_then_crowding():
    winners = binary_tournament(jax.random.key(7), jnp.array([0, 1]), jnp.zeros(2), N)
    # The better of two uniform picks from {0, 1} is 0 unless both picks are 1.
    assert abs(float(jnp.mean(winners == 0)) - 0.75) < 0.015
    winners = binary_tournament(jax.random.key(8), jnp.array([0, 0]), jnp.array([1.0, 3.0]), N)
    assert abs(float(jnp.mean(winners == 1)) - 0.75) < 0.015


def test_uniform_sample_fills_the_box():
    lb, ub = jnp.array([-5.0, 2.0]), jnp.array([5.0, 2.0])
    X = np.asarray(uniform_sample(jax.random.key(9), lb, ub, 5_000))
    assert X.shape == (5_000, 2)
    assert X[:, 0].min() >= -5 and X[:, 0].max() <= 5 and abs(X[:, 0].mean()) < 0.2
    np.testing.assert_array_equal(X[:, 1], 2.0)
