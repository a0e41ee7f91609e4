"""Neuronal paths and their perturbation: cut (zero) or add Gaussian/Laplace noise.

The analysed neurons are the input channels of the analysed layer L. Their path is taken
from the same place the relevance was measured, so the edit is consistent with the analysis
(the authors' VGG code cuts a different layer than it analyses; we do not):
- *into* the neuron: row n of every weight producing channel n (the last Linear/Conv before
  L; for a residual block its second conv and its projection shortcut). Biases and BN
  scales/shifts of channel n are kept by default, as in the authors' MNIST code, so a cut
  neuron becomes a constant; ``cut_bias=True`` zeroes them too, so the neuron outputs 0.
- *out of* the neuron: column(s) n of L's weight, for the target-class row only
  (``out_scope="target"``, only when L is the classifier) or for every output (``"all"``).
An identity shortcut cannot be cut by editing weights; such a path is reported in
``NeuronPath.notes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import ConfigError
from ..masks import Mask
from .graph import ActivationStage, AffineStage, FlattenStage, LRPGraph, PoolStage, ResidualStage

OUT_SCOPES = ("target", "all", "none")


@dataclass
class NeuronPath:
    """Which parameter entries belong to neuron n of the analysed layer's input."""

    layer: str
    num_neurons: int
    in_rows: list[str]  # weights whose row n produces neuron n
    in_vectors: list[str]  # biases / BN affine entries of channel n
    out_weight: str  # the analysed layer's weight
    out_group: int  # columns per neuron (spatial positions flattened into L's input)
    out_is_classifier: bool
    notes: list[str] = field(default_factory=list)

    def entries(self, neurons: Sequence[int], target_class: int | None = None, out_scope: str = "target", include_in: bool = True, cut_bias: bool = False) -> dict[str, tuple[torch.Tensor, ...]]:
        """Index of the path entries in each touched parameter (``param[index]`` selects them)."""
        if out_scope not in OUT_SCOPES:
            raise ConfigError(f"out_scope {out_scope!r} unknown; choose one of {OUT_SCOPES}.")
        idx = torch.as_tensor(list(neurons), dtype=torch.long)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.num_neurons):
            raise ConfigError(f"neuron indices must lie in [0, {self.num_neurons}); got {idx.tolist()[:10]}.")
        found: dict[str, tuple[torch.Tensor, ...]] = {}
        if include_in:
            for name in self.in_rows + (self.in_vectors if cut_bias else []):
                found[name] = (idx,)
        if out_scope != "none" and len(idx):
            cols = (idx[:, None] * self.out_group + torch.arange(self.out_group)[None, :]).reshape(-1)
            if out_scope == "target":
                if not self.out_is_classifier or target_class is None:
                    raise ConfigError(f"out_scope='target' needs the analysed layer ({self.layer}) to be the classifier and a target class; use out_scope='all'.")
                found[self.out_weight] = (torch.tensor([int(target_class)]), cols)
            else:
                found[self.out_weight] = (slice(None), cols)  # type: ignore[assignment]
        return found

    def mask(self, model: nn.Module, neurons: Sequence[int], target_class: int | None = None, out_scope: str = "target", include_in: bool = True, cut_bias: bool = False) -> Mask:
        """Boolean mask of the entries on the selected neurons' paths (all other entries False)."""
        found = self.entries(neurons, target_class, out_scope, include_in, cut_bias)
        entries = {n: torch.zeros_like(p, dtype=torch.bool, device="cpu") for n, p in model.named_parameters()}
        for name, index in found.items():
            if len(index) == 2 and torch.is_tensor(index[0]):
                entries[name][index[0][:, None], index[1][None, :]] = True
            else:
                entries[name][index] = True
        idx = torch.as_tensor(list(neurons), dtype=torch.long)
        return Mask(entries, {"layer": self.layer, "neurons": ",".join(map(str, idx.tolist())), "out_scope": out_scope})

    @torch.no_grad()
    def cut_(self, model: nn.Module, neurons: Sequence[int], target_class: int | None = None, out_scope: str = "target", include_in: bool = True, cut_bias: bool = False) -> None:
        """Zero the neurons' path entries in place (what ``perturb(model, self.mask(...), "cut")`` does, without building a mask)."""
        params = dict(model.named_parameters())
        for name, index in self.entries(neurons, target_class, out_scope, include_in, cut_bias).items():
            p = params[name]
            index = tuple(i.to(p.device) if torch.is_tensor(i) else i for i in index)
            if len(index) == 2 and torch.is_tensor(index[0]):
                p[index[0][:, None], index[1][None, :]] = 0
            else:
                p[index] = 0


