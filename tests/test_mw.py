"""MW1-MW14 constrained problems against pymoo, and their fronts."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.indicators.igd import IGD
from pymoo.problems import get_problem as pymoo_problem

import evo.problems
from evo.problems import MW1, MW3, MW4, MW8, MW12, MW14, get_problem

NAMES = [f"mw{i}" for i in range(1, 15)]
CASES = [(name, {}) for name in NAMES] + [
    ("mw4", {"n_obj": 5}),
    ("mw8", {"n_obj": 2}),
    ("mw14", {"n_obj": 4}),
]
WITH_FRONT = ["mw1", "mw2", "mw3", "mw4", "mw6", "mw8", "mw12"]
# IGD of pymoo's front against ours. MW3: pymoo keeps some dominated points (up to 0.035
# away); MW4 and MW8: pymoo samples a different simplex lattice.
IGD_TOL = {"mw3": 5e-3, "mw4": 2e-2, "mw8": 2e-2}


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}{v}" for k, v in kwargs.items())


@functools.lru_cache(maxsize=None)
def jitted(problem):
    return jax.jit(problem.evaluate_constrained)


@functools.lru_cache(maxsize=None)
def front(name: str, n_points: int = 1000):
    return get_problem(name).pareto_front(n_points)


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Mask of the rows of `F` that no other row dominates."""
    dominates = np.all(F[:, None] <= F[None], axis=-1) & np.any(F[:, None] < F[None], axis=-1)
    return ~dominates.any(axis=0)


def optimal_X(problem, pymoo_name: str, n: int, rng) -> np.ndarray:
    """Random positions, distance variables where the problem's `g` is 1."""
    m, d = problem.n_obj, problem.n_var
    X = rng.uniform(problem.lb, problem.ub, (n, d))
    i = np.arange(m - 1, d)
    g_kind = {1: 1, 4: 1, 5: 1, 9: 1, 12: 1, 2: 2, 6: 2, 8: 2, 10: 2, 13: 2}.get(
        int(pymoo_name[2:]), 3
    )
    if g_kind == 1:
        X[:, m - 1 :] = (0.5 + i / (2 * d)) ** (1.0 / (d - m))
    elif g_kind == 2:
        X[:, m - 1 :] = i / d
    else:
        for j in i:
            X[:, j] = 1.0 - (X[:, j - 1] - 0.5) ** 2
    return X


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_pymoo(case):
    name, kwargs = case
    ours, theirs = get_problem(name, **kwargs), pymoo_problem(name, **kwargs)
    assert (ours.n_var, ours.n_obj, ours.n_constr) == (
        theirs.n_var,
        theirs.n_obj,
        theirs.n_ieq_constr,
    )
    np.testing.assert_array_equal(ours.lb, theirs.xl)
    np.testing.assert_array_equal(ours.ub, theirs.xu)

    rng = np.random.default_rng(int(name[2:]))
    X = rng.uniform(theirs.xl, theirs.xu, (256, theirs.n_var))
    X[:8, 0] = 0.0  # the angle-based constraints at f0 = 0
    X[8:72] = optimal_X(ours, name, 64, rng)  # near the front, where G is near 0
    with jax.enable_x64(True):
        F, G = jitted(ours)(jnp.asarray(X))
    expected = theirs.evaluate(X, return_as_dictionary=True)
    assert F.dtype == G.dtype == jnp.float64
    assert G.shape == (256, ours.n_constr)
    np.testing.assert_allclose(np.asarray(F), expected["F"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(G), expected["G"], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["mw5", "mw11"])
def test_float32_under_jit(name):
    ours, theirs = get_problem(name), pymoo_problem(name)
    X = np.random.default_rng(0).uniform(theirs.xl, theirs.xu, (64, theirs.n_var))
    X[:4, 0] = theirs.xu[0]  # f1 = 0 at the upper bound: no NaN from sqrt
    F, G = jitted(ours)(jnp.asarray(X, jnp.float32))
    assert F.dtype == G.dtype == jnp.float32
    assert np.all(np.isfinite(F)) and np.all(np.isfinite(G))
    expected = theirs.evaluate(X[4:], return_as_dictionary=True)
    np.testing.assert_allclose(np.asarray(F[4:]), expected["F"], rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # inside pymoo's MW6
@pytest.mark.parametrize("name", WITH_FRONT)
def test_front_is_feasible_non_dominated_and_matches_pymoo(name):
    problem = get_problem(name)
    F = front(name)
    assert F.ndim == 2 and F.shape[1] == problem.n_obj
    assert 500 <= len(F) <= 1000
    assert np.all(problem.constraint_values(F, np) <= 1e-9)
    assert np.all(non_dominated(F))
    reference = pymoo_problem(name).pareto_front()
    assert IGD(reference)(F) < IGD_TOL.get(name, 2e-3)
    np.testing.assert_array_equal(problem.pareto_front(1000), F)  # deterministic


@pytest.mark.parametrize("name", ["mw1", "mw2", "mw4", "mw6", "mw8"])
def test_feasible_optimal_points_lie_on_the_front(name):
    """Where the front is the feasible part of the unconstrained one (`g = 1`)."""
    problem = get_problem(name)
    X = optimal_X(problem, name, 200, np.random.default_rng(1))
    with jax.enable_x64(True):
        F, G = jitted(problem)(jnp.asarray(X))
    F = np.asarray(F)[np.all(np.asarray(G) <= 0, axis=1)]
    assert len(F) > 20
    if name == "mw4":
        np.testing.assert_allclose(F.sum(axis=1), 1.0, rtol=1e-12)
    elif name == "mw8":
        np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0, rtol=1e-12)
    else:
        distance = np.linalg.norm(F[:, None] - front(name)[None], axis=-1).min(axis=1)
        assert distance.max() < 5e-3


def nondominated_2d(F: np.ndarray) -> np.ndarray:
    F = F[np.lexsort((F[:, 1], F[:, 0]))]
    return F[F[:, 1] < np.minimum.accumulate(np.concatenate([[np.inf], F[:-1, 1]]))]


@pytest.mark.parametrize("name", ["mw1", "mw3", "mw6", "mw12"])
def test_front_matches_brute_force(name):
    """Against the non-dominated feasible points of a grid over the attainable objectives:
    position `x0` times distance value `g`, from the published objective formulas."""
    problem = get_problem(name)
    x0, g = np.meshgrid(np.linspace(0.0, problem.ub[0], 1501), np.linspace(1.0, 1.8, 1501))
    x0, g = x0.ravel(), g.ravel()
    if name == "mw1":
        F = np.stack([x0, g - 0.85 * x0], axis=1)
    elif name == "mw3":
        F = np.stack([x0, g - x0], axis=1)
    elif name == "mw6":
        F = g[:, None] * np.stack([x0, np.sqrt(1.1**2 - x0**2)], axis=1)
    else:
        F = g[:, None] * np.stack(
            [x0, 0.85 - 0.8 * x0 - 0.08 * np.abs(np.sin(3.2 * np.pi * x0))], axis=1
        )
    brute = nondominated_2d(F[np.all(problem.constraint_values(F, np) <= 0, axis=1)])
    ours, tol = front(name), 5e-3
    # No grid point beats a front point by more than tol ...
    beats = np.all(brute[:, None] <= ours[None] + 1e-12, axis=-1) & np.any(
        brute[:, None] < ours[None] - tol, axis=-1
    )
    assert not beats.any()
    # ... and every non-dominated grid point is matched by a front point up to tol.
    assert np.all(np.all(ours[:, None] <= brute[None] + tol, axis=-1).any(axis=0))


@pytest.mark.parametrize("n_obj", [2, 3, 5])
def test_scalable_fronts(n_obj):
    simplex = MW4(n_obj=n_obj).pareto_front(300)
    np.testing.assert_allclose(simplex.sum(axis=1), 1.0, rtol=1e-12)
    assert 100 < len(simplex) <= 300
    problem = MW8(n_obj=n_obj)
    sphere = problem.pareto_front(300)
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 1.0, rtol=1e-12)
    assert np.all(problem.constraint_values(sphere, np) <= 0)
    assert 150 < len(sphere) < 600


