"""The `original` row of a study summary counts the original once per forget set, not once per model: a class
study's cells share one original, but its target-class scores differ with the class forgotten."""

from __future__ import annotations

import json
from pathlib import Path

from expunge.experiments.study_summary import _records_run, _unique


def _cell(root: Path, name: str, target_acc: float, oracle_hashes: list[str]) -> list[dict]:
    folder = root / name
    folder.mkdir()
    run = {
        "original": {"metrics": {"target_acc_test": target_acc}, "info": {"spec_hash": "same-original"}},
        "oracles": [{"metrics": {"target_acc_test": 0.0}, "info": {"spec_hash": h}} for h in oracle_hashes],
    }
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "results.json").write_text(json.dumps({"records": [{"method": "finetune", "status": "ok", "seed": 0, "target_acc_test": 1.0}]}))
    return _records_run(folder, folder / "results.json")


def test_original_row_kept_per_forget_set_and_deduplicated_within_one(tmp_path: Path) -> None:
    class3 = _cell(tmp_path, "class3", 80.0, ["o3a", "o3b"])
    class5 = _cell(tmp_path, "class5", 60.0, ["o5a", "o5b"])
    class5_other_lr = _cell(tmp_path, "class5-lr", 60.0, ["o5a", "o5b"])  # same forget set, only the method differs
    originals = [r for r in _unique(class3 + class5 + class5_other_lr) if r["method"] == "original"]
    assert sorted(r["target_acc_test"] for r in originals) == [60.0, 80.0]
