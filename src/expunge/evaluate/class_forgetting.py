"""Class-forgetting metrics that the output layer cannot fake (specs/evaluation.md, last section).

Output-level numbers (target / other accuracy, Fr, Fs) are met exactly by ``output_mask``,
which edits one row of the classifier and no feature. The metrics below ask whether the
class is gone from the *representation*, always next to the retrained oracle:

- ``class_accuracy``: target / other-class accuracy on the train pool and on the test split
  (the analysis images are already excluded from ``split.test`` by the runner), in percent.
- ``class_mia``: LRA-NPP's two membership attacks on the target class (spec A §4):
  ``mia_fr`` (SVM transfer, fit once on the original's softmax, target train vs target test;
  share of the model's target train images called non-member) and ``mia_fs`` (loss attack,
  |accuracy - 50|, logistic regression on standardised per-example loss, 10 shuffle splits).
  Fix: losses are no longer clipped at 1e4. Clipping mapped every loss of a suppressed logit
  (about 1e4 + logsumexp of the other logits) to the same value and gave ``output_mask`` Fs = 0;
  the attack now sees the full float64 loss (standardised; non-finite losses become the largest
  finite one + 1, so an infinite loss cannot hide the ranking of the others).
- ``feature_probe``: a logistic-regression probe is fit on a class-balanced sample of the train
  pool (all classes, true labels) and scored on the target class's test images: the share
  still decoded as the target. Two layers (``probe_layers``): ``penultimate`` = the input of the
  last ``nn.Linear``; ``earlier`` = ResNet: the output of the second-to-last stage, globally
  average-pooled; any other model: the input of the second-to-last ``nn.Linear`` (ClassicCNN:
  the flattened conv features entering fc1; MLP: the input of its last hidden layer).
- ``relearn``: the attacker re-initialises the target row (and bias) of the classifier, which
  undoes any output-layer suppression, then fine-tunes on k labelled train-pool examples per
  class (every class; the test split is never used) for a fixed number of full-batch SGD steps,
  either the head only or the whole model (BatchNorm statistics frozen: eval mode). Reported:
  the target class's test accuracy afterwards, for k in ``ks``, and the oracles' mean under the
  same attack (``*_oracle``). A class that was only hidden comes back at once; one that was
  never learned (the oracle) comes back slowly.
- ``class_verdict``: distance to the oracle mean on every metric above, the share of the
  original-to-oracle gap closed on the decisive ones, each one's band, and a verdict
  (``expunge.evaluate.verdicts.judge_class``): ``not removed`` (target test accuracy > ``max_target_acc``),
  ``broke the model`` (other-class accuracy below the oracles' by more than the band),
  ``removed`` (relearn k=5 head only and the penultimate probe both within the band of the oracle
  mean, either side), ``output-only`` otherwise. The band comes from the oracles' leave-one-out
  spread and the measurements' sampling error (``ClassRule.sentence()`` states it). Stored as a
  number (a code of ``VERDICTS``; stores and reports hold floats); ``verdict_name`` maps it back.

Oracle and original values are computed once per evaluation context (``ctx.memoized``);
per-model values are cached per model object, so the verdict reuses the other metrics' work.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..hparams import hp
from ..seeds import Seeds
from ..utils import eval_mode
from .accuracy import Outputs
from .registry import METRICS, EvalContext, register_set
from .verdicts import VERDICTS, ClassRule, is_raw, judge_class, verdict_name

PERCENT = 100.0
CONFIGURED_RELEARN = "class_forgetting:configured_relearn"
CONFIGURED_PROBE = "class_forgetting:configured_probe"


# ---- task helpers ----------------------------------------------------------------------
def forget_classes(ctx: EvalContext) -> list[int]:
    classes = ctx.extras.get("forget_classes")
    if not classes:
        raise ConfigError("class-forgetting metrics need the forgotten class(es): run a split.kind=class task (ctx.extras['forget_classes']).")
    return [int(c) for c in classes]


def train_pool(ctx: EvalContext) -> np.ndarray:
    return np.sort(np.concatenate([ctx.split.forget, ctx.split.retain])).astype(np.int64)


def _labels(dataset: Any, indices: np.ndarray) -> np.ndarray:
    return dataset.targets.numpy()[indices]


def _is_target(labels: np.ndarray | torch.Tensor, classes: list[int]) -> np.ndarray:
    return np.isin(np.asarray(labels), classes)


def target_test_indices(ctx: EvalContext) -> np.ndarray:
    idx = np.asarray(ctx.split.test, dtype=np.int64)
    return idx[_is_target(_labels(ctx.test_set, idx), forget_classes(ctx))]


def _per_model(ctx: EvalContext, model: nn.Module, key: Any, build: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Values of ``model`` under ``key``, computed once per model object in this context."""
    cache: weakref.WeakKeyDictionary = ctx.memoized("class_forgetting:per_model", weakref.WeakKeyDictionary)
    entry = cache.setdefault(model, {})
    if key not in entry:
        entry[key] = build()
    return entry[key]


