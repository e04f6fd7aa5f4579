"""Decision making on a front: equal to pymoo's PseudoWeights and HighTradeoffPoints on the
same fronts, and compromise programming on fronts whose answer is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evo.decision import (
    closest_to_weights,
    compromise,
    high_tradeoff,
    normalized,
    pick,
    pseudo_weights,
    showcase,
    trade_offs,
)

pymoo_mcdm = pytest.importorskip("pymoo.mcdm.high_tradeoff")
from pymoo.mcdm.pseudo_weights import PseudoWeights  # noqa: E402


def non_dominated(F: np.ndarray) -> np.ndarray:
    """The rows of `F` `(n, m)` no other row dominates (in NumPy: `evo.sorting` would
    compile once per front size, a minute in all here)."""
    dominates = np.all(F[:, None] <= F[None], axis=-1) & np.any(F[:, None] < F[None], axis=-1)
    return F[~dominates.any(axis=0)]


def random_front(m: int, seed: int, n: int = 300) -> np.ndarray:
    """A ragged non-dominated front: points of the positive orthant at radius 0.8..1.2, the
    dominated ones removed, each objective in its own units."""
    rng = np.random.default_rng(seed)
    directions = np.abs(rng.normal(size=(n, m)))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    F = non_dominated(directions * rng.uniform(0.8, 1.2, size=(n, 1)))
    return F * rng.uniform(0.5, 20, size=m)


def convex_front(n: int = 200) -> np.ndarray:
    """ZDT1's front `f2 = 1 - sqrt(f1)`."""
    f1 = np.linspace(0, 1, n)
    return np.column_stack([f1, 1 - np.sqrt(f1)])


def concave_front(n: int = 200) -> np.ndarray:
    """ZDT2's front `f2 = 1 - f1^2`."""
    f1 = np.linspace(0, 1, n)
    return np.column_stack([f1, 1 - f1**2])


def sphere_front(n_side: int = 25) -> np.ndarray:
    """DTLZ2's front, the positive orthant of the unit sphere in 3 objectives."""
    a, b = np.meshgrid(np.linspace(0, np.pi / 2, n_side), np.linspace(0, np.pi / 2, n_side))
    a, b = a.ravel(), b.ravel()
    return np.unique(np.column_stack([np.cos(a) * np.cos(b), np.cos(a) * np.sin(b), np.sin(a)])
                     .round(12), axis=0)


def deb2dk_front(k: int = 4, n: int = 600) -> np.ndarray:
    """The front of DEB2DK with `k` knees (Branke, Deb, Dierolf & Osswald, "Finding knees in
    multi-objective optimization", PPSN 2004): g = 1, `r(x) = 5 + 10 (x - 0.5)^2 +
    cos(2 k pi x) / k`, `f = r(x) (sin(pi x / 2), cos(pi x / 2))`, dominated points removed."""
    x = np.linspace(0, 1, n)
    r = 5 + 10 * (x - 0.5) ** 2 + np.cos(2 * k * np.pi * x) / k
    return non_dominated(np.column_stack([r * np.sin(np.pi * x / 2), r * np.cos(np.pi * x / 2)]))


FRONTS = {
    **{f"random{m}d_{seed}": (m, seed) for m in (2, 3) for seed in range(3)},
    **{f"small{m}d": (m, 10 + m, 12) for m in (2, 3)},  # fronts of a few points
    "convex": convex_front,
    "concave": concave_front,
    "sphere": sphere_front,
    "deb2dk": deb2dk_front,
}


def front(name: str) -> np.ndarray:
    spec = FRONTS[name]
    return random_front(*spec) if isinstance(spec, tuple) else spec()


def pymoo_trade_offs(F: np.ndarray, monkeypatch) -> tuple[np.ndarray, np.ndarray | None]:
    """pymoo's per-row trade-offs and its HighTradeoffPoints answer on `F`."""
    seen = {}
    outliers = pymoo_mcdm.find_outliers_upper_tail

    def spy(mu):
        seen["mu"] = mu.copy()
        return outliers(mu)

    monkeypatch.setattr(pymoo_mcdm, "find_outliers_upper_tail", spy)
    with np.errstate(divide="ignore", invalid="ignore"):
        knees = pymoo_mcdm.HighTradeoffPoints().do(F)
    return seen["mu"], knees


