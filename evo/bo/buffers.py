"""Proposals compiled for observation buffers sized to the observations held.

A `BayesOpt` proposal costs what its buffer costs (the GP's Cholesky factors are cubic in
the slots), so on the host the observations are packed into the smallest power of two
that holds them (at least `MIN_CAPACITY` and the design, at most the optimizer's
`capacity`; `buffer_capacity`) and the proposal is compiled for that size: each size
once per process, shared by every `Experiment` and every `BayesOpt.ask` called outside
a trace. `compiling_ask` compiles one ahead of time on a background thread, so that a
caller can start the next size's compilation before it is needed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.bo.gp import GPParams

MIN_CAPACITY = 16
"""The smallest buffer compiled: below it an iteration costs its fixed overhead, and each
smaller size would only add a compilation."""
PRECOMPILE_AT = 0.75
"""The fraction of a buffer's slots the observations fill when the next size starts
compiling in the background."""
PROPOSAL_COMPILER_OPTIONS = {"xla_backend_optimization_level": 2}
"""XLA options under any a caller gives. XLA's CPU default is level 3; at 2 a proposal
(d = 6, 100 slots) compiled in 2.2 s instead of 2.6 (one objective) and 3.8 s instead of
4.3 (two)."""


class Buffer(NamedTuple):
    """Observations padded to a proposal's capacity; empty slots as `BayesOpt.init`'s."""

    X: np.ndarray  # (capacity, n_var)
    F: np.ndarray  # (capacity, n_obj), +inf in empty slots
    G: np.ndarray  # (capacity, n_constr)
    violation: np.ndarray  # (capacity,) inf in empty slots and non-finite rows
    filled: np.ndarray  # (capacity,) bool


def next_power_of_two(n: int) -> int:
    """The smallest power of two `>= n` (1 for `n <= 1`)."""
    return 1 << max(n - 1, 0).bit_length()


def buffer_capacity(optimizer: Any, n_observed: int) -> int:
    """Slots of the buffer that holds `n_observed` observations of `optimizer` (a
    `BayesOpt`): a power of two, at least `MIN_CAPACITY` and the design, at most its
    `capacity`."""
    needed = max(n_observed, optimizer.n_design, MIN_CAPACITY)
    return min(next_power_of_two(needed), optimizer.capacity)


def size_to_compile_next(optimizer: Any, n_observed: int, capacity: int) -> int | None:
    """The larger buffer to compile ahead once `n_observed` observations fill
    `PRECOMPILE_AT` of a proposal's `capacity` slots, or None (not yet, or `capacity` is
    already the optimizer's)."""
    larger = buffer_capacity(optimizer, 2 * capacity)
    if n_observed >= PRECOMPILE_AT * capacity and larger > capacity:
        return larger
    return None


def padded_buffer(X: np.ndarray, F: np.ndarray, G: np.ndarray, violation: np.ndarray,
                  capacity: int) -> Buffer:
    """The observations `X` `(n, n_var)`, `F` `(n, n_obj)`, `G` `(n, n_constr)` and
    `violation` `(n,)` in the first of `capacity >= n` slots, in JAX's default float."""
    dtype = jnp.result_type(float)
    n = len(X)

    def padded(rows: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((capacity, *rows.shape[1:]), fill, dtype)
        out[:n] = rows
        return out

    return Buffer(X=padded(X, 0.0), F=padded(F, np.inf), G=padded(G, 0.0),
                  violation=padded(violation, np.inf), filled=np.arange(capacity) < n)


@functools.lru_cache(maxsize=32)
def compiled_ask(
    optimizer: Any, capacity: int, compiler_options: tuple[tuple[str, Any], ...] = ()
) -> Callable[..., tuple[jax.Array, jax.Array, GPParams]]:
    """`optimizer.ask_with_pending` at `capacity` observation slots, past the design,
    jitted: `(key, params, design (n_design, n_var), Buffer, X_pending (p, n_var),
    pending_mask (p,))` to the proposal `(q, n_var)`, the next key and the fitted
    parameters."""
    sized = dataclasses.replace(optimizer, capacity=capacity)
    design_rounds = sized.n_design // sized.q

    def ask(key, params, design, buffer: Buffer, X_pending, pending_mask):
        full = sized.init(key).replace(
            key=key, params=params, design=design, generation=jnp.int32(design_rounds),
            **buffer._asdict(),
        )
        X, full = sized.ask_with_pending(full, X_pending, pending_mask)
        return X, full.key, full.params

    return jax.jit(ask, compiler_options={**PROPOSAL_COMPILER_OPTIONS, **dict(compiler_options)})


_COMPILER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evo-bo-compile")


@functools.lru_cache(maxsize=64)
def compiling_ask(
    optimizer: Any, capacity: int, n_pending: int, key_dtype: Any, dtype: Any,
    compiler_options: tuple[tuple[str, Any], ...] = (),
) -> Future:
    """`compiled_ask(optimizer, capacity, compiler_options)` compiled ahead of time on a
    background thread for `n_pending` pending rows, PRNG keys of `key_dtype` and
    floating point `dtype`: a future of the executable, which takes the arguments of the
    jitted function. Its first call submits it; later ones return the same future."""
    n_var, k = optimizer.n_var, optimizer.n_models

    def shaped(*shape, dtype=dtype):
        return jax.ShapeDtypeStruct(shape, dtype)

    arguments = (
        shaped(dtype=key_dtype),
        GPParams(shaped(k, n_var), shaped(k), shaped(k)),
        shaped(optimizer.n_design, n_var),
        Buffer(X=shaped(capacity, n_var), F=shaped(capacity, optimizer.n_obj),
               G=shaped(capacity, optimizer.n_constr), violation=shaped(capacity),
               filled=shaped(capacity, dtype=bool)),
        shaped(n_pending, n_var),
        shaped(n_pending, dtype=bool),
    )
    ask = compiled_ask(optimizer, capacity, compiler_options)
    return _COMPILER.submit(lambda: ask.lower(*arguments).compile())


def wait_for_compilations() -> None:
    """Return once every compilation submitted so far has finished."""
    _COMPILER.submit(lambda: None).result()
