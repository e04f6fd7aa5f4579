"""The one workflow: compile a generation, scan it in chunks, collect a Result."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evo.algorithm import Algorithm, Population
from evo.checkpoint import Checkpoint, describe, load_checkpoint, save_checkpoint
from evo.checks import check_choice, check_int
from evo.metrics.hypervolume import hypervolume
from evo.metrics.indicators import igd
from evo.problems.base import Problem
from evo.progress import ProgressBar
from evo.sorting import effective_violation, non_dominated_rank

RECORDS = ("none", "stats", "all")
"""What `run` can record: `generation` and `n_evals` only, with the cheap statistics, or with
the indicators too."""
INDICATORS = ("igd", "hv")


class Result(NamedTuple):
    """What `run` returns; arrays are NumPy.

    Attributes:
        X, F: the final population `(n, n_var)` and its objectives `(n, n_obj)`: the rows
            the algorithm holds (`Algorithm.population`), never empty buffer slots.
        violation: their total constraint violation `(n,)`: 0 when feasible, inf for rows
            with non-finite objectives.
        pareto_X, pareto_F: the non-dominated rows of the final population that are feasible
            and have finite objectives, duplicates removed.
        history: one row per recorded generation (see `run`'s `record`), each array with a
            leading `(r,)` axis: `generation` (generations done, 1..n_gen) and `n_evals`
            (cumulative evaluations, `Algorithm.n_evals`, int64); with "stats" or "all"
            also `f_min` and `f_mean` `(r, n_obj)` over the population's feasible finite
            rows and `feasible` (their fraction) for constrained problems; with "all" also
            `igd` (of those rows) when the problem knows its front and `hv` (their
            hypervolume) when `run` was given a reference point, NaN in the rows where they
            were not computed.
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


def due(generation: Any, n_gen: Any, every: Any) -> Any:
    """Whether `generation` (1-based; NumPy or JAX, any shape) is on a cadence of `every`
    generations in a run of `n_gen`: its multiples and the last generation."""
    return (generation % every == 0) | (generation == n_gen)


def usable_rows(population: Population) -> jax.Array:
    """The held rows of `population` that are feasible and have finite objectives. `(n,)`"""
    return population.held & (effective_violation(population.F, population.violation) == 0)


def population_stats(population: Population, constrained: bool) -> dict[str, jax.Array]:
    """Per-objective min and mean `(m,)` over the usable rows of `population` (`usable_rows`),
    and their fraction of the held rows when `constrained`."""
    F = population.F
    usable = usable_rows(population)
    n_usable = jnp.maximum(jnp.sum(usable), 1)
    stats = {
        "f_min": jnp.min(jnp.where(usable[:, None], F, jnp.inf), axis=0),
        "f_mean": jnp.sum(jnp.where(usable[:, None], F, 0.0), axis=0) / n_usable,
    }
    if constrained:
        stats["feasible"] = jnp.sum(usable) / jnp.maximum(jnp.sum(population.held), 1)
    return stats


def population_indicators(
    population: Population, front: jax.Array | None, ref_point: jax.Array | None
) -> dict[str, jax.Array]:
    """The IGD of the usable rows of `population` to `front` `(k, m)` and their hypervolume
    up to `ref_point` `(m,)`, for whichever of the two is given."""
    F = jnp.where(usable_rows(population)[:, None], population.F, jnp.nan)
    indicators = {}
    if front is not None:
        indicators["igd"] = igd(F, front)
    if ref_point is not None:
        indicators["hv"] = hypervolume(F, ref_point)
    return indicators


def not_computed(like: dict[str, jax.ShapeDtypeStruct]) -> dict[str, jax.Array]:
    """NaN arrays with the shapes and dtypes of `like`."""
    return {name: jnp.full(s.shape, jnp.nan, s.dtype) for name, s in like.items()}


def padded(A: jax.Array, n: int, value: float) -> jax.Array:
    """`A` `(k, ...)` with `n - k` rows of `value` appended: `(n, ...)`."""
    return jnp.concatenate([A, jnp.full((n - A.shape[0], *A.shape[1:]), value, A.dtype)])


def evaluate_needed_rows(
    algorithm: Algorithm, problem: Problem, state: Any, problem_state: Any, X: jax.Array
) -> tuple[jax.Array, jax.Array, Any]:
    """`problem.evaluate_constrained_with_state(problem_state, X)` for the rows of `X`
    `(n, n_var)` that `state`'s tell reads: with a single `algorithm.row_sizes`, all of
    them; with several, the first `size` rows for the smallest size that covers
    `algorithm.rows_needed(state)` (`lax.switch`, one branch per size, all compiled), `F`
    `(n, n_obj)` filled up with inf and `G` `(n, n_constr)` with 0.

    Under `vmap` with a batched `state` the switch becomes a select that runs every branch.
    """
    sizes = algorithm.row_sizes
    if len(sizes) == 1:
        return problem.evaluate_constrained_with_state(problem_state, X)

    def leading(size: int):
        def evaluate(problem_state, X):
            F, G, problem_state = problem.evaluate_constrained_with_state(problem_state, X[:size])
            return padded(F, len(X), jnp.inf), padded(G, len(X), 0.0), problem_state

        return evaluate

    bucket = jnp.searchsorted(jnp.asarray(sizes, jnp.int32), algorithm.rows_needed(state))
    return jax.lax.switch(bucket, [leading(size) for size in sizes], problem_state, X)


def reevaluated(
    algorithm: Algorithm, problem: Problem, state: Any, problem_state: Any
) -> tuple[Any, Any, jax.Array]:
    """`state` after its population's rows were evaluated again (`Algorithm.reevaluate`),
    the problem's next state, and the rows evaluated (int32)."""
    X = algorithm.population(state).X
    F, G, problem_state = problem.evaluate_constrained_with_state(problem_state, X)
    G = G if problem.n_constr > 0 else None
    return algorithm.reevaluate(state, F, G), problem_state, jnp.int32(X.shape[0])


@functools.lru_cache(maxsize=64)
def compiled_chunk(
    algorithm: Algorithm, problem: Problem, chunk_size: int, record: str, with_front: bool,
    with_ref: bool = False, reevaluating: bool = False,
):
    """A jitted function running `chunk_size` generations after generation `start`.

    It scans the pair (algorithm state, problem state) and evaluates the rows each tell
    reads (`evaluate_needed_rows`). Generations past `n_gen` are skipped, so one
    compilation serves every chunk, run length and cadence. Each generation
    records `evaluated`, the evaluations it added (int32, exact even where the running count
    wraps), with `record` "stats" or "all" the `population_stats`, and with "all" the
    `population_indicators`, computed only in generations `due` every `indicators_every`
    (NaN in the others). With `reevaluating`, generations `due` every `reevaluate_every`
    also evaluate the population again after the tell (`reevaluated`), counted in
    `evaluated`. Cached per (algorithm, problem, chunk_size, record, with_front, with_ref,
    reevaluating).
    """
    constrained = problem.n_constr > 0
    indicated = record == "all" and (with_front or with_ref)

    def generation(states, g, n_gen, indicators_every, reevaluate_every, front, ref_point):
        state, problem_state = states
        X, state = algorithm.ask(state)
        F, G, problem_state = evaluate_needed_rows(algorithm, problem, state, problem_state, X)
        told = algorithm.tell(state, F, G if constrained else None)
        evaluated = algorithm.n_evals(told) - algorithm.n_evals(state)
        if reevaluating:
            told, problem_state, again = jax.lax.cond(
                due(g, n_gen, reevaluate_every),
                functools.partial(reevaluated, algorithm, problem),
                lambda told, problem_state: (told, problem_state, jnp.int32(0)),
                told, problem_state,
            )
            evaluated = evaluated + again
        population = algorithm.population(told)
        records = {"evaluated": evaluated}
        if record != "none":
            records |= population_stats(population, constrained)
        if indicated:
            def measure(population):
                return population_indicators(population, front if with_front else None,
                                             ref_point if with_ref else None)

            records |= jax.lax.cond(
                due(g, n_gen, indicators_every), measure,
                lambda p: not_computed(jax.eval_shape(measure, p)), population,
            )
        return (told, problem_state), records

    @jax.jit
    def run_chunk(states, start, n_gen, indicators_every, reevaluate_every, front, ref_point):
        def body(states, g):
            def skip(states, *_):
                return states, jax.tree.map(jnp.zeros_like, records_shape)

            return jax.lax.cond(g <= n_gen, generation, skip, states, g, n_gen,
                                indicators_every, reevaluate_every, front, ref_point)

        records_shape = jax.eval_shape(generation, states, start + 1, n_gen, indicators_every,
                                       reevaluate_every, front, ref_point)[1]
        return jax.lax.scan(body, states, start + 1 + jnp.arange(chunk_size))

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
    record: str = "all",
    record_every: int = 1,
    indicators_every: int = 50,
    front_size: int = 1000,
    ref_point: jax.Array | np.ndarray | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 10,
    reevaluate_every: int | None = None,
) -> Result:
    """Run `algorithm` on `problem` for `n_gen` generations (one `ask` + `tell` each).

    The generation is jit-compiled once and scanned `chunk_size` generations at a time;
    between chunks the progress bar is drawn. The same key gives the same result, bit for
    bit, whatever the chunk size. The algorithm starts from `key`; a stateful problem from
    `problem.init_state(jax.random.fold_in(key, 1))`, and its state is carried across
    generations. Constraint values reach `tell` when `problem.n_constr > 0`; an algorithm
    that cannot take them raises ValueError before anything is compiled.

    What `Result.history` records (`record`), one row per recorded generation:

    - "none": `generation` and `n_evals` only.
    - "stats": also `f_min`, `f_mean` and, for constrained problems, `feasible`; they cost
      little and are computed every generation.
    - "all" (default): also the indicators, `igd` against `problem.pareto_front(front_size)`
      when the problem has several objectives and knows its front and `hv`, the
      hypervolume up to `ref_point` `(n_obj,)` when one is given (2 or 3 objectives). IGD
      costs about as much as an NSGA-III generation at populations of thousands (the
      hypervolume more), so they are computed only every `indicators_every` generations
      and at the last (NaN in the other rows).

    A row is kept every `record_every` generations and at the last, and wherever the
    indicators were computed; `history["generation"]` says which generations the rows
    belong to. Recording at the chunk ends is `record_every=chunk_size`. `n_evals` counts
    every generation's evaluations, recorded or not.

    With `reevaluate_every` (k), every k-th generation and the last also evaluate the
    population again after the tell, so that survivors of a noisy or stateful problem
    (robot episodes drawn afresh, normalisation that moves) carry values from the current
    evaluation rather than the one that made them (`Algorithm.reevaluate`; for the
    algorithms with `takes_reevaluation`: the GA family but MOEA/D, RVEA and SMS-EMOA).
    Each costs a population's evaluations, counted in `history["n_evals"]`. Off by
    default: on a deterministic problem it changes nothing but the cost.

    With `checkpoint` (a file path), the states and the history so far are written there
    atomically (see `evo.checkpoint`) at the end of every chunk that completes a multiple
    of `checkpoint_every` generations, and at the end. When that file exists as `run`
    starts, the run resumes from it and ends with exactly the result of an uninterrupted
    run. Its history ends with a row for the generation it was written at, which a resumed
    run drops again where that row is not due. A checkpoint written by another run (other
    settings, problem, function, key or recording) raises `CheckpointError`, says what
    differs, and is left in place.
    """
    check_compatible(algorithm, problem)
    n_gen = check_int("n_gen", n_gen)
    chunk_size = check_int("chunk_size", chunk_size)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every)
    record = check_choice("record", record, RECORDS)
    cadence = {"record_every": check_int("record_every", record_every),
               "indicators_every": check_int("indicators_every", indicators_every)}
    if reevaluate_every is not None:
        reevaluate_every = check_int("reevaluate_every", reevaluate_every)
        if not algorithm.takes_reevaluation:
            raise ValueError(f"{type(algorithm).__name__} cannot re-evaluate its population "
                             "(reevaluate_every); the GA family can, but MOEA/D, RVEA and "
                             "SMS-EMOA")
    if ref_point is not None:
        ref_point = jnp.asarray(ref_point, dtype=jnp.result_type(float))
        if ref_point.shape != (problem.n_obj,) or not 2 <= problem.n_obj <= 3:
            raise ValueError(f"ref_point must have shape (n_obj,) with n_obj 2 or 3, got shape "
                             f"{ref_point.shape} for n_obj={problem.n_obj}")
    # One objective has an optimum, not a front: its history's measure is `f_min`.
    front = problem.pareto_front(front_size) if problem.n_obj > 1 else None
    run_chunk = compiled_chunk(
        algorithm, problem, chunk_size, record, front is not None, ref_point is not None,
        reevaluate_every is not None,
    )
    front = None if front is None else jnp.asarray(front, dtype=jnp.result_type(float))

    states = (algorithm.init(key), problem.init_state(jax.random.fold_in(key, 1)))
    chunks, first, n_evals = [], 0, 0
    if checkpoint is not None:
        recording = {"front_size": front_size, "ref_point": describe(ref_point),
                     "record": record, **cadence}
        if reevaluate_every is not None:  # absent otherwise: earlier checkpoints still match
            recording["reevaluate_every"] = reevaluate_every
        identity = run_description(algorithm, problem, key, states, recording)
        if Path(checkpoint).exists():
            saved = resumable(checkpoint, states, identity, n_gen)
            states, chunks, first = saved.state, [saved.history], saved.generation
            n_evals = saved.history["n_evals"][-1]
            if progress:
                print(f"resuming from generation {first} of {n_gen} ({checkpoint})",
                      file=sys.stderr)
    bar = ProgressBar(n_gen) if progress else None
    for start in range(first, n_gen, chunk_size):
        states, records = run_chunk(states, start, n_gen, cadence["indicators_every"],
                                    reevaluate_every or n_gen, front, ref_point)
        done = min(start + chunk_size, n_gen)
        chunks.append(generation_rows(jax.device_get(records), start, done, n_evals))
        n_evals = chunks[-1]["n_evals"][-1]
        if bar is not None:
            bar.update(done, **latest_indicators(chunks[-1], problem.n_obj))
        if checkpoint is not None and (done // checkpoint_every > start // checkpoint_every
                                       or done == n_gen):
            save_checkpoint(checkpoint, states, thinned(joined(chunks), done, **cadence), done,
                            identity)
    return make_result(algorithm, *states, thinned(joined(chunks), n_gen, **cadence))


