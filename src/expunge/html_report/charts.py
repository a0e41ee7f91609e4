"""Plotly figures for the page, one function per question; each returns None when the data are not stored.

Charts are plotly's own (hover, zoom, legend click toggles a trace); nothing here draws by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..experiments.plots import spread_coincident

SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star", "pentagon", "hexagon", "triangle-left", "triangle-right"]
ORACLE_COLOR = "black"


def _go():
    import plotly.graph_objects as go

    return go


def _layout(fig: Any, title: str, x: str, y: str, **extra: Any) -> Any:
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"x": 1.02, "y": 1, "xanchor": "left"}, **extra
    )
    return fig


def frontier_points_of(run_records: Sequence[dict[str, Any]], frontier: dict[str, Any] | None, quality: str = "avg_gap") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The frontier's points (one per method × budget) or, for a plain run, one point per method from its records."""
    if frontier and frontier.get("points") and quality == "avg_gap":
        return list(frontier["points"]), frontier.get("noise_floor") or {}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in run_records:
        if r.get("status", "ok") == "ok":
            groups[str(r["method"])].append(r)
    points = []
    for method, rows in groups.items():
        point: dict[str, Any] = {"method": method, "base_method": method, "budget": None, "n": len(rows)}
        for key in ("relative_passes", quality):
            values = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and r[key] is not None]
            point[key] = float(np.mean(values)) if values else None
            point[f"{key}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        points.append(point)
    retrain = next((p for p in points if p["method"] == "retrain"), None)
    floor = {quality: {"mean": retrain[quality], "std": retrain[f"{quality}_std"]}} if retrain else {}
    return points, floor


def frontier_figure(
    points: Sequence[dict[str, Any]], floor: dict[str, Any], quality: str = "avg_gap", label: str = "Avg.Gap to the oracles (points, lower is better)", higher_better: bool = False
) -> Any | None:
    """Quality against measured cost, one trace per method (its budgets joined), seed std as error bars."""
    usable = [p for p in points if p.get("relative_passes") is not None and p.get(quality) is not None]
    if not usable:
        return None
    go = _go()
    fig = go.Figure()
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in usable:
        groups[str(p.get("base_method") or p["method"])].append(p)
    log_x = all(p["relative_passes"] > 0 for p in usable)  # a training-free method at 0 passes cannot sit on a log axis
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == "retrain", kv[0]))
    ordered = [(base, sorted(rows, key=lambda r: r["relative_passes"])) for base, rows in ordered]
    flat = [r for _, rows in ordered for r in rows]
    shown = dict(zip(map(id, flat), spread_coincident([r["relative_passes"] for r in flat], [r[quality] for r in flat], log_x=log_x)))
    for i, (base, rows) in enumerate(ordered):
        ref = base == "retrain"
        budgets = ["reference" if ref else ("measured" if r.get("training_free") else ("–" if r.get("budget") is None else f"{r['budget']:g}")) for r in rows]
        fig.add_trace(
            go.Scatter(
                x=[float(shown[id(r)]) for r in rows],  # coinciding marks spread slightly sideways, none hidden
                y=[r[quality] for r in rows],
                error_x={"type": "data", "array": [r.get("relative_passes_std") or 0.0 for r in rows], "visible": True, "thickness": 1},
                error_y={"type": "data", "array": [r.get(f"{quality}_std") or 0.0 for r in rows], "visible": True, "thickness": 1},
                mode="markers" if ref or len(rows) == 1 else "lines+markers",
                name=base + (" (oracles)" if ref else ""),
                marker={"symbol": "square" if ref else SYMBOLS[i % len(SYMBOLS)], "size": 11 if ref else 9, **({"color": ORACLE_COLOR} if ref else {})},
                customdata=[[r["method"], b, r.get("n"), r.get(f"{quality}_std") or 0.0, r.get("relative_passes_std") or 0.0, r["relative_passes"]] for r, b in zip(rows, budgets)],
                hovertemplate="<b>%{customdata[0]}</b><br>budget %{customdata[1]}<br>"
                + f"{quality} "
                + "%{y:.3f} ± %{customdata[3]:.3f} (std over %{customdata[2]} seeds)<br>passes × retrain %{customdata[5]:.3g} ± %{customdata[4]:.3g}<extra></extra>",
            )
        )
    entry = floor.get(quality) or {}
    if entry.get("mean") is not None:  # the band of qualities no better than the oracles' own leave-one-out spread
        edge = entry["mean"] - (entry.get("std") or 0.0) if higher_better else entry["mean"] + (entry.get("std") or 0.0)
        y0, y1 = (edge, max(edge, *(p[quality] for p in usable))) if higher_better else (min(0.0, edge), edge)
        fig.add_hrect(y0=y0, y1=y1, fillcolor="grey", opacity=0.2, line_width=0, annotation_text="oracles' noise floor", annotation_position="top left")
    fig.update_xaxes(type="log" if log_x else "linear")
    return _layout(fig, "Cost–quality frontier (mean ± std over seeds; click a legend entry to hide a method)", "measured cost: example passes × one retraining" + (" (log)" if log_x else ""), label)


