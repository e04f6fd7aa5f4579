"""The genetic family's duplicate elimination: `repeats`, `new_first`, and the asks of
the algorithms that use it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evo import NSGA2, RVEA, SPEA2
from evo.genetic import new_first, repeats

from compile_options import QUICK


def test_repeats_are_the_rows_equal_to_an_earlier_row():
    rng = np.random.default_rng(0)
    # Rows on a coarse grid repeat often; some differ from others in one variable only.
    X = rng.integers(0, 3, (60, 4)).astype(np.float32) / 2
    X[40:45, 0] += 1e-6
    X[50:55] = np.where(X[:5] == 0, -0.0, X[:5])  # equal to rows 0-4 though not bitwise
    ours = np.asarray(jax.jit(repeats, static_argnums=1, compiler_options=QUICK)(X, 20))
    expected = [np.any(np.all(X[:i] == X[i], axis=1)) for i in range(20, 60)]
    np.testing.assert_array_equal(ours, expected)
    assert 5 < ours.sum() < 40


def test_new_children_come_first_in_their_order():
    X = jnp.arange(30.0).reshape(10, 3)
    new = 50.0 + jnp.arange(30.0).reshape(10, 3)
    # Copies of the population, a repeat of an earlier child, then new rows.
    pool = jnp.concatenate([X[:3], new[:2], new[:1], X[3:5], new[2:7]])
    out = np.asarray(jax.jit(new_first, static_argnums=2)(X, pool, 8))
    np.testing.assert_array_equal(out[:7], new[:7])
    np.testing.assert_array_equal(out[7], X[0])  # short of new ones: copies, in order
    np.testing.assert_array_equal(new_first(X, new, 10), new)


def copies_among(children, X):
    """How many of `children` `(c, d)` equal a row of `X` or an earlier child."""
    seen = [tuple(row) for row in np.asarray(X)]
    count = 0
    for row in map(tuple, np.asarray(children)):
        count += row in seen
        seen.append(row)
    return count


@pytest.mark.parametrize("cls", [NSGA2, SPEA2, RVEA])
def test_children_of_a_converged_population_copy_no_row(cls):
    # Two distinct rows, each 20 times: a pair of equal parents gives an equal child
    # unless one of its 8 variables mutates (about a third do not). Every ask path:
    # the base tournament, a mating selection of its own, an ask of its own.
    box = {"n_obj": 2, "lb": np.zeros(8), "ub": np.ones(8), "pop_size": 40}
    algo = cls(**box, **({"n_gen": 10} if cls is RVEA else {}))
    state = algo.init(jax.random.key(0))
    n = state.X.shape[0]
    X = jnp.tile(jnp.linspace(0.2, 0.8, 16).reshape(2, 8), (n // 2, 1))
    state = state.replace(X=X, **({"held": jnp.ones(n, bool)} if cls is RVEA else {}))
    keys = jax.random.split(jax.random.key(1))
    children = jax.jit(algo.breed, static_argnums=3)(*keys, state, 40)
    assert children.shape == (40, 8)
    assert copies_among(children, X) == 0
    if cls is NSGA2:
        kept = NSGA2(**box, eliminate_duplicates=False)
        assert copies_among(jax.jit(kept.breed, static_argnums=3)(*keys, state, 40), X) >= 3
