"""Every multi-objective algorithm against its reference implementation, on the standard suites.

    python benchmarks/moea_suite.py                                  # everything (hours)
    python benchmarks/moea_suite.py --algorithms nsga2 nsga3 --problems zdt1 dtlz2 --seeds 5
    python benchmarks/moea_suite.py --speed --pops 100 1000 10000     # time per generation
    python benchmarks/moea_suite.py --large-scale                     # LMOCSO on LSMOP1-9

Quality: each algorithm and its reference (the implementation whose defaults evo took)
get the same population and the same number of evaluations on ZDT1-4 and ZDT6
(2 objectives, population 100), DTLZ1-4 and WFG1-9 (3 objectives, 91 Das-Dennis
directions and population 92, MOEA/D one subproblem per direction) and MW1-3 (constrained,
2 objectives), for `--seeds` seeds. Each prints median IGD of the final feasible rows
against evo's 1,000-point sample of the true front, median hypervolume (moocore) up to the
problem's reference point, the IGD ratio evo / reference, and the time per generation of
both (evo's excludes compilation: its first seed's run, which compiles, is not counted).
A cell whose reference is not installed is skipped and the table says so; a reference
run that raises is kept as that error, and its cell gives the error instead of a ratio.

Every finished run is appended to `--results` (JSON lines) and found there again by a
later invocation, so an interrupted suite resumes where it stopped; `--fresh` starts over,
and `--table-only` prints the rows whose runs are all there without running anything.

Speed (`--speed`): time per generation of both sides at `--pops` on DTLZ2 (3 objectives)
over `--speed-gens` generations, the reference skipped above `--peer-max-pop`.

Large scale (`--large-scale`): LMOCSO, whose reference is PlatEMO's (MATLAB), against
NSGA-II at the same population and budget on LSMOP1-9 with 1,000 variables and 2
objectives (100 rows, 1,000 generations), the comparison of LMOCSO's paper.
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
    """A reference implementation: its library and a function running it on a problem
    (`(problem_name, seed, pop, n_gen) -> (F, violation)`, the final population's
    objectives `(n, m)` and total constraint violations `(n,)`)."""

    library: str
    run: Callable[[str, int, int, int], tuple[np.ndarray, np.ndarray]]
    requires: tuple[str, ...] = ()  # further modules it imports (pymoo's AGEMOEA2: numba)
    constraints: bool = True  # whether it takes constrained problems


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

    def run(problem_name: str, seed: int, pop: int, n_gen: int):
        from pymoo.optimize import minimize

        problem = evo_problem(problem_name)
        ref_dirs = directions(problem.n_obj, pop)
        # Only this algorithm's module: pymoo's AGEMOEA2 needs numba at import.
        cls = getattr(importlib.import_module(f"pymoo.algorithms.moo.{module}"), class_name)
        if name == "moead":
            algorithm = cls(ref_dirs=ref_dirs, n_neighbors=20)
        elif from_directions:
            algorithm = cls(ref_dirs=ref_dirs, pop_size=pop)
        else:
            algorithm = cls(pop_size=pop)
        result = minimize(pymoo_problem(problem_name, problem), algorithm, ("n_gen", n_gen),
                          seed=seed, verbose=False)
        F = result.pop.get("F")
        violation = result.pop.get("CV")
        return F, np.zeros(len(F)) if violation is None else np.ravel(violation)

    return Reference("pymoo", run, ("numba",) if name == "agemoea2" else (),
                     constraints=name != "moead")


def jmetal_problem(problem_name: str) -> Any:
    """The suite's problem as a jmetalpy `FloatProblem`, evaluated one solution at a time
    by pymoo's implementation; pymoo's constraints `g <= 0` become jmetalpy's `-g >= 0`."""
    from jmetal.core.problem import FloatProblem

    problem = evo_problem(problem_name)
    reference = pymoo_problem(problem_name, problem)

    class Adapted(FloatProblem):
        def __init__(self):
            super().__init__()
            self.lower_bound = [float(v) for v in problem.lb]
            self.upper_bound = [float(v) for v in problem.ub]

        def number_of_objectives(self) -> int:
            return problem.n_obj

        def number_of_constraints(self) -> int:
            return problem.n_constr

        def name(self) -> str:
            return problem_name

        def evaluate(self, solution):
            x = np.asarray(solution.variables)[None]
            out = reference.evaluate(x, return_as_dictionary=True)
            solution.objectives = [float(f) for f in out["F"][0]]
            if problem.n_constr:
                solution.constraints = [float(-g) for g in np.ravel(out["G"][0])]
            return solution

    return Adapted()


