"""Statistics done once: pooled cost ratios with medians, and one random stream per comparison."""

from __future__ import annotations

import numpy as np
import pytest

from expunge.evaluate.stats import bootstrap_difference, compare_to_reference, comparison_seed, pooled_cost_ratio, pooled_ratio


def test_pooled_ratio_is_sum_over_sum_with_the_median_beside() -> None:
    # one run that stopped early (tiny denominator) dominates a mean of ratios: (0.5 + 0.5 + 20) / 3 = 7
    s = pooled_ratio([50, 50, 20], [100, 100, 1])
    assert s["pooled"] == pytest.approx(120 / 201) and s["median"] == 0.5 and s["n"] == 3
    assert pooled_ratio([1.0, None, 2.0], [0.0, 5.0, 4.0])["n"] == 1  # a zero or missing side is left out
    assert np.isnan(pooled_ratio([], [])["pooled"])


def test_pooled_cost_ratio_reads_the_records_amounts() -> None:
    records = [{"passes": 10, "relative_passes": 0.1, "oracle_cost": {"passes": 100}}, {"passes": 30, "relative_passes": 3.0}]  # second: no oracle_cost
    s = pooled_cost_ratio(records)
    assert s["pooled"] == pytest.approx(40 / 110) and s["n"] == 2
    with pytest.raises(ValueError, match="not a cost ratio"):
        pooled_cost_ratio(records, "avg_gap")


def test_adding_a_row_never_moves_another_rows_interval() -> None:
    rng = np.random.default_rng(0)
    rows = {"seed-method": rng.normal(0.6, 0.2, 10), "npo": rng.normal(0.4, 0.2, 10), "graddiff": rng.normal(0.3, 0.2, 10)}
    before = compare_to_reference(rows, "seed-method")
    after = compare_to_reference(rows | {"retrain-equal-cost": rng.normal(0.5, 0.2, 10)}, "seed-method")
    assert before["npo"] == after["npo"] and before["graddiff"] == after["graddiff"]
    # the streams really differ per pair: the same data under another pair's name gives another interval
    assert bootstrap_difference(rows["npo"], rows["seed-method"], ("npo", "seed-method")) == before["npo"]
    assert bootstrap_difference(rows["npo"], rows["seed-method"], ("graddiff", "seed-method"))["low"] != before["npo"]["low"]
    assert comparison_seed(("a", "b")) != comparison_seed(("b", "a")) and comparison_seed(("a", "b"), 1) != comparison_seed(("a", "b"))


def test_bootstrap_interval_covers_the_difference_and_resolves_a_clear_gap() -> None:
    a, b = np.full(8, 1.0) + np.linspace(-0.1, 0.1, 8), np.zeros(8) + np.linspace(-0.1, 0.1, 8)
    s = bootstrap_difference(a, b, ("a", "b"), draws=2000)
    assert s["difference"] == pytest.approx(1.0) and s["low"] <= s["difference"] <= s["high"] and s["resolved"] == 1.0
    same = bootstrap_difference(a, a + 0.01, ("a", "a+"), draws=2000)
    assert same["low"] < 0 < same["high"] and same["resolved"] == 0.0
    with pytest.raises(ValueError):
        bootstrap_difference([1.0, float("nan")], [1.0], ("x", "y"))
