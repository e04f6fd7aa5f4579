"""Exact and Monte Carlo hypervolume against closed forms, moocore, pymoo and brute force."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pymoo.indicators.hv import HV

from evo.metrics import dominated_by, hypervolume, hypervolume_mc
from evo.metrics.hypervolume import hypervolume_contributions

from compile_options import QUICK


def sphere_front(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """`n` mutually non-dominated points `(n, m)` on the positive unit sphere."""
    F = np.abs(rng.normal(size=(n, m)))
    return F / np.linalg.norm(F, axis=1, keepdims=True)


def mixed_set(seed: int, m: int) -> np.ndarray:
    """A front plus dominated points, points outside the reference box and a NaN row. `(41, m)`"""
    rng = np.random.default_rng(seed)
    return np.concatenate([
        sphere_front(rng, 25, m),
        rng.uniform(0.5, 1.3, (15, m)),
        np.full((1, m), np.nan),
    ])


def inclusion_exclusion(F: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of a few points by inclusion-exclusion over all subsets."""
    F = F[np.all(np.isfinite(F), axis=1) & np.all(F < ref, axis=1)]
    total = 0.0
    for size in range(1, len(F) + 1):
        for subset in itertools.combinations(range(len(F)), size):
            total += (-1) ** (size + 1) * np.prod(ref - F[list(subset)].max(axis=0))
    return total


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_single_point_is_a_box(m):
    f = np.linspace(0.1, 0.5, m)
    ref = np.linspace(1.0, 2.0, m)
    with jax.enable_x64(True):
        assert float(hypervolume(f[None], ref)) == pytest.approx(np.prod(ref - f), rel=1e-14)


def test_linear_front_staircase():
    # k points a_i = i / (k - 1) on f1 + f2 = 1 with r = (1, 1): the two end points touch
    # the reference point and count for nothing; the others leave a staircase of area
    # sum_{i=1}^{k-2} h * a_i with h = 1 / (k - 1), that is (k - 2) / (2 (k - 1)).
    k = 11
    a = np.linspace(0, 1, k)
    F = np.stack([a, 1 - a], axis=1)
    expected = (k - 2) / (2 * (k - 1))
    with jax.enable_x64(True):
        assert float(hypervolume(F, np.ones(2))) == pytest.approx(expected, rel=1e-14)
        # The same staircase lifted into 3-D as a slab of height 2.
        F3 = np.concatenate([F, np.zeros((k, 1))], axis=1)
        slab = float(hypervolume(F3, np.array([1.0, 1.0, 2.0])))
        assert slab == pytest.approx(2 * expected, rel=1e-14)


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_moocore(m, seed):
    F = mixed_set(seed, m)
    ref = np.full(m, 1.1)
    finite = np.all(np.isfinite(F), axis=1)
    expected = moocore.hypervolume(F[finite], ref=ref)
    with jax.enable_x64(True):
        assert float(hypervolume(F, ref)) == pytest.approx(expected, rel=1e-9)
    assert float(hypervolume(jnp.float32(F), jnp.float32(ref))) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("m", [4, 5])
def test_many_objectives_match_pymoo_and_inclusion_exclusion(m):
    F = mixed_set(m, m)
    ref = np.full(m, 1.1)
    finite = np.all(np.isfinite(F), axis=1)
    ours = hypervolume(F, ref)
    assert isinstance(ours, np.float64)
    assert ours == pytest.approx(HV(ref_point=ref).do(F[finite]), rel=1e-12)
    # pymoo's HV calls moocore itself: check a small set independently too.
    small = F[[0, 1, 2, 3, 4, 30, 31, 40]]
    assert hypervolume(small, ref) == pytest.approx(inclusion_exclusion(small, ref), rel=1e-12)


