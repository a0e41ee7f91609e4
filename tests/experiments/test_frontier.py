"""expunge frontier: budget parsing, the budget rule, a tiny frontier through the shared runner, Pareto dominance, the plot."""

from __future__ import annotations

import json

import pytest
import yaml

from expunge.cli import main
from expunge.errors import ConfigError, OutFolderConflict
from expunge.experiments import load_config
from expunge.experiments.config import MethodConfig
from expunge.experiments.frontier import (
    budget_epochs,
    frontier_points,
    load_tuned,
    pareto_front,
    pareto_table,
    parse_budgets,
    passes_per_epoch,
    plan_method,
    run_frontier,
)
from expunge.experiments.plots import plot_frontier
from expunge.unlearn import UNLEARNERS

SIZES = {"retain": 1000, "forget": 100}


def tiny_config(tmp_path, methods=None):
    return {
        "name": "tiny-frontier",
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 120, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.1},
        "model": {"name": "mlp", "options": {"hidden": [16]}},
        "recipe": {"epochs": 4, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": [0],
        "methods": methods
        or [
            {"name": "finetune", "hyperparams": {"lr": 0.05}},
            {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"lr": 0.05}},
        ],
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        (" , ", "empty"),
        ([], "empty"),
        ("0", r"\(0, 1\]"),
        ("-0.1", r"\(0, 1\]"),
        ("1.5", r"\(0, 1\]"),
        ("0.1,abc", "not a number"),
        ("nan", r"\(0, 1\]"),
    ],
)
def test_bad_budgets_are_clear_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_budgets(text)


def test_budgets_parse_sorted_and_unique():
    assert parse_budgets("0.25, 0.05,1.0,0.25") == [0.05, 0.25, 1.0]


