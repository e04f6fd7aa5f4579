"""IPOP CMA-ES on COCO's bbob suite: evo against pycma, through COCO's own harness.

    python benchmarks/coco.py --out coco-results                       # d = 2, 5, 10, 20
    python benchmarks/coco.py --out coco-results --dims 5 --solvers evo --float32
    python benchmarks/coco.py --out coco-results --dims 5 --table      # tables only

Every (function, instance) pair of `cocoex.Suite("bbob", ...)` (functions 1-24, instances
1-5 unless `--functions` / `--instances` say otherwise) is solved by each solver with IPOP
restarts (population doubled at each restart), on the box [-5, 5]^d, with a budget of
2000 d evaluations; a run stops at COCO's final target f_opt + 1e-8 (`final_target_hit`)
or at the budget. Every evaluation goes through the COCO problem object, observed by a
`cocoex.Observer`, so `OUT/exdata/<solver>_d<dims>_s<seeds>` is COCO's standard output
folder, ready for `python -m cocopp OUT/exdata/*`. Both solvers start each run from a
mean drawn uniformly in the box with sigma0 = `--sigma0`; pycma (float64) runs
`cma.fmin2` with its defaults (BoundTransform for the box), evo runs a hand-written loop of
jitted `ask` / `tell` in which only the active rows of `ask` (the first `state.lam`) are
evaluated.

`--float32` runs evo with JAX's default float32 state: the algorithm is told the values of
`evo.problems.BBOB(..., subtract_optimum=True)` at the float32 points, computed in float32,
while COCO evaluates (and records) the same points in float64.

`--seeds 1 2 3` solves every pair once per seed (COCO records them as repeated trials of
the instance). Each solver's results (evaluations to the target per pair and seed, or
null) are written to `OUT/<solver>.json`; the tables at the end are computed from every
such file in `OUT`, so runs made by separate invocations (float32 and float64 need
separate processes) are compared. Per dimension: runs solved by each solver, the runs
solved by it alone and by the reference alone with McNemar's z for the paired difference,
the median evaluations of each on the runs (pair and seed) both solved, and their ratio,
against the reference `--reference` (default pycma's run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

# pycma's small linear algebra only loses from BLAS threads on a shared machine.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

BUDGET_MULTIPLIER = 2000
TARGET = 1e-8


def index_list(text: str) -> list[int]:
    """`"1-3,7"` -> `[1, 2, 3, 7]`."""
    out = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    return out


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, required=True, help="output directory")
parser.add_argument("--dims", type=int, nargs="+", default=[2, 5, 10, 20])
parser.add_argument("--functions", type=index_list, default=index_list("1-24"))
parser.add_argument("--instances", type=index_list, default=index_list("1-5"))
parser.add_argument("--solvers", nargs="+", default=["pycma", "evo"], choices=["pycma", "evo"])
parser.add_argument("--float32", action="store_true", help="evo in float32 (module docs)")
parser.add_argument("--boundary", default="linquad", help="evo's CMAES(boundary=...)")
parser.add_argument("--sigma0", type=float, default=2.0)
parser.add_argument("--seeds", type=int, nargs="+", default=[1])
parser.add_argument("--reference", default="pycma-ipop", help="solver the ratios refer to")
parser.add_argument("--table", action="store_true", help="print the tables of OUT only")
parser.add_argument("--per-function", action="store_true", help="also a table per function")
ARGS = parser.parse_args()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", not ARGS.float32)

import cma  # noqa: E402
import cocoex  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from evo import CMAES  # noqa: E402
from evo.problems import BBOB  # noqa: E402


class Tracker:
    """A COCO problem as an objective that remembers the evaluations at the first hit of
    COCO's final target."""

    def __init__(self, problem):
        self.problem = problem
        self.hit_at = None

    def __call__(self, x: np.ndarray) -> float:
        f = self.problem(x)
        if self.hit_at is None and self.problem.final_target_hit:
            self.hit_at = self.problem.evaluations
        return f

    @property
    def done(self) -> bool:
        return self.hit_at is not None or self.problem.evaluations >= budget(self.problem)


