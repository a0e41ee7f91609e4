"""Bring your own model: ``expunge.unlearn`` and ``expunge.evaluate`` on any ``nn.Module`` and any data.

Both are thin calls into the pipeline's own stages (``experiments.unlearning.unlearn``: the
localizer and unlearner registries, ``UnlearningTask``, ``MaskedUpdate``; ``evaluate.registry``:
the metric registry and ``EvalContext``; ``experiments.model_pool.fit_member``: the oracles'
training loop), run on a ``Context`` built from the user's objects instead of a config file.
Data in any layout is adapted by ``data.adapters``. The model passed in is never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .cache import ModelCache, data_fingerprint, model_fingerprint
from .class_request import ForgetClass, class_parts
from .cost import Cost
from .data.adapters import Parts, gather_parts, is_index_list
from .data.base import DatasetBundle, IndexedTensorDataset
from .data.splits import ForgetSplit
from .deletion import deletion_record, noise_verdict, save_weights, write_deletion_record
from .errors import ConfigError
from .evaluate.gaps import deltas, oracle_spread
from .evaluate.registry import EvalContext, build_metrics, check_needs, run_metrics
from .family import FAMILIES, FamilyData
from .masks import Mask
from .seeds import Seeds
from .train import Recipe
from .utils import environment_info, resolve_device

DEFAULT_BUDGET = 0.25
_DEL = {"localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune"}
# The DEL variants measured on the cost-quality frontier (docs/benchmarks.md#frontier-full,
# benchmarks/results/frontier_fmnist_*.json); the settings are those of benchmarks/frontier_fmnist.py.
PRESETS: dict[str, dict[str, Any]] = {
    "DEL": {**_DEL, "hyperparams": {"lr": 0.05}},
    "DEL-shrink-perturb": {**_DEL, "hyperparams": {"lr": 0.05, "reset": "shrink_perturb", "shrink": 0.5, "noise": 0.1}},
    "DEL-combo": {**_DEL, "budget": "per_layer", "hyperparams": {"lr": 0.05, "reset": "original_init", "bn_recompute": True}},
    "DEL-combo-open": {**_DEL, "budget": "per_layer", "hyperparams": {"lr": 0.05, "reset": "original_init", "bn_recompute": True, "unmask_after": 0}},
    "DEL-small-batch": {**_DEL, "hyperparams": {"lr": 0.025, "batch_size": 32}},
    "DEL-own-init-small-batch": {**_DEL, "hyperparams": {"lr": 0.025, "batch_size": 32, "reset": "original_init"}},
    "salun": {"unlearner": "salun", "localizer": "salloc", "alpha": 0.5},  # SalUn as published: random labels on a SalLoc mask at α = 0.5
}
# method="del": (largest measured budget <= the budget asked for, variant when the original's init is known, variant without it).
# Mean SVC Avg.Gap over IID, non-IID {2,5} and the held-out pairs {4,6}, {1,8} (3 seeds each; lower is better):
#   0.1 (one epoch): DEL-combo 6.53 / 4.18 / 6.64 / 3.35; without an init DEL-shrink-perturb 9.62 / 12.62 (best fresh reset)
#   0.25: DEL-own-init-small-batch 3.07 / 4.22 / 2.19 / 2.71; without an init DEL-small-batch 3.04 / 3.74 / 5.34 / 2.69
#   0.5: DEL-own-init-small-batch 1.95 / 2.06 (on the frontier); without an init DEL-small-batch 2.06 / 2.09
#   1.0: the faithful DEL 0.40 / 0.71, inside the oracles' own noise floor (0.54 / 1.02)
DEL_BY_BUDGET: list[tuple[float, str, str]] = [
    (0.1, "DEL-combo", "DEL-shrink-perturb"),
    (0.25, "DEL-own-init-small-batch", "DEL-small-batch"),
    (0.5, "DEL-own-init-small-batch", "DEL-small-batch"),
    (1.0, "DEL", "DEL"),
]


def default_del(budget: float, has_init: bool) -> str:
    """The best DEL variant measured at the largest frontier budget not above ``budget`` (the table above)."""
    row = DEL_BY_BUDGET[0]
    for candidate in DEL_BY_BUDGET:
        if candidate[0] <= budget + 1e-12:
            row = candidate
    return row[1] if has_init else row[2]


def fresh_copy(model: nn.Module, seed: int) -> nn.Module:
    """A newly initialised model of the same architecture: a deep copy with every ``reset_parameters`` rerun under ``seed``.

    Used for DEL's fresh reset and for retraining oracles of a user architecture that expunge cannot build by name.
    """
    fresh = copy.deepcopy(model)
    torch.manual_seed(seed)
    resettable = [m for m in fresh.modules() if callable(getattr(m, "reset_parameters", None))]
    if not resettable and any(True for _ in fresh.parameters()):
        raise ConfigError(
            f"{type(model).__name__} has no submodule with reset_parameters(), so expunge cannot re-initialise it; pass oracles=[...] instead of retrain, or use a method without a fresh reset."
        )
    for module in resettable:
        module.reset_parameters()  # type: ignore[operator]
    return fresh


def on_device(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` when it already lives on ``device``, else a copy there: a user's model is never moved."""
    current = next(iter(model.parameters()), None)
    if current is None or current.device == device or (current.device.type == device.type and device.index is None):
        return model
    return copy.deepcopy(model).to(device)


