"""Tables over many class-removal runs: each class is the mean of its seeds, then classes are averaged.

Averaging per class first keeps a class with more finished seeds from weighing more; the
verdict counts are over runs. ``classes_removed`` and ``class_leaderboard`` turn a study's records
(method x class x seed) into the class-removal leaderboard: classes judged ``removed`` per method
beside the pooled cost. Used by the class benchmarks and study summaries.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .stats import pooled_cost_ratio
from .verdicts import ClassRule, judge_class, measured, oracle_pass_rate, verdict_name


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


def classes_removed(records: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """method -> classes run, classes judged ``removed`` (a strict majority of that class's seeds), and each class's share.

    A class with an even split (e.g. 1 of 2 seeds) does not count: the verdict must hold on most seeds.
    """
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        by_class: dict[Any, list[str]] = {}
        for r in records:
            if r["method"] == m and r.get("status", "ok") == "ok" and r.get("verdict") is not None:
                by_class.setdefault(r["class"], []).append(verdict_name(r["verdict"]))
        shares = {c: names.count("removed") / len(names) for c, names in sorted(by_class.items())}
        out[m] = {"classes": len(shares), "removed": sum(share > 0.5 for share in shares.values()), "share_by_class": shares, "seeds": {c: len(v) for c, v in sorted(by_class.items())}}
    return out


def class_leaderboard(records: Sequence[dict[str, Any]], methods: Sequence[str], max_cost: float = 0.10, min_classes: int = 8) -> list[dict[str, Any]]:
    """One row per method: classes judged removed, the pooled cost in passes (Σ / Σ retrain, median beside) and the goal.

    ``goal_met``: pooled cost <= ``max_cost`` of a retrain's passes and at least ``min_classes`` classes
    removed (issue 22's target). Rows are ordered by classes removed, then by cost.
    """
    removed = classes_removed(records, methods)
    rows = []
    for m in methods:
        ok = [r for r in records if r["method"] == m and r.get("status", "ok") == "ok"]
        cost = pooled_cost_ratio(ok, "relative_passes") if ok else {"pooled": float("nan"), "median": float("nan"), "n": 0}
        pooled = float(cost["pooled"])
        rows.append(
            {
                "method": m,
                "classes": removed[m]["classes"],
                "removed": removed[m]["removed"],
                "relative_passes_pooled": pooled,
                "relative_passes_median": float(cost["median"]),
                "goal_met": bool(pooled == pooled and pooled <= max_cost and removed[m]["removed"] >= min_classes),
            }
        )
    return sorted(rows, key=lambda r: (-r["removed"], r["relative_passes_pooled"] if r["relative_passes_pooled"] == r["relative_passes_pooled"] else float("inf")))


def leaderboard_markdown(board: Sequence[dict[str, Any]], max_cost: float = 0.10, min_classes: int = 8) -> list[str]:
    """``class_leaderboard`` rows as a markdown table and one sentence on the goal: who meets it or, if nobody, who comes closest.

    Closest: the most classes removed among methods within the cost limit (else among all methods).
    """
    lines = ["| method | classes removed | passes × retrain (pooled) | median | goal |", "|---|---|---|---|---|"]
    for r in board:
        lines.append(f"| {r['method']} | {r['removed']} / {r['classes']} | {r['relative_passes_pooled']:.3g} | {r['relative_passes_median']:.3g} | {'met' if r['goal_met'] else 'missed'} |")
    goal = f"at most {max_cost:g} × a retrain's passes and removed in at least {min_classes} classes"
    met = [r["method"] for r in board if r["goal_met"]]
    if met:
        return [*lines, "", f"Goal ({goal}): met by {', '.join(met)}."]
    cheap = [r for r in board if r["relative_passes_pooled"] <= max_cost] or list(board)
    if not cheap:
        return [*lines, "", f"Goal ({goal}): no runs."]
    best = max(cheap, key=lambda r: r["removed"])
    return [*lines, "", f"Goal ({goal}): missed; closest {best['method']} ({best['removed']} of {best['classes']} classes removed at {best['relative_passes_pooled']:.3g} × retrain)."]


def rejudge_cell(
    records: Sequence[dict[str, Any]], original: dict[str, Any], oracles: Sequence[dict[str, Any]], calibration: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One class task's stored records and calibration block, judged again by the current rule from their stored numbers.

    Why: verdicts are pure functions of measured values, so a study summary never shows a verdict that an
    older rule drew. Method rows are judged against all oracles, ``retrain`` rows against the other oracles,
    and the calibration's oracle pass rate is recomputed; its ``output_mask`` check is re-judged from the
    ``output_mask`` method's row when the task ran it (the same logit-masked original), and its other checks
    (``destroyed``, ``original``) keep their stored verdicts, which the current rule's extra condition for
    ``removed`` cannot change. Records without a class verdict are returned unchanged.
    """
    rule = ClassRule()
    raw_oracles = [measured(o) for o in oracles]
    raw_original = measured(original)
    if len(raw_oracles) < 1 or not all(c in raw_original for c in rule.decisive):
        return list(records), calibration
    out = []
    for r in records:
        index = int(r.get("seed", -1)) if r["method"] == "retrain" else -1  # a retrain row's seed is its oracle's index
        if r.get("verdict") is None or r.get("status", "ok") != "ok" or not all(c in r for c in rule.decisive):
            out.append(dict(r))
        elif r["method"] == "retrain":
            others = [o for j, o in enumerate(raw_oracles) if j != index]
            ok = 0 <= index < len(raw_oracles) and others
            out.append({**r, "verdict": judge_class(raw_oracles[index], others, rule, raw_original)["verdict"]} if ok else dict(r))
        else:
            out.append({**r, "verdict": judge_class(measured(r), raw_oracles, rule, raw_original)["verdict"]})
    if calibration is None:
        return out, None
    block = dict(calibration, rule=rule.sentence(), oracles_against_others=oracle_pass_rate(raw_oracles, rule, raw_original), checks=dict(calibration.get("checks", {})))
    masked = next((measured(r) for r in records if r["method"] == "output_mask" and r.get("status", "ok") == "ok"), None)
    if masked is not None and "output_mask" in block["checks"]:
        got = verdict_name(judge_class(masked, raw_oracles, rule, raw_original)["verdict"])
        block["checks"]["output_mask"] = {**block["checks"]["output_mask"], "verdict": got, "passed": got == block["checks"]["output_mask"]["expected"]}
    results = [block["oracles_against_others"].get("passed"), *(c.get("passed") for c in block["checks"].values())]
    block["passed"] = None if None in results else all(results)
    return out, block


def calibration_markdown(pooled: dict[str, Any]) -> list[str]:
    """``verdicts.pool_calibrations`` as a short table: each adversarial check, how many tasks it passed."""
    fraction = pooled.get("fraction_removed")
    lines = [
        f"Verdict calibration over {pooled['runs']} class tasks: oracles judged `removed` against the others: "
        + (f"{pooled['oracles_removed']} / {pooled['oracles_judged']} ({fraction:.0%}; must be ≥ 90%)" if fraction is not None else "not measured (fewer than 3 oracles)"),
        "",
        "| check | must be | passed | verdicts |",
        "|---|---|---|---|",
    ]
    for name, c in pooled["checks"].items():
        verdicts = ", ".join(f"{v} {n}" for v, n in sorted(c["verdicts"].items()))
        lines.append(f"| {name} | {c['expected']} | {c['passed']} / {c['runs']} | {verdicts} |")
    return lines