def _reference(ctx: EvalContext, key: Any, compute: Callable[[nn.Module], dict[str, float]]) -> dict[str, float]:
    """The oracles' mean (``*_oracle``) and spread (``*_oracle_std``) of ``compute``'s values."""

    def build() -> dict[str, float]:
        rows = [compute(o) for o in ctx.oracles]
        out: dict[str, float] = {}
        for name in [n for n in rows[0] if is_raw(n)] if rows else []:  # draw spreads and counts are not averaged
            values = [r[name] for r in rows]
            out[f"{name}_oracle"] = float(np.mean(values))
            out[f"{name}_oracle_std"] = float(np.std(values)) if len(values) > 1 else float("nan")
        return out

    return ctx.memoized(f"class_forgetting:oracle:{key!r}", build)


# ---- one forward pass per model, shared by every metric ------------------------------------------
@dataclass
class ModelPass:
    """Logits on the train pool and the test split, and probe-layer features of the pool and the target test images."""

    pool: np.ndarray
    train: Outputs
    test: Outputs
    pool_features: dict[str, np.ndarray]
    target_test_features: dict[str, np.ndarray]
    target_test_rows: np.ndarray  # rows of ``test`` that belong to a forgotten class


@torch.no_grad()
def _pass(
    model: nn.Module, dataset: Any, indices: np.ndarray, points: dict[str, ProbePoint], device: torch.device, keep_features: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 1024
) -> tuple[Outputs, dict[str, np.ndarray]]:
    modules = dict(model.named_modules())
    current: dict[str, torch.Tensor] = {}
    handles = []
    for name, point in points.items():

        def hook(_m: nn.Module, args: tuple, output: torch.Tensor, name: str = name, point: ProbePoint = point) -> None:
            t = args[0] if point.side == "input" else output
            if point.pool and t.ndim > 2:
                t = t.mean(dim=tuple(range(2, t.ndim)))
            current[name] = t.detach().flatten(1).float().cpu()

        handles.append(modules[point.module_name].register_forward_hook(hook))
    logits, labels, feats = [], [], {n: [] for n in points}
    try:
        with eval_mode(model):
            for start in range(0, len(indices), batch_size):
                idx = torch.as_tensor(indices[start : start + batch_size])
                y = dataset.targets[idx]
                logits.append(model(dataset.inputs[idx].to(device)).float().cpu())
                labels.append(y)
                keep = keep_features(y)
                for n in points:
                    feats[n].append(current[n][keep])
    finally:
        for h in handles:
            h.remove()
    out = Outputs(torch.cat(logits), torch.cat(labels)) if logits else Outputs(torch.empty(0, 0), torch.empty(0, dtype=torch.long))
    return out, {n: torch.cat(v).numpy() for n, v in feats.items()}


def model_pass(model: nn.Module, ctx: EvalContext) -> ModelPass:
    """Computed once per model object in this context (``ctx.memo``)."""
    cache: weakref.WeakKeyDictionary = ctx.memoized("class_forgetting:pass", weakref.WeakKeyDictionary)
    if model not in cache:
        classes = forget_classes(ctx)
        points = probe_layers(model)
        pool = train_pool(ctx)
        train, pool_features = _pass(model, ctx.train_set, pool, points, ctx.device, lambda y: torch.ones(len(y), dtype=torch.bool))
        test, target_features = _pass(model, ctx.test_set, np.asarray(ctx.split.test, dtype=np.int64), points, ctx.device, lambda y: torch.as_tensor(_is_target(y, classes)))
        cache[model] = ModelPass(pool, train, test, pool_features, target_features, np.where(_is_target(test.labels, classes))[0])
    return cache[model]


