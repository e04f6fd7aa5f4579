"""Checkpoint and resume: atomic writes, exact resumption after SIGKILL, corrupted files."""

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest
from pymoo.problems import get_problem as pymoo_problem

import evo
from evo.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from evo.problems import ZDT1, FunctionProblem, PymooProblem
from evo.run import run_description

from compile_options import QUICK
from registered import every_algorithm

PROBLEM = ZDT1(n_var=6)
ALGO = evo.NSGA2(pop_size=16, n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub)


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    path = tmp_path / "run.npz"
    whole = evo.run(ALGO, PROBLEM, jax.random.key(7), 30, progress=False)
    evo.run(ALGO, PROBLEM, jax.random.key(7), 12, progress=False, checkpoint=path,
            checkpoint_every=5)
    assert load_checkpoint(path, ALGO.init(jax.random.key(7)), run=None).generation == 12
    resumed = evo.run(ALGO, PROBLEM, jax.random.key(7), 30, progress=False, checkpoint=path,
                      checkpoint_every=5)
    np.testing.assert_array_equal(resumed.X, whole.X)
    np.testing.assert_array_equal(resumed.F, whole.F)
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name])


def test_checkpoint_of_another_run_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    evo.run(ALGO, PROBLEM, jax.random.key(1), 5, progress=False, checkpoint=path,
            checkpoint_every=5)
    with pytest.raises(CheckpointError, match="belongs to another run.*\n  key"):
        evo.run(ALGO, PROBLEM, jax.random.key(2), 10, progress=False, checkpoint=path,
                checkpoint_every=5)
    bigger = evo.NSGA2(pop_size=18, n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub)
    with pytest.raises(CheckpointError, match="algorithm.pop_size: 16 in the file, 18 now"):
        evo.run(bigger, PROBLEM, jax.random.key(1), 10, progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="checkpoint is at generation 5, past n_gen=3"):
        evo.run(ALGO, PROBLEM, jax.random.key(1), 3, progress=False, checkpoint=path,
                checkpoint_every=5)


class Interrupted(Exception):
    pass


def test_thinned_run_interrupted_between_its_rows_resumes_exactly(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    thinning = {"record_every": 4, "indicators_every": 6, "checkpoint": path,
                "checkpoint_every": 5, "progress": False}
    whole = evo.run(ALGO, PROBLEM, jax.random.key(7), 23, **{**thinning, "checkpoint": None})
    run_module = importlib.import_module("evo.run")
    save = run_module.save_checkpoint

    def save_then_stop(*args):
        save(*args)
        raise Interrupted

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupted):
        evo.run(ALGO, PROBLEM, jax.random.key(7), 23, **thinning)
    monkeypatch.undo()
    # Written at generation 10, which is no row of the 23-generation run: it is kept (with
    # the exact evaluation count, its IGD not computed) until the run goes on past it.
    saved = load_checkpoint(path, ALGO.init(jax.random.key(7)), run=None)
    np.testing.assert_array_equal(saved.history["generation"], [4, 6, 8, 10])
    np.testing.assert_array_equal(saved.history["n_evals"], [64, 96, 128, 160])
    assert np.isnan(saved.history["igd"]).tolist() == [True, False, True, True]
    with pytest.raises(ValueError, match="generation 10 of a longer run, which did not compute"
                                         " igd there"):
        evo.run(ALGO, PROBLEM, jax.random.key(7), 10, **thinning)
    with pytest.raises(CheckpointError, match="history.record_every: 4 in the file, 5 now"):
        evo.run(ALGO, PROBLEM, jax.random.key(7), 23, **{**thinning, "record_every": 5})
    with pytest.raises(CheckpointError, match='history.record: "all" in the file, "stats" now'):
        evo.run(ALGO, PROBLEM, jax.random.key(7), 23, **{**thinning, "record": "stats"})
    resumed = evo.run(ALGO, PROBLEM, jax.random.key(7), 23, **thinning)
    np.testing.assert_array_equal(resumed.F, whole.F)
    np.testing.assert_array_equal(whole.history["generation"], [4, 6, 8, 12, 16, 18, 20, 23])
    assert resumed.history.keys() == whole.history.keys()
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name])


def zdt1(X):
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.stack([X[:, 0], g * (1.0 - np.sqrt(X[:, 0] / g))], axis=1)


def zdt1_swapped(X):
    return zdt1(X)[:, ::-1]


def scaled(factor):
    return lambda X: factor * zdt1(X)


def refuses(path, problem, match):
    with pytest.raises(CheckpointError, match=match):
        evo.run(ALGO, problem, jax.random.key(1), 5, progress=False, checkpoint=path)


def resumes(path, problem):
    # Run to the checkpoint's own generation: accepted, with nothing left to compile.
    result = evo.run(ALGO, problem, jax.random.key(1), 3, progress=False, checkpoint=path)
    assert len(result.history["n_evals"]) == 3


