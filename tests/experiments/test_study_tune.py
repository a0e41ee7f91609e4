"""The study tune stage: one search per tuning setting, reused on resume, its row in every cell, tuned and held-out cells kept apart."""

from __future__ import annotations

import json

import pytest

from expunge.errors import ConfigError
from expunge.experiments import tune as tune_module
from expunge.experiments.study import run_study
from expunge.experiments.study_plan import load_study, plan_cells
from expunge.experiments.study_summary import summarize_study


def tune_study(tmp_path) -> dict:
    base = {
        "name": "tiny-tune",
        "dataset": {"name": "synthetic", "options": {"num_train": 240, "num_test": 90, "num_classes": 3, "image_size": 6}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.1},
        "model": {"name": "mlp", "options": {"hidden": [8]}},
        "recipe": {"epochs": 2, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": [0],
        "methods": [{"name": "finetune", "hyperparams": {"epochs": 1, "lr": 0.05}}],
        "cache_dir": str(tmp_path / "cache"),
        "quiet": True,
    }
    return {
        "name": "tiny-tune",
        "base": base,
        "axes": {"fraction": [0.1, 0.2]},  # 0.1 is searched on, 0.2 is held out
        "scales": {"smoke": [], "published": []},
        "tune": [{"method": "finetune", "trials": 2, "space": {"hyperparams.lr": ["loguniform", 0.01, 0.2]}, "on": {"fraction": [0.1]}}],
    }


def test_search_runs_once_its_row_reaches_both_cells_and_the_summary_keeps_them_apart(tmp_path, monkeypatch) -> None:
    searches: list[str] = []
    real_tune = tune_module.tune

    def counting_tune(config, method, *args, **kwargs):
        searches.append(f"{config.split.fraction}/{method}")
        return real_tune(config, method, *args, **kwargs)

    monkeypatch.setattr(tune_module, "tune", counting_tune)
    out = tmp_path / "study"
    run_study(tune_study(tmp_path), "smoke", out)
    assert searches == ["0.1/finetune"]  # one search, on the tuning setting only

    state = json.loads((out / "study.json").read_text())
    search = state["tune"]["finetune-tuned/fraction-0.1"]
    assert search["status"] == "ok" and search["trials"] == 2
    chosen = search["params"]["hyperparams.lr"]
    assert json.loads(open(search["file"]).read())["best"]["params"]["hyperparams.lr"] == chosen
    for cell, tuned_on in (("fraction-0.1", True), ("fraction-0.2", False)):
        entry = state["cells"][cell]
        assert entry["status"] == "ok" and entry["tuned_on"] is tuned_on
        assert entry["tuning"][0]["source"] == "fraction-0.1"
        methods = {m["name"]: m for m in json.loads((out / "cells" / cell / "run.json").read_text())["config"]["methods"]}
        assert methods["finetune-tuned"]["hyperparams"]["lr"] == chosen  # the found value, in both cells
        assert methods["finetune"]["hyperparams"]["lr"] == 0.05  # the declared row is untouched
        records = json.loads((out / "cells" / cell / "results.json").read_text())
        records = records["records"] if isinstance(records, dict) else records
        assert {r["method"] for r in records if r.get("status") == "ok"} >= {"finetune", "finetune-tuned"}

    finished = {c: (out / "cells" / c / "results.json").stat().st_mtime_ns for c in ("fraction-0.1", "fraction-0.2")}
    run_study(tune_study(tmp_path), "smoke", out)  # resume: nothing searches or runs again
    assert searches == ["0.1/finetune"]
    assert {c: (out / "cells" / c / "results.json").stat().st_mtime_ns for c in finished} == finished

    summary = summarize_study(out)
    assert [(g["label"], g["tuned_on"]) for g in summary["groups"]] == [("fraction=0.1 (tuned here)", True), ("fraction=0.2 (held out)", False)]
    assert summary["tuning"]["tuned_on_cells"] == ["fraction-0.1"] and summary["tuning"]["held_out_cells"] == ["fraction-0.2"]
    for group in summary["groups"]:
        assert group["cells"] == (["fraction-0.1"] if group["tuned_on"] else ["fraction-0.2"])  # never pooled
        assert group["rows"]["finetune-tuned"]["tuning_trials"] == 2 and group["rows"]["finetune"]["tuning_trials"] == 0
    md = (out / "study.md").read_text()
    assert "| tuning trials |" in md and "`finetune-tuned` tuned here (2 trials" in md and "held out: carries the settings searched on fraction-0.1" in md

    more = tune_study(tmp_path)  # another method in the study: its cells run again, the search is reused
    more["base"]["methods"].append({"name": "slow", "unlearner": "finetune", "hyperparams": {"epochs": 1, "lr": 0.01}})
    run_study(more, "smoke", out)
    assert searches == ["0.1/finetune"]
    rows = summarize_study(out)["groups"][1]["rows"]
    assert rows["slow"]["tuning_trials"] == 0 and rows["finetune-tuned"]["runs"]["ok"] == 1


def test_a_failed_search_fails_the_cells_that_need_it(tmp_path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("search diverged")

    monkeypatch.setattr(tune_module, "tune", broken)
    out = tmp_path / "study"
    run_study(tune_study(tmp_path), "smoke", out)
    state = json.loads((out / "study.json").read_text())
    assert state["tune"]["finetune-tuned/fraction-0.1"]["status"] == "failed"
    for cell in ("fraction-0.1", "fraction-0.2"):
        assert state["cells"][cell]["status"] == "failed" and "search diverged" in state["cells"][cell]["error"]
    assert not (tmp_path / "cache").exists()  # nothing trained for cells that could not run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "nobody"}, r"tune.0.method 'nobody' is not a method"),
        ({"trials": 0}, r"tune.0.trials must be an integer ≥ 1"),
        ({"on": {"fraction": [0.3]}}, r"tune.0.on.fraction: \['0.3'\] are not values of axis fraction"),
        ({"on": {"classes": [1]}}, r"tune.0.on names axis 'classes'"),
        ({"as": "finetune"}, r"tune.0.as 'finetune' must be a new row name"),
        ({"space": {"hyperparams.lr": ["normal", 0, 1]}}, r"tune.0.space.hyperparams.lr"),
        ({"budgets": [0.25]}, r"only a frontier study tunes per budget"),
    ],
)
def test_a_bad_tune_declaration_is_a_config_error_at_load(tmp_path, change, message) -> None:
    study = tune_study(tmp_path)
    study["tune"] = [{**study["tune"][0], **change}]
    with pytest.raises(ConfigError, match=message):
        load_study(study)


