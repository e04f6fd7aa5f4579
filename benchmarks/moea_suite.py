"""Every multi-objective algorithm against its reference implementation, on the standard suites.

    python benchmarks/moea_suite.py                                  # everything (hours)
    python benchmarks/moea_suite.py --algorithms nsga2 nsga3 --problems zdt1 dtlz2 --seeds 5
    python benchmarks/moea_suite.py --speed --pops 100 1000 10000     # time per generation

Quality: each algorithm and its reference (the implementation whose defaults evo took)
get the same population and the same number of evaluations on ZDT1-4 and ZDT6
(2 objectives, population 100), DTLZ1-4 and WFG1-9 (3 objectives, 91 Das-Dennis
directions and population 92, MOEA/D one subproblem per direction) and MW1-3 (constrained,
2 objectives), for `--seeds` seeds. Each prints median IGD of the final feasible rows
against evo's 1,000-point sample of the true front, median hypervolume (moocore) up to the
problem's reference point, the IGD ratio evo / reference, and the time per generation of
both (evo's excludes compilation: its first seed's run, which compiles, is not counted).
A cell whose reference is not installed is skipped and the table says so.

Every finished run is appended to `--results` (JSON lines) and found there again by a
later invocation, so an interrupted suite resumes where it stopped; `--fresh` starts over.

Speed (`--speed`): time per generation of both sides at `--pops` on DTLZ2 (3 objectives)
over `--speed-gens` generations, the reference skipped above `--peer-max-pop`.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import front_quality, machine  # noqa: E402

DIRECTIONS_3D = 12  # Das-Dennis partitions: 91 directions for 3 objectives
PROBLEMS: dict[str, tuple[int, int]] = {
    # name: (objectives, generations at the suite's population; the initial one counts)
    **{f"zdt{i}": (2, 200) for i in (1, 2, 3)},
    "zdt4": (2, 400),
    "zdt6": (2, 400),
    "dtlz1": (3, 400),
    "dtlz2": (3, 200),
    "dtlz3": (3, 1000),
    "dtlz4": (3, 600),
    **{f"wfg{i}": (3, 400) for i in range(1, 10)},
    **{f"mw{i}": (2, 400) for i in (1, 2, 3)},
}


@dataclass(frozen=True)
class Reference:
    """A reference implementation: its library and how to build its algorithm for a
    problem of `n_obj` objectives at population `pop`, with `ref_dirs` `(k, n_obj)`."""

    library: str
    make: Callable[[int, int, np.ndarray], Any]
    requires: tuple[str, ...] = ()  # further modules it imports (pymoo's AGEMOEA2: numba)


PYMOO_CLASSES = {
    # evo's name: (pymoo module under pymoo.algorithms.moo, class, built from directions)
    "nsga2": ("nsga2", "NSGA2", False), "smsemoa": ("sms", "SMSEMOA", False),
    "spea2": ("spea2", "SPEA2", False), "agemoea2": ("age2", "AGEMOEA2", False),
    "gde3": ("gde3", "GDE3", False), "nsga3": ("nsga3", "NSGA3", True),
    "unsga3": ("unsga3", "UNSGA3", True), "rvea": ("rvea", "RVEA", True),
    "moead": ("moead", "MOEAD", True),
}


def pymoo(name: str) -> Reference:
    module, class_name, from_directions = PYMOO_CLASSES[name]

    def make(n_obj: int, pop: int, ref_dirs: np.ndarray) -> Any:
        # Only this algorithm's module: pymoo's AGEMOEA2 needs numba at import.
        cls = getattr(importlib.import_module(f"pymoo.algorithms.moo.{module}"), class_name)
        if name == "moead":
            return cls(ref_dirs=ref_dirs, n_neighbors=20)
        if from_directions:
            return cls(ref_dirs=ref_dirs, pop_size=pop)
        return cls(pop_size=pop)

    return Reference("pymoo", make, ("numba",) if name == "agemoea2" else ())


REFERENCES: dict[str, Reference | None] = {
    **{name: pymoo(name) for name in PYMOO_CLASSES},
    # HypE's reference is PlatEMO's (MATLAB) and the tensorized HypE (EvoX, jax 0.4): it is
    # compared in speed.py's EvoX table, not here.
    "hype": None,
}
"""evo's registered name -> its reference, None where there is no Python one."""


