"""Time per generation of evo's MOEAs against pymoo and EvoX 0.9, same machine, same run.

    python benchmarks/speed.py                      # both tables (pymoo takes a while)
    python benchmarks/speed.py --peers pymoo --pops 100 1000 --gens 50 --skip-pymoo-above 5000
    python benchmarks/speed.py --peers evox --pops 1000 10000 --gens 10

Each configuration runs in its own process under a memory limit (`--memory-gib`), so
compile caches and peak memory (max RSS, and the device's own peak where it reports one)
are its own; a configuration that fails (out of memory, an error, `--timeout`) is recorded
as "failed: <reason>" in its row. evo's time per generation excludes compilation, which
is reported apart. IGD of the final population against the same true-front sample is
reported for both sides, after the same number of generations (the initial population
counts as the first).

pymoo (NSGA-II and NSGA-III, ZDT1 and DTLZ2) is not run above `--skip-pymoo-above`; there
evo runs `--large-gens` generations.

EvoX 0.9 (NSGA-II, NSGA-III, MOEA/D and HypE on its own DTLZ2) is the JAX version of EvoX;
it needs jax 0.4, so it runs from its own environment (`bash benchmarks/evox_env.sh` makes
`.venv-evox`; `--evox-python` or EVOX_PYTHON names another interpreter) through
`benchmarks/evox_worker.py`, and its rows are skipped with a note when there is none.
Both sides get the same population (MOEA/D: the Das-Dennis weight vectors, 990 for 1,000,
9,870 for 10,000, 99,681 for 100,000), MOEA/D's neighbourhood size T (`--moead-neighbors`;
EvoX's own would be ceil(N / 10)) with PBI, theta 5, and HypE's samples (`--hype-samples`)
and reference point (the problem's, 1.1 per objective, where EvoX would take 1.2 times
the worst objective value of its first population); each keeps its own variation operators.
Both are timed alike (the worker's `timed_steps`): the initial population evaluated first,
then one compiled generation per call, the first call untimed, the others timed each to
`block_until_ready`; so `--gens` must be 3 or more. (The pymoo table times evo's whole run
as one compiled scan.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CASES = {
    "nsga2-zdt1": ("nsga2", "zdt1", 2),
    "nsga2-dtlz2": ("nsga2", "dtlz2", 3),
    "nsga3-zdt1": ("nsga3", "zdt1", 2),
    "nsga3-dtlz2": ("nsga3", "dtlz2", 3),
    "moead-dtlz2": ("moead", "dtlz2", 3),
    "hype-dtlz2": ("hype", "dtlz2", 3),
}
PEERS = ("pymoo", "evox")
DEFAULT_POPS = {"pymoo": [100, 1000, 2000, 10000, 100000], "evox": [1000, 10000, 100000]}
WORKER = Path(__file__).with_name("evox_worker.py")
EVOX_PYTHON = os.environ.get(
    "EVOX_PYTHON", str(Path(__file__).resolve().parents[1] / ".venv-evox" / "bin" / "python")
)
OUT_OF_MEMORY = ("Out of memory", "RESOURCE_EXHAUSTED", "bad_alloc", "MemoryError",
                 "Cannot allocate memory")


def runs_with(peer: str, case: str) -> bool:
    """Whether `peer` has the algorithm and problem of `case`."""
    algorithm_name, problem_name, _ = CASES[case]
    if peer == "pymoo":
        return algorithm_name in ("nsga2", "nsga3")
    return problem_name == "dtlz2"


def case_problem(case: str) -> Any:
    """evo's problem of `case`: ZDT1 with 30 variables, or DTLZ2 with n_obj + 9."""
    from evo.problems import get_problem

    _, problem_name, n_obj = CASES[case]
    if problem_name == "zdt1":
        return get_problem("zdt1", n_var=30)
    return get_problem(problem_name, n_var=n_obj + 9, n_obj=n_obj)