RESIDENT_BYTES = 1 << 30  # inputs up to 1 GiB move to the GPU once; larger ones stay in pinned host memory


def place(dataset: IndexedTensorDataset, device: torch.device) -> IndexedTensorDataset:
    """The GPU path: inputs resident on the device when they fit (no copy per batch), else pinned for
    ``non_blocking`` copies (``train.to_device``). Targets stay on the CPU, where metrics compare them.
    On the CPU nothing changes."""
    if device.type != "cuda":
        return dataset
    inputs = dataset.inputs
    size = inputs.element_size() * inputs.numel()
    inputs = inputs.to(device, non_blocking=True) if size <= RESIDENT_BYTES else inputs.pin_memory()
    return IndexedTensorDataset(inputs, dataset.targets)


def training_parts(forget: Any, retain: Any, dataset: Any) -> Parts:
    """The forget and retain parts in one dataset; ``retain=None`` means every other example of ``dataset``."""
    if retain is None and not is_index_list(forget):
        raise ConfigError("retain=None works with forget indices into dataset=...; when forget is a Dataset, pass the data to keep as retain=.")
    return gather_parts({"forget": forget, "retain": retain}, dataset)


def request_parts(forget: Any, retain: Any, dataset: Any) -> tuple[Parts, dict[str, Any]]:
    """The parts of a deletion request (indices or datasets) or of a class removal (``ForgetClass``), and the task's extras."""
    if isinstance(forget, ForgetClass):
        request = class_parts(forget, retain, dataset)
        return request.parts, request.extras
    return training_parts(forget, retain, dataset), {}


def _split(parts: Parts, num_test: int = 1, test: np.ndarray | None = None, description: str = "expunge.unlearn") -> ForgetSplit:
    forget = parts.indices["forget"]
    retain = parts.indices.get("retain")
    if retain is None:
        retain = np.setdiff1d(np.arange(len(parts.dataset)), forget)
    test = np.arange(num_test) if test is None else test
    return ForgetSplit(np.sort(forget), np.sort(retain), np.zeros(0, dtype=np.int64), test, len(parts.dataset), num_test, description)


def _bundle(train: IndexedTensorDataset, test: IndexedTensorDataset | None = None) -> DatasetBundle:
    test = test if test is not None else IndexedTensorDataset(train.inputs[:1], train.targets[:1])
    classes = int(max(int(train.targets.max()), int(test.targets.max()))) + 1
    return DatasetBundle("user data", train, test, classes, source="expunge.api")


def _context(
    model: nn.Module,
    data: FamilyData,
    device: torch.device,
    recipe: Recipe,
    seed: int,
    progress: bool,
    init_state: dict[str, torch.Tensor] | None,
    oracles: Sequence[nn.Module] = (),
    metrics: Any = (),
    eval_ctx: EvalContext | None = None,
) -> Any:
    """The pipeline's ``Context`` around the user's objects (no config file, no cache)."""
    from .experiments.config import ExperimentConfig
    from .experiments.context import Context
    from .experiments.model_pool import TrainedModel

    config = ExperimentConfig(recipe=recipe, quiet=not progress, device=str(device), cache_dir=None, train_seed=seed)
    original = TrainedModel(model, {"source": "user model"})
    seeds = Seeds(train=seed, evaluation=seed)
    trained = [TrainedModel(o, {"source": "user oracle"}) for o in oracles]
    return Context(
        config=config,
        family=FAMILIES.get("classifier")(),
        data=data,
        device=device,
        cache=ModelCache(None),
        seeds=seeds,
        original=original,
        oracles=trained,
        fresh_model=lambda s: fresh_copy(model, s).to(device),
        original_init=init_state,
        metrics=list(metrics),
        eval_context=eval_ctx or EvalContext(device),
    )