def jmetal_violation(solutions: list) -> np.ndarray:
    """Total violation `(n,)` of jmetalpy solutions (their constraints hold `-g`)."""
    return np.array([sum(max(-c, 0.0) for c in s.constraints) for s in solutions], float)


def jmetalpy(name: str) -> Reference:
    """jmetalpy 1.9's IBEA, MOEAD (the DE variant of its examples) or SMPSO with the
    settings evo's class documents as its reference, stopped at `pop * n_gen` evaluations."""

    def run(problem_name: str, seed: int, pop: int, n_gen: int):
        import logging
        import random
        import tempfile

        from jmetal.operator.mutation import PolynomialMutation
        from jmetal.util.termination_criterion import StoppingByEvaluations

        logging.getLogger("jmetal").setLevel(logging.WARNING)
        problem = jmetal_problem(problem_name)
        if name in DECOMPOSITION:  # one subproblem per direction, as evo's
            pop = len(directions(problem.number_of_objectives(), pop))
        n_var = problem.number_of_variables()
        mutation = PolynomialMutation(probability=1.0 / n_var, distribution_index=20)
        stop = StoppingByEvaluations(max_evaluations=pop * n_gen)
        random.seed(seed)
        np.random.seed(seed)
        with tempfile.TemporaryDirectory() as weights_dir:
            algorithm = JMETAL_BUILDERS[name](problem, pop, mutation, stop, weights_dir)
            algorithm.run()
        solutions = algorithm.result()
        return np.array([s.objectives for s in solutions]), jmetal_violation(solutions)

    return Reference("jmetal", run)


class PointEpsilon:
    """jmetalpy 1.9.0's `EpsilonIndicator(reference).compute(front)` for one point each,
    `max(front - reference)` over the objectives, taking the lists its IBEA passes (the
    released class needs arrays, so jmetalpy's IBEA fails without this)."""

    def __init__(self, reference):
        self.reference = reference[0]

    def compute(self, front):
        return max(s - r for s, r in zip(front[0], self.reference))


def distinct_parents_sbx(**settings):
    """jmetalpy's `SBXCrossover(**settings)`, except that a solution paired with itself is
    copied first: `copy.deepcopy([p, p])` returns one object twice."""
    import copy

    from jmetal.operator.crossover import SBXCrossover

    class DistinctParentsSBX(SBXCrossover):
        def execute(self, parents):
            if parents[0] is parents[1]:
                parents = [parents[0], copy.deepcopy(parents[1])]
            return super().execute(parents)

    return DistinctParentsSBX(**settings)


def jmetal_ibea(problem, pop, mutation, stop, weights_dir):
    """IBEA (kappa 0.05, SBX 1.0 / 20) with two repairs evo's IBEA documents: the epsilon
    indicator takes the lists IBEA passes (`PointEpsilon`), and a solution paired with
    itself is copied before SBX (`distinct_parents_sbx`; otherwise one object sits in the
    population twice)."""
    from jmetal.algorithm.multiobjective import ibea

    ibea.EpsilonIndicator = PointEpsilon
    return ibea.IBEA(problem=problem, kappa=0.05, population_size=pop,
                     offspring_population_size=pop, mutation=mutation,
                     crossover=distinct_parents_sbx(probability=1.0, distribution_index=20),
                     termination_criterion=stop)


