"""Quality indicators and plots for multi-objective results."""

from evo.metrics.indicators import gd, gd_plus, igd, igd_plus

__all__ = ["gd", "gd_plus", "igd", "igd_plus"]
