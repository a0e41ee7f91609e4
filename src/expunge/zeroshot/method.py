"""Zero-shot class unlearning (LRA-NPP, arXiv 2410.23693): rank neurons by LRP, perturb their paths.

Zero-shot means the unlearner never reads the training set. That is enforced by the
signature: ``zero_shot_unlearn`` receives the model, the class, a tensor (or loader) of a
few *unseen* images of that class and, optionally, a few unseen images of other classes
for the automatic K_p rule. It rejects datasets and bundles, and rejects loaders whose
labels are not all the target class (a sign that a training loader was passed by mistake).
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..masks import Mask
from ..utils import eval_mode
from .localizer import NeuronRanking, check_tie_break, rank_neurons, ranking_summary
from .perturb import OUT_SCOPES, PERTURBATIONS, perturb
from .select import KpRule, Selection, auto_kp, fixed_kp


@dataclass
class ZeroShotConfig:
    """Settings of the zero-shot unlearner; ``k_p="auto"`` applies ``KpRule``.

    The defaults are expunge's: cut only the target-class weights out of the selected neurons
    (``cut_in=False``), with K_p the smallest count that takes *every* analysis image below chance
    confidence. ``PAPER_CONFIG`` is the authors' MNIST path (rows into the neurons cut as well,
    fixed K_a / K_p at their MNIST ratios 50/512 and 80/512 of the analysed neurons).
    """

    layer: str | None = None  # analysed layer; None = the last linear layer (the paper's choice)
    rule: str = "epsilon"
    epsilon: float = 0.1
    alpha: float = 2.0
    beta: float = 1.0
    bn: str = "fold"
    k_a: int | None = None  # per-image top neurons; None = 10% of the layer's neurons
    k_p: int | float | str = "auto"  # "auto" (KpRule), a count, or a fraction in (0, 1) of the analysed neurons
    perturbation: str = "cut"  # cut | gaussian | laplace
    scale: float = 1.0  # noise std (gaussian) or scale b (laplace)
    out_scope: str = "auto"  # target | all | none: which outgoing weights are perturbed; auto = target when the analysed layer is the classifier, else all
    cut_in: bool = False  # True: also cut the rows producing the neurons (the paper's MNIST path; hurts other classes)
    cut_bias: bool = False
    max_target_rate: float = 0.0
    max_other_drop: float = 0.0
    max_target_confidence: float | None = None  # None = chance level (1 / classes)
    confidence: str = "max"  # the rule bounds the max (every analysis image) or the mean target confidence
    max_k: int | None = None
    escalate: bool = True  # with k_p="auto": move to a more invasive path (PATH_LADDER) when this one cannot remove the class
    tie_break: str = "first-occurrence"  # equal vote counts: the authors' first occurrence, or "relevance-sum" (localizer.TIE_BREAKS)
    voted_only: bool = False  # a fixed K_p takes only neurons some image voted for (the authors' most_common(); set by the recipe path)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.out_scope not in ("auto", *OUT_SCOPES):
            raise ConfigError(f"out_scope {self.out_scope!r} unknown; choose one of {('auto', *OUT_SCOPES)}.")
        if self.perturbation not in PERTURBATIONS:
            raise ConfigError(f"perturbation {self.perturbation!r} unknown; choose one of {sorted(PERTURBATIONS)}.")
        valid_count = isinstance(self.k_p, int) and not isinstance(self.k_p, bool) and self.k_p >= 0
        valid_fraction = isinstance(self.k_p, float) and 0.0 < self.k_p < 1.0
        if not (self.k_p == "auto" or valid_count or valid_fraction):
            raise ConfigError(f"k_p must be 'auto', a non-negative integer or a fraction in (0, 1) of the analysed neurons, got {self.k_p!r}.")
        check_tie_break(self.tie_break)

    def fixed_k_p(self, num_neurons: int) -> int:
        """The fixed K_p for a layer of ``num_neurons`` (a fraction is rounded, at least 1)."""
        if isinstance(self.k_p, float):
            return max(1, round(self.k_p * num_neurons))
        return int(self.k_p)  # type: ignore[arg-type]

    def kp_rule(self) -> KpRule:
        return KpRule(max_target_rate=self.max_target_rate, max_other_drop=self.max_other_drop, max_target_confidence=self.max_target_confidence, max_k=self.max_k, confidence=self.confidence)


MIN_RELIABLE_ANALYSIS_IMAGES = 16  # measured (benchmarks/results/zero_shot_analysis_size_study.json, docs/benchmarks.md#zero-shot-size)
# % of the class's training images still recognised (mean, std over 30 runs) by analysis-set size, from that study;
# tests/zeroshot check these against the stored JSON, so the warnings cannot drift from the table.
MEASURED_CLASS_LEFT = {4: (5.6, 18.0), 8: (1.7, 3.7), 16: (0.11, 0.24)}


def measured_risk() -> str:
    """The analysis-size table's numbers, for the too-few-images warnings (the method's and the unlearner's)."""
    sizes = "; ".join(f"{n} images: {m:g} ± {sd:g}" for n, (m, sd) in MEASURED_CLASS_LEFT.items())
    return f"% of the class left on its training images, mean ± std over 30 runs: {sizes}; docs/benchmarks.md#zero-shot-size"


