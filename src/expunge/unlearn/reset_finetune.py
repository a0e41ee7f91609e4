"""DEL's unlearning algorithm: reset the masked entries, then finetune only them on the retain set.

Faithful to the official code (specs/del.md section 2): masked entries are replaced by a
*fresh* random initialization of the same architecture (not zero, not the pretraining
init); the classifier layer's gradient is fully open while only its masked entries are
reset; BatchNorm running statistics are kept and then updated in train mode.

Variants aimed at the cost/quality frontier (``expunge frontier``; docs/methods/del.md). Each is
an option whose default is the faithful algorithm, so ``ResetFinetune()`` behaves bit-identically
to the paper's code path:

- ``reset``: ``original_init`` (the original's own initialization), ``shrink_perturb``
  (θ ← shrink·θ + noise·θ_fresh on the masked entries, Ash & Adams 2020), ``zero``, ``perturb``.
- ``bn_recompute``: after the reset, BatchNorm running statistics are recomputed on the retain
  set (forward passes only, counted as such) instead of carrying the original's.
- ``reset_lr_scale``: layer-wise learning rates: the gradient of reset entries is multiplied by
  this factor (reset entries run hotter than the opened classifier and, with ``unmask_after``,
  than the untouched entries).
- ``unmask_after``: an α schedule: the update mask is the localized α for this many epochs, then
  every parameter may move (α → 1): reset a larger α, recover faster.
- ``distill_weight``: recover by distillation from the original on retain examples only.
- The per-layer budget is a property of the mask: ``budget: per_layer`` in the method config.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..cost import count as count_passes
from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from ..models import classifier_parameter_names
from ..train import Batch, LossFn
from .base import UNLEARNERS, UnlearningTask
from .finetune import Finetune


def _fresh(model: nn.Module, task: UnlearningTask, settings: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu") for n, p in task.fresh_model(task.seeds.fresh_init(task.seed)).named_parameters()}


def _zero(model: nn.Module, task: UnlearningTask, settings: Any) -> dict[str, torch.Tensor]:
    return {n: torch.zeros_like(p, device="cpu") for n, p in model.named_parameters()}


def _original_init(model: nn.Module, task: UnlearningTask, settings: Any) -> dict[str, torch.Tensor]:
    if task.original_init is None:
        raise ConfigError("reset='original_init' needs the original model's initialization; train the original with expunge (it is cached).")
    return {n: task.original_init[n] for n, _ in model.named_parameters()}


def _perturb(model: nn.Module, task: UnlearningTask, settings: Any) -> dict[str, torch.Tensor]:
    """The old DEL code's 'perturb' reset: (1 - noise) * θ + noise * N(0, 1)."""
    noise = settings.noise
    gen = torch.Generator().manual_seed(task.seeds.perturbation(task.seed))
    return {n: (1 - noise) * p.detach().cpu() + noise * torch.randn(p.shape, generator=gen) for n, p in model.named_parameters()}


def _shrink_perturb(model: nn.Module, task: UnlearningTask, settings: Any) -> dict[str, torch.Tensor]:
    """Shrink-and-perturb (Ash & Adams 2020): shrink·θ + noise·θ_fresh, θ_fresh a fresh initialization
    (so the noise has each tensor's own init scale; 1-D BatchNorm scales shrink towards 0 and get +noise)."""
    fresh = _fresh(model, task, settings)
    return {n: settings.shrink * p.detach().cpu() + settings.noise * fresh[n] for n, p in model.named_parameters()}


RESETS: dict[str, Callable[[nn.Module, UnlearningTask, Any], dict[str, torch.Tensor]]] = {
    "fresh": _fresh,
    "zero": _zero,
    "original_init": _original_init,
    "perturb": _perturb,
    "shrink_perturb": _shrink_perturb,
}