@dataclass
class UnlearnResult:
    """What ``unlearn`` returns: the unlearned model (a copy), its cost, its mask, and the call that reproduces it."""

    model: nn.Module
    original: nn.Module  # the model passed in, unchanged
    method: str
    cost: Cost
    mask: Mask | None
    config: dict[str, Any]
    forget: np.ndarray  # the forgotten examples' positions in the data ``unlearn`` was given
    notes: dict[str, Any] = field(default_factory=dict)
    classes: list[int] | None = None  # the forgotten classes of a ``ForgetClass`` request

    def deletion_record(self, evaluation: Evaluation | None = None, weights_path: str | Path | None = None) -> dict[str, Any]:
        """The evidence for this deletion request (``expunge.deletion``), with the evaluation when there is one."""
        return deletion_record(
            self.forget,
            self.method,
            self.config["method_config"],
            {"unlearn_seed": self.config["call"]["seed"]},
            self.cost.to_dict(),
            metrics=evaluation.metrics if evaluation else None,
            verdict=evaluation.verdict if evaluation else None,
            weights_path=weights_path,
            extra={"call": self.config["call"], "data": self.config["data"], "model": self.config["model"], **({"forget_classes": self.classes} if self.classes else {})},
        )

    def save(self, folder: str | Path, evaluation: Evaluation | None = None) -> Path:
        """Write ``model.safetensors`` and ``deletion_record.json`` (with the weights' sha256) into ``folder``; returns the record's path."""
        folder = Path(folder)
        weights = folder / "model.safetensors"
        save_weights(self.model, weights, {"method": self.method})
        return write_deletion_record(folder / "deletion_record.json", self.deletion_record(evaluation, weights))


def resolve_method(method: str, budget: float, has_init: bool, localizer: str | None, alpha: float | None, overrides: dict[str, Any]) -> Any:
    """A preset (``del`` = the default variant at ``budget``), or any registered unlearner, as a validated MethodConfig."""
    from .experiments.config import MethodConfig, validate_method

    name = default_del(budget, has_init) if method.lower() == "del" else method
    preset = copy.deepcopy(PRESETS.get(name, {}))
    data: dict[str, Any] = {"name": name, **preset}
    data["hyperparams"] = {**preset.get("hyperparams", {}), **overrides}
    if localizer is not None:
        data["localizer"] = localizer
    if alpha is not None:
        data["alpha"] = alpha
    config = MethodConfig(**data)
    validate_method(config, "method")
    return config


