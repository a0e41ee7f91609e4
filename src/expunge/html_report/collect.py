"""Gather what a page can show from run, frontier, pool and study folders (read only, nothing recomputed).

A *run* is a folder with results.json (and run.json beside it); ``expunge frontier`` writes
frontier.json into its run folder; ``expunge pool`` writes pool.json; a study writes study.json
at its root and its cells below. Any folder that holds such files below it is accepted.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

SAMPLES_INDEX = Path("samples") / "index.json"


@dataclass
class Run:
    """One experiment's stored outputs, as found on disk."""

    label: str
    path: Path
    records: list[dict[str, Any]]
    info: dict[str, Any] | None = None
    frontier: dict[str, Any] | None = None
    samples: list[dict[str, str]] = field(default_factory=list)  # caption, png (base64)

    @property
    def config(self) -> dict[str, Any]:
        return (self.info or {}).get("config") or (self.frontier or {}).get("config") or next((r.get("config") for r in self.records if r.get("config")), {}) or {}

    @property
    def data_key(self) -> str:
        """Runs with the same key ran on the same data (dataset, split, size), so they can be compared."""
        cfg = self.config
        return json.dumps([cfg.get("dataset"), cfg.get("split"), (self.info or {}).get("split_sizes")], sort_keys=True, default=str)


@dataclass
class Pool:
    label: str
    path: Path
    data: dict[str, Any]


@dataclass
class Collection:
    runs: list[Run] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    studies: list[dict[str, Any]] = field(default_factory=list)


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities (which Python's json writes) become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def _read(path: Path) -> Any:
    try:
        return clean(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}; re-run the experiment to regenerate it.") from exc


def _samples(folder: Path) -> list[dict[str, str]]:
    """GAN sample grids (before / after / oracle) listed in samples/index.json, inlined as base64 PNG."""
    index = folder / SAMPLES_INDEX
    if not index.exists():
        return []
    out = []
    for entry in _read(index):
        png = folder / entry["path"]
        if png.exists():
            out.append({"caption": entry.get("caption", png.stem), "png": base64.b64encode(png.read_bytes()).decode("ascii")})
    return out


def _label(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root).as_posix()
    return root.name if rel == "." else f"{root.name}/{rel}"


def _current_verdicts(records: Any, info: Any) -> tuple[Any, Any]:
    """Class verdicts judged again by the current rule from the stored numbers (as study summaries do), so a page never shows a stale rule's verdict."""
    if not isinstance(records, list) or not isinstance(info, dict) or not any(isinstance(r, dict) and r.get("verdict") is not None for r in records):
        return records, info
    original = (info.get("original") or {}).get("metrics")
    oracles = [o.get("metrics", {}) for o in info.get("oracles", []) if isinstance(o, dict)]
    if not original or not oracles:
        return records, info
    from ..evaluate.class_summary import rejudge_cell

    judged, block = rejudge_cell(records, original, oracles, info.get("verdict_calibration"))
    return judged, ({**info, "verdict_calibration": block} if block is not None else info)


def collect(sources: list[str | Path]) -> Collection:
    """Every run, frontier, pool and study below the given folders; a folder with none of them is an error."""
    found = Collection()
    seen: set[Path] = set()
    for source in sources:
        root = Path(source).resolve()
        if not root.is_dir():
            raise DataError(f"{source} is not a folder; pass run or study folders (the `out` of expunge run / frontier / pool / study).")
        before = (len(found.runs), len(found.pools), len(found.studies))
        folders = sorted({p.parent for name in ("results.json", "frontier.json") for p in root.rglob(name)})
        for folder in folders:
            if folder in seen:
                continue
            seen.add(folder)
            results, frontier_path = folder / "results.json", folder / "frontier.json"
            frontier = _read(frontier_path) if frontier_path.exists() else None
            records = _read(results) if results.exists() else list((frontier or {}).get("records", []))
            info = _read(folder / "run.json") if (folder / "run.json").exists() else None
            records, info = _current_verdicts(records, info)
            found.runs.append(Run(_label(folder, root), folder, records, info, frontier, _samples(folder)))
        for path in sorted(root.rglob("pool.json")):
            if path.parent not in seen:
                seen.add(path.parent)
                found.pools.append(Pool(_label(path.parent, root), path.parent, _read(path)))
        for path in sorted(root.rglob("study.json")):
            summary = path.parent / "summary.json"
            found.studies.append({"label": _label(path.parent, root), **_read(path), "summary": _read(summary) if summary.exists() else None})
        if (len(found.runs), len(found.pools), len(found.studies)) == before:
            raise DataError(f"no results.json, frontier.json, pool.json or study.json below {source}; run `expunge run`, `frontier`, `pool` or a study with out={source}/NAME first.")
    return found
