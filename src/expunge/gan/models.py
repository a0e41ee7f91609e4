"""DCGAN-style generator and discriminator (28x28, 32x32, any size divisible by 4), an MLP pair for
2-D toy data, optionally class-conditional, wrapped in one ``GAN`` module so the shared
ModelCache (safetensors) stores both halves and the data scaling together.

Pixel space: the generator ends in ``tanh`` (DCGAN), so images live in [-1, 1] inside the GAN.
``GAN.to_gan`` / ``GAN.from_gan`` convert between the dataset's own (standardised) space and
that range with two buffers (``shift``, ``scale``) set by the family from the dataset; samples
are returned in the dataset's space so the shared classifiers can read them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..hparams import hp
from ..models.registry import MODELS


@dataclass
class GANOptions:
    """``model.options`` of the GAN family (checked when the config loads)."""

    arch: str = hp("dcgan", choices=("dcgan", "mlp"), doc="dcgan: conv G/D for images (H, W divisible by 4); mlp: fully connected (toy 2-D data)")
    latent_dim: int = hp(64, low=1, doc="size of the generator's input noise z")
    width: int = hp(32, low=1, doc="base channel width (dcgan: G/D use width and 2*width channels; mlp: hidden units)")
    conditional: bool = hp(False, doc="class-conditional G (label embedding added to z) and projection D")
    beta1: float = hp(0.5, low=0.0, high=1.0, high_open=True, doc="Adam beta1 (DCGAN: 0.5)")
    beta2: float = hp(0.999, low=0.0, high=1.0, high_open=True, doc="Adam beta2")
    output: str = hp("auto", choices=("auto", "tanh", "linear"), doc="generator output: tanh for images, linear for toy data (auto)")
    reference_model: str = hp("auto", doc="reference classifier for the metrics (a MODELS name; auto: cnn for images, mlp otherwise)")
    reference_epochs: int = hp(3, low=1, doc="epochs of the reference classifier (trained once, cached)")
    reference_train_size: int | None = hp(20000, low=10, doc="examples of the full training set it trains on (None: all)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Conditioner(nn.Module):
    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.embed(y)


class _Generator(nn.Module):
    """z (+ label embedding when conditional) -> ``decode``; subclasses build the body after this init."""

    def __init__(self, latent_dim: int, num_classes: int | None, output: str) -> None:
        super().__init__()
        self.cond = _Conditioner(num_classes, latent_dim) if num_classes else None
        self.out = nn.Tanh() if output == "tanh" else nn.Identity()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond is not None and y is not None:
            z = z + self.cond(y)
        return self.decode(z)


class _Discriminator(nn.Module):
    """``features`` -> logit; conditional: projection discriminator, logit + <embed(y), features>."""

    features: nn.Module

    def _add_heads(self, num_features: int, num_classes: int | None) -> None:
        self.head = nn.Linear(num_features, 1)
        self.proj = nn.Embedding(num_classes, num_features) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        f = self.features(x)
        logit = self.head(f).squeeze(1)
        if self.proj is not None and y is not None:
            logit = logit + (self.proj(y) * f).sum(1)
        return logit


class DCGANGenerator(_Generator):
    """z (+ label embedding) -> Linear -> (2w, H/4, W/4) -> ConvT x2 (BN, ReLU) -> C x H x W."""

    def __init__(self, image_shape: Sequence[int], latent_dim: int, width: int, num_classes: int | None, output: str) -> None:
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(f"the DCGAN generator needs H and W divisible by 4, got {h}x{w}; use 28x28 or 32x32 (or arch=mlp).")
        super().__init__(latent_dim, num_classes, output)
        self.start = (2 * width, h // 4, w // 4)
        self.fc = nn.Sequential(nn.Linear(latent_dim, math.prod(self.start), bias=False), nn.BatchNorm1d(math.prod(self.start)), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, c, 4, 2, 1),
        )

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(self.fc(z).view(-1, *self.start)))


class DCGANDiscriminator(_Discriminator):
    """Conv(4, stride 2) x2 with LeakyReLU (no BatchNorm: a D score must not depend on its batch) -> logit."""

    def __init__(self, image_shape: Sequence[int], width: int, num_classes: int | None) -> None:
        super().__init__()
        c, h, w = image_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self._add_heads(2 * width * (h // 4) * (w // 4), num_classes)


class MLPGenerator(_Generator):
    def __init__(self, shape: Sequence[int], latent_dim: int, width: int, num_classes: int | None, output: str) -> None:
        super().__init__(latent_dim, num_classes, output)
        self.shape = tuple(shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, math.prod(shape)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(z)).view(-1, *self.shape)


class MLPDiscriminator(_Discriminator):
    def __init__(self, shape: Sequence[int], width: int, num_classes: int | None) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2))
        self._add_heads(width, num_classes)


class GAN(nn.Module):
    """Generator + discriminator + the dataset <-> GAN pixel scaling, cached as one state dict."""

    def __init__(self, data_shape: Sequence[int], num_classes: int, options: GANOptions) -> None:
        super().__init__()
        self.options = options
        self.data_shape = tuple(data_shape)
        self.num_classes = int(num_classes)
        self.latent_dim = options.latent_dim
        cond = num_classes if options.conditional else None
        output = options.output if options.output != "auto" else ("tanh" if len(self.data_shape) == 3 else "linear")
        if options.arch == "dcgan":
            if len(self.data_shape) != 3:
                raise ValueError(f"arch=dcgan needs image data (C, H, W), got shape {self.data_shape}; use model.options.arch=mlp.")
            self.generator: nn.Module = DCGANGenerator(self.data_shape, options.latent_dim, options.width, cond, output)
            self.discriminator: nn.Module = DCGANDiscriminator(self.data_shape, options.width, cond)
        else:
            self.generator = MLPGenerator(self.data_shape, options.latent_dim, options.width, cond, output)
            self.discriminator = MLPDiscriminator(self.data_shape, options.width, cond)
        self.register_buffer("shift", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    @property
    def conditional(self) -> bool:
        return self.options.conditional

    def set_scaling(self, shift: float, scale: float) -> None:
        """GAN space = data * scale + shift."""
        self.shift.fill_(float(shift))
        self.scale.fill_(float(scale))

    def to_gan(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def from_gan(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.shift.device
        if generator is None:
            return torch.randn(n, self.latent_dim, device=device)
        return torch.randn(n, self.latent_dim, generator=generator).to(device)

    def random_labels(self, n: int, generator: torch.Generator | None = None, classes: Sequence[int] | None = None) -> torch.Tensor | None:
        """Labels for conditional sampling (uniform over ``classes``, default all); None when unconditional."""
        if not self.conditional:
            return None
        pool = torch.as_tensor(list(classes) if classes is not None else range(self.num_classes))
        pick = torch.randint(len(pool), (n,), generator=generator)
        return pool[pick].to(self.shift.device)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in GAN space (what D sees)."""
        return self.generator(z, y if self.conditional else None)

    def score(self, x_gan: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Discriminator logits of images in GAN space (high = real)."""
        return self.discriminator(x_gan, y if self.conditional else None)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, labels: torch.Tensor | None = None, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` samples in the dataset's space (eval mode, fixed seed) and their conditioning labels."""
        was = self.generator.training
        self.generator.eval()
        gen = torch.Generator().manual_seed(seed)
        z = self.noise(n, gen)
        if labels is None:
            labels = self.random_labels(n, gen)
        out = []
        for start in range(0, n, batch_size):
            y = labels[start : start + batch_size] if labels is not None else None
            out.append(self.from_gan(self.generate(z[start : start + batch_size], y)).cpu())
        self.generator.train(was)
        return torch.cat(out), (labels.cpu() if labels is not None else None)

    @torch.no_grad()
    def discriminator_scores(self, x_data: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 500) -> torch.Tensor:
        """D logits for images in the dataset's space (eval mode)."""
        was = self.discriminator.training
        self.discriminator.eval()
        out = []
        for start in range(0, len(x_data), batch_size):
            xb = self.to_gan(x_data[start : start + batch_size].to(self.shift.device))
            yb = y[start : start + batch_size].to(self.shift.device) if y is not None else None
            out.append(self.score(xb, yb).cpu())
        self.discriminator.train(was)
        return torch.cat(out) if out else torch.zeros(0)


def build_gan(data_shape: Sequence[int], num_classes: int, options: GANOptions | dict[str, Any] | None = None, seed: int | None = None) -> GAN:
    """A freshly initialised GAN (DCGAN init: conv weights N(0, 0.02), BN weights N(1, 0.02))."""
    if not isinstance(options, GANOptions):
        options = GANOptions(**(options or {}))
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        gan = GAN(data_shape, num_classes, options)
        for m in gan.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    return gan


@MODELS.register("dcgan", "DCGAN-style generator + discriminator (one GAN module; family: gan sets its pixel scaling)")
def dcgan(input_shape: Sequence[int], num_classes: int, **options: Any) -> GAN:
    return build_gan(input_shape, num_classes, {"arch": "dcgan", **options})


@MODELS.register("mlp_gan", "fully connected generator + discriminator for toy data (family: gan)")
def mlp_gan(input_shape: Sequence[int], num_classes: int, **options: Any) -> GAN:
    return build_gan(input_shape, num_classes, {"arch": "mlp", **options})
