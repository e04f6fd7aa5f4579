"""evo.bo.Experiment: observations in any order, pending points, failed evaluations, bad
input, checkpoints in this process and a fresh one, buffers growing in powers of two."""

import functools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evo.bo import (
    BayesOpt,
    Experiment,
    Turbo,
    believed,
    gp_posterior,
    gp_predict,
    log_expected_improvement,
)
from evo.bo.buffers import compiled_ask, compiling_ask, next_power_of_two
from evo.bo.experiment import MIN_PENDING
from evo.bo.gp import default_params
from evo.checkpoint import CheckpointError

from compile_options import QUICK

FAST = {"fit_restarts": 2, "fit_steps": 10, "n_candidates": 32, "n_starts": 2, "opt_steps": 3}
BOX = {"lb": [0.0, 0.0], "ub": [1.0, 1.0]}
# shared instances: each compiles its proposal once per buffer size for the whole module
SINGLE = BayesOpt(n_obj=1, q=1, n_init=4, capacity=24, **BOX, **FAST)
DOUBLE = BayesOpt(n_obj=2, q=1, n_init=4, capacity=16, hv_samples=16, **BOX, **FAST)
KEY = jax.random.key(3)


def quadratic(X):
    return np.sum((X - 0.3) ** 2, 1, keepdims=True)


def two_quadratics(X):
    return np.stack([np.sum((X - 0.3) ** 2, 1), np.sum((X - 0.7) ** 2, 1)], 1)


CASES = {"one objective": (SINGLE, quadratic), "two objectives": (DOUBLE, two_quadratics)}


def experiment(optimizer, **settings):
    return Experiment(optimizer, KEY, compiler_options=QUICK, **settings)


def observed_design(optimizer, f):
    """An experiment whose design has been suggested and observed."""
    exp = experiment(optimizer)
    ids, X = exp.suggest(optimizer.n_design)
    exp.observe(ids, f(X))
    return exp


def continued(exp, f, steps):
    """`steps` suggestions, one at a time, each followed by observing the oldest pending
    point but the newest (so one stays pending); the suggested points `(steps, n_var)`."""
    points = []
    for _ in range(steps):
        points.append(exp.suggest(1).X[0])
        if len(exp.pending.ids) > 1:
            exp.observe(exp.pending.ids[:1], f(exp.pending.X[:1]))
    return np.stack(points)


def test_next_power_of_two():
    assert [next_power_of_two(n) for n in (0, 1, 2, 3, 16, 17, 100)] == [1, 1, 2, 4, 16, 32, 128]


@pytest.mark.parametrize("case", CASES)
def test_out_of_order_partial_observations_store_what_in_order_ones_do(case):
    optimizer, f = CASES[case]
    in_order, shuffled = experiment(optimizer), experiment(optimizer)
    ids, X = in_order.suggest(4)
    np.testing.assert_array_equal(shuffled.suggest(4).X, X)
    in_order.observe(ids, f(X))
    shuffled.observe(ids[[2]], f(X[[2]]))
    assert shuffled.pending.ids.tolist() == [0, 1, 3]
    np.testing.assert_array_equal(shuffled.pending.X, X[[0, 1, 3]])
    shuffled.observe([3, 0], f(X[[3, 0]]))
    assert shuffled.pending.ids.tolist() == [1]
    shuffled.observe([1], f(X[[1]]))

    ids, X = in_order.suggest(2)  # two proposals; the second with the first pending
    np.testing.assert_array_equal(shuffled.suggest(2).X, X)
    in_order.observe(ids, f(X))
    shuffled.observe(ids[::-1], f(X[::-1]))
    for name in ("ids", "X", "F", "G"):
        np.testing.assert_array_equal(getattr(shuffled, name), getattr(in_order, name))
    assert in_order.ids.tolist() == list(range(6)) and len(in_order.pending.ids) == 0
    np.testing.assert_array_equal(shuffled.suggest(1).X, in_order.suggest(1).X)


