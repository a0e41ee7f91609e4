"""The del-budget preset plans the stored protocol (a DEL-tuned row per forget set, searched within a quarter of a
retrain), and a tune search's ``within`` limits decide which trials can be chosen."""

from __future__ import annotations

import copy
import json

import pytest

from expunge.errors import ConfigError
from expunge.experiments.config import load_config
from expunge.experiments.study import run_study
from expunge.experiments.study_plan import load_study, parse_study, plan_cells
from expunge.experiments.tune import tune
from tests.experiments.test_study_tune import tune_study

STORED_SPACE = {  # the retired del_budget_fmnist search, entry for entry
    "hyperparams.lr": ["loguniform", 0.01, 0.3],
    "hyperparams.epochs": ["int", 2, 3],
    "alpha": ["uniform", 0.02, 0.5],
    "hyperparams.reset": ["choice", "fresh", "original_init"],
    "budget": ["choice", "global", "per_layer"],
}


@pytest.mark.parametrize(("scale", "trials", "seeds"), [("published", 24, [0, 1, 2]), ("smoke", 2, [0])])
def test_preset_plans_a_tuned_row_per_forget_set_within_the_budget(tmp_path, scale: str, trials: int, seeds: list[int]) -> None:
    spec = load_study("del-budget")
    cells = plan_cells(spec, scale, tmp_path)
    assert sorted(c.labels["split"] for c in cells) == ["iid", "non_iid"]
    for cell in cells:
        (link,) = cell.tuning
        assert (link["row"], link["method"], link["role"], link["source"]) == ("DEL-tuned", "DEL", "tuned here", cell.id)  # each forget set searched on itself
        assert link["trials"] == trials and link["within"] == {"relative_passes": 0.25}
        assert cell.config.seeds == seeds and cell.config.split.validation_fraction > 0
        (paper,) = cell.config.methods
        assert (paper.name, paper.localizer, paper.alpha, paper.unlearner, paper.hyperparams) == ("DEL", "del", 0.3, "reset_finetune", {"epochs": 3, "lr": 0.05})
        # every epoch count the space can draw costs at most a quarter of the oracles' epochs, so the limit leaves the search room
        assert STORED_SPACE["hyperparams.epochs"][2] / cell.config.recipe.epochs <= 0.25
    (entry,) = spec.tune
    assert entry.space == STORED_SPACE and entry.objective == "max_gap" and entry.limits == {"relative_passes": 0.25}
    limits = {(t["method"], t["metric"]): t["threshold"] for t in spec.targets if t["rule"] == "at_most"}
    assert limits[("DEL-tuned", "max_gap")] == limits[("DEL", "max_gap")] == 2.0 and limits[("DEL-tuned", "relative_passes")] == 0.25
    assert {"rule": "versus", "method": "DEL-tuned", "metric": "max_gap", "reference": "DEL", "op": "le"}.items() <= next(t for t in spec.targets if t["rule"] == "versus").items()


def test_within_must_map_metrics_to_numbers() -> None:
    raw = copy.deepcopy(load_study("del-budget").raw)
    raw["tune"][0]["within"] = {"relative_passes": "a quarter"}
    with pytest.raises(ConfigError, match=r"tune\.0\.within"):
        parse_study(raw, "<test>")


def tiny_finetune(tmp_path) -> dict:
    """A synthetic task where a finetune's relative passes are its epochs / 2 (the oracles train 2 epochs)."""
    base = copy.deepcopy(tune_study(tmp_path)["base"])
    base["out"] = str(tmp_path / "run")
    return base


def test_limits_pick_the_best_trial_within_them_and_keep_the_others(tmp_path) -> None:
    space = {"hyperparams.epochs": ["int", 1, 3], "hyperparams.lr": ["loguniform", 0.01, 0.2]}
    path = tune(load_config(tiny_finetune(tmp_path)), "finetune", trials=6, seed=1, space=space, limits={"relative_passes": 0.5})
    result = json.loads(path.read_text())
    trials = [t for t in result["trials"] if t["status"] == "ok"]
    assert result["limits"] == {"relative_passes": 0.5}
    for t in trials:
        assert t["within_limits"] == (t["relative_passes"] <= 0.5) and t["relative_passes"] == pytest.approx(t["params"]["hyperparams.epochs"] / 2)
    assert any(not t["within_limits"] for t in trials) and any(t["within_limits"] for t in trials)  # the limit excluded some draws
    within = [t for t in trials if t["within_limits"]]
    assert result["best"]["trial"] == min(within, key=lambda t: t["objective"])["trial"]
    assert result["best"]["params"]["hyperparams.epochs"] == 1


def test_limits_no_trial_meets_fail_the_search_and_unknown_metrics_are_config_errors(tmp_path) -> None:
    config = load_config(tiny_finetune(tmp_path))
    space = {"hyperparams.epochs": ["int", 2, 3]}
    with pytest.raises(ConfigError, match=r"within the limits .*relative_passes: 1"):
        tune(config, "finetune", trials=2, space=space, limits={"relative_passes": 0.5})
    with pytest.raises(ConfigError, match="does not report"):
        tune(config, "finetune", trials=1, space=space, limits={"no_such_metric": 1.0})


def test_a_study_search_with_within_gives_its_row_the_limited_choice(tmp_path) -> None:
    study = tune_study(tmp_path)
    study["axes"] = {"fraction": [0.1]}
    study["tune"] = [{"method": "finetune", "trials": 4, "seed": 0, "space": {"hyperparams.epochs": ["int", 1, 3]}, "within": {"relative_passes": 0.5}}]
    out = tmp_path / "study"
    run_study(study, "smoke", out)
    state = json.loads((out / "study.json").read_text())
    search = state["tune"]["finetune-tuned/fraction-0.1"]
    assert search["status"] == "ok" and search["limits"] == {"relative_passes": 0.5} and 1 <= search["trials_within"] < 4
    assert search["params"]["hyperparams.epochs"] == 1
    records = json.loads((out / "cells" / "fraction-0.1" / "results.json").read_text())
    records = records["records"] if isinstance(records, dict) else records
    tuned = [r for r in records if r["method"] == "finetune-tuned" and r.get("status", "ok") == "ok"]
    assert tuned and all(r["relative_passes"] <= 0.5 for r in tuned)
    assert "chosen only within relative_passes ≤ 0.5" in (out / "study.md").read_text()
