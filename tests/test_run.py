"""The run loop: determinism, chunking, history, results, and what it refuses."""

import dataclasses
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.metrics import hypervolume
from evo.problems import DTLZ2, ZDT1, Problem
from evo.progress import ProgressBar
from evo.run import evaluate_needed_rows, latest_indicators, pareto_mask, ranked_pareto_mask

from compile_options import QUICK

PROBLEM = ZDT1(n_var=6)
ALGO = evo.NSGA2(pop_size=16, n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub)
# The hand-written loops step through jitted ask and tell: run op by op, seven generations
# of NSGA-II took most of a 20 s test.
ASK = jax.jit(ALGO.ask, compiler_options=QUICK)
TELL = jax.jit(ALGO.tell, compiler_options=QUICK)


def test_same_key_same_result_whatever_the_chunk_size():
    def thinned_run(key, chunk_size):
        return evo.run(ALGO, PROBLEM, jax.random.key(key), 23, chunk_size=chunk_size,
                       progress=False, record_every=3, indicators_every=5)

    a, b, c, d = thinned_run(3, 10), thinned_run(3, 10), thinned_run(3, 4), thinned_run(4, 10)
    for other in (b, c):
        np.testing.assert_array_equal(a.X, other.X)
        np.testing.assert_array_equal(a.F, other.F)
        assert a.history.keys() == other.history.keys()
        for name in a.history:
            np.testing.assert_array_equal(a.history[name], other.history[name])
    np.testing.assert_array_equal(a.history["generation"], [3, 5, 6, 9, 10, 12, 15, 18, 20, 21, 23])
    assert np.isnan(a.history["igd"]).tolist() == [True, False, True, True, False, True, False,
                                                   True, False, True, False]
    assert not np.array_equal(a.X, d.X)


