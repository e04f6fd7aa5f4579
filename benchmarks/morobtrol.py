"""MoRobtrol: NSGA-III, MOEA/D, HypE and random search on the multi-objective Brax tasks.

    python benchmarks/morobtrol.py                             # CPU preset, every task
    python benchmarks/morobtrol.py --tasks mo-hopper mo-reacher --seeds 3
    python benchmarks/morobtrol.py --paper                     # the paper's settings (GPU)

Every task of `evo.problems.TASKS` with a reference point (the README's table), every
algorithm, `--seeds` seeds: the hypervolume of the population after each generation, up to
the task's reference point, and env-steps per second. The policy is the MLP observations ->
`--hidden` tanh -> actions (tanh), observations normalised by the statistics of all earlier
generations (`RobotControl`). `--paper` takes the tensorization paper's MoRobtrol settings:
16 hidden units, 1,000-step episodes, population 10,000, 100 generations, 10 runs. The CPU
preset (population 16, 100-step episodes, 10 generations, 2 seeds) takes about 8 minutes
on two CPU cores, most of it compiling each task's rollout and each algorithm.

Per task the rollout is compiled once (`evaluate_with_state` under `jax.jit`) and shared by
the four algorithms, whose `ask` and `tell` are jitted apart; each generation is ask,
evaluate, tell. Random search evaluates `pop` uniform policies per generation and keeps
the non-dominated rows of everything it has evaluated. MOEA/D and NSGA-III use
`reference_directions(n_obj, pop)` directions (MOEA/D one subproblem each, so its
population can be a little smaller); HypE takes the task's reference point.

Prints a markdown table: per task and algorithm the median and interquartile range of the
final hypervolume over the seeds, the median hypervolume at a quarter and half of the run,
and env-steps per second (evaluations x episode length over the wall time of the
generations, compilation excluded). `--json` also writes every run's curve.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import evo
from evo.metrics import hypervolume
from evo.problems import TASKS, RobotControl
from evo.sorting import non_dominated_rank

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import machine  # noqa: E402

ALGORITHMS = ("nsga3", "moead", "hype", "random")
PAPER = {"pop": 10_000, "gens": 100, "episode_length": 1000, "seeds": 10, "hidden": 16}
CPU = {"pop": 16, "gens": 10, "episode_length": 100, "seeds": 2, "hidden": 16}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = [name for name, task in TASKS.items() if task.ref_point is not None]
    parser.add_argument("--tasks", nargs="+", choices=tasks, default=tasks)
    parser.add_argument("--algorithms", nargs="+", choices=ALGORITHMS, default=ALGORITHMS)
    parser.add_argument("--paper", action="store_true", help="the paper's settings")
    for name, value in CPU.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help=f"default {value} (--paper: {PAPER[name]})")
    parser.add_argument("--json", type=Path, help="write every run's curve here")
    args = parser.parse_args()
    preset = PAPER if args.paper else CPU
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def make_algorithm(name: str, problem: RobotControl, pop: int) -> evo.Algorithm:
    bounds = {"n_obj": problem.n_obj, "lb": problem.lb, "ub": problem.ub}
    if name == "nsga3":
        return evo.NSGA3(pop_size=pop, ref_dirs=evo.reference_directions(problem.n_obj, pop),
                         **bounds)
    if name == "moead":
        ref_dirs = evo.reference_directions(problem.n_obj, pop)
        return evo.MOEAD(pop_size=len(ref_dirs), ref_dirs=ref_dirs, **bounds)
    return evo.HypE(pop_size=pop, ref_point=problem.ref_point, **bounds)


@functools.cache
def jitted_algorithm(name: str, problem: RobotControl, pop: int):
    """`make_algorithm`'s algorithm and its jitted `ask` and `tell`, built once per task, so
    that the seeds share one compilation."""
    algorithm = make_algorithm(name, problem, pop)
    return algorithm, jax.jit(algorithm.ask), jax.jit(algorithm.tell)


def front_hypervolume(F: np.ndarray, ref_point: np.ndarray) -> float:
    """Hypervolume of the finite rows of `F` `(n, m)` up to `ref_point` `(m,)`."""
    return float(hypervolume(F[np.all(np.isfinite(F), axis=1)], ref_point))


def evolve(name: str, problem: RobotControl, evaluate: Callable, args: argparse.Namespace,
           seed: int) -> tuple[list[float], int, float]:
    """Hypervolume after each generation, evaluations and seconds of one run."""
    key = jax.random.key(seed)
    problem_state = problem.init_state(jax.random.fold_in(key, 1))
    if name == "random":
        return random_search(problem, evaluate, problem_state, key, args)
    algorithm, ask, tell = jitted_algorithm(name, problem, args.pop)
    state = algorithm.init(key)
    # Compile ask and tell (not timed; once per task) on a copy of the first generation.
    X, _ = ask(state)
    jax.block_until_ready(tell(state, evaluate(problem_state, X)[0]))
    curve, evaluations, seconds = [], 0, 0.0
    for _ in range(args.gens):
        start = time.perf_counter()
        X, state = ask(state)
        F, problem_state = evaluate(problem_state, X)
        state = jax.block_until_ready(tell(state, F))
        seconds += time.perf_counter() - start
        evaluations += X.shape[0]
        population = algorithm.population(state)
        F_held = np.asarray(population.F)[np.asarray(population.held)]
        curve.append(front_hypervolume(F_held, problem.ref_point))
    return curve, evaluations, seconds


def random_search(problem: RobotControl, evaluate: Callable, problem_state, key: jax.Array,
                  args: argparse.Namespace) -> tuple[list[float], int, float]:
    """Uniform policies, `pop` per generation; the curve is the hypervolume of the
    non-dominated rows of everything evaluated so far."""
    lb, ub = jnp.asarray(problem.lb), jnp.asarray(problem.ub)
    sample = jax.jit(lambda k: jax.random.uniform(k, (args.pop, problem.n_var), minval=lb,
                                                  maxval=ub))
    jax.block_until_ready(sample(key))  # compiled before the timing
    archive = np.empty((0, problem.n_obj))
    curve, evaluations, seconds = [], 0, 0.0
    for generation in range(args.gens):
        start = time.perf_counter()
        X = sample(jax.random.fold_in(key, generation))
        F, problem_state = evaluate(problem_state, X)
        F = np.asarray(jax.block_until_ready(F))
        seconds += time.perf_counter() - start
        evaluations += args.pop
        archive = np.concatenate([archive, F[np.all(np.isfinite(F), axis=1)]])
        archive = archive[np.asarray(non_dominated_rank(jnp.asarray(archive))) == 0]
        curve.append(front_hypervolume(archive, problem.ref_point))
    return curve, evaluations, seconds


def quartiles(values: list[float]) -> tuple[float, float, float]:
    return tuple(float(q) for q in np.percentile(values, [50, 25, 75]))


def main() -> None:
    args = parse_args()
    print(f"{machine()}; population {args.pop}, {args.gens} generations, "
          f"{args.episode_length}-step episodes, MLP {args.hidden} hidden, seeds "
          f"0-{args.seeds - 1}\n")
    print("| task | algorithm | final HV median (IQR) | HV at 1/4 | HV at 1/2 | env-steps/s | "
          "compile s |")
    print("|---|---|---|---|---|---|---|")
    runs = []
    for task in args.tasks:
        problem = RobotControl(task=task, episode_length=args.episode_length,
                               hidden=(args.hidden,))
        evaluate = jax.jit(problem.evaluate_with_state)
        start = time.perf_counter()
        X = jnp.zeros((args.pop, problem.n_var))
        jax.block_until_ready(evaluate(problem.init_state(jax.random.key(0)), X))
        compile_s = time.perf_counter() - start
        for name in args.algorithms:
            curves, steps, seconds = [], 0, 0.0
            for seed in range(args.seeds):
                curve, evaluations, spent = evolve(name, problem, evaluate, args, seed)
                curves.append(curve)
                steps += evaluations * args.episode_length
                seconds += spent
                runs.append({"task": task, "algorithm": name, "seed": seed, "hv": curve})
            final = quartiles([c[-1] for c in curves])
            quarter = np.median([c[max(0, args.gens // 4 - 1)] for c in curves])
            half = np.median([c[max(0, args.gens // 2 - 1)] for c in curves])
            print(f"| {task} | {name} | {final[0]:.4g} ({final[1]:.4g}-{final[2]:.4g}) | "
                  f"{quarter:.4g} | {half:.4g} | {steps / seconds:,.0f} | {compile_s:.0f} |",
                  flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)},
                                         "runs": runs}))


if __name__ == "__main__":
    main()
