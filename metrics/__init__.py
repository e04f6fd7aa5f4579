"""Quality indicators and plots for multi-objective results.

Plotting functions need matplotlib (`pip install "evo[plot]"`) and import it on first use.
"""

from evo.metrics.indicators import gd, gd_plus, igd, igd_plus
from evo.metrics.plot import plot_front

__all__ = ["gd", "gd_plus", "igd", "igd_plus", "plot_front"]
