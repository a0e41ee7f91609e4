"""Zero-shot class unlearning (LRA-NPP, arXiv 2410.23693) as unlearners of the shared pipeline.

- ``zero_shot``: LRA-NPP through ``expunge.zeroshot.zero_shot_unlearn``. Default: the authors' recipe
  for the architecture (path and K_p ratio; the same edit as ``lra_npp_paper``), because the default
  study (docs/methods/zero-shot-recipes.md) found no training-free variant closer to the oracle than
  ``output_mask`` on relearn and probe distance. Options: K_p by a rule on the unseen images
  (``k_p='auto'``), other paths (``path='custom'`` with ``out_scope`` / ``cut_in``).
- ``lra_npp_paper``: the authors' recipe for the architecture at hand (``expunge.zeroshot.recipes``:
  MNIST CNN, ResNet, VGG or ViT path, their K_a / K_p as fractions of the analysed neurons).
- ``noise_gn`` / ``noise_ln``: the authors' noise baselines: N(0, σ²) or Laplace(0, b) added to
  the same weights their recipe would zero.

The recipe is chosen by name (``recipe``) or by a documented architecture match; an unknown architecture is a
ConfigError naming the recipes. Ties in the neuron vote go to the first occurrence, as in the authors' code
(``tie_break='relevance-sum'`` is the named variant).

Every one reads only ``task.analysis_images`` (unseen images of the class, carved from the test
split by the runner) and, for ``zero_shot``'s K_p rule, ``task.other_images``; never the training set.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..hparams import hp
from ..masks import Mask
from .base import UNLEARNERS, UnlearningTask
from .output_mask import check_class, forget_class

RECIPE_CHOICES = ["auto", "mnist-cnn", "resnet-cifar10", "resnet-cifar100", "vgg16-imagenet", "vit-mufac"]  # expunge.zeroshot.recipes.RECIPES (tested equal)
TIE_BREAK_CHOICES = ["first-occurrence", "relevance-sum"]  # expunge.zeroshot.localizer.TIE_BREAKS (tested equal)
# recipe edit -> (out_scope, cut_in) of expunge's neuron paths (the same weights the authors' code edits)
RECIPE_PATHS = {"in+target": ("target", True), "all-columns": ("all", False)}


def analysis_inputs(task: UnlearningTask, method: str, target: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """The unseen images the method may read, checked: a clear error if absent, a warning with the measured risk if few."""
    x = task.analysis_images
    if x is None or len(x) == 0:
        raise ConfigError(
            f"{method} needs a few unseen images of class {target}: set split.analysis_images (e.g. 36, the authors' size), or in the API expunge.ForgetClass({target}, analysis=unseen_inputs)."
        )
    from ..zeroshot.method import MIN_RELIABLE_ANALYSIS_IMAGES, measured_risk  # lazy, as the method itself

    if len(x) < MIN_RELIABLE_ANALYSIS_IMAGES:
        warnings.warn(
            f"{method}: only {len(x)} analysis images; measured on Fashion-MNIST, fewer than {MIN_RELIABLE_ANALYSIS_IMAGES} often leave part of the class "
            f"({measured_risk()}); use {MIN_RELIABLE_ANALYSIS_IMAGES} or more.",
            stacklevel=3,
        )
    other = task.other_images
    if other is not None:
        images, labels = other
        if len(images) == 0:
            other = None
        elif bool((labels == target).any()):
            raise ConfigError(f"{method}: task.other_images must not contain class {target}.")
    return x.to(task.device), None if other is None else (other[0].to(task.device), other[1])


@UNLEARNERS.register("zero_shot", "LRA-NPP from unseen images only; default = the authors' recipe for the architecture; options: K_p by a rule (k_p=auto), custom paths")
@dataclass
class ZeroShot:
    """Fields mirror ``expunge.zeroshot.ZeroShotConfig``.

    Default: the authors' recipe for the architecture (``path='recipe'``, ``k_p='recipe'``), i.e. the same
    edit as ``lra_npp_paper``. The default study (docs/methods/zero-shot-recipes.md) found no training-free
    variant that is closer to the oracle than ``output_mask`` on both the relearn attack and the feature probe,
    so expunge's own variants (``k_p='auto'``, ``path='custom'`` with target-row / in+out paths) are options,
    not the default.
    """

    path: str = hp("recipe", choices=["recipe", "custom"], doc="recipe: the authors' path for this architecture (expunge.zeroshot.recipes) with K_p by the rule; custom: out_scope / cut_in below")
    recipe: str = hp("auto", choices=RECIPE_CHOICES, doc="the authors' recipe by name; auto = the documented architecture match (an unknown architecture is an error naming the recipes)")
    tie_break: str = hp("first-occurrence", choices=TIE_BREAK_CHOICES, doc="equal vote counts: the authors' first occurrence (image order, then rank) or relevance-sum (named variant)")
    layer: str | None = hp(None, doc="analysed layer (module name of a top-level Linear/Conv2d); None = the last linear layer")
    rule: str = hp("epsilon", choices=["epsilon", "zplus", "alphabeta"], doc="LRP rule")
    epsilon: float = hp(0.1, low=0.0, low_open=True, doc="ε of the ε-rule (the authors' 0.1)")
    k_a: int | None = hp(None, low=1, doc="per-image top neurons; None = 10% of the analysed neurons")
    k_p: int | float | str = hp("recipe", doc="'recipe' (the authors' K_p ratio for this architecture), 'auto' (smallest K meeting the rule), a count, or a fraction in (0, 1)")
    perturbation: str = hp("cut", choices=["cut", "gaussian", "laplace"], doc="zero the path, or add noise to it")
    scale: float = hp(1.0, low=0.0, doc="noise std / Laplace scale")
    out_scope: str = hp("auto", choices=["auto", "target", "all", "none"], doc="outgoing weights edited: target row, all classes, none")
    cut_in: bool = hp(False, doc="also zero the rows producing the selected neurons (cuts the features, not only the output)")
    cut_bias: bool = hp(False, doc="also zero the producing biases / BN shifts (the neuron outputs 0, not a constant)")
    max_target_rate: float = hp(0.0, low=0.0, high=1.0, doc="K rule: analysis images still predicted as the class")
    max_other_drop: float = hp(0.0, low=0.0, high=1.0, doc="K rule: accuracy drop allowed on the other-class images")
    max_target_confidence: float | None = hp(None, low=0.0, high=1.0, doc="K rule: target confidence bound; None = chance")
    confidence: str = hp("max", choices=["max", "mean"], doc="K rule bounds the max or the mean target confidence")
    max_k: int | None = hp(None, low=1, doc="largest K the rule may scan")
    escalate: bool = hp(True, doc="with k_p=auto: move to a more invasive path when this one cannot remove the class")
    bn: str = hp("fold", choices=["fold", "pass"], doc="BatchNorm handling in LRP")
    name: str = "zero_shot"

    def config(self, seed: int, model: nn.Module | None = None):
        """The ZeroShotConfig; with ``path='recipe'`` the recipe's path (out_scope, cut_in) and K_a replace the fields."""
        from ..zeroshot.method import ZeroShotConfig

        fields = {
            k: getattr(self, k)
            for k in (
                "layer",
                "rule",
                "epsilon",
                "k_a",
                "k_p",
                "perturbation",
                "scale",
                "out_scope",
                "cut_in",
                "cut_bias",
                "max_target_rate",
                "max_other_drop",
                "max_target_confidence",
                "confidence",
                "max_k",
                "escalate",
                "bn",
                "tie_break",
            )
        }
        if model is not None and (self.path == "recipe" or self.k_p == "recipe"):
            from ..zeroshot.recipes import get_recipe, linear_layers

            recipe = get_recipe(self.recipe, model)
            k_a, k_p = recipe.counts(linear_layers(model)[-1][1].in_features)
            if self.path == "recipe":
                scope, rows = RECIPE_PATHS[recipe.edit]
                fields.update(out_scope=scope, cut_in=rows, k_a=self.k_a or k_a, layer=None, voted_only=True)
            if self.k_p == "recipe":
                fields.update(k_p=k_p)
        elif self.k_p == "recipe":
            raise ConfigError("k_p='recipe' needs the model (ZeroShot.config(seed, model)).")
        return ZeroShotConfig(**fields, seed=seed)

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        from ..zeroshot.method import zero_shot_unlearn

        target = forget_class(task, self.name)
        check_class(model, target, self.name)
        x, other = analysis_inputs(task, self.name, target)
        if self.path == "recipe":
            from ..zeroshot.recipes import get_recipe, run_recipe

            recipe = get_recipe(self.recipe, model)
            if recipe.edit not in RECIPE_PATHS:  # VGG / ViT paths are not neuron paths of one layer: their recipe as written
                fixed = self.k_p if isinstance(self.k_p, int) and not isinstance(self.k_p, bool) else None
                result = run_recipe(model.to(task.device), target, x, recipe, self.perturbation, self.scale, task.seed, self.k_a, fixed, self.tie_break)
                task.notes.update(result.summary() | {"path": recipe.name})
                return result.model
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="only .* analysis images")  # analysis_inputs already warned
            result = zero_shot_unlearn(model.to(task.device), target, x, other, self.config(task.seed, model), inplace=True)
        summary = result.summary()
        task.notes.update({k: summary[k] for k in ("k_p", "k_a", "path", "layer", "num_neurons", "perturbed_entries", "selection_met", "selection_reason", "seconds")})
        task.notes["tie_break"] = self.tie_break
        return result.model


