"""Runs one experiment through the stages: data, pool, (localize, unlearn, evaluate) per method × seed, record, report.

Each stage lives in its own module (prepare_data, model_pool, localization, unlearning,
evaluation, records); this module only plans the runs, hands them to an executor,
stores each record as it finishes (so an interrupted sweep resumes) and writes the outputs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..api import verdict_of
from ..deletion import deletion_record, save_weights, write_deletion_record
from ..errors import ConfigError, ExpungeError
from ..family import family_of
from ..utils import atomic_write_json, atomic_write_text, resolve_device
from .config import ExperimentConfig, MethodConfig, load_config
from .context import context_for, seeds_of
from .evaluation import pool_summary
from .executors import Job, JobResult, make_executor
from .method_runs import run_method
from .model_pool import model_cache, train_cached
from .prepare_data import load_task_data
from .records import failed_record, provenance, public_info, retrain_records, run_hash, run_key
from .report import write_report
from .store import OutFolder, RecordStore, experiment_hash

log = logging.getLogger("expunge.runner")


def train_pool_member_job(config_data: dict[str, Any], kind: str, index: int) -> dict[str, Any]:
    """Executor job: train (or find cached) the original or oracle ``index``; returns its info."""
    config = load_config(config_data)
    device = resolve_device(config.device)
    family = family_of(config)
    data = load_task_data(config)
    seeds = seeds_of(config)
    seed = seeds.original() if kind == "original" else seeds.oracle(index)
    trained = train_cached(model_cache(config), kind, config, family, data, seed, device)
    return {k: v for k, v in trained.info.items() if k != "spec"}


def method_job(config_data: dict[str, Any], method_index: int, run: int) -> dict[str, Any]:
    """Executor job: one method at one unlearning seed, with its deletion record (and weights with ``save_models``)."""
    config = load_config(config_data)
    ctx = context_for(config)
    method = config.methods[method_index]
    kept: dict[str, Any] = {}
    record = run_method(ctx, method, run, keep_model=kept)
    record["deletion_record"] = write_evidence(ctx, method, run, record, kept["model"])
    return record


COST_KEYS = ("seconds", "cpu_seconds", "passes", "forward_passes", "relative_passes", "relative_time")


def write_evidence(ctx: Any, method: MethodConfig, run: int, record: dict[str, Any], model: Any) -> str:
    """``records/<key>.deletion.json`` (and ``records/<key>.safetensors`` with ``save_models``); returns the record's path relative to ``out``."""
    out = Path(ctx.config.out)
    key = run_key(method, run)
    weights = out / "records" / f"{key}.safetensors" if ctx.config.save_models else None
    if weights is not None:
        save_weights(model, weights, {"method": method.name, "seed": str(run)})
    evidence = deletion_record(
        ctx.split.forget,
        method.name,
        asdict(method),
        ctx.seeds.record(run, ctx.config.oracles),
        {k: record.get(k) for k in COST_KEYS},
        metrics=record,
        verdict=verdict_of(record, ctx.oracle_metrics),
        weights_path=weights,
        device=ctx.device,
        extra={"experiment": ctx.config.name, "config_hash": run_hash(ctx.config, method, run), "original": ctx.original.info.get("checkpoint_sha256") or public_info(ctx.original.info)["spec_hash"]},
    )
    path = write_deletion_record(out / "records" / f"{key}.deletion.json", evidence)
    return str(path.relative_to(out))


def train_pool(config: ExperimentConfig, executor: Any) -> None:
    """Train the original and the oracles as independent jobs (parallel on Ray); needs a cache."""
    if not config.cache_dir or config.executor.name == "local":
        return  # in-process, prepare() trains (or loads) the same models once
    data = config.to_dict()
    jobs = [Job("original", train_pool_member_job, (data, "original", 0))]
    jobs += [Job(f"oracle-{k}", train_pool_member_job, (data, "oracle", k)) for k in range(config.oracles)]
    failed = [r for r in executor.map(jobs) if not r.ok]
    if failed:
        raise ExpungeError("could not train the model pool: " + "; ".join(f"{r.key}: {r.error}" for r in failed))


def run_experiment(config: ExperimentConfig, executor: Any | None = None, overwrite: bool = False) -> list[dict[str, Any]]:
    """Run (or resume) every method x seed; write results.json, run.json and report.md.

    The out folder is claimed first (``OutFolder.claim``): finished records of another config are
    never replaced (``overwrite`` moves them aside), and another config running there is refused.
    """
    planned = [(run_key(m, run), run_hash(config, m, run)) for m in config.methods for run in config.seeds]
    with OutFolder(config.out).claim(experiment_hash(config.to_dict()), planned, overwrite):
        return _run_claimed(config, executor)


def _run_claimed(config: ExperimentConfig, executor: Any | None) -> list[dict[str, Any]]:
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
    data = config.to_dict()
    planned: list[tuple[str, str, MethodConfig, int]] = []
    done: dict[str, dict[str, Any]] = {}
    jobs: list[Job] = []
    for index, method in enumerate(config.methods):
        for run in config.seeds:
            key, config_hash = run_key(method, run), run_hash(config, method, run)
            planned.append((key, config_hash, method, run))
            record = store.load(key, config_hash)
            if record is not None:
                done[key] = record
            else:
                jobs.append(Job(key, method_job, (data, index, run)))
    by_key = {p[0]: p for p in planned}

    def save(result: JobResult) -> None:
        _, config_hash, method, run = by_key[result.key]
        if result.ok:
            record = {**result.value, "status": "ok"}
        else:
            log.error("%s failed: %s", result.key, result.error)
            record = failed_record(method, run, result.error, result.traceback)
        record.update(config_hash=config_hash, attempts=result.attempts, method_config=asdict(method), seeds=ctx.seeds.record(run, config.oracles))
        store.save(result.key, record)
        done[result.key] = record

    executor.map(jobs, on_result=save)
    records = retrain_records(ctx) + [done[key] for key, *_ in planned]
    for record in records:
        record.setdefault("status", "ok")
        record["seeds"] = record.get("seeds") or {**ctx.seeds.record(oracles=config.oracles), "oracle_index": record["seed"]}
        record["config"] = prov["config"]
        record["environment"] = prov["environment"]
        record["oracle_train_seconds_median"] = ctx.oracle_seconds
        record["oracle_cost"] = ctx.oracle_cost.to_dict()
    summary = pool_summary(ctx)
    summary["original"]["info"] = public_info(ctx.original.info)
    for entry, oracle in zip(summary["oracles"], ctx.oracles):
        entry["info"] = public_info(oracle.info)
    run_info = {
        **prov,
        **summary,
        "oracle_train_seconds_median": ctx.oracle_seconds,
        "oracle_cost": ctx.oracle_cost.to_dict(),
        "executor": config.executor.name,
        "total_seconds": time.time() - started,
    }
    atomic_write_json(out / "results.json", records)
    atomic_write_json(out / "run.json", run_info)
    atomic_write_text(out / "report.md", write_report(records, run_info, out))
    return records
