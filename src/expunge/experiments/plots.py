"""PNG plots for reports: readable axes with units, legends, one question per figure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ok(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status", "ok") == "ok"]


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
    for label, rows in groups.items():
        x = np.array([abs(r["delta_forget"]) for r in rows])
        y = np.array([r["test_acc"] for r in rows])
        ax.errorbar(x.mean(), y.mean(), xerr=x.std() if len(x) > 1 else None, yerr=y.std() if len(y) > 1 else None, fmt="o", capsize=3, label=f"{label} (n={len(rows)})")
    ax.set_xlabel("|ΔFA|: forget-accuracy gap to the oracles (points, lower is better)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Forgetting vs utility (mean ± std over seeds)")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
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
    fig, ax = plt.subplots(figsize=(8, max(3.5, 0.18 * len(names) + 1.5)))
    height = 0.8 / len(masks)
    ys = np.arange(len(names))
    for i, (method, layers) in enumerate(masks.items()):
        ax.barh(ys + i * height, [100 * layers.get(n, 0.0) for n in names], height=height, label=method)
    ax.set_yticks(ys + 0.4 - height / 2, names, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("share of the tensor's entries in the mask (%)")
    ax.set_title("Mask composition per parameter tensor (input side at the top)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
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
    for i, (label, values) in enumerate(per_example.items()):
        values = np.asarray(values, dtype=float)
        counts = list(np.histogram(values[values < top], bins=edges)[0])
        counts += [int(((values >= top) & (values < 50)).sum()), int((values >= 50).sum())]
        ax.bar(x + i * width - 0.4 + width / 2, 100 * np.array(counts) / len(values), width=width, label=label)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlabel(f"per-example ε bucket (N = {n_models} per side; buckets earn 1, ½, ¼ … points; ≥{top:g} and capped earn 0)")
    ax.set_ylabel("share of forget examples (%)")
    ax.set_title("Per-example forgetting ε (lower buckets = closer to retraining)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_frontier(points: Sequence[dict[str, Any]], floor: dict[str, Any], path: Path, pools: dict[str, Any] | None = None) -> bool:
    """Quality against measured cost (example passes × one retrain), one line per method over budgets.

    Error bars: std over unlearning seeds (both axes). Grey band: the oracles' own leave-one-out
    gap (mean, and mean + std lighter), the noise floor no method can be told apart from. With
    pools, a last panel shows the ε-score (higher is better) with the oracle-vs-oracle ceiling.
    """
    usable = [p for p in points if p.get("relative_passes") is not None and p.get("avg_gap") is not None]
    if not usable:
        return False
    panels = [("avg_gap", "Avg.Gap (SVC MIA-efficacy), points"), ("avg_gap_auc", "Avg.Gap (loss AUC), points"), ("max_gap", "max |Δ| of FA, RA, TA, MIA, points")]
    has_pool = any(p.get("epsilon_score") is not None for p in points)
    if has_pool:
        panels.append(("epsilon_score", "ε-score (higher is better)"))
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in usable:
        groups[p.get("base_method") or p["method"]].append(p)
    markers = "osD^v<>phXP"
    colors = plt.get_cmap("tab20").colors
    for ax, (key, label) in zip(axes[0], panels):
        for i, (base, rows) in enumerate(sorted(groups.items())):
            rows = sorted((r for r in rows if r.get(key) is not None), key=lambda r: r["relative_passes"])
            if not rows:
                continue
            x = np.array([r["relative_passes"] for r in rows])
            y = np.array([r[key] for r in rows])
            xerr = np.array([r.get("relative_passes_std") or 0.0 for r in rows])
            yerr = np.array([r.get(f"{key}_std") or 0.0 for r in rows])
            free = rows[0].get("training_free")
            ref = base == "retrain"
            marker = "*" if free else ("s" if ref else markers[i % len(markers)])
            name = base + (" (training-free, measured cost)" if free else " (oracles, reference)" if ref else "")
            style = "" if ref or free else ("-" if base.upper().startswith("DEL") else "--")  # DEL family solid, baselines dashed
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=marker + style, capsize=3, markersize=7 if free or ref else 5, color="black" if ref else colors[i % len(colors)], label=name)
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
        ax.set_xlabel("measured cost: example passes × one oracle retraining (log)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_title("Cost/quality frontier (mean ± std over seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(4, max(1, len(labels))), bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) - 1) // 4), 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
