"""The sortable method × metric table of one run, as HTML (roles highlighted, verdicts as badges)."""

from __future__ import annotations

from html import escape

from .pick import ACCEPTABLE_VERDICTS
from .summary import BASELINE, ORACLE, MethodSummary

ROLE_NOTE = {ORACLE: "oracles: noise floor", BASELINE: "trivial baseline"}
GOOD_VERDICTS = ACCEPTABLE_VERDICTS


def _badge(verdict: str) -> str:
    kind = "good" if verdict in GOOD_VERDICTS else "bad"
    return f'<span class="badge {kind}">{escape(verdict)}</span>'


def table_html(table_id: str, columns: list[tuple[str, str]], summaries: list[MethodSummary]) -> str:
    """Each cell carries its numeric value (``data-v``) so the page's sort script orders numbers, not text."""
    verdicts = any(s.verdicts for s in summaries)  # a verdict column only where some record holds one
    head = ['<th data-type="text">method</th>', '<th data-type="num">n</th>'] + [f'<th data-type="num" title="{escape(key)}">{escape(label)}</th>' for key, label in columns]
    head += ['<th data-type="text">verdict</th>'] if verdicts else []
    rows = []
    for s in summaries:
        role = f' class="role-{s.role}" title="{escape(s.role_reason)}"' if s.role_reason else ""
        note = f' <span class="role">{ROLE_NOTE[s.role]}</span>' if s.role in ROLE_NOTE else ""
        n = f"{s.n}" + (f' <span class="badge bad" title="{escape("; ".join(s.errors))}">{s.failed} failed</span>' if s.failed else "")
        cells = [f'<td data-v="{escape(s.method)}">{escape(s.method)}{note}</td>', f'<td data-v="{s.n}">{n}</td>']
        for key, _ in columns:
            st = s.stats.get(key)
            value = "" if st is None or st.mean is None else repr(st.mean)
            cells.append(f'<td data-v="{value}">{st.text(0 if key == "passes" else 2) if st else "–"}</td>')
        if verdicts:
            cells.append(f'<td data-v="{escape(", ".join(s.verdicts))}">{"".join(_badge(v) for v in s.verdicts)}</td>')
        rows.append(f"<tr{role}>" + "".join(cells) + "</tr>")
    return f'<table class="sortable" id="{escape(table_id)}"><thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
