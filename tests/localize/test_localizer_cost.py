"""A localizer's gradient passes are part of the method's cost: the meter sees one pass per forget example."""

from __future__ import annotations

import torch
from torch import nn

from expunge.cost import CostMeter
from expunge.localize import LOCALIZERS


def _data(n: int, batch: int):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)
    return [(x[i : i + batch], y[i : i + batch], torch.arange(i, min(i + batch, n))) for i in range(0, n, batch)]


def _loss(model: nn.Module, batch) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def test_gradient_localizers_count_one_pass_per_forget_example() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    for name in ("del", "gradient"):
        with CostMeter() as meter:
            LOCALIZERS.get(name)().fit(model, _loss, _data(37, 8))
        assert meter.cost.passes == 37, name
