"""What growing buffers buy `evo.bo.Experiment`: the time of one proposal at 20, 50, 100 and
200 observations with the buffer sized to the observations (the next power of two, at
least 16) against the fixed capacity 256 that a jitted `BayesOpt.ask` would use.

    python benchmarks/bo_host.py                       # 20 50 100 200, 7 rounds
    python benchmarks/bo_host.py --at 20 50 --repeats 5 --pending 1 --loop-to 0

Hartmann-6, `BayesOpt` with its defaults but `q=1` and `capacity=256`, float32, one
OpenBLAS thread. One experiment runs with `--pending` points outstanding (a lab with that
many more workers than results); at each observation count its next proposal is timed at
both sizes on the same data and key, in alternating rounds that share the machine's load
(medians, compilation excluded), and the two proposals are compared. Then the whole loop
to `--loop-to` observations (100) runs once growing and once at the fixed size,
compilations included, with the regret each reaches.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

# Threaded OpenBLAS spins on the GP's small solves (see benchmarks/bo.py); set before NumPy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax
import numpy as np
from evo.problems.bo_functions import Hartmann6

from evo.bo import BayesOpt, Experiment
from evo.bo.buffers import compiled_ask

PROBLEM = Hartmann6()
FIXED = 256


def evaluate(X: np.ndarray) -> np.ndarray:
    return np.asarray(PROBLEM.evaluate(X), float)


def step(experiment: Experiment, pending: int) -> None:
    """One iteration of the lab loop: a suggestion, then the oldest result once more than
    `pending` points are outstanding."""
    experiment.suggest(1)
    while len(experiment.pending.ids) > pending:
        ids, X = experiment.pending
        experiment.observe(ids[:1], evaluate(X[:1]))


def proposal_times(
    experiment: Experiment, repeats: int
) -> tuple[int, float, float, float]:
    """The next proposal's buffer size, its median time (ms) there and at `FIXED`, in
    alternating rounds, and the largest coordinate difference of the two proposals."""
    capacity = experiment.capacity
    runs = {}
    for c in (capacity, FIXED):
        ask = compiled_ask(experiment.optimizer, c)
        args = (*experiment.state, experiment.buffer(c), *experiment.pending_rows())
        runs[c] = (ask, args, np.asarray(jax.block_until_ready(ask(*args))[0]))
    times = {c: [] for c in runs}
    for _ in range(repeats):
        for c, (ask, args, _) in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(ask(*args))
            times[c].append(time.perf_counter() - start)
    gap = float(np.max(np.abs(runs[capacity][2] - runs[FIXED][2])))
    return capacity, 1e3 * np.median(times[capacity]), 1e3 * np.median(times[FIXED]), gap


def lab_optimizer() -> BayesOpt:
    """A new instance each call: its proposals compile afresh."""
    return BayesOpt.for_problem(PROBLEM, q=1, capacity=FIXED)


def whole_loop(n: int, pending: int, grow: bool, seed: int) -> tuple[float, float]:
    """Wall time (s) of the loop to `n` observations, compilations included, and the
    regret of the best observation."""
    start = time.perf_counter()
    experiment = Experiment(lab_optimizer(), jax.random.key(seed), grow=grow)
    while len(experiment.ids) < n:
        step(experiment, pending)
    return time.perf_counter() - start, float(experiment.F.min() - PROBLEM.optimum_value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--pending", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop-to", type=int, default=100,
                        help="observations of the whole-loop comparison (0: skip it)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optimizer = lab_optimizer()
    print(f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"Hartmann-6, {args.pending} pending\n")

    print("| observations | buffer | growing (ms) | fixed 256 (ms) | fixed / growing "
          "| max coordinate difference |")
    print("|---|---|---|---|---|---|")
    experiment = Experiment(optimizer, jax.random.key(args.seed))
    for n in sorted(args.at):
        while len(experiment.ids) < n:
            step(experiment, args.pending)
        capacity, grown, fixed, gap = proposal_times(experiment, args.repeats)
        print(f"| {n} | {capacity} | {grown:.1f} | {fixed:.1f} | {fixed / grown:.1f}x "
              f"| {gap:.1e} |")

    if not args.loop_to:
        return
    print(f"\n| loop to {args.loop_to} observations | s, compilations included | regret |")
    print("|---|---|---|")
    for grow in (True, False):
        seconds, regret = whole_loop(args.loop_to, args.pending, grow, args.seed + 1)
        label = "growing" if grow else f"fixed {FIXED}"
        print(f"| {label} | {seconds:.1f} | {regret:.3g} |")


if __name__ == "__main__":
    main()
