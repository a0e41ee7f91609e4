"""The progress meter: counts, ETA at the mean pace, throttling, quiet, and the Ray/local executors report through it."""

from __future__ import annotations

import logging

from expunge.experiments.executors import Job, LocalExecutor
from expunge.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_eta_and_throttling():
    clock = Clock()
    meter = Progress(4, "cells", min_interval=5.0, clock=clock)
    assert meter.eta() is None and "ETA ?" in meter.line()
    clock.now += 10
    assert meter.update(note="a") == "cells: 1/4 (25%), elapsed 0:10, ETA 0:30 [a]"  # 10 s per step, 3 left
    clock.now += 1
    assert meter.update() is None  # within min_interval: throttled
    clock.now += 1
    assert meter.update() is None
    assert meter.eta() == 12 / 3 * 1
    clock.now += 1
    assert meter.update() == "cells: 4/4 (100%), elapsed 0:13, ETA 0:00"  # the last line always shows
    assert Progress(2, quiet=True, clock=clock).update() is None
    long = Progress(2, clock=clock)
    clock.now += 3725
    assert "elapsed 1:02:05, ETA 1:02:05" in (long.update() or "")


def test_local_executor_reports_progress(caplog):
    with caplog.at_level(logging.INFO, logger="expunge.progress"):
        LocalExecutor().map([Job(f"j{i}", lambda i=i: i) for i in range(3)])
    lines = [r.getMessage() for r in caplog.records if r.name == "expunge.progress"]
    assert lines and lines[-1].startswith("jobs: 3/3 (100%)")


class Ref:
    def __init__(self, value):
        self.value = value


class FakeRay:
    """Just enough of ray's API for RayExecutor.map: remote() runs at once, wait() hands back refs in order."""

    def remote(self, **_):
        def wrap(fn):
            class Remote:
                @staticmethod
                def remote(*args):
                    return Ref(fn(*args))

            return Remote

        return wrap

    def wait(self, refs, num_returns=1):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return ref.value


def test_ray_executor_reports_progress(caplog):
    from expunge.experiments.executors import RayExecutor

    executor = object.__new__(RayExecutor)
    executor.ray, executor.retries, executor.cpus_per_job, executor.gpus_per_job = FakeRay(), 0, 1.0, 0.0

    def boom():
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger="expunge.progress"):
        results = executor.map([Job("a", lambda: 1), Job("b", boom)])
    assert [r.ok for r in results] == [True, False]
    lines = [r.getMessage() for r in caplog.records if r.name == "expunge.progress"]
    assert lines[0].startswith("ray jobs: 1/2 (50%)") and lines[-1].startswith("ray jobs: 2/2 (100%)") and lines[-1].endswith("[b failed]")
