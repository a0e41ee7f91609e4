"""Markdown tables and whole-range plots for docs/benchmarks.md from the frontier benchmark's JSONs.

The full-scale frontier ran in two run folders per split: budgets ≤ 0.25 (``frontier_fmnist_<split>.json``)
and 0.5 / 1.0 (``frontier_fmnist_high_<split>.json``). This script merges the two per split, recomputes
the Pareto fronts over every budget together (a costlier point can never dominate a cheaper one, so
the stars at ≤ 0.25 do not change), draws one plot over the whole range per split
(``frontier_fmnist_all_<split>.png``) and prints the tables the docs carry, so that every number there
can be regenerated:

    python benchmarks/frontier_tables.py > /tmp/tables.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from expunge.experiments.frontier import mark_fronts
from expunge.experiments.plots import plot_frontier

RESULTS = Path("benchmarks/results")
DEVELOPMENT = ["iid", "non_iid_2_5"]
HELDOUT = ["heldout_non_iid_4_6", "heldout_non_iid_1_8"]
QUALITIES = [("avg_gap", "Avg.Gap", False), ("avg_gap_auc", "Avg.Gap (AUC)", False)]
POOL_QUALITIES = [("epsilon_score", "ε-score", True)]


def load_split(split: str, results: Path = RESULTS) -> dict[str, Any] | None:
    """The split's points from the low- and high-budget runs, merged, with fronts over every budget."""
    entries = []
    for stem in (f"frontier_fmnist_{split}", f"frontier_fmnist_high_{split}"):
        path = results / f"{stem}.json"
        if path.exists():
            entries.append(json.loads(path.read_text())["modes"][split])
    if not entries:
        return None
    points: dict[tuple[str, Any], dict[str, Any]] = {}
    for entry in entries:
        for p in entry["points"]:
            points.setdefault((p["method"], p["budget"]), dict(p))
    merged = list(points.values())
    mark_fronts(merged, QUALITIES)
    pools = {b: pool for entry in entries for b, pool in entry.get("pools", {}).items() if pool}
    if pools:
        mark_fronts(merged, POOL_QUALITIES)
    return {"points": merged, "noise_floor": entries[0]["noise_floor"], "pools": pools}


def _cell(point: dict[str, Any] | None, key: str) -> str:
    if point is None or point.get(key) is None:
        return "–"
    text = f"{point[key]:.2f} ± {point.get(f'{key}_std') or 0:.2f}"
    if point.get("pareto", {}).get(key):
        text += "★"
    if "over budget" in (point.get("note") or ""):
        text += "†"  # the one-epoch minimum costs more than 1.25 × the budget (the frontier's own flag)
    return text


def gap_table(splits: dict[str, dict[str, Any]], budgets: list[float], key: str = "avg_gap") -> str:
    """Rows = methods (in benchmark order), columns = split × budget; retrain row = the oracle noise floor."""
    methods: list[str] = []
    for data in splits.values():
        for p in data["points"]:
            if p["base_method"] != "retrain" and p["base_method"] not in methods:
                methods.append(p["base_method"])
    header = ["method"] + [f"{s} @{b:g}" for s in splits for b in budgets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for m in methods:
        cells = []
        for data in splits.values():
            by_budget = {p["budget"]: p for p in data["points"] if p["base_method"] == m}
            cells += [_cell(by_budget.get(b), key) for b in budgets]
        if any(c != "–" for c in cells):
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    floors = []
    for data in splits.values():
        floor = data["noise_floor"][key]
        floors += [f"{floor['mean']:.2f} ± {floor['std']:.2f}"] * len(budgets)
    lines.append("| retrain (oracle noise floor, at 1.0) | " + " | ".join(floors) + " |")
    return "\n".join(lines)


def pool_table(data: dict[str, Any]) -> str:
    """One row per pooled point, sorted by budget, with the do-nothing original and the ceiling."""
    pools = data["pools"]
    if not pools:
        return "(no pool ran on this split)"
    first = next(iter(pools.values()))
    lines = ["| side | cost × retrain | ε-score | LiRA AUC |", "|---|---|---|---|"]
    lines.append(f"| original (no unlearning) | 0 | {first['original']['epsilon_score']:.3f} | {first['original']['lira_auc']:.1f} |")
    pooled = sorted((p for p in data["points"] if p.get("epsilon_score") is not None), key=lambda p: (p["budget"], p["method"]))
    for p in pooled:
        star = "★" if p.get("pareto", {}).get("epsilon_score") else ""
        lines.append(f"| {p['method']} | {p['relative_passes']:.3f} | {p['epsilon_score']:.3f}{star} | {p['lira_auc']:.1f} |")
    lines.append(f"| oracle-vs-oracle ceiling | 1 | {first['ceiling']['epsilon_score']:.3f} | {first['ceiling']['lira_auc']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    results = Path(args.results)
    loaded = {s: d for s in DEVELOPMENT + HELDOUT if (d := load_split(s, results)) is not None}
    if not loaded:
        print(
            f"no frontier_fmnist_*.json under {results}; run `expunge study run frontier scale=published` first (the stored JSONs came from the retired benchmarks/frontier_fmnist.py).",
            file=sys.stderr,
        )
        return 1
    low, high = [0.05, 0.1, 0.25], [0.5, 1.0]
    dev = {s: loaded[s] for s in DEVELOPMENT if s in loaded}
    held = {s: loaded[s] for s in HELDOUT if s in loaded}
    sections = [
        ("Avg.Gap (SVC MIA-efficacy), development splits", gap_table(dev, low)),
        ("Avg.Gap (loss-AUC), development splits", gap_table(dev, low, "avg_gap_auc")),
        ("Avg.Gap, held-out pairs", gap_table(held, low)),
        ("Avg.Gap at budgets 0.5 and 1.0, development splits", gap_table(dev, high)),
        ("Avg.Gap at budgets 0.5 and 1.0, held-out pairs", gap_table(held, high)),
    ]
    sections += [(f"ε-score pool, {s}", pool_table(d)) for s, d in loaded.items() if d["pools"]]
    for title, table in sections:
        print(f"<!-- {title} -->\n{table}\n")
    if not args.no_plots:
        for split, data in loaded.items():
            path = results / f"frontier_fmnist_all_{split}.png"
            if plot_frontier(data["points"], data["noise_floor"], path, pools=data["pools"]):
                print(f"<!-- plot: {path} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
