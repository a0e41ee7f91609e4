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
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..masks import Mask
from .localizer import NeuronRanking, rank_neurons, ranking_summary
from .perturb import PERTURBATIONS, perturb
from .select import KpRule, Selection, auto_kp, fixed_kp


@dataclass
class ZeroShotConfig:
    """Settings of the zero-shot unlearner; ``k_p="auto"`` applies ``KpRule``."""

    layer: str | None = None  # analysed layer; None = the last linear layer (the paper's choice)
    rule: str = "epsilon"
    epsilon: float = 0.1
    alpha: float = 2.0
    beta: float = 1.0
    bn: str = "fold"
    k_a: int | None = None  # per-image top neurons; None = 10% of the layer's neurons
    k_p: int | str = "auto"
    perturbation: str = "cut"  # cut | gaussian | laplace
    scale: float = 1.0  # noise std (gaussian) or scale b (laplace)
    out_scope: str = "target"  # target | all | none: which outgoing weights are perturbed
    cut_in: bool = True  # also perturb the incoming rows (the paper's MNIST path); False = outgoing only
    cut_bias: bool = False
    max_target_rate: float = 0.0
    max_other_drop: float = 0.0
    max_target_confidence: float | None = None  # None = chance level (1 / classes)
    max_k: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.perturbation not in PERTURBATIONS:
            raise ConfigError(f"perturbation {self.perturbation!r} unknown; choose one of {sorted(PERTURBATIONS)}.")
        if not (self.k_p == "auto" or (isinstance(self.k_p, int) and self.k_p >= 0)):
            raise ConfigError(f"k_p must be a non-negative integer or 'auto', got {self.k_p!r}.")

    def kp_rule(self) -> KpRule:
        return KpRule(self.max_target_rate, self.max_other_drop, self.max_target_confidence, self.max_k)


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

    def summary(self) -> dict[str, Any]:
        return {
            "k_p": self.selection.k_p, "k_a": self.ranking.k_a, "selection_met": self.selection.met, "selection_reason": self.selection.reason,
            "neurons": self.neurons, "top_neurons": ranking_summary(self.ranking), "layer": self.ranking.path.layer,
            "num_neurons": self.ranking.path.num_neurons, "perturbed_entries": self.mask.num_selected(), "path_notes": self.ranking.path.notes,
            "seconds": self.seconds, "timings": self.timings, "analysis_images": self.ranking.num_images, "config": self.config,
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
                    f"the analysis loader yields labels other than class {target_class}; zero-shot unlearning must only see "
                    "unseen images of the class to forget (was a training loader passed?)."
                )
            parts.append(batch[0])
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
    if other_images is not None:
        if len(other_images) != 2 or bool((other_images[1] == target_class).any()):
            raise DataError("other_images must be (images, labels) of classes other than the target.")
        other_images = (other_images[0].to(device), other_images[1])
    model = model if inplace else copy.deepcopy(model)
    was_training = model.training
    model.eval()
    ranking = rank_neurons(model, x, config.layer, config.k_a, config.rule, config.epsilon, config.alpha, config.beta, config.bn)
    t_rank = time.perf_counter()
    kwargs = dict(perturbation=config.perturbation, scale=config.scale, seed=config.seed, out_scope=config.out_scope, cut_bias=config.cut_bias, cut_in=config.cut_in)
    if config.k_p == "auto":
        selection = auto_kp(model, ranking.path, ranking.order, target_class, x, other_images, config.kp_rule(), bn=config.bn, **kwargs)  # type: ignore[arg-type]
    else:
        selection = fixed_kp(ranking.order, int(config.k_p))
    t_select = time.perf_counter()
    neurons = ranking.order[: selection.k_p]
    mask = ranking.path.mask(model, neurons, target_class, config.out_scope, config.cut_in, config.cut_bias)
    perturb(model, mask, config.perturbation, config.scale, config.seed)
    model.train(was_training)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    end = time.perf_counter()
    timings = {"rank": t_rank - start, "select": t_select - t_rank, "perturb": end - t_select}
    return ZeroShotResult(model, neurons, ranking, selection, mask, end - start, timings, asdict(config))
