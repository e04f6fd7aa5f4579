"""Plots write PNG files, name their axes and legend entries, keep tick labels apart, and
reject inputs of the wrong shape."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

from evo.metrics import (  # noqa: E402
    plot_attainment,
    plot_front,
    plot_heatmap,
    plot_history,
    plot_parallel,
    plot_radar,
)
from evo.metrics.plot import attainment_surface, front_triangles, scaled  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def tick_labels(axis) -> list:
    """The drawn, non-empty tick labels of `axis` (after `fig.canvas.draw()`)."""
    low, high = sorted(axis.get_view_interval())
    return [tick.label1 for tick in axis.get_major_ticks()
            if tick.label1.get_visible() and tick.label1.get_text()
            and low - 1e-9 * abs(high - low) <= tick.get_loc() <= high + 1e-9 * abs(high - low)]


def assert_tick_labels_apart(fig) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        axes = [ax.xaxis, ax.yaxis] + ([ax.zaxis] if hasattr(ax, "zaxis") else [])
        for axis in axes:
            boxes = [label.get_window_extent(renderer) for label in tick_labels(axis)]
            for a, b in itertools.combinations(boxes, 2):
                assert not a.overlaps(b), f"tick labels overlap on {axis.axis_name}"


def assert_inside_figure(fig, artist) -> None:
    fig.canvas.draw()
    box, frame = artist.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
    assert box.y1 <= frame.y1


def history(n_gen: int = 20, step: int = 100) -> dict[str, np.ndarray]:
    n_evals = step * np.arange(1, n_gen + 1)
    return {"n_evals": n_evals, "igd": 1.0 / n_evals, "hv": 1 - 1.0 / np.sqrt(n_evals)}


def sphere_front(n_side: int = 15) -> np.ndarray:
    """DTLZ2's front in 3 objectives."""
    a, b = np.meshgrid(np.linspace(0, np.pi / 2, n_side), np.linspace(0, np.pi / 2, n_side))
    return np.column_stack([(np.cos(a) * np.cos(b)).ravel(), (np.cos(a) * np.sin(b)).ravel(),
                            np.sin(a).ravel()])


