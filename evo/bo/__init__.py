"""Bayesian optimisation: GP surrogates, acquisitions and the `BayesOpt` algorithm."""

from evo.bo.acquisition import (
    log_expected_improvement,
    log_h,
    log_probability_of_feasibility,
    upper_confidence_bound,
)
from evo.bo.bo import BayesOpt, BayesOptState, best_observation, latin_hypercube
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

__all__ = [
    "BayesOpt",
    "BayesOptState",
    "GPParams",
    "GPPosterior",
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
    "standardise",
    "to_unit",
    "upper_confidence_bound",
]
