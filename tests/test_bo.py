"""BayesOpt: argument checks, batches, NaN observations, evo.run, Branin regret."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evo.problems.bo_functions import Branin, Hartmann6

import evo
from evo.bo import (
    BayesOpt,
    best_observation,
    gp_posterior,
    log_expected_improvement,
    q_expected_improvement,
    standardise,
    to_unit,
)
from evo.bo.gp import gp_joint

from compile_options import QUICK

BRANIN = Branin()
# small, fast settings for the functional tests
FAST = {
    "capacity": 16,
    "fit_restarts": 2,
    "fit_steps": 20,
    "n_candidates": 64,
    "n_starts": 4,
    "opt_steps": 5,
}
# shared instances: jitted functions are cached per instance, so reuse saves compilations
ALG2 = BayesOpt(n_obj=1, lb=BRANIN.lb, ub=BRANIN.ub, q=2, n_init=4, **FAST)
ALG4 = {
    name: BayesOpt(
        n_obj=1, lb=BRANIN.lb, ub=BRANIN.ub, q=4, n_init=4, acquisition=name, **FAST
    )
    for name in ("logei", "ucb", "thompson")
}
ALG4["mc"] = BayesOpt(
    n_obj=1, lb=BRANIN.lb, ub=BRANIN.ub, q=4, n_init=4, batch="mc", **FAST
)
_JITTED = {}


def jitted(alg):
    if id(alg) not in _JITTED:
        _JITTED[id(alg)] = (
            jax.jit(alg.ask, compiler_options=QUICK),
            jax.jit(alg.tell, compiler_options=QUICK),
        )
    return _JITTED[id(alg)]


def test_problem_optima():
    with jax.enable_x64(True):
        F = BRANIN.evaluate(jnp.asarray(BRANIN.optimum_x))
        np.testing.assert_allclose(F[:, 0], BRANIN.optimum_value, atol=1e-9)
        h = Hartmann6()
        np.testing.assert_allclose(
            h.evaluate(h.optimum_x[None])[0, 0], h.optimum_value, atol=1e-4
        )
    assert BRANIN.pareto_front(10).shape == (1, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lb": [1.0, 0.0], "ub": [0.0, 1.0]}, "lb > ub"),
        ({"lb": [0.0, 0.0], "ub": [1.0]}, "same length"),
        ({"acquisition": "pi"}, "acquisition must be one of 'logei', 'ucb', 'thompson', got 'pi'"),
        ({"kernel": "cubic"}, "kernel must be one of 'matern52', 'rbf', got 'cubic'"),
        ({"q": 0}, "q must be an integer >= 1"),
        ({"n_init": 20, "capacity": 10}, "capacity=10 must hold the initial design"),
        ({"n_constr": -1}, "n_constr must be an integer >= 0"),
        ({"batch": "fantasy"}, "batch must be one of 'believer', 'mc', got 'fantasy'"),
        ({"batch": "mc", "acquisition": "ucb"}, 'batch="mc"'),
        ({"batch": "mc", "n_constr": 1}, 'batch="mc"'),
    ],
)
def test_bad_configuration(kwargs, message):
    args = {"n_obj": 1, "lb": [0.0, 0.0], "ub": [1.0, 1.0]} | kwargs
    with pytest.raises(ValueError, match=message):
        BayesOpt(**args)


def test_tell_checks_shapes():
    alg = ALG2
    # tell checks shapes before touching the state: its shapes suffice
    state = jax.eval_shape(alg.init, jax.random.key(0))
    with pytest.raises(ValueError, match=r"\(n, n_obj\) = \(2, 1\)"):
        alg.tell(state, jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match="n_constr"):
        alg.tell(state, jnp.zeros((2, 1)), jnp.zeros((2, 1)))
    constrained = BayesOpt(
        n_obj=1, lb=BRANIN.lb, ub=BRANIN.ub, q=2, n_init=2, n_constr=1, **FAST
    )
    cstate = jax.eval_shape(constrained.init, jax.random.key(0))
    with pytest.raises(ValueError, match="tell needs G"):
        constrained.tell(cstate, jnp.zeros((2, 1)))


def _drive(alg, problem, key, rounds):
    ask, tell = jitted(alg)
    state = alg.init(key)
    for _ in range(rounds):
        X, state = ask(state)
        state = tell(state, problem.evaluate(X))
    return ask, tell, state


# Thompson samples pick among distinct random candidates, which may lie 1e-3 apart.
MIN_SPACING = {"logei": 1e-3, "ucb": 1e-3, "mc": 1e-3, "thompson": 1e-4}


@pytest.mark.parametrize("method", MIN_SPACING)
def test_batches_have_q_distinct_points_in_bounds(method):
    q = 4
    alg = ALG4[method]
    ask, tell, state = _drive(alg, BRANIN, jax.random.key(3), 1)  # the design
    for _ in range(4):  # model rounds; the last overwrites the worst of a full buffer
        X, state = ask(state)
        X = np.asarray(X)
        assert X.shape == (q, 2)
        assert np.all(X >= BRANIN.lb) and np.all(X <= BRANIN.ub)
        dist = np.linalg.norm((X[:, None] - X[None]) / (BRANIN.ub - BRANIN.lb), axis=-1)
        assert dist[np.triu_indices(q, 1)].min() > MIN_SPACING[method], X
        if method == "mc":
            _check_q_ei_beats_single_points(alg, state, X)
        state = tell(state, BRANIN.evaluate(jnp.asarray(X)))
    assert int(state.filled.sum()) == alg.capacity


def _check_q_ei_beats_single_points(alg, state, X):
    """The batch's q-EI (fresh samples) is at least the EI of each of its points."""

    @functools.partial(jax.jit, compiler_options=QUICK)
    def q_ei_and_single_ei(state, X):
        valid = alg._valid(state)
        y, _, _ = standardise(state.F[:, 0], valid)
        params = jax.tree.map(lambda t: t[0], state.params)  # the fit the ask used
        U = to_unit(state.X, alg.lb, alg.ub)
        post = gp_posterior(alg.kernel, params, U, y, valid)
        best = jnp.min(jnp.where(valid, y, jnp.inf))
        mean, cov = gp_joint(alg.kernel, post, to_unit(X, alg.lb, alg.ub))
        z = jax.random.normal(jax.random.key(9), (20_000, alg.q))
        sigma = jnp.sqrt(jnp.maximum(jnp.diagonal(cov), 1e-12))
        single = jnp.exp(log_expected_improvement(mean, sigma, best))
        return q_expected_improvement(mean, cov, best, z), single

    q_ei, single = q_ei_and_single_ei(state, jnp.asarray(X))
    assert float(q_ei) >= 0.98 * float(jnp.max(single)), (q_ei, single)


