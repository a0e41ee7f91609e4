"""Judgements drawn from measured numbers: the class-removal verdict, its calibration on the oracles, noise-floor flags.

Why a module of its own: an earlier one-sided rule ("closer to the oracle mean than to the
original") called a model with re-drawn features and a masked logit "removed from features" and
rated a third of real retrains "output-only" (specs/evaluation.md, "Verdicts and statistics that
survive adversarial cases"). Every judgement here is a pure function of metric dicts, so a live
evaluation, a stored record and a study summary all reach the same verdict from the same numbers.

Class removal (``judge_class``), checked in this order:

1. ``not removed``: target test accuracy above ``max_target_acc`` (first: an untouched original
   loses other-class accuracy to the confusable target, which must not read as a broken model);
2. ``broke the model``: other-class test accuracy below the oracles' mean by more than the band;
3. ``removed``: every decisive column (relearn k=5 head only, penultimate probe) within the band
   of the oracles' mean, on either side (overshooting the oracle is a distance too), and, when the
   original is known, on at least one decisive column closer to the oracles' mean than the original
   is, by more than ``max(moved_z × sampling error, min_moved)``;
4. ``output-only``: otherwise.

Why the second condition of 3: where the original itself lies inside the band (a small model whose
oracles scatter widely), the band alone has no power, and a logit mask, whose features are the
original's, was judged ``removed`` in 6 of 10 class tasks of the class-leaderboard study. Requiring
the candidate to have moved toward the oracles makes ``output_mask`` ``output-only`` in 10 of 10 and
keeps 28 of 30 oracles ``removed`` against the others (docs/metrics.md).

The band of a column is ``max(loo_factor × the oracles' RMS leave-one-out distance, z × sampling error,
min_band)``: the leave-one-out distance of oracle i is ``|x_i − mean of the other oracles|`` (the
same distance a candidate is measured by, so the band is the oracles' own scatter, widened); the sampling error combines the candidate's and the oracle
mean's (relearn: std over attack draws / √draws; accuracies and probes: binomial over the images scored).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

VERDICTS = ("not removed", "output-only", "removed", "broke the model")
"""Verdict codes (records hold floats): 0 not removed, 1 output-only, 2 removed, 3 broke the model."""

DRAWS_KEYS = (("relearn_", "relearn_draws"), ("probe_", "probe_draws"))
COUNT_KEYS = (("other_acc_test", "other_test_n"), ("target_acc_test", "target_test_n"), ("probe_", "target_test_n"))
DERIVED_SUFFIXES = ("_oracle", "_oracle_std", "_std", "_n", "_draws")
DERIVED_PREFIXES = ("dist_", "band_", "gap_closed_")
MIN_CALIBRATION_ORACLES = 3
MIN_ORACLE_PASS_RATE = 0.9


@dataclass(frozen=True)
class ClassRule:
    """The class-removal rule's settings; ``sentence()`` is what reports print."""

    max_target_acc: float = 10.0
    decisive: tuple[str, ...] = ("relearn_k5_head", "probe_penultimate")
    utility: str = "other_acc_test"
    loo_factor: float = 3.0
    z: float = 3.0
    min_band: float = 2.0
    moved_z: float = 1.0
    min_moved: float = 1.0

    def sentence(self) -> str:
        return (
            f"not removed if target_acc_test > {self.max_target_acc:g}%; else broke the model if {self.utility} is below the oracles' "
            f"mean by more than the band; else removed if {' and '.join(self.decisive)} each lie within the band of the oracles' mean "
            f"(either side) and, on at least one of them, the model is closer to that mean than the original by more than "
            f"max({self.moved_z:g} × sampling error, {self.min_moved:g} point); else output-only. Band = max({self.loo_factor:g} × the "
            f"oracles' RMS leave-one-out distance, {self.z:g} × sampling error, {self.min_band:g} points)"
        )