def test_plot_front_2d(tmp_path):
    f1 = np.linspace(0, 1, 200)
    front = np.column_stack([f1, 1 - np.sqrt(f1)])
    F = np.repeat(front, 5, axis=0) + np.random.default_rng(0).uniform(0, 0.03, (1000, 2))
    fig = plot_front(F, front, names=["cost", "weight"], path=tmp_path / "front.png")
    assert_png(tmp_path / "front.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("cost", "weight")
    assert legend_texts(ax) == ["solutions", "true front"]
    (points,), (line,) = ax.collections, ax.lines
    assert line.get_zorder() > points.get_zorder()  # the front is not hidden by 1,000 points
    np.testing.assert_allclose(line.get_xydata(), front)
    assert_tick_labels_apart(fig)
    default = plot_front(F)
    assert (default.axes[0].get_xlabel(), default.axes[0].get_ylabel()) == ("f1", "f2")
    assert legend_texts(default.axes[0]) == ["solutions"]


def test_plot_front_leaves_the_gaps_of_a_disconnected_front_open():
    f1 = np.concatenate([np.linspace(0, 0.2, 50), np.linspace(0.6, 1, 100)])
    front = np.column_stack([f1, 1 - f1])
    line = plot_front(front, front).axes[0].lines[0]
    gap = np.flatnonzero(np.isnan(line.get_xdata()))
    assert gap.tolist() == [50]  # exactly one break, between 0.2 and 0.6


def test_plot_front_3d_draws_the_true_front_as_a_surface(tmp_path):
    front = sphere_front()
    F = front[::3] * 1.05
    fig = plot_front(F, front, names=["a", "b", "height"], path=tmp_path / "front3.png")
    assert_png(tmp_path / "front3.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("a", "b", "height")
    assert ax.zaxis.label.get_rotation() == 0  # upright, not a sideways "f3"
    assert_inside_figure(fig, ax.zaxis.label)
    surfaces = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
    assert len(surfaces) == 1
    assert legend_texts(ax) == ["true front", "solutions"]
    assert_tick_labels_apart(fig)
    assert plot_front(F).axes[0].get_zlabel() == "f3"


def test_front_triangles_cover_a_surface_and_skip_gaps_and_curves():
    front = sphere_front()
    triangles = front_triangles(front)
    assert len(triangles) >= (15 - 1) ** 2  # about two per grid cell, none dropped wholesale
    patches = np.concatenate([front * 0.3, front * 0.3 + [2.0, 0.0, -2.0]])  # two pieces
    piece = np.arange(len(patches)) >= len(front)
    triangles = front_triangles(patches)
    assert np.all(piece[triangles].all(axis=1) | ~piece[triangles].any(axis=1))
    t = np.linspace(0, np.pi / 2, 100)
    curve = np.column_stack([np.cos(t) / 2**0.5, np.cos(t) / 2**0.5, np.sin(t)])
    fig = plot_front(curve, curve)  # DTLZ5-like: drawn as points, not as a surface
    assert not any(isinstance(c, Poly3DCollection) for c in fig.axes[0].collections)
    assert legend_texts(fig.axes[0]) == ["true front", "solutions"]


def test_plot_front_rejects_bad_input():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match=r"m in \(2, 3\)"):
        plot_front(rng.uniform(size=(30, 4)))
    with pytest.raises(ValueError, match="front"):
        plot_front(rng.uniform(size=(30, 2)), rng.uniform(size=(30, 3)))
    with pytest.raises(ValueError, match="3 names for 2 objectives"):
        plot_front(rng.uniform(size=(30, 2)), names=["a", "b", "c"])


def test_plot_parallel(tmp_path):
    F = np.random.default_rng(0).uniform(size=(40, 5))
    F[:, 2] = 7.0  # a constant objective
    F[3] = np.nan
    fig = plot_parallel(F, title="five objectives", path=tmp_path / "parallel.png")
    assert_png(tmp_path / "parallel.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"f{j}" for j in range(1, 6)]
    (lines,) = ax.collections
    segments = lines.get_segments()
    assert len(segments) == 39  # the NaN row is left out
    unit = np.array([s[:, 1] for s in segments])
    assert unit.min() == 0 and unit.max() == 1
    np.testing.assert_array_equal(unit[:, 2], 0.5)
    named = plot_parallel(F, names=list("abcde"))
    assert [t.get_text() for t in named.axes[0].get_xticklabels()] == list("abcde")


def test_plot_parallel_rejects_bad_input():
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        plot_parallel(np.ones(5))
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        plot_parallel(np.ones((5, 1)))
    with pytest.raises(ValueError, match="names"):
        plot_parallel(np.ones((5, 3)), names=["a", "b"])
    with pytest.raises(ValueError, match="no finite row"):
        plot_parallel(np.full((5, 3), np.nan))


@pytest.mark.parametrize("keys", [("igd",), ("hv",), ("igd", "hv")])
def test_plot_history(tmp_path, keys):
    full = history()
    fig = plot_history({k: full[k] for k in ("n_evals", *keys)}, path=tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    assert len(fig.axes) == len(keys)
    for ax, key in zip(fig.axes, keys):
        np.testing.assert_allclose(ax.lines[0].get_ydata(), full[key])
        assert ax.get_yscale() == ("log" if key == "igd" else "linear")
        assert ax.get_xlabel() == "evaluations"
        assert ax.get_ylabel() == {"igd": "IGD", "hv": "hypervolume"}[key]


@pytest.mark.parametrize("step, label", [(100, "2k"), (10_000, "200k"), (75_000, "1.5M")])
def test_plot_history_ticks_are_legible_at_any_count(step, label):
    fig = plot_history(history(n_gen=20, step=step))
    for ax in fig.axes:
        fig.canvas.draw()
        texts = [t.get_text() for t in tick_labels(ax.xaxis)]
        assert label in texts and 3 <= len(texts) <= 6
        assert all(len(text) <= 4 for text in texts), texts  # 200k, 1.5M: never 200000
    assert_tick_labels_apart(fig)


def test_plot_history_draws_only_the_computed_rows(tmp_path):
    full = history()
    igd = np.where(np.arange(20) % 5 == 4, full["igd"], np.nan)
    fig = plot_history({"n_evals": full["n_evals"], "igd": igd})
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), full["n_evals"][4::5])
    np.testing.assert_allclose(line.get_ydata(), full["igd"][4::5])
    assert line.get_marker() == "o"


def test_plot_history_draws_the_best_single_objective_value_so_far_on_a_log_axis(tmp_path):
    f_min = np.geomspace(10.0, 0.1, 20)
    f_min[5] = 20.0  # a worse generation: the best so far stays 10 ** (1 - 5 * 2 / 19)
    fig = plot_history({"n_evals": np.arange(1, 21) * 8, "f_min": f_min[:, None]},
                       names=["drag"], path=tmp_path / "f.png")
    assert_png(tmp_path / "f.png")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.minimum.accumulate(f_min))
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "best drag so far"
    assert legend_texts(ax) == []