PAPER_CONFIG = ZeroShotConfig(cut_in=True, k_a=None, k_p=80 / 512)  # authors' MNIST setting: K_a 50, K_p 80 of 512 neurons


@dataclass
class ZeroShotResult:
    model: nn.Module
    neurons: list[int]
    ranking: NeuronRanking
    selection: Selection
    mask: Mask  # exactly the entries that were perturbed
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    path: str = "target-row"  # which weights were edited (see PATH_LADDER)

    def summary(self) -> dict[str, Any]:
        return {
            "k_p": self.selection.k_p,
            "k_a": self.ranking.k_a,
            "selection_met": self.selection.met,
            "selection_reason": self.selection.reason,
            "neurons": self.neurons,
            "top_neurons": ranking_summary(self.ranking),
            "layer": self.ranking.path.layer,
            "num_neurons": self.ranking.path.num_neurons,
            "perturbed_entries": self.mask.num_selected(),
            "path_notes": self.ranking.path.notes,
            "seconds": self.seconds,
            "timings": self.timings,
            "analysis_images": self.ranking.num_images,
            "config": self.config,
            "path": self.path,
        }


def _analysis_tensor(images: torch.Tensor | Iterable, target_class: int) -> torch.Tensor:
    """Collect the analysis images, refusing anything that looks like a training set."""
    from ..data.base import DatasetBundle, IndexedTensorDataset

    if isinstance(images, (DatasetBundle, IndexedTensorDataset, torch.utils.data.Dataset)):
        raise DataError(
            "zero-shot unlearning takes only a few unseen images of the class (a tensor or a loader of them), "
            f"not a dataset ({type(images).__name__}); pass e.g. test-split images of class {target_class}."
        )
    if torch.is_tensor(images):
        return images
    parts = []
    for batch in images:
        if isinstance(batch, (tuple, list)):
            if len(batch) > 1 and torch.is_tensor(batch[1]) and bool((batch[1] != target_class).any()):
                raise DataError(
                    f"the analysis loader yields labels other than class {target_class}; zero-shot unlearning must only see unseen images of the class to forget (was a training loader passed?)."
                )
            parts.append(batch[0])  # pyright: ignore[reportGeneralTypeIssues]
        else:
            parts.append(batch)
    if not parts:
        raise DataError("the analysis loader is empty; pass a few unseen images of the class to forget.")
    return torch.cat(parts)


def zero_shot_unlearn(
    model: nn.Module,
    target_class: int,
    analysis_images: torch.Tensor | Iterable,
    other_images: tuple[torch.Tensor, torch.Tensor] | None = None,
    config: ZeroShotConfig | None = None,
    inplace: bool = False,
) -> ZeroShotResult:
    """Forget ``target_class`` from the analysis images alone; returns the edited model and what was done."""
    config = config or ZeroShotConfig()
    start = time.perf_counter()
    device = next(model.parameters()).device
    x = _analysis_tensor(analysis_images, target_class).to(device)
    if len(x) < MIN_RELIABLE_ANALYSIS_IMAGES:
        warnings.warn(
            f"only {len(x)} analysis images: with fewer than {MIN_RELIABLE_ANALYSIS_IMAGES}, the K_p rule is met on them but the class often "
            f"survives on the training set ({measured_risk()}); pass more unseen images of the class.",
            stacklevel=2,
        )
    if other_images is not None:
        if len(other_images) != 2 or bool((other_images[1] == target_class).any()):
            raise DataError("other_images must be (images, labels) of classes other than the target.")
        other_images = (other_images[0].to(device), other_images[1])
    model = model if inplace else copy.deepcopy(model)
    with eval_mode(model):
        ranking = rank_neurons(model, x, config.layer, config.k_a, config.rule, config.epsilon, config.alpha, config.beta, config.bn, tie_break=config.tie_break)
        t_rank = time.perf_counter()
        if config.out_scope == "auto":
            config = replace(config, out_scope="target" if ranking.path.out_is_classifier else "all")
        path_name = path_label(config.out_scope, config.cut_in)
        if config.k_p == "auto":
            selection, config = _select_with_escalation(model, ranking, target_class, x, other_images, config)
            path_name = path_label(config.out_scope, config.cut_in)
        else:
            selection = fixed_kp(ranking.voted if config.voted_only else ranking.order, config.fixed_k_p(ranking.path.num_neurons))
        t_select = time.perf_counter()
        neurons = ranking.order[: selection.k_p]
        mask = ranking.path.mask(model, neurons, target_class, config.out_scope, config.cut_in, config.cut_bias)
        perturb(model, mask, config.perturbation, config.scale, config.seed)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    end = time.perf_counter()
    timings = {"rank": t_rank - start, "select": t_select - t_rank, "perturb": end - t_select}
    return ZeroShotResult(model, neurons, ranking, selection, mask, end - start, timings, asdict(config), path_name)


