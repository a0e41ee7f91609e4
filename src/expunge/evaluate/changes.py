"""Fraction of scalar parameters whose value changed: measured by comparing tensors, never read from a mask."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


@torch.no_grad()
def changed_fraction(before: Mapping[str, torch.Tensor], after: nn.Module) -> float:
    changed = total = 0
    for name, param in after.named_parameters():
        old = before[name].to(param.device)
        changed += int((param != old).sum())
        total += param.numel()
    return changed / total if total else 0.0


@torch.no_grad()
def changed_by_layer(before: Mapping[str, torch.Tensor], after: nn.Module) -> dict[str, float]:
    return {n: float((p != before[n].to(p.device)).float().mean()) for n, p in after.named_parameters()}
