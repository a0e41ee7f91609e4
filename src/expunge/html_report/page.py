"""Assemble one self-contained HTML page: plotly.js and the data inlined, so it opens from file:// offline."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ..utils import atomic_write_text
from . import charts, lm_panel, thumbnails
from .collect import Collection, Run, clean, collect
from .pick import QUALITIES, RULE, quality_key, what_to_pick
from .study import study_html
from .summary import summarize
from .table import table_html

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table.sortable{border-collapse:collapse;font-size:13px;margin:8px 0}
table.sortable th,table.sortable td{border:1px solid #ddd;padding:4px 8px;text-align:right}
table.sortable td:first-child,table.sortable th:first-child{text-align:left}
table.sortable th{background:#f4f4f4;cursor:pointer;user-select:none}
table.sortable th.asc::after{content:" ▲"}table.sortable th.desc::after{content:" ▼"}
tr.role-oracle{background:#e8e8e8}tr.role-baseline{background:#fff4d6}
.role{font-size:11px;color:#666;margin-left:4px}
.badge{display:inline-block;white-space:nowrap;border-radius:8px;padding:1px 7px;font-size:11px;margin:1px;color:#fff}
.badge.good{background:#2e7d32}.badge.bad{background:#c62828}
.pick{background:#e3f2fd;border-left:4px solid #1565c0;padding:8px 12px;margin:8px 0}
.rule,.meta{font-size:12px;color:#555}.grid img{max-width:100%;border:1px solid #ddd}
table.lm-answers{border-collapse:collapse;font-size:12px;margin:6px 0}table.lm-answers th,table.lm-answers td{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}
table.lm-answers th{background:#f4f4f4}td.lm-hit{background:#e6f4ea}td.lm-empty{color:#888;font-style:italic}details.lm-method summary{cursor:pointer;margin:4px 0}
.pool-images{display:flex;flex-wrap:wrap;gap:16px}.pool-side{flex:1 1 520px}.pool-side h4{margin:4px 0}.thumbs{display:flex;flex-wrap:wrap;gap:4px}
figure.thumb{margin:0;font-size:10px;text-align:center;color:#555}figure.thumb img{width:40px;height:40px;image-rendering:pixelated;border:1px solid #ddd;display:block}
"""

# Sorts a table by the clicked header: numbers by data-v (empty last), text alphabetically; click again to reverse.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = !th.classList.contains("asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      var numeric = th.dataset.type === "num";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        if (numeric) {
          if (x === "" || y === "") { return (x === "") - (y === ""); }
          return asc ? parseFloat(x) - parseFloat(y) : parseFloat(y) - parseFloat(x);
        }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _figure(fig: Any, div_id: str) -> str:
    if fig is None:
        return ""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True})


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-") or "run"


