"""Executors run independent jobs (model trainings, method x seed runs) in-process or on Ray.

A job that raises is retried ``retries`` times, then reported as failed; the other jobs go
on. Results are handed to ``on_result`` as soon as each job finishes, so the caller can
store them atomically and an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, DeterministicError
from ..progress import Progress
from ..registry import Registry

log = logging.getLogger("expunge.executors")
EXECUTORS: Registry = Registry("executor", entry_point_group="expunge.executors")


@dataclass
class Job:
    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobResult:
    key: str
    ok: bool
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    attempts: int = 1


OnResult = Callable[[JobResult], None]


def _attempt(job: Job, retries: int) -> JobResult:
    last_exc: BaseException | None = None
    tb = None
    for attempt in range(1, retries + 2):
        try:
            return JobResult(job.key, True, job.fn(*job.args, **job.kwargs), attempts=attempt)
        except DeterministicError as exc:  # a config error, bad data or a divergence fails the same way again
            log.warning("job %s failed (not retried: %s is deterministic): %s", job.key, type(exc).__name__, exc)
            return JobResult(job.key, False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(), attempts=attempt)
        except Exception as exc:  # recorded, retried, then reported as failed
            last_exc, tb = exc, traceback.format_exc()
            log.warning("job %s failed (attempt %d of %d): %s", job.key, attempt, retries + 1, exc)
    return JobResult(job.key, False, error=f"{type(last_exc).__name__}: {last_exc}", traceback=tb, attempts=retries + 1)


@EXECUTORS.register("local", "run jobs one after another in this process (default)")
class LocalExecutor:
    def __init__(self, retries: int = 0, **_: Any) -> None:
        self.retries = retries

    def map(self, jobs: Sequence[Job], on_result: OnResult | None = None) -> list[JobResult]:
        results = []
        progress = Progress(len(jobs), "jobs")
        for job in jobs:
            result = _attempt(job, self.retries)
            if on_result:
                on_result(result)
            results.append(result)
            progress.update(note=job.key if result.ok else f"{job.key} failed")
        return results


@EXECUTORS.register("ray", "fan jobs out to Ray: ray.init() locally, or address=... for a cluster (pip install expunge[ray])")
class RayExecutor:
    def __init__(self, retries: int = 0, address: str | None = None, num_cpus: int | None = None, cpus_per_job: float = 1.0, gpus_per_job: float = 0.0, **_: Any) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("executor.name=ray needs Ray: pip install 'expunge[ray]' (or pip install ray).") from exc
        self.ray = ray
        self.retries = retries
        self.cpus_per_job = cpus_per_job
        self.gpus_per_job = gpus_per_job
        if not ray.is_initialized():
            init_kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
            if address:
                init_kwargs["address"] = address
            elif num_cpus:
                init_kwargs["num_cpus"] = num_cpus
            ray.init(**init_kwargs)

    def map(self, jobs: Sequence[Job], on_result: OnResult | None = None) -> list[JobResult]:
        remote = self.ray.remote(num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=0)(_attempt)
        pending = {remote.remote(job, self.retries): job for job in jobs}
        results: dict[str, JobResult] = {}
        progress = Progress(len(jobs), "ray jobs")
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            ref = done[0]
            job = pending.pop(ref)
            try:
                result = self.ray.get(ref)
            except Exception as exc:  # the worker itself died (e.g. out of memory)
                result = JobResult(job.key, False, error=f"worker failed: {exc}", attempts=1)
            if on_result:
                on_result(result)
            results[job.key] = result
            progress.update(note=job.key if result.ok else f"{job.key} failed")
        return [results[job.key] for job in jobs]

    def shutdown(self) -> None:
        self.ray.shutdown()


def make_executor(name: str = "local", **options: Any) -> LocalExecutor | RayExecutor:
    return EXECUTORS.get(name)(**options)