def unlearn(
    model: nn.Module,
    forget: Any,
    retain: Any = None,
    method: str = "del",
    budget: float | None = None,
    seed: int = 0,
    *,
    dataset: Any = None,
    init_state: dict[str, torch.Tensor] | None = None,
    retrain_epochs: int = 15,
    localizer: str | None = None,
    alpha: float | None = None,
    device: str | torch.device = "auto",
    progress: bool = False,
    **hyperparams: Any,
) -> UnlearnResult:
    """Unlearn ``forget`` from a copy of ``model``, keeping ``retain``; ``model`` itself is not changed.

    - ``forget`` / ``retain``: a ``Dataset`` of ``(x, y)`` pairs (``TensorDataset``, ``Subset`` ...), a
      ``DataLoader``, or index lists into ``dataset``. ``retain=None`` with indices: every other example.
      ``forget=ForgetClass(c)`` removes class ``c``: every example of it in ``dataset`` is forgotten and
      class methods (``output_mask``, ``salun``, ``concept_poison``, ``zero_shot`` with
      ``ForgetClass(c, analysis=unseen_inputs)`` ...) see the class, as ``split.kind: class`` does.
    - ``method``: ``"del"`` (default) picks the DEL variant that measured best on the cost-quality
      frontier at ``budget`` (docs/benchmarks.md#frontier-full; table in ``DEL_BY_BUDGET``:
      DEL-combo at one epoch, DEL-own-init-small-batch at 0.25-0.5, the faithful DEL at 1.0; the
      variants that reset to the original's own initialization need ``init_state``, else the best
      fresh-reset variant runs). Any preset in ``PRESETS`` or registered unlearner (``finetune``,
      ``neggrad_plus``, ``salun`` ...; ``expunge list``) works too, with ``localizer`` and ``alpha``.
    - ``budget``: a fraction of one retraining's example passes (``retrain_epochs`` × |retain|),
      turned into epochs by the frontier's rule; default 0.25. ``epochs=`` overrides it.
    - ``**hyperparams``: the unlearner's own (checked against its declared ranges).

    Returns an ``UnlearnResult``: ``.model``, ``.cost`` (example passes, seconds), ``.mask``,
    ``.config["call"]`` (keyword arguments that reproduce the run) and ``.save(folder)``.
    """
    from .experiments.frontier import plan_method, task_sizes
    from .experiments.unlearning import unlearn as unlearn_stage

    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch nn.Module, got {type(model).__name__}.")
    budget_given = budget
    budget = DEFAULT_BUDGET if budget is None else float(budget)
    if not 0 < budget <= 1:
        raise ConfigError(f"budget={budget} must lie in (0, 1]: a fraction of one retraining's example passes.")
    parts, extras = request_parts(forget, retain, dataset)
    split = _split(parts)
    device = resolve_device(device)
    config = resolve_method(method, budget, init_state is not None, localizer, alpha, hyperparams)
    data = FamilyData(_bundle(place(parts.dataset, device)), split, extras)
    ctx = _context(copy.deepcopy(model).to(device), data, device, Recipe(epochs=retrain_epochs), seed, progress, init_state)
    if "epochs" not in hyperparams:
        config = plan_method(config, budget, retrain_epochs * len(split.retain), task_sizes(ctx)).method
    run = unlearn_stage(ctx, config, seed)
    call = {"method": method, "budget": budget_given, "seed": seed, "retrain_epochs": retrain_epochs, "localizer": localizer, "alpha": alpha, **hyperparams}
    record = {
        "call": call,
        "method_config": asdict(config),
        "data": {"forget": data_fingerprint(parts.dataset, split.forget), "retain": data_fingerprint(parts.dataset, split.retain)},
        "model": model_fingerprint(model),
        "device": str(device),
        "versions": environment_info(device),
    }
    classes = extras.get("forget_classes")
    if classes:
        record["forget_classes"] = classes
    return UnlearnResult(run.model, model, config.name, run.cost, run.mask, record, split.forget, run.notes, classes)


@dataclass
class Evaluation:
    """Metrics of the unlearned model, the original and each oracle; Δ = oracle mean − model, and the verdict."""

    metrics: dict[str, float]
    deltas: dict[str, float]
    original: dict[str, float] | None
    oracles: list[dict[str, float]]
    spread: dict[str, float]
    verdict: Any = None
    oracle_cost: Cost | None = None
    calibration: dict[str, Any] | None = None  # class removal: the verdict's checks on the oracles and adversarial models (evaluate.verdicts.calibration_block)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A Markdown table: one row per metric, columns unlearned / original / oracle mean ± std / Δ."""
        from .evaluate.verdicts import calibration_lines, is_raw

        keys = [k for k, v in self.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and (self.calibration is None or is_raw(k))]
        lines = ["| metric | unlearned | original | oracles (mean ± std) | Δ (oracles − unlearned) |", "|---|---|---|---|---|"]
        from .evaluate.gaps import DELTA_KEYS

        for key in keys:
            values = [o[key] for o in self.oracles if isinstance(o.get(key), (int, float))]
            oracle = f"{np.mean(values):.2f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.2f}" if values else "–"
            original = f"{self.original[key]:.2f}" if self.original and isinstance(self.original.get(key), (int, float)) else "–"
            delta = self.deltas.get(DELTA_KEYS.get(key, ""), None)
            lines.append(f"| {key} | {self.metrics[key]:.2f} | {original} | {oracle} | {'–' if delta is None else f'{delta:+.2f}'} |")
        for key in ("avg_gap", "avg_gap_auc"):
            if key in self.deltas:
                floor = self.spread.get(f"loo_{key}")
                lines.append(f"| {key} | {self.deltas[key]:.2f} | | {'–' if floor is None else f'{floor:.2f} (oracle floor)'} | |")
        if self.verdict is not None:
            lines.append(f"\nverdict: {self.verdict}")
        if self.calibration is not None:
            lines += ["", "Calibration of the verdict on this task:", *calibration_lines(self.calibration)]
        return "\n".join(lines)


