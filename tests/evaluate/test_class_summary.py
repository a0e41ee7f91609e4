"""Class tables average each class over its seeds first, so a class with more seeds does not weigh more."""

from __future__ import annotations

import math

import pytest

from expunge.evaluate.class_summary import finite_mean, per_class_means, verdict_counts


def test_classes_are_averaged_after_their_seeds() -> None:
    records = [
        {"method": "m", "class": 0, "seed": 0, "acc": 10.0, "verdict": 0},
        {"method": "m", "class": 0, "seed": 1, "acc": 20.0, "verdict": 0},
        {"method": "m", "class": 0, "seed": 2, "acc": 30.0, "verdict": 2},
        {"method": "m", "class": 1, "seed": 0, "acc": 80.0, "verdict": 2},
    ]
    per_class, overall = per_class_means(records, ["m"], ["acc"])
    assert per_class["m"][0]["acc"] == 20.0 and per_class["m"][1]["acc"] == 80.0
    assert overall["m"]["acc"] == 50.0  # (20 + 80) / 2, not the run mean 35
    counts = verdict_counts(records, ["m"])["m"]
    assert sum(counts.values()) == 4 and len(counts) == 2


def test_finite_mean_skips_missing_flags_and_nan() -> None:
    assert finite_mean([1.0, None, float("nan"), True, 3]) == 2.0
    assert math.isnan(finite_mean([None, "x"]))


def test_leaderboard_counts_classes_removed_on_most_seeds() -> None:
    from expunge.evaluate.class_summary import class_leaderboard, classes_removed

    def rec(method: str, cls: int, seed: int, verdict: float, passes: int = 5) -> dict:
        return {"method": method, "class": cls, "seed": seed, "verdict": verdict, "passes": passes, "relative_passes": passes / 100, "oracle_cost": {"passes": 100}}

    records = [rec("cheap", c, s, 2.0 if (c < 8 or s == 0) else 1.0) for c in range(10) for s in range(3)]  # classes 8, 9: 1 of 3 seeds
    records += [rec("retrain", c, s, 2.0, 100) for c in range(10) for s in range(3)]
    records += [rec("mask", c, s, 1.0, 0) for c in range(10) for s in range(3)]
    records += [rec("half", 0, 0, 2.0), rec("half", 0, 1, 3.0)]  # an even split is not a majority
    removed = classes_removed(records, ["cheap", "retrain", "mask", "half"])
    assert removed["cheap"]["removed"] == 8 and removed["cheap"]["share_by_class"][9] == pytest.approx(1 / 3)
    assert removed["retrain"]["removed"] == 10 and removed["mask"]["removed"] == 0 and removed["half"]["removed"] == 0
    board = class_leaderboard(records, ["mask", "cheap", "retrain"])
    assert [r["method"] for r in board] == ["retrain", "cheap", "mask"]
    cheap = next(r for r in board if r["method"] == "cheap")
    assert cheap["relative_passes_pooled"] == pytest.approx(0.05) and cheap["goal_met"]
    assert not next(r for r in board if r["method"] == "retrain")["goal_met"]  # removed everywhere, but at full cost


def test_leaderboard_sentence_names_the_closest_method_when_nobody_meets_the_goal() -> None:
    from expunge.evaluate.class_summary import leaderboard_markdown

    def row(method: str, removed: int, cost: float) -> dict:
        return {"method": method, "classes": 10, "removed": removed, "relative_passes_pooled": cost, "relative_passes_median": cost, "goal_met": cost <= 0.1 and removed >= 8}

    lines = leaderboard_markdown([row("retrain", 10, 1.0), row("salun", 6, 0.08), row("mask", 0, 0.0)])
    assert lines[-1].endswith("missed; closest salun (6 of 10 classes removed at 0.08 × retrain).") and "| salun | 6 / 10 | 0.08 |" in "\n".join(lines)
    assert leaderboard_markdown([row("del", 9, 0.05)])[-1].endswith("met by del.")
