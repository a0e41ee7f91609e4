"""Tables over many class-removal runs: each class is the mean of its seeds, then classes are averaged.

Averaging per class first keeps a class with more finished seeds from weighing more; the
verdict counts are over runs. Used by the class benchmarks (zero-shot, concept).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .class_forgetting import verdict_name


def finite_mean(values: Sequence[Any]) -> float:
    """Mean of the numeric, non-NaN values; NaN when there are none."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
    return statistics.fmean(numbers) if numbers else float("nan")


def per_class_means(records: Sequence[dict[str, Any]], methods: Sequence[str], columns: Sequence[str]) -> tuple[dict[str, dict[int, dict[str, float]]], dict[str, dict[str, float]]]:
    """(method -> class -> column -> mean over seeds, method -> column -> mean over classes)."""
    classes = sorted({r["class"] for r in records})
    per_class = {m: {c: {k: finite_mean([r.get(k) for r in records if r["method"] == m and r["class"] == c]) for k in columns} for c in classes} for m in methods}
    overall = {m: {k: finite_mean([per_class[m][c][k] for c in classes]) for k in columns} for m in methods}
    return per_class, overall


def verdict_counts(records: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, dict[str, int]]:
    """method -> verdict name -> number of runs."""
    out: dict[str, dict[str, int]] = {}
    for m in methods:
        names = [verdict_name(r.get("verdict")) for r in records if r["method"] == m]
        out[m] = dict(sorted((v, names.count(v)) for v in set(names)))
    return out