def _test_part(test: Any, dataset: Any) -> tuple[IndexedTensorDataset, np.ndarray]:
    if test is None:
        raise ConfigError("evaluate needs test data (examples no model trained on): test=Dataset or indices into dataset.")
    parts = gather_parts({"test": test}, dataset if is_index_list(test) else None)
    return parts.dataset, parts.indices["test"]


def retrain_oracles(
    reference: nn.Module,
    parts: Parts,
    split: ForgetSplit,
    recipe: Recipe,
    count: int,
    seed: int,
    device: torch.device,
    progress: bool,
    augment: Callable[..., torch.Tensor] | None = None,
) -> tuple[list[nn.Module], Cost]:
    """``count`` models of ``reference``'s architecture, freshly initialised and trained on the retain set only (the pipeline's loop)."""
    from .experiments.config import ExperimentConfig
    from .experiments.model_pool import fit_member

    family = FAMILIES.get("classifier")()
    data = FamilyData(_bundle(place(parts.dataset, device)), split)
    config = ExperimentConfig(recipe=recipe, quiet=not progress, cache_dir=None)
    seeds = Seeds(train=seed)
    models, costs = [], []
    for k in range(count):
        model = fresh_copy(reference, seeds.oracle(k)).to(device)
        info = fit_member(model, "oracle", config, family, data, split.retain, Recipe(**{**recipe.to_dict(), "seed": seeds.oracle(k)}), device, augment)
        models.append(model)
        costs.append(Cost(**info["cost"]))
    median = Cost(
        float(np.median([c.wall_seconds for c in costs])),
        float(np.median([c.cpu_seconds for c in costs])),
        int(np.median([c.passes for c in costs])),
        int(np.median([c.forward_passes for c in costs])),
    )
    return models, median


def _recipe(retrain: Any) -> Recipe:
    if isinstance(retrain, Recipe):
        return retrain
    if retrain is True:
        return Recipe()
    if isinstance(retrain, dict):
        from .hparams import validate_params

        return Recipe(**validate_params(Recipe, retrain, "retrain"))  # type: ignore[arg-type]
    raise ConfigError(f"retrain must be a Recipe, a dict of its fields (epochs, lr, batch_size ...) or True, got {type(retrain).__name__}.")


def retrain(
    model: nn.Module,
    forget: Any,
    retain: Any = None,
    *,
    dataset: Any = None,
    recipe: Recipe | dict[str, Any] | bool = True,
    count: int = 3,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    augment: Callable[..., torch.Tensor] | None = None,
) -> list[nn.Module]:
    """``count`` models of ``model``'s architecture, freshly initialised and trained on the retain set only.

    The reference ("oracle") models every unlearned model is compared with; train them once and
    pass them to ``evaluate(..., oracles=...)`` for every method. ``recipe``: a ``Recipe`` or a dict of
    its fields (epochs, lr, batch_size, schedule, ``optimizer``: sgd | adam | adamw ...); ``True`` = the
    default recipe (SGD with momentum, cosine schedule).
    ``augment(inputs, generator) -> inputs`` transforms every training batch, as your own training did.
    """
    if count < 1:
        raise ConfigError("count must be >= 1 (3 or more gives a noise floor).")
    device = resolve_device(device)
    parts, _ = request_parts(forget, retain, dataset)
    models, _ = retrain_oracles(model, parts, _split(parts), _recipe(recipe), count, seed, device, progress, augment)
    return models