# Paths from least to most invasive: (label, out_scope, cut_in). Escalation moves right only when
# the rule cannot even stop the analysis images being predicted as the class on the current path,
# which happens when a model recognises the class mainly by negative evidence for the others.
PATH_LADDER: tuple[tuple[str, str, bool], ...] = (
    ("target-row", "target", False),  # zero W[c, n]: only the target logit changes
    ("all-columns", "all", False),  # zero W[:, n]: the neurons no longer reach any class
    ("in+out", "target", True),  # zero the rows producing the neurons and W[c, n] (the authors' MNIST path)
)


def path_label(out_scope: str, cut_in: bool) -> str:
    for label, scope, rows in PATH_LADDER:
        if (scope, rows) == (out_scope, cut_in):
            return label
    return f"out={out_scope},in={cut_in}"


def _chosen_row(selection: Selection) -> dict[str, float]:
    """The trace row of the chosen K (a fixed or empty selection has none: count it as not removed)."""
    return next((r for r in selection.trace if r["k"] == selection.k_p), {"target_rate": 1.0, "target_confidence": 1.0})


def _removes_target(selection: Selection, rule: KpRule) -> bool:
    return selection.met or _chosen_row(selection)["target_rate"] <= rule.max_target_rate + 1e-12


def _select_with_escalation(
    model: nn.Module, ranking: NeuronRanking, target_class: int, x: torch.Tensor, other: tuple[torch.Tensor, torch.Tensor] | None, config: ZeroShotConfig
) -> tuple[Selection, ZeroShotConfig]:
    """Auto K_p on the configured path, then (if ``escalate``) on more invasive paths until the target is removed."""
    rule = config.kp_rule()
    labels = [label for label, _, _ in PATH_LADDER]
    current = path_label(config.out_scope, config.cut_in)
    rungs = [(config.out_scope, config.cut_in)]
    if config.escalate and current in labels:
        rungs += [(scope, rows) for _, scope, rows in PATH_LADDER[labels.index(current) + 1 :] if scope != "target" or ranking.path.out_is_classifier]
    tried: list[tuple[Selection, ZeroShotConfig]] = []
    for scope, rows in rungs:
        candidate = replace(config, out_scope=scope, cut_in=rows)
        selection = auto_kp(
            model,
            ranking.path,
            ranking.order,
            target_class,
            x,
            other,
            rule,
            perturbation=candidate.perturbation,
            scale=candidate.scale,
            seed=candidate.seed,
            out_scope=scope,
            cut_bias=candidate.cut_bias,
            bn=candidate.bn,
            cut_in=rows,
        )
        tried.append((selection, candidate))
        if _removes_target(selection, rule):
            break
    if _removes_target(tried[-1][0], rule):
        selection, chosen = tried[-1]
    else:  # no path removes it: keep the one that got the class furthest down
        selection, chosen = min(tried, key=lambda t: (_chosen_row(t[0])["target_rate"], _chosen_row(t[0])["target_confidence"]))
    if len(tried) > 1:
        others = ", ".join(path_label(c.out_scope, c.cut_in) for _, c in tried if c is not chosen)
        selection.reason += f" (path {path_label(chosen.out_scope, chosen.cut_in)} after trying {others})"
    return selection, chosen