@torch.no_grad()
def reset_masked(model: nn.Module, mask: Mask, values: dict[str, torch.Tensor]) -> None:
    """θ ← θ·(1−m) + values·m for every tensor in the mask."""
    for name, param in model.named_parameters():
        if name in mask.entries:
            entry = mask[name].to(param.device)
            param.copy_(torch.where(entry, values[name].to(param.device, param.dtype), param))


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, task: UnlearningTask, batch_size: int) -> int:
    """Running mean/var of every BatchNorm layer re-estimated on one pass over the retain set
    (cumulative average, no gradient, weights untouched); returns the number of examples seen."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the whole pass
    was_training = model.training
    model.train()
    seen = 0
    try:
        for batch in task.batches("retain", batch_size, seed_offset=4)(0):
            x = batch[0].to(task.device)
            model(x)
            count_passes(len(x), backward=False)
            seen += len(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)
    return seen


@UNLEARNERS.register("reset_finetune", "DEL's algorithm: reset masked entries to a fresh init, finetune them on the retain set")
@dataclass
class ResetFinetune(Finetune):
    reset: str = hp("fresh", choices=tuple(RESETS), doc="what masked entries are reset to (fresh = DEL's code)")
    noise: float = hp(0.5, low=0.0, high=1.0, doc="reset=perturb: (1 - noise)·θ + noise·N(0, 1); reset=shrink_perturb: weight of the fresh init")
    shrink: float = hp(0.5, low=0.0, high=1.0, doc="only for reset=shrink_perturb: θ ← shrink·θ + noise·θ_fresh")
    open_classifier: bool = True
    distill_weight: float = hp(0.0, low=0.0, high=1.0, doc="> 0: recover by distillation from the original on the retain set (a variant, not the paper)")
    distill_temperature: float = hp(4.0, low=0.0, low_open=True)
    bn_recompute: bool = hp(False, doc="recompute BatchNorm running statistics on the retain set right after the reset (a variant)")
    reset_lr_scale: float = hp(1.0, low=0.0, low_open=True, high=100.0, doc="gradient multiplier of the reset entries: layer-wise learning rates, reset entries hotter (a variant)")
    unmask_after: int = hp(-1, low=-1, doc="α schedule: after this many epochs every parameter may move (-1 = never, DEL; 0 = from the start)")
    name: str = "reset_finetune"

    def is_faithful(self) -> bool:
        """True when no variant option departs from DEL's code path (the reset kind aside)."""
        return not self.bn_recompute and self.reset_lr_scale == 1.0 and self.unmask_after < 0

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        if mask is None:
            raise ConfigError("reset_finetune needs a mask; pair it with a localizer (e.g. localizer=del).")
        if self.reset not in RESETS:
            raise ConfigError(f"reset {self.reset!r} unknown; choose one of {sorted(RESETS)}.")
        if self.unmask_after > 0 and self.weight_decay > 0:
            raise ConfigError("reset_finetune: unmask_after > 0 with weight_decay > 0 would decay entries outside the mask before they are opened; set weight_decay=0.")
        mask.check_matches(model)
        loss_fn = task.loss_fn
        if self.distill_weight > 0:
            loss_fn = distillation_loss(copy.deepcopy(model).eval(), task.loss_fn, self.distill_weight, self.distill_temperature)
        reset_masked(model, mask, RESETS[self.reset](model, task, self))
        if self.bn_recompute:
            model.to(task.device)
            task.notes["bn_recompute_examples"] = recompute_batchnorm(model, task, self.batch_size)
        if task.epoch_callback is not None:
            task.epoch_callback(-1, model)  # the recovery curve's starting point, right after the reset
        update_mask = mask.with_open(classifier_parameter_names(model), model) if self.open_classifier else mask
        if self.is_faithful():
            return self.finetune(model, task, update_mask, loss_fn)
        return self._finetune_variant(model, task, mask, update_mask, loss_fn)

    def _finetune_variant(self, model: nn.Module, task: UnlearningTask, reset_mask: Mask, update_mask: Mask, loss_fn: LossFn) -> nn.Module:
        """The masked finetune with per-entry gradient scales (hotter reset entries) and an α schedule.

        Gradient hooks run inside ``backward()``, before the shared ``MaskedUpdate`` (which then
        applies the update mask, or none once ``unmask_after`` opens every parameter). Until then,
        entries outside the update mask get a zero gradient, so neither SGD nor its momentum moves them.
        """
        model.to(task.device)
        state = {"epoch": 0}
        scale = float(self.reset_lr_scale)
        opening = self.unmask_after >= 0
        handles = []
        for name, param in model.named_parameters():
            reset_entry = reset_mask.entries.get(name)
            gate = update_mask.entries.get(name)
            factor = None
            if scale != 1.0 and reset_entry is not None and bool(reset_entry.any()):
                factor = 1.0 + (scale - 1.0) * reset_entry.to(param.device, param.dtype)
            closed = None
            if opening and (gate is None or not bool(gate.all())):
                closed = gate.to(param.device, param.dtype) if gate is not None else torch.zeros_like(param)
            if factor is None and closed is None:
                continue

            def hook(grad: torch.Tensor, factor: torch.Tensor | None = factor, closed: torch.Tensor | None = closed) -> torch.Tensor:
                if closed is not None and state["epoch"] < self.unmask_after:
                    grad = grad * closed
                return grad * factor if factor is not None else grad

            handles.append(param.register_hook(hook))
        outer = task.epoch_callback

        def on_epoch(epoch: int, current: nn.Module) -> None:
            state["epoch"] = epoch + 1
            if outer is not None:
                outer(epoch, current)

        task.epoch_callback = on_epoch
        try:
            self.finetune(model, task, None if opening else update_mask, loss_fn)
        finally:
            task.epoch_callback = outer
            for handle in handles:
                handle.remove()
        task.notes.update(reset_lr_scale=scale, unmask_after=self.unmask_after)
        return model


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
