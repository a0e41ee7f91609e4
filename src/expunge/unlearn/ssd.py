"""Selective Synaptic Dampening (Foster et al., AAAI 2024): no training, one multiplicative edit.

Importances are diagonal Fishers (mean squared batch gradient, eval mode) on the forget set,
I_F, and on the training set (forget ∪ retain), I_D. Every entry with ``I_F > α·I_D`` is
multiplied by ``min(1, λ·I_D / I_F)``; all others stay as they are. The edit is applied as a
gradient step of size 1 through ``MaskedUpdate``, so with a mask only masked entries change
(entries outside it are bit-identical).

Defaults (Fashion-MNIST preset): λ = 1, α = 1, DEL's CIFAR-10 IID values (``PAPER_SCALE_DEFAULTS``
also holds its non-IID α = 16). On the quick demo pool (IID, one seed) α = 1 gives forget 88.4 /
retain 88.4 / test 75.1 (oracle 85 / 98 / 83); α = 2 or more barely changes the model, and
Foster et al.'s α = 10 changes nothing there: an IID forget set is rarely 10x more important.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..hparams import hp
from ..localize.ssd_importance import diagonal_fisher
from ..masked_update import MaskedUpdate
from ..masks import Mask
from ..train import TrainingDiverged, epoch_batches
from .base import UNLEARNERS, UnlearningTask

PAPER_SCALE_DEFAULTS: dict[str, dict[str, Any]] = {
    # DEL's code comments (specs/del.md section 8), CIFAR-10 / ResNet-18.
    "ssd": {"dampening": 1.0, "selection": 1.0},  # IID forget set
    "ssd/non_iid": {"dampening": 1.0, "selection": 16.0},
}


def dampening_factors(forget: dict[str, torch.Tensor], train: dict[str, torch.Tensor], selection: float, dampening: float) -> dict[str, torch.Tensor]:
    """Per entry: ``min(1, λ·I_D/I_F)`` where ``I_F > α·I_D``, else exactly 1."""
    factors = {}
    for name, i_f in forget.items():
        i_d = train[name]
        selected = i_f > selection * i_d
        ratio = (dampening * i_d / torch.where(selected, i_f, torch.ones_like(i_f))).clamp(max=1.0)
        factors[name] = torch.where(selected, ratio, torch.ones_like(i_f))
    return factors


@UNLEARNERS.register("ssd", "SSD: dampen weights far more important to the forget set than to the training set (Foster et al., AAAI 2024)")
@dataclass
class SelectiveSynapticDampening:
    """θ ← θ·min(1, λ·I_D/I_F) wherever I_F > α·I_D; no gradient training."""

    dampening: float = hp(1.0, low=0.0, low_open=True)  # λ
    selection: float = hp(1.0, low=0.0, low_open=True)  # α
    batch_size: int = hp(128, low=1)
    name: str = "ssd"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if self.dampening <= 0 or self.selection <= 0:
            raise ConfigError(f"ssd needs positive dampening (λ) and selection (α), got λ={self.dampening}, α={self.selection}.")
        model.to(task.device)
        forget = task.batches("forget", self.batch_size, seed_offset=2)(0)
        pool = np.union1d(task.split.forget, task.split.retain)
        train = epoch_batches(task.train_set, pool, self.batch_size, task.stream(4))(0)
        factors = dampening_factors(diagonal_fisher(model, task.loss_fn, forget), diagonal_fisher(model, task.loss_fn, train), self.selection, self.dampening)
        changed = apply_factors(model, factors, mask)
        if task.epoch_callback is not None:
            task.epoch_callback(0, model)
        task.notes.update(dampened=changed, dampened_fraction=changed / max(sum(p.numel() for p in model.parameters()), 1))
        return model


@torch.no_grad()
def apply_factors(model: nn.Module, factors: dict[str, torch.Tensor], mask: Mask | None) -> int:
    """θ ← θ·factor as the step θ ← θ − θ·(1 − factor), masked by ``MaskedUpdate``; returns entries changed."""
    update = MaskedUpdate(model, mask)
    allowed = {id(p) for p in update.parameters()}
    named = [(n, p) for n, p in model.named_parameters() if id(p) in allowed]
    for name, param in named:
        param.grad = param.detach() * (1.0 - factors[name])
        if not torch.isfinite(param.grad).all():
            raise TrainingDiverged(f"ssd: the dampening of {name} is not finite; the Fisher importances overflowed (check the model and loss).")
    update.apply()
    changed = 0
    for _, param in named:
        changed += int((param.grad != 0).sum())
        param.sub_(param.grad)
        param.grad = None
    return changed
