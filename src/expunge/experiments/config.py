"""Typed, validated experiment configuration: YAML presets plus ``key=value`` overrides.

Unknown keys and impossible values raise ``ConfigError`` naming the key. The resolved
config is saved with every result.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..train import Recipe


@dataclass
class DatasetConfig:
    name: str = "fashion_mnist"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SplitConfig:
    kind: str = "iid"  # iid | non_iid | class (see SPLIT_BUILDERS)
    fraction: float = 0.1
    classes: list[int] | None = None
    train_size: int | None = 6000  # training pool (a class-stratified subset keeps CPU runs short)
    test_size: int | None = 2000
    validation_fraction: float = 0.05
    seed: int = 0
    indices_file: str | None = None  # a saved split folder or a forget-index file (one index per line)
    options: dict[str, Any] = field(default_factory=dict)  # builder-specific, e.g. {clusters: 3, cluster: 0} for sub_class
    corruption: dict[str, Any] | None = None  # e.g. {name: backdoor, target: 0, patch: 3}: corrupt the forget set before training


@dataclass
class ModelConfig:
    name: str = "resnet_small"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class MethodConfig:
    """One row of the comparison: an optional localizer and budget, and an unlearning algorithm."""

    name: str = "finetune"
    unlearner: str = "finetune"
    hyperparams: dict[str, Any] = field(default_factory=dict)
    localizer: str | None = None
    localizer_options: dict[str, Any] = field(default_factory=dict)
    alpha: float | None = None
    granularity: str | None = None
    budget: str = "global"
    recovery_curve: bool = False


@dataclass
class EvaluationConfig:
    mia_max_per_side: int | None = 2000
    seed: int = 0


@dataclass
class ExecutorConfig:
    """Where independent jobs run: ``local`` (in-process) or ``ray`` (``address`` for a cluster)."""

    name: str = "local"
    retries: int = 1
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "name"}


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    recipe: Recipe = field(default_factory=Recipe)
    oracles: int = 3
    train_seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    methods: list[MethodConfig] = field(default_factory=list)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    device: str = "auto"
    cache_dir: str | None = "~/.cache/expunge/models"
    out: str = "runs/experiment"
    quiet: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> "ExperimentConfig":
        from ..data import DATASETS, SPLIT_BUILDERS
        from ..localize import LOCALIZERS
        from ..models import MODELS
        from ..unlearn import UNLEARNERS

        from .executors import EXECUTORS

        checks = [(EXECUTORS, self.executor.name, "executor.name"), (DATASETS, self.dataset.name, "dataset.name"), (SPLIT_BUILDERS, self.split.kind, "split.kind"), (MODELS, self.model.name, "model.name")]
        for i, m in enumerate(self.methods):
            checks.append((UNLEARNERS, m.unlearner, f"methods.{i}.unlearner"))
            if m.localizer is not None:
                checks.append((LOCALIZERS, m.localizer, f"methods.{i}.localizer"))
                if m.alpha is None:
                    raise ConfigError(f"methods.{i} ({m.name}) has a localizer but no alpha; set e.g. alpha: 0.3.")
            if m.alpha is not None and not 0 < m.alpha <= 1:
                raise ConfigError(f"methods.{i}.alpha must lie in (0, 1], got {m.alpha}.")
        for registry, value, key in checks:
            if value not in registry.names():
                raise ConfigError(f"{key}: unknown {registry.kind} {value!r}; choose one of {registry.names()}.")
        if self.split.corruption is not None:
            from ..data import CORRUPTIONS

            name = self.split.corruption.get("name")
            if name not in CORRUPTIONS.names():
                raise ConfigError(f"split.corruption.name: unknown corruption {name!r}; choose one of {CORRUPTIONS.names()}.")
        if self.oracles < 1:
            raise ConfigError("oracles must be >= 1 (the retrained reference models); 3 or more is recommended.")
        if not self.seeds:
            raise ConfigError("seeds must list at least one unlearning seed, e.g. seeds: [0, 1, 2].")
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ConfigError(f"method names must be unique, got {names}.")
        return self


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Build dataclasses from dicts recursively, checking keys and simple types."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], key)
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}.")
        hints = typing.get_type_hints(annotation)
        known = {f.name for f in dataclasses.fields(annotation)}
        unknown = set(value) - known
        if unknown:
            raise ConfigError(f"unknown config key(s) {sorted(f'{key}.{u}' if key else u for u in unknown)}; valid keys here: {sorted(known)}.")
        kwargs = {k: _coerce(v, hints[k], f"{key}.{k}" if key else k) for k, v in value.items()}
        try:
            return annotation(**kwargs)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key or 'config'}: {exc}") from exc
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}.")
        return [_coerce(v, args[0], f"{key}.{i}") for i, v in enumerate(value)] if args else list(value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}.")
        return dict(value)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool) and not isinstance(value, annotation):
        if annotation is int and isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key} must be {annotation.__name__}, got {value!r}.")
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"{key} must be int, got {value!r}.")
    return value


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value (e.g. recipe.epochs=5).")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def set_path(data: dict[str, Any], path: list[str], value: Any, label: str | None = None) -> None:
    """Set ``data[path[0]][path[1]]... = value`` in place; list items by position, missing dicts created."""
    label = label or ".".join(path)
    node: Any = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {label!r}: {'.'.join(path[: i + 1])} is not a valid list position.")
            key: Any = int(part)
        else:
            key = part
            if not last and node.get(part) is None:
                node[part] = {}
        if last:
            node[key] = value
        else:
            node = node[key]


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Dotted keys, list items by position: ``methods.2.alpha=0.1``."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        set_path(data, path, value, text)
    return data


def load_config(source: str | Path | dict[str, Any] | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """From a YAML file (or dict), with ``key=value`` overrides, validated."""
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"config file {path} not found.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping at top level.")
    data = apply_overrides(data, overrides or [])
    config = _coerce(data, ExperimentConfig, "")
    return config.validate()
