"""The same bad inputs given to every registered algorithm: each gets a clear error, and
NaN or inf objectives never survive selection."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.genetic import GeneticAlgorithm
from evo.problems import ZDT1, Problem
from evo.registry import algorithm_class

from registered import IMPORTABLE, run_length, takes_a_batch_size

LB, UB = np.zeros(4), np.ones(4)


def build(name, lb=LB, ub=UB, **settings):
    """Algorithm `name` for a 4-variable box (2 objectives unless single-objective)."""
    cls = algorithm_class(name)
    n_obj = 1 if cls.single_objective else 2
    box = types.SimpleNamespace(n_obj=n_obj, lb=lb, ub=ub, n_constr=0,
                                ref_point=np.full(n_obj, 1.1))
    return cls.for_problem(box, **{"pop_size": 8} | run_length(cls) | settings)


@pytest.mark.parametrize("name", IMPORTABLE)
def test_constructors_take_keywords_only(name):
    cls = algorithm_class(name)
    with pytest.raises(TypeError, match=rf"{cls.__name__} takes keyword arguments only, e.g. "
                                        rf"{cls.__name__}\(.*lb=\.\.\., ub=\.\.\."):
        cls(LB, UB)


def test_renamed_settings_say_the_new_name():
    with pytest.raises(TypeError, match="neighbour_prob was renamed; use neighbor_prob"):
        evo.MOEAD(n_obj=2, lb=LB, ub=UB, neighbour_prob=0.5)
    with pytest.raises(TypeError, match="n_restarts was renamed; use fit_restarts"):
        evo.Turbo(lb=LB, ub=UB, n_restarts=2)
    state = jax.eval_shape(evo.Turbo(lb=LB, ub=UB).init, jax.random.key(0))
    with pytest.raises(AttributeError, match=r"TurboState\.pending is now TurboState\.offspring"):
        state.pending
    with pytest.raises(AttributeError, match=r"TurboState\._replace is now TurboState\.replace"):
        state._replace(key=state.key)


@pytest.mark.parametrize("name", IMPORTABLE)
@pytest.mark.parametrize("pop_size", [0, -4, 2.5, True, "8", 1])
def test_unusable_population_sizes_raise(name, pop_size):
    if pop_size == 1 and takes_a_batch_size(algorithm_class(name)):
        pytest.skip("one point per ask (q = 1) is a Bayesian optimiser's default")
    with pytest.raises(ValueError, match=r"(pop_size|q) must be an integer >= "):
        build(name, pop_size=pop_size)


def test_population_sizes_tied_to_the_directions_raise():
    # NSGA-III needs one individual per direction; MOEA/D exactly one per weight vector.
    with pytest.raises(ValueError, match="smaller than the 8 reference directions"):
        evo.NSGA3(n_obj=2, lb=LB, ub=UB, ref_dirs=evo.das_dennis(2, 7), pop_size=7)
    with pytest.raises(ValueError, match="pop_size=9 but there are 8 weight vectors"):
        evo.MOEAD(n_obj=2, lb=LB, ub=UB, ref_dirs=evo.das_dennis(2, 7), pop_size=9)


@pytest.mark.parametrize("q", [0, -1, 1.5])
def test_unusable_batch_sizes_raise(q):
    with pytest.raises(ValueError, match="q must be an integer"):
        evo.BayesOpt(n_obj=1, lb=LB, ub=UB, q=q)
    with pytest.raises(ValueError, match="q must be an integer"):
        evo.Turbo(lb=LB, ub=UB, q=q)


@pytest.mark.parametrize("name", IMPORTABLE)
def test_bounds_with_lb_above_ub_raise(name):
    with pytest.raises(ValueError, match=r"lb > ub in 1 variable\(s\), first at index 2"):
        build(name, ub=np.array([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="same length"):
        build(name, ub=np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        build(name, ub=np.array([1.0, np.inf, 1.0, 1.0]))


@pytest.mark.parametrize("name", IMPORTABLE)
def test_objectives_of_the_wrong_shape_raise(name):
    # Shapes are checked while tracing, so tracing alone (eval_shape) must raise.
    algo = build(name)
    X, state = jax.eval_shape(algo.ask, jax.eval_shape(algo.init, jax.random.key(0)))
    n, n_obj = X.shape[0], algo.n_obj
    # Single-objective algorithms also take the objectives as a vector `(n,)`.
    for wrong in [(n, n_obj + 1), (n + 1, n_obj), (n, n_obj, 1)] + [(n,)] * (n_obj > 1):
        with pytest.raises(ValueError, match=rf"shape \(n, n_obj\) = \({n}, {n_obj}\)"):
            jax.eval_shape(algo.tell, state, jax.ShapeDtypeStruct(wrong, jnp.float32))


class ConstrainedSphere(Problem):
    """One objective, one constraint: an algorithm must take it or refuse it at `run`."""

    def evaluate_constrained(self, X):
        return jnp.sum(X**2, axis=1, keepdims=True), X[:, :1] - 0.5

    @property
    def n_constr(self):
        return 1


@pytest.mark.parametrize(
    "name", [name for name in IMPORTABLE if algorithm_class(name).single_objective]
)
def test_algorithms_without_constraint_handling_refuse_constraints_at_run(name):
    algo = build(name)
    with pytest.raises(ValueError, match=f"{type(algo).__name__} does not handle constraints"):
        evo.run(algo, ConstrainedSphere(n_var=4, n_obj=1), jax.random.key(0), 2, progress=False)
    X, state = jax.eval_shape(algo.ask, jax.eval_shape(algo.init, jax.random.key(0)))
    F = G = jax.ShapeDtypeStruct((X.shape[0], 1), jnp.float32)
    with pytest.raises(ValueError, match="does not handle constraints"):
        jax.eval_shape(algo.tell, state, F, G)


GENETIC = [name for name in IMPORTABLE if issubclass(algorithm_class(name), GeneticAlgorithm)]


@pytest.mark.parametrize("name", GENETIC)
def test_duplicate_elimination_is_true_or_false_where_it_applies(name):
    with pytest.raises(ValueError, match="eliminate_duplicates must be True or False"):
        build(name, eliminate_duplicates="yes")
    if name in ("moead", "moead-de", "gde3"):  # one child per subproblem or target row
        with pytest.raises(ValueError, match="does not use eliminate_duplicates"):
            build(name, eliminate_duplicates=True)
    else:
        assert build(name, eliminate_duplicates=True).eliminate_duplicates


class HalfBroken(ZDT1):
    """ZDT1 whose objectives are NaN where x0 > 0.6 and +inf where x1 > 0.8."""

    def evaluate(self, X):
        F = super().evaluate(X)
        F = jnp.where(X[:, :1] > 0.6, jnp.nan, F)
        return jnp.where(X[:, 1:2] > 0.8, jnp.inf, F)


# Algorithms whose own test file checks NaN objectives at their selection; their whole runs
# here are slow tests, the others' stay in the default run.
OWN_NAN_TESTS = {"nsga2", "moead", "moead-de", "rvea", "smsemoa", "spea2", "agemoea2", "gde3"}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.slow] if name in OWN_NAN_TESTS else [])
    for name in GENETIC
])
def test_nan_and_inf_objectives_never_survive_selection(name):
    problem = HalfBroken(n_var=4)
    result = evo.run(build(name), problem, jax.random.key(2), 10, progress=False)
    assert np.all(np.isfinite(result.F)), result.F
    assert np.all((result.X[:, 0] <= 0.6) & (result.X[:, 1] <= 0.8))
    assert np.all(np.isfinite(result.history["f_mean"]))
