"""SMPSO: velocity, bounds, leaders, personal bests and archive against their definitions;
runs against jmetalpy's SMPSO."""

import math
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.indicators.igd import IGD
from pymoo.problems import get_problem as pymoo_problem

import evo
from evo.problems import DTLZ2, MW13, ZDT1
from evo.smpso import (
    SMPSO,
    archive_update,
    bounded_move,
    constricted_velocity,
    constriction,
    leader_tournament,
    sequential_archive_update,
)

from compile_options import QUICK
from moea_checks import median_igd

# jmetalpy 1.9's SMPSO (swarm 100, CrowdingDistanceArchive(100), PolynomialMutation(1 / n_var,
# 20)), 25,000 evaluations, median IGD over seeds 0-9, each run seeded by random.seed(s) and
# numpy.random.seed(s); jmetalpy is deterministic under these seeds, so the slow test
# recomputes them exactly.
JMETAL_ZDT1_MEDIAN_IGD = 0.003587
JMETAL_DTLZ2_MEDIAN_IGD = 0.07903
N_GEN = 250  # 100 x 250 = 25,000 evaluations, the initial swarm included as in jmetalpy
ZDT1_FRONT = pymoo_problem("zdt1").pareto_front()
DTLZ2_FRONT = pymoo_problem("dtlz2", n_var=12, n_obj=3).pareto_front(evo.das_dennis(3, 12))


def test_on_zdt1_reaches_jmetalpy_igd():
    ours = median_igd(SMPSO.for_problem(ZDT1()), ZDT1(), ZDT1_FRONT, N_GEN, range(10))
    assert ours <= 1.15 * JMETAL_ZDT1_MEDIAN_IGD, (ours, JMETAL_ZDT1_MEDIAN_IGD)


def test_on_dtlz2_reaches_jmetalpy_igd():
    problem = DTLZ2(n_var=12, n_obj=3)
    ours = median_igd(SMPSO.for_problem(problem), problem, DTLZ2_FRONT, N_GEN, range(10))
    assert ours <= 1.15 * JMETAL_DTLZ2_MEDIAN_IGD, (ours, JMETAL_DTLZ2_MEDIAN_IGD)


@pytest.mark.slow
def test_stored_medians_are_what_jmetalpy_gives():
    from jmetal.algorithm.multiobjective.smpso import SMPSO as JMetalSMPSO
    from jmetal.operator.mutation import PolynomialMutation
    from jmetal.problem import DTLZ2 as JMetalDTLZ2
    from jmetal.problem import ZDT1 as JMetalZDT1
    from jmetal.util.archive import CrowdingDistanceArchive
    from jmetal.util.termination_criterion import StoppingByEvaluations

    def median(problem, front):
        values = []
        for seed in range(10):
            random.seed(seed)
            np.random.seed(seed)
            algorithm = JMetalSMPSO(
                problem=problem, swarm_size=100,
                mutation=PolynomialMutation(1.0 / problem.number_of_variables(), 20.0),
                leaders=CrowdingDistanceArchive(100),
                termination_criterion=StoppingByEvaluations(max_evaluations=25_000),
            )
            algorithm.run()
            values.append(IGD(front)(np.array([s.objectives for s in algorithm.result()])))
        return float(np.median(values))

    np.testing.assert_allclose(
        [median(JMetalZDT1(), ZDT1_FRONT), median(JMetalDTLZ2(12, 3), DTLZ2_FRONT)],
        [JMETAL_ZDT1_MEDIAN_IGD, JMETAL_DTLZ2_MEDIAN_IGD], rtol=1e-3,
    )


