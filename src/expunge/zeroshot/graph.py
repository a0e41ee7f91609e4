"""A model as a flat list of LRP stages, so relevance can be propagated layer by layer.

Relevance propagation needs the forward computation as explicit steps (our models call
``torch.relu`` and pooling functionally inside ``forward``, which module hooks cannot see).
A *sequencer*, registered per model class, lists those steps; leaf modules of plain
``nn.Sequential`` containers are converted by the ``STAGE_BUILDERS`` registry keyed by type.

BatchNorm handling (``bn``):
- ``"fold"`` (default): an eval-mode BN directly after a Linear/Conv is folded into it
  (W' = W·γ/σ, b' = (b-μ)·γ/σ + β), which is exact because both are affine; the rule then
  sees the true pre-activation, and the BN shift counts as bias (it absorbs relevance).
- ``"pass"``: relevance ignores the BN; the rule runs on the conv's own output and the
  relevance at the BN output is handed to the conv output unchanged (no rescaling).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError

BN_MODES = ("fold", "pass")
Rule = Callable[["AffineStage", torch.Tensor, torch.Tensor], torch.Tensor]


def stabilize(z: torch.Tensor, eps: float) -> torch.Tensor:
    """z + ε·sign(z) with sign(0) = +1, so the denominator never vanishes."""
    return z + eps * torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))


def proportional(parts: Sequence[torch.Tensor], r: torch.Tensor, eps: float) -> list[torch.Tensor]:
    """Split relevance over the summands of z = Σ parts in proportion to each (the ε-rule of a sum node)."""
    s = r / stabilize(sum(parts), eps)  # type: ignore[arg-type]
    return [p * s for p in parts]


class Stage:
    """One forward step that can also send relevance from its output back to its input."""

    name: str
    kind: str

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def relevance(self, a: torch.Tensor, r: torch.Tensor, rule: Rule, eps: float) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class AffineStage(Stage):
    """Linear or Conv2d, optionally followed by a BatchNorm (folded or passed, see module doc)."""

    name: str
    module: nn.Module
    bn: nn.Module | None = None
    bn_name: str | None = None
    bn_mode: str = "fold"
    kind: str = "affine"

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        z = self.module(a)
        return self.bn(z) if self.bn is not None else z

    def weight_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The (possibly BN-folded) weight and bias the relevance rule works with."""
        w: torch.Tensor = self.module.weight  # type: ignore[assignment]
        b: torch.Tensor | None = self.module.bias  # type: ignore[assignment]
        if self.bn is None or self.bn_mode == "pass":
            return w, b
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shape = (-1,) + (1,) * (w.ndim - 1)
        b0 = b if b is not None else torch.zeros_like(bn.running_mean)
        return w * scale.reshape(shape), (b0 - bn.running_mean) * scale + bn.bias

    def apply(self, a: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        """The affine map with explicit weights (rules pass clamped copies)."""
        m = self.module
        if isinstance(m, nn.Linear):
            return F.linear(a, w, b)
        return F.conv2d(a, w, b, m.stride, m.padding, m.dilation, m.groups)

    def relevance(self, a: torch.Tensor, r: torch.Tensor, rule: Rule, eps: float) -> torch.Tensor:
        return rule(self, a, r)

    @property
    def out_channels(self) -> int:
        return int(self.module.weight.shape[0])


@dataclass
class ActivationStage(Stage):
    """ReLU (or identity-like layers such as Dropout in eval): relevance passes unchanged."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor] = torch.relu
    kind: str = "activation"

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.fn(a)

    def relevance(self, a: torch.Tensor, r: torch.Tensor, rule: Rule, eps: float) -> torch.Tensor:
        return r


@dataclass
class PoolStage(Stage):
    """Max/average pooling: ε-rule through the pooling map (max-pool sends all relevance to the winner)."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    kind: str = "pool"

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.fn(a)

    def relevance(self, a: torch.Tensor, r: torch.Tensor, rule: Rule, eps: float) -> torch.Tensor:
        with torch.enable_grad():
            a = a.detach().requires_grad_(True)
            z = self.fn(a)
            (c,) = torch.autograd.grad(z, a, r / stabilize(z, 1e-9))
        return a.detach() * c


@dataclass
class FlattenStage(Stage):
    name: str = "flatten"
    kind: str = "flatten"

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return torch.flatten(a, 1)

    def relevance(self, a: torch.Tensor, r: torch.Tensor, rule: Rule, eps: float) -> torch.Tensor:
        return r.reshape(a.shape)


@dataclass
class ResidualStage(Stage):
    """relu(main(x) + shortcut(x)): the sum node splits relevance in proportion to the two branches."""

    name: str
    main: list[Stage]
    shortcut: list[Stage] = field(default_factory=list)
    kind: str = "residual"

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return torch.relu(run(self.main, a) + run(self.shortcut, a))

    def relevance(self, a: torch.Tensor, r: torch.Tensor, rule: Rule, eps: float) -> torch.Tensor:
        main_in = record(self.main, a)
        short_in = record(self.shortcut, a)
        r_main, r_short = proportional([main_in[-1], short_in[-1]], r, eps)
        return back(self.main, main_in, r_main, rule, eps) + back(self.shortcut, short_in, r_short, rule, eps)


def run(stages: Sequence[Stage], a: torch.Tensor) -> torch.Tensor:
    for stage in stages:
        a = stage.forward(a)
    return a


def record(stages: Sequence[Stage], a: torch.Tensor) -> list[torch.Tensor]:
    """[input of stage 0, ..., input of stage n-1, output]."""
    acts = [a]
    for stage in stages:
        acts.append(stage.forward(acts[-1]))
    return acts


def back(stages: Sequence[Stage], acts: Sequence[torch.Tensor], r: torch.Tensor, rule: Rule, eps: float, stop: int = 0) -> torch.Tensor:
    """Relevance at the input of ``stages[stop]`` given relevance ``r`` at the output of the last stage."""
    for i in range(len(stages) - 1, stop - 1, -1):
        r = stages[i].relevance(acts[i], r, rule, eps)
    return r


# ---- conversion: model -> stages ------------------------------------------------------
StageBuilder = Callable[[str, nn.Module, str], Stage]
STAGE_BUILDERS: dict[type, StageBuilder] = {}
SEQUENCERS: dict[type, Callable[[nn.Module, str], list[Stage]]] = {}


def register_stage(*types: type) -> Callable[[StageBuilder], StageBuilder]:
    def deco(fn: StageBuilder) -> StageBuilder:
        for t in types:
            STAGE_BUILDERS[t] = fn
        return fn

    return deco


def register_sequencer(*types: type) -> Callable:
    """Teach the LRP code the forward order of a model class: ``fn(model, bn_mode) -> list[Stage]``."""

    def deco(fn: Callable[[nn.Module, str], list[Stage]]) -> Callable[[nn.Module, str], list[Stage]]:
        for t in types:
            SEQUENCERS[t] = fn
        return fn

    return deco


def _lookup(table: dict[type, object], module: nn.Module) -> object | None:
    for cls in type(module).__mro__:
        if cls in table:
            return table[cls]
    return None


register_stage(nn.Linear, nn.Conv2d)(lambda name, m, bn: AffineStage(name, m, bn_mode=bn))
register_stage(nn.ReLU)(lambda name, m, bn: ActivationStage(name, torch.relu))
register_stage(nn.Dropout, nn.Identity)(lambda name, m, bn: ActivationStage(name, lambda t: t))
register_stage(nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)(lambda name, m, bn: PoolStage(name, m))
register_stage(nn.Flatten)(lambda name, m, bn: FlattenStage(name))


def _bn_alone(name: str, module: nn.Module, bn: str) -> Stage:
    return ActivationStage(name, module)  # a BN that follows no affine layer: relevance passes through


register_stage(nn.BatchNorm1d, nn.BatchNorm2d)(_bn_alone)


def sequential_stages(modules: Sequence[tuple[str, nn.Module]], bn_mode: str) -> list[Stage]:
    """Convert (name, module) pairs in order, folding a BN into the affine stage just before it."""
    stages: list[Stage] = []
    for name, module in modules:
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and stages and isinstance(stages[-1], AffineStage) and stages[-1].bn is None:
            stages[-1].bn, stages[-1].bn_name = module, name
            continue
        stages.extend(module_stages(name, module, bn_mode))
    return stages


def module_stages(name: str, module: nn.Module, bn_mode: str) -> list[Stage]:
    sequencer = _lookup(SEQUENCERS, module)  # pyright: ignore[reportArgumentType]
    if sequencer is not None:
        return sequencer(module, bn_mode, name)  # type: ignore[operator]
    builder = _lookup(STAGE_BUILDERS, module)  # pyright: ignore[reportArgumentType]
    if builder is not None:
        return [builder(name, module, bn_mode)]  # type: ignore[operator]
    if isinstance(module, nn.Sequential):
        return sequential_stages([(_join(name, n), m) for n, m in module.named_children()], bn_mode)
    raise ConfigError(
        f"relevance propagation does not know module {name or '<model>'!r} of type {type(module).__name__}; "
        "register its forward order with expunge.zeroshot.graph.register_sequencer (or a leaf rule with register_stage)."
    )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@register_sequencer(nn.Sequential)
def _sequential(model: nn.Module, bn_mode: str, prefix: str = "") -> list[Stage]:
    return sequential_stages([(_join(prefix, n), m) for n, m in model.named_children()], bn_mode)


def _register_builtin_models() -> None:
    from ..models.resnet import BasicBlock, ResNet
    from ..models.simple import MLP, ClassicCNN

    @register_sequencer(BasicBlock)
    def _block(block: BasicBlock, bn_mode: str, prefix: str = "") -> list[Stage]:
        main = sequential_stages([(_join(prefix, "conv1"), block.conv1), (_join(prefix, "bn1"), block.bn1)], bn_mode)
        main += [ActivationStage(_join(prefix, "relu1"))]
        main += sequential_stages([(_join(prefix, "conv2"), block.conv2), (_join(prefix, "bn2"), block.bn2)], bn_mode)
        short = module_stages(_join(prefix, "shortcut"), block.shortcut, bn_mode)
        return [ResidualStage(prefix, main, short)]

    @register_sequencer(ResNet)
    def _resnet(model: ResNet, bn_mode: str, prefix: str = "") -> list[Stage]:
        stages = sequential_stages([(_join(prefix, "conv1"), model.conv1), (_join(prefix, "bn1"), model.bn1)], bn_mode)
        stages.append(ActivationStage(_join(prefix, "relu")))
        stages += module_stages(_join(prefix, "layers"), model.layers, bn_mode)
        stages += [PoolStage(_join(prefix, "gap"), lambda t: F.adaptive_avg_pool2d(t, 1)), FlattenStage(_join(prefix, "flatten"))]
        return stages + [AffineStage(_join(prefix, "fc"), model.fc, bn_mode=bn_mode)]

    @register_sequencer(ClassicCNN)
    def _cnn(model: ClassicCNN, bn_mode: str, prefix: str = "") -> list[Stage]:
        stages = module_stages(_join(prefix, "features"), model.features, bn_mode)
        stages += [FlattenStage(_join(prefix, "flatten")), AffineStage(_join(prefix, "fc1"), model.fc1, bn_mode=bn_mode)]
        return stages + [ActivationStage(_join(prefix, "relu")), AffineStage(_join(prefix, "fc"), model.fc, bn_mode=bn_mode)]

    @register_sequencer(MLP)
    def _mlp(model: MLP, bn_mode: str, prefix: str = "") -> list[Stage]:
        stages: list[Stage] = [FlattenStage(_join(prefix, "flatten"))]
        stages += module_stages(_join(prefix, "hidden"), model.hidden, bn_mode)
        return stages + [AffineStage(_join(prefix, "fc"), model.fc, bn_mode=bn_mode)]


_register_builtin_models()


class LRPGraph:
    """The stages of ``model``, checked once against ``model(x)`` so a wrong sequencer fails loudly."""

    def __init__(self, model: nn.Module, bn_mode: str = "fold") -> None:
        if bn_mode not in BN_MODES:
            raise ConfigError(f"bn mode {bn_mode!r} unknown; choose one of {BN_MODES} (fold = exact for eval-mode BN).")
        self.model = model
        self.bn_mode = bn_mode
        self.stages = module_stages("", model, bn_mode)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def index(self, layer: str | None) -> int:
        """Stage index of ``layer`` (an affine layer's module name); ``None`` = the last linear layer."""
        if layer is None:
            affine = [i for i, s in enumerate(self.stages) if isinstance(s, AffineStage) and isinstance(s.module, nn.Linear)]
            if not affine:
                raise ConfigError("the model has no nn.Linear layer; name the layer to analyse with layer=<module name>.")
            return affine[-1]
        for i, s in enumerate(self.stages):
            if s.name == layer and isinstance(s, AffineStage):
                return i
        choices = [s.name for s in self.stages if isinstance(s, AffineStage)]
        raise ConfigError(f"layer {layer!r} is not a top-level Linear/Conv2d stage of the model; choose one of {choices}.")

    def check(self, x: torch.Tensor, atol: float = 1e-4) -> None:
        with torch.no_grad():
            want = self.model(x)
            got = run(self.stages, x)
        if got.shape != want.shape or not torch.allclose(got, want, atol=atol, rtol=1e-4):
            raise ConfigError(
                f"the LRP stage list of {type(self.model).__name__} does not reproduce model(x) (max diff "
                f"{(got - want).abs().max() if got.shape == want.shape else 'shape ' + str(tuple(got.shape))}); "
                "register a correct sequencer with expunge.zeroshot.graph.register_sequencer."
            )
