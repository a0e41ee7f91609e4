"""A study's summary (summary.json beside study.json): per group, the pooled table, the pick and the targets met or missed."""

from __future__ import annotations

from html import escape
from typing import Any

from .pick import RULE, what_to_pick
from .summary import BASELINE, METHOD, MethodSummary, Stat, role_of
from .table import table_html

TARGET_BADGE = {True: ("good", "met"), False: ("bad", "missed"), None: ("bad", "not measured")}


def group_summaries(rows: dict[str, dict[str, Any]], columns: list[str], baselines: list[str]) -> list[MethodSummary]:
    """The study's stored rows ({metric: {mean, std, n}}) as method summaries; roles from the study's baselines and the role rules."""
    out = []
    for name, row in rows.items():
        role, reason = role_of({"method": name, "unlearner": name})
        if role == METHOD and (name in baselines or name == "original"):
            role, reason = BASELINE, "trivial baseline named by the study"
        stats = {c: Stat(row[c].get("mean"), row[c].get("std"), int(row[c].get("n") or 0)) for c in [*columns, "relative_passes", "passes"] if isinstance(row.get(c), dict)}
        runs = row.get("runs") or {}
        out.append(MethodSummary(name, role, reason, int(runs.get("ok", 0)), int(runs.get("failed", 0)), stats, [], list(row.get("errors") or [])))
    return out


def _target(t: dict[str, Any]) -> str:
    kind, word = TARGET_BADGE[t.get("met")]
    detail = (
        f" ({t['row']}: {t['value']:.4g}" + (f" vs {t['reference']:.4g}" if t.get("reference") is not None else "") + f"; distance {t['distance']:+.3g})"
        if t.get("value") is not None and t.get("distance") is not None
        else ""
    )
    return f'<li><span class="badge {kind}">{word}</span> {escape(str(t.get("statement", t.get("rule", ""))))}{escape(detail)}</li>'


def study_html(study: dict[str, Any], index: int) -> str:
    summary = study.get("summary")
    name = (study.get("study") or {}).get("name") or study["label"]
    parts = [f'<section class="study" id="study-{index}"><h2>Study {escape(str(name))} ({escape(str(study.get("scale", "")))})</h2>']
    if not summary:
        cells = study.get("cells") or {}
        done = sum(1 for c in cells.values() if c.get("status") == "ok")
        parts.append(f"<p>{done} of {len(cells)} cells finished; no summary.json yet (the study writes it when it ends). The cells' runs are below.</p></section>")
        return "\n".join(parts)
    cells = summary.get("cells", {})
    parts.append(f'<p class="meta">{escape(str(summary.get("description") or ""))} Cells: {cells.get("ok", 0)} ok, {cells.get("failed", 0)} failed of {cells.get("total", 0)}.</p>')
    columns = [c for c in summary.get("columns", []) if c not in ("relative_passes", "relative_time")]
    for g, group in enumerate(summary.get("groups", [])):
        summaries = group_summaries(group.get("rows", {}), columns, list(summary.get("baselines") or []))
        shown = [(c, c) for c in columns] + [(c, label) for c, label in (("relative_passes", "passes ×retrain (pooled)"),) if any(c in s.stats for s in summaries)]
        parts.append(f"<h3>{escape(str(group.get('label', '')))}</h3>")
        pick = what_to_pick(summaries)
        parts += [f'<p class="pick">{escape(pick.text)}</p>', f'<p class="rule">{escape(RULE)}</p>', table_html(f"table-study-{index}-{g}", shown, summaries)]
        if group.get("targets"):
            parts.append('<ul class="targets">' + "".join(_target(t) for t in group["targets"]) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)
