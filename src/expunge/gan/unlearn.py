"""GAN unlearners: the cascade (Sun et al., "Generative Adversarial Networks Unlearning",
arXiv 2308.09881, reconstructed in specs/zero-shot-concept-gan.md part C) and its baselines.

* ``gan_cascade``: rounds of an **unlearning stage** (D is told the forget images are fake,
  with a hard or soft label; each forget image has an in-distribution substitute from the
  retained data, which D sees as real and toward which G is steered) followed by a **learning
  stage** (standard GAN steps on retained data only). It stops by a rule on a measured forget
  signal (``STOP_RULES``), with ``rounds`` as a backstop. The default, ``band-progress``, stops
  when the signal is within ``stop_tolerance`` of its target (the oracle's) on *either* side, and
  has moved at least ``stop_min_change`` points closer to it than the untouched original was: the
  original can never satisfy it, and overshooting past the band does not count as success.
* ``gan_finetune``: standard GAN steps on retained data only.
* ``gan_redaction``: Kong & Chaudhuri-style data redaction: GAN steps on retained data with the
  forget images added to D's fake side; no substitutes, no learning stages.
* ``gan_retrain``: a fresh GAN trained on the retained data with the pretraining recipe (the oracle).

Data access: forget rows are read **once**, when an unlearner starts (``load_forget``), and
kept in memory for the unlearning stages; learning stages draw batches from the retain
indices only (``tests/gan`` proves it with a dataset that fails on any later forget read).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..cost import count
from ..errors import DataError
from ..hparams import NON_NEGATIVE, POSITIVE, hp
from ..masks import Mask
from ..unlearn.base import UNLEARNERS, UnlearningTask
from .models import GAN
from .train import Optimizers, auc, bce, cycle_batches, standard_step, train_gan, train_steps

# --------------------------------------------------------------------------- stop rules


def band_progress(initial: float, value: float, target: float, tolerance: float, min_change: float) -> bool:
    """Within the two-sided band around the target, and at least ``min_change`` closer to it than the original."""
    distance = abs(value - target)
    return distance <= tolerance and abs(initial - target) - distance >= min_change


def one_sided(initial: float, value: float, target: float, tolerance: float, min_change: float) -> bool:
    """The earlier rule: at or below target + tolerance. The original can satisfy it, and any overshoot passes."""
    return value <= target + tolerance


# name -> rule(signal of the untouched original, signal now, target, tolerance, minimum change) -> stop?
STOP_RULES = {"band-progress": band_progress, "one-sided": one_sided}


def stop_reachable(initial: float, target: float, tolerance: float, min_change: float) -> bool:
    """Whether band-progress can ever stop: some value in the band is ``min_change`` closer than the original."""
    return abs(initial - target) >= min_change


# --------------------------------------------------------------------------- task helpers


def check_task(task: UnlearningTask) -> None:
    """Clear errors for requests that cannot be unlearned."""
    split = task.split
    n_train = len(task.train_set)
    if len(split.forget) == 0:
        raise DataError("the forget set is empty: there is nothing to unlearn; give at least one index or class.")
    if len(split.retain) == 0 or len(np.setdiff1d(split.retain, split.forget)) == 0:
        raise DataError("the forget set covers the whole training pool, leaving nothing to retain; forget a smaller part.")
    if task.forget_classes:
        present = set(np.unique(task.train_set.targets.numpy()).tolist())
        missing = [c for c in task.forget_classes if c not in present]
        if missing:
            raise DataError(f"classes {missing} do not occur in the data (classes present: {sorted(present)}); nothing of them to unlearn.")
    if split.forget.max() >= n_train:
        raise DataError(f"forget indices reach {int(split.forget.max())} but the training set holds {n_train} examples.")


def as_gan(model: nn.Module) -> GAN:
    if not isinstance(model, GAN):
        raise TypeError(f"GAN unlearners need an expunge.gan.GAN (family: gan), got {type(model).__name__}.")
    return model


def load_forget(task: UnlearningTask) -> tuple[torch.Tensor, torch.Tensor]:
    """The one read of the forget rows (dataset space, CPU)."""
    idx = torch.as_tensor(task.split.forget, dtype=torch.long)
    return task.train_set.inputs[idx], task.train_set.targets[idx]


def read_rows(task: UnlearningTask, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    return task.train_set.inputs[idx], task.train_set.targets[idx]


def retain_stream(task: UnlearningTask, batch_size: int, offset: int) -> Any:
    """Endless retain-only batches: the only data a learning stage sees."""
    return cycle_batches(task.batches("retain", batch_size, seed_offset=offset))


# --------------------------------------------------------------------------- baselines


@UNLEARNERS.register("gan_retrain", "GAN retrained from scratch on the retained data (the oracle)", families=("gan",))
@dataclass
class GANRetrain:
    """A fresh GAN (``task.fresh_model``) trained on the retain set with the pretraining recipe."""

    name: str = "gan_retrain"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        check_task(task)
        fresh = as_gan(task.fresh_model(task.seed)).to(task.device)
        recipe = task.pretrain_recipe
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(recipe.seed + task.seed)
            info = train_gan(fresh, task.batches("retain", recipe.batch_size), recipe.epochs, recipe.lr, task.device, progress=task.progress, desc="gan retrain")
        task.notes.update(epochs=recipe.epochs, train_seconds=info["train_seconds"], steps=info["steps"])
        return fresh


@UNLEARNERS.register("gan_finetune", "GAN finetuned on the retained data only (catastrophic-forgetting baseline)", families=("gan",))
@dataclass
class GANFinetune:
    steps: int = hp(80, low=1, doc="GAN steps on retained batches")
    lr: float = hp(2e-4, **POSITIVE, doc="Adam learning rate (G and D)")
    batch_size: int = hp(64, low=1, doc="retained images per step")
    name: str = "gan_finetune"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        check_task(task)
        gan = as_gan(model).to(task.device)
        opts = Optimizers(gan, self.lr, mask)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(task.seed)
            train_steps(gan, retain_stream(task, self.batch_size, 11), self.steps, opts, task.device)
        task.notes.update(steps=self.steps)
        return gan


@UNLEARNERS.register("gan_redaction", "data redaction (Kong & Chaudhuri 2023): forget images join D's fake side, no substitutes", families=("gan",))
@dataclass
class GANRedaction:
    steps: int = hp(80, low=1, doc="GAN steps, each on a retained batch plus a forget batch labelled fake")
    lr: float = hp(2e-4, **POSITIVE, doc="Adam learning rate (G and D)")
    batch_size: int = hp(64, low=1, doc="retained images per step (forget images per step: min(batch_size, forget size))")
    fake_target: float = hp(0.0, low=0.0, high=1.0, doc="D's target for forget images (0 = hard fake)")
    name: str = "gan_redaction"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        check_task(task)
        gan = as_gan(model).to(task.device)
        x_f, y_f = load_forget(task)
        opts = Optimizers(gan, self.lr, mask)
        stream = retain_stream(task, self.batch_size, 13)
        bf = min(self.batch_size, len(x_f))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(task.seed)
            gan.train()
            for _ in range(self.steps):
                batch = next(stream)
                x, y = gan.to_gan(batch[0].to(task.device)), (batch[1].to(task.device) if gan.conditional else None)
                pick = torch.randint(len(x_f), (bf,))
                xf = gan.to_gan(x_f[pick].to(task.device))
                yf = y_f[pick].to(task.device) if gan.conditional else None
                standard_step(gan, opts, x, y, (xf, yf), self.fake_target)
        task.notes.update(steps=self.steps)
        return gan


# --------------------------------------------------------------------------- the cascade


def nearest_indices(queries: torch.Tensor, bank: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Index of each query's nearest bank row (L2 on flattened tensors), in chunks."""
    q, b = queries.flatten(1), bank.flatten(1)
    return torch.cat([torch.cdist(q[i : i + chunk], b).argmin(1) for i in range(0, len(q), chunk)])


