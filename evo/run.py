"""The one workflow: compile a generation, scan it in chunks, collect a Result."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import Algorithm
from evo.problems.base import Problem
from evo.progress import ProgressBar
from evo.sorting import effective_violation, non_dominated_rank
from evo.metrics.indicators import igd


class Result(NamedTuple):
    """What `run` returns; arrays are NumPy.

    Attributes:
        X, F: final population `(pop_size, n_var)` and its objectives `(pop_size, n_obj)`.
        pareto_X, pareto_F: the non-dominated rows of the final population that are feasible
            and have finite objectives, duplicates removed.
        history: per-generation records, each an array with a leading `(n_gen,)` axis:
            `n_evals` (cumulative evaluations: the state's own `n_evals` where it keeps one,
            else rows asked per generation), `f_min` and `f_mean` `(n_gen, n_obj)` over the
            population's feasible finite rows, `feasible` (their fraction) for constrained
            problems, and `igd` (of those rows) when the problem knows its front.
        state: the final algorithm state, to continue with `ask` / `tell`.
    """

    X: np.ndarray
    F: np.ndarray
    pareto_X: np.ndarray
    pareto_F: np.ndarray
    history: dict[str, np.ndarray]
    state: Any


def population_stats(
    F: jax.Array, violation: jax.Array | None, front: jax.Array | None
) -> dict[str, jax.Array]:
    """Per-objective min and mean over the feasible finite rows of `F` `(n, m)`, their
    fraction when there are constraints (`violation` `(n,)` not None), and IGD to `front`."""
    usable = effective_violation(F, violation) == 0
    n_usable = jnp.maximum(jnp.sum(usable), 1)
    stats = {
        "f_min": jnp.min(jnp.where(usable[:, None], F, jnp.inf), axis=0),
        "f_mean": jnp.sum(jnp.where(usable[:, None], F, 0.0), axis=0) / n_usable,
    }
    if violation is not None:
        stats["feasible"] = jnp.mean(usable)
    if front is not None:
        stats["igd"] = igd(jnp.where(usable[:, None], F, jnp.nan), front)
    return stats


@functools.lru_cache(maxsize=64)
def compiled_chunk(algorithm: Algorithm, problem: Problem, chunk_size: int, with_front: bool):
    """A jitted function running `chunk_size` generations from generation `start`.

    Generations at or past `n_gen` are skipped, so one compilation serves every chunk
    and every run length. Cached per (algorithm, problem, chunk_size, with_front).
    """
    constrained = problem.n_constr > 0

    def generation(state, front):
        X, state = algorithm.ask(state)
        if constrained:
            state = algorithm.tell(state, *problem.evaluate_constrained(X))
        else:
            state = algorithm.tell(state, problem.evaluate(X))
        violation = state.violation if constrained else None
        records = population_stats(state.F, violation, front if with_front else None)
        if hasattr(state, "n_evals"):  # an algorithm that asks more rows than it uses
            records["n_evals"] = state.n_evals
        return state, records

    @jax.jit
    def run_chunk(state, start, n_gen, front):
        def body(state, g):
            def skip(state, front):
                return state, jax.tree.map(jnp.zeros_like, records_shape)

            return jax.lax.cond(g < n_gen, generation, skip, state, front)

        records_shape = jax.eval_shape(generation, state, front)[1]
        return jax.lax.scan(body, state, start + jnp.arange(chunk_size))

    return run_chunk


def check_compatible(algorithm: Algorithm, problem: Problem) -> None:
    if algorithm.n_obj != problem.n_obj:
        raise ValueError(
            f"algorithm has n_obj={algorithm.n_obj} but the problem has n_obj={problem.n_obj}"
        )
    lb = getattr(algorithm, "lb", None)
    if lb is not None and lb.shape != (problem.n_var,):
        raise ValueError(
            f"algorithm bounds have {lb.shape[0]} variables but the problem has {problem.n_var}"
        )


def run(
    algorithm: Algorithm,
    problem: Problem,
    key: jax.Array,
    n_gen: int,
    *,
    chunk_size: int = 10,
    progress: bool = True,
    front_size: int = 1000,
) -> Result:
    """Run `algorithm` on `problem` for `n_gen` generations (one `ask` + `tell` each).

    The generation is jit-compiled once and scanned `chunk_size` generations at a time;
    between chunks the progress bar is drawn. The same key gives the same result, bit for
    bit, whatever the chunk size. IGD is recorded against `problem.pareto_front(front_size)`
    when the problem knows its front.
    """
    check_compatible(algorithm, problem)
    if not isinstance(n_gen, (int, np.integer)) or n_gen < 1:
        raise ValueError(f"n_gen must be a positive integer, got {n_gen!r}")
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    front = problem.pareto_front(front_size)
    run_chunk = compiled_chunk(algorithm, problem, int(chunk_size), front is not None)
    front = None if front is None else jnp.asarray(front, dtype=jnp.result_type(float))

    state = algorithm.init(key)
    evals_per_gen = jax.eval_shape(algorithm.ask, state)[0].shape[0]
    bar = ProgressBar(n_gen) if progress else None
    chunks = []
    for start in range(0, n_gen, chunk_size):
        state, records = run_chunk(state, start, n_gen, front)
        chunks.append(jax.device_get(records))
        if bar is not None:
            done = min(start + chunk_size, n_gen)
            last = done - start - 1
            bar.update(done, **({"igd": chunks[-1]["igd"][last]} if "igd" in records else {}))

    history = {name: np.concatenate([c[name] for c in chunks])[:n_gen] for name in chunks[0]}
    history.setdefault("n_evals", np.arange(1, n_gen + 1) * evals_per_gen)
    return make_result(state, history)


@jax.jit
def pareto_mask(F: jax.Array, violation: jax.Array) -> jax.Array:
    """Rows of `F` `(n, m)` that are feasible, finite and non-dominated. `(n,)` bool."""
    feasible = effective_violation(F, violation) == 0
    return (non_dominated_rank(F, n_stop=1, violation=violation) == 0) & feasible


def make_result(state: Any, history: dict[str, np.ndarray]) -> Result:
    X, F = np.asarray(state.X), np.asarray(state.F)
    violation = getattr(state, "violation", jnp.zeros(F.shape[0], state.F.dtype))
    mask = np.asarray(pareto_mask(state.F, violation))
    _, unique = np.unique(F[mask], axis=0, return_index=True)
    keep = np.flatnonzero(mask)[np.sort(unique)]
    return Result(X=X, F=F, pareto_X=X[keep], pareto_F=F[keep], history=history, state=state)