def mask_layers_figure(records: Sequence[dict[str, Any]]) -> Any | None:
    """Where the parameters changed: the share of each tensor a localized method's mask selects (first seed)."""
    masks: dict[str, dict[str, float]] = {}
    for r in records:
        if r.get("mask_layers") and r["method"] not in masks:
            masks[str(r["method"])] = r["mask_layers"]
    if not masks:
        return None
    go = _go()
    fig = go.Figure()
    for method, layers in masks.items():
        fig.add_trace(go.Bar(x=list(layers), y=[100 * (v or 0.0) for v in layers.values()], name=method, hovertemplate="%{x}<br>%{y:.1f}% selected<extra>" + method + "</extra>"))
    fig.update_layout(barmode="group")
    return _layout(fig, "Where the parameters changed: share of each tensor in the mask (first seed)", "parameter tensor (input side first)", "share selected (%)")


def relearn_figure(records: Sequence[dict[str, Any]], variant: str = "full") -> Any | None:
    """Class removal: target accuracy after relearning on k examples per class, with the oracles' mean ± std band."""
    ks = sorted({int(k[len("relearn_k") :].split("_")[0]) for r in records for k in r if k.startswith("relearn_k") and k.endswith(f"_{variant}")})
    rows = [r for r in records if r.get("status", "ok") == "ok" and r.get("method") != "retrain"]
    if not ks or not rows:
        return None
    go = _go()
    fig = go.Figure()
    ref = next((r for r in rows if r.get(f"relearn_k{ks[0]}_{variant}_oracle") is not None), None)
    if ref is not None:
        mean = np.array([ref.get(f"relearn_k{k}_{variant}_oracle") or 0.0 for k in ks], dtype=float)
        std = np.array([ref.get(f"relearn_k{k}_{variant}_oracle_std") or 0.0 for k in ks], dtype=float)
        fig.add_trace(
            go.Scatter(
                x=ks + ks[::-1],
                y=list(mean + std) + list((mean - std)[::-1]),
                mode="lines",
                fill="toself",
                fillcolor="rgba(128,128,128,0.25)",
                line={"width": 0},
                name="oracles (mean ± std)",
                hoverinfo="skip",
            )
        )
        fig.add_trace(go.Scatter(x=ks, y=list(mean), mode="lines", line={"color": ORACLE_COLOR, "dash": "dash"}, name="oracles' mean"))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[str(r["method"])].append(r)
    for i, (method, group) in enumerate(groups.items()):
        ys = [float(np.mean([g[f"relearn_k{k}_{variant}"] for g in group if g.get(f"relearn_k{k}_{variant}") is not None] or [np.nan])) for k in ks]
        dodge = (i - (len(groups) - 1) / 2) * 0.12  # methods side by side at each k: equal curves stay visible
        fig.add_trace(
            go.Scatter(
                x=[k + dodge for k in ks],
                y=ys,
                customdata=ks,
                mode="lines+markers",
                marker={"symbol": SYMBOLS[i % len(SYMBOLS)], "size": 9},
                name=method,
                hovertemplate="k=%{customdata}: %{y:.1f}%<extra>" + method + "</extra>",
            )
        )
    fig.update_xaxes(tickvals=ks)
    return _layout(fig, f"Relearn attack ({variant} model): target test accuracy after fine-tuning on k examples per class", "k (examples per class)", "target test accuracy (%)")


