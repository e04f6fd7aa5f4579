"""Plots write PNG files and reject inputs of the wrong shape."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402

from evo.metrics import plot_front, plot_history, plot_parallel  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def history(n_gen: int = 20) -> dict[str, np.ndarray]:
    n_evals = 100 * np.arange(1, n_gen + 1)
    return {"n_evals": n_evals, "igd": 1.0 / n_evals, "hv": 1 - 1.0 / np.sqrt(n_evals)}


@pytest.mark.parametrize("m", [2, 3])
def test_plot_front(tmp_path, m):
    rng = np.random.default_rng(m)
    F, front = rng.uniform(size=(30, m)), rng.uniform(size=(50, m))
    plot_front(F, front, title="front", path=tmp_path / "front.png")
    assert_png(tmp_path / "front.png")
    with pytest.raises(ValueError, match="2 or 3 objectives"):
        plot_front(rng.uniform(size=(30, 4)))


def test_plot_parallel(tmp_path):
    F = np.random.default_rng(0).uniform(size=(40, 5))
    F[:, 2] = 7.0  # a constant objective
    F[3] = np.nan
    fig = plot_parallel(F, title="five objectives", path=tmp_path / "parallel.png")
    assert_png(tmp_path / "parallel.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"$f_{{{j}}}$" for j in range(1, 6)]
    (lines,) = ax.collections
    segments = lines.get_segments()
    assert len(segments) == 39  # the NaN row is left out
    scaled = np.array([s[:, 1] for s in segments])
    assert scaled.min() == 0 and scaled.max() == 1
    np.testing.assert_array_equal(scaled[:, 2], 0.5)


def test_plot_parallel_rejects_bad_input():
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        plot_parallel(np.ones(5))
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        plot_parallel(np.ones((5, 1)))
    with pytest.raises(ValueError, match="labels"):
        plot_parallel(np.ones((5, 3)), labels=["a", "b"])
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


def test_plot_history_draws_only_the_computed_rows(tmp_path):
    full = history()
    igd = np.where(np.arange(20) % 5 == 4, full["igd"], np.nan)
    fig = plot_history({"n_evals": full["n_evals"], "igd": igd})
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), full["n_evals"][4::5])
    np.testing.assert_allclose(line.get_ydata(), full["igd"][4::5])
    assert line.get_marker() == "o"


def test_plot_history_draws_a_single_objective_best_value(tmp_path):
    f_min = np.geomspace(10.0, 0.1, 20)[:, None]
    fig = plot_history({"n_evals": np.arange(1, 21) * 8, "f_min": f_min}, path=tmp_path / "f.png")
    assert_png(tmp_path / "f.png")
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), f_min[:, 0])


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
