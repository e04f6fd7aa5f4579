"""GDE3: quality against pymoo, the one-to-one selection and the pool's trimming against
brute force, constraints, NaN objectives, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.algorithms.moo.gde3 import GDE3 as PymooGDE3
from pymoo.problems import get_problem as pymoo_problem

from evo.gde3 import GDE3, constrained_dominates
from evo.problems import DTLZ2, MW1, ZDT1

from moea_checks import (
    assert_median_igd_within,
    assert_nan_rows_never_survive,
    assert_run_ends_feasible,
    assert_same_key_same_run,
    pymoo_median_igd,
)

SEEDS = range(10)
N_GEN = 200  # Budget: 100 individuals x 200 generations = 20,000 evaluations.

# pymoo 0.6.2's GDE3 (its defaults: DE/rand/1/bin, CR 0.5, F uniform in [0, 1), jitter
# 1e-4, bounce-back), pop_size 100, 200 generations: the median over seeds 0-9 of the
# final population's IGD on ZDT1 (n_var 30, pymoo's front) and DTLZ2 (n_var 12, 3
# objectives, against DTLZ2.pareto_front(1000)). Ours measured 0.004953 and 0.07196.
PYMOO_ZDT1_MEDIAN_IGD = 0.004814
PYMOO_DTLZ2_MEDIAN_IGD = 0.07047

zdt1 = ZDT1()
dtlz2 = DTLZ2(n_var=12, n_obj=3)
FRONTS = {"zdt1": pymoo_problem("zdt1").pareto_front(), "dtlz2": dtlz2.pareto_front(1000)}
gde3_zdt1 = GDE3.for_problem(zdt1, pop_size=100)
gde3_dtlz2 = GDE3.for_problem(dtlz2, pop_size=100)


QUALITY = {
    "zdt1": (gde3_zdt1, zdt1, PYMOO_ZDT1_MEDIAN_IGD),
    "dtlz2": (gde3_dtlz2, dtlz2, PYMOO_DTLZ2_MEDIAN_IGD),
}


@pytest.mark.parametrize("name", QUALITY)
def test_gde3_reaches_pymoo_igd(name):
    algorithm, problem, theirs = QUALITY[name]
    assert_median_igd_within(algorithm, problem, FRONTS[name], N_GEN, SEEDS, theirs)


@pytest.mark.slow
def test_stored_pymoo_medians_are_what_pymoo_gives():
    # pymoo seeds every random draw from `seed`: the medians are reproduced exactly.
    theirs = [
        pymoo_median_igd(lambda: PymooGDE3(pop_size=100), pymoo_problem("zdt1"),
                         FRONTS["zdt1"], N_GEN, SEEDS),
        pymoo_median_igd(lambda: PymooGDE3(pop_size=100),
                         pymoo_problem("dtlz2", n_var=12, n_obj=3), FRONTS["dtlz2"], N_GEN,
                         SEEDS),
    ]
    np.testing.assert_allclose(theirs, [PYMOO_ZDT1_MEDIAN_IGD, PYMOO_DTLZ2_MEDIAN_IGD],
                               rtol=1e-3)


def test_same_key_gives_the_same_run():
    assert_same_key_same_run(gde3_zdt1, zdt1)


def brute_dominates(fa, va, fb, vb):
    """Deb's rule for one pair: Pareto dominance when both are feasible, else the smaller
    violation."""
    if va == 0 and vb == 0:
        return bool(np.all(fa <= fb) and np.any(fa < fb))
    return bool(va < vb)


@pytest.mark.parametrize("seed", range(4))
def test_constrained_dominates_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 200
    # Small integers: equal objectives and equal violations are common.
    F_a, F_b = rng.integers(0, 3, (2, n, 2)).astype(float)
    v_a, v_b = np.where(rng.random((2, n)) < 0.5, 0.0, rng.integers(1, 3, (2, n)))
    v_a[rng.random(n) < 0.1] = np.inf
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(constrained_dominates)(F_a, v_a, F_b, v_b))
    expected = [brute_dominates(F_a[i], v_a[i], F_b[i], v_b[i]) for i in range(n)]
    np.testing.assert_array_equal(ours, expected)


def brute_groups(F, violation, rows):
    """`rows` in NSGA-II's constrained order, as a list of groups: Pareto fronts of the
    feasible rows, then the infeasible ones by violation (equal violations together)."""
    groups = []
    left = [i for i in rows if violation[i] == 0]
    while left:
        front = [i for i in left if not any(
            brute_dominates(F[j], 0, F[i], 0) for j in left)]
        groups.append(front)
        left = [i for i in left if i not in front]
    infeasible = [i for i in rows if violation[i] > 0]
    for v in sorted({violation[i] for i in infeasible}):
        groups.append([i for i in infeasible if violation[i] == v])
    return groups


def brute_crowding(F, front):
    """NSGA-II crowding distance of the rows `front` of `F`, ties sorted by index."""
    crowding = dict.fromkeys(front, 0.0)
    for k in range(F.shape[1]):
        order = sorted(front, key=lambda i: F[i, k])
        span = F[order[-1], k] - F[order[0], k]
        for a, i, b in zip(order, order[1:], order[2:]):
            crowding[i] += (F[b, k] - F[a, k]) / span if span > 0 else 0.0
        crowding[order[0]] = crowding[order[-1]] = np.inf
    return crowding


def brute_survival_check(chosen, F, violation, n):
    """Assert that the rows `chosen` of the merged parents + trials (`F` `(2n, m)`,
    `violation` `(2n,)`) are a GDE3 survival: the pool by one-to-one Deb dominance, its
    rows in NSGA-II's constrained order (the split feasible front by crowding), then the
    rows left out of the pool, then those of infinite violation."""
    parent_wins = [brute_dominates(F[i], violation[i], F[n + i], violation[n + i])
                   for i in range(n)]
    trial_wins = [brute_dominates(F[n + i], violation[n + i], F[i], violation[i])
                  for i in range(n)]
    pooled = np.array([not w for w in trial_wins] + [not w for w in parent_wins])
    finite = np.isfinite(violation)
    groups = brute_groups(F, violation, np.flatnonzero(pooled & finite).tolist())
    groups += [np.flatnonzero(~pooled & finite).tolist(), np.flatnonzero(~finite).tolist()]
    chosen, left = set(chosen.tolist()), n
    for group in groups:
        kept = chosen & set(group)
        assert len(kept) == min(len(group), left), (group, kept)
        if 0 < left < len(group) and violation[group[0]] == 0 and pooled[group[0]]:
            crowding = brute_crowding(F, group)
            dropped = set(group) - kept
            assert min(crowding[i] for i in kept) >= max(crowding[i] for i in dropped) - 1e-12
        left -= len(kept)


SMALL = GDE3(n_obj=2, lb=np.zeros(3), ub=np.ones(3), pop_size=12)
survive_jit = jax.jit(SMALL.survive)


@pytest.mark.parametrize("seed", range(8))
def test_survival_matches_brute_force(seed):
    n = SMALL.pop_size
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 5, (2 * n, 2)).astype(float) + rng.random((2 * n, 1)) * (seed % 2)
    violation = np.where(rng.random(2 * n) < 0.7, 0.0, rng.integers(1, 3, 2 * n))
    violation[rng.random(2 * n) < 0.1 * (seed % 4)] = np.inf  # NaN or inf objectives
    with jax.enable_x64(True):
        state = SMALL.init(jax.random.key(seed))
        state = state.replace(F=jnp.asarray(F[:n]), violation=jnp.asarray(violation[:n]),
                              offspring=state.X + 1.0)
        after = survive_jit(state, jnp.asarray(F[n:]), jnp.asarray(violation[n:]))
        X = np.concatenate([state.X, state.offspring])
    chosen = np.array([np.flatnonzero(np.all(X == x, axis=1))[0] for x in np.asarray(after.X)])
    assert len(set(chosen.tolist())) == n
    np.testing.assert_array_equal(np.asarray(after.F), F[chosen])
    np.testing.assert_array_equal(np.asarray(after.violation), violation[chosen])
    brute_survival_check(chosen, F, violation, n)


def test_rows_left_out_of_the_pool_survive_before_nan_rows():
    # Pairs 0-5: parent and trial both NaN (in the pool); pairs 6-11: the trial dominates.
    n = SMALL.pop_size
    F = np.concatenate([np.full((n, 2), 2.0), np.full((n, 2), 1.0)])
    nan_rows = [*range(6), *range(n, n + 6)]
    F[nan_rows] = np.nan
    violation = np.zeros(2 * n)
    violation[nan_rows] = np.inf  # as `tell` counts them
    with jax.enable_x64(True):
        state = SMALL.init(jax.random.key(0))
        state = state.replace(F=jnp.asarray(F[:n]), violation=jnp.asarray(violation[:n]))
        after = survive_jit(state, jnp.asarray(F[n:]), jnp.asarray(violation[n:]))
    # The 6 finite trials, then the 6 finite parents they beat, before any NaN row.
    np.testing.assert_array_equal(np.sort(np.asarray(after.F[:, 0])), [1.0] * 6 + [2.0] * 6)
    assert np.all(np.isfinite(np.asarray(after.violation)))


def test_constrained_run_ends_feasible():
    # MW1's initial populations are all infeasible.
    problem = MW1()
    assert_run_ends_feasible(GDE3.for_problem(problem, pop_size=40), problem, 100)


def test_nan_trials_never_survive():
    problem = ZDT1(n_var=5)
    assert_nan_rows_never_survive(GDE3.for_problem(problem, pop_size=10), problem)


def test_bad_input_raises_clear_errors():
    lb, ub = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="GDE3: pop_size must be an integer >= 4, got 3"):
        GDE3(n_obj=2, lb=lb, ub=ub, pop_size=3)
    with pytest.raises(ValueError, match=r"GDE3: de_cr must lie in \[0, 1\], got 1.5"):
        GDE3(n_obj=2, lb=lb, ub=ub, de_cr=1.5)
    with pytest.raises(ValueError, match=r"de_scale's high end must lie in \[0.8, 2\]"):
        GDE3(n_obj=2, lb=lb, ub=ub, de_scale=(0.8, 0.2))
    with pytest.raises(ValueError, match="de_scale's low end must lie in"):
        GDE3(n_obj=2, lb=lb, ub=ub, de_scale=-0.5)
    with pytest.raises(ValueError, match="GDE3: de_scale must be a number or a pair"):
        GDE3(n_obj=2, lb=lb, ub=ub, de_scale=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="GDE3: de_jitter must lie in"):
        GDE3(n_obj=2, lb=lb, ub=ub, de_jitter=-1.0)
    with pytest.raises(ValueError, match=r"de_repair must be one of 'bounce-back', 'clip'"):
        GDE3(n_obj=2, lb=lb, ub=ub, de_repair="wrap")
    with pytest.raises(ValueError, match="GDE3 does not use sbx_eta, mutation_eta: its trials"):
        GDE3(n_obj=2, lb=lb, ub=ub, sbx_eta=5.0, mutation_eta=3.0)
    assert GDE3(n_obj=2, lb=lb, ub=ub, de_scale=0.5).de_scale == (0.5, 0.5)
