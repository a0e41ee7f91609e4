"""``output_mask``: the trivial class-unlearning baseline (logit suppression).

The target class's row of the classifier is zeroed and its bias set to ``-suppression``
(default -1e4), so its logit is a constant far below every other logit: the class is never
predicted and no other logit changes. It reads no data and edits one row, so it meets the
output-level targets (target accuracy 0, other classes untouched) at no cost, while every
feature of the model is exactly the original's. Every class-unlearning method must be
compared with it on measures the output layer cannot fake (``expunge.evaluate.class_forgetting``:
relearn attack, feature probes, distance to the oracle).

Why a very low finite bias and not -inf: the model stays a plain ``nn.Module`` with finite
outputs, so losses, log-probabilities and the loss MIA (Fs) stay defined. The target never
wins as long as every other logit is above ``-suppression``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from .base import UNLEARNERS, UnlearningTask


def classifier_layer(model: nn.Module) -> tuple[str, nn.Linear]:
    """The last ``nn.Linear`` in module order (the output layer)."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear output layer; output_mask needs one.")
    return found[-1]


def forget_class(task: UnlearningTask, method: str) -> int:
    """The single class to forget, checked against the task (a clear ConfigError otherwise)."""
    classes = task.forget_classes
    if not classes:
        raise ConfigError(f"{method} unlearns a class: use split.kind=class with split.classes=[c] (the task names no class).")
    if len(classes) != 1:
        raise ConfigError(f"{method} forgets exactly one class per run; split.classes has {len(classes)} ({list(classes)}).")
    return int(classes[0])


def check_class(model: nn.Module, target: int, method: str) -> None:
    _, layer = classifier_layer(model)
    if not 0 <= target < layer.out_features:
        raise ConfigError(f"{method}: class {target} is not an output of the model (it has classes 0..{layer.out_features - 1}).")


@torch.no_grad()
def mask_logit(model: nn.Module, target: int, suppression: float = 1e4) -> nn.Module:
    """Zero the target row of the classifier and set its bias to ``-suppression`` (in place)."""
    check_class(model, target, "output_mask")
    _, layer = classifier_layer(model)
    layer.weight[target].zero_()
    if layer.bias is None:
        layer.bias = nn.Parameter(torch.zeros(layer.out_features, device=layer.weight.device, dtype=layer.weight.dtype))
    layer.bias[target] = -float(suppression)
    return model


@UNLEARNERS.register("output_mask", "trivial baseline: the target logit is suppressed (row zeroed, bias -1e4); reads no data, changes no feature")
@dataclass
class OutputMask:
    """Logit suppression: the floor every class-unlearning method must beat on relearn / probe metrics."""

    suppression: float = hp(1e4, low=10.0, doc="the target logit becomes -suppression (row zeroed); large enough that it never wins")
    name: str = "output_mask"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        target = forget_class(task, self.name)
        mask_logit(model, target, self.suppression)
        task.notes.update(edited=f"{classifier_layer(model)[0]} row {target} and bias")
        return model
