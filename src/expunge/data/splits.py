"""ForgetSplit: which training examples to forget, keep, and hold out, saved as plain index files.

All indices refer to the dataset's own train (forget / retain / validation) and test
splits. A training *pool* may be a subset of the full training set (to keep CPU runs
short); examples outside the pool are simply unused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..registry import Registry
from ..utils import atomic_write_text

log = logging.getLogger("expunge.splits")

SPLIT_BUILDERS: Registry = Registry("forget-set builder", entry_point_group="expunge.forget_sets")
PARTS = ("forget", "retain", "validation", "test")


@dataclass(frozen=True, eq=False)
class ForgetSplit:
    """Disjoint forget / retain / validation indices into train, and test indices into test."""

    forget: np.ndarray
    retain: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    num_train: int
    num_test: int
    description: str = ""

    def __post_init__(self) -> None:
        for part in PARTS:
            object.__setattr__(self, part, np.asarray(getattr(self, part), dtype=np.int64).reshape(-1))
        validate_indices(self.forget, self.num_train, "forget")
        if len(self.retain) == 0:
            raise DataError("the forget set covers the whole training pool, leaving nothing to retain; forget a smaller part (retraining from scratch on nothing is not unlearning).")
        validate_indices(self.retain, self.num_train, "retain")
        if len(self.validation):
            validate_indices(self.validation, self.num_train, "validation")
        validate_indices(self.test, self.num_test, "test")
        for a, b in (("forget", "retain"), ("forget", "validation"), ("retain", "validation")):
            overlap = np.intersect1d(getattr(self, a), getattr(self, b))
            if len(overlap):
                raise DataError(f"{a} and {b} share {len(overlap)} indices (e.g. {overlap[:5].tolist()}); they must be disjoint.")

    def sizes(self) -> dict[str, int]:
        return {part: int(len(getattr(self, part))) for part in PARTS}

    def save(self, folder: str | Path) -> None:
        """One ``<part>.txt`` per part (one index per line) plus ``split.json`` with the sizes."""
        folder = Path(folder)
        for part in PARTS:
            atomic_write_text(folder / f"{part}.txt", "\n".join(map(str, getattr(self, part).tolist())) + "\n")
        meta = {"num_train": self.num_train, "num_test": self.num_test, "description": self.description, "sizes": self.sizes()}
        atomic_write_text(folder / "split.json", json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> ForgetSplit:
        folder = Path(folder)
        meta_path = folder / "split.json"
        if not meta_path.exists():
            raise DataError(f"{meta_path} not found; a saved split folder holds split.json and forget/retain/validation/test.txt.")
        meta = json.loads(meta_path.read_text())
        parts = {part: read_indices(folder / f"{part}.txt") for part in PARTS}
        return cls(**parts, num_train=meta["num_train"], num_test=meta["num_test"], description=meta.get("description", ""))

    @classmethod
    def from_forget_indices(
        cls,
        forget: Sequence[int] | np.ndarray,
        num_train: int,
        num_test: int,
        validation: Sequence[int] | np.ndarray = (),
        description: str = "user-given forget set",
    ) -> ForgetSplit:
        """A deletion request: forget exactly these indices, retain every other non-validation index."""
        forget = np.asarray(forget, dtype=np.int64).reshape(-1)
        validate_indices(forget, num_train, "forget")
        keep = np.setdiff1d(np.arange(num_train), np.union1d(forget, np.asarray(validation, dtype=np.int64)))
        return cls(forget, keep, np.asarray(validation, dtype=np.int64), np.arange(num_test), num_train, num_test, description)


def read_indices(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(f"{path} not found; re-save the split.")
    text = path.read_text().split()
    try:
        return np.array([int(t) for t in text], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path} holds a non-integer entry ({exc}); each line must be one index.") from exc


def validate_indices(indices: np.ndarray, size: int, name: str) -> None:
    """Non-empty, unique, in range: the errors users actually hit with hand-made index files."""
    if len(indices) == 0:
        raise DataError(f"the {name} set is empty; it needs at least one index.")
    if indices.min() < 0 or indices.max() >= size:
        bad = indices[(indices < 0) | (indices >= size)]
        raise DataError(f"{name} indices out of range [0, {size}): {bad[:5].tolist()}; indices refer to the dataset's own order.")
    unique, counts = np.unique(indices, return_counts=True)
    if len(unique) != len(indices):
        raise DataError(f"the {name} set holds duplicated indices {unique[counts > 1][:5].tolist()}; list each example once.")


def _pool_and_validation(targets: np.ndarray, rng: np.random.Generator, pool_size: int | None, validation_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A class-stratified random training pool, and a validation part carved out of it."""
    n = len(targets)
    if pool_size is not None and pool_size > n:
        log.warning("split.train_size=%d exceeds the %d training examples; using all %d (set split.train_size=null to say so)", pool_size, n, n)
    if pool_size is None or pool_size >= n:
        pool = rng.permutation(n)
    else:
        if pool_size < 2:
            raise DataError(f"split.train_size={pool_size} is too small; use at least a few examples per class.")
        pool = _stratified_sample(targets, pool_size, rng)
    n_val = int(round(validation_fraction * len(pool)))
    return np.sort(pool[n_val:]), np.sort(pool[:n_val])


