"""CritMem: per forget example, the channels whose removal flips its prediction (Maini et al., ICML 2023, as adapted by DEL).

For each forget example (eval mode, one at a time): compute the gradient of the loss of the
model's *current prediction* (for a correctly classified example, its label), score every
channel, i.e. every row of a parameter tensor with ndim ≥ 2, by ``Σ_row |θ·g|`` (or the mean),
zero the ``channels_per_step`` best rows, and repeat until the prediction changes or
``max_steps_per_example`` steps are spent. The weights are restored before the next example.
The mask is the union of the zeroed rows over examples (flipped or not: an example that needs
more than the cap still marks what it used); each example's record says whether it flipped.

How α interacts: the union is CritMem's natural budget (DEL reports about 16% on ResNet-18).
Union rows rank first, ordered by how many examples used them. With ``fill="none"`` (default)
the mask is the top floor(α·N) of the union and never grows past it, so at large α it holds
fewer than floor(α·N) entries (``CritMemScores.natural_fraction`` says how many). With
``fill="weighted_grad"`` the remaining budget is filled by Σ_examples |θ·g| at the original
weights, so every α gives exactly floor(α·N) entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..cost import count as count_passes
from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from ..train import Batch, LossFn, to_device
from ..utils import eval_mode
from .base import LOCALIZERS, options
from .scores import Scores

# How a row of |θ·g| values becomes one channel score.
CHANNEL_SCORES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sum": lambda rows: rows.sum(dim=1),
    "mean": lambda rows: rows.mean(dim=1),
}
FILLS = ("none", "weighted_grad")


@dataclass
class CritMemRecord:
    """What CritMem did for one forget example."""

    index: int
    prediction: int  # the original model's prediction
    flipped: bool
    steps: int
    channels: list[tuple[str, int]] = field(default_factory=list)  # (parameter name, row) zeroed, in order


class CritMemScores(Scores):
    """Scores whose mask stays inside the union of critical channels unless ``fill`` says otherwise."""

    def __init__(self, values: dict[str, torch.Tensor], union: Mask, records: list[CritMemRecord], fill: str, metadata: dict[str, str]) -> None:
        super().__init__(values, "param", metadata=metadata)
        self.union = union
        self.records = records
        self.fill = fill

    @property
    def natural_fraction(self) -> float:
        return self.union.fraction()

    def mask(self, alpha: float, granularity: str | None = None, budget: str = "global", normalize: bool = False) -> Mask:
        cut = super().mask(alpha, granularity, budget, normalize)
        if self.fill == "weighted_grad":
            return cut
        entries = {n: t & self.union[n] for n, t in cut.entries.items()}
        return Mask(entries, {**cut.metadata, "natural_fraction": f"{self.natural_fraction:.6f}"})


class CritMemLocalizer:
    """Iterative per-example channel removal until the prediction flips; the union is the mask."""

    data_source = "forget"
    default_granularity = "param"

    def __init__(self, channels_per_step: int = 1, max_steps_per_example: int = 50, max_examples: int | None = None, channel_score: str = "sum", fill: str = "none") -> None:
        if channels_per_step < 1 or max_steps_per_example < 1:
            raise ConfigError(f"critmem needs channels_per_step >= 1 and max_steps_per_example >= 1, got {channels_per_step} and {max_steps_per_example}.")
        if channel_score not in CHANNEL_SCORES:
            raise ConfigError(f"critmem channel_score {channel_score!r} unknown; choose one of {sorted(CHANNEL_SCORES)}.")
        if fill not in FILLS:
            raise ConfigError(f"critmem fill {fill!r} unknown; choose one of {FILLS}.")
        self.channels_per_step = int(channels_per_step)
        self.max_steps = int(max_steps_per_example)
        self.max_examples = max_examples
        self.channel_score = CHANNEL_SCORES[channel_score]
        self.fill = fill

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> CritMemScores:
        device = next(model.parameters()).device
        params = dict(model.named_parameters())
        rows = {n: p for n, p in params.items() if p.ndim >= 2}
        usage = {n: torch.zeros(p.shape[0], device=device) for n, p in rows.items()}
        first_step = {n: torch.zeros_like(p) for n, p in params.items()}
        records: list[CritMemRecord] = []
        with eval_mode(model):
            for batch in data:
                x, _, index = to_device(batch, device)
                for i in range(len(x)):
                    if self.max_examples is not None and len(records) >= self.max_examples:
                        break
                    records.append(self._one(model, loss_fn, rows, x[i : i + 1], int(index[i]), first_step))
                    for name, row in records[-1].channels:
                        usage[name][row] += 1
        if not records:
            raise ConfigError("critmem received no forget examples; the forget set is empty.")
        return self._scores(params, rows, usage, first_step, records)

    def _one(self, model: nn.Module, loss_fn: LossFn, rows: dict[str, nn.Parameter], x: torch.Tensor, index: int, first_step: dict[str, torch.Tensor]) -> CritMemRecord:
        with torch.no_grad():
            prediction = model(x).argmax(1)
        count_passes(1, backward=False)
        record = CritMemRecord(index, int(prediction), False, 0)
        backup: dict[str, torch.Tensor] = {}
        try:
            for step in range(self.max_steps):
                model.zero_grad(set_to_none=True)
                loss_fn(model, (x, prediction, torch.tensor([index], device=x.device))).backward()
                count_passes(1)
                if step == 0:
                    for n, p in model.named_parameters():
                        if p.grad is not None:
                            first_step[n] += (p.detach() * p.grad).abs()
                self._zero_best(rows, backup, record)
                record.steps = step + 1
                with torch.no_grad():
                    flipped = int(model(x).argmax(1)) != record.prediction
                count_passes(1, backward=False)
                if flipped:
                    record.flipped = True
                    break
        finally:
            model.zero_grad(set_to_none=True)
            with torch.no_grad():
                for name, saved in backup.items():
                    rows[name].copy_(saved)
        return record

    @torch.no_grad()
    def _zero_best(self, rows: dict[str, nn.Parameter], backup: dict[str, torch.Tensor], record: CritMemRecord) -> None:
        names, scores = [], []
        for name, p in rows.items():
            if p.grad is None:
                continue
            score = self.channel_score((p * p.grad).abs().reshape(p.shape[0], -1))
            taken = [r for n, r in record.channels if n == name]
            if taken:
                score[taken] = -1.0  # already zeroed
            names += [(name, r) for r in range(p.shape[0])]
            scores.append(score)
        if not scores:
            return
        best = torch.cat(scores).topk(min(self.channels_per_step, len(names))).indices.tolist()
        for k in best:
            name, row = names[k]
            backup.setdefault(name, rows[name].detach().clone())
            rows[name][row] = 0.0
            record.channels.append((name, row))

    def _scores(
        self, params: dict[str, nn.Parameter], rows: dict[str, nn.Parameter], usage: dict[str, torch.Tensor], first_step: dict[str, torch.Tensor], records: list[CritMemRecord]
    ) -> CritMemScores:
        n = len(records)
        secondary_max = max((float(t.max()) for t in first_step.values() if t.numel()), default=0.0)
        values, union = {}, {}
        for name, p in params.items():
            filler = first_step[name].cpu() / (2 * secondary_max) if self.fill == "weighted_grad" and secondary_max > 0 else torch.zeros(p.shape)
            used = torch.zeros(p.shape, dtype=torch.bool)
            if name in rows:
                per_row = usage[name].cpu()
                used = (per_row > 0).reshape(-1, *([1] * (p.ndim - 1))).expand(p.shape).clone()
                filler = torch.where(used, 1.0 + per_row.reshape(-1, *([1] * (p.ndim - 1))).expand(p.shape) / n, filler)
            values[name] = filler
            union[name] = used
        flipped = sum(r.flipped for r in records)
        meta = {"criterion": "critmem", "data_source": "forget", "examples": str(n), "flipped": str(flipped), "mean_steps": f"{sum(r.steps for r in records) / n:.2f}", "fill": self.fill}
        return CritMemScores(values, Mask(union), records, self.fill, meta)


@dataclass
class CritMemOptions:
    channels_per_step: int = hp(1, low=1)
    max_steps_per_example: int = hp(50, low=1)
    max_examples: int | None = hp(None, low=1, doc="None = every forget example")
    channel_score: str = hp("sum", choices=tuple(CHANNEL_SCORES))
    fill: str = hp("none", choices=tuple(FILLS))


@LOCALIZERS.register("critmem", "CritMem: per forget example, zero the top-|θ·g| channels until its prediction flips; union of channels (Maini et al., ICML 2023)")
@options(CritMemOptions)
def critmem_localizer(**options: object) -> CritMemLocalizer:
    return CritMemLocalizer(**options)  # type: ignore[arg-type]
