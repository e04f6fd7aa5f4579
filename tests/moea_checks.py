"""Checks that every multi-objective algorithm's tests make the same way: median IGD over
seeds, a constrained run that must end feasible, NaN objectives that must not survive."""

import jax
import jax.numpy as jnp
import numpy as np
from pymoo.indicators.igd import IGD

import evo

from compile_options import QUICK


def median_igd(algorithm, problem, front, n_gen, seeds):
    """The median over `seeds` of the final population's IGD (pymoo's) to `front`; one
    algorithm object, so `evo.run` compiles once."""
    values = [
        IGD(front)(evo.run(algorithm, problem, jax.random.key(s), n_gen, progress=False,
                           record="none").F)
        for s in seeds
    ]
    return float(np.median(values))


def pymoo_median_igd(make_algorithm, problem, front, n_gen, seeds):
    """The median over `seeds` of the IGD (pymoo's) to `front` of the final population of
    the pymoo algorithm `make_algorithm()` on the pymoo `problem` after `n_gen`
    generations."""
    from pymoo.optimize import minimize

    values = [IGD(front)(minimize(problem, make_algorithm(), ("n_gen", n_gen), seed=s)
                         .pop.get("F"))
              for s in seeds]
    return float(np.median(values))


def assert_median_igd_within(algorithm, problem, front, n_gen, seeds, reference, ratio=1.15):
    """`median_igd` at most `ratio` times the `reference` implementation's median."""
    ours = median_igd(algorithm, problem, front, n_gen, seeds)
    assert ours <= ratio * reference, (ours, reference)


def assert_same_key_same_run(algorithm, problem, n_gen=5):
    """The same key gives the same run, bit for bit, and another key another."""
    a, b, c = (evo.run(algorithm, problem, jax.random.key(seed), n_gen, progress=False,
                       record="none") for seed in (3, 3, 4))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def assert_run_ends_feasible(algorithm, problem, n_gen):
    """A run from seed 0 starts wholly infeasible and ends wholly feasible, its objectives
    those of its decision vectors."""
    result = evo.run(algorithm, problem, jax.random.key(0), n_gen, progress=False,
                     record="stats")
    assert result.history["feasible"][0] == 0.0
    assert result.history["feasible"][-1] == 1.0
    F, G = problem.evaluate_constrained(jnp.asarray(result.X))
    assert np.all(np.asarray(G) <= 0)
    np.testing.assert_allclose(np.asarray(F), result.F, rtol=1e-5, atol=1e-6)


def assert_nan_rows_never_survive(algorithm, problem):
    """Offspring whose objectives are NaN (every other row) or -inf never enter the
    population of `algorithm` (10 rows, 2 objectives), and a generation of only NaN
    offspring leaves the population's rows as they were."""
    ask = jax.jit(algorithm.ask, compiler_options=QUICK)
    tell = jax.jit(algorithm.tell, compiler_options=QUICK)

    @jax.jit
    def half_broken(X):
        return problem.evaluate(X).at[::2].set(jnp.nan).at[1, 0].set(-jnp.inf)

    X, state = ask(algorithm.init(jax.random.key(0)))
    state = tell(state, jax.jit(problem.evaluate)(X))
    for _ in range(3):
        X, before = ask(state)
        state = tell(before, half_broken(X))
        assert bool(jnp.all(jnp.isfinite(state.F)))
        # Only new rows are checked: DE from two equal rows makes a child equal to its
        # target, which may already be in the population.
        old = {tuple(x) for x in np.asarray(before.X)}
        bad = {tuple(x) for x in np.asarray(X)[np.r_[0:10:2, 1]]}
        assert not ({tuple(x) for x in np.asarray(state.X)} - old) & bad
    X, state = ask(state)
    after = tell(state, jnp.full((10, 2), jnp.nan))
    assert sorted(map(tuple, np.asarray(after.X))) == sorted(map(tuple, np.asarray(state.X)))