# ---- accuracy ----------------------------------------------------------------------------
@METRICS.register("class_accuracy")
@dataclass
class ClassAccuracy:
    """Target / other-class accuracy (%) on the train pool and the test split."""

    needs = frozenset({"train_set", "test_set", "split", "forget_classes"})

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        return _per_model(ctx, model, "accuracy", lambda: class_accuracy(model, ctx))


def class_accuracy(model: nn.Module, ctx: EvalContext) -> dict[str, float]:
    classes = forget_classes(ctx)
    p = model_pass(model, ctx)
    out: dict[str, float] = {}
    for split, o in (("train", p.train), ("test", p.test)):
        t = torch.as_tensor(_is_target(o.labels, classes))
        out[f"target_acc_{split}"] = Outputs(o.logits[t], o.labels[t]).accuracy()
        out[f"other_acc_{split}"] = Outputs(o.logits[~t], o.labels[~t]).accuracy()
    out["target_test_n"], out["other_test_n"] = float(t.sum()), float((~t).sum())  # the images each test accuracy is over (its sampling error)
    return out


# ---- membership attacks (Fr, Fs) -----------------------------------------------------------
@dataclass
class TransferAttack:
    """The Fr attack, fit once on the original model and applied to every candidate."""

    scaler: Any
    classifier: Any
    n_per_side: int

    def nonmember_rate(self, probabilities: np.ndarray) -> float:
        if len(probabilities) == 0:
            return float("nan")
        return float((self.classifier.predict(self.scaler.transform(probabilities)) == 0).mean()) * PERCENT


def fit_transfer_attack(member_probs: np.ndarray, nonmember_probs: np.ndarray, seed: int = 0, max_per_side: int = 1500) -> TransferAttack:
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(seed)
    n = min(len(member_probs), len(nonmember_probs), max_per_side)
    if n < 2:
        raise DataError("the Fr attack needs at least 2 target-class train and 2 target-class test images.")
    x = np.concatenate([rng.permutation(member_probs)[:n], rng.permutation(nonmember_probs)[:n]])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    scaler = StandardScaler().fit(x)
    return TransferAttack(scaler, SVC(kernel="linear").fit(scaler.transform(x), y), n)


def finite_losses(losses: np.ndarray) -> np.ndarray:
    """Float64 losses with non-finite entries replaced by (largest finite loss + 1); no clipping."""
    x = np.asarray(losses, dtype=np.float64).copy()
    bad = ~np.isfinite(x)
    if bad.any():
        finite = x[~bad]
        x[bad] = (finite.max() if len(finite) else 0.0) + 1.0
    return x