def test_problems_that_differ_only_in_their_function_never_share_a_checkpoint(tmp_path):
    def vectorized(fn):
        return FunctionProblem(n_var=6, n_obj=2, fn=fn, vectorized=True)

    path = tmp_path / "run.npz"
    evo.run(ALGO, vectorized(zdt1), jax.random.key(1), 3, progress=False, checkpoint=path)
    refuses(path, vectorized(zdt1_swapped), r"problem\.fn\.(code|function)")
    refuses(path, vectorized(scaled(1.0)), r"problem\.fn")
    resumes(path, vectorized(zdt1))  # another instance, the same function: the same run
    closure = tmp_path / "closure.npz"
    evo.run(ALGO, vectorized(scaled(2.0)), jax.random.key(1), 3, progress=False,
            checkpoint=closure)
    refuses(closure, vectorized(scaled(3.0)),
            r'problem\.fn\.closure\[0\]: "2\.0" in the file, "3\.0" now')
    resumes(closure, vectorized(scaled(2.0)))


def test_pymoo_problems_are_told_apart_by_what_they_are(tmp_path):
    path = tmp_path / "run.npz"
    wrapped = PymooProblem.wrap(pymoo_problem("zdt1", n_var=6))
    evo.run(ALGO, wrapped, jax.random.key(1), 3, progress=False, checkpoint=path)
    refuses(path, PymooProblem.wrap(pymoo_problem("zdt2", n_var=6)), r"problem\.problem\.")
    resumes(path, PymooProblem.wrap(pymoo_problem("zdt1", n_var=6)))


def test_corrupted_checkpoint_gives_a_clear_error_and_stays(tmp_path):
    path = tmp_path / "run.npz"
    state = ALGO.init(jax.random.key(0))
    save_checkpoint(path, state, {"f_min": np.zeros((4, 2))}, 4, "run A")
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path, state, "run A")
    assert path.read_bytes() == good[: len(good) // 2]
    path.write_bytes(b"\0" * len(good))
    with pytest.raises(CheckpointError, match="cannot be read"):
        evo.run(ALGO, PROBLEM, jax.random.key(0), 5, progress=False, checkpoint=path,
                checkpoint_every=5)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    state = ALGO.init(jax.random.key(0))
    save_checkpoint(path, state, {}, 1, "run A")
    before = path.read_bytes()

    def disk_full(_):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, state, {"f_min": np.zeros((2, 2))}, 2, "run A")
    monkeypatch.undo()
    with pytest.raises(TypeError, match="not a numeric array"):
        save_checkpoint(path, {"bad": object()}, {}, 2, "run A")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


def test_state_and_keys_round_trip(tmp_path):
    state = ALGO.init(jax.random.key(3))
    save_checkpoint(tmp_path / "s.npz", state, {"n_evals": np.arange(3)}, 3, "A")
    loaded = load_checkpoint(tmp_path / "s.npz", ALGO.init(jax.random.key(4)), "A")
    assert loaded.generation == 3
    np.testing.assert_array_equal(loaded.history["n_evals"], np.arange(3))
    np.testing.assert_array_equal(jax.random.key_data(loaded.state.key),
                                  jax.random.key_data(state.key))
    np.testing.assert_array_equal(loaded.state.X, state.X)
    with pytest.raises(CheckpointError, match="array 2 is float32"):
        load_checkpoint(tmp_path / "s.npz",
                        evo.NSGA2(pop_size=8, n_obj=2, lb=PROBLEM.lb, ub=PROBLEM.ub)
                        .init(jax.random.key(0)), "A")


KILLED_RUN = textwrap.dedent("""
    import sys, time
    import jax, numpy as np
    import evo
    from evo.problems import FunctionProblem

    def zdt1(X):
        time.sleep(0.05)
        g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
        return np.stack([X[:, 0], g * (1.0 - np.sqrt(X[:, 0] / g))], axis=1)

    problem = FunctionProblem(n_var=6, n_obj=2, fn=zdt1, vectorized=True)
    algorithm = evo.NSGA2(pop_size=16, n_obj=2, lb=problem.lb, ub=problem.ub)
    checkpoint = None if sys.argv[1] == "-" else sys.argv[1]
    result = evo.run(algorithm, problem, jax.random.key(11), 60, chunk_size=2, progress=False,
                     checkpoint=checkpoint, checkpoint_every=4)
    np.save(sys.argv[2], result.F)
""")


def quick_compiling_environment() -> dict[str, str]:
    """The environment with XLA's quick-compile mode added: compiling the run takes most of
    each child's time, and children compiled alike still agree bit for bit."""
    env = dict(os.environ)
    quick = " ".join(f"--{name}={str(value).lower()}" for name, value in QUICK.items())
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {quick}".strip()
    return env


