"""Constraint handling: constrained domination, constrained problems, feasible-only fronts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.problems import get_problem as pymoo_problem

import evo
from evo.problems import C1DTLZ1, C2DTLZ2, ZDT1
from evo.sorting import constraint_violation, non_dominated_rank

rank_jit = jax.jit(non_dominated_rank, static_argnames="n_stop")


def brute_force_constrained_rank(F: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Feasible rows by Pareto fronts, then infeasible rows by increasing violation."""
    feasible = violation == 0
    rank = np.full(len(F), -1)
    front = 0
    left = set(np.flatnonzero(feasible))
    while left:
        current = [
            j for j in left
            if not any(np.all(F[i] <= F[j]) and np.any(F[i] < F[j]) for i in left if i != j)
        ]
        rank[current] = front
        left -= set(current)
        front += 1
    for value in np.unique(violation[~feasible]):
        rank[violation == value] = front
        front += 1
    return rank


@pytest.mark.parametrize("seed", range(4))
def test_constrained_ranks_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 4, (40, 2)).astype(np.float32)
    G = rng.integers(-2, 3, (40, 2)).astype(np.float32)
    violation = np.asarray(constraint_violation(jnp.asarray(G)))
    rank = rank_jit(jnp.asarray(F), violation=jnp.asarray(violation))
    np.testing.assert_array_equal(np.asarray(rank), brute_force_constrained_rank(F, violation))


def test_violation_sums_positive_parts_and_nan_is_worst():
    G = jnp.array([[-1.0, 0.0], [0.5, 2.0], [jnp.nan, -1.0]])
    np.testing.assert_array_equal(np.asarray(constraint_violation(G)), [0.0, 2.5, np.inf])


@pytest.mark.parametrize("ours,name", [(C1DTLZ1(n_var=12), "c1dtlz1"), (C2DTLZ2(n_var=12), "c2dtlz2")])
def test_constrained_problems_match_pymoo(ours, name):
    X = np.random.default_rng(1).random((64, 12))
    with jax.enable_x64(True):
        F, G = ours.evaluate_constrained(jnp.asarray(X))
    expected = pymoo_problem(name, n_var=12, n_obj=3).evaluate(X, return_as_dictionary=True)
    np.testing.assert_allclose(np.asarray(F), expected["F"], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(G), expected["G"], rtol=1e-10, atol=1e-12)
    assert ours.n_constr == G.shape[1] == 1


def test_c2dtlz2_front_is_feasible_and_on_the_sphere():
    problem = C2DTLZ2()
    front = problem.pareto_front(200)
    np.testing.assert_allclose(np.linalg.norm(front, axis=1), 1.0, rtol=1e-12)
    from evo.problems.constrained import c2_constraint

    assert np.all(c2_constraint(front, problem.radius, np) <= 0)
    assert 20 < len(front) < 800


@pytest.mark.parametrize("make", [
    lambda p: evo.NSGA2(pop_size=40, n_obj=3, lb=p.lb, ub=p.ub),
    lambda p: evo.NSGA3(n_obj=3, lb=p.lb, ub=p.ub, pop_size=40),
], ids=["nsga2", "nsga3"])
def test_constrained_runs_end_with_a_feasible_population(make):
    problem = C2DTLZ2(n_var=7)
    result = evo.run(make(problem), problem, jax.random.key(0), 40, progress=False)
    # The violations the state keeps are those of its rows, and selection made them all 0.
    _, G = problem.evaluate_constrained(jnp.asarray(result.X))
    np.testing.assert_allclose(result.violation, constraint_violation(G), atol=1e-6)
    assert np.all(result.violation == 0)
    assert result.history["feasible"][0] < 1.0


def test_tell_rejects_constraints_of_the_wrong_shape():
    problem = ZDT1(n_var=4)
    algo = evo.NSGA2(pop_size=4, n_obj=2, lb=problem.lb, ub=problem.ub)
    # tell checks shapes while tracing, so abstract values do (op by op, ask took seconds).
    X, state = jax.eval_shape(algo.ask, algo.init(jax.random.key(0)))
    F = jax.eval_shape(problem.evaluate, X)
    with pytest.raises(ValueError, match=r"shape \(n, n_constr\) with n = 4, got \(3, 1\)"):
        jax.eval_shape(algo.tell, state, F, jnp.zeros((3, 1)))