def jmetal_moead_de(problem, pop, mutation, stop, weights_dir):
    """MOEA/D-DE (DE CR 1, F 0.5; Tschebycheff; T 20; delta 0.9; nr 2) on the suite's
    directions, written to the weight file jmetalpy reads for 3 and more objectives."""
    from jmetal.algorithm.multiobjective.moead import MOEAD
    from jmetal.operator.crossover import DifferentialEvolutionCrossover
    from jmetal.util.aggregation_function import Tschebycheff

    m = problem.number_of_objectives()
    np.savetxt(Path(weights_dir) / f"W{m}D_{pop}.dat", directions(m, pop))
    return MOEAD(problem=problem, population_size=pop,
                 crossover=DifferentialEvolutionCrossover(CR=1.0, F=0.5), mutation=mutation,
                 aggregation_function=Tschebycheff(dimension=m),
                 neighbourhood_selection_probability=0.9, max_number_of_replaced_solutions=2,
                 neighbor_size=20, weight_files_path=weights_dir, termination_criterion=stop)


def jmetal_smpso(problem, pop, mutation, stop, weights_dir):
    """SMPSO with a crowding-distance leader archive as large as the swarm."""
    from jmetal.algorithm.multiobjective.smpso import SMPSO
    from jmetal.util.archive import CrowdingDistanceArchive

    return SMPSO(problem=problem, swarm_size=pop, mutation=mutation,
                 leaders=CrowdingDistanceArchive(pop), termination_criterion=stop)


JMETAL_BUILDERS = {"ibea": jmetal_ibea, "moead-de": jmetal_moead_de, "smpso": jmetal_smpso}


def deap_mo_cma_es_parents(objectives: Callable[[np.ndarray], np.ndarray], lb: np.ndarray,
                           ub: np.ndarray, n_obj: int, mu: int, n_gen: int, seed: int,
                           sigma: float, indicator: Callable | None = None) -> np.ndarray:
    """DEAP's `cma.StrategyMultiObjective` ((mu + mu)) on `objectives` (`(n, n_var)` ->
    `(n, n_obj)`) in the box, its final parents `(mu, n_var)` clipped to the box. A point
    outside the box is evaluated at its closest point in it plus 1e6 times the squared
    distance (DEAP's example; evo's MOCMAES does the same). The first of the `n_gen`
    generations evaluates the uniform initial parents (NumPy's global seed `seed`);
    `indicator`: DEAP's least-contributor function, DEAP's own by default."""
    from deap import base, cma

    class Fitness(base.Fitness):
        weights = (-1.0,) * n_obj

    class Individual(list):
        def __init__(self, x):
            super().__init__(x)
            self.fitness = Fitness()

    def evaluate(individuals):
        X = np.asarray(individuals, float)
        inside = np.clip(X, lb, ub)
        scores = objectives(inside) + 1e6 * np.sum((X - inside) ** 2, 1)[:, None]
        for individual, score in zip(individuals, scores):
            individual.fitness.values = tuple(score)

    np.random.seed(seed)
    parents = [Individual(x) for x in np.random.uniform(lb, ub, (mu, len(lb)))]
    evaluate(parents)
    settings = {} if indicator is None else {"indicator": indicator}
    strategy = cma.StrategyMultiObjective(parents, sigma=sigma, mu=mu, lambda_=mu, **settings)
    for _ in range(n_gen - 1):
        offspring = strategy.generate(Individual)
        evaluate(offspring)
        strategy.update(offspring)
    return np.clip(np.asarray(strategy.parents, float), lb, ub)


