"""CMA-ES against pycma, restarts, numerical safety (NaN fitness, covariance), bounds."""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.cmaes import (
    CMAES,
    PrecisionWarning,
    SepCMAES,
    box_map,
    box_unmap,
    linquad_margins,
    reflect,
)
from evo.problems import (
    BBOB,
    Ellipsoid,
    Problem,
    Rastrigin,
    Rosenbrock,
    RotatedEllipsoid,
    Sphere,
)

from compile_options import QUICK

cma = pytest.importorskip("cma")

TARGET = 1e-8
N = 10

# Float32 runs that converge at f far from 0 warn that f is no longer resolved; the tests
# that check the warning catch it themselves.
pytestmark = pytest.mark.filterwarnings("ignore::evo.PrecisionWarning")


def simulate(algorithm, evaluate, n_gen: int, record, key: jax.Array, *args):
    """Run `n_gen` generations from `key`; returns the final state and stacked records.

    `evaluate(X, g, key, *args)` gives the fitness of generation `g`; `record(state)` is
    stacked over generations.
    """
    state = algorithm.init(key)

    def generation(state, g):
        X, state = algorithm.ask(state)
        state = algorithm.tell(state, evaluate(X, g, jax.random.fold_in(key, g), *args))
        return state, record(state)

    return jax.lax.scan(generation, state, jnp.arange(n_gen))


def runs(algorithm, evaluate, n_gen: int, record, compiler_options=None):
    """`simulate` jitted and vmapped over keys (and any further arguments); brief runs
    compile sooner with `compiler_options=QUICK`."""
    return jax.jit(jax.vmap(functools.partial(simulate, algorithm, evaluate, n_gen, record)),
                   compiler_options=compiler_options)


def first_hit(best_f: np.ndarray, n_evals: np.ndarray, target: float = TARGET) -> np.ndarray:
    """Evaluations `(S,)` at the first generation with `best_f < target` (inf if none)."""
    hit = best_f < target
    return np.where(hit.any(axis=1), n_evals[np.arange(len(hit)), hit.argmax(axis=1)], np.inf)


def sphere_np(x: np.ndarray) -> float:
    return float(np.sum(x**2))


def ellipsoid_np(x: np.ndarray) -> float:
    return float(np.sum(1e6 ** (np.arange(x.size) / (x.size - 1)) * x**2))


