"""How many neurons to perturb: fixed K_p, or the smallest K_p that meets a rule on unseen images.

The paper tunes (K_a, K_p) per dataset (MNIST 50/80, CIFAR-10 200/400, ...); those constants
do not transfer to another model. ``auto_kp`` instead scans K = 1, 2, ... over the ranking and
returns the smallest K whose perturbation
(a) leaves at most ``max_target_rate`` of the analysis images classified as the target class,
    with their target-class softmax confidence at most ``max_target_confidence`` (default:
    chance, 1/classes) for *every* image (``confidence="max"``, the default) or on average
    (``"mean"``). The margin matters: the analysis images are unseen, so the model is less sure
    of them than of the memorised training images, and stopping at the first K that merely flips
    them leaves a few percent of the class recognised on the training split; and
(b) lowers the accuracy on a few unseen other-class images by at most ``max_other_drop``
    (skipped when none are given).
If no K meets the rule, it takes the K with the lowest confidence among those that keep the
other-class accuracy, and says so (``Selection.met`` is False).

Cost: when only the analysed layer's outgoing weights are cut (``cut_in=False``) and that layer
is the classifier, the logits for every K follow in closed form from one forward pass (the
logit change is a cumulative sum of per-neuron contributions); otherwise each step re-runs
only the layers after the edited ones on cached activations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..cost import count
from ..errors import ConfigError
from ..utils import eval_mode
from .graph import AffineStage, LRPGraph, ResidualStage, record, run
from .perturb import NeuronPath, perturb

CONFIDENCE_STATISTICS: dict[str, Callable[[torch.Tensor], float]] = {
    "max": lambda p: float(p.max()) if len(p) else 0.0,
    "mean": lambda p: float(p.mean()) if len(p) else 0.0,
}


@dataclass
class KpRule:
    """The automatic K_p rule (fractions in [0, 1])."""

    max_target_rate: float = 0.0
    max_other_drop: float = 0.0
    max_target_confidence: float | None = None  # None = chance level, 1 / number of classes
    max_k: int | None = None
    confidence: str = "max"  # statistic of the analysis images' target confidence: max | mean

    def __post_init__(self) -> None:
        for key in ("max_target_rate", "max_other_drop", "max_target_confidence"):
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"KpRule.{key} is a fraction in [0, 1], got {value}.")
        if self.confidence not in CONFIDENCE_STATISTICS:
            raise ConfigError(f"KpRule.confidence {self.confidence!r} unknown; choose one of {sorted(CONFIDENCE_STATISTICS)}.")
        if self.max_k is not None and self.max_k < 1:
            raise ConfigError(f"KpRule.max_k must be >= 1 (or None for every ranked neuron), got {self.max_k}.")


@dataclass
class Selection:
    k_p: int
    met: bool
    reason: str
    rule: dict[str, Any] = field(default_factory=dict)
    trace: list[dict[str, float]] = field(default_factory=list)


def fixed_kp(ranking: Sequence[int], k_p: int) -> Selection:
    if k_p < 0:
        raise ConfigError(f"K_p must be >= 0, got {k_p}.")
    k = min(int(k_p), len(ranking))
    return Selection(k, True, f"fixed K_p={k_p}" + (f" (capped at the {len(ranking)} neurons the images voted for)" if k < k_p else ""))


def default_k_a(num_neurons: int) -> int:
    """10% of the analysed neurons, the ratio of the authors' MNIST/CIFAR settings (50/512, 200/2048)."""
    return max(1, round(0.1 * num_neurons))


class HeadEvaluator:
    """Predictions of the model with cached activations up to the first edited stage."""

    def __init__(self, model: nn.Module, path: NeuronPath, images: torch.Tensor, bn: str = "fold", cut_in: bool = True) -> None:
        self.graph = LRPGraph(model, bn)
        layer = self.graph.index(path.layer)
        edited = [i for i in range(layer) if isinstance(self.graph.stages[i], (AffineStage, ResidualStage))] if cut_in else []
        self.start = edited[-1] if edited else layer
        with torch.no_grad():
            self.cached = record(self.graph.stages[: self.start], images)[-1]

    @torch.no_grad()
    def logits(self) -> torch.Tensor:
        count(len(self.cached), backward=False)  # a head-only forward, counted as a whole one (an upper bound)
        return run(self.graph.stages[self.start :], self.cached)


