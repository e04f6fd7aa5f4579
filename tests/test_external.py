"""Problems evaluated on the host: a Python function and a pymoo problem, inside evo.run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.problems import get_problem as pymoo_problem

import evo
from evo.problems import ZDT1, FunctionProblem, PymooProblem


def zdt1_one(x):
    g = 1.0 + 9.0 * np.mean(x[1:])
    return [x[0], g * (1.0 - np.sqrt(x[0] / g))]


def zdt1_batch(X):
    return np.array([zdt1_one(x) for x in X])


FUNCTION = FunctionProblem(n_var=6, n_obj=2, fn=zdt1_one)
ALGO = evo.NSGA2(pop_size=16, n_obj=2, lb=FUNCTION.lb, ub=FUNCTION.ub)


def test_function_problem_equals_the_jax_problem_inside_a_run():
    ours = evo.run(ALGO, FUNCTION, jax.random.key(0), 5, progress=False)
    reference = evo.run(ALGO, ZDT1(n_var=6), jax.random.key(0), 5, progress=False)
    np.testing.assert_allclose(ours.F, reference.F, rtol=1e-5)


def test_vectorized_function_and_bounds():
    problem = FunctionProblem(n_var=6, n_obj=2, fn=zdt1_batch, vectorized=True,
                              lb=np.zeros(6), ub=np.full(6, 2.0))
    X = jax.random.uniform(jax.random.key(1), (5, 6))
    np.testing.assert_allclose(problem.evaluate(X), ZDT1(n_var=6).evaluate(X), rtol=1e-5)
    np.testing.assert_array_equal(problem.ub, np.full(6, 2.0))


def test_pymoo_problem_with_constraints_matches_pymoo():
    pymoo = pymoo_problem("mw1")
    problem = PymooProblem.wrap(pymoo)
    assert (problem.n_var, problem.n_obj, problem.n_constr) == (15, 2, 1)
    X = np.random.default_rng(0).random((7, 15))
    F, G = jax.jit(problem.evaluate_constrained)(jnp.asarray(X))
    expected = pymoo.evaluate(X, return_as_dictionary=True)
    np.testing.assert_allclose(F, expected["F"], rtol=1e-5)
    np.testing.assert_allclose(G, expected["G"], rtol=1e-5, atol=1e-6)
    assert problem.pareto_front(100).shape[1] == 2


def test_bad_adapters_raise_clear_errors():
    with pytest.raises(ValueError, match="fn must be callable"):
        FunctionProblem(n_var=2, n_obj=1, fn=3)
    with pytest.raises(ValueError, match="lb > ub"):
        FunctionProblem(n_var=2, n_obj=1, fn=sum, lb=[1.0, 0.0], ub=[0.0, 1.0])
    with pytest.raises(ValueError, match="bounds have 3 variables, n_var is 2"):
        FunctionProblem(n_var=2, n_obj=1, fn=sum, lb=np.zeros(3), ub=np.ones(3))
    with pytest.raises(TypeError, match="bounds was renamed; use lb and ub instead"):
        FunctionProblem(n_var=2, n_obj=1, fn=sum, bounds=(np.zeros(2), np.ones(2)))
    wrong = FunctionProblem(n_var=2, n_obj=2, fn=lambda x: [1.0, 2.0, 3.0])
    with pytest.raises(Exception, match=r"fn returned objectives of shape \(4, 3\), expected \(4, 2\)"):
        jax.block_until_ready(wrong.evaluate(jnp.zeros((4, 2))))
