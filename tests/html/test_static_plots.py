"""The static PNG plots: distinct styles, no marker hidden under another, legends outside the data."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.experiments.plots import _legend_right, _plt, method_styles, plot_frontier, plot_recovery, plot_tradeoff, spread_coincident


def test_every_method_gets_its_own_colour_and_marker():
    names = [f"m{i}" for i in range(40)]
    styles = method_styles(names)
    assert len(set(styles.values())) == 40
    assert method_styles(["a", "b", "a"]) == {"a": styles["m0"], "b": styles["m1"]}


def test_coincident_points_are_spread_and_the_others_left_alone():
    xs = spread_coincident([1.0, 1.0, 1.0, 0.1], [5.0, 5.0, 5.01, 9.0], log_x=True)
    assert len(set(np.round(xs[:3], 9))) == 3  # the three coinciding points now differ
    assert np.all(np.abs(np.log10(xs[:3])) < 0.05)  # and stay near x = 1 (a few hundredths of a decade)
    assert xs[3] == pytest.approx(0.1)
    assert spread_coincident([1.0, 2.0], [3.0, 4.0]).tolist() == [1.0, 2.0]
    lin = spread_coincident([2.0, 2.0], [1.0, 1.0])
    assert lin[0] < 2.0 < lin[1] and lin.mean() == pytest.approx(2.0)


def test_legend_sits_outside_the_axes():
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    for i in range(6):
        ax.plot([0, 1], [i, i + 1], label=f"method {i}")
    _legend_right(fig, ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend, axes = fig.legends[0].get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= axes.x1 and not legend.overlaps(axes)
    plt.close(fig)


def test_plots_write_pngs_and_skip_without_data(tmp_path):
    rec = {
        "method": "DEL",
        "alpha": 0.3,
        "delta_forget": 1.0,
        "test_acc": 80.0,
        "recovery": [{"epoch": e, "delta_forget": 5.0 - e, "delta_retain": 1.0, "delta_test": 1.0, "delta_mia": 2.0} for e in range(3)],
    }
    twin = {**rec, "method": "DEL-copy"}  # same numbers: must not hide DEL's marker
    assert plot_tradeoff([rec, twin], tmp_path / "t.png") and plot_recovery([rec, twin], tmp_path / "r.png")
    assert (tmp_path / "t.png").stat().st_size > 5000 and (tmp_path / "r.png").stat().st_size > 5000
    assert not plot_recovery([{"method": "x"}], tmp_path / "none.png") and not (tmp_path / "none.png").exists()
    points = [{"method": f"m{i}@1", "base_method": f"m{i}", "relative_passes": 1.0, "avg_gap": 2.0, "avg_gap_auc": 1.0, "max_gap": 3.0} for i in range(3)]
    assert plot_frontier(points, {}, tmp_path / "f.png")
