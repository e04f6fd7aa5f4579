"""Plots of objective vectors, chosen solutions, several runs' fronts and run histories (needs
matplotlib: `pip install "evo[plot]"`).

Every function returns the matplotlib figure and, with `path`, also saves it there (PNG by
extension, trimmed to what is drawn). Objective axes are named by `names` (one per
objective, e.g. a problem's objective names; f1, f2, ... by default). Evaluation counts are
written in engineering notation (200k, 1.5M).
"""

from __future__ import annotations

import math
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


def objective_names(m: int, names: Sequence[str] | None = None, caller: str = "plot") -> list[str]:
    """`names` as a list of the m objectives' axis labels, or f1..fm when None; ValueError
    when there are not m of them."""
    if names is None:
        return [f"f{j + 1}" for j in range(m)]
    names = [str(name) for name in names]
    if len(names) != m:
        raise ValueError(f"{caller}: {len(names)} names for {m} objectives")
    return names


def scaled(F: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """`F` `(n, m)` mapped to [0, 1] per objective by the range of the finite values of that
    objective in `reference` `(k, m)` (default `F`); an objective constant there (or with no
    finite value) maps to 0.5, non-finite values to NaN. Values outside the reference's
    range fall outside [0, 1]."""
    reference = F if reference is None else reference
    finite = np.isfinite(reference)
    if not np.any(finite):
        raise ValueError("no finite value to scale by")
    lo = np.min(np.where(finite, reference, np.inf), axis=0)
    span = np.max(np.where(finite, reference, -np.inf), axis=0) - lo
    varies = np.isfinite(span) & (span > 0)
    out = np.where(varies, (F - lo) / np.where(varies, span, 1.0), 0.5)
    return np.where(np.isfinite(F), out, np.nan)


def _objectives(F: Any, caller: str, m: int | tuple[int, ...] | None = None) -> np.ndarray:
    """`F` as a float array `(n, m)`; ValueError naming `caller` for any other shape or for a
    number of objectives other than `m` (any m >= 2 when None)."""
    F = np.asarray(F, dtype=float)
    allowed = (m,) if isinstance(m, int) else m
    if F.ndim != 2 or F.shape[1] < 2 or (allowed is not None and F.shape[1] not in allowed):
        wanted = "m >= 2" if allowed is None else f"m in {allowed}"
        raise ValueError(f"{caller} expects an array of shape (n, m) with {wanted}, "
                         f"got {F.shape}")
    return F


def _evaluations_axis(axis: Any) -> None:
    """Ticks of an evaluation count in engineering notation, few enough not to touch."""
    from matplotlib.ticker import EngFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=True))
    axis.set_major_formatter(EngFormatter(sep=""))


def _finish(fig: Any, title: str, path: Any) -> Any:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def broken_at_gaps(curve: np.ndarray, factor: float = 8.0) -> np.ndarray:
    """The 2-D points `curve` `(k, 2)` sorted by the first coordinate, with a NaN row inserted
    at each gap, so that a line through them leaves the gaps of a disconnected front open.

    A gap is a step between consecutive points more than `factor` times both the median
    step and the shorter of its neighbouring steps (steps along a smooth front change
    gradually, even where it is steep).
    """
    curve = curve[np.argsort(curve[:, 0], kind="stable")]
    if len(curve) < 3:
        return curve
    step = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    before = np.concatenate([[np.inf], step[:-1]])
    after = np.concatenate([step[1:], [np.inf]])
    gap = (step > factor * np.median(step)) & (step > factor * np.minimum(before, after))
    return np.insert(curve, np.flatnonzero(gap) + 1, np.nan, axis=0)


