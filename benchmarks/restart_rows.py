"""Rows evaluated per generation by CMA-ES with restarts, before and since `row_sizes`.

    python benchmarks/restart_rows.py
    python benchmarks/restart_rows.py --generations 500 --brax-generations 0   # quick

`CMAES.ask` returns `max_pop_size` rows with restarts, of which `tell` reads the first
`lam`. Before, `evo.run` evaluated all of them; now it evaluates the smallest of
`CMAES.row_sizes` that covers `lam`, one `lax.switch` branch per size ("now"). "before"
is the same run with a single row size, which is the old code path. Each run's problem
counts the rows it computed (in its state), so rows/gen is measured, not derived.

Per run: the first call of a one-generation run (compile and one generation), then the
fastest of two timed runs of all generations on the compiled program (the machine may be
shared). Tasks: 10-D Rastrigin with IPOP and BIPOP at the defaults (`max_pop_size` 349),
and IPOP on a Brax task (an MLP policy, short episodes, `max_pop_size` 8 lambda0 and a
short `tolstagnation` so that runs restart). Prints markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp

import evo
from evo.cmaes import CMAES
from evo.problems import Problem, Rastrigin
from evo.problems.robot import RobotControl


class EveryRow(CMAES):
    """CMAES with one row size: `evo.run` evaluates every row of each ask, as before."""

    @property
    def row_sizes(self) -> tuple[int, ...]:
        return (self.max_pop_size,)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Counted(Problem):
    """`problem` whose state `(problem's state, rows)` also sums the rows it evaluated
    (`evo.run` needs no bounds of it: the algorithms take `problem`'s)."""

    problem: Problem
    n_var: int = dataclasses.field(init=False)
    n_obj: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_var", self.problem.n_var)
        object.__setattr__(self, "n_obj", self.problem.n_obj)

    def init_state(self, key: jax.Array) -> tuple[Any, jax.Array]:
        return self.problem.init_state(key), jnp.zeros((), jnp.int32)

    def evaluate_constrained_with_state(self, state, X):
        inner, rows = state
        F, G, inner = self.problem.evaluate_constrained_with_state(inner, X)
        return F, G, (inner, rows + X.shape[0])


def measure(
    algorithm: CMAES, problem: Counted, n_gen: int, chunk: int, repeats: int = 2
) -> dict[str, Any]:
    """Compile seconds, seconds per generation (the fastest of `repeats` runs), rows and
    active rows per generation, restarts and the best f."""
    key = jax.random.key(0)

    def run(generations: int) -> evo.Result:
        return evo.run(algorithm, problem, key, generations, chunk_size=chunk, progress=False,
                       record="none")

    start = time.perf_counter()
    run(1)
    compile_s = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(n_gen)
        seconds.append(time.perf_counter() - start)
    return {"compile": compile_s, "per_gen": min(seconds) / n_gen,
            "rows": int(result.problem_state[1]) / n_gen,
            "restarts": int(result.state.n_restarts), "best_f": float(result.state.best_f),
            "active": float(result.history["n_evals"][-1]) / n_gen}


def row(name: str, settings: dict[str, Any], problem: Counted, n_gen: int, chunk: int,
        unit: float, unit_name: str) -> str:
    """A table row: `settings` for CMAES run before (`EveryRow`) and now on `problem`."""
    before = measure(EveryRow(**settings), problem, n_gen, chunk)
    now = measure(CMAES(**settings), problem, n_gen, chunk)
    sizes = CMAES(**settings).row_sizes
    return (f"| {name} | {settings['restart']} | {', '.join(map(str, sizes))} | {n_gen} "
            f"| {now['restarts']} | {now['active']:.1f} | {before['rows']:.1f} "
            f"| {now['rows']:.1f} | {before['per_gen'] * unit:.3g} {unit_name} "
            f"| {now['per_gen'] * unit:.3g} {unit_name} | {before['compile']:.1f} "
            f"| {now['compile']:.1f} | {before['best_f']:.6g} | {now['best_f']:.6g} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=2000, help="Rastrigin generations")
    parser.add_argument("--brax-task", default="hopper", help="a one-objective robot task")
    parser.add_argument("--brax-generations", type=int, default=60, help="0: no Brax run")
    parser.add_argument("--episode-length", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=8, help="the policy's hidden width")
    parser.add_argument("--tolstagnation", type=int, default=10, help="for the Brax run")
    args = parser.parse_args()

    # The process's first compilation of a CMA-ES generation takes seconds longer.
    warm_up = Rastrigin(n_var=10)
    evo.run(CMAES(lb=warm_up.lb, ub=warm_up.ub, restart="ipop"), warm_up, jax.random.key(0), 1,
            chunk_size=1, progress=False)
    device = jax.devices()[0]
    print(f"{device.platform} ({device.device_kind}), jax {jax.__version__}, "
          f"{jax.local_device_count()} device(s)\n")
    print("| problem | restart | row sizes | generations | restarts | active rows/gen "
          "| rows/gen before | rows/gen now | time/gen before | time/gen now "
          "| compile s before | compile s now | best f before | best f now |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rastrigin = Rastrigin(n_var=10)
    for restart in ("ipop", "bipop"):
        settings = {"lb": rastrigin.lb, "ub": rastrigin.ub, "restart": restart}
        print(row("Rastrigin 10-D", settings, Counted(problem=rastrigin), args.generations, 100,
                  1e3, "ms"), flush=True)
    if args.brax_generations:
        robot = RobotControl(task=args.brax_task, episode_length=args.episode_length,
                             hidden=(args.hidden,))
        lambda0 = CMAES(lb=robot.lb, ub=robot.ub).lambda0
        settings = {"lb": robot.lb, "ub": robot.ub, "restart": "ipop",
                    "max_pop_size": int(8 * lambda0), "tolstagnation": args.tolstagnation}
        name = (f"Brax {args.brax_task}, {args.episode_length} steps, {robot.n_var} "
                "weights")
        print(row(name, settings, Counted(problem=robot), args.brax_generations, 10, 1.0, "s"),
              flush=True)


if __name__ == "__main__":
    main()