def test_constriction_and_velocity_follow_jmetalpys_formula():
    rng = np.random.default_rng(0)
    n, d = 50, 7
    velocity, X, best, leader = (rng.normal(size=(n, d)) for _ in range(4))
    c1, c2 = rng.uniform(1.5, 2.5, (2, n))
    r1, r2 = rng.uniform(0.0, 1.0, (2, n))
    delta = rng.uniform(0.2, 2.0, d)
    expected = np.empty((n, d))
    for i in range(n):  # jmetalpy's update_velocity, one particle and variable at a time
        rho = c1[i] + c2[i]
        chi = 1.0 if rho <= 4 else 2.0 / (2.0 - rho - math.sqrt(rho**2 - 4.0 * rho))
        for j in range(d):
            value = chi * (0.1 * velocity[i, j] + c1[i] * r1[i] * (best[i, j] - X[i, j])
                           + c2[i] * r2[i] * (leader[i, j] - X[i, j]))
            expected[i, j] = min(max(value, -delta[j]), delta[j])
    with jax.enable_x64(True):
        velocity_jit = jax.jit(constricted_velocity, static_argnums=8, compiler_options=QUICK)
        ours = velocity_jit(
            *map(jnp.asarray, (velocity, X, best, leader, c1[:, None], c2[:, None],
                               r1[:, None], r2[:, None])), 0.1, jnp.asarray(delta))
        chi = np.asarray(constriction(np.float64(2.5), np.float64(2.5)))
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=1e-12, atol=1e-14)
    assert 0 < np.mean(np.abs(expected) == delta) < 0.9  # some components hit the limit
    np.testing.assert_allclose(chi, 2.0 / (2.0 - 5.0 - math.sqrt(5.0)), rtol=1e-14)
    assert float(constriction(jnp.float32(2.0), jnp.float32(2.0))) == 1.0


def test_a_move_past_a_bound_stops_there_and_scales_that_velocity():
    X = jnp.array([[0.1, 0.5, 0.9], [0.5, 0.5, 0.5]])
    velocity = jnp.array([[-0.3, 0.2, 0.3], [0.1, -0.1, 0.0]])
    moved, velocity_after = bounded_move(X, velocity, jnp.zeros(3), jnp.ones(3), 0.001)
    np.testing.assert_allclose(np.asarray(moved), [[0.0, 0.7, 1.0], [0.6, 0.4, 0.5]],
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(velocity_after),
                               [[-0.0003, 0.2, 0.0003], [0.1, -0.1, 0.0]], rtol=1e-6)


def test_leaders_win_binary_tournaments_between_distinct_members():
    # Members 0-5 of a 10-slot archive; the empty slots' large crowding must never count.
    crowding = jnp.array([0.3, 0.1, 0.6, 0.5, 0.2, 0.4, 9.0, 9.0, 9.0, 9.0])
    tournament = jax.jit(leader_tournament, static_argnums=3, compiler_options=QUICK)
    leaders = np.asarray(tournament(jax.random.key(0), crowding, jnp.int32(6), 30_000))
    assert leaders.max() < 6
    # Between two distinct members the more crowded wins: the member of crowding rank r
    # (0 the least crowded) wins with probability 2 r / (n (n - 1)).
    rank = np.argsort(np.argsort(np.asarray(crowding[:6])))
    np.testing.assert_allclose(np.bincount(leaders, minlength=6), 30_000 * 2 * rank / 30,
                               atol=450)
    for n_held in (1, 2):
        assert not np.any(np.asarray(tournament(jax.random.key(1), crowding,
                                                jnp.int32(n_held), 30_000)))


def crowding_numpy(F):
    """NSGA-II crowding distance of every row of `F`, all one front."""
    n, m = F.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(F[:, k], kind="stable")
        f = F[order, k]
        span = f[-1] - f[0]
        gap = np.full(n, np.inf)
        gap[1:-1] = (f[2:] - f[:-2]) / span if span > 0 else 0.0
        distance[order] += gap
    return distance