def rosenbrock_np(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def pycma_evals(f, x0: np.ndarray, seed: int, **options) -> float:
    """pycma's evaluations to `TARGET` from `x0` with sigma0 1 (inf if it stops short)."""
    es = cma.CMAEvolutionStrategy(
        x0, 1.0, {"seed": seed, "ftarget": TARGET, "verbose": -9} | options
    )
    while not es.stop():
        X = es.ask()
        es.tell(X, [f(x) for x in X])
    return es.countevals if es.best.f < TARGET else np.inf


X0 = np.random.default_rng(0).uniform(-2, 2, N)
PEERS = {"Sphere": sphere_np, "Ellipsoid": ellipsoid_np, "Rosenbrock": rosenbrock_np}
# pycma's median evaluations to TARGET (cma 4.5.0): CMA-ES with 10 offspring from X0, seeds
# 1-5, per problem of PEERS in N dimensions; diagonal CMA-ES on the 40-D ellipsoid from
# ones, seeds 1 and 2. Running pycma takes most of the comparisons' time, so the default
# run compares with these stored values and the `slow` test recomputes them live.
PYCMA_MEDIAN_EVALS = {"Sphere": 1330.0, "Ellipsoid": 3820.0, "Rosenbrock": 5030.0}
PYCMA_DIAGONAL_ELLIPSOID_40D_MEDIAN_EVALS = 9240.0


def pycma_median_evals(name: str) -> float:
    return float(np.median([pycma_evals(PEERS[name], X0, s, popsize=10) for s in range(1, 6)]))


def pycma_diagonal_ellipsoid_40d_median_evals() -> float:
    return float(np.median([pycma_evals(ellipsoid_np, np.ones(40), s, CMA_diagonal=True)
                            for s in (1, 2)]))


@pytest.mark.slow
def test_stored_pycma_medians_are_what_pycma_gives():
    live = [pycma_median_evals(name) for name in PEERS]
    np.testing.assert_allclose(live, list(PYCMA_MEDIAN_EVALS.values()), rtol=1e-3)
    np.testing.assert_allclose(pycma_diagonal_ellipsoid_40d_median_evals(),
                               PYCMA_DIAGONAL_ELLIPSOID_40D_MEDIAN_EVALS, rtol=1e-3)


ROSENBROCK_LOCAL_MINIMUM = (3.7, 4.0)
"""10-D Rosenbrock's other minimum (f = 3.99 near x_1 = -1), where a run of CMA-ES with the
default population ends now and then (pycma's and evosax's runs as well)."""


def test_evaluations_to_target_within_1p5x_of_pycma():
    problems = [Sphere(n_var=N), Ellipsoid(n_var=N), Rosenbrock(n_var=N)]
    seeds = 10
    # In float64, so that rounding differences between CPUs stay far below what selection
    # sees over the hundreds of generations of a run.
    with jax.enable_x64(True):
        algorithm = CMAES(lb=np.full(N, -5.0), ub=np.full(N, 5.0), mean0=X0, sigma0=1.0)
        assert algorithm.pop_size == 10

        # One compilation for all problems and seeds: the problem index is a vmapped argument.
        def evaluate(X, g, key, index):
            return jax.lax.switch(index, [p.evaluate for p in problems], X)

        index = np.repeat(np.arange(len(problems)), seeds)
        keys = jax.random.split(jax.random.key(0), len(index))
        _, (best_f, n_evals) = runs(algorithm, evaluate, 800, lambda s: (s.best_f, s.n_evals))(
            keys, index
        )
    best_f = np.asarray(best_f)
    ours = first_hit(best_f, np.asarray(n_evals)).reshape(len(problems), seeds)
    final = best_f[:, -1].reshape(len(problems), seeds)

    for problem, evals, ends in zip(problems, ours, final):
        name = type(problem).__name__
        solved = np.isfinite(evals)
        theirs = PYCMA_MEDIAN_EVALS[name]
        assert np.median(evals[solved]) <= 1.5 * theirs, (name, evals, theirs)
        if name == "Rosenbrock":
            # An unsolved run sits in the other minimum, or is still closing on the global
            # one when the 800 generations end (one of these ten ends at 1.4e-7 on some
            # CPUs: XLA's rounding there sends it down the valley more slowly).
            low, high = ROSENBROCK_LOCAL_MINIMUM
            assert np.all(solved | ((ends > low) & (ends < high)) | (ends < 1e-4)), ends
            assert solved.sum() >= seeds // 2, evals
        else:
            assert solved.all(), (name, evals)


def rotated_rastrigin():
    """Rastrigin in N dimensions, rotated: the problem and `evaluate(X, g, key)` for `runs`."""
    problem = Rastrigin(n_var=N)
    rotation = jnp.asarray(np.linalg.qr(np.random.default_rng(0).normal(size=(N, N)))[0])

    def evaluate(X, g, key):
        return problem.evaluate(X @ rotation.T)

    return problem, evaluate


def test_ipop_solves_rotated_rastrigin_where_plain_cmaes_fails():
    problem, evaluate = rotated_rastrigin()
    budget, seeds = 150_000, 5
    keys = jax.random.split(jax.random.key(3), seeds)
    ipop = CMAES(lb=problem.lb, ub=problem.ub, restart="ipop", max_pop_size=16 * 10)

    def record(state):
        eigenvalues = jnp.linalg.eigvalsh(state.C)
        return state.best_f, state.n_evals, state.lam, eigenvalues[0] / eigenvalues[-1]

    _, (best_f, n_evals, lam, ratio) = runs(ipop, evaluate, 2000, record)(keys)
    best_f, n_evals, lam = np.asarray(best_f), np.asarray(n_evals), np.asarray(lam)
    assert np.all(np.asarray(ratio) > 0), "C must stay positive definite across restarts"
    assert np.all(n_evals[:, -1] > budget), "the IPOP runs must use up the budget"
    assert lam.min() == ipop.pop_size and lam.max() == 160
    ipop_best = np.min(np.where(n_evals <= budget, best_f, np.inf), axis=1)

    # Plain CMA-ES ends (`terminated`) within a tenth of that budget: on these seeds its
    # best f after 1,500 generations was the same as after 15,000.
    plain = CMAES(lb=problem.lb, ub=problem.ub)
    plain_gens = budget // plain.pop_size // 10
    state, (plain_best, plain_evals) = runs(plain, evaluate, plain_gens,
                                            lambda s: (s.best_f, s.n_evals))(keys)
    assert np.all(np.asarray(plain_evals)[:, -1] == plain_gens * plain.pop_size)
    assert np.all(np.asarray(state.terminated)), "plain CMA-ES should converge to a local optimum"

    # Rastrigin's local minima lie near integer points, at f = 0.995 per coordinate off 0.
    # Over 20 seeds (float32 and float64, this budget) IPOP ended at most 2 coordinates off
    # (f <= 1.99) and reached the global minimum in 14-16; plain CMA-ES ended at f >= 7.96.
    # Float32 resolves f near 0 only to about 10 eps ~ 1e-6 (10 - 10 cos(2 pi x) cancels),
    # so 1e-4 stands for the global minimum.
    assert np.all(ipop_best < 4.0) and np.any(ipop_best < 1e-4), ipop_best
    assert np.all(np.asarray(plain_best)[:, -1] > 4.0), np.asarray(plain_best)[:, -1]


@pytest.mark.slow
def test_bipop_solves_rotated_rastrigin():
    problem, evaluate = rotated_rastrigin()
    budget, seeds = 300_000, 5
    bipop = CMAES(lb=problem.lb, ub=problem.ub, restart="bipop")
    _, (best_f, n_evals) = runs(bipop, evaluate, 8000, lambda s: (s.best_f, s.n_evals))(
        jax.random.split(jax.random.key(3), seeds)
    )
    n_evals = np.asarray(n_evals)
    assert np.all(n_evals[:, -1] > budget)
    best = np.min(np.where(n_evals <= budget, np.asarray(best_f), np.inf), axis=1)
    # Measured: every seed at f < 1e-9 (float32) within 300,000 evaluations, 3 of the 5
    # within 150,000, through runs of population up to 349.
    assert np.all(best < 1e-8), best


def assert_same_state(first, second) -> None:
    """Every leaf of two states equal, keys by their key data."""
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_same_key_same_run_and_bipop_counts_only_active_evaluations():
    problem = Rastrigin(n_var=5)
    algorithm = CMAES(lb=problem.lb, ub=problem.ub, restart="bipop", max_pop_size=64)
    first = evo.run(algorithm, problem, jax.random.key(7), 400, progress=False)
    second = evo.run(algorithm, problem, jax.random.key(7), 400, progress=False)
    other = evo.run(algorithm, problem, jax.random.key(8), 400, progress=False)
    assert_same_state(first.state, second.state)
    np.testing.assert_array_equal(first.history["f_min"], second.history["f_min"])
    assert not np.array_equal(first.history["f_min"], other.history["f_min"])

    state = first.state
    assert int(state.n_restarts) >= 1
    assert algorithm.pop_size <= int(state.lam) <= 64
    # evo.run's history counts the sampled (active) rows, not all 64 handed out each time.
    assert first.history["n_evals"][-1] == int(state.n_evals) < 400 * 64
    per_generation = np.diff(first.history["n_evals"])
    assert np.all((per_generation >= algorithm.pop_size) & (per_generation <= 64))
    assert np.all((first.X >= problem.lb) & (first.X <= problem.ub))
    # The result holds the rows of the last tell only, not the 64 handed out.
    assert first.X.shape == (int(state.last_lam), 5) and np.all(np.isfinite(first.F))
    assert float(state.best_f) <= first.history["f_min"].min()
    np.testing.assert_allclose(problem.evaluate(state.best_x[None])[0, 0], state.best_f, rtol=1e-6)


def test_covariance_stays_symmetric_positive_definite_over_long_run():
    # 2000 generations without restarts: convergence, then f underflows to 0 in float32 and
    # selection becomes random, which is where C degenerates if anything does.
    problem = RotatedEllipsoid(n_var=N, seed=1)
    algorithm = CMAES(lb=problem.lb, ub=problem.ub)

    def record(state):
        eigenvalues = jnp.linalg.eigvalsh(state.C)
        asymmetry = jnp.max(jnp.abs(state.C - state.C.T))
        finite = jnp.all(jnp.isfinite(state.C)) & jnp.isfinite(state.sigma)
        return eigenvalues[0] / eigenvalues[-1], asymmetry, finite, state.best_f

    state, (ratio, asymmetry, finite, best_f) = runs(
        algorithm, lambda X, g, k: problem.evaluate(X), 2000, record, QUICK
    )(jax.random.split(jax.random.key(2), 2))
    ratio = np.asarray(ratio)
    assert np.all(np.asarray(finite))
    assert np.all(ratio > 0), ratio.min()
    assert np.all(np.asarray(asymmetry) == 0)
    assert np.all(np.asarray(best_f)[:, 1000] < TARGET)
    assert np.all(np.asarray(state.terminated))
    # The rotated ellipsoid needs a covariance with condition number near 1e6, learnt by
    # the time the target is reached. (At generation 600 one of these runs, having crept
    # along the boundary from a start near it, had only 7e4.)
    reached = np.argmax(np.asarray(best_f) < TARGET, axis=1)
    assert np.all(ratio[np.arange(len(ratio)), reached] < 1e-5), ratio[:, reached]


def test_nan_and_inf_fitness_never_reach_mean_sigma_or_covariance():
    problem = Sphere(n_var=N)
    algorithm = CMAES(lb=problem.lb, ub=problem.ub)

    def evaluate(X, g, key):
        F = problem.evaluate(X)
        u = jax.random.uniform(key, (X.shape[0], 1))
        F = jnp.where(u < 0.25, jnp.nan, F)
        F = jnp.where((u >= 0.25) & (u < 0.3), jnp.inf, F)
        F = jnp.where((u >= 0.3) & (u < 0.35), -jnp.inf, F)
        return jnp.where(g % 50 == 10, jnp.nan, F)  # now and then a whole failed generation

    def record(state):
        leaves = (state.mean, state.sigma, state.C, state.D, state.p_sigma, state.p_c)
        return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in leaves])), state.best_f

    state, (finite, best_f) = runs(algorithm, evaluate, 600, record, QUICK)(
        jax.random.split(jax.random.key(4), 3)
    )
    assert np.all(np.asarray(finite))
    assert np.all(np.asarray(best_f)[:, -1] < TARGET), np.asarray(best_f)[:, -1]
    assert np.all(np.isfinite(np.asarray(state.best_f)))


