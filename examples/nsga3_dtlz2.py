"""NSGA-III on DTLZ2: the run the README starts with.

    python examples/nsga3_dtlz2.py --pop 1000 --gens 200 --n-obj 3 --out runs/nsga3_dtlz2

Prints the IGD against the true front, saves the final front as CSV and, when matplotlib
is installed, a plot of it.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax
import numpy as np

import evo
from evo.metrics import igd
from evo.problems import DTLZ2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pop", type=int, default=1000,
                        help="population size (about this many reference directions)")
    parser.add_argument("--gens", type=int, default=200, help="number of generations")
    parser.add_argument("--n-obj", type=int, default=3, help="number of objectives")
    parser.add_argument("--n-var", type=int, default=None,
                        help="number of variables (default n_obj + 9)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default="runs/nsga3_dtlz2", help="output folder")
    args = parser.parse_args()

    problem = DTLZ2(n_obj=args.n_obj, n_var=args.n_var or args.n_obj + 9)
    ref_dirs = evo.reference_directions(args.n_obj, args.pop)
    algorithm = evo.NSGA3(
        n_obj=args.n_obj, lb=problem.lb, ub=problem.ub, ref_dirs=ref_dirs, pop_size=args.pop
    )
    print(f"NSGA-III on {problem}: population {args.pop}, {len(ref_dirs)} reference "
          f"directions, {args.gens} generations, on {jax.devices()[0].platform}")

    start = time.perf_counter()
    result = evo.run(algorithm, problem, jax.random.key(args.seed), args.gens,
                     indicators_every=1)
    seconds = time.perf_counter() - start

    front = problem.pareto_front(1000)
    final_igd = float(igd(result.F, front))
    print(f"IGD {final_igd:.5f} against {len(front)} front points; "
          f"{len(result.pareto_F)} non-dominated solutions; {seconds:.1f} s including compilation")

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "front.csv", result.pareto_F, delimiter=",",
               header=",".join(f"f{i + 1}" for i in range(args.n_obj)), comments="")
    np.savetxt(out / "igd.csv", np.stack([result.history["n_evals"], result.history["igd"]], 1),
               delimiter=",", header="n_evals,igd", comments="")
    print(f"wrote {out / 'front.csv'} and {out / 'igd.csv'}")
    if args.n_obj in (2, 3):
        try:
            from evo.metrics import plot_front

            plot_front(result.pareto_F, front, title=f"NSGA-III on DTLZ2, IGD {final_igd:.4f}",
                       path=out / "front.png")
            print(f"wrote {out / 'front.png'}")
        except ImportError:
            print("matplotlib is not installed: no plot (pip install 'evo[plot]')")


if __name__ == "__main__":
    main()