def test_mc_q_ei_of_one_point_is_expected_improvement():
    z = jax.random.normal(jax.random.key(0), (100_000, 1))
    mu = jnp.array([0.3, -0.2, 1.5])
    sd = jnp.array([0.5, 1.0, 0.4])
    mc = jax.jit(
        jax.vmap(
            lambda m, s: q_expected_improvement(m[None], (s * s)[None, None], 0.0, z)
        )
    )(mu, sd)
    exact = jnp.exp(log_expected_improvement(mu, sd, jnp.float32(0.0)))
    np.testing.assert_allclose(mc, exact, rtol=0.03, atol=1e-4)


def test_nan_observations_are_stored_but_ignored():
    """NaN results stay visible in state.F but are left out of the GP and the incumbent."""
    alg = ALG2
    ask, tell = jitted(alg)
    state = alg.init(jax.random.key(2))
    for r in range(4):
        X, state = ask(state)
        F = BRANIN.evaluate(X)
        if r < 2:
            F = F.at[0, 0].set(
                jnp.nan
            )  # one failed evaluation in each of the first rounds
        state = tell(state, F)
    F = np.asarray(state.F[:, 0])
    assert int(state.filled.sum()) == 8 and np.isnan(F).sum() == 2
    assert int(alg._valid(state).sum()) == 6
    assert np.all(np.isinf(np.asarray(state.violation))[np.isnan(F)])
    _x, f = best_observation(state)
    assert np.isfinite(float(f[0])) and float(f[0]) == np.nanmin(F)
    X, state = ask(state)
    assert np.all(np.isfinite(np.asarray(X)))
    assert all(np.all(np.isfinite(np.asarray(p))) for p in state.params)