@pytest.mark.parametrize(("m", "grid"), [(2, 1000), (3, 100)])
def test_matches_grid_count(m, grid):
    rng = np.random.default_rng(m)
    F = rng.uniform(0, 1, (6, m))
    ref = np.full(m, 1.2)
    lower = F.min(axis=0)
    axes = [lower[j] + (np.arange(grid) + 0.5) / grid * (ref[j] - lower[j]) for j in range(m)]
    centres = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, m)
    covered = np.zeros(len(centres), bool)
    for f in F:
        covered |= np.all(f <= centres, axis=1)
    box = np.prod(ref - lower)
    estimate = covered.mean() * box
    # Only cells cut by the staircase's faces are miscounted, by at most half a cell each.
    with jax.enable_x64(True):
        assert float(hypervolume(F, ref)) == pytest.approx(estimate, abs=m * box / grid)


@pytest.mark.parametrize("m", [2, 3, 5])
def test_ignores_invalid_rows(m):
    F = sphere_front(np.random.default_rng(7), 10, m)
    ref = np.full(m, 1.0 + 1e-3)
    # NaN, inf, on the reference point, beyond it in one objective, and far beyond it.
    extra = np.array([np.nan, np.inf, 1.0 + 1e-3, 1.5, 5.0])[:, None] * np.ones(m)
    extra[3, 1:] = 0.0
    with jax.enable_x64(True):
        clean = float(hypervolume(F, ref))
        assert clean > 0
        assert float(hypervolume(np.concatenate([extra[:2], F, extra[2:]]), ref)) == clean
        assert float(hypervolume(extra, ref)) == 0
        assert float(hypervolume(np.zeros((0, m)), ref)) == 0


# Coordinates on a coarse grid, so ties and duplicates are common; 1.0 is the reference.
coordinate = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, np.nan, np.inf])


@settings(max_examples=40, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 3]))
def test_order_and_duplicates_do_not_matter(data, m):
    F = data.draw(arrays(np.float64, (8, m), elements=coordinate))
    perm = data.draw(st.permutations(range(8)))
    ref = np.ones(m)
    finite = np.all(np.isfinite(F), axis=1)
    with jax.enable_x64(True):
        value = float(hypervolume(F, ref))
        assert value == pytest.approx(moocore.hypervolume(F[finite], ref=ref), rel=1e-12, abs=1e-15)
        assert float(hypervolume(F[list(perm)], ref)) == pytest.approx(value, rel=1e-12, abs=1e-15)
        doubled = np.concatenate([F, F[list(perm)]])
        assert float(hypervolume(doubled, ref)) == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_batched_under_jit_and_errors():
    rng = np.random.default_rng(3)
    fronts = np.stack([sphere_front(rng, 20, 3) for _ in range(3)])
    ref = np.full(3, 1.1)
    batched = jax.jit(jax.vmap(hypervolume, in_axes=(0, None)))(fronts, ref)
    expected = [moocore.hypervolume(F, ref=ref) for F in fronts]
    np.testing.assert_allclose(np.asarray(batched), expected, rtol=1e-5)
    with pytest.raises(TypeError, match="host"):
        jax.jit(hypervolume)(np.ones((3, 4)), np.full(4, 2.0))
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        hypervolume(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="ref_point"):
        hypervolume(np.ones((4, 3)), np.ones(2))
    with pytest.raises(ValueError, match="ref_point"):
        hypervolume(np.ones((4, 5)), np.ones(4))


def test_dominated_by_is_weak_dominance():
    rng = np.random.default_rng(4)
    F = rng.integers(0, 3, (7, 3)).astype(float)
    samples = rng.integers(0, 3, (11, 3)).astype(float)
    expected = np.all(F[None, :, :] <= samples[:, None, :], axis=-1)
    out = np.asarray(dominated_by(jnp.asarray(samples), jnp.asarray(F)))
    assert out.shape == (11, 7)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("m", [2, 3, 5])
def test_mc_within_three_standard_errors(m):
    F = mixed_set(10 + m, m)
    ref = np.full(m, 1.1)
    exact = float(hypervolume(F, ref))
    for seed in range(3):
        value, stderr = hypervolume_mc(jax.random.key(seed), F, ref, 20_000)
        assert 0 < float(stderr) < 0.02 * exact
        assert abs(float(value) - exact) < 3 * float(stderr)


