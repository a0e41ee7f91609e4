"""One class-removal comparison: original, retrained oracle, zero-shot LRA-NPP and noise baselines.

Shared by ``demo.run_zero_shot_demo`` and ``benchmarks/zero_shot_fmnist.py``. The original and
the oracle (trained on the pool without the class) come from expunge's ``ModelCache``; the
analysis images (and the few other-class images for the K_p rule) are drawn from the test
split and excluded from every test metric. Only they are handed to the zero-shot method.
"""

from __future__ import annotations

import copy
import gc
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..cache import ModelCache
from ..data import DatasetBundle
from ..errors import ConfigError
from ..models import build_model
from ..train import Recipe, epoch_batches, train
from ..utils import resolve_device, seed_everything, stable_hash
from .evaluate import RemovalEvaluator
from .method import PAPER_CONFIG, ZeroShotConfig, zero_shot_unlearn


@dataclass
class RemovalSetup:
    """Everything that determines a class-removal run besides the class and the seed."""

    dataset: str = "fashion_mnist"
    model: str = "resnet_small"
    model_options: dict[str, Any] = field(default_factory=dict)
    pool_size: int = 6000
    pool_seed: int = 0
    recipe: Recipe = field(default_factory=lambda: Recipe(epochs=15, lr=0.05, batch_size=128))
    n_analysis: int = 36  # the authors' analysis-set size
    n_other: int = 36
    noise_scale: float = 1.0
    probe_per_class: int = 200  # training images per class for the feature probe (0 = skip it)
    zero_shot: ZeroShotConfig = field(default_factory=ZeroShotConfig)
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


QUICK_SETUP = RemovalSetup(pool_size=2000, recipe=Recipe(epochs=8, lr=0.05, batch_size=128))


def method_configs(base: ZeroShotConfig, noise_scale: float, seed: int) -> dict[str, ZeroShotConfig]:
    """The compared zero-shot variants: expunge's default, the authors' path, and their noise baselines on that path."""
    paper = replace(PAPER_CONFIG, seed=seed)
    return {
        "lra-npp": replace(base, seed=seed),
        "lra-npp-paper": paper,
        "noise-gn": replace(paper, perturbation="gaussian", scale=noise_scale),
        "noise-ln": replace(paper, perturbation="laplace", scale=noise_scale),
    }


def training_pool(bundle: DatasetBundle, size: int, seed: int) -> np.ndarray:
    """A class-stratified random subset of the training split (sorted indices)."""
    if size <= 0 or size >= len(bundle.train):
        return np.arange(len(bundle.train))
    rng = np.random.default_rng(seed)
    targets = bundle.train_targets()
    per_class = size // bundle.num_classes
    picks = [rng.choice(np.where(targets == c)[0], per_class, replace=False) for c in range(bundle.num_classes)]
    return np.sort(np.concatenate(picks))


def train_cached(cache: ModelCache, kind: str, setup: RemovalSetup, bundle: DatasetBundle, indices: np.ndarray, seed: int, device: torch.device, quiet: bool) -> tuple[nn.Module, dict[str, Any]]:
    recipe = replace(setup.recipe, seed=seed)
    spec = {"dataset": setup.dataset, "indices": stable_hash(np.sort(indices).tolist()), "num_examples": int(len(indices)),
            "model": {"name": setup.model, "options": setup.model_options}, "recipe": recipe.to_dict()}

    def build() -> nn.Module:
        return build_model(setup.model, bundle.input_shape, bundle.num_classes, seed=seed, **setup.model_options).to(device)

    def fit(model: nn.Module) -> dict[str, Any]:
        seed_everything(seed)
        log = train(model, epoch_batches(bundle.train, indices, recipe.batch_size, seed), recipe, device, progress=not quiet, desc=f"{kind} seed {seed}")
        return {"train_seconds": log.seconds, "epoch_losses": log.epoch_losses}

    model, info = cache.get_or_train(kind, spec, build, fit)
    return model.to(device).eval(), info


