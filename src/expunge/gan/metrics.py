"""The ``gan`` metric set: what a GAN still generates, what its discriminator still remembers.

Every metric is ``metric(model: GAN, ctx: EvalContext) -> {name: value}`` (percent for shares,
accuracies and AUCs). Samples are drawn in eval mode from a fixed seed, so two models are
compared on the same latent codes.

* ``gan_class_share``: share of generated samples a reference classifier assigns to the
  forgotten classes (``forgotten_class_share``). The forgotten classes are the labels present in
  the forget set and absent from the retain set, so item unlearning reports none.
* ``gan_nn_distance``: for each forget item, the distance (RMS per pixel, GAN space [-1, 1]) to its
  nearest generated sample, against the same for held-out test images of the same classes:
  ``forget_nn_dist`` and ``heldout_nn_dist``. Their ratio was dropped: it read 0.96-1.05 in all 184
  stored benchmark rows (originals, oracles and every method alike), so it told no model from another.
* ``gan_membership``: ROC-AUC of the discriminator's logit separating forget items (members)
  from class-matched held-out test images (``forget_mia_auc``, 50 = no signal) and the mean
  D(x) of each side (``forget_d_real``, ``heldout_d_real``: probability "real").
* ``gan_frechet``: Fréchet distance between generated and real test images of the retained
  classes, on the features of expunge's own reference classifier (the input of its last
  linear layer; Inception weights cannot be downloaded here, so values are not comparable
  with published FIDs, only across runs with the same reference classifier).
* ``gan_downstream``: a classifier (MLP) trained only on generated samples (labelled by their
  conditioning label, or by the reference classifier for an unconditional GAN), tested on the
  real test images of the retained classes (``downstream_acc``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..evaluate.registry import METRICS, EvalContext, register_set
from ..hparams import hp
from ..utils import eval_mode
from .train import auc


def forgotten_classes(ctx: EvalContext) -> list[int]:
    """Classes in the forget set that the retain set does not hold (class unlearning); [] for items."""
    if "forget_classes" in ctx.extras and ctx.extras["forget_classes"] is not None:
        return [int(c) for c in ctx.extras["forget_classes"]]
    y = ctx.train_set.targets.numpy()
    return sorted(set(np.unique(y[ctx.split.forget]).tolist()) - set(np.unique(y[ctx.split.retain]).tolist()))


def retained_test(ctx: EvalContext) -> np.ndarray:
    """Test indices whose class is not forgotten."""
    y = ctx.test_set.targets.numpy()
    test = ctx.split.test
    gone = forgotten_classes(ctx)
    return test[~np.isin(y[test], gone)] if gone else test


def matched_heldout(train_y: np.ndarray, forget: np.ndarray, test_y: np.ndarray, test: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One held-out test image per forget item, of the same class (without replacement while the class lasts)."""
    out = []
    for c, k in zip(*np.unique(train_y[forget], return_counts=True)):
        pool = test[test_y[test] == c]
        if len(pool) == 0:
            continue
        out.append(rng.choice(pool, k, replace=k > len(pool)))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _mean_prob(logits: np.ndarray) -> float:
    return float((1.0 / (1.0 + np.exp(-logits))).mean()) if len(logits) else float("nan")


def _seed(ctx: EvalContext, metric_seed: int, offset: int = 0) -> int:
    """One sampling seed per (run seed, metric seed): every model of a run is scored on the same latents."""
    return ctx.seed * 1000 + metric_seed + offset


def _forget_and_heldout(ctx: EvalContext, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``cap`` forget items (a seeded subset) and one class-matched held-out test image per item."""
    forget = ctx.split.forget
    if len(forget) > cap:
        forget = np.sort(np.random.default_rng(seed).choice(forget, cap, replace=False))
    held = matched_heldout(ctx.train_set.targets.numpy(), forget, ctx.test_set.targets.numpy(), ctx.split.test, np.random.default_rng(seed))
    return forget, held


def _retained_labels(model: nn.Module, ctx: EvalContext, n: int, seed: int) -> torch.Tensor | None:
    """Conditioning labels over the retained classes only (None for an unconditional GAN): the real reference holds no other."""
    if not model.conditional:
        return None
    gone = set(forgotten_classes(ctx))
    return model.random_labels(n, torch.Generator().manual_seed(seed), [c for c in range(model.num_classes) if c not in gone])


@torch.no_grad()
def classify(classifier: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    with eval_mode(classifier):
        return torch.cat([classifier(x[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)])


@torch.no_grad()
def penultimate_features(classifier: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 1000) -> np.ndarray:
    """The input of the classifier's last linear layer (its feature space)."""
    last = [m for m in classifier.modules() if isinstance(m, nn.Linear)][-1]
    store: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda mod, inp, out: store.append(inp[0].detach().flatten(1).cpu()))
    try:
        with eval_mode(classifier):
            for i in range(0, len(x), batch_size):
                classifier(x[i : i + batch_size].to(device))
    finally:
        handle.remove()
    return torch.cat(store).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(s_a)) * 1e-6
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


@METRICS.register("gan_class_share", "share of generated samples the reference classifier assigns to the forgotten classes", families=("gan",))
@dataclass
class ClassShare:
    n_samples: int = hp(2000, low=10, doc="generated samples classified")
    seed: int = hp(0, doc="sampling seed (same latents for every model)")
    needs: frozenset[str] = field(default=frozenset({"reference_classifier", "train_set", "split"}), init=False, repr=False)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        gone = forgotten_classes(ctx)
        if not gone:
            return {}
        x, _ = model.sample(self.n_samples, seed=_seed(ctx, self.seed))
        pred = classify(ctx.extras["reference_classifier"], x, ctx.device).numpy()
        return {"forgotten_class_share": float(np.isin(pred, gone).mean() * 100.0)}


