"""HypE on multi-objective Brax robot control (MO-halfcheetah by default).

    python examples/robot_hype.py --task mo-hopper --pop 64 --gens 50 --episode-length 300

Selection by Monte Carlo hypervolume shares, with the task's documented reference point.
Prints progress and the final hypervolume, and writes the front, the hypervolume curve
and plots of both to `runs/robot_hype_<task>`. The defaults take a few minutes on two
CPU cores, most of it compilation.
"""

from __future__ import annotations

import evo
from robot_common import MO_TASKS, make_problem, parse_args, save, solve


def main() -> None:
    args = parse_args(__doc__, "hype", MO_TASKS, pop=24, gens=30, episode_length=200)
    problem = make_problem(args)
    algorithm = evo.HypE(pop_size=args.pop, n_obj=problem.n_obj, lb=problem.lb,
                         ub=problem.ub, ref_point=problem.ref_point)
    result = solve("HypE", algorithm, problem, args)
    save(result, problem, args.out, f"HypE on {args.task}", render=args.render)


if __name__ == "__main__":
    main()
