"""GD, GD+, IGD and IGD+ against pymoo and on hand-computed cases."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pymoo.indicators.gd import GD
from pymoo.indicators.gd_plus import GDPlus
from pymoo.indicators.igd import IGD
from pymoo.indicators.igd_plus import IGDPlus

from evo.metrics import gd, gd_plus, igd, igd_plus

INDICATORS = [(gd, GD), (gd_plus, GDPlus), (igd, IGD), (igd_plus, IGDPlus)]
IDS = ["gd", "gd_plus", "igd", "igd_plus"]


def random_sets(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """F `(30, 3)` straddling front `(50, 3)`, so the "+" variants differ from the plain ones."""
    rng = np.random.default_rng(seed)
    front = rng.uniform(0, 1, (50, 3))
    F = rng.uniform(-0.3, 1.3, (30, 3))
    return F, front


@pytest.mark.parametrize(("ours", "theirs"), INDICATORS, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_pymoo(ours, theirs, seed):
    F, front = random_sets(seed)
    expected = theirs(front).do(F)
    with jax.enable_x64(True):
        assert float(ours(F, front)) == pytest.approx(expected, rel=1e-12)
    assert float(ours(jnp.float32(F), jnp.float32(front))) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("ours", "theirs"), INDICATORS, ids=IDS)
@pytest.mark.parametrize("offset", [1e2, 1e4, 1e6])
def test_matches_pymoo_far_from_the_origin(ours, theirs, offset):
    # Points 0.01 apart around `offset`: a distance through |p|^2 + |q|^2 - 2 p.q cancels.
    rng = np.random.default_rng(2)
    F, front = offset + 0.01 * rng.random((300, 3)), offset + 0.01 * rng.random((300, 3))
    assert ours(F, front) == pytest.approx(theirs(front).do(F), rel=1e-12)
    # Traced, in float32: against pymoo on the same float32 values (at 1e6 they lie on a
    # grid of 1/16, so many distances are 0 or a few grid steps).
    F32, front32 = np.float32(F), np.float32(front)
    expected = theirs(np.float64(front32)).do(np.float64(F32))
    assert float(jax.jit(ours)(F32, front32)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("n_obj", [2, 3, 5])
def test_host_calls_compute_in_float64_and_traced_ones_in_the_input_dtype(n_obj):
    rng = np.random.default_rng(n_obj)
    F, front = rng.random((40, n_obj)), rng.random((60, n_obj))
    for ours, theirs in INDICATORS:
        expected = theirs(front).do(F)
        value = ours(np.float32(F), jnp.float32(front))
        assert isinstance(value, np.float64)
        assert value == pytest.approx(theirs(np.float64(np.float32(front))).do(
            np.float64(np.float32(F))), rel=1e-13)
        traced = jax.jit(ours)(np.float32(F), np.float32(front))
        assert traced.dtype == jnp.float32
        assert float(traced) == pytest.approx(expected, rel=1e-5)


def test_plus_variants_only_count_inferiority():
    F, front = random_sets(0)
    assert gd_plus(F, front) < gd(F, front)
    assert igd_plus(F, front) < igd(F, front)


@pytest.mark.parametrize("indicator", [gd, gd_plus, igd, igd_plus], ids=IDS)
def test_identical_sets_give_zero(indicator):
    F, _ = random_sets(2)
    assert float(indicator(F, F)) == 0


def test_single_points():
    worse, better = np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]])
    for indicator in (gd, gd_plus, igd, igd_plus):
        assert float(indicator(worse, better)) == pytest.approx(5)
    # A point that dominates the front is at plus-distance 0 but Euclidean distance 5.
    assert float(gd(better, worse)) == pytest.approx(5)
    assert float(igd(better, worse)) == pytest.approx(5)
    assert float(gd_plus(better, worse)) == 0
    assert float(igd_plus(better, worse)) == 0
    # Only the coordinate where f is worse than z counts.
    assert float(gd_plus(np.array([[1.0, -2.0]]), better)) == pytest.approx(1)


def test_gd_is_a_mean_over_F_and_igd_over_front():
    F = np.array([[0.0, 1.0], [0.0, 3.0]])
    front = np.array([[0.0, 0.0]])
    assert float(gd(F, front)) == pytest.approx(2)
    assert float(igd(F, front)) == pytest.approx(1)


@pytest.mark.parametrize("indicator", [gd, gd_plus, igd, igd_plus], ids=IDS)
def test_non_finite_rows_are_ignored(indicator):
    F, front = random_sets(3)
    bad = np.array([[np.nan, 0.5, 0.5], [np.inf, 0.0, 0.0], [0.2, -np.inf, 0.2]])
    dirty = np.insert(F, [0, 7, 30], bad, axis=0)
    clean_value = float(indicator(F, front))
    assert np.isfinite(clean_value)
    assert float(indicator(dirty, front)) == pytest.approx(clean_value, rel=1e-6)
    assert float(indicator(bad, front)) == np.inf


@pytest.mark.parametrize("indicator", [gd, igd_plus], ids=["gd", "igd_plus"])
def test_gradients_stay_finite(indicator):
    F, front = random_sets(3)
    F[4] = np.nan
    F[5] = front[0]  # zero distance, where sqrt's slope is infinite
    grad = np.asarray(jax.grad(indicator)(jnp.asarray(F), front))
    assert np.isfinite(grad).all() and np.all(grad[4] == 0) and np.any(grad != 0)


def test_jit_gives_the_same_values():
    F, front = random_sets(4)
    everything = jax.jit(lambda F, front: jnp.stack([f(F, front) for f, _ in INDICATORS]))
    eager = [float(f(F, front)) for f, _ in INDICATORS]
    np.testing.assert_allclose(everything(F, front), eager, rtol=1e-6)


def test_shape_mismatches_raise():
    F, front = random_sets(5)
    with pytest.raises(ValueError, match="F has 3 objectives but front has 2"):
        igd(F, front[:, :2])
    with pytest.raises(ValueError, match=r"F of shape \(n, m\).*got \(3,\)"):
        gd(F[0], front)
    with pytest.raises(ValueError, match="at least one point"):
        igd_plus(F, front[:0])