def test_held_out_cells_need_their_source_at_every_scale(tmp_path) -> None:
    study = tune_study(tmp_path)
    study["scales"]["smoke"] = {"axes": {"fraction": [0.2]}}  # only the held-out value: nothing to carry the settings from
    with pytest.raises(ConfigError, match=r"held-out cell fraction-0.2 carries the settings tuned on fraction=0.1"):
        plan_cells(load_study(study), "smoke", tmp_path)
    study["scales"]["smoke"]["tune"] = False
    assert [c.tuning for c in plan_cells(load_study(study), "smoke", tmp_path)] == [[]]
    study["tune"][0]["on"] = {"fraction": [0.1, 0.2]}  # two tuning values: the held-out cells' source must be named
    study["axes"]["fraction"] = [0.1, 0.2, 0.3]
    with pytest.raises(ConfigError, match="held_out_from"):
        load_study(study)


def test_summary_says_when_no_setting_is_held_out() -> None:
    from expunge.experiments.study_summary import _tuned_flag, tuning_note

    rows = {"DEL-tuned": {"method": "DEL", "trials": 4, "budgets": [None], "within": {"relative_passes": 0.25}}}
    alone = tuning_note({"rows": rows, "searches": {"a": {}}, "tuned_on_cells": ["c1"], "held_out_cells": []})
    paired = tuning_note({"rows": rows, "searches": {"a": {}}, "tuned_on_cells": ["c1"], "held_out_cells": ["c2"]})
    assert "No setting of this study is held out" in alone and "*Held out* settings (1 cell)" in paired
    assert "relative_passes ≤ 0.25" in alone
    group = {"tuned_on": True, "tuning": {"DEL-tuned": {"params": {}}}}
    assert "no held-out setting" in _tuned_flag({"row": "DEL-tuned"}, group, held_out=False)
    assert "the held-out settings test it" in _tuned_flag({"row": "DEL-tuned"}, group, held_out=True)
    assert _tuned_flag({"row": "DEL"}, group, held_out=False) == ""