@pytest.mark.parametrize("name", FRONTS)
def test_pseudo_weights_equal_pymoo(name):
    F = front(name)
    m = F.shape[1]
    rng = np.random.default_rng(len(F))
    for target in [np.full(m, 1 / m), *rng.dirichlet(np.ones(m), size=3)]:
        expected_row, expected = PseudoWeights(target).do(F, return_pseudo_weights=True)
        np.testing.assert_allclose(pseudo_weights(F), expected, rtol=0, atol=1e-12)
        distance = np.abs(expected - target).sum(axis=1)
        for weights in (target, 7 * target):  # scaled to sum 1
            row = closest_to_weights(F, weights)
            # the same row, or one whose distance ties with it up to rounding (symmetric fronts)
            assert row == expected_row or distance[row] - distance[expected_row] < 1e-12


@pytest.mark.parametrize("name", FRONTS)
def test_high_tradeoff_equals_pymoo(name, monkeypatch):
    F = front(name)
    expected_mu, expected = pymoo_trade_offs(F, monkeypatch)
    np.testing.assert_allclose(trade_offs(F, normalize=False), expected_mu, rtol=1e-12)
    ours = high_tradeoff(F, normalize=False)
    np.testing.assert_array_equal(ours, [] if expected is None else expected)
    # normalising first is the same as giving pymoo the normalised front
    expected_mu, expected = pymoo_trade_offs(normalized(F), monkeypatch)
    np.testing.assert_allclose(trade_offs(F), expected_mu, rtol=1e-12)
    np.testing.assert_array_equal(high_tradeoff(F), [] if expected is None else expected)


def test_deb2dk_has_knees_on_each_of_its_bulges():
    F = deb2dk_front(k=4)
    order = np.argsort(F[:, 0])
    radius = np.linalg.norm(F[order], axis=1)
    bulges = order[1:-1][(radius[1:-1] < radius[:-2]) & (radius[1:-1] < radius[2:])]
    assert len(bulges) == 4  # the points nearest the origin locally, one per bulge
    knees = high_tradeoff(F)
    nearest_bulge = np.argmin(np.abs(F[knees, 0][:, None] - F[bulges, 0][None]), axis=1)
    assert set(nearest_bulge) == {0, 1, 2, 3}


def test_a_corner_is_the_knee_and_a_line_has_none():
    t = np.linspace(0, 1, 41)
    corner = np.concatenate([np.column_stack([0.1 * t, 1 - 0.9 * t]),
                             np.column_stack([0.1 + 0.9 * t[1:], 0.1 * (1 - t[1:])])])
    knees = high_tradeoff(corner)
    np.testing.assert_allclose(corner[knees], [[0.1, 0.1]])
    line = np.column_stack([3 * t, 7 * (1 - t)])
    assert high_tradeoff(line).size == 0  # equal trade-offs up to rounding


def test_showcase_is_each_objectives_best_and_the_knee():
    t = np.linspace(0, 1, 41)
    corner = np.concatenate([np.column_stack([0.1 * t, 1 - 0.9 * t]),
                             np.column_stack([0.1 + 0.9 * t[1:], 0.1 * (1 - t[1:])])])
    corner = np.concatenate([[[np.nan, 0.0]], corner])  # never chosen
    rows = showcase(corner)
    assert rows.keys() == {"best_1", "best_2", "knee"}
    np.testing.assert_allclose(corner[rows["best_1"]], [0.0, 1.0])
    np.testing.assert_allclose(corner[rows["best_2"]], [1.0, 0.0])
    np.testing.assert_allclose(corner[rows["knee"]], [0.1, 0.1])
    line = np.column_stack([t, 1 - t])  # no knee: the compromise row, the middle
    np.testing.assert_allclose(line[showcase(line)["knee"]], [0.5, 0.5])


def test_pseudo_weights_of_a_line_are_its_complements():
    t = np.linspace(0, 1, 11)
    F = np.column_stack([2 * t, 5 * (1 - t)])  # ideal (0, 0), nadir (2, 5)
    np.testing.assert_allclose(pseudo_weights(F), np.column_stack([1 - t, t]), atol=1e-12)
    assert closest_to_weights(F, [0.3, 0.7]) == 7


def test_compromise_on_fronts_with_known_answers():
    t = np.linspace(0, 1, 101)
    line = np.column_stack([t, 1 - t])
    assert line[compromise(line)][0] == pytest.approx(0.5)
    # weighted Euclidean: (w1 f1)^2 + (w2 (1 - f1))^2 is least at f1 = w2^2 / (w1^2 + w2^2)
    assert line[compromise(line, [1, 2])][0] == pytest.approx(0.8)
    # weighted Tchebycheff: w1 f1 = w2 (1 - f1) at f1 = w2 / (w1 + w2)
    assert line[compromise(line, [1, 3], p=math.inf)][0] == pytest.approx(0.75)
    # the weighted sum (p = 1) goes to the end of the line that the heavier weight favours
    assert line[compromise(line, [0.3, 0.7], p=1)][0] == pytest.approx(1.0)
    # convex quarter circle about (1, 1): nearest the ideal (0, 0) on the diagonal
    angle = np.linspace(0, np.pi / 2, 91)
    convex = 1 - np.column_stack([np.cos(angle), np.sin(angle)])
    np.testing.assert_allclose(convex[compromise(convex)], [1 - 0.5**0.5] * 2)
    # concave quarter circle: the Tchebycheff point is the diagonal one
    concave = np.column_stack([np.cos(angle), np.sin(angle)])
    np.testing.assert_allclose(concave[compromise(concave, p=math.inf)], [0.5**0.5] * 2)