# ---- logits after cutting the top-K neurons, for K = 1, 2, ... --------------------------
LogitStream = Iterator[tuple[int, torch.Tensor]]


def closed_form_applies(model: nn.Module, path: NeuronPath, perturbation: str, cut_in: bool, out_scope: str, bn: str = "fold") -> bool:
    """True when the edit is a cut of the classifier's input columns only (then logits are a cumulative sum)."""
    if perturbation != "cut" or cut_in or out_scope == "none":
        return False
    graph = LRPGraph(model, bn)
    index = graph.index(path.layer)
    return index == len(graph.stages) - 1 and isinstance(graph.stages[index].module, nn.Linear)  # pyright: ignore[reportAttributeAccessIssue]


@torch.no_grad()
def closed_form_logits(
    model: nn.Module, path: NeuronPath, ranking: Sequence[int], target_class: int, images: torch.Tensor, out_scope: str, max_k: int, bn: str = "fold", chunk_elements: int = 20_000_000
) -> tuple[torch.Tensor, LogitStream]:
    """(logits before any edit, stream of logits with the top-K columns of the classifier zeroed)."""
    graph = LRPGraph(model, bn)
    index = graph.index(path.layer)
    stage = graph.stages[index]
    features = record(graph.stages[:index], images)[-1]
    base = stage.forward(features)
    count(len(images), backward=False)  # one forward; every K's logits follow from it in closed form
    weight, _ = stage.weight_bias()  # BN-folded when a BatchNorm follows, so column edits map exactly onto logits  # pyright: ignore[reportAttributeAccessIssue]
    rows = torch.tensor([target_class]) if out_scope == "target" else torch.arange(weight.shape[0])
    order = torch.as_tensor(list(ranking[:max_k]), dtype=torch.long)
    cols = order[:, None] * path.out_group + torch.arange(path.out_group)[None, :]  # (K, group)
    w = weight[rows.to(weight.device)][:, cols.to(weight.device)]  # (R, K, group)
    contributions = torch.einsum("nkg,rkg->knr", features[:, cols.to(features.device)], w)  # (K, N, R)

    def stream() -> LogitStream:
        chunk = max(1, chunk_elements // max(1, base.numel()))
        running = torch.zeros_like(contributions[0])
        for start in range(0, len(order), chunk):
            cumulative = running + contributions[start : start + chunk].cumsum(0)
            running = cumulative[-1]
            logits = base.unsqueeze(0).repeat(len(cumulative), 1, 1)
            logits[:, :, rows.to(base.device)] -= cumulative
            for offset, step in enumerate(logits):
                yield start + offset + 1, step

    return base, stream()


def scanned_logits(
    model: nn.Module,
    path: NeuronPath,
    ranking: Sequence[int],
    target_class: int,
    images: torch.Tensor,
    max_k: int,
    perturbation: str,
    scale: float,
    seed: int,
    out_scope: str,
    cut_in: bool,
    cut_bias: bool,
    bn: str,
) -> tuple[torch.Tensor, LogitStream]:
    """Edit the model step by step (a cut grows by one neuron per step; noise is redrawn for the whole set)."""
    evaluator = HeadEvaluator(model, path, images, bn, cut_in)
    touched = list(path.entries(ranking[:1], target_class, out_scope, cut_in, cut_bias)) if len(ranking) else []
    params = dict(model.named_parameters())
    saved = {n: params[n].detach().clone() for n in touched}

    def stream() -> LogitStream:
        for k in range(1, max_k + 1):
            if perturbation == "cut":
                path.cut_(model, [ranking[k - 1]], target_class, out_scope, cut_in, cut_bias)
            else:
                with torch.no_grad():
                    for n in touched:
                        params[n].copy_(saved[n])
                perturb(model, path.mask(model, ranking[:k], target_class, out_scope, cut_in, cut_bias), perturbation, scale, seed)
            yield k, evaluator.logits()

    return evaluator.logits(), stream()


# ---- the rule ---------------------------------------------------------------------------
@contextmanager
def restoring(model: nn.Module, names: Iterable[str]) -> Iterator[None]:
    """Put the named parameters back as they were when the block exits."""
    params = dict(model.named_parameters())
    saved = {n: params[n].detach().clone() for n in names}
    try:
        yield
    finally:
        with torch.no_grad():
            for n, value in saved.items():
                params[n].copy_(value)


def auto_kp(
    model: nn.Module,
    path: NeuronPath,
    ranking: Sequence[int],
    target_class: int,
    analysis_images: torch.Tensor,
    other: tuple[torch.Tensor, torch.Tensor] | None = None,
    rule: KpRule | None = None,
    perturbation: str = "cut",
    scale: float = 1.0,
    seed: int = 0,
    out_scope: str = "target",
    cut_bias: bool = False,
    bn: str = "fold",
    cut_in: bool = True,
) -> Selection:
    """Smallest K meeting ``rule`` (see module doc); the model is left exactly as it was."""
    rule = rule or KpRule()
    max_k = min(rule.max_k or len(ranking), len(ranking))
    if max_k == 0:
        return Selection(0, False, "the ranking is empty: there is no neuron to perturb", asdict(rule))
    images = analysis_images if other is None else torch.cat([analysis_images, other[0].to(analysis_images.device)])
    n_a = len(analysis_images)
    other_labels = other[1].cpu() if other is not None else None
    statistic = CONFIDENCE_STATISTICS[rule.confidence]
    touched = path.entries(ranking[:1], target_class, out_scope, cut_in, cut_bias)

    def measure(k: int, logits: torch.Tensor) -> dict[str, float]:
        logits = logits.detach().cpu()
        pred = logits.argmax(dim=1)
        probs = torch.softmax(logits[:n_a].double(), dim=1)[:, target_class]
        other_acc = float((pred[n_a:] == other_labels).float().mean()) if other_labels is not None else float("nan")
        return {"k": k, "target_rate": float((pred[:n_a] == target_class).float().mean()), "target_confidence": statistic(probs), "other_acc": other_acc}

    trace: list[dict[str, float]] = []
    with eval_mode(model), restoring(model, touched):  # mode and weights come back even if a step fails
        if closed_form_applies(model, path, perturbation, cut_in, out_scope, bn):
            base, stream = closed_form_logits(model, path, ranking, target_class, images, out_scope, max_k, bn)
        else:
            base, stream = scanned_logits(model, path, ranking, target_class, images, max_k, perturbation, scale, seed, out_scope, cut_in, cut_bias, bn)
        num_classes = int(base.shape[1])
        max_conf = rule.max_target_confidence if rule.max_target_confidence is not None else 1.0 / num_classes
        other_base = measure(0, base)["other_acc"]

        def target_ok(row: dict[str, float]) -> bool:
            return row["target_rate"] <= rule.max_target_rate + 1e-12 and row["target_confidence"] <= max_conf + 1e-12

        def other_ok(row: dict[str, float]) -> bool:
            return other_labels is None or row["other_acc"] >= other_base - rule.max_other_drop - 1e-12

        for k, logits in stream:
            row = measure(k, logits)
            trace.append(row)
            if target_ok(row) and other_ok(row):
                reason = f"smallest K with target rate <= {rule.max_target_rate}, {rule.confidence} target confidence <= {max_conf:.3g} and other-class drop <= {rule.max_other_drop}"
                return Selection(k, True, reason, asdict(rule), trace)
    keeping = [r for r in trace if other_ok(r)]
    removing = [r for r in trace if target_ok(r)]
    if not keeping and removing:
        return Selection(int(removing[0]["k"]), False, "no K kept the other-class images' accuracy; took the smallest K that removes the target on the analysis images", asdict(rule), trace)
    best = min(keeping or trace, key=lambda r: (r["target_confidence"], r["k"]))
    reason = (
        f"even K={max_k} leaves the target class on more than {rule.max_target_rate:.0%} of the analysis images or above {max_conf:.3g} "
        f"{rule.confidence} confidence; took K={int(best['k'])}, the lowest confidence ({best['target_confidence']:.3g})" + (" that keeps the other-class accuracy" if keeping else "")
    )
    return Selection(int(best["k"]), False, reason, asdict(rule), trace)
