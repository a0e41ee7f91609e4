"""Small pieces the training-based unlearners share (teachers, KL, paired batches).

Every unlearner here trains through ``expunge.train.train`` (hence through ``MaskedUpdate``);
these helpers only shape its batches and losses, so no algorithm re-implements the loop,
the schedule, the NaN check or the masking.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn

from ..train import Batch
from ..utils import eval_mode
from .base import UnlearningTask


def frozen_copy(model: nn.Module) -> nn.Module:
    """A teacher: a deep copy in eval mode whose parameters never receive gradients."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` (e.g. a freshly built incompetent teacher) in eval mode without gradients."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def kl_to_teacher(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(p_teacher ‖ p_student) at temperature T, averaged over the batch and scaled by T².

    This is Hinton-style distillation as in SCRUB's and Bad Teacher's code (``kl_div(log p_s, p_t)``);
    the T² factor keeps gradient sizes comparable across temperatures.
    """
    log_student = nn.functional.log_softmax(student_logits / temperature, dim=1)
    return nn.functional.kl_div(log_student, teacher_probs, reduction="batchmean") * temperature**2


def teacher_probs(teacher: nn.Module, x: torch.Tensor, temperature: float) -> torch.Tensor:
    with torch.no_grad():
        return nn.functional.softmax(teacher(x) / temperature, dim=1)


def num_batches(count: int, batch_size: int) -> int:
    return -(-int(count) // int(batch_size))


def zip_cycle(first: Iterable[Batch], second: Iterable[Batch]) -> Iterator[tuple[Batch, Batch]]:
    """``zip(first, cycle(second))`` as in DEL's code: the epoch lasts one pass over ``first``."""
    return zip(first, itertools.cycle(second))


def paired_batches(task: UnlearningTask, batch_size: int, retain_offset: int = 1, forget_offset: int = 2) -> Callable[[int], Iterator[tuple[torch.Tensor, ...]]]:
    """Per epoch: (x_r, y_r, i_r, x_f, y_f, i_f) tuples, one per retain batch, forget batches cycled."""
    retain = task.batches("retain", batch_size, retain_offset)
    forget = task.batches("forget", batch_size, forget_offset)

    def make(epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        return (tuple(r) + tuple(f) for r, f in zip_cycle(retain(epoch), forget(epoch)))

    return make


def output_classes(model: nn.Module, task: UnlearningTask) -> int:
    """Number of classes, read from the model's output on one training example (architecture-agnostic)."""
    x = task.train_set.inputs[:1].to(task.device)
    with eval_mode(model), torch.no_grad():
        return int(model(x).shape[1])
