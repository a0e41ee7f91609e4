"""Studies: two axes, resume after a kill, a failing cell recorded while the others finish, shared originals trained once."""

from __future__ import annotations

import json

import pytest

from expunge.errors import ConfigError
from expunge.evaluate.targets import check_rule_spec, check_target
from expunge.experiments import context, runner
from expunge.experiments.study import CELL_KINDS, run_study
from expunge.experiments.study_plan import axis_values, expand_method_grid, load_study, plan_cells
from expunge.experiments.study_summary import summarize_study
from expunge.family import ClassifierFamily


def tiny_study(tmp_path) -> dict:
    base = {
        "name": "tiny",
        "dataset": {"name": "synthetic", "options": {"num_train": 240, "num_test": 90, "num_classes": 3, "image_size": 6}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.1},
        "model": {"name": "mlp", "options": {"hidden": [8]}},
        "recipe": {"epochs": 2, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": [0, 1],
        "methods": [{"name": "finetune", "hyperparams": {"epochs": 1, "lr": 0.05}}],
        "cache_dir": str(tmp_path / "cache"),
        "quiet": True,
    }
    return {
        "name": "tiny",
        "description": "two axes on synthetic data",
        "base": base,
        "axes": {
            # "bad" validates at load but fails when the data is built: class 7 does not exist
            "split": {"iid": {"split.kind": "iid"}, "bad": {"split.kind": "class", "split.classes": [7]}},
            "lr": {"key": "methods.0.hyperparams.lr", "values": [0.05, 0.02]},
        },
        "scales": {"smoke": [], "published": []},
        "targets": [{"rule": "at_most", "method": "finetune", "metric": "avg_gap", "threshold": 100.0}],
    }


def test_two_axes_resume_after_kill_failed_cell_and_shared_models(tmp_path, monkeypatch) -> None:
    fits: list[str] = []
    real_fit = ClassifierFamily.fit

    def counting_fit(self, model, config, data, indices, recipe, device, progress, desc):
        fits.append(desc)
        return real_fit(self, model, config, data, indices, recipe, device, progress, desc)

    monkeypatch.setattr(ClassifierFamily, "fit", counting_fit)
    real_kind = CELL_KINDS.get("run")

    def fresh_process_kind(config, options):
        context._CONTEXTS.clear()  # as if each cell ran in a new process: only the disk cache can share models
        return real_kind(config, options)

    monkeypatch.setitem(CELL_KINDS._items, "run", fresh_process_kind)
    calls: list[str] = []
    real_job = runner.method_job

    def method_job(config_data, method_index, run):
        calls.append(f"{config_data['out'].split('/')[-1]}/seed{run}")
        if len(calls) == 4 and not getattr(method_job, "killed", False):
            method_job.killed = True  # type: ignore[attr-defined]
            raise KeyboardInterrupt  # the second cell dies half-way: its seed 0 is stored, seed 1 is not
        return real_job(config_data, method_index, run)

    monkeypatch.setattr(runner, "method_job", method_job)
    study, out = tiny_study(tmp_path), tmp_path / "study"

    with pytest.raises(KeyboardInterrupt):
        run_study(study, "smoke", out)
    state = json.loads((out / "study.json").read_text())["cells"]
    assert state["split-iid__lr-0.05"]["status"] == "ok"
    assert state["split-iid__lr-0.02"]["status"] == "running"
    first_results = (out / "cells" / "split-iid__lr-0.05" / "results.json").stat().st_mtime_ns

    calls.clear()
    run_study(study, "smoke", out)
    # the finished cell is skipped, the half-done one runs only its missing seed, the bad cells never reach a method
    assert calls == ["split-iid__lr-0.02/seed1"]
    assert (out / "cells" / "split-iid__lr-0.05" / "results.json").stat().st_mtime_ns == first_results
    state = json.loads((out / "study.json").read_text())["cells"]
    assert [state[c]["status"] for c in ("split-iid__lr-0.05", "split-iid__lr-0.02", "split-bad__lr-0.05", "split-bad__lr-0.02")] == ["ok", "ok", "failed", "failed"]
    assert "split.classes" in state["split-bad__lr-0.05"]["error"]

    # one original and two oracles for the whole study, each trained once (the bad cells train nothing)
    cache = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir())
    assert cache == ["oracle", "oracle", "original"]
    assert len(fits) == 3

    summary = summarize_study(out)
    assert summary["cells"] == {"total": 4, "ok": 2, "failed": 2, "other": 0}
    group = next(g for g in summary["groups"] if g["label"] == "split=iid, lr=0.05")
    assert group["rows"]["finetune"]["avg_gap"]["n"] == 2  # two unlearning seeds
    assert group["rows"]["retrain"]["runs"]["ok"] == 2  # the noise floor: each oracle against the other
    assert "original" in group["rows"]
    cost = group["rows"]["finetune"]["relative_passes"]
    assert cost["pooled"] and cost["n"] == 2 and 0 < cost["mean"] < 1  # Σ passes / Σ oracle passes over the seeds
    assert group["targets"][0]["met"] is True
    md = (out / "study.md").read_text()
    assert "oracle noise floor" in md and "do nothing" in md and "split-bad__lr-0.02: failed" in md


