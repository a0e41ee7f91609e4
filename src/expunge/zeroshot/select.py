"""How many neurons to perturb: fixed K_p, or the smallest K_p that meets a rule on unseen images.

The paper tunes (K_a, K_p) per dataset (MNIST 50/80, CIFAR-10 200/400, ...); those constants
do not transfer to another model. ``auto_kp`` instead scans K = 1, 2, ... over the ranking and
returns the smallest K whose perturbation (a) leaves at most ``max_target_rate`` of the
analysis images classified as the target class, with a mean target-class softmax confidence
of at most ``max_target_confidence`` (default: chance, 1/classes; a margin, because the
analysis images are few and stopping at the first K that flips them all leaves a few percent
of the class recognised), and (b) lowers the accuracy on a few unseen
other-class images by at most ``max_other_drop`` (skipped when none are given). Each step only
re-runs the layers after the edited ones on cached activations, so the scan costs a few
forward passes of the model's head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .graph import AffineStage, LRPGraph, ResidualStage, record, run
from .perturb import NeuronPath, perturb


@dataclass
class KpRule:
    """The automatic K_p rule (fractions in [0, 1])."""

    max_target_rate: float = 0.0
    max_other_drop: float = 0.0
    max_target_confidence: float | None = None  # None = chance level, 1 / number of classes
    max_k: int | None = None

    def __post_init__(self) -> None:
        for key in ("max_target_rate", "max_other_drop", "max_target_confidence"):
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"KpRule.{key} is a fraction in [0, 1], got {value}.")


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
    return Selection(k, True, f"fixed K_p={k_p}" + (f" (capped at the {len(ranking)} ranked neurons)" if k < k_p else ""))


def default_k_a(num_neurons: int) -> int:
    """10% of the analysed neurons, the ratio of the authors' MNIST/CIFAR settings (50/512, 200/2048)."""
    return max(1, round(0.1 * num_neurons))


class HeadEvaluator:
    """Predictions of the model with cached activations up to the first edited stage."""

    def __init__(self, model: nn.Module, path: NeuronPath, images: torch.Tensor, bn: str = "fold") -> None:
        self.graph = LRPGraph(model, bn)
        layer = self.graph.index(path.layer)
        edited = [i for i in range(layer) if isinstance(self.graph.stages[i], (AffineStage, ResidualStage))]
        self.start = edited[-1] if edited else layer
        with torch.no_grad():
            self.cached = record(self.graph.stages[: self.start], images)[-1]
            self.num_classes = int(self.logits().shape[1])

    @torch.no_grad()
    def logits(self) -> torch.Tensor:
        return run(self.graph.stages[self.start :], self.cached)


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
    images = analysis_images if other is None else torch.cat([analysis_images, other[0].to(analysis_images.device)])
    n_a = len(analysis_images)
    params = dict(model.named_parameters())
    touched = set(path.in_rows + path.in_vectors + [path.out_weight])
    saved = {n: params[n].detach().clone() for n in touched}
    was_training = model.training
    model.eval()
    evaluator = HeadEvaluator(model, path, images, bn)
    trace: list[dict[str, float]] = []
    first_target_only: int | None = None

    def measure() -> tuple[float, float, float]:
        logits = evaluator.logits().cpu()
        pred = logits.argmax(dim=1)
        target_rate = float((pred[:n_a] == target_class).float().mean())
        confidence = float(torch.softmax(logits[:n_a].double(), dim=1)[:, target_class].mean())
        other_acc = float((pred[n_a:] == other[1].cpu()).float().mean()) if other is not None else float("nan")
        return target_rate, confidence, other_acc

    try:
        _, _, other_base = measure()
        max_conf = rule.max_target_confidence if rule.max_target_confidence is not None else 1.0 / evaluator.num_classes
        for k in range(1, max_k + 1):
            with torch.no_grad():
                for n in touched:
                    params[n].copy_(saved[n])
            perturb(model, path.mask(model, ranking[:k], target_class, out_scope, cut_in, cut_bias), perturbation, scale, seed)
            target_rate, confidence, other_acc = measure()
            trace.append({"k": k, "target_rate": target_rate, "target_confidence": confidence, "other_acc": other_acc})
            target_ok = target_rate <= rule.max_target_rate + 1e-12 and confidence <= max_conf + 1e-12
            other_ok = other is None or other_acc >= other_base - rule.max_other_drop - 1e-12
            if target_ok and first_target_only is None:
                first_target_only = k
            if target_ok and other_ok:
                return Selection(k, True, f"smallest K with target rate <= {rule.max_target_rate}, mean confidence <= {max_conf:.3g} and other-class drop <= {rule.max_other_drop}", asdict(rule), trace)
    finally:
        with torch.no_grad():
            for n in touched:
                params[n].copy_(saved[n])
        model.train(was_training)
    if first_target_only is not None:
        return Selection(first_target_only, False, "no K kept the other-class images' accuracy; took the smallest K that removes the target on the analysis images", asdict(rule), trace)
    return Selection(max_k, False, f"even K={max_k} leaves the target class on more than {rule.max_target_rate:.0%} of the analysis images or above {max_conf:.3g} mean confidence", asdict(rule), trace)
