"""SPEA2: quality against pymoo, its survival and truncation against references, constraints,
NaN objectives and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.problems import C2DTLZ2, DTLZ2, ZDT1
from evo.spea2 import GATHERED_ROWS, SPEA2, pairwise_distances, truncate

import moea_checks
from compile_options import QUICK

SEEDS = range(5)
POP, N_GEN = 100, 200
# Budget: 100 individuals x 200 generations = 20,000 evaluations (the first generation is
# the initial population), seeds 0-4. pymoo 0.6.2's SPEA2 with its defaults (normalised
# distances, SBX eta 15 p 0.9, PM eta 20, duplicate elimination), median IGD of the final
# population against 100 points of ZDT1's front and against DTLZ2's front at the 91
# Das-Dennis directions (p = 12); the `slow` test recomputes them.
PYMOO_ZDT1_MEDIAN_IGD = 0.004550
PYMOO_DTLZ2_MEDIAN_IGD = 0.04891

ZDT1_FRONT = ZDT1().pareto_front(100)
DIRECTIONS = evo.das_dennis(3, 12)
DTLZ2_FRONT = DIRECTIONS / np.linalg.norm(DIRECTIONS, axis=1, keepdims=True)


PROBLEMS = {"zdt1": (ZDT1(), ZDT1_FRONT), "dtlz2": (DTLZ2(n_var=12, n_obj=3), DTLZ2_FRONT)}


def median_igd(cls, name: str) -> float:
    """The median IGD over SEEDS of algorithm class `cls` (POP, N_GEN) on problem `name`.
    (Also used by test_agemoea2.)"""
    problem, front = PROBLEMS[name]
    return moea_checks.median_igd(cls.for_problem(problem, pop_size=POP), problem, front,
                                  N_GEN, SEEDS)


def pymoo_median_igd(make_algorithm, name: str) -> float:
    """The median IGD over SEEDS of the pymoo algorithm `make_algorithm()` at N_GEN
    generations on problem `name`."""
    from pymoo.problems import get_problem

    problem = get_problem("zdt1") if name == "zdt1" else get_problem("dtlz2", n_var=12, n_obj=3)
    return moea_checks.pymoo_median_igd(make_algorithm, problem, PROBLEMS[name][1], N_GEN,
                                        SEEDS)


PYMOO_MEDIANS = {"zdt1": PYMOO_ZDT1_MEDIAN_IGD, "dtlz2": PYMOO_DTLZ2_MEDIAN_IGD}


@pytest.mark.parametrize("name", PROBLEMS)
def test_median_igd_is_within_15_percent_of_pymoos(name):
    ours = median_igd(SPEA2, name)
    assert ours <= 1.15 * PYMOO_MEDIANS[name], (ours, PYMOO_MEDIANS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", PROBLEMS)
def test_stored_pymoo_medians_are_what_pymoo_gives(name):
    from pymoo.algorithms.moo.spea2 import SPEA2 as PymooSPEA2

    theirs = pymoo_median_igd(lambda: PymooSPEA2(pop_size=POP), name)
    assert theirs == pytest.approx(PYMOO_MEDIANS[name], rel=1e-3)


def brute_force_truncation(D: np.ndarray, alive: np.ndarray, n_remove: int) -> np.ndarray:
    """SPEA2's truncation written out: sort every remaining row of `D`, remove the
    lexicographically smallest (the first on a complete tie), repeat."""
    left = list(np.flatnonzero(alive))
    for _ in range(n_remove):
        rows = np.sort(D[np.ix_(left, left)], axis=1)
        left.pop(min(range(len(left)), key=lambda i: tuple(rows[i])))
    return np.isin(np.arange(len(D)), left)


truncate_jit = jax.jit(truncate, compiler_options=QUICK)


@pytest.mark.parametrize("layout", ["random", "lattice", "duplicates"])
def test_truncation_equals_the_brute_force_removal(layout):
    # A lattice ties most rows on both nearest distances, and a point repeated more than
    # GATHERED_ROWS times ties them completely: both take the paths beyond the two nearest.
    rng = np.random.default_rng(len(layout))
    if layout == "lattice":
        P = np.stack(np.meshgrid(np.arange(10.0), np.arange(6.0)), axis=-1).reshape(-1, 2)
    else:
        P = rng.random((60, 2))
    if layout == "duplicates":
        P[10:12 + GATHERED_ROWS] = P[3]
        P[40:43] = P[4]
    with jax.enable_x64(True):
        D = np.array(pairwise_distances(jnp.asarray(P)))
        np.fill_diagonal(D, np.inf)
        for trial in range(4):
            alive = rng.random(60) < 0.85
            n_remove = int(alive.sum()) - int(rng.integers(3, 20))
            ours = truncate_jit(jnp.asarray(D), jnp.asarray(alive), jnp.int32(n_remove))
            np.testing.assert_array_equal(np.asarray(ours),
                                          brute_force_truncation(D, alive, n_remove))


def near_front(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """`(n, m)` points on or behind the unit sphere's positive octant, a repeated row too."""
    w = rng.dirichlet(np.ones(m), n)
    F = w / np.linalg.norm(w, axis=1, keepdims=True) * (1 + rng.exponential(0.05, (n, 1)))
    F[7] = F[2]
    return F