def evo_algorithm(case: str, problem: Any, pop: int, args: argparse.Namespace) -> Any:
    """evo's algorithm of `case` for `problem` at population `pop` (MOEA/D: its weights)."""
    import evo

    name = CASES[case][0]
    if name == "nsga2":
        return evo.NSGA2.for_problem(problem, pop_size=pop)
    if name == "hype":
        return evo.HypE.for_problem(problem, pop_size=pop, n_samples=args.hype_samples)
    ref_dirs = evo.reference_directions(problem.n_obj, pop)
    if name == "nsga3":
        return evo.NSGA3.for_problem(problem, ref_dirs=ref_dirs, pop_size=pop)
    return evo.MOEAD.for_problem(problem, ref_dirs=ref_dirs, n_neighbors=args.moead_neighbors)


def front_quality(F: Any, problem: Any) -> dict[str, float]:
    """IGD of objective rows `F` against the problem's 1000-point true-front sample, and
    their hypervolume up to the problem's reference point (moocore's exact one)."""
    import moocore
    import numpy as np

    from evo.metrics import igd

    F = np.asarray(F, dtype=float)
    inside = F[np.all(F < problem.ref_point, axis=1)]
    hv = float(moocore.hypervolume(inside, ref=problem.ref_point)) if len(inside) else 0.0
    return {"igd": float(igd(F, problem.pareto_front(1000))), "hv": hv}


def measure(library: str, case: str, pop: int, gens: int, args: argparse.Namespace) -> dict:
    """Run one configuration here and return its timings (called in a child process)."""
    import numpy as np

    problem = case_problem(case)
    device_peak = None

    if library in ("evo", "evo-steps"):
        import jax

        algo = evo_algorithm(case, problem, pop, args)

        def step(state):
            X, state = algo.ask(state)
            return algo.tell(state, problem.evaluate(X))

        if library == "evo":
            run_gens = jax.jit(lambda state: jax.lax.scan(
                lambda carry, _: (step(carry), None), state, length=gens)[0])
            start = time.perf_counter()
            state = algo.init(jax.random.key(args.seed))
            compiled = run_gens.lower(state).compile()
            compile_s = time.perf_counter() - start
            start = time.perf_counter()
            state = jax.block_until_ready(compiled(state))
            s_per_gen = (time.perf_counter() - start) / gens
        else:
            from evox_worker import timed_steps

            # The worker's procedure for EvoX: the initial population is evaluated first.
            state = jax.jit(step)(algo.init(jax.random.key(args.seed)))
            compile_s, ms_per_gen, state = timed_steps(step, state, gens - 1, 1)
            s_per_gen = ms_per_gen / 1e3
        F = np.asarray(state.F)
        stats = jax.devices()[0].memory_stats() or {}
        device_peak = stats.get("peak_bytes_in_use")
    else:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.algorithms.moo.nsga3 import NSGA3
        from pymoo.optimize import minimize
        from pymoo.problems import get_problem as pymoo_problem

        import evo

        algorithm_name, problem_name, n_obj = CASES[case]
        kwargs = {"n_var": problem.n_var} | ({"n_obj": n_obj} if n_obj > 2 else {})
        if algorithm_name == "nsga2":
            algo = NSGA2(pop_size=pop)
        else:
            algo = NSGA3(ref_dirs=evo.reference_directions(n_obj, pop), pop_size=pop)
        compile_s = 0.0
        start = time.perf_counter()
        result = minimize(pymoo_problem(problem_name, **kwargs), algo, ("n_gen", gens),
                          seed=args.seed)
        s_per_gen = (time.perf_counter() - start) / gens
        F = result.pop.get("F")

    # Taken before the IGD, whose (front, population) distance matrix is not the run's.
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "s_per_gen": s_per_gen,
        "compile_s": compile_s,
        **front_quality(F, problem),
        "peak_mib": peak_mib,
        "device_peak_mib": None if device_peak is None else device_peak / 2**20,
    }


