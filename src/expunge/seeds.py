"""One object derives every seed of an experiment, and is stored with each result.

Separate streams for training the original, each oracle, each unlearning run and the
evaluation mean a change in one never shifts another. The formulas reproduce the ones the
project used before this object existed, so cached models and published numbers stay valid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Seeds:
    """``train``: the original; ``evaluation``: attacks and probes; ``split``: the forget set."""

    train: int = 0
    evaluation: int = 0
    split: int = 0

    def original(self, replicate: int | None = None) -> int:
        """The original's training seed; ``replicate`` picks another independently trained original (pools)."""
        return self.train if replicate is None else replicate

    def oracle(self, index: int) -> int:
        return self.train + 1 + index

    def unlearn(self, run: int) -> int:
        return run

    def unlearn_data(self, run: int, stream: int = 0) -> int:
        """Shuffle seed of an unlearner's data stream (``stream`` tells retain / forget / ... apart)."""
        return run * 7919 + stream

    def localize(self, run: int, stream: int = 0) -> int:
        return run + stream

    def fresh_init(self, run: int) -> int:
        """Seed of the fresh initialization that DEL-style resets draw from (never the original's)."""
        return run + 1_000_003

    def perturbation(self, run: int) -> int:
        return run + 17

    def record(self, unlearn_run: int | None = None, oracles: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {**asdict(self), "train_seed": self.train, "eval_seed": self.evaluation, "oracle_seeds": [self.oracle(k) for k in range(oracles)]}
        if unlearn_run is not None:
            out["unlearn_seed"] = self.unlearn(unlearn_run)
        return out