def test_bounds_reach_optimum_on_the_boundary():
    class CornerSphere(Sphere):
        """Sphere on [1, 5]^n: the minimum n sits at the corner lb."""

        _lower = 1.0
        _upper = 5.0

    problem = CornerSphere(n_var=5)
    algorithm = SepCMAES(lb=problem.lb, ub=problem.ub)
    result = evo.run(algorithm, problem, jax.random.key(5), 300, progress=False)
    assert np.all((result.X >= 1.0) & (result.X <= 5.0))
    np.testing.assert_allclose(np.asarray(result.state.best_x), problem.lb, atol=1e-4)
    assert result.history["f_min"][-1, 0] < 5 + 1e-5


def test_reflect_is_identity_inside_and_mirrors_outside():
    lb, ub = jnp.array([0.0, -1.0, 2.0]), jnp.array([5.0, 1.0, 2.0])
    x = jnp.array([[1e-7, 0.3, 2.0], [5.5, -1.5, 7.0], [-1.0, 3.5, -3.0], [11.0, 5.0, 2.0]])
    np.testing.assert_allclose(
        reflect(x, lb, ub),
        [[1e-7, 0.3, 2.0], [4.5, -0.5, 2.0], [1.0, -0.5, 2.0], [1.0, 1.0, 2.0]],
        atol=1e-6,
    )
    assert reflect(x, lb, ub)[0, 0] == x[0, 0]