def _stratified_sample(targets: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(targets)
    per_class = np.full(len(classes), size // len(classes))
    per_class[: size - per_class.sum()] += 1
    chosen = [rng.choice(np.flatnonzero(targets == c), min(k, int((targets == c).sum())), replace=False) for c, k in zip(classes, per_class)]
    return rng.permutation(np.concatenate(chosen))


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise DataError(f"split.fraction must lie in (0, 1), got {fraction}; e.g. 0.1 forgets 10% of the training pool.")


def _check_classes(classes: Sequence[int] | None, targets: np.ndarray, kind: str) -> list[int]:
    if not classes:
        raise DataError(f"the {kind} forget set needs split.classes, e.g. split.classes=[2, 5].")
    present = set(np.unique(targets).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise DataError(f"split.classes {missing} do not occur in the training pool (classes present: {sorted(present)}).")
    return [int(c) for c in classes]


@SPLIT_BUILDERS.register("iid", "a uniformly random fraction of the training pool (DEL, SalUn)")
def iid_split(targets: np.ndarray, pool: np.ndarray, rng: np.random.Generator, fraction: float = 0.1, **_: object) -> np.ndarray:
    _check_fraction(fraction)
    count = int(fraction * len(pool))
    if count == 0:
        raise DataError(f"split.fraction={fraction} of a pool of {len(pool)} is zero examples; raise split.fraction or split.train_size.")
    return rng.choice(pool, count, replace=False)


@SPLIT_BUILDERS.register("non_iid", "the IID count, drawn only from chosen classes (DEL: CIFAR-10 classes 2 and 5)")
def non_iid_split(targets: np.ndarray, pool: np.ndarray, rng: np.random.Generator, fraction: float = 0.1, classes: Sequence[int] | None = None, **_: object) -> np.ndarray:
    _check_fraction(fraction)
    chosen = _check_classes(classes, targets[pool], "non_iid")
    count = int(fraction * len(pool))
    candidates = pool[np.isin(targets[pool], chosen)]
    if count >= len(candidates):
        raise DataError(f"split.kind=non_iid needs {count} examples but split.classes {chosen} hold only {len(candidates)} in the pool; lower split.fraction or add classes.")
    return rng.choice(candidates, count, replace=False)


@SPLIT_BUILDERS.register("class", "every pool example of the chosen classes (class unlearning)")
def class_split(targets: np.ndarray, pool: np.ndarray, rng: np.random.Generator, classes: Sequence[int] | None = None, **_: object) -> np.ndarray:
    chosen = _check_classes(classes, targets[pool], "class")
    return pool[np.isin(targets[pool], chosen)]


def build_split(
    kind: str,
    train_targets: np.ndarray,
    num_test: int,
    seed: int = 0,
    train_size: int | None = None,
    test_size: int | None = None,
    validation_fraction: float = 0.05,
    inputs: object = None,
    **options: object,
) -> ForgetSplit:
    """Draw a training pool, carve out validation, pick the forget set with builder ``kind``.

    ``inputs`` (the training inputs) is handed to builders that look at the data (sub_class, memorization).
    """
    builder: Callable[..., np.ndarray] = SPLIT_BUILDERS.get(kind)
    targets = np.asarray(train_targets)
    rng = np.random.default_rng(seed)
    pool, validation = _pool_and_validation(targets, rng, train_size, validation_fraction)
    forget = np.sort(builder(targets, pool, rng, inputs=inputs, **options))
    retain = np.setdiff1d(pool, forget)
    test = np.arange(num_test) if test_size is None or test_size >= num_test else np.sort(rng.choice(num_test, test_size, replace=False))
    desc = f"{kind} forget set ({', '.join(f'{k}={v}' for k, v in options.items())}), seed {seed}"
    return ForgetSplit(forget, retain, validation, test, len(targets), num_test, desc)
