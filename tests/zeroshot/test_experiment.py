"""One class-removal comparison end to end on synthetic data, and its report."""

from __future__ import annotations

import json

import numpy as np

from expunge.cache import ModelCache
from expunge.data import load_dataset
from expunge.experiments.report import report_folder
from expunge.train import Recipe
from expunge.utils import atomic_write_json
from expunge.zeroshot.experiment import RemovalSetup, analysis_split, run_class_removal


def test_class_removal_compares_every_method_and_reports(tmp_path) -> None:
    options = dict(num_train=480, num_test=240, num_classes=4, image_size=8, noise=0.5, separation=1.5, seed=3)
    bundle = load_dataset("synthetic", **options)
    setup = RemovalSetup(dataset="synthetic", model="mlp", model_options={"hidden": [32, 16]}, pool_size=0, n_analysis=16, n_other=16,
                         recipe=Recipe(epochs=6, lr=0.05, batch_size=32), probe_per_class=40, device="cpu")
    records = run_class_removal(setup, bundle, 1, 0, ModelCache(tmp_path / "cache"))
    by_method = {r["method"]: r for r in records}
    assert list(by_method) == ["original", "retrain", "lra-npp", "lra-npp-paper", "noise-gn", "noise-ln"]
    assert by_method["original"]["target_acc_train"] > 90 and by_method["retrain"]["target_acc_train"] == 0.0
    assert by_method["lra-npp"]["target_acc_train"] <= 5 and by_method["lra-npp"]["other_drop_train"] <= 1
    assert by_method["lra-npp"]["seconds"] < by_method["retrain"]["seconds"]
    for r in records:
        assert {"target_acc_test", "other_acc_test", "mia_fr", "mia_fs", "probe_target_acc", "seconds"} <= set(r)
    # the analysis and other-class images never enter a test metric
    analysis, other, rest = analysis_split(bundle, 1, 16, 16, 0)
    assert by_method["lra-npp"]["analysis_test_indices"] == analysis.tolist()
    assert not set(rest) & (set(analysis) | set(other)) and len(rest) + len(analysis) + len(other) == len(bundle.test)
    atomic_write_json(tmp_path / "runs" / "zs" / "results.json", {"provenance": {"setup": setup.to_dict(), "seeds": {}, "environment": {}, "total_seconds": 1.0}, "records": records})
    text = report_folder(tmp_path / "runs").read_text()
    assert "Zero-shot class removal: class 1" in text and "| lra-npp |" in text
    json.loads((tmp_path / "runs" / "zs" / "results.json").read_text())  # the report leaves the results intact
    assert np.isfinite(by_method["lra-npp"]["mia_fr"])
