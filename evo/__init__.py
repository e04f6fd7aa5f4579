"""evo: evolutionary and black-box optimization as batched JAX tensor programs.

Bayesian optimisation lives in `evo.bo` (needs optax: `pip install "evo[bo]"`).
"""

from evo.algorithm import Algorithm
from evo.cmaes import CMAES, CMAESState, SepCMAES
from evo.evosax_bridge import EvosaxAlgorithm, EvosaxState
from evo.hype import HypE, HypEState
from evo.moead import MOEAD, MOEADState
from evo.nsga2 import NSGA2, NSGA2State
from evo.nsga3 import NSGA3, NSGA3State
from evo.ref_dirs import das_dennis, reference_directions, two_layer
from evo.run import Result, run
from evo.sorting import crowding_distance, non_dominated_rank

__all__ = [
    "Algorithm",
    "CMAES",
    "CMAESState",
    "EvosaxAlgorithm",
    "EvosaxState",
    "HypE",
    "HypEState",
    "MOEAD",
    "MOEADState",
    "NSGA2",
    "NSGA2State",
    "NSGA3",
    "NSGA3State",
    "Result",
    "SepCMAES",
    "crowding_distance",
    "das_dennis",
    "non_dominated_rank",
    "reference_directions",
    "run",
    "two_layer",
]
