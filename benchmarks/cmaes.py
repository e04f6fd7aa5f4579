"""CMA-ES: evo.CMAES against pycma, evosax's CMA_ES and EvoX 0.9's CMAES.

    python benchmarks/cmaes.py [--seeds 5] [--x64]      # both tables
    python benchmarks/cmaes.py --tables evox --evox-reps 3

Sphere, ellipsoid (condition 1e6) and Rosenbrock in 10 and 40 dimensions. Every
implementation starts from the same mean (uniform in [-2, 2]^n from a fixed NumPy seed per
problem and dimension), sigma0 = 1 and the default population size 4 + floor(3 ln n), and
runs until its best f is below 1e-8 or 2e5 evaluations (evo's termination flag is ignored,
as evosax has none; pycma stops on its own criteria); seeds 1..`--seeds` seed each
implementation's own random numbers. evo and evosax run as one jitted `lax.while_loop`
per run (compiled once per problem and dimension, compilation not timed), in float32
unless `--x64`; pycma (float64) runs its Python `ask` / `tell` loop with a vectorized NumPy
objective and single-threaded BLAS. "time / gen" is the wall time of a run's optimisation
loop (ask, evaluate, tell; not pycma's constructor) divided by its generations. Prints
markdown: medians over seeds, and the ratios ours / peer.

The second table is time per generation only, at sizes where the linear algebra counts:
evo's `CMAES` (its default active weights, the box [-5, 5]^n) against EvoX 0.9's `CMAES`
(no bounds, positive weights only; run by `evox_worker.py` in EvoX's own environment, made
by `benchmarks/evox_env.sh`, skipped with a note without it), on the sphere from the same
mean with sigma0 = 1, same lambda. Both are timed by the worker's `timed_steps`: a compiled
`lax.scan` of a fixed number of generations (compiled ahead, the compile seconds), one
warm-up call, then `--evox-calls` timed calls. Repetitions alternate evo and EvoX
(`--evox-reps`, each side compiling anew every time); the table has medians over them.
Both sides run with one OpenBLAS thread (set below; the worker inherits it): jaxlib's CPU
`eigh` goes through it, and with its default threads a 100-D, lambda 1,024 generation of
evo's took over 10x longer on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# pycma's 10x10 to 40x40 linear algebra only loses from BLAS threads on a shared 2-core
# machine (about 30 ms instead of 2-5 ms per 40-D iteration here); set before NumPy loads.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import jax
from evox_worker import timed_steps
from speed import EVOX_PYTHON, WORKER, evox_missing, evox_versions, run_json

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--x64", action="store_true")
parser.add_argument("--tables", nargs="+", default=["convergence", "evox"],
                    choices=["convergence", "evox"])
parser.add_argument("--evox-reps", type=int, default=5)
parser.add_argument("--evox-calls", type=int, default=3, help="timed calls after the warm-up")
parser.add_argument("--evox-python", default=EVOX_PYTHON)
parser.add_argument("--memory-gib", type=float, default=16.0,
                    help="address-space limit of each EvoX process")
ARGS = parser.parse_args()
jax.config.update("jax_enable_x64", ARGS.x64)

import cma
import jax.numpy as jnp
import numpy as np
from evosax.algorithms import CMA_ES

from evo import CMAES
from evo.cmaes import default_pop_size
from evo.problems import Ellipsoid, Rosenbrock, Sphere

TARGET = 1e-8
MAX_EVALS = 200_000
SIGMA0 = 1.0
PROBLEMS = {"sphere": Sphere, "ellipsoid": Ellipsoid, "rosenbrock": Rosenbrock}
# (n, lambda, generations per compiled call) of the EvoX table: calls of 0.1-0.6 s here.
EVOX_SIZES = ((100, 17, 200), (100, 1024, 20), (1000, 24, 20), (1000, 1024, 2))


def numpy_objective(name: str, X: np.ndarray) -> np.ndarray:
    """The same functions in NumPy for pycma, `(k, n) -> (k,)`."""
    n = X.shape[1]
    if name == "sphere":
        return np.sum(X**2, axis=1)
    if name == "ellipsoid":
        return np.sum(1e6 ** (np.arange(n) / (n - 1)) * X**2, axis=1)
    return np.sum(100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1)


def collect(run, seeds: int) -> tuple[list[float], list[float]]:
    """Evaluations to target and seconds per generation of `run(seed)` for each seed.

    `run` returns (evaluations, generations, best f, seconds of its optimisation loop).
    """
    evals, per_gen = [], []
    for seed in range(1, seeds + 1):
        n_evals, n_gen, best, seconds = run(seed)
        evals.append(n_evals if best < TARGET else float("inf"))
        per_gen.append(seconds / n_gen)
    return evals, per_gen


def run_compiled(compiled):
    """`run(seed)` for a compiled `key -> (evaluations, generations, best f)`."""

    def run(seed):
        start = time.perf_counter()
        n_evals, g, best = jax.device_get(compiled(jax.random.key(seed)))
        return int(n_evals), int(g), float(best), time.perf_counter() - start

    return run


def ours(problem, x0: np.ndarray, seeds: int):
    algorithm = CMAES(lb=np.full(x0.size, -5.0), ub=np.full(x0.size, 5.0), mean0=x0,
                      sigma0=SIGMA0)
    max_gen = MAX_EVALS // algorithm.pop_size

    def step(carry):
        state, g = carry
        X, state = algorithm.ask(state)
        return algorithm.tell(state, problem.evaluate(X)), g + 1

    def going(carry):
        state, g = carry
        return (state.best_f >= TARGET) & (g < max_gen)

    @jax.jit
    def solve(key):
        state, g = jax.lax.while_loop(going, step, (algorithm.init(key), 0))
        return state.n_evals, g, state.best_f

    compiled = solve.lower(jax.random.key(0)).compile()
    jax.block_until_ready(compiled(jax.random.key(0)))  # warm-up, not timed
    return collect(run_compiled(compiled), seeds)


def evosax(problem, x0: np.ndarray, seeds: int):
    n = x0.size
    strategy = CMA_ES(population_size=default_pop_size(n), solution=jnp.zeros(n))
    params = strategy.default_params.replace(std_init=SIGMA0)
    max_gen = MAX_EVALS // strategy.population_size

    def step(carry):
        key, state, g = carry
        key, ask_key, tell_key = jax.random.split(key, 3)
        population, state = strategy.ask(ask_key, state, params)
        state, _ = strategy.tell(tell_key, population, problem.evaluate(population)[:, 0],
                                 state, params)
        return key, state, g + 1

    def going(carry):
        _, state, g = carry
        return (state.best_fitness >= TARGET) & (g < max_gen)

    @jax.jit
    def solve(key):
        key, init_key = jax.random.split(key)
        state = strategy.init(init_key, jnp.asarray(x0), params)
        _, state, g = jax.lax.while_loop(going, step, (key, state, 0))
        return g * strategy.population_size, g, state.best_fitness

    compiled = solve.lower(jax.random.key(0)).compile()
    jax.block_until_ready(compiled(jax.random.key(0)))  # warm-up, not timed
    return collect(run_compiled(compiled), seeds)


def pycma(name: str, x0: np.ndarray, seeds: int):
    def run(seed):
        es = cma.CMAEvolutionStrategy(x0, SIGMA0, {
            "popsize": default_pop_size(x0.size), "seed": seed, "ftarget": TARGET,
            "maxfevals": MAX_EVALS, "verbose": -9,
        })
        start = time.perf_counter()
        while not es.stop():
            X = es.ask()
            es.tell(X, list(numpy_objective(name, np.asarray(X))))
        return es.countevals, es.countiter, es.best.f, time.perf_counter() - start

    return collect(run, seeds)


def start_mean(n: int) -> np.ndarray:
    """The initial mean of every run in `n` dimensions: uniform in [-2, 2]^n, fixed."""
    return np.random.default_rng(n).uniform(-2, 2, n)


def convergence_table() -> None:
    """Evaluations to target and time per generation against pycma and evosax."""
    print(f"jax {jax.__version__}, {'float64' if ARGS.x64 else 'float32'}; pycma "
          f"{cma.__version__}; medians over {ARGS.seeds} seeds\n")
    print("| f | n | evals: ours | pycma | evosax | ours / pycma | ours / evosax "
          "| time/gen (ms): ours | pycma | evosax | ours / pycma | ours / evosax |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (10, 40):
        for name, cls in PROBLEMS.items():
            problem = cls(n_var=n)
            x0 = start_mean(n)
            rows = [ours(problem, x0, ARGS.seeds), pycma(name, x0, ARGS.seeds),
                    evosax(problem, x0, ARGS.seeds)]
            evals = [statistics.median(e) for e, _ in rows]
            ms = [1e3 * statistics.median(t) for _, t in rows]
            fails = [sum(np.isinf(e)) for e, _ in rows]
            cells = [f"{e:.0f}" + (f" ({k} of {ARGS.seeds} failed)" if k else "")
                     for e, k in zip(evals, fails)]
            print(f"| {name} | {n} | {' | '.join(cells)} | {evals[0] / evals[1]:.2f} | "
                  f"{evals[0] / evals[2]:.2f} | {ms[0]:.3f} | {ms[1]:.3f} | {ms[2]:.3f} | "
                  f"{ms[0] / ms[1]:.2f} | {ms[0] / ms[2]:.2f} |", flush=True)


def ours_per_generation(n: int, lam: int, per_call: int) -> dict:
    """Compile seconds and ms per generation of evo's CMAES on the sphere."""
    algorithm = CMAES(lb=np.full(n, -5.0), ub=np.full(n, 5.0), mean0=start_mean(n),
                      sigma0=SIGMA0, pop_size=lam)
    problem = Sphere(n_var=n)

    def step(state):
        X, state = algorithm.ask(state)
        return algorithm.tell(state, problem.evaluate(X))

    state = algorithm.init(jax.random.key(0))
    compile_s, ms_per_gen, _ = timed_steps(step, state, (ARGS.evox_calls + 1) * per_call,
                                           per_call)
    return {"compile_s": compile_s, "ms_per_gen": ms_per_gen}