def failure(returncode: int, stderr: str, memory_gib: float) -> str:
    """A short reason, fit for a table cell, why a child exited with `returncode`."""
    if any(sign in stderr for sign in OUT_OF_MEMORY):
        request = re.search(r"allocating (\d+) bytes", stderr)
        buffer = f"a {int(request[1]) / 2**30:.1f} GiB buffer, " if request else ""
        return f"out of memory ({buffer}limit {memory_gib:g} GiB)"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit status {returncode}")[:120].replace("|", "/")


def run_json(command: list[str], memory_gib: float, timeout_s: float | None) -> dict:
    """The JSON object `command` prints last, run under an address-space limit of
    `memory_gib` (with util-linux's `prlimit`, where there is one); on a failure
    `{"failed": reason}`, its error output on stderr."""
    if shutil.which("prlimit"):
        command = ["prlimit", f"--as={int(memory_gib * 2**30)}", "--", *command]
    try:
        out = subprocess.run(command, check=False, capture_output=True, text=True,
                             timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout_s:g} s"}
    if out.returncode != 0:
        print(f"{' '.join(command[:10])} ... failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return {"failed": failure(out.returncode, out.stderr, memory_gib)}
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(library: str, case: str, pop: int, gens: int, args: argparse.Namespace) -> dict:
    """`measure` in a fresh process of this interpreter."""
    command = [sys.executable, __file__, "--child", library, case, str(pop), str(gens),
               "--seed", str(args.seed), "--moead-neighbors", str(args.moead_neighbors),
               "--hype-samples", str(args.hype_samples)]
    return run_json(command, args.memory_gib, args.timeout)


def evox(case: str, pop: int, gens: int, args: argparse.Namespace) -> dict:
    """EvoX's run of `case` through the worker, with the quality of its final population."""
    import numpy as np

    problem = case_problem(case)
    command = [args.evox_python, str(WORKER), CASES[case][0], "--pop", str(pop),
               "--gens", str(gens), "--seed", str(args.seed), "--n-var", str(problem.n_var),
               "--n-obj", str(problem.n_obj), "--n-neighbors", str(args.moead_neighbors),
               "--n-samples", str(args.hype_samples), "--ref-point",
               *map(str, problem.ref_point)]
    result = run_json(command, args.memory_gib, args.timeout)
    if "failed" not in result:
        result |= front_quality(np.asarray(result.pop("F")), problem)
        result["s_per_gen"] = result.pop("ms_per_gen") / 1e3
    return result


def peak(result: dict) -> str:
    """Max RSS in MiB, and the device's peak where it reports one."""
    cell = f"{result['peak_mib']:.0f}"
    if result.get("device_peak_mib"):
        cell += f" (device {result['device_peak_mib']:.0f})"
    return cell


def machine() -> str:
    import jax

    device = jax.devices()[0]
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__} on "
            f"{device.platform} ({device.device_kind}), float32")


