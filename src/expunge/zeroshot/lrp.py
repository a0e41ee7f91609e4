"""Layer-wise relevance propagation (Bach et al. 2015) written on the stage list of ``graph``.

Rules for Linear/Conv2d stages (``RULES`` registry):
- ``epsilon`` (the paper's default, ε = 0.1 as in the authors' TorchLRP code):
  R_j = a_j Σ_k w_kj R_k / (z_k + ε·sign z_k); the bias and ε absorb part of the relevance.
- ``zplus``: only positive contributions a_j⁺w_kj⁺ + a_j⁻w_kj⁻ (= αβ with α=1, β=0).
- ``alphabeta``: α·(positive share) − β·(negative share), α − β = 1 (α=2, β=1 by default).
Pooling uses the ε-rule with a negligible ε, ReLU/flatten pass relevance unchanged and a
residual sum splits it in proportion to its two branches (see ``graph``).

The relevance starts at the explained logit (the predicted class, as in the authors' code:
R = z_c on that logit, 0 elsewhere) and is returned at the *input* of the analysed layer.
``backend="captum"`` uses captum's LRP instead (optional dependency, imported lazily; only
for models without residual blocks, and only the ε-rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# torch.autograd.grad imports this module (and sympy) lazily on its first call, about 0.3 s once
# per process. Importing it with the package keeps that one-time import out of the method's
# measured wall time, as `import torch` itself is.
import torch.fx.experimental.symbolic_shapes  # noqa: F401,E402
from torch import nn

from ..cost import count
from ..errors import ConfigError
from ..utils import eval_mode
from .graph import AffineStage, FlattenStage, LRPGraph, ResidualStage, Rule, back, record, stabilize


def _safe_div(r: torch.Tensor, z: torch.Tensor, tiny: float = 1e-12) -> torch.Tensor:
    return torch.where(z.abs() > tiny, r / torch.where(z.abs() > tiny, z, torch.ones_like(z)), torch.zeros_like(z))


def epsilon_rule(eps: float = 0.1) -> Rule:
    def rule(stage: AffineStage, a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        w, b = stage.weight_bias()
        with torch.enable_grad():
            a = a.detach().requires_grad_(True)
            z = stage.apply(a, w.detach(), None if b is None else b.detach())
            (c,) = torch.autograd.grad(z, a, r / stabilize(z.detach(), eps))
        return a.detach() * c

    return rule


def _share(stage: AffineStage, pairs: list[tuple[torch.Tensor, torch.Tensor]], r: torch.Tensor) -> torch.Tensor:
    """Relevance of the contributions Σ_i a_i·w_i (bias excluded), in proportion to each."""
    with torch.enable_grad():
        acts = [a.detach().requires_grad_(True) for a, _ in pairs]
        z = sum(stage.apply(a, w.detach(), None) for a, (_, w) in zip(acts, pairs))
        grads = torch.autograd.grad(z, acts, _safe_div(r, z.detach()))  # type: ignore[arg-type]
    return sum(a.detach() * g for a, g in zip(acts, grads))  # type: ignore[return-value]


def alphabeta_rule(alpha: float = 2.0, beta: float = 1.0) -> Rule:
    if abs(alpha - beta - 1.0) > 1e-9:
        raise ConfigError(f"the αβ rule needs alpha - beta = 1 to conserve relevance; got alpha={alpha}, beta={beta}.")

    def rule(stage: AffineStage, a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        w, _ = stage.weight_bias()
        ap, an, wp, wn = a.clamp(min=0), a.clamp(max=0), w.clamp(min=0), w.clamp(max=0)
        positive = _share(stage, [(ap, wp), (an, wn)], r)
        if beta == 0:
            return alpha * positive
        return alpha * positive - beta * _share(stage, [(ap, wn), (an, wp)], r)

    return rule


RULES: dict[str, Callable[..., Rule]] = {
    "epsilon": lambda epsilon=0.1, **_: epsilon_rule(epsilon),
    "zplus": lambda **_: alphabeta_rule(1.0, 0.0),
    "alphabeta": lambda alpha=2.0, beta=1.0, **_: alphabeta_rule(alpha, beta),
}


@dataclass
class RelevanceResult:
    """Per-example relevance at the analysed layer's input, also summed per neuron (channel)."""

    raw: torch.Tensor  # (B, *input shape of the analysed layer)
    neurons: torch.Tensor  # (B, channels): raw summed over spatial positions / flattened groups
    logits: torch.Tensor  # (B, classes)
    explained: torch.Tensor  # (B,) class whose logit was explained


def make_rule(rule: str, epsilon: float = 0.1, alpha: float = 2.0, beta: float = 1.0) -> Rule:
    if rule not in RULES:
        raise ConfigError(f"LRP rule {rule!r} unknown; choose one of {sorted(RULES)}.")
    return RULES[rule](epsilon=epsilon, alpha=alpha, beta=beta)


