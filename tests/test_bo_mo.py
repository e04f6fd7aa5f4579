"""Multi-objective BayesOpt: box decompositions, hypervolume improvement, qLogNEHVI."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evo
from evo.bo import BayesOpt, fit_gp_batch, gp_posterior, standardise
from evo.bo.box_decomposition import box_decomposition, box_volumes, n_boxes
from evo.bo.gp import gp_joint
from evo.bo.hypervolume_acquisition import (
    candidate_samples,
    expected_hypervolume_improvement,
    hypervolume_improvement,
    log_hypervolume_improvement,
    noisy_front,
)
from evo.metrics import hypervolume

import test_bo
from compile_options import QUICK

decompose = jax.jit(box_decomposition, compiler_options=QUICK)

FAST = {**test_bo.FAST, "hv_samples": 32}


def _front(rng, n, m, spread=0.2):
    """`n` points near the positive unit sphere (mostly mutually non-dominated)."""
    F = np.abs(rng.standard_normal((n, m)))
    return F / np.linalg.norm(F, axis=1, keepdims=True) * rng.uniform(1 - spread, 1, (n, 1))


@pytest.mark.parametrize("m", [2, 3])
def test_box_volume_is_the_complement_of_the_hypervolume(m):
    rng = np.random.default_rng(m)
    n = 14
    F = _front(rng, n, m)
    F[0] = 2.0  # beyond the reference point
    F[1, 0] = F[2, 0]  # a tie
    F[3] = F[4]  # a duplicate
    F[5, 1] = np.nan
    mask = np.arange(n) != 6
    ref, floor = np.full(m, 1.1), np.full(m, -0.3)
    with jax.enable_x64(True):
        boxes = decompose(jnp.asarray(F), jnp.asarray(mask), jnp.asarray(ref))
        assert boxes.lower.shape == (n_boxes(n, m), m)
        volume = float(jnp.sum(box_volumes(boxes, jnp.asarray(floor))))
    expected = np.prod(ref - floor) - float(hypervolume(F[mask], ref))
    np.testing.assert_allclose(volume, expected, rtol=1e-12)


@pytest.mark.parametrize("m", [4, 5])
def test_sampled_decomposition_estimates_volume_and_improvement(m):
    """Beyond 3 objectives the region past the front's ideal point is exact and the rest
    is sampled by 1,024 cells: their volume and the improvement of new points and of a
    pair of them are within quasi-Monte Carlo error of `evo.metrics.hypervolume`'s."""
    rng = np.random.default_rng(m)
    n = 14
    P = _front(rng, n, m)
    Y = _front(rng, 8, m, spread=0.0) * rng.uniform(0.6, 0.95, (8, 1))
    ref, floor = np.full(m, 1.1), np.full(m, -0.3)
    base = float(hypervolume(P, ref))
    with jax.enable_x64(True):
        boxes = decompose(jnp.asarray(P), jnp.ones(n, bool), jnp.asarray(ref))
        assert boxes.lower.shape == (n_boxes(n, m), m)
        volume = float(jnp.sum(box_volumes(boxes, jnp.asarray(floor))))
        improvement = jax.jit(jax.vmap(hypervolume_improvement, (None, 0)))
        single = np.asarray(improvement(boxes, jnp.asarray(Y[:, None])))
        pair = float(improvement(boxes, jnp.asarray(Y[None, :2]))[0])
    undominated_near = np.prod(ref - P.min(0)) - base
    expected = np.prod(ref - floor) - base
    assert abs(volume - expected) < 0.05 * undominated_near
    true = np.array([float(hypervolume(np.vstack([P, y]), ref)) - base for y in Y])
    np.testing.assert_allclose(single, true, rtol=0.2, atol=0.005)
    true_pair = float(hypervolume(np.vstack([P, Y[:2]]), ref)) - base
    np.testing.assert_allclose(pair, true_pair, rtol=0.2, atol=0.005)


def test_three_objective_front_of_mutually_non_dominated_points_fits_its_boxes():
    """Every one of n points on the front opens two boxes: all 2n + 1 slots are used."""
    rng = np.random.default_rng(0)
    n = 30
    F = _front(rng, n, 3, spread=0.0)
    ref = np.full(3, 1.0)
    with jax.enable_x64(True):
        boxes = decompose(jnp.asarray(F), jnp.ones(n, bool), jnp.asarray(ref))
        used = int(jnp.sum(jnp.all(boxes.upper > boxes.lower, 1)))
        volume = float(jnp.sum(box_volumes(boxes, jnp.zeros(3))))
    assert used == 2 * n + 1
    np.testing.assert_allclose(volume, 1.0 - float(hypervolume(F, ref)), rtol=1e-12)


