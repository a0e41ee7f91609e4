"""Stage 1, prepare data: the dataset, the forget split, the corruption, the class task's unseen images."""

from __future__ import annotations

from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import (
    DatasetBundle,
    ForgetSplit,
    adapters,  # noqa: F401  (registers the "tensors" dataset: the user's own data from a file)
    build_split,
    corrupt,
    load_dataset,
)
from ..data.splits import read_indices
from ..errors import ConfigError
from ..family import FamilyData
from .config import ExperimentConfig


def make_split(config: ExperimentConfig, bundle: DatasetBundle) -> ForgetSplit:
    """The configured builder, a forget-index file, or a saved split folder."""
    s = config.split
    if s.indices_file:
        path = Path(s.indices_file).expanduser()
        if path.is_dir():
            return ForgetSplit.load(path)
        return ForgetSplit.from_forget_indices(read_indices(path), len(bundle.train), len(bundle.test), description=f"forget indices from {path}")
    options: dict[str, Any] = {"fraction": s.fraction, **s.options}
    if s.classes is not None:
        options["classes"] = s.classes
    return build_split(s.kind, bundle.train_targets(), len(bundle.test), s.seed, s.train_size, s.test_size, s.validation_fraction, inputs=bundle.train.inputs, **options)


def forget_classes(config: ExperimentConfig, bundle: DatasetBundle) -> list[int] | None:
    """The classes a class-unlearning task removes (None for example unlearning)."""
    if config.split.kind != "class":
        return None
    classes = list(config.split.classes or [])
    if not classes:
        raise ConfigError("split.kind=class needs split.classes, e.g. split.classes=[3].")
    bad = [c for c in classes if not 0 <= c < bundle.num_classes]
    if bad:
        raise ConfigError(f"split.classes {bad} not in the dataset: {bundle.name} has classes 0..{bundle.num_classes - 1}.")
    return classes


def carve_analysis(split: ForgetSplit, bundle: DatasetBundle, classes: list[int], n_class: int, n_other: int, seed: int) -> tuple[ForgetSplit, np.ndarray, np.ndarray]:
    """Move ``n_class`` test images of the forgotten classes (and ``n_other`` of the others) out of the test split.

    Training-free methods read only these unseen images; removing them from ``split.test``
    keeps every test metric on images no method has seen.
    """
    rng = np.random.default_rng(seed)
    labels = bundle.test.targets.numpy()[split.test]
    own, others = split.test[np.isin(labels, classes)], split.test[~np.isin(labels, classes)]
    if n_class > len(own) - 2:
        raise ConfigError(f"split.analysis_images={n_class} but the test split holds only {len(own)} images of classes {classes}; lower it or raise split.test_size.")
    if n_other > len(others):
        raise ConfigError(f"split.analysis_other={n_other} exceeds the {len(others)} other-class test images.")
    analysis = np.sort(rng.choice(own, n_class, replace=False)) if n_class else np.zeros(0, dtype=np.int64)
    other = np.sort(rng.choice(others, n_other, replace=False)) if n_other else np.zeros(0, dtype=np.int64)
    rest = np.setdiff1d(split.test, np.union1d(analysis, other))
    return dc_replace(split, test=rest), analysis, other


def load_task_data(config: ExperimentConfig) -> FamilyData:
    """Dataset, split and the extras metrics and unlearners may read (``forget_classes``, analysis images, corruption metrics)."""
    bundle = load_dataset(config.dataset.name, **config.dataset.options)
    split = make_split(config, bundle)
    extras: dict[str, Any] = {}
    if config.split.corruption:
        options = {k: v for k, v in config.split.corruption.items() if k != "name"}
        corrupted = corrupt(config.split.corruption["name"], bundle, split.forget, split.test, **{"seed": config.split.seed, **options})
        bundle = corrupted.bundle
        extras["corruption_metrics"] = corrupted.metrics
    classes = forget_classes(config, bundle)
    if classes is not None:
        extras["forget_classes"] = classes
        n_class, n_other = config.split.analysis_images, config.split.analysis_other
        if n_class or n_other:
            split, analysis, other = carve_analysis(split, bundle, classes, n_class, n_other, config.split.seed)
            extras["analysis_indices"], extras["other_indices"] = analysis, other
            extras["analysis_images"] = bundle.test.inputs[torch.as_tensor(analysis)] if len(analysis) else None
            extras["other_images"] = (bundle.test.inputs[torch.as_tensor(other)], bundle.test.targets[torch.as_tensor(other)]) if len(other) else None
    return FamilyData(bundle, split, extras)
