"""The authors' per-architecture LRA-NPP recipes, as in the official code, and how expunge's models map to them.

Source: ChangWenhan/LRA-NPP-Unlearning at HEAD (1815094), ``examples/batch_experiments/core/methods.py``
(``_analyze_top_neurons_lrp``, ``_analyze_top_neurons_vit``, ``_perturb_mnist``, ``_perturb_resnet_fc``,
``_perturb_imagenet_vgg``, ``_perturb_vit_head``) and ``examples/batch_experiments/core/config.py``
(``analyze_top_n`` = K_a, ``perturb_top_n`` = K_p, ``layer_map``). Every recipe analyses the *input of
the last linear layer* (``analysis_layer=0`` is the first relevance the trace records on the way back,
i.e. the classifier's input) over 36 unseen images, ranks neurons by how often they are in an image's
top-K_a signed relevance (LRP ε = 0.1; ViT: |activation × gradient|) and edits the top K_p:

============== ========================= =========================================================== ==============
recipe          their model               weights edited for each selected neuron n (class c)         K_a / K_p
============== ========================= =========================================================== ==============
mnist-cnn       Conv32-Conv64-FC512-FC10   ``W_fc512[n, :] = 0`` and ``W_out[c, n] = 0``               50 / 80 of 512
resnet-cifar10  ResNet-50 (fc 2048→10)     ``W_fc[:, n] = 0`` for every class (target_class_only=False) 200 / 400 of 2048
resnet-cifar100 ResNet-50 (fc 2048→100)    same                                                          150 / 250 of 2048
vgg16-imagenet  VGG-16 (FC-FC-FC head)     ``W_cls0[n, :] = 0`` (first FC) and ``W_cls3[c, n] = 0`` (second FC) 150 / 400 of 4096
vit-mufac       ViT-B/16 (head 768→8)      ``W_head[c, n] = 0``                                        400 / 500 of 768
============== ========================= =========================================================== ==============

The VGG path is reproduced as written although it edits layers other than the one analysed
(the neurons index the classifier's input, the edit hits the first FC's rows and the second
FC's row c). K_a and K_p are kept as *fractions* of the analysed neurons, so a model narrower
than theirs edits the same share.

Choosing a recipe (``recipe_for``): by name (``recipe=...`` on ``zero_shot`` / ``lra_npp_paper``), or by
one of these documented architecture matches, checked in order (``ARCHITECTURE_MATCHES``):
- a model with a ``lra_npp_recipe`` attribute naming a recipe (how a user architecture declares its match);
- expunge's ``ResNet`` (resnet_small, resnet18: conv stages, GAP, one ``fc``) -> their ResNet-50 recipe,
  the CIFAR-10 constants for <= 10 classes, the CIFAR-100 constants above;
- expunge's ``ClassicCNN`` (cnn: conv-conv-FC-FC) and ``MLP`` (hidden FC layers, then FC) -> their MNIST
  CNN recipe: the same FC-ReLU-FC head, the hidden FC's rows and the target column of the classifier;
- a model whose class name contains ``ViT`` or ``VisionTransformer`` -> their ViT recipe.
Anything else is a ``ConfigError`` that names the recipes: the layer count of an unknown model says
nothing about which of the authors' paths fits it (an MLP once got the VGG-16 / ImageNet recipe that way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..masks import Mask
from ..utils import eval_mode

SOURCE = "ChangWenhan/LRA-NPP-Unlearning@1815094 examples/batch_experiments/core/methods.py"
CONFIG_SOURCE = "ChangWenhan/LRA-NPP-Unlearning@1815094 examples/batch_experiments/core/config.py"


@dataclass(frozen=True)
class PaperRecipe:
    """One of the authors' per-architecture settings (see module doc)."""

    name: str
    their_model: str
    relevance: str  # "lrp-epsilon" | "grad-x-act"
    edit: str  # "in+target" | "all-columns" | "vgg-fc1-fc2" | "target-row"
    k_a: int  # their K_a and K_p, out of their_neurons analysed neurons
    k_p: int
    their_neurons: int
    source: str

    def counts(self, num_neurons: int) -> tuple[int, int]:
        """(K_a, K_p) scaled to a layer of ``num_neurons`` (at least 1 each)."""
        return (max(1, round(self.k_a / self.their_neurons * num_neurons)), max(1, round(self.k_p / self.their_neurons * num_neurons)))


