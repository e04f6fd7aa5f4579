"""MOEA/D on multi-objective Brax robot control (MO-halfcheetah by default).

    python examples/robot_moead.py --task mo-hopper --pop 64 --gens 50 --episode-length 300

One subproblem per weight vector (Tchebycheff for two objectives, PBI for three), each
owning one MLP policy. Prints progress and the final hypervolume, and writes the front,
the hypervolume curve and plots of both to `runs/robot_moead_<task>`. The defaults take
a few minutes on two CPU cores, most of it compilation.
"""

from __future__ import annotations

import evo
from robot_common import MO_TASKS, make_problem, parse_args, save, solve


def main() -> None:
    args = parse_args(__doc__, "moead", MO_TASKS, pop=24, gens=30, episode_length=200)
    problem = make_problem(args)
    ref_dirs = evo.reference_directions(problem.n_obj, args.pop)
    algorithm = evo.MOEAD(n_obj=problem.n_obj, lb=problem.lb, ub=problem.ub,
                          ref_dirs=ref_dirs, pop_size=len(ref_dirs))
    result = solve("MOEA/D", algorithm, problem, args)
    save(result, problem, args.out, f"MOEA/D on {args.task}", render=args.render)


if __name__ == "__main__":
    main()
