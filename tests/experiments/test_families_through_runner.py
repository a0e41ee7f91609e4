"""The GAN and language-model families run through the same runner, store and report as classifiers."""

from __future__ import annotations

import json

import pytest

from expunge.experiments import load_config, run_experiment


def test_gan_family_through_the_shared_runner(tmp_path) -> None:
    config = {
        "name": "tiny-gan",
        "family": "gan",
        "dataset": {"name": "gan_modes", "options": {"num_train": 256, "num_test": 128}},
        "split": {"kind": "class", "classes": [1], "train_size": None, "test_size": None, "validation_fraction": 0.1},
        "model": {"name": "mlp_gan", "options": {"arch": "mlp", "latent_dim": 2, "width": 32, "beta1": 0.0, "reference_epochs": 2}},
        "recipe": {"epochs": 8, "lr": 0.001, "batch_size": 64},
        "oracles": 1,
        "seeds": [0],
        "methods": [{"name": "cascade", "unlearner": "gan_cascade", "hyperparams": {"rounds": 1}}, {"name": "finetune", "unlearner": "gan_finetune", "hyperparams": {"steps": 20}}],
        "evaluation": {"metrics": ["gan_class_share"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }
    records = run_experiment(load_config(config))
    runs = [r for r in records if r["method"] != "retrain"]
    assert all(r["status"] == "ok" for r in runs), [r.get("error") for r in runs]
    assert all(r["passes"] > 0 and r["relative_passes"] is not None for r in runs)
    assert all("sample_grid" in r["artifacts"] for r in runs)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Samples" in report and ".png" in report
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["family"] == "gan"


def test_lm_family_through_the_shared_runner(tmp_path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    config = {
        "name": "tiny-lm",
        "family": "lm",
        "dataset": {"name": "authors", "options": {"num_authors": 12}},
        "split": {"kind": "authors", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.0},
        "model": {"name": "mlp", "options": {}},
        "recipe": {"epochs": 2, "lr": 0.003, "batch_size": 16},
        "oracles": 1,
        "seeds": [0],
        "methods": [{"name": "grad_diff", "unlearner": "lm_grad_diff", "hyperparams": {"epochs": 1}}],
        "evaluation": {"metrics": ["lm_perplexity"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }
    records = run_experiment(load_config(config))
    run = next(r for r in records if r["method"] == "grad_diff")
    assert run["status"] == "ok", run.get("error")
    assert run["passes"] > 0 and "ppl_retain" in run
