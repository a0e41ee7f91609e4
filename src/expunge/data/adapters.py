"""Adapt a user's data to expunge's layout: one in-memory ``IndexedTensorDataset`` plus index parts.

Unlearners, localizers and metrics read ``(x, y, index)`` batches sliced from stacked tensors.
A user holds a ``TensorDataset``, any map-style ``Dataset`` of ``(x, y)`` pairs, a ``Subset``, a
``DataLoader``, or an index list into one dataset. ``gather_parts`` turns any mix of those into
one dataset and the index of each part in it, so the same stages run unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from ..errors import ConfigError
from .base import DatasetBundle, IndexedTensorDataset
from .registry import DATASETS


def is_index_list(obj: Any) -> bool:
    """An index list: a sequence / array / tensor of integers (not a Dataset)."""
    if isinstance(obj, (Dataset, DataLoader)):
        return False
    if isinstance(obj, torch.Tensor):
        return obj.ndim == 1 and not obj.is_floating_point()
    if isinstance(obj, np.ndarray):
        return obj.ndim == 1 and np.issubdtype(obj.dtype, np.integer)
    if isinstance(obj, (list, tuple, range)):
        return all(isinstance(i, (int, np.integer)) for i in obj)
    return False


def _stack(items: Sequence[Any], what: str) -> torch.Tensor:
    try:
        return torch.stack([torch.as_tensor(v) for v in items])
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"the {what} of the dataset items cannot be stacked into one tensor ({exc}); give items of one shape.") from exc


def _materialise(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of every item; items are ``(x, y)`` or ``(x, y, anything)``."""
    if isinstance(dataset, IndexedTensorDataset):
        return dataset.inputs, dataset.targets
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        return dataset.tensors[0], dataset.tensors[1]
    if isinstance(dataset, Subset):
        inputs, targets = _materialise(dataset.dataset)
        index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        return inputs[index], targets[index]
    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigError("an iterable-style dataset has no length; give a map-style Dataset (with __len__ and __getitem__), a DataLoader over one, or a TensorDataset.") from exc
    xs, ys = [], []
    for i in range(n):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ConfigError(f"dataset item {i} is {type(item).__name__}; expunge needs (input, target) pairs, e.g. a TensorDataset(inputs, targets).")
        xs.append(item[0])
        ys.append(item[1])
    if not xs:
        raise ConfigError("the dataset is empty.")
    return _stack(xs, "inputs"), _stack(ys, "targets")


