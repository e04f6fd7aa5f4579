"""CMA-ES on single-objective Brax robot control (halfcheetah's own reward by default).

    python examples/robot_cmaes.py --task hopper --pop 32 --gens 100 --episode-length 500

The objective is the environment's own reward per step, negated. Prints progress and the
best reward, and writes the best policy (weights and observation statistics, NPZ) and the
curve of the best reward per generation (CSV and plot) to `runs/robot_cmaes_<task>`. The
defaults take a few minutes on two CPU cores, most of it compilation.
"""

from __future__ import annotations

import numpy as np

import evo
from evo.problems.robot import TASKS
from robot_common import make_problem, parse_args, solve

SO_TASKS = tuple(name for name, task in TASKS.items() if task.objectives == ("reward",))


def main() -> None:
    args = parse_args(__doc__, "cmaes", SO_TASKS, pop=16, gens=50, episode_length=200)
    problem = make_problem(args)
    algorithm = evo.CMAES(lb=problem.lb, ub=problem.ub, pop_size=args.pop)
    result = solve("CMA-ES", algorithm, problem, args)

    reward = -result.history["f_min"][:, 0]  # best mean reward per step of each generation
    best = float(-result.state.best_f)
    print(f"best mean reward per step {best:.4g} (last generation's best {reward[-1]:.4g})")
    args.out.mkdir(parents=True, exist_ok=True)
    stats = result.problem_state.obs_stats
    np.savez(args.out / "best.npz", x=np.asarray(result.state.best_x), reward=best,
             obs_count=np.asarray(stats.count), obs_mean=np.asarray(stats.mean),
             obs_m2=np.asarray(stats.m2))
    np.savetxt(args.out / "reward.csv", np.stack([result.history["n_evals"], reward], 1),
               delimiter=",", header="n_evals,best_reward_per_step", comments="")
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(result.history["n_evals"], reward, color="tab:blue")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("best reward per step")
        ax.set_title(f"CMA-ES on {args.task}")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.out / "reward.png", dpi=120)
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'evo[plot]')")
    print(f"wrote best.npz, reward.csv and reward.png to {args.out}")
    if args.render:
        problem.render(result.state.best_x, stats, args.out / "policy_best.gif")
        print(f"wrote policy_best.gif to {args.out}")


if __name__ == "__main__":
    main()
