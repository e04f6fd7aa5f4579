import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

import evo
from evo.problems import DTLZ2, ZDT1
from evo.sorting import (
    auto_method,
    constraint_violation,
    crowding_distance,
    dominance_matrix,
    first_argmax,
    first_argmin,
    lexsort,
    non_dominated_rank,
)

rank_jit = jax.jit(non_dominated_rank, static_argnames=("n_stop", "method"))
lexsort_jit = jax.jit(lexsort)
METHODS = {2: ["tiled", "sweep", "scan"], 3: ["tiled", "sweep"], 4: ["tiled"]}


def brute_force_rank(F: np.ndarray) -> np.ndarray:
    """Peel fronts by pairwise comparison; a row with NaN/inf is beaten by every finite row."""
    finite = np.all(np.isfinite(F), axis=1)

    def dominates(i, j):
        if finite[i] != finite[j]:
            return finite[i]
        if not finite[i]:
            return False
        return np.all(F[i] <= F[j]) and np.any(F[i] < F[j])

    rank = np.full(len(F), -1)
    front = 0
    while np.any(rank < 0):
        left = np.flatnonzero(rank < 0)
        current = [j for j in left if not any(dominates(i, j) for i in left if i != j)]
        rank[current] = front
        front += 1
    return rank


def with_ties_and_nan(seed: int, n: int, m: int, nan_rate: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 4, size=(n, m)).astype(np.float32)  # small range: many ties
    F[rng.random((n, m)) < nan_rate] = np.nan
    F[rng.random(n) < nan_rate / 2, 0] = np.inf
    return F


@pytest.mark.parametrize("seed,n,m", [(0, 40, 2), (1, 60, 3), (2, 50, 5), (3, 1, 2)])
def test_ranks_match_brute_force(seed, n, m):
    F = with_ties_and_nan(seed, n, m, nan_rate=0.05)
    np.testing.assert_array_equal(np.asarray(rank_jit(jnp.asarray(F))), brute_force_rank(F))


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 24),
    st.integers(1, 4),
    st.sampled_from([0.0, 0.1, 0.5]),
)
def test_ranks_match_brute_force_property(seed, n, m, nan_rate):
    F = with_ties_and_nan(seed, n, m, nan_rate)
    # Pad to a fixed shape so hypothesis examples reuse one compilation per m: padded
    # rows are NaN, which rank last and cannot change the ranks of the real rows.
    padded = np.full((24, m), np.nan, np.float32)
    padded[:n] = F
    rank = np.asarray(rank_jit(jnp.asarray(padded)))[:n]
    np.testing.assert_array_equal(rank, brute_force_rank(F))


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 24),
    st.sampled_from([2, 3, 4]),
    st.sampled_from([0.0, 0.1, 0.5]),
    st.booleans(),
)
def test_every_method_matches_the_matrix_form(seed, n, m, nan_rate, constrained):
    F = with_ties_and_nan(seed, n, m, nan_rate)
    G = np.random.default_rng(seed).integers(-3, 2, (n, 2)).astype(np.float32)
    violation = np.asarray(constraint_violation(jnp.asarray(G))) if constrained else np.zeros(n)
    # Padded to one shape per m (one compilation each); NaN rows rank last whatever the method.
    padded = np.full((24, m), np.nan, np.float32)
    padded[:n] = F
    padded_violation = np.zeros(24, np.float32)
    padded_violation[:n] = violation
    F, violation = jnp.asarray(padded), jnp.asarray(padded_violation)
    expected = np.asarray(rank_jit(F, n_stop=12, violation=violation, method="matrix"))
    for method in METHODS[m]:
        rank = rank_jit(F, n_stop=12, violation=violation, method=method)
        np.testing.assert_array_equal(np.asarray(rank), expected, err_msg=method)


@pytest.mark.parametrize("m", [2, 3, 4])
def test_methods_agree_on_larger_random_sets(m):
    rng = np.random.default_rng(m)
    continuous = rng.random((300, m))
    near_front = continuous / np.linalg.norm(continuous, axis=1, keepdims=True)
    near_front *= 1 + 0.01 * rng.random((300, 1))  # few fronts, large ones
    F = jnp.asarray(np.concatenate([continuous, near_front, np.round(continuous, 1)]))
    for n_stop in (None, 450):
        expected = np.asarray(rank_jit(F, n_stop=n_stop, method="matrix"))
        for method in METHODS[m]:
            rank = rank_jit(F, n_stop=n_stop, method=method)
            np.testing.assert_array_equal(np.asarray(rank), expected, err_msg=method)


def test_auto_method_follows_the_documented_thresholds():
    assert auto_method(200, 2) == "sweep" and auto_method(100_000, 2) == "scan"  # on CPU
    assert auto_method(256, 3) == "matrix" and auto_method(257, 3) == "sweep"
    assert auto_method(257, 5) == "tiled"
    with pytest.raises(ValueError, match="method='sweep' does not handle 4 objectives"):
        non_dominated_rank(jnp.zeros((5, 4)), method="sweep")


