"""Named target rules: a study preset states its targets by name and threshold, the summary says met or missed.

A rule reads one summary group: ``rows`` maps a row name (a method, ``retrain`` for the oracles'
leave-one-out noise floor, ``original`` for doing nothing) to ``{metric: {"mean", "std", "n"}}``.
Every rule returns a ``TargetResult`` whose ``distance`` is signed so that ``distance <= 0`` means
met and its size says by how much. ``method`` may be a glob (``DEL*@0.25``): the best matching
row is judged, so "some DEL variant at 0.25" is one rule, not a loop in a script.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ConfigError
from ..registry import Registry

Rows = Mapping[str, Mapping[str, Mapping[str, float]]]


@dataclass
class TargetResult:
    rule: str
    statement: str  # the rule in words, with its threshold
    met: bool | None  # None: the rows or metrics it needs are missing
    distance: float | None  # <= 0 met; the size is the margin
    row: str | None = None  # the row judged (the best of a glob)
    value: float | None = None
    reference: float | None = None
    note: str = ""
    interval: dict[str, Any] | None = None  # versus: bootstrap interval of the distance's mean over runs (``versus_interval``)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.met is None:
            return f"- {self.statement}: **not measured** ({self.note})"
        verdict = "met" if self.met else "missed"
        where = f" by {self.row}" if self.row else ""
        ref = f" vs {self.reference:.4g}" if self.reference is not None else ""
        line = f"- {self.statement}: **{verdict}**{where} (value {self.value:.4g}{ref}; distance {self.distance:+.3g}, ≤ 0 is met)"
        if self.interval:
            i = self.interval
            state = ("resolved: " + ("met" if i["high"] < 0 else "missed")) if i["resolved"] else "not resolved"
            line += f"; {i['level']:.0%} bootstrap interval of the distance over runs ({i['n_a']} vs {i['n_b']}): [{i['low']:+.3g}, {i['high']:+.3g}], {state}"
        return line


TARGET_RULES: Registry = Registry("target rule", entry_point_group="expunge.target_rules")


def _mean(rows: Rows, row: str, metric: str) -> float | None:
    entry = rows.get(row, {}).get(metric)
    value = entry.get("mean") if entry else None
    return None if value is None or not math.isfinite(value) else float(value)


def _matching(rows: Rows, pattern: str) -> list[str]:
    return [name for name in rows if fnmatch.fnmatchcase(name, pattern)]


def _best(rule: str, statement: str, rows: Rows, pattern: str, judge: Callable[[str], tuple[float, float | None, float | None] | None]) -> TargetResult:
    """Judge every row matching ``pattern``; keep the smallest distance."""
    names = _matching(rows, pattern)
    if not names:
        return TargetResult(rule, statement, None, None, note=f"no row matches {pattern!r}")
    judged = [(name, out) for name in names if (out := judge(name)) is not None]
    if not judged:
        return TargetResult(rule, statement, None, None, note=f"the metric is missing for {names}")
    name, (distance, value, reference) = min(judged, key=lambda item: item[1][0])
    return TargetResult(rule, statement, distance <= 0, distance, name, value, reference)


def _metrics(metric: str | Sequence[str]) -> list[str]:
    return [metric] if isinstance(metric, str) else list(metric)


@TARGET_RULES.register("at_most", "mean of a metric ≤ threshold")
def at_most(rows: Rows, method: str, metric: str, threshold: float) -> TargetResult:
    def judge(name: str) -> tuple[float, float | None, float | None] | None:
        value = _mean(rows, name, metric)
        return None if value is None else (value - threshold, value, None)

    return _best("at_most", f"{method}: {metric} ≤ {threshold:g}", rows, method, judge)


@TARGET_RULES.register("at_least", "mean of a metric ≥ threshold")
def at_least(rows: Rows, method: str, metric: str, threshold: float) -> TargetResult:
    def judge(name: str) -> tuple[float, float | None, float | None] | None:
        value = _mean(rows, name, metric)
        return None if value is None else (threshold - value, value, None)

    return _best("at_least", f"{method}: {metric} ≥ {threshold:g}", rows, method, judge)


@TARGET_RULES.register("abs_at_most", "every listed metric's |mean| ≤ threshold (e.g. every |Δ| ≤ 2 points)")
def abs_at_most(rows: Rows, method: str, metric: str | Sequence[str], threshold: float) -> TargetResult:
    keys = _metrics(metric)

    def judge(name: str) -> tuple[float, float | None, float | None] | None:
        values = [_mean(rows, name, k) for k in keys]
        if any(v is None for v in values):
            return None
        worst = max(abs(v) for v in values if v is not None)
        return (worst - threshold, worst, None)

    return _best("abs_at_most", f"{method}: |{'|, |'.join(keys)}| ≤ {threshold:g}", rows, method, judge)


COMPARISONS: dict[str, tuple[str, Callable[[float, float, float, float], float]]] = {
    # op -> (words, distance(value, reference, scale, offset)); distance <= 0 is met
    "le": ("≤", lambda v, r, s, o: v - (s * r + o)),
    "ge": ("≥", lambda v, r, s, o: (s * r + o) - v),
    "abs_le": ("within ± offset of", lambda v, r, s, o: abs(v - r) - o),
}


def _versus_words(op: str, reference: str, scale: float, offset: float) -> str:
    if op == "abs_le":
        return f"within {offset:g} of {reference}'s"
    ref = reference if scale == 1 else f"{scale:g} × {reference}'s"
    return f"{COMPARISONS[op][0]} {ref}" + (f" {'+' if offset > 0 else '−'} {abs(offset):g}" if offset else "")


@TARGET_RULES.register("versus", "a method's mean against another row's (the oracles, a baseline): le / ge / abs_le with scale and offset")
def versus(rows: Rows, method: str, metric: str, reference: str, op: str = "le", scale: float = 1.0, offset: float = 0.0) -> TargetResult:
    if op not in COMPARISONS:
        raise ConfigError(f"targets: versus op {op!r} unknown; choose one of {sorted(COMPARISONS)}.")
    distance = COMPARISONS[op][1]
    statement = f"{method}: {metric} {_versus_words(op, reference, scale, offset)}"
    ref_value = _mean(rows, reference, metric)
    if ref_value is None:
        return TargetResult("versus", statement, None, None, note=f"reference row {reference!r} has no {metric}")

    def judge(name: str) -> tuple[float, float | None, float | None] | None:
        value = _mean(rows, name, metric)
        return None if value is None else (distance(value, ref_value, scale, offset), value, ref_value)

    return _best("versus", statement, rows, method, judge)


def check_rule_spec(spec: Mapping[str, Any], key: str) -> None:
    """At load: the rule exists and its parameters are the rule's (no typo survives until the summary)."""
    import inspect

    if not isinstance(spec, Mapping) or "rule" not in spec:
        raise ConfigError(f"{key} must be a mapping with a 'rule' (one of {TARGET_RULES.names()}), e.g. {{rule: at_most, method: DEL, metric: avg_gap, threshold: 2}}.")
    if spec["rule"] not in TARGET_RULES.names():
        raise ConfigError(f"{key}.rule: unknown target rule {spec['rule']!r}; choose one of {TARGET_RULES.names()}.")
    params = inspect.signature(TARGET_RULES.get(spec["rule"])).parameters
    given = {k for k in spec if k not in ("rule", "note")}
    unknown = sorted(given - set(params) - {"rows"})
    missing = sorted(n for n, p in params.items() if n != "rows" and p.default is inspect.Parameter.empty and n not in given)
    if unknown or missing:
        raise ConfigError(f"{key} ({spec['rule']}): unknown {unknown} / missing {missing}; the rule takes {[n for n in params if n != 'rows']}.")
    if spec["rule"] == "versus" and spec.get("op", "le") not in COMPARISONS:
        raise ConfigError(f"{key}.op must be one of {sorted(COMPARISONS)}, got {spec.get('op')!r}.")


