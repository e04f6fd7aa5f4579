"""evo: evolutionary and black-box optimization as batched JAX tensor programs.

Every algorithm of `evo.registry` is an attribute here (`evo.NSGA2`, `evo.CMAES`, ...),
imported when first used. Bayesian optimisation also lives in `evo.bo` (needs optax:
`pip install "evo[bo]"`).
"""

from typing import Any

from evo.algorithm import Algorithm, Population, State
from evo.cmaes import PrecisionWarning
from evo.ref_dirs import das_dennis, reference_directions, two_layer
from evo.registry import algorithm_class, class_names
from evo.run import Result, run
from evo.sorting import crowding_distance, non_dominated_rank


def __getattr__(name: str) -> Any:
    registered = class_names()
    if name in registered:
        return algorithm_class(registered[name])
    if name.endswith("State") and name[: -len("State")] in registered:
        module = algorithm_class(registered[name[: -len("State")]]).__module__
        raise AttributeError(f"module 'evo' has no attribute {name!r}; it is {module}.{name}")
    raise AttributeError(f"module 'evo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Algorithm",
    "Population",
    "PrecisionWarning",
    "Result",
    "State",
    "crowding_distance",
    "das_dennis",
    "non_dominated_rank",
    "reference_directions",
    "run",
    "two_layer",
    *class_names(),
]