@METRICS.register("gan_nn_distance", "distance of each forget item to its nearest generated sample, against held-out images", families=("gan",))
@dataclass
class NNDistance:
    n_samples: int = hp(2000, low=10, doc="generated samples searched")
    max_items: int = hp(512, low=1, doc="forget items measured (a random subset beyond this)")
    seed: int = hp(0, doc="sampling seed")
    needs: frozenset[str] = field(default=frozenset({"train_set", "test_set", "split"}), init=False, repr=False)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        forget, held = _forget_and_heldout(ctx, self.max_items, _seed(ctx, self.seed))
        x, _ = model.sample(self.n_samples, seed=_seed(ctx, self.seed))
        gen = model.to_gan(x.to(model.shift.device)).flatten(1).cpu()
        dim = gen.shape[1]

        def nearest(images: torch.Tensor) -> float:
            if len(images) == 0:
                return float("nan")
            q = model.to_gan(images.to(model.shift.device)).flatten(1).cpu()
            return float((torch.cdist(q, gen).min(1).values / dim**0.5).mean())

        f = nearest(ctx.train_set.inputs[forget])
        h = nearest(ctx.test_set.inputs[held])
        return {"forget_nn_dist": f, "heldout_nn_dist": h}


@METRICS.register("gan_membership", "discriminator-score membership inference: forget items vs class-matched held-out images", families=("gan",))
@dataclass
class DiscriminatorMIA:
    max_items: int = hp(2000, low=1, doc="forget items scored (a random subset beyond this)")
    seed: int = hp(0, doc="seed of the subset and of the held-out draw")
    needs: frozenset[str] = field(default=frozenset({"train_set", "test_set", "split"}), init=False, repr=False)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        forget, held = _forget_and_heldout(ctx, self.max_items, _seed(ctx, self.seed))
        fs = model.discriminator_scores(ctx.train_set.inputs[forget], ctx.train_set.targets[forget]).numpy()
        hs = model.discriminator_scores(ctx.test_set.inputs[held], ctx.test_set.targets[held]).numpy()
        return {"forget_mia_auc": auc(fs, hs), "forget_d_real": _mean_prob(fs), "heldout_d_real": _mean_prob(hs)}


@METRICS.register("gan_frechet", "Fréchet distance on the reference classifier's features (generated vs real retained-class test images)", families=("gan",))
@dataclass
class Frechet:
    n_samples: int = hp(2000, low=20, doc="generated samples (and at most as many real test images)")
    seed: int = hp(0, doc="sampling seed")
    needs: frozenset[str] = field(default=frozenset({"reference_classifier", "test_set", "split"}), init=False, repr=False)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        clf = ctx.extras["reference_classifier"]
        test = retained_test(ctx)
        if len(test) > self.n_samples:
            test = np.sort(np.random.default_rng(self.seed).choice(test, self.n_samples, replace=False))
        labels = _retained_labels(model, ctx, self.n_samples, self.seed)
        x, _ = model.sample(self.n_samples, seed=_seed(ctx, self.seed), labels=labels)
        key = f"gan_frechet_real:{len(test)}:{self.seed}"
        real = ctx.memoized(key, lambda: penultimate_features(clf, ctx.test_set.inputs[test], ctx.device))
        return {"frechet_distance": frechet_distance(penultimate_features(clf, x, ctx.device), real)}


@METRICS.register("gan_downstream", "accuracy on real test images of a classifier trained only on generated samples", families=("gan",))
@dataclass
class Downstream:
    n_samples: int = hp(5000, low=20, doc="generated training examples")
    epochs: int = hp(5, low=1, doc="epochs of the downstream MLP (SGD 0.05, momentum 0.9, batch 128)")
    seed: int = hp(0, doc="sampling and training seed")
    needs: frozenset[str] = field(default=frozenset({"reference_classifier", "test_set", "split"}), init=False, repr=False)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        from ..data.base import IndexedTensorDataset
        from ..models import build_model
        from ..train import Recipe, epoch_batches, train

        clf = ctx.extras["reference_classifier"]
        labels = _retained_labels(model, ctx, self.n_samples, self.seed)
        x, y = model.sample(self.n_samples, seed=_seed(ctx, self.seed, offset=1), labels=labels)
        if y is None:
            y = classify(clf, x, ctx.device)
        data = IndexedTensorDataset(x, y)
        net = build_model("mlp", tuple(x.shape[1:]), model.num_classes, seed=self.seed).to(ctx.device)
        recipe = Recipe(epochs=self.epochs, lr=0.05, batch_size=128, seed=self.seed)
        train(net, epoch_batches(data, np.arange(len(data)), 128, self.seed), recipe, ctx.device, progress=False, desc="downstream")
        test = retained_test(ctx)
        pred = classify(net, ctx.test_set.inputs[test], ctx.device)
        return {"downstream_acc": float((pred == ctx.test_set.targets[test]).float().mean() * 100.0)}


register_set("gan", ["gan_class_share", "gan_nn_distance", "gan_membership", "gan_frechet", "gan_downstream"])
