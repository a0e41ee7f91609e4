"""Random-mask control (DEL Table 3): the same per-tensor counts as a real mask, random channels."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..masks import Mask
from ..train import Batch, LossFn
from .base import LOCALIZERS
from .scores import Scores


def random_like(mask: Mask, seed: int = 0) -> Mask:
    """For each tensor keep the selected count; fill whole random rows (channels), the last one partly."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, entry in mask.entries.items():
        count = int(entry.sum())
        rows = entry.reshape(entry.shape[0], -1) if entry.ndim > 1 else entry.reshape(-1, 1)
        order = torch.randperm(rows.shape[0], generator=gen)
        flat = torch.zeros(rows.shape, dtype=torch.bool)
        full, rest = divmod(count, rows.shape[1])
        flat[order[:full]] = True
        if rest:
            flat[order[full], torch.randperm(rows.shape[1], generator=gen)[:rest]] = True
        out[name] = flat.reshape(entry.shape)
    return Mask(out, {**mask.metadata, "control": "random", "seed": str(seed)})


class RandomControlScores(Scores):
    """Cuts the reference localizer's mask, then scrambles it with ``random_like``."""

    def __init__(self, reference: Scores, seed: int) -> None:
        super().__init__(reference.values, reference.default_granularity, reference.channel_rule, {**reference.metadata, "control": "random"})
        self.reference = reference
        self.seed = seed

    def mask(self, alpha: float, granularity: str | None = None, budget: str = "global", normalize: bool = False) -> Mask:
        return random_like(self.reference.mask(alpha, granularity, budget, normalize), self.seed)


class RandomControlLocalizer:
    """Random channels with the per-layer counts of ``reference`` (default: DEL)."""

    def __init__(self, reference: str = "del", seed: int = 0, **reference_options: object) -> None:
        self.reference = LOCALIZERS.get(reference)(**reference_options)
        self.data_source = self.reference.data_source
        self.reference_source = getattr(self.reference, "reference_source", None)
        self.default_granularity = self.reference.default_granularity
        self.batch_size = getattr(self.reference, "batch_size", None)  # the reference's data batches (when it has the option)
        self.seed = seed

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch], **extra: object) -> Scores:
        return RandomControlScores(self.reference.fit(model, loss_fn, data, **extra), self.seed)


@LOCALIZERS.register("random", "random-mask control: a reference mask's per-layer counts, random channels (DEL Table 3)")
def random_localizer(**options: object) -> RandomControlLocalizer:
    return RandomControlLocalizer(**options)  # type: ignore[arg-type]