@pytest.mark.parametrize(
    "problem",
    [get_problem(f"mw{i}") for i in (5, 7, 9, 10, 11, 13, 14)] + [MW14(n_obj=4)],
    ids=lambda p: f"{type(p).__name__}-{p.n_obj}",
)
def test_downloaded_fronts_are_not_provided(problem):
    assert problem.pareto_front(100) is None


def test_registry_and_exports():
    for i in range(1, 15):
        cls = getattr(evo.problems, f"MW{i}")
        assert f"MW{i}" in evo.problems.__all__
        assert get_problem(f"MW{i}") == cls()
    assert get_problem("mw14", n_obj=4).n_var == 16
    assert get_problem("mw1", n_var=10).n_var == 10


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: MW1(n_obj=3), r"MW1 is bi-objective: n_obj must be 2, got 3"),
        (lambda: MW12(n_obj=1), r"MW12 is bi-objective: n_obj must be 2, got 1"),
        (lambda: MW4(n_obj=1), r"MW4: n_obj must be an integer >= 2, got 1"),
        (lambda: MW8(n_obj=2.5), r"MW8: n_obj must be an integer >= 2, got 2.5"),
        (lambda: MW14(n_obj=0), r"MW14: n_obj must be an integer >= 2, got 0"),
        (lambda: MW14(n_obj=4, n_var=3), r"MW14 needs n_var >= n_obj"),
        (lambda: MW3(n_var=0), r"n_var must be an integer >= 1"),
    ],
)
def test_bad_configuration_raises(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_input_shape_raises():
    with pytest.raises(ValueError, match=r"MW1.evaluate expected X of shape \(n, 15\)"):
        MW1().evaluate_constrained(jnp.zeros((4, 14)))