def exact_least_contributor(front: list, ref: np.ndarray) -> int:
    """DEAP's `indicator` interface (the index of the least contributor of a front of
    individuals) from moocore's exact hypervolume contributions; DEAP's own takes each as
    a difference of two hypervolumes, which cancels once a far point has moved `ref`."""
    import moocore

    F = -np.array([individual.fitness.wvalues for individual in front])
    return int(np.argmin(moocore.hv_contributions(F, ref=ref)))


def deap_mo_cma_es(problem_name: str, seed: int, pop: int, n_gen: int):
    """DEAP's MO-CMA-ES with exact contributions, sigma 0.3 x the mean box width as evo's
    default, on pymoo's implementation of the problem."""
    problem = evo_problem(problem_name)
    reference = pymoo_problem(problem_name, problem)
    lb, ub = np.asarray(problem.lb, float), np.asarray(problem.ub, float)

    def objectives(X):
        return reference.evaluate(X, return_values_of=["F"])

    X = deap_mo_cma_es_parents(objectives, lb, ub, problem.n_obj, pop, n_gen, seed,
                               0.3 * float(np.mean(ub - lb)), exact_least_contributor)
    return objectives(X), np.zeros(len(X))


REFERENCES: dict[str, Reference | None] = {
    **{name: pymoo(name) for name in PYMOO_CLASSES},
    **{name: jmetalpy(name) for name in JMETAL_BUILDERS},
    "mocmaes": Reference("deap", deap_mo_cma_es, ("moocore",), constraints=False),
    # HypE's reference is PlatEMO's (MATLAB) and the tensorized HypE (EvoX, jax 0.4): it is
    # compared in speed.py's EvoX table, not here. LMOCSO's is PlatEMO's.
    "hype": None,
    "lmocso": None,
}
"""evo's registered name -> its reference, None where there is no Python one."""


def directions(n_obj: int, pop: int) -> np.ndarray:
    """The suite's directions (100 for 2 objectives, 91 for 3) up to population 100, else
    about `pop` of them (`evo.reference_directions`)."""
    import evo

    if pop <= 100:
        return evo.das_dennis(n_obj, 99 if n_obj == 2 else DIRECTIONS_3D)
    return evo.reference_directions(n_obj, pop)


DECOMPOSITION = ("moead", "moead-de")  # one subproblem per direction


def population(algorithm: str, n_obj: int) -> int:
    """The suite's population: 100 for 2 objectives, 92 for 3; MOEA/D's (and MOEA/D-DE's)
    is its directions."""
    if algorithm in DECOMPOSITION:
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
    settings: dict[str, Any] = {} if algorithm in DECOMPOSITION else {"pop_size": pop}
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
    start = time.perf_counter()
    try:
        F, violation = reference.run(problem_name, seed, pop, n_gen)
    except Exception as error:  # the reference's own defect: kept as the run's result
        return {"error": f"{type(error).__name__}: {error}"}
    seconds = time.perf_counter() - start
    problem = evo_problem(problem_name)
    return {"seconds": seconds, **quality(np.asarray(F, float), violation, problem)}


class NotRun(LookupError):
    """A run the results file lacks, asked for by a `--table-only` invocation."""


class Results:
    """Finished runs, kept in a JSON-lines file so that a later invocation finds them.
    With `run_missing=False`, asking for a run the file lacks raises `NotRun`."""

    def __init__(self, path: Path, fresh: bool, run_missing: bool = True):
        self.path = path
        self.run_missing = run_missing
        self.runs: dict[str, dict] = {}
        if path.exists() and not fresh:
            for line in path.read_text().splitlines():
                run = json.loads(line)
                self.runs[run["id"]] = run
        elif fresh and path.exists():
            path.unlink()

    def get(self, run_id: str, compute: Callable[[], dict]) -> dict:
        if run_id not in self.runs:
            if not self.run_missing:
                raise NotRun(run_id)
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