@pytest.mark.parametrize("case", CASES)
def test_a_pending_point_is_not_suggested_again(case):
    optimizer, f = CASES[case]
    exp = observed_design(optimizer, f)
    # the experiment's next proposal, run by hand with one pending row, masked or not
    ask = compiled_ask(optimizer, exp.capacity, tuple(sorted(QUICK.items())))
    buffer = exp.buffer()
    rows, mask = exp.pending_rows()
    assert rows.shape == (MIN_PENDING, 2) and not mask.any()
    free, _, _ = ask(*exp.state, buffer, rows, mask)
    elsewhere, _, _ = ask(*exp.state, buffer, rows + 0.9, mask)
    np.testing.assert_array_equal(free, elsewhere)  # masked rows do not count
    held, _, _ = ask(*exp.state, buffer, rows + np.asarray(free), np.arange(MIN_PENDING) == 0)
    assert np.linalg.norm(held - free) > 0.02, (held, free)

    first = exp.suggest(1).X
    np.testing.assert_array_equal(first, free)  # nothing was pending
    second = exp.suggest(1).X
    assert exp.pending.ids.tolist() == [4, 5]
    rows, mask = exp.pending_rows()
    np.testing.assert_array_equal(rows[mask], np.concatenate([first, second]))
    assert np.linalg.norm(second - first) > 0.02, (first, second)


@functools.partial(jax.jit, compiler_options=QUICK)
def believer_predictions(U, y, pending, pending_mask, probe):
    """Posterior mean and variance `(m,)` at `probe` `(m, 2)` of a GP on `U`, `y`, without
    and with the Kriging believer's fantasies at the pending points."""
    params = jax.tree.map(lambda t: t[None], default_params(2, U.dtype))  # one GP
    U2, Ys2, mask2 = believed("matern52", params, U, y[:, None], jnp.ones(len(y), bool),
                              pending, pending_mask)
    one = jax.tree.map(lambda t: t[0], params)
    before = gp_posterior("matern52", one, U, y, jnp.ones(len(y), bool))
    after = gp_posterior("matern52", one, U2, Ys2[:, 0], mask2)
    return (*gp_predict("matern52", before, probe), *gp_predict("matern52", after, probe),
            jnp.exp(one.log_noise))