def test_box_map_is_pycmas_bound_transform_and_box_unmap_its_inverse():
    # Margins min((ub - lb) / 2, max(1, |b|) / 20): 0.25 on [-5, 5], half the width on
    # [0, 0.05] (no identity part), 50 at 1e3, and on [-1e3, -999] half the width again.
    lb, ub = np.array([-5.0, 0.0, 1.0, -1e3]), np.array([5.0, 0.05, 1e3, -999.0])
    a_l, a_u = linquad_margins(lb, ub)
    transform = cma.boundary_handler.BoundTransform([lb, ub])
    np.testing.assert_array_equal(a_l, transform.bounds_tf._al)
    np.testing.assert_array_equal(a_u, transform.bounds_tf._au)
    rng = np.random.default_rng(12)
    width = ub - lb
    G = lb + width * rng.uniform(-3, 4, (200, 4))  # around the box, and some periods away
    G[:20] = lb + width * rng.uniform(-40, 40, (20, 4))
    to_box = jax.jit(box_map, compiler_options=QUICK)
    with jax.enable_x64(True):
        box = [jnp.asarray(v) for v in (lb, ub, a_l, a_u)]
        X = np.asarray(to_box(jnp.asarray(G), *box))
        expected = np.array([transform.repair(g) for g in G])
        np.testing.assert_allclose(X, expected, rtol=1e-12, atol=1e-12 * np.max(np.abs(G)))
        assert np.all((X >= lb) & (X <= ub))
        inside = lb + width * rng.uniform(0, 1, (50, 4))
        back = np.asarray(jax.jit(box_unmap, compiler_options=QUICK)(jnp.asarray(inside), *box))
        np.testing.assert_allclose(back, [transform.inverse(x) for x in inside], rtol=1e-12)
        np.testing.assert_allclose(np.asarray(to_box(jnp.asarray(back), *box)), inside,
                                   rtol=1e-12)
        # Zero margins: the mirror image (to rounding: the two programs fuse differently).
        zero = jnp.zeros(4)
        np.testing.assert_allclose(to_box(jnp.asarray(G), *box[:2], zero, zero),
                                   jax.jit(reflect)(jnp.asarray(G), *box[:2]), rtol=1e-13)
        # The identity part is kept bit for bit; only the first and third coordinates have
        # one.
        middle = jnp.asarray((lb + ub) / 2 + 0.1 * width)
        assert jnp.all((box_map(middle, *box) == middle)[np.array([0, 2])])


def test_standard_deviations_stay_within_a_third_of_the_box_as_pycmas():
    # 2-D Katsuura (bbob f23) is flat to CMA-ES at most scales: without the bound of
    # pycma's maxstd_boundrange (1/3 of the box width with bounds) sigma grew to 772 on
    # [-5, 5]; with it the runs end by tolx, as pycma's do.
    problem = BBOB(n_var=2, function=23, instance=2)
    es = cma.CMAEvolutionStrategy(np.zeros(2), 2.0, {"bounds": [-5, 5], "verbose": -9})
    bound = 10 / 3
    assert np.allclose(es.opts["maxstd"], bound)
    algorithm = CMAES(lb=problem.lb, ub=problem.ub, sigma0=2.0)
    with jax.enable_x64(True):
        _, sd = runs(algorithm, lambda X, g, k: problem.evaluate(X), 400,
                     lambda s: jnp.max(s.sigma * jnp.sqrt(jnp.diagonal(s.C))), QUICK)(
            jax.random.split(jax.random.key(4), 4))
    sd = np.asarray(sd)
    assert sd.max() <= bound * (1 + 1e-12) and sd.max() >= bound * (1 - 1e-12), sd.max()


