"""Model outputs on a data part, and the per-example quantities metrics are built from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import nn

from ..data.base import IndexedTensorDataset, TensorBatches
from ..utils import eval_mode

if TYPE_CHECKING:
    from .registry import EvalContext


@dataclass
class Outputs:
    """Logits and labels of one model on one data part (CPU, float32)."""

    logits: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def accuracy(self) -> float:
        """Top-1 accuracy in percent."""
        return accuracy(self.logits, self.labels)

    def losses(self) -> np.ndarray:
        return per_example_loss(self.logits, self.labels)

    def confidences(self) -> np.ndarray:
        return true_class_probability(self.logits, self.labels)

    def probabilities(self) -> np.ndarray:
        return torch.softmax(self.logits.double(), dim=1).numpy()


@torch.no_grad()
def model_outputs(model: nn.Module, dataset: IndexedTensorDataset, indices: np.ndarray, device: torch.device, batch_size: int = 1024) -> Outputs:
    """Logits in eval mode for ``dataset[indices]``, in the order of ``indices``."""
    logits, labels = [], []
    with eval_mode(model):
        for x, y, _ in TensorBatches(dataset, indices, batch_size=batch_size):
            logits.append(model(x.to(device)).float().cpu())
            labels.append(y)
    if not logits:
        return Outputs(torch.empty(0, 0), torch.empty(0, dtype=torch.long))
    return Outputs(torch.cat(logits), torch.cat(labels))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        return float("nan")
    return float((logits.argmax(dim=1) == labels).float().mean()) * 100.0


def per_example_loss(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    return nn.functional.cross_entropy(logits.double(), labels, reduction="none").numpy()


def true_class_probability(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Softmax probability of the true class: SalUn's MIA 'confidence' feature."""
    return torch.softmax(logits.double(), dim=1).gather(1, labels[:, None]).squeeze(1).numpy()


@dataclass
class PartAccuracy:
    """Forget / retain / test accuracy (FA, RA, TA) in percent: the ``accuracy`` metric."""

    needs: ClassVar[frozenset[str]] = frozenset({"train_set", "test_set", "split"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        return {f"{part}_acc": ctx.outputs(model, part).accuracy() for part in ("forget", "retain", "test")}