def probe_figure(records: Sequence[dict[str, Any]], key: str = "probe_penultimate") -> Any | None:
    """Class removal: linear-probe accuracy on the target class from the features, against the oracles' band."""
    rows = [r for r in records if r.get("status", "ok") == "ok" and r.get(key) is not None and r.get("method") != "retrain"]
    if not rows:
        return None
    go = _go()
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        groups[str(r["method"])].append(float(r[key]))
    fig = go.Figure(
        go.Bar(
            x=list(groups),
            y=[float(np.mean(v)) for v in groups.values()],
            error_y={"type": "data", "array": [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in groups.values()]},
            name=key,
            showlegend=False,
        )
    )
    oracle = next((r.get(f"{key}_oracle") for r in rows if r.get(f"{key}_oracle") is not None), None)
    if oracle is not None:
        std = next((r.get(f"{key}_oracle_std") for r in rows if r.get(f"{key}_oracle_std") is not None), 0.0) or 0.0
        fig.add_hrect(y0=oracle - std, y1=oracle + std, fillcolor="grey", opacity=0.25, line_width=0)
        fig.add_hline(y=oracle, line_dash="dash", line_color=ORACLE_COLOR, annotation_text="oracles", annotation_position="top right")
    return _layout(fig, "Feature probe: target-class accuracy of a linear probe on the penultimate features", "method", "probe accuracy (%)")


def epsilon_figure(pool: dict[str, Any]) -> Any | None:
    """Per-example ε of the forget examples, two methods side by side (a menu above each panel chooses the method)."""
    sides = {name: side["per_example_epsilon"] for name, side in pool.get("sides", {}).items() if side.get("per_example_epsilon")}
    if not sides:
        return None
    from plotly.subplots import make_subplots

    go = _go()
    names = list(sides)
    methods = [n for n in names if n not in ("original", "oracle-vs-oracle ceiling")] or names
    first = [methods[0], methods[1] if len(methods) > 1 else names[-1]]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True)
    for col in (1, 2):
        for name in names:
            fig.add_trace(
                go.Histogram(x=sides[name], name=name, visible=name == first[col - 1], showlegend=False, nbinsx=30, hovertemplate="ε %{x}<br>%{y} examples<extra>" + name + "</extra>"), row=1, col=col
            )
    n = len(names)
    menus = []
    for col in (1, 2):
        indices = list(range((col - 1) * n, col * n))
        buttons = [{"label": name, "method": "restyle", "args": [{"visible": [j == k for j in range(n)]}, indices]} for k, name in enumerate(names)]
        menus.append({"buttons": buttons, "active": names.index(first[col - 1]), "x": 0.0 if col == 1 else 0.55, "y": 1.18, "xanchor": "left", "direction": "down"})
    fig.update_layout(updatemenus=menus)
    _layout(fig, "", "per-example ε (lower = closer to retraining)", "forget examples")
    fig.update_layout(margin={"t": 90}, title={"text": f"Per-example ε of the forget examples (N = {pool.get('n_models')} models per side)", "y": 0.98})
    return fig


def epsilon_rank_figure(pool: dict[str, Any]) -> Any | None:
    """The forget examples ranked by their ε (distance from the oracles), one line per side."""
    sides = {name: side["per_example_epsilon"] for name, side in pool.get("sides", {}).items() if side.get("per_example_epsilon")}
    if not sides:
        return None
    go = _go()
    fig = go.Figure()
    for name, values in sides.items():
        ranked = sorted(values, reverse=True)
        fig.add_trace(go.Scatter(x=list(range(1, len(ranked) + 1)), y=ranked, mode="lines", name=name))
    return _layout(fig, "Forget examples ranked by ε (the hardest to forget on the left)", "rank", "ε")


def compare_runs_figure(runs: Sequence[tuple[str, list[dict[str, Any]]]], quality: str, label: str) -> Any | None:
    """Two or more runs on the same data: each method's quality per run, side by side."""
    go = _go()
    fig = go.Figure()
    for name, records in runs:
        groups: dict[str, list[float]] = defaultdict(list)
        for r in records:
            if r.get("status", "ok") == "ok" and isinstance(r.get(quality), (int, float)):
                groups[str(r["method"])].append(float(r[quality]))
        if groups:
            fig.add_trace(
                go.Bar(
                    x=list(groups),
                    y=[float(np.mean(v)) for v in groups.values()],
                    error_y={"type": "data", "array": [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in groups.values()]},
                    name=name,
                )
            )
    if len(list(fig.data)) < 2:
        return None
    fig.update_layout(barmode="group")
    return _layout(fig, f"Runs on the same data side by side: {label}", "method", label)