def directions(n_obj: int, pop: int) -> np.ndarray:
    """The suite's directions (100 for 2 objectives, 91 for 3) up to population 100, else
    about `pop` of them (`evo.reference_directions`)."""
    import evo

    if pop <= 100:
        return evo.das_dennis(n_obj, 99 if n_obj == 2 else DIRECTIONS_3D)
    return evo.reference_directions(n_obj, pop)


def population(algorithm: str, n_obj: int) -> int:
    """The suite's population: 100 for 2 objectives, 92 for 3; MOEA/D's is its directions."""
    if algorithm == "moead":
        return len(directions(n_obj, 100))
    return 100 if n_obj == 2 else 92


def evo_problem(name: str) -> Any:
    from evo.problems import get_problem

    return get_problem(name) if PROBLEMS[name][0] == 2 else get_problem(name, n_obj=3)


def pymoo_problem(name: str, problem: Any) -> Any:
    from pymoo.problems import get_problem

    if name.startswith(("zdt", "mw")):
        return get_problem(name, n_var=problem.n_var)
    return get_problem(name, n_var=problem.n_var, n_obj=problem.n_obj)


def quality(F: np.ndarray, violation: np.ndarray, problem: Any) -> dict[str, float]:
    feasible = F[(violation <= 0) & np.all(np.isfinite(F), axis=1)]
    if len(feasible) == 0:
        return {"igd": float("inf"), "hv": 0.0}
    return front_quality(feasible, problem)


@functools.lru_cache(maxsize=None)
def evo_setup(algorithm: str, problem_name: str, pop: int, n_gen: int) -> tuple[Any, Any]:
    """evo's algorithm and problem, built once: algorithms compare by identity, and
    `evo.run` reuses its compilation only for the same objects."""
    from evo.registry import algorithm_class

    problem = evo_problem(problem_name)
    cls = algorithm_class(algorithm)
    settings: dict[str, Any] = {} if algorithm == "moead" else {"pop_size": pop}
    if "ref_dirs" in cls.__dataclass_fields__:
        settings["ref_dirs"] = directions(problem.n_obj, pop)
    if "n_gen" in cls.__dataclass_fields__:  # RVEA's penalty schedule
        settings["n_gen"] = n_gen
    return cls.for_problem(problem, **settings), problem


def run_evo(algorithm: str, problem_name: str, seed: int, pop: int, n_gen: int) -> dict:
    import jax

    import evo

    algo, problem = evo_setup(algorithm, problem_name, pop, n_gen)
    start = time.perf_counter()
    result = evo.run(algo, problem, jax.random.key(seed), n_gen, progress=False, record="none")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **quality(result.F, result.violation, problem)}


def run_reference(reference: Reference, problem_name: str, seed: int, pop: int,
                  n_gen: int) -> dict:
    from pymoo.optimize import minimize

    problem = evo_problem(problem_name)
    algorithm = reference.make(problem.n_obj, pop, directions(problem.n_obj, pop))
    start = time.perf_counter()
    result = minimize(pymoo_problem(problem_name, problem), algorithm, ("n_gen", n_gen),
                      seed=seed, verbose=False)
    seconds = time.perf_counter() - start
    F = result.pop.get("F")
    violation = result.pop.get("CV")
    violation = np.zeros(len(F)) if violation is None else np.ravel(violation)
    return {"seconds": seconds, **quality(F, violation, problem)}


class Results:
    """Finished runs, kept in a JSON-lines file so that a later invocation finds them."""

    def __init__(self, path: Path, fresh: bool):
        self.path = path
        self.runs: dict[str, dict] = {}
        if path.exists() and not fresh:
            for line in path.read_text().splitlines():
                run = json.loads(line)
                self.runs[run["id"]] = run
        elif fresh and path.exists():
            path.unlink()

    def get(self, run_id: str, compute: Callable[[], dict]) -> dict:
        if run_id not in self.runs:
            run = {"id": run_id, **compute()}
            with self.path.open("a") as out:
                out.write(json.dumps(run) + "\n")
            self.runs[run_id] = run
        return self.runs[run_id]


def missing_library(reference: Reference) -> str | None:
    for library in (reference.library, *reference.requires):
        try:
            __import__(library)
        except ImportError:
            return f"{library} not installed"
    return None


def median(runs: list[dict], field: str) -> float:
    return float(np.median([run[field] for run in runs]))