RECIPES: dict[str, PaperRecipe] = {
    r.name: r
    for r in (
        PaperRecipe("mnist-cnn", "MNIST CNN Conv32-Conv64-FC512-FC10", "lrp-epsilon", "in+target", 50, 80, 512, f"{SOURCE}::_perturb_mnist"),
        PaperRecipe("resnet-cifar10", "ResNet-50, CIFAR-10", "lrp-epsilon", "all-columns", 200, 400, 2048, f"{SOURCE}::_perturb_resnet_fc"),
        PaperRecipe("resnet-cifar100", "ResNet-50, CIFAR-100", "lrp-epsilon", "all-columns", 150, 250, 2048, f"{SOURCE}::_perturb_resnet_fc"),
        PaperRecipe("vgg16-imagenet", "VGG-16, ImageNet", "lrp-epsilon", "vgg-fc1-fc2", 150, 400, 4096, f"{SOURCE}::_perturb_imagenet_vgg"),
        PaperRecipe("vit-mufac", "ViT-B/16, MUFAC", "grad-x-act", "target-row", 400, 500, 768, f"{SOURCE}::_analyze_top_neurons_vit, _perturb_vit_head"),
    )
}


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def _is_resnet(model: nn.Module) -> bool:
    from ..models.resnet import ResNet

    return isinstance(model, ResNet)


def _is_fc_head(model: nn.Module) -> bool:
    from ..models.simple import MLP, ClassicCNN

    return isinstance(model, (ClassicCNN, MLP))


def _is_vit(model: nn.Module) -> bool:
    name = type(model).__name__
    return "ViT" in name or "VisionTransformer" in name


def _declared(model: nn.Module) -> bool:
    return isinstance(getattr(model, "lra_npp_recipe", None), str)


def _resnet_recipe(model: nn.Module, classes: int) -> str:
    return "resnet-cifar10" if classes <= 10 else "resnet-cifar100"


# Documented architecture matches, checked in order: (what matches, test, recipe name for the model and its class count).
ARCHITECTURE_MATCHES: list[tuple[str, Callable[[nn.Module], bool], Callable[[nn.Module, int], str]]] = [
    ("a `lra_npp_recipe` attribute on the model", _declared, lambda m, c: str(m.lra_npp_recipe)),
    ("expunge's ResNet (resnet_small, resnet18)", _is_resnet, _resnet_recipe),
    ("expunge's ClassicCNN (cnn) and MLP (mlp)", _is_fc_head, lambda m, c: "mnist-cnn"),
    ("a class name containing 'ViT' or 'VisionTransformer'", _is_vit, lambda m, c: "vit-mufac"),
]


def recipe_for(model: nn.Module, num_classes: int | None = None) -> PaperRecipe:
    """The authors' recipe for ``model`` by a documented match (module doc); an unknown architecture is an error."""
    linears = linear_layers(model)
    if not linears:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear classifier; LRA-NPP analyses the input of the last linear layer.")
    classes = num_classes if num_classes is not None else linears[-1][1].out_features
    for _, matches, choose in ARCHITECTURE_MATCHES:
        if matches(model):
            return get_recipe(choose(model, classes), model)
    known = "; ".join(what for what, _, _ in ARCHITECTURE_MATCHES)
    raise ConfigError(
        f"no LRA-NPP recipe is documented for {type(model).__name__}: set the method's hyperparameter recipe to one of {sorted(RECIPES)} "
        f"(docs/methods/zero-shot.md describes which weights each edits), or give the model a lra_npp_recipe attribute. Matched automatically: {known}."
    )


def get_recipe(name: str, model: nn.Module) -> PaperRecipe:
    if name == "auto":
        return recipe_for(model)
    if name not in RECIPES:
        raise ConfigError(f"recipe {name!r} unknown; choose 'auto' or one of {sorted(RECIPES)}.")
    return RECIPES[name]


# ---- ViT relevance: |activation x gradient| at the head input ---------------------------------------
def grad_x_act_ranking(model: nn.Module, images: torch.Tensor, k_a: int, tie_break: str = "first-occurrence") -> list[int]:
    """Neurons of the last linear layer's input picked by some image's top-K_a |a · ∂z_pred/∂a|, most votes first."""
    from .localizer import vote_order

    _, head = linear_layers(model)[-1]
    store: dict[str, torch.Tensor] = {}
    handle = head.register_forward_hook(lambda m, args, out: store.__setitem__("a", args[0]))
    picks: list[list[int]] = []
    rel_sum = torch.zeros(head.in_features)
    try:
        with eval_mode(model), torch.enable_grad():
            for x in images:
                logits = model(x[None])
                a = store["a"]
                (g,) = torch.autograd.grad(logits[0, logits[0].argmax()], a)
                rel = ((a * g)[0].abs().flatten(1).sum(1) if a.ndim > 2 else (a * g)[0].abs()).detach().cpu()
                picks.append(torch.sort(rel, descending=True, stable=True).indices[: min(k_a, rel.numel())].tolist())
                rel_sum[: rel.numel()] += rel
    finally:
        handle.remove()
    order, counts, _ = vote_order(picks, head.in_features, rel_sum, tie_break)
    return [j for j in order if float(counts[j]) > 0]


