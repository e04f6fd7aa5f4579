"""Seconds per generation of NSGA-II / NSGA-III: evo against pymoo, same machine, same run.

    python benchmarks/speed.py                      # the full table (pymoo takes a while)
    python benchmarks/speed.py --pops 100 1000 --gens 50 --skip-pymoo-above 5000

Each configuration runs in its own process, so compile caches and peak memory (max RSS,
and the device's own peak where it reports one) are its own. evo's time per generation
excludes compilation, which is reported apart. IGD of the final population against the
same true-front sample is reported for both, after the same number of generations.
pymoo is not run above `--skip-pymoo-above`; there evo runs `--large-gens` generations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CASES = {
    "nsga2-zdt1": ("nsga2", "zdt1", 2),
    "nsga2-dtlz2": ("nsga2", "dtlz2", 3),
    "nsga3-zdt1": ("nsga3", "zdt1", 2),
    "nsga3-dtlz2": ("nsga3", "dtlz2", 3),
}


def measure(library: str, case: str, pop: int, gens: int, seed: int) -> dict:
    """Run one configuration here and return its timings (called in a child process)."""
    import resource

    import numpy as np

    algorithm_name, problem_name, n_obj = CASES[case]
    n_var = 30 if problem_name == "zdt1" else n_obj + 9
    import evo
    from evo.problems import get_problem

    problem = get_problem(problem_name, n_var=n_var, **({"n_obj": n_obj} if n_obj > 2 else {}))
    front = problem.pareto_front(1000)
    device_peak = None

    if library == "evo":
        import jax

        if algorithm_name == "nsga2":
            algo = evo.NSGA2(pop_size=pop, n_obj=n_obj, lb=problem.lb, ub=problem.ub)
        else:
            algo = evo.NSGA3(n_obj=n_obj, lb=problem.lb, ub=problem.ub,
                             ref_dirs=evo.reference_directions(n_obj, pop), pop_size=pop)

        def generation(state, _):
            X, state = algo.ask(state)
            return algo.tell(state, problem.evaluate(X)), None

        run_gens = jax.jit(lambda state: jax.lax.scan(generation, state, length=gens)[0])
        start = time.perf_counter()
        state = algo.init(jax.random.key(seed))
        compiled = run_gens.lower(state).compile()
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        state = jax.block_until_ready(compiled(state))
        run_s = time.perf_counter() - start
        F = np.asarray(state.F)
        stats = jax.devices()[0].memory_stats() or {}
        device_peak = stats.get("peak_bytes_in_use")
    else:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.algorithms.moo.nsga3 import NSGA3
        from pymoo.optimize import minimize
        from pymoo.problems import get_problem as pymoo_problem

        kwargs = {"n_var": n_var} | ({"n_obj": n_obj} if n_obj > 2 else {})
        if algorithm_name == "nsga2":
            algo = NSGA2(pop_size=pop)
        else:
            algo = NSGA3(ref_dirs=evo.reference_directions(n_obj, pop), pop_size=pop)
        compile_s = 0.0
        start = time.perf_counter()
        result = minimize(pymoo_problem(problem_name, **kwargs), algo, ("n_gen", gens), seed=seed)
        run_s = time.perf_counter() - start
        F = result.pop.get("F")

    # Taken before the IGD, whose (front, population) distance matrix is not the run's.
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from evo.metrics import igd

    return {
        "s_per_gen": run_s / gens,
        "compile_s": compile_s,
        "igd": float(igd(F, front)),
        "peak_mib": peak_mib,
        "device_peak_mib": None if device_peak is None else device_peak / 2**20,
    }


def child(library: str, case: str, pop: int, gens: int, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", library, case, str(pop), str(gens), str(seed)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{library} {case} pop {pop} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    import jax

    device = jax.devices()[0]
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__} on "
            f"{device.platform} ({device.device_kind}), float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pops", type=int, nargs="+", default=[100, 1000, 2000, 10000, 100000])
    parser.add_argument("--gens", type=int, default=50)
    parser.add_argument("--large-gens", type=int, default=5,
                        help="generations where pymoo is not run (populations above the cap)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--skip-pymoo-above", type=int, default=10000,
                        help="population above which pymoo is not run (hours per run)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        library, case, pop, gens, seed = args.child
        print(json.dumps(measure(library, case, int(pop), int(gens), int(seed))))
        return

    print(f"{machine()}; seed {args.seed}; s/gen after compilation\n")
    print("| case | pop | gens | evo s/gen | evo compile s | pymoo s/gen | pymoo / evo | evo IGD"
          " | pymoo IGD | evo peak MiB | pymoo peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        for pop in args.pops:
            with_pymoo = pop <= args.skip_pymoo_above
            gens = args.gens if with_pymoo else args.large_gens
            ours = child("evo", case, pop, gens, args.seed)
            peak = f"{ours['peak_mib']:.0f}"
            if ours["device_peak_mib"] is not None and ours["device_peak_mib"] > 0:
                peak += f" (device {ours['device_peak_mib']:.0f})"
            if with_pymoo:
                theirs = child("pymoo", case, pop, gens, args.seed)
                peer = (f"{theirs['s_per_gen']:.4f} | {theirs['s_per_gen'] / ours['s_per_gen']:.1f}x"
                        f" | {ours['igd']:.4f} | {theirs['igd']:.4f} | {peak}"
                        f" | {theirs['peak_mib']:.0f}")
            else:
                peer = f"not run | - | {ours['igd']:.4f} | - | {peak} | -"
            print(f"| {case} | {pop} | {gens} | {ours['s_per_gen']:.4f} | {ours['compile_s']:.1f}"
                  f" | {peer} |", flush=True)


if __name__ == "__main__":
    main()