def budget(problem) -> int:
    return BUDGET_MULTIPLIER * problem.dimension


def seed_of(problem, seed: int) -> int:
    return (10_000_000 * seed + 100_000 * problem.dimension + 100 * problem.id_function
            + problem.id_instance)


def solve_pycma(tracker: Tracker, seed: int) -> None:
    problem = tracker.problem
    d = problem.dimension
    rng = np.random.default_rng(seed_of(problem, seed))
    options = {
        "bounds": [-5, 5], "maxfevals": budget(problem), "seed": seed_of(problem, seed),
        "verbose": -9, "termination_callback": [lambda es: tracker.hit_at is not None],
    }
    cma.fmin2(tracker, lambda: rng.uniform(-5, 5, d), ARGS.sigma0, options, restarts=999,
              incpopsize=2, bipop=False)


class EvoSolver:
    """evo's IPOP CMA-ES for one dimension: `ask` and `tell` compiled once."""

    def __init__(self, d: int):
        self.algorithm = CMAES(lb=np.full(d, -5.0), ub=np.full(d, 5.0), restart="ipop",
                               sigma0=ARGS.sigma0, boundary=ARGS.boundary)
        self.ask = jax.jit(self.algorithm.ask)
        self.tell = jax.jit(self.algorithm.tell)
        self.dtype = jnp.result_type(float)
        self.largest = 0

    def __call__(self, tracker: Tracker, seed: int) -> None:
        problem = tracker.problem
        evo_problem = BBOB(n_var=problem.dimension, function=problem.id_function,
                           instance=problem.id_instance, subtract_optimum=True)
        evaluate = jax.jit(evo_problem.evaluate) if ARGS.float32 else None
        state = self.algorithm.init(jax.random.key(seed_of(problem, seed)))
        F = np.full(self.algorithm.max_pop_size, np.inf)
        while not tracker.done:
            X, state = self.ask(state)
            lam = int(state.lam)
            self.largest = max(self.largest, lam)
            rows = np.asarray(X[:lam], dtype=np.float64)
            coco = [tracker(x) for x in rows]
            if evaluate is None:
                F[:lam] = coco
            else:
                F[:lam] = np.asarray(evaluate(X[:lam]))[:, 0]
            state = self.tell(state, jnp.asarray(F, self.dtype))


def solver_name(name: str) -> str:
    if name == "pycma":
        return "pycma-ipop"
    return f"evo-ipop-{ARGS.boundary}-{'f32' if ARGS.float32 else 'f64'}"


def run_solver(name: str) -> None:
    label = solver_name(name)
    path = ARGS.out / f"{label}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    # One folder per solver, dimensions and seeds, replaced when the same run is repeated.
    folder_name = f"{label}_d{'-'.join(map(str, ARGS.dims))}_s{'-'.join(map(str, ARGS.seeds))}"
    shutil.rmtree(ARGS.out / "exdata" / folder_name, ignore_errors=True)
    # COCO writes to exdata/<result_folder> below the working directory.
    cwd = os.getcwd()
    os.chdir(ARGS.out)
    try:
        observer = cocoex.Observer("bbob", f"result_folder: {folder_name} "
                                           f"algorithm_name: {label}")
        for d in ARGS.dims:
            solve = solve_pycma if name == "pycma" else EvoSolver(d)
            start = time.perf_counter()
            for seed in ARGS.seeds:
                suite = cocoex.Suite(
                    "bbob", f"instances: {','.join(map(str, ARGS.instances))}",
                    f"dimensions: {d} function_indices: {','.join(map(str, ARGS.functions))}",
                )
                for problem in suite:
                    problem.observe_with(observer)
                    tracker = Tracker(problem)
                    solve(tracker, seed)
                    results[run_key(problem.id_function, problem.id_instance, d, seed)] = (
                        tracker.hit_at)
                    problem.free()
            note = f", largest lambda {solve.largest}" if name == "evo" else ""
            print(f"{label} d={d}: {time.perf_counter() - start:.0f} s{note}", file=sys.stderr)
            # After each dimension, so that an interrupted run keeps the finished ones.
            path.write_text(json.dumps(results, indent=0, sort_keys=True))
    finally:
        os.chdir(cwd)


