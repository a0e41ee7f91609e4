"""Deepest and Shallowest: data-agnostic masks of whole layers from the output or the input side (DEL, section 3).

A *layer* is the set of parameters owned directly by one module (e.g. ``fc.weight`` and
``fc.bias``), ordered by first appearance in ``named_parameters()``, i.e. module registration
order, which for the built-in models is depth order (a residual shortcut counts after its
block's second conv). Every entry of layer g gets the score g+1 (Deepest) or G−g (Shallowest),
so the global top-k takes whole layers from one end until floor(α·N) entries are filled. The
layer at the boundary is filled partly: its tensors in registration order (weight before bias)
and, inside a tensor, lowest flat index first, i.e. whole output channels (rows) but the last.

``data_source`` is ``"forget"`` only to satisfy the contract; ``fit`` never reads the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from ..train import Batch, LossFn
from .base import LOCALIZERS
from .scores import Scores


def layer_groups(model: nn.Module) -> list[list[str]]:
    """Parameter names grouped by owning module, in module (registration) order."""
    groups: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        groups.setdefault(name.rpartition(".")[0], []).append(name)
    return list(groups.values())


# Depth rank g of G layers -> score; higher scores are selected first.
ORDERS: dict[str, Callable[[int, int], float]] = {
    "deepest": lambda g, count: float(g + 1),
    "shallowest": lambda g, count: float(count - g),
}


class LayerOrderLocalizer:
    """Whole layers from the output side (``deepest``) or the input side (``shallowest``)."""

    data_source = "forget"
    default_granularity = "param"

    def __init__(self, order: str) -> None:
        self.order = order
        self.rank = ORDERS[order]

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> Scores:
        params = dict(model.named_parameters())
        groups = layer_groups(model)
        values = {}
        for g, names in enumerate(groups):
            for name in names:
                values[name] = torch.full(params[name].shape, self.rank(g, len(groups)), dtype=torch.float32)
        return Scores(values, "param", metadata={"criterion": self.order, "data_source": "none"})


@LOCALIZERS.register("deepest", "Deepest: whole layers from the output side up to the budget, data-agnostic (DEL baseline)")
def deepest_localizer(**options: object) -> LayerOrderLocalizer:
    return LayerOrderLocalizer("deepest", **options)  # type: ignore[arg-type]


@LOCALIZERS.register("shallowest", "Shallowest: whole layers from the input side up to the budget, data-agnostic (DEL baseline)")
def shallowest_localizer(**options: object) -> LayerOrderLocalizer:
    return LayerOrderLocalizer("shallowest", **options)  # type: ignore[arg-type]
