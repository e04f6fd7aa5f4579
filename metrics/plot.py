"""Plots of objective vectors (needs matplotlib: `pip install "evo[plot]"`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError('plotting needs matplotlib: pip install "evo[plot]"') from error
    return plt


def plot_front(
    F: np.ndarray,
    front: np.ndarray | None = None,
    *,
    title: str = "",
    path: str | None = None,
) -> Any:
    """Scatter of objective vectors `F` `(n, 2)` or `(n, 3)`, over the true `front` `(k, m)`.

    Returns the matplotlib figure; with `path`, also saves it there (PNG by extension).
    """
    F = np.asarray(F)
    if F.ndim != 2 or F.shape[1] not in (2, 3):
        raise ValueError(f"plot_front draws 2 or 3 objectives, got F of shape {F.shape}")
    plt = _pyplot()
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d" if F.shape[1] == 3 else None)
    if front is not None:
        ax.scatter(*np.asarray(front).T, s=4, c="0.7", label="true front")
    ax.scatter(*F.T, s=10, c="tab:blue", label="solutions")
    labels = ["$f_1$", "$f_2$", "$f_3$"]
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if F.shape[1] == 3:
        ax.set_zlabel(labels[2])
        ax.view_init(elev=25, azim=45)
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
