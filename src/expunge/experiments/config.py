"""Typed, validated experiment configuration: YAML presets plus ``key=value`` overrides.

Unknown keys and impossible values raise ``ConfigError`` naming the key. The resolved
config is saved with every result.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import builtins  # noqa: F401  (every built-in name exists before validation)
from ..compat import check_family_support
from ..data import CORRUPTIONS, DATASETS, SPLIT_BUILDERS
from ..errors import ConfigError
from ..evaluate.registry import resolve_metrics
from ..family import FAMILIES, family_of
from ..hparams import coerce_value, validate_params
from ..localize import LOCALIZERS
from ..models import MODELS
from ..plugins import load_object
from ..preflight import apply_overrides, check_config_dict, parse_override, read_yaml, set_path  # noqa: F401  (re-exported for tune, frontier, studies)
from ..train import Recipe
from ..unlearn import UNLEARNERS
from ..utils import resolve_device
from .executors import EXECUTORS


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
    # Class unlearning: unseen test images handed to training-free methods (zero-shot), excluded from every test metric.
    analysis_images: int = 0  # images of the forgotten class(es)
    analysis_other: int = 0  # images of the other classes (e.g. for zero-shot's K_p rule)


@dataclass
class ModelConfig:
    name: str = "resnet_small"
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None  # a trained original (safetensors, or a torch state dict read with weights_only=True): not retrained
    factory: str | None = None  # "package.module:function" building the architecture from model.options (replaces model.name)


@dataclass
class MethodConfig:
    """One row of the comparison: an optional localizer and budget, and an unlearning algorithm."""

    name: str = "finetune"
    unlearner: str | None = None  # None: the name is the unlearner; otherwise the name is only a label
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
    confidence: str = "exact"  # ε-score transform: exact | official (the reference scorer's float arithmetic)
    metrics: list[Any] = field(default_factory=list)  # metric or set names (or {name: ..., option: ...}); empty = the family's default set


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
    family: str = "classifier"  # classifier | gan | lm ... (expunge.family.FAMILIES)
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
    oracle_checkpoints: list[str] = field(default_factory=list)  # retrained models the user has: loaded instead of trained (oracles = their count)
    save_models: bool = False  # write each unlearned model (safetensors) next to its deletion record
    augment: str | None = None  # "package.module:function" (inputs, generator) -> inputs: every training batch of the original and oracles

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data; the recipe through ``Recipe.to_dict`` (a default optimizer is left out, so older config hashes hold)."""
        return {**asdict(self), "recipe": self.recipe.to_dict()}

    def validate(self) -> ExperimentConfig:
        """Every name, hyperparameter key, type and range, checked before anything trains."""
        check_config_dict(self.to_dict())  # the torch-free checks the command line runs first
        resolve_device(self.device)  # a GPU that torch cannot see
        checks = [
            (FAMILIES, self.family, "family"),
            (EXECUTORS, self.executor.name, "executor.name"),
            (DATASETS, self.dataset.name, "dataset.name"),
            (SPLIT_BUILDERS, self.split.kind, "split.kind"),
            (MODELS, self.model.name, "model.name"),
        ]
        if self.family != "classifier" or self.model.factory:
            checks.pop()  # other families name models in their own registries (model.options); a factory replaces the name
        if self.model.factory:
            load_object(self.model.factory, "model.factory")
        if self.augment:
            load_object(self.augment, "augment")
        for key, path in [("model.checkpoint", self.model.checkpoint)] + [(f"oracle_checkpoints.{i}", p) for i, p in enumerate(self.oracle_checkpoints)]:
            if path is not None and not Path(path).expanduser().is_file():
                raise ConfigError(f"{key}: {path} is not a file; give a .safetensors file or a torch state dict (.pt).")
        if self.oracle_checkpoints:
            self.oracles = len(self.oracle_checkpoints)
        for registry, value, key in checks:
            if value not in registry.names():
                raise ConfigError(f"{key}: unknown {registry.kind} {value!r}; choose one of {registry.names()}.")
        family_of(self).validate(self)  # the family's own options (e.g. a GAN's model.options)
        for i, method in enumerate(self.methods):
            validate_method(method, f"methods.{i}")
        if self.split.corruption is not None:
            name = self.split.corruption.get("name")
            if name not in CORRUPTIONS.names():
                raise ConfigError(f"split.corruption.name: unknown corruption {name!r}; choose one of {CORRUPTIONS.names()}.")
        if self.split.analysis_images < 0 or self.split.analysis_other < 0:
            raise ConfigError("split.analysis_images and split.analysis_other must be >= 0.")
        if (self.split.analysis_images or self.split.analysis_other) and self.split.kind != "class":
            raise ConfigError("split.analysis_images needs split.kind=class (unseen images of the forgotten class).")
        if self.oracles < 1:
            raise ConfigError("oracles must be >= 1 (the retrained reference models); 3 or more is recommended.")
        if not self.seeds:
            raise ConfigError("seeds must list at least one unlearning seed, e.g. seeds: [0, 1, 2].")
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ConfigError(f"method names must be unique, got {names}.")
        resolve_metrics(self.evaluation.metrics or None, "example")
        check_family_support(self)  # unlearners, localizers and metrics must support this family (expunge.compat)
        if self.evaluation.confidence not in ("exact", "official"):
            raise ConfigError(f"evaluation.confidence must be exact or official, got {self.evaluation.confidence!r}.")
        return self


