"""Run a study: every cell through the one pipeline, one store, one summary.

Each cell is one ``run_experiment`` / ``run_frontier`` / ``build_pool`` (``CELL_KINDS``) with its own
output folder under ``STUDY_DIR/cells/`` and the study's shared model cache, so an original or
oracle that several cells share is trained once (the cache key covers data, model, recipe and
training seed; never methods or unlearning seeds). Cells are executor jobs: in-process one after
another, or fanned out to Ray (each cell runs in-process on its worker; the shared models are
trained first, in parallel, and the datasets travel through Ray's object store once).

Resume: ``study.json`` records every cell's state and config hash (atomic writes). A finished
cell with the same hash is skipped; an interrupted one runs again and its record store skips
the method runs it had finished. A failed cell is recorded with its error and the study goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..progress import Progress
from ..registry import Registry
from ..utils import atomic_write_json, environment_info, resolve_device, stable_hash
from . import prepare_data
from .config import ExperimentConfig, load_config
from .executors import Job, JobResult, make_executor
from .study_plan import OUTPUTS, Cell, StudySpec, kind_options, load_study, plan_cells, tune_of
from .study_tune import attach, cell_fields, finished, plan_searches, run_searches

log = logging.getLogger("expunge.study")
CELL_KINDS: Registry = Registry("study kind")


@CELL_KINDS.register("run", "one run_experiment: every method x unlearning seed, with the oracles")
def run_cell_experiment(config: ExperimentConfig, options: dict[str, Any]) -> Path:
    from .runner import run_experiment

    run_experiment(config)
    return Path(config.out) / OUTPUTS["run"]


@CELL_KINDS.register("frontier", "one run_frontier: every method at every budget (options: budgets, pool, pool_budgets, pool_methods)")
def run_cell_frontier(config: ExperimentConfig, options: dict[str, Any]) -> Path:
    from .frontier import run_frontier

    return run_frontier(config, options["budgets"], pool=options["pool"], pool_budgets=options["pool_budgets"], pool_methods=options["pool_methods"], tuned=options.get("tuned"))


@CELL_KINDS.register("pool", "one build_pool: N originals, N or 2N oracles, N replicates per method (options: models, ceiling, unlearn_seeds)")
def run_cell_pool(config: ExperimentConfig, options: dict[str, Any]) -> Path:
    from .pool import build_pool

    return build_pool(config, options["models"], ceiling=options["ceiling"], unlearn_seeds=options["unlearn_seeds"])


# ---------------------------------------------------------------- datasets shared through Ray's object store

_SHARED: dict[str, Any] = {}


def dataset_key(config: ExperimentConfig) -> str:
    return stable_hash({"name": config.dataset.name, "options": config.dataset.options})


@contextlib.contextmanager
def shared_datasets(bundles: dict[str, Any]) -> Iterator[None]:
    """While a cell runs on a worker, datasets come from ``bundles`` (put once by the driver) instead of disk."""
    if not bundles:
        yield
        return
    original = prepare_data.load_dataset

    def load(name: str, **options: Any) -> Any:
        key = stable_hash({"name": name, "options": options})
        return bundles[key] if key in bundles else original(name, **options)

    prepare_data.load_dataset = load  # type: ignore[assignment]  (the stage reads the module attribute)
    try:
        yield
    finally:
        prepare_data.load_dataset = original  # type: ignore[assignment]


def _resolve(refs: dict[str, Any]) -> dict[str, Any]:
    if not refs:
        return {}
    import ray

    return {k: ray.get(v) for k, v in refs.items()}


def cell_job(config_data: dict[str, Any], kind: str, options: dict[str, Any], dataset_refs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Executor job: one cell, in-process on whichever worker runs it."""
    started = time.time()
    with shared_datasets(_resolve(dataset_refs or {})):
        config = load_config(config_data)
        output = CELL_KINDS.get(kind)(config, options)
    return {"output": str(output), "seconds": time.time() - started}


