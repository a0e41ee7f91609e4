"""Model families: what differs between unlearning image classifiers, GANs and language models.

A family brings its model builder, its training loop, the loss localizers and unlearners
use, its typed model options and its default metric set. Everything else (config, split,
cache, runner, store, executors, report, tune) is shared, so a new family is one module plus
registry entries, never a second pipeline. ``config.family`` picks it (default ``classifier``).

``Family`` is the contract: every hook the pipeline calls is declared here, with a default
where one makes sense, so the pipeline never probes a family with ``hasattr``. A family
subclasses it and overrides ``build``, ``fit`` and ``loss`` (required) and whatever else it
needs (``extras`` for its metrics, ``artifacts`` and ``report_section`` for its outputs,
``options_type`` for typed ``model.options``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from .errors import ConfigError
from .models import build_model
from .registry import Registry
from .train import Recipe, epoch_batches, train

if TYPE_CHECKING:
    from .experiments.config import ExperimentConfig
    from .experiments.context import Context

FAMILIES: Registry = Registry("family", entry_point_group="expunge.families")


@dataclass
class FamilyData:
    """The dataset (train / test parts with ``(x, y, index)`` items), the forget split and extra inputs for metrics."""

    bundle: Any  # expunge.data.DatasetBundle
    split: Any  # expunge.data.ForgetSplit
    extras: dict[str, Any] = field(default_factory=dict)


class Family(ABC):
    """Every hook the pipeline calls on a family; the defaults are what a family without the feature does."""

    name: ClassVar[str] = ""
    metric_set: ClassVar[str] = "example"  # the METRIC_SETS entry used when the config names none
    options_type: ClassVar[type | None] = None  # a dataclass of the family's model.options (typed, checked at load)

    def lineage(self) -> tuple[str, ...]:
        """This family's name and those of the families it subclasses: a subclass of ``ClassifierFamily``
        runs every component declared for ``classifier`` (what ``expunge.compat`` checks against)."""
        names = [c.name for c in type(self).__mro__ if isinstance(c, type) and issubclass(c, Family) and c.name]
        return tuple(dict.fromkeys(names))

    def metric_set_for(self, config: ExperimentConfig) -> str:
        """The default metric set for this config (override when it depends on e.g. the split kind)."""
        return self.metric_set

    def options(self, config: ExperimentConfig) -> Any:
        """``model.options`` as the family's typed options (``options_type``); the raw dict when it has none."""
        raw = dict(config.model.options)
        if self.options_type is None:
            return raw
        from .hparams import validate_params

        return self.options_type(**validate_params(self.options_type, raw, "model.options"))

    def validate(self, config: ExperimentConfig) -> None:
        """Called when the config loads: bad family settings are a ConfigError naming the key."""
        self.options(config)

    @abstractmethod
    def build(self, config: ExperimentConfig, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        """A freshly initialised model (same seed, same weights)."""

    @abstractmethod
    def fit(self, model: nn.Module, config: ExperimentConfig, data: FamilyData, indices: np.ndarray, recipe: Recipe, device: torch.device, progress: bool, desc: str) -> dict[str, Any]:
        """Train ``model`` in place on ``data.bundle.train[indices]``; return info (``train_seconds``, losses...)."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The training loss on one batch: what localizers score parameters by."""

    def extras(self, config: ExperimentConfig, data: FamilyData, device: torch.device) -> dict[str, Any]:
        """Family-specific inputs for the metrics (``EvalContext.extras``), by name."""
        return {}

    def artifacts(self, ctx: Context, name: str, model: nn.Module, out_dir: Path) -> dict[str, Any]:
        """Files written after each method run (e.g. sample grids), by name; stored in the record when not empty."""
        return {}

    def report_section(self, run_dir: Path) -> list[str]:
        """Markdown lines the family adds to a run's report."""
        return []


def family_of(config: Any) -> Family:
    """The configured family, instantiated; a registered class that does not subclass ``Family`` is refused."""
    name = getattr(config, "family", "classifier")
    factory = FAMILIES.get(name)
    family = factory()
    if not isinstance(family, Family):
        raise ConfigError(f"family: {name!r} ({factory!r}) does not subclass expunge.family.Family; plugin families must, so every hook has a default.")
    return family


def metric_set_of(family: Family, config: ExperimentConfig) -> str:
    """A family's default metric set for ``config``."""
    return family.metric_set_for(config)


LossFn = Callable[[nn.Module, Any], torch.Tensor]


@FAMILIES.register("classifier", "image (or any tensor) classifiers trained with cross-entropy: example and class unlearning")
class ClassifierFamily(Family):
    """The built-in family: ``models.MODELS`` architectures, the SGD ``Recipe`` loop, cross-entropy."""

    name = "classifier"
    metric_set = "example"

    def metric_set_for(self, config: ExperimentConfig) -> str:
        return "class" if config.split.kind == "class" else "example"

    def validate(self, config: ExperimentConfig) -> None:
        """Classifier options are the architecture's own keyword arguments, checked when it is built."""

    def build(self, config: ExperimentConfig, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        bundle = data.bundle
        return build_model(config.model.name, bundle.input_shape, bundle.num_classes, seed=seed, **config.model.options).to(device)

    def fit(self, model: nn.Module, config: ExperimentConfig, data: FamilyData, indices: np.ndarray, recipe: Recipe, device: torch.device, progress: bool, desc: str) -> dict[str, Any]:
        log = train(model, epoch_batches(data.bundle.train, indices, recipe.batch_size, recipe.seed), recipe, device, progress=progress, desc=desc)
        return {"train_seconds": log.seconds, "epoch_losses": log.epoch_losses}

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])
