"""Localizer contract and registry: ``fit(model, loss_fn, data) -> Scores``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from torch import nn

from ..errors import ConfigError
from ..registry import Registry
from ..train import Batch, LossFn
from .scores import Scores

LOCALIZERS: Registry = Registry("localizer", entry_point_group="expunge.localizers")
DEFAULT_BATCH = 128  # examples per batch the runner feeds a localizer unless its batch_size option says otherwise


def check_batch_size(value: object, localizer: str) -> int:
    """``localizer_options.batch_size`` must be a positive integer: memory only, the summed gradient does not depend on it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"localizer_options.batch_size of {localizer} must be an integer >= 1 (examples per batch), got {value!r}; e.g. batch_size: 256.")
    return value


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