def archive_numpy(F, violation, real, capacity, iterative):
    """The archive members by definition: real rows no real row constrained-dominates,
    the first of equal rows, truncated by crowding."""
    violation = np.where(np.all(np.isfinite(F), axis=1) & real, violation, np.inf)
    rows = np.flatnonzero(real)

    def dominates(i, j):
        if violation[i] == 0 and violation[j] == 0:
            return np.all(F[i] <= F[j]) and np.any(F[i] < F[j])
        return violation[i] < violation[j]

    front = [j for j in rows if not any(dominates(i, j) for i in rows)]
    members = [j for k, j in enumerate(front) if not any(np.array_equal(F[i], F[j])
                                                         for i in front[:k])]
    if iterative:
        while len(members) > capacity:
            members.pop(int(np.argmin(crowding_numpy(F[members]))))
    elif len(members) > capacity:
        members = list(np.array(members)[np.argsort(-crowding_numpy(F[members]))[:capacity]])
    return sorted(members)


update_jit = jax.jit(archive_update, static_argnames=("capacity", "iterative"),
                     compiler_options=QUICK)


@pytest.mark.parametrize("n_obj, iterative", [(2, True), (3, True), (2, False)])
def test_archive_update_equals_the_definition(n_obj, iterative):
    rng = np.random.default_rng(n_obj + 10 * iterative)
    n, capacity = 120, 12
    # Points near a front, so that many are non-dominated, some duplicated, some NaN.
    w = rng.dirichlet(np.ones(n_obj), n)
    F = w / np.linalg.norm(w, axis=1, keepdims=True) + rng.exponential(0.02, (n, 1))
    F[10:14] = F[20:24]
    F[30] = np.nan
    F[31, 0] = np.inf
    real = rng.random(n) < 0.9
    # A stale row in an empty slot that would dominate everything must not count.
    F[0], real[0] = -1.0, False
    cases = [np.zeros(n), np.where(rng.random(n) < 0.3, rng.exponential(1.0, n), 0.0),
             np.where(rng.random(n) < 0.5, 0.5, 2.0)]  # unconstrained, some or none feasible
    for violation in cases:
        expected = archive_numpy(F, violation, real, capacity, iterative)
        with jax.enable_x64(True):
            kept, n_held = update_jit(jax.random.key(0), jnp.asarray(F), jnp.asarray(violation),
                                      jnp.asarray(real), capacity=capacity, iterative=iterative)
        members = np.asarray(kept)[: int(n_held)]
        assert sorted(members.tolist()) == expected
        if iterative:  # the most crowded first
            crowding = crowding_numpy(F[members])
            assert np.all(crowding[:-1] >= crowding[1:])


def test_nan_rows_enter_only_an_archive_without_others():
    # The shapes and settings of the test above, so its compilation serves.
    F = np.full((120, 2), 9.0)
    F[:4] = [[np.nan, 1.0], [np.inf, 0.0], [0.5, 0.5], [np.nan, 0.0]]
    real = np.zeros(120, bool)
    real[[0, 1, 3]] = True
    with jax.enable_x64(True):
        for rows, expected in ([real, [0, 1, 3]], [np.arange(120) < 4, [2]]):
            kept, n_held = update_jit(jax.random.key(0), jnp.asarray(F), jnp.zeros(120),
                                      jnp.asarray(rows), capacity=12, iterative=True)
            assert sorted(np.asarray(kept)[: int(n_held)].tolist()) == expected


def sequential_numpy(F, violation, n_held, capacity):
    """Members, in order of entry, after rows `capacity`.. of `F` enter one at a time an
    archive holding rows 0..n_held-1: jmetalpy's `BoundedArchive.add` with constrained
    dominance (NaN or inf rows infinitely infeasible)."""
    violation = np.where(np.all(np.isfinite(F), axis=1), violation, np.inf)

    def dominates(i, j):
        if violation[i] == 0 and violation[j] == 0:
            return np.all(F[i] <= F[j]) and np.any(F[i] < F[j])
        return violation[i] < violation[j]

    members = list(range(n_held))
    for new in range(capacity, len(F)):
        if any(dominates(i, new) or np.array_equal(F[i], F[new]) for i in members):
            continue
        members = [i for i in members if not dominates(new, i)] + [new]
        if len(members) > capacity:
            members.pop(int(np.argmin(crowding_numpy(F[members]))))
    return members


