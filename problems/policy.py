"""A small MLP policy whose weights are one flat vector, and running observation statistics.

The policy is what turns a decision vector of `evo.problems.robot` into actions: each
individual of a population is the flat weight vector of one `MLPPolicy`. Observations are
normalised by statistics (`ObsStats`) pooled over every rollout so far.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

# Floor of the observation standard deviation used for normalisation: a coordinate that has
# barely moved so far is not blown up into noise.
_MIN_STD = 1e-2


@dataclasses.dataclass(frozen=True)
class MLPPolicy:
    """A fully connected tanh network from observations to actions in `[-1, 1]`.

    Layer `i` computes `tanh(x @ W_i / sqrt(fan_in) + b_i)`; the `1 / sqrt(fan_in)` scale
    lets weights drawn uniformly from a fixed box such as `[-1, 1]` start as a reasonably
    scaled network, whatever the layer widths. The flat parameter vector holds, layer
    after layer, `W_i` `(fan_in, fan_out)` row-major and then `b_i` `(fan_out,)`.

    Attributes:
        obs_size: length of an observation.
        action_size: length of an action.
        hidden: widths of the hidden layers.
    """

    obs_size: int
    action_size: int
    hidden: tuple[int, ...] = (16,)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.obs_size, *self.hidden, self.action_size)

    @property
    def n_params(self) -> int:
        return sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(self.layer_sizes))

    def __call__(self, params: jax.Array, obs: jax.Array) -> jax.Array:
        """Action `(action_size,)` of the network with flat weights `params` `(n_params,)`
        for one (normalised) observation `obs` `(obs_size,)`."""
        x, offset = obs, 0
        for n_in, n_out in itertools.pairwise(self.layer_sizes):
            W = params[offset : offset + n_in * n_out].reshape(n_in, n_out)
            offset += n_in * n_out
            b = params[offset : offset + n_out]
            offset += n_out
            x = jnp.tanh(x @ W / math.sqrt(n_in) + b)
        return x


class ObsStats(NamedTuple):
    """Count, mean and sum of squared deviations (Welford's M2) of a set of observations.

    Fields may carry leading batch axes, e.g. one set per episode `(..., obs_size)`.
    """

    count: jax.Array  # (...) number of observations
    mean: jax.Array  # (..., obs_size)
    m2: jax.Array  # (..., obs_size) sum of squared deviations from `mean`

    @classmethod
    def empty(cls, obs_size: int, dtype=None) -> ObsStats:
        dtype = dtype or jnp.result_type(float)
        zeros = jnp.zeros(obs_size, dtype)
        return cls(jnp.zeros((), dtype), zeros, zeros)


def add_observation(stats: ObsStats, obs: jax.Array, keep: jax.Array) -> ObsStats:
    """`stats` with `obs` `(obs_size,)` added (Welford's update) when the bool `keep` is
    true; unchanged, even by NaN in `obs`, when it is false."""
    obs = jnp.where(keep, obs, stats.mean)
    count = stats.count + keep
    delta = obs - stats.mean
    mean = stats.mean + delta / jnp.maximum(count, 1)
    return ObsStats(count, mean, stats.m2 + delta * (obs - mean))


def pool(stats: ObsStats) -> ObsStats:
    """One `ObsStats` for the union of the sets stacked along the first axis of `stats`
    (the pairwise merge of Chan, Golub & LeVeque, done for all sets at once)."""
    count = jnp.sum(stats.count)
    weights = stats.count / jnp.maximum(count, 1)
    mean = jnp.sum(weights[:, None] * stats.mean, axis=0)
    spread = jnp.sum(stats.count[:, None] * (stats.mean - mean) ** 2, axis=0)
    return ObsStats(count, mean, jnp.sum(stats.m2, axis=0) + spread)


def merge(a: ObsStats, b: ObsStats) -> ObsStats:
    """Statistics of the union of the sets `a` and `b` describe."""
    return pool(jax.tree.map(lambda x, y: jnp.stack([x, y]), a, b))


def normalize(stats: ObsStats, obs: jax.Array) -> jax.Array:
    """`obs` `(..., obs_size)` centred and scaled by `stats`; unchanged while `stats` is empty."""
    var = stats.m2 / jnp.maximum(stats.count, 1)
    std = jnp.where(stats.count > 0, jnp.maximum(jnp.sqrt(var), _MIN_STD), 1.0)
    return (obs - stats.mean) / std
