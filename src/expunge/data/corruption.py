"""Corrupted training data to purge: injected label noise or a backdoor trigger.

The forget set is drawn by any split builder (e.g. ``iid`` with ``fraction=0.05``); the
corruption is then applied to exactly those training examples, the original is trained on
the corrupted data, and unlearning must remove the corruption. What matters is reported:
accuracy on the clean test set and, for a backdoor, the attack success rate (share of
triggered test images of other classes classified as the target class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from ..registry import Registry
from .base import DatasetBundle, IndexedTensorDataset

CORRUPTIONS: Registry = Registry("corruption", entry_point_group="expunge.corruptions")


@dataclass
class Corrupted:
    """The corrupted bundle and a function computing the corruption-specific metrics (percent)."""

    bundle: DatasetBundle
    metrics: Callable[[nn.Module, torch.device], dict[str, float]]
    description: str


def _copy_with(bundle: DatasetBundle, inputs: torch.Tensor, targets: torch.Tensor, tag: str) -> DatasetBundle:
    return DatasetBundle(f"{bundle.name}+{tag}", IndexedTensorDataset(inputs, targets), bundle.test, bundle.num_classes, bundle.class_names, bundle.source)


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    was = model.training
    model.eval()
    out = torch.cat([model(x[i : i + 1024].to(device)).argmax(1).cpu() for i in range(0, len(x), 1024)])
    model.train(was)
    return out


def _clean_accuracy(bundle: DatasetBundle, test_idx: np.ndarray) -> Callable[[nn.Module, torch.device], float]:
    x, y = bundle.test.inputs[test_idx], bundle.test.targets[test_idx]
    return lambda model, device: float((_predict(model, x, device) == y).float().mean()) * 100


@CORRUPTIONS.register("label_noise", "flip the forget set's labels to a random other class (mislabeled data)")
def label_noise(bundle: DatasetBundle, forget: np.ndarray, test_idx: np.ndarray, seed: int = 0, **_: Any) -> Corrupted:
    gen = torch.Generator().manual_seed(seed)
    targets = bundle.train.targets.clone()
    idx = torch.as_tensor(forget)
    shift = torch.randint(1, bundle.num_classes, (len(idx),), generator=gen)
    targets[idx] = (targets[idx] + shift) % bundle.num_classes  # never the true label
    clean = _clean_accuracy(bundle, test_idx)
    return Corrupted(_copy_with(bundle, bundle.train.inputs, targets, "label_noise"), lambda m, d: {"clean_test_acc": clean(m, d)}, f"{len(idx)} labels flipped")


def stamp(x: torch.Tensor, size: int, value: float) -> torch.Tensor:
    """A bright square in the bottom-right corner of every image: the trigger."""
    x = x.clone()
    x[..., -size:, -size:] = value
    return x


@CORRUPTIONS.register("backdoor", "stamp a trigger patch on the forget set and relabel it to a target class (BadNets)")
def backdoor(bundle: DatasetBundle, forget: np.ndarray, test_idx: np.ndarray, seed: int = 0, target: int = 0, patch: int = 3, **_: Any) -> Corrupted:
    if not 0 <= target < bundle.num_classes:
        raise DataError(f"backdoor target {target} is not a class index (0..{bundle.num_classes - 1}).")
    if bundle.train.inputs.ndim < 3:
        raise DataError("the backdoor corruption stamps image patches; it needs image inputs [N, C, H, W].")
    value = float(bundle.train.inputs.max())
    inputs, targets = bundle.train.inputs.clone(), bundle.train.targets.clone()
    idx = torch.as_tensor(forget)
    inputs[idx] = stamp(inputs[idx], patch, value)
    targets[idx] = target
    clean = _clean_accuracy(bundle, test_idx)
    others = test_idx[bundle.test.targets[test_idx].numpy() != target]
    triggered = stamp(bundle.test.inputs[others], patch, value)

    def metrics(model: nn.Module, device: torch.device) -> dict[str, float]:
        success = float((_predict(model, triggered, device) == target).float().mean()) * 100
        return {"clean_test_acc": clean(model, device), "backdoor_success": success}

    return Corrupted(_copy_with(bundle, inputs, targets, f"backdoor{target}"), metrics, f"{len(idx)} examples triggered -> class {target}")


def corrupt(name: str, bundle: DatasetBundle, forget: np.ndarray, test_idx: np.ndarray, **options: Any) -> Corrupted:
    return CORRUPTIONS.get(name)(bundle, forget, test_idx, **options)