def test_believer_keeps_the_mean_and_drops_the_acquisition_at_pending_points():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        U = rng.uniform(size=(8, 2))
        y = quadratic(U)[:, 0]
        y = (y - y.mean()) / y.std()
        pending = np.array([[0.9, 0.1], [0.5, 0.5]])
        probe = np.concatenate([pending, rng.uniform(size=(20, 2))])
        mu0, var0, mu1, var1, noise = believer_predictions(
            U, y, pending, np.array([True, False]), probe
        )
        np.testing.assert_allclose(mu1, mu0, atol=1e-9)  # the believer's fantasy is the mean
        assert float(var1[0]) <= float(noise) < float(var0[0])
        best = jnp.min(y)
        drop = (log_expected_improvement(mu0[0], jnp.sqrt(var0[0]), best)
                - log_expected_improvement(mu1[0], jnp.sqrt(var1[0]), best))
        assert float(drop) > 5.0
        # the masked row counts for nothing: as if only the first point were pending
        *_, mu_first, var_first, _ = believer_predictions(
            U, y, pending[:1], np.array([True]), probe
        )
        np.testing.assert_allclose(var1, var_first, rtol=1e-9)
        np.testing.assert_allclose(mu1, mu_first, atol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_a_failed_evaluation_is_stored_and_ignored(case):
    optimizer, f = CASES[case]
    suggested = {}
    for value in (np.nan, np.inf, -np.inf, -1.0):
        exp = experiment(optimizer)
        ids, X = exp.suggest(4)
        F = f(X)
        F[2, 0] = value
        exp.observe(ids, F)
        assert exp.F[2, 0] == value or (np.isnan(value) and np.isnan(exp.F[2, 0]))
        assert len(exp.pending.ids) == 0
        suggested[value] = exp.suggest(1).X
    np.testing.assert_array_equal(suggested[np.inf], suggested[np.nan])
    np.testing.assert_array_equal(suggested[-np.inf], suggested[np.nan])
    assert np.all(np.isfinite(suggested[np.nan]))
    assert not np.array_equal(suggested[-1.0], suggested[np.nan])  # a finite value counts


CONSTRAINED = BayesOpt(n_obj=1, n_constr=1, q=1, n_init=2, capacity=8, **BOX, **FAST)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda e: e.observe([7], [[0.0]]), ValueError, r"unknown ids \[7\]: .* 0 to 3"),
        (lambda e: e.observe([-1], [[0.0]]), ValueError, r"unknown ids \[-1\]"),
        (lambda e: e.observe([1, 1], [[0.0], [0.0]]), ValueError, r"ids \[1\] repeat"),
        (lambda e: e.observe([0], [[0.0]]), ValueError, r"ids \[0\] were already observed"),
        (lambda e: e.observe([1.5], [[0.0]]), ValueError, "integer ids"),
        (lambda e: e.observe([[1]], [[0.0]]), ValueError, "1-D sequence"),
        (lambda e: e.observe([1], [0.0]), ValueError, r"\(len\(ids\), n_obj\) = \(1, 1\)"),
        (lambda e: e.observe([1, 2], [[0.0]]), ValueError, r"= \(2, 1\), got \(1, 1\)"),
        (lambda e: e.observe([1], [[0.0]], [[0.0]]), ValueError, r"n_constr\) = \(1, 0\)"),
        (lambda e: e.suggest(0), ValueError, "n must be an integer >= 1"),
        (lambda e: e.suggest(1.5), ValueError, "n must be an integer >= 1"),
    ],
)
def test_bad_input_raises_and_records_nothing(call, error, message):
    exp = experiment(SINGLE)
    ids, X = exp.suggest(4)
    exp.observe(ids[:1], quadratic(X[:1]))
    with pytest.raises(error, match=message):
        call(exp)
    assert exp.ids.tolist() == [0] and exp.pending.ids.tolist() == [1, 2, 3]


def test_bad_optimizer_constraints_and_pending_shapes_raise():
    with pytest.raises(TypeError, match="Experiment drives a BayesOpt, got Turbo"):
        Experiment(Turbo(n_obj=1, **BOX), KEY)
    exp = Experiment(CONSTRAINED, KEY, precompile=False)  # it makes no proposal
    ids, X = exp.suggest(2)
    with pytest.raises(ValueError, match="n_constr=1: observe needs G"):
        exp.observe(ids, quadratic(X))
    exp.observe(ids, quadratic(X), [[0.5], [-0.5]])
    np.testing.assert_array_equal(exp.G, [[0.5], [-0.5]])
    state = jax.eval_shape(SINGLE.init, KEY)
    with pytest.raises(ValueError, match=r"X_pending \(p, n_var=2\) with a boolean"):
        SINGLE.ask_with_pending(state, jnp.zeros((3, 2)), jnp.zeros(2, bool))
    with pytest.raises(ValueError, match="boolean pending_mask"):
        SINGLE.ask_with_pending(state, jnp.zeros((2, 2)), jnp.zeros(2))


@pytest.mark.parametrize("case", CASES)
def test_save_then_load_continues_as_if_never_interrupted(case, tmp_path):
    optimizer, f = CASES[case]
    whole = observed_design(optimizer, f)
    continued(whole, f, 2)
    whole.save(tmp_path / "exp.npz")  # with one point pending
    assert len(whole.pending.ids) == 1
    expected = continued(whole, f, 2)
    resumed = Experiment.load(tmp_path / "exp.npz", optimizer, compiler_options=QUICK)
    assert resumed.pending.ids.tolist() == [5]
    np.testing.assert_array_equal(continued(resumed, f, 2), expected)
    for name in ("ids", "X", "F"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))


