"""Gradient-based localizers: DEL's criterion family and SalUn's saliency (SalLoc).

DEL (Torkzadehmahani et al., arXiv 2412.02432) scores each entry by |θ · g| where g is the
gradient of the loss *summed over batches* (signed; the absolute value is taken only at
the end), computed in eval mode so BatchNorm uses its running statistics, then
aggregates per output channel. SalLoc (Fan et al., SalUn, ICLR 2024) uses |g| per entry.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from ..errors import ConfigError
from ..train import Batch, LossFn, to_device
from ..utils import eval_mode
from .base import LOCALIZERS
from .scores import Scores

CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "grad": lambda theta, g: g.abs(),
    "weighted_grad": lambda theta, g: (theta * g).abs(),
    "weight": lambda theta, g: theta.abs(),
}


def accumulate_gradients(
    model: nn.Module, loss_fn: LossFn, data: Iterable[Batch], transform: Callable[[torch.Tensor], torch.Tensor] = lambda g: g
) -> tuple[dict[str, torch.Tensor], int]:
    """Σ over batches of transform(∇θ loss(batch)), in eval mode, without touching the weights; also the batch count."""
    device = next(model.parameters()).device
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters() if p.requires_grad}
    batches = 0
    with eval_mode(model):
        for batch in data:
            model.zero_grad(set_to_none=True)
            loss_fn(model, to_device(batch, device)).backward()
            for n, p in model.named_parameters():
                if p.grad is not None and n in total:
                    total[n] += transform(p.grad.detach())
            batches += 1
    model.zero_grad(set_to_none=True)
    if batches == 0:
        raise ConfigError("the localizer received no data; the forget set is empty or the loader yields nothing.")
    return total, batches


def summed_gradient(model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> dict[str, torch.Tensor]:
    """Σ over batches of ∇θ loss(batch): DEL's batch-summed, signed gradient."""
    return accumulate_gradients(model, loss_fn, data)[0]


class GradientLocalizer:
    """Scores = criterion(θ, Σ_batches ∇loss); see ``CRITERIA`` for grad / weighted_grad / weight."""

    def __init__(self, criterion: str = "weighted_grad", granularity: str = "channel", data_source: str = "forget", channel_rule: str = "del_code") -> None:
        if criterion not in CRITERIA:
            raise ConfigError(f"criterion {criterion!r} unknown; choose one of {sorted(CRITERIA)}.")
        if data_source not in ("forget", "train"):
            raise ConfigError(f"data_source must be 'forget' or 'train', got {data_source!r}.")
        self.criterion = criterion
        self.default_granularity = granularity
        self.data_source = data_source
        self.channel_rule = channel_rule

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> Scores:
        params = dict(model.named_parameters())
        if self.criterion == "weight":
            grads = {n: torch.zeros_like(p) for n, p in params.items()}
        else:
            grads = summed_gradient(model, loss_fn, data)
        values = {n: CRITERIA[self.criterion](params[n].detach(), g) for n, g in grads.items()}
        meta = {"criterion": self.criterion, "data_source": self.data_source}
        return Scores(values, self.default_granularity, self.channel_rule, meta)


@LOCALIZERS.register("del", "DEL: |θ·g| of the forget loss, per-channel top-h mean, global top-α (arXiv 2412.02432)")
def del_localizer(**options: object) -> GradientLocalizer:
    return GradientLocalizer(**{"criterion": "weighted_grad", "granularity": "channel", **options})  # type: ignore[arg-type]


@LOCALIZERS.register("salloc", "SalLoc: |g| of the forget loss per parameter, global top-α (SalUn, arXiv 2310.12508)")
def salloc_localizer(**options: object) -> GradientLocalizer:
    return GradientLocalizer(**{"criterion": "grad", "granularity": "param", **options})  # type: ignore[arg-type]


@LOCALIZERS.register("gradient", "configurable criterion (grad|weighted_grad|weight) x granularity x data (DEL Table 1/4)")
def gradient_localizer(**options: object) -> GradientLocalizer:
    return GradientLocalizer(**options)  # type: ignore[arg-type]
