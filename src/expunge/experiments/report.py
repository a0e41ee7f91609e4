"""Markdown report and plots for one experiment's records."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..evaluate.gaps import deltas
from ..evaluate.stats import RATIO_SOURCES, pooled_cost_ratio
from ..evaluate.verdicts import ClassRule, calibration_lines, noise_floor_flags, verdict_name
from ..family import FAMILIES
from ..utils import atomic_write_text
from .plots import plot_mask_composition, plot_recovery, plot_tradeoff
from .pool import pool_report_section

TABLE_COLUMNS = [
    ("forget_acc", "FA"),
    ("retain_acc", "RA"),
    ("test_acc", "TA"),
    ("mia_efficacy", "MIA-eff"),
    ("mia_auc", "loss AUC"),
    ("delta_forget", "ΔFA"),
    ("delta_retain", "ΔRA"),
    ("delta_test", "ΔTA"),
    ("delta_mia", "ΔMIA"),
    ("delta_mia_auc", "ΔAUC"),
    ("avg_gap", "Avg.Gap"),
    ("avg_gap_auc", "Avg.Gap(AUC)"),
    ("seconds", "s"),
    ("relative_time", "×retrain"),
    ("relative_passes", "passes ×retrain"),
    ("changed_fraction", "changed"),
]
COST_KEYS = ("seconds", "relative_time", "relative_passes", "changed_fraction")
NOT_METRICS = {
    "seed",
    "alpha",
    "mask_fraction",
    "localize_seconds",
    "unlearn_seconds",
    "cpu_seconds",
    "passes",
    "forward_passes",
    "relative_cpu",
    "oracle_train_seconds_median",
    "attempts",
    "target_test_n",
    "other_test_n",
    "relearn_draws",
    "probe_draws",
}


def group_by_method(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["method"]].append(r)
    return groups


def mean_std(values: list[Any]) -> str:
    arr = np.asarray([v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)], dtype=float)
    if arr.size == 0:
        return "–"
    if arr.size == 1:
        return f"{arr[0]:.2f}"
    return f"{arr.mean():.2f}±{arr.std(ddof=1):.2f}"


def ratio_cell(rows: list[dict[str, Any]], key: str) -> str:
    """Σ amount / Σ one oracle's amount over ``rows`` with the median per-run ratio beside it (``stats.pooled_cost_ratio``).

    Rows without the amounts (hand-made records) show only the median of their ratios: never a mean of ratios.
    """
    stats = pooled_cost_ratio(rows, key)
    if stats["n"] == len(rows) and stats["n"] > 0:
        return f"{stats['pooled']:.2f}" if stats["n"] == 1 else f"{stats['pooled']:.2f} (med {stats['median']:.2f})"
    ratios = [float(v) for v in (r.get(key) for r in rows) if isinstance(v, (int, float))]
    return f"med {float(np.median(ratios)):.2f}" if ratios else "–"


def cell(rows: list[dict[str, Any]], key: str) -> str:
    """One table cell over seeds: pooled for cost ratios, mean ± std otherwise."""
    return ratio_cell(rows, key) if key in RATIO_SOURCES else mean_std([r.get(key) for r in rows])


def original_row(run_info: dict[str, Any]) -> dict[str, Any] | None:
    """The original model scored as a method ("do nothing"): its metrics, its Δs to every oracle, no cost."""
    original = (run_info.get("original") or {}).get("metrics")
    oracles = [o["metrics"] for o in run_info.get("oracles", []) if o.get("metrics")]
    if not original or not oracles:
        return None
    cost = {"passes": 0, "seconds": 0.0, "cpu_seconds": 0.0, "relative_passes": 0.0, "relative_time": 0.0, "relative_cpu": 0.0, "changed_fraction": 0.0}
    return {"method": "original", "seed": 0, "status": "ok", **original, **deltas(original, oracles), **cost, "oracle_cost": run_info.get("oracle_cost")}


EXTRA_COLUMNS = [("clean_test_acc", "clean TA"), ("backdoor_success", "backdoor ASR")]


def table_columns(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The known columns the records have, then any other numeric metric (class, GAN and LM metric sets), cost last."""
    numeric = {k for r in records for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    textual = {k for r in records for k, v in r.items() if isinstance(v, str)}
    have = numeric - textual
    known = [(k, label) for k, label in TABLE_COLUMNS + EXTRA_COLUMNS if k in have]
    named = {k for k, _ in known}
    seen: list[str] = []
    for r in records:
        seen += [k for k in r if k in have and k not in named and k not in NOT_METRICS and k not in seen]
    metric_cols = [c for c in known if c[0] not in COST_KEYS] + [(k, k) for k in seen]
    return metric_cols + [c for c in known if c[0] in COST_KEYS]


def summary_table(records: list[dict[str, Any]], rule: str | None = None) -> str:
    """Mean ± std over seeds (cost ratios pooled), one row per method; failed runs are counted, not averaged.

    With retrain rows and Δ columns, a last column says whether the method's gaps lie within the
    oracles' noise floor (``verdicts.noise_floor_flags``).
    """
    columns = table_columns(records)
    flags = noise_floor_flags(records)
    header = "| method | n | " + " | ".join(label for _, label in columns) + (" | within oracle noise |" if flags else " |")
    lines = [header, "|" + "---|" * (len(columns) + 2 + bool(flags))]
    for method, rows in group_by_method(records).items():
        ok = [r for r in rows if r.get("status", "ok") == "ok"]
        failed = len(rows) - len(ok)
        n = f"{len(ok)}" + (f" ({failed} failed)" if failed else "")
        cells = [cell(ok, key) for key, _ in columns]
        if flags:
            cells.append("–" if method not in flags else ("yes" if flags[method]["within_noise"] else "no"))
        lines.append(f"| {method} | {n} | " + " | ".join(cells) + " |")
    verdict = verdict_line(records, rule=rule)
    if verdict:
        lines += ["", verdict]
    return "\n".join(lines)


def verdict_line(records: list[dict[str, Any]], bold: str = "**", rule: str | None = None) -> str:
    """Class unlearning: how many runs of each method got each verdict, and the rule behind them."""
    counts: dict[str, dict[str, int]] = {}
    for m, rows in group_by_method(records).items():
        names = [verdict_name(r["verdict"]) for r in rows if r.get("verdict") is not None]
        if names:
            counts[m] = {v: names.count(v) for v in dict.fromkeys(names)}
    if not counts:
        return ""
    rule = rule or ClassRule().sentence()
    per_method = "; ".join(f"{bold}{m}{bold}: " + ", ".join(f"{v} {n}/{sum(c.values())}" for v, n in c.items()) for m, c in counts.items())
    return f"Verdict per method (runs): {per_method}. Rule: {rule}."


CLASS_CONSOLE = [
    ("target_acc_train", "target(train)"),
    ("target_acc_test", "target(test)"),
    ("other_acc_test", "other(test)"),
    ("mia_fr", "Fr"),
    ("mia_fs", "Fs"),
    ("probe_penultimate", "probe"),
    ("probe_penultimate_oracle", "probe(oracle)"),
    ("relearn_k5_head", "relearn5 head"),
    ("relearn_k5_head_oracle", "head(oracle)"),
    ("relearn_k5_full", "relearn5"),
    ("relearn_k5_full_oracle", "relearn5(oracle)"),
    ("seconds", "sec"),
    ("relative_time", "xRetrain(s)"),
    ("relative_passes", "xRetrain(pass)"),
]


def oracle_std_line(spread: dict[str, float]) -> str:
    labels = {"forget_acc": "FA", "retain_acc": "RA", "test_acc": "TA", "mia_efficacy": "MIA-eff", "mia_auc": "loss AUC"}
    parts = [f"{label} {spread[f'{key}_std']:.2f}" for key, label in labels.items() if f"{key}_std" in spread]
    return ("Oracle std: " + ", ".join(parts) + ".") if parts else ""


def console_table(records: list[dict[str, Any]], run_info: dict[str, Any] | None = None) -> str:
    """Mean ± std per method: the metrics (no per-metric Δ columns), then cost as wall time and as example passes.

    With ``run_info`` (run.json) the untouched original heads the table as ``original`` (do nothing), as in report.md.
    """
    baseline = original_row(run_info) if run_info else None
    if baseline and not any(r.get("method") == "original" for r in records):
        records = [baseline, *records]
    short = {"mia_efficacy": "MIA", "mia_auc": "AUC", "avg_gap": "AvgGap", "avg_gap_auc": "Gap(AUC)", "seconds": "sec", "relative_time": "xRetrain(s)", "relative_passes": "xRetrain(pass)"}
    columns = [(k, short.get(k, label)) for k, label in table_columns(records) if not k.startswith("delta_")]
    have = {k for k, _ in columns}
    if "target_acc_test" in have:  # class unlearning: the columns the output layer cannot fake, not all 50
        columns = [(k, label) for k, label in CLASS_CONSOLE if k in have]
    keys = [k for k, _ in columns]
    rows_ok = {m: [r for r in rows if r.get("status", "ok") == "ok"] for m, rows in group_by_method(records).items()}
    cells = {m: [cell(ok, k) for k in keys] for m, ok in rows_ok.items() if ok}
    widths = [max([len(label) + 2] + [len(c[i]) + 2 for c in cells.values()]) for i, (_, label) in enumerate(columns)]
    name_width = max([22] + [len(m) + 2 for m in rows_ok])
    lines = [f"{'method':{name_width}s}" + "".join(f"{lab:>{w}s}" for (_, lab), w in zip(columns, widths))]
    for method, rows in group_by_method(records).items():
        ok = [r for r in rows if r.get("status", "ok") == "ok"]
        if not ok:
            lines.append(f"{method:{name_width}s}  all {len(rows)} runs failed: {rows[0].get('error', '')[:80]}")
            continue
        lines.append(f"{method:{name_width}s}" + "".join(f"{c:>{w}s}" for c, w in zip(cells[method], widths)))
    verdict = verdict_line(records, bold="")
    if verdict:
        lines += ["", verdict]
    return "\n".join(lines)


def mask_table(records: list[dict[str, Any]]) -> str:
    """Per-tensor selected fraction of each masked method (first seed)."""
    masked = {}
    for method, rows in group_by_method(records).items():
        first = next((r for r in rows if r.get("mask_layers")), None)
        if first:
            masked[method] = first["mask_layers"]
    if not masked:
        return ""
    names = list(next(iter(masked.values())))
    lines = ["| parameter | " + " | ".join(masked) + " |", "|---|" + "---|" * len(masked)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{layers.get(n, 0):.1%}" for layers in masked.values()) + " |")
    return "\n".join(lines)


def recovery_table(records: list[dict[str, Any]]) -> str:
    rows = [r for r in records if r.get("recovery")]
    if not rows:
        return ""
    lines = []
    for method, group in group_by_method(rows).items():
        epochs = len(group[0]["recovery"])
        lines.append(f"**{method}** (mean over {len(group)} seeds)\n")
        lines.append("| epoch | ΔFA | ΔRA | ΔTA | ΔMIA | ΔAUC | Avg.Gap |")
        lines.append("|---|---|---|---|---|---|---|")
        for e in range(epochs):
            pts = [g["recovery"][e] for g in group if len(g["recovery"]) > e]
            cells = [f"{np.mean([p[k] for p in pts]):+.2f}" for k in ("delta_forget", "delta_retain", "delta_test", "delta_mia", "delta_mia_auc")]
            lines.append(f"| {pts[0]['epoch']} | " + " | ".join(cells) + f" | {np.mean([p['avg_gap'] for p in pts]):.2f} |")
        lines.append("")
    return "\n".join(lines)


def write_report(records: list[dict[str, Any]], run_info: dict[str, Any], out: Path) -> str:
    config = run_info["config"]
    spread = run_info["oracle_spread"]
    calibration = run_info.get("verdict_calibration")
    baseline = original_row(run_info)
    table_records = ([baseline] if baseline and not any(r.get("method") == "original" for r in records) else []) + records
    env = run_info["environment"]
    parts = [
        f"# expunge report: {config['name']}",
        "",
        f"Dataset `{config['dataset']['name']}`, model `{config['model']['name']}` ({run_info['num_parameters']:,} parameters), "
        f"forget set: {run_info['split_description']}; sizes {run_info['split_sizes']}.",
        f"Device {env.get('device')}, torch {env['torch']}, expunge {env['expunge']}. Total wall time {run_info['total_seconds']:.0f} s; "
        f"median oracle training {run_info['oracle_train_seconds_median']:.1f} s.",
        "",
        "## Results (mean ± std over unlearning seeds; Δ = mean over oracles − method, in points)",
        "",
        summary_table(table_records, calibration["rule"] if calibration else None),
        "",
        "`original` is the untouched model scored as a method (do nothing). `retrain` rows score each oracle against the other oracles "
        "(leave-one-out, in every column): their Δs are the noise floor, and 'within oracle noise' says whether every mean |Δ| of a "
        "method (FA, RA, TA, MIA-eff) is at most the largest retrain-row |Δ|. Cost ratios are pooled over seeds (Σ passes / Σ one "
        "oracle's passes) with the median per-run ratio beside them. " + oracle_std_line(spread),
        "MIA-eff: SalUn's SVC attack on the true-class confidence (percent of forget examples called non-members). "
        "loss AUC: loss-threshold attack, forget vs test (50 = no signal). Avg.Gap: mean |Δ| of FA, RA, TA, MIA-eff (SalUn); "
        "Avg.Gap(AUC) uses the loss AUC instead of MIA-eff. Cost: wall seconds, and example passes (forward + backward of "
        "one example = 1) as a multiple of one oracle's training, which a busy machine cannot distort.",
        "",
        "Original model: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in run_info["original"]["metrics"].items() if not isinstance(v, (dict, list))),
        "",
    ]
    if calibration:
        parts += ["## Class verdict calibration", "", *calibration_lines(calibration), ""]
    masks = mask_table(records)
    if masks:
        parts += ["## Mask composition (fraction of each parameter tensor selected, first seed)", "", masks, ""]
    recovery = recovery_table(records)
    if recovery:
        parts += ["## Recovery curve (Δ after each finetuning epoch; epoch 0 = right after the reset)", "", recovery]
        if plot_recovery(records, out / "recovery.png"):
            parts += ["![recovery](recovery.png)", ""]
    figures = [("tradeoff.png", plot_tradeoff, "Forgetting vs test accuracy"), ("masks.png", plot_mask_composition, "Mask composition")]
    shown = [f"![{title}]({name})" for name, plot, title in figures if plot(records, out / name)]
    if shown:
        parts += ["## Plots", "", *shown, ""]
    parts += FAMILIES.get(config.get("family", "classifier"))().report_section(out)  # e.g. a GAN's sample grids
    failed = [r for r in records if r.get("status") == "failed"]
    if failed:
        parts += ["## Failed runs", ""] + [f"- {r['method']} seed {r['seed']}: {r['error']}" for r in failed] + [""]
    parts += ["## Config", "", "```json", json.dumps(config, indent=2), "```", ""]
    return "\n".join(parts)


def report_folder(folder: str | Path) -> Path:
    """``expunge report RUNS_DIR``: one report over every results.json below ``folder``.

    Each experiment (a folder with results.json and run.json) gets its own section and
    plots; ε-score pools (pool.json, written by ``expunge pool``) get their score tables
    and per-example histograms.
    """
    folder = Path(folder)
    result_files = sorted(folder.rglob("results.json"))
    pool_files = sorted(folder.rglob("pool.json"))
    if not result_files and not pool_files:
        raise DataError(f"no results.json or pool.json below {folder}; run `expunge run` or `expunge pool` with out={folder}/NAME first.")
    parts = [f"# expunge report: {folder}", ""]
    for path in result_files:
        run_path = path.parent / "run.json"
        try:
            records = json.loads(path.read_text())
            run_info = json.loads(run_path.read_text()) if run_path.exists() else None
        except json.JSONDecodeError as exc:
            parts += [f"## {path.parent.name}", "", f"**unreadable results ({exc}); re-run the experiment to regenerate them.**", ""]
            continue
        if not isinstance(records, list) or not all(isinstance(r, dict) and "method" in r for r in records) or not isinstance(run_info, (dict, type(None))):
            raise DataError(f"{path} is not an expunge results.json (a list of records, each with a method); regenerate it with `expunge run`, or move it out of {folder}.")
        if run_info is None:
            parts += [f"## {path.parent.name}", "", summary_table(records), ""]
            continue
        section = write_report(records, run_info, path.parent)
        atomic_write_text(path.parent / "report.md", section)
        rel = path.parent.relative_to(folder)
        section = section.replace("](", f"]({rel.as_posix()}/") if str(rel) != "." else section
        parts += ["#" + line if line.startswith("#") else line for line in section.splitlines()] + [""]
    for path in pool_files:
        rel = path.parent.relative_to(folder)
        parts += pool_report_section(json.loads(path.read_text()), path.parent, rel.as_posix())
    out = folder / "report.md"
    atomic_write_text(out, "\n".join(parts) + "\n")
    return out
