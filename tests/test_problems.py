"""ZDT and DTLZ problems against pymoo and against their analytic fronts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.indicators.igd import IGD
from pymoo.problems import get_problem as pymoo_problem

from evo.problems import DTLZ1, DTLZ2, DTLZ5, DTLZ7, ZDT1, ZDT3, ZDT4, ZDT6, Problem, get_problem

from compile_options import QUICK

ZDT_NAMES = ["zdt1", "zdt2", "zdt3", "zdt4", "zdt6"]
DTLZ_NAMES = [f"dtlz{i}" for i in range(1, 8)]
DTLZ_SHAPES = [(3, 12), (2, 11), (5, 14)]  # (n_obj, n_var)
ALL_CASES = [(name, {}) for name in ZDT_NAMES] + [
    (name, {"n_obj": m, "n_var": n}) for name in DTLZ_NAMES for m, n in DTLZ_SHAPES
]


def case_id(case: tuple[str, dict]) -> str:
    name, kwargs = case
    return name + "".join(f"-{k}{v}" for k, v in kwargs.items())


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Mask `(n,)` of the rows of `F` `(n, m)` that no other row dominates."""
    dominates = np.all(F[:, None] <= F[None], axis=-1) & np.any(F[:, None] < F[None], axis=-1)
    return ~dominates.any(axis=0)


def surface_residual(name: str, F: np.ndarray) -> np.ndarray:
    """How far each row of `F` `(n, m)` is from the analytic optimal surface, `(n,)`."""
    f1 = F[:, 0]
    if name in ("zdt1", "zdt4"):
        return F[:, 1] - (1 - np.sqrt(f1))
    if name in ("zdt2", "zdt6"):
        return F[:, 1] - (1 - f1**2)
    if name == "zdt3":
        return F[:, 1] - (1 - np.sqrt(f1) - f1 * np.sin(10 * np.pi * f1))
    if name == "dtlz1":
        return F.sum(axis=1) - 0.5
    if name == "dtlz7":
        lead = F[:, :-1]
        return F[:, -1] - (2 * F.shape[1] - np.sum(lead * (1 + np.sin(3 * np.pi * lead)), axis=1))
    return np.linalg.norm(F, axis=1) - 1


