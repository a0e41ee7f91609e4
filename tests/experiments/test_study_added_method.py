"""A method added to a finished study runs in every cell, and only it: the finished method runs are kept."""

from __future__ import annotations

import json

from expunge.experiments import runner
from expunge.experiments.study import run_study


def small_study(tmp_path, methods: list[dict]) -> dict:
    base = {
        "name": "added",
        "dataset": {"name": "synthetic", "options": {"num_train": 160, "num_test": 60, "num_classes": 3, "image_size": 6}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.0},
        "model": {"name": "mlp", "options": {"hidden": [8]}},
        "recipe": {"epochs": 2, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": [0],
        "methods": methods,
        "cache_dir": str(tmp_path / "cache"),
        "quiet": True,
    }
    axes = {"seed": {"key": "train_seed", "values": [0, 1]}}
    return {"name": "added", "description": "a method added later", "base": base, "axes": axes, "scales": {"smoke": [], "published": []}}


def test_added_method_runs_alone_in_every_finished_cell(tmp_path, monkeypatch) -> None:
    calls: list[str] = []
    real_job = runner.method_job

    def method_job(config_data, method_index, run):
        calls.append(f"{config_data['out'].split('/')[-1]}/{config_data['methods'][method_index]['name']}")
        return real_job(config_data, method_index, run)

    monkeypatch.setattr(runner, "method_job", method_job)
    out = tmp_path / "study"
    first = [{"name": "finetune", "hyperparams": {"epochs": 1}}]
    run_study(small_study(tmp_path, first), "smoke", out)
    assert sorted(calls) == ["seed-0/finetune", "seed-1/finetune"]
    kept = (out / "cells" / "seed-0" / "records" / "finetune-seed0.json").read_text()

    calls.clear()
    run_study(small_study(tmp_path, first), "smoke", out)
    assert calls == []  # unchanged: every cell is finished

    run_study(small_study(tmp_path, [*first, {"name": "retrain_budget", "hyperparams": {"budget": 0.5}}]), "smoke", out)
    assert sorted(calls) == ["seed-0/retrain_budget", "seed-1/retrain_budget"]
    assert (out / "cells" / "seed-0" / "records" / "finetune-seed0.json").read_text() == kept
    state = json.loads((out / "study.json").read_text())["cells"]
    assert [state[c]["status"] for c in ("seed-0", "seed-1")] == ["ok", "ok"]
    methods = {r["method"] for r in json.loads((out / "cells" / "seed-1" / "results.json").read_text())}
    assert methods == {"retrain", "finetune", "retrain_budget"}
