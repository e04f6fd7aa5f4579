"""The precision rule every indicator follows: float64 on host arrays, the input's own
dtype inside a trace.

A metric called on concrete arrays (NumPy, or JAX arrays outside `jit`, `vmap` and `grad`)
reports a number for a table or a paper, so it is computed in float64 whether or not
`jax_enable_x64` is set, and returned as NumPy float64. Inside a trace (the run loop's
history, a user's jitted step, a gradient) it follows the input dtype, so that it costs
what the rest of the program costs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import numpy as np

Metric = TypeVar("Metric", bound=Callable[..., Any])


def _traced(value: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value))


def _as_float64(value: Any) -> Any:
    """Floating arrays and lists of numbers as NumPy float64; anything else (a random key,
    None, an integer setting, an integer array) unchanged."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, jax.Array) and not jax.dtypes.issubdtype(value.dtype, np.floating):
        return value
    array = np.asarray(value)
    return array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else value


def float64_on_host(metric: Metric) -> Metric:
    """`metric` computed in float64 with NumPy float64 results when none of its arguments
    is traced; unchanged inside a trace. Floating arguments are cast; keys, integers and
    Python settings pass through."""

    @functools.wraps(metric)
    def on_host_or_traced(*args: Any, **kwargs: Any) -> Any:
        if _traced((args, kwargs)):
            return metric(*args, **kwargs)
        args = tuple(_as_float64(value) for value in args)
        kwargs = {name: _as_float64(value) for name, value in kwargs.items()}
        with jax.enable_x64(True):
            result = metric(*args, **kwargs)
            return jax.tree.map(lambda leaf: np.asarray(leaf, np.float64)[()], result)

    return on_host_or_traced  # type: ignore[return-value]