def optimal_X(problem: Problem, name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """`(n, n_var)` random positions with the distance variables at their optimum."""
    X = rng.uniform(problem.lb, problem.ub, (n, problem.n_var))
    n_pos = 1 if name.startswith("zdt") else problem.n_obj - 1
    X[:, n_pos:] = 0.5 if name in ("dtlz1", "dtlz2", "dtlz3", "dtlz4", "dtlz5") else 0.0
    return X


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
def test_matches_pymoo(case):
    name, kwargs = case
    ours, theirs = get_problem(name, **kwargs), pymoo_problem(name, **kwargs)
    assert (ours.n_var, ours.n_obj) == (theirs.n_var, theirs.n_obj)
    np.testing.assert_array_equal(ours.lb, theirs.xl)
    np.testing.assert_array_equal(ours.ub, theirs.xu)
    X = np.random.default_rng(0).uniform(ours.lb, ours.ub, (64, ours.n_var))
    with jax.enable_x64(True):
        F = np.asarray(ours.evaluate(X))
    assert F.shape == (64, ours.n_obj)
    np.testing.assert_allclose(F, theirs.evaluate(X), rtol=1e-10, atol=1e-12)


def test_float32_evaluation_close_to_pymoo():
    X = np.random.default_rng(1).uniform(0, 1, (64, 12))
    F = DTLZ2(n_obj=3).evaluate(jnp.asarray(X, dtype=jnp.float32))
    assert F.dtype == jnp.float32
    expected = pymoo_problem("dtlz2", n_var=12).evaluate(X)
    np.testing.assert_allclose(F, expected, rtol=1e-5, atol=1e-6)


def test_defaults():
    assert (ZDT1().n_var, ZDT4().n_var, ZDT6().n_var, ZDT1().n_obj) == (30, 10, 10, 2)
    assert (DTLZ1().n_var, DTLZ2().n_var, DTLZ7().n_var) == (7, 12, 22)
    assert DTLZ2(n_obj=5).n_var == 14
    assert DTLZ2(n_var=12, n_obj=3) == DTLZ2() and hash(DTLZ2(n_var=12, n_obj=3)) == hash(DTLZ2())
    assert get_problem("dtlz4").alpha == 100


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
def test_front_on_surface_and_non_dominated(case):
    name, kwargs = case
    problem = get_problem(name, **kwargs)
    front = problem.pareto_front(100)
    assert front.shape[1] == problem.n_obj and 50 <= len(front) <= 150
    np.testing.assert_array_equal(front, problem.pareto_front(100))
    np.testing.assert_allclose(surface_residual(name, front), 0, atol=1e-12)
    assert non_dominated(front).all()


def test_front_ranges():
    f1 = ZDT6().pareto_front(50)[:, 0]
    assert f1.min() == pytest.approx(0.2807753191) and f1.max() == 1
    # ZDT3: five pieces, the first starting at f1 = 0; gaps show as jumps in f1.
    f1 = ZDT3().pareto_front(500)[:, 0]
    assert f1[0] == 0 and np.sum(np.diff(f1) > 0.05) == 4
    np.testing.assert_allclose(DTLZ1(n_obj=4).pareto_front(50).sum(axis=1), 0.5)
    # DTLZ7: two pieces per leading objective, so 2^(m-1) pieces.
    lead = DTLZ7(n_obj=3).pareto_front(400)[:, 0]
    assert np.sum(np.diff(np.unique(lead)) > 0.2) == 1


@pytest.mark.parametrize("n_obj", [2, 3, 5])
def test_degenerate_front_is_a_curve(n_obj):
    front = DTLZ5(n_obj=n_obj).pareto_front(60)
    assert len(front) == 60
    np.testing.assert_allclose(np.linalg.norm(front, axis=1), 1)
    # Every angle but the first is pi/4: the leading objectives keep fixed ratios
    # (1, 1, sqrt 2, 2, ...), and the last one sweeps sin(theta_1) over [0, 1].
    lead = front[:, :-1]
    if n_obj > 2:
        ratios = np.sqrt(2.0) ** np.maximum(np.arange(n_obj - 1) - 1, 0)
        np.testing.assert_allclose(lead, lead[:, :1] * ratios, atol=1e-12)
    assert front[0, -1] == 0 and front[-1, -1] == pytest.approx(1)


PYMOO_FRONT_CASES = [
    *[(name, {}) for name in ZDT_NAMES],
    *[(f"dtlz{i}", {"n_obj": m}) for i in range(1, 5) for m in (2, 3)],
    # pymoo downloads the 3-objective DTLZ5-7 fronts; these are computed locally.
    *[(f"dtlz{i}", {"n_obj": m}) for i in (5, 6) for m in (2, 4)],
    ("dtlz7", {"n_obj": 2}),
]


@pytest.mark.parametrize("case", PYMOO_FRONT_CASES, ids=case_id)
def test_front_matches_pymoo_front(case):
    name, kwargs = case
    ours = get_problem(name, **kwargs)
    theirs = pymoo_problem(name, **({"n_var": ours.n_var, **kwargs} if kwargs else {}))
    reference = theirs.pareto_front()
    if name == "dtlz7":
        # pymoo's DTLZ7 front samples the whole surface, dominated parts included.
        order = np.argsort(reference[:, 0])
        f2 = reference[order, 1]
        reference = reference[order][f2 < np.minimum.accumulate(np.r_[np.inf, f2[:-1]])]
    front = ours.pareto_front(200)
    tol = 0.01 if ours.n_obj == 2 else 0.06
    assert IGD(reference).do(front) < tol
    assert IGD(front).do(reference) < tol


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
def test_optimal_x_lands_on_front(case):
    name, kwargs = case
    problem = get_problem(name, **kwargs)
    X = optimal_X(problem, name, 32, np.random.default_rng(2))
    F = np.asarray(problem.evaluate(X), dtype=np.float64)
    np.testing.assert_allclose(surface_residual(name, F), 0, atol=1e-5)


@pytest.mark.parametrize("problem", [ZDT3(), DTLZ5(n_obj=4)], ids=repr)
def test_jit_matches_eager(problem):
    X = jnp.asarray(np.random.default_rng(3).uniform(problem.lb, problem.ub, (16, problem.n_var)))
    jitted = jax.jit(problem.evaluate)(X)
    np.testing.assert_allclose(jitted, problem.evaluate(X), rtol=1e-5, atol=1e-6)


def test_invalid_configurations_raise():
    with pytest.raises(ValueError, match="bi-objective.*got 3"):
        ZDT1(n_obj=3)
    with pytest.raises(ValueError, match=r"ZDT4: n_var must be an integer >= 2, got 1"):
        ZDT4(n_var=1)
    with pytest.raises(ValueError, match=r"n_var >= n_obj .*got n_var=2, n_obj=3"):
        DTLZ2(n_var=2, n_obj=3)
    with pytest.raises(ValueError, match=r"DTLZ7: n_obj must be an integer >= 2, got 1"):
        DTLZ7(n_obj=1)
    with pytest.raises(ValueError, match="DTLZ1: n_obj must be an integer >= 2, got 2.5"):
        DTLZ1(n_obj=2.5)


def test_wrong_input_width_raises():
    expected = r"ZDT1.evaluate expected X of shape \(n, 30\), got shape \(4, 29\)"
    with pytest.raises(ValueError, match=expected):
        ZDT1().evaluate(jnp.zeros((4, 29)))
    # The check fires while tracing, before anything is compiled.
    with pytest.raises(ValueError, match=r"\(n, 12\), got shape \(4, 11\)"):
        jax.jit(DTLZ2().evaluate)(jnp.zeros((4, 11)))


def test_get_problem():
    assert get_problem("DTLZ2", n_obj=5) == DTLZ2(n_obj=5)
    assert type(get_problem("Zdt4")) is ZDT4
    with pytest.raises(ValueError, match=r"unknown problem 'dtlz9'; known problems: .*dtlz1, .*zdt6"):
        get_problem("dtlz9")
    with pytest.raises(ValueError, match="bi-objective"):
        get_problem("zdt1", n_obj=3)


class NoEvaluation(Problem):
    """Forgets to define an evaluation."""

    def objectives(self, X):
        return X


class Stateful(Problem):
    """Counts its calls in its state; objectives are the rows themselves."""

    def init_state(self, key):
        return jnp.zeros((), jnp.int32)

    def evaluate_with_state(self, state, X):
        return X[:, : self.n_obj] + state, state + 1


def test_a_problem_without_an_evaluation_fails_when_built():
    with pytest.raises(TypeError, match="NoEvaluation defines no evaluation: override evaluate"):
        NoEvaluation(n_var=2, n_obj=1)


def test_every_evaluation_comes_from_the_one_a_problem_defines():
    problem = Stateful(n_var=3, n_obj=2)
    X = jnp.arange(6.0).reshape(2, 3)
    # Stateless forms start from init_state(key(0)); constraint values are empty.
    np.testing.assert_array_equal(problem.evaluate(X), X[:, :2])
    F, G = problem.evaluate_constrained(X)
    np.testing.assert_array_equal(F, X[:, :2])
    assert G.shape == (2, 0)
    F, G, state = problem.evaluate_constrained_with_state(jnp.int32(5), X)
    np.testing.assert_array_equal(F, X[:, :2] + 5)
    assert G.shape == (2, 0) and int(state) == 6
    F, G, state = ZDT1(n_var=3).evaluate_constrained_with_state("kept", X / 5)
    np.testing.assert_allclose(F, ZDT1(n_var=3).evaluate(X / 5))
    assert G.shape == (2, 0) and state == "kept"


NONNEGATIVE = [("dtlz1", {"n_var": 5}), ("dtlz2", {"n_var": 5}), ("dtlz3", {"n_var": 5}),
               ("dtlz4", {"n_var": 5}), ("dtlz5", {"n_var": 5}), ("dtlz6", {"n_var": 5})] + [
    (f"wfg{i}", {"k": 2, "l": 2}) for i in range(1, 10)] + [
    (f"lsmop{i}", {}) for i in range(1, 9)]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("case", NONNEGATIVE, ids=case_id)
def test_objectives_nonnegative_on_the_boundary(case, dtype):
    """Every corner of the box, or for LSMOP (n_var >= 27) every corner of the position
    variables with the others drawn at random."""
    name, kwargs = case
    problem = get_problem(name, **kwargs)
    n_corner = problem.n_var if problem.n_var <= 8 else problem.n_obj - 1
    corners = np.array(np.meshgrid(*[[0, 1]] * n_corner)).reshape(n_corner, -1).T
    rest = np.random.default_rng(0).random((len(corners), problem.n_var - n_corner))
    X = problem.lb + np.hstack([corners, rest]) * (problem.ub - problem.lb)
    # One quick compilation per case: evaluated op by op, WFG and LSMOP compile dozens of
    # operations each (these 46 cases took 26 s that way, 9 s jitted).
    with jax.enable_x64(dtype == jnp.float64):
        evaluate = jax.jit(problem.evaluate, compiler_options=QUICK)
        F = np.asarray(evaluate(jnp.asarray(X, dtype)))
    assert F.dtype == dtype
    assert np.all(F >= 0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtlz2_corners_are_exact(dtype):
    position = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    X = np.hstack([position, np.full((4, 10), 0.5)])
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]])
    with jax.enable_x64(dtype == jnp.float64):
        F = np.asarray(DTLZ2(n_obj=3).evaluate(jnp.asarray(X, dtype)))
    assert np.all(F[expected == 0] == 0)  # sin(0) is exact; 1 is only to rounding
    np.testing.assert_allclose(F, expected, atol=1e-6 if dtype == jnp.float32 else 1e-14)
