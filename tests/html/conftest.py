"""A tiny real frontier (with an ε pool) and a plain run on the same data, built once for the HTML tests."""

from __future__ import annotations

import pytest


def tiny_config(root, out, methods, seeds=(0, 1)):
    return {
        "name": out,
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 120, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.1},
        "model": {"name": "mlp", "options": {"hidden": [16]}},
        "recipe": {"epochs": 4, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": list(seeds),
        "methods": methods,
        "cache_dir": str(root / "cache"),
        "out": str(root / "runs" / out),
        "quiet": True,
    }


FINETUNE = {"name": "finetune", "hyperparams": {"lr": 0.05}}
DEL = {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"lr": 0.05}}
RANDOM = {"name": "random-mask", "localizer": "random", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"lr": 0.05}}
BUDGETS = [0.25, 0.5]


@pytest.fixture(scope="package")
def tiny_runs(tmp_path_factory):
    """runs/frontier (2 methods × 2 budgets + retrain, a 4-model pool at 0.5) and runs/plain (3 methods), same data."""
    from expunge.experiments import load_config, run_experiment
    from expunge.experiments.frontier import run_frontier

    root = tmp_path_factory.mktemp("html")
    run_frontier(load_config(tiny_config(root, "frontier", [FINETUNE, DEL])), BUDGETS, pool=4, pool_budgets=[0.5], pool_methods=["finetune"])
    run_experiment(load_config(tiny_config(root, "plain", [FINETUNE, DEL, RANDOM])))
    return root / "runs"


@pytest.fixture(scope="package")
def tiny_class_run(tmp_path_factory):
    """Class removal of class 1 (finetune, output_mask) with the class metric set: relearn, probe and verdicts."""
    from expunge.experiments import load_config, run_experiment

    root = tmp_path_factory.mktemp("html-class")
    config = tiny_config(root, "class", [FINETUNE, {"name": "output_mask", "unlearner": "output_mask"}], seeds=(0,))
    config.update(split={"kind": "class", "classes": [1]}, evaluation={"metrics": ["class"]}, oracles=3)
    run_experiment(load_config(config))
    return root / "runs"