def test_compromise_is_invariant_to_units_and_augmentation_breaks_weak_ties():
    F = random_front(3, seed=4)
    for p in (1, 2, 3.5, math.inf):
        row = compromise(F, [0.2, 0.5, 0.3], p=p)
        assert compromise(F * [10, 0.1, 3] + [5, -2, 0], [0.2, 0.5, 0.3], p=p) == row
    weakly = np.array([[0.5, 0.4], [0.5, 0.2], [0.0, 1.0], [1.0, 0.0]])
    assert compromise(weakly, p=math.inf) == 0  # a tie: the first row, weakly dominated
    assert compromise(weakly, p=math.inf, rho=1e-4) == 1


def test_nan_rows_are_ignored():
    F = random_front(2, seed=5)
    bad = np.insert(F, [0, 3, len(F)], np.nan, axis=0)  # at rows 0, 4 and len(F) + 2
    bad[4] = [np.inf, 0.5]
    kept = np.flatnonzero(np.all(np.isfinite(bad), axis=1))
    W = pseudo_weights(bad)
    assert np.all(np.isnan(W[~np.isin(np.arange(len(bad)), kept)]))
    np.testing.assert_allclose(W[kept], pseudo_weights(F))
    np.testing.assert_allclose(trade_offs(bad)[kept], trade_offs(F))
    np.testing.assert_array_equal(kept[high_tradeoff(F)], high_tradeoff(bad))
    assert kept[closest_to_weights(F, [0.4, 0.6])] == closest_to_weights(bad, [0.4, 0.6])
    assert kept[compromise(F, p=math.inf)] == compromise(bad, p=math.inf)


def test_degenerate_fronts():
    single = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(pseudo_weights(single), [[1 / 3] * 3])
    assert compromise(single) == 0 and high_tradeoff(single).size == 0
    flat = np.array([[0.0, 5.0], [1.0, 5.0]])  # the second objective is constant
    np.testing.assert_allclose(pseudo_weights(flat), [[1.0, 0.0], [0.5, 0.5]])


def test_pick():
    F = deb2dk_front()
    np.testing.assert_array_equal(pick(F, "knee"), high_tradeoff(F))
    assert pick(F, "weights=0.3,0.7").tolist() == [closest_to_weights(F, [0.3, 0.7])]
    assert pick(F, "compromise").tolist() == [compromise(F)]
    assert pick(F, "compromise=1, 3").tolist() == [compromise(F, [1, 3])]
    for how in ("kne", "weights", "weights=", "knee=1", "compromise=a,b"):
        with pytest.raises(ValueError, match="pick: "):
            pick(F, how)
    with pytest.raises(ValueError, match="2 numbers"):
        pick(F, "weights=0.2,0.3,0.5")


@pytest.mark.parametrize("call", [pseudo_weights, trade_offs, high_tradeoff, compromise,
                                  lambda F: closest_to_weights(F, [0.5, 0.5])])
def test_bad_fronts_are_refused(call):
    with pytest.raises(ValueError, match="empty"):
        call(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        call(np.ones(4))
    with pytest.raises(ValueError, match=r"m >= 2"):
        call(np.ones((4, 1)))
    with pytest.raises(ValueError, match="no finite row"):
        call(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="array of numbers"):
        call([["a", "b"]])


def test_bad_settings_are_refused():
    F = convex_front(20)
    for weights in ([0.5], [0.5, 0.2, 0.3], [[0.5, 0.5]]):
        with pytest.raises(ValueError, match="2 numbers"):
            closest_to_weights(F, weights)
    for weights in ([0, 0], [-1, 2], [np.nan, 1], [np.inf, 1]):
        with pytest.raises(ValueError, match="positive number"):
            compromise(F, weights)
    with pytest.raises(ValueError, match="p must lie"):
        compromise(F, p=0.5)
    with pytest.raises(ValueError, match="rho must lie"):
        compromise(F, rho=-1e-4)
    with pytest.raises(ValueError, match="epsilon must lie"):
        trade_offs(F, epsilon=-1)
