"""The ``relevance`` localizer: neurons most often among each image's top-K_a LRP relevances.

Per analysis image, relevance of the predicted-class logit is propagated to the input of the
analysed layer and summed per neuron (channel); the K_a neurons with the largest *signed*
relevance are that image's picks (as in the authors' code). Neurons are ranked by how many
images picked them ("neuronal occurrence frequency"); ties are broken by the summed relevance,
so the ranking is deterministic. As a localizer it returns neuron-level ``Scores``: every entry
of the rows producing neuron n (and its bias/BN entries) gets neuron n's score, every other
parameter 0, so a budget mask selects whole neurons and can feed the training-based unlearners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..localize.base import LOCALIZERS
from ..localize.scores import Scores
from ..masks import Mask
from ..train import LossFn
from .lrp import relevance
from .perturb import NeuronPath, neuron_path
from .select import default_k_a


@dataclass
class NeuronRanking:
    """Neurons of the analysed layer's input, most often relevant first."""

    order: list[int]
    counts: torch.Tensor  # images that picked each neuron
    relevance_sum: torch.Tensor  # summed signed relevance per neuron
    k_a: int
    num_images: int
    path: NeuronPath
    first_seen: torch.Tensor | None = None  # position of each neuron's first pick (images in order, picks by rank); inf if never picked
    tie_break: str = "first-occurrence"

    @property
    def voted(self) -> list[int]:
        """The ranked neurons that at least one image picked (the authors' ``most_common()`` lists only these)."""
        return [j for j in self.order if float(self.counts[j]) > 0]


def _first_occurrence_key(counts: torch.Tensor, rel_sum: torch.Tensor, first_seen: torch.Tensor) -> Callable[[int], tuple]:
    # neurons no image picked (first_seen = inf) follow by summed relevance; the authors' code never ranks them
    c, f, r = counts.tolist(), first_seen.tolist(), rel_sum.tolist()
    return lambda j: (-c[j], f[j], -r[j], j)


def _relevance_sum_key(counts: torch.Tensor, rel_sum: torch.Tensor, first_seen: torch.Tensor) -> Callable[[int], tuple]:
    c, r = counts.tolist(), rel_sum.tolist()
    return lambda j: (-c[j], -r[j], j)


# How neurons with equal vote counts are ordered: name -> sort key factory (counts, summed relevance, first pick).
TIE_BREAKS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Callable[[int], tuple]]] = {
    "first-occurrence": _first_occurrence_key,  # the authors' Counter.most_common order
    "relevance-sum": _relevance_sum_key,  # named variant: larger summed relevance first
}


def check_tie_break(tie_break: str) -> str:
    if tie_break not in TIE_BREAKS:
        raise ConfigError(f"tie_break {tie_break!r} unknown; choose one of {sorted(TIE_BREAKS)} ('first-occurrence' is the authors').")
    return tie_break


def vote_order(picks: Sequence[Sequence[int]], num_neurons: int, relevance_sum: torch.Tensor | None = None, tie_break: str = "first-occurrence") -> tuple[list[int], torch.Tensor, torch.Tensor]:
    """(order, counts, first_seen) of per-image picks given in image order, each image's picks most relevant first."""
    check_tie_break(tie_break)
    count = [0] * num_neurons
    first = [float("inf")] * num_neurons
    position = 0
    for row in picks:
        for j in row:
            count[j] += 1
            first[j] = min(first[j], position)
            position += 1
    counts, first_seen = torch.tensor(count, dtype=torch.float32), torch.tensor(first, dtype=torch.float64)
    rel = relevance_sum if relevance_sum is not None else torch.zeros(num_neurons)
    return sorted(range(num_neurons), key=TIE_BREAKS[tie_break](counts, rel, first_seen)), counts, first_seen