def test_mc_error_shrinks_with_samples():
    F = mixed_set(0, 3)
    ref = np.full(3, 1.1)
    exact = float(hypervolume(F, ref))

    def errors(n_samples):
        estimates = [hypervolume_mc(jax.random.key(seed), F, ref, n_samples) for seed in range(20)]
        mean_error = np.mean([abs(float(e.value) - exact) for e in estimates])
        return mean_error, float(estimates[0].stderr)

    # 20_000 samples on a (41, 3) set is also what test_mc_within_three_standard_errors
    # compiles; each new sample count costs a compilation.
    coarse_error, coarse_stderr = errors(1_000)
    fine_error, fine_stderr = errors(20_000)
    assert fine_stderr == pytest.approx(coarse_stderr / np.sqrt(20), rel=0.1)
    assert fine_error < coarse_error / 2.5


@pytest.mark.parametrize("hit_fraction", [0.5, 0.99, 0.999, 1.0])
def test_mc_three_standard_errors_cover_the_true_value(hit_fraction):
    # One point at (a, a) in the unit box: it dominates (1 - a)^2 of it, the hit fraction.
    a = 1 - np.sqrt(hit_fraction)
    F, ref, lower = np.array([[a, a]]), np.ones(2), np.zeros(2)
    keys = jax.random.split(jax.random.key(0), 2000)
    value, stderr = jax.vmap(lambda key: hypervolume_mc(key, F, ref, 1000, lower))(keys)
    covered = np.abs(np.asarray(value, float) - hit_fraction) <= 3 * np.asarray(stderr, float)
    assert covered.mean() >= 0.93


@pytest.mark.parametrize("m", [2, 3, 4])
def test_host_calls_compute_in_float64(m):
    F, ref = np.float32(mixed_set(m, m)), np.full(m, 1.1, np.float32)
    expected = moocore.hypervolume(np.float64(F[np.all(F < ref, axis=1)]), ref=np.float64(ref))
    value = hypervolume(F, ref)
    assert isinstance(value, np.float64)
    assert value == pytest.approx(expected, rel=1e-13)
    estimate = hypervolume_mc(jax.random.key(0), F, ref, 100)
    assert isinstance(estimate.value, np.float64) and isinstance(estimate.stderr, np.float64)
    if m <= 3:
        assert jax.jit(hypervolume)(F, ref).dtype == jnp.float32


def test_mc_counts_exactly_n_samples_across_chunks():
    # One point at the lower corner dominates the whole box, so every sample hits; samples
    # padding the last chunk must not be counted (p would exceed 1).
    F = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    ref = np.array([1.0, 2.0, 0.5])
    value, stderr = hypervolume_mc(jax.random.key(0), F, ref, 1000, chunk_size=300)
    assert float(value) == pytest.approx(1.0, rel=1e-12)
    centre = 1002 / 1004  # Agresti-Coull: two hits and two misses added
    assert float(stderr) == pytest.approx(np.sqrt(centre * (1 - centre) / 1004), rel=1e-12)
    # No row dominates the reference point: the box is empty and so is the estimate.
    value, stderr = hypervolume_mc(jax.random.key(0), F + 2, ref, 1000, chunk_size=300)
    assert float(value) == 0 and float(stderr) == 0
    with pytest.raises(ValueError, match="n_samples"):
        hypervolume_mc(jax.random.key(0), F, ref, 0)


# Exclusive contributions (hypervolume_contributions) against moocore's hv_contributions,
# whose default ignore_dominated=True is the same convention. Compiled once per shape with
# XLA's quick options, in float64.
contributions = jax.jit(hypervolume_contributions, static_argnames="n_samples",
                        compiler_options=QUICK)


