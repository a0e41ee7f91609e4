"""Tables over many class-removal runs: each class is the mean of its seeds, then classes are averaged.

Averaging per class first keeps a class with more finished seeds from weighing more; the
verdict counts are over runs. ``classes_removed`` and ``class_leaderboard`` turn a study's records
(method x class x seed) into the class-removal leaderboard: classes judged ``removed`` per method
beside the pooled cost; ``verdict_table`` and ``leaderboard_reading`` render a study group's leaderboard
for the docs (every row's verdicts, and the goal stated as met or missed). Used by the class
benchmarks, study summaries and ``published_tables.class_leaderboard_report``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .stats import pooled_cost_ratio
from .verdicts import ClassRule, judge_class, measured, oracle_pass_rate, separating_power, verdict_name

GOAL_MAX_COST, GOAL_MIN_CLASSES = 0.10, 8  # issue 22's goal: <= 10% of a retrain's passes, removed in >= 8 of 10 classes
VERDICT_ORDER = ("removed", "output-only", "not removed", "broke the model")
"""The verdicts in the order the docs tables show them (the goal's verdict first); the same names as ``verdicts.VERDICTS``."""
BASELINE_NOTES = {
    "output_mask": "the original with the class's logit masked: it moves no weight",
    "random_labels": "one epoch on the retain set and the class relabelled at random (SalUn without its saliency mask; no localization, no concepts)",
    "retrain_budget": "a fresh model trained on the retain set with the recipe's optimizer for 10% of a retrain's passes (one of its 10 epochs)",
}
"""What each trivial baseline is, for the leaderboard's reading (a baseline not named here is 'a baseline the study names')."""


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


def class_leaderboard(records: Sequence[dict[str, Any]], methods: Sequence[str], max_cost: float = GOAL_MAX_COST, min_classes: int = GOAL_MIN_CLASSES) -> list[dict[str, Any]]:
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


def leaderboard_markdown(board: Sequence[dict[str, Any]], max_cost: float = GOAL_MAX_COST, min_classes: int = GOAL_MIN_CLASSES) -> list[str]:
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
    if len(raw_oracles) >= 2:
        block["power"] = separating_power(raw_original, raw_oracles, rule)
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
    power = pooled.get("power") or {}
    if power.get("runs_judged"):
        judged, removed = power["oracles_judged_with_power"], power["oracles_removed_with_power"]
        lines += [
            "",
            f"Power: in {power['runs_with_power']} of {power['runs_judged']} tasks the original lies outside the oracles' own scatter on a decisive "
            "column (`verdicts.separating_power`); only there can the rule tell a retrain from the original's features"
            + (f"; oracles judged `removed` in those tasks: {removed} / {judged} ({removed / judged:.0%})." if judged else "."),
        ]
    return lines


def _group_mean(group: dict[str, Any], method: str, column: str) -> float | None:
    cell = group["rows"].get(method, {}).get(column)
    return cell.get("mean") if isinstance(cell, dict) else None


def _runs(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[v]} {v}" for v in VERDICT_ORDER if counts.get(v)) or "no runs"


def compare_removed(a: int, b: int, name_a: str, name_b: str) -> str:
    """'`A` removes 2 classes more than `B` (7 vs 5)', or 'fewer', or 'as many classes as'."""
    if a == b:
        return f"`{name_a}` removes as many classes as `{name_b}` ({a} vs {b})"
    n = abs(a - b)
    return f"`{name_a}` removes {n} {'class' if n == 1 else 'classes'} {'more' if a > b else 'fewer'} than `{name_b}` ({a} vs {b})"


def verdict_table(group: dict[str, Any], baselines: Sequence[str]) -> list[str]:
    """A study group's every row: its verdict counts over runs beside its classes removed and cost, baselines named as such.

    ``group`` is one group of ``study_summary.summarize_study`` with a ``class_verdicts`` block.
    """
    board = group["class_verdicts"]["leaderboard"]
    counts = group["class_verdicts"]["verdicts"]
    lines = [
        "| row | role | runs | " + " | ".join(VERDICT_ORDER) + " | classes removed | passes × retrain (pooled) | other_acc_test |",
        "|---|---|---|" + "---|" * len(VERDICT_ORDER) + "---|---|---|",
    ]
    for r in board:
        m = r["method"]
        role = "oracle (against the others)" if m == "retrain" else ("trivial baseline" if m in baselines else "method")
        mine = counts.get(m, {})
        other = _group_mean(group, m, "other_acc_test")
        lines.append(
            f"| {m} | {role} | {sum(mine.values())} | "
            + " | ".join(str(mine.get(v, 0)) for v in VERDICT_ORDER)
            + f" | {r['removed']} / {r['classes']} | {r['relative_passes_pooled']:.3g} | {'–' if other is None else f'{other:.1f}'} |"
        )
    return lines


def leaderboard_reading(group: dict[str, Any], baselines: Sequence[str], max_cost: float = GOAL_MAX_COST, min_classes: int = GOAL_MIN_CLASSES) -> tuple[list[str], dict[str, Any]]:
    """The goal stated as met or missed, the closest row and what its runs were judged, and each trivial baseline's result.

    Why generated: the page's reading then cannot drift from the stored numbers. Closest: within the cost, the
    most classes removed, then the most runs judged ``removed``, then the cheapest. Returns the markdown lines
    and the machine-readable reading (``goal_met_by``, ``closest``, the goal's thresholds).
    """
    board = {r["method"]: r for r in group["class_verdicts"]["leaderboard"]}
    counts = group["class_verdicts"]["verdicts"]
    oracle_other = _group_mean(group, "retrain", "other_acc_test")
    candidates = [r for m, r in board.items() if m != "retrain" and r["relative_passes_pooled"] <= max_cost]
    met = [r["method"] for r in candidates if r["goal_met"]]
    closest = max(candidates, key=lambda r: (r["removed"], counts.get(r["method"], {}).get("removed", 0), -r["relative_passes_pooled"])) if candidates else None

    def described(m: str) -> str:
        r, mine = board[m], counts.get(m, {})
        other = _group_mean(group, m, "other_acc_test")
        utility = f"; other-class accuracy {other:.1f}% against the oracles' {oracle_other:.1f}%" if other is not None and oracle_other is not None else ""
        return f"`{m}`: `removed` in {r['removed']} of {r['classes']} classes at {r['relative_passes_pooled']:.3g} × a retrain's passes (runs: {_runs(mine)}{utility})"

    goal = f"a row at ≤ {max_cost:g} × a retrain's passes judged `removed` in at least {min_classes} of 10 classes"
    if met:
        lines = [f"**Goal ({goal}): met** by {', '.join(f'`{m}`' for m in met)}. " + "; ".join(described(m) for m in met) + "."]
    elif closest is not None:
        lines = [f"**Goal ({goal}): missed.** Closest within the cost: {described(closest['method'])}."]
    else:
        lines = [f"**Goal ({goal}):** no row within the cost."]
    for m in baselines:
        if m in board:
            lines += ["", f"- Trivial baseline {described(m)}. It is {BASELINE_NOTES.get(m, 'a baseline the study names')}."]
    if "SalUn" in board and "random_labels" in board:
        lines += ["", f"- SalUn's saliency mask against no mask at the same cost: {compare_removed(board['SalUn']['removed'], board['random_labels']['removed'], 'SalUn', 'random_labels')}."]
    if closest is not None and "retrain_budget" in board and closest["method"] != "retrain_budget":
        lines += ["", f"- Against retraining at equal cost: {compare_removed(closest['removed'], board['retrain_budget']['removed'], closest['method'], 'retrain_budget')}."]
    data = {"goal_met_by": met, "closest": closest["method"] if closest and not met else None, "max_cost": max_cost, "min_classes": min_classes}
    return lines, data
