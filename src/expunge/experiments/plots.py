"""PNG plots for reports: readable axes with units, legends, one question per figure.

Every method gets its own colour *and* marker (``method_styles``), points that would land on the
same spot are spread sideways (``spread_coincident``) so no marker hides another, and legends sit
outside the axes so they cover no data. Figures are sized to stay legible when shown ~800 px wide.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MARKERS = ("o", "s", "D", "^", "v", "<", ">", "p", "h", "X", "P")  # 11 markers x 10 colours: 110 distinct pairs
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
FONT = 10


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT, "axes.titlesize": FONT + 1, "legend.fontsize": FONT - 1})
    return plt


def _ok(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status", "ok") == "ok"]


def method_styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A distinct (colour, marker) pair per name, in the given order (11 markers and 10 colours are coprime)."""
    return {name: (COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]) for i, name in enumerate(dict.fromkeys(names))}


def spread_coincident(xs: Sequence[float], ys: Sequence[float], log_x: bool = False, x_tol: float = 0.02, y_tol: float = 0.02, step: float = 0.025) -> np.ndarray:
    """New x positions where points coincide: each cluster is spread symmetrically around its x.

    Two points coincide when both their x (relative, or in log10 with ``log_x``) and their y
    (relative to the y range) differ by less than the tolerances. The shift is ``step`` of the x
    range (a factor ``10**step`` on a log axis), small enough to keep each point near its value.
    """
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.size < 2:
        return x.copy()
    u = np.log10(np.where(x > 0, x, np.nan)) if log_x else x
    span_x = float(np.nanmax(u) - np.nanmin(u)) or 1.0
    span_y = float(np.nanmax(y) - np.nanmin(y)) or 1.0
    cluster = -np.ones(x.size, dtype=int)
    for i in range(x.size):
        if cluster[i] >= 0 or not np.isfinite(u[i]):
            continue
        cluster[i] = i
        for j in range(i + 1, x.size):
            if cluster[j] < 0 and np.isfinite(u[j]) and abs(u[j] - u[i]) <= x_tol * span_x and abs(y[j] - y[i]) <= y_tol * span_y:
                cluster[j] = i
    out = u.copy()
    for c in set(cluster[cluster >= 0].tolist()):
        members = np.flatnonzero(cluster == c)
        if members.size > 1:
            offsets = (np.arange(members.size) - (members.size - 1) / 2) * step * (span_x if not log_x else 1.0)
            out[members] = u[members] + offsets
    return np.power(10.0, out) if log_x else out


