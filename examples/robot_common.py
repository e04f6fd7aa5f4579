"""What the robot-control examples share: their flags, the run, and the files they write.

Not a script; `robot_nsga3.py`, `robot_moead.py`, `robot_hype.py` and `robot_cmaes.py`
import it from this folder.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax
import numpy as np

import evo
from evo.cli import render_policies
from evo.problems.robot import TASKS, RobotControl

MO_TASKS = tuple(name for name, task in TASKS.items() if task.ref_point is not None)


def parse_args(
    doc: str, name: str, tasks: tuple[str, ...], pop: int, gens: int, episode_length: int
) -> argparse.Namespace:
    """Flags of a robot example; `--out` defaults to `runs/robot_<name>_<task>`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--task", choices=tasks, default=tasks[0], help="Brax task")
    parser.add_argument("--pop", type=int, default=pop, help="population size")
    parser.add_argument("--gens", type=int, default=gens, help="number of generations")
    parser.add_argument("--episode-length", type=int, default=episode_length,
                        help="steps per episode")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per individual")
    parser.add_argument("--hidden", type=int, default=16, help="hidden units of the policy")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None, help="output folder")
    parser.add_argument("--render", action="store_true",
                        help="also write GIFs of the best policy per objective and the knee")
    args = parser.parse_args()
    args.out = pathlib.Path(args.out or f"runs/robot_{name}_{args.task}")
    return args


def make_problem(args: argparse.Namespace) -> RobotControl:
    return RobotControl(task=args.task, episode_length=args.episode_length, episodes=args.episodes,
                        hidden=(args.hidden,))


def solve(label: str, algorithm, problem: RobotControl, args: argparse.Namespace) -> evo.Result:
    """`evo.run` with a progress line per generation (hypervolume for several objectives)."""
    print(f"{label} on {problem.task} ({problem.spec.env}, {problem.backend} pipeline): "
          f"{problem.n_var} weights, objectives {', '.join(problem.spec.objectives)}, "
          f"population {algorithm.pop_size}, {args.gens} generations of "
          f"{args.episodes} x {args.episode_length}-step episodes, on "
          f"{jax.devices()[0].platform}", flush=True)
    start = time.perf_counter()
    result = evo.run(algorithm, problem, jax.random.key(args.seed), args.gens, chunk_size=1,
                     ref_point=problem.ref_point, indicators_every=1)
    seconds = time.perf_counter() - start
    steps = int(result.history["n_evals"][-1]) * args.episodes * args.episode_length
    print(f"{steps:,} env steps in {seconds:.1f} s, compilation included")
    return result


def save(result: evo.Result, problem: RobotControl, out: pathlib.Path, title: str,
         render: bool = False) -> None:
    """Write the final front (objectives, weights, observation statistics), the
    hypervolume curve and the plots of both into `out`; with `render`, GIFs of the policies
    `evo.decision.showcase` picks (`evo.cli.render_policies`)."""
    out.mkdir(parents=True, exist_ok=True)
    names = problem.objective_names
    np.savetxt(out / "front.csv", result.pareto_F, delimiter=",", header=",".join(names),
               comments="")
    stats = result.problem_state.obs_stats
    np.savez(out / "front.npz", X=result.pareto_X, F=result.pareto_F,
             obs_count=np.asarray(stats.count), obs_mean=np.asarray(stats.mean),
             obs_m2=np.asarray(stats.m2))
    np.savetxt(out / "hv.csv", np.stack([result.history["n_evals"], result.history["hv"]], 1),
               delimiter=",", header="n_evals,hv", comments="")
    print(f"final hypervolume {result.history['hv'][-1]:.4g} (reference point "
          f"{problem.ref_point.tolist()}); {len(result.pareto_F)} non-dominated policies")
    try:
        from evo.metrics import plot_front, plot_history

        plot_front(result.pareto_F, names=names, title=f"{title}\nper-step means, minimised",
                   path=out / "front.png")
        plot_history(result.history, title=title, path=out / "hv.png")
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'evo[plot]')")
    print(f"wrote front.csv, front.npz, hv.csv, front.png and hv.png to {out}")
    if render:
        gifs = render_policies(problem, result, out)
        print(f"wrote {', '.join(gif.name for gif in gifs)} to {out}")

