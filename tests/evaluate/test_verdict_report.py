"""Class runs through the runner: retrain rows leave-one-out in every column, the calibration block and the original row in the report."""

from __future__ import annotations

import json

import pytest

from expunge.experiments import load_config, run_experiment
from expunge.experiments.report import original_row, ratio_cell, summary_table


def test_class_run_records_calibration_and_leave_one_out_retrain_rows(tmp_path) -> None:
    config = {
        "name": "tiny-class-verdict",
        "dataset": {"name": "synthetic", "options": {"num_train": 240, "num_test": 160, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "class", "classes": [1], "train_size": None, "test_size": None, "validation_fraction": 0.0},
        "model": {"name": "mlp"},
        "recipe": {"epochs": 3, "lr": 0.05, "batch_size": 64},
        "oracles": 3,
        "seeds": [0],
        "methods": [{"name": "output_mask"}],
        "evaluation": {"metrics": ["class_accuracy", "class_mia", "feature_probe", {"name": "relearn", "ks": [5], "steps": 5, "variants": ["head"]}, "class_verdict"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }
    records = run_experiment(load_config(config))
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    block = run["verdict_calibration"]
    assert set(block["checks"]) == {"destroyed", "output_mask", "original"} and block["oracles_against_others"]["oracles"] == 3
    retrain = [r for r in records if r["method"] == "retrain"]
    raw = [o["metrics"] for o in run["oracles"]]
    assert "relearn_k5_head_std" in raw[0] and raw[0]["relearn_draws"] == 5  # the verdict read the configured attack, 5 draws
    for k, rec in enumerate(retrain):
        others = [m for j, m in enumerate(raw) if j != k]
        mean = sum(m["relearn_k5_head"] for m in others) / len(others)
        assert rec["relearn_k5_head_oracle"] == pytest.approx(mean)  # the OTHER oracles only
        assert rec["dist_relearn_k5_head"] == pytest.approx(abs(rec["relearn_k5_head"] - mean))
        assert rec["verdict"] in (0.0, 1.0, 2.0, 3.0) and "band_relearn_k5_head" in rec
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Class verdict calibration" in report and "must be broke the model" in report and "Rule: not removed if" in report
    assert "| original |" in report  # the do-nothing row


def test_cost_ratios_are_pooled_with_the_median_beside() -> None:
    rows = [{"passes": 10, "relative_passes": 0.1, "oracle_cost": {"passes": 100}}, {"passes": 90, "relative_passes": 9.0, "oracle_cost": {"passes": 10}}]
    assert ratio_cell(rows, "relative_passes") == "0.91 (med 4.55)"  # Σ 100 / Σ 110, not the mean of ratios 4.55
    assert ratio_cell([{"relative_passes": 0.2}, {"relative_passes": 0.4}], "relative_passes") == "med 0.30"  # no amounts: never a mean


def test_original_row_is_the_untouched_model_with_its_gaps() -> None:
    run_info = {
        "original": {"metrics": {"forget_acc": 100.0, "retain_acc": 99.0, "test_acc": 90.0, "mia_efficacy": 5.0}},
        "oracles": [{"metrics": {"forget_acc": 90.0, "retain_acc": 99.0, "test_acc": 90.0, "mia_efficacy": 15.0}}],
        "oracle_cost": {"passes": 50},
    }
    row = original_row(run_info)
    assert row is not None and row["method"] == "original" and row["delta_forget"] == -10.0 and row["passes"] == 0
    table = summary_table([row, {"method": "retrain", "seed": 0, "delta_forget": 0.5, "delta_retain": 0.1, "delta_test": 0.2, "delta_mia": 1.0}])
    assert "within oracle noise" in table and "| original | 1 |" in table and table.splitlines()[2].endswith("| no |")