def resumable(
    checkpoint: str | os.PathLike, template: Any, identity: Any, n_gen: int
) -> Checkpoint:
    """The checkpoint at `checkpoint` (`load_checkpoint`), when a run of `n_gen` generations
    can end with exactly the uninterrupted result from it; ValueError otherwise."""
    saved = load_checkpoint(checkpoint, template, identity)
    if saved.generation > n_gen:
        raise ValueError(
            f"{checkpoint}: checkpoint is at generation {saved.generation}, past n_gen={n_gen}"
        )
    history = saved.history
    missing = [name for name in INDICATORS if name in history and np.isnan(history[name][-1])]
    if saved.generation == n_gen and missing:
        raise ValueError(
            f"{checkpoint}: checkpoint is at generation {n_gen} of a longer run, which did not "
            f"compute {' and '.join(missing)} there; run past generation {n_gen} or remove "
            "the file"
        )
    return saved


def generation_rows(
    records: dict[str, np.ndarray], start: int, done: int, n_evals: int
) -> dict[str, np.ndarray]:
    """A chunk's per-generation `records` (`compiled_chunk`) as history rows for generations
    `start + 1 .. done`, `n_evals` being the evaluations before the chunk."""
    count = done - start
    evaluated = np.cumsum(records["evaluated"][:count], dtype=np.int64)
    return {"generation": np.arange(start + 1, done + 1), "n_evals": n_evals + evaluated,
            **{name: values[:count] for name, values in records.items() if name != "evaluated"}}


