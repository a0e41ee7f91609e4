"""Runs one experiment: split, original, oracle pool, every method x seed, evaluation, report."""

from __future__ import annotations

import copy
import logging
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..cache import ModelCache, state_to_cpu
from ..data import DatasetBundle, ForgetSplit, build_split, corrupt, load_dataset
from ..data.splits import _read_indices
from ..evaluate import changed_fraction, deltas, evaluate_model, oracle_spread
from ..localize import LOCALIZERS
from ..masks import Mask
from ..models import build_model, count_parameters
from ..train import Recipe, epoch_batches, train
from ..unlearn import UNLEARNERS, UnlearningTask
from ..utils import Timer, atomic_write_json, atomic_write_text, environment_info, resolve_device, seed_everything, stable_hash
from ..errors import ConfigError, ExpungeError
from .config import ExperimentConfig, MethodConfig
from .executors import Job, JobResult, make_executor
from .store import RecordStore

log = logging.getLogger("expunge.runner")


@dataclass
class TrainedModel:
    model: nn.Module
    info: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Context:
    """Everything shared by the methods of one experiment."""

    config: ExperimentConfig
    bundle: DatasetBundle
    split: ForgetSplit
    device: torch.device
    cache: ModelCache
    original: TrainedModel
    oracles: list[TrainedModel]
    fresh_model: Callable[[int], nn.Module]
    original_init: dict[str, torch.Tensor] | None
    extra_metrics: Callable[[nn.Module, torch.device], dict[str, float]] | None = None

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Standard metrics plus the corruption's own (clean test accuracy, backdoor success)."""
        ev = self.config.evaluation
        metrics = evaluate_model(model, self.bundle.train, self.bundle.test, self.split, self.device, ev.seed, ev.mia_max_per_side).metrics
        if self.extra_metrics is not None:
            metrics.update(self.extra_metrics(model, self.device))
        return metrics

    @property
    def oracle_metrics(self) -> list[dict[str, float]]:
        return [o.metrics for o in self.oracles]

    @property
    def oracle_seconds(self) -> float:
        return statistics.median(o.info["train_seconds"] for o in self.oracles)


def make_split(config: ExperimentConfig, bundle: DatasetBundle) -> ForgetSplit:
    s = config.split
    if s.indices_file:
        path = Path(s.indices_file).expanduser()
        if path.is_dir():
            return ForgetSplit.load(path)
        return ForgetSplit.from_forget_indices(_read_indices(path), len(bundle.train), len(bundle.test), description=f"forget indices from {path}")
    options: dict[str, Any] = {"fraction": s.fraction, **s.options}
    if s.classes is not None:
        options["classes"] = s.classes
    return build_split(s.kind, bundle.train_targets(), len(bundle.test), s.seed, s.train_size, s.test_size, s.validation_fraction, inputs=bundle.train.inputs, **options)


def model_cache(config: ExperimentConfig) -> ModelCache:
    return ModelCache(Path(config.cache_dir).expanduser() if config.cache_dir else None)


def model_factory(config: ExperimentConfig, bundle: DatasetBundle, device: torch.device) -> Callable[[int], nn.Module]:
    """seed -> a newly initialised model of the configured architecture, on ``device``."""

    def fresh(seed: int) -> nn.Module:
        return build_model(config.model.name, bundle.input_shape, bundle.num_classes, seed=seed, **config.model.options).to(device)

    return fresh


def load_data(config: ExperimentConfig) -> tuple[DatasetBundle, ForgetSplit, Callable[[nn.Module, torch.device], dict[str, float]] | None]:
    """Dataset and split; with ``split.corruption`` the forget set is corrupted before anything trains on it."""
    bundle = load_dataset(config.dataset.name, **config.dataset.options)
    split = make_split(config, bundle)
    if not config.split.corruption:
        return bundle, split, None
    options = {k: v for k, v in config.split.corruption.items() if k != "name"}
    corrupted = corrupt(config.split.corruption["name"], bundle, split.forget, split.test, **{"seed": config.split.seed, **options})
    return corrupted.bundle, split, corrupted.metrics