sequential_jit = jax.jit(sequential_archive_update, static_argnames=("n_new", "capacity"),
                         compiler_options=QUICK)


@pytest.mark.parametrize("n_obj", [2, 3])
def test_sequential_archive_update_equals_one_insertion_at_a_time(n_obj):
    rng = np.random.default_rng(n_obj)
    capacity, n_new = 12, 40
    w = rng.dirichlet(np.ones(n_obj), capacity + n_new)
    F = w / np.linalg.norm(w, axis=1, keepdims=True) + rng.exponential(0.02, (len(w), 1))
    F[7:capacity] = -1.0  # stale rows in empty slots, which must not count
    F[20:23] = F[30:33]  # duplicates among the new rows
    F[40], F[41, 0] = np.nan, np.inf
    for violation in (np.zeros(len(F)), np.where(rng.random(len(F)) < 0.3,
                                                 rng.exponential(1.0, len(F)), 0.0)):
        expected = sequential_numpy(F, violation, 7, capacity)
        with jax.enable_x64(True):
            kept, n_held = sequential_jit(jnp.asarray(F), jnp.asarray(violation),
                                          jnp.arange(capacity) < 7, n_new=n_new,
                                          capacity=capacity)
        assert np.asarray(kept)[: int(n_held)].tolist() == expected


def test_sequential_archive_update_equals_jmetalpys_archive():
    from jmetal.core.solution import FloatSolution
    from jmetal.util.archive import CrowdingDistanceArchive

    rng = np.random.default_rng(5)
    capacity, n_new = 12, 40
    w = rng.dirichlet(np.ones(2), n_new)
    F = w / np.linalg.norm(w, axis=1, keepdims=True) + rng.exponential(0.02, (n_new, 1))
    F[10:13] = F[20:23]
    archive = CrowdingDistanceArchive(capacity)
    for f in F:
        solution = FloatSolution([0.0], [1.0], 2)
        solution.objectives = list(f)
        archive.add(solution)
    F_all = np.concatenate([np.zeros((capacity, 2)), F])
    with jax.enable_x64(True):
        kept, n_held = sequential_jit(jnp.asarray(F_all), jnp.zeros(len(F_all)),
                                      jnp.zeros(capacity, bool), n_new=n_new, capacity=capacity)
    members = np.asarray(kept)[: int(n_held)] - capacity
    np.testing.assert_array_equal(F[members], [s.objectives for s in archive.solution_list])


@pytest.mark.parametrize("personal_best", ["unless-dominated", "random"])
def test_personal_bests_follow_dominance(personal_best):
    algo = SMPSO(n_obj=2, lb=np.zeros(3), ub=np.ones(3), pop_size=4, personal_best=personal_best)
    F0 = jnp.array([[0.2, 0.8], [0.4, 0.6], [0.6, 0.4], [0.8, 0.2]])
    state = algo.init(jax.random.key(0)).replace(best_F=F0, best_violation=jnp.zeros(4),
                                                  generation=jnp.int32(1))
    # Row 0 is dominated by its best, row 1 dominates it, rows 2 and 3 neither: 3 is NaN,
    # which its finite best dominates (NaN is infinitely infeasible).
    F1 = jnp.array([[0.3, 0.9], [0.3, 0.5], [0.7, 0.3], [jnp.nan, 0.0]])
    tell = jax.jit(jax.vmap(lambda key: algo.tell(state.replace(key=key), F1).best_F),
                   compiler_options=QUICK)
    best = np.asarray(tell(jax.random.split(jax.random.key(1), 400)))
    replaced = np.all(best == np.asarray(F1), axis=2)
    kept = np.all(best == np.asarray(F0), axis=2)
    assert kept[:, 0].all() and replaced[:, 1].all() and kept[:, 3].all()
    if personal_best == "unless-dominated":
        assert replaced[:, 2].all()
    else:
        assert 0.4 < replaced[:, 2].mean() < 0.6 and (replaced[:, 2] | kept[:, 2]).all()