def test_plot_history_reaching_zero_leaves_no_gap():
    n_evals = np.arange(1, 41) * 8
    f_min = np.where(n_evals > 200, 0.0, 1e4 * np.exp(-n_evals / 10))
    ax = plot_history({"n_evals": n_evals, "f_min": f_min}).axes[0]
    y = ax.lines[0].get_ydata()
    assert ax.get_yscale() == "log" and np.all(np.isfinite(y)) and np.all(y > 0)
    floor = 10.0 ** (np.floor(np.log10(f_min[f_min > 0].min())) - 1)
    np.testing.assert_allclose(y[n_evals > 200], floor)
    assert legend_texts(ax) == [f"0 reached (drawn at {floor:.0e})"]
    (marker,) = ax.collections
    np.testing.assert_allclose(marker.get_offsets(), [[n_evals[n_evals > 200][0], floor]])
    # with the optimum known, the regret; below zero and without it, a linear axis
    ax = plot_history({"n_evals": n_evals, "f_min": f_min - 450}, f_opt=-450).axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "best f1 so far - optimum"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), y, rtol=1e-6)
    assert legend_texts(ax) == [f"optimum reached (drawn at {floor:.0e})"]
    ax = plot_history({"n_evals": n_evals, "f_min": f_min - 450}).axes[0]
    assert ax.get_yscale() == "linear"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), f_min - 450)


def test_plot_history_rejects_bad_input():
    full = history()
    with pytest.raises(ValueError, match="at least one"):
        plot_history({"n_evals": full["n_evals"], "f_min": np.ones((20, 2))})
    with pytest.raises(ValueError, match="at least one"):
        plot_history({"igd": full["igd"]})
    with pytest.raises(ValueError, match="expected"):
        plot_history({"n_evals": full["n_evals"], "igd": full["igd"][:-1]})
    with pytest.raises(ValueError, match="n_evals"):
        plot_history({"n_evals": np.ones((20, 1)), "igd": full["igd"]})
    with pytest.raises(ValueError, match="2 names for 1 objectives"):
        plot_history({"n_evals": full["n_evals"], "f_min": full["hv"]}, names=["a", "b"])


def chosen() -> tuple[np.ndarray, np.ndarray]:
    front = sphere_front(8)[:, [0, 1, 2, 0]] * [1, 10, 100, -1]
    return front[[3, 20, 41]], front


def test_plot_heatmap(tmp_path):
    F, front = chosen()
    F[1, 3] = np.nan
    names = ["speed", "energy cost", "height", "noise"]
    fig = plot_heatmap(F, front, names=names, row_names=["knee", "weights", "compromise"],
                       title="chosen", path=tmp_path / "heatmap.png")
    assert_png(tmp_path / "heatmap.png")
    ax, bar = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == ["knee", "weights", "compromise"]
    assert bar.get_ylabel() == "scaled (0 = best)"
    (image,) = ax.images
    np.testing.assert_allclose(image.get_array().filled(np.nan), scaled(F, front))
    assert image.get_array().mask[1, 3]  # the NaN cell is grey
    assert [t.get_text() for t in ax.texts] == [f"{v:.3g}" for v in F.ravel()]
    assert_tick_labels_apart(fig)
    own = plot_heatmap(F).axes[0].images[0].get_array()
    assert np.nanmin(own) == 0 and np.nanmax(own) == 1  # scaled by the chosen rows
    assert [t.get_text() for t in plot_heatmap(F).axes[0].get_yticklabels()] == ["0", "1", "2"]


