"""The class-leaderboard docs report (evaluate.class_summary / published_tables) on a synthetic study group and folder."""

from __future__ import annotations

import json
from pathlib import Path

from expunge.evaluate.class_summary import VERDICT_ORDER, leaderboard_reading, verdict_table
from expunge.evaluate.verdicts import VERDICTS
from expunge.experiments.published_tables import distinct_oracles, distinct_runs


def _group(cheap_removed: int, cheap_cost: float = 0.06) -> dict:
    board = [
        {"method": "retrain", "classes": 10, "removed": 10, "relative_passes_pooled": 1.0, "goal_met": False},
        {"method": "cheap", "classes": 10, "removed": cheap_removed, "relative_passes_pooled": cheap_cost, "goal_met": cheap_removed >= 8 and cheap_cost <= 0.1},
        {"method": "random_labels", "classes": 10, "removed": 5, "relative_passes_pooled": 0.111, "goal_met": False},
        {"method": "SalUn", "classes": 10, "removed": 6, "relative_passes_pooled": 0.111, "goal_met": False},
    ]
    verdicts = {"retrain": {"removed": 29, "output-only": 1}, "cheap": {"removed": 20, "not removed": 10}, "random_labels": {"removed": 19, "output-only": 11}, "SalUn": {"removed": 22}}
    rows = {"retrain": {"other_acc_test": {"mean": 83.94}}, "cheap": {"other_acc_test": {"mean": 80.0}}, "SalUn": {"other_acc_test": "n/a"}}
    return {"rows": rows, "class_verdicts": {"leaderboard": board, "verdicts": verdicts}}


def test_the_table_orders_verdicts_as_declared_and_names_roles():
    assert set(VERDICT_ORDER) == set(VERDICTS)
    lines = verdict_table(_group(7), ["random_labels"])
    assert lines[0].startswith("| row | role | runs | removed | output-only | not removed | broke the model |")
    assert "| retrain | oracle (against the others) | 30 | 29 | 1 | 0 | 0 | 10 / 10 | 1 | 83.9 |" in lines
    assert "| cheap | method | 30 | 20 | 0 | 10 | 0 | 7 / 10 | 0.06 | 80.0 |" in lines
    assert "| random_labels | trivial baseline | 30 | 19 | 11 | 0 | 0 | 5 / 10 | 0.111 | – |" in lines


def test_the_reading_states_the_goal_missed_with_the_closest_row_and_the_baselines():
    lines, data = leaderboard_reading(_group(7), ["random_labels"])
    assert lines[0].startswith("**Goal (a row at ≤ 0.1 × a retrain's passes judged `removed` in at least 8 of 10 classes): missed.** Closest within the cost: `cheap`")
    assert "(runs: 20 removed, 10 not removed; other-class accuracy 80.0% against the oracles' 83.9%)" in lines[0]
    assert any(line.startswith("- Trivial baseline `random_labels`: `removed` in 5 of 10 classes") and "SalUn without its saliency mask" in line for line in lines)
    assert "- SalUn's saliency mask against no mask at the same cost: `SalUn` removes 1 class more than `random_labels` (6 vs 5)." in lines
    assert data == {"goal_met_by": [], "closest": "cheap", "max_cost": 0.1, "min_classes": 8}


def test_the_reading_names_who_meets_the_goal_and_a_row_over_the_cost_is_never_closest():
    lines, data = leaderboard_reading(_group(9), [])
    assert lines[0].startswith("**Goal (") and "): met** by `cheap`." in lines[0] and data["goal_met_by"] == ["cheap"] and data["closest"] is None
    lines, data = leaderboard_reading(_group(9, cheap_cost=0.5), [])
    assert data["closest"] is None and lines[0].endswith("no row within the cost.")  # SalUn and random_labels cost 0.111 > 0.1


def test_distinct_models_behind_repeated_rows(tmp_path: Path):
    for cell, hashes, rows in [("a", ["h1", "h2"], [(0, 50.0), (0, 50.0)]), ("b", ["h2", "h3"], [(1, 50.0)])]:  # "missing" has no files
        (tmp_path / "cells" / cell).mkdir(parents=True)
        (tmp_path / "cells" / cell / "run.json").write_text(json.dumps({"oracles": [{"info": {"spec_hash": h}} for h in hashes]}))
        records = [{"method": "retrain_budget", "class": c, "other_acc_test": v} for c, v in rows] + [{"method": "retrain_budget", "class": 9, "status": "failed"}]
        (tmp_path / "cells" / cell / "results.json").write_text(json.dumps(records))
    assert distinct_oracles(tmp_path, ["a", "b", "missing"]) == {"rows": 4, "distinct": 3}
    assert distinct_runs(tmp_path, ["a", "b", "missing"], "retrain_budget", ["other_acc_test"]) == {"runs": 3, "distinct": 2}
