"""What every algorithm shares: static configuration, bounds, and argument checks."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from evo.operators import binary_tournament, mate, uniform_sample
from evo.sorting import constraint_violation, effective_violation


class PopulationState(Protocol):
    """A state pytree that exposes the current population."""

    X: jax.Array  # (pop_size, n_var)
    F: jax.Array  # (pop_size, n_obj)


class Algorithm(Protocol):
    """Static configuration plus pure `init / ask / tell` over a state pytree."""

    pop_size: int
    n_obj: int

    def init(self, key: jax.Array) -> Any: ...

    def ask(self, state: Any) -> tuple[jax.Array, Any]: ...

    def tell(self, state: Any, F: jax.Array, G: jax.Array | None = None) -> Any: ...


def as_bounds(lb, ub) -> tuple[np.ndarray, np.ndarray]:
    """Validated float copies of box bounds `lb`, `ub` `(n_var,)`.

    Raises ValueError when they are not matching 1-D arrays of finite numbers with lb <= ub.
    """
    lb = np.asarray(lb, dtype=float)
    ub = np.asarray(ub, dtype=float)
    if lb.ndim != 1 or lb.shape != ub.shape or lb.size == 0:
        raise ValueError(
            f"lb and ub must be 1-D arrays of the same length, got shapes {lb.shape} and {ub.shape}"
        )
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
        raise ValueError("lb and ub must be finite")
    bad = np.flatnonzero(lb > ub)
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"lb > ub in {bad.size} variable(s), first at index {i}: lb={lb[i]} > ub={ub[i]}"
        )
    return lb, ub


def check_fitness(F: jax.Array, n: int, n_obj: int) -> None:
    """Raise ValueError unless `F` has shape `(n, n_obj)`; runs once at trace time under jit."""
    if F.shape != (n, n_obj):
        raise ValueError(
            f"fitness must have shape (n, n_obj) = ({n}, {n_obj}), got {tuple(F.shape)}"
        )


def violation_of(F: jax.Array, G: jax.Array | None) -> jax.Array:
    """Checked total constraint violation `(n,)` of constraint values `G` `(n, c)` (None:
    unconstrained); rows of `F` `(n, m)` holding NaN or inf count as infinitely infeasible."""
    if G is not None and (G.ndim != 2 or G.shape[0] != F.shape[0]):
        raise ValueError(
            f"constraint values must have shape (n, n_constr) with n = {F.shape[0]}, "
            f"got {tuple(G.shape)}"
        )
    violation = None if G is None else constraint_violation(G.astype(F.dtype))
    return effective_violation(F, violation)


def initial_population(
    key: jax.Array, lb: np.ndarray, ub: np.ndarray, pop_size: int, n_obj: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A uniform sample `X` `(pop_size, n_var)` of the box, with objectives `F`
    `(pop_size, n_obj)` and violations `(pop_size,)` all +inf until it is evaluated."""
    X = uniform_sample(key, jnp.asarray(lb), jnp.asarray(ub), pop_size)
    return (
        X,
        jnp.full((pop_size, n_obj), jnp.inf, X.dtype),
        jnp.full(pop_size, jnp.inf, X.dtype),
    )


def offspring_count(pop_size: int) -> int:
    """SBX makes children in pairs: the even number of children needed for `pop_size`."""
    return pop_size + pop_size % 2


def tournament_offspring(
    algorithm: Any, state: Any, primary: jax.Array, secondary: jax.Array
) -> tuple[jax.Array, Any]:
    """A genetic algorithm's `ask`: `pop_size` offspring `(pop_size, n_var)` and the state.

    Parents win binary tournaments on smaller `primary`, then larger `secondary` (both
    `(pop_size,)`); children come from SBX and polynomial mutation with the algorithm's
    `sbx_eta`, `sbx_prob` and `mutation_eta` inside its bounds. Before the first tell the
    offspring are the initial population itself. `state` holds `key`, `X`, `generation`
    and `offspring`.
    """
    key, select_key, mate_key = jax.random.split(state.key, 3)
    n = offspring_count(algorithm.pop_size)
    parents = binary_tournament(select_key, primary, secondary, n)
    children = mate(
        mate_key, state.X, parents, jnp.asarray(algorithm.lb), jnp.asarray(algorithm.ub),
        algorithm.sbx_eta, algorithm.sbx_prob, algorithm.mutation_eta,
    )[: algorithm.pop_size]
    offspring = jnp.where(state.generation == 0, state.X, children)
    return offspring, state._replace(key=key, offspring=offspring)


def merge_offspring(
    state: Any, F: jax.Array, G: jax.Array | None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Population and offspring together, for survival: `X` `(2N, n_var)`, `F` `(2N, m)` and
    violation `(2N,)`. `state` holds the population (`X`, `F`, `violation`) and the last
    `offspring` `(N, n_var)`; `F` `(N, m)` and optional `G` `(N, c)` are the offspring's."""
    check_fitness(F, *state.F.shape)
    F = F.astype(state.F.dtype)
    return (
        jnp.concatenate([state.X, state.offspring]),
        jnp.concatenate([state.F, F]),
        jnp.concatenate([state.violation, violation_of(F, G)]),
    )


def check_config(name: str, pop_size: int, n_obj: int) -> None:
    for field, value, low in (("pop_size", pop_size, 2), ("n_obj", n_obj, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}: {field} must be an integer >= {low}, got {value!r}")


def frozen_setattr(obj: Any, **fields: Any) -> None:
    """Set fields of a frozen dataclass during `__post_init__`."""
    for name, value in fields.items():
        object.__setattr__(obj, name, value)


static_config = dataclasses.dataclass(frozen=True, eq=False)
"""Decorator for algorithm classes: immutable, hashed by identity (safe as a jit static)."""