def test_plot_radar(tmp_path):
    F, front = chosen()
    names = ["speed", "energy", "height", "noise"]
    fig = plot_radar(F, front, names=names, row_names=["knee", "weights", "compromise"],
                     path=tmp_path / "radar.png")
    assert_png(tmp_path / "radar.png")
    ax = fig.axes[0]
    assert ax.name == "polar"
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert legend_texts(ax) == ["knee", "weights", "compromise"]
    unit = scaled(F, front)
    for line, row in zip(ax.lines, unit):
        np.testing.assert_allclose(line.get_ydata(), np.append(row, row[0]))  # closed polygon
    F[1, 0] = np.nan
    assert legend_texts(plot_radar(F, front).axes[0]) == ["0", "2"]  # the NaN row left out


def test_plot_heatmap_and_radar_reject_bad_input():
    F, front = chosen()
    for plot in (plot_heatmap, plot_radar):
        with pytest.raises(ValueError, match="2 row names for 3 rows"):
            plot(F, row_names=["a", "b"])
        with pytest.raises(ValueError, match="3 names for 4 objectives"):
            plot(F, names=["a", "b", "c"])
        with pytest.raises(ValueError, match="front"):
            plot(F, front[:, :3])
    with pytest.raises(ValueError, match="m >= 3"):
        plot_radar(F[:, :2])


def runs(n_runs: int = 7, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    fronts = []
    for size in rng.integers(5, 25, size=n_runs):
        f1 = rng.uniform(size=size)
        fronts.append(np.column_stack([f1, 1 - np.sqrt(f1) + rng.uniform(0, 0.3, size)]))
    return fronts


def test_attainment_surfaces_equal_moocore():
    moocore = pytest.importorskip("moocore")
    fronts = runs()
    points, sets = np.concatenate(fronts), np.repeat(np.arange(7), [len(F) for F in fronts])
    for attained_by in range(1, 8):
        level = 100 * attained_by / 7
        expected = moocore.eaf(points, sets, percentiles=[level])[:, :2]
        ours = attainment_surface(fronts, level)
        np.testing.assert_allclose(ours, expected[np.argsort(expected[:, 0])])
        # a level between two counts rounds up to the next count of runs
        np.testing.assert_array_equal(attainment_surface(fronts, level - 100 / 14), ours)
    np.testing.assert_array_equal(attainment_surface(fronts, 0), attainment_surface(fronts, 1))


def test_attainment_surface_of_one_run_is_its_front_and_nan_rows_are_ignored():
    F = np.array([[0.0, 1.0], [0.5, 0.5], [0.6, 0.7], [1.0, 0.0]])  # the third is dominated
    np.testing.assert_array_equal(attainment_surface([F], 50), F[[0, 1, 3]])
    with_nan = np.vstack([F, [np.nan, 0.1], [0.2, np.inf]])
    np.testing.assert_array_equal(attainment_surface([with_nan], 50), F[[0, 1, 3]])
    assert len(attainment_surface([F, np.full((2, 2), np.nan)], 100)) == 0  # one run has none


def test_plot_attainment(tmp_path):
    fronts = runs()
    f1 = np.linspace(0, 1, 50)
    fig = plot_attainment(fronts, np.column_stack([f1, 1 - np.sqrt(f1)]),
                          names=["error", "size"], title="7 seeds", path=tmp_path / "eaf.png")
    assert_png(tmp_path / "eaf.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("error", "size")
    assert legend_texts(ax) == ["points of 7 runs", "attained by 1 of 7 runs",
                                "attained by 4 of 7 runs", "attained by 7 of 7 runs",
                                "true front"]
    median = ax.lines[1]
    surface = attainment_surface(fronts, 50)
    corners = median.get_xydata()[1:-1]  # between the lines up from and out to the edges
    np.testing.assert_allclose(corners, surface)
    assert_tick_labels_apart(fig)
    with pytest.raises(ValueError, match=r"\(n, 2\) fronts"):
        plot_attainment([np.ones((3, 3))])
    with pytest.raises(ValueError, match="level must lie"):
        attainment_surface(fronts, 101)
    with pytest.raises(ValueError, match="no finite row"):
        attainment_surface([np.full((2, 2), np.nan)], 50)
