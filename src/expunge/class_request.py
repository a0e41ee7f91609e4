"""A class-removal request for the one-call API: ``expunge.ForgetClass(3)`` where forget indices would go.

``expunge.unlearn(model, expunge.ForgetClass(3), dataset=train, method=...)`` forgets every
training example of class 3 and keeps the rest, exactly as ``split.kind: class`` does in a config;
``expunge.evaluate(result, expunge.ForgetClass(3), test=..., dataset=train, oracles=... | retrain=...)``
then scores the ``class`` metric set and its calibrated verdict. Training-free methods (``zero_shot``
and its variants) read only ``analysis``: a few *unseen* inputs of the class, which the pipeline
carves from the test split and the user supplies here (keep them out of ``test``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .data.adapters import Parts, as_tensors, is_index_list
from .data.base import IndexedTensorDataset
from .errors import ConfigError


@dataclass(frozen=True)
class ForgetClass:
    """Forget every training example of ``classes`` (one class index or several).

    - ``analysis``: unseen inputs of the class, for training-free methods (``zero_shot``, ``lra_npp_paper``,
      ``noise_gn`` ...): a tensor of inputs, a ``Dataset`` / ``DataLoader`` of ``(x, y)`` pairs of the class,
      or ``(inputs, labels)``. Not used by methods that train.
    - ``others``: optional unseen ``(x, y)`` of the other classes (``zero_shot``'s ``k_p='auto'`` rule).
    """

    classes: int | Sequence[int]
    analysis: Any = None
    others: Any = None

    def targets(self) -> list[int]:
        """The classes as a sorted list of ints; bad values are a ConfigError naming ``ForgetClass``."""
        raw = [self.classes] if isinstance(self.classes, (int, np.integer)) else list(self.classes)
        if not raw or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in raw):
            raise ConfigError(f"ForgetClass({self.classes!r}): give a class index or a list of them, e.g. ForgetClass(3).")
        if len(set(raw)) != len(raw):
            raise ConfigError(f"ForgetClass({self.classes!r}) names a class twice.")
        return sorted(int(c) for c in raw)


@dataclass
class ClassParts:
    """The training data split by class, and the extras class metrics and unlearners read (``forget_classes``, analysis images)."""

    parts: Parts
    classes: list[int]
    extras: dict[str, Any]


def _pairs(data: Any, what: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Inputs (and labels when there are any) of a tensor, an ``(inputs, labels)`` pair or a Dataset / DataLoader."""
    if isinstance(data, torch.Tensor):
        return data, None
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        return data[0], torch.as_tensor(data[1]).long().reshape(-1)
    if not isinstance(data, (Dataset, DataLoader)):
        raise ConfigError(f"ForgetClass.{what}: give a tensor of inputs, (inputs, labels) or a Dataset / DataLoader of (x, y) pairs, got {type(data).__name__}.")
    return as_tensors(data)


def class_parts(request: ForgetClass, retain: Any, dataset: Any) -> ClassParts:
    """Forget = every example of the classes in ``dataset``; retain = every other one. A class not in the data is a ConfigError."""
    if dataset is None or is_index_list(dataset):
        raise ConfigError("ForgetClass needs dataset=... (the training data whose examples of the class are forgotten).")
    if retain is not None:
        raise ConfigError("retain= cannot be combined with ForgetClass: every example of the other classes is kept; leave retain out.")
    classes = request.targets()
    inputs, targets = as_tensors(dataset)
    labels = targets.numpy()
    present = sorted(int(c) for c in np.unique(labels))
    bad = [c for c in classes if c not in present]
    if bad:
        raise ConfigError(f"ForgetClass({request.classes!r}): class {bad} has no example in the dataset, whose classes are {present}; give one of those.")
    forget = np.where(np.isin(labels, classes))[0].astype(np.int64)
    kept = np.where(~np.isin(labels, classes))[0].astype(np.int64)
    if len(kept) == 0:
        raise ConfigError(f"ForgetClass({request.classes!r}) covers every example of the dataset; nothing would be kept.")
    extras: dict[str, Any] = {"forget_classes": classes}
    if request.analysis is not None:
        x, y = _pairs(request.analysis, "analysis")
        if y is not None and not bool(torch.isin(y, torch.as_tensor(classes)).all()):
            raise ConfigError(f"ForgetClass.analysis holds labels {sorted(set(y.tolist()) - set(classes))} outside the forgotten classes {classes}; give unseen inputs of the class only.")
        extras["analysis_images"] = _same_shape(x, inputs, "analysis")
    if request.others is not None:
        x, y = _pairs(request.others, "others")
        if y is None:
            raise ConfigError("ForgetClass.others needs labels: give (inputs, labels) or a Dataset of (x, y) pairs.")
        if bool(torch.isin(y, torch.as_tensor(classes)).any()):
            raise ConfigError(f"ForgetClass.others must not contain the forgotten classes {classes}.")
        extras["other_images"] = (_same_shape(x, inputs, "others"), y)
    dataset_ = IndexedTensorDataset(inputs, targets)
    return ClassParts(Parts(dataset_, {"forget": forget, "retain": kept}), classes, extras)


def _same_shape(x: torch.Tensor, inputs: torch.Tensor, what: str) -> torch.Tensor:
    if tuple(x.shape[1:]) != tuple(inputs.shape[1:]):
        raise ConfigError(f"ForgetClass.{what}: inputs of shape {tuple(x.shape[1:])}, but the dataset's are {tuple(inputs.shape[1:])}.")
    return x.to(inputs.dtype)


__all__ = ["ClassParts", "ForgetClass", "class_parts"]