def test_axes_shorthands_scales_and_method_grid(tmp_path) -> None:
    assert axis_values("classes", [3, [2, 5]]) == {"3": ["split.classes=[3]"], "2-5": ["split.classes=[2, 5]"]}
    assert axis_values("seed", [1]) == {"1": ["train_seed=1", "split.seed=1"]}
    grid = {"name": "{loc}@{alpha}", "parts": {"loc": {"DEL": {"localizer": "del", "unlearner": "reset_finetune"}}, "alpha": {"0.1": {"alpha": 0.1}, "0.3": {"alpha": 0.3}}}}
    assert [m["name"] for m in expand_method_grid(grid)] == ["DEL@0.1", "DEL@0.3"]
    study = tiny_study(tmp_path)
    study["scales"]["smoke"] = {"overrides": ["recipe.epochs=1"], "axes": {"split": {"iid": {"split.kind": "iid"}}}}
    spec = load_study(study)
    smoke, published = plan_cells(spec, "smoke", tmp_path), plan_cells(spec, "published", tmp_path)
    assert [c.id for c in smoke] == ["split-iid__lr-0.05", "split-iid__lr-0.02"] and len(published) == 4
    assert smoke[0].config.recipe.epochs == 1 and smoke[1].config.methods[0].hyperparams["lr"] == 0.02
    with pytest.raises(ConfigError, match="scales"):
        load_study({**study, "scales": {"smoke": []}})
    with pytest.raises(ConfigError, match="methods.0.hyperparams"):
        plan_cells(load_study({**study, "axes": {"lr": {"key": "methods.0.hyperparams.lr", "values": [-1.0]}}}), "published", tmp_path)


def test_target_rules_state_met_missed_and_distance() -> None:
    rows = {
        "DEL@0.1": {"avg_gap": {"mean": 3.0}},
        "DEL-x@0.1": {"avg_gap": {"mean": 1.5}},
        "finetune@0.1": {"avg_gap": {"mean": 2.0}},
        "retrain": {"frechet": {"mean": 10.0}},
        "cascade": {"frechet": {"mean": 12.0}, "delta_forget": {"mean": -1.0}, "delta_test": {"mean": 2.5}},
    }
    best = check_target(rows, {"rule": "at_most", "method": "DEL*@0.1", "metric": "avg_gap", "threshold": 2.0})
    assert best.met and best.row == "DEL-x@0.1" and best.distance == pytest.approx(-0.5)
    missed = check_target(rows, {"rule": "versus", "method": "cascade", "metric": "frechet", "reference": "retrain", "op": "le", "scale": 1.1})
    assert missed.met is False and missed.distance == pytest.approx(1.0)
    assert check_target(rows, {"rule": "abs_at_most", "method": "cascade", "metric": ["delta_forget", "delta_test"], "threshold": 2}).distance == pytest.approx(0.5)
    assert check_target(rows, {"rule": "at_least", "method": "nobody", "metric": "avg_gap", "threshold": 1}).met is None
    with pytest.raises(ConfigError, match="unknown"):
        check_rule_spec({"rule": "at_most", "method": "x", "metric": "y", "threshold": 1, "thresold": 2}, "targets.0")
    with pytest.raises(ConfigError, match="target rule"):
        check_rule_spec({"rule": "nope"}, "targets.0")
