"""The GAN training step and loop, shared by the family's fit, retraining, finetuning, the
redaction baseline and the cascade's learning stages.

Loss: the non-saturating GAN loss with logits (DCGAN): D minimises BCE(D(x), 1) + BCE(D(G(z)), 0),
G minimises BCE(D(G(z)), 1). Optimiser: Adam with the model's betas (``model.options``).

Cost convention (``expunge.cost.count``): one GAN step on ``b`` real images counts **3b**
passes: b real images through D (forward + backward), b generated images through D for D's
update, and b generated images through G and D for G's update (the fakes are generated once
per step and reused, so G's forward is part of the third term). Extra loss terms add the
examples they push through a network with a backward pass; forward-only work (scores for a
stopping signal) is counted with ``backward=False``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..cost import count
from ..masked_update import MaskedUpdate
from ..masks import Mask
from ..train import TrainingDiverged
from .models import GAN

bce = F.binary_cross_entropy_with_logits


class Optimizers:
    """Adam for G and for D, restricted by an optional mask through the shared MaskedUpdate."""

    def __init__(self, gan: GAN, lr: float, mask: Mask | None = None, lr_d: float | None = None) -> None:
        betas = (gan.options.beta1, gan.options.beta2)
        self.update = MaskedUpdate(gan, mask)
        chosen = {id(p) for p in self.update.parameters()}
        g = [p for p in gan.generator.parameters() if id(p) in chosen]
        d = [p for p in gan.discriminator.parameters() if id(p) in chosen]
        self.g = torch.optim.Adam(g, lr=lr, betas=betas) if g else None
        self.d = torch.optim.Adam(d, lr=lr_d or lr, betas=betas) if d else None

    def step_d(self, loss: torch.Tensor) -> None:
        self._step(self.d, loss)

    def step_g(self, loss: torch.Tensor) -> None:
        self._step(self.g, loss)

    def _step(self, opt: torch.optim.Optimizer | None, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"GAN loss became {loss.item()}; lower the learning rate.")
        if opt is None:
            return
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self.update.apply()
        opt.step()


def standard_step(
    gan: GAN, opts: Optimizers, x_real: torch.Tensor, y_real: torch.Tensor | None, x_fake_extra: tuple[torch.Tensor, torch.Tensor | None] | None = None, fake_target: float = 0.0
) -> dict[str, float]:
    """One D and one G update on a real batch (GAN space). ``x_fake_extra``: real images D must call fake
    (the redaction baseline), with target ``fake_target``."""
    b = len(x_real)
    y_gen = y_real if gan.conditional else None
    fake = gan.generate(gan.noise(b), y_gen)
    d_real, d_fake = gan.score(x_real, y_real), gan.score(fake.detach(), y_gen)
    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    if x_fake_extra is not None:
        d_extra = gan.score(*x_fake_extra)
        d_loss = d_loss + bce(d_extra, torch.full_like(d_extra, fake_target))
        count(len(d_extra))
    opts.step_d(d_loss)
    d_gen = gan.score(fake, y_gen)
    g_loss = bce(d_gen, torch.ones_like(d_gen))
    opts.step_g(g_loss)
    count(3 * b)
    return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}


def cycle_batches(batches: Callable[[int], Iterable[Any]], start_epoch: int = 0) -> Iterator[Any]:
    """Endless batches across epochs (each epoch reshuffled by its own seed)."""
    for epoch in itertools.count(start_epoch):
        empty = True
        for batch in batches(epoch):
            empty = False
            yield batch
        if empty:
            raise ValueError("no batches to train on: the index set is empty.")


def real_batch(gan: GAN, batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    x, y = batch[0].to(device), batch[1].to(device)
    return gan.to_gan(x), (y if gan.conditional else None)


def train_gan(gan: GAN, batches: Callable[[int], Iterable[Any]], epochs: int, lr: float, device: torch.device, mask: Mask | None = None, progress: bool = True, desc: str = "gan") -> dict[str, Any]:
    """``epochs`` passes over ``batches(epoch)`` of standard GAN steps; returns losses and seconds."""
    gan.to(device).train()
    opts = Optimizers(gan, lr, mask)
    start = time.perf_counter()
    log: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    steps = 0
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False, unit="epoch")
    for epoch in bar:
        totals, n = {"d_loss": 0.0, "g_loss": 0.0}, 0
        for batch in batches(epoch):
            x, y = real_batch(gan, batch, device)
            losses = standard_step(gan, opts, x, y)
            for k in totals:
                totals[k] += losses[k]
            n += 1
            steps += 1
        for k in totals:
            log[k].append(totals[k] / max(n, 1))
        bar.set_postfix(d=f"{log['d_loss'][-1]:.3f}", g=f"{log['g_loss'][-1]:.3f}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"train_seconds": time.perf_counter() - start, "steps": steps, "epoch_d_loss": log["d_loss"], "epoch_g_loss": log["g_loss"]}


def train_steps(gan: GAN, stream: Iterator[Any], steps: int, opts: Optimizers, device: torch.device) -> list[dict[str, float]]:
    """``steps`` standard GAN steps on batches drawn from ``stream`` (a learning stage, a finetune)."""
    gan.train()
    out = []
    for _ in range(steps):
        x, y = real_batch(gan, next(stream), device)
        out.append(standard_step(gan, opts, x, y))
    return out


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC-AUC in percent that ``pos`` scores above ``neg`` (ties count half); NaN when a side is empty."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    from sklearn.metrics import roc_auc_score

    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return float(roc_auc_score(y, np.concatenate([pos, neg]))) * 100.0
