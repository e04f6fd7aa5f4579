"""SMS-EMOA: survival against pymoo's, quality against pymoo's SMSEMOA, constraints, NaN."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.algorithms.moo.sms import SMSEMOA as PymooSMSEMOA
from pymoo.algorithms.moo.sms import LeastHypervolumeContributionSurvival
from pymoo.core.population import Population as PymooPopulation
from pymoo.core.problem import Problem as PymooProblem
from pymoo.optimize import minimize
from pymoo.problems import get_problem as pymoo_problem

import evo
from evo.metrics import igd
from evo.problems import C2DTLZ2, DTLZ2, ZDT1
from evo.metrics import hypervolume_contributions
from evo.smsemoa import (
    SMSEMOA,
    remove_least_contributors_2d,
    remove_least_contributors_batched,
)

from compile_options import QUICK

SEEDS = range(10)

# pymoo 0.6.2's SMSEMOA, median IGD over seeds 0-9 (evo.metrics.igd against
# problem.pareto_front(1000)); the slow test below recomputes them.
# ZDT1, pymoo's defaults (n_offsprings = pop_size = 100), 200 generations: 20,000 evaluations.
PYMOO_ZDT1_MEDIAN_IGD = 0.003865
# DTLZ2 (12 variables), steady state (n_offsprings=1), pop_size 40: 4,000 evaluations.
PYMOO_DTLZ2_STEADY_MEDIAN_IGD = 0.1134

ZDT1_PROBLEM = ZDT1()
DTLZ2_PROBLEM = DTLZ2(n_var=12, n_obj=3)
ZDT1_ALGO = SMSEMOA.for_problem(ZDT1_PROBLEM, pop_size=100)
DTLZ2_STEADY = SMSEMOA.for_problem(DTLZ2_PROBLEM, pop_size=40, n_offspring=1)


def median_igd_evo(algorithm, problem, n_gen, chunk_size):
    front = problem.pareto_front(1000)
    return float(np.median([
        igd(evo.run(algorithm, problem, jax.random.key(s), n_gen, chunk_size=chunk_size,
                    progress=False, record="none").F, front)
        for s in SEEDS
    ]))


def median_igd_pymoo(problem, front, n_gen, **settings):
    return float(np.median([
        igd(minimize(problem, PymooSMSEMOA(**settings), ("n_gen", n_gen), seed=s).pop.get("F"),
            front)
        for s in SEEDS
    ]))


def test_generational_sms_emoa_on_zdt1_reaches_pymoo_igd():
    ours = median_igd_evo(ZDT1_ALGO, ZDT1_PROBLEM, 200, 50)
    assert ours <= 1.15 * PYMOO_ZDT1_MEDIAN_IGD, (ours, PYMOO_ZDT1_MEDIAN_IGD)


def test_steady_state_sms_emoa_on_dtlz2_reaches_pymoo_igd():
    # 40 generations fill the population one row at a time, then 3,960 offspring.
    ours = median_igd_evo(DTLZ2_STEADY, DTLZ2_PROBLEM, 4000, 500)
    assert ours <= 1.15 * PYMOO_DTLZ2_STEADY_MEDIAN_IGD, (ours, PYMOO_DTLZ2_STEADY_MEDIAN_IGD)
    # Same compiled chunk: each generation asks for and counts one evaluation.
    short = evo.run(DTLZ2_STEADY, DTLZ2_PROBLEM, jax.random.key(0), 3, chunk_size=500,
                    progress=False, record="none")
    assert short.X.shape == (3, 12)
    np.testing.assert_array_equal(short.history["n_evals"], [1, 2, 3])


@pytest.mark.slow
def test_stored_pymoo_medians_are_what_pymoo_gives():
    zdt1 = median_igd_pymoo(pymoo_problem("zdt1"), ZDT1_PROBLEM.pareto_front(1000), 200,
                            pop_size=100)
    dtlz2 = median_igd_pymoo(pymoo_problem("dtlz2", n_var=12, n_obj=3),
                             DTLZ2_PROBLEM.pareto_front(1000), 3961, pop_size=40,
                             n_offsprings=1)
    np.testing.assert_allclose([zdt1, dtlz2],
                               [PYMOO_ZDT1_MEDIAN_IGD, PYMOO_DTLZ2_STEADY_MEDIAN_IGD], rtol=1e-3)


@pytest.mark.slow
def test_the_other_schemes_reach_pymoo_igd_at_equal_evaluations():
    # Steady state on ZDT1 (pop 40, 4,000 evaluations) and generational on DTLZ2 (pop 40,
    # 100 generations), against pymoo run live.
    zdt1 = SMSEMOA.for_problem(ZDT1_PROBLEM, pop_size=40, n_offspring=1)
    ours = median_igd_evo(zdt1, ZDT1_PROBLEM, 4000, 500)
    theirs = median_igd_pymoo(pymoo_problem("zdt1"), ZDT1_PROBLEM.pareto_front(1000), 3961,
                              pop_size=40, n_offsprings=1)
    assert ours <= 1.15 * theirs, (ours, theirs)
    dtlz2 = SMSEMOA.for_problem(DTLZ2_PROBLEM, pop_size=40)
    ours = median_igd_evo(dtlz2, DTLZ2_PROBLEM, 100, 50)
    theirs = median_igd_pymoo(pymoo_problem("dtlz2", n_var=12, n_obj=3),
                              DTLZ2_PROBLEM.pareto_front(1000), 100, pop_size=40)
    assert ours <= 1.15 * theirs, (ours, theirs)


def random_objectives(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """`n` rows `(n, m)`: points of a concave front, some pushed behind it, a few repeated."""
    F = np.abs(rng.normal(size=(n, m)))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F *= np.where(rng.random((n, 1)) < 0.3, rng.uniform(1.0, 1.5, (n, 1)), 1.0)
    F[rng.integers(0, n, 3)] = F[rng.integers(0, n, 3)]
    return F


def survival_state(algo: SMSEMOA, F: np.ndarray, violation: np.ndarray):
    """A state whose (full) population has objectives `F` and violations `violation`."""
    state = algo.init(jax.random.key(0))
    return state.replace(F=jnp.asarray(F), violation=jnp.asarray(violation),
                         held=jnp.ones(algo.pop_size, bool))


def pymoo_survivors(F: np.ndarray, violation: np.ndarray, n_pop: int) -> np.ndarray:
    """The rows of `F` that pymoo's LeastHypervolumeContributionSurvival keeps, normalising by
    the first `n_pop` rows (the population) as pymoo's SMSEMOA does."""
    problem = PymooProblem(n_var=1, n_obj=F.shape[1], n_ieq_constr=1)
    pop = PymooPopulation.new(F=F, CV=violation[:, None])
    ideal, nadir = F[:n_pop].min(axis=0), F[:n_pop].max(axis=0) + 1e-32
    kept = LeastHypervolumeContributionSurvival().do(problem, pop, n_survive=n_pop, ideal=ideal,
                                                     nadir=nadir, return_indices=True)
    return F[kept]