def loss_attack_advantage(member_loss: np.ndarray, nonmember_loss: np.ndarray, seed: int = 0) -> float:
    """Fs: |accuracy - 50| of a logistic-regression loss attack (standardised loss), 10 stratified shuffle splits."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = min(len(member_loss), len(nonmember_loss))
    if n < 5:
        return float("nan")
    x = finite_losses(np.concatenate([rng.permutation(nonmember_loss)[:n], rng.permutation(member_loss)[:n]])).reshape(-1, 1)
    if np.ptp(x) == 0:  # identical losses carry no signal (and would make the scaler divide by 0)
        return 0.0
    y = np.concatenate([np.zeros(n), np.ones(n)])
    cv = StratifiedShuffleSplit(n_splits=10, random_state=seed)
    acc = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), x, y, cv=cv, scoring="accuracy").mean()
    return abs(float(acc) - 0.5) * PERCENT


@METRICS.register("class_mia")
@dataclass
class ClassMIA:
    """Fr (SVM transfer fit on the original) and Fs (loss attack) on the target class; see module doc."""

    max_per_side: int = hp(1500, low=2, doc="at most this many target train / test images per side of the Fr attack")
    needs = frozenset({"train_set", "test_set", "split", "original", "forget_classes"})

    def _parts(self, model: nn.Module, ctx: EvalContext) -> tuple[Outputs, Outputs]:
        classes = forget_classes(ctx)
        p = model_pass(model, ctx)
        tr = torch.as_tensor(_is_target(p.train.labels, classes))
        te = torch.as_tensor(p.target_test_rows)
        return Outputs(p.train.logits[tr], p.train.labels[tr]), Outputs(p.test.logits[te], p.test.labels[te])

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        def attack() -> TransferAttack:
            tr, te = self._parts(ctx.original, ctx)
            return fit_transfer_attack(tr.probabilities(), te.probabilities(), ctx.seed, self.max_per_side)

        def compute() -> dict[str, float]:
            fr_attack = ctx.memoized(f"class_forgetting:fr_attack:{self.max_per_side}", attack)
            tr, te = self._parts(model, ctx)
            return {"mia_fr": fr_attack.nonmember_rate(tr.probabilities()), "mia_fs": loss_attack_advantage(tr.losses(), te.losses(), ctx.seed)}

        return _per_model(ctx, model, ("mia", self.max_per_side), compute)


# ---- feature probes ------------------------------------------------------------------------
def classifier_layer(model: nn.Module) -> tuple[str, nn.Linear]:
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear output layer; class-forgetting metrics need one.")
    return found[-1]


@dataclass
class ProbePoint:
    """Where a probe reads features: the input (``side='input'``) or output of ``module``; ``pool`` = global average pool."""

    name: str
    module_name: str
    side: str = "input"
    pool: bool = False


def probe_layers(model: nn.Module) -> dict[str, ProbePoint]:
    """The two probed layers of ``model`` (see module doc): ``penultimate`` and ``earlier`` (absent if the model has none)."""
    from ..models.resnet import ResNet

    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear output layer; the feature probe needs one.")
    points = {"penultimate": ProbePoint("penultimate", linears[-1])}
    if isinstance(model, ResNet) and len(model.layers) >= 2:
        points["earlier"] = ProbePoint("earlier", f"layers.{len(model.layers) - 2}", side="output", pool=True)
    elif len(linears) >= 2:
        points["earlier"] = ProbePoint("earlier", linears[-2])
    return points


@torch.no_grad()
def layer_features(model: nn.Module, point: ProbePoint, inputs: torch.Tensor, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """Features at ``point`` for every row of ``inputs`` (flattened, float32 numpy)."""
    module = dict(model.named_modules())[point.module_name]
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, args: tuple, output: torch.Tensor) -> None:
        t = args[0] if point.side == "input" else output
        if point.pool and t.ndim > 2:
            t = t.mean(dim=tuple(range(2, t.ndim)))
        captured.append(t.detach().flatten(1).float().cpu())

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model):
            for start in range(0, len(inputs), batch_size):
                model(inputs[start : start + batch_size].to(device))
    finally:
        handle.remove()
    return torch.cat(captured).numpy() if captured else np.zeros((0, 0), dtype=np.float32)


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, target_x: np.ndarray, classes: list[int], max_iter: int = 300) -> float:
    """Share (%) of the target images a linear probe fit on (train_x, train_y) assigns to a forgotten class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(target_x) == 0:
        return float("nan")
    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=max_iter).fit(scaler.transform(train_x), train_y)
    return float(np.isin(probe.predict(scaler.transform(target_x)), classes).mean()) * PERCENT


