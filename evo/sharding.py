"""Populations split across devices with JAX's sharding (`Mesh`, `NamedSharding`).

The population axis (the first axis of `X`, `F` and every per-individual array) is split
over a one-axis device mesh. Evaluation then runs on each device's share, and selection
on the whole: the compiler moves objectives, sort keys and the survivors' rows between
devices (for NSGA-II at population 1000 on 4 devices, collectives over arrays of 2,000
entries and one over the 1000 survivors' `X`, `F` and violation), and the state a tell
returns is replicated, the whole population on every device. The same key gives the
same result as on one device.

    mesh = population_mesh()                                # every device
    result = evo.run(algorithm, ShardedProblem(problem=problem, mesh=mesh), key, n_gen)

or by hand, with the state itself split:

    state = shard_state(algorithm.init(key), mesh, algorithm.pop_size)
    X, state = algorithm.ask(state)
    state = algorithm.tell(state, ShardedProblem(problem=problem, mesh=mesh).evaluate(X))

Keep the population size a multiple of the number of devices so the shares are equal.
Several hosts: call `jax.distributed.initialize()` on every host before anything else;
`jax.devices()`, and so `population_mesh()`, then lists the devices of all hosts, and
each host runs the same program. Results that must come back to NumPy (`evo.run`'s
`Result`) need to be fully addressable, so across hosts use the hand-written loop and
gather with `jax.experimental.multihost_utils.process_allgather` (tested with two
processes on one machine, joined over CPU collectives).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from evo.checks import settings_class
from evo.problems.base import Problem

POPULATION_AXIS = "population"


def population_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named `POPULATION_AXIS` over `devices` (default: all of them)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (POPULATION_AXIS,))


def split_population(x: jax.Array, mesh: Mesh) -> jax.Array:
    """`x` with its first axis split across `mesh` (a sharding constraint under `jit`)."""
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec(POPULATION_AXIS)))


def shard_state(state: Any, mesh: Mesh, pop_size: int) -> Any:
    """`state` placed on `mesh`: arrays whose first axis has length `pop_size` are split
    along it, every other leaf (keys, scalars, reference points) is replicated.

    Across hosts every process passes the same `state` (the same `init` key gives it) and
    keeps the shares of its own devices."""
    split = NamedSharding(mesh, PartitionSpec(POPULATION_AXIS))
    replicated = NamedSharding(mesh, PartitionSpec())

    def place(leaf):
        if jax.dtypes.issubdtype(jax.numpy.result_type(leaf), jax.dtypes.prng_key):
            return jax.random.wrap_key_data(
                place(jax.random.key_data(leaf)), impl=jax.random.key_impl(leaf)
            )
        value = np.asarray(leaf)
        whole = value.ndim == 0 or value.shape[0] != pop_size
        return jax.make_array_from_callback(
            value.shape, replicated if whole else split, lambda index: value[index]
        )

    return jax.tree.map(place, state)


@settings_class(eq=True)
class ShardedProblem(Problem):
    """`problem` evaluated with the population split across `mesh`.

    Decision vectors are split along their first axis before evaluation, and objectives
    (and constraint values) come back split the same way. Everything else (bounds, true
    front, the state of a stateful problem) is `problem`'s own.
    """

    n_var: int = dataclasses.field(init=False)
    n_obj: int = dataclasses.field(init=False)
    problem: Problem
    mesh: Mesh

    def __post_init__(self):
        object.__setattr__(self, "n_var", self.problem.n_var)
        object.__setattr__(self, "n_obj", self.problem.n_obj)

    @property
    def lb(self) -> np.ndarray:
        return self.problem.lb

    @property
    def ub(self) -> np.ndarray:
        return self.problem.ub

    @property
    def n_constr(self) -> int:
        return self.problem.n_constr

    @property
    def ref_point(self) -> np.ndarray | None:
        return self.problem.ref_point

    def init_state(self, key: jax.Array) -> Any:
        return self.problem.init_state(key)

    def evaluate_constrained_with_state(
        self, state: Any, X: jax.Array
    ) -> tuple[jax.Array, jax.Array, Any]:
        F, G, state = self.problem.evaluate_constrained_with_state(
            state, split_population(X, self.mesh)
        )
        return split_population(F, self.mesh), split_population(G, self.mesh), state

    def pareto_front(self, n_points: int) -> np.ndarray | None:
        return self.problem.pareto_front(n_points)