def evaluate(
    model: nn.Module | UnlearnResult,
    forget: Any,
    retain: Any = None,
    test: Any = None,
    *,
    dataset: Any = None,
    oracles: Sequence[nn.Module] | None = None,
    retrain: Recipe | dict[str, Any] | bool | None = None,
    num_oracles: int = 3,
    original: nn.Module | None = None,
    metrics: Any = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    augment: Callable[..., torch.Tensor] | None = None,
) -> Evaluation:
    """Score ``model`` (or an ``UnlearnResult``) against models retrained without ``forget``: the pipeline's metrics and Δs.

    Give the retrained models (``oracles=[...]``, trained on ``retain`` only) or a recipe to train
    ``num_oracles`` of them from fresh initializations of the same architecture (``retrain=Recipe(...)``,
    a dict of its fields such as ``{"optimizer": "adam", "lr": 1e-3}``, or ``True`` for the default
    recipe; ``augment`` as in ``retrain``). ``metrics`` names a metric set or
    metrics from the registry (default ``example``: forget / retain / test accuracy, SVC MIA-efficacy,
    loss-AUC; with ``forget=ForgetClass(c)`` the ``class`` set: class accuracies, Fr / Fs, feature
    probes, the relearn attack and the calibrated class verdict, ``.verdict`` one of
    ``evaluate.verdicts.VERDICTS`` and ``.calibration`` its checks; the original model is needed). ``.table()`` prints the comparison; ``.deltas["avg_gap"]`` is SalUn's Avg.Gap, to be
    read against ``.spread["loo_avg_gap"]`` (each oracle scored against the others: the noise floor).
    """
    result = model if isinstance(model, UnlearnResult) else None
    scored: nn.Module = model.model if isinstance(model, UnlearnResult) else model
    original = original if original is not None else (result.original if result is not None else None)
    if (oracles is None) == (retrain is None):
        raise ConfigError("evaluate needs exactly one of oracles=[retrained models] or retrain=Recipe(...) (to train them).")
    device = resolve_device(device)
    parts, extras = request_parts(forget, retain, dataset)
    classes = extras.get("forget_classes")
    if result is not None and (result.classes or None) != (classes or None):
        raise ConfigError(
            f"the result forgot {f'classes {result.classes}' if result.classes else 'examples, not a class'}, but evaluate was given {f'ForgetClass({classes})' if classes else 'examples'}; pass the same forget= as to unlearn."
        )
    if classes and original is None:
        raise ConfigError("class metrics compare with the model before unlearning: pass original=your_model (an UnlearnResult carries it).")
    test_set, test_idx = _test_part(test, dataset)
    split = _split(parts, len(test_set), test_idx, description="expunge.evaluate")
    oracle_cost = None
    if retrain is not None:
        if num_oracles < 1:
            raise ConfigError("num_oracles must be >= 1 (3 or more gives a noise floor).")
        oracles, oracle_cost = retrain_oracles(original if original is not None else scored, parts, split, _recipe(retrain), num_oracles, seed, device, progress, augment)
    oracles = [on_device(o, device) for o in (oracles or [])]
    if not oracles:
        raise ConfigError("oracles=[] is empty; give at least one retrained model.")
    extras_ = {"forget_classes": classes} if classes else {}
    eval_ctx = EvalContext(device, seed, place(parts.dataset, device), place(test_set, device), split, on_device(original, device) if original is not None else None, oracles, extras_)
    metrics = metrics if metrics is not None else ("class" if classes else "example")
    chosen = build_metrics(metrics if isinstance(metrics, list) else [metrics], "example")
    check_needs(chosen, eval_ctx)
    scored = on_device(scored, device)
    values = run_metrics(chosen, scored, eval_ctx)
    oracle_values = [run_metrics(chosen, o, eval_ctx) for o in oracles]
    original_values = run_metrics(chosen, eval_ctx.original, eval_ctx) if eval_ctx.original is not None else None
    gaps = deltas(values, oracle_values)
    calibration = _calibration(chosen, eval_ctx)
    return Evaluation(values, gaps, original_values, oracle_values, oracle_spread(oracle_values), verdict_of({**values, **gaps}, oracle_values), oracle_cost, calibration)


def _calibration(chosen: list[Any], eval_ctx: EvalContext) -> dict[str, Any] | None:
    """The class verdict's calibration on this task, as the pipeline's pool summary holds it (None without a class verdict)."""
    from .evaluate.class_forgetting import ClassVerdict
    from .evaluate.verdict_calibration import class_calibration

    verdict = next((m for m in chosen if isinstance(m, ClassVerdict)), None)
    return class_calibration(verdict, eval_ctx) if verdict is not None else None


def verdict_of(record: dict[str, Any], oracle_metrics: list[dict[str, float]]) -> str | None:
    """The pipeline's judgement: the metric set's own verdict (class removal), else the noise-floor flag on the Δs."""
    if "verdict" in record:
        from .evaluate.verdicts import verdict_name

        return verdict_name(record["verdict"])
    flags = noise_verdict(record, oracle_metrics)
    return flags["name"] if flags else None
