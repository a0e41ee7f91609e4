"""`expunge study list | run | report` end to end on a tiny study file."""

from __future__ import annotations

import json

import yaml

from expunge.cli import main
from tests.experiments.test_study import tiny_study


def test_study_cli_run_report_and_list(tmp_path, capsys) -> None:
    study = tiny_study(tmp_path)
    study["axes"] = {"lr": {"key": "methods.0.hyperparams.lr", "values": [0.05]}}
    study["base"]["seeds"] = [0]
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(study))
    out = tmp_path / "study"
    assert main(["study", "run", str(path), "scale=smoke", "recipe.epochs=1", "--out", str(out), "--quiet"]) == 0
    stored = json.loads((out / "study.json").read_text())
    assert stored["scale"] == "smoke" and stored["overrides"][0] == "recipe.epochs=1"
    assert json.loads((out / "cells" / "lr-0.05" / "run.json").read_text())["config"]["recipe"]["epochs"] == 1
    (out / "study.md").unlink()
    assert main(["study", "report", str(out), "--tables", str(tmp_path / "tables.md")]) == 0
    assert "finetune" in (out / "study.md").read_text()
    tables = (tmp_path / "tables.md").read_text()
    assert tables.startswith("<!-- generated") and "### lr=0.05" in tables and "# Study" not in tables
    assert json.loads((tmp_path / "tables.json").read_text()) == json.loads((out / "summary.json").read_text())  # the summary beside its tables
    assert json.loads((out / "summary.json").read_text())["columns"][0] == "avg_gap"  # the stored (default) columns
    assert main(["study", "report", str(out), "--columns", "relative_passes,seconds"]) == 0  # columns chosen after the run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["columns"] == ["relative_passes", "seconds"] and "| relative_passes | seconds |" in (out / "study.md").read_text()
    assert main(["study", "report", str(out), "--columns", "avg_gap,no_such_metric"]) == 2  # named, with what exists
    assert "no_such_metric" in capsys.readouterr().err
    assert main(["study", "list"]) == 0
    listing = capsys.readouterr().out
    assert "demo" in listing and "smoke:" in listing and "published:" in listing
    assert main(["study", "run", "no-such-study"]) == 2
    study["axes"] = {"split": {"bad": {"split.kind": "class", "split.classes": [7]}}}
    path.write_text(yaml.safe_dump(study))
    assert main(["study", "run", str(path), "--out", str(tmp_path / "bad"), "--quiet"]) == 1  # recorded, and the status says so