def verdict_name(value: float | str | None) -> str:
    """The verdict of a ``verdict`` code (see ``VERDICTS``); a string passes through, a missing value is '–'."""
    if isinstance(value, str):
        return value
    if value is None or value != value:
        return "–"
    return VERDICTS[int(value)]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_raw(key: str) -> bool:
    """True for a measured column (not an oracle reference, spread, count, distance, band or verdict)."""
    return key != "verdict" and not key.endswith(DERIVED_SUFFIXES) and not key.startswith(DERIVED_PREFIXES)


def measured(row: Mapping[str, Any]) -> dict[str, Any]:
    """The measured columns of a stored row (values, spreads, counts, draws), without anything a verdict derived from them."""
    return {k: v for k, v in row.items() if is_raw(k) or k.endswith(("_std", "_n", "_draws"))}


def loo_distances(values: Sequence[float]) -> np.ndarray:
    """``|x_i − mean of the others|`` for each value: how far one oracle lies from the rest."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError("leave-one-out distances need at least 2 oracles.")
    others = (x.sum() - x) / (x.size - 1)
    return np.abs(x - others)


def _number(row: Mapping[str, Any], key: str | None) -> float | None:
    value = row.get(key) if key else None
    return float(value) if _finite(value) else None


def sampling_error(row: Mapping[str, Any], column: str) -> float:
    """Standard error of one model's value: over draws (``{column}_std`` / √draws) and binomial over the test images scored, combined; 0 if unknown."""
    variance = 0.0
    std, draws = _number(row, f"{column}_std"), _number(row, next((key for prefix, key in DRAWS_KEYS if column.startswith(prefix)), None))
    if std is not None and draws is not None and draws > 1:
        variance += std**2 / draws
    n = _number(row, next((key for prefix, key in COUNT_KEYS if column.startswith(prefix)), None))
    p = _number(row, column)
    if n is not None and n > 0 and p is not None:
        p = min(max(p, 0.0), 100.0)
        variance += p * (100.0 - p) / n
    return math.sqrt(variance)


def band(column: str, candidate: Mapping[str, Any], oracles: Sequence[Mapping[str, Any]], rule: ClassRule) -> float:
    """How far from the oracles' mean a candidate may lie on ``column`` and still look like another retrain."""
    values = [float(o[column]) for o in oracles]
    spread = float(np.sqrt(np.mean(loo_distances(values) ** 2))) if len(values) >= 2 else 0.0
    oracle_var = float(np.mean([sampling_error(o, column) ** 2 for o in oracles])) / len(oracles)
    noise = math.sqrt(sampling_error(candidate, column) ** 2 + oracle_var)
    return max(rule.loo_factor * spread, rule.z * noise, rule.min_band)


def moved_toward_oracles(candidate: Mapping[str, Any], original: Mapping[str, Any], mean: Mapping[str, float], rule: ClassRule) -> bool:
    """True when, on at least one decisive column, ``candidate`` is closer to the oracles' mean than ``original`` by more than the noise margin."""
    for c in rule.decisive:
        if c not in mean or not _finite(original.get(c)):
            continue
        gain = abs(float(original[c]) - mean[c]) - abs(float(candidate[c]) - mean[c])
        noise = math.sqrt(sampling_error(candidate, c) ** 2 + sampling_error(original, c) ** 2)
        if gain > max(rule.moved_z * noise, rule.min_moved):
            return True
    return False