def train_cached(ctx_cache: ModelCache, kind: str, config: ExperimentConfig, bundle: DatasetBundle, indices: np.ndarray, seed: int, device: torch.device, fresh: Callable[[int], nn.Module]) -> TrainedModel:
    recipe = Recipe(**{**config.recipe.to_dict(), "seed": seed})
    spec = {
        "dataset": asdict(config.dataset),
        "corruption": config.split.corruption if kind == "original" else None,
        "indices": stable_hash(np.sort(indices).tolist()),
        "num_examples": int(len(indices)),
        "model": asdict(config.model),
        "recipe": recipe.to_dict(),
    }

    def fit(model: nn.Module) -> dict[str, Any]:
        seed_everything(seed)
        model.to(device)
        log_ = train(model, epoch_batches(bundle.train, indices, recipe.batch_size, seed), recipe, device, progress=not config.quiet, desc=f"{kind} seed {seed}")
        return {"train_seconds": log_.seconds, "epoch_losses": log_.epoch_losses, "device": str(device)}

    model, info = ctx_cache.get_or_train(kind, spec, lambda: fresh(seed), fit)
    return TrainedModel(model.to(device), info)


def prepare(config: ExperimentConfig, original_seed: int | None = None) -> Context:
    """Load data, build the split, train (or load) the original and the oracles, evaluate them.

    ``original_seed`` picks another independently trained original (model pools); the
    oracles are always those of ``config.train_seed``.
    """
    device = resolve_device(config.device)
    bundle, split, extra_metrics = load_data(config)
    cache = model_cache(config)
    fresh = model_factory(config, bundle, device)

    pool = np.union1d(split.forget, split.retain)
    seed = config.train_seed if original_seed is None else original_seed
    original = train_cached(cache, "original", config, bundle, pool, seed, device, fresh)
    oracles = [train_cached(cache, "oracle", config, bundle, split.retain, config.train_seed + 1 + k, device, fresh) for k in range(config.oracles)]
    init_folder_spec = original.info.get("spec")
    original_init = cache.init_state("original", init_folder_spec) if init_folder_spec else None
    ctx = Context(config, bundle, split, device, cache, original, oracles, fresh, original_init, extra_metrics)
    for trained in [original, *oracles]:
        trained.metrics = ctx.evaluate(trained.model)
    return ctx


def localize(ctx: Context, method: MethodConfig, model: nn.Module, seed: int) -> Mask:
    localizer = LOCALIZERS.get(method.localizer)(**method.localizer_options)
    data = _batches(ctx, localizer.data_source, seed)
    reference_source = getattr(localizer, "reference_source", None)
    extra = {"reference": _batches(ctx, reference_source, seed + 1)} if reference_source else {}
    scores = localizer.fit(model, cross_entropy, data, **extra)
    mask = scores.mask(method.alpha, method.granularity, method.budget)
    mask.metadata.update(localizer=method.localizer, seed=str(seed))
    return mask


def _batches(ctx: Context, source: str, seed: int) -> Any:
    """One pass over the forget set or the whole training pool (forget + retain), for localizers."""
    part = ctx.split.forget if source == "forget" else np.union1d(ctx.split.forget, ctx.split.retain)
    return epoch_batches(ctx.bundle.train, part, 128, seed)(0)