def test_a_checkpoint_of_another_optimizer_or_problem_refuses_to_load(tmp_path):
    path = tmp_path / "exp.npz"
    exp = experiment(SINGLE, problem="furnace A")
    exp.suggest(2)
    exp.save(path)
    other = BayesOpt(n_obj=1, q=1, n_init=6, capacity=24, **BOX, **FAST)
    with pytest.raises(CheckpointError, match=r"belongs to another run(.|\n)*n_init: 4 in the"):
        Experiment.load(path, other)
    with pytest.raises(CheckpointError, match=r"problem: \"furnace A\" in the file, \"B\" now"):
        Experiment.load(path, SINGLE, problem="B")
    with pytest.raises(CheckpointError, match="grow: true in the file, false now"):
        Experiment.load(path, SINGLE, problem="furnace A", grow=False, compiler_options=QUICK)
    loaded = Experiment.load(path, SINGLE, problem="furnace A", compiler_options=QUICK)
    assert loaded.pending.ids.tolist() == [0, 1]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot be read"):
        Experiment.load(path, SINGLE, problem="furnace A", compiler_options=QUICK)


RESUME = textwrap.dedent("""
    import sys

    import numpy as np
    from compile_options import QUICK
    from evo.bo import Experiment
    from test_bo_experiment import SINGLE, continued, quadratic

    resumed = Experiment.load(sys.argv[1], SINGLE, compiler_options=QUICK)
    np.save(sys.argv[2], continued(resumed, quadratic, 2))
""")


@pytest.mark.slow
def test_load_in_a_fresh_process_continues_as_if_never_interrupted(tmp_path):
    whole = observed_design(SINGLE, quadratic)
    continued(whole, quadratic, 2)
    whole.save(tmp_path / "exp.npz")
    expected = continued(whole, quadratic, 2)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, "-c", RESUME, str(tmp_path / "exp.npz"),
                    str(tmp_path / "resumed.npy")], env=env, check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), expected)


def test_capacity_grows_through_powers_of_two_up_to_the_optimizers():
    exp = observed_design(SINGLE, quadratic)
    fixed = experiment(SINGLE, grow=False)
    capacities = {}
    for _ in range(24):
        capacities[len(exp.ids)] = exp.capacity
        ids, X = exp.suggest(1)
        exp.observe(ids, quadratic(X))
    assert all(capacities[n] == 16 for n in range(4, 17))
    assert all(capacities[n] == 24 for n in range(17, 28))  # capped at SINGLE.capacity
    assert fixed.capacity == 24
    # past the capacity the GP models the 24 best observations, in id order
    buffer = exp.buffer()
    assert buffer.filled.all() and len(exp.ids) == 28
    best = np.sort(np.argsort(exp.F[:, 0])[:24])
    np.testing.assert_array_equal(buffer.X, exp.X[best].astype(np.float32))
    # a second experiment of the same optimizer reuses the compiled proposals
    misses = compiled_ask.cache_info().misses
    again = observed_design(SINGLE, quadratic)
    again.suggest(1)
    assert compiled_ask.cache_info().misses == misses


def test_proposals_compiled_in_the_background_are_the_ones_compiled_when_needed():
    calls = compiling_ask.cache_info()
    ahead = experiment(SINGLE)
    ids, X = ahead.suggest(SINGLE.n_design)
    # the first proposal's program is asked for as soon as the design is handed out
    assert sum(compiling_ask.cache_info()[:2]) == sum(calls[:2]) + 1
    ahead.observe(ids, quadratic(X))
    when_needed = observed_design(SINGLE, quadratic)
    when_needed.precompile = False
    # 14 steps cross 12 observations (3/4 of 16 slots), where 24 slots start compiling
    np.testing.assert_array_equal(continued(ahead, quadratic, 14),
                                  continued(when_needed, quadratic, 14))
    misses = compiling_ask.cache_info().misses
    larger = compiling_ask(SINGLE, 24, MIN_PENDING, KEY.dtype, jnp.result_type(float),
                           tuple(sorted(QUICK.items())))
    assert compiling_ask.cache_info().misses == misses
    larger.result()
