"""Plots of objective vectors and run histories (needs matplotlib: `pip install "evo[plot]"`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def plot_parallel(
    F: np.ndarray,
    *,
    labels: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """Parallel coordinates of objective vectors `F` `(n, m)`, for any m >= 2.

    Each axis is scaled to [0, 1] by the range of its objective over the finite rows of
    `F` (the range is printed at the ends of the axis; a constant objective sits at 0.5).
    Rows with NaN or inf are left out. `labels` names the m axes (default f1, f2, ...).
    Returns the matplotlib figure; with `path`, also saves it there.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or F.shape[1] < 2:
        raise ValueError(f"plot_parallel expects F of shape (n, m) with m >= 2, got {F.shape}")
    m = F.shape[1]
    labels = [f"$f_{{{j + 1}}}$" for j in range(m)] if labels is None else list(labels)
    if len(labels) != m:
        raise ValueError(f"plot_parallel: {len(labels)} labels for {m} objectives")
    F = F[np.all(np.isfinite(F), axis=1)]
    if len(F) == 0:
        raise ValueError("plot_parallel: F has no finite row")
    lo, hi = F.min(axis=0), F.max(axis=0)
    span = hi - lo
    scaled = np.where(span > 0, (F - lo) / np.where(span > 0, span, 1), 0.5)

    plt = _pyplot()
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(max(6, 1.2 * m), 4.5))
    axes_x = np.arange(m)
    lines = np.stack([np.broadcast_to(axes_x, scaled.shape), scaled], axis=-1)
    alpha = float(np.clip(30 / len(F), 0.05, 0.8))
    ax.add_collection(LineCollection(lines, colors="tab:blue", alpha=alpha, linewidths=1))
    for j in axes_x:
        ax.axvline(j, color="0.3", linewidth=0.8)
        ax.text(j, -0.04, f"{lo[j]:.3g}", ha="center", va="top", fontsize=8)
        ax.text(j, 1.04, f"{hi[j]:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_xlim(-0.3, m - 0.7)
    ax.set_ylim(-0.12, 1.12)
    ax.set_xticks(axes_x, labels)
    ax.set_yticks([])
    ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_history(
    history: Mapping[str, np.ndarray],
    *,
    title: str = "",
    path: str | None = None,
) -> Any:
    """IGD, hypervolume and/or the best objective value against evaluations, from a
    `Result.history` dict.

    Draws one panel for each of the keys "igd" (log-scale y), "hv" and "f_min" (only when
    it has one objective) that `history` has, each `(G,)` or `(G, 1)` against
    `history["n_evals"]` `(G,)`. A panel draws only the rows where its value is finite
    (`evo.run` leaves NaN where it did not compute an indicator), with markers when they
    are few. Returns the matplotlib figure; with `path`, also saves it there.
    """
    history = {key: np.asarray(value) for key, value in history.items()}
    if "f_min" in history and history["f_min"].ndim == 2 and history["f_min"].shape[1] == 1:
        history["f_min"] = history["f_min"][:, 0]
    names = (("igd", "IGD"), ("hv", "hypervolume"), ("f_min", "best objective value"))
    panels = [(key, name) for key, name in names
              if key in history and (key != "f_min" or history[key].ndim == 1)]
    if "n_evals" not in history or not panels:
        raise ValueError('plot_history needs "n_evals" and at least one of "igd", "hv", '
                         f'a single-objective "f_min" in history, got keys {sorted(history)}')
    n_evals = np.asarray(history["n_evals"])
    if n_evals.ndim != 1:
        raise ValueError(f'plot_history: history["n_evals"] must be (G,), got {n_evals.shape}')
    for key, _ in panels:
        if np.shape(history[key]) != n_evals.shape:
            raise ValueError(f'plot_history: history["{key}"] has shape '
                             f"{np.shape(history[key])}, expected {n_evals.shape}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (key, name) in zip(axes[0], panels):
        values = np.asarray(history[key], dtype=float)
        drawn = np.isfinite(values)
        ax.plot(n_evals[drawn], values[drawn], color="tab:blue",
                marker="o" if np.sum(drawn) <= 30 else None)
        if key == "igd":
            ax.set_yscale("log")
        ax.set_xlabel("evaluations")
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
