"""One object derives every seed of an experiment, and is stored with each result.

Separate streams for training the original, each oracle, each unlearning run and the
evaluation mean a change in one never shifts another. The formulas reproduce the ones the
project used before this object existed, so cached models and published numbers stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Seeds:
    """``train``: the original; ``evaluation``: attacks and probes; ``split``: the forget set."""

    train: int = 0
    evaluation: int = 0
    split: int = 0

    def original(self, replicate: int | None = None) -> int:
        """The original's training seed; ``replicate`` is an already derived seed of another original (see ``pool_original``)."""
        return self.train if replicate is None else replicate

    def pool_original(self, i: int) -> int:
        """Original ``i`` of an ε-score pool: a stride that never meets an oracle's seed."""
        return self.train + i * 100_000

    def pool_unlearn(self, i: int, extra: int = 0) -> int:
        """Unlearning seed of original ``i``'s replicate; ``extra`` > 0 adds further runs for the variance split."""
        return i + extra * 10_000

    def oracle(self, index: int) -> int:
        return self.train + 1 + index

    def unlearn(self, run: int) -> int:
        return run

    def unlearn_data(self, run: int, stream: int = 0) -> int:
        """Shuffle seed of an unlearner's data stream (``stream`` tells retain / forget / ... apart)."""
        return run * 7919 + stream

    def localize(self, run: int, stream: int = 0) -> int:
        return run + stream

    def fresh_init(self, run: int, model: int = 0) -> int:
        """Seed of a fresh initialization (DEL's reset, an incompetent teacher): never the original's."""
        return run + 1_000_003 + model * 1_000_000

    def equal_cost_retrain(self, run: int) -> int:
        """Init seed of a retrain at equal cost: like an oracle's, it differs per original (train seed) and per run; never an oracle's or the original's."""
        return self.fresh_init(run, model=2) + 1009 * self.train

    def perturbation(self, run: int) -> int:
        return run + 17

    @staticmethod
    def relearn_draw(evaluation: int, k: int, draw: int) -> int:
        """Which k examples per class draw ``draw`` of the relearning attack uses (a stream per k)."""
        return evaluation + 1000 * k + 7919 * draw

    @staticmethod
    def relearn_attack(evaluation: int, draw: int) -> int:
        """The relearning attack's own randomness (row reset, data order) in draw ``draw``; shared across k."""
        return evaluation + 7919 * draw

    @staticmethod
    def shuffle(seed: int, epoch: int) -> int:
        """The data order of one epoch depends only on (seed, epoch): reproducible and resumable."""
        return seed * 100_003 + epoch

    def record(self, unlearn_run: int | None = None, oracles: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {"train_seed": self.train, "eval_seed": self.evaluation, "split_seed": self.split, "oracle_seeds": [self.oracle(k) for k in range(oracles)]}
        if unlearn_run is not None:
            out["unlearn_seed"] = self.unlearn(unlearn_run)
        return out
