"""Populations split over 4 host devices, in one process or in two, give the same result
as one device."""

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from compile_options import QUICK

HAND_LOOP = textwrap.dedent(
    """
    import jax
    import numpy as np
    from jax.experimental.multihost_utils import process_allgather

    import evo
    from evo.problems import DTLZ2
    from evo.sharding import ShardedProblem, population_mesh, shard_state

    assert jax.device_count() == 4
    mesh = population_mesh()
    dtlz2 = DTLZ2(n_var=7, n_obj=3)
    nsga3 = evo.NSGA3(n_obj=3, lb=dtlz2.lb, ub=dtlz2.ub, ref_dirs=evo.das_dennis(3, 4), pop_size=16)

    def generation(problem):
        def step(state):
            X, state = nsga3.ask(state)
            return nsga3.tell(state, problem.evaluate(X))
        return jax.jit(step)

    state = nsga3.init(jax.random.key(1))
    split = shard_state(state, mesh, nsga3.pop_size)
    assert not split.X.sharding.is_fully_replicated and split.ideal.sharding.is_fully_replicated
    step_one, step_four = generation(dtlz2), generation(ShardedProblem(problem=dtlz2, mesh=mesh))
    for _ in range(3):
        state, split = step_one(state), step_four(split)
    np.testing.assert_array_equal(state.X, process_allgather(split.X, tiled=True))
    np.testing.assert_array_equal(state.F, process_allgather(split.F, tiled=True))
    print("same")
    """
)

RUN = textwrap.dedent(
    """
    import jax
    import numpy as np

    import evo
    from evo.problems import ZDT1
    from evo.sharding import ShardedProblem, population_mesh

    seen = []

    class Spy(ZDT1):
        def evaluate(self, X):
            jax.debug.inspect_array_sharding(X, callback=seen.append)
            return super().evaluate(X)

    problem = Spy(n_var=6)
    nsga2 = evo.NSGA2(pop_size=16, n_obj=2, lb=problem.lb, ub=problem.ub)
    one = evo.run(nsga2, ZDT1(n_var=6), jax.random.key(0), 3, progress=False)
    four = evo.run(nsga2, ShardedProblem(problem=problem, mesh=population_mesh()), jax.random.key(0), 3, progress=False)
    np.testing.assert_array_equal(one.X, four.X)
    np.testing.assert_array_equal(one.F, four.F)
    assert seen and all(s.num_devices == 4 and not s.is_fully_replicated for s in seen), seen
    """
)

TWO_PROCESSES = textwrap.dedent(
    """
    import sys

    import jax

    jax.config.update("jax_num_cpu_devices", 2)
    jax.distributed.initialize(f"localhost:{sys.argv[2]}", num_processes=2, process_id=int(sys.argv[1]))
    assert jax.local_device_count() == 2
    """
)


def four_device_environment() -> dict[str, str]:
    quick = " ".join(f"--{name}={str(value).lower()}" for name, value in QUICK.items())
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count=4 {quick}")


def test_four_host_devices_match_one_device_through_run():
    out = subprocess.run(
        [sys.executable, "-c", RUN + 'print("same")'], env=four_device_environment(),
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("same"), out.stderr[-3000:]


# The hand-written loop on NSGA-III as well: about a minute on 2 cores.
@pytest.mark.slow
def test_four_devices_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    out = subprocess.run(
        [sys.executable, "-c", RUN + HAND_LOOP], env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("same"), out.stderr[-3000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


# Two processes of 2 CPU devices each, joined by jax.distributed as two hosts would be.
@pytest.mark.slow
def test_two_processes_match_one_device():
    port = str(free_port())
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_PROCESSES + HAND_LOOP, str(rank), port],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for rank in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0 and stdout.strip().endswith("same"), stderr[-3000:]
