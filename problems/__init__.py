"""Benchmark problems: batched, jittable, minimisation."""

import functools
from typing import Any, Callable

from evo.problems.base import Problem
from evo.problems.bbob import BBOB
from evo.problems.bo_functions import Branin, Hartmann6
from evo.problems.constrained import C1DTLZ1, C2DTLZ2
from evo.problems.dtlz import DTLZ1, DTLZ2, DTLZ3, DTLZ4, DTLZ5, DTLZ6, DTLZ7
from evo.problems.external import FunctionProblem, PymooProblem
from evo.problems.lsmop import (
    LSMOP1,
    LSMOP2,
    LSMOP3,
    LSMOP4,
    LSMOP5,
    LSMOP6,
    LSMOP7,
    LSMOP8,
    LSMOP9,
)
from evo.problems.mw import (
    MW1,
    MW2,
    MW3,
    MW4,
    MW5,
    MW6,
    MW7,
    MW8,
    MW9,
    MW10,
    MW11,
    MW12,
    MW13,
    MW14,
)
from evo.problems.robot import TASKS, RobotControl
from evo.problems.single_objective import (
    Ackley,
    Ellipsoid,
    Griewank,
    Levy,
    Rastrigin,
    Rosenbrock,
    RotatedEllipsoid,
    Schwefel,
    Sphere,
    StyblinskiTang,
)
from evo.problems.wfg import WFG1, WFG2, WFG3, WFG4, WFG5, WFG6, WFG7, WFG8, WFG9
from evo.problems.zdt import ZDT1, ZDT2, ZDT3, ZDT4, ZDT6

_REGISTRY: dict[str, Callable[..., Problem]] = {
    cls.__name__.lower(): cls
    for cls in (ZDT1, ZDT2, ZDT3, ZDT4, ZDT6, DTLZ1, DTLZ2, DTLZ3, DTLZ4, DTLZ5, DTLZ6, DTLZ7)
    + (C1DTLZ1, C2DTLZ2)
    + (WFG1, WFG2, WFG3, WFG4, WFG5, WFG6, WFG7, WFG8, WFG9)
    + (LSMOP1, LSMOP2, LSMOP3, LSMOP4, LSMOP5, LSMOP6, LSMOP7, LSMOP8, LSMOP9)
    + (MW1, MW2, MW3, MW4, MW5, MW6, MW7, MW8, MW9, MW10, MW11, MW12, MW13, MW14)
    + (Sphere, Ellipsoid, RotatedEllipsoid, Rosenbrock, Rastrigin, Ackley, Griewank)
    + (Schwefel, Levy, StyblinskiTang)
    + (Branin, Hartmann6)
    + (BBOB,)
}
# Brax tasks by name ("mo-halfcheetah", "hopper", ...); brax is imported when one is built.
_REGISTRY.update({name: functools.partial(RobotControl, task=name) for name in TASKS})


def get_problem(name: str, **kwargs: Any) -> Problem:
    """The problem called `name` (case-insensitive, e.g. "zdt1", "DTLZ2"), built with `kwargs`."""
    try:
        cls = _REGISTRY[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown problem {name!r}; known problems: {', '.join(sorted(_REGISTRY))}"
        ) from None
    return cls(**kwargs)


def problem_names() -> dict[str, str]:
    """Every name `get_problem` knows, with the first paragraph of its documentation
    on one line (cut to 100 characters)."""

    def summary(doc: str | None) -> str:
        text = " ".join((doc or "").strip().split("\n\n")[0].split())
        return text if len(text) <= 100 else text[:97] + "..."

    def robot_summary(task) -> str:
        return f"Brax {task.env} ({task.backend} pipeline), objectives: {', '.join(task.objectives)}"

    return {
        name: robot_summary(TASKS[name]) if name in TASKS else summary(make.__doc__)
        for name, make in sorted(_REGISTRY.items())
    }


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Ackley",
    "BBOB",
    "Branin",
    "C1DTLZ1",
    "C2DTLZ2",
    "DTLZ1",
    "DTLZ2",
    "DTLZ3",
    "DTLZ4",
    "DTLZ5",
    "DTLZ6",
    "DTLZ7",
    "Ellipsoid",
    "FunctionProblem",
    "Griewank",
    "Hartmann6",
    "LSMOP1",
    "LSMOP2",
    "LSMOP3",
    "LSMOP4",
    "LSMOP5",
    "LSMOP6",
    "LSMOP7",
    "LSMOP8",
    "LSMOP9",
    "Levy",
    "MW1",
    "MW2",
    "MW3",
    "MW4",
    "MW5",
    "MW6",
    "MW7",
    "MW8",
    "MW9",
    "MW10",
    "MW11",
    "MW12",
    "MW13",
    "MW14",
    "PymooProblem",
    "Rastrigin",
    "RobotControl",
    "Rosenbrock",
    "RotatedEllipsoid",
    "Schwefel",
    "Sphere",
    "StyblinskiTang",
    "WFG1",
    "WFG2",
    "WFG3",
    "WFG4",
    "WFG5",
    "WFG6",
    "WFG7",
    "WFG8",
    "WFG9",
    "ZDT1",
    "ZDT2",
    "ZDT3",
    "ZDT4",
    "ZDT6",
    "Problem",
    "get_problem",
    "problem_names",
]
