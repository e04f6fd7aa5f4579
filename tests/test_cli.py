"""The `evo` command line: run, plot, list, and its errors."""

import csv
import inspect
import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import evo
import evo.decision
from evo.checkpoint import load_checkpoint
from evo import cli
from evo.cli import main
from evo.registry import ALGORITHMS, with_table


def read_csv(path):
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["run", "--algorithm", "nsga2", "--problem", "zdt1", "--n-var", "6",
                 "--pop", "16", "--gens", "12", "--seed", "3", "--out", str(out), "--quiet",
                 "--checkpoint-every", "5", "--record-every", "2", "--indicators-every", "4"])
    assert code == 0
    return out


def test_run_writes_population_front_history_and_plots(run_dir):
    header, population = read_csv(run_dir / "population.csv")
    assert header == [f"x{j}" for j in range(1, 7)] + ["f1", "f2"]
    assert population.shape == (16, 8)
    _, front = read_csv(run_dir / "front.csv")
    # The front is the non-dominated subset of the population.
    for row in front[:, 6:]:
        assert not np.any(np.all(population[:, 6:] <= row, axis=1)
                          & np.any(population[:, 6:] < row, axis=1))
    header, history = read_csv(run_dir / "history.csv")
    assert header[:2] == ["generation", "n_evals"]
    assert {"igd", "hv", "f_min_0", "f_min_1"} <= set(header)
    np.testing.assert_array_equal(history[:, 0], np.arange(2, 13, 2))
    np.testing.assert_array_equal(history[:, 1], np.arange(2, 13, 2) * 16)
    for name in ("igd", "hv"):  # every 4 generations: empty in the other rows
        assert np.isnan(history[:, header.index(name)]).tolist() == [True, False] * 3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["ref_point"] == pytest.approx([1.1, 1.1])
    for name in ("front.png", "history.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    algorithm = evo.NSGA2(pop_size=16, n_obj=2, lb=np.zeros(6), ub=np.ones(6))
    template = (algorithm.init(jax.random.key(3)), None)
    assert load_checkpoint(run_dir / "checkpoint.npz", template, None).generation == 12


def test_run_writes_whatever_history_was_recorded(tmp_path):
    code = main(["run", "--algorithm", "nsga2", "--problem", "zdt1", "--n-var", "6", "--pop",
                 "16", "--gens", "12", "--out", str(tmp_path), "--quiet", "--record", "stats",
                 "--record-every", "5"])
    assert code == 0
    header, history = read_csv(tmp_path / "history.csv")
    assert header == ["generation", "n_evals", "f_mean_0", "f_mean_1", "f_min_0", "f_min_1"]
    np.testing.assert_array_equal(history[:, :2], [[5, 80], [10, 160], [12, 192]])
    assert (tmp_path / "front.png").exists() and not (tmp_path / "history.png").exists()


def test_plot_redraws_the_saved_run(run_dir):
    for name in ("front.png", "history.png"):
        (run_dir / name).unlink()
    assert main(["plot", str(run_dir)]) == 0
    assert (run_dir / "front.png").stat().st_size > 1000
    assert (run_dir / "history.png").stat().st_size > 1000


def test_plots_name_their_axes_by_the_saved_columns(tmp_path, monkeypatch):
    # A front whose objective columns have the problem's names (robot tasks: negated rewards).
    (tmp_path / "config.json").write_text(json.dumps({"algorithm": "nsga2", "problem": "p",
                                                      "n_obj": 2}))
    (tmp_path / "front.csv").write_text("x1,x2,-speed reward,-energy reward\n"
                                        "0.1,0.2,-3.5,1.25\n0.3,0.4,-1.0,0.5\n")
    (tmp_path / "history.csv").write_text("generation,n_evals\n1,8\n")
    drawn = {}

    def plot_front(F, front, *, names, title, path):
        drawn.update(F=F, names=names)

    monkeypatch.setattr(evo.metrics, "plot_front", plot_front)
    assert cli.draw(tmp_path) == [tmp_path / "front.png"]
    assert drawn["names"] == ["-speed reward", "-energy reward"]
    np.testing.assert_array_equal(drawn["F"], [[-3.5, 1.25], [-1.0, 0.5]])


def test_list_piped_into_a_reader_that_stops_early_ends_quietly():
    # As `evo list | head -1`: the reader closes the pipe after one line.
    child = subprocess.Popen([sys.executable, "-m", "evo.cli", "list"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "algorithms:\n"
    child.stdout.close()
    stderr = child.stderr.read()
    assert child.wait(timeout=120) == 0 and "Traceback" not in stderr, stderr


def test_list_names_every_algorithm_and_problem(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = {line.split()[0] for line in lines if line.startswith("  ")}
    assert {*ALGORITHMS, "zdt1", "dtlz2", "wfg4", "bbob"} <= names


def test_readme_algorithm_table_is_the_registry():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert with_table(readme) == readme, "run `evo list --markdown README.md`"
    for name in ALGORITHMS:
        assert f"| `{name}` |" in readme
        cls = evo.algorithm_class(name)
        assert cls.paper and cls.reference, f"{cls.__name__} names no paper or reference"


def test_run_builds_any_registered_algorithm_from_its_settings(tmp_path, capsys):
    code = main(["run", "--algorithm", "evosax", "--algorithm-arg", "strategy=SNES",
                 "--problem", "sphere", "--n-var", "3", "--pop", "6", "--gens", "3",
                 "--out", str(tmp_path), "--quiet", "--no-plots"])
    assert code == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["pop"] == 6
    _, population = read_csv(tmp_path / "population.csv")
    assert population.shape == (6, 4)


@pytest.mark.parametrize("argv, message", [
    (["--algorithm", "nsga9", "--problem", "zdt1"], "unknown algorithm 'nsga9'"),
    (["--algorithm", "nsga2", "--problem", "zdt9"], "unknown problem 'zdt9'"),
    (["--algorithm", "hype", "--problem", "zdt1", "--ref-point", "1", "2", "3"],
     "--ref-point needs 2 numbers"),
    (["--algorithm", "nsga2", "--problem", "dtlz2", "--problem-arg", "n_obj"],
     "takes name=value"),
    (["--algorithm", "nsga2", "--problem", "zdt1", "--algorithm-arg", "sbx_prob=2"],
     "NSGA2: sbx_prob must lie in [0, 1], got 2.0"),
    (["--algorithm", "cmaes", "--problem", "mw1"], "CMAES is single-objective, n_obj must be 1"),
    (["--algorithm", "nsga2", "--problem", "zdt1", "--algorithm-arg", "eta=3"],
     "NSGA2 has no setting 'eta'; its settings are lb, ub, n_obj, pop_size, sbx_eta"),
    (["--algorithm", "nsga2", "--problem", "zdt1", "--problem-arg", "foo=1"],
     "ZDT1 has no setting 'foo'"),
    (["--algorithm", "moead", "--problem", "dtlz2", "--n-obj", "3", "--pop", "1000"],
     "MOEAD: pop_size=1000 but there are 990 weight vectors"),
    (["--algorithm", "cmaes", "--problem", "sphere", "--ref-point", "1"],
     "--ref-point sets the hypervolume of 2 or 3 objectives; sphere has 1"),
    (["--algorithm", "nsga2", "--problem", "zdt1", "--pick", "weights=1,2,3"],
     "pick: weights must be 2 numbers"),
    (["--algorithm", "nsga2", "--problem", "zdt1", "--pick", "middle"], "pick: how must be"),
    (["--algorithm", "nsga2", "--problem", "zdt1", "--render"],
     "--render draws robot policies; zdt1 is not a robot task"),
    (["--algorithm", "moead", "--problem", "zdt1", "--reevaluate-every", "2"],
     "--reevaluate-every: moead cannot re-evaluate its population"),
])
def test_bad_arguments_give_one_clear_line(tmp_path, capsys, argv, message):
    assert main(["run", *argv, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evo run: error:") and message in err
    assert not (tmp_path / "out").exists()


def evo_command(*argv, cwd):
    """`evo ARGV` in a fresh process: its exit status and standard error."""
    done = subprocess.run([sys.executable, "-m", "evo.cli", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr


RUN = ["run", "--algorithm", "nsga2", "--problem", "zdt1", "--n-var", "4", "--pop", "8",
       "--gens", "4", "--quiet", "--no-plots"]


@pytest.mark.parametrize("argv, message", [
    (["--out", "afile"], "--out afile is a file; give a folder"),
    (["--out", "afile/sub"], "--out afile/sub is inside afile, which is a file"),
    (["--out", "new", "--checkpoint-every", "0"], "argument --checkpoint-every: must be an "
                                                  "integer >= 1, got '0'"),
    (["--out", "new", "--record", "most"], "argument --record: invalid choice: 'most'"),
    (["--out", "new", "--record-every", "0"], "argument --record-every: must be an integer"),
    (["--out", "new", "--algoritm", "x"], "unrecognized arguments: --algoritm x"),
])
def test_command_line_errors_are_one_line_with_status_2_and_write_nothing(tmp_path, argv,
                                                                           message):
    (tmp_path / "afile").write_text("mine")
    code, err = evo_command(*RUN, *argv, cwd=tmp_path)
    assert code == 2 and err.count("error:") == 1 and message in err, err
    # argparse's errors show the usage of `evo run`, not of `evo`.
    assert "usage: evo run" in err or err.startswith("evo run: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_refused_resume_leaves_the_folder_as_it_was(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*RUN, "--out", str(out), "--checkpoint-every", "2"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main([*RUN, "--out", str(out), "--checkpoint-every", "2", "--seed", "1"]) == 2
    assert "holds another run (seed 0 there, 1 here)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # The same command again resumes, says so, and extends the run.
    assert main([*RUN[:-2], "--out", str(out), "--checkpoint-every", "2", "--gens", "6",
                 "--no-plots"]) == 0
    assert "resuming from generation 4 of 6" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["gens"] == 6


def test_single_objective_runs_report_the_best_value_not_igd(tmp_path, capsys):
    assert main(["run", "--algorithm", "cmaes", "--problem", "sphere", "--n-var", "3",
                 "--gens", "6", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "igd" not in captured.err and "f_min=" in captured.err
    assert captured.out.startswith("best f ") and "non-dominated" not in captured.out
    header, _ = read_csv(tmp_path / "history.csv")
    assert "igd" not in header
    config = json.loads((tmp_path / "config.json").read_text())
    assert "true_front" not in config and not (tmp_path / "true_front.csv").exists()
    assert config["f_opt"] == 0 and (tmp_path / "history.png").stat().st_size > 1000


def test_summary_prints_no_negative_zero_and_pick_prints_the_chosen_rows(tmp_path, capsys):
    assert main(["run", "--algorithm", "nsga2", "--problem", "dtlz2", "--n-obj", "3",
                 "--n-var", "4", "--pop", "8", "--gens", "3", "--out", str(tmp_path),
                 "--quiet", "--no-plots", "--pick", "compromise"]) == 0
    out = capsys.readouterr().out
    assert "-0," not in out
    header, front = read_csv(tmp_path / "front.csv")
    row = int(evo.decision.compromise(front[:, -3:]))
    lines = out.splitlines()
    assert lines[1].startswith(f"--pick compromise: 1 of the {len(front)} front rows")
    assert lines[2].startswith(f"  row {row}: f = [")
    _, front = read_csv(tmp_path / "true_front.csv")
    assert front.shape[1] == 3 and len(front) > 100


def test_plot_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["run"], ["plot"], ["list"]])
def test_every_command_has_help(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: evo")


@pytest.mark.slow
def test_run_on_a_brax_task(tmp_path):
    # About 100 s, nearly all of it compiling the Brax rollout.
    code = main(["run", "--algorithm", "nsga3", "--problem", "mo-halfcheetah", "--pop", "8",
                 "--gens", "2", "--problem-arg", "episode_length=5", "--out", str(tmp_path),
                 "--quiet", "--render"])
    assert code == 0
    header, population = read_csv(tmp_path / "population.csv")
    assert header[-2:] == ["-speed reward", "-energy reward"] and population.shape[0] == 8
    assert np.all(np.isfinite(population))
    header, history = read_csv(tmp_path / "history.csv")
    assert "hv" in header and history[-1, header.index("hv")] >= 0  # computed at the last
    for name in ("front.png", "history.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("policy_best_1.gif", "policy_best_2.gif", "policy_knee.gif"):
        assert (tmp_path / name).read_bytes()[:6] == b"GIF89a"


def test_public_names_are_documented_and_only_public():
    import evo.problems

    assert not {"Any", "Callable", "functools"} & set(dir(evo.problems))
    for name in ALGORITHMS:
        try:
            cls = evo.algorithm_class(name)
        except ImportError:
            continue
        for method in ("init", "ask", "tell"):  # what help() shows, inherited or its own
            assert inspect.getdoc(getattr(cls, method)), f"{cls.__name__}.{method}: no docs"
