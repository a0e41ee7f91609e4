"""The "what to pick" line: derived from the verdicts, the gap to the oracles and the cost, never typed by hand.

Rule (stated on the page): among the methods (not the trivial baselines, not the oracles) whose
every seed ran and whose verdicts, where recorded, are all acceptable, take those whose quality
lies within the oracles' noise floor (their leave-one-out mean + one std); pick the cheapest in
example passes. When none is within the floor, pick the best quality and say how far it is.
A trivial baseline that also reaches the floor is named: the metric cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from .summary import BASELINE, METHOD, ORACLE, MethodSummary, Stat

# (record key, label, higher is better): the first one the run holds judges it
QUALITIES: list[tuple[str, str, bool]] = [
    ("avg_gap", "Avg.Gap to the oracles", False),
    ("dist_relearn_k5_full", "relearn k=5 distance to the oracles", False),
    ("forget_quality", "forget quality", True),
    ("avg_gap_auc", "Avg.Gap(AUC) to the oracles", False),
    ("forgotten_class_share", "share of samples in the forgotten class", False),
]
ACCEPTABLE_VERDICTS = {"removed", "removed from features", "pass", "passed", "ok", "forgotten", "indistinguishable from the oracles"}
RULE = (
    "Rule: methods whose verdicts (where recorded) are acceptable and whose quality is within the oracles' noise floor "
    "(leave-one-out mean + 1 std); the cheapest in example passes wins; otherwise the best quality."
)


@dataclass
class Pick:
    method: str | None
    text: str


def quality_key(summaries: list[MethodSummary]) -> tuple[str, str, bool] | None:
    for key, label, higher in QUALITIES:
        if any(s.stats.get(key) and s.stats[key].mean is not None for s in summaries if s.role == METHOD):
            return key, label, higher
    return None


def _floor(summaries: list[MethodSummary], key: str, higher: bool) -> float | None:
    oracle = next((s for s in summaries if s.role == ORACLE and s.stats.get(key) and s.stats[key].mean is not None), None)
    if oracle is None:
        return None
    st = oracle.stats[key]
    assert st.mean is not None
    spread = st.std or 0.0
    return st.mean - spread if higher else st.mean + spread


def _within(st: Stat, floor: float | None, higher: bool) -> bool:
    if floor is None or st.mean is None:
        return False
    return st.mean >= floor if higher else st.mean <= floor


def _cost(s: MethodSummary) -> float:
    st = s.stats.get("relative_passes") or s.stats.get("passes")
    return st.mean if st and st.mean is not None else float("inf")


def _cost_text(s: MethodSummary) -> str:
    rel, passes = s.stats.get("relative_passes"), s.stats.get("passes")
    if rel and rel.mean is not None:
        return f"{rel.mean:.3g} × one retraining's example passes"
    if passes and passes.mean is not None:
        return f"{passes.mean:,.0f} example passes"
    return "unknown cost"


def what_to_pick(summaries: list[MethodSummary]) -> Pick:
    """One sentence naming the method to pick and why (see the module rule)."""
    judged = quality_key(summaries)
    methods = [s for s in summaries if s.role == METHOD and s.n > 0]
    if judged is None or not methods:
        return Pick(None, "No pick: the run holds no method with a quality measure this page knows (" + ", ".join(label for _, label, _ in QUALITIES) + ").")
    key, label, higher = judged
    scored = [s for s in methods if s.stats.get(key) and s.stats[key].mean is not None]
    rejected = [s for s in scored if s.verdicts and not set(s.verdicts) <= ACCEPTABLE_VERDICTS]
    candidates = [s for s in scored if s not in rejected and s.failed == 0]
    if not candidates:
        why = ", ".join(f"{s.method} ({'/'.join(s.verdicts)})" for s in rejected) or "every method had failed seeds"
        return Pick(None, f"No pick: no method passes its verdict or ran every seed: {why}.")
    floor = _floor(summaries, key, higher)
    inside = [s for s in candidates if _within(s.stats[key], floor, higher)]
    if inside:
        best = min(inside, key=lambda s: (_cost(s), s.stats[key].mean if not higher else -(s.stats[key].mean or 0.0)))
        why = f"within the oracles' noise floor ({floor:.2f}) at {_cost_text(best)}, the cheapest of {len(inside)} method(s) within it"
    else:
        best = (max if higher else min)(candidates, key=lambda s: s.stats[key].mean or 0.0)
        gap = f" ({abs((best.stats[key].mean or 0.0) - floor):.2f} outside the oracles' noise floor {floor:.2f})" if floor is not None else " (no oracle rows: no noise floor)"
        why = f"the best {label} of {len(candidates)} method(s){gap}, at {_cost_text(best)}"
    text = f"Pick {best.method}: {label} {best.stats[key].text()}, {why}."
    if best.verdicts:
        text += f" Verdict: {', '.join(best.verdicts)}."
    if rejected:
        text += " Ruled out by their verdicts: " + ", ".join(f"{s.method} ({'/'.join(s.verdicts)})" for s in rejected) + "."
    trivial = [s for s in summaries if s.role == BASELINE and s.stats.get(key) and _within(s.stats[key], floor, higher)]
    if trivial:
        text += f" Caution: the trivial baseline(s) {', '.join(s.method for s in trivial)} also reach the noise floor on {label}; this measure alone cannot tell them apart."
    return Pick(best.method, text)