def _brute_force_improvement(P, ref):
    """Hypervolume improvement of sample batches `(s, q, m)` over `P` by `evo.metrics`."""
    base = hypervolume(P, ref)

    def one(Y):
        return hypervolume(jnp.concatenate([P, Y]), ref) - base

    return jax.jit(jax.vmap(one))


@pytest.mark.parametrize("m", [2, 3])
def test_analytic_ehvi_matches_monte_carlo(m):
    rng = np.random.default_rng(10 + m)
    P = _front(rng, 8, m)
    ref = np.full(m, 1.2)
    mu, sigma = np.full(m, 0.55), np.linspace(0.1, 0.3, m)
    with jax.enable_x64(True):
        boxes = decompose(jnp.asarray(P), jnp.ones(8, bool), jnp.asarray(ref))
        ehvi = float(jax.jit(expected_hypervolume_improvement)(boxes, mu, sigma))
        Y = mu + sigma * jax.random.normal(jax.random.key(m), (20_000, 1, m), jnp.float64)
        improvement = np.asarray(_brute_force_improvement(jnp.asarray(P), jnp.asarray(ref))(Y))
    se = improvement.std() / np.sqrt(improvement.size)
    assert ehvi > 10 * se
    assert abs(ehvi - improvement.mean()) < 3 * se, (ehvi, improvement.mean(), se)


@pytest.mark.parametrize("m", [2, 3])
def test_q_batch_improvement_is_the_hypervolume_gain(m):
    """For correlated Gaussian batches of q = 3 points, inclusion-exclusion over the boxes
    equals the brute-force gain sample by sample; its Monte Carlo mean agrees with an
    independent brute-force estimate within 3 standard errors; the log form is close."""
    rng = np.random.default_rng(20 + m)
    P = _front(rng, 6, m)
    ref = np.full(m, 1.2)
    q, n = 3, 4000
    A = rng.standard_normal((q * m, q * m)) * 0.08
    mean = np.full(q * m, 0.6)
    with jax.enable_x64(True):
        boxes = decompose(jnp.asarray(P), jnp.ones(6, bool), jnp.asarray(ref))
        brute = _brute_force_improvement(jnp.asarray(P), jnp.asarray(ref))
        za, zb = jax.random.normal(jax.random.key(m), (2, n, q * m), jnp.float64)
        Ya = (mean + za @ A.T).reshape(n, q, m)
        Yb = (mean + zb @ A.T).reshape(n, q, m)
        ours = np.asarray(jax.jit(jax.vmap(hypervolume_improvement, (None, 0)))(boxes, Ya))
        log_ours = np.asarray(
            jax.jit(jax.vmap(log_hypervolume_improvement, (None, 0)))(boxes, Ya)
        )
        same = np.asarray(brute(Ya))
        independent = np.asarray(brute(Yb))
    np.testing.assert_allclose(ours, same, rtol=1e-9, atol=1e-12)
    se = np.hypot(ours.std(), independent.std()) / np.sqrt(n)
    assert ours.mean() > 10 * se
    assert abs(ours.mean() - independent.mean()) < 3 * se
    # the smoothing (temperatures 1e-6 and 1e-3) shifts the mean by well under a percent
    np.testing.assert_allclose(np.mean(np.exp(log_ours)), ours.mean(), rtol=1e-2)


def test_log_improvement_has_a_gradient_where_the_improvement_is_zero():
    P = jnp.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])
    boxes = decompose(P, jnp.ones(3, bool), jnp.array([1.0, 1.0]))
    Y = jnp.array([[0.9, 0.9]])  # dominated by the front
    value, grad = jax.jit(jax.value_and_grad(log_hypervolume_improvement, 1))(boxes, Y)
    assert np.isfinite(float(value)) and float(value) < -20
    assert np.all(np.asarray(grad) < 0)  # lowering the objectives helps
    assert float(hypervolume_improvement(boxes, Y)) == 0.0


