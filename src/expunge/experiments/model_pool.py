"""Stage 2, train or load the pool: the original and the retrained oracles, cached by everything that determines them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..cache import ModelCache
from ..cost import Cost, CostMeter
from ..family import Family, FamilyData
from ..train import Recipe
from ..utils import seed_everything, stable_hash
from .config import ExperimentConfig


@dataclass
class TrainedModel:
    model: nn.Module
    info: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def cost(self) -> Cost:
        """The training cost; older cache entries without a pass count get epochs × examples (what the loop runs)."""
        stored = self.info.get("cost")
        if stored:
            return Cost(**stored)
        spec = self.info.get("spec", {})
        epochs = self.info.get("epochs", spec.get("recipe", {}).get("epochs", 0))
        passes = int(epochs * self.info.get("num_examples", spec.get("num_examples", 0)))
        return Cost(wall_seconds=self.info.get("train_seconds", 0.0), passes=passes)


def model_cache(config: ExperimentConfig) -> ModelCache:
    return ModelCache(Path(config.cache_dir).expanduser() if config.cache_dir else None)


def model_factory(config: ExperimentConfig, family: Family, data: FamilyData, device: torch.device) -> Callable[[int], nn.Module]:
    """seed -> a newly initialised model of the configured architecture, on ``device``."""

    def fresh(seed: int) -> nn.Module:
        return family.build(config, data, seed, device)

    return fresh


def pool_indices(data: FamilyData, kind: str) -> np.ndarray:
    """The original trains on forget ∪ retain, an oracle on the retain set only."""
    return np.union1d(data.split.forget, data.split.retain) if kind == "original" else data.split.retain


def train_cached(cache: ModelCache, kind: str, config: ExperimentConfig, family: Family, data: FamilyData, seed: int, device: torch.device) -> TrainedModel:
    """Train (or load) one pool member; the cache key covers data, model, recipe and seed."""
    indices = pool_indices(data, kind)
    recipe = Recipe(**{**config.recipe.to_dict(), "seed": seed})
    spec = {
        "dataset": asdict(config.dataset),
        "corruption": config.split.corruption if kind == "original" else None,
        "indices": stable_hash(np.sort(indices).tolist()),
        "num_examples": int(len(indices)),
        "model": asdict(config.model),
        "recipe": recipe.to_dict(),
    }
    if config.family != "classifier":
        spec["family"] = config.family

    def fit(model: nn.Module) -> dict[str, Any]:
        seed_everything(seed)
        model.to(device)
        with CostMeter(device) as meter:
            info = family.fit(model, config, data, indices, recipe, device, not config.quiet, f"{kind} seed {seed}")
        return {**info, "device": str(device), "cost": meter.cost.to_dict(), "epochs": recipe.epochs, "num_examples": int(len(indices))}

    model, info = cache.get_or_train(kind, spec, lambda: family.build(config, data, seed, device), fit)
    return TrainedModel(model.to(device), info)