def analysis_split(bundle: DatasetBundle, forget_class: int, n_analysis: int, n_other: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(analysis test indices of the class, other-class test indices, the remaining test indices for evaluation)."""
    rng = np.random.default_rng(seed)
    targets = bundle.test.targets.numpy()
    own, others = np.where(targets == forget_class)[0], np.where(targets != forget_class)[0]
    if len(own) < n_analysis + 2:
        raise ConfigError(f"class {forget_class} has only {len(own)} test images; lower n_analysis ({n_analysis}).")
    analysis = np.sort(rng.choice(own, n_analysis, replace=False))
    other = np.sort(rng.choice(others, n_other, replace=False)) if n_other else np.array([], dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(targets)), np.union1d(analysis, other))
    return analysis, other, rest


def run_class_removal(setup: RemovalSetup, bundle: DatasetBundle, forget_class: int, seed: int, cache: ModelCache, quiet: bool = True) -> list[dict[str, Any]]:
    """Records (one per method) for removing ``forget_class`` at ``seed``."""
    if not 0 <= forget_class < bundle.num_classes:
        raise ConfigError(f"forget class {forget_class} out of range; {bundle.name} has classes 0..{bundle.num_classes - 1}.")
    device = resolve_device(setup.device)
    pool = training_pool(bundle, setup.pool_size, setup.pool_seed)
    retain = pool[bundle.train.targets.numpy()[pool] != forget_class]
    original, original_info = train_cached(cache, "zs-original", setup, bundle, pool, seed, device, quiet)
    oracle, oracle_info = train_cached(cache, "zs-oracle", setup, bundle, retain, seed, device, quiet)
    analysis, other, rest = analysis_split(bundle, forget_class, setup.n_analysis, setup.n_other, seed)
    evaluator = RemovalEvaluator(bundle.train, pool, bundle.test, rest, forget_class, device, seed, probe_per_class=setup.probe_per_class)
    evaluator.fit_attack(original)
    base = {"class": forget_class, "class_name": bundle.class_names[forget_class] if bundle.class_names else str(forget_class), "seed": seed}
    records = [
        {**base, "method": "original", **evaluator(original), "seconds": 0.0, "train_seconds": original_info["train_seconds"]},
        {**base, "method": "retrain", **evaluator(oracle), "seconds": oracle_info["train_seconds"], "cache_hit": oracle_info.get("cache_hit")},
    ]
    x_a = bundle.test.inputs[torch.as_tensor(analysis)]
    others = (bundle.test.inputs[torch.as_tensor(other)], bundle.test.targets[torch.as_tensor(other)]) if len(other) else None
    for name, cfg in method_configs(setup.zero_shot, setup.noise_scale, seed).items():
        candidate = copy.deepcopy(original)
        gc.collect()  # the evaluation's garbage is collected here, not inside the method's timed call
        result = zero_shot_unlearn(candidate, forget_class, x_a, others, cfg, inplace=True)
        summary = result.summary()
        records.append({**base, "method": name, **evaluator(result.model), "seconds": result.seconds, "k_p": summary["k_p"], "k_a": summary["k_a"],
                        "selection_met": summary["selection_met"], "selection_reason": summary["selection_reason"], "path": summary["path"], "perturbed_entries": summary["perturbed_entries"],
                        "layer": summary["layer"], "path_notes": summary["path_notes"], "timings": summary["timings"]})
    ref = records[0]
    retrain_seconds = records[1]["seconds"]
    for r in records:
        r["other_drop_train"] = ref["other_acc_train"] - r["other_acc_train"]
        r["other_drop_test"] = ref["other_acc_test"] - r["other_acc_test"]
        r["speedup_vs_retrain"] = retrain_seconds / r["seconds"] if r["seconds"] > 0 else None
    records[2]["analysis_test_indices"] = analysis.tolist()
    records[2]["other_test_indices"] = other.tolist()
    return records


TABLE_COLUMNS = ("method", "target_acc_train", "target_acc_test", "other_acc_train", "other_acc_test", "mia_fr", "mia_fs", "probe_target_acc", "seconds", "k_p", "path")
DECIMALS = {"seconds": 3}  # every other float is a percentage: 2 decimals


def format_table(records: list[dict[str, Any]], columns: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """Markdown table (also readable in a terminal)."""
    def cell(column: str, v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.{DECIMALS.get(column, 2)}f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, r.get(c)) for c in columns) + " |" for r in records]
    return "\n".join(lines)
