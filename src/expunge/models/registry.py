"""The model registry: builders take the input shape and the number of classes."""

from ..registry import Registry

MODELS: Registry = Registry("model", entry_point_group="expunge.models")