def cross_entropy(model: nn.Module, batch: Any) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def run_method(ctx: Context, method: MethodConfig, seed: int, keep_model: dict[str, nn.Module] | None = None) -> dict[str, Any]:
    """Localize (optional), unlearn and evaluate one method at one unlearning seed."""
    seed_everything(seed)
    model = copy.deepcopy(ctx.original.model)
    before = state_to_cpu(model)
    mask, localize_seconds = None, 0.0
    if method.localizer:
        with Timer(ctx.device) as t_loc:
            mask = localize(ctx, method, model, seed)
        localize_seconds = t_loc.seconds
    recovery: list[dict[str, float]] = []
    excluded = [0.0]

    def on_epoch(epoch: int, current: nn.Module) -> None:
        t0 = time.perf_counter()
        metrics = ctx.evaluate(current)
        recovery.append({"epoch": epoch + 1, **metrics, **deltas(metrics, ctx.oracle_metrics)})
        excluded[0] += time.perf_counter() - t0

    task = UnlearningTask(
        ctx.bundle.train, ctx.split, ctx.device, ctx.fresh_model, ctx.config.recipe, seed,
        progress=not ctx.config.quiet, original_init=ctx.original_init,
        epoch_callback=on_epoch if method.recovery_curve else None,
    )
    unlearner = UNLEARNERS.get(method.unlearner)(**method.hyperparams)
    with Timer(ctx.device) as t_unl:
        model = unlearner.unlearn(model, task, mask)
    unlearn_seconds = t_unl.seconds - excluded[0]
    metrics = ctx.evaluate(model)
    seconds = localize_seconds + unlearn_seconds
    if keep_model is not None:
        keep_model["model"] = model
    record: dict[str, Any] = {
        "method": method.name,
        "unlearner": method.unlearner,
        "localizer": method.localizer,
        "alpha": method.alpha,
        "seed": seed,
        **metrics,
        **deltas(metrics, ctx.oracle_metrics),
        "seconds": seconds,
        "localize_seconds": localize_seconds,
        "unlearn_seconds": unlearn_seconds,
        "relative_time": seconds / ctx.oracle_seconds,
        "changed_fraction": changed_fraction(before, model),
        "mask_fraction": mask.fraction() if mask else None,
        "mask_layers": mask.layer_fractions() if mask else None,
        "recovery": recovery or None,
        "notes": {k: v for k, v in task.notes.items() if k != "epoch_losses"},
    }
    return record


def retrain_records(ctx: Context) -> list[dict[str, Any]]:
    """Each oracle scored against the others (leave-one-out): the noise floor of every Δ."""
    records = []
    original_state = state_to_cpu(ctx.original.model)
    for k, oracle in enumerate(ctx.oracles):
        others = [o.metrics for j, o in enumerate(ctx.oracles) if j != k] or [oracle.metrics]
        seconds = oracle.info["train_seconds"]
        records.append({
            "method": "retrain", "unlearner": "retrain", "localizer": None, "alpha": None, "seed": k,
            **oracle.metrics, **deltas(oracle.metrics, others),
            "seconds": seconds, "localize_seconds": 0.0, "unlearn_seconds": seconds,
            "relative_time": seconds / ctx.oracle_seconds,
            "changed_fraction": changed_fraction(original_state, oracle.model),
            "mask_fraction": None, "mask_layers": None, "recovery": None,
            "notes": {"compared_with": "the other oracles (leave-one-out)", "cache_hit": oracle.info.get("cache_hit")},
        })
    return records


def provenance(config: ExperimentConfig, ctx: Context) -> dict[str, Any]:
    return {
        "config": config.to_dict(),
        "environment": environment_info(ctx.device),
        "split_sizes": ctx.split.sizes(),
        "split_description": ctx.split.description,
        "num_parameters": count_parameters(ctx.original.model),
    }


_CONTEXTS: dict[str, Context] = {}


def context_for(config: ExperimentConfig, original_seed: int | None = None) -> Context:
    """``prepare`` memoised per process, so executor jobs in one worker share the loaded pool."""
    key = stable_hash({"config": {k: v for k, v in config.to_dict().items() if k not in ("methods", "seeds", "out", "quiet", "executor")}, "original": original_seed})
    if key not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[key] = prepare(config, original_seed)
    return _CONTEXTS[key]


def train_pool_member_job(config_data: dict[str, Any], kind: str, index: int) -> dict[str, Any]:
    """Executor job: train (or find cached) the original or oracle ``index``; returns its info."""
    from .config import load_config

    config = load_config(config_data)
    device = resolve_device(config.device)
    bundle, split, _ = load_data(config)
    cache = model_cache(config)
    fresh = model_factory(config, bundle, device)

    indices = np.union1d(split.forget, split.retain) if kind == "original" else split.retain
    seed = config.train_seed if kind == "original" else config.train_seed + 1 + index
    trained = train_cached(cache, kind, config, bundle, indices, seed, device, fresh)
    return {k: v for k, v in trained.info.items() if k != "spec"}


def method_job(config_data: dict[str, Any], method_index: int, seed: int) -> dict[str, Any]:
    """Executor job: one method at one unlearning seed."""
    from .config import load_config

    config = load_config(config_data)
    return run_method(context_for(config), config.methods[method_index], seed)


