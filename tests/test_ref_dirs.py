import math

import numpy as np
import pytest
from pymoo.util.ref_dirs import get_reference_directions

from evo.ref_dirs import das_dennis, n_das_dennis, reference_directions, two_layer


def as_set(W: np.ndarray) -> set:
    return {tuple(np.round(w, 9)) for w in W}


@pytest.mark.parametrize("n_obj,p", [(2, 99), (3, 12), (5, 6), (8, 3)])
def test_das_dennis_matches_pymoo_and_its_count(n_obj, p):
    W = das_dennis(n_obj, p)
    count = math.comb(p + n_obj - 1, n_obj - 1)
    assert W.shape == (count, n_obj) == (n_das_dennis(n_obj, p), n_obj)
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    assert W.min() >= 0
    assert as_set(W) == as_set(get_reference_directions("das-dennis", n_obj, n_partitions=p))


def test_two_layer_inner_points_are_interior():
    W = two_layer(8, 3, 2)
    inner = W[n_das_dennis(8, 3):]
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    assert inner.min() >= 0.5 / 8 - 1e-12
    assert len(as_set(W)) == len(W)


@pytest.mark.parametrize("n_obj,n_points", [(2, 100), (3, 92), (3, 1000), (8, 156), (10, 275)])
def test_reference_directions_stay_within_the_requested_count(n_obj, n_points):
    W = reference_directions(n_obj, n_points)
    assert n_points // 3 <= len(W) <= n_points
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    assert len(as_set(W)) == len(W)


def test_reference_directions_for_many_objectives_have_interior_points():
    W = reference_directions(10, 275)
    assert np.any(np.all(W > 0, axis=1))


@pytest.mark.parametrize("args", [(1, 5), (3, 2)])
def test_reference_directions_reject_impossible_requests(args):
    with pytest.raises(ValueError, match="n_obj >= 2 and n_points >= n_obj"):
        reference_directions(*args)


def test_reference_directions_take_a_count_not_an_array():
    # A front asked for at given directions used to fail with numpy's "truth value of an
    # array is ambiguous".
    with pytest.raises(ValueError, match=r"n_points \(a count of points\) must be an integer"):
        reference_directions(3, np.ones((10, 3)))
