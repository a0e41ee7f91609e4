"""Localizer contract and registry: ``fit(model, loss_fn, data) -> Scores``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from torch import nn

from ..registry import Registry
from ..train import Batch, LossFn
from .scores import Scores

LOCALIZERS: Registry = Registry("localizer", entry_point_group="expunge.localizers")
F = TypeVar("F", bound=Callable[..., Any])


class Localizer(Protocol):
    """Scores parameters from a loss on data. ``data_source`` says which data the runner should pass:
    ``"forget"`` (the examples to remove) or ``"train"`` (forget + retain, forget-set agnostic).
    A localizer that also compares with reference data (SSD's importance ratio) sets
    ``reference_source`` and receives those batches as ``fit(..., reference=...)``."""

    data_source: str
    default_granularity: str

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> Scores: ...


def options(options_type: type) -> Callable[[F], F]:
    """Declare a localizer factory's typed options (a dataclass with ``hp`` ranges), checked when a config loads."""

    def decorate(factory: F) -> F:
        factory.options_type = options_type  # type: ignore[attr-defined]
        return factory

    return decorate
