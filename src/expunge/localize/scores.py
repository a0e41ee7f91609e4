"""Scores: per-parameter importance from one localizer fit, cut into masks at any budget.

Granularity ``param`` ranks single entries; ``channel`` first replaces every entry of a
row (one output channel / neuron of a tensor with ndim > 1, viewed as [C_out, -1]) by the
mean of that row's top-h scores, as DEL does. With the default ``del_code`` rule
h = int(0.1 · C_out), clamped to at least 1 and at most the row length: DEL's code has no
clamp, so a tensor with fewer than 10 output channels (a 4-way classifier) would average
zero entries and give NaN; we use the row's maximum instead. 1-D tensors (biases, norm
scales) keep per-entry scores and compete in the same global ranking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ..errors import ConfigError
from ..masks import Mask

GRANULARITIES = ("param", "channel")
BUDGETS = ("global", "per_layer")


CHANNEL_RULES = ("del_code", "row_fraction", "all")


def top_h_count(rows: int, row_length: int, rule: str) -> int:
    """How many top entries of a row average into its channel score.

    ``del_code`` reproduces DEL's official code: h = int(0.1 * number of output channels)
    (a quirk: it depends on the row count, not the row length). ``row_fraction`` uses 10% of
    the row length, ``all`` the whole row (DEL's ViT rule). Every rule is clamped to
    1 <= h <= row_length: at least one entry per row (DEL's code would take h = 0 and get
    NaN below 10 channels; h = 1 makes the channel score the row's maximum), at most the
    whole row (``del_code`` can ask for more when C_out > 10 · row length).
    """
    rules: dict[str, Callable[[], int]] = {
        "del_code": lambda: int(0.1 * rows),
        "row_fraction": lambda: int(0.1 * row_length),
        "all": lambda: row_length,
    }
    if rule not in rules:
        raise ConfigError(f"channel top-h rule {rule!r} unknown; choose one of {sorted(rules)}.")
    return max(1, min(row_length, rules[rule]()))


def channel_aggregate(score: torch.Tensor, rule: str = "del_code") -> torch.Tensor:
    """Broadcast each row's top-h mean to the whole row; 0-D/1-D tensors are returned unchanged.

    h comes from ``top_h_count`` (clamped to [1, row length]), so every row gets a finite score.
    """
    if score.ndim <= 1:
        return score.clone()
    rows = score.reshape(score.shape[0], -1)
    h = top_h_count(rows.shape[0], rows.shape[1], rule)
    channel = rows.topk(h, dim=1).values.mean(dim=1, keepdim=True)
    return channel.expand_as(rows).reshape(score.shape).clone()


def global_top_k(scores: Mapping[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Select exactly ``k`` entries with the largest scores over all tensors.

    Ties break deterministically: earlier tensors (in parameter order) and lower flat
    indices win, via a stable descending sort.
    """
    names = list(scores)
    flat = torch.cat([scores[n].reshape(-1).float() for n in names])
    if torch.isnan(flat).any():
        raise ConfigError("scores contain NaN; the localizer's gradient diverged (check the model and loss).")
    selected = torch.zeros(flat.numel(), dtype=torch.bool)
    if k > 0:
        order = torch.sort(flat, descending=True, stable=True).indices
        selected[order[:k]] = True
    out, start = {}, 0
    for n in names:
        size = scores[n].numel()
        out[n] = selected[start : start + size].reshape(scores[n].shape)
        start += size
    return out


class Scores:
    """Importance scores (same shapes as the parameters); ``.mask(alpha)`` cuts a budget."""

    def __init__(
        self,
        values: Mapping[str, torch.Tensor],
        default_granularity: str = "param",
        channel_rule: str = "del_code",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.values = {n: v.detach().to("cpu", torch.float32) for n, v in values.items()}
        self.default_granularity = default_granularity
        self.channel_rule = channel_rule
        self.metadata = dict(metadata or {})

    def ranked(self, granularity: str) -> dict[str, torch.Tensor]:
        if granularity not in GRANULARITIES:
            raise ConfigError(f"granularity {granularity!r} unknown; choose one of {GRANULARITIES}.")
        if granularity == "param":
            return self.values
        return {n: channel_aggregate(v, self.channel_rule) for n, v in self.values.items()}

    def mask(self, alpha: float, granularity: str | None = None, budget: str = "global", normalize: bool = False) -> Mask:
        """Keep the top ``alpha`` fraction of entries: exactly floor(alpha * N) with ``budget="global"``.

        ``budget="per_layer"`` takes floor(alpha * n_l) inside every tensor instead, and
        ``normalize=True`` divides each tensor's scores by their mean before a global cut;
        both are variants to measure against DEL's faithful global ranking.
        """
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha (the mask budget) must lie in [0, 1], got {alpha}; 0.3 keeps 30% of the parameters.")
        if budget not in BUDGETS:
            raise ConfigError(f"budget {budget!r} unknown; choose one of {BUDGETS}.")
        granularity = granularity or self.default_granularity
        ranked = self.ranked(granularity)
        if normalize:
            ranked = {n: v / v.mean().clamp_min(1e-30) for n, v in ranked.items()}
        if budget == "global":
            total = sum(v.numel() for v in ranked.values())
            entries = global_top_k(ranked, int(alpha * total))
        else:
            entries = {n: global_top_k({n: v}, int(alpha * v.numel()))[n] for n, v in ranked.items()}
        meta = {**self.metadata, "alpha": str(alpha), "granularity": granularity, "budget": budget, "normalize": str(normalize)}
        return Mask(entries, meta)