def runs_with_nan_rows(algo, problem, n_gen):
    """Yields, after each of `n_gen` generations of `algo` on the constrained `problem` with
    NaN objectives in every other row, the rows asked, the state, its population's held
    rows (`X`, `F`, `violation`), and whether a feasible finite row has been told yet;
    asserts that the held rows are there and have finite objectives."""
    ask = jax.jit(algo.ask, compiler_options=QUICK)
    tell = jax.jit(algo.tell, compiler_options=QUICK)
    state = algo.init(jax.random.key(0))
    any_feasible = False
    for generation in range(n_gen):
        X, state = ask(state)
        F, G = problem.evaluate_constrained(X)
        F = F.at[generation % 2::2].set(jnp.nan)
        state = tell(state, F, G)
        any_feasible |= bool(np.any(np.isfinite(np.asarray(F)).all(axis=1)
                                    & (np.asarray(G) <= 0).all(axis=1)))
        population = algo.population(state)
        held = np.asarray(population.held)
        held_rows = [np.asarray(a)[held] for a in population[:3]]
        assert held.any() and np.isfinite(held_rows[1]).all()
        yield np.asarray(X), state, held_rows, any_feasible


def test_nan_objectives_and_infeasible_rows_stay_out_of_the_archive():
    problem = MW13(n_var=6)
    algo = SMPSO.for_problem(problem, pop_size=12, archive_size=8)
    for X, state, (_, _, violation), any_feasible in runs_with_nan_rows(algo, problem, 8):
        assert not any_feasible or np.all(violation == 0)
        # Positions stay in the box, velocities within half its width.
        assert np.all((X >= problem.lb) & (X <= problem.ub))
        assert np.all(np.abs(np.asarray(state.velocity)) <= (problem.ub - problem.lb) / 2)
    assert any_feasible and int(algo.n_evals(state)) == 8 * 12


def test_bad_settings_raise_clear_errors():
    lb, ub = np.zeros(3), np.ones(3)
    bad = [
        ({"pop_size": 1}, "SMPSO: pop_size must be an integer >= 2"),
        ({"archive_size": 0}, "SMPSO: archive_size must be an integer >= 1"),
        ({"c1": (2.5, 1.5)}, r"SMPSO: c1\[1\] must lie in \[2.5, inf\]"),
        ({"c2": 2.0}, r"SMPSO: c2 must be a pair \(low, high\)"),
        ({"c2": (1.0, math.inf)}, "SMPSO: c2 must be finite"),
        ({"inertia": -0.1}, "SMPSO: inertia must lie in"),
        ({"bound_velocity": 2.0}, r"SMPSO: bound_velocity must lie in \[-1, 1\]"),
        ({"mutation_every": 0}, "SMPSO: mutation_every must be an integer >= 1"),
        ({"mutation_rate": 1.5}, "SMPSO: mutation_rate must lie in"),
        ({"mutation_eta": -1.0}, "SMPSO: mutation_eta must lie in"),
        ({"personal_best": "never"}, "SMPSO: personal_best must be one of"),
        ({"archive_update": "none"}, "SMPSO: archive_update must be one of"),
    ]
    for settings, message in bad:
        with pytest.raises(ValueError, match=message):
            SMPSO(n_obj=2, lb=lb, ub=ub, **settings)
    algo = SMPSO(n_obj=2, lb=lb, ub=ub, pop_size=10)
    assert algo.archive_size == 10 and algo.mutation_rate == pytest.approx(1 / 3)
    state = jax.eval_shape(algo.init, jax.random.key(0))
    with pytest.raises(ValueError, match="objectives must have shape"):
        jax.eval_shape(algo.tell, state, jnp.zeros((10, 3)))