def sorted_rows(F: np.ndarray) -> np.ndarray:
    return F[np.lexsort(F.T[::-1])]


# One 2-objective generational and one 3-objective steady-state configuration.
CONFIGURATIONS = {
    2: SMSEMOA(pop_size=20, n_obj=2, lb=np.zeros(1), ub=np.ones(1)),
    3: SMSEMOA(pop_size=20, n_obj=3, lb=np.zeros(1), ub=np.ones(1), n_offspring=1),
}
SURVIVE = {m: jax.jit(algo.survive, compiler_options=QUICK) for m, algo in CONFIGURATIONS.items()}


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_survival_keeps_what_pymoo_keeps(m, seed):
    algo, rng = CONFIGURATIONS[m], np.random.default_rng(seed)
    n = algo.pop_size + algo.n_offspring
    F = random_objectives(rng, n, m)
    # Seeds 2 and 3 make a third or two thirds of the rows infeasible, with distinct violations.
    violation = np.where(rng.random(n) < (seed - 1) / 3, rng.uniform(0.1, 1.0, n), 0.0)
    with jax.enable_x64(True):
        state = survival_state(algo, F[: algo.pop_size], violation[: algo.pop_size])
        survived = SURVIVE[m](state, jnp.asarray(F[algo.pop_size:]),
                              jnp.asarray(violation[algo.pop_size:]))
    np.testing.assert_array_equal(sorted_rows(np.asarray(survived.F)),
                                  sorted_rows(pymoo_survivors(F, violation, algo.pop_size)))
    assert np.all(np.asarray(survived.held))


def assert_removes_as_one_at_a_time(remove, F, alive, ref):
    """`remove(F, alive, k, ref)` (float32) leaves the rows that removing the least
    contributor (ties: the first row) k times leaves, recomputing every contribution
    (float64) after each removal, for every k."""
    expected, mask = [alive.copy()], alive.copy()
    for _ in range(alive.sum()):
        contribution = hypervolume_contributions(F, ref, mask)
        mask[np.argmin(np.where(mask, contribution, np.inf))] = False
        expected.append(mask.copy())
    for k, want in enumerate(expected):
        got = remove(jnp.asarray(F, jnp.float32), jnp.asarray(alive), k,
                     jnp.asarray(ref, jnp.float32))
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=f"{k} removals")


