"""One pipeline: class unlearning, training-free methods and new metrics/families go through the shared runner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from expunge.evaluate.registry import METRICS, EvalContext, register_set
from expunge.experiments import load_config, run_experiment
from expunge.family import FAMILIES, ClassifierFamily


def class_config(tmp_path, **extra: Any) -> dict[str, Any]:
    config = {
        "name": "tiny-class",
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 160, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "class", "classes": [1], "train_size": None, "test_size": None, "validation_fraction": 0.0, "analysis_images": 16, "analysis_other": 8},
        "model": {"name": "mlp"},
        "recipe": {"epochs": 3, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": [0],
        "methods": [{"name": "output_mask"}, {"name": "lra-npp", "unlearner": "zero_shot"}, {"name": "finetune", "hyperparams": {"epochs": 1}}],
        "evaluation": {"metrics": ["accuracy", "mia_auc"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }
    config.update(extra)
    return config


def test_zero_shot_runs_through_the_shared_runner_on_unseen_images_only(tmp_path) -> None:
    records = run_experiment(load_config(class_config(tmp_path)))
    by_method = {r["method"]: r for r in records if r["method"] != "retrain"}
    assert set(by_method) == {"output_mask", "lra-npp", "finetune"}
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    assert by_method["output_mask"]["forget_acc"] == 0.0  # the class never wins
    assert by_method["output_mask"]["passes"] == 0  # training-free: no example passes
    assert by_method["finetune"]["passes"] > 0 and by_method["finetune"]["relative_passes"] > 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    analysis, other = run["analysis_test_indices"], run["other_test_indices"]
    assert len(analysis) == 16 and len(other) == 8
    test = np.loadtxt(tmp_path / "run" / "split" / "test.txt", dtype=int)
    assert not set(analysis) & set(test.tolist()) and not set(other) & set(test.tolist())  # never scored


def test_a_new_metric_plugs_in_from_config_without_touching_the_runner(tmp_path) -> None:
    @dataclass
    class WeightNorm:
        scale: float = 1.0
        needs: ClassVar[frozenset[str]] = frozenset()

        def __call__(self, model: Any, ctx: EvalContext) -> dict[str, float]:
            return {"weight_norm": self.scale * float(sum(p.detach().norm() ** 2 for p in model.parameters()) ** 0.5)}

    if "test_weight_norm" not in METRICS:
        METRICS.register("test_weight_norm")(WeightNorm)
        register_set("test_set", ["accuracy", "test_weight_norm"])
    config = class_config(tmp_path, methods=[{"name": "output_mask"}], evaluation={"metrics": ["test_set", {"name": "test_weight_norm", "scale": 2.0}]})
    records = run_experiment(load_config(config))
    assert all("weight_norm" in r and "forget_acc" in r for r in records)


def test_a_new_family_plugs_in_by_registration(tmp_path) -> None:
    class CountingFamily(ClassifierFamily):
        name = "counting"
        fits = 0

        def fit(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            CountingFamily.fits += 1
            return super().fit(*args, **kwargs)

    if "counting" not in FAMILIES:
        FAMILIES.register("counting")(CountingFamily)
    records = run_experiment(load_config(class_config(tmp_path, family="counting", methods=[{"name": "output_mask"}])))
    assert CountingFamily.fits == 3  # the original and two oracles, trained through the family
    assert {r["method"] for r in records} == {"retrain", "output_mask"}


def test_unknown_metric_needs_are_refused_before_training(tmp_path) -> None:
    from expunge.errors import ConfigError

    config = class_config(tmp_path, split={"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.0}, evaluation={"metrics": ["corruption"]})
    with pytest.raises(ConfigError, match="need inputs this task does not provide"):
        run_experiment(load_config(config))


def test_class_metric_set_through_the_runner_and_report(tmp_path) -> None:
    """The class set (relearn, probes, verdict) runs on every method and the oracles, and the report renders it."""
    metrics = ["class_accuracy", "class_mia", {"name": "feature_probe", "per_class": 20}, {"name": "relearn", "ks": [1], "steps": 3, "steps_full": 2, "max_eval": 40}, "class_verdict"]
    config = class_config(tmp_path, methods=[{"name": "output_mask"}], evaluation={"metrics": metrics})
    records = run_experiment(load_config(config))
    mask = next(r for r in records if r["method"] == "output_mask")
    assert mask["status"] == "ok", mask.get("error")
    assert any(k.startswith("relearn") for k in mask) and any("probe" in k for k in mask)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "output_mask" in report and "relearn" in report


def test_console_table_keeps_example_columns_and_shows_pass_cost() -> None:
    from expunge.experiments.report import console_table

    records = [{"method": "m", "forget_acc": 1.0, "retain_acc": 2.0, "test_acc": 3.0, "avg_gap": 0.5, "seconds": 1.0, "relative_time": 0.2, "relative_passes": 0.25}]
    header = console_table(records).splitlines()[0]
    for label in ("FA", "RA", "TA", "AvgGap", "xRetrain(s)", "xRetrain(pass)"):
        assert label in header
    class_records = [{"method": "m", "target_acc_test": 0.0, "probe_penultimate": 80.0, "verdict": 1.0, "seconds": 1.0}]
    table = console_table(class_records)
    assert "target(test)" in table and "probe" in table and "output-only" in table


def test_tune_runs_a_training_free_class_method_on_the_validation_split(tmp_path) -> None:
    from expunge.experiments.tune import tune

    config = class_config(
        tmp_path,
        split={"kind": "class", "classes": [1], "train_size": None, "test_size": None, "validation_fraction": 0.2, "analysis_images": 16, "analysis_other": 8},
        methods=[{"name": "lra-npp", "unlearner": "zero_shot", "hyperparams": {"path": "custom", "out_scope": "target", "k_p": "auto"}}],
        evaluation={"metrics": ["class_accuracy"]},
    )
    path = tune(load_config(config), "lra-npp", trials=2, objective="target_acc_test", space={"hyperparams.max_target_rate": ["uniform", 0.0, 0.1]})
    result = json.loads(path.read_text())
    assert result["evaluated_on"].startswith("validation") and len(result["trials"]) == 2
    assert all(t["status"] == "ok" for t in result["trials"])
