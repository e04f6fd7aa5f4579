"""Env-steps per second of the vectorized Brax rollout behind `evo.problems.RobotControl`.

    python benchmarks/brax_rollout.py --pop 256 --episode-length 100
    python benchmarks/brax_rollout.py --pop 10000 --episode-length 1000   # on a GPU

For each task, one evaluation of a random population (`evaluate_with_state`: every
individual's MLP policy for one episode, observation statistics updated) is compiled,
run once, then timed over `--repeats` further calls with fresh episode keys; env-steps
per second is population x episode length / median seconds. Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

from evo.problems.robot import TASKS, RobotControl


def measure(task: str, pop: int, episode_length: int, repeats: int, backend: str | None):
    problem = RobotControl(task=task, episode_length=episode_length, backend=backend)
    X = jax.random.uniform(jax.random.key(0), (pop, problem.n_var), minval=-1, maxval=1)
    evaluate = jax.jit(problem.evaluate_with_state)
    state = problem.init_state(jax.random.key(1))
    start = time.perf_counter()
    _, state = jax.block_until_ready(evaluate(state, X))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, state = jax.block_until_ready(evaluate(state, X))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return problem, first - seconds, seconds, pop * episode_length / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS),
                        default=["mo-halfcheetah", "mo-hopper", "mo-walker2d", "mo-ant",
                                 "mo-swimmer", "mo-humanoid"], help="tasks to time")
    parser.add_argument("--pop", type=int, default=256, help="population size")
    parser.add_argument("--episode-length", type=int, default=100, help="steps per episode")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per task")
    parser.add_argument("--backend", default=None, help="Brax pipeline (default: the task's)")
    args = parser.parse_args()

    device = jax.devices()[0]
    print(f"population {args.pop}, episode length {args.episode_length}, "
          f"{device.platform} ({device.device_kind}), jax {jax.__version__}\n")
    print("| task | env | pipeline | weights | compile (s) | seconds per evaluation "
          "| env-steps/s |")
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks:
        problem, compile_s, seconds, rate = measure(task, args.pop, args.episode_length,
                                                    args.repeats, args.backend)
        print(f"| {task} | {problem.spec.env} | {problem.backend} | {problem.n_var} "
              f"| {compile_s:.1f} | {seconds:.3g} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