def run_section(run: Run, index: int) -> tuple[str, dict[str, Any]]:
    """One run: pick line, table, frontier, masks, family panels; returns the HTML and the data inlined for it."""
    slug = f"r{index}-{_slug(run.label)}"
    original = (run.info or {}).get("original")
    columns, summaries = summarize(run.records, original)
    pick = what_to_pick(summaries)
    cfg = run.config
    meta = f"dataset {cfg.get('dataset', {}).get('name', '?')}, model {cfg.get('model', {}).get('name', '?')}"
    if run.info:
        meta += f", forget set: {run.info.get('split_description', '')}; sizes {run.info.get('split_sizes', '')}"
    parts = [f'<section class="run" id="{slug}"><h2>{escape(run.label)}</h2>', f'<p class="meta">{escape(meta)}</p>']
    parts += [f'<p class="pick" data-method="{escape(pick.method or "")}">{escape(pick.text)}</p>', f'<p class="rule">{escape(RULE)}</p>']
    parts.append(table_html(f"table-{slug}", columns, summaries))
    parts.append(
        '<p class="rule">Grey rows: the oracles (retrained without the forget set) scored leave-one-out, the noise floor; yellow rows: trivial baselines. Cost: example passes (forward + backward of one example = 1), and as a multiple of one retraining. Click a header to sort.</p>'
    )
    key, label, higher = quality_key(summaries) or QUALITIES[0]
    points, floor = charts.frontier_points_of(run.records, run.frontier, key)
    figures = [
        ("frontier", charts.frontier_figure(points, floor, key, f"{label} ({'higher' if higher else 'lower'} is better)", higher)),
        ("masks", charts.mask_layers_figure(run.records)),
        ("relearn", charts.relearn_figure(run.records)),
        ("probe", charts.probe_figure(run.records)),
    ]
    for name, fig in figures:
        parts.append(_figure(fig, f"{name}-{slug}"))
    lm = lm_panel.lm_blocks(run.records, run.info)
    lm_chosen = lm_panel.chosen_method(lm, pick.method) if lm else None
    if lm:
        if lm.methods:
            parts.append(lm_panel.answers_html(slug, lm, lm_chosen))
        parts.append(_figure(lm_panel.truth_ratio_figure(lm, lm_chosen), f"truthratio-{slug}"))
    if run.samples:
        parts.append("<h3>Samples (before / after / oracle, same latent codes)</h3>")
        parts += [f'<figure class="grid"><img alt="{escape(s["caption"])}" src="data:image/png;base64,{s["png"]}"><figcaption>{escape(s["caption"])}</figcaption></figure>' for s in run.samples]
    parts.append("</section>")
    data = {
        "label": run.label,
        "pick": pick.text,
        "methods": [s.method for s in summaries],
        "lm_methods": list(lm.methods) if lm else [],
        "lm_chosen": lm_chosen,
        "frontier_points": len([p for p in points if p.get("relative_passes") is not None and p.get(key) is not None]),
    }
    return "\n".join(parts), data


def comparison_sections(found: Collection) -> list[str]:
    """Runs on the same data (dataset, split, sizes) side by side on their shared quality measure."""
    groups: dict[str, list[Run]] = {}
    for run in found.runs:
        groups.setdefault(run.data_key, []).append(run)
    out = []
    for i, runs in enumerate(g for g in groups.values() if len(g) > 1):
        judged = quality_key(summarize(runs[0].records)[1])
        if judged is None:
            continue
        key, label, _ = judged
        fig = charts.compare_runs_figure([(r.label, r.records) for r in runs], key, label)
        if fig is not None:
            out += ['<section class="compare"><h2>Runs on the same data</h2>', _figure(fig, f"compare-{i}"), "</section>"]
    return out


def pool_sections(found: Collection) -> list[str]:
    out = []
    for i, pool in enumerate(found.pools):
        figs = [charts.epsilon_figure(pool.data), charts.epsilon_rank_figure(pool.data)]
        if any(f is not None for f in figs):
            view = thumbnails.pool_examples(pool.data)
            images = thumbnails.examples_html(view, f"pool-{i}") if view else ""
            out += [f'<section class="pool"><h2>{escape(pool.label)}: per-example scores</h2>', _figure(figs[0], f"eps-{i}"), _figure(figs[1], f"epsrank-{i}"), images, "</section>"]
    return out


def study_sections(found: Collection) -> list[str]:
    return [study_html(study, i) for i, study in enumerate(found.studies)]


def render(found: Collection, title: str = "expunge comparison") -> str:
    from plotly.offline import get_plotlyjs

    sections, data = study_sections(found), []
    for i, run in enumerate(found.runs):
        html, entry = run_section(run, i)
        sections.append(html)
        data.append(entry)
    sections += comparison_sections(found) + pool_sections(found)
    payload = json.dumps(clean({"runs": data, "studies": found.studies}), ensure_ascii=True).replace("</", "<\\/")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{STYLE}</style>",
            f"<script>{get_plotlyjs()}</script>",
            "</head><body>",
            f"<h1>{escape(title)}</h1>",
            *sections,
            f'<script type="application/json" id="expunge-data">{payload}</script>',
            f"<script>{SORT_SCRIPT}</script>",
            "</body></html>",
        ]
    )


def write_html_report(out: str | Path, sources: list[str | Path]) -> Path:
    """``expunge report --html OUT DIR...``: collect every run below the folders and write one page."""
    found = collect(sources)
    out = Path(out)
    atomic_write_text(out, render(found, "expunge: " + ", ".join(Path(s).name for s in sources)))
    return out
