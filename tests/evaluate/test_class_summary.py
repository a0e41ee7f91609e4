"""Class tables average each class over its seeds first, so a class with more seeds does not weigh more."""

from __future__ import annotations

import math

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
