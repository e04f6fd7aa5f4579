"""The same bad inputs given to every algorithm: each gets a clear ValueError, and NaN or
inf objectives never reach a returned front."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.bo import BayesOpt, Turbo
from evo.problems import ZDT1

LB, UB = np.zeros(4), np.ones(4)

MULTI_OBJECTIVE = {
    "NSGA2": lambda pop_size, lb=LB, ub=UB: evo.NSGA2(pop_size=pop_size, n_obj=2, lb=lb, ub=ub),
    "NSGA3": lambda pop_size, lb=LB, ub=UB: evo.NSGA3(
        n_obj=2, lb=lb, ub=ub, ref_dirs=evo.das_dennis(2, 1), pop_size=pop_size
    ),
    "MOEAD": lambda pop_size, lb=LB, ub=UB: evo.MOEAD(
        n_obj=2, lb=lb, ub=ub, ref_dirs=evo.das_dennis(2, 7), pop_size=pop_size,
        n_neighbors=3,
    ),
    "HypE": lambda pop_size, lb=LB, ub=UB: evo.HypE(
        pop_size=pop_size, n_obj=2, lb=lb, ub=ub, ref_point=[1.1, 1.1], n_samples=2000
    ),
}
SINGLE_OBJECTIVE = {
    "CMAES": lambda pop_size, lb=LB, ub=UB: evo.CMAES(lb=lb, ub=ub, pop_size=pop_size),
    "SepCMAES": lambda pop_size, lb=LB, ub=UB: evo.SepCMAES(lb=lb, ub=ub, pop_size=pop_size),
}
ALL = MULTI_OBJECTIVE | SINGLE_OBJECTIVE


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("pop_size", [0, 1, -4, 2.5, True, "8"])
def test_unusable_population_sizes_raise(name, pop_size):
    with pytest.raises(ValueError, match="pop_size"):
        ALL[name](pop_size)


def test_population_sizes_tied_to_the_directions_raise():
    # NSGA-III needs one individual per direction; MOEA/D exactly one per weight vector.
    with pytest.raises(ValueError, match="smaller than the 8 reference directions"):
        evo.NSGA3(n_obj=2, lb=LB, ub=UB, ref_dirs=evo.das_dennis(2, 7), pop_size=7)
    with pytest.raises(ValueError, match="pop_size=9 but there are 8 weight vectors"):
        MULTI_OBJECTIVE["MOEAD"](9)


@pytest.mark.parametrize("q", [0, -1, 1.5])
def test_unusable_batch_sizes_raise(q):
    with pytest.raises(ValueError, match="q"):
        BayesOpt(n_obj=1, lb=LB, ub=UB, q=q)
    with pytest.raises(ValueError, match="q"):
        Turbo(lb=LB, ub=UB, q=q)


@pytest.mark.parametrize("name", ALL)
def test_bounds_with_lb_above_ub_raise(name):
    with pytest.raises(ValueError, match=r"lb > ub in 1 variable\(s\), first at index 2"):
        ALL[name](8, lb=LB, ub=np.array([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="same length"):
        ALL[name](8, ub=np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        ALL[name](8, ub=np.array([1.0, np.inf, 1.0, 1.0]))


@pytest.mark.parametrize("name", ALL)
def test_objectives_of_the_wrong_shape_raise(name):
    # Shapes are checked while tracing, so tracing alone (eval_shape) must raise.
    algo = ALL[name](8)
    X, state = jax.eval_shape(algo.ask, jax.eval_shape(algo.init, jax.random.key(0)))
    n, n_obj = X.shape[0], 2 if name in MULTI_OBJECTIVE else 1
    # CMA-ES also takes the fitness as a vector `(n,)`.
    for wrong in [(n, n_obj + 1), (n + 1, n_obj), (n, n_obj, 1)] + [(n,)] * (n_obj > 1):
        with pytest.raises(ValueError, match=rf"shape \(n, n_obj\) = \({n}, {n_obj}\)"):
            jax.eval_shape(algo.tell, state, jax.ShapeDtypeStruct(wrong, jnp.float32))


class HalfBroken(ZDT1):
    """ZDT1 whose objectives are NaN where x0 > 0.6 and +inf where x1 > 0.8."""

    def evaluate(self, X):
        F = super().evaluate(X)
        F = jnp.where(X[:, :1] > 0.6, jnp.nan, F)
        return jnp.where(X[:, 1:2] > 0.8, jnp.inf, F)


@pytest.mark.parametrize("name", ["NSGA3", "MOEAD", "HypE"])
def test_nan_and_inf_objectives_never_reach_the_front(name):
    # NSGA-II has the same check in test_run.py.
    problem = HalfBroken(n_var=4)
    result = evo.run(MULTI_OBJECTIVE[name](8), problem, jax.random.key(2), 6, progress=False)
    assert len(result.pareto_F) > 0
    assert np.all(np.isfinite(result.pareto_F))
    assert np.all(result.pareto_X[:, 0] <= 0.6) and np.all(result.pareto_X[:, 1] <= 0.8)