# ---- the VGG path ------------------------------------------------------------------------------
def vgg_mask(model: nn.Module, neurons: list[int], target_class: int) -> Mask:
    """Their VGG edit: rows n of the third-to-last linear layer and entries [c, n] of the second-to-last."""
    linears = linear_layers(model)
    if len(linears) < 3:
        raise ConfigError("the VGG recipe needs a classifier of at least three linear layers (FC-FC-FC).")
    (fc1_name, fc1), (fc2_name, fc2) = linears[-3], linears[-2]
    entries = {n: torch.zeros_like(p, dtype=torch.bool, device="cpu") for n, p in model.named_parameters()}
    for n in neurons:
        if n < fc1.out_features:
            entries[f"{fc1_name}.weight"][n, :] = True
        if n < fc2.in_features and target_class < fc2.out_features:
            entries[f"{fc2_name}.weight"][target_class, n] = True
    return Mask(entries, {"recipe": "vgg16-imagenet"})


def head_target_mask(model: nn.Module, neurons: list[int], target_class: int) -> Mask:
    """Their ViT edit: W_head[c, n] for the selected n."""
    name, head = linear_layers(model)[-1]
    entries = {n: torch.zeros_like(p, dtype=torch.bool, device="cpu") for n, p in model.named_parameters()}
    for n in neurons:
        if n < head.in_features:
            entries[f"{name}.weight"][target_class, n] = True
    return Mask(entries, {"recipe": "vit-mufac"})


__all__ = ["ARCHITECTURE_MATCHES", "CONFIG_SOURCE", "RECIPES", "SOURCE", "PaperRecipe", "get_recipe", "grad_x_act_ranking", "head_target_mask", "linear_layers", "recipe_for", "vgg_mask"]


# ---- running a recipe ------------------------------------------------------------------------------
@dataclass
class RecipeResult:
    model: nn.Module
    recipe: PaperRecipe
    neurons: list[int]
    k_a: int
    k_p: int
    num_neurons: int
    mask: Mask
    seconds: float
    tie_break: str = "first-occurrence"

    def summary(self) -> dict[str, object]:
        return {
            "recipe": self.recipe.name,
            "their_model": self.recipe.their_model,
            "source": self.recipe.source,
            "k_a": self.k_a,
            "k_p": self.k_p,
            "num_neurons": self.num_neurons,
            "perturbed_entries": self.mask.num_selected(),
            "seconds": self.seconds,
            "tie_break": self.tie_break,
            "edited_neurons": len(self.neurons),
            "neurons": self.neurons[:20],
        }


def run_recipe(
    model: nn.Module,
    target_class: int,
    images: torch.Tensor,
    recipe: PaperRecipe,
    perturbation: str = "cut",
    scale: float = 1.0,
    seed: int = 0,
    k_a: int | None = None,
    k_p: int | None = None,
    tie_break: str = "first-occurrence",
) -> RecipeResult:
    """Apply ``recipe`` to ``model`` in place: rank the classifier-input neurons, edit the top K_p's weights.

    As in the authors' code, only neurons some image voted for are edited, ties in the vote going to the
    first occurrence (``tie_break="relevance-sum"`` is the named variant).
    """
    import time

    from .localizer import rank_neurons
    from .perturb import perturb

    start = time.perf_counter()
    num_neurons = linear_layers(model)[-1][1].in_features
    scaled_a, scaled_p = recipe.counts(num_neurons)
    k_a, k_p = k_a or scaled_a, k_p if k_p is not None else scaled_p
    with eval_mode(model):
        if recipe.relevance == "grad-x-act":
            order = grad_x_act_ranking(model, images, k_a, tie_break)
        else:
            ranking = rank_neurons(model, images, None, k_a, tie_break=tie_break)
            order, num_neurons = ranking.voted, ranking.path.num_neurons
        neurons = order[:k_p]
        if recipe.edit == "in+target":
            mask = ranking.path.mask(model, neurons, target_class, "target", True, False)
        elif recipe.edit == "all-columns":
            mask = ranking.path.mask(model, neurons, target_class, "all", False, False)
        elif recipe.edit == "vgg-fc1-fc2":
            mask = vgg_mask(model, neurons, target_class)
        else:
            mask = head_target_mask(model, neurons, target_class)
        perturb(model, mask, perturbation, scale, seed)
    return RecipeResult(model, recipe, list(neurons), int(k_a), int(k_p), int(num_neurons), mask, time.perf_counter() - start, tie_break)


__all__ += ["RecipeResult", "run_recipe"]