def test_linquad_bounds_reach_a_linear_optimum_on_the_boundary_as_pycma():
    # f = sum x on [1, 5]^5: the optimum is the corner lb, reached through the quadratic
    # part of pycma's BoundTransform as the minimum of a smooth function (with mirroring,
    # through a kink, in twice the evaluations).
    n, seeds = 5, 6
    lb, ub, x0 = np.ones(n), np.full(n, 5.0), np.full(n, 3.0)
    target = n + 1e-8

    def pycma_evals(seed):
        es = cma.CMAEvolutionStrategy(x0, 1.0, {"bounds": [1, 5], "seed": seed,
                                                "verbose": -9, "ftarget": target})
        while not es.stop():
            X = es.ask()
            es.tell(X, [float(np.sum(x)) for x in X])
        return es.countevals if es.best.f < target else np.inf

    theirs = np.median([pycma_evals(seed) for seed in range(1, seeds + 1)])
    with jax.enable_x64(True):
        algorithm = CMAES(lb=lb, ub=ub, mean0=x0, sigma0=1.0)
        _, (best_f, n_evals) = runs(
            algorithm, lambda X, g, k: jnp.sum(X, axis=1), 250,
            lambda s: (s.best_f, s.n_evals), QUICK,
        )(jax.random.split(jax.random.key(9), seeds))
    ours = np.median(first_hit(np.asarray(best_f) - n, np.asarray(n_evals)))
    # Measured (cma 4.5, these keys): pycma 724, evo 720, evo with boundary="mirror" 1,412.
    assert ours <= 1.15 * theirs, (ours, theirs)


@pytest.mark.parametrize("criterion", ["tolflatfitness", "tolfunhist"])
def test_flat_fitness_and_a_flat_history_end_a_run_when_they_end_pycmas(criterion):
    # The same values every generation, 10 rows: two worst of 1 and the rest 0 tie the best
    # with the value at rank int(0.75 lambda) (flat fitness); 0, 1, ..., 9 keep the best at
    # 0 without ties (a flat history, after 10 generations). tolfun holds for neither.
    n, lam = 4, 10
    f = np.where(np.arange(lam) < 2, 1.0, 0.0) if criterion == "tolflatfitness" else (
        np.arange(lam, dtype=float))
    es = cma.CMAEvolutionStrategy(np.zeros(n), 1.0, {"popsize": lam, "verbose": -9, "seed": 1})
    theirs = None
    for generation in range(1, 15):
        es.tell(es.ask(), list(f))
        if es.stop():
            theirs = (generation, list(es.stop()))
            break
    algorithm = CMAES(lb=-5 * np.ones(n), ub=5 * np.ones(n), pop_size=lam)
    ask = jax.jit(algorithm.ask, compiler_options=QUICK)
    tell = jax.jit(algorithm.tell, compiler_options=QUICK)
    state = algorithm.init(jax.random.key(0))
    for generation in range(1, 15):
        state = tell(ask(state)[1], jnp.asarray(f, state.mean.dtype))
        if bool(state.terminated):
            break
    assert theirs == (generation, [criterion]), theirs
    assert bool(state.terminated)


def test_restart_population_sizes_are_pycmas():
    # pycma's fmin (4.5): run k has popsize `popsize0 * 2^k` of the unrounded option
    # (4 + 3 ln n by default, else as given), and CMAParameters takes int() of it.
    def pycma_sizes(n, popsize0):
        return [cma.CMAEvolutionStrategy(np.zeros(n), 1, {"popsize": popsize0 * 2**k,
                                                          "verbose": -9}).sp.popsize
                for k in range(1, 6)]

    n = 10
    ipop = CMAES(lb=-np.ones(n), ub=np.ones(n), restart="ipop")
    assert ipop.tolfun == 1e-11 and ipop.lambda0 == cma.CMAOptions().eval("popsize", loc={"N": n})
    expected = pycma_sizes(n, ipop.lambda0)
    assert expected[:3] == [21, 43, 87] and ipop.max_pop_size == expected[-1] == 349
    # A flat fitness ends every run after one generation (tolfun), so each tell restarts.
    _, lam = runs(ipop, lambda X, g, k: jnp.zeros(X.shape[0]), 5, lambda s: s.lam, QUICK)(
        jax.random.split(jax.random.key(0), 1)
    )
    assert list(np.asarray(lam)[0]) == expected
    given = CMAES(lb=-np.ones(5), ub=np.ones(5), restart="ipop", pop_size=7)
    assert given.lambda0 == 7 and pycma_sizes(5, 7)[:3] == [14, 28, 56]