def quality_row(args: argparse.Namespace, results: Results, problem_name: str,
                algorithm: str) -> list[str]:
    """The quality table's cells for one algorithm on one problem."""
    n_obj, n_gen = PROBLEMS[problem_name]
    pop = population(algorithm, n_obj)
    ours = [results.get(f"evo/{algorithm}/{problem_name}/{pop}x{n_gen}/{seed}",
                        lambda s=seed: run_evo(algorithm, problem_name, s, pop, n_gen))
            for seed in range(args.seeds)]
    ours_ms = per_generation_ms(ours, n_gen, skip_first=True)
    reference = REFERENCES.get(algorithm)
    why = "no Python reference" if reference is None else missing_library(reference)
    if why is None and evo_problem(problem_name).n_constr and not reference.constraints:
        why = f"{reference.library}'s takes no constraints"
    cells = [problem_name, algorithm, "-" if reference is None else reference.library,
             f"{median(ours, 'igd'):.4g}"]
    if why is None:
        theirs = [results.get(
            f"{reference.library}/{algorithm}/{problem_name}/{pop}x{n_gen}/{seed}",
            lambda s=seed: run_reference(reference, problem_name, s, pop, n_gen))
            for seed in range(args.seeds)]
        failed = [(seed, run["error"]) for seed, run in enumerate(theirs) if "error" in run]
        if failed:
            why = (f"{reference.library} fails on {len(failed)} of {args.seeds} seeds "
                   f"(seed {failed[0][0]}: {failed[0][1]})")
    if why:
        return cells + [why, "", f"{median(ours, 'hv'):.4g}", "", f"{ours_ms:.2f}", "", ""]
    theirs_ms = per_generation_ms(theirs, n_gen, skip_first=False)
    return cells + [f"{median(theirs, 'igd'):.4g}",
                    f"{median(ours, 'igd') / median(theirs, 'igd'):.2f}",
                    f"{median(ours, 'hv'):.4g}", f"{median(theirs, 'hv'):.4g}",
                    f"{ours_ms:.2f}", f"{theirs_ms:.2f}", f"{theirs_ms / ours_ms:.2g}x"]


def quality_table(args: argparse.Namespace, results: Results) -> None:
    print("| problem | algorithm | reference | evo IGD | ref IGD | IGD evo / ref | evo HV | ref HV"
          " | evo ms/gen | ref ms/gen | ref / evo time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for problem_name in args.problems:
        for algorithm in args.algorithms:
            try:
                cells = quality_row(args, results, problem_name, algorithm)
            except NotRun:
                continue
            print("| " + " | ".join(cells) + " |", flush=True)


def speed_table(args: argparse.Namespace, results: Results) -> None:
    n_gen, problem = args.speed_gens, args.speed_problem
    print(f"{problem}, {n_gen} generations\n")
    print("| algorithm | pop | evo ms/gen | ref ms/gen | ref / evo | evo IGD | ref IGD |")
    print("|---|---|---|---|---|---|---|")
    for algorithm in args.algorithms:
        for pop in args.pops:
            # Two evo runs: the first compiles, the second is timed.
            ours = [results.get(f"speed/evo/{algorithm}/{problem}/{pop}x{n_gen}/{seed}",
                                lambda s=seed: run_evo(algorithm, problem, s, pop, n_gen))
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
                    f"speed/{reference.library}/{algorithm}/{problem}/{pop}x{n_gen}/0",
                    lambda: run_reference(reference, problem, 0, pop, n_gen))
                theirs_ms = 1000 * theirs["seconds"] / n_gen
                cells += [f"{theirs_ms:.2f}", f"{theirs_ms / ours_ms:.2g}x",
                          f"{ours[-1]['igd']:.4g}", f"{theirs['igd']:.4g}"]
            print("| " + " | ".join(cells) + " |", flush=True)


LARGE_SCALE = {"n_var": 1000, "n_obj": 2, "n_gen": 1000}  # 100 rows: 100,000 evaluations


def run_large_scale(algorithm: str, k: int, seed: int) -> dict:
    """LMOCSO or NSGA-II (at LMOCSO's population) on LSMOP`k` with `LARGE_SCALE`'s size."""
    import jax

    import evo

    problem, algo = large_scale_problem(k), large_scale_algorithm(algorithm, k)
    start = time.perf_counter()
    result = evo.run(algo, problem, jax.random.key(seed), LARGE_SCALE["n_gen"],
                     progress=False, record="none")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **quality(result.F, result.violation, problem)}


