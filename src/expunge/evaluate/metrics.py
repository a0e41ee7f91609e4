"""The per-model evaluation used in every experiment: accuracies and both membership measures."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.base import IndexedTensorDataset
from ..data.splits import ForgetSplit
from .accuracy import Outputs, model_outputs
from .mia import loss_auc, mia_efficacy


@dataclass
class Evaluation:
    """Outputs on each part plus the derived numbers (percent)."""

    forget: Outputs
    retain: Outputs
    test: Outputs
    metrics: dict[str, float]


def evaluate_model(
    model: nn.Module,
    train_set: IndexedTensorDataset,
    test_set: IndexedTensorDataset,
    split: ForgetSplit,
    device: torch.device,
    seed: int = 0,
    mia_max_per_side: int | None = 2000,
) -> Evaluation:
    forget = model_outputs(model, train_set, split.forget, device)
    retain = model_outputs(model, train_set, split.retain, device)
    test = model_outputs(model, test_set, split.test, device)
    metrics = {
        "forget_acc": forget.accuracy(),
        "retain_acc": retain.accuracy(),
        "test_acc": test.accuracy(),
        "mia_efficacy": mia_efficacy(retain.confidences(), test.confidences(), forget.confidences(), seed, mia_max_per_side),
        "mia_auc": loss_auc(forget.losses(), test.losses()),
    }
    return Evaluation(forget, retain, test, metrics)