def joined(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """History rows of consecutive chunks, concatenated."""
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}


def thinned(
    history: dict[str, np.ndarray], n_gen: int, record_every: int, indicators_every: int
) -> dict[str, np.ndarray]:
    """The rows of `history` that a run of `n_gen` generations keeps (`run`'s `record_every`
    and `indicators_every`), the indicators NaN where they are not due."""
    generation = history["generation"]
    indicated = due(generation, n_gen, indicators_every)
    has_indicators = any(name in history for name in INDICATORS)
    keep = due(generation, n_gen, record_every) | (indicated & has_indicators)
    rows = {name: values[keep] for name, values in history.items()}
    for name in INDICATORS:
        if name in rows:
            rows[name] = np.where(indicated[keep], rows[name], np.nan)
    return rows


def latest_indicators(rows: dict[str, np.ndarray], n_obj: int) -> dict[str, float]:
    """The last value of each indicator computed in `rows`, by name; for one objective the
    best value (`f_min`) when it was recorded."""
    if n_obj == 1:
        best = rows.get("f_min", np.empty((0, 1)))
        return {"f_min": float(best[-1, 0])} if len(best) else {}
    latest = {}
    for name in INDICATORS:
        computed = rows.get(name, np.empty(0))
        computed = computed[~np.isnan(computed)]
        if computed.size:
            latest[name] = float(computed[-1])
    return latest


