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

from compile_options import QUICK

PROBLEM = ZDT1(n_var=6)
ALGO = evo.NSGA2(pop_size=16, n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub)
# The hand-written loops step through jitted ask and tell: run op by op, seven generations
# of NSGA-II took most of a 20 s test.
ASK = jax.jit(ALGO.ask, compiler_options=QUICK)
TELL = jax.jit(ALGO.tell, compiler_options=QUICK)


def test_same_key_same_result_whatever_the_chunk_size():
    a = evo.run(ALGO, PROBLEM, jax.random.key(3), 23, chunk_size=10, progress=False)
    b = evo.run(ALGO, PROBLEM, jax.random.key(3), 23, chunk_size=10, progress=False)
    c = evo.run(ALGO, PROBLEM, jax.random.key(3), 23, chunk_size=4, progress=False)
    d = evo.run(ALGO, PROBLEM, jax.random.key(4), 23, chunk_size=10, progress=False)
    for other in (b, c):
        np.testing.assert_array_equal(a.X, other.X)
        np.testing.assert_array_equal(a.F, other.F)
        np.testing.assert_array_equal(a.history["igd"], other.history["igd"])
    assert not np.array_equal(a.X, d.X)


def test_run_equals_the_hand_written_ask_tell_loop():
    result = evo.run(ALGO, PROBLEM, jax.random.key(5), 7, progress=False)
    state = ALGO.init(jax.random.key(5))
    for _ in range(7):
        X, state = ASK(state)
        state = TELL(state, PROBLEM.evaluate(X))
    # The two are compiled apart (TELL in quick mode), so float32 rounding may differ.
    np.testing.assert_allclose(result.F, np.asarray(state.F), rtol=1e-5, atol=1e-6)


def test_history_and_pareto_subset():
    result = evo.run(ALGO, PROBLEM, jax.random.key(0), 30, progress=False)
    h = result.history
    assert h["f_min"].shape == (30, 2) and h["f_mean"].shape == (30, 2) and h["igd"].shape == (30,)
    np.testing.assert_array_equal(h["n_evals"], 16 * np.arange(1, 31))
    np.testing.assert_allclose(h["f_min"][-1], result.F.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(h["f_mean"][-1], result.F.mean(axis=0), rtol=1e-5)
    assert h["igd"][-1] < 0.5 * h["igd"][0]


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
                     ref_point=ref)
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


def test_run_refuses_mismatched_problems_and_lengths():
    with pytest.raises(ValueError, match="n_obj=2 but the problem has n_obj=3"):
        evo.run(ALGO, DTLZ2(n_obj=3), jax.random.key(0), 5)
    with pytest.raises(ValueError, match="6 variables but the problem has 30"):
        evo.run(ALGO, ZDT1(), jax.random.key(0), 5)
    with pytest.raises(ValueError, match="n_gen must be an integer >= 1"):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 0)
    with pytest.raises(ValueError, match="ref_point must have shape"):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 5, ref_point=[1.0, 1.0, 1.0])


def test_progress_bar_reports_generations():
    stream = io.StringIO()
    bar = ProgressBar(40, stream=stream, min_interval=0.0)
    bar.update(10, igd=0.5)
    bar.update(40, igd=0.125)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("gen 10/40 [") and "25%" in lines[0] and "igd=0.5" in lines[0]
    assert lines[-1].startswith("gen 40/40 [") and "100%" in lines[-1] and "igd=0.125" in lines[-1]