@UNLEARNERS.register("gan_cascade", "cascaded GAN unlearning (Sun et al. 2023): substitution + fake label, unlearning/learning stages", families=("gan",))
@dataclass
class GANCascade:
    """Every option the paper leaves open is a hyperparameter; defaults are the measured best (docs/methods/gan.md)."""

    rounds: int = hp(10, low=1, doc="maximum number of rounds (unlearning stage + learning stage): the backstop")
    min_rounds: int = hp(1, low=1, doc="rounds run before the stopping signal is consulted")
    unlearn_steps: int = hp(4, low=1, doc="steps per unlearning stage (a forget batch, its substitutes and a generated batch each)")
    learn_steps: int = hp(4, low=0, doc="standard GAN steps per learning stage, on retained batches only")
    batch_size: int = hp(64, low=1, doc="images per step (forget batches: min(batch_size, forget size))")
    lr: float = hp(2e-4, **POSITIVE, doc="Adam learning rate (G and D; betas from the model)")
    fake_label: str = hp("hard", choices=("hard", "soft"), doc="D's target for forget images: 0, or the original D's mean score on generated samples")
    substitute: str = hp(
        "auto",
        choices=("auto", "nearest", "random"),
        doc="each forget image's substitute: its nearest retained image (pixels) or a random one; auto: random for "
        "class unlearning (a class's nearest neighbours look like the class), nearest for items",
    )
    substitute_pool: int = hp(5000, low=1, doc="retained images searched for substitutes (a random subset)")
    steer: str = hp(
        "auto",
        choices=("auto", "none", "nearest", "inversion"),
        doc="how G is pulled to substitutes: none (only through D), nearest (a generated sample nearest a forget image "
        "is pulled to its substitute), inversion (latents inverted from forget images map to their substitutes); "
        "auto: inversion up to 512 forget images, else nearest",
    )
    steer_weight: float = hp(1.0, **NON_NEGATIVE, doc="weight of the substitution loss ||G(z) - x_s||^2 (per pixel) in G's loss")
    inversion_steps: int = hp(50, low=1, doc="Adam steps of the latent inversion (steer=inversion)")
    stop_signal: str = hp(
        "auto",
        choices=("auto", "membership", "nn_share", "none"),
        doc="membership: D-score AUC of forget vs validation (non-member) images; nn_share: share of generated "
        "samples whose nearest bank image is a forget image; auto: nn_share for classes, membership for items",
    )
    stop_auc: float = hp(50.0, low=0.0, high=100.0, doc="target forget-membership AUC (the oracle's; 50 = an item it never saw)")
    stop_share: float | None = hp(
        None,
        low=0.0,
        high=100.0,
        doc="target nn_share in percent (the oracle's); None: measured from data, as the share of retained-class "
        "validation images whose nearest bank image is a forget image (what a GAN that never saw the forget set "
        "would score if it generated real retained images)",
    )
    stop_tolerance: float = hp(2.0, **NON_NEGATIVE, doc="half-width of the band around the target, in points (band-progress: either side; one-sided: above)")
    stop_rule: str = hp(
        "band-progress",
        choices=tuple(STOP_RULES),
        doc="band-progress: within stop_tolerance of the target on either side and stop_min_change closer than the original "
        "(the original cannot satisfy it, overshoot does not count); one-sided: at or below target + tolerance (the earlier rule)",
    )
    stop_min_change: float = hp(1.0, **POSITIVE, doc="band-progress: points the signal must have moved toward the target since the original")
    signal_samples: int = hp(500, low=10, doc="generated samples (nn_share) or forget/validation images (membership) per check")
    bank_size: int = hp(3000, low=10, doc="forget + retained images in the nearest-neighbour bank (nn_share, steer=nearest)")
    name: str = "gan_cascade"

    # ------------------------------------------------------------------ setup
    def _substitutes(self, task: UnlearningTask, x_f: torch.Tensor, rng: np.random.Generator, substitute: str) -> torch.Tensor:
        pool = task.split.retain
        if len(pool) > self.substitute_pool:
            pool = rng.choice(pool, self.substitute_pool, replace=False)
        x_r, _ = read_rows(task, np.sort(pool))
        if substitute == "random":
            return x_r[torch.as_tensor(rng.integers(0, len(x_r), len(x_f)))]
        return x_r[nearest_indices(x_f, x_r)]

    def _bank(self, task: UnlearningTask, x_f: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Forget and retained images sampled at the same rate; ``is_forget`` marks the forget rows."""
        n_f, n_r = len(x_f), len(task.split.retain)
        rate = min(1.0, self.bank_size / (n_f + n_r))
        k_f, k_r = max(1, round(rate * n_f)), max(1, round(rate * n_r))
        xf = x_f[torch.as_tensor(np.sort(rng.choice(n_f, k_f, replace=False)))]
        xr, _ = read_rows(task, np.sort(rng.choice(task.split.retain, k_r, replace=False)))
        return torch.cat([xf, xr]), torch.cat([torch.ones(k_f, dtype=torch.bool), torch.zeros(k_r, dtype=torch.bool)])

    def _invert(self, gan: GAN, x_f: torch.Tensor, y_f: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """z_f = argmin_z ||G(z) - x_f||^2 (G frozen, eval mode), Adam 0.05."""
        target = gan.to_gan(x_f.to(device))
        z = gan.noise(len(x_f)).clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.05)
        was = gan.generator.training
        gan.generator.eval()
        for p in gan.generator.parameters():
            p.requires_grad_(False)
        try:
            for _ in range(self.inversion_steps):
                loss = ((gan.generate(z, y_f) - target) ** 2).flatten(1).mean(1).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                count(len(x_f))
        finally:
            for p in gan.generator.parameters():
                p.requires_grad_(True)
            gan.generator.train(was)
        return z.detach()

    # ------------------------------------------------------------------ signals
    def _resolve(self, task: UnlearningTask, n_forget: int) -> tuple[str, str, str]:
        is_class = bool(task.forget_classes) or getattr(task.split, "description", "").startswith("class")
        signal = self.stop_signal if self.stop_signal != "auto" else ("nn_share" if is_class else "membership")
        steer = self.steer if self.steer != "auto" else ("inversion" if n_forget <= 512 else "nearest")
        substitute = self.substitute if self.substitute != "auto" else ("random" if is_class else "nearest")
        return signal, steer, substitute

    @torch.no_grad()
    def _membership(self, gan: GAN, xf: torch.Tensor, yf: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor) -> float:
        count(len(xf) + len(xv), backward=False)
        return auc(gan.discriminator_scores(xf, yf).numpy(), gan.discriminator_scores(xv, yv).numpy())

    @torch.no_grad()
    def _nn_share(self, gan: GAN, bank: torch.Tensor, is_forget: torch.Tensor, seed: int) -> float:
        x, _ = gan.sample(self.signal_samples, seed=seed)
        count(self.signal_samples, backward=False)
        return float(is_forget[nearest_indices(x, bank)].float().mean() * 100.0)

    def _share_floor(self, task: UnlearningTask, bank: torch.Tensor, is_forget: torch.Tensor, rng: np.random.Generator) -> float:
        """nn_share of real non-forget images outside the bank: validation images of the retained classes
        (retain images outside the bank when there is no validation part)."""
        y = task.train_set.targets.numpy()
        candidates = task.split.validation
        if task.forget_classes:
            candidates = candidates[~np.isin(y[candidates], task.forget_classes)]
        if len(candidates) < 10:
            candidates = task.split.retain  # a few may sit in the bank: the floor is then slightly high
        pick = np.sort(rng.choice(candidates, min(self.signal_samples, len(candidates)), replace=False))
        x, _ = read_rows(task, pick)
        count(len(x), backward=False)
        return float(is_forget[nearest_indices(x, bank)].float().mean() * 100.0)

    # ------------------------------------------------------------------ main
    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        check_task(task)
        gan = as_gan(model).to(task.device)
        device = task.device
        rng = np.random.default_rng(task.seed)
        x_f, y_f = load_forget(task)  # the only read of forget rows
        signal, steer, substitute = self._resolve(task, len(x_f))
        cond = gan.conditional

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(task.seed)
            x_s = self._substitutes(task, x_f, rng, substitute)
            bank, is_forget = self._bank(task, x_f, rng) if (signal == "nn_share" or steer == "nearest") else (None, None)
            # Forget rows inside the bank are the forget-bank rows; for steering we need their substitutes too.
            forget_bank_sub = None
            if bank is not None:
                forget_bank_sub = x_s[nearest_indices(bank[is_forget], x_f)]
            z_f = None
            if steer == "inversion" and self.steer_weight > 0:
                z_f = self._invert(gan, x_f, y_f.to(device) if cond else None, device)

            target = 0.0
            if self.fake_label == "soft":
                with torch.no_grad():
                    z = gan.noise(512)
                    y = gan.random_labels(512)
                    target = float(torch.sigmoid(gan.score(gan.generate(z, y), y)).mean())
                count(512, backward=False)

            # membership signal: forget items against validation images of the same classes (non-members)
            check, target_value = None, float("nan")
            if signal == "membership":
                val = task.split.validation
                if len(val) == 0:
                    raise DataError("stop_signal=membership needs validation images (non-members): set split.validation_fraction > 0, or stop_signal=none.")
                from .metrics import matched_heldout

                m = min(self.signal_samples, len(x_f))
                fi = np.sort(rng.choice(len(x_f), m, replace=False))
                vy = task.train_set.targets.numpy()
                vi = matched_heldout(y_f.numpy(), fi, vy[val], np.arange(len(val)), rng)
                x_v, y_v = read_rows(task, val[vi])
                check = lambda: self._membership(gan, x_f[fi], y_f[fi], x_v, y_v)  # noqa: E731
                target_value = self.stop_auc
            elif signal == "nn_share":
                check = lambda: self._nn_share(gan, bank, is_forget, task.seed + 1)  # noqa: E731
                target_value = self.stop_share if self.stop_share is not None else self._share_floor(task, bank, is_forget, rng)

            opts = Optimizers(gan, self.lr, mask)
            stream = retain_stream(task, self.batch_size, 17)
            bf = min(self.batch_size, len(x_f))
            history: list[dict[str, float]] = []
            initial = check() if check is not None else None
            rule = STOP_RULES[self.stop_rule]
            reachable = initial is None or self.stop_rule != "band-progress" or stop_reachable(initial, target_value, self.stop_tolerance, self.stop_min_change)
            if not reachable:
                warnings.warn(
                    f"gan_cascade: the untouched original's {signal} signal ({initial:.2f}) is already within {self.stop_min_change} of its target "
                    f"({target_value:.2f}), so it cannot tell forgetting from doing nothing; the cascade runs all {self.rounds} rounds.",
                    stacklevel=2,
                )
            stopped_by = "rounds"
            bar = tqdm(range(self.rounds), desc="gan cascade", disable=not task.progress, leave=False, unit="round")
            for r in bar:
                gan.train()
                for _ in range(self.unlearn_steps):
                    self._unlearn_step(gan, opts, x_f, y_f, x_s, z_f, bank, is_forget, forget_bank_sub, steer, target, bf, device)
                train_steps(gan, stream, self.learn_steps, opts, device)
                value = check() if check is not None else float("nan")
                history.append({"round": r + 1, "signal": value})
                bar.set_postfix(signal=f"{value:.2f}")
                if check is not None and initial is not None and r + 1 >= self.min_rounds and rule(initial, value, target_value, self.stop_tolerance, self.stop_min_change):
                    stopped_by = "signal"
                    break
        task.notes.update(
            rounds=len(history),
            stopped_by=stopped_by,
            stop_signal=signal,
            stop_target=target_value if check is not None else None,
            stop_rule=self.stop_rule,
            stop_reachable=reachable,
            steer=steer,
            substitute=substitute,
            fake_target=target,
            initial_signal=initial,
            signal_history=history,
        )
        return gan

    def _unlearn_step(
        self,
        gan: GAN,
        opts: Optimizers,
        x_f: torch.Tensor,
        y_f: torch.Tensor,
        x_s: torch.Tensor,
        z_f: torch.Tensor | None,
        bank: torch.Tensor | None,
        is_forget: torch.Tensor | None,
        forget_bank_sub: torch.Tensor | None,
        steer: str,
        target: float,
        bf: int,
        device: torch.device,
    ) -> None:
        cond = gan.conditional
        pick = torch.randperm(len(x_f))[:bf]
        xf, xs = gan.to_gan(x_f[pick].to(device)), gan.to_gan(x_s[pick].to(device))
        yf = y_f[pick].to(device) if cond else None
        fake = gan.generate(gan.noise(bf), yf)
        d_f, d_s, d_g = gan.score(xf, yf), gan.score(xs, yf), gan.score(fake.detach(), yf)
        d_loss = bce(d_f, torch.full_like(d_f, target)) + bce(d_s, torch.ones_like(d_s)) + bce(d_g, torch.zeros_like(d_g))
        opts.step_d(d_loss)
        d_gen = gan.score(fake, yf)
        g_loss = bce(d_gen, torch.ones_like(d_gen))
        passes = 4 * bf
        if self.steer_weight > 0 and steer == "inversion" and z_f is not None:
            g_loss = g_loss + self.steer_weight * ((gan.generate(z_f[pick], yf) - xs) ** 2).mean()
            passes += bf
        elif self.steer_weight > 0 and steer == "nearest" and bank is not None:
            with torch.no_grad():
                gen_data = gan.from_gan(fake.detach()).cpu()
                if cond:  # every sample carries a forget label: pull it to the substitute of its nearest forget image
                    hit = torch.ones(bf, dtype=torch.bool)
                    sub = x_s[nearest_indices(gen_data, x_f)]
                else:
                    nn_idx = nearest_indices(gen_data, bank)
                    hit = is_forget[nn_idx]  # pyright: ignore[reportOptionalSubscript]
                    forget_rows = torch.cumsum(is_forget.long(), 0) - 1  # pyright: ignore[reportOptionalMemberAccess]
                    sub = forget_bank_sub[forget_rows[nn_idx].clamp(min=0)]  # pyright: ignore[reportOptionalSubscript]
            if bool(hit.any()):
                h = hit.to(device)
                g_loss = g_loss + self.steer_weight * ((fake[h] - gan.to_gan(sub[hit].to(device))) ** 2).mean() * (float(h.sum()) / bf)
        opts.step_g(g_loss)
        count(passes)