def front_triangles(front: np.ndarray, factor: float = 3.0) -> np.ndarray | None:
    """Triangles `(t, 3)` (row indices) of a surface through the 3-objective `front` `(k, 3)`,
    or None when fewer than one survives.

    A non-dominated set meets each line along (1, 1, 1) at most once, so it is triangulated
    (Delaunay) in its projection on the plane orthogonal to that direction; triangles with
    an edge longer than `factor` times the median edge are dropped, which leaves the gaps of
    a disconnected front (and most of a degenerate, curve-like one) empty.
    """
    from matplotlib.tri import Triangulation

    basis = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]])
    plane = front @ (basis / np.linalg.norm(basis, axis=1, keepdims=True)).T
    try:
        triangles = Triangulation(*plane.T).triangles
    except (ValueError, RuntimeError):  # too few or collinear points
        return None
    corners = front[triangles]
    edges = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    triangles = triangles[edges <= factor * np.median(edges)]
    return triangles if len(triangles) else None


def plot_front(
    F: np.ndarray,
    front: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """Objective vectors `F` `(n, 2)` or `(n, 3)` with the true `front` `(k, m)`.

    With 2 objectives the true front is a line (open across the gaps of a disconnected
    front) drawn above the points; with 3 a translucent surface (`front_triangles`, points
    when no surface can be made) under them. Axes are named by `names` `(m,)`.
    """
    F = _objectives(F, "plot_front", (2, 3))
    m = F.shape[1]
    names = objective_names(m, names, "plot_front")
    plt = _pyplot()
    fig = plt.figure(figsize=(6, 5))
    if m == 2:
        ax = fig.add_subplot()
        ax.scatter(*F.T, s=10, c="tab:blue", label="solutions", zorder=2)
        if front is not None:
            curve = broken_at_gaps(_objectives(front, "plot_front: front", 2))
            ax.plot(*curve.T, color="black", linewidth=1.2, label="true front", zorder=3)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.grid(True, alpha=0.3)
    else:
        ax = fig.add_subplot(projection="3d", computed_zorder=False)
        if front is not None:
            _draw_surface(ax, _objectives(front, "plot_front: front", 3))
        ax.scatter(*F.T, s=10 if len(F) <= 300 else 5, c="tab:blue", depthshade=False,
                   label="solutions", zorder=2)
        _name_3d_axes(ax, names)
    ax.legend(loc="upper right")
    return _finish(fig, title, path)


def _draw_surface(ax: Any, front: np.ndarray) -> None:
    triangles = front_triangles(front)
    if triangles is None:
        ax.scatter(*front.T, s=3, c="0.4", depthshade=False, label="true front", zorder=1)
        return
    ax.plot_trisurf(*front.T, triangles=triangles, color="0.6", alpha=0.5, linewidth=0,
                    shade=True, label="true front", zorder=1)


def _name_3d_axes(ax: Any, names: Sequence[str]) -> None:
    """Axis labels of a 3-D axes, all upright (a rotated z label is hard to read), and at
    most 5 ticks on each axis, which keeps their labels apart."""
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.zaxis.set_rotate_label(False)
    ax.set_zlabel(names[2], rotation=0, labelpad=8)
    ax.view_init(elev=25, azim=45)
    ax.set_box_aspect(None, zoom=0.9)


def plot_parallel(
    F: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """Parallel coordinates of objective vectors `F` `(n, m)`, for any m >= 2.

    Each axis is scaled to [0, 1] by the range of its objective over the finite rows of
    `F` (the range is printed at the ends of the axis; a constant objective sits at 0.5).
    Rows with NaN or inf are left out. `names` names the m axes.
    """
    F = _objectives(F, "plot_parallel")
    m = F.shape[1]
    names = objective_names(m, names, "plot_parallel")
    F = F[np.all(np.isfinite(F), axis=1)]
    if len(F) == 0:
        raise ValueError("plot_parallel: F has no finite row")
    lo, hi = F.min(axis=0), F.max(axis=0)

    plt = _pyplot()
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(max(6, 1.2 * m), 4.5))
    axes_x = np.arange(m)
    unit = scaled(F)
    lines = np.stack([np.broadcast_to(axes_x, unit.shape), unit], axis=-1)
    alpha = float(np.clip(30 / len(F), 0.05, 0.8))
    ax.add_collection(LineCollection(lines, colors="tab:blue", alpha=alpha, linewidths=1))
    for j in axes_x:
        ax.axvline(j, color="0.3", linewidth=0.8)
        ax.text(j, -0.04, f"{lo[j]:.3g}", ha="center", va="top", fontsize=8)
        ax.text(j, 1.04, f"{hi[j]:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_xlim(-0.3, m - 0.7)
    ax.set_ylim(-0.12, 1.12)
    ax.set_xticks(axes_x, names)
    ax.set_yticks([])
    return _finish(fig, title, path)


def _chosen(
    F: Any, front: Any, names: Sequence[str] | None, row_names: Sequence[str] | None,
    caller: str,
) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """Chosen rows `F` `(k, m)` as floats, the objective names, the row names (default
    0..k-1) and `F` scaled over `front` (`scaled`); ValueError naming `caller` on a bad
    shape or count."""
    F = _objectives(F, caller)
    k, m = F.shape
    names = objective_names(m, names, caller)
    if row_names is not None and len(row_names) != k:
        raise ValueError(f"{caller}: {len(row_names)} row names for {k} rows")
    row_names = [str(name) for name in (range(k) if row_names is None else row_names)]
    reference = None if front is None else _objectives(front, f"{caller}: front", m)
    return F, names, row_names, scaled(F, reference)


def plot_heatmap(
    F: np.ndarray,
    front: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    row_names: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """A heatmap of chosen solutions `F` `(k, m)`: one row per solution, one column per
    objective, each cell coloured by its value scaled to [0, 1] over the finite values of
    `front` `(n, m)` (the set they were chosen from; default `F` itself), 0 the best, and
    labelled with the value itself. Non-finite values are grey. Rows are named by
    `row_names` `(k,)` (default 0..k-1), columns by `names` `(m,)`.
    """
    F, names, row_names, unit = _chosen(F, front, names, row_names, "plot_heatmap")
    k, m = F.shape

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(2.5 + 1.1 * m, 1.6 + 0.45 * k))
    colours = plt.get_cmap("viridis").with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(unit), cmap=colours, vmin=0, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(F):
        dark = np.isfinite(unit[i, j]) and unit[i, j] < 0.6
        ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xticks(np.arange(m), names, rotation=30 if max(map(len, names)) > 6 else 0,
                  ha="right" if max(map(len, names)) > 6 else "center")
    ax.set_yticks(np.arange(k), row_names)
    fig.colorbar(image, ax=ax, label="scaled (0 = best)")
    return _finish(fig, title, path)


def plot_radar(
    F: np.ndarray,
    front: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    row_names: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """A radar view of a few chosen solutions `F` `(k, m)`, m >= 3: one closed polygon per
    solution over m spokes, each objective scaled to [0, 1] over `front` `(n, m)` (default
    `F`) with the best value at the centre, so smaller polygons are better. Rows with NaN or
    inf are left out. Spokes are named by `names`, polygons (in the legend) by `row_names`.
    """
    F, names, row_names, unit = _chosen(F, front, names, row_names, "plot_radar")
    m = F.shape[1]
    if m < 3:
        raise ValueError(f"plot_radar needs m >= 3 objectives (use plot_front), got {F.shape}")

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5), subplot_kw={"projection": "polar"})
    angles = np.linspace(0, 2 * np.pi, m, endpoint=False)
    closed = np.append(angles, angles[0])
    for values, name in zip(unit, row_names):
        if np.all(np.isfinite(values)):
            (line,) = ax.plot(closed, np.append(values, values[0]), linewidth=1.5, label=name)
            ax.fill(closed, np.append(values, values[0]), color=line.get_color(), alpha=0.1)
    ax.set_xticks(angles, names)
    ax.tick_params(axis="x", pad=10)
    ax.set_ylim(0, max(1.0, np.nanmax(unit)))
    ax.set_yticks([0.5, 1.0], ["0.5", "1"], fontsize=7)
    ax.legend(loc="upper left", bbox_to_anchor=(1.1, 1.05))
    return _finish(fig, title, path)


def attainment_surface(fronts: Sequence[np.ndarray], level: float) -> np.ndarray:
    """The `level`%-attainment surface of several runs' 2-objective fronts `(n_i, 2)`, as
    its corner points `(k, 2)` sorted by the first objective.

    It bounds the objective vectors that at least `ceil(level / 100 * runs)` of the runs
    (at least one) weakly dominate (the empirical attainment function of Fonseca, Grunert
    da Fonseca & Hall 2001): 0 gives the best surface, 50 the median, 100 the worst. Rows
    with NaN or inf are ignored.
    """
    runs = [np.asarray(F, dtype=float) for F in fronts]
    if not runs or any(F.ndim != 2 or F.shape[1] != 2 for F in runs):
        raise ValueError("attainment_surface expects a non-empty sequence of (n, 2) fronts, "
                         f"got shapes {[F.shape for F in runs]}")
    if not 0 <= level <= 100:
        raise ValueError(f"attainment_surface: level must lie in [0, 100], got {level!r}")
    runs = [F[np.all(np.isfinite(F), axis=1)] for F in runs]
    if not any(len(F) for F in runs):
        raise ValueError("attainment_surface: the fronts have no finite row")
    attained_by = max(1, math.ceil(round(level * len(runs) / 100, 9)))
    xs = np.unique(np.concatenate([F[:, 0] for F in runs]))
    heights = np.stack([_staircase(F, xs) for F in runs])
    h = np.sort(heights, axis=0)[attained_by - 1]
    corner = np.isfinite(h) & (h < np.concatenate([[np.inf], h[:-1]]))
    return np.column_stack([xs[corner], h[corner]])


def _staircase(F: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The least second objective `(len(xs),)` over the rows of `F` `(n, 2)` whose first
    objective is at most each of `xs` (inf where there is none)."""
    if len(F) == 0:
        return np.full(len(xs), np.inf)
    order = np.argsort(F[:, 0], kind="stable")
    least = np.minimum.accumulate(F[order, 1])
    at = np.searchsorted(F[order, 0], xs, side="right") - 1
    return np.where(at >= 0, least[np.maximum(at, 0)], np.inf)


def plot_attainment(
    fronts: Sequence[np.ndarray],
    front: np.ndarray | None = None,
    *,
    levels: Sequence[float] = (0, 50, 100),
    names: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """Empirical attainment surfaces of several runs' 2-objective `fronts` (e.g. one per seed),
    each `(n_i, 2)`: for each of `levels` (percent of the runs, `attainment_surface`) the
    staircase the runs attain that often, over all runs' points in light grey and under
    the true `front` `(k, 2)` when given. The legend says how many runs each surface is
    attained by.
    """
    surfaces = [attainment_surface(fronts, level) for level in levels]
    points = np.concatenate([np.asarray(F, dtype=float) for F in fronts])
    points = points[np.all(np.isfinite(points), axis=1)]
    names = objective_names(2, names, "plot_attainment")
    corner = points.max(axis=0)

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(*points.T, s=4, c="0.75", label=f"points of {len(fronts)} runs", zorder=1)
    styles = ("-", "--", ":", "-.")
    for i, (level, surface) in enumerate(zip(levels, surfaces)):
        if len(surface) == 0:  # some run has no finite point: nothing is attained by all
            continue
        attained_by = max(1, math.ceil(round(level * len(fronts) / 100, 9)))
        x = np.concatenate([[surface[0, 0]], surface[:, 0], [corner[0]]])
        y = np.concatenate([[corner[1]], surface[:, 1], [surface[-1, 1]]])
        ax.step(x, y, where="post", linestyle=styles[i % len(styles)], linewidth=1.6, zorder=2,
                label=f"attained by {attained_by} of {len(fronts)} runs")
    if front is not None:
        curve = broken_at_gaps(_objectives(front, "plot_attainment: front", 2))
        ax.plot(*curve.T, color="black", linewidth=1, label="true front", zorder=3)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    return _finish(fig, title, path)


def plot_history(
    history: Mapping[str, np.ndarray],
    *,
    f_opt: float | None = None,
    names: Sequence[str] | None = None,
    title: str = "",
    path: str | None = None,
) -> Any:
    """IGD, hypervolume and/or the best objective value against evaluations, from a
    `Result.history` dict.

    Draws one panel for each of the keys "igd", "hv" and "f_min" (only when it has one
    objective) that `history` has, each `(G,)` or `(G, 1)` against `history["n_evals"]`
    `(G,)` (ticks in engineering notation). A panel draws only the rows where its value is
    finite (`evo.run` leaves NaN where it did not compute an indicator), with markers when
    they are few.

    IGD is drawn on a log axis. The single-objective panel draws the best value of the
    recorded generations so far: on a log axis as the regret `best - f_opt` when the
    optimum `f_opt` is given (e.g. `problem.optimum_value`), on a log axis as it is when it
    never goes below 0, else on a linear one. On a log axis, values at or below 0 (the
    optimum reached) are drawn at a floor a decade below the least positive value, so that
    the curve has no gap; a marker named in the legend shows where the floor is first hit.
    `names` `(1,)` names the objective in that panel's label.
    """
    history = {key: np.asarray(value) for key, value in history.items()}
    if "f_min" in history and history["f_min"].ndim == 2 and history["f_min"].shape[1] == 1:
        history["f_min"] = history["f_min"][:, 0]
    kinds = ("igd", "hv", "f_min")
    panels = [key for key in kinds if key in history and (key != "f_min" or history[key].ndim == 1)]
    if "n_evals" not in history or not panels:
        raise ValueError('plot_history needs "n_evals" and at least one of "igd", "hv", '
                         f'a single-objective "f_min" in history, got keys {sorted(history)}')
    n_evals = np.asarray(history["n_evals"])
    if n_evals.ndim != 1:
        raise ValueError(f'plot_history: history["n_evals"] must be (G,), got {n_evals.shape}')
    for key in panels:
        if np.shape(history[key]) != n_evals.shape:
            raise ValueError(f'plot_history: history["{key}"] has shape '
                             f"{np.shape(history[key])}, expected {n_evals.shape}")
    name = objective_names(1, names, "plot_history")[0] if "f_min" in panels else None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, key in zip(axes[0], panels):
        values = np.asarray(history[key], dtype=float)
        drawn = np.isfinite(values)
        _history_panel(ax, key, n_evals[drawn], values[drawn], f_opt, name)
    return _finish(fig, title, path)


def _history_panel(ax: Any, key: str, x: np.ndarray, y: np.ndarray, f_opt: float | None,
                   name: str | None) -> None:
    """One panel of `plot_history`: the finite values `y` of `key` against evaluations `x`."""
    marker = "o" if len(y) <= 30 else None
    if key == "hv":
        ax.plot(x, y, color="tab:blue", marker=marker)
        ax.set_ylabel("hypervolume")
    elif key == "igd":
        _log_curve(ax, x, y, marker, "0")
        ax.set_ylabel("IGD")
    else:
        best = np.minimum.accumulate(y) if len(y) else y
        if f_opt is not None:
            _log_curve(ax, x, best - f_opt, marker, "optimum reached")
            ax.set_ylabel(f"best {name} so far - optimum")
        elif np.all(best >= 0):
            _log_curve(ax, x, best, marker, "0 reached")
            ax.set_ylabel(f"best {name} so far")
        else:
            ax.plot(x, best, color="tab:blue", marker=marker)
            ax.set_ylabel(f"best {name} so far")
    ax.set_xlabel("evaluations")
    _evaluations_axis(ax.xaxis)
    ax.grid(True, which="both", alpha=0.3)


def _log_curve(ax: Any, x: np.ndarray, y: np.ndarray, marker: str | None, zero: str) -> None:
    """`y` against `x` on a log axis; values <= 0 drawn at a floor a decade below the least
    positive one, the first of them marked with the legend entry "`zero` (drawn at ...)"."""
    positive = y[y > 0]
    floor = 10.0 ** (math.floor(math.log10(positive.min())) - 1) if len(positive) else 1e-12
    low = y <= 0
    ax.plot(x, np.where(low, floor, y), color="tab:blue", marker=marker)
    ax.set_yscale("log")
    if np.any(low):
        first = np.argmax(low)
        ax.scatter(x[first], floor, marker="v", s=40, color="tab:red", zorder=3,
                   label=f"{zero} (drawn at {floor:.0e})")
        ax.legend(loc="upper right")
