"""Localizer contract and registry: ``fit(model, loss_fn, data) -> Scores``."""

from __future__ import annotations

from typing import Iterable, Protocol

from torch import nn

from ..registry import Registry
from ..train import Batch, LossFn
from .scores import Scores

LOCALIZERS: Registry = Registry("localizer", entry_point_group="expunge.localizers")


class Localizer(Protocol):
    """Scores parameters from a loss on data. ``data_source`` says which data the runner should pass:
    ``"forget"`` (the examples to remove) or ``"train"`` (forget + retain, forget-set agnostic).
    A localizer that also compares with reference data (SSD's importance ratio) sets
    ``reference_source`` and receives those batches as ``fit(..., reference=...)``."""

    data_source: str
    default_granularity: str

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> Scores: ...
