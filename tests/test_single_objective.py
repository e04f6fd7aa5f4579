"""Single-objective functions against textbook NumPy formulas, optima and bounds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evo.problems import (
    Ackley,
    Ellipsoid,
    Griewank,
    Levy,
    Rastrigin,
    Rosenbrock,
    RotatedEllipsoid,
    Schwefel,
    Sphere,
    StyblinskiTang,
    get_problem,
)

CLASSES = [
    Sphere, Ellipsoid, RotatedEllipsoid, Rosenbrock, Rastrigin, Ackley, Griewank, Schwefel, Levy,
    StyblinskiTang,
]
DIMS = [2, 7]


def textbook(problem, x: np.ndarray) -> float:
    """The usual formula of each function in float64, written independently of the module."""
    n = x.size
    if isinstance(problem, RotatedEllipsoid):
        x = problem.rotation @ x
    if isinstance(problem, Ellipsoid):
        return float(sum(1e6 ** (i / (n - 1)) * x[i] ** 2 for i in range(n)))
    name = type(problem).__name__
    if name == "Sphere":
        return float(np.sum(x**2))
    if name == "Rosenbrock":
        return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1)))
    if name == "Rastrigin":
        return float(10 * n + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))
    if name == "Ackley":
        return float(
            -20 * np.exp(-0.2 * np.sqrt(np.mean(x**2))) - np.exp(np.mean(np.cos(2 * np.pi * x)))
            + 20 + np.e
        )
    if name == "Griewank":
        return float(1 + np.sum(x**2) / 4000 - np.prod(np.cos(x / np.sqrt(np.arange(1, n + 1)))))
    if name == "Schwefel":
        return float(418.9829 * n - np.sum(x * np.sin(np.sqrt(np.abs(x)))))
    if name == "Levy":
        w = 1 + (x - 1) / 4
        middle = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
        last = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
        return float(np.sin(np.pi * w[0]) ** 2 + middle + last)
    if name == "StyblinskiTang":
        return float(np.sum(x**4 - 16 * x**2 + 5 * x) / 2)
    raise AssertionError(name)


@pytest.mark.parametrize("n", DIMS)
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_matches_textbook_formula_at_random_points(cls, n):
    problem = cls(n_var=n)
    rng = np.random.default_rng(n)
    X = rng.uniform(problem.lb, problem.ub, (5, n))
    expected = np.array([textbook(problem, x) for x in X])
    # Schwefel's textbook constant 418.9829 is rounded; ours is 418.98288727.
    atol = 2e-4 * n if cls is Schwefel else 1e-9
    with jax.enable_x64(True):
        F = np.asarray(problem.evaluate(jnp.asarray(X)))
    assert F.shape == (5, 1) and F.dtype == np.float64
    np.testing.assert_allclose(F[:, 0], expected, rtol=1e-10, atol=atol)
    F32 = np.asarray(problem.evaluate(jnp.asarray(X, jnp.float32)))
    assert F32.dtype == np.float32
    np.testing.assert_allclose(F32[:, 0], expected, rtol=2e-5, atol=atol + 1e-4)


@pytest.mark.parametrize("n", DIMS)
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_optimum(cls, n):
    problem = cls(n_var=n)
    x_star = problem.optimum_x
    assert x_star.shape == (n,)
    assert np.all((problem.lb <= x_star) & (x_star <= problem.ub))
    # x* first, then a random sample and small perturbations of x*: none does better.
    rng = np.random.default_rng(0)
    X = np.concatenate([
        x_star[None],
        rng.uniform(problem.lb, problem.ub, (2000, n)),
        np.clip(x_star + rng.normal(0, 1e-3, (200, n)), problem.lb, problem.ub),
    ])
    with jax.enable_x64(True):
        values = np.asarray(problem.evaluate(jnp.asarray(X)))[:, 0]
    f_star, F = float(values[0]), values[1:]
    assert f_star == pytest.approx(problem.optimum_value, abs=1e-9 * max(1, abs(f_star)))
    assert np.all(F >= problem.optimum_value - 1e-9)
    np.testing.assert_array_equal(problem.pareto_front(10), [[problem.optimum_value]])
    if problem.optimum_value == 0.0:
        # The float32 forms are exact at the optimum, so 1e-8 targets are reachable.
        assert float(problem.evaluate(jnp.asarray(x_star[None], jnp.float32))[0, 0]) == 0.0


def test_hand_computed_values():
    assert float(Sphere(n_var=2).evaluate(jnp.array([[1.0, 2.0]]))[0, 0]) == 5.0
    # 20 + (1 - 10 cos 2pi) + (0.25 - 10 cos pi)
    assert float(Rastrigin(n_var=2).evaluate(jnp.array([[1.0, 0.5]]))[0, 0]) == pytest.approx(21.25)
    assert float(Rosenbrock(n_var=3).evaluate(jnp.zeros((1, 3)))[0, 0]) == 2.0
    assert float(Ellipsoid(n_var=3).evaluate(jnp.ones((1, 3)))[0, 0]) == pytest.approx(1 + 1e3 + 1e6)
    # -20 e^(-0.2) - e^(cos 2pi) + 20 + e at x = (1, 1)
    ackley = -20 * np.exp(-0.2) + 20
    assert float(Ackley(n_var=2).evaluate(jnp.ones((1, 2)))[0, 0]) == pytest.approx(ackley, rel=1e-6)
    assert float(StyblinskiTang(n_var=1).evaluate(jnp.array([[1.0]]))[0, 0]) == pytest.approx(-5.0)
    assert StyblinskiTang(n_var=10).optimum_value == pytest.approx(-391.6616570377142, rel=1e-12)
    assert Schwefel(n_var=1).optimum_x[0] == pytest.approx(420.9687, abs=1e-4)


def test_rotated_ellipsoid_rotation_is_orthogonal_and_fixed_by_seed():
    R = RotatedEllipsoid(n_var=6, seed=3).rotation
    np.testing.assert_allclose(R @ R.T, np.eye(6), atol=1e-12)
    np.testing.assert_array_equal(R, RotatedEllipsoid(n_var=6, seed=3).rotation)
    assert not np.allclose(R, RotatedEllipsoid(n_var=6, seed=4).rotation)
    x = jnp.asarray(R[:1])  # R x = e_1: the first axis, whose weight is 1
    assert float(RotatedEllipsoid(n_var=6, seed=3).evaluate(x)[0, 0]) == pytest.approx(1.0, rel=1e-5)


def test_batches_registry_and_bad_arguments():
    assert Rastrigin(n_var=4).evaluate(jnp.zeros((2, 3, 4))).shape == (2, 3, 1)
    assert Sphere(n_var=3).evaluate(jnp.ones((1, 3), jnp.int32))[0, 0] == 3.0
    for name, cls in [("sphere", Sphere), ("rotatedellipsoid", RotatedEllipsoid),
                      ("StyblinskiTang", StyblinskiTang), ("schwefel", Schwefel)]:
        problem = get_problem(name, n_var=5)
        assert type(problem) is cls and problem.n_var == 5 and problem.n_obj == 1
    assert get_problem("ellipsoid", n_var=3, condition=10.0).condition == 10.0
    with pytest.raises(ValueError, match="n_obj must be 1"):
        Sphere(n_var=3, n_obj=2)
    with pytest.raises(ValueError, match="Rosenbrock: n_var must be an integer >= 2"):
        Rosenbrock(n_var=1)
    with pytest.raises(ValueError, match="n_var must be an integer >= 1"):
        Levy(n_var=0)
    with pytest.raises(ValueError, match="condition"):
        Ellipsoid(n_var=3, condition=0.5)
    with pytest.raises(ValueError, match=r"expected X of shape \(n, 4\)"):
        Ackley(n_var=4).evaluate(jnp.zeros((2, 3)))
    assert Griewank(n_var=3).lb[0] == -600 and Schwefel(n_var=3).ub[0] == 500 and Rosenbrock(n_var=3).ub[0] == 10
