"""The one workflow: compile a generation, scan it in chunks, collect a Result."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import Algorithm, Population
from evo.checkpoint import describe, load_checkpoint, save_checkpoint
from evo.checks import check_int
from evo.metrics.hypervolume import hypervolume
from evo.metrics.indicators import igd
from evo.problems.base import Problem
from evo.progress import ProgressBar
from evo.sorting import effective_violation, non_dominated_rank


class Result(NamedTuple):
    """What `run` returns; arrays are NumPy.

    Attributes:
        X, F: the final population `(n, n_var)` and its objectives `(n, n_obj)`: the rows
            the algorithm holds (`Algorithm.population`), never empty buffer slots.
        violation: their total constraint violation `(n,)`: 0 when feasible, inf for rows
            with non-finite objectives.
        pareto_X, pareto_F: the non-dominated rows of the final population that are feasible
            and have finite objectives, duplicates removed.
        history: per-generation records, each an array with a leading `(n_gen,)` axis:
            `n_evals` (cumulative evaluations, `Algorithm.n_evals`), `f_min` and `f_mean`
            `(n_gen, n_obj)` over the population's feasible finite rows, `feasible` (their
            fraction) for constrained problems, `igd` (of those rows) when the problem knows
            its front, and `hv` (their hypervolume) when `run` was given a reference point.
        state: the final algorithm state, to continue with `ask` / `tell`.
        problem_state: the final state of a stateful problem (`Problem.init_state`), else None.
    """

    X: np.ndarray
    F: np.ndarray
    violation: np.ndarray
    pareto_X: np.ndarray
    pareto_F: np.ndarray
    history: dict[str, np.ndarray]
    state: Any
    problem_state: Any = None


def population_stats(
    population: Population,
    constrained: bool,
    front: jax.Array | None,
    ref_point: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Per-objective min and mean over the held, feasible, finite rows of `population`,
    their fraction of the held rows when `constrained`, their IGD to `front` `(k, m)` and
    hypervolume up to `ref_point` `(m,)`."""
    F = population.F
    usable = population.held & (effective_violation(F, population.violation) == 0)
    n_usable = jnp.maximum(jnp.sum(usable), 1)
    stats = {
        "f_min": jnp.min(jnp.where(usable[:, None], F, jnp.inf), axis=0),
        "f_mean": jnp.sum(jnp.where(usable[:, None], F, 0.0), axis=0) / n_usable,
    }
    if constrained:
        stats["feasible"] = jnp.sum(usable) / jnp.maximum(jnp.sum(population.held), 1)
    if front is not None:
        stats["igd"] = igd(jnp.where(usable[:, None], F, jnp.nan), front)
    if ref_point is not None:
        stats["hv"] = hypervolume(jnp.where(usable[:, None], F, jnp.nan), ref_point)
    return stats


@functools.lru_cache(maxsize=64)
def compiled_chunk(
    algorithm: Algorithm, problem: Problem, chunk_size: int, with_front: bool,
    with_ref: bool = False,
):
    """A jitted function running `chunk_size` generations from generation `start`.

    It scans the pair (algorithm state, problem state). Generations at or past `n_gen`
    are skipped, so one compilation serves every chunk and every run length. Each
    generation records `population_stats` and `evaluated`, the evaluations it added
    (int32, exact even where the running count wraps). Cached per (algorithm, problem,
    chunk_size, with_front, with_ref).
    """
    constrained = problem.n_constr > 0

    def generation(states, front, ref_point):
        state, problem_state = states
        X, state = algorithm.ask(state)
        F, G, problem_state = problem.evaluate_constrained_with_state(problem_state, X)
        told = algorithm.tell(state, F, G if constrained else None)
        records = population_stats(algorithm.population(told), constrained,
                                   front if with_front else None, ref_point if with_ref else None)
        records["evaluated"] = algorithm.n_evals(told) - algorithm.n_evals(state)
        return (told, problem_state), records

    @jax.jit
    def run_chunk(states, start, n_gen, front, ref_point):
        def body(states, g):
            def skip(states, front, ref_point):
                return states, jax.tree.map(jnp.zeros_like, records_shape)

            return jax.lax.cond(g < n_gen, generation, skip, states, front, ref_point)

        records_shape = jax.eval_shape(generation, states, front, ref_point)[1]
        return jax.lax.scan(body, states, start + jnp.arange(chunk_size))

    return run_chunk


def check_compatible(algorithm: Algorithm, problem: Problem) -> None:
    """Raise ValueError unless `algorithm` can run on `problem`: the same numbers of
    objectives and variables, and constraints it can take."""
    if algorithm.n_obj != problem.n_obj:
        raise ValueError(
            f"algorithm has n_obj={algorithm.n_obj} but the problem has n_obj={problem.n_obj}"
        )
    if algorithm.n_var != problem.n_var:
        raise ValueError(
            f"algorithm bounds have {algorithm.n_var} variables but the problem has "
            f"{problem.n_var}"
        )
    algorithm.check_constraints(problem.n_constr)


