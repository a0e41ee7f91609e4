"""Stage 3, localize: fit the method's localizer on the data it asks for, cut the mask at the method's budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.base import TensorBatches
from ..localize import LOCALIZERS
from ..localize.base import DEFAULT_BATCH
from ..masks import Mask
from ..seeds import Seeds
from .config import MethodConfig
from .context import Context

LOCALIZER_BATCH = DEFAULT_BATCH


def localizer_batches(ctx: Context, source: str, seed: int, batch_size: int = LOCALIZER_BATCH) -> Any:
    """One pass over the forget set or the whole training pool (forget + retain), every example included.

    Localizers run in eval mode, so a last batch of one example is kept (training drops it for BatchNorm).
    ``batch_size``: the localizer's ``batch_size`` option (``localizer_options: {batch_size: 256}``) where it has one.
    """
    part = ctx.split.forget if source == "forget" else np.union1d(ctx.split.forget, ctx.split.retain)
    generator = torch.Generator().manual_seed(Seeds.shuffle(seed, 0))
    return TensorBatches(ctx.bundle.train, part, batch_size=batch_size, shuffle=True, generator=generator)


def localize(ctx: Context, method: MethodConfig, model: nn.Module, run: int) -> Mask:
    localizer = LOCALIZERS.get(str(method.localizer))(**method.localizer_options)
    batch_size = getattr(localizer, "batch_size", None) or LOCALIZER_BATCH
    data = localizer_batches(ctx, localizer.data_source, ctx.seeds.localize(run), batch_size)
    reference_source = getattr(localizer, "reference_source", None)
    extra = {"reference": localizer_batches(ctx, reference_source, ctx.seeds.localize(run, 1), batch_size)} if reference_source else {}
    scores = localizer.fit(model, ctx.family.loss, data, **extra)
    mask = scores.mask(method.alpha, method.granularity, method.budget)
    mask.metadata.update(localizer=str(method.localizer), seed=str(run))
    return mask