def test_full_buffer_keeps_the_best():
    alg = ALG4["logei"]
    ask, tell, state = _drive(alg, BRANIN, jax.random.key(3), 4)  # 16 = capacity
    best_before = float(jnp.min(state.F))
    _X, state = ask(state)
    state = tell(state, jnp.full((4, 1), 1e3))  # all worse: they replace the 4 worst
    assert float(jnp.min(state.F)) == best_before
    assert int(jnp.sum(state.F == 1e3)) == 4


def test_runs_under_evo_run():
    alg = ALG2
    result = evo.run(alg, BRANIN, jax.random.key(4), n_gen=5, progress=False)
    np.testing.assert_array_equal(result.history["n_evals"], [2, 4, 6, 8, 10])
    f_min = result.history["f_min"][:, 0]
    assert np.all(np.isfinite(f_min)) and np.all(np.diff(f_min) <= 0)
    assert int(result.state.filled.sum()) == 10
    # The result holds the 10 observations, not the buffer's 16 slots.
    assert result.X.shape == (10, 2)
    np.testing.assert_allclose(result.F, BRANIN.evaluate(jnp.asarray(result.X)), rtol=1e-5)
    assert result.pareto_F.shape[0] >= 1


def _regret_runs(alg, keys, n_rounds):
    def one(key):
        state = alg.init(key)

        def round_(state, _):
            X, state = alg.ask(state)
            return alg.tell(state, BRANIN.evaluate(X)), None

        state, _ = jax.lax.scan(round_, state, None, length=n_rounds)
        return jnp.min(state.F) - BRANIN.optimum_value

    return np.asarray(jax.jit(jax.vmap(one))(keys))


@pytest.mark.slow
def test_branin_regret_beats_random_search():
    n_eval, seeds = 40, 5
    keys = jax.random.split(jax.random.key(7), seeds)
    alg = BayesOpt(n_obj=1, lb=BRANIN.lb, ub=BRANIN.ub, q=1, n_init=8, capacity=n_eval)
    regret = _regret_runs(alg, keys, n_eval)
    U = jax.random.uniform(jax.random.key(8), (seeds, n_eval, 2))
    X = BRANIN.lb + U * (BRANIN.ub - BRANIN.lb)
    random_regret = (
        np.asarray(jnp.min(BRANIN.evaluate(X)[..., 0], 1)) - BRANIN.optimum_value
    )
    assert np.sum(regret < 1e-2) >= 3, regret
    assert np.median(regret) < np.median(random_regret), (regret, random_regret)


def test_asks_outside_jit_compile_for_the_observations_held():
    # The same optimizer with 64 slots and with 16: outside jit both propose from a
    # buffer of 16 slots while at most 16 points are held, so their points are equal.
    settings = {**FAST, "fit_steps": 5, "n_candidates": 32, "n_starts": 2, "opt_steps": 2}
    wide = BayesOpt(n_obj=1, lb=BRANIN.lb, ub=BRANIN.ub, q=1, n_init=4,
                    **{**settings, "capacity": 64})
    narrow = dataclasses.replace(wide, capacity=16)
    points = []
    for alg in (wide, narrow):
        state = alg.init(jax.random.key(4))
        X = []
        for _ in range(8):
            x, state = alg.ask(state)
            state = alg.tell(state, BRANIN.evaluate(x))
            X.append(np.asarray(x))
        points.append(np.concatenate(X))
    np.testing.assert_array_equal(points[0], points[1])
    # the design asks hand out what a jitted ask does, bit for bit
    ask = jax.jit(wide.ask, compiler_options=QUICK)
    state = wide.init(jax.random.key(4))
    design = [np.asarray(ask(state)[0])]
    for _ in range(3):
        state = wide.tell(state, BRANIN.evaluate(design[-1]))
        design.append(np.asarray(ask(state)[0]))
    np.testing.assert_array_equal(np.concatenate(design), points[0][:4])