REMOVE_2D = jax.jit(remove_least_contributors_2d, compiler_options=QUICK)


@pytest.mark.parametrize("seed", range(4))
def test_two_objective_removals_are_those_of_recomputed_contributions(seed):
    # Integer fronts, so that float32 is exact and tied contributions are truly tied: the
    # linked-list removals must pick what recomputing every contribution (float64) picks,
    # ties to the first row, for every number of removals.
    rng = np.random.default_rng(seed)
    n = 24
    f1 = np.sort(rng.choice(40, n, replace=False)).astype(float)
    F = np.stack([f1, 40.0 - f1], axis=1)[rng.permutation(n)]
    F[1] = F[0]  # a duplicate
    alive = np.ones(n, bool)
    if seed % 2:  # rows outside the front, one of them dominated
        F[2] = F[0] + 1.0
        alive[[2, 5, 11]] = False
    assert_removes_as_one_at_a_time(REMOVE_2D, F, alive, np.array([45.0, 50.0]))


REMOVE_BATCHED = jax.jit(remove_least_contributors_batched,
                         static_argnames=("batch", "smallest_block"), compiler_options=QUICK)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("batch, smallest_block", [(4, 8), (32, 64)])
def test_three_objective_batched_removals_are_those_of_one_at_a_time(seed, batch,
                                                                     smallest_block):
    # Integer points of the plane f1 + f2 + f3 = 30 (mutually non-dominated, float32 exact,
    # many tied contributions) and two duplicates.
    rng = np.random.default_rng(seed)
    grid = np.array([(a, b, 30 - a - b) for a in range(31) for b in range(31 - a)], float)
    F = grid[rng.choice(len(grid), 38, replace=False)]
    F = np.concatenate([F, F[:2]])
    alive = np.ones(len(F), bool)
    alive[[3, 7][: 2 * seed]] = False
    # Blocks of 8, 16, 32 and 40 rows with `smallest_block` 8, one of 40 with 64.
    remove = functools.partial(REMOVE_BATCHED, batch=batch, smallest_block=smallest_block)
    assert_removes_as_one_at_a_time(remove, F, alive, np.array([31.0, 32.0, 33.0]))


@pytest.mark.parametrize("m", [2, 3])
def test_nan_objectives_never_survive(m):
    algo, rng = CONFIGURATIONS[m], np.random.default_rng(m)
    n_off = algo.n_offspring
    F = random_objectives(rng, algo.pop_size + n_off, m)
    offspring = F[algo.pop_size:].copy()
    offspring[::2] = np.nan
    offspring[1::4, 0] = np.inf
    with jax.enable_x64(True):
        state = survival_state(algo, F[: algo.pop_size], np.zeros(algo.pop_size))
        survived = SURVIVE[m](state, jnp.asarray(offspring), jnp.zeros(n_off))
    assert np.all(np.isfinite(np.asarray(survived.F)))


def test_constrained_run_ends_with_a_feasible_population():
    problem = C2DTLZ2(n_var=7)
    algo = SMSEMOA.for_problem(problem, pop_size=24)
    result = evo.run(algo, problem, jax.random.key(1), 40, progress=False, record="stats")
    _, G = problem.evaluate_constrained(jnp.asarray(result.X))
    assert np.all(np.asarray(G) <= 0)
    assert result.history["feasible"][0] < 1.0


def test_bad_input_raises():
    box = {"n_obj": 2, "lb": np.zeros(3), "ub": np.ones(3)}
    with pytest.raises(ValueError, match="SMSEMOA: n_offspring must be an integer >= 1"):
        SMSEMOA(n_offspring=0, **box)
    with pytest.raises(ValueError, match=r"SMSEMOA: ref_offset must lie in \(0, inf\]"):
        SMSEMOA(ref_offset=0.0, **box)
    with pytest.raises(ValueError, match="SMSEMOA: ref_offset must be finite"):
        SMSEMOA(ref_offset=np.inf, **box)
    with pytest.raises(ValueError, match="SMSEMOA: eliminate_duplicates must be True or False"):
        SMSEMOA(eliminate_duplicates=1, **box)
    with pytest.raises(ValueError, match="SMSEMOA: n_samples must be an integer >= 1"):
        SMSEMOA(n_samples=0, **box)
    algo = SMSEMOA(n_offspring=3, pop_size=5, **box)
    with pytest.raises(ValueError, match=r"shape \(n, n_obj\) = \(3, 2\), got \(5, 2\)"):
        algo.tell(algo.init(jax.random.key(0)), jnp.zeros((5, 2)))