def test_candidate_samples_are_joint_with_the_baseline():
    """Baseline and candidate samples have the GP's joint mean and covariance."""
    rng = np.random.default_rng(3)
    s = 40_000

    @functools.partial(jax.jit, compiler_options=QUICK)
    def joint_samples_and_moments(U, B, X):
        mask = jnp.ones((U.shape[0], 2), bool)
        Ys = jnp.stack([jnp.sin(4 * U[:, 0]), U[:, 1] ** 2], 1)
        Ys = jax.vmap(standardise, (1, 1), (1, 0, 0))(Ys, mask)[0]
        params = fit_gp_batch(jax.random.key(0), U, Ys, mask, n_restarts=1, n_steps=20)
        posts = jax.vmap(gp_posterior, (None, 0, None, 1, None))(
            "matern52", params, U, Ys, mask[:, 0]
        )
        kf, kc = jax.random.split(jax.random.key(1))
        z_front = jax.random.normal(kf, (s, 2, B.shape[0]), U.dtype)
        ref, no_constraints = jnp.array([9.0, 9.0]), jnp.zeros((0,))
        front = noisy_front(
            "matern52", posts, B, jnp.ones(B.shape[0], bool), ref, no_constraints, z_front
        )
        z = jax.random.normal(kc, (s, 2, X.shape[0]), U.dtype)
        Y = jnp.swapaxes(candidate_samples("matern52", posts, front, X, z), 1, 2)
        mean, cov = jax.vmap(gp_joint, (None, 0, None))(
            "matern52", posts, jnp.concatenate([B, X])
        )
        baseline = mean[:, : B.shape[0]] + jnp.einsum("mij,smj->smi", front.chol, z_front)
        return jnp.concatenate([baseline, Y], 2), mean, cov  # (sample, objective, point)

    with jax.enable_x64(True):
        U, B, X = (jnp.asarray(rng.uniform(size=(n, 2))) for n in (6, 3, 2))
        joint, mean, cov = map(np.asarray, joint_samples_and_moments(U, B, X))
    for o in range(2):
        sd = np.sqrt(np.diag(cov[o]))
        np.testing.assert_array_less(np.abs(joint[:, o].mean(0) - mean[o]), 4 * sd / np.sqrt(s))
        np.testing.assert_allclose(np.cov(joint[:, o].T), cov[o], atol=0.03 * sd.max() ** 2)


ZDT1_2D = evo.problems.ZDT1(n_var=2)


def _disk(X):
    """Feasible inside the disk of radius 0.35 around (0.5, 0.5)."""
    return (jnp.sum((X - 0.5) ** 2, 1) - 0.35**2)[:, None]


# ParEGO's scalarised objective takes the single-objective acquisition and its feasibility
# weighting: its case covers constrained single-objective proposals too. Its batch points
# aim at q scalarisations of their own, and one of them may still land outside the disk.
# Uniform points land in the disk with probability 0.385: 3 or 4 of a batch of 4, 0.16;
# all 4, 0.022.
FEASIBLE_IN_LAST_BATCH = {"lognehvi": 4, "parego": 3}


@pytest.mark.parametrize("mo_acquisition", FEASIBLE_IN_LAST_BATCH)
def test_constrained_batches_are_distinct_in_bounds_and_end_feasible(mo_acquisition):
    q = 4
    alg = BayesOpt(n_obj=2, lb=[0.0, 0.0], ub=[1.0, 1.0], q=q, n_init=4, n_constr=1,
                   mo_acquisition=mo_acquisition, **FAST)
    ask, tell = jax.jit(alg.ask, compiler_options=QUICK), jax.jit(alg.tell)
    state = alg.init(jax.random.key(2))
    for _ in range(4):  # the design, then three model rounds
        X, state = ask(state)
        state = tell(state, ZDT1_2D.evaluate(X), _disk(X))
        U = np.asarray(X)
        assert np.all((U >= 0) & (U <= 1))
        dist = np.linalg.norm(U[:, None] - U[None], axis=-1)
        assert dist[np.triu_indices(q, 1)].min() > 1e-3, U
    last = np.asarray(state.violation)[-q:]
    assert np.sum(last <= 0) >= FEASIBLE_IN_LAST_BATCH[mo_acquisition], last


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ref_point": [1.0]}, "ref_point must be 2 finite numbers"),
        ({"mo_acquisition": "ehvi"}, "mo_acquisition must be one of"),
        ({"acquisition": "ucb"}, 'needs mo_acquisition="parego"'),
    ],
)
def test_bad_multi_objective_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BayesOpt(n_obj=2, lb=[0.0], ub=[1.0], **kwargs)


@pytest.mark.slow
def test_hypervolume_after_a_short_run_beats_parego():
    problem = evo.problems.DTLZ2(n_var=4, n_obj=2)
    ref = np.array([1.1, 1.1])

    def final_hypervolumes(alg):
        def one(key):
            def round_(state, _):
                X, state = alg.ask(state)
                return alg.tell(state, problem.evaluate(X)), None

            state, _ = jax.lax.scan(round_, alg.init(key), None, length=12)
            return hypervolume(state.F, jnp.asarray(ref))

        return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(5), 4)))

    settings = {"n_obj": 2, "lb": problem.lb, "ub": problem.ub, "q": 2, "n_init": 8,
                "capacity": 24, "ref_point": ref}
    nehvi = final_hypervolumes(BayesOpt(**settings))
    parego = final_hypervolumes(BayesOpt(mo_acquisition="parego", **settings))
    assert np.median(nehvi) > np.median(parego), (nehvi, parego)