def _producer_entries(stage: AffineStage | ResidualStage, notes: list[str]) -> tuple[list[str], list[str]]:
    if isinstance(stage, AffineStage):
        rows = [f"{stage.name}.weight"]
        vectors = [f"{stage.name}.bias"] if stage.module.bias is not None else []
        if stage.bn is not None:
            vectors += [f"{stage.bn_name}.weight", f"{stage.bn_name}.bias"]
        return rows, vectors
    rows, vectors = [], []
    for branch in (stage.main, stage.shortcut):
        last = [s for s in branch if isinstance(s, AffineStage)]
        if last:
            r, v = _producer_entries(last[-1], notes)
            rows, vectors = rows + r, vectors + v
        else:
            notes.append(f"{stage.name} has an identity shortcut: the block input still reaches the cut neurons")
    return rows, vectors


def neuron_path(model: nn.Module, layer: str | None = None, bn: str = "fold") -> NeuronPath:
    """The path of every input neuron of ``layer`` (default: the last linear layer)."""
    graph = LRPGraph(model, bn)
    index = graph.index(layer)
    analysed = graph.stages[index]
    assert isinstance(analysed, AffineStage)
    group, producer, notes = 1, None, []
    for j in range(index - 1, -1, -1):
        stage = graph.stages[j]
        if isinstance(stage, (AffineStage, ResidualStage)):
            producer = stage
            break
        if not isinstance(stage, (ActivationStage, PoolStage, FlattenStage)):
            raise ConfigError(f"cannot trace the neurons of {analysed.name} through stage {stage.name}.")
    if producer is None:
        raise ConfigError(f"layer {analysed.name!r} reads the model input directly: there are no neurons to cut; analyse a later layer.")
    channels = _out_channels(producer)
    in_features = analysed.module.weight.shape[1]
    if isinstance(analysed.module, nn.Linear) and in_features != channels:
        if in_features % channels:
            raise ConfigError(f"{analysed.name} has {in_features} inputs, not a multiple of the {channels} channels feeding it.")
        group = in_features // channels
    rows, vectors = _producer_entries(producer, notes)
    classifier = index == max(i for i, s in enumerate(graph.stages) if isinstance(s, AffineStage))
    return NeuronPath(analysed.name, channels, rows, vectors, f"{analysed.name}.weight", group, classifier, notes)


def _out_channels(stage: AffineStage | ResidualStage) -> int:
    if isinstance(stage, AffineStage):
        return stage.out_channels
    return [s for s in stage.main if isinstance(s, AffineStage)][-1].out_channels


# ---- perturbations ----------------------------------------------------------------------
Perturbation = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def _laplace(values: torch.Tensor, scale: float, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(values.shape, generator=gen, dtype=torch.float64) - 0.5
    noise = -scale * torch.sign(u) * torch.log1p(-2 * u.abs())  # inverse CDF, reproducible from gen
    return values + noise.to(values.dtype)


PERTURBATIONS: dict[str, Perturbation] = {
    "cut": lambda v, scale, gen: torch.zeros_like(v),
    "gaussian": lambda v, scale, gen: v + scale * torch.randn(v.shape, generator=gen, dtype=v.dtype),
    "laplace": _laplace,
}


@torch.no_grad()
def perturb(model: nn.Module, mask: Mask, method: str = "cut", scale: float = 1.0, seed: int = 0) -> nn.Module:
    """Apply ``method`` in place to exactly the entries selected by ``mask``; every other entry is untouched."""
    if method not in PERTURBATIONS:
        raise ConfigError(f"perturbation {method!r} unknown; choose one of {sorted(PERTURBATIONS)}.")
    gen = torch.Generator().manual_seed(seed)
    op = PERTURBATIONS[method]
    for name, p in model.named_parameters():
        if name not in mask:
            continue
        m = mask[name].to(p.device)
        if m.any():
            p[m] = op(p[m].cpu(), scale, gen).to(p.device, p.dtype)
    return model