def test_cli_rejects_bad_budgets_before_training(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    assert main(["frontier", str(path), "--budgets", "0.1,2"]) == 2
    assert "(0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # nothing trained


def test_budget_rule_per_unlearner():
    oracle = 10 * SIZES["retain"]  # ten retain epochs
    assert budget_epochs(0.25, oracle, SIZES["retain"]) == round(2.5)
    assert budget_epochs(0.01, oracle, SIZES["retain"]) == 1  # never below one epoch
    get = lambda name, **kw: UNLEARNERS.get(name)(**kw)  # noqa: E731
    assert passes_per_epoch(get("finetune"), SIZES) == 1000
    assert passes_per_epoch(get("reset_finetune"), SIZES) == 1000
    assert passes_per_epoch(get("l1_sparse"), SIZES) == 1000
    assert passes_per_epoch(get("salun"), SIZES) == 1100  # retain ∪ relabelled forget
    assert passes_per_epoch(get("random_label"), SIZES) == 1100
    assert passes_per_epoch(get("neggrad_plus"), SIZES) == 1000 + 8 * 100  # 8 retain batches, each paired with the (one) forget batch
    assert passes_per_epoch(get("neggrad_plus", batch_size=64), {"retain": 256, "forget": 100}) == 256 + 64 + 36 + 64 + 36
    assert passes_per_epoch(get("neggrad_plus", alpha=1.0), SIZES) == 1000
    assert passes_per_epoch(get("scrub"), SIZES) == 1100
    assert passes_per_epoch(get("ga", epoch_length="forget"), SIZES) == 100
    assert passes_per_epoch(get("ssd"), SIZES) == 0  # training-free
    plan = plan_method(MethodConfig(name="SalUn", unlearner="salun", localizer="salloc", alpha=0.5), 0.5, oracle, SIZES)
    assert plan.method.name == "SalUn@0.5" and plan.epochs == round((5000 - 100) / 1100) and plan.localize_passes == 100
    free = plan_method(MethodConfig(name="ssd", unlearner="ssd"), 0.5, oracle, SIZES)
    assert free.budget is None and free.method.name == "ssd@measured"


def point(name, cost, gap, **kw):
    return {"method": name, "relative_passes": cost, "avg_gap": gap, **kw}


def test_pareto_dominance_on_hand_made_points():
    points = [point("a", 0.1, 5.0), point("b", 0.2, 3.0), point("c", 0.3, 4.0), point("d", 0.1, 6.0), point("e", 1.0, 0.5), point("f", 0.2, 3.0), point("g", 0.5, None)]
    # c is dominated by b (cheaper and better), d by a (same cost, worse), g has no quality; b and f tie: both stay
    assert pareto_front(points, "avg_gap") == {"a", "b", "f", "e"}
    eps = [point("x", 0.1, None, epsilon_score=0.1), point("y", 0.2, None, epsilon_score=0.05), point("z", 0.3, None, epsilon_score=0.2)]
    assert pareto_front(eps, "epsilon_score", higher_better=True) == {"x", "z"}


def test_tiny_frontier_records_table_plot_and_resume(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    assert main(["frontier", str(path), "--budgets", "0.25,0.5", "--quiet"]) == 0
    out = tmp_path / "run"
    result = json.loads((out / "frontier.json").read_text())
    names = {p["method"] for p in result["points"]}
    assert names == {"finetune@0.25", "finetune@0.5", "DEL@0.25", "DEL@0.5", "retrain"}
    for rec in result["records"]:
        assert rec["status"] == "ok"
        if rec["method"] != "retrain":
            assert rec["frontier"]["budget"] in (0.25, 0.5) and rec["relative_passes"] > 0  # requested and measured side by side
    fine = {p["budget"]: p for p in result["points"] if p["base_method"] == "finetune"}
    # finetune iterates the retain set: the measured cost is the planned one (batches of one are dropped)
    assert fine[0.25]["epochs"] == 1 and fine[0.5]["epochs"] == 2
    assert fine[0.5]["relative_passes"] == pytest.approx(0.5, abs=0.03)
    assert (out / "records" / "DEL@0.25-seed0.json").exists()  # the shared store
    assert (out / "frontier.png").stat().st_size > 1000 and "| method | budget" in (out / "frontier.md").read_text()
    assert "DEL@0.5" in capsys.readouterr().out
    before = (out / "records" / "DEL@0.5-seed0.json").read_text()
    assert main(["frontier", str(path), "--budgets", "0.25,0.5", "--quiet"]) == 0  # resumes: nothing recomputed
    assert (out / "records" / "DEL@0.5-seed0.json").read_text() == before


def test_training_free_method_placed_at_measured_cost_and_failure_recorded(tmp_path):
    methods = [
        {"name": "ssd", "hyperparams": {}},
        {"name": "diverges", "unlearner": "finetune", "hyperparams": {"lr": 1e12}},
        {"name": "finetune", "hyperparams": {}},
        {"name": "neggrad_plus", "hyperparams": {"lr": 0.01}},
    ]
    config = load_config(tiny_config(tmp_path, methods))
    result = json.loads(run_frontier(config, [0.25, 0.5]).read_text())
    points = {p["method"]: p for p in result["points"]}
    assert "ssd@measured" in points and "ssd@0.25" not in points  # runs once
    free = points["ssd@measured"]
    assert free["training_free"] and "measured cost" in free["note"] and free["relative_passes"] is not None
    assert points["diverges@0.25"]["n"] == 0 and points["diverges@0.25"]["failed"] == 1 and "failed" in points["diverges@0.25"]["note"]
    assert points["finetune@0.25"]["pareto"]["avg_gap"] is not None
    assert points["diverges@0.25"]["pareto"]["avg_gap"] is None  # drawn from the rest
    # NegGrad+ pairs every retain batch with a forget batch: the meter counts both halves, as the rule plans
    neg = points["neggrad_plus@0.5"]
    assert neg["planned_relative_passes"] == pytest.approx(neg["relative_passes"], rel=0.05)
    table = pareto_table(result["points"])
    assert "training-free" in table and "failed" in table


def test_plot_with_floor_band_and_pool_panel(tmp_path):
    points = [
        point("ft@0.1", 0.1, 4.0, base_method="ft", avg_gap_std=0.5, relative_passes_std=0.0, epsilon_score=0.05),
        point("ft@0.5", 0.5, 2.0, base_method="ft", epsilon_score=0.1),
        point("ssd@measured", 0.02, 6.0, base_method="ssd", training_free=True),
        point("retrain", 1.0, 0.4, base_method="retrain", avg_gap_std=0.1),
    ]
    floor = {"avg_gap": {"mean": 0.4, "std": 0.1}}
    pools = {"0.1": {"n_models": 8, "ceiling": {"epsilon_score": 0.2, "lira_auc": 50.0}, "original": {"epsilon_score": 0.05, "lira_auc": 80.0}}}
    assert plot_frontier(points, floor, tmp_path / "f.png", pools=pools)
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert not plot_frontier([], floor, tmp_path / "g.png")


def test_load_tuned_rejects_foreign_json(tmp_path):
    bad = tmp_path / "tune-x.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ConfigError, match="not the output"):
        load_tuned(bad)
    with pytest.raises(ConfigError, match="no tune"):
        load_tuned(tmp_path / "missing")


def test_tune_for_a_budget_then_frontier_uses_it(tmp_path):
    config = load_config(tiny_config(tmp_path))
    from expunge.experiments.tune import tune

    path = tune(config, "DEL", trials=2, seed=0, budget=0.5)
    tuned = json.loads(path.read_text())
    assert path.name == "tune-DEL@0.5.json" and tuned["budget"] == 0.5 and tuned["evaluated_on"].startswith("validation")
    assert all("hyperparams.epochs" not in t["params"] for t in tuned["trials"])  # the budget fixes the epochs
    result = json.loads(run_frontier(config, [0.5], tuned=path).read_text())
    tuned_point = next(p for p in result["points"] if p["method"] == "DEL-tuned@0.5")
    assert tuned_point["tuned"] and tuned_point["epochs"] == next(p for p in result["points"] if p["method"] == "DEL@0.5")["epochs"]
    frontier_points([], [], 1)  # empty input is harmless


def test_frontier_with_a_pool_scores_epsilon_lira_and_the_ceiling(tmp_path):
    config = load_config(tiny_config(tmp_path, [{"name": "finetune", "hyperparams": {"lr": 0.05}}]))
    with pytest.raises(ConfigError, match="at least 4"):
        run_frontier(config, [0.5], pool=2)
    result = json.loads(run_frontier(config, [0.25, 0.5], pool=4, pool_budgets=[0.5]).read_text())
    point = next(p for p in result["points"] if p["method"] == "finetune@0.5")
    assert 0 <= point["epsilon_score"] <= 1 and 0 <= point["lira_auc"] <= 100 and point["pool_n"] == 4
    assert "epsilon_score" not in next(p for p in result["points"] if p["method"] == "finetune@0.25")  # no pool at 0.25
    ceiling = result["pools"]["0.5"]["ceiling"]
    assert ceiling is not None and 0 <= ceiling["epsilon_score"] <= 1
    assert point["pareto"]["epsilon_score"] is True  # the only point with an ε-score
    assert "ε-score" in (tmp_path / "run" / "frontier.md").read_text()


def test_pool_methods_limit_the_pool_and_unknown_names_are_clear_errors(tmp_path):
    config = load_config(tiny_config(tmp_path))
    with pytest.raises(ConfigError, match="not methods of this config"):
        run_frontier(config, [0.5], pool=4, pool_methods=["SCRUB"])
    result = json.loads(run_frontier(config, [0.5], pool=4, pool_methods=["DEL"]).read_text())
    pooled = {p["method"] for p in result["points"] if p.get("epsilon_score") is not None}
    assert pooled == {"DEL@0.5"}
    assert not (tmp_path / "run" / "pool-b0.5" / "pool" / "methods" / "finetune@0.5").exists()


def test_changed_frontier_refuses_then_overwrite_moves_the_old_records_aside(tmp_path) -> None:
    methods = [{"name": "finetune", "hyperparams": {"lr": 0.05}}]
    run_frontier(load_config(tiny_config(tmp_path, methods)), [0.5])
    changed = load_config(tiny_config(tmp_path, [{"name": "finetune", "hyperparams": {"lr": 0.02}}]))
    with pytest.raises(OutFolderConflict, match="--overwrite"):
        run_frontier(changed, [0.5])
    run_frontier(changed, [0.5], overwrite=True)
    replaced = [p for p in (tmp_path / "run").iterdir() if p.name.startswith("replaced-")]
    assert len(replaced) == 1 and any(replaced[0].rglob("*.json"))  # the old records were moved, not deleted