@UNLEARNERS.register("lra_npp_paper", "LRA-NPP as in the authors' code: their recipe for the architecture (MNIST CNN / ResNet / VGG / ViT path, K_a / K_p)")
@dataclass
class LraNppPaper:
    """The authors' per-architecture recipe (``expunge.zeroshot.recipes``), chosen from the model unless ``recipe`` names one."""

    recipe: str = hp("auto", choices=RECIPE_CHOICES, doc="the authors' recipe by name; auto = the documented architecture match (an unknown architecture is an error naming the recipes)")
    perturbation: str = hp("cut", choices=["cut", "gaussian", "laplace"], doc="cut (LRA-NPP), gaussian (Noise-GN) or laplace (Noise-LN) on the same weights")
    scale: float = hp(1.0, low=0.0, doc="noise std / Laplace scale (theirs: 1.0)")
    k_a: int | None = hp(None, low=1, doc="override K_a; None = the recipe's ratio of the analysed neurons")
    k_p: int | None = hp(None, low=0, doc="override K_p; None = the recipe's ratio of the analysed neurons")
    tie_break: str = hp("first-occurrence", choices=TIE_BREAK_CHOICES, doc="equal vote counts: the authors' first occurrence (image order, then rank) or relevance-sum (named variant)")
    name: str = "lra_npp_paper"

    def unlearn(self, model: nn.Module, task: UnlearningTask, mask: Mask | None = None) -> nn.Module:
        from ..zeroshot.recipes import get_recipe, run_recipe

        target = forget_class(task, self.name)
        check_class(model, target, self.name)
        x, _ = analysis_inputs(task, self.name, target)
        model = model.to(task.device)
        recipe = get_recipe(self.recipe, model)
        start = time.perf_counter()
        result = run_recipe(model, target, x, recipe, self.perturbation, self.scale, task.seed, self.k_a, self.k_p, self.tie_break)
        task.notes.update(result.summary() | {"seconds": time.perf_counter() - start})
        return result.model


@UNLEARNERS.register("noise_gn", "the authors' Noise-GN baseline: N(0, 1) added to the weights their recipe zeroes")
@dataclass
class NoiseGN(LraNppPaper):
    perturbation: str = hp("gaussian", choices=["gaussian"], doc="fixed: Gaussian noise")
    name: str = "noise_gn"


@UNLEARNERS.register("noise_ln", "the authors' Noise-LN baseline: Laplace(0, 1) added to the weights their recipe zeroes")
@dataclass
class NoiseLN(LraNppPaper):
    perturbation: str = hp("laplace", choices=["laplace"], doc="fixed: Laplace noise")
    name: str = "noise_ln"