def per_generation_ms(runs: list[dict], n_gen: int, skip_first: bool) -> float:
    """Median wall time per generation; evo's first run, which compiles, is left out when
    there are others."""
    timed = runs[1:] if skip_first and len(runs) > 1 else runs
    return 1000 * median(timed, "seconds") / n_gen


def quality_table(args: argparse.Namespace, results: Results) -> None:
    print("| problem | algorithm | reference | evo IGD | ref IGD | IGD evo / ref | evo HV | ref HV"
          " | evo ms/gen | ref ms/gen | ref / evo time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for problem_name in args.problems:
        n_obj, n_gen = PROBLEMS[problem_name]
        for algorithm in args.algorithms:
            pop = population(algorithm, n_obj)
            ours = [results.get(f"evo/{algorithm}/{problem_name}/{pop}x{n_gen}/{seed}",
                                lambda s=seed: run_evo(algorithm, problem_name, s, pop, n_gen))
                    for seed in range(args.seeds)]
            ours_ms = per_generation_ms(ours, n_gen, skip_first=True)
            reference = REFERENCES.get(algorithm)
            why = "no Python reference" if reference is None else missing_library(reference)
            cells = [problem_name, algorithm, "-" if reference is None else reference.library,
                     f"{median(ours, 'igd'):.4g}"]
            if why:
                cells += [why, "", f"{median(ours, 'hv'):.4g}", "", f"{ours_ms:.2f}", "", ""]
            else:
                theirs = [results.get(
                    f"{reference.library}/{algorithm}/{problem_name}/{pop}x{n_gen}/{seed}",
                    lambda s=seed: run_reference(reference, problem_name, s, pop, n_gen))
                    for seed in range(args.seeds)]
                theirs_ms = per_generation_ms(theirs, n_gen, skip_first=False)
                cells += [f"{median(theirs, 'igd'):.4g}",
                          f"{median(ours, 'igd') / median(theirs, 'igd'):.2f}",
                          f"{median(ours, 'hv'):.4g}", f"{median(theirs, 'hv'):.4g}",
                          f"{ours_ms:.2f}", f"{theirs_ms:.2f}", f"{theirs_ms / ours_ms:.2g}x"]
            print("| " + " | ".join(cells) + " |", flush=True)


def speed_table(args: argparse.Namespace, results: Results) -> None:
    n_gen = args.speed_gens
    print("| algorithm | pop | evo ms/gen | ref ms/gen | ref / evo | evo IGD | ref IGD |")
    print("|---|---|---|---|---|---|---|")
    for algorithm in args.algorithms:
        for pop in args.pops:
            # Two evo runs: the first compiles, the second is timed.
            ours = [results.get(f"speed/evo/{algorithm}/dtlz2/{pop}x{n_gen}/{seed}",
                                lambda s=seed: run_evo(algorithm, "dtlz2", s, pop, n_gen))
                    for seed in range(2)]
            ours_ms = per_generation_ms(ours, n_gen, skip_first=True)
            reference = REFERENCES.get(algorithm)
            why = "no Python reference" if reference is None else missing_library(reference)
            if why is None and pop > args.peer_max_pop:
                why = f"not run above {args.peer_max_pop}"
            cells = [algorithm, str(pop), f"{ours_ms:.2f}"]
            if why:
                cells += [why, "", f"{ours[-1]['igd']:.4g}", ""]
            else:
                theirs = results.get(
                    f"speed/{reference.library}/{algorithm}/dtlz2/{pop}x{n_gen}/0",
                    lambda: run_reference(reference, "dtlz2", 0, pop, n_gen))
                theirs_ms = 1000 * theirs["seconds"] / n_gen
                cells += [f"{theirs_ms:.2f}", f"{theirs_ms / ours_ms:.2g}x",
                          f"{ours[-1]['igd']:.4g}", f"{theirs['igd']:.4g}"]
            print("| " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algorithms", nargs="+", default=list(REFERENCES),
                        choices=list(REFERENCES))
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--speed", action="store_true", help="the speed table instead")
    parser.add_argument("--pops", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--speed-gens", type=int, default=20)
    parser.add_argument("--peer-max-pop", type=int, default=1000)
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).with_name("moea_suite_runs.jsonl"))
    parser.add_argument("--fresh", action="store_true", help="forget earlier runs")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")

    results = Results(args.results, args.fresh)
    print(f"# {machine()}; runs kept in {args.results}\n")
    (speed_table if args.speed else quality_table)(args, results)


if __name__ == "__main__":
    main()
