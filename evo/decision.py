"""Choosing solutions from a finished front: pseudo-weights, high trade-off (knee) points and
compromise programming.

Every function takes a front `F` `(n, m)` of objective values to minimise, m >= 2, usually
the non-dominated rows of a run (`Result.pareto_F`), and works in NumPy on the host. Rows
with a NaN or infinite value are ignored: they are never chosen, their per-row values are
NaN, and the ideal and nadir points that normalise the front come from the other rows.
Returned indices are rows of `F` as given.

Normalising maps each objective to [0, 1] by the front's ideal (per-objective minimum) and
nadir (maximum); an objective that is constant over the front maps to 0 and weighs nothing.

    from evo.decision import pick
    rows = pick(result.pareto_F, "knee")             # or "weights=0.3,0.7", "compromise"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from evo.checks import check_float

PICKS = ('"knee"', '"weights=w1,...,wm"', '"compromise"', '"compromise=w1,...,wm"')
"""The forms `pick` understands."""


def finite_front(F: Any) -> tuple[np.ndarray, np.ndarray]:
    """`F` as a float array `(n, m)` and the indices `(k,)` of its rows without NaN or inf.

    ValueError unless `F` is 2-D with m >= 2 objectives and at least one finite row.
    """
    try:
        F = np.asarray(F, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"a front must be an array of numbers (n, m), got {F!r}") from None
    if F.ndim != 2 or F.shape[1] < 2:
        raise ValueError(f"a front must have shape (n, m) with m >= 2 objectives, got {F.shape}")
    if len(F) == 0:
        raise ValueError("the front is empty")
    rows = np.flatnonzero(np.all(np.isfinite(F), axis=1))
    if len(rows) == 0:
        raise ValueError(f"the front has no finite row (all {len(F)} hold NaN or inf)")
    return F, rows


def normalized(F: np.ndarray) -> np.ndarray:
    """Finite `F` `(n, m)` mapped to [0, 1] per objective by its ideal and nadir; constant
    objectives map to 0."""
    ideal, span = F.min(axis=0), np.ptp(F, axis=0)
    return (F - ideal) / np.where(span > 0, span, 1.0)


def check_weights(weights: Any, m: int) -> np.ndarray:
    """`weights` `(m,)` scaled to sum to 1; ValueError unless there are m finite, non-negative
    numbers with a positive sum."""
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be {m} numbers, got {weights!r}") from None
    if w.shape != (m,):
        raise ValueError(f"weights must be {m} numbers, one per objective, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be finite, >= 0 and sum to a positive number, got {w}")
    return w / w.sum()


def pseudo_weights(F: Any) -> np.ndarray:
    """Deb's pseudo-weight vector of each row of the front `F` `(n, m)`, as an `(n, m)` array.

    Row i's weight for objective j is `(nadir_j - F_ij) / (nadir_j - ideal_j)`, the rows
    scaled to sum to 1 (Deb, "Multi-Objective Optimization using Evolutionary Algorithms",
    2001): how much each objective was favoured to reach that point. A constant
    objective weighs 0; a row at the nadir in every objective gets equal weights 1/m; rows
    with NaN or inf get NaN. Equals pymoo's `PseudoWeights` where all objectives vary.
    """
    F, rows = finite_front(F)
    G = F[rows]
    varying = np.ptp(G, axis=0) > 0
    closeness = np.where(varying, 1.0 - normalized(G), 0.0)
    total = closeness.sum(axis=1, keepdims=True)
    weights = np.full_like(F, np.nan)
    weights[rows] = np.where(total > 0, closeness / np.where(total > 0, total, 1.0),
                             1.0 / F.shape[1])
    return weights


def closest_to_weights(F: Any, weights: Any) -> int:
    """The row of `F` `(n, m)` whose pseudo-weights (`pseudo_weights`) are closest to
    `weights` `(m,)` in L1 distance, as pymoo's `PseudoWeights(weights)`; `weights` need not
    sum to 1 (they are scaled to). The first such row on ties."""
    W = pseudo_weights(F)
    target = check_weights(weights, W.shape[1])
    distance = np.abs(W - target).sum(axis=1)
    return int(np.nanargmin(distance))


def trade_offs(F: Any, *, epsilon: float = 0.125, normalize: bool = True) -> np.ndarray:
    """The least trade-off of each row of the front `F` `(n, m)` with its neighbours `(n,)`.

    Moving from row i to a neighbour j gains `sum max(F_i - F_j, 0)` and sacrifices
    `sum max(F_j - F_i, 0)`; row i's trade-off is the smallest sacrifice/gain over its
    neighbours (inf when every neighbour is dominated by it; NaN when it has none but
    duplicates, and for rows with NaN or inf). A large value marks a knee: leaving it costs
    much for little gain (Rachmawati & Srinivasan, "Multiobjective evolutionary algorithm
    with controllable focus on the knees of the Pareto front", IEEE TEC 2009).

    The neighbours of a row are the rows within Euclidean distance `epsilon`, or its
    `min(2m, n - 1)` nearest rows when the ball holds fewer, as pymoo's `HighTradeoffPoints`.
    With `normalize` (the default) distances and trade-offs are taken on the front normalised
    to [0, 1] per objective, so objectives in different units count alike; with
    `normalize=False` on `F` as given, which is what pymoo does. Memory grows with the number
    of pairs within `epsilon`.
    """
    F, rows = finite_front(F)
    epsilon = check_float("trade_offs: epsilon", epsilon, 0.0)
    G = normalized(F[rows]) if normalize else F[rows]
    n, m = G.shape
    tree = cKDTree(G)
    n_min = min(2 * m, n - 1)  # pymoo's n_min_neigbors="auto", which counts the row itself
    pairs = tree.query_pairs(epsilon, output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    few = np.bincount(i, minlength=n) + 1 < n_min
    if np.any(few):
        nearest = tree.query(G[few], k=n_min + 1)[1]
        keep = ~few[i]
        i = np.concatenate([i[keep], np.repeat(np.flatnonzero(few), n_min + 1)])
        j = np.concatenate([j[keep], nearest.ravel()])
    diff = G[j] - G[i]
    sacrifice = np.maximum(diff, 0.0).sum(axis=1)
    gain = np.maximum(-diff, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sacrifice / gain
    least = np.full(n, np.nan)
    np.fmin.at(least, i, ratio)  # fmin skips the NaN of the row itself and of duplicates
    out = np.full(len(F), np.nan)
    out[rows] = least
    return out


def high_tradeoff(F: Any, *, epsilon: float = 0.125, normalize: bool = True) -> np.ndarray:
    """Indices `(k,)` (ascending, possibly empty) of the high trade-off (knee) rows of `F`.

    These are the rows whose `trade_offs` (same `epsilon` and `normalize`) lie at least two
    standard deviations above the mean of the finite trade-offs; when none does, the row of
    the largest trade-off if it lies more than one standard deviation above; otherwise none
    (a front without knees). Trade-offs within a relative 1e-9 of one another count as equal,
    so that rounding gives a straight line no knee. Otherwise, with `normalize=False`, this is
    pymoo's `HighTradeoffPoints()(F)` (which returns None where this returns an empty array).
    """
    return knees_of(trade_offs(F, epsilon=epsilon, normalize=normalize))


def knees_of(mu: np.ndarray) -> np.ndarray:
    """`high_tradeoff`'s rows `(k,)`, given the front's `trade_offs` `mu` `(n,)`."""
    rows = np.flatnonzero(np.isfinite(mu))
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    mean, spread = mu[rows].mean(), np.std(mu[rows])
    if not spread > 1e-9 * abs(mean):
        return np.zeros(0, dtype=np.int64)
    deviation = (mu[rows] - mean) / spread
    knees = rows[deviation >= 2]
    if len(knees) == 0 and deviation.max() > 1:
        knees = rows[[np.argmax(deviation)]]
    return knees.astype(np.int64)


def compromise(F: Any, weights: Any = None, *, p: float = 2.0, rho: float = 0.0) -> int:
    """The row of `F` `(n, m)` nearest to the ideal point by a weighted L_p distance.

    On the front normalised to [0, 1] per objective (ideal 0, nadir 1), row i scores
    `(sum_j (w_j F_ij)^p)^(1/p) + rho * sum_j F_ij`, with `weights` `(m,)` (equal by
    default; scaled to sum to 1) and `p` in [1, inf]: 1 is the weighted sum, 2 the weighted
    Euclidean distance, `math.inf` the weighted Tchebycheff distance `max_j w_j F_ij`, and
    with a small `rho > 0` (e.g. 1e-4) the augmented Tchebycheff distance of Steuer & Choo
    (1983), which never prefers a weakly dominated row. Returns the lowest-scoring row (the
    first on ties).
    """
    F, rows = finite_front(F)
    m = F.shape[1]
    w = np.full(m, 1.0 / m) if weights is None else check_weights(weights, m)
    p = check_float("compromise: p", p, 1.0)
    rho = check_float("compromise: rho", rho, 0.0)
    G = normalized(F[rows])
    scaled = w * G
    if math.isinf(p):
        distance = scaled.max(axis=1)
    else:
        distance = np.sum(scaled**p, axis=1) ** (1.0 / p)
    return int(rows[np.argmin(distance + rho * G.sum(axis=1))])


def showcase(F: Any) -> dict[str, int]:
    """Rows of `F` `(n, m)` that show a front's range: `"best_j"`, the first row with the
    smallest value of objective j (1-based; finite rows only), and `"knee"`, the row of the
    largest trade-off among `high_tradeoff`'s, or the `compromise` row when the front has
    no knee. Rows may repeat under different labels."""
    F, rows = finite_front(F)
    chosen = {f"best_{j + 1}": int(rows[np.argmin(F[rows, j])]) for j in range(F.shape[1])}
    mu = trade_offs(F)
    knees = knees_of(mu)
    chosen["knee"] = int(knees[np.argmax(mu[knees])]) if len(knees) else compromise(F)
    return chosen


def pick_rule(how: str, n_obj: int) -> Callable[[Any], np.ndarray]:
    """The rule `how` names, for fronts of `n_obj` objectives, as a function from a front
    `(n, n_obj)` to indices `(k,)` of its chosen rows (see `pick`). ValueError, before any
    front is at hand, for a form `pick` does not know or weights of the wrong length."""
    name, _, values = str(how).partition("=")
    name = name.strip()
    if name == "knee" and not values:
        return high_tradeoff
    if name in ("weights", "compromise") and (values or name == "compromise"):
        weights = None
        if values:
            try:
                numbers = [float(value) for value in values.split(",")]
            except ValueError:
                raise ValueError(f"pick: weights must be numbers separated by commas, "
                                 f"got {values!r}") from None
            try:
                weights = check_weights(numbers, n_obj)
            except ValueError as error:
                raise ValueError(f"pick: {error}") from None
        if name == "weights":
            return lambda F: np.array([closest_to_weights(F, weights)])
        return lambda F: np.array([compromise(F, weights)])
    raise ValueError(f"pick: how must be {', '.join(PICKS)}, got {how!r}")


def pick(F: Any, how: str) -> np.ndarray:
    """Indices `(k,)` of the rows of the front `F` `(n, m)` chosen by `how`:

    - `"knee"`: the high trade-off rows (`high_tradeoff`; none when no row stands out);
    - `"weights=w1,...,wm"`: the row whose pseudo-weights are closest to these
      (`closest_to_weights`), e.g. `"weights=0.3,0.7"`;
    - `"compromise"` or `"compromise=w1,...,wm"`: the row nearest the ideal point in
      (weighted) Euclidean distance after normalisation (`compromise`).

    ValueError, naming the accepted forms, for anything else.
    """
    return pick_rule(how, np.shape(F)[-1])(F)
