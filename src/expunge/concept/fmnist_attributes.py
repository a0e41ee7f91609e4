"""Concept labels for Fashion-MNIST: a documented attribute table per class, plus image rules.

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot.

============== ========================================== ===================================
attribute      classes that have it (table)               image rule (where the table says R)
============== ========================================== ===================================
upper_body     T-shirt, Pullover, Dress, Coat, Shirt      --
lower_body     Trouser, Dress                             --
long_sleeves   Pullover, Coat, Shirt (R); T-shirt never   ink in both lower outer columns
short_sleeves  T-shirt                                    --
front_opening  Coat, Shirt                                --
one_piece      Dress                                      --
two_legs       Trouser                                    --
footwear       Sandal, Sneaker, Ankle boot                --
open_toe       Sandal                                     --
low_cut        Sandal, Sneaker                            --
high_ankle     Ankle boot                                 --
handles        Bag                                        (no checkable rule: a loop detector
                                                          fired on 65% of bags and 47-55% of
                                                          sneakers/sandals, so the table stands)
carried        Bag                                        --
============== ========================================== ===================================

The sleeve rule is checked in ``tests/concept`` against the classes whose sleeves are known
(pullovers and coats have long sleeves, T-shirts do not); it decides the attribute for
Pullover, Coat and Shirt images (Shirt is the class where it varies). Shared attributes make donors testable:
T-shirt and Shirt share ``upper_body``; Shirt and Coat share four attributes.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.base import DatasetBundle
from ..data.registry import DATASETS
from ..errors import DataError
from .datasets import ConceptTensorDataset

RULE = "R"  # the attribute is decided per image by a rule in IMAGE_RULES
ATTRIBUTES: dict[str, dict[int, bool | str]] = {
    "upper_body": {0: True, 2: True, 3: True, 4: True, 6: True},
    "lower_body": {1: True, 3: True},
    "long_sleeves": {2: RULE, 4: RULE, 6: RULE},
    "short_sleeves": {0: True},
    "front_opening": {4: True, 6: True},
    "one_piece": {3: True},
    "two_legs": {1: True},
    "footwear": {5: True, 7: True, 9: True},
    "open_toe": {5: True},
    "low_cut": {5: True, 7: True},
    "high_ankle": {9: True},
    "handles": {8: True},
    "carried": {8: True},
}
ATTRIBUTE_NAMES = list(ATTRIBUTES)


def _ink(images: torch.Tensor) -> np.ndarray:
    """Images as (n, 28, 28) arrays in [0, 1] (undoing expunge's standardisation when present)."""
    x = images.detach().cpu().float().reshape(len(images), 28, 28).numpy()
    if x.min() < -0.1:  # standardised with Fashion-MNIST's mean/std
        from ..data.fashion_mnist import MEAN, STD

        x = x * STD + MEAN
    return x


def long_sleeves_rule(images: torch.Tensor) -> np.ndarray:
    """Sleeves hang down the sides: the garment is as wide at rows 18-22 as at the shoulders (rows 5-9), >= 90%.

    Measured on 12k training images: Pullover 99%, Coat 96%, Shirt 72%, T-shirt 18% (the check in tests/concept).
    """
    x = _ink(images) > 0.2

    def width(rows: range) -> np.ndarray:
        w = []
        for r in rows:
            row = x[:, r]
            first, last = np.argmax(row, 1), x.shape[2] - 1 - np.argmax(row[:, ::-1], 1)
            w.append(np.where(row.any(1), last - first + 1, 0))
        return np.mean(w, 0)

    return width(range(18, 23)) >= 0.9 * width(range(5, 10))


IMAGE_RULES = {"long_sleeves": long_sleeves_rule}


def attribute_labels(targets: torch.Tensor | np.ndarray, images: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean ``(n, len(ATTRIBUTE_NAMES))``: the table, with rule attributes decided per image (needs ``images``)."""
    y = np.asarray(targets)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"Fashion-MNIST labels must be in 0..9, got {y.min()}..{y.max()}.")
    out = np.zeros((len(y), len(ATTRIBUTE_NAMES)), dtype=bool)
    for k, name in enumerate(ATTRIBUTE_NAMES):
        rule_rows = np.zeros(len(y), dtype=bool)
        for cls, value in ATTRIBUTES[name].items():
            if value is True:
                out[y == cls, k] = True
            elif value == RULE:
                rule_rows |= y == cls
        if rule_rows.any():
            if images is None:
                out[rule_rows, k] = True  # without images the table's class-level value stands
            else:
                out[rule_rows, k] = IMAGE_RULES[name](images[torch.as_tensor(np.flatnonzero(rule_rows))])
    return torch.from_numpy(out)


def with_attributes(dataset, use_rules: bool = True) -> ConceptTensorDataset:
    """The same tensors (shared) with Fashion-MNIST attribute labels attached."""
    labels = attribute_labels(dataset.targets.numpy(), dataset.inputs if use_rules else None)
    return ConceptTensorDataset(dataset.inputs, dataset.targets, labels, ATTRIBUTE_NAMES)


@DATASETS.register("fashion_mnist_concepts", "Fashion-MNIST with per-image attribute labels (class table + image rules)")
def load_fashion_mnist_concepts(root: str | None = None, download_if_missing: bool = False, use_rules: bool = True) -> DatasetBundle:
    from ..data.fashion_mnist import load_fashion_mnist

    bundle = load_fashion_mnist(root, download_if_missing)
    return DatasetBundle("fashion_mnist_concepts", with_attributes(bundle.train, use_rules), with_attributes(bundle.test, use_rules), bundle.num_classes, bundle.class_names, bundle.source)