def evox_per_generation(n: int, lam: int, per_call: int) -> dict:
    """Compile seconds and ms per generation of EvoX's CMAES on the sphere (a worker)."""
    command = [ARGS.evox_python, str(WORKER), "cmaes", "--n-var", str(n), "--pop", str(lam),
               "--gens", str((ARGS.evox_calls + 1) * per_call), "--gens-per-call",
               str(per_call), "--sigma0", str(SIGMA0), "--mean0", *map(str, start_mean(n))]
    return run_json(command + ["--x64"] * ARGS.x64, ARGS.memory_gib, None)


def median_cell(results: list[dict], key: str, digits: int) -> str:
    """The median of `key` over `results`, or the first failure."""
    failed = [result["failed"] for result in results if "failed" in result]
    if failed:
        return f"failed: {failed[0]}"
    return f"{statistics.median(result[key] for result in results):.{digits}f}"


def evox_table() -> None:
    """Time per generation and compile time against EvoX 0.9's CMAES, large n and lambda."""
    if missing := evox_missing(ARGS.evox_python):
        print(missing)
        return
    print(f"evo: jax {jax.__version__}; {evox_versions(ARGS.evox_python)}; "
          f"{'float64' if ARGS.x64 else 'float32'}; sphere; medians over {ARGS.evox_reps} "
          "alternating repetitions\n")
    print("| n | lambda | gens timed | evo ms/gen | EvoX ms/gen | EvoX / evo | evo compile s "
          "| EvoX compile s |")
    print("|---|---|---|---|---|---|---|---|")
    for n, lam, per_call in EVOX_SIZES:
        runs = [], []
        for _ in range(ARGS.evox_reps):
            runs[0].append(ours_per_generation(n, lam, per_call))
            runs[1].append(evox_per_generation(n, lam, per_call))
        ms = [median_cell(side, "ms_per_gen", 3) for side in runs]
        ratio = "-" if "failed" in ms[1] else f"{float(ms[1]) / float(ms[0]):.2f}x"
        print(f"| {n} | {lam} | {ARGS.evox_calls * per_call} | {ms[0]} | {ms[1]} | {ratio} | "
              f"{median_cell(runs[0], 'compile_s', 1)} | {median_cell(runs[1], 'compile_s', 1)} "
              "|", flush=True)


def main() -> None:
    if "convergence" in ARGS.tables:
        convergence_table()
        print()
    if "evox" in ARGS.tables:
        evox_table()


if __name__ == "__main__":
    main()