def load_results() -> dict[str, dict[str, int | None]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(ARGS.out.glob("*.json"))}


def run_key(function: int, instance: int, d: int, seed: int) -> str:
    return f"bbob_f{function:03d}_i{instance:02d}_d{d:02d}_s{seed}"


def median(values: list[int]) -> float:
    return float(np.median(values)) if values else float("nan")


def mcnemar_z(ours_only: int, theirs_only: int) -> float:
    """McNemar's statistic for paired successes: (b - c) / sqrt(b + c) over the runs that
    exactly one of two solvers solved; |z| < 1.96 is no difference at the 5% level."""
    discordant = ours_only + theirs_only
    return (ours_only - theirs_only) / np.sqrt(discordant) if discordant else 0.0


def print_tables(all_results: dict[str, dict[str, int | None]]) -> None:
    reference = all_results.get(ARGS.reference)
    print(f"\nbbob, instances {ARGS.instances[0]}-{ARGS.instances[-1]}, seeds "
          f"{' '.join(map(str, ARGS.seeds))}, budget {BUDGET_MULTIPLIER} d, target f_opt + "
          f"{TARGET:g}; medians over the runs solved by both the solver and {ARGS.reference}\n")
    print("| d | solver | runs solved | both solved | solver only | reference only | McNemar z "
          "| median evals | reference median | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in ARGS.dims:
        keys = [run_key(f, i, d, s) for f in ARGS.functions for i in ARGS.instances
                for s in ARGS.seeds]
        for label, results in all_results.items():
            if not all(key in results for key in keys):
                continue
            solved = [key for key in keys if results[key] is not None]
            row = f"| {d} | {label} | {len(solved)}/{len(keys)} |"
            if label == ARGS.reference or not all(key in (reference or {}) for key in keys):
                print(row + " |" * 7)
                continue
            both = [key for key in solved if reference[key] is not None]
            ours_only = len(solved) - len(both)
            theirs_only = sum(reference[key] is not None for key in keys) - len(both)
            ours = median([results[key] for key in both])
            theirs = median([reference[key] for key in both])
            print(f"{row} {len(both)} | {ours_only} | {theirs_only} | "
                  f"{mcnemar_z(ours_only, theirs_only):+.2f} | {ours:.0f} | {theirs:.0f} | "
                  f"{ours / theirs:.3f} |")
    if ARGS.per_function:
        print_per_function(all_results)


def print_per_function(all_results: dict[str, dict[str, int | None]]) -> None:
    """Per function and dimension: runs solved and their median evaluations, per solver."""
    labels = list(all_results)
    print("\n| d | f | " + " | ".join(labels) + " |")
    print("|---|---|" + "---|" * len(labels))
    for d in ARGS.dims:
        for f in ARGS.functions:
            keys = [run_key(f, i, d, s) for i in ARGS.instances for s in ARGS.seeds]
            cells = []
            for label in labels:
                results = all_results[label]
                if not all(key in results for key in keys):
                    cells.append("")
                    continue
                hits = [results[key] for key in keys if results[key] is not None]
                cells.append(f"{len(hits)}: {median(hits):.0f}" if hits else "0")
            print(f"| {d} | {f} | " + " | ".join(cells) + " |")


ARGS.out = ARGS.out.resolve()
ARGS.out.mkdir(parents=True, exist_ok=True)
if not ARGS.table:
    for name in ARGS.solvers:
        run_solver(name)
print_tables(load_results())
