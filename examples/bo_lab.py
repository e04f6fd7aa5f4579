"""Bayesian optimisation of an experiment that runs outside JAX, as a lab would run it.

    python examples/bo_lab.py --budget 30 --workers 4 --checkpoint runs/bo_lab/experiment.npz

The "lab" is a plain Python function (Branin, minimum 0.397887) that takes 0-0.2 s and
fails one run in ten (NaN). A pool of `--workers` threads evaluates points; each result is
observed as it arrives, in whatever order, and a new point is suggested at once, so the
proposals condition on the runs still in progress. The experiment is saved every
`--checkpoint-every` results; run the command again after interrupting it (Ctrl-C) and it
resumes from the file, sending the points that were still running back to the lab.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import random
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import jax
import numpy as np

from evo.bo import BayesOpt, Experiment

LB, UB = np.array([-5.0, 0.0]), np.array([10.0, 15.0])


def run_in_the_lab(x: np.ndarray) -> float:
    """Branin at `x` `(2,)` after a random delay; NaN for a failed run."""
    time.sleep(random.uniform(0.0, 0.2))
    if random.random() < 0.1:
        return math.nan
    x1, x2 = float(x[0]), float(x[1])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def collect(
    experiment: Experiment, budget: int, workers: int, path: pathlib.Path, every: int
) -> None:
    """Run the lab until `budget` results are in, `workers` runs at a time, each result
    observed as it arrives and the experiment saved every `every` results."""
    with ThreadPoolExecutor(workers) as lab:
        running: dict[Future, int] = {
            lab.submit(run_in_the_lab, x): i for i, x in zip(*experiment.pending)
        }
        while len(experiment.ids) < budget:
            while len(running) < workers and experiment.n_suggested < budget:
                ids, X = experiment.suggest(1)
                running[lab.submit(run_in_the_lab, X[0])] = int(ids[0])
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                i, f = running.pop(future), future.result()
                experiment.observe([i], [[f]])
                best = np.min(experiment.F, initial=np.inf, where=~np.isnan(experiment.F))
                print(f"{len(experiment.ids):3d} results: point {i:3d} gave f = {f:8.4f}, "
                      f"best {best:.4f}, {len(running)} running")
                if len(experiment.ids) % every == 0:
                    experiment.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=30, help="results to collect")
    parser.add_argument("--workers", type=int, default=4, help="runs in progress at once")
    parser.add_argument("--checkpoint", default="runs/bo_lab/experiment.npz")
    parser.add_argument("--checkpoint-every", type=int, default=5, help="results per save")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    optimizer = BayesOpt(n_obj=1, lb=LB, ub=UB, q=1, n_init=8)
    path = pathlib.Path(args.checkpoint)
    if path.exists():
        experiment = Experiment.load(path, optimizer, problem=run_in_the_lab)
        print(f"resumed {path}: {len(experiment.ids)} results, "
              f"{len(experiment.pending.ids)} runs to repeat")
    else:
        experiment = Experiment(optimizer, jax.random.key(args.seed), problem=run_in_the_lab)

    start = time.perf_counter()
    try:
        collect(experiment, args.budget, args.workers, path, args.checkpoint_every)
    except KeyboardInterrupt:
        print(f"interrupted; run the same command again to resume from {path}")
        return
    experiment.save(path)

    best = int(np.nanargmin(experiment.F[:, 0]))
    failed = int(np.sum(np.isnan(experiment.F)))
    print(f"best f = {experiment.F[best, 0]:.5f} at x = {np.round(experiment.X[best], 4)} "
          f"(optimum 0.39789); {failed} failed runs; {time.perf_counter() - start:.1f} s; "
          f"saved to {path}")


if __name__ == "__main__":
    main()
