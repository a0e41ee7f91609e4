"""The dataset registry (kept apart so loaders can register without import cycles)."""

from ..registry import Registry

DATASETS: Registry = Registry("dataset", entry_point_group="expunge.datasets")