@METRICS.register("feature_probe")
@dataclass
class FeatureProbe:
    """Linear probes on the penultimate and an earlier layer: share of target test images still decoded as the target."""

    per_class: int = hp(200, low=2, doc="train-pool images per class the probe is fit on")
    repeats: int = hp(
        3,
        low=1,
        high=100,
        doc="independent draws of the probe's fit sample averaged; > 1 also reports probe_*_std, which the verdict uses (the fit sample moves the probe by more than the test images' binomial error)",
    )
    needs = frozenset({"train_set", "test_set", "split", "oracles", "forget_classes"})

    def probe_rows(self, ctx: EvalContext, labels: np.ndarray, draw: int = 0) -> np.ndarray:
        """Rows of the train pool the probe is fit on: up to ``per_class`` per class; draw 0 uses the context's seed (the single-draw probe)."""
        rng = np.random.default_rng(ctx.seed if draw == 0 else [ctx.seed, draw])
        return np.sort(np.concatenate([rng.permutation(np.where(labels == c)[0])[: self.per_class] for c in np.unique(labels)]))

    def key(self) -> tuple:
        return ("probe", self.per_class, self.repeats)

    def values(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        def compute() -> dict[str, float]:
            p = model_pass(model, ctx)
            labels = p.train.labels.numpy()
            draws: dict[str, list[float]] = {}
            for r in range(self.repeats):
                rows = self.probe_rows(ctx, labels, r)
                for name in p.pool_features:
                    draws.setdefault(f"probe_{name}", []).append(probe_accuracy(p.pool_features[name][rows], labels[rows], p.target_test_features[name], forget_classes(ctx)))
            out = {key: float(np.mean(v)) for key, v in draws.items()} | {"probe_draws": float(self.repeats)}
            if self.repeats > 1:
                out |= {f"{key}_std": float(np.std(v, ddof=1)) for key, v in draws.items()}
            return out

        return _per_model(ctx, model, self.key(), compute)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        ctx.memo.setdefault(CONFIGURED_PROBE, self)  # the verdict reads the run's configured probe (ClassVerdict.attacks)
        return self.values(model, ctx) | _reference(ctx, self.key(), lambda o: self.values(o, ctx))


# ---- relearn attack ------------------------------------------------------------------------
@torch.no_grad()
def reset_class_row(model: nn.Module, classes: list[int], seed: int) -> None:
    """Re-initialise the classifier rows of ``classes``: weights ~ N(0, std of the other rows), bias = mean of the others."""
    _, layer = classifier_layer(model)
    keep = [c for c in range(layer.out_features) if c not in classes]
    gen = torch.Generator().manual_seed(seed)
    std = float(layer.weight[keep].std()) if keep else 0.01
    for c in classes:
        layer.weight[c] = (torch.randn(layer.in_features, generator=gen) * std).to(layer.weight)
        if layer.bias is not None:
            layer.bias[c] = layer.bias[keep].mean() if keep else 0.0


def relearn_examples(ctx: EvalContext, k: int, seed: int) -> np.ndarray:
    """k train-pool indices per class (every class), drawn with ``seed``; a clear error if a class has fewer."""
    pool = train_pool(ctx)
    labels = _labels(ctx.train_set, pool)
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        have = pool[labels == c]
        if len(have) < k:
            raise DataError(f"relearn k={k} needs {k} labelled examples of class {int(c)}, but the train pool has {len(have)}; lower ks.")
        picks.append(rng.choice(have, k, replace=False))
    return np.sort(np.concatenate(picks))


def relearn(model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: list[int], variant: str, steps: int, lr: float, momentum: float = 0.9, reset_row: bool = True, seed: int = 0) -> nn.Module:
    """A fine-tuned copy of ``model`` (head only or the whole model; eval mode, so BN statistics stay frozen)."""
    if variant not in ("head", "full"):
        raise ConfigError(f"relearn variant {variant!r} unknown; choose head or full.")
    attacked = copy.deepcopy(model)
    device = next(attacked.parameters()).device
    if reset_row:
        reset_class_row(attacked, classes, seed)
    _, layer = classifier_layer(attacked)
    params = list(layer.parameters()) if variant == "head" else list(attacked.parameters())
    for p in attacked.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    x, y = x.to(device), y.to(device)
    attacked.eval()
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(attacked(x), y).backward()
            opt.step()
    for p in attacked.parameters():
        p.requires_grad_(True)
    return attacked


def relearn_head(layer: nn.Linear, features: torch.Tensor, y: torch.Tensor, classes: list[int], steps: int, lr: float, momentum: float = 0.9, reset_row: bool = True, seed: int = 0) -> nn.Linear:
    """The head-only attack on precomputed classifier inputs (identical to ``relearn(..., 'head')`` with the body in eval mode)."""
    head = copy.deepcopy(layer)
    if reset_row:
        reset_class_row(head, classes, seed)
    features, y = features.to(head.weight), y.to(head.weight.device)
    opt = torch.optim.SGD(head.parameters(), lr=lr, momentum=momentum)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(head(features), y).backward()
            opt.step()
    return head


@METRICS.register("relearn")
@dataclass
class Relearn:
    """Target test accuracy (%) after fine-tuning on k examples per class, head only and whole model; oracles beside."""

    ks: list[int] = hp(default_factory=lambda: [1, 5, 10], doc="examples per class the attacker fine-tunes on")
    steps: int = hp(30, low=1, high=10_000, doc="full-batch SGD steps of the attack")
    lr_head: float = hp(0.05, low=0.0, low_open=True, doc="learning rate of the head-only attack")
    lr_full: float = hp(0.02, low=0.0, low_open=True, doc="learning rate of the whole-model attack")
    steps_full: int | None = hp(10, low=1, high=10_000, doc="steps of the whole-model attack; None = steps (each step back-propagates through the whole model)")
    momentum: float = hp(0.9, low=0.0, high=1.0, high_open=True, doc="SGD momentum of the attack")
    reset_row: bool = hp(True, doc="re-initialise the target row and bias first (undoes any output-layer suppression)")
    variants: list[str] = hp(default_factory=lambda: ["head", "full"], doc="head: only the classifier trains; full: every parameter")
    max_eval: int = hp(500, low=1, doc="target test images the attacked model is scored on (a seeded subsample when there are more)")
    repeats: int = hp(
        5,
        low=1,
        high=100,
        doc="independent draws of the k examples (and attack seeds) averaged; > 1 also reports relearn_k*_*_std (std over draws), which the verdict uses. One draw is noisy at small k (an oracle's k=5 score ranged 50-89 over 5 draws)",
    )
    needs = frozenset({"train_set", "test_set", "split", "oracles", "forget_classes"})

    def __post_init__(self) -> None:
        if not self.ks or any(int(k) < 1 for k in self.ks):
            raise ConfigError(f"relearn.ks must be positive example counts, got {self.ks!r}.")
        bad = [v for v in self.variants if v not in ("head", "full")]
        if bad:
            raise ConfigError(f"relearn.variants: {bad} unknown; choose from ['head', 'full'].")

    def key(self) -> tuple:
        return ("relearn", tuple(self.ks), self.steps, self.steps_full, self.lr_head, self.lr_full, self.momentum, self.reset_row, tuple(self.variants), self.max_eval, self.repeats)

    def values(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        def compute() -> dict[str, float]:
            classes = forget_classes(ctx)
            p = model_pass(model, ctx)
            rows = np.arange(len(p.target_test_rows))
            if len(rows) > self.max_eval:
                rows = np.sort(np.random.default_rng(ctx.seed).choice(rows, self.max_eval, replace=False))
            target = torch.as_tensor(np.asarray(ctx.split.test, dtype=np.int64)[p.target_test_rows[rows]])
            x_t, y_t = ctx.test_set.inputs[target], ctx.test_set.targets[target]
            draws: dict[str, list[float]] = {}
            for k in self.ks:
                for r in range(self.repeats):  # draw 0 is the single-draw attack (same examples and seed as repeats=1)
                    seed = Seeds.relearn_draw(ctx.seed, int(k), r)
                    idx = relearn_examples(ctx, int(k), seed)
                    x, y = ctx.train_set.inputs[torch.as_tensor(idx)], ctx.train_set.targets[torch.as_tensor(idx)]
                    attack_seed = Seeds.relearn_attack(ctx.seed, r)
                    for variant in self.variants:
                        if variant == "head":  # the body is frozen (eval mode): train a copy of the classifier on cached features
                            features = torch.as_tensor(p.pool_features["penultimate"][np.searchsorted(p.pool, idx)])
                            head = relearn_head(classifier_layer(model)[1], features, y, classes, self.steps, self.lr_head, self.momentum, self.reset_row, attack_seed)
                            with torch.no_grad():
                                pred = head(torch.as_tensor(p.target_test_features["penultimate"][rows]).to(head.weight)).argmax(1).cpu()
                        else:
                            attacked = relearn(model, x, y, classes, variant, self.steps_full or self.steps, self.lr_full, self.momentum, self.reset_row, attack_seed)
                            with torch.no_grad(), eval_mode(attacked):
                                pred = attacked(x_t.to(ctx.device)).argmax(1).cpu()
                        accuracy = float((pred == y_t).float().mean()) * PERCENT if len(y_t) else float("nan")
                        draws.setdefault(f"relearn_k{k}_{variant}", []).append(accuracy)
            out = {key: float(np.mean(values)) for key, values in draws.items()} | {"relearn_draws": float(self.repeats)}
            if self.repeats > 1:
                out |= {f"{key}_std": float(np.std(values, ddof=1)) for key, values in draws.items()}
            return out

        return _per_model(ctx, model, self.key(), compute)

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        ctx.memo.setdefault(CONFIGURED_RELEARN, self)  # the verdict reads the run's configured attack (ClassVerdict.attacks)
        return self.values(model, ctx) | _reference(ctx, self.key(), lambda o: self.values(o, ctx))


# ---- distance to the oracle and verdict ---------------------------------------------------------
@METRICS.register("class_verdict")
@dataclass
class ClassVerdict:
    """|metric - oracle mean| for every class metric, the decisive bands, the gap closed, and a verdict (``verdicts.judge_class``)."""

    max_target_acc: float = hp(10.0, low=0.0, high=100.0, doc="above this target test accuracy (%) the class counts as not removed")
    loo_factor: float = hp(3.0, low=0.0, doc="band = at least this many times the oracles' RMS leave-one-out distance")
    z: float = hp(3.0, low=0.0, doc="band = at least this many sampling errors (relearn draws, binomial over the images scored)")
    min_band: float = hp(2.0, low=0.0, doc="band = at least this many points")
    decisive: list[str] = hp(default_factory=lambda: list(ClassRule().decisive), doc="the columns that must lie within the band for removed (relearn_k<k>_<head|full>, probe_<layer>)")
    needs = frozenset({"train_set", "test_set", "split", "original", "oracles", "forget_classes"})
    relearn_metric: Relearn = field(default_factory=Relearn, init=False, repr=False)
    probe_metric: FeatureProbe = field(default_factory=FeatureProbe, init=False, repr=False)

    def rule(self) -> ClassRule:
        return ClassRule(max_target_acc=self.max_target_acc, decisive=tuple(self.decisive), loo_factor=self.loo_factor, z=self.z, min_band=self.min_band)

    def attacks(self, ctx: EvalContext) -> tuple[Relearn, FeatureProbe]:
        """The relearn attack and probe this verdict reads: the run's configured ones when it evaluated them first, else its own.

        A configured attack is used only if it measures every decisive relearn column (e.g. k=5, head only).
        """
        configured: Relearn | None = ctx.memo.get(CONFIGURED_RELEARN)
        needed = {c for c in self.rule().decisive if c.startswith("relearn_")}
        relearn_metric = configured if configured is not None and needed <= {f"relearn_k{k}_{v}" for k in configured.ks for v in configured.variants} else self.relearn_metric
        return relearn_metric, ctx.memo.get(CONFIGURED_PROBE, self.probe_metric)

    def values(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        """The measured columns of ``model`` the verdict reads (cached per model object)."""
        relearn_metric, probe_metric = self.attacks(ctx)
        values = _per_model(ctx, model, "accuracy", lambda: class_accuracy(model, ctx))
        values = values | ClassMIA()(model, ctx)
        return values | probe_metric.values(model, ctx) | relearn_metric.values(model, ctx)

    def _key(self, ctx: EvalContext) -> str:
        relearn_metric, probe_metric = self.attacks(ctx)
        return f"class_forgetting:verdict_rows:{relearn_metric.key()}:{probe_metric.key()}"

    def oracle_rows(self, ctx: EvalContext) -> list[dict[str, float]]:
        """Each oracle's measured columns, once per context."""
        return ctx.memoized(self._key(ctx), lambda: [self.values(o, ctx) for o in ctx.oracles])

    def __call__(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        if ctx.original is None:
            raise ConfigError("class_verdict needs the original model (gap closed); run it through a task that trains one.")
        reference = ctx.original
        original = ctx.memoized(f"{self._key(ctx)}:original", lambda: self.values(reference, ctx))
        return judge_class(self.values(model, ctx), self.oracle_rows(ctx), self.rule(), original)


register_set("class", ["class_accuracy", "class_mia", "feature_probe", "relearn", "class_verdict"])

__all__ = [
    "VERDICTS",
    "ClassAccuracy",
    "ClassMIA",
    "ClassVerdict",
    "FeatureProbe",
    "ProbePoint",
    "Relearn",
    "TransferAttack",
    "class_accuracy",
    "finite_losses",
    "fit_transfer_attack",
    "layer_features",
    "loss_attack_advantage",
    "probe_accuracy",
    "probe_layers",
    "relearn",
    "relearn_examples",
    "relearn_head",
    "reset_class_row",
    "verdict_name",
]
