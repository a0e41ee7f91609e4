import json

import pytest
import yaml

from expunge.cli import main
from expunge.errors import ConfigError
from expunge.experiments import load_config

REQUIRED_KEYS = {
    "method",
    "localizer",
    "alpha",
    "seed",
    "forget_acc",
    "retain_acc",
    "test_acc",
    "mia_efficacy",
    "mia_auc",
    "delta_forget",
    "delta_retain",
    "delta_test",
    "delta_mia",
    "delta_mia_auc",
    "avg_gap",
    "seconds",
    "relative_time",
    "changed_fraction",
}


def tiny_config(tmp_path):
    return {
        "name": "tiny",
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 120, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.05},
        "model": {"name": "resnet_small", "options": {"width": 4}},
        "recipe": {"epochs": 2, "lr": 0.05, "batch_size": 64},
        "oracles": 3,
        "seeds": [0, 1],
        "methods": [
            {"name": "finetune", "unlearner": "finetune", "hyperparams": {"epochs": 1}},
            {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"epochs": 1}, "recovery_curve": True},
            {"name": "SalLoc", "localizer": "salloc", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"epochs": 1}},
        ],
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }


def test_run_through_cli_writes_results_and_report(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    assert main(["run", str(path), "methods.0.hyperparams.epochs=2"]) == 0
    records = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["method"] for r in records} == {"retrain", "finetune", "DEL", "SalLoc"}
    assert len([r for r in records if r["method"] == "DEL"]) == 2
    for r in records:
        assert REQUIRED_KEYS <= set(r), REQUIRED_KEYS - set(r)
        assert r["status"] == "ok"
        assert r["config"]["methods"][0]["hyperparams"]["epochs"] == 2  # override recorded
        assert "torch" in r["environment"]
    del_rec = next(r for r in records if r["method"] == "DEL")
    assert abs(del_rec["mask_fraction"] - 0.3) < 1e-3 and del_rec["mask_layers"]
    assert len(del_rec["recovery"]) == 2  # right after the reset, then after the one epoch
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Mask composition" in report and "Recovery curve" in report and "Avg.Gap" in report
    assert (tmp_path / "run" / "split" / "forget.txt").exists()
    assert "DEL" in capsys.readouterr().out

    # resume: a second run reuses finished records and cached models (nothing is retrained)
    before = (tmp_path / "run" / "records" / "DEL-seed0.json").read_text()
    truncated = tmp_path / "run" / "records" / "DEL-seed1.json"
    truncated.write_text(truncated.read_text()[:100])  # a record cut off mid-write by a crash
    assert main(["run", str(path), "methods.0.hyperparams.epochs=2"]) == 0
    assert (tmp_path / "run" / "records" / "DEL-seed0.json").read_text() == before
    assert json.loads(truncated.read_text())["status"] == "ok"  # reported and recomputed, not read


def test_failing_run_is_recorded_and_sweep_goes_on(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["methods"].append({"name": "diverges", "unlearner": "finetune", "hyperparams": {"epochs": 1, "lr": 1e12}})
    load = load_config(cfg)
    from expunge.experiments import run_experiment

    records = run_experiment(load)
    failed = [r for r in records if r["method"] == "diverges"]
    assert failed and all(r["status"] == "failed" and "lower the learning rate" in r["error"] for r in failed)
    assert all(r["status"] == "ok" for r in records if r["method"] == "DEL")


@pytest.mark.parametrize(
    "override, message",
    [
        ("recipe.epochz=3", "recipe.epochz"),
        ("model.name=resnet99", "model.name"),
        ("methods.1.localizer=nope", "localizer"),
        ("methods.1.alpha=1.5", "alpha"),
        ("recipe.lr=-1", "recipe.lr"),
        ("oracles=0", "oracles"),
        ("recipe.epochs=many", "recipe.epochs"),
        ("methods.7.alpha=0.1", "list position"),
    ],
)
def test_config_errors_name_the_key(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(tiny_config(tmp_path), [override])


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_list_shows_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("fashion_mnist", "resnet_small", "del", "salloc", "reset_finetune", "non_iid", "relevance", "output_mask", "zero_shot", "lra_npp_paper", "accuracy", "mia_efficacy", "class"):
        assert name in out, name


def test_backdoor_experiment_reports_clean_accuracy_and_attack_success(tmp_path):
    from expunge.experiments import run_experiment

    cfg = tiny_config(tmp_path)
    cfg["split"]["corruption"] = {"name": "backdoor", "target": 0, "patch": 2}
    cfg["recipe"]["epochs"] = 6
    cfg["seeds"] = [0]
    cfg["methods"] = cfg["methods"][1:2]
    records = run_experiment(load_config(cfg))
    for r in records:
        assert 0 <= r["backdoor_success"] <= 100 and 0 <= r["clean_test_acc"] <= 100
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    # the original learned the trigger from the corrupted forget set; oracles never saw it
    assert run["original"]["metrics"]["backdoor_success"] > max(o["metrics"]["backdoor_success"] for o in run["oracles"])
    assert "backdoor ASR" in (tmp_path / "run" / "report.md").read_text()
