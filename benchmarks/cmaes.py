"""CMA-ES: evo.CMAES against pycma and evosax's CMA_ES, evaluations to f < 1e-8 and time.

    python benchmarks/cmaes.py [--seeds 5] [--x64]

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

import jax  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--x64", action="store_true")
ARGS = parser.parse_args()
jax.config.update("jax_enable_x64", ARGS.x64)

import cma  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from evosax.algorithms import CMA_ES  # noqa: E402

from evo import CMAES  # noqa: E402
from evo.cmaes import default_pop_size  # noqa: E402
from evo.problems import Ellipsoid, Rosenbrock, Sphere  # noqa: E402

TARGET = 1e-8
MAX_EVALS = 200_000
SIGMA0 = 1.0
PROBLEMS = {"sphere": Sphere, "ellipsoid": Ellipsoid, "rosenbrock": Rosenbrock}


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


def main() -> None:
    print(f"jax {jax.__version__}, {'float64' if ARGS.x64 else 'float32'}; pycma "
          f"{cma.__version__}; medians over {ARGS.seeds} seeds\n")
    print("| f | n | evals: ours | pycma | evosax | ours / pycma | ours / evosax "
          "| time/gen (ms): ours | pycma | evosax | ours / pycma | ours / evosax |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (10, 40):
        for name, cls in PROBLEMS.items():
            problem = cls(n_var=n)
            x0 = np.random.default_rng(n).uniform(-2, 2, n)
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


if __name__ == "__main__":
    main()
