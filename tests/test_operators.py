import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.operators.crossover.sbx import cross_sbx
from pymoo.operators.mutation.pm import mut_pm
from scipy.stats import chisquare, ks_2samp

from evo.operators import (
    binary_tournament,
    de_binomial,
    distinct_donors,
    permutation_pairs,
    polynomial_mutation,
    sbx,
    uniform_sample,
)

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
    # Rows left alone by the 0.9 row draw: with 50 variables at 1/50,
    # P(no change) = 0.1 + 0.9 * 0.98^50.
    assert abs((~changed.any(axis=1)).mean() - (0.1 + 0.9 * 0.98**50)) < 0.025


def test_binary_tournament_prefers_rank_then_crowding():
    # Pairs from permutations: each of 4 rows plays twice in every 4 tournaments, against
    # each other row equally often, so row r wins 1/2 * (3 - r) / 3 of them (pairs drawn
    # with replacement would give row 0 7/16 and let a row meet itself).
    a, b = permutation_pairs(jax.random.key(6), 4, 4 * (N // 4))
    blocks = np.concatenate([np.asarray(a).reshape(-1, 4), np.asarray(b).reshape(-1, 4)], axis=1)
    assert np.all(np.sort(blocks, axis=1) == [0, 0, 1, 1, 2, 2, 3, 3])
    assert np.all(np.asarray(a) != np.asarray(b))
    winners = binary_tournament(jax.random.key(7), jnp.arange(4), jnp.zeros(4), N)
    shares = np.bincount(np.asarray(winners), minlength=4) / N
    np.testing.assert_allclose(shares, [1 / 2, 1 / 3, 1 / 6, 0], atol=0.012)
    winners = binary_tournament(jax.random.key(8), jnp.array([0, 0]), jnp.array([1.0, 3.0]), N)
    assert np.all(np.asarray(winners) == 1)


def test_uniform_sample_fills_the_box():
    lb, ub = jnp.array([-5.0, 2.0]), jnp.array([5.0, 2.0])
    X = np.asarray(uniform_sample(jax.random.key(9), lb, ub, 5_000))
    assert X.shape == (5_000, 2)
    assert X[:, 0].min() >= -5 and X[:, 0].max() <= 5 and abs(X[:, 0].mean()) < 0.2
    np.testing.assert_array_equal(X[:, 1], 2.0)


def many_donors(seed, n_draws, pool, n_donors):
    """`n_draws` independent draws of `distinct_donors(key, pool, n_donors)` `(n_draws, N, k)`."""
    draw = jax.jit(jax.vmap(lambda key: distinct_donors(key, pool, n_donors)))
    return np.asarray(draw(jax.random.split(jax.random.key(seed), n_draws)))


de_jit = jax.jit(de_binomial, static_argnames=("cr", "repair"))


def ordered_tuples(donors):
    """Counts of each distinct ordered tuple of one row's donors `(draws, k)`."""
    _, counts = np.unique(donors, axis=0, return_counts=True)
    return counts


def test_distinct_donors_from_the_whole_population_are_uniform_and_never_the_target():
    donors = many_donors(10, 12_000, 5, 3)
    assert donors.shape == (12_000, 5, 3)
    for i in range(5):
        row = donors[:, i]
        assert np.all(row != i)
        assert np.all(np.sort(row, axis=1)[:, 1:] != np.sort(row, axis=1)[:, :-1])
        counts = ordered_tuples(row)
        assert len(counts) == 4 * 3 * 2  # every ordered triple of the other four rows
        assert chisquare(counts).pvalue > 1e-3


def test_distinct_donors_from_a_neighbourhood_table():
    # Row 0 holds itself at position 1, row 1 at the end, row 2 not at all.
    table = np.array([[3, 0, 5, 1], [2, 4, 5, 1], [5, 3, 4, 1], [3, 1, 2, 0], [0, 1, 2, 4],
                      [5, 2, 4, 3]])
    donors = many_donors(11, 12_000, table, 2)
    for i, candidates in enumerate(table):
        allowed = set(candidates) - {i}  # the brute-force candidate set
        row = donors[:, i]
        assert set(np.unique(row)) == allowed
        assert np.all(row[:, 0] != row[:, 1])
        counts = ordered_tuples(row)
        assert len(counts) == len(allowed) * (len(allowed) - 1)
        assert chisquare(counts).pvalue > 1e-3
    with pytest.raises(ValueError, match="3 donors besides the target need more than 3"):
        distinct_donors(jax.random.key(0), table[:, :3], 3)
    with pytest.raises(ValueError, match="more than 3 candidates per row, got 3"):
        distinct_donors(jax.random.key(0), 3, 3)


def de_in_unit_box(seed, n, d, cr):
    """Trials `(n, d)` in [0, 1]^d of targets 0 and donors 1 (base 1 and a zero difference)."""
    zeros, ones = jnp.zeros((n, d)), jnp.ones((n, d))
    trial = de_jit(jax.random.key(seed), zeros, ones, ones, ones, 0.5, cr, zeros[0], ones[0])
    return np.asarray(trial)


def test_de_binomial_with_cr_zero_takes_exactly_the_j_rand_variable():
    n, d = 20_000, 6
    trial = de_in_unit_box(12, n, d, cr=0.0)
    from_donor = trial == 1.0
    np.testing.assert_array_equal(from_donor.sum(axis=1), 1)
    np.testing.assert_array_equal(trial[~from_donor], 0.0)
    assert chisquare(from_donor.sum(axis=0)).pvalue > 1e-3  # j_rand uniform over variables


def test_de_binomial_with_cr_one_is_the_donor():
    key = jax.random.key(13)
    n, d = 500, 4
    X = uniform_sample(key, jnp.zeros(d), jnp.ones(d), 4 * n)
    target, base, first, second = X[:n], X[n:2 * n], X[2 * n:3 * n], X[3 * n:]
    scale = jax.random.uniform(jax.random.key(14), (n, 1))
    wide = jnp.full(d, 10.0)
    trial = de_jit(jax.random.key(15), target, base, first, second, scale, 1.0, -wide, wide)
    # The donor formula in float64; values are within [-1, 2], where float32 rounds at 2e-7.
    expected = np.asarray(base, float) + np.asarray(scale, float) * (
        np.asarray(first, float) - np.asarray(second, float)
    )
    np.testing.assert_allclose(np.asarray(trial), expected, rtol=0, atol=1e-5)


def test_de_binomial_takes_each_variable_with_probability_cr_plus_the_j_rand_share():
    # P(donor) = CR + (1 - CR) / d: 0.44 here; without j_rand it would be 0.3, with
    # pymoo's "only when no variable crossed" 0.3 + 0.7^5 / 5 = 0.334.
    n, d, cr = 40_000, 5, 0.3
    trial = de_in_unit_box(16, n, d, cr)
    expected = cr + (1 - cr) / d
    sigma = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(trial.mean(axis=0) - expected) < 4 * sigma), trial.mean(axis=0)


@pytest.mark.parametrize("repair", ["bounce-back", "clip"])
def test_de_binomial_repair_keeps_the_bounds(repair):
    n = 20_000
    lb, ub = jnp.array([0.0, -1.0, 2.0]), jnp.array([1.0, 1.0, 2.0])
    base = jnp.tile(jnp.array([0.6, 0.5, 2.0]), (n, 1))
    # Differences pushing variable 0 below lb, variable 1 above ub; variable 2 has lb = ub.
    step = jnp.tile(jnp.array([-1.0, 1.0, 1.0]), (n, 1))
    trial = de_jit(jax.random.key(17), base, base, step, -step, 2.0, 1.0, lb, ub, repair=repair)
    trial = np.asarray(trial)
    assert np.all((trial >= np.asarray(lb)) & (trial <= np.asarray(ub)))
    np.testing.assert_array_equal(trial[:, 2], 2.0)
    if repair == "clip":
        np.testing.assert_array_equal(trial[:, :2], np.tile([0.0, 1.0], (n, 1)))
    else:
        # Uniform between the violated bound and the base: [0, 0.6] and [0.5, 1].
        assert np.all(trial[:, 0] <= 0.6) and np.all(trial[:, 1] >= 0.5)
        assert ks_2samp(trial[:, 0], np.random.default_rng(2).uniform(0.0, 0.6, n)).pvalue > 1e-3
        assert ks_2samp(trial[:, 1], np.random.default_rng(3).uniform(0.5, 1.0, n)).pvalue > 1e-3
    # A donor inside the box is left as it is.
    inside = de_jit(jax.random.key(18), base, base, 0.1 * step, 0 * step, 1.0, 1.0, lb, ub,
                    repair=repair)
    np.testing.assert_allclose(np.asarray(inside[:, :2]), np.tile([0.5, 0.6], (n, 1)), atol=1e-6)
    with pytest.raises(ValueError, match="repair must be one of"):
        de_binomial(jax.random.key(0), base, base, step, step, 1.0, 1.0, lb, ub, repair="wrap")


def test_polynomial_mutation_of_rows_on_the_bounds_stays_finite():
    # (x - lb) / (ub - lb) rounds above 1 for some widths; its power must not become NaN.
    lb, ub = jnp.zeros(4), jnp.array([1.5, 10.0, 0.3, 7.0])
    mutate = jax.jit(lambda key, X: polynomial_mutation(key, X, lb, ub, prob=1.0, prob_var=1.0))
    for X in (jnp.tile(ub, (2000, 1)), jnp.tile(lb, (2000, 1))):
        Y = mutate(jax.random.key(0), X)
        assert bool(jnp.all(jnp.isfinite(Y))) and bool(jnp.all((Y >= lb) & (Y <= ub)))


def test_polynomial_mutation_keeps_its_precision_next_to_a_bound():
    # A variable 1e-9 above lb that moves down lands at x (1 - c), c uniform on [0, 1]
    # (eta's power cancels to first order). Summed as 2u + (1 - 2u)(1 - delta)^(eta + 1),
    # float32 rounding made the step noise of about 3e-9 box widths: most such moves came
    # out 0 (clipped), and ZDT6's g never reached 1.
    lb, ub = jnp.zeros(4), jnp.ones(4)
    X = jnp.full((5000, 4), 1e-9, jnp.float32)
    Y = np.asarray(pm_jit(jax.random.key(3), X, lb, ub, eta=20.0, prob=1.0, prob_var=1.0))
    ratio = Y[Y < 1e-9] / 1e-9
    assert len(ratio) > 8000  # about half of the 20,000 variables move down
    assert np.mean(ratio == 0) < 0.001
    assert abs(np.mean(ratio) - 0.5) < 0.02 and abs(np.median(ratio) - 0.5) < 0.03