def test_run_equals_the_hand_written_ask_tell_loop():
    result = evo.run(ALGO, PROBLEM, jax.random.key(5), 7, progress=False)
    state = ALGO.init(jax.random.key(5))
    for _ in range(7):
        X, state = ASK(state)
        state = TELL(state, PROBLEM.evaluate(X))
    # The two are compiled apart (TELL in quick mode), so float32 rounding may differ.
    np.testing.assert_allclose(result.F, np.asarray(state.F), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def everything():
    """30 generations recording everything in every generation (the default's compilation)."""
    return evo.run(ALGO, PROBLEM, jax.random.key(0), 30, progress=False, indicators_every=1)


def test_default_history_and_pareto_subset(everything):
    result = evo.run(ALGO, PROBLEM, jax.random.key(0), 30, progress=False)
    h = result.history
    assert h.keys() == {"generation", "n_evals", "f_min", "f_mean", "igd"}
    assert h["f_min"].shape == (30, 2) and h["f_mean"].shape == (30, 2) and h["igd"].shape == (30,)
    np.testing.assert_array_equal(h["generation"], np.arange(1, 31))
    np.testing.assert_array_equal(h["n_evals"], 16 * np.arange(1, 31))
    assert h["n_evals"].dtype == np.int64
    np.testing.assert_allclose(h["f_min"][-1], result.F.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(h["f_mean"][-1], result.F.mean(axis=0), rtol=1e-5)
    # IGD every 50 generations and at the last: here only at the last.
    assert np.isnan(h["igd"][:-1]).all() and h["igd"][-1] == everything.history["igd"][-1]
    for name in ("n_evals", "f_min", "f_mean"):
        np.testing.assert_array_equal(h[name], everything.history[name])
    assert everything.history["igd"][-1] < 0.5 * everything.history["igd"][0]


def test_thinned_history_is_the_matching_rows_of_the_full_one(everything):
    thinned = evo.run(ALGO, PROBLEM, jax.random.key(0), 30, progress=False, record_every=4,
                      indicators_every=6).history
    np.testing.assert_array_equal(thinned["generation"], [4, 6, 8, 12, 16, 18, 20, 24, 28, 30])
    rows = thinned["generation"] - 1
    np.testing.assert_array_equal(thinned["n_evals"], 16 * thinned["generation"])
    for name in ("n_evals", "f_min", "f_mean"):
        np.testing.assert_array_equal(thinned[name], everything.history[name][rows])
    computed = np.isin(thinned["generation"], [6, 12, 18, 24, 30])
    assert np.isnan(thinned["igd"][~computed]).all()
    np.testing.assert_array_equal(thinned["igd"][computed],
                                  everything.history["igd"][rows[computed]])


def test_record_none_keeps_the_generations_and_their_exact_evaluation_counts():
    none = evo.run(ALGO, PROBLEM, jax.random.key(0), 30, progress=False, record="none",
                   record_every=7).history
    assert none.keys() == {"generation", "n_evals"}
    np.testing.assert_array_equal(none["generation"], [7, 14, 21, 28, 30])
    np.testing.assert_array_equal(none["n_evals"], 16 * none["generation"])


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoisyZDT1(Problem):
    """ZDT1 plus noise drawn from a key in the state, which also counts evaluations."""

    n_var: int = 6
    n_obj: int = 2

    def init_state(self, key):
        return key, jnp.zeros((), jnp.int32)

    def evaluate_with_state(self, state, X):
        key, count = state
        key, noise_key = jax.random.split(key)
        F = ZDT1(n_var=self.n_var).evaluate(X) + 0.01 * jax.random.normal(noise_key, (len(X), 2))
        return F, (key, count + 1)


def test_run_carries_the_problem_state_like_the_hand_written_loop():
    problem = NoisyZDT1()
    ref = np.array([1.5, 6.0])
    result = evo.run(ALGO, problem, jax.random.key(5), 7, chunk_size=3, progress=False,
                     ref_point=ref, indicators_every=1)
    state = ALGO.init(jax.random.key(5))
    problem_state = problem.init_state(jax.random.fold_in(jax.random.key(5), 1))
    hv = []
    for _ in range(7):
        X, state = ASK(state)
        F, problem_state = problem.evaluate_with_state(problem_state, X)
        state = TELL(state, F)
        hv.append(float(hypervolume(state.F, ref)))
    np.testing.assert_allclose(result.F, np.asarray(state.F), rtol=1e-6, atol=1e-6)
    assert int(result.problem_state[1]) == 7
    np.testing.assert_array_equal(jax.random.key_data(result.problem_state[0]),
                                  jax.random.key_data(problem_state[0]))
    np.testing.assert_allclose(result.history["hv"], hv, rtol=1e-6)
    assert hv[-1] > hv[0]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgingZDT1(NoisyZDT1):
    """ZDT1 plus the number of evaluations before this one, in every objective: a row's
    value says which evaluation gave it."""

    def evaluate_with_state(self, state, X):
        key, count = state
        F = ZDT1(n_var=self.n_var).evaluate(X) + count.astype(X.dtype)
        return F, (key, count + 1)


# NSGA-III here is slow: every re-evaluating algorithm runs in the slow test below.
@pytest.mark.parametrize("make", [evo.NSGA2, pytest.param(evo.NSGA3, marks=pytest.mark.slow)])
def test_reevaluated_survivors_carry_the_latest_values(make):
    problem = AgingZDT1()
    algorithm = make.for_problem(problem, pop_size=12)
    kept = evo.run(algorithm, problem, jax.random.key(2), 6, progress=False, record="none")
    fresh = evo.run(algorithm, problem, jax.random.key(2), 6, progress=False, record="none",
                    reevaluate_every=2)
    age = fresh.F - np.asarray(ZDT1(n_var=6).evaluate(jnp.asarray(fresh.X)))
    # Six tells and re-evaluations after generations 2, 4 and 6: nine evaluations, the
    # population's values all from the last (count 8); without, from several.
    assert int(fresh.problem_state[1]) == 9
    np.testing.assert_allclose(age, 8.0, atol=1e-5)
    old = kept.F - np.asarray(ZDT1(n_var=6).evaluate(jnp.asarray(kept.X)))
    assert len(np.unique(np.round(old[:, 0]))) > 1
    np.testing.assert_array_equal(fresh.history["n_evals"], 12 * np.array([1, 3, 4, 6, 7, 9]))


@pytest.mark.slow
def test_every_algorithm_that_reevaluates_ends_with_the_latest_values():
    from registered import IMPORTABLE, small

    problem = AgingZDT1(n_var=4)
    names = [name for name in IMPORTABLE if evo.registry.algorithm_class(name).takes_reevaluation]
    assert len(names) >= 8, names
    for name in names:
        settings = {"pop_size": small(name)[0].pop_size}
        if name == "hype":
            settings["ref_point"] = np.array([20.0, 20.0])
        algorithm = evo.registry.algorithm_class(name).for_problem(problem, **settings)
        result = evo.run(algorithm, problem, jax.random.key(0), 4, progress=False,
                         record="none", reevaluate_every=2)
        age = result.F - np.asarray(ZDT1(n_var=4).evaluate(jnp.asarray(result.X)))
        np.testing.assert_allclose(age, 5.0, atol=1e-5, err_msg=name)


def test_reevaluation_is_refused_where_an_algorithm_cannot_redo_its_selection():
    moead = evo.MOEAD.for_problem(PROBLEM, pop_size=16)
    with pytest.raises(ValueError, match="MOEAD cannot re-evaluate its population"):
        evo.run(moead, PROBLEM, jax.random.key(0), 2, progress=False, reevaluate_every=1)
    with pytest.raises(ValueError, match="reevaluate_every must be an integer >= 1"):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 2, progress=False, reevaluate_every=0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoisyConstrainedZDT1(NoisyZDT1):
    """NoisyZDT1 with the constraint x0 <= 0.5, also noisy, from the same stateful step."""

    @property
    def n_constr(self):
        return 1

    def evaluate_constrained_with_state(self, state, X):
        F, (key, count) = super().evaluate_with_state(state, X)
        key, noise_key = jax.random.split(key)
        G = X[:, :1] - 0.5 + 0.01 * jax.random.normal(noise_key, (len(X), 1))
        return F, G, (key, count + 1)


def test_stateful_constrained_problems_get_their_state_and_constraints_through_run():
    problem = NoisyConstrainedZDT1()
    result = evo.run(ALGO, problem, jax.random.key(6), 5, progress=False)
    state = ALGO.init(jax.random.key(6))
    problem_state = problem.init_state(jax.random.fold_in(jax.random.key(6), 1))
    for _ in range(5):
        X, state = ASK(state)
        F, G, problem_state = problem.evaluate_constrained_with_state(problem_state, X)
        state = TELL(state, F, G)
    np.testing.assert_allclose(result.F, np.asarray(state.F), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result.violation, np.asarray(state.violation), atol=1e-6)
    assert int(result.problem_state[1]) == 10  # two counts per generation
    assert result.history["feasible"][0] < 1.0 and np.any(result.violation == 0)


class LeadingRows(evo.NSGA2):
    """NSGA2 claiming that its tells read the first `generation + 3` rows only."""

    @property
    def row_sizes(self):
        return (2, 4, 16)

    def rows_needed(self, state):
        return state.generation + 3


def test_only_the_leading_rows_a_tell_reads_are_evaluated_the_rest_filled():
    assert ALGO.row_sizes == (16,) and int(ALGO.rows_needed(None)) == 16
    algorithm = LeadingRows(pop_size=16, n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub)
    problem = NoisyConstrainedZDT1()
    state = ALGO.init(jax.random.key(0))
    X = jax.random.uniform(jax.random.key(1), (16, problem.n_var))
    problem_state = problem.init_state(jax.random.key(2))
    evaluate = jax.jit(evaluate_needed_rows, static_argnums=(0, 1))
    reference = jax.jit(problem.evaluate_constrained_with_state)
    for generation, size in ((0, 4), (1, 4), (13, 16)):
        state = state.replace(generation=jnp.int32(generation))
        F, G, after = evaluate(algorithm, problem, state, problem_state, X)
        F_size, G_size, expected = reference(problem_state, X[:size])
        assert F.shape == (16, 2) and G.shape == (16, 1)
        np.testing.assert_allclose(F[:size], F_size, rtol=1e-6)
        np.testing.assert_allclose(G[:size], G_size, rtol=1e-6, atol=1e-7)
        assert np.all(F[size:] == np.inf) and np.all(G[size:] == 0)
        assert int(after[1]) == int(expected[1]) == 2
        np.testing.assert_array_equal(jax.random.key_data(after[0]),
                                      jax.random.key_data(expected[0]))


def test_run_refuses_mismatched_problems_and_lengths():
    with pytest.raises(ValueError, match="n_obj=2 but the problem has n_obj=3"):
        evo.run(ALGO, DTLZ2(n_obj=3), jax.random.key(0), 5)
    with pytest.raises(ValueError, match="6 variables but the problem has 30"):
        evo.run(ALGO, ZDT1(), jax.random.key(0), 5)
    with pytest.raises(ValueError, match="n_gen must be an integer >= 1"):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 0)
    with pytest.raises(ValueError, match="ref_point must have shape"):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 5, ref_point=[1.0, 1.0, 1.0])


