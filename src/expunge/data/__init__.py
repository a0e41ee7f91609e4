"""Datasets (registry, Fashion-MNIST, synthetic) and forget-set splits."""

from . import cifar10, fashion_mnist, forget_modes, synthetic  # noqa: F401  (register the built-in datasets and builders)
from .base import DatasetBundle, IndexedTensorDataset, TensorBatches, make_loader
from .corruption import CORRUPTIONS, corrupt
from .registry import DATASETS
from .splits import SPLIT_BUILDERS, ForgetSplit, build_split


def load_dataset(name: str, **options: object) -> DatasetBundle:
    """Load a registered dataset by name, e.g. ``load_dataset("fashion_mnist")``."""
    return DATASETS.get(name)(**options)


__all__ = [
    "CORRUPTIONS",
    "corrupt",
    "DATASETS",
    "SPLIT_BUILDERS",
    "DatasetBundle",
    "ForgetSplit",
    "IndexedTensorDataset",
    "TensorBatches",
    "build_split",
    "load_dataset",
    "make_loader",
]
