"""evosax strategies through evo's init / ask / tell and evo.run."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo import EvosaxAlgorithm
from evo.problems import Sphere

evosax_algorithms = pytest.importorskip("evosax.algorithms")

PROBLEM = Sphere(n_var=8)


@pytest.mark.parametrize(
    "name, params",
    [("CMA_ES", None), ("snes", {"std_init": 3.0}), ("DE", None)],
)
def test_strategies_reduce_sphere_and_are_deterministic(name, params):
    algorithm = EvosaxAlgorithm(strategy=name, pop_size=16, lb=PROBLEM.lb, ub=PROBLEM.ub,
                                params=params)
    first = evo.run(algorithm, PROBLEM, jax.random.key(0), 150, progress=False)
    again = evo.run(algorithm, PROBLEM, jax.random.key(0), 150, progress=False)
    other = evo.run(algorithm, PROBLEM, jax.random.key(1), 150, progress=False)

    f_min = first.history["f_min"][:, 0]
    assert f_min[-1] < 1e-4 * f_min[0], f_min[[0, -1]]
    np.testing.assert_array_equal(first.history["f_min"], again.history["f_min"])
    np.testing.assert_array_equal(first.X, again.X)
    assert not np.array_equal(first.history["f_min"], other.history["f_min"])
    assert first.history["n_evals"][-1] == 150 * 16
    assert np.all((first.X >= PROBLEM.lb) & (first.X <= PROBLEM.ub))
    state = first.state
    assert float(state.best_f) == pytest.approx(float(f_min.min()))
    np.testing.assert_allclose(PROBLEM.evaluate(state.best_x[None])[0, 0], state.best_f, rtol=1e-6)


def test_instance_with_pytree_solution_and_clipping():
    solution = {"a": jnp.zeros(3), "b": jnp.zeros((1, 2))}
    strategy = evosax_algorithms.SNES(population_size=6, solution=solution)
    problem = Sphere(n_var=5)
    algorithm = EvosaxAlgorithm(
        strategy=strategy, lb=problem.lb, ub=problem.ub, mean0=np.full(5, 4.0),
        params={"std_init": 20.0},
    )
    assert algorithm.pop_size == 6 and algorithm.n_var == 5

    @jax.jit
    def step(state):
        X, state = algorithm.ask(state)
        return X, algorithm.tell(state, jnp.where(X[:, :1] > 0, jnp.nan, problem.evaluate(X)))

    X, state = step(algorithm.init(jax.random.key(0)))
    assert X.shape == (6, 5)
    # A spread of 20 around 4 leaves the box [-5.12, 5.12] often: those points are clipped.
    assert np.any(np.abs(X) == 5.12) and np.all(np.abs(X) <= 5.12)
    # NaN fitness never becomes the best point.
    assert np.isfinite(float(state.best_f)) == bool(np.any(X[:, 0] <= 0))
    assert np.all(np.isfinite(jax.tree.leaves(state.inner.mean)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lb": [1.0, 0.0], "ub": [0.0, 1.0]}, "lb > ub"),
        ({"pop_size": 1}, "pop_size"),
        ({"strategy": "NoSuchES"}, "unknown evosax strategy 'NoSuchES'.*CMA_ES.*SNES"),
        ({"strategy": "Open_ES", "pop_size": 7}, "even"),
        ({"params": {"no_such_param": 1.0}}, "no_such_param.*std_init"),
        ({"mean0": [0.0]}, "mean0"),
        ({"lb": None}, "lb and ub"),
        ({"strategy": 42}, "strategy name or instance"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    kwargs = {"strategy": "CMA_ES", "pop_size": 8, "lb": [0.0, 0.0], "ub": [1.0, 1.0]} | kwargs
    with pytest.raises(ValueError, match=match):
        EvosaxAlgorithm(**kwargs)


def test_instance_that_disagrees_with_pop_size_or_bounds_raises():
    strategy = evosax_algorithms.SNES(population_size=6, solution=jnp.zeros(3))
    with pytest.raises(ValueError, match="population_size=6"):
        EvosaxAlgorithm(strategy=strategy, pop_size=8, lb=np.zeros(3), ub=np.ones(3))
    with pytest.raises(ValueError, match="3 dimensions"):
        EvosaxAlgorithm(strategy=strategy, lb=np.zeros(4), ub=np.ones(4))
