"""The `evo` command line: run any shipped algorithm on any shipped problem, redraw plots, list.

    evo run --algorithm nsga3 --problem dtlz2 --n-obj 3 --pop 1000 --gens 200 --seed 0 --out runs/x
    evo plot runs/x
    evo list

`evo run` writes into `--out`: `config.json` (the command's settings), `population.csv`
(final decision vectors and objectives), `front.csv` (the feasible non-dominated rows),
`history.csv` (one row per recorded generation, as `--record`, `--record-every` and
`--indicators-every` choose) and the plots `front.png` (2 or 3 objectives) or
`parallel.png` (more), and `history.png`. The CSV columns are `x1`, `x2`, ... and the
problem's `objective_names` (`f1`, `f2`, ... or, for robot tasks, the negated rewards such
as `-speed reward`), which also name the plots' axes. With `--checkpoint-every K` it also keeps
`checkpoint.npz`, and the same command run again resumes from it. On a robot task,
`--render` also writes `policy_best_1.gif`, ... and `policy_knee.gif`: an episode of each
objective's best policy of the front and of its knee.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np

import evo
from evo.decision import pick_rule, showcase
from evo.problems import Problem, RobotControl, get_problem, problem_names
from evo.registry import ALGORITHMS, algorithm_class, markdown_table, summary, with_table

TRUE_FRONT = "true_front.csv"  # a sample of the problem's true front, for the plots


def reference_point(problem: Problem, given: list[float] | None) -> np.ndarray | None:
    """`given`, else the problem's own `ref_point` (None when it has no known front)."""
    point = problem.ref_point if given is None else np.asarray(given, dtype=float)
    if point is not None and np.shape(point) != (problem.n_obj,):
        raise ValueError(f"--ref-point needs {problem.n_obj} numbers, got {list(given)}")
    return point


def optimum_value(problem: Problem) -> float | None:
    """The optimum of a single-objective problem that knows it (the test functions and
    BBOB do; a wrapped function does not), else None."""
    value = getattr(problem, "optimum_value", None) if problem.n_obj == 1 else None
    return None if value is None else float(value)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def output_folder(text: str) -> Path:
    """`--out` as a folder that is or can become a directory; ValueError otherwise."""
    out = Path(text)
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            where = "is a file" if path == out else f"is inside {path}, which is a file"
            raise ValueError(f"--out {out} {where}; give a folder")
    return out


