"""Bad inputs from issue 24, each with the words its error must contain (shared by the loader and CLI tests)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from expunge.experiments.config import set_path


def valid_config(tmp_path: Path) -> dict[str, Any]:
    """A tiny classifier config that validates (synthetic data, so nothing is read from disk)."""
    return {
        "name": "tiny",
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 120, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.05},
        "model": {"name": "resnet_small", "options": {"width": 4}},
        "recipe": {"epochs": 2, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": [0, 1],
        "methods": [
            {"name": "finetune", "hyperparams": {"epochs": 1, "lr": 0.01}},
            {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"epochs": 1}},
        ],
        "device": "cpu",
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }


def mutate(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with the dotted ``path`` set to ``value`` (the override mechanism's own ``set_path``)."""
    config = copy.deepcopy(config)
    set_path(config, path.split("."), value)
    return config


NAN, INF = float("nan"), float("inf")

# (id, dotted key, bad value, words the one-line error must contain)
BAD_VALUES: list[tuple[str, str, Any, list[str]]] = [
    ("empty-methods", "methods", [], ["methods is empty"]),
    ("duplicate-seeds", "seeds", [0, 1, 0], ["seeds", "more than once"]),
    ("nan-hyperparameter", "methods.0.hyperparams.lr", NAN, ["methods.0.hyperparams.lr", "finite"]),
    ("inf-hyperparameter", "methods.0.hyperparams.lr", INF, ["methods.0.hyperparams.lr", "finite"]),
    ("inf-recipe-lr", "recipe.lr", INF, ["recipe.lr", "finite"]),
    ("nan-recipe-momentum", "recipe.momentum", NAN, ["recipe.momentum", "finite"]),
    ("nan-alpha", "methods.1.alpha", NAN, ["methods.1.alpha", "finite"]),
    ("nan-split-fraction", "split.fraction", NAN, ["split.fraction"]),
    ("split-fraction-above-one", "split.fraction", 1.5, ["split.fraction must lie in (0, 1)"]),
    ("split-fraction-zero", "split.fraction", 0.0, ["split.fraction must lie in (0, 1)"]),
    ("validation-fraction-one", "split.validation_fraction", 1.0, ["split.validation_fraction"]),
    ("train-size-zero", "split.train_size", 0, ["split.train_size"]),
    ("device-cuda-7", "device", "cuda:7", ["device", "cuda:7", "available"]),
    ("device-mps", "device", "mps", ["device", "mps"]),
    ("device-garbage", "device", "tpu9", ["device", "tpu9"]),
    ("unknown-top-key", "epochz", 3, ["epochz"]),
    ("unknown-hyperparameter", "methods.0.hyperparams.lrr", 0.1, ["methods.0.hyperparams.lrr", "did you mean"]),
    ("string-for-int", "recipe.epochs", "ten", ["recipe.epochs", "integer"]),
    ("unknown-unlearner", "methods.0.name", "nope", ["methods.0.name", "nope"]),
    ("unknown-dataset", "dataset.name", "imagenet", ["dataset.name", "imagenet"]),
    ("oracles-zero", "oracles", 0, ["oracles"]),
]


def fashion_mnist_config(tmp_path: Path, **split: Any) -> dict[str, Any]:
    config = valid_config(tmp_path)
    config["dataset"] = {"name": "fashion_mnist"}
    config["split"].update(split)
    return config