def run(
    algorithm: Algorithm,
    problem: Problem,
    key: jax.Array,
    n_gen: int,
    *,
    chunk_size: int = 10,
    progress: bool = True,
    front_size: int = 1000,
    ref_point: jax.Array | np.ndarray | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 10,
) -> Result:
    """Run `algorithm` on `problem` for `n_gen` generations (one `ask` + `tell` each).

    The generation is jit-compiled once and scanned `chunk_size` generations at a time;
    between chunks the progress bar is drawn. The same key gives the same result, bit for
    bit, whatever the chunk size. IGD is recorded against `problem.pareto_front(front_size)`
    when the problem knows its front, and the population's hypervolume when `ref_point`
    `(n_obj,)` is given (2 or 3 objectives). The algorithm starts from `key`; a stateful
    problem from `problem.init_state(jax.random.fold_in(key, 1))`, and its state is
    carried across generations. Constraint values reach `tell` when `problem.n_constr > 0`;
    an algorithm that cannot take them raises ValueError before anything is compiled.

    With `checkpoint` (a file path), the states and the history so far are written there
    atomically (see `evo.checkpoint`) at the end of every chunk that completes a multiple
    of `checkpoint_every` generations, and at the end. When that file exists as `run`
    starts, the run resumes from it and ends with exactly the result of an uninterrupted
    run. A checkpoint written by another run (other settings, problem, function or key)
    raises `CheckpointError`, says what differs, and is left in place.
    """
    check_compatible(algorithm, problem)
    n_gen = check_int("n_gen", n_gen)
    chunk_size = check_int("chunk_size", chunk_size)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every)
    if ref_point is not None:
        ref_point = jnp.asarray(ref_point, dtype=jnp.result_type(float))
        if ref_point.shape != (problem.n_obj,) or not 2 <= problem.n_obj <= 3:
            raise ValueError(f"ref_point must have shape (n_obj,) with n_obj 2 or 3, got shape "
                             f"{ref_point.shape} for n_obj={problem.n_obj}")
    front = problem.pareto_front(front_size)
    run_chunk = compiled_chunk(
        algorithm, problem, chunk_size, front is not None, ref_point is not None
    )
    front = None if front is None else jnp.asarray(front, dtype=jnp.result_type(float))

    states = (algorithm.init(key), problem.init_state(jax.random.fold_in(key, 1)))
    chunks, first = [], 0
    if checkpoint is not None:
        identity = run_description(algorithm, problem, key, states, front_size, ref_point)
        if Path(checkpoint).exists():
            saved = load_checkpoint(checkpoint, states, identity)
            if saved.generation > n_gen:
                raise ValueError(
                    f"{checkpoint}: checkpoint is at generation {saved.generation}, past "
                    f"n_gen={n_gen}"
                )
            states, chunks, first = saved.state, [saved.history], saved.generation
    bar = ProgressBar(n_gen) if progress else None
    for start in range(first, n_gen, chunk_size):
        states, records = run_chunk(states, start, n_gen, front, ref_point)
        chunks.append(jax.device_get(records))
        done = min(start + chunk_size, n_gen)
        if bar is not None:
            last = done - start - 1
            bar.update(done, **{name: chunks[-1][name][last] for name in ("igd", "hv")
                                if name in records})
        if checkpoint is not None and (done // checkpoint_every > start // checkpoint_every
                                       or done == n_gen):
            save_checkpoint(checkpoint, states, joined(chunks, done), done, identity)

    history = joined(chunks, n_gen)
    history["n_evals"] = np.cumsum(history.pop("evaluated"), dtype=np.int64)
    return make_result(algorithm, *states, history)


def joined(chunks: list[dict[str, np.ndarray]], n_gen: int) -> dict[str, np.ndarray]:
    """The per-chunk history records concatenated and cut to the first `n_gen` generations."""
    return {name: np.concatenate([c[name] for c in chunks])[:n_gen] for name in chunks[0]}


def run_description(
    algorithm: Algorithm,
    problem: Problem,
    key: jax.Array,
    states: Any,
    front_size: int,
    ref_point: jax.Array | None,
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed (`evo.checkpoint.describe`): the
    algorithm's and the problem's settings, the key, the structure of the states and what
    the history records."""
    paths, _ = jax.tree_util.tree_flatten_with_path(states)
    return {
        "algorithm": describe(algorithm),
        "problem": describe(problem),
        "key": describe(key),
        "state": [
            f"{jax.tree_util.keystr(path)} {jnp.result_type(leaf)}{list(jnp.shape(leaf))}"
            for path, leaf in paths
        ],
        "history": {"front_size": front_size, "ref_point": describe(ref_point)},
    }


@jax.jit
def pareto_mask(F: jax.Array, violation: jax.Array) -> jax.Array:
    """Rows of `F` `(n, m)` that are feasible, finite and non-dominated. `(n,)` bool."""
    feasible = effective_violation(F, violation) == 0
    return (non_dominated_rank(F, n_stop=1, violation=violation) == 0) & feasible


def make_result(
    algorithm: Algorithm, state: Any, problem_state: Any, history: dict[str, np.ndarray]
) -> Result:
    """The `Result` of `state`: the rows it holds, and their feasible non-dominated subset."""
    population = jax.device_get(algorithm.population(state))
    held = np.asarray(population.held, bool)
    X, F = np.asarray(population.X)[held], np.asarray(population.F)[held]
    violation = np.asarray(population.violation)[held]
    mask = np.asarray(pareto_mask(jnp.asarray(F), jnp.asarray(violation)))
    _, unique = np.unique(F[mask], axis=0, return_index=True)
    keep = np.flatnonzero(mask)[np.sort(unique)]
    return Result(X=X, F=F, violation=violation, pareto_X=X[keep], pareto_F=F[keep],
                  history=history, state=state, problem_state=problem_state)
