"""MOEA/D with 100,000 and 1,000,000 weight vectors: construction and generation cost.

    python benchmarks/moead_scale.py                       # about 100,000 and 1,000,000
    python benchmarks/moead_scale.py --sizes 10000 --gens 10

MOEAD(n_obj=3) on DTLZ2 (n_var 12) with `reference_directions(3, size)` as weight vectors.
Each size runs in its own process, so its peak memory (max RSS) is its own. Construction
is `MOEAD(...)` alone (the neighbourhoods), given the weight vectors; its peak RSS is read
right after it. The generations are one jitted `lax.scan` of ask / evaluate / tell:
compilation is timed apart, then the scan runs once (the first generation only installs
the initial population) and s/gen comes from a second run from where the first ended.
The run's peak RSS is read after both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(size: int, gens: int, seed: int) -> dict:
    """Construct and run one size here and return its measurements (in a child process)."""
    import jax

    import evo
    from evo.problems import DTLZ2

    problem = DTLZ2(n_var=12, n_obj=3)
    ref_dirs = evo.reference_directions(3, size)
    MOEAD = evo.MOEAD  # imports evo.moead, outside the measurement
    before_mib = peak_rss_mib()
    start = time.perf_counter()
    algo = MOEAD(n_obj=3, lb=problem.lb, ub=problem.ub, ref_dirs=ref_dirs)
    construct_s = time.perf_counter() - start
    construct_mib = peak_rss_mib()

    def generation(state, _):
        X, state = algo.ask(state)
        return algo.tell(state, problem.evaluate(X)), None

    run_gens = jax.jit(lambda state: jax.lax.scan(generation, state, length=gens)[0])
    state = jax.jit(algo.init)(jax.random.key(seed))
    start = time.perf_counter()
    compiled = run_gens.lower(state).compile()
    compile_s = time.perf_counter() - start
    state = jax.block_until_ready(compiled(state))
    start = time.perf_counter()
    state = jax.block_until_ready(compiled(state))
    run_s = time.perf_counter() - start
    return {
        "weights": len(ref_dirs),
        "construct_s": construct_s,
        "before_mib": before_mib,
        "construct_mib": construct_mib,
        "compile_s": compile_s,
        "s_per_gen": run_s / gens,
        "run_mib": peak_rss_mib(),
    }


def child(size: int, gens: int, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(size), str(gens), str(seed)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"size {size} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    import jax

    device = jax.devices()[0]
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__} on "
            f"{device.platform} ({device.device_kind}), float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--gens", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return

    print(f"{machine()}; MOEAD on DTLZ2 (n_var 12, 3 objectives), T 20, PBI; "
          f"{args.gens} generations timed after compilation\n")
    print("| weight vectors | construction s | peak RSS MiB before / after construction"
          " | compile s | s/gen | peak RSS MiB of the run |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        r = child(size, args.gens, args.seed)
        print(f"| {r['weights']:,} | {r['construct_s']:.2f} | {r['before_mib']:.0f} / "
              f"{r['construct_mib']:.0f} | {r['compile_s']:.1f} | {r['s_per_gen']:.3f} | "
              f"{r['run_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
