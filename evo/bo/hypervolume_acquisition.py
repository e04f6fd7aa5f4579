"""Hypervolume-improvement acquisitions for several objectives (minimisation).

The region a front does not dominate is cut into boxes (`evo.bo.box_decomposition`: exact
for 2 and 3 objectives, sampled beyond); the hypervolume improvement of q points is then a
sum over boxes of the volume the points dominate in each, by inclusion-exclusion over the
2^q - 1 subsets of the points (Daulton, Balandat & Bakshy 2020, "Differentiable Expected
Hypervolume Improvement for Parallel Multi-Objective Bayesian Optimization", eq. 3).

qNEHVI (Daulton, Balandat & Bakshy 2021, "Parallel Bayesian Optimization of Multiple Noisy
Objectives with Expected Hypervolume Improvement", eq. 4) averages that improvement over
joint posterior samples of the objectives at the baseline (observed and pending) points and
the candidates: each sample has its own front, hence its own boxes, fixed while the
candidates move (`noisy_front`). Constraints are modelled alongside: in each sample, a
baseline point is on the front only where its sampled constraints hold, and a candidate's
improvement is weighted by a sigmoid of its sampled constraint values (Daulton et al. 2021,
appendix; BoTorch's constrained qNEHVI). The log form smooths max and relu (softplus, logsumexp)
and sums in log space, after Ament et al. 2023, "Unexpected Improvements to Expected
Improvement for Bayesian Optimization" (qLogNEHVI, section 4.2).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp, ndtr

from evo.bo.acquisition import log1mexp, safe_cholesky
from evo.bo.box_decomposition import Boxes, box_decomposition
from evo.bo.gp import GPPosterior, gp_joint, gp_joint_with, jitter_for
from evo.bo.linalg import solve_lower
from evo.sorting import pareto_dominance

TAU_RELU = 1e-6
TAU_MAX = 1e-3
ETA = 1e-3  # temperature of the feasibility sigmoid, standardised constraint units


class NoisyFront(NamedTuple):
    """What qNEHVI keeps fixed while the candidates move, for `m` objectives and `c`
    constraints (`k = m + c` outputs), `b` baseline points and `s` samples."""

    points: jax.Array  # (b, d) baseline points (unit cube)
    mask: jax.Array  # (b,) bool, baseline points that count
    chol: jax.Array  # (k, b, b) Cholesky factors of their posterior covariances
    z: jax.Array  # (s, k, b) the standard normal draws behind the samples
    boxes: Boxes  # (s, n_boxes, m) each sample's decomposition


def _subsets(q: int) -> tuple[jax.Array, jax.Array]:
    """The non-empty subsets of q points as a membership matrix `(2^q - 1, q)` and the
    inclusion-exclusion sign of each `(2^q - 1,)`."""
    rows = [r for r in itertools.product((False, True), repeat=q) if any(r)]
    member = jnp.array(rows, bool)
    return member, jnp.where(jnp.sum(member, 1) % 2 == 1, 1.0, -1.0)


def hypervolume_improvement(boxes: Boxes, Y: jax.Array) -> jax.Array:
    """Exact hypervolume the points `Y` `(q, m)` add to the front whose non-dominated region
    `boxes` `(k, m)` cut (inclusion-exclusion over subsets of the points)."""
    member, sign = _subsets(Y.shape[0])
    corner = jnp.max(jnp.where(member[:, :, None], Y, -jnp.inf), 1)  # (subsets, m)
    lower = jnp.maximum(boxes.lower, corner[:, None])
    volumes = jnp.prod(jnp.maximum(boxes.upper - lower, 0.0), -1) * jnp.exp(boxes.log_weight)
    return jnp.dot(sign, jnp.sum(volumes, 1))


def _log_softplus(x: jax.Array, tau: float) -> jax.Array:
    """log(tau softplus(x / tau)), exact down to any negative x."""
    t = x / tau
    far = t < -20.0
    return jnp.where(far, t, jnp.log(jax.nn.softplus(jnp.where(far, 0.0, t)))) + math.log(tau)


def log_hypervolume_improvement(
    boxes: Boxes,
    Y: jax.Array,
    log_weights: jax.Array | None = None,
    tau_relu: float = TAU_RELU,
    tau_max: float = TAU_MAX,
) -> jax.Array:
    """Smooth log of `hypervolume_improvement`: softplus for relu (temperature `tau_relu`),
    logsumexp for max (`tau_max`), log-space sums; finite and with useful gradients where
    the improvement is vanishingly small (Ament et al. 2023). With `log_weights` `(q,)`,
    the volume of each subset of the points counts times the product of their weights."""
    member, sign = _subsets(Y.shape[0])
    q, m = Y.shape
    k = boxes.lower.shape[0]
    y = jnp.where(member[:, None, :, None], Y[None, None] / tau_max, -jnp.inf)
    lows = jnp.broadcast_to(boxes.lower[None, :, None] / tau_max, (len(sign), k, 1, m))
    corner = tau_max * logsumexp(jnp.concatenate([lows, jnp.broadcast_to(
        y, (len(sign), k, q, m))], 2), 2)  # (subsets, k, m)
    log_vol = jnp.sum(_log_softplus(boxes.upper - corner, tau_relu), -1) + boxes.log_weight
    nonempty = jnp.all(boxes.upper > boxes.lower, -1)
    per_subset = logsumexp(jnp.where(nonempty, log_vol, -jnp.inf), 1)
    if log_weights is not None:
        per_subset = per_subset + jnp.where(member, log_weights, 0.0).sum(1)
    added = logsumexp(jnp.where(sign > 0, per_subset, -jnp.inf))
    if q == 1:
        return added
    removed = logsumexp(jnp.where(sign < 0, per_subset, -jnp.inf))
    return added + log1mexp(removed - added)


def _box_expectation(lower, upper, mu, sigma):
    """E[(u - max(l, y))+] for y ~ N(mu, sigma^2), elementwise (l may be -inf)."""

    def below(t):  # E[(u - y) 1{y <= t}]
        a = (t - mu) / sigma
        density = jnp.exp(-0.5 * a**2) / math.sqrt(2.0 * math.pi)
        return (upper - mu) * ndtr(a) + sigma * density

    flat = jnp.where(jnp.isfinite(lower), (upper - lower) * ndtr((lower - mu) / sigma), 0.0)
    return flat + below(upper) - below(lower)


def expected_hypervolume_improvement(
    boxes: Boxes, mu: jax.Array, sigma: jax.Array
) -> jax.Array:
    """Analytic EHVI of one point with independent Gaussian objectives, mean `mu` `(m,)` and
    standard deviation `sigma` `(m,)`, over a known front's boxes `(k, m)`: in each box the
    improvement is a product of one factor per objective, so its expectation is too (the
    box-wise form of Yang et al. 2019, "Efficient computation of expected hypervolume
    improvement using box decomposition algorithms")."""
    box_wise = jnp.prod(_box_expectation(boxes.lower, boxes.upper, mu, sigma), -1)
    return jnp.sum(box_wise * jnp.exp(boxes.log_weight))


def noisy_front(
    kernel: str,
    posts: GPPosterior,
    points: jax.Array,
    mask: jax.Array,
    ref: jax.Array,
    thresholds: jax.Array,
    z: jax.Array,
) -> NoisyFront:
    """Joint posterior samples of the `m` objectives and `c` constraints (GPs `posts`,
    batched `(m + c,)`) at the baseline `points` `(b, d)` (rows where `mask` `(b,)`), from
    standard normal draws `z` `(s, m + c, b)`, and each sample's box decomposition below
    `ref` `(m,)` of the points whose constraint samples lie below `thresholds` `(c,)`."""
    mean, cov = jax.vmap(gp_joint, in_axes=(None, 0, None))(kernel, posts, points)
    pair = mask[:, None] & mask[None, :]
    cov = jnp.where(pair, cov, jnp.eye(points.shape[0], dtype=cov.dtype))
    L = safe_cholesky(cov, jitter_for(cov.dtype) * jnp.exp(posts.params.log_sf2))
    samples = jnp.swapaxes(mean + jnp.einsum("kij,skj->ski", L, z), 1, 2)
    m = ref.shape[0]
    counted = mask & jnp.all(samples[..., m:] <= thresholds, -1)
    boxes = jax.vmap(box_decomposition, in_axes=(0, 0, None))(samples[..., :m], counted, ref)
    return NoisyFront(points, mask, L, z, boxes)


def candidate_samples(
    kernel: str, posts: GPPosterior, front: NoisyFront, X: jax.Array, z: jax.Array
) -> jax.Array:
    """Samples `(s, q, k)` of the outputs at `X` `(q, d)`, joint with the front's baseline
    samples: with the joint Cholesky factor's baseline block fixed, the candidates add
    `L_xb z_b + L_xx z` for standard normal draws `z` `(s, k, q)`."""
    mean, cov, cross = jax.vmap(gp_joint_with, in_axes=(None, 0, None, None))(
        kernel, posts, X, front.points
    )
    cross = cross * front.mask
    A = solve_lower(front.chol, jnp.swapaxes(cross, 1, 2))
    rest = cov - jnp.swapaxes(A, 1, 2) @ A
    L = safe_cholesky(rest, jitter_for(cov.dtype) * jnp.exp(posts.params.log_sf2))
    f = (
        mean
        + jnp.einsum("kbq,skb->skq", A, front.z)
        + jnp.einsum("kqr,skr->skq", L, z)
    )
    return jnp.swapaxes(f, 1, 2)


def log_nehvi(
    kernel: str,
    posts: GPPosterior,
    front: NoisyFront,
    X: jax.Array,
    thresholds: jax.Array,
    z: jax.Array,
) -> jax.Array:
    """qLogNEHVI of the batch `X` `(q, d)`: log of the sample mean, over the front's
    samples, of the feasibility-weighted hypervolume the batch adds (`z` `(s, k, q)` fixed
    normal draws; constraints, the outputs past the objectives, hold below `thresholds`)."""
    Y = candidate_samples(kernel, posts, front, X, z)
    m = front.boxes.lower.shape[-1]
    log_feasible = jnp.sum(jax.nn.log_sigmoid((thresholds - Y[..., m:]) / ETA), -1)
    log_hvi = jax.vmap(log_hypervolume_improvement)(front.boxes, Y[..., :m], log_feasible)
    return logsumexp(log_hvi) - math.log(Y.shape[0])


def reference_point(F: jax.Array, mask: jax.Array) -> jax.Array:
    """A reference point `(m,)` for the rows of `F` `(n, m)` where `mask`: the nadir of
    their non-dominated rows plus a tenth of the front's extent (one unit where the
    extent is 0), in the manner of BoTorch's `infer_reference_point`."""
    F = jnp.where(mask[:, None], F, jnp.inf)
    front = mask & ~jnp.any(pareto_dominance(F, F), 0)
    nadir = jnp.max(jnp.where(front[:, None], F, -jnp.inf), 0)
    ideal = jnp.min(F, 0)
    span = nadir - ideal
    return nadir + 0.1 * jnp.where(span > 0, span, 10.0)
