"""LSMOP1-9 against a loop-by-loop NumPy transcription of the formulas and their fronts."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evo.problems import DTLZ7, LSMOP1, LSMOP3, LSMOP5, LSMOP7, LSMOP9, Problem, get_problem

NAMES = [f"lsmop{i}" for i in range(1, 10)]
# Tiny instances: every group has at least 2 variables per subcomponent and 5 variables
# are left over.
SHAPES = [(2, 41), (3, 52)]  # (n_obj, n_var)
CASES = [(name, shape) for shape in SHAPES for name in NAMES]
N = 32  # one batch size everywhere, so each problem compiles once


def case_id(case: tuple[str, tuple[int, int]]) -> str:
    name, (m, n) = case
    return f"{name}-m{m}-n{n}"


@functools.cache
def evaluate64(problem: Problem):
    """`problem.evaluate` jitted once per problem; call it under `jax.enable_x64(True)`."""
    return jax.jit(problem.evaluate)


# Reference transcription, one variable group and subcomponent at a time (float64).


def sphere(x):
    return np.sum(x**2, axis=1)


def schwefel(x):
    return np.max(np.abs(x), axis=1)


def rosenbrock(x):
    return np.sum(100 * (x[:, :-1] ** 2 - x[:, 1:]) ** 2 + (x[:, :-1] - 1) ** 2, axis=1)


def rastrigin(x):
    return np.sum(x**2 - 10 * np.cos(2 * np.pi * x) + 10, axis=1)


def griewank(x):
    product = np.prod(np.cos(x / np.sqrt(np.arange(1, x.shape[1] + 1))), axis=1)
    return np.sum(x**2, axis=1) / 4000 - product + 1


def ackley(x):
    d = x.shape[1]
    return (
        20
        - 20 * np.exp(-0.2 * np.sqrt(np.sum(x**2, axis=1) / d))
        - np.exp(np.sum(np.cos(2 * np.pi * x), axis=1) / d)
        + np.e
    )


BASIC = {  # problem number -> (function of odd groups, function of even groups)
    1: (sphere, sphere),
    2: (griewank, schwefel),
    3: (rastrigin, rosenbrock),
    4: (ackley, griewank),
    5: (sphere, sphere),
    6: (rosenbrock, schwefel),
    7: (ackley, rosenbrock),
    8: (griewank, sphere),
    9: (sphere, ackley),
}


def layout(m: int, n: int, nk: int = 5) -> np.ndarray:
    """Subcomponent size of each of the `m` groups."""
    c = [3.8 * 0.1 * (1 - 0.1)]
    for _ in range(m - 1):
        c.append(3.8 * c[-1] * (1 - c[-1]))
    c = np.array(c)
    return np.floor(c / c.sum() * (n - m + 1) / nk).astype(int)


def linkage(number: int, m: int, n: int) -> np.ndarray:
    """`L_i` for the 1-based indices `i = m, ..., n`."""
    i = np.arange(m, n + 1)
    return 1 + i / n if number <= 4 else 1 + np.cos(0.5 * np.pi * i / n)


def reference(name: str, m: int, X: np.ndarray, nk: int = 5) -> np.ndarray:
    """Objectives `(n_rows, m)` of `X` `(n_rows, n)`."""
    number = int(name[-1])
    n_rows, n = X.shape
    sizes = layout(m, n, nk)
    xs = linkage(number, m, n) * X[:, m - 1 :] - 10 * X[:, :1]
    G = np.zeros((n_rows, m))
    start = 0
    for j in range(m):
        basic = BASIC[number][j % 2]
        for _ in range(nk):
            G[:, j] += basic(xs[:, start : start + sizes[j]]) / sizes[j]
            start += sizes[j]
    G /= nk
    x = X[:, : m - 1]
    F = np.zeros((n_rows, m))
    if number == 9:
        g = 1 + G.sum(axis=1)
        F[:, :-1] = x
        bumps = x / (1 + g[:, None]) * (1 + np.sin(3 * np.pi * x))
        F[:, -1] = (1 + g) * (m - np.sum(bumps, axis=1))
        return F
    for j in range(m):  # objective j + 1
        if number <= 4:
            h = np.prod(x[:, : m - 1 - j], axis=1) * (1 - x[:, m - 1 - j] if j else 1)
            F[:, j] = (1 + G[:, j]) * h
        else:
            angle = 0.5 * np.pi * x
            h = np.prod(np.cos(angle[:, : m - 1 - j]), axis=1)
            h = h * (np.sin(angle[:, m - 1 - j]) if j else 1)
            F[:, j] = (1 + G[:, j] + (G[:, j + 1] if j + 1 < m else 0)) * h
    return F


def optimal_X(name: str, m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """`(N, n)` points with `G = 0`: random positions (`x_1 <= 0.8`) and linked variables
    at 0, or at 1 in Rosenbrock groups; the left-over variables stay random."""
    number = int(name[-1])
    X = rng.uniform(0, 10, (N, n))
    X[:, : m - 1] = rng.random((N, m - 1))
    X[:, 0] *= 0.8  # keeps (10 x_1 + 1) / L_i <= 10 for Rosenbrock groups
    target = np.zeros(n - m + 1)
    start = 0
    for j, size in enumerate(layout(m, n)):
        if BASIC[number][j % 2] is rosenbrock:
            target[start : start + 5 * size] = 1
        start += 5 * size
    X[:, m - 1 : m - 1 + start] = ((10 * X[:, :1] + target) / linkage(number, m, n))[:, :start]
    return X


def surface_residual(name: str, F: np.ndarray) -> np.ndarray:
    """How far each row of `F` `(n, m)` is beyond the published front, `(n,)`."""
    number = int(name[-1])
    if number <= 4:
        return F.sum(axis=1) - 1
    if number <= 8:
        return np.linalg.norm(F, axis=1) - 1
    lead = F[:, :-1]
    return F[:, -1] - (2 * F.shape[1] - np.sum(lead * (1 + np.sin(3 * np.pi * lead)), axis=1))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_reference(case):
    name, (m, n) = case
    problem = get_problem(name, n_obj=m, n_var=n)
    assert problem.subcomponent_sizes == tuple(layout(m, n))
    X = np.random.default_rng(0).uniform(problem.lb, problem.ub, (N, n))
    with jax.enable_x64(True):
        F = np.asarray(evaluate64(problem)(X))
    assert F.shape == (N, m)
    np.testing.assert_allclose(F, reference(name, m, X), rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_optimal_x_on_front_and_random_x_worse(case):
    name, (m, n) = case
    problem = get_problem(name, n_obj=m, n_var=n)
    X = optimal_X(name, m, n, np.random.default_rng(1))
    assert np.all((problem.lb <= X) & (X <= problem.ub))
    random = np.random.default_rng(2).uniform(problem.lb, problem.ub, X.shape)
    random[:, : m - 1] = X[:, : m - 1]
    with jax.enable_x64(True):
        F = np.asarray(evaluate64(problem)(X))
        F_random = np.asarray(evaluate64(problem)(random))
    np.testing.assert_allclose(surface_residual(name, F), 0, atol=1e-9)
    # Same positions, G > 0: the random point is pushed away from the front.
    assert np.all(surface_residual(name, F_random) > 1e-3)
    assert np.all(F_random >= F - 1e-12)


def test_left_over_variables_are_ignored():
    problem = LSMOP3(n_obj=2, n_var=41)  # groups use 5 * (2 + 5) = 35 of 40 variables
    X = np.random.default_rng(3).uniform(problem.lb, problem.ub, (N, 41))
    changed = X.copy()
    changed[:, -5:] = np.random.default_rng(4).uniform(0, 10, (N, 5))
    changed[:, -6] += 1e-3
    with jax.enable_x64(True):
        F, F_changed = (np.asarray(evaluate64(problem)(x)) for x in (X, changed))
    assert np.all(F[:, 1] != F_changed[:, 1])  # the last used variable matters
    np.testing.assert_array_equal(F[:, 0], F_changed[:, 0])
    changed[:, -6] -= 1e-3
    with jax.enable_x64(True):
        np.testing.assert_array_equal(np.asarray(evaluate64(problem)(changed)), F)


def test_large_n_var_in_float32():
    problem = LSMOP7(n_obj=3, n_var=5000)
    X = np.random.default_rng(5).uniform(problem.lb, problem.ub, (4, 5000))
    F = jax.jit(problem.evaluate)(jnp.asarray(X, dtype=jnp.float32))
    assert F.shape == (4, 3) and F.dtype == jnp.float32
    np.testing.assert_allclose(F, reference("lsmop7", 3, X), rtol=1e-4)


def test_defaults():
    problem = LSMOP1()
    assert (problem.n_obj, problem.n_var, problem.nk) == (3, 300, 5)
    # c = (0.342, 0.855, 0.471) shares the 298 linked variables as 61, 153 and 84, in
    # subcomponents of floor(share / 5).
    assert problem.subcomponent_sizes == (12, 30, 16)
    assert LSMOP9(n_obj=5).n_var == 500
    np.testing.assert_array_equal(problem.lb, 0)
    np.testing.assert_array_equal(problem.ub, [1, 1] + [10] * 298)
    assert get_problem("LSMOP5", n_obj=2) == LSMOP5(n_var=200, n_obj=2)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_obj", [2, 3, 5])
def test_front(name, n_obj):
    problem = get_problem(name, n_obj=n_obj)
    front = problem.pareto_front(100)
    assert front.shape[1] == n_obj and 50 <= len(front) <= 150
    np.testing.assert_array_equal(front, problem.pareto_front(100))
    np.testing.assert_allclose(surface_residual(name, front), 0, atol=1e-12)


def test_disconnected_front():
    front = LSMOP9(n_obj=3).pareto_front(400)
    np.testing.assert_array_equal(front, DTLZ7(n_obj=3).pareto_front(400))
    dominates = np.all(front[:, None] <= front[None], axis=-1) & np.any(
        front[:, None] < front[None], axis=-1
    )
    assert not dominates.any()
    # Two pieces per leading objective.
    assert np.sum(np.diff(np.unique(front[:, 0])) > 0.2) == 1


def test_invalid_configurations_raise():
    # n_obj = 2: c = (0.342, 0.855), so the first group needs 5 * 1.197 / 0.342 = 17.5 variables.
    LSMOP1(n_obj=2, n_var=19)
    expected = r"LSMOP1 with n_obj=2 and nk=5 needs n_var >= 19.*got n_var=18"
    with pytest.raises(ValueError, match=expected):
        LSMOP1(n_obj=2, n_var=18)
    with pytest.raises(ValueError, match=r"n_obj must be an integer >= 2, got 1"):
        LSMOP5(n_obj=1)
    with pytest.raises(ValueError, match="nk must be an integer >= 1"):
        LSMOP9(nk=0)
    with pytest.raises(ValueError, match=r"LSMOP3.evaluate expected X of shape \(n, 300\)"):
        LSMOP3().evaluate(jnp.zeros((2, 299)))
