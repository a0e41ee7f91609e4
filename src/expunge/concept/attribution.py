"""Which concepts drive a class, and which class should receive it (the donor).

Integrated gradients (captum) from the class logit of the concept bottleneck to its concept
scores, zero baseline, averaged over the class's images. Completeness (attributions sum to
logit(x) - logit(baseline)) is checked and reported. With a linear head, IG is exact and equals
``W[c, k] * m_k(x)`` (the spec's open point (i)); the tests check the two agree.

A class's top-M concepts are ranked by mean attribution among the concepts the class
*expresses* (mean margin > 0 on its images): with a zero baseline, an absent concept (negative
margin) with a negative weight also earns a positive attribution, and "the class is not a
circle" is not a concept to poison. ``present_only=False`` ranks all concepts. The trivial
ranking the method must beat, the mean margin alone (no CBM, no IG), is ``margin_attribution``;
``precision_at_true`` scores a ranking at M = the class's number of true concepts.

Donor: ``shared`` (default) picks the class whose own top-M shares most concepts with the
target's (ties: the larger summed attribution of the shared concepts, then the class the model
confuses most with the target); ``confusion`` picks the class with the largest mean softmax
probability on the target's images. A curated donor (an int) is used as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from .cbm import PosthocCBM


def integrated_gradients(cbm: PosthocCBM, margins: torch.Tensor, target: int, n_steps: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """IG of logit ``target`` w.r.t. the concept scores, zero baseline: (attributions (n, K), completeness delta (n,))."""
    from captum.attr import IntegratedGradients

    head = cbm.head
    ig = IntegratedGradients(head)
    x = margins.detach().float()
    attr, delta = ig.attribute(x, baselines=torch.zeros_like(x), target=int(target), n_steps=n_steps, return_convergence_delta=True)
    return attr.detach(), delta.detach()


def linear_attribution(cbm: PosthocCBM, margins: torch.Tensor, target: int) -> torch.Tensor:
    """``W[target, k] * m_k(x)``: IG's closed form for a linear head and a zero baseline."""
    return cbm.head.weight[int(target)].detach() * margins.detach()


@dataclass
class ClassAttribution:
    cls: int
    scores: np.ndarray  # (K,) mean attribution over the class's images
    mean_margin: np.ndarray  # (K,) mean concept margin over the class's images
    completeness_error: float  # max |sum(attr) - (logit(x) - logit(0))| over the images
    n_images: int

    def ranking(self, names: list[str], present_only: bool = True) -> list[str]:
        """Every concept by descending score (only those with mean margin > 0 when ``present_only``)."""
        order = np.argsort(-self.scores, kind="stable")
        if present_only:
            order = [k for k in order if self.mean_margin[k] > 0]
        return [names[k] for k in order]

    def top(self, names: list[str], m: int = 5, present_only: bool = True) -> list[str]:
        return self.ranking(names, present_only)[:m]


def class_attribution(cbm: PosthocCBM, margins: torch.Tensor, cls: int, n_steps: int = 32) -> ClassAttribution:
    if len(margins) == 0:
        raise ConfigError(f"class {cls} has no images to attribute; it is absent from the data.")
    attr, delta = integrated_gradients(cbm, margins, cls, n_steps)
    return ClassAttribution(int(cls), attr.mean(0).numpy(), margins.mean(0).numpy(), float(delta.abs().max()), len(margins))


def margin_attribution(margins: torch.Tensor, cls: int) -> ClassAttribution:
    """The trivial ranking (ablation ``ranking=margin``): a concept's score is its mean margin on the class's images; no CBM, no IG."""
    if len(margins) == 0:
        raise ConfigError(f"class {cls} has no images to rank concepts on; it is absent from the data.")
    mean = margins.mean(0).numpy()
    return ClassAttribution(int(cls), mean.copy(), mean, float("nan"), len(margins))


def precision_at_m(predicted: list[str], true: list[str], m: int) -> float:
    """|top-M ∩ true| / M."""
    return len(set(predicted[:m]) & set(true)) / float(m)


def precision_at_true(ranking: list[str], true: list[str]) -> float:
    """precision@M with M = the class's number of true concepts: |top-|true| ∩ true| / |true| (1.0 only if the first M are exactly the true ones)."""
    if not true:
        raise ConfigError("precision_at_true needs at least one true concept for the class.")
    return precision_at_m(ranking, true, len(true))


DONOR_MODES = ("auto", "shared", "confusion")


def choose_donor(
    target: int, tops: dict[int, list[str]], attributions: dict[int, ClassAttribution] | None = None, names: list[str] | None = None, mode: str = "shared", confusion: np.ndarray | None = None
) -> int:
    """The donor class for ``target`` (see module doc). ``confusion[c]``: the model's mean probability of class c on target images."""
    others = [c for c in tops if c != target]
    if not others:
        raise ConfigError(f"no donor candidates: no class other than {target} is present.")
    if mode == "confusion":
        if confusion is None:
            raise ConfigError("donor=confusion needs the model's probabilities on the target images.")
        return int(max(others, key=lambda c: (confusion[c], -c)))
    if mode not in ("auto", "shared"):
        raise ConfigError(f"donor mode {mode!r} unknown; choose one of {list(DONOR_MODES)} or a class index.")
    own = set(tops[target])

    def key(c: int) -> tuple[float, float, float, int]:
        shared = own & set(tops[c])
        weight = 0.0
        if attributions is not None and names is not None:
            weight = float(sum(attributions[target].scores[names.index(n)] for n in shared))
        return (len(shared), weight, float(confusion[c]) if confusion is not None else 0.0, -c)

    return int(max(others, key=key))
