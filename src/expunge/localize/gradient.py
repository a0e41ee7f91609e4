"""Gradient-based localizers: DEL's criterion family and SalUn's saliency (SalLoc).

DEL (Torkzadehmahani et al., arXiv 2412.02432) scores each entry by |θ · g| where g is the
signed gradient of the forget loss (the absolute value is taken only at the end), computed
in eval mode so BatchNorm uses its running statistics, then aggregates per output channel.
SalLoc (Fan et al., SalUn, ICLR 2024) uses |g| per entry.

Weighting of batches. ``loss_fn`` returns the *mean* loss of a batch, so summing the batch
gradients as they come (Σ_b ∇ mean-loss(b)) would give each example of a final partial batch
of r examples up to batch/r times the weight of the others, and the mask would depend on the
shuffle. Here every batch's gradient is weighted by its number of examples, so g is the
gradient of the loss **summed over all forget examples**, Σ_i ∇ℓ_i, whatever the batch size
or order. The official DEL code sums per-batch mean gradients over *full* batches only
(batch 128, ``drop_last=True``): that equals ours divided by 128 on the examples it keeps,
so the ranking is the same, except that it silently drops up to 127 forget examples (which
ones depends on the shuffle) where we keep them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..cost import count as count_passes
from ..errors import ConfigError
from ..hparams import hp
from ..train import Batch, LossFn, to_device
from ..utils import eval_mode
from .base import DEFAULT_BATCH, LOCALIZERS, check_batch_size, options
from .scores import CHANNEL_RULES, Scores

CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "grad": lambda theta, g: g.abs(),
    "weighted_grad": lambda theta, g: (theta * g).abs(),
    "weight": lambda theta, g: theta.abs(),
}


def batch_size_of(batch: Batch) -> int:
    """Examples in a batch: the len of its first element (the inputs), per the loss_fn contract."""
    first = batch[0] if isinstance(batch, (tuple, list)) and len(batch) else None
    if not isinstance(first, torch.Tensor) or first.ndim == 0:
        raise ConfigError(
            f"a localizer batch must be a tuple whose first element is the input tensor (its len is the batch size); got {type(batch).__name__} with first element {type(first).__name__}."
        )
    return len(first)


def accumulate_gradients(model: nn.Module, loss_fn: LossFn, data: Iterable[Batch], transform: Callable[[torch.Tensor], torch.Tensor] = lambda g: g) -> tuple[dict[str, torch.Tensor], int]:
    """Σ over batches of |b| · transform(∇θ mean-loss(b)), and the example count Σ_b |b|.

    Weighting by |b| gives every example the same weight whatever the batch size and shuffle
    (for equal batches it is a constant factor). Eval mode; the weights are not touched.
    Accumulated in float64 so that regrouping the same examples changes only rounding.
    """
    device = next(model.parameters()).device
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    total = {n: torch.zeros_like(p, dtype=torch.float64) for n, p in params.items()}
    examples = 0
    with eval_mode(model):
        for batch in data:
            size = batch_size_of(batch)
            model.zero_grad(set_to_none=True)
            loss_fn(model, to_device(batch, device)).backward()
            count_passes(size)  # a localizer's gradient pass is part of the method's cost
            for n, p in params.items():
                if p.grad is not None:
                    total[n] += size * transform(p.grad.detach()).double()
            examples += size
    model.zero_grad(set_to_none=True)
    if examples == 0:
        raise ConfigError("the localizer received no data; the forget set is empty or the loader yields nothing.")
    return {n: t.to(params[n].dtype) for n, t in total.items()}, examples


def summed_gradient(model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> dict[str, torch.Tensor]:
    """Σ_i ∇θ ℓ_i over all examples (signed): DEL's gradient with every example weighted equally.

    The official code's Σ_b ∇ mean-loss(b) over full batches of 128 is this divided by 128.
    """
    return accumulate_gradients(model, loss_fn, data)[0]


class GradientLocalizer:
    """Scores = criterion(θ, Σ_i ∇ℓ_i) over the examples; see ``CRITERIA`` for grad / weighted_grad / weight."""

    def __init__(self, criterion: str = "weighted_grad", granularity: str = "channel", data_source: str = "forget", channel_rule: str = "del_code", batch_size: int = DEFAULT_BATCH) -> None:
        if criterion not in CRITERIA:
            raise ConfigError(f"criterion {criterion!r} unknown; choose one of {sorted(CRITERIA)}.")
        if data_source not in ("forget", "train"):
            raise ConfigError(f"data_source must be 'forget' or 'train', got {data_source!r}.")
        self.criterion = criterion
        self.default_granularity = granularity
        self.data_source = data_source
        self.channel_rule = channel_rule
        self.batch_size = check_batch_size(batch_size, "the gradient localizers")  # the runner's batches; the scores do not depend on it

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> Scores:
        params = dict(model.named_parameters())
        if self.criterion == "weight":
            grads = {n: torch.zeros_like(p) for n, p in params.items()}
        else:
            grads = summed_gradient(model, loss_fn, data)
        values = {n: CRITERIA[self.criterion](params[n].detach(), g) for n, g in grads.items()}
        meta = {"criterion": self.criterion, "data_source": self.data_source}
        return Scores(values, self.default_granularity, self.channel_rule, meta)


@dataclass
class GradientOptions:
    """Options of the gradient localizers (del, salloc, gradient); the presets change only the defaults."""

    criterion: str = hp("weighted_grad", choices=tuple(CRITERIA), doc="|θ·g| (DEL), |g| (SalLoc) or |θ|")
    granularity: str = hp("channel", choices=("param", "channel"), doc="score entries, or rows by their top-h mean")
    data_source: str = hp("forget", choices=("forget", "train"), doc="the data whose loss is differentiated")
    channel_rule: str = hp("del_code", choices=CHANNEL_RULES, doc="how h is counted per row (see scores.top_h_count)")
    batch_size: int = hp(DEFAULT_BATCH, low=1, doc="examples per gradient batch (memory only: batches are weighted by size, so the mask is the same up to float rounding)")


@LOCALIZERS.register("del", "DEL: |θ·g| of the forget loss, per-channel top-h mean, global top-α (arXiv 2412.02432)", families=("classifier", "gan"))
@options(GradientOptions)
def del_localizer(**options: object) -> GradientLocalizer:
    return GradientLocalizer(**{"criterion": "weighted_grad", "granularity": "channel", **options})  # type: ignore[arg-type]


@LOCALIZERS.register("salloc", "SalLoc: |g| of the forget loss per parameter, global top-α (SalUn, arXiv 2310.12508)", families=("classifier", "gan"))
@options(GradientOptions)
def salloc_localizer(**options: object) -> GradientLocalizer:
    return GradientLocalizer(**{"criterion": "grad", "granularity": "param", **options})  # type: ignore[arg-type]


@LOCALIZERS.register("gradient", "configurable criterion (grad|weighted_grad|weight) x granularity x data (DEL Table 1/4)", families=("classifier", "gan"))
@options(GradientOptions)
def gradient_localizer(**options: object) -> GradientLocalizer:
    return GradientLocalizer(**options)  # type: ignore[arg-type]
