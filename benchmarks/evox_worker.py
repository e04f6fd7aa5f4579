"""One timed EvoX 0.9 run, reported as one JSON object on stdout.

Runs in the environment `benchmarks/evox_env.sh` makes (EvoX 0.9 needs jax 0.4) and
imports nothing of evo; `speed.py` and `cmaes.py` call it in a fresh process per case
(`cmaes.py` also imports `timed_steps` from here, in evo's environment, so that both sides
are timed by the same code; EvoX itself is imported only to build a run):

    .venv-evox/bin/python benchmarks/evox_worker.py nsga3 --pop 1000 --gens 20
    .venv-evox/bin/python benchmarks/evox_worker.py cmaes --n-var 100 --pop 17 --gens 200 \
        --gens-per-call 50 --mean0 0.1 ... (n numbers)

MOEAs (nsga2, nsga3, moead, hype) run on EvoX's DTLZ2; `--gens` counts the initial
population as the first generation, as evo does, so the run makes `gens - 1` steps after
EvoX's `init_ask` / evaluate / `init_tell`, which is done before the clock starts. cmaes
runs EvoX's CMAES on EvoX's sphere for `gens` steps (it has no initial step). A step is
ask, evaluate, tell; `--gens-per-call` steps run in one compiled `lax.scan`, compiled
ahead of time (the reported compile seconds); the first call is a warm-up and the others
are timed, each to `block_until_ready`. Output: `compile_s`, `ms_per_gen` (mean over the
timed calls), `peak_mib` (max RSS, read before the output is built), `pop` (the population
EvoX really runs: its MOEA/D takes as many rows as its weight vectors) and, for MOEAs,
`F`, the final objective matrix.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp

MOEAS = ("nsga2", "nsga3", "moead", "hype")

Carry = tuple[Any, Any]  # (algorithm state, problem state)
T = TypeVar("T")


def build(args: argparse.Namespace) -> tuple[Any, Any]:
    """EvoX's algorithm and problem for the command line's settings."""
    from evox import algorithms, problems

    if args.algorithm == "cmaes":
        algorithm = algorithms.CMAES(
            center_init=jnp.asarray(args.mean0), init_stdev=args.sigma0, pop_size=args.pop
        )
        return algorithm, problems.numerical.Sphere()
    lb, ub = jnp.zeros(args.n_var), jnp.ones(args.n_var)
    settings = {"lb": lb, "ub": ub, "n_objs": args.n_obj, "pop_size": args.pop}
    if args.algorithm == "hype":
        settings["n_sample"] = args.n_samples
    cls = {"nsga2": algorithms.NSGA2, "nsga3": algorithms.NSGA3, "moead": algorithms.MOEAD,
           "hype": algorithms.HypE}[args.algorithm]
    return cls(**settings), problems.numerical.DTLZ2(d=args.n_var, m=args.n_obj)


def moead_neighbours(table: jax.Array, n_neighbors: int) -> jax.Array:
    """The first `n_neighbors` columns of EvoX's MOEA/D neighbour table `(N, ceil(N / 10))`.

    Raises SystemExit when the table cannot be EvoX's intended one: too narrow, or a weight
    vector whose nearest neighbour is not itself (at 99,681 weight vectors, 99,681^2 > 2^31
    distances, EvoX 0.9's table came back all zeros, without an error).
    """
    if table.shape[1] < n_neighbors:
        raise SystemExit(f"EvoX's MOEA/D has only {table.shape[1]} neighbours")
    if not bool(jnp.all(table[:, 0] == jnp.arange(table.shape[0]))):
        raise SystemExit("EvoX's MOEA/D neighbour table is wrong: not every weight vector "
                         "is its own nearest")
    return table[:, :n_neighbors]


def initial_state(args: argparse.Namespace, algorithm: Any, problem: Any) -> Carry:
    """The states before the timed steps; for MOEAs the initial population is evaluated.

    MOEA/D's neighbour table (each weight vector's neighbours, nearest first, EvoX's size
    ceil(N / 10)) is cut to its first `--n-neighbors` columns, which is EvoX's MOEA/D with
    that T. HypE's reference point, which EvoX sets to 1.2 times the largest objective of
    the first population, is replaced by `--ref-point` when one is given.
    """
    algorithm_key, problem_key = jax.random.split(jax.random.PRNGKey(args.seed))
    state, problem_state = algorithm.init(algorithm_key), problem.init(problem_key)
    if args.algorithm not in MOEAS:
        return state, problem_state
    if args.algorithm == "moead":
        state = state.replace(neighbors=moead_neighbours(state.neighbors, args.n_neighbors))
    X, state = algorithm.init_ask(state)
    F, problem_state = problem.evaluate(problem_state, X)
    state = algorithm.init_tell(state, F)
    if args.algorithm == "hype" and args.ref_point is not None:
        state = state.replace(ref_point=jnp.asarray(args.ref_point, F.dtype))
    return state, problem_state


def step_function(algorithm: Any, problem: Any) -> Callable[[Carry], Carry]:
    """One generation: ask, evaluate, tell."""

    def step(carry: Carry) -> Carry:
        state, problem_state = carry
        X, state = algorithm.ask(state)
        F, problem_state = problem.evaluate(problem_state, X)
        return algorithm.tell(state, F), problem_state

    return step


def timed_steps(step: Callable[[T], T], carry: T, n_steps: int,
                per_call: int) -> tuple[float, float, T]:
    """Compile seconds, mean ms per step of the timed calls, and the final carry of
    `n_steps` applications of `step` to `carry`, `per_call` of them per compiled call.

    `n_steps` must be a multiple of `per_call` with at least two calls.
    """
    def advance(carry: T) -> T:
        return jax.lax.scan(lambda c, _: (step(c), None), carry, length=per_call)[0]

    start = time.perf_counter()
    compiled = jax.jit(advance).lower(carry).compile()
    compile_s = time.perf_counter() - start
    carry = jax.block_until_ready(compiled(carry))  # warm-up
    seconds = 0.0
    for _ in range(n_steps // per_call - 1):
        start = time.perf_counter()
        carry = jax.block_until_ready(compiled(carry))
        seconds += time.perf_counter() - start
    return compile_s, 1e3 * seconds / (n_steps - per_call), carry


def n_steps(args: argparse.Namespace) -> int:
    """Steps after the initial state: MOEAs count their initial population as a generation."""
    return args.gens - (args.algorithm in MOEAS)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("algorithm", choices=MOEAS + ("cmaes",))
    parser.add_argument("--pop", type=int, required=True, help="population (CMA-ES: lambda)")
    parser.add_argument("--gens", type=int, required=True)
    parser.add_argument("--gens-per-call", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-var", type=int, default=12)
    parser.add_argument("--n-obj", type=int, default=3)
    parser.add_argument("--n-neighbors", type=int, default=20, help="MOEA/D's T")
    parser.add_argument("--n-samples", type=int, default=10_000, help="HypE's samples")
    parser.add_argument("--ref-point", type=float, nargs="+", help="HypE's reference point")
    parser.add_argument("--mean0", type=float, nargs="+", help="CMA-ES's initial mean")
    parser.add_argument("--sigma0", type=float, default=1.0)
    parser.add_argument("--x64", action="store_true", help="float64 instead of float32")
    args = parser.parse_args()
    if n_steps(args) % args.gens_per_call or n_steps(args) < 2 * args.gens_per_call:
        parser.error(f"{n_steps(args)} steps: need a multiple of --gens-per-call, two calls or more")
    if args.algorithm == "cmaes" and (args.mean0 is None or len(args.mean0) != args.n_var):
        parser.error("cmaes needs --mean0 with --n-var numbers")
    return args


def main() -> None:
    args = parse_args()
    jax.config.update("jax_enable_x64", args.x64)
    algorithm, problem = build(args)
    carry = initial_state(args, algorithm, problem)
    compile_s, ms_per_gen, (state, _) = timed_steps(
        step_function(algorithm, problem), carry, n_steps(args), args.gens_per_call
    )
    report = {
        "compile_s": compile_s,
        "ms_per_gen": ms_per_gen,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pop": int(state.population.shape[0]),
    }
    if args.algorithm in MOEAS:
        report["F"] = jax.device_get(state.fitness).tolist()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
