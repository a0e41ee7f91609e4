"""The study summary: per group of cells, each method's mean ± std beside the baselines and the oracle noise floor, and the targets.

Cells are grouped by the axes the study does not aggregate; inside a group every ok record of
every cell is pooled (unlearning seeds, and the cells of aggregated axes). Rows: ``original``
(doing nothing: the original scored like a method, its Δs to the oracles), the trivial
baselines the study names, the methods, and ``retrain`` (each oracle against the others, the
noise floor). Target rules (``expunge.evaluate.targets``) are applied to each group's rows.

With a tune stage (``study_tune``) the cells searched on (``tuned_on``) and the held-out cells are
grouped apart and never pooled, tuned-here groups first; every row states its tuning trials.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..evaluate.class_summary import calibration_markdown, class_leaderboard, leaderboard_markdown, rejudge_cell, verdict_counts
from ..evaluate.gaps import deltas
from ..evaluate.stats import RATIO_SOURCES, pooled_cost_ratio
from ..evaluate.targets import check_target, versus_interval
from ..evaluate.verdicts import pool_calibrations
from ..utils import atomic_write_json, atomic_write_text
from .study_plan import OUTPUTS, parse_study
from .study_tune import HELD_OUT, TUNED_HERE

EXAMPLE_COLUMNS = ("avg_gap", "max_gap", "delta_forget", "delta_retain", "delta_test", "delta_mia", "avg_gap_auc", "relative_passes", "relative_time")
POOL_COLUMNS = ("epsilon_score", "forgetting_quality", "utility_ratio", "lira_auc", "js_forget")
BOOKKEEPING = {"seed", "alpha", "seconds", "cpu_seconds", "passes", "forward_passes", "localize_seconds", "unlearn_seconds", "attempts", "oracle_train_seconds_median", "mask_fraction"}
ORACLE_ROWS = ("retrain", "oracle-vs-oracle ceiling")


def _records_run(folder: Path, output: Path) -> list[dict[str, Any]]:
    data = json.loads(output.read_text())
    records = data["records"] if isinstance(data, dict) else data
    records = [dict(r) for r in records]
    run = folder / "run.json"
    if run.exists():
        info = json.loads(run.read_text())
        oracles = [o["metrics"] for o in info.get("oracles", [])]
        original = info.get("original", {}).get("metrics")
        if original and oracles and any(r.get("verdict") is not None for r in records):
            records = class_records(records, original, oracles, info)
        if original and oracles:
            records.append({"method": "original", "status": "ok", **original, **deltas(original, oracles)})
        pool = info.get("original", {}).get("info", {}).get("spec_hash")
        oracle_hashes = [o.get("info", {}).get("spec_hash") for o in info.get("oracles", [])]
        for r in records:
            if r["method"] == "original" or r["method"] in ORACLE_ROWS:
                # counted once per original *and forget set*: cells that differ only in methods repeat these rows, but the
                # original's metrics depend on the forget set (a class study's cells share the original, not its scores);
                # the oracles, retrained without the forget set, identify it
                r["_pool"] = (pool, *oracle_hashes)
    return records


def class_records(records: list[dict[str, Any]], original: dict[str, Any], oracles: list[dict[str, Any]], info: dict[str, Any]) -> list[dict[str, Any]]:
    """A class task's records re-judged by the current verdict rule (``class_summary.rejudge_cell``), tagged with the
    forgotten class, the task's re-judged calibration block on the first row (``_calibration``)."""
    records, block = rejudge_cell(records, original, oracles, info.get("verdict_calibration"))
    classes = (info.get("config") or {}).get("split", {}).get("classes") or []
    for r in records:
        r["class"] = classes[0] if len(classes) == 1 else str(classes)
    if block is not None and records:
        records[0]["_calibration"] = block
    return records


