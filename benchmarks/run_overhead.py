"""What `evo.run`'s recording costs over the bare ask / evaluate / tell loop.

    python benchmarks/run_overhead.py                    # populations 2,000 and 10,000
    python benchmarks/run_overhead.py --pops 2000 --gens 30 --repeats 7

NSGA-III on DTLZ2 (3 objectives, 12 variables, float32). The bare loop is one jitted
`lax.scan` of ask, evaluate and tell; `evo.run` is timed end to end (chunks, history,
result) with its default recording and with `record="all", indicators_every=1` (IGD against
1,000 front points every generation). Compilation is excluded: every variant runs once
before timing. The variants are timed in turn, `--repeats` rounds; the table gives medians
and the range over the rounds, and the overhead as the median (and range) of each round's
ratio of the default to the bare loop, which share that round's load on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import jax
import numpy as np

import evo
from evo.problems import DTLZ2


def variants(pop: int, gens: int, seed: int) -> dict[str, Callable[[], object]]:
    """The runs to time at population `pop`, each a function running `gens` generations."""
    problem = DTLZ2(n_var=12, n_obj=3)
    algorithm = evo.NSGA3(n_obj=3, lb=problem.lb, ub=problem.ub, pop_size=pop,
                          ref_dirs=evo.reference_directions(3, pop))
    key = jax.random.key(seed)

    def generation(state, _):
        X, state = algorithm.ask(state)
        return algorithm.tell(state, problem.evaluate(X)), None

    bare = jax.jit(lambda state: jax.lax.scan(generation, state, length=gens)[0])
    return {
        "bare": lambda: jax.block_until_ready(bare(algorithm.init(key))),
        "default": lambda: evo.run(algorithm, problem, key, gens, progress=False),
        "all": lambda: evo.run(algorithm, problem, key, gens, progress=False, record="all",
                               indicators_every=1),
    }


def ms_per_gen(runs: dict[str, Callable[[], object]], gens: int, repeats: int
               ) -> dict[str, np.ndarray]:
    """Milliseconds per generation of each run `(repeats,)`, the runs interleaved."""
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(1e3 * (time.perf_counter() - start) / gens)
    return {name: np.asarray(values) for name, values in times.items()}


def cell(values: np.ndarray) -> str:
    return f"{np.median(values):.2f} ({values.min():.2f}-{values.max():.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pops", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--gens", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__} on "
          f"{device.platform}, float32; {args.gens} generations, {args.repeats} rounds; "
          "ms/gen, median (range)\n")
    print("| pop | bare loop | evo.run default | overhead | "
          "evo.run record=\"all\", indicators_every=1 |")
    print("|---|---|---|---|---|")
    for pop in args.pops:
        t = ms_per_gen(variants(pop, args.gens, args.seed), args.gens, args.repeats)
        ratio = 100 * (t["default"] / t["bare"] - 1)
        overhead = f"{np.median(ratio):+.1f}% ({ratio.min():+.1f}% to {ratio.max():+.1f}%)"
        print(f"| {pop} | {cell(t['bare'])} | {cell(t['default'])} | {overhead} | "
              f"{cell(t['all'])} |", flush=True)


if __name__ == "__main__":
    main()