def pymoo_table(args: argparse.Namespace, cases: list[str], pops: list[int]) -> None:
    """evo against pymoo, s/gen."""
    print("| case | pop | gens | evo s/gen | evo compile s | pymoo s/gen | pymoo / evo | evo IGD"
          " | pymoo IGD | evo peak MiB | pymoo peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        for pop in pops:
            with_pymoo = pop <= args.skip_pymoo_above
            gens = args.gens if with_pymoo else args.large_gens
            ours = child("evo", case, pop, gens, args)
            if "failed" in ours:
                print(f"| {case} | {pop} | {gens} | failed: {ours['failed']} | - | not run | - "
                      "| - | - | - | - |", flush=True)
                continue
            theirs = child("pymoo", case, pop, gens, args) if with_pymoo else {"failed": ""}
            if "failed" in theirs:
                reason = f"failed: {theirs['failed']}" if theirs["failed"] else "not run"
                peer = f"{reason} | - | {ours['igd']:.4f} | - | {peak(ours)} | -"
            else:
                peer = (f"{theirs['s_per_gen']:.4f} | {theirs['s_per_gen'] / ours['s_per_gen']:.1f}x"
                        f" | {ours['igd']:.4f} | {theirs['igd']:.4f} | {peak(ours)}"
                        f" | {theirs['peak_mib']:.0f}")
            print(f"| {case} | {pop} | {gens} | {ours['s_per_gen']:.4f} | {ours['compile_s']:.1f}"
                  f" | {peer} |", flush=True)


def evox_missing(python: str) -> str | None:
    """A note on how to make the EvoX environment when `python` does not exist, else None."""
    if Path(python).exists():
        return None
    return (f"EvoX rows skipped: no interpreter at {python}. Make the environment with `bash "
            "benchmarks/evox_env.sh` from the repository root, or name one with --evox-python "
            "or EVOX_PYTHON.")


def evox_versions(python: str) -> str:
    """EvoX's and its jax's versions in the environment of `python`."""
    code = ("import importlib.metadata as m; "
            "print(f\"EvoX {m.version('evox')}, jax {m.version('jax')}\")")
    out = subprocess.run([python, "-c", code], check=False, capture_output=True, text=True)
    return out.stdout.strip()


def evox_table(args: argparse.Namespace, cases: list[str], pops: list[int]) -> None:
    """evo against EvoX 0.9, ms/gen; skipped with a note when there is no EvoX environment."""
    if missing := evox_missing(args.evox_python):
        print(missing)
        return
    print(f"{evox_versions(args.evox_python)} on CPU, float32; memory limit "
          f"{args.memory_gib:g} GiB per case\n")
    print("| case | pop | gens | evo ms/gen | EvoX ms/gen | EvoX / evo | evo compile s "
          "| EvoX compile s | evo IGD | EvoX IGD | evo HV | EvoX HV | evo peak MiB "
          "| EvoX peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        for pop in pops:
            sides = [child("evo-steps", case, pop, args.gens, args),
                     evox(case, pop, args.gens, args)]
            ms, compile_s, igd, hv, peaks = ([] for _ in range(5))
            for result in sides:
                failed = "failed" in result
                ms.append(f"failed: {result['failed']}" if failed
                          else f"{1e3 * result['s_per_gen']:.1f}")
                compile_s.append("-" if failed else f"{result['compile_s']:.1f}")
                igd.append("-" if failed else f"{result['igd']:.4f}")
                hv.append("-" if failed else f"{result['hv']:.4f}")
                peaks.append("-" if failed else peak(result))
            ratio = ("-" if any("failed" in result for result in sides)
                     else f"{sides[1]['s_per_gen'] / sides[0]['s_per_gen']:.1f}x")
            print(f"| {case} | {pop} | {args.gens} | {ms[0]} | {ms[1]} | {ratio} | "
                  f"{' | '.join(compile_s + igd + hv + peaks)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    parser.add_argument("--pops", type=int, nargs="+",
                        help=f"populations (default: {DEFAULT_POPS})")
    parser.add_argument("--gens", type=int, default=50)
    parser.add_argument("--large-gens", type=int, default=5,
                        help="generations where pymoo is not run (populations above the cap)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--skip-pymoo-above", type=int, default=10000,
                        help="population above which pymoo is not run (hours per run)")
    parser.add_argument("--moead-neighbors", type=int, default=20, help="MOEA/D's T, both sides")
    parser.add_argument("--hype-samples", type=int, default=10_000,
                        help="HypE's Monte Carlo samples, both sides")
    parser.add_argument("--evox-python", default=EVOX_PYTHON)
    parser.add_argument("--memory-gib", type=float, default=16.0,
                        help="address-space limit of each configuration's process")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds after which a configuration counts as failed")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "evox" in args.peers and args.gens < 3:
        parser.error("the EvoX table needs --gens 3 or more (an untimed and a timed step)")
    if args.child:
        library, case, pop, gens = args.child
        print(json.dumps(measure(library, case, int(pop), int(gens), args)))
        return

    print(f"{machine()}; seed {args.seed}; time per generation after compilation\n")
    tables = {"pymoo": pymoo_table, "evox": evox_table}
    for peer in args.peers:
        cases = [case for case in args.cases if runs_with(peer, case)]
        if cases:
            tables[peer](args, cases, args.pops or DEFAULT_POPS[peer])
            print()


if __name__ == "__main__":
    main()