def _batches(images: torch.Tensor | Iterable, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        for start in range(0, len(images), batch_size):
            yield images[start : start + batch_size]
        return
    for batch in images:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def rank_neurons(
    model: nn.Module,
    images: torch.Tensor | Iterable,
    layer: str | None = None,
    k_a: int | None = None,
    rule: str = "epsilon",
    epsilon: float = 0.1,
    alpha: float = 2.0,
    beta: float = 1.0,
    bn: str = "fold",
    backend: str = "native",
    batch_size: int = 64,
    tie_break: str = "first-occurrence",
) -> NeuronRanking:
    """Count, over the images, how often each neuron is in an image's top-K_a relevances (ties: ``TIE_BREAKS``)."""
    check_tie_break(tie_break)
    path = neuron_path(model, layer, bn)
    k_a = k_a or default_k_a(path.num_neurons)
    device = next(model.parameters()).device
    rel_sum = torch.zeros(path.num_neurons)
    picks: list[list[int]] = []
    for x in _batches(images, batch_size):
        result = relevance(model, x.to(device), path.layer, rule, epsilon, alpha, beta, bn, backend=backend)
        r = result.neurons.float().cpu()
        # the authors sort each image's relevances descending with Python's stable sort: equal values keep index order
        top = torch.sort(r, dim=1, descending=True, stable=True).indices[:, : min(k_a, r.shape[1])]
        picks += top.tolist()
        rel_sum += r.sum(dim=0)
    if not picks:
        raise DataError("the relevance analysis received no images; pass a few unseen images of the class to forget.")
    order, counts, first_seen = vote_order(picks, path.num_neurons, rel_sum, tie_break)
    return NeuronRanking(order, counts, rel_sum, int(k_a), len(picks), path, first_seen, tie_break)


class NeuronScores(Scores):
    """Scores whose nonzero entries are whole neuron rows; ``neuron_mask(k)`` cuts the top-k paths."""

    def __init__(self, model: nn.Module, ranking: NeuronRanking, metadata: dict[str, str]) -> None:
        num = ranking.path.num_neurons
        neuron_score = torch.zeros(num)
        for position, j in enumerate(ranking.order):
            neuron_score[j] = (num - position) / num  # 1 for the top neuron, 1/num for the last
        values = {}
        producer = set(ranking.path.in_rows + ranking.path.in_vectors)
        for name, p in model.named_parameters():
            v = torch.zeros(p.shape)
            if name in producer:
                v[:] = neuron_score.reshape((-1,) + (1,) * (p.ndim - 1))
            values[name] = v
        super().__init__(values, default_granularity="param", metadata=metadata)
        self.ranking = ranking
        self._model = model

    def neuron_mask(self, k_p: int, target_class: int | None = None, out_scope: str = "none", cut_bias: bool = True) -> Mask:
        """The top-``k_p`` neurons' producing rows (and, with ``out_scope``, their outgoing weights)."""
        mask = self.ranking.path.mask(self._model, self.ranking.order[:k_p], target_class, out_scope, True, cut_bias)
        mask.metadata.update(self.metadata, k_p=str(k_p))
        return mask


class RelevanceLocalizer:
    """LRP relevance localizer (LRA-NPP, arXiv 2410.23693); ``data`` = images of the class to forget."""

    data_source = "forget"
    default_granularity = "param"

    def __init__(
        self,
        layer: str | None = None,
        k_a: int | None = None,
        rule: str = "epsilon",
        epsilon: float = 0.1,
        alpha: float = 2.0,
        beta: float = 1.0,
        bn: str = "fold",
        backend: str = "native",
        tie_break: str = "first-occurrence",
    ) -> None:
        self.options = dict(layer=layer, k_a=k_a, rule=rule, epsilon=epsilon, alpha=alpha, beta=beta, bn=bn, backend=backend, tie_break=check_tie_break(tie_break))

    def fit(self, model: nn.Module, loss_fn: LossFn | None, data: Iterable | torch.Tensor) -> NeuronScores:
        """``loss_fn`` is unused: LRP explains the predicted logit, no loss is needed."""
        ranking = rank_neurons(model, data, **self.options)  # type: ignore[arg-type]
        meta = {k: str(v) for k, v in self.options.items()} | {"localizer": "relevance", "k_a": str(ranking.k_a), "layer": ranking.path.layer}
        return NeuronScores(model, ranking, meta)


@LOCALIZERS.register("relevance", "LRP ε-rule relevance of neurons feeding the last linear layer, top-K_a occurrence ranking (LRA-NPP, arXiv 2410.23693)")
def relevance_localizer(**options: object) -> RelevanceLocalizer:
    return RelevanceLocalizer(**options)  # type: ignore[arg-type]


def ranking_summary(ranking: NeuronRanking, top: int = 10) -> list[dict[str, float]]:
    return [{"neuron": j, "count": float(ranking.counts[j]), "relevance": float(ranking.relevance_sum[j])} for j in ranking.order[:top]]


__all__: Sequence[str] = ["TIE_BREAKS", "NeuronRanking", "NeuronScores", "RelevanceLocalizer", "rank_neurons", "ranking_summary", "vote_order"]
