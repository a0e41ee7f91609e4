"""Stage 2, train or load the pool: the original and the retrained oracles, cached by everything that determines them."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..cache import ModelCache, data_fingerprint, load_state
from ..cost import Cost, CostMeter
from ..data.adapters import augmented
from ..data.base import DatasetBundle
from ..errors import ConfigError
from ..family import Family, FamilyData
from ..plugins import load_object
from ..seeds import Seeds
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


def from_factory(reference: str, options: dict[str, Any], data: FamilyData, seed: int) -> nn.Module:
    """A user architecture: ``factory(**options)`` under ``torch.manual_seed(seed)``.

    ``input_shape`` and ``num_classes`` are passed too when the function takes them, so one
    factory serves several datasets.
    """
    factory = load_object(reference, "model.factory")
    kwargs = dict(options)
    accepted = inspect.signature(factory).parameters
    bundle = data.bundle
    for name, value in (("input_shape", getattr(bundle, "input_shape", None)), ("num_classes", getattr(bundle, "num_classes", None))):
        if name in accepted and name not in kwargs and value is not None:
            kwargs[name] = value
    torch.manual_seed(seed)
    model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.factory {reference!r} returned {type(model).__name__}, not a torch nn.Module.")
    return model


def build_member(config: ExperimentConfig, family: Family, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
    """A freshly initialised model: the user's ``model.factory`` when set, else the family's builder."""
    if config.model.factory:
        return from_factory(config.model.factory, config.model.options, data, seed).to(device)
    return family.build(config, data, seed, device)


def model_factory(config: ExperimentConfig, family: Family, data: FamilyData, device: torch.device) -> Callable[[int], nn.Module]:
    """seed -> a newly initialised model of the configured architecture, on ``device``."""

    def fresh(seed: int) -> nn.Module:
        return build_member(config, family, data, seed, device)

    return fresh


def pool_indices(data: FamilyData, kind: str) -> np.ndarray:
    """The original trains on forget ∪ retain, an oracle on the retain set only."""
    return np.union1d(data.split.forget, data.split.retain) if kind == "original" else data.split.retain


def read_state(path: str | Path, key: str) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or from a torch file read with ``weights_only=True`` (never arbitrary unpickling)."""
    path = Path(path).expanduser()
    try:
        if path.suffix == ".safetensors":
            return load_state(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{key}: cannot read {path} ({exc}); save it with safetensors or torch.save(model.state_dict()).") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{key}: {path} does not hold a state dict (name -> tensor); save model.state_dict(), not the module.")
    return state


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(Path(path).expanduser(), "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(model: nn.Module, path: str | Path, key: str) -> None:
    """Load weights into ``model``; a mismatch names the checkpoint key and the differing entries."""
    try:
        model.load_state_dict(read_state(path, key))
    except RuntimeError as exc:
        raise ConfigError(
            f"{key}: {path} does not fit the configured architecture ({str(exc).splitlines()[0]}); set model.name / model.factory / model.options to the model it was saved from."
        ) from exc


def checkpoint_member(kind: str, path: str, key: str, config: ExperimentConfig, family: Family, data: FamilyData, seed: int, device: torch.device) -> TrainedModel:
    """A pool member the user trained: built, loaded, never retrained. An oracle's cost is estimated from ``recipe``."""
    model = build_member(config, family, data, seed, device)
    load_checkpoint(model, path, key)
    examples = len(pool_indices(data, kind))
    cost = Cost(passes=config.recipe.epochs * examples)
    info = {
        "kind": kind,
        "checkpoint": str(path),
        "checkpoint_sha256": file_sha256(path),
        "train_seconds": 0.0,
        "cost": cost.to_dict(),
        "cost_estimated": True,
        "epochs": config.recipe.epochs,
        "num_examples": examples,
        "cache_hit": False,
    }
    return TrainedModel(model.to(device), info)


def fit_member(
    model: nn.Module,
    kind: str,
    config: ExperimentConfig,
    family: Family,
    data: FamilyData,
    indices: np.ndarray,
    recipe: Recipe,
    device: torch.device,
    augment: Callable[..., torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Train one pool member in place through the family's loop, metered; returns its info (cost, device, epochs).

    ``augment`` (or ``config.augment``) transforms every training batch's inputs (``data.adapters.augmented``).
    """
    augment = augment or (load_object(config.augment, "augment") if config.augment else None)
    if augment is not None:
        source: Any = data.bundle
        if not isinstance(source, DatasetBundle):
            raise ConfigError(f"augment: the {config.family} family's data cannot be augmented batch by batch; remove augment.")
        bundle = dc_replace(source, train=augmented(source.train, augment, recipe.seed))
        data = dc_replace(data, bundle=bundle)
    seed_everything(recipe.seed)
    model.to(device)
    with CostMeter(device) as meter:
        info = family.fit(model, config, data, indices, recipe, device, not config.quiet, f"{kind} seed {recipe.seed}")
    return {**info, "device": str(device), "cost": meter.cost.to_dict(), "epochs": recipe.epochs, "num_examples": int(len(indices))}


def oracle_index(config: ExperimentConfig, seed: int) -> int:
    """Which oracle a training seed belongs to (``Seeds.oracle``): picks its checkpoint."""
    seeds = Seeds(train=config.train_seed)
    order = [seeds.oracle(k) for k in range(len(config.oracle_checkpoints))]
    if seed not in order:
        raise ConfigError(f"oracle seed {seed} has no entry in oracle_checkpoints ({len(order)} given).")
    return order.index(seed)


def train_cached(cache: ModelCache, kind: str, config: ExperimentConfig, family: Family, data: FamilyData, seed: int, device: torch.device) -> TrainedModel:
    """Train (or load) one pool member; the cache key covers data (fingerprinted), model (layout, factory), recipe and seed.

    ``model.checkpoint`` / ``oracle_checkpoints`` replace training with the user's own models.
    """
    if kind == "original" and config.model.checkpoint:
        if seed != Seeds(train=config.train_seed).original():
            raise ConfigError("model.checkpoint holds one original, but this run needs several independently trained ones (an ε-score pool); drop model.checkpoint for pools.")
        return checkpoint_member(kind, config.model.checkpoint, "model.checkpoint", config, family, data, seed, device)
    if kind == "oracle" and config.oracle_checkpoints:
        index = oracle_index(config, seed)
        return checkpoint_member(kind, config.oracle_checkpoints[index], f"oracle_checkpoints.{index}", config, family, data, seed, device)
    indices = pool_indices(data, kind)
    recipe = Recipe(**{**config.recipe.to_dict(), "seed": seed})
    spec = {
        "dataset": asdict(config.dataset),
        "corruption": config.split.corruption if kind == "original" else None,
        "indices": stable_hash(np.sort(indices).tolist()),
        "num_examples": int(len(indices)),
        "data": data_fingerprint(data.bundle.train, indices),
        "model": asdict(config.model),
        "factory": config.model.factory,
        "recipe": recipe.to_dict(),
    }
    if config.family != "classifier":
        spec["family"] = config.family
    if config.augment:
        spec["augment"] = config.augment

    def fit(model: nn.Module) -> dict[str, Any]:
        return fit_member(model, kind, config, family, data, indices, recipe, device)

    model, info = cache.get_or_train(kind, spec, lambda: build_member(config, family, data, seed, device), fit, fingerprint_model=True)
    return TrainedModel(model.to(device), info)