def parse_value(text: str) -> Any:
    """A number, list, true/false/null from JSON; anything else stays a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def keyword_arguments(items: list[str] | None, flag: str) -> dict[str, Any]:
    """`name=value` items of a repeatable flag as keyword arguments."""
    kwargs = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if not value:
            raise ValueError(f"{flag} takes name=value, got {item!r}")
        kwargs[name.replace("-", "_")] = parse_value(value)
    return kwargs


def build(args: argparse.Namespace) -> tuple[Any, Problem]:
    """The algorithm and problem that `args` name; ValueError on unknown names."""
    sizes = {"n_obj": args.n_obj, "n_var": args.n_var}
    sizes = {name: value for name, value in sizes.items() if value is not None}
    cls = algorithm_class(args.algorithm)
    settings = keyword_arguments(args.algorithm_arg, "--algorithm-arg")
    if args.pop is not None:
        settings["pop_size"] = args.pop
    try:  # a misspelled or misplaced keyword is a bad argument, not a bug
        problem = get_problem(args.problem, **sizes | keyword_arguments(args.problem_arg,
                                                                         "--problem-arg"))
        if args.ref_point is not None and "ref_point" in cls.__dataclass_fields__:
            settings["ref_point"] = reference_point(problem, args.ref_point)
        if "n_gen" in cls.__dataclass_fields__:  # a run-length schedule (RVEA's penalty)
            settings.setdefault("n_gen", args.gens)
        return cls.for_problem(problem, **settings), problem
    except TypeError as error:
        raise ValueError(str(error)) from None


def write_csv(path: Path, header: list[str], rows: np.ndarray) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(np.asarray(rows).tolist())


def history_table(history: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """`history` flattened to columns, `generation` and `n_evals` first: `f_min_0, f_min_1,
    ...` for the per-objective arrays."""
    first = [name for name in ("generation", "n_evals") if name in history]
    header, columns = [], []
    for name in first + sorted(set(history) - set(first)):
        values = np.asarray(history[name], dtype=float)
        if values.ndim == 1:
            header.append(name)
            columns.append(values)
        else:
            header += [f"{name}_{j}" for j in range(values.shape[1])]
            columns += list(values.T)
    return header, np.stack(columns, axis=1)


def read_csv(path: Path) -> np.ndarray:
    """The numbers of a CSV file with one header row `(rows, columns)`."""
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))


def read_history(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as file:
        header = next(csv.reader(file))
    data = read_csv(path)
    return {name: data[:, j] for j, name in enumerate(header)}


def claim(out: Path, config: dict[str, Any]) -> None:
    """Raise ValueError, writing nothing, when `out` holds the config of another run (other
    settings than `config`; a different `gens` is the same run, extended or shortened)."""
    path = out / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    changed = [f"{name} {saved.get(name)!r} there, {value!r} here" for name, value in config.items()
               if name != "gens" and saved.get(name) != value]
    if changed:
        raise ValueError(f"--out {out} holds another run ({'; '.join(changed)}); give another "
                         "folder or remove that one")


def draw(out: Path) -> list[Path]:
    """Draw the plots of the run saved in `out`; returns the files written."""
    from evo.metrics import plot_front, plot_history, plot_parallel

    config = json.loads((out / "config.json").read_text())
    with open(out / "front.csv", newline="") as file:
        rows = list(csv.reader(file))
    header = rows[0]
    front = np.array(rows[1:], dtype=float).reshape(-1, len(header))
    # The objectives are the last n_obj columns, named by the problem.
    names = header[len(header) - config["n_obj"]:]
    F = front[:, len(header) - config["n_obj"]:]
    history = read_history(out / "history.csv")
    title = f"{config['algorithm']} on {config['problem']}"
    written = []
    if F.shape[1] in (2, 3):
        true_front = read_csv(out / TRUE_FRONT) if (out / TRUE_FRONT).exists() else None
        written.append(out / "front.png")
        plot_front(F, true_front, names=names, title=title, path=written[-1])
    elif F.shape[1] > 3:
        written.append(out / "parallel.png")
        plot_parallel(F, names=names, title=title, path=written[-1])
    if config["n_obj"] == 1:  # the distance to the optimum is no IGD: show the best value
        curves = {key: history[column] for key, column in (("n_evals", "n_evals"),
                                                            ("f_min", "f_min_0"))
                  if column in history}
    else:
        curves = {key: history[key] for key in ("n_evals", "igd", "hv") if key in history}
    if len(curves) >= 2:
        # The rows where every curve was computed (the indicators are NaN elsewhere).
        rows = ~np.any(np.isnan(np.stack(list(curves.values()))), axis=0)
        written.append(out / "history.png")
        plot_history({key: values[rows] for key, values in curves.items()},
                     f_opt=config.get("f_opt"), title=title, path=written[-1])
    return written


def summary_line(result: evo.Result, n_obj: int) -> str:
    """What the run found, numbers to 6 significant digits (no "-0")."""

    def numbers(values: np.ndarray) -> str:
        return "[" + ", ".join(f"{value + 0.0:.6g}" for value in values) + "]"

    if n_obj == 1:
        finite = np.isfinite(result.F[:, 0]) & (result.violation <= 0)
        if not finite.any():
            return "no feasible finite row"
        best = int(np.argmin(np.where(finite, result.F[:, 0], np.inf)))
        return f"best f {result.F[best, 0] + 0.0:.6g} at x = {numbers(result.X[best])}"
    rows = result.pareto_F if len(result.pareto_F) else result.F
    return (f"{len(result.pareto_F)} non-dominated rows; best per objective "
            f"{numbers(rows.min(axis=0))}")


def command_run(args: argparse.Namespace) -> int:
    out = output_folder(args.out)
    algorithm, problem = build(args)
    if args.ref_point is not None and problem.n_obj not in (2, 3) \
            and "ref_point" not in algorithm.__dataclass_fields__:
        raise ValueError(f"--ref-point sets the hypervolume of 2 or 3 objectives; "
                         f"{args.problem} has {problem.n_obj}")
    ref_point = reference_point(problem, args.ref_point) if problem.n_obj in (2, 3) else None
    if args.reevaluate_every is not None and not algorithm.takes_reevaluation:
        raise ValueError(f"--reevaluate-every: {args.algorithm} cannot re-evaluate its "
                         "population (the GA family can, but MOEA/D, RVEA and SMS-EMOA)")
    if args.render and not isinstance(problem, RobotControl):
        raise ValueError(f"--render draws robot policies; {args.problem} is not a robot task")
    chosen = None
    if args.pick is not None:
        if problem.n_obj == 1:
            raise ValueError("--pick chooses among the front of 2 or more objectives; "
                             f"{args.problem} has 1")
        chosen = pick_rule(args.pick, problem.n_obj)
    config = {
        "algorithm": args.algorithm, "problem": args.problem, "n_obj": problem.n_obj,
        "n_var": problem.n_var, "pop": algorithm.pop_size, "gens": args.gens,
        "seed": args.seed, "record": args.record, "record_every": args.record_every,
        "indicators_every": args.indicators_every, "reevaluate_every": args.reevaluate_every,
        "ref_point": None if ref_point is None else ref_point.tolist(),
        "f_opt": optimum_value(problem),
        "problem_args": keyword_arguments(args.problem_arg, "--problem-arg"),
        "algorithm_args": keyword_arguments(args.algorithm_arg, "--algorithm-arg"),
    }
    claim(out, config)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1))
    front = problem.pareto_front(500) if problem.n_obj in (2, 3) else None
    if front is not None:
        write_csv(out / TRUE_FRONT, list(problem.objective_names), front)
    checkpointing = {}
    if args.checkpoint_every is not None:
        checkpointing = {"checkpoint": out / "checkpoint.npz",
                         "checkpoint_every": args.checkpoint_every}
    result = evo.run(
        algorithm, problem, jax.random.key(args.seed), args.gens,
        chunk_size=args.chunk_size, progress=not args.quiet, record=args.record,
        record_every=args.record_every, indicators_every=args.indicators_every,
        ref_point=ref_point, reevaluate_every=args.reevaluate_every, **checkpointing,
    )
    n_var, n_obj = result.X.shape[1], result.F.shape[1]
    columns = [f"x{j + 1}" for j in range(n_var)] + list(problem.objective_names)
    write_csv(out / "population.csv", columns, np.hstack([result.X, result.F]))
    write_csv(out / "front.csv", columns, np.hstack([result.pareto_X, result.pareto_F]))
    write_csv(out / "history.csv", *history_table(result.history))
    written = draw(out) if not args.no_plots else []
    if args.render and len(result.pareto_X):
        written += render_policies(problem, result, out)
    print(f"{summary_line(result, n_obj)}; wrote "
          f"{', '.join(p.name for p in [out / 'front.csv', out / 'history.csv', *written])}"
          f" in {out}")
    if chosen is not None:
        print_picked(result, chosen(result.pareto_F) if len(result.pareto_F) else [], args.pick)
    return 0


def render_policies(problem: RobotControl, result: evo.Result, out: Path) -> list[Path]:
    """GIFs `policy_<label>.gif` in `out` of the front rows `evo.decision.showcase` picks
    (one row for a single objective: the best), each an episode from the run's final
    observation statistics."""
    F = result.pareto_F
    rows = showcase(F) if F.shape[1] > 1 else {"best_1": int(np.argmin(F[:, 0]))}
    written = []
    for label, row in rows.items():
        written.append(out / f"policy_{label}.gif")
        problem.render(result.pareto_X[row], result.problem_state.obs_stats, written[-1])
    return written


def print_picked(result: evo.Result, rows: Any, how: str) -> None:
    """The front rows `rows` chose by `--pick how`, one line each, as front.csv numbers them."""
    print(f"--pick {how}: {len(rows)} of the {len(result.pareto_F)} front rows")
    for row in rows:
        objectives = ", ".join(f"{value + 0.0:.6g}" for value in result.pareto_F[row])
        variables = ", ".join(f"{value + 0.0:.6g}" for value in result.pareto_X[row])
        print(f"  row {row}: f = [{objectives}]  x = [{variables}]")


def command_plot(args: argparse.Namespace) -> int:
    out = Path(args.run_dir)
    if not (out / "config.json").exists():
        raise ValueError(f"{out} holds no run (no config.json); give the --out of `evo run`")
    for path in draw(out):
        print(f"wrote {path}")
    return 0


def command_list(args: argparse.Namespace) -> int:
    if args.markdown is not None:
        if args.markdown:
            path = Path(args.markdown)
            path.write_text(with_table(path.read_text()))
            print(f"wrote the algorithm table into {path}")
        else:
            print(markdown_table())
        return 0
    print("algorithms:")
    for name in ALGORITHMS:
        try:
            text = summary(algorithm_class(name))[:100]
        except ImportError as error:  # an optional dependency, e.g. optax for evo.bo
            text = f"not available here: {error}"
        print(f"  {name:<12} {text}")
    print("problems:")
    for name, text in problem_names().items():
        print(f"  {name:<16} {text}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="evo", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run an algorithm on a problem and save the results",
                              description="Run an algorithm on a problem; write CSVs and plots.")
    run.add_argument("--algorithm", required=True, help=f"one of {', '.join(ALGORITHMS)}")
    run.add_argument("--problem", required=True, help="a problem name (see `evo list`)")
    run.add_argument("--n-obj", type=int, help="number of objectives, if the problem takes it")
    run.add_argument("--n-var", type=int, help="number of variables, if the problem takes it")
    run.add_argument("--problem-arg", action="append", metavar="NAME=VALUE",
                     help="another keyword of the problem (repeatable), e.g. episode_length=100")
    run.add_argument("--algorithm-arg", action="append", metavar="NAME=VALUE",
                     help="another setting of the algorithm (repeatable), e.g. sbx_eta=20")
    run.add_argument("--pop", type=positive_int,
                     help="population size, or batch size q of a Bayesian optimiser "
                          "(default: the algorithm's own)")
    run.add_argument("--gens", type=positive_int, default=100,
                     help="generations (default 100)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--ref-point", type=float, nargs="+",
                     help="hypervolume reference point (HypE and the hypervolume history)")
    run.add_argument("--chunk-size", type=positive_int, default=10,
                     help="generations per compiled chunk (default 10)")
    run.add_argument("--record", default="all", choices=("none", "stats", "all"),
                     help="what history.csv holds: none (generations and evaluations), stats "
                          "(also best and mean objectives, feasible fraction) or all (also "
                          "IGD and hypervolume) (default all)")
    run.add_argument("--record-every", type=positive_int, default=1, metavar="K",
                     help="a history row every K generations and at the last (default 1)")
    run.add_argument("--indicators-every", type=positive_int, default=50, metavar="K",
                     help="with --record all, IGD and hypervolume every K generations and at "
                          "the last, empty (nan) in the other rows (default 50)")
    run.add_argument("--checkpoint-every", type=positive_int, metavar="K",
                     help="save out/checkpoint.npz every K generations; the same command "
                          "run again resumes from it")
    run.add_argument("--pick", metavar="HOW",
                     help="print the front rows chosen by evo.decision.pick: knee, "
                          "weights=w1,...,wm (closest pseudo-weights) or compromise[=w1,...]")
    run.add_argument("--reevaluate-every", type=positive_int, metavar="K",
                     help="evaluate the population again every K generations and at the "
                          "last, for noisy problems such as robot tasks (default: never)")
    run.add_argument("--render", action="store_true",
                     help="robot tasks: write a GIF of an episode of each objective's best "
                          "policy and of the knee (evo.decision.showcase)")
    run.add_argument("--no-plots", action="store_true", help="write the CSVs only")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=command_run, command_parser=run)

    plot = commands.add_parser("plot", help="redraw the plots of a saved run",
                               description="Redraw front.png and history.png of a saved run.")
    plot.add_argument("run_dir", help="the --out folder of `evo run`")
    plot.set_defaults(handler=command_plot, command_parser=plot)

    listing = commands.add_parser("list", help="list algorithms and problems",
                                  description="List the algorithms and problems, one per line.")
    listing.add_argument("--markdown", nargs="?", const="", metavar="FILE",
                         help="print the algorithm table as Markdown, or write it into FILE "
                              "between its <!-- algorithms --> markers")
    listing.set_defaults(handler=command_list, command_parser=listing)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args, unknown = top.parse_known_args(argv)
    if unknown:  # a misspelled flag: the usage of the command it was given to
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as error:  # CheckpointError is a ValueError
        print(f"evo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output's reader stopped early (`evo list | head`)
        # Python would report the failed flush of stdout at exit: point it at devnull.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