@pytest.mark.parametrize("m", [2, 3, 4])
def test_sorting_memory_stays_linear_at_large_n(m):
    # 200,000 rows: a dominance matrix alone would be 40 GB; the compiled sort needs MBs.
    compiled = rank_jit.lower(jax.ShapeDtypeStruct((200_000, m), jnp.float32), n_stop=100_000).compile()
    assert compiled.memory_analysis().temp_size_in_bytes < 2**27


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nsga2", "nsga3"])
def test_a_generation_at_population_100k_needs_no_n_by_n_tensor(name):
    if name == "nsga2":
        problem = ZDT1()
        algo = evo.NSGA2(pop_size=100_000, n_obj=2, lb=problem.lb, ub=problem.ub)
    else:
        problem = DTLZ2(n_var=12, n_obj=3)
        algo = evo.NSGA3(n_obj=3, lb=problem.lb, ub=problem.ub, pop_size=100_000,
                         ref_dirs=evo.reference_directions(3, 100_000))

    def generation(state):
        X, state = algo.ask(state)
        return algo.tell(state, problem.evaluate(X))

    state = jax.eval_shape(algo.init, jax.random.key(0))
    compiled = jax.jit(generation).lower(state).compile()
    assert compiled.memory_analysis().temp_size_in_bytes < 2**30


def test_duplicates_share_a_rank_and_nan_rows_come_last():
    F = jnp.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [jnp.nan, 0.0], [3.0, 3.0], [-jnp.inf, 0.0]])
    np.testing.assert_array_equal(np.asarray(non_dominated_rank(F)), [0, 0, 0, 2, 1, 2])


def test_n_stop_ranks_only_what_selection_needs():
    F = jnp.asarray(np.random.default_rng(4).random((200, 2)), jnp.float32)
    full = np.asarray(rank_jit(F))
    partial = np.asarray(rank_jit(F, n_stop=50))
    ranked = partial < len(F)
    assert ranked.sum() >= 50
    np.testing.assert_array_equal(partial[ranked], full[ranked])
    assert full[~ranked].min() > full[ranked].max()


def test_dominance_matrix_is_irreflexive_and_antisymmetric():
    F = jnp.asarray(np.random.default_rng(5).integers(0, 3, (30, 3)), jnp.float32)
    D = np.asarray(dominance_matrix(F))
    assert not D.diagonal().any()
    assert not (D & D.T).any()


def test_crowding_matches_pymoo_on_one_front():
    rng = np.random.default_rng(6)
    f1 = np.sort(rng.random(25))
    F = np.stack([f1, 1.0 - np.sqrt(f1), rng.random(25)], axis=1)  # distinct values
    ours = np.asarray(crowding_distance(jnp.asarray(F), jnp.zeros(25, jnp.int32)))
    theirs = calc_crowding_distance(F) * F.shape[1]  # pymoo averages over objectives
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isfinite(ours), finite)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-5)


def test_crowding_is_computed_per_front():
    front_a = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    front_b = front_a + 10.0
    F = jnp.asarray(np.concatenate([front_a, front_b]))
    rank = jnp.array([0, 0, 0, 1, 1, 1])
    cd = np.asarray(crowding_distance(F, rank))
    np.testing.assert_allclose(cd, [np.inf, 2.0, np.inf, np.inf, 2.0, np.inf])


SPECIAL_FLOATS = np.array([-np.inf, -1.5, -0.0, 0.0, 1e-30, 2.0, np.inf, np.nan], np.float32)


# A few lengths, so that the jitted sort compiles a few times rather than once per example.
@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([1, 2, 7, 64, 300]))
def test_lexsort_equals_jnp_lexsort(seed, n):
    # Ties, signed zeros, infinities and NaN in float keys; negative ints; bools.
    rng = np.random.default_rng(seed)
    floats = rng.choice(SPECIAL_FLOATS, n)
    normal = rng.standard_normal(n).astype(np.float32)
    ints = rng.integers(-3, 3, n).astype(np.int32)
    bools = rng.random(n) < 0.5
    for keys in [(floats,), (normal, ints), (ints, floats, bools), (bools, normal)]:
        np.testing.assert_array_equal(lexsort_jit(keys), jnp.lexsort(keys))



def test_first_argmin_and_argmax_equal_jnps_with_ties_infs_nans_and_signed_zeros():
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (400, 7, 9)).astype(np.float64)
    for value, share in ((np.inf, 0.1), (-np.inf, 0.1), (np.nan, 0.03), (-0.0, 0.1)):
        x[rng.random(x.shape) < share] = value
    x[0] = np.nan  # a whole slice of NaN
    boolean = x > 0
    boolean[1] = False  # no True: argmax 0
    boolean[2] = True  # no False: argmin 0
    for array in (jnp.asarray(x, jnp.float32), jnp.asarray(boolean)):
        for axis in (0, 2):
            for ours, theirs in ((first_argmin, jnp.argmin), (first_argmax, jnp.argmax)):
                result = ours(array, axis)
                assert result.dtype == jnp.int32
                np.testing.assert_array_equal(result, theirs(array, axis))