def validate_method(method: MethodConfig, key: str) -> None:
    """Unlearner and localizer names, their hyperparameters (keys, types, ranges) and the budget."""
    if method.unlearner is None:
        if method.name not in UNLEARNERS.names():
            raise ConfigError(f"{key}.name: {method.name!r} is not a registered unlearner; choose one of {UNLEARNERS.names()}, or set {key}.unlearner and keep {method.name!r} as the label.")
        method.unlearner = method.name
    if method.unlearner not in UNLEARNERS.names():
        raise ConfigError(f"{key}.unlearner: unknown unlearner {method.unlearner!r}; choose one of {UNLEARNERS.names()}.")
    method.hyperparams = validate_params(UNLEARNERS.get(method.unlearner), method.hyperparams, f"{key}.hyperparams")
    if method.localizer is not None:
        if method.localizer not in LOCALIZERS.names():
            raise ConfigError(f"{key}.localizer: unknown localizer {method.localizer!r}; choose one of {LOCALIZERS.names()}.")
        check_localizer_options(method.localizer, method.localizer_options, f"{key}.localizer_options")
        if method.alpha is None:
            raise ConfigError(f"{key} ({method.name}) has a localizer but no alpha; set e.g. alpha: 0.3.")
    if method.alpha is not None and not 0 < method.alpha <= 1:
        raise ConfigError(f"{key}.alpha must lie in (0, 1], got {method.alpha}.")
    if method.granularity not in (None, "param", "channel"):
        raise ConfigError(f"{key}.granularity must be param or channel, got {method.granularity!r}.")


def check_localizer_options(name: str, options: dict[str, Any], key: str) -> None:
    """Build the localizer once (cheap, no data): unknown options and bad values fail now, not after training."""
    factory = LOCALIZERS.get(name)
    options_type = getattr(factory, "options_type", factory)
    if dataclasses.is_dataclass(options_type):
        validate_params(options_type, options, key)  # type: ignore[arg-type]
    try:
        factory(**options)
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    except TypeError as exc:
        raise ConfigError(f"{key}: {exc}; see `expunge list` for the localizer's options.") from exc


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Build dataclasses from dicts recursively, checking keys and simple types."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _coerce(value, non_none[0], key)
        return coerce_value(value, annotation, key)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
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
    return coerce_value(value, annotation, key)


def load_config(source: str | Path | dict[str, Any] | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """From a YAML file (or dict), with ``key=value`` overrides, validated."""
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, dict):
        data = source
    else:
        data = read_yaml(source)
    data = apply_overrides(data, overrides or [])
    config = _coerce(data, ExperimentConfig, "")
    return config.validate()