def moocore_contributions(F: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """moocore's contributions of the finite rows of `F`, 0 for the others."""
    finite = np.all(np.isfinite(F), axis=1)
    expected = np.zeros(len(F))
    if finite.any():
        expected[finite] = moocore.hv_contributions(F[finite], ref=ref)
    return expected


@settings(max_examples=60, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 3]))
def test_contributions_match_moocore_with_ties_and_duplicates(data, m):
    F = data.draw(arrays(np.float64, (8, m), elements=coordinate))
    ref = np.ones(m)
    with jax.enable_x64(True):
        ours = np.asarray(contributions(F, ref))
        # Every row doubled: every copy contributes 0, as in moocore.
        doubled = np.asarray(contributions(np.concatenate([F, F[::-1]]), ref))
    np.testing.assert_allclose(ours, moocore_contributions(F, ref), rtol=1e-12, atol=1e-15)
    assert np.all(doubled == 0)


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_contributions_match_moocore_on_random_fronts(m, seed):
    # A front, dominated points, duplicates of front rows, rows beyond the reference point
    # and a NaN row.
    F = mixed_set(seed, m)
    F = np.concatenate([F, F[[3, 7]], 1.5 * F[:2]])
    ref = np.full(m, 1.1)
    mask = np.random.default_rng(seed).random(len(F)) < 0.6
    with jax.enable_x64(True):
        ours = np.asarray(contributions(F, ref, np.ones(len(F), bool)))
        masked = np.asarray(contributions(F, ref, mask))
    expected = moocore_contributions(F, ref)
    assert np.count_nonzero(expected) >= 15
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-16)
    # Rows outside the mask count for nothing, neither for themselves nor for the others.
    assert np.all(masked[~mask] == 0)
    np.testing.assert_allclose(masked[mask], moocore_contributions(F[mask], ref), rtol=1e-12,
                               atol=1e-16)


def test_contributions_of_one_objective_and_of_nothing():
    ref = np.array([1.0])
    # On host arrays: float64 and NumPy, whatever jax_enable_x64 says.
    best = hypervolume_contributions(np.array([[0.5], [0.2], [0.3]]), ref)
    assert isinstance(best, np.ndarray) and best.dtype == np.float64
    np.testing.assert_allclose(best, [0.0, 0.8, 0.0], rtol=1e-15)
    assert np.all(hypervolume_contributions(np.array([[0.5], [0.2], [0.2]]), ref) == 0)
    for m in (2, 3):
        assert np.all(np.asarray(contributions(np.full((4, m), 2.0), np.ones(m))) == 0)
        assert contributions(np.zeros((0, m)), np.ones(m)).shape == (0,)


def test_contributions_batched_under_jit_in_float32():
    rng = np.random.default_rng(5)
    fronts = np.stack([sphere_front(rng, 30, 3) for _ in range(3)])
    ref = np.full(3, 1.1)
    batched = jax.jit(jax.vmap(hypervolume_contributions, in_axes=(0, None)),
                      compiler_options=QUICK)(jnp.float32(fronts), jnp.float32(ref))
    assert batched.dtype == jnp.float32
    expected = np.stack([moocore.hv_contributions(F, ref=ref) for F in fronts])
    # float32 coordinates near 1 carry ~6e-8 absolute error into every cell edge.
    np.testing.assert_allclose(np.asarray(batched), expected, rtol=1e-3,
                               atol=1e-5 * expected.max())


@pytest.mark.parametrize("m", [4, 5])
def test_contributions_monte_carlo_within_four_standard_errors(m):
    F = sphere_front(np.random.default_rng(m), 12, m)
    ref = np.full(m, 1.1)
    n_samples = 200_000
    with jax.enable_x64(True):
        ours = np.asarray(contributions(F, ref, key=jax.random.key(m), n_samples=n_samples))
    expected = moocore.hv_contributions(F, ref=ref)
    volume = np.prod(ref - F.min(axis=0))
    p = np.clip(expected / volume, 1e-9, 1.0)
    stderr = volume * np.sqrt(p * (1 - p) / n_samples)
    assert np.all(np.abs(ours - expected) <= 4 * stderr), (ours, expected, stderr)


def test_contributions_bad_input_raises():
    with pytest.raises(ValueError, match="Monte Carlo estimate: pass key"):
        hypervolume_contributions(np.ones((3, 4)), np.full(4, 2.0))
    with pytest.raises(ValueError, match=r"mask must have shape \(3,\)"):
        hypervolume_contributions(np.ones((3, 2)), np.full(2, 2.0), np.ones(2, bool))
    with pytest.raises(ValueError, match="ref_point"):
        hypervolume_contributions(np.ones((3, 2)), np.full(3, 2.0))
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        hypervolume_contributions(np.ones((3, 4)), np.full(4, 2.0), key=jax.random.key(0),
                                  n_samples=0)