@pytest.mark.parametrize("recording, message", [
    ({"record": "everything"}, "record must be one of 'none', 'stats', 'all', got 'everything'"),
    ({"record": None}, "record must be one of"),
    ({"record_every": 0}, "record_every must be an integer >= 1, got 0"),
    ({"indicators_every": 2.5}, "indicators_every must be an integer >= 1, got 2.5"),
])
def test_run_refuses_unknown_recordings(recording, message):
    with pytest.raises(ValueError, match=message):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 5, **recording)


def test_progress_bar_reports_generations():
    stream = io.StringIO()
    bar = ProgressBar(40, stream=stream, min_interval=0.0)
    bar.update(10, igd=0.5)
    bar.update(40, igd=0.125)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("gen 10/40 [") and "25%" in lines[0] and "igd=0.5" in lines[0]
    assert lines[-1].startswith("gen 40/40 [") and "100%" in lines[-1] and "igd=0.125" in lines[-1]


def test_progress_shows_the_last_indicators_a_chunk_computed():
    rows = {"generation": np.arange(5), "igd": np.array([0.5, 0.25, np.nan, np.inf, np.nan]),
            "hv": np.full(5, np.nan)}
    assert latest_indicators(rows, 2) == {"igd": np.inf}
    rows["igd"][3] = np.nan
    assert latest_indicators(rows, 2) == {"igd": 0.25} and latest_indicators({}, 2) == {}
    # One objective: the best value, never a distance to the optimum labelled IGD.
    best = {"generation": np.arange(2), "f_min": np.array([[3.0], [2.5]])}
    assert latest_indicators(best, 1) == {"f_min": 2.5} and latest_indicators({}, 1) == {}


@pytest.mark.parametrize("seed", range(3))
def test_front_compared_pairwise_is_the_ranked_one_and_unheld_rows_leave_it_unchanged(seed):
    # make_result computes the front at the state's fixed shape, unheld rows infinitely
    # infeasible; small populations pairwise in NumPy, large ones ranked on the device.
    rng = np.random.default_rng(seed)
    F = rng.random((40, 3)).round(1)  # ties and duplicates
    F[rng.random(40) < 0.1] = np.nan
    F[rng.random(40) < 0.05, 1] = np.inf
    violation = np.where(rng.random(40) < 0.3, rng.random(40), 0.0)
    violation[rng.random(40) < 0.05] = np.nan
    held = rng.random(40) < 0.6
    padded = pareto_mask(F, np.where(held, violation, np.inf))[held]
    alone = pareto_mask(F[held], violation[held])
    np.testing.assert_array_equal(padded, alone)
    ranked = np.asarray(ranked_pareto_mask(jnp.asarray(F), jnp.asarray(violation)))
    np.testing.assert_array_equal(pareto_mask(F, violation), ranked)
    assert alone.any() and not ranked.all()
