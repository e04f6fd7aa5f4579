"""Bayesian optimisation: GP surrogates, acquisitions, `BayesOpt` and the trust-region `Turbo`."""

from evo.bo.acquisition import (
    log_expected_improvement,
    log_h,
    log_probability_of_feasibility,
    q_expected_improvement,
    upper_confidence_bound,
)
from evo.bo.base import BayesianOptimizer, BOState, latin_hypercube
from evo.bo.bo import BayesOpt, BayesOptState, best_observation
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
from evo.bo.turbo import Turbo, TurboState

__all__ = [
    "BOState",
    "BayesOpt",
    "BayesOptState",
    "BayesianOptimizer",
    "GPParams",
    "GPPosterior",
    "Turbo",
    "TurboState",
    "best_observation",
    "fit_gp",
    "fit_gp_batch",
    "gp_posterior",
    "gp_predict",
    "kernel_matrix",
    "latin_hypercube",
    "log_expected_improvement",
    "log_h",
    "log_probability_of_feasibility",
    "neg_log_marginal_likelihood",
    "q_expected_improvement",
    "standardise",
    "to_unit",
    "upper_confidence_bound",
]
