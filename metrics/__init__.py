"""Quality indicators (distance-based and hypervolume) and plots for multi-objective results.

Plotting functions need matplotlib (`pip install "evo[plot]"`) and import it on first use.
"""

from evo.metrics.hypervolume import (
    HVEstimate,
    dominated_by,
    hypervolume,
    hypervolume_contributions,
    hypervolume_mc,
)
from evo.metrics.indicators import gd, gd_plus, igd, igd_plus
from evo.metrics.plot import (
    plot_attainment,
    plot_front,
    plot_heatmap,
    plot_history,
    plot_parallel,
    plot_radar,
)

__all__ = [
    "HVEstimate",
    "dominated_by",
    "gd",
    "gd_plus",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_mc",
    "igd",
    "igd_plus",
    "plot_attainment",
    "plot_front",
    "plot_heatmap",
    "plot_history",
    "plot_parallel",
    "plot_radar",
]
