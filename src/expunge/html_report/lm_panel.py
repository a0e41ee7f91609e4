"""Language-model panel: answers of the original, an unlearned model and an oracle side by side, and truth-ratio distributions.

Reads the ``lm_examples`` block the ``lm_examples`` metric stores in every LM record, in run.json's
``original`` / ``oracles`` metrics and in the ``retrain`` rows. Runs stored before that metric
existed have no block, and the panel is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

from .charts import ORACLE_COLOR, _go, _layout

KEY = "lm_examples"
PARTS = ("forget", "retain")
ORIGINAL_COLOR = "#ff7f0e"
METHOD_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#17becf", "#8c564b", "#e377c2", "#bcbd22"]  # one colour per method in both panels


@dataclass
class LMBlocks:
    """The stored blocks of one run: the original's, each oracle's, each method's (one per seed, lowest seed first)."""

    original: dict[str, Any] | None
    oracles: list[dict[str, Any]]
    methods: dict[str, list[tuple[Any, dict[str, Any]]]] = field(default_factory=dict)


def lm_blocks(records: Sequence[dict[str, Any]], info: dict[str, Any] | None) -> LMBlocks | None:
    """None when no record holds a block (not an LM run, or one stored before ``lm_examples``)."""
    info = info or {}
    original = ((info.get("original") or {}).get("metrics") or {}).get(KEY)
    oracles = [b for o in info.get("oracles") or [] if isinstance(b := (o.get("metrics") or {}).get(KEY), dict)]
    retrain = sorted((r for r in records if r.get("method") == "retrain" and isinstance(r.get(KEY), dict)), key=lambda r: str(r.get("seed")))
    methods: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for r in records:
        if r.get("method") != "retrain" and r.get("status", "ok") == "ok" and isinstance(r.get(KEY), dict):
            methods.setdefault(str(r["method"]), []).append((r.get("seed"), r[KEY]))
    for rows in methods.values():
        rows.sort(key=lambda sb: str(sb[0]))
    blocks = LMBlocks(original if isinstance(original, dict) else None, oracles or [r[KEY] for r in retrain], methods)
    return blocks if blocks.methods or blocks.oracles or blocks.original else None


def chosen_method(blocks: LMBlocks, preferred: str | None) -> str | None:
    """The page's pick when it has a block, else the first method."""
    if preferred in blocks.methods:
        return preferred
    return next(iter(blocks.methods), None)


def _answers(block: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a.get("part", ""), a.get("question", "")): a for a in (block or {}).get("answers") or []}


def _cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return '<td class="lm-missing">–</td>'
    key = str(entry.get("key") or "")
    hit = bool(key) and key.lower() in str(entry.get("answer", "")).lower()
    text = str(entry.get("answer", ""))
    if not text.strip():
        return '<td class="lm-answer lm-empty">(empty: the model ended its answer at once)</td>'
    attrs = 'class="lm-hit" title="states the fact"' if hit else 'class="lm-answer"'
    return f"<td {attrs}>{escape(text)}</td>"


def answers_table(table_id: str, blocks: LMBlocks, method: str) -> str:
    """One row per stored question (forget first): reference, original, the method's first seed, the first oracle."""
    seed, block = blocks.methods[method][0]
    oracle = blocks.oracles[0] if blocks.oracles else None
    columns = [("original", blocks.original), (f"{method} (seed {seed})", block), ("oracle", oracle)]
    order = [k for b in (block, oracle, blocks.original) for k in _answers(b)]
    keys = list(dict.fromkeys(order))
    by_model = [_answers(b) for _, b in columns]
    head = "".join(f"<th>{escape(h)}</th>" for h in ["set", "question", "reference answer", *(name for name, _ in columns)])
    rows = []
    for part, question in keys:
        ref = next((m[(part, question)].get("reference", "") for m in by_model if (part, question) in m), "")
        cells = "".join(_cell(m.get((part, question))) for m in by_model)
        rows.append(f'<tr class="lm-{escape(part)}"><td>{escape(part)}</td><td>{escape(question)}</td><td>{escape(str(ref))}</td>{cells}</tr>')
    return f'<table class="lm-answers" id="{escape(table_id)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def answers_html(slug: str, blocks: LMBlocks, chosen: str | None) -> str:
    """The chosen method's table open, every other method's behind its own fold (no script needed)."""
    parts = ["<h3>Language model: greedy answers of the original, the unlearned model and an oracle</h3>"]
    parts.append('<p class="rule">Green: the answer states the fact (the reference answer\'s key value). Forget questions first; the same questions for every model.</p>')
    for i, method in enumerate(blocks.methods):
        table = answers_table(f"lm-answers-{slug}-{i}", blocks, method)
        parts.append(f'<details class="lm-method" data-method="{escape(method)}"{" open" if method == chosen else ""}><summary>{escape(method)}</summary>{table}</details>')
    return "\n".join(parts)


def _ratios(blocks: Sequence[dict[str, Any]], part: str) -> list[float]:
    return [float(v) for b in blocks for v in ((b.get("truth_ratio") or {}).get(part) or []) if v is not None]


def truth_ratio_figure(blocks: LMBlocks, chosen: str | None) -> Any | None:
    """Per-question truth ratios on the forget and retain questions: the original, the oracles (pooled) and one method
    (pooled over seeds; a menu chooses it). An unlearned model should look like the oracles, not the original."""
    series = [("original", [blocks.original] if blocks.original else [], ORIGINAL_COLOR), (f"oracles ({len(blocks.oracles)})", blocks.oracles, ORACLE_COLOR)]
    methods = [(f"{m} ({len(rows)} seed{'s' if len(rows) > 1 else ''})", [b for _, b in rows], METHOD_COLORS[i % len(METHOD_COLORS)]) for i, (m, rows) in enumerate(blocks.methods.items())]
    everything = [v for part in PARTS for _, bs, _ in series + methods for v in _ratios(bs, part)]
    if not everything:
        return None
    from plotly.subplots import make_subplots

    go = _go()
    lo, hi = float(np.min(everything)), float(np.max(everything))
    size = (hi - lo) / 30 or 0.01
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{p} questions" for p in PARTS])
    names = list(blocks.methods)
    first = names.index(chosen) if chosen in names else 0
    kinds: list[int | None] = []  # None: always shown; k: method k
    for col, part in enumerate(PARTS, start=1):
        for j, (label, bs, color) in enumerate(series + methods):
            values = _ratios(bs, part)
            k = j - len(series) if j >= len(series) else None
            kinds.append(k)
            fig.add_trace(
                go.Histogram(
                    x=values,
                    xbins={"start": lo, "end": hi + size, "size": size},
                    histnorm="probability",
                    opacity=0.55,
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    visible=k is None or k == first,
                    marker={"color": color},
                    hovertemplate="truth ratio %{x}<br>share %{y:.2f}<extra>" + escape(label) + "</extra>",
                ),
                row=1,
                col=col,
            )
    if names:
        buttons = [{"label": name, "method": "restyle", "args": [{"visible": [k is None or k == m for k in kinds]}]} for m, name in enumerate(names)]
        fig.update_layout(updatemenus=[{"buttons": buttons, "active": first, "x": 0.0, "y": 1.22, "xanchor": "left", "direction": "down"}])
    _layout(fig, "", "truth ratio (perturbed / paraphrased answer probability; near 1: cannot tell the true answer)", "share of questions", barmode="overlay")
    fig.update_layout(margin={"t": 110}, title={"text": "Truth-ratio distributions: original, oracles and the chosen method (menu)", "y": 0.98})
    return fig