def run_description(
    algorithm: Algorithm, problem: Problem, key: jax.Array, states: Any, recording: dict
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed (`evo.checkpoint.describe`): the
    algorithm's and the problem's settings, the key, the structure of the states and what
    the history records (`recording`: JSON-ready settings)."""
    paths, _ = jax.tree_util.tree_flatten_with_path(states)
    return {
        "algorithm": describe(algorithm),
        "problem": describe(problem),
        "key": describe(key),
        "state": [
            f"{jax.tree_util.keystr(path)} {jnp.result_type(leaf)}{list(jnp.shape(leaf))}"
            for path, leaf in paths
        ],
        "history": recording,
    }


HOST_FRONT_MAX_ROWS = 2048
"""Up to this many rows `pareto_mask` compares every pair in NumPy (milliseconds), which
spares each population shape a compiled sort; beyond, it ranks on the device."""


@jax.jit
def ranked_pareto_mask(F: jax.Array, violation: jax.Array) -> jax.Array:
    """`pareto_mask` by `non_dominated_rank`, for populations too large to compare pairwise."""
    feasible = effective_violation(F, violation) == 0
    return (non_dominated_rank(F, n_stop=1, violation=violation) == 0) & feasible


def pareto_mask(F: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Rows of `F` `(n, m)` that are feasible (`violation` `(n,)` 0), finite and dominated by
    no other such row. `(n,)` bool."""
    if F.shape[0] > HOST_FRONT_MAX_ROWS:
        return np.asarray(ranked_pareto_mask(jnp.asarray(F), jnp.asarray(violation)))
    usable = np.flatnonzero(np.isfinite(F).all(axis=1) & (violation == 0))
    C = F[usable]
    no_worse = np.ones((len(C), len(C)), bool)
    better = np.zeros((len(C), len(C)), bool)
    for column in C.T:
        no_worse &= column[:, None] <= column[None, :]
        better |= column[:, None] < column[None, :]
    mask = np.zeros(F.shape[0], bool)
    mask[usable[~np.any(no_worse & better, axis=0)]] = True
    return mask


def make_result(
    algorithm: Algorithm, state: Any, problem_state: Any, history: dict[str, np.ndarray]
) -> Result:
    """The `Result` of `state`: the rows it holds, and their feasible non-dominated subset."""
    population = jax.device_get(algorithm.population(state))
    held = np.asarray(population.held, bool)
    # Unheld rows count as infinitely infeasible, so the mask is computed at the state's
    # fixed shape: on the device, one compile per algorithm, not one per number of rows held.
    padded_violation = np.where(held, np.asarray(population.violation), np.inf)
    mask = pareto_mask(np.asarray(population.F), padded_violation)[held]
    X, F = np.asarray(population.X)[held], np.asarray(population.F)[held]
    violation = np.asarray(population.violation)[held]
    _, unique = np.unique(F[mask], axis=0, return_index=True)
    keep = np.flatnonzero(mask)[np.sort(unique)]
    return Result(X=X, F=F, violation=violation, pareto_X=X[keep], pareto_F=F[keep],
                  history=history, state=state, problem_state=problem_state)