def _legend_right(fig: Any, ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


def _save(fig: Any, path: Path, dpi: int = 120) -> None:
    fig.savefig(path, dpi=dpi, bbox_inches="tight")  # "tight" keeps the outside legend in the file
    import matplotlib.pyplot as plt

    plt.close(fig)


def plot_tradeoff(records: Sequence[dict[str, Any]], path: Path) -> bool:
    """Forgetting (|ΔFA| to the oracles) against test accuracy, one marker per method and budget."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _ok(records):
        if "delta_forget" not in r or "test_acc" not in r:
            continue  # another metric set (class, GAN, LM): this plot does not apply
        label = r["method"] if r.get("alpha") is None else f"{r['method']} (α={r['alpha']})"
        groups[label].append(r)
    if not groups:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = method_styles(list(groups))
    means = {label: (float(np.mean([abs(r["delta_forget"]) for r in rows])), float(np.mean([r["test_acc"] for r in rows]))) for label, rows in groups.items()}
    xs = spread_coincident([m[0] for m in means.values()], [m[1] for m in means.values()])
    for (label, rows), x_shown in zip(groups.items(), xs):
        x = np.array([abs(r["delta_forget"]) for r in rows])
        y = np.array([r["test_acc"] for r in rows])
        color, marker = styles[label]
        ax.errorbar(x_shown, y.mean(), xerr=x.std() if len(x) > 1 else None, yerr=y.std() if len(y) > 1 else None, fmt=marker, color=color, markersize=8, capsize=3, label=f"{label} (n={len(rows)})")
    ax.set_xlabel("|ΔFA|: forget-accuracy gap to the oracles (points, lower is better)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Forgetting vs utility (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    _legend_right(fig, ax)
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_mask_composition(records: Sequence[dict[str, Any]], path: Path) -> bool:
    """Fraction of every parameter tensor selected by each masked method (first seed)."""
    masks: dict[str, dict[str, float]] = {}
    for r in _ok(records):
        if r.get("mask_layers") and r["method"] not in masks:
            masks[r["method"]] = r["mask_layers"]
    if not masks:
        return False
    names = list(next(iter(masks.values())))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, max(3.5, 0.2 * len(names) * max(1, len(masks) / 2) + 1.5)))
    height = 0.8 / len(masks)
    ys = np.arange(len(names))
    styles = method_styles(list(masks))
    for i, (method, layers) in enumerate(masks.items()):
        ax.barh(ys + i * height, [100 * layers.get(n, 0.0) for n in names], height=height, color=styles[method][0], label=method)
    ax.set_yticks(ys + 0.4 - height / 2, names, fontsize=FONT - 2)
    ax.invert_yaxis()
    ax.set_xlabel("share of the tensor's entries in the mask (%)")
    ax.set_title("Mask composition per parameter tensor (input side at the top)")
    _legend_right(fig, ax)
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_epsilon_histograms(per_example: dict[str, np.ndarray], path: Path, n_models: int) -> bool:
    """Share of forget examples in each scoring bucket of the NeurIPS-2023 ε-score, per side.

    Grouped bars over the score's own buckets (0.5 wide up to ceil(log(N−1))), then 'beyond' (no
    points) and 'capped' (ε = 50: one side far peakier than the other), so the cap does not squash the rest.
    """
    if not per_example:
        return False
    top = float(np.ceil(np.log(max(n_models - 1, 2))))
    edges = np.arange(0, top + 0.5, 0.5)
    labels = [f"[{a:g},{b:g})" for a, b in zip(edges[:-1], edges[1:])] + [f"≥{top:g}", "capped (50)"]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(per_example)
    x = np.arange(len(labels))
    styles = method_styles(list(per_example))
    for i, (label, values) in enumerate(per_example.items()):
        values = np.asarray(values, dtype=float)
        counts = list(np.histogram(values[values < top], bins=edges)[0])
        counts += [int(((values >= top) & (values < 50)).sum()), int((values >= 50).sum())]
        ax.bar(x + i * width - 0.4 + width / 2, 100 * np.array(counts) / len(values), width=width, color=styles[label][0], label=label)
    ax.set_xticks(x, labels, fontsize=FONT - 2)
    ax.set_xlabel(f"per-example ε bucket (N = {n_models} per side; buckets earn 1, ½, ¼ … points; ≥{top:g} and capped earn 0)")
    ax.set_ylabel("share of forget examples (%)")
    ax.set_title("Per-example forgetting ε (lower buckets = closer to retraining)")
    ax.grid(axis="y", alpha=0.3)
    _legend_right(fig, ax)
    fig.tight_layout()
    _save(fig, path)
    return True


RECOVERY_METRICS = (("delta_forget", "ΔFA"), ("delta_retain", "ΔRA"), ("delta_test", "ΔTA"), ("delta_mia", "ΔMIA-eff"))


def plot_recovery(records: Sequence[dict[str, Any]], path: Path) -> bool:
    """Δ to the oracles after each finetuning epoch, one panel per metric so no curve covers another."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("recovery"):
            groups[r["method"]].append(r)
    if not groups:
        return False
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), sharex=True, squeeze=False)
    styles = method_styles(list(groups))
    for ax, (key, label) in zip(axes.flat, RECOVERY_METRICS):
        for i, (method, group) in enumerate(groups.items()):
            epochs = [p["epoch"] for p in group[0]["recovery"]]
            values = np.mean([[p[key] for p in g["recovery"]] for g in group if len(g["recovery"]) == len(epochs)], axis=0)
            color, marker = styles[method]
            dodge = (i - (len(groups) - 1) / 2) * 0.08  # methods side by side at each epoch: equal curves stay visible
            ax.plot(np.asarray(epochs, dtype=float) + dodge, values, "-", color=color, marker=marker, markersize=5, label=method)
        ax.axhspan(-2, 2, color="grey", alpha=0.2, label="±2 points")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_yscale("symlog", linthresh=2)  # keeps both the ±2 band and the post-reset collapse readable
        ax.set_title(label)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("finetuning epoch (0 = right after the reset; methods offset slightly)")
    for ax in axes[:, 0]:
        ax.set_ylabel("Δ = oracle − method (points)")
    fig.suptitle("Recovery during the finetune (mean over seeds)")
    _legend_right(fig, axes[0][0])
    fig.tight_layout()
    _save(fig, path)
    return True


