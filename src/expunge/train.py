"""The one training loop, driven by a Recipe, used for originals, oracles and finetuning."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .cost import count as count_passes
from .errors import ConfigError, DeterministicError
from .hparams import hp
from .masked_update import MaskedUpdate
from .masks import Mask
from .seeds import Seeds

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]


class TrainingDiverged(DeterministicError, RuntimeError):
    """The loss became NaN or infinite; the run is recorded as failed."""


@dataclass(frozen=True)
class OptimizerSpec:
    """How one optimizer is built from a Recipe, and whether its weight decay is decoupled (AdamW).

    Coupled decay is added to the gradient by ``MaskedUpdate`` before masking; decoupled decay
    shrinks the weights themselves (``MaskedUpdate.decay``), also only inside the mask. Either way
    the optimizer gets ``weight_decay=0``, so no entry outside a mask can move.
    """

    build: Callable[[list[nn.Parameter], Recipe], torch.optim.Optimizer]
    decoupled_decay: bool = False
    doc: str = ""


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(lambda p, r: torch.optim.SGD(p, lr=r.lr, momentum=r.momentum, weight_decay=0.0), doc="SGD with momentum (heavy ball); weight decay added to the gradient"),
    "adam": OptimizerSpec(lambda p, r: torch.optim.Adam(p, lr=r.lr, betas=(r.momentum, 0.999), weight_decay=0.0), doc="Adam, betas (momentum, 0.999); weight decay added to the gradient (L2)"),
    "adamw": OptimizerSpec(
        lambda p, r: torch.optim.AdamW(p, lr=r.lr, betas=(r.momentum, 0.999), weight_decay=0.0), True, "AdamW, betas (momentum, 0.999); decoupled weight decay (w -= lr * weight_decay * w)"
    ),
}
# Fields added after the first results were stored, with the value every earlier run used: left out of
# ``Recipe.to_dict`` (and so of every cache key and config hash) while they hold it, so old keys stay valid.
LATER_FIELDS: dict[str, Any] = {"optimizer": "sgd"}


@dataclass
class Recipe:
    """Everything that determines a training run (and hence its cache key): optimizer, schedule, epochs, batch, seed."""

    epochs: int = 15
    lr: float = 0.05
    momentum: float = 0.9  # SGD momentum, or Adam's / AdamW's beta1
    weight_decay: float = 0.0
    batch_size: int = 128
    schedule: str = "cosine"  # cosine (per epoch, to min_lr_factor * lr) | constant
    min_lr_factor: float = 0.01
    seed: int = 0
    optimizer: str = hp("sgd", choices=tuple(OPTIMIZERS), doc="sgd (with momentum) | adam | adamw (expunge.train.OPTIMIZERS)")

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"recipe.epochs must be >= 0, got {self.epochs}.")
        if not self.lr > 0:
            raise ConfigError(f"recipe.lr must be positive, got {self.lr}.")
        if self.batch_size < 1:
            raise ConfigError(f"recipe.batch_size must be >= 1, got {self.batch_size}.")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"recipe.schedule {self.schedule!r} unknown; choose one of {sorted(SCHEDULES)}.")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"recipe.optimizer {self.optimizer!r} unknown; choose one of {sorted(OPTIMIZERS)}.")
        if self.optimizer != "sgd" and not 0 <= self.momentum < 1:
            raise ConfigError(f"recipe.momentum is {self.optimizer}'s beta1 and must lie in [0, 1), got {self.momentum}.")

    def to_dict(self) -> dict[str, Any]:
        """The fields, less those of ``LATER_FIELDS`` that hold their old value: a default SGD recipe keys as before."""
        return {k: v for k, v in asdict(self).items() if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}


SCHEDULES: dict[str, Callable[[Recipe, int], float]] = {
    "cosine": lambda r, e: r.lr * (r.min_lr_factor + (1 - r.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * e / max(r.epochs, 1)))),
    "constant": lambda r, e: r.lr,
}


def cross_entropy_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Default supervised loss: mean cross-entropy of ``model(x)`` against ``y``."""
    x, y = batch[0], batch[1]
    return nn.functional.cross_entropy(model(x), y)


@dataclass
class TrainLog:
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def to_device(batch: Iterable[torch.Tensor], device: torch.device) -> Batch:
    return tuple(t.to(device, non_blocking=True) if torch.is_tensor(t) else t for t in batch)  # type: ignore[return-value]


def train(
    model: nn.Module,
    batches: Callable[[int], Iterable[Batch]],
    recipe: Recipe,
    device: torch.device,
    mask: Mask | None = None,
    loss_fn: LossFn = cross_entropy_loss,
    progress: bool = True,
    desc: str = "train",
    epoch_callback: Callable[[int, nn.Module], None] | None = None,
) -> TrainLog:
    """The recipe's optimizer (``OPTIMIZERS``: SGD with momentum by default) and a per-epoch schedule; only entries in ``mask`` move.

    ``batches(epoch)`` returns that epoch's batches (shuffled by the caller's seed). Time spent
    in ``epoch_callback`` (e.g. evaluation for a recovery curve) is excluded from ``seconds``.
    """
    model.to(device)
    spec = OPTIMIZERS[recipe.optimizer]
    update = MaskedUpdate(model, mask, 0.0 if spec.decoupled_decay else recipe.weight_decay)
    params = update.parameters()
    log = TrainLog()
    if not params or recipe.epochs == 0:
        return log
    optimizer = spec.build(params, recipe)
    start = time.perf_counter()
    excluded = 0.0
    bar = tqdm(range(recipe.epochs), desc=desc, disable=not progress, leave=False, unit="epoch")
    for epoch in bar:
        for group in optimizer.param_groups:
            group["lr"] = SCHEDULES[recipe.schedule](recipe, epoch)
        model.train()
        total, count = 0.0, 0
        for batch in batches(epoch):
            batch = to_device(batch, device)
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"{desc}: loss became {loss.item()} at epoch {epoch + 1}; lower the learning rate.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            update.apply()
            if spec.decoupled_decay and recipe.weight_decay:
                update.decay(optimizer.param_groups[0]["lr"] * recipe.weight_decay)
            optimizer.step()
            count_passes(len(batch[1]))
            total += float(loss.detach()) * len(batch[1])
            count += len(batch[1])
            log.steps += 1
        if not all(bool(torch.isfinite(p).all()) for p in params):
            raise TrainingDiverged(f"{desc}: parameters became non-finite at epoch {epoch + 1}; lower the learning rate.")
        log.epoch_losses.append(total / max(count, 1))
        bar.set_postfix(loss=f"{log.epoch_losses[-1]:.4f}")
        if epoch_callback is not None:
            t0 = time.perf_counter()
            epoch_callback(epoch, model)
            excluded += time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    log.seconds = time.perf_counter() - start - excluded
    return log


def epoch_batches(dataset: Any, indices: np.ndarray, batch_size: int, seed: int) -> Callable[[int], Iterable[Batch]]:
    """A ``batches(epoch)`` function whose shuffle depends only on (seed, epoch): reproducible and resumable."""
    from .data.base import TensorBatches

    def make(epoch: int) -> Iterable[Batch]:
        generator = torch.Generator().manual_seed(Seeds.shuffle(seed, epoch))
        return TensorBatches(dataset, indices, batch_size=batch_size, shuffle=True, generator=generator, drop_singleton=True)

    return make
