"""Per-method summaries of one run: role (method / trivial baseline / oracle), mean ± std per metric, verdicts, cost.

The roles follow rules in a small table, so a new trivial baseline is one more line. The
original model (from run.json) is the "do nothing" baseline row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..evaluate.class_forgetting import verdict_name

ORACLE, BASELINE, METHOD = "oracle", "baseline", "method"

# (role, reason shown on hover, rule on a method's first record)
ROLE_RULES: list[tuple[str, str, Callable[[dict[str, Any]], bool]]] = [
    (ORACLE, "the oracles (retrained without the forget set), scored leave-one-out: the noise floor", lambda r: r.get("method") == "retrain" or str(r.get("unlearner", "")).endswith("retrain")),
    (BASELINE, "trivial baseline: the original model, unchanged", lambda r: r.get("method") in ("original", "do nothing") or r.get("unlearner") in ("none", "identity")),
    (BASELINE, "trivial baseline: edits only the output layer", lambda r: r.get("unlearner") == "output_mask"),
    (BASELINE, "trivial baseline: a random mask of the same size", lambda r: r.get("localizer") == "random"),
]

# Columns in the order a reader wants them; the first group present decides the table (class runs have ~50 numbers).
COLUMN_SETS: list[list[tuple[str, str]]] = [
    [  # class removal
        ("target_acc_test", "target acc (test)"),
        ("other_acc_test", "other acc (test)"),
        ("probe_penultimate", "probe"),
        ("relearn_k5_full", "relearn k=5"),
        ("dist_relearn_k5_full", "|relearn−oracle|"),
        ("mia_fs", "MIA Fs"),
    ],
    [  # example unlearning
        ("forget_acc", "FA"),
        ("retain_acc", "RA"),
        ("test_acc", "TA"),
        ("mia_efficacy", "MIA-eff"),
        ("mia_auc", "loss AUC"),
        ("avg_gap", "Avg.Gap"),
        ("avg_gap_auc", "Avg.Gap(AUC)"),
    ],
]
COST_COLUMNS = [("passes", "example passes"), ("relative_passes", "passes ×retrain"), ("seconds", "seconds")]
SKIP = {"seed", "alpha", "mask_fraction", "attempts", "verdict", "oracle_train_seconds_median", "localize_seconds", "unlearn_seconds", "cpu_seconds", "forward_passes", "relative_cpu", "relative_time"}
MAX_OTHER = 8  # other numeric metrics (GAN, LM sets) shown when no known column set applies


@dataclass
class Stat:
    mean: float | None
    std: float | None
    n: int

    def text(self, digits: int = 2) -> str:
        if self.mean is None:
            return "–"
        fmt = f"{{:,.{digits}f}}" if abs(self.mean) < 1e5 else "{:,.0f}"
        return fmt.format(self.mean) + (f" ± {fmt.format(self.std)}" if self.std else "")


def stat(values: list[Any]) -> Stat:
    arr = np.asarray([v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)], dtype=float)
    if arr.size == 0:
        return Stat(None, None, 0)
    return Stat(float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else None, int(arr.size))


def verdict_labels(records: list[dict[str, Any]]) -> list[str]:
    """Distinct verdicts over a method's seeds: the class verdict code, or any string ``verdict`` a judgement stored."""
    out: list[str] = []
    for r in records:
        v = r.get("verdict")
        if v is None:
            continue
        name = verdict_name(v)
        if name != "–" and name not in out:
            out.append(name)
    return out


@dataclass
class MethodSummary:
    method: str
    role: str
    role_reason: str
    n: int
    failed: int
    stats: dict[str, Stat]
    verdicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def role_of(record: dict[str, Any]) -> tuple[str, str]:
    for role, reason, rule in ROLE_RULES:
        if rule(record):
            return role, reason
    return METHOD, ""


def columns_for(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The first known column set the records hold, else their first numeric metrics; cost last."""
    have = {k for r in records for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for columns in COLUMN_SETS:
        chosen = [(k, label) for k, label in columns if k in have]
        if len(chosen) >= 3:
            break
    else:
        cost = {k for k, _ in COST_COLUMNS}
        seen: list[str] = []
        for r in records:
            seen += [k for k in r if k in have and k not in seen and k not in SKIP and k not in cost and not k.endswith(("_std", "_oracle")) and not k.startswith("delta_")]
        chosen = [(k, k) for k in seen[:MAX_OTHER]]
    return chosen + [(k, label) for k, label in COST_COLUMNS if k in have]


def summarize(records: list[dict[str, Any]], original: dict[str, Any] | None = None) -> tuple[list[tuple[str, str]], list[MethodSummary]]:
    """Columns and one summary per method (the original model first when run.json has it)."""
    columns = columns_for(records)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get("method")), []).append(r)
    out = []
    if original and original.get("metrics"):
        metrics = original["metrics"]
        out.append(MethodSummary("original", BASELINE, ROLE_RULES[1][1], 1, 0, {k: stat([metrics.get(k)]) for k, _ in columns}))
    for method, rows in groups.items():
        ok = [r for r in rows if r.get("status", "ok") == "ok"]
        role, reason = role_of(rows[0])
        errors = sorted({str(r.get("error"))[:200] for r in rows if r.get("status") == "failed"})
        out.append(MethodSummary(method, role, reason, len(ok), len(rows) - len(ok), {k: stat([r.get(k) for r in ok]) for k, _ in columns}, verdict_labels(ok), errors))
    return columns, out
