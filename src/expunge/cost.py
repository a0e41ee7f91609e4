"""Cost that a busy machine cannot distort: example passes beside wall and CPU seconds.

One *pass* is a forward and a backward over one example; forward-only work (evaluation
inside an unlearner, a teacher's outputs) is counted separately. Loops report their work
with ``count(n, backward=...)`` to whichever meters are active, so the training loop, the
localizers and the unlearners need no meter argument threaded through them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

_ACTIVE: list[CostMeter] = []


@dataclass
class Cost:
    """What one run cost. ``passes``: forward+backward examples; ``forward_passes``: forward only."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    passes: int = 0
    forward_passes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.wall_seconds + other.wall_seconds, self.cpu_seconds + other.cpu_seconds, self.passes + other.passes, self.forward_passes + other.forward_passes)

    def relative_to(self, reference: Cost) -> dict[str, float | None]:
        """Ratios to a reference run (one oracle's training): passes first, wall time beside it."""
        return {
            "relative_passes": self.passes / reference.passes if reference.passes else None,
            "relative_time": self.wall_seconds / reference.wall_seconds if reference.wall_seconds else None,
            "relative_cpu": self.cpu_seconds / reference.cpu_seconds if reference.cpu_seconds else None,
        }


@dataclass
class CostMeter:
    """``with CostMeter() as meter:`` times the block and collects every ``count`` inside it."""

    device: torch.device | None = None
    cost: Cost = field(default_factory=Cost)
    _wall0: float = 0.0
    _cpu0: float = 0.0
    _paused: float = 0.0
    _paused_cpu: float = 0.0

    def __enter__(self) -> CostMeter:
        self._sync()
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.cost.wall_seconds += time.perf_counter() - self._wall0 - self._paused
        self.cost.cpu_seconds += time.process_time() - self._cpu0 - self._paused_cpu
        _ACTIVE.remove(self)

    def exclude(self) -> _Excluded:
        """``with meter.exclude():`` work that is not part of the method (a recovery-curve evaluation)."""
        return _Excluded(self)

    def _sync(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


class _Excluded:
    def __init__(self, meter: CostMeter) -> None:
        self.meter = meter

    def __enter__(self) -> None:
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        self._index = _ACTIVE.index(self.meter) if self.meter in _ACTIVE else None
        if self._index is not None:
            _ACTIVE.pop(self._index)

    def __exit__(self, *exc: object) -> None:
        self.meter._paused += time.perf_counter() - self._wall0
        self.meter._paused_cpu += time.process_time() - self._cpu0
        if self._index is not None:
            _ACTIVE.insert(self._index, self.meter)


def charge(cost: Cost) -> None:
    """Add a cost measured earlier (a cached analysis being reused) to every active meter: a reused result costs what computing it did."""
    for meter in _ACTIVE:
        meter.cost = meter.cost + cost


def count(examples: int, backward: bool = True) -> None:
    """Report ``examples`` forward(+backward) passes to every active meter."""
    for meter in _ACTIVE:
        if backward:
            meter.cost.passes += int(examples)
        else:
            meter.cost.forward_passes += int(examples)
