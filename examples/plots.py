"""NSGA-III on DTLZ2 with 3 and 5 objectives and NSGA-II on ZDT1 over several seeds: final
hypervolume, chosen solutions and every kind of plot.

    python examples/plots.py --out runs/plots --pop 100 --gens 100 --seeds 5

Writes `dtlz2_3obj_front.png` (3-D front with the true one as a surface),
`dtlz2_5obj_parallel.png` (parallel coordinates), `dtlz2_3obj_igd.png` and
`dtlz2_5obj_igd.png` (IGD against evaluations), `dtlz2_5obj_chosen_heatmap.png` and
`dtlz2_5obj_chosen_radar.png` (the knee, a weighted and the compromise solution picked by
`evo.decision`), and `zdt1_attainment.png` (the best, median and worst attainment
surfaces over the seeds). Prints the final hypervolume with reference point 1.1 in every
objective next to the optimum, `1.1^m` minus the volume of the unit ball's positive
orthant, and the chosen rows. Takes a minute or two on two CPU cores, mostly compilation.
Needs matplotlib.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import jax

import numpy as np

import evo
from evo.decision import pick
from evo.metrics import (
    hypervolume,
    plot_attainment,
    plot_front,
    plot_heatmap,
    plot_history,
    plot_parallel,
    plot_radar,
)
from evo.problems import DTLZ2, ZDT1


def optimal_hypervolume(m: int, ref: float) -> float:
    """Hypervolume of DTLZ2's whole front `|f| = 1`, `f >= 0`, up to `ref` in every objective."""
    unit_ball = math.pi ** (m / 2) / math.gamma(m / 2 + 1)
    return ref**m - unit_ball / 2**m


def solve(n_obj: int, pop: int, gens: int, seed: int) -> tuple[DTLZ2, evo.Result]:
    problem = DTLZ2(n_obj=n_obj)
    algorithm = evo.NSGA3(n_obj=n_obj, lb=problem.lb, ub=problem.ub, pop_size=pop)
    start = time.perf_counter()
    result = evo.run(algorithm, problem, jax.random.key(seed), gens, progress=False,
                     indicators_every=5)
    ref = 1.1
    hv = float(hypervolume(result.pareto_F, [ref] * n_obj))
    best = optimal_hypervolume(n_obj, ref)
    print(f"DTLZ2, {n_obj} objectives: population {algorithm.pop_size}, {gens} generations, "
          f"{time.perf_counter() - start:.1f} s; IGD {result.history['igd'][-1]:.4f}, "
          f"hypervolume {hv:.4f} of the optimal {best:.4f} ({hv / best:.1%})")
    return problem, result


def choose(F: np.ndarray) -> dict[str, int]:
    """The rows of the front `F` `(n, 5)` that `evo.decision.pick` chooses, by name."""
    knees = pick(F, "knee")
    chosen = {"knee": int(knees[0])} if len(knees) else {}
    chosen["weights=0.6,0.1,0.1,0.1,0.1"] = int(pick(F, "weights=0.6,0.1,0.1,0.1,0.1")[0])
    chosen["compromise"] = int(pick(F, "compromise")[0])
    return chosen


def seeds_fronts(pop: int, gens: int, seeds: int) -> tuple[ZDT1, list[np.ndarray]]:
    """NSGA-II's final fronts on ZDT1, one `(n_i, 2)` per seed (one compilation for all)."""
    problem = ZDT1()
    algorithm = evo.NSGA2(n_obj=2, lb=problem.lb, ub=problem.ub, pop_size=pop)
    fronts = [evo.run(algorithm, problem, jax.random.key(seed), gens, progress=False,
                      record="none").pareto_F for seed in range(seeds)]
    return problem, fronts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/plots", help="output folder")
    parser.add_argument("--pop", type=int, default=100, help="population size (about)")
    parser.add_argument("--gens", type=int, default=100, help="number of generations")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the attainment plot")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    problem3, result3 = solve(3, args.pop, args.gens, args.seed)
    plot_front(result3.pareto_F, problem3.pareto_front(1000), title="NSGA-III on DTLZ2",
               path=out / "dtlz2_3obj_front.png")
    problem5, result5 = solve(5, args.pop, args.gens, args.seed)
    plot_parallel(result5.pareto_F, title="NSGA-III on DTLZ2, 5 objectives",
                  path=out / "dtlz2_5obj_parallel.png")
    for n_obj, result in ((3, result3), (5, result5)):
        plot_history(result.history, title=f"NSGA-III on DTLZ2, {n_obj} objectives",
                     path=out / f"dtlz2_{n_obj}obj_igd.png")
    chosen = choose(result5.pareto_F)
    print("chosen on DTLZ2, 5 objectives:", ", ".join(f"{k} row {i}" for k, i in chosen.items()))
    for plot, kind in ((plot_heatmap, "heatmap"), (plot_radar, "radar")):
        plot(result5.pareto_F[list(chosen.values())], result5.pareto_F,
             row_names=list(chosen), title="NSGA-III on DTLZ2: chosen solutions",
             path=out / f"dtlz2_5obj_chosen_{kind}.png")
    zdt1, fronts = seeds_fronts(args.pop, args.gens, args.seeds)
    plot_attainment(fronts, zdt1.pareto_front(200), title=f"NSGA-II on ZDT1, {args.seeds} seeds",
                    path=out / "zdt1_attainment.png")
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.png')))} to {out}")


if __name__ == "__main__":
    main()
