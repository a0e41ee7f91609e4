"""benchmarks/frontier_tables.py: merging the low- and high-budget runs of a split, fronts over the whole range, table cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def tables():
    with benchmark_script("frontier_tables") as module:
        yield module


def point(method: str, budget: float, cost: float, gap: float, note: str = "") -> dict:
    return {
        "method": f"{method}@{budget:g}" if method != "retrain" else method,
        "base_method": method,
        "budget": budget,
        "relative_passes": cost,
        "avg_gap": gap,
        "avg_gap_std": 0.1,
        "avg_gap_auc": gap / 2,
        "avg_gap_auc_std": 0.05,
        "note": note,
        "pareto": {},
    }


def write(folder: Path, stem: str, split: str, points: list[dict]) -> None:
    floor = {"avg_gap": {"mean": 0.5, "std": 0.1}, "avg_gap_auc": {"mean": 0.3, "std": 0.1}}
    (folder / f"{stem}.json").write_text(json.dumps({"modes": {split: {"points": points, "noise_floor": floor, "pools": {}}}}))


def test_merge_recomputes_fronts_over_every_budget(tables, tmp_path: Path) -> None:
    low = [point("a", 0.1, 0.1, 5.0), point("b", 0.1, 0.2, 6.0, "over budget: the one-epoch minimum costs 0.2 × retrain"), point("retrain", 1.0, 1.0, 0.5)]
    high = [point("a", 1.0, 1.0, 0.4), point("b", 1.0, 1.0, 3.0), point("retrain", 1.0, 1.0, 0.5)]
    write(tmp_path, "frontier_fmnist_iid", "iid", low)
    write(tmp_path, "frontier_fmnist_high_iid", "iid", high)
    data = tables.load_split("iid", tmp_path)
    assert data is not None
    names = sorted(p["method"] for p in data["points"])
    assert names == ["a@0.1", "a@1", "b@0.1", "b@1", "retrain"]  # retrain once, both runs' points
    front = {p["method"] for p in data["points"] if p["pareto"]["avg_gap"]}
    assert front == {"a@0.1", "a@1"}  # b@0.1 is dominated by the cheaper a@0.1; a@1 beats retrain's 0.5 at equal cost
    table = tables.gap_table({"iid": data}, [0.1, 1.0])
    assert "| a | 5.00 ± 0.10★ | 0.40 ± 0.10★ |" in table
    assert "| b | 6.00 ± 0.10† | 3.00 ± 0.10 |" in table
    assert table.splitlines()[-1] == "| retrain (oracle noise floor, at 1.0) | 0.50 ± 0.10 | 0.50 ± 0.10 |"


def test_missing_split_and_missing_cells(tables, tmp_path: Path) -> None:
    assert tables.load_split("iid", tmp_path) is None
    write(tmp_path, "frontier_fmnist_iid", "iid", [point("a", 0.1, 0.1, 5.0), point("retrain", 1.0, 1.0, 0.5)])
    data = tables.load_split("iid", tmp_path)
    assert "| a | 5.00 ± 0.10★ | – |" in tables.gap_table({"iid": data}, [0.1, 0.5])
    assert tables.pool_table(data) == "(no pool ran on this split)"
