"""AGE-MOEA-2: quality against pymoo, its geometry and survival scores against references,
constraints, NaN objectives and bad input."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evo.agemoea2 import AGEMOEA2, front_geometry, lp_exponent, survival_scores

from compile_options import QUICK
from test_spea2 import (
    CONSTRAINED,
    POP,
    PROBLEMS,
    check_constrained_run_ends_feasible,
    check_nan_objectives_never_survive,
    median_igd,
    pymoo_median_igd,
)

# Budget as in test_spea2: 100 individuals x 200 generations = 20,000 evaluations, seeds
# 0-4. pymoo 0.6.2's AGEMOEA2 with its defaults (SBX eta 15 p 0.9, PM eta 20, duplicate
# elimination; it needs numba), median IGD of the final population against 100 points of
# ZDT1's front and against DTLZ2's front at the 91 Das-Dennis directions (p = 12); the
# `slow` test recomputes them.
PYMOO_MEDIANS = {"zdt1": 0.004919, "dtlz2": 0.04838}

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="pymoo's AGEMOEA2 needs numba")


@pytest.mark.parametrize("name", PROBLEMS)
def test_median_igd_is_within_15_percent_of_pymoos(name):
    ours = median_igd(AGEMOEA2, name)
    assert ours <= 1.15 * PYMOO_MEDIANS[name], (ours, PYMOO_MEDIANS[name])


@pytest.mark.slow
@needs_numba
@pytest.mark.parametrize("name", PROBLEMS)
def test_stored_pymoo_medians_are_what_pymoo_gives(name):
    from pymoo.algorithms.moo.age2 import AGEMOEA2 as PymooAGEMOEA2

    theirs = pymoo_median_igd(lambda: PymooAGEMOEA2(pop_size=POP), name)
    assert theirs == pytest.approx(PYMOO_MEDIANS[name], rel=1e-3)


def lp_front(rng: np.random.Generator, n: int, m: int, q: float) -> np.ndarray:
    """`(n, m)` mutually non-dominated points of `sum_k (f_k - 0.3)^q = 1.7^q`, its corners
    first, rounded to 12 decimals (as pymoo rounds the first front): normalised, they lie
    on the unit L_q sphere."""
    w = np.concatenate([np.eye(m), rng.dirichlet(np.ones(m), n - m)])
    return np.round(1.7 * w ** (1 / q) / np.sum(w, axis=1, keepdims=True) ** (1 / q) + 0.3, 12)


exponent_jit = jax.jit(lp_exponent, compiler_options=QUICK)


@pytest.mark.parametrize("q", [0.3, 0.5, 1.0, 2.0, 4.0])
def test_exponent_puts_a_point_of_an_lp_sphere_on_it(q):
    with jax.enable_x64(True):
        for point in ([0.2, 0.7, 0.4], [0.5, 0.5, 0.0], [0.9, 0.1, 0.3]):
            point = np.asarray(point) / np.sum(np.asarray(point) ** q) ** (1 / q)
            # Newton stops after a step of at most 1e-3; the root is then much closer.
            assert float(exponent_jit(jnp.asarray(point))) == pytest.approx(q, rel=1e-4)
        # No exponent puts a point of ones on a unit sphere (p drifts below 0.1), nor one
        # of zeros: both fall back to 1.
        assert float(exponent_jit(jnp.ones(3))) == 1.0
        assert float(exponent_jit(jnp.zeros(3))) == 1.0


def reference_first_front_scores(F: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """AGE-MOEA-2's scores of a single front `F` `(n, m)`, loop by loop: corners nearest
    each axis, the extremes' hyperplane, geodesic distances through projected midpoints
    on the L_p sphere, then greedy selection by the two smallest distances to the chosen
    rows (divided by the chosen row's L_p norm). Returns the scores and the scale."""
    n, m = F.shape
    S = F - F.min(axis=0)
    corners = []
    for i in range(m):
        axis = np.full(m, 1e-6)
        axis[i] += 1
        off_axis = [np.inf if j in corners else np.sum((s - s @ axis / (axis @ axis) * axis) ** 2)
                    for j, s in enumerate(S)]
        corners.append(int(np.argmin(off_axis)))
    scale = 1 / np.linalg.solve(S[corners], np.ones(m))
    P = S / scale

    def onto_sphere(x):
        return x / np.sum(x ** p) ** (1 / p)

    Q = [onto_sphere(x) for x in P]
    D = np.full((n, n), 1e-8)
    for a in range(n):
        for b in range(n):
            if a != b:
                mid = onto_sphere(0.5 * Q[a] + 0.5 * Q[b])
                D[a, b] = max(np.linalg.norm(Q[a] - mid) + np.linalg.norm(Q[b] - mid), 1e-8)
    W = D / np.array([np.sum(x ** p) ** (1 / p) for x in P])[:, None]
    scores = np.zeros(n)
    scores[corners] = np.inf
    chosen, left = list(corners), [j for j in range(n) if j not in corners]
    while left:
        gains = [np.sum(np.sort(W[chosen, r])[:2]) for r in left]
        best = left.pop(int(np.argmax(gains)))
        scores[best] = max(gains)
        chosen.append(best)
    return scores, scale


scores_jit = jax.jit(survival_scores, static_argnames="n", compiler_options=QUICK)


@pytest.mark.parametrize("m, q", [(2, 0.5), (2, 2.0), (3, 0.5), (3, 1.0), (3, 2.0)])
def test_first_front_scores_equal_a_loop_by_loop_reference(m, q):
    # (A linear front in two objectives is left out: there every point between the two
    # corners has the same first score, and rounding decides.)
    rng = np.random.default_rng(m + int(4 * q))
    F = lp_front(rng, 30, m, q)
    with jax.enable_x64(True):
        first = jnp.ones(30, bool)
        geometry = front_geometry(jnp.asarray(F), first)
        ours = scores_jit(jnp.asarray(F), jnp.zeros(30, jnp.int32), first, n=30)
        scores, scale = reference_first_front_scores(F, float(geometry.p))
    assert float(geometry.p) == pytest.approx(q, rel=1e-4)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(geometry.extreme)), np.arange(m))
    np.testing.assert_allclose(np.asarray(geometry.scale), 1.7, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(geometry.scale), scale, rtol=1e-10)
    np.testing.assert_array_equal(np.isinf(np.asarray(ours)), np.isinf(scores))
    np.testing.assert_allclose(np.asarray(ours), scores, rtol=1e-10)