def judge_class(candidate: Mapping[str, Any], oracles: Sequence[Mapping[str, Any]], rule: ClassRule | None = None, original: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The class-removal verdict of ``candidate`` against ``oracles`` (module doc), with the numbers behind it.

    Returns ``dist_{c}`` (|candidate − oracle mean|) for every measured column, ``band_{c}`` for the
    utility and decisive columns, ``gap_closed_{c}`` (share of the original-to-oracle gap closed) when
    ``original`` is given, and ``verdict`` (a code of ``VERDICTS``).
    """
    rule = rule or ClassRule()
    if not oracles:
        raise ValueError("the class verdict needs at least one oracle.")
    shared = [k for k, v in candidate.items() if is_raw(k) and _finite(v) and all(_finite(o.get(k)) for o in oracles)]
    mean = {k: float(np.mean([o[k] for o in oracles])) for k in shared}
    out: dict[str, float] = {f"dist_{k}": abs(float(candidate[k]) - mean[k]) for k in shared}
    judged = [c for c in (rule.utility, *rule.decisive) if c in mean]
    out |= {f"band_{c}": band(c, candidate, oracles, rule) for c in judged}
    if original is not None:
        for c in rule.decisive:
            if c in mean and _finite(original.get(c)):
                gap = float(original[c]) - mean[c]
                out[f"gap_closed_{c}"] = (float(original[c]) - float(candidate[c])) / gap if abs(gap) > 1e-9 else float("nan")
    if _finite(candidate.get("target_acc_test")) and float(candidate["target_acc_test"]) > rule.max_target_acc:
        verdict = "not removed"
    elif rule.utility in mean and float(candidate[rule.utility]) < mean[rule.utility] - out[f"band_{rule.utility}"]:
        verdict = "broke the model"
    elif all(c in mean for c in rule.decisive) and all(out[f"dist_{c}"] <= out[f"band_{c}"] for c in rule.decisive) and (original is None or moved_toward_oracles(candidate, original, mean, rule)):
        verdict = "removed"
    else:
        verdict = "output-only"
    out["verdict"] = float(VERDICTS.index(verdict))
    return out


def leave_one_out(rows: Sequence[Mapping[str, Any]], rule: ClassRule | None = None, original: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each oracle's row with every oracle-relative column recomputed against the OTHER oracles only.

    ``{c}_oracle`` / ``{c}_oracle_std`` become the others' mean / std (ddof 0, as the live metrics),
    and rows that carry a class verdict get ``judge_class`` against the others. Without this a retrain
    row is compared with a mean that includes itself.
    """
    rule_ = rule or ClassRule()
    out = []
    for i, row in enumerate(rows):
        others = [r for j, r in enumerate(rows) if j != i]
        new = dict(row)
        if not others:
            out.append(new)
            continue
        for key in [k for k in row if k.endswith("_oracle")]:
            name = key[: -len("_oracle")]
            values = [float(r[name]) for r in others if _finite(r.get(name))]
            if _finite(row.get(name)) and len(values) == len(others):
                new[key] = float(np.mean(values))
                if f"{name}_oracle_std" in row:
                    new[f"{name}_oracle_std"] = float(np.std(values)) if len(values) > 1 else float("nan")
        if "verdict" in row and all(c in row for c in rule_.decisive):  # a class verdict (another family's verdict is left alone)
            judged = judge_class(measured(row), others, rule_, original)
            new |= {k: v for k, v in judged.items() if k == "verdict" or k.startswith(("band_", "gap_closed_")) or k in row}
        out.append(new)
    return out


def oracle_pass_rate(rows: Sequence[Mapping[str, Any]], rule: ClassRule | None = None, original: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each oracle judged against the others: the share called ``removed`` (a sound rule gives >= 0.9)."""
    if len(rows) < MIN_CALIBRATION_ORACLES:
        return {"oracles": len(rows), "fraction_removed": None, "passed": None, "note": f"needs at least {MIN_CALIBRATION_ORACLES} oracles (oracles={len(rows)})"}
    verdicts = [verdict_name(judge_class(row, [r for j, r in enumerate(rows) if j != i], rule, original)["verdict"]) for i, row in enumerate(rows)]
    fraction = verdicts.count("removed") / len(verdicts)
    return {"oracles": len(rows), "verdicts": verdicts, "fraction_removed": fraction, "required": MIN_ORACLE_PASS_RATE, "passed": fraction >= MIN_ORACLE_PASS_RATE}


def separating_power(original: Mapping[str, Any], oracles: Sequence[Mapping[str, Any]], rule: ClassRule | None = None) -> dict[str, Any]:
    """Whether the task lets the rule tell a retrain from the original's features at all.

    An oracle passes the "moved toward the oracles" condition only when the original lies farther from the
    other oracles' mean than the oracle does, by more than the noise margin. So on each decisive column the
    power margin is ``|original − oracle mean| − RMS leave-one-out distance − max(moved_z × noise, min_moved)``;
    the task has power when some margin is positive. Without it (the class's features are shared with other
    classes, so the original already looks like a retrain) no rule of this form can pass the oracles and call a
    logit mask output-only at once: the calibration fails for a stated reason, not a faulty rule.
    """
    rule = rule or ClassRule()
    margins: dict[str, float] = {}
    for c in rule.decisive:
        values = [float(o[c]) for o in oracles if _finite(o.get(c))]
        if len(values) < 2 or len(values) != len(oracles) or not _finite(original.get(c)):
            continue
        loo = float(np.sqrt(np.mean(loo_distances(values) ** 2)))
        oracle_var = float(np.mean([sampling_error(o, c) ** 2 for o in oracles]))
        noise = math.sqrt(sampling_error(original, c) ** 2 + oracle_var)
        margins[c] = abs(float(original[c]) - float(np.mean(values))) - loo - max(rule.moved_z * noise, rule.min_moved)
    return {"margins": margins, "has_power": None if not margins else any(m > 0 for m in margins.values())}


CALIBRATION_EXPECTED = {"destroyed": "broke the model", "output_mask": "output-only", "original": "not removed"}
"""What the rule must call each adversarial model: re-drawn features plus a logit mask, the logit mask alone, doing nothing."""


def calibration_block(oracle_rows: Sequence[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]], rule: ClassRule | None = None, original: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``verdict_calibration``: the oracle pass rate and the verdict of each adversarial model against its expected one.

    ``checks`` maps a name of ``CALIBRATION_EXPECTED`` to that model's measured values; ``passed``
    is True only when every check ran and passed (None when the oracles are too few to tell).
    """
    rule = rule or ClassRule()
    block: dict[str, Any] = {"rule": rule.sentence(), "oracles_against_others": oracle_pass_rate(oracle_rows, rule, original), "checks": {}}
    if original is not None and len(oracle_rows) >= 2:
        block["power"] = separating_power(original, oracle_rows, rule)
    for name, values in checks.items():
        expected = CALIBRATION_EXPECTED[name]
        got = verdict_name(judge_class(values, oracle_rows, rule, original)["verdict"])
        block["checks"][name] = {"expected": expected, "verdict": got, "passed": got == expected}
    results = [block["oracles_against_others"]["passed"], *(c["passed"] for c in block["checks"].values())]
    block["passed"] = None if None in results else all(results)
    return block


def calibration_lines(block: Mapping[str, Any]) -> list[str]:
    """The calibration block as report lines: the rule, then each check with its result."""

    def mark(ok: bool | None) -> str:
        return "passed" if ok else ("not checked" if ok is None else "FAILED")

    loo = block["oracles_against_others"]
    if loo.get("fraction_removed") is None:
        lines = [f"- each oracle against the others: {mark(None)} ({loo.get('note')})"]
    else:
        lines = [f"- each oracle against the others: {loo['fraction_removed']:.0%} judged removed (required ≥ {loo['required']:.0%}; {', '.join(loo['verdicts'])}): {mark(loo['passed'])}"]
    lines += [f"- {name}: {c['verdict']} (must be {c['expected']}): {mark(c['passed'])}" for name, c in block["checks"].items()]
    power = block.get("power") or {}
    if power.get("has_power") is False:
        lines.append("- power: the original lies within the oracles' own scatter on every decisive column, so no rule of this form can pass the oracles and call a logit mask output-only here")
    return [f"Rule: {block['rule']}.", "", *lines]


def pool_calibrations(blocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Many runs' ``verdict_calibration`` blocks (a study's classes and seeds) as one: oracles removed over all runs, and per check how many runs passed.

    ``passed``: the pooled oracle fraction is >= 0.9 and every check passed in every run (None if no run could calibrate).
    """
    judged = [b["oracles_against_others"] for b in blocks if b["oracles_against_others"].get("fraction_removed") is not None]
    removed = sum(j["verdicts"].count("removed") for j in judged)
    total = sum(len(j["verdicts"]) for j in judged)
    checks: dict[str, dict[str, Any]] = {}
    for b in blocks:
        for name, c in b["checks"].items():
            entry = checks.setdefault(name, {"expected": c["expected"], "passed": 0, "runs": 0, "verdicts": {}})
            entry["runs"] += 1
            entry["passed"] += bool(c["passed"])
            entry["verdicts"][c["verdict"]] = entry["verdicts"].get(c["verdict"], 0) + 1
    fraction = removed / total if total else None
    ok = None if fraction is None else fraction >= MIN_ORACLE_PASS_RATE and all(c["passed"] == c["runs"] for c in checks.values())
    powered = [b for b in blocks if (b.get("power") or {}).get("has_power") is True and b["oracles_against_others"].get("fraction_removed") is not None]
    power = {
        "runs_judged": sum((b.get("power") or {}).get("has_power") is not None for b in blocks),
        "runs_with_power": len(powered),
        "oracles_removed_with_power": sum(b["oracles_against_others"]["verdicts"].count("removed") for b in powered),
        "oracles_judged_with_power": sum(len(b["oracles_against_others"]["verdicts"]) for b in powered),
    }
    return {"runs": len(blocks), "oracles_removed": removed, "oracles_judged": total, "fraction_removed": fraction, "checks": checks, "passed": ok, "power": power}


GAP_KEYS = ("delta_forget", "delta_retain", "delta_test", "delta_mia")


def noise_floor_flags(records: Sequence[Mapping[str, Any]], keys: Sequence[str] = GAP_KEYS, reference: str = "retrain") -> dict[str, dict[str, Any]]:
    """Per method: is every mean |Δ| within the oracles' noise floor (the largest |Δ| of the ``retrain`` rows)?

    A method flagged ``within_noise`` cannot be told apart from retraining on these gaps; the
    ``original`` (do nothing) row flagged so means the forget set is too easy to tell anything.
    Empty when there are no retrain rows or no Δ columns.
    """
    ok = [r for r in records if r.get("status", "ok") == "ok"]
    floor_rows = [r for r in ok if r.get("method") == reference]
    keys = [k for k in keys if floor_rows and all(_finite(r.get(k)) for r in floor_rows)]
    if not keys:
        return {}
    floor = {k: max(abs(float(r[k])) for r in floor_rows) for k in keys}
    flags: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(str(r["method"]) for r in ok if r.get("method") != reference):
        rows = [r for r in ok if r.get("method") == method and all(_finite(r.get(k)) for k in keys)]
        if not rows:
            continue
        gaps = {k: abs(float(np.mean([r[k] for r in rows]))) for k in keys}
        flags[method] = {"within_noise": all(gaps[k] <= floor[k] for k in keys), "gaps": gaps, "floor": floor}
    return flags


__all__ = [
    "CALIBRATION_EXPECTED",
    "VERDICTS",
    "ClassRule",
    "band",
    "calibration_block",
    "calibration_lines",
    "is_raw",
    "judge_class",
    "measured",
    "moved_toward_oracles",
    "leave_one_out",
    "loo_distances",
    "noise_floor_flags",
    "oracle_pass_rate",
    "pool_calibrations",
    "separating_power",
    "sampling_error",
    "verdict_name",
]