class EveryRow(CMAES):
    """CMAES that has `evo.run` evaluate every row of its asks, through the same branches."""

    def rows_needed(self, state):
        return jnp.asarray(self.max_pop_size, jnp.int32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RowCounting(Problem):
    """`problem` whose state `(calls, rows (n_calls,))` records how many rows each of its
    first `n_calls` evaluations computed."""

    problem: Problem
    n_calls: int
    n_var: int = dataclasses.field(init=False)
    n_obj: int = dataclasses.field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "n_var", self.problem.n_var)
        object.__setattr__(self, "n_obj", self.problem.n_obj)

    @property
    def lb(self):
        return self.problem.lb

    @property
    def ub(self):
        return self.problem.ub

    def init_state(self, key):
        return jnp.zeros((), jnp.int32), jnp.zeros(self.n_calls, jnp.int32)

    def evaluate_with_state(self, state, X):
        calls, rows = state
        return self.problem.evaluate(X), (calls + 1, rows.at[calls].set(X.shape[0]))


def counted_run(algorithm_class: type[CMAES], restart: str, n_gen: int = 60):
    """`evo.run` of `algorithm_class` with `restart` on 10-D Rastrigin, restarting often
    (IPOP reaches its 100 rows within the 60 generations); returns the result, the active
    population size `(n_gen,)` and the rows evaluated `(n_gen,)` per generation."""
    problem = RowCounting(problem=Rastrigin(n_var=N), n_calls=n_gen)
    algorithm = algorithm_class(lb=problem.lb, ub=problem.ub, restart=restart,
                                max_pop_size=100, tolstagnation=2)
    assert algorithm.row_sizes == (10, 21, 43, 87, 100)
    result = evo.run(algorithm, problem, jax.random.key(0), n_gen, progress=False)
    calls, rows = result.problem_state
    assert int(calls) == n_gen
    return result, np.diff(result.history["n_evals"], prepend=0), np.asarray(rows)


def test_ipop_restarts_evaluate_the_active_rows_only():
    _, lam, rows = counted_run(CMAES, "ipop")
    assert set(lam) == {10, 21, 43, 87, 100}
    np.testing.assert_array_equal(rows, lam)


def test_bipop_rounds_small_runs_up_to_a_row_size_and_the_run_is_unchanged():
    now, lam, rows = counted_run(CMAES, "bipop")
    sizes = np.array([10, 21, 43, 87, 100])
    assert len(set(lam) - set(sizes)) >= 2
    np.testing.assert_array_equal(rows, sizes[np.searchsorted(sizes, lam)])
    assert np.any(rows > lam) and np.all(rows < 2 * lam)
    before, _, every = counted_run(EveryRow, "bipop")
    np.testing.assert_array_equal(every, 100)
    # Rows past lam are ignored by tell: the run is the same, bit for bit.
    np.testing.assert_array_equal(now.X, before.X)
    np.testing.assert_array_equal(now.F, before.F)
    assert now.history.keys() == before.history.keys()
    for name in now.history:
        np.testing.assert_array_equal(now.history[name], before.history[name])
    assert_same_state(now.state, before.state)


class OffsetSphere(Sphere):
    """`100 + |x|^2` on [-1, 1]^n: float32 resolves it only to about 1e-5."""

    _lower = -1.0
    _upper = 1.0

    def _f(self, X: jax.Array) -> jax.Array:
        return 100.0 + jnp.sum(X**2, axis=-1)