def sorted_rows(F) -> list:
    return sorted(map(tuple, np.asarray(F).tolist()))


@pytest.mark.parametrize("normalize", [True, False])
def test_survival_keeps_what_pymoo_keeps_with_its_fitness(normalize):
    from pymoo.algorithms.moo.spea2 import SPEA2Survival
    from pymoo.core.population import Population

    n, n_obj = 20, 3
    rng = np.random.default_rng(0)
    theirs = SPEA2Survival(normalize=normalize)  # it keeps its normalisation across calls
    algo = SPEA2(pop_size=n, n_obj=n_obj, lb=np.zeros(2), ub=np.ones(2), normalize=normalize)
    with jax.enable_x64(True):
        survive = jax.jit(algo.survive, compiler_options=QUICK)
        state = algo.init(jax.random.key(0))
        state = state.replace(F=jnp.asarray(near_front(rng, n, n_obj)), violation=jnp.zeros(n))
        # Two generations, so that the normalisation carried over is compared too.
        for _ in range(2):
            offspring = near_front(rng, n, n_obj)
            merged = np.concatenate([np.asarray(state.F), offspring])
            kept = theirs._do(None, Population.new(F=merged), n_survive=n)
            state = survive(state, jnp.asarray(offspring), jnp.zeros(n))
            assert sorted_rows(state.F) == sorted_rows(kept.get("F"))
            np.testing.assert_allclose(np.sort(np.asarray(state.fitness)),
                                       np.sort(kept.get("SPEA_F")), rtol=1e-12)


_COMPILED = {}


def states(algo, problem, key, n_gen, spoil=lambda generation, F: F):
    """The state after each of `n_gen` generations of `algo` on the constrained `problem`,
    by ask and tell compiled once per algorithm (QUICK); `spoil(generation, F)` may corrupt
    the objectives before they are told. (Also used by test_agemoea2.)"""
    if algo not in _COMPILED:
        _COMPILED[algo] = (jax.jit(algo.ask, compiler_options=QUICK),
                           jax.jit(algo.tell, compiler_options=QUICK))
    ask, tell = _COMPILED[algo]
    state = algo.init(key)
    for generation in range(n_gen):
        X, state = ask(state)
        F, G = problem.evaluate_constrained(X)
        state = tell(state, spoil(generation, F), G)
        yield state


def check_constrained_run_ends_feasible(algo, problem):
    first, *_, last = states(algo, problem, jax.random.key(1), 40)
    assert bool(jnp.any(first.violation > 0))
    _, G = problem.evaluate_constrained(last.X)
    assert bool(jnp.all(G <= 0))


def check_nan_objectives_never_survive(algo, problem):
    def spoil(generation, F):
        return F.at[::2].set(jnp.nan).at[1, 0].set(jnp.inf) if generation else F

    for state in states(algo, problem, jax.random.key(0), 3, spoil):
        assert bool(jnp.all(jnp.isfinite(state.F)))


CONSTRAINED = C2DTLZ2(n_var=7)
SMALL = SPEA2.for_problem(CONSTRAINED, pop_size=24)


def test_constrained_run_ends_with_a_feasible_population():
    check_constrained_run_ends_feasible(SMALL, CONSTRAINED)


def test_nan_objectives_never_survive_when_finite_rows_suffice():
    check_nan_objectives_never_survive(SMALL, CONSTRAINED)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="SPEA2: normalize must be True or False"):
        SPEA2(n_obj=2, lb=np.zeros(3), ub=np.ones(3), normalize="yes")
    with pytest.raises(ValueError, match="SPEA2: pop_size must be an integer >= 2"):
        SPEA2(n_obj=2, lb=np.zeros(3), ub=np.ones(3), pop_size=1)