def neuron_shape(graph: LRPGraph, index: int, acts: list[torch.Tensor]) -> tuple[int, int]:
    """(channels, positions per channel) of the analysed layer's input, undoing a flatten just before it."""
    for j in range(index - 1, -1, -1):
        stage = graph.stages[j]
        if isinstance(stage, FlattenStage):
            shape = acts[j].shape[1:]
            return int(shape[0]), int(torch.Size(shape[1:]).numel())
        if isinstance(stage, (AffineStage, ResidualStage)):
            break
    shape = acts[index].shape[1:]
    return int(shape[0]), int(torch.Size(shape[1:]).numel())


def relevance(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | None = None,
    rule: str = "epsilon",
    epsilon: float = 0.1,
    alpha: float = 2.0,
    beta: float = 1.0,
    bn: str = "fold",
    target: torch.Tensor | int | None = None,
    backend: str = "native",
) -> RelevanceResult:
    """Relevance of the explained logit at the input of ``layer`` (default: the last linear layer)."""
    if backend not in BACKENDS:
        raise ConfigError(f"LRP backend {backend!r} unknown; choose one of {sorted(BACKENDS)}.")
    count(len(x))  # a forward and a relevance backward per image: one example pass each
    return BACKENDS[backend](model, x, layer, rule, epsilon, alpha, beta, bn, target)


def _start(logits: torch.Tensor, target: torch.Tensor | int | None) -> tuple[torch.Tensor, torch.Tensor]:
    if target is None:
        explained = logits.argmax(dim=1)
    else:
        explained = torch.as_tensor(target, device=logits.device).expand(len(logits)).long()
    r = torch.zeros_like(logits)
    r[torch.arange(len(logits)), explained] = logits[torch.arange(len(logits)), explained]
    return r, explained


@torch.no_grad()
def _native(model, x, layer, rule, epsilon, alpha, beta, bn, target) -> RelevanceResult:
    graph = LRPGraph(model, bn)
    index = graph.index(layer)
    with eval_mode(model):
        acts = record(graph.stages, x)
        r, explained = _start(acts[-1], target)
        raw = back(graph.stages, acts, r, make_rule(rule, epsilon, alpha, beta), epsilon, stop=index)
    channels, _ = neuron_shape(graph, index, acts)
    neurons = raw.reshape(len(x), channels, -1).sum(dim=2)
    return RelevanceResult(raw, neurons, acts[-1], explained)


def _captum(model, x, layer, rule, epsilon, alpha, beta, bn, target) -> RelevanceResult:
    """captum.attr.LayerLRP with ε-rules on every supported layer (no residual blocks, no functional ops)."""
    try:
        from captum.attr import LayerLRP
        from captum.attr._utils.lrp_rules import EpsilonRule
    except ImportError as exc:  # optional dependency
        raise ConfigError("backend='captum' needs captum: pip install 'expunge[attribution]' (or use backend='native').") from exc
    if rule != "epsilon":
        raise ConfigError("the captum backend is wired for the ε-rule only; use backend='native' for zplus/alphabeta.")
    graph = LRPGraph(model, bn)
    if any(isinstance(s, ResidualStage) for s in graph.stages):
        raise ConfigError("captum's LRP cannot follow residual additions; use backend='native' for ResNets.")
    index = graph.index(layer)
    module = graph.stages[index].module  # type: ignore[attr-defined]
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            m.rule = EpsilonRule(epsilon)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x)
        _, explained = _start(logits, target)
        raw = LayerLRP(model, module).attribute(x.detach().clone().requires_grad_(True), target=explained, attribute_to_layer_input=True)
        raw = raw[0] if isinstance(raw, (tuple, list)) else raw
    finally:
        model.train(was_training)
        for m in model.modules():
            if hasattr(m, "rule"):
                del m.rule
    with torch.no_grad():
        acts = record(graph.stages, x)
    channels, _ = neuron_shape(graph, index, acts)
    neurons = raw.reshape(len(x), channels, -1).sum(dim=2)
    return RelevanceResult(raw.detach(), neurons.detach(), logits, explained)


BACKENDS: dict[str, Callable[..., RelevanceResult]] = {"native": _native, "captum": _captum}


@torch.no_grad()
def relevance_per_stage(model: nn.Module, x: torch.Tensor, rule: str = "epsilon", epsilon: float = 0.1, bn: str = "fold") -> list[torch.Tensor]:
    """Relevance at the input of every stage (and the start relevance last): for conservation checks."""
    graph = LRPGraph(model, bn)
    with eval_mode(model):
        acts = record(graph.stages, x)
        r, _ = _start(acts[-1], None)
        rule_fn = make_rule(rule, epsilon)
        out = [r]
        for i in range(len(graph.stages) - 1, -1, -1):
            r = graph.stages[i].relevance(acts[i], r, rule_fn, epsilon)
            out.append(r)
    return out[::-1]