FRONTIER_PANELS = [("avg_gap", "Avg.Gap (SVC MIA-efficacy), points"), ("avg_gap_auc", "Avg.Gap (loss AUC), points"), ("max_gap", "max |Δ| of FA, RA, TA, MIA, points")]


def plot_frontier(points: Sequence[dict[str, Any]], floor: dict[str, Any], path: Path, pools: dict[str, Any] | None = None) -> bool:
    """Quality against measured cost (example passes × one retrain), one line per method over budgets.

    Error bars: std over unlearning seeds (both axes). Grey band: the oracles' own leave-one-out
    gap (mean, and mean + std lighter), the noise floor no method can be told apart from. With
    pools, a last panel shows the ε-score (higher is better) with the oracle-vs-oracle ceiling.
    Panels are laid out two per row and the legend sits below them, so the figure reads at ~800 px.
    """
    usable = [p for p in points if p.get("relative_passes") is not None and p.get("avg_gap") is not None]
    if not usable:
        return False
    panels = list(FRONTIER_PANELS)
    if any(p.get("epsilon_score") is not None for p in points):
        panels.append(("epsilon_score", "ε-score (higher is better)"))
    plt = _plt()
    n_rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(n_rows, 2, figsize=(11, 4.2 * n_rows), squeeze=False)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in usable:
        groups[p.get("base_method") or p["method"]].append(p)
    order = sorted(groups, key=lambda b: (b == "retrain", b))
    styles = method_styles(order)
    for ax, (key, label) in zip(axes.flat, panels):
        rows_of = {b: sorted((r for r in groups[b] if r.get(key) is not None), key=lambda r: r["relative_passes"]) for b in order}
        flat = [(b, r) for b in order for r in rows_of[b]]
        shown_x = spread_coincident([r["relative_passes"] for _, r in flat], [r[key] for _, r in flat], log_x=True)
        xs_of: dict[str, list[float]] = defaultdict(list)
        for (b, _), x in zip(flat, shown_x):
            xs_of[b].append(float(x))
        for base in order:
            rows = rows_of[base]
            if not rows:
                continue
            y = np.array([r[key] for r in rows])
            xerr = np.array([r.get("relative_passes_std") or 0.0 for r in rows])
            yerr = np.array([r.get(f"{key}_std") or 0.0 for r in rows])
            free = rows[0].get("training_free")
            ref = base == "retrain"
            color, marker = ("black", "s") if ref else styles[base]
            marker = "*" if free else marker
            name = base + (" (training-free, measured cost)" if free else " (oracles, reference)" if ref else "")
            style = "" if ref or free else ("-" if base.upper().startswith("DEL") else "--")  # DEL family solid, baselines dashed
            ax.errorbar(xs_of[base], y, xerr=xerr, yerr=yerr, fmt=marker + style, capsize=3, markersize=9 if free or ref else 6, color=color, label=name, alpha=0.9)
        entry = (floor or {}).get(key)
        if entry and entry.get("mean") is not None:
            mean, std = entry["mean"], entry.get("std") or 0.0
            ax.axhspan(0, mean, color="grey", alpha=0.3, label="oracle noise floor (mean)")
            if std:
                ax.axhspan(mean, mean + std, color="grey", alpha=0.12, label="noise floor + 1 std")
        if key == "epsilon_score" and pools:
            ceilings = [e["ceiling"]["epsilon_score"] for e in pools.values() if e and e.get("ceiling")]
            if ceilings:
                ax.axhline(float(np.mean(ceilings)), color="black", ls="--", lw=1, label="oracle-vs-oracle ceiling")
                ax.axhspan(0.5 * float(np.mean(ceilings)), float(np.mean(ceilings)), color="green", alpha=0.08, label="≥ 0.5 × ceiling")
        ax.set_xscale("log")
        if key != "epsilon_score":
            ax.set_yscale("symlog", linthresh=5)  # small gaps (near the noise floor) stay readable next to collapsed runs
            ax.set_ylim(bottom=0)
        ax.set_xlabel("example passes × one retraining (log)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Cost/quality frontier (mean ± std over seeds)", fontsize=FONT + 2)
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    spare = list(axes.flat)[len(panels) :]
    for ax in spare:
        ax.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    if spare:  # an odd panel count leaves a free cell: the legend goes there, beside the data, not over it
        spare[0].legend(list(handles.values()), list(handles), loc="center", ncol=2, frameon=False)
    else:
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=3, bbox_to_anchor=(0.5, 0.0), frameon=False)
    _save(fig, path, dpi=150)
    return True
