"""SSD-style importance (Foster et al., AAAI 2024): diagonal Fisher on the forget set relative to the training set.

``diagonal_fisher`` is SSD's importance: the mean over batches of the squared *batch* gradient
(as SSD's and DEL's code compute it, in eval mode), with each batch weighted by its number of
examples. SSD's code divides by the number of batches, so a final partial batch counts as
much as a full one; weighting by size removes that (for equal batches the two are
identical). A squared batch gradient still depends on the batch size (its noise term shrinks
as 1/|b|), so use the same batch size for I_F and I_D. The localizer scores each entry by
``I_F / (I_D + eps)``: SSD dampens exactly the entries where this ratio exceeds its selection
threshold α, so the top of this ranking is what SSD would touch first.

It needs two datasets. ``fit(model, loss_fn, data, reference=...)`` takes the forget batches
as ``data`` (``data_source = "forget"``) and the training-set batches as ``reference``; the
attribute ``reference_source = "train"`` tells the runner to build and pass them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..hparams import hp
from ..train import Batch, LossFn
from .base import DEFAULT_BATCH, LOCALIZERS, check_batch_size, options
from .gradient import accumulate_gradients
from .scores import CHANNEL_RULES, Scores


def diagonal_fisher(model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> dict[str, torch.Tensor]:
    """Σ_b |b|·(∇θ mean-loss(b))² / Σ_b |b|: the batch mean of squared gradients, batches weighted by size.

    Eval mode; the weights are not touched. Equals SSD's plain mean over batches when all
    batches have the same size.
    """
    total, examples = accumulate_gradients(model, loss_fn, data, lambda g: g**2)
    return {n: t / examples for n, t in total.items()}


class SSDImportanceLocalizer:
    """Scores = I_F / (I_D + eps): where the forget set matters far more than the data at large."""

    data_source = "forget"
    reference_source = "train"

    def __init__(self, eps: float = 1e-12, granularity: str = "param", channel_rule: str = "del_code", batch_size: int = DEFAULT_BATCH) -> None:
        if eps < 0:
            raise ConfigError(f"ssd_importance eps must be >= 0, got {eps}.")
        self.eps = float(eps)
        self.default_granularity = granularity
        self.channel_rule = channel_rule
        self.batch_size = check_batch_size(batch_size, "ssd_importance")  # the runner's batches, for I_F and I_D alike

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch], reference: Iterable[Batch] | None = None) -> Scores:
        if reference is None:
            raise ConfigError(
                "ssd_importance needs the training set as well as the forget set: call fit(model, loss_fn, forget_batches, "
                "reference=train_batches); the runner passes it for localizers with a reference_source."
            )
        forget = diagonal_fisher(model, loss_fn, data)
        train = diagonal_fisher(model, loss_fn, reference)
        # 0 where the forget set has no gradient at all (0/0 with eps = 0 would be NaN)
        values = {n: torch.where(forget[n] > 0, forget[n] / (train[n] + self.eps), torch.zeros_like(forget[n])) for n in forget}
        return Scores(values, self.default_granularity, self.channel_rule, {"criterion": "fisher_ratio", "data_source": "forget/train"})


@dataclass
class SSDImportanceOptions:
    eps: float = hp(1e-12, low=0.0, low_open=True, doc="added to the training-set importance before dividing")
    granularity: str = hp("param", choices=("param", "channel"))
    channel_rule: str = hp("del_code", choices=CHANNEL_RULES)
    batch_size: int = hp(DEFAULT_BATCH, low=1, doc="examples per batch for both Fisher estimates; unlike DEL's gradient this changes the scores (squared batch gradients)")


@LOCALIZERS.register("ssd_importance", "SSD importance: diagonal Fisher on the forget set over that on the training set (Foster et al., AAAI 2024)", families=("classifier", "gan"))
@options(SSDImportanceOptions)
def ssd_importance_localizer(**options: object) -> SSDImportanceLocalizer:
    return SSDImportanceLocalizer(**options)  # type: ignore[arg-type]