def class_verdicts(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The class-removal leaderboard (classes judged ``removed`` per method, pooled cost) and the pooled calibration of a group."""
    judged = [r for r in records if r.get("verdict") is not None and r.get("class") is not None]
    if not judged:
        return None
    methods = list(dict.fromkeys(r["method"] for r in judged if r["method"] != "original"))
    blocks = [r["_calibration"] for r in records if r.get("_calibration")]
    return {"leaderboard": class_leaderboard(judged, methods), "verdicts": verdict_counts(judged, methods), "calibration": pool_calibrations(blocks) if blocks else None}


def _unique(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeats of the original's and the oracles' rows (same pool, same seed) across cells."""
    seen, out = set(), []
    for r in records:
        key = (r["method"], r.get("_pool"), r.get("seed")) if r.get("_pool") else None
        if key is not None and key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def _records_pool(folder: Path, output: Path) -> list[dict[str, Any]]:
    pool = json.loads(output.read_text())
    out = []
    for name, side in pool.get("sides", {}).items():
        if "error" in side:
            out.append({"method": name, "status": "failed", "error": side["error"]})
            continue
        flat = {k: (v["mean"] if isinstance(v, dict) and "mean" in v else v) for k, v in side.items() if k not in ("label", "per_example_epsilon", "variance_split")}
        out.append({"method": name, "status": "ok", **flat})
    return out


READERS = {"run": _records_run, "frontier": _records_run, "pool": _records_pool}


def _stats(values: Iterable[Any]) -> dict[str, float | int | None]:
    arr = np.asarray([float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))], dtype=float)
    if arr.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else None, "n": int(arr.size)}