def check_target(rows: Rows, spec: Mapping[str, Any]) -> TargetResult:
    """Apply one declared target (``{rule: NAME, ...params}``) to one summary group."""
    params = {k: v for k, v in spec.items() if k not in ("rule", "note")}
    result = TARGET_RULES.get(spec["rule"])(rows, **params)
    if spec.get("note"):
        result.note = (result.note + "; " if result.note else "") + str(spec["note"])
    return result


def versus_interval(records: Sequence[Mapping[str, Any]], spec: Mapping[str, Any], result: TargetResult, base_seed: int = 0) -> dict[str, Any] | None:
    """Whether a ``versus`` judgement survives seed noise: a percentile bootstrap of the distance's mean over the runs
    of the judged row and of the reference (each side resampled on its own; the pair draws from its own stream, so
    adding a row or a target never moves another interval). None where the rule is not ``versus`` or ``abs_le``
    (a distance that is not linear in the means), or a side has fewer than two runs."""
    from .stats import bootstrap_difference

    if spec.get("rule") != "versus" or result.row is None or result.met is None or spec.get("op", "le") == "abs_le":
        return None
    metric, reference = spec["metric"], spec["reference"]
    scale, offset = float(spec.get("scale", 1.0)), float(spec.get("offset", 0.0))

    def values(row: str) -> list[float]:
        found = [r.get(metric) for r in records if r.get("method") == row and r.get("status", "ok") == "ok"]
        return [float(v) for v in found if isinstance(v, (int, float)) and math.isfinite(v)]

    mine, theirs = values(result.row), [scale * v + offset for v in values(reference)]
    if len(mine) < 2 or len(theirs) < 2:
        return None
    sign = 1.0 if spec.get("op", "le") == "le" else -1.0  # distance = sign × (value − reference); ≤ 0 is met
    a, b = (mine, theirs) if sign > 0 else (theirs, mine)
    return bootstrap_difference(a, b, (result.row, reference, metric, spec.get("op", "le")), base_seed)
