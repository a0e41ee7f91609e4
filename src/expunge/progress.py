"""A done / total progress meter with elapsed time and ETA, for loops whose steps finish out of order (Ray jobs, study cells).

Lines go to the ``expunge.progress`` logger at INFO, so ``--quiet`` (which raises the log level to
WARNING) silences them without a flag threaded through every call; ``quiet=True`` silences one meter.
Lines are throttled to one per ``min_interval`` seconds; the first and the last are always written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("expunge.progress")


def _clock_text(seconds: float) -> str:
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """``update()`` after each finished step; ``line()`` is the current state as text."""

    def __init__(self, total: int, label: str = "jobs", quiet: bool = False, min_interval: float = 5.0, clock: Callable[[], float] = time.monotonic, logger: logging.Logger | None = None) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.quiet = quiet
        self.min_interval = min_interval
        self.clock = clock
        self.logger = logger or log
        self.done = 0
        self.started = clock()
        self._last_emit: float | None = None

    def eta(self) -> float | None:
        """Seconds left at the mean pace so far; None before the first step finishes."""
        if self.done == 0:
            return None
        elapsed = self.clock() - self.started
        return elapsed / self.done * (self.total - self.done)

    def line(self, note: str = "") -> str:
        elapsed = self.clock() - self.started
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = self.eta()
        text = f"{self.label}: {self.done}/{self.total} ({pct:.0f}%), elapsed {_clock_text(elapsed)}, ETA {'?' if eta is None else _clock_text(eta)}"
        return text + (f" [{note}]" if note else "")

    def update(self, n: int = 1, note: str = "") -> str | None:
        """Count ``n`` finished steps; returns the line written, or None when throttled or quiet."""
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        now = self.clock()
        finished = self.done >= self.total
        if self.quiet or (self._last_emit is not None and now - self._last_emit < self.min_interval and not finished):
            return None
        self._last_emit = now
        text = self.line(note)
        self.logger.info(text)
        return text