def test_run_killed_with_sigkill_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN)
    checkpoint = tmp_path / "ckpt.npz"
    env = quick_compiling_environment()
    # The uninterrupted run meanwhile, on the other core.
    whole = subprocess.Popen([sys.executable, str(script), "-", str(tmp_path / "whole.npy")],
                             env=env)
    try:
        child = subprocess.Popen([sys.executable, str(script), str(checkpoint),
                                  str(tmp_path / "a")], env=env)
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        subprocess.run([sys.executable, str(script), str(checkpoint),
                        str(tmp_path / "resumed.npy")], check=True, env=env)
        assert whole.wait(timeout=120) == 0
    finally:
        whole.kill()
        whole.wait()
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"),
                                  np.load(tmp_path / "whole.npy"))


# Both processes share a persistent compilation cache and walk the algorithms in opposite
# orders, so each compiles about half of them and loads the rest from the other's work.
SHARED_CACHE = """
    jax.config.update("jax_compilation_cache_dir", sys.argv[2])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
"""

FIRST_HALF = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path

    import jax
    import evo
    from registered import every_algorithm
""" + SHARED_CACHE + """
    out = Path(sys.argv[1])
    for name, (algorithm, problem) in every_algorithm().items():
        evo.run(algorithm, problem, jax.random.key(4), 4, chunk_size=2, progress=False,
                checkpoint=out / f"{name}.npz", checkpoint_every=2)
    (out / "written").touch()
    os.kill(os.getpid(), signal.SIGKILL)
""")

SECOND_HALF = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    import jax
    import numpy as np
    import evo
    from registered import every_algorithm
""" + SHARED_CACHE + """
    out = Path(sys.argv[1])
    runs = every_algorithm()
    whole = {name: evo.run(algorithm, problem, jax.random.key(4), 6, chunk_size=2,
                           progress=False)
             for name, (algorithm, problem) in reversed(runs.items())}
    deadline = time.monotonic() + 300
    while not (out / "written").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, (algorithm, problem) in runs.items():
        resumed = evo.run(algorithm, problem, jax.random.key(4), 6, chunk_size=2,
                          progress=False, checkpoint=out / f"{name}.npz", checkpoint_every=2)
        for field in ("X", "F", "violation"):
            np.testing.assert_array_equal(getattr(resumed, field), getattr(whole[name], field),
                                          err_msg=name)
        for record in whole[name].history:
            np.testing.assert_array_equal(resumed.history[record],
                                          whole[name].history[record], err_msg=name)
    print("same:", " ".join(runs))
""")


SAVED_STATES = textwrap.dedent("""
    import sys
    from pathlib import Path

    import jax
    from evo.checkpoint import save_checkpoint
    from evo.run import run_description
    from registered import every_algorithm

    for name, (algorithm, problem) in every_algorithm().items():
        key = jax.random.key(4)
        states = (algorithm.init(key), problem.init_state(jax.random.fold_in(key, 1)))
        identity = run_description(algorithm, problem, key, states, {})
        save_checkpoint(Path(sys.argv[1]) / f"{name}.npz", states, {}, 0, identity)
""")


def test_every_registered_algorithm_state_and_identity_survive_a_fresh_process(tmp_path):
    # What a resume in another process needs from each algorithm, without compiling a run
    # (the slow test below runs them): the run's description comes out the same there, and
    # its state loads back bit for bit into this process's template.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, "-c", SAVED_STATES, str(tmp_path)], env=env, check=True)
    for name, (algorithm, problem) in every_algorithm().items():
        key = jax.random.key(4)
        states = (algorithm.init(key), problem.init_state(jax.random.fold_in(key, 1)))
        template = (algorithm.init(jax.random.key(5)), states[1])
        identity = run_description(algorithm, problem, key, states, {})
        loaded = load_checkpoint(tmp_path / f"{name}.npz", template, identity).state
        for ours, theirs in zip(jax.tree.leaves(states), jax.tree.leaves(loaded)):
            if jax.dtypes.issubdtype(ours.dtype, jax.dtypes.prng_key):
                ours, theirs = jax.random.key_data(ours), jax.random.key_data(theirs)
            assert ours.dtype == theirs.dtype, name
            np.testing.assert_array_equal(ours, theirs, err_msg=name)


@pytest.mark.slow
def test_every_registered_algorithm_resumes_in_a_fresh_process(tmp_path):
    # The first process writes each algorithm's checkpoint at generation 4 and is killed;
    # the second, started at the same time, runs each one whole (6 generations) meanwhile,
    # then resumes each checkpoint to generation 6 and compares.
    env = quick_compiling_environment()
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    cache = str(tmp_path / "compiled")
    first = subprocess.Popen([sys.executable, "-c", FIRST_HALF, str(tmp_path), cache], env=env)
    second = subprocess.Popen([sys.executable, "-c", SECOND_HALF, str(tmp_path), cache],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert first.wait(timeout=400) == -signal.SIGKILL
        stdout, stderr = second.communicate(timeout=400)
    finally:
        first.kill()
        second.kill()
    assert second.returncode == 0, stderr[-3000:]
    assert stdout.split() == ["same:", *evo.registry.ALGORITHMS]