def test_later_fronts_score_their_inverse_lp_distance_to_the_ideal_point():
    front = lp_front(np.random.default_rng(0), 26, 2, 0.5)
    behind = front[-4:] + [[0.1, 0.2], [0.3, 0.0], [0.0, 0.5], [1.0, 1.0]]
    F = np.concatenate([front, behind])
    rank = jnp.asarray([0] * 26 + [1, 1, 1, 2])
    with jax.enable_x64(True):
        geometry = front_geometry(jnp.asarray(F), rank == 0)
        ours = np.asarray(scores_jit(jnp.asarray(F), rank, jnp.ones(30, bool), n=30))
    p, scale = float(geometry.p), np.asarray(geometry.scale)
    expected = 1 / np.sum(((behind - 0.3) / scale) ** p, axis=1) ** (1 / p)
    np.testing.assert_allclose(ours[26:], expected, rtol=1e-12)


@pytest.mark.slow
@needs_numba
@pytest.mark.parametrize("m, q", [(2, 0.5), (3, 1.0), (3, 2.0)])
def test_first_front_scores_equal_pymoos(m, q):
    # Slow: numba compiles pymoo's functions for seconds.
    from pymoo.algorithms.moo.age2 import AGEMOEA2Survival

    F = lp_front(np.random.default_rng(10 * m), 40, m, q)
    crowding, p, scale = AGEMOEA2Survival().survival_score(F.copy(), F.min(axis=0))
    with jax.enable_x64(True):
        first = jnp.ones(40, bool)
        geometry = front_geometry(jnp.asarray(F), first)
        ours = scores_jit(jnp.asarray(F), jnp.zeros(40, jnp.int32), first, n=40)
    assert float(geometry.p) == pytest.approx(p, rel=1e-10)
    np.testing.assert_allclose(np.asarray(geometry.scale), scale, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ours), crowding, rtol=1e-10)


SMALL = AGEMOEA2.for_problem(CONSTRAINED, pop_size=24)


def test_constrained_run_ends_with_a_feasible_population():
    check_constrained_run_ends_feasible(SMALL, CONSTRAINED)


def test_nan_objectives_never_survive_when_finite_rows_suffice():
    check_nan_objectives_never_survive(SMALL, CONSTRAINED)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="AGEMOEA2: pop_size must be an integer >= 2"):
        AGEMOEA2(n_obj=2, lb=np.zeros(3), ub=np.ones(3), pop_size=1)
    with pytest.raises(ValueError, match="AGEMOEA2: sbx_prob must lie in"):
        AGEMOEA2(n_obj=2, lb=np.zeros(3), ub=np.ones(3), sbx_prob=1.5)
