"""The ``gan`` model family: builder, training loop, localizer loss and metric inputs.

Config: ``family: gan``, ``model.options`` are ``GANOptions`` (arch, latent_dim, width,
conditional, Adam betas, reference classifier), ``recipe`` gives epochs, lr (Adam), batch_size
and seed; the recipe's momentum, weight decay and schedule do not apply to GAN training
(Adam with constant lr, as in DCGAN).

``extras(config, data, device)`` provides what the ``gan`` metric set needs:
``reference_classifier`` (a classifier of the shared model registry, ``cnn`` for images and
``mlp`` for flat data, trained once with the shared training loop on a class-stratified subset
of the *full* training set and cached in the shared ModelCache under kind ``gan-reference``)
and ``forget_classes`` (``config.split.classes`` for a class split, else None).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..cache import ModelCache
from ..family import FAMILIES, Family, FamilyData
from ..hparams import validate_params
from ..train import Recipe, epoch_batches, train
from .models import GANOptions, build_gan
from .report import sample_grid_path, sample_grid_section, write_sample_grid
from .train import bce, train_gan

if TYPE_CHECKING:
    from ..experiments.config import ExperimentConfig
    from ..experiments.context import Context


def gan_options(config: Any) -> GANOptions:
    """``model.options`` checked (ConfigError naming the key); ``model.name`` ``mlp_gan`` implies ``arch: mlp`` unless given.

    Duck-typed on ``config`` (anything with ``model.name`` / ``model.options``) so tests can check options alone."""
    model = getattr(config, "model", None)
    options = dict(getattr(model, "options", None) or {})
    if getattr(model, "name", None) == "mlp_gan":
        options.setdefault("arch", "mlp")
    return GANOptions(**validate_params(GANOptions, options, "model.options"))


def data_scaling(inputs: torch.Tensor, options: GANOptions, data_shape: tuple[int, ...]) -> tuple[float, float]:
    """(shift, scale) mapping the dataset's range onto [-1, 1] for a tanh generator; identity otherwise."""
    output = options.output if options.output != "auto" else ("tanh" if len(data_shape) == 3 else "linear")
    if output != "tanh":
        return 0.0, 1.0
    lo, hi = float(inputs.min()), float(inputs.max())
    scale = 2.0 / (hi - lo) if hi > lo else 1.0
    return -lo * scale - 1.0, scale


@FAMILIES.register("gan", "generative adversarial networks (DCGAN-style, optionally conditional): item and class unlearning")
class GANFamily(Family):
    name = "gan"
    metric_set = "gan"
    options_type = GANOptions

    def options(self, config: ExperimentConfig) -> GANOptions:
        return gan_options(config)

    def build(self, config: ExperimentConfig, data: FamilyData, seed: int, device: torch.device) -> nn.Module:
        options = gan_options(config)
        bundle = data.bundle
        gan = build_gan(bundle.input_shape, bundle.num_classes, options, seed=seed)
        gan.set_scaling(*data_scaling(bundle.train.inputs, options, bundle.input_shape))
        return gan.to(device)

    def fit(self, model: nn.Module, config: ExperimentConfig, data: FamilyData, indices: np.ndarray, recipe: Recipe, device: torch.device, progress: bool = True, desc: str = "gan") -> dict[str, Any]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(recipe.seed)
            batches = epoch_batches(data.bundle.train, np.asarray(indices), recipe.batch_size, recipe.seed)
            info = train_gan(model, batches, recipe.epochs, recipe.lr, device, progress=progress, desc=desc)
        return {**info, "device": str(device)}

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """D's loss calling ``batch`` real plus G's non-saturating loss on as many samples (fixed noise),
        so localizers score both networks' parameters."""
        x, y = batch[0], batch[1]
        x = model.to_gan(x.to(model.shift.device))
        y = y.to(model.shift.device) if model.conditional else None
        z = model.noise(len(x), torch.Generator().manual_seed(0))
        d_real = model.score(x, y)
        d_gen = model.score(model.generate(z, y), y)
        return bce(d_real, torch.ones_like(d_real)) + bce(d_gen, torch.ones_like(d_gen))

    def artifacts(self, ctx: Context, name: str, model: nn.Module, out_dir: Path) -> dict[str, Any]:
        """After each run: before / after / oracle sample grid (same latent codes), indexed for the report."""
        models: dict[str, Any] = {"before": ctx.original.model, "after": model, "oracle": ctx.oracles[0].model}
        path = write_sample_grid(sample_grid_path(out_dir, name), models, index_dir=out_dir, caption=name)
        return {"sample_grid": str(path)}

    def report_section(self, run_dir: Path) -> list[str]:
        return sample_grid_section(run_dir)

    def extras(self, config: ExperimentConfig, data: FamilyData, device: torch.device) -> dict[str, Any]:
        classes = config.split.classes if config.split.kind == "class" else None
        return {
            "reference_classifier": reference_classifier(data.bundle, self.options(config), device, config.cache_dir, progress=not config.quiet),
            "forget_classes": list(classes) if classes else None,
        }


def reference_classifier(bundle: Any, options: GANOptions, device: torch.device, cache_dir: str | Path | None = None, progress: bool = False) -> nn.Module:
    """The metrics' classifier: trained once on a stratified subset of the full training set, cached."""
    from ..models import build_model

    name = options.reference_model if options.reference_model != "auto" else ("cnn" if len(bundle.input_shape) == 3 else "mlp")
    targets = bundle.train_targets()
    n = len(targets) if options.reference_train_size is None else min(options.reference_train_size, len(targets))
    rng = np.random.default_rng(0)
    indices = np.sort(rng.permutation(len(targets))[:n])
    recipe = Recipe(epochs=options.reference_epochs, lr=0.05, momentum=0.9, batch_size=128, seed=0)
    spec = {"dataset": bundle.name, "source": bundle.source, "num_train": len(targets), "model": name, "n": n, "recipe": recipe.to_dict()}
    cache = ModelCache(Path(cache_dir).expanduser() if cache_dir else None)

    def build() -> nn.Module:
        return build_model(name, bundle.input_shape, bundle.num_classes, seed=0).to(device)

    def fit(model: nn.Module) -> dict[str, Any]:
        log = train(model, epoch_batches(bundle.train, indices, recipe.batch_size, 0), recipe, device, progress=progress, desc="gan reference classifier")
        return {"train_seconds": log.seconds, "epoch_losses": log.epoch_losses}

    model, _ = cache.get_or_train("gan-reference", spec, build, fit)
    return model.to(device).eval()