@functools.lru_cache(maxsize=None)
def large_scale_algorithm(algorithm: str, k: int) -> Any:
    """LMOCSO, or NSGA-II at LMOCSO's population, for LSMOP`k`, built once so that
    `evo.run` reuses its compilation over seeds."""
    import evo

    problem = large_scale_problem(k)
    lmocso = evo.LMOCSO.for_problem(problem, n_gen=LARGE_SCALE["n_gen"])
    if algorithm == "lmocso":
        return lmocso
    return evo.NSGA2.for_problem(problem, pop_size=lmocso.pop_size)


@functools.lru_cache(maxsize=None)
def large_scale_problem(k: int) -> Any:
    import evo

    return getattr(evo.problems, f"LSMOP{k}")(n_var=LARGE_SCALE["n_var"],
                                              n_obj=LARGE_SCALE["n_obj"])


def large_scale_table(args: argparse.Namespace, results: Results) -> None:
    """LMOCSO against NSGA-II at the same budget on LSMOP1-9 (LMOCSO's paper reports it
    ahead on most of them; there is no Python LMOCSO to compare with)."""
    size = "{n_var}x{n_obj}x{n_gen}".format(**LARGE_SCALE)
    print("| problem | LMOCSO IGD | NSGA-II IGD | LMOCSO / NSGA-II | LMOCSO HV | NSGA-II HV"
          " | LMOCSO ms/gen | NSGA-II ms/gen |")
    print("|---|---|---|---|---|---|---|---|")
    for k in range(1, 10):
        runs = {algorithm: [results.get(f"lsmop/{algorithm}/lsmop{k}/{size}/{seed}",
                                        lambda a=algorithm, s=seed: run_large_scale(a, k, s))
                            for seed in range(args.seeds)]
                for algorithm in ("lmocso", "nsga2")}
        ours, theirs = runs["lmocso"], runs["nsga2"]
        n_gen = LARGE_SCALE["n_gen"]
        cells = [f"lsmop{k}", f"{median(ours, 'igd'):.4g}", f"{median(theirs, 'igd'):.4g}",
                 f"{median(ours, 'igd') / median(theirs, 'igd'):.2f}",
                 f"{median(ours, 'hv'):.4g}", f"{median(theirs, 'hv'):.4g}",
                 f"{per_generation_ms(ours, n_gen, True):.2f}",
                 f"{per_generation_ms(theirs, n_gen, True):.2f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algorithms", nargs="+", default=list(REFERENCES),
                        choices=list(REFERENCES))
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--speed", action="store_true", help="the speed table instead")
    parser.add_argument("--large-scale", action="store_true",
                        help="LMOCSO against NSGA-II on LSMOP1-9 with 1,000 variables instead")
    parser.add_argument("--pops", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--speed-gens", type=int, default=20)
    parser.add_argument("--speed-problem", default="dtlz2", choices=list(PROBLEMS))
    parser.add_argument("--peer-max-pop", type=int, default=1000)
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).with_name("moea_suite_runs.jsonl"))
    parser.add_argument("--fresh", action="store_true", help="forget earlier runs")
    parser.add_argument("--table-only", action="store_true",
                        help="run nothing: print the rows whose runs are all in --results")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")

    results = Results(args.results, args.fresh, run_missing=not args.table_only)
    print(f"# {machine()}; runs kept in {args.results}\n")
    table = (speed_table if args.speed else
             large_scale_table if args.large_scale else quality_table)
    table(args, results)


if __name__ == "__main__":
    main()
