"""One small, quick-to-compile configuration of every registered algorithm, for the tests
that run them all (and for their subprocesses, which import this module)."""

from evo.problems import ZDT1, Sphere
from evo.registry import ALGORITHMS, algorithm_class


def importable(name: str) -> bool:
    try:
        algorithm_class(name)
    except ImportError:
        return False
    return True


IMPORTABLE = [name for name in ALGORITHMS if importable(name)]
"""The registered names whose optional dependencies are installed (the Bayesian optimisers
need optax and jax >= 0.10.1). The sweeps run over these; the tests of the README's table
and of resuming in a fresh process import every registered algorithm."""


def takes_a_batch_size(cls: type) -> bool:
    """Whether `cls` is a Bayesian optimiser: its `pop_size` is the batch size `q`."""
    return "q" in cls.__dataclass_fields__


def small(name: str):
    """Algorithm `name` and a 4-variable problem it runs on: ZDT1, or the sphere for a
    single-objective algorithm."""
    cls = algorithm_class(name)
    problem = Sphere(n_var=4) if cls.single_objective else ZDT1(n_var=4)
    if takes_a_batch_size(cls):
        settings = {"pop_size": 2, "n_init": 4, "capacity": 12, "fit_steps": 5,
                    "n_candidates": 32}
    else:
        settings = {"pop_size": 8}
    return cls.for_problem(problem, **settings | run_length(cls)), problem


def run_length(cls: type, n_gen: int = 10) -> dict[str, int]:
    """`{"n_gen": n_gen}` for an algorithm whose schedule needs the run's length (RVEA),
    else nothing."""
    return {"n_gen": n_gen} if "n_gen" in cls.__dataclass_fields__ else {}


def every_algorithm():
    """`small(name)` for every registered name."""
    return {name: small(name) for name in ALGORITHMS}
