"""Turbo (TuRBO-1): the trust-region rule, proposals inside the region, 20-D regret."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evo.problems import Ackley

import evo
from evo.bo import Turbo, best_observation

from compile_options import QUICK

D = 20
# one small instance for the functional tests, so that `tell` compiles once
TURBO = Turbo(
    lb=np.full(D, -5.0),
    ub=np.full(D, 10.0),
    q=4,
    n_init=8,
    capacity=24,
    n_candidates=128,
    fit_restarts=2,
    fit_steps=10,
    success_tolerance=2,
    failure_tolerance=3,
)
ASK = jax.jit(TURBO.ask, compiler_options=QUICK)
TELL = jax.jit(TURBO.tell, compiler_options=QUICK)


def _tell(state, f):
    """Tell the value `f` for a batch of points, without asking (no GP involved)."""
    return TELL(
        state.replace(offspring=jnp.full((TURBO.q, D), 0.5)), jnp.full((TURBO.q, 1), f)
    )


def test_bad_configuration():
    with pytest.raises(ValueError, match="length_min <= length_init"):
        Turbo(lb=[0.0], ub=[1.0], length_init=2.0)
    with pytest.raises(
        ValueError, match="capacity=4 must hold the initial design of 6"
    ):
        Turbo(lb=[0.0] * 3, ub=[1.0] * 3, capacity=4)
    with pytest.raises(ValueError, match="Turbo does not handle constraints"):
        # checked before the state is touched
        Turbo(lb=[0.0], ub=[1.0]).tell(None, jnp.zeros((1, 1)), jnp.zeros((1, 1)))
    assert Turbo(lb=[0.0] * 30, ub=[1.0] * 30, q=4).failure_tolerance == 8


def test_trust_region_expands_shrinks_and_restarts():
    state = TURBO.init(jax.random.key(0))
    for f in (5.0, 4.0):  # the two rounds of the design do not move the region
        state = _tell(state, f)
    assert float(state.length) == pytest.approx(0.8) and int(state.n_success) == 0
    state = _tell(state, 3.0)
    assert int(state.n_success) == 1 and float(state.length) == pytest.approx(0.8)
    state = _tell(state, 2.0)  # second success in a row: double, capped at 1.6
    assert float(state.length) == pytest.approx(1.6) and int(state.n_success) == 0
    for _ in range(3):  # within 1e-3 |best| of the best is no improvement
        assert float(state.length) == pytest.approx(1.6)
        state = _tell(state, 1.999)
    assert float(state.length) == pytest.approx(0.8) and int(state.n_failure) == 0
    state = _tell(state, 1.0)  # a success resets the failure count
    assert int(state.n_success) == 1 and int(state.n_failure) == 0
    old_design = np.asarray(state.design)
    halvings = 0
    while int(state.n_regions) == 0:
        before = float(state.length)
        for _ in range(3):
            state = _tell(state, 7.0)
        halvings += 1
        if int(state.n_regions) == 0:
            assert float(state.length) == pytest.approx(before / 2)
    # 0.8 / 2^7 < 0.5^7 <= 0.8 / 2^6: the seventh halving ends the region
    assert halvings == 7
    assert float(state.length) == pytest.approx(0.8) and int(state.rounds) == 0
    assert not np.allclose(np.asarray(state.design), old_design)
    assert int(jnp.sum(TURBO._current(state))) == 0  # the new region's GP starts empty
    assert (
        float(best_observation(state)[1][0]) == 1.0
    )  # the best of past regions is kept


def test_proposals_lie_in_the_trust_region():
    problem = Ackley(n_var=D)
    state = TURBO.init(jax.random.key(1))
    for _ in range(3):  # two rounds of design, one from the model
        X, state = ASK(state)
        state = TELL(state, problem.evaluate(X))
    X, state = ASK(state)
    X = np.asarray(X)
    lo, hi = (np.asarray(b) for b in TURBO.trust_region(state))
    assert np.all(X >= lo - 1e-5) and np.all(X <= hi + 1e-5)
    # sides 0.8 of the 15-wide box times ARD weights whose product is 1, then clipped
    side = (hi - lo) / 15.0
    assert np.all(side <= 1.0 + 1e-6) and np.prod(side) <= 0.8**D * (1 + 1e-3)
    dist = np.linalg.norm(X[:, None] - X[None], axis=-1)
    assert dist[np.triu_indices(TURBO.q, 1)].min() > 0


@pytest.mark.slow
def test_beats_random_search_in_20_dimensions_under_evo_run():
    d, n_eval, seeds = 20, 100, 5
    lb, ub = np.full(d, -5.0), np.full(d, 10.0)
    problem = Ackley(n_var=d)
    alg = Turbo(lb=lb, ub=ub, q=5, n_init=20, capacity=n_eval, n_candidates=500)
    best = []
    for seed in range(seeds):
        result = evo.run(
            alg, problem, jax.random.key(seed), n_gen=n_eval // 5, progress=False
        )
        assert result.history["n_evals"][-1] == n_eval
        best.append(result.history["f_min"][-1, 0])
    U = jax.random.uniform(jax.random.key(seeds), (seeds, n_eval, d))
    random_best = np.min(np.asarray(problem.evaluate(lb + U * (ub - lb)))[..., 0], 1)
    assert np.median(best) < 0.8 * np.median(random_best), (best, random_best)