def train_pool(config: ExperimentConfig, executor: Any) -> None:
    """Train the original and the oracles as independent jobs (parallel on Ray); needs a cache."""
    if not config.cache_dir or config.executor.name == "local":
        return  # in-process, prepare() trains (or loads) the same models once; parallel jobs share the cache
    data = config.to_dict()
    jobs = [Job("original", train_pool_member_job, (data, "original", 0))]
    jobs += [Job(f"oracle-{k}", train_pool_member_job, (data, "oracle", k)) for k in range(config.oracles)]
    failed = [r for r in executor.map(jobs) if not r.ok]
    if failed:
        raise ExpungeError("could not train the model pool: " + "; ".join(f"{r.key}: {r.error}" for r in failed))


def run_experiment(config: ExperimentConfig, executor: Any | None = None) -> list[dict[str, Any]]:
    """Run (or resume) every method x seed; write results.json, run.json and report.md."""
    from .report import write_report

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    if executor is None:
        executor = make_executor(config.executor.name, **config.executor.options())
    if config.executor.name != "local" and not config.cache_dir:
        raise ConfigError("a parallel executor needs cache_dir (on a filesystem every worker can read) to share trained models.")
    train_pool(config, executor)
    ctx = context_for(config)
    ctx.split.save(out / "split")
    prov = provenance(config, ctx)
    store = RecordStore(out / "records")
    base_hash = stable_hash({k: v for k, v in config.to_dict().items() if k not in ("methods", "seeds", "out", "quiet", "cache_dir", "device", "executor")})
    seeds_info = {"train_seed": config.train_seed, "oracle_seeds": [config.train_seed + 1 + k for k in range(config.oracles)], "eval_seed": config.evaluation.seed}
    data = config.to_dict()
    planned: list[tuple[str, str, MethodConfig, int]] = []
    done: dict[str, dict[str, Any]] = {}
    jobs: list[Job] = []
    for index, method in enumerate(config.methods):
        for seed in config.seeds:
            key = f"{method.name}-seed{seed}".replace("/", "_").replace(" ", "_")
            config_hash = stable_hash({"base": base_hash, "method": asdict(method), "seed": seed})
            planned.append((key, config_hash, method, seed))
            record = store.load(key, config_hash)
            if record is not None:
                done[key] = record
            else:
                jobs.append(Job(key, method_job, (data, index, seed)))
    by_key = {p[0]: p for p in planned}

    def save(result: JobResult) -> None:
        _, config_hash, method, seed = by_key[result.key]
        if result.ok:
            record = {**result.value, "status": "ok"}
        else:
            log.error("%s failed: %s", result.key, result.error)
            record = {"method": method.name, "unlearner": method.unlearner, "localizer": method.localizer, "alpha": method.alpha, "seed": seed,
                      "status": "failed", "error": result.error, "traceback": result.traceback}
        record.update(config_hash=config_hash, attempts=result.attempts, method_config=asdict(method), seeds={**seeds_info, "unlearn_seed": seed})
        store.save(result.key, record)
        done[result.key] = record

    executor.map(jobs, on_result=save)
    records = retrain_records(ctx) + [done[key] for key, *_ in planned]
    for record in records:
        record.setdefault("status", "ok")
        record["seeds"] = record.get("seeds") or {**seeds_info, "oracle_index": record["seed"]}
        record["config"] = prov["config"]
        record["environment"] = prov["environment"]
        record["oracle_train_seconds_median"] = ctx.oracle_seconds
    run_info = {
        **prov,
        "original": {"metrics": ctx.original.metrics, "info": _public_info(ctx.original.info)},
        "oracles": [{"metrics": o.metrics, "info": _public_info(o.info)} for o in ctx.oracles],
        "oracle_spread": oracle_spread(ctx.oracle_metrics),
        "oracle_train_seconds_median": ctx.oracle_seconds,
        "executor": config.executor.name,
        "total_seconds": time.time() - started,
    }
    atomic_write_json(out / "results.json", records)
    atomic_write_json(out / "run.json", run_info)
    atomic_write_text(out / "report.md", write_report(records, run_info, out))
    return records


def _public_info(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k not in ("spec",)} | {"spec_hash": stable_hash(info.get("spec", {}))}