def as_tensors(data: Dataset | DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's (or a DataLoader's dataset's) inputs and targets as stacked tensors."""
    if isinstance(data, DataLoader):
        data = data.dataset
    if not isinstance(data, Dataset):
        raise ConfigError(f"expected a torch Dataset, a DataLoader or an index list, got {type(data).__name__}.")
    inputs, targets = _materialise(data)
    if targets.is_floating_point():
        if not torch.equal(targets, targets.round()):
            raise ConfigError("targets are not whole numbers; expunge's classifier path needs class labels (for language models see docs/methods/language-models.md).")
        targets = targets.long()
    return inputs, targets.reshape(-1)


def as_indexed(data: Dataset | DataLoader) -> IndexedTensorDataset:
    """The expunge layout (``ds[i] = (x, y, i)``) of any map-style dataset or DataLoader."""
    if isinstance(data, IndexedTensorDataset):
        return data
    return IndexedTensorDataset(*as_tensors(data))


@dataclass
class Parts:
    """One dataset holding every part, and each part's indices into it."""

    dataset: IndexedTensorDataset
    indices: dict[str, np.ndarray]


def gather_parts(parts: dict[str, Any], dataset: Dataset | DataLoader | None = None) -> Parts:
    """Datasets, DataLoaders or index lists (into ``dataset``) -> one dataset and each part's indices.

    Index lists keep their positions in ``dataset`` (so a deletion request's indices stay the
    user's own); datasets are appended after it in the order given.
    """
    index_parts = [name for name, value in parts.items() if value is not None and is_index_list(value)]
    if index_parts and dataset is None:
        raise ConfigError(f"{', '.join(index_parts)} given as index lists but no dataset; pass dataset=... (the dataset the indices refer to).")
    inputs: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    offset = 0
    if dataset is not None:
        x, y = as_tensors(dataset)
        inputs.append(x)
        targets.append(y)
        offset = len(y)
    indices: dict[str, np.ndarray] = {}
    for name, value in parts.items():
        if value is None:
            continue
        if is_index_list(value):
            idx = np.asarray(torch.as_tensor(value).cpu().numpy() if isinstance(value, torch.Tensor) else value, dtype=np.int64).reshape(-1)
            if len(idx) and (idx.min() < 0 or idx.max() >= offset):
                raise ConfigError(f"{name} indices out of range [0, {offset}); they refer to positions in `dataset`.")
            indices[name] = idx
        else:
            x, y = as_tensors(value)
            inputs.append(x)
            targets.append(y)
            indices[name] = np.arange(offset, offset + len(y), dtype=np.int64)
            offset += len(y)
    if not inputs:
        raise ConfigError("no data given.")
    shapes = {tuple(x.shape[1:]) for x in inputs}
    if len(shapes) > 1:
        raise ConfigError(f"the parts' inputs differ in shape {sorted(shapes)}; every part must hold inputs of one shape.")
    return Parts(IndexedTensorDataset(torch.cat(inputs), torch.cat(targets)), indices)


TENSOR_KEYS = ("train_inputs", "train_targets", "test_inputs", "test_targets")


def read_tensor_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors by name from safetensors, or from a torch file read with ``weights_only=True``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"dataset.options.path: {path} is not a file; save {', '.join(TENSOR_KEYS)} with safetensors.torch.save_file.")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict):
        raise ConfigError(f"dataset.options.path: {path} holds {type(data).__name__}, not a dict of tensors {TENSOR_KEYS}.")
    return data


@DATASETS.register("tensors", "your own data: train/test inputs and targets from one safetensors (or torch) file")
def load_tensors(path: str, num_classes: int | None = None, name: str | None = None) -> DatasetBundle:
    """``dataset: {name: tensors, options: {path: data.safetensors}}`` with keys ``train_inputs``, ``train_targets``, ``test_inputs``, ``test_targets``.

    The file's contents (not its path) enter every model's cache key (``cache.data_fingerprint``).
    """
    data = read_tensor_file(path)
    missing = [k for k in TENSOR_KEYS if k not in data]
    if missing:
        raise ConfigError(f"dataset.options.path: {path} lacks {missing}; it needs {list(TENSOR_KEYS)}.")
    train = IndexedTensorDataset(data["train_inputs"], data["train_targets"])
    test = IndexedTensorDataset(data["test_inputs"], data["test_targets"])
    classes = num_classes or int(max(int(train.targets.max()), int(test.targets.max()))) + 1
    return DatasetBundle(name or Path(path).stem, train, test, classes, source=str(path))


class AugmentedInputs:
    """Inputs that pass through ``augment(batch, generator)`` whenever a batch is sliced out of them.

    Training loops slice ``dataset.inputs[indices]`` (``TensorBatches``), so wrapping the inputs
    augments every training batch without a second loader; the generator makes it reproducible.
    """

    def __init__(self, inputs: torch.Tensor, augment: Callable[..., torch.Tensor], seed: int) -> None:
        self.tensor = inputs
        self.augment = augment
        self.generator = torch.Generator().manual_seed(seed)
        self.takes_generator = len(inspect.signature(augment).parameters) >= 2

    def __len__(self) -> int:
        return len(self.tensor)

    @property
    def shape(self) -> torch.Size:
        return self.tensor.shape

    def __getitem__(self, index: Any) -> torch.Tensor:
        batch = self.tensor[index]
        return self.augment(batch, self.generator) if self.takes_generator else self.augment(batch)


def augmented(dataset: IndexedTensorDataset, augment: Callable[..., torch.Tensor], seed: int) -> IndexedTensorDataset:
    """``dataset`` whose training batches are augmented (``AugmentedInputs``); targets unchanged."""
    out = IndexedTensorDataset(dataset.inputs, dataset.targets)
    out.inputs = AugmentedInputs(dataset.inputs, augment, seed)  # type: ignore[assignment]
    return out