def precision_warnings(run) -> list[warnings.WarningMessage]:
    """The `PrecisionWarning`s that `run()` gives, every one (no once-per-location filter)."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run()
        jax.effects_barrier()
    return [w for w in record if issubclass(w.category, PrecisionWarning)]


def test_float32_fitness_floor_warns_once_per_run():
    problem = OffsetSphere(n_var=4)
    ipop = CMAES(lb=problem.lb, ub=problem.ub, restart="ipop")
    results = []

    def run():
        results.append(evo.run(ipop, problem, jax.random.key(1), 300, progress=False,
                               record="none"))

    # Under evo.run's scan: one warning over several restarts.
    found = precision_warnings(run)
    assert int(results[0].state.n_restarts) >= 3
    assert len(found) == 1 and "jax_enable_x64" in str(found[0].message), found
    # A hand-written loop of jitted steps, without restarts: one warning as well.
    plain = CMAES(lb=problem.lb, ub=problem.ub)
    ask = jax.jit(plain.ask, compiler_options=QUICK)
    tell = jax.jit(plain.tell, compiler_options=QUICK)

    def by_hand(evaluate):
        state = plain.init(jax.random.key(2))
        for _ in range(120):
            X, state = ask(state)
            state = tell(state, evaluate(X))
        assert bool(state.terminated)

    assert len(precision_warnings(lambda: by_hand(problem.evaluate))) == 1
    # Less the offset, float32 resolves f and tolfun (1e-11) ends the run: no warning.
    assert not precision_warnings(lambda: by_hand(lambda X: jnp.sum(X**2, axis=1)))


@pytest.mark.parametrize("x64, spread, resolved", [(False, 1e-5, False), (True, 1e-12, True)])
def test_tolfun_resolution_holds_where_the_dtype_cannot_tell_f_apart(x64, spread, resolved):
    # f = 100 + spread * (0, ..., 1): below 10 eps |f| (1.2e-4 in float32, 2.2e-13 in
    # float64) tolfun_resolution holds; float64 resolves 1e-12, and there tolfun (1e-11)
    # ends the run first, so no warning is due.
    algorithm = CMAES(lb=-np.ones(3), ub=np.ones(3))

    @functools.partial(jax.jit, compiler_options=QUICK)
    def criteria_after_one_generation(key):
        state = algorithm.init(key)
        f = 100.0 + spread * jnp.linspace(0.0, 1.0, algorithm.pop_size, dtype=state.mean.dtype)
        state = state.replace(run_generation=jnp.asarray(1, jnp.int32),
                              f_hist=state.f_hist.at[0].set(f[0]))
        return algorithm.termination_criteria(state, f)

    with jax.enable_x64(x64):
        criteria = criteria_after_one_generation(jax.random.key(0))
    assert bool(criteria["tolfun_resolution"]) != resolved
    assert bool(criteria["tolfun"]) == resolved


def test_sep_cmaes_matches_pycma_diagonal_on_40d_ellipsoid():
    n = 40
    problem = Ellipsoid(n_var=n)
    keys = jax.random.split(jax.random.key(6), 2)
    sep = SepCMAES(lb=problem.lb, ub=problem.ub, mean0=np.ones(n), sigma0=1.0)
    state, (best_f, n_evals) = runs(
        sep, lambda X, g, k: problem.evaluate(X), 1500, lambda s: (s.best_f, s.n_evals), QUICK
    )(keys)
    assert state.C.shape == (2, n) and state.B is None
    ours = first_hit(np.asarray(best_f), np.asarray(n_evals))
    theirs = PYCMA_DIAGONAL_ELLIPSOID_40D_MEDIAN_EVALS
    assert np.median(ours) <= 1.5 * theirs, (ours, theirs)


def pycma_without_its_tweaks(x0: np.ndarray, sigma0: float, lam: int, **options):
    """pycma started as evo starts: C = I (pycma perturbs C's diagonal by exp(1e-4 i / n)
    unless `CMA_teststds` undoes it), CSA, no mirrored samples, every update at once unless
    `options` say otherwise."""
    n = len(x0)
    return cma.CMAEvolutionStrategy(x0, sigma0, {
        "seed": 1, "verbose": -9, "popsize": lam, "CMA_mirrors": 0, "updatecovwait": 0,
        "CMA_teststds": np.exp(-0.5e-4 / n * np.arange(n)),
        "AdaptSigma": cma.sigma_adaptation.CMAAdaptSigmaCSA,
    } | options)


def assert_updates_equal_pycmas(algorithm, es, n_updates: int, seed: int):
    """Tell `algorithm` (float64) pycma's samples on an axis-parallel ellipsoid `n_updates`
    times and compare the distributions, paths and strategy parameters after each; returns
    the last state."""
    n, lam = algorithm.n_var, algorithm.pop_size
    x_opt = np.random.default_rng(seed).normal(size=n)
    scales = 10.0 ** (3 * np.arange(n) / (n - 1))
    state = algorithm.init(jax.random.key(0))
    tell = jax.jit(algorithm.tell, compiler_options=QUICK)
    for _ in range(n_updates):
        X = np.asarray(es.ask())
        # pycma decomposes C when it samples: the factors both sample with are the same.
        np.testing.assert_allclose(state.D, es.sm.D, rtol=1e-12, err_msg="D")
        F = np.sum(scales * (X - x_opt) ** 2, axis=1)
        # The steps behind pycma's samples, and their draws through evo's own B and D.
        Y = (X - np.asarray(state.mean)) / float(state.sigma)
        Z = Y @ np.asarray(state.B) / np.asarray(state.D)
        state = tell(state.replace(Y=jnp.asarray(Y), Z=jnp.asarray(Z),
                                   offspring=jnp.asarray(X)), jnp.asarray(F))
        es.tell(list(X), list(F))
        p = algorithm.strategy_parameters(lam, jnp.float64)
        pairs = {
            "mean": (state.mean, es.mean), "sigma": (state.sigma, es.sigma),
            "C": (state.C, es.sm.C), "p_sigma": (state.p_sigma, es.adapt_sigma.ps),
            "p_c": (state.p_c, es.pc), "c_1": (p.c_1, es.sm.parameters(
                mueff=es.sp.weights.mueff, lam=lam)["c1"]),
            "c_mu": (p.c_mu, es.sp.cmu), "c_c": (p.c_c, es.sp.cc),
            "c_sigma": (p.c_sigma, es.adapt_sigma.cs),
            "d_sigma": (p.d_sigma, es.adapt_sigma.damps),
            "weights": (np.asarray(p.weights), np.asarray(es.sp.weights)),
        }
        for name, (ours, theirs) in pairs.items():
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, err_msg=name)
    return state


def test_two_updates_equal_pycmas_in_float64():
    n, lam = 10, 20
    rng = np.random.default_rng(10)
    mean0, sigma0 = rng.uniform(-1, 1, n), 0.3
    with jax.enable_x64(True):
        algorithm = CMAES(lb=np.full(n, -1e3), ub=np.full(n, 1e3), pop_size=lam, sigma0=sigma0,
                          mean0=mean0, eigen_interval=1)
        assert_updates_equal_pycmas(algorithm, pycma_without_its_tweaks(mean0, sigma0, lam),
                                    2, seed=10)


def test_lazy_eigendecomposition_equals_pycmas_in_float64():
    # In 300-D pycma decomposes C once 1 / (10 n (c_1 + c_mu)) = 2.7 updates have passed,
    # that is after every third; the rank-mu product runs in column blocks there.
    n = 300
    rng = np.random.default_rng(11)
    mean0, sigma0 = rng.uniform(-1, 1, n), 0.3
    with jax.enable_x64(True):
        algorithm = CMAES(lb=np.full(n, -1e3), ub=np.full(n, 1e3), sigma0=sigma0, mean0=mean0)
        p = algorithm.strategy_parameters(algorithm.pop_size, jnp.float64)
        es = pycma_without_its_tweaks(mean0, sigma0, algorithm.pop_size, updatecovwait=None)
        assert int(algorithm.eigen_interval_for(p)) == math.ceil(es.sm.lazy_update_gap) == 3
        state = assert_updates_equal_pycmas(algorithm, es, 7, seed=11)
        assert es.sm.count_eigen == 2
        np.testing.assert_array_equal(state.C, state.C.T)


def test_strategy_parameters_equal_pycmas():
    algorithm = CMAES(lb=np.zeros(N), ub=np.ones(N))
    assert algorithm.pop_size == 10  # 4 + floor(3 ln 10)
    p = algorithm.strategy_parameters(10)
    w = np.asarray(p.weights)
    assert np.isclose(w[w > 0].sum(), 1.0) and np.sum(w > 0) == 5
    assert np.all(np.diff(w) < 0)
    es = cma.CMAEvolutionStrategy(np.zeros(N), 1.0, {"verbose": -9})
    np.testing.assert_allclose(float(p.mu_eff), es.sp.weights.mueff, rtol=1e-6)
    np.testing.assert_allclose(float(p.c_mu), es.sp.cmu, rtol=1e-5)
    np.testing.assert_allclose(float(p.c_c), es.sp.cc, rtol=1e-6)
    np.testing.assert_allclose(w, es.sp.weights, rtol=1e-5, atol=1e-7)
    assert algorithm.eigen_interval_for(p) == 1
    big = CMAES(lb=np.zeros(1000), ub=np.ones(1000))
    assert big.eigen_interval_for(big.strategy_parameters(big.pop_size)) > 1
    # Masked ranks beyond lam get no weight.
    padded = CMAES(lb=np.zeros(N), ub=np.ones(N), restart="ipop", max_pop_size=40)
    assert np.all(np.asarray(padded.strategy_parameters(10).weights)[10:] == 0)
    np.testing.assert_allclose(padded.strategy_parameters(10).weights[:10], w, rtol=1e-6)


def test_tell_accepts_column_or_flat_fitness():
    algorithm = CMAES(lb=-np.ones(3), ub=np.ones(3))

    @jax.jit
    def both(key):
        X, state = algorithm.ask(algorithm.init(key))
        f = jnp.sum(X**2, axis=1)
        return algorithm.tell(state, f), algorithm.tell(state, f[:, None])

    flat, column = both(jax.random.key(0))
    np.testing.assert_array_equal(flat.mean, column.mean)
    np.testing.assert_array_equal(flat.F, column.F)
    assert flat.F.shape == (algorithm.pop_size, 1)
    state = jax.eval_shape(algorithm.init, jax.random.key(0))
    with pytest.raises(ValueError, match="shape"):
        jax.eval_shape(algorithm.tell, state, jnp.zeros(algorithm.pop_size - 1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lb": [1.0, 0.0], "ub": [0.0, 1.0]}, "lb > ub"),
        ({"pop_size": 1}, "pop_size"),
        ({"restart": "lipop"}, "restart"),
        ({"restart": "ipop", "pop_size": 8, "max_pop_size": 4}, "max_pop_size"),
        ({"max_pop_size": 40}, "max_pop_size"),
        ({"sigma0": 0.0}, "sigma0"),
        ({"mean0": [0.0]}, "mean0"),
        ({"n_obj": 2}, "n_obj"),
        ({"tolx": -1.0}, "tolx"),
        ({"eigen_interval": 0}, "eigen_interval"),
        ({"boundary": "clip"}, "boundary"),
        ({"mean0": [0.5, 1.5]}, "mean0 must lie in the box"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    kwargs = {"lb": [0.0, 0.0], "ub": [1.0, 1.0]} | kwargs
    with pytest.raises(ValueError, match=match):
        CMAES(**kwargs)
