"""Bayesian optimisation: GP surrogates, acquisitions (qLogNEHVI over box decompositions
for several objectives: exact for 2 and 3, sampled beyond), `BayesOpt`, the trust-region
`Turbo`, and `Experiment`, a host-side loop for experiments evaluated outside JAX.

Importing it switches on JAX's persistent compilation cache (`evo.bo.compilation_cache`;
`EVO_COMPILATION_CACHE=0` opts out)."""

from evo.bo.acquisition import (
    log_expected_improvement,
    log_h,
    log_probability_of_feasibility,
    q_expected_improvement,
    upper_confidence_bound,
)
from evo.bo.base import BayesianOptimizer, BOState, latin_hypercube
from evo.bo.compilation_cache import default_cache_dir, enable_compilation_cache
from evo.bo.box_decomposition import Boxes, box_decomposition, box_volumes
from evo.bo.bo import BayesOpt, BayesOptState, believed, best_observation
from evo.bo.experiment import Experiment, Points
from evo.bo.gp import (
    GPParams,
    GPPosterior,
    fit_gp,
    fit_gp_batch,
    gp_posterior,
    gp_predict,
    kernel_matrix,
    neg_log_marginal_likelihood,
    standardise,
    to_unit,
)
from evo.bo.hypervolume_acquisition import (
    NoisyFront,
    expected_hypervolume_improvement,
    hypervolume_improvement,
    log_hypervolume_improvement,
    log_nehvi,
    noisy_front,
)
from evo.bo.turbo import Turbo, TurboState

enable_compilation_cache()

__all__ = [
    "BOState",
    "BayesOpt",
    "BayesOptState",
    "BayesianOptimizer",
    "Boxes",
    "Experiment",
    "GPParams",
    "GPPosterior",
    "NoisyFront",
    "Points",
    "Turbo",
    "TurboState",
    "believed",
    "best_observation",
    "box_decomposition",
    "box_volumes",
    "default_cache_dir",
    "enable_compilation_cache",
    "expected_hypervolume_improvement",
    "fit_gp",
    "fit_gp_batch",
    "gp_posterior",
    "gp_predict",
    "hypervolume_improvement",
    "kernel_matrix",
    "latin_hypercube",
    "log_expected_improvement",
    "log_h",
    "log_hypervolume_improvement",
    "log_nehvi",
    "log_probability_of_feasibility",
    "neg_log_marginal_likelihood",
    "noisy_front",
    "q_expected_improvement",
    "standardise",
    "to_unit",
    "upper_confidence_bound",
]
