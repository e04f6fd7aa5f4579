"""NSGA-III on multi-objective Brax robot control (MO-halfcheetah by default).

    python examples/robot_nsga3.py --task mo-hopper --pop 64 --gens 50 --episode-length 300

Each individual is the weight vector of a small MLP policy; the population is rolled
out in one vmapped episode per generation. Prints progress and the final hypervolume,
and writes the front (CSV, and the weights with the observation statistics as NPZ), the
hypervolume curve and plots of both to `runs/robot_nsga3_<task>`. The defaults take a
few minutes on two CPU cores, most of it compilation.
"""

from __future__ import annotations

import evo
from robot_common import MO_TASKS, make_problem, parse_args, save, solve


def main() -> None:
    args = parse_args(__doc__, "nsga3", MO_TASKS, pop=24, gens=30, episode_length=200)
    problem = make_problem(args)
    ref_dirs = evo.reference_directions(problem.n_obj, args.pop)
    algorithm = evo.NSGA3(n_obj=problem.n_obj, lb=problem.lb, ub=problem.ub,
                          ref_dirs=ref_dirs, pop_size=len(ref_dirs))
    result = solve("NSGA-III", algorithm, problem, args)
    save(result, problem, args.out, f"NSGA-III on {args.task}", render=args.render)


if __name__ == "__main__":
    main()