def pool_job(config_data: dict[str, Any], role: str, index: int, dataset_refs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Executor job: train (or find cached) one shared original / oracle before the cells that need it."""
    from .runner import train_pool_member_job

    with shared_datasets(_resolve(dataset_refs or {})):
        return train_pool_member_job(config_data, role, index)


# ---------------------------------------------------------------- store and progress


class StudyStore:
    """``STUDY_DIR/study.json``: the definition, each cell's state, hash, timings and error; written atomically."""

    def __init__(self, folder: Path, spec: StudySpec, scale: str, overrides: list[str], device: str) -> None:
        self.path = folder / "study.json"
        self.kind = spec.kind
        previous = json.loads(self.path.read_text()) if self.path.exists() else {}
        if previous and (previous.get("study", {}).get("name") != spec.name or previous.get("scale") != scale):
            raise ConfigError(f"{folder} holds study {previous.get('study', {}).get('name')!r} at scale {previous.get('scale')!r}; use another --out for {spec.name} at {scale}.")
        self.data: dict[str, Any] = {
            "study": spec.to_dict(),
            "scale": scale,
            "overrides": overrides,
            "environment": environment_info(resolve_device(device)),
            "cells": previous.get("cells", {}),
            "tune": previous.get("tune", {}),  # the tune stage's searches (study_tune), reused when their key is unchanged
            "sessions": previous.get("sessions", []),
        }
        self.data["sessions"].append({"started": time.time()})

    def cell(self, cell_id: str) -> dict[str, Any]:
        return self.data["cells"].setdefault(cell_id, {})

    def finished(self, cell: Cell) -> bool:
        entry = self.data["cells"].get(cell.id, {})
        output = self.path.parent / "cells" / cell.id / OUTPUTS[self.kind]
        return entry.get("status") == "ok" and entry.get("config_hash") == cell.config_hash() and output.exists()

    def update(self, cell_id: str, **fields: Any) -> None:
        self.cell(cell_id).update(fields)
        self.save()

    def save(self) -> None:
        self.data["sessions"][-1]["updated"] = time.time()
        atomic_write_json(self.path, self.data)


# ---------------------------------------------------------------- the study


def _pool_key(config: ExperimentConfig) -> str:
    """Cells with the same key share their original and oracles (the runner's own context key)."""
    return stable_hash({k: v for k, v in config.to_dict().items() if k not in ("methods", "seeds", "out", "quiet", "executor", "name")})


def _local(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "executor": {**data["executor"], "name": "local"}}


def run_study(study: str | Path | dict[str, Any] | StudySpec, scale: str = "smoke", out: str | Path | None = None, overrides: list[str] | None = None, executor: Any | None = None) -> Path:
    """Run (or resume) every cell of ``study`` at ``scale``; returns ``study.json``'s path (the summary is beside it)."""
    from .study_summary import write_summary

    spec = study if isinstance(study, StudySpec) else load_study(study)
    overrides = list(overrides or [])
    folder = Path(out or f"runs/study-{spec.name}-{scale}")
    folder.mkdir(parents=True, exist_ok=True)
    cells = plan_cells(spec, scale, folder, overrides)
    options = kind_options(spec, scale)
    first = cells[0].config
    store = StudyStore(folder, spec, scale, overrides, first.device)
    if executor is None:
        executor = make_executor(first.executor.name, **first.executor.options())
    parallel = first.executor.name != "local"
    refs: dict[str, Any] = {}
    untuned = _tune_stage(spec, scale, cells, folder, store, executor, parallel, refs)
    store.data["cells"] = {c.id: store.data["cells"].get(c.id, {}) for c in cells}  # cells the definition no longer has leave the summary
    for cell in cells:
        entry = store.cell(cell.id)
        done = store.finished(cell)  # before the new hash is written: a changed config (e.g. a method added) is not finished
        entry.update(axes=cell.labels, config_hash=cell.config_hash(), out=cell.config.out, **cell_fields(cell))
        if cell.id in untuned:
            entry.update(status="failed", error=untuned[cell.id], traceback=None)
        elif not done:
            entry.update(status="pending")
    store.save()
    todo = [c for c in cells if not store.finished(c) and c.id not in untuned]
    resumed = len(cells) - len(todo) - len(untuned)
    progress = Progress(len(todo), f"study {spec.name}: cells", min_interval=0.0)  # at INFO: --quiet (log level WARNING) silences it
    failed: list[str] = list(untuned)
    if parallel:
        refs.update(_put_datasets(todo, refs))
    if parallel and todo:
        _train_shared_pools(todo, executor, refs, spec.kind)

    def save(result: JobResult) -> None:
        if result.ok:
            store.update(result.key, status="ok", output=result.value["output"], seconds=result.value["seconds"], finished=time.time(), attempts=result.attempts, error=None, traceback=None)
        else:
            log.error("cell %s failed: %s", result.key, result.error)
            store.update(result.key, status="failed", error=result.error, traceback=result.traceback, finished=time.time(), attempts=result.attempts)
        failed.extend([] if result.ok else [result.key])
        progress.update(note=f"{result.key} {'ok' if result.ok else 'FAILED'}; {len(failed)} failed, {resumed} of {len(cells)} resumed")

    jobs = []
    for cell in todo:
        store.cell(cell.id).update(status="running", started=time.time())
        data = _local(cell.data()) if parallel else cell.data()
        jobs.append(Job(cell.id, cell_job, (data, spec.kind, {**options, **cell.options}, refs)))
    store.save()
    started = time.time()
    executor.map(jobs, on_result=save)
    store.data["sessions"][-1]["seconds"] = time.time() - started
    store.data["cells_total"] = len(cells)
    store.save()
    write_summary(folder)
    return store.path


def _tune_stage(spec: StudySpec, scale: str, cells: list[Cell], folder: Path, store: StudyStore, executor: Any, parallel: bool, refs: dict[str, Any]) -> dict[str, str]:
    """Before the cells: every search of the tune stage not yet stored, then the tuned rows into the cells.

    Returns cell id -> why it cannot run (its search failed); those cells are recorded as failed, the others go on.
    """
    specs = tune_of(spec, scale)
    if not specs:
        return {}
    searches = plan_searches(specs, cells, folder)
    pending = [s.cell for s in searches if not finished(store.data["tune"], s)]
    if parallel and pending:
        refs.update(_put_datasets(pending, refs))
        _train_shared_pools(pending, executor, refs, spec.kind)  # two budgets of one cell: its models trained once
    run_searches(searches, store.data["tune"], store.save, executor, _local if parallel else dict, refs)
    return attach(cells, store.data["tune"], spec.kind)


def _put_datasets(cells: list[Cell], known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each distinct dataset loaded once by the driver and put in Ray's object store (workers read it from there)."""
    import ray

    from ..data import load_dataset

    refs: dict[str, Any] = dict(known or {})
    for cell in cells:
        key = dataset_key(cell.config)
        if key not in refs:
            refs[key] = ray.put(load_dataset(cell.config.dataset.name, **cell.config.dataset.options))
    return refs


def _train_shared_pools(cells: list[Cell], executor: Any, refs: dict[str, Any], kind: str) -> None:
    """Before the cells fan out: every distinct original and oracle as its own job, so no two workers train the same model."""
    if kind == "pool":
        return  # build_pool trains its own members as jobs
    groups: dict[str, list[ExperimentConfig]] = {}
    for cell in cells:
        groups.setdefault(_pool_key(cell.config), []).append(cell.config)
    jobs = []
    for key, configs in groups.items():
        if len(configs) < 2:
            continue  # one cell: it trains its own models, nothing to race for
        config = configs[0]
        if not config.cache_dir:
            raise ConfigError("a study on a parallel executor needs cache_dir (a folder every worker reads) to share trained models.")
        data = _local(config.to_dict())
        jobs.append(Job(f"{key}-original", pool_job, (data, "original", 0, refs)))
        jobs += [Job(f"{key}-oracle-{k}", pool_job, (data, "oracle", k, refs)) for k in range(config.oracles)]
    failed = [r for r in executor.map(jobs) if not r.ok]
    for r in failed:
        log.error("shared model %s failed: %s (its cells will fail with the same error)", r.key, r.error)
