"""DEL's unlearning algorithm: reset the masked entries, then finetune only them on the retain set.

Faithful to the official code (specs/del.md section 2): masked entries are replaced by a
*fresh* random initialization of the same architecture (not zero, not the pretraining
init); the classifier layer's gradient is fully open while only its masked entries are
reset; BatchNorm running statistics are kept and then updated in train mode.
"""

from __future__ import annotations

from dataclasses import dataclass
import copy
from typing import Callable

import torch
from torch import nn

from ..hparams import hp
from ..errors import ConfigError
from ..masks import Mask
from ..models import classifier_parameter_names
from ..train import Batch, LossFn
from .base import UNLEARNERS, UnlearningTask
from .finetune import Finetune


def _fresh(model: nn.Module, task: UnlearningTask, noise: float) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu") for n, p in task.fresh_model(task.seeds.fresh_init(task.seed)).named_parameters()}


def _zero(model: nn.Module, task: UnlearningTask, noise: float) -> dict[str, torch.Tensor]:
    return {n: torch.zeros_like(p, device="cpu") for n, p in model.named_parameters()}


def _original_init(model: nn.Module, task: UnlearningTask, noise: float) -> dict[str, torch.Tensor]:
    if task.original_init is None:
        raise ConfigError("reset='original_init' needs the original model's initialization; train the original with expunge (it is cached).")
    return {n: task.original_init[n] for n, _ in model.named_parameters()}


def _perturb(model: nn.Module, task: UnlearningTask, noise: float) -> dict[str, torch.Tensor]:
    """The old DEL code's 'perturb' reset: (1 - noise) * θ + noise * N(0, 1)."""
    gen = torch.Generator().manual_seed(task.seeds.perturbation(task.seed))
    return {n: (1 - noise) * p.detach().cpu() + noise * torch.randn(p.shape, generator=gen) for n, p in model.named_parameters()}


RESETS: dict[str, Callable[[nn.Module, UnlearningTask, float], dict[str, torch.Tensor]]] = {
    "fresh": _fresh,
    "zero": _zero,
    "original_init": _original_init,
    "perturb": _perturb,
}


@torch.no_grad()
def reset_masked(model: nn.Module, mask: Mask, values: dict[str, torch.Tensor]) -> None:
    """θ ← θ·(1−m) + values·m for every tensor in the mask."""
    for name, param in model.named_parameters():
        if name in mask.entries:
            entry = mask[name].to(param.device)
            param.copy_(torch.where(entry, values[name].to(param.device, param.dtype), param))


@UNLEARNERS.register("reset_finetune", "DEL's algorithm: reset masked entries to a fresh init, finetune them on the retain set")
@dataclass
class ResetFinetune(Finetune):
    reset: str = hp("fresh", choices=("fresh", "zero", "original_init", "perturb"), doc="what masked entries are reset to")
    noise: float = hp(0.5, low=0.0, high=1.0, doc="only for reset=perturb: (1 - noise) * θ + noise * N(0, 1)")
    open_classifier: bool = True
    distill_weight: float = hp(0.0, low=0.0, high=1.0)  # > 0: recover by distillation from the original on the retain set (a variant, not the paper)
    distill_temperature: float = hp(4.0, low=0.0, low_open=True)
    name: str = "reset_finetune"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if mask is None:
            raise ConfigError("reset_finetune needs a mask; pair it with a localizer (e.g. localizer=del).")
        if self.reset not in RESETS:
            raise ConfigError(f"reset {self.reset!r} unknown; choose one of {sorted(RESETS)}.")
        mask.check_matches(model)
        loss_fn = task.loss_fn
        if self.distill_weight > 0:
            loss_fn = distillation_loss(copy.deepcopy(model).eval(), task.loss_fn, self.distill_weight, self.distill_temperature)
        reset_masked(model, mask, RESETS[self.reset](model, task, self.noise))
        if task.epoch_callback is not None:
            task.epoch_callback(-1, model)  # the recovery curve's starting point, right after the reset
        update_mask = mask.with_open(classifier_parameter_names(model), model) if self.open_classifier else mask
        return self.finetune(model, task, update_mask, loss_fn)


def distillation_loss(teacher: nn.Module, base: LossFn, weight: float, temperature: float) -> LossFn:
    """(1 − w)·base + w·T²·KL(teacher_T ‖ student_T): pulls the reset model back toward the
    original's retain-set outputs, which may restore oracle-like confidence faster than CE alone."""
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        with torch.no_grad():
            target = torch.log_softmax(teacher(batch[0]) / temperature, dim=1)
        student = torch.log_softmax(model(batch[0]) / temperature, dim=1)
        kl = nn.functional.kl_div(student, target, log_target=True, reduction="batchmean")
        return (1 - weight) * base(model, batch) + weight * temperature**2 * kl

    return loss