def measured_columns(records: Sequence[dict[str, Any]]) -> set[str]:
    """Every record key holding a number (a column a table can show)."""
    return {k for r in records for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def default_columns(kind: str, records: Sequence[dict[str, Any]]) -> list[str]:
    present = measured_columns(records)
    preferred = POOL_COLUMNS if kind == "pool" else EXAMPLE_COLUMNS
    columns = [c for c in preferred if c in present]
    if columns:
        return columns
    oracle = next((r for r in records if r.get("method") in ORACLE_ROWS), records[0] if records else {})
    return [k for k, v in oracle.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in BOOKKEEPING][:8]


def check_columns(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> list[str]:
    """The requested columns, each of which some stored record measured; otherwise a ConfigError naming what exists."""
    present = measured_columns(records)
    missing = [c for c in columns if c not in present]
    if missing:
        raise ConfigError(f"column(s) {', '.join(missing)} are in no stored record of this study; measured columns: {', '.join(sorted(present))}.")
    return list(columns)


def group_rows(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """method -> {column: {mean, std, n}, "runs", "failed", "errors"}; every numeric column is kept for the targets."""
    rows: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == name]
        ok = [r for r in mine if r.get("status", "ok") == "ok"]
        keys = set(columns) | {k for r in ok for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        row: dict[str, Any] = {k: _stats(r.get(k) for r in ok) for k in sorted(keys)}
        for key in RATIO_SOURCES:
            if key in row and row[key]["n"]:
                pooled = pooled_cost_ratio(ok, key)  # Σ cost / Σ oracle cost: a mean of ratios is ruled by small denominators
                if pooled["n"]:
                    row[key] = {"mean": pooled["pooled"], "std": None, "n": pooled["n"], "median": pooled["median"], "pooled": True}
        row["runs"] = {"ok": len(ok), "failed": len(mine) - len(ok)}
        row["errors"] = sorted({str(r.get("error"))[:200] for r in mine if r.get("status") == "failed"})
        rows[name] = row
    return rows


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return "–"
    mean, std = entry["mean"], entry.get("std")
    digits = 3 if abs(mean) < 10 else 1
    if entry.get("pooled"):
        return f"{mean:.{digits}f} (median {entry['median']:.{digits}f})"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def _role(name: str, baselines: Sequence[str]) -> str:
    if name == "original":
        return "do nothing"
    if name in ORACLE_ROWS:
        return "oracle noise floor"
    return "trivial baseline" if name in baselines else "method"


def _order(names: Iterable[str], baselines: Sequence[str]) -> list[str]:
    names = list(names)
    first = [n for n in names if n == "original"] + [n for n in baselines if n in names]
    last = [n for n in names if n in ORACLE_ROWS]
    return first + [n for n in names if n not in first and n not in last] + last


def group_table(rows: dict[str, dict[str, Any]], columns: Sequence[str], baselines: Sequence[str], trials: bool = False) -> list[str]:
    """``trials``: a column with each row's tuning trials (a study with a tune stage: equal effort is visible)."""
    header = ["row", "role", "runs", *(["tuning trials"] if trials else []), *columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in _order(rows, baselines):
        row = rows[name]
        runs = f"{row['runs']['ok']}" + (f" ({row['runs']['failed']} failed)" if row["runs"]["failed"] else "")
        effort = [str(row["tuning_trials"]) if row.get("tuning_trials") is not None else "–"] if trials else []
        lines.append("| " + " | ".join([name, _role(name, baselines), runs, *effort, *(_fmt(row.get(c)) for c in columns)]) + " |")
    return lines


def cell_role(cell: dict[str, Any]) -> str | None:
    """``tuned here`` (a setting searched on), ``held out`` (never searched on) or None (the study tunes nothing)."""
    if not cell.get("tuning"):
        return None
    return TUNED_HERE if cell.get("tuned_on") else HELD_OUT


def _tuned_row(name: str, rows: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The group's tuning entry a row belongs to: the row itself or one of its budgets (``ROW@B``)."""
    return next((entry for row, entry in rows.items() if name == row or name.startswith(f"{row}@")), None)


def group_tuning(cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per tuned row of a group: its trials, the cells it was searched on, and the chosen params per source cell."""
    out: dict[str, Any] = {}
    for cell in cells:
        for link in cell.get("tuning") or []:
            entry = out.setdefault(link["row"], {"method": link["method"], "trials": link["trials"], "role": link["role"], "searched_on": [], "params": {}})
            if link["source"] not in entry["searched_on"]:
                entry["searched_on"].append(link["source"])
            entry["params"][link["source"]] = link.get("params")
    return out


def summarize_study(folder: str | Path, cells: Iterable[str] | None = None, columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Read study.json and every finished cell's output; return the summary (pure: nothing is recomputed).

    ``cells``: summarize only these cell ids (e.g. to report the cells a rule was chosen on apart from the others).
    ``columns``: show these columns instead of the ones the study stored at its start (columns only choose what a
    table shows, so a stored study can be reported with a column added later, e.g. ``relative_passes``).
    """
    folder = Path(folder)
    store = json.loads((folder / "study.json").read_text())
    if cells is not None:
        keep = set(cells)
        store["cells"] = {k: v for k, v in store["cells"].items() if k in keep}
    spec = parse_study({k: v for k, v in store["study"].items() if k not in ("source", "base_source")}, store["study"].get("source", "<stored>"))
    grouping = [a for a in spec.axes if a not in spec.aggregate]
    groups: dict[str, dict[str, Any]] = {}
    failed_cells = []
    for cell_id, cell in store["cells"].items():
        key = ", ".join(f"{a}={cell.get('axes', {}).get(a)}" for a in grouping) or "all"
        role = cell_role(cell)
        key += f" ({role})" if role else ""  # a cell searched on is never pooled with a held-out one
        group = groups.setdefault(key, {"key": {a: cell.get("axes", {}).get(a) for a in grouping}, "cells": [], "records": [], "role": role, "cell_data": []})
        group["cells"].append(cell_id)
        group["cell_data"].append(cell)
        if cell.get("status") != "ok":
            failed_cells.append({"cell": cell_id, "status": cell.get("status"), "error": cell.get("error")})
            continue
        cell_folder = folder / "cells" / cell_id
        group["records"] += READERS[spec.kind](cell_folder, cell_folder / OUTPUTS[spec.kind])
    all_records = [r for g in groups.values() for r in g["records"]]
    columns = check_columns(columns, all_records) if columns else spec.columns or default_columns(spec.kind, all_records)
    summary_groups = []
    tuned = any(g["role"] for g in groups.values())
    order = {TUNED_HERE: 0, HELD_OUT: 1, None: 2}
    for label, group in sorted(groups.items(), key=lambda item: order[item[1]["role"]]):
        unique = _unique(group["records"])
        rows = group_rows(unique, columns)
        targets = [_judged(unique, rows, t) for t in spec.targets] if rows else []
        entry = {"label": label, "key": group["key"], "cells": group["cells"], "rows": rows, "targets": targets}
        if tuned:
            tuning = group_tuning(group["cell_data"])
            for name, row in rows.items():
                match = _tuned_row(name, tuning)
                row["tuning_trials"] = None if name == "original" or name in ORACLE_ROWS else match["trials"] if match else 0
            entry.update(tuned_on=group["role"] == TUNED_HERE, tuning=tuning)
        verdicts = class_verdicts(unique)
        if verdicts is not None:
            entry["class_verdicts"] = verdicts
        summary_groups.append(entry)
    statuses = [c.get("status") for c in store["cells"].values()]
    extra = {}
    if tuned:
        cells_of = {role: [k for k, c in store["cells"].items() if cell_role(c) == role] for role in (TUNED_HERE, HELD_OUT)}
        rows = {
            link["row"]: {"method": link["method"], "trials": link["trials"], "budgets": link.get("budgets"), "within": link.get("within")}
            for c in store["cells"].values()
            for link in c.get("tuning") or []
        }
        extra["tuning"] = {"declared": spec.raw.get("tune"), "rows": rows, "tuned_on_cells": cells_of[TUNED_HERE], "held_out_cells": cells_of[HELD_OUT], "searches": store.get("tune", {})}
        extra["tuning"]["seconds"] = sum(float(v.get("seconds") or 0.0) for v in extra["tuning"]["searches"].values())
    return {
        "study": spec.name,
        "description": spec.description,
        "kind": spec.kind,
        "scale": store["scale"],
        "aggregated_axes": spec.aggregate,
        "columns": columns,
        "baselines": spec.baselines,
        "cells": {"total": len(statuses), "ok": statuses.count("ok"), "failed": statuses.count("failed"), "other": len(statuses) - statuses.count("ok") - statuses.count("failed")},
        "failed_cells": failed_cells,
        "groups": summary_groups,
        "published": spec.published,
        "seconds": sum(s.get("seconds", 0.0) for s in store.get("sessions", [])),
        **extra,
    }


def tables_markdown(summary: dict[str, Any], level: int = 3) -> str:
    """Only the group tables and targets, headings at ``level``: for a docs page to include (pymdownx.snippets)."""
    body = summary_markdown(summary).split("\n## ", 1)
    text = "## " + body[1] if len(body) > 1 else ""
    stamp = f"<!-- generated by `expunge study report` from study {summary['study']} at scale {summary['scale']}; do not edit -->\n"
    return stamp + "\n".join(("#" * (level - 2) + line) if line.startswith("## ") else line for line in text.splitlines()) + "\n"


def summary_markdown(summary: dict[str, Any]) -> str:
    cells = summary["cells"]
    lines = [
        f"# Study {summary['study']} (scale {summary['scale']})",
        "",
        summary["description"],
        "",
        f"{cells['total']} cells: {cells['ok']} ok, {cells['failed']} failed, {cells['other']} not finished. "
        f"Means ± std (ddof 1) over every ok run of a group, cost ratios pooled (Σ cost / Σ oracle cost, median per run beside)"
        + (f" (pooled over the axes {', '.join(summary['aggregated_axes'])})" if summary["aggregated_axes"] else "")
        + "; `original` is doing nothing, `retrain` each oracle against the others (the noise floor).",
        "",
    ]
    if summary.get("tuning"):
        lines += [tuning_note(summary["tuning"]), ""]
    for group in summary["groups"]:
        if not group["rows"]:
            lines += [f"## {group['label']}", "", "No finished cell in this group (see below).", ""]
            continue
        lines += [f"## {group['label']}", "", *group_table(group["rows"], summary["columns"], summary["baselines"], "tuning" in group), ""]
        lines += [tuning_line(row, entry, group["tuned_on"]) for row, entry in group.get("tuning", {}).items()]
        lines += [""] if group.get("tuning") else []
        if group["targets"]:
            lines += ["Targets:", ""]
            held_out = bool((summary.get("tuning") or {}).get("held_out_cells"))
            lines += [_target_line(t) + _tuned_flag(t, group, held_out) for t in group["targets"]]
            lines.append("")
        verdicts = group.get("class_verdicts")
        if verdicts:
            lines += ["Class-removal leaderboard (verdicts re-judged from the stored numbers by the current rule; a class counts when most of its seeds are `removed`):", ""]
            lines += [*leaderboard_markdown(verdicts["leaderboard"]), ""]
            lines += ["Verdicts per run: " + "; ".join(f"{m}: " + ", ".join(f"{v} {n}" for v, n in c.items()) for m, c in verdicts["verdicts"].items()), ""]
            if verdicts["calibration"]:
                lines += [*calibration_markdown(verdicts["calibration"]), ""]
    if summary["failed_cells"]:
        lines += ["## Cells not finished", ""] + [f"- {c['cell']}: {c['status']}" + (f": {c['error']}" if c.get("error") else "") for c in summary["failed_cells"]] + [""]
    return "\n".join(lines)


def _cells(ids: Sequence[str]) -> str:
    return f"{len(ids)} cell{'s' if len(ids) != 1 else ''}"


def tuning_note(tuning: dict[str, Any]) -> str:
    declared = "; ".join(
        f"`{row}`: {t['method']} searched with {t['trials']} trials per setting"
        + (" and budget" if (t.get("budgets") or [None]) != [None] else "")
        + ("; chosen only within " + ", ".join(f"{k} ≤ {v:g}" for k, v in t["within"].items()) if t.get("within") else "")
        for row, t in tuning["rows"].items()
    )
    return (
        f"Tune stage ({declared}, {len(tuning['searches'])} search{'es' if len(tuning['searches']) != 1 else ''}, {tuning.get('seconds', 0.0):.0f} s) on each setting's validation split. Groups marked *tuned here* are the settings searched on "
        f"({_cells(tuning['tuned_on_cells'])}): their tuned rows were chosen on that setting's data, so they flatter it. "
        + (
            f"*Held out* settings ({_cells(tuning['held_out_cells'])}) were never searched on; their tuned rows carry settings found elsewhere. "
            if tuning["held_out_cells"]
            else "No setting of this study is held out, so every tuned row is judged on the data it was chosen on. "
        )
        + "The two are never pooled; `tuning trials` is each row's search effort (0: used as declared)."
    )


def _params(params: dict[str, Any] | None) -> str:
    if not params:
        return "–"
    parts = []
    for budget, chosen in params.items():
        text = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in chosen.items())
        parts.append(text if budget == "-" else f"@{budget}: {text}")
    return "; ".join(parts)


def tuning_line(row: str, entry: dict[str, Any], tuned_on: bool) -> str:
    chosen = " | ".join(_params(p) for p in entry["params"].values())
    if tuned_on:
        return f"- `{row}` tuned here ({entry['trials']} trials per search): {chosen}."
    return f"- `{row}` held out: carries the settings searched on {', '.join(entry['searched_on'])}: {chosen}."


def _tuned_flag(target: dict[str, Any], group: dict[str, Any], held_out: bool = True) -> str:
    """A target judged on a row tuned on this very setting says so, and whether any held-out setting of the study tests it."""
    if group.get("tuned_on") and target.get("row") and _tuned_row(target["row"], group.get("tuning", {})):
        test = "the held-out settings test it" if held_out else "this study has no held-out setting to test it"
        return f" *(a row tuned on this setting; {test})*"
    return ""


def _judged(records: Sequence[dict[str, Any]], rows: dict[str, dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
    """One target on one group, with its bootstrap interval over runs where the rule has one."""
    result = check_target(rows, spec)
    result.interval = versus_interval(records, spec, result)
    return result.to_dict()


def _target_line(t: dict[str, Any]) -> str:
    from ..evaluate.targets import TargetResult

    return TargetResult(**t).line()


def write_summary(folder: str | Path, tables: str | Path | None = None, columns: Sequence[str] | None = None) -> Path:
    """study.md and summary.json beside study.json; ``tables``: also the tables alone, for a docs page to include,
    with the summary they came from beside them (``X.md`` and ``X.json``), so the published numbers keep their source.
    ``columns``: the table columns, instead of the ones stored with the study."""
    folder = Path(folder)
    summary = summarize_study(folder, columns=columns)
    atomic_write_json(folder / "summary.json", summary)
    atomic_write_text(folder / "study.md", summary_markdown(summary))
    if tables:
        tables = Path(tables)
        atomic_write_text(tables, tables_markdown(summary))
        atomic_write_json(tables.with_suffix(".json"), summary)
    return folder / "study.md"
