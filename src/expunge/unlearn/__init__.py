"""Unlearning algorithms, each ``UNLEARNERS.get(name)(**hyperparams)``; all accept an optional mask."""

from . import bad_teacher, finetune, gradient_ascent, l1_sparse, output_mask, random_label, reset_finetune, retrain_budget, scrub, ssd, zero_shot  # noqa: F401  (register built-ins)  # noqa: F401  (class-unlearning baselines and LRA-NPP)
from .base import UNLEARNERS, Unlearner, UnlearningTask
from .reset_finetune import RESETS, reset_masked

__all__ = ["RESETS", "UNLEARNERS", "Unlearner", "UnlearningTask", "reset_masked"]
