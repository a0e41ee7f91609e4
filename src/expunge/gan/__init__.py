"""Generative adversarial networks: the ``gan`` family, its unlearners, metrics and sample grids.

Importing this package registers: the family ``gan`` (FAMILIES), the unlearners ``gan_cascade``,
``gan_finetune``, ``gan_redaction``, ``gan_retrain`` (UNLEARNERS), the metrics ``gan_*`` and the
metric set ``gan`` (METRICS / METRIC_SETS), the toy dataset ``gan_modes`` (DATASETS) and the
``items`` forget-set builder (SPLIT_BUILDERS).
"""

from . import data, family, metrics, unlearn  # noqa: F401  (registrations)
from .family import GANFamily, gan_options, reference_classifier
from .models import GAN, GANOptions, build_gan
from .report import sample_grid_path, sample_grid_section, write_sample_grid
from .unlearn import GANCascade, GANFinetune, GANRedaction, GANRetrain, check_task

__all__ = [
    "GAN",
    "GANCascade",
    "GANFamily",
    "GANFinetune",
    "GANOptions",
    "GANRedaction",
    "GANRetrain",
    "build_gan",
    "check_task",
    "gan_options",
    "reference_classifier",
    "sample_grid_path",
    "sample_grid_section",
    "write_sample_grid",
]
