"""Import every built-in component so that its registry entries exist.

Registries fill when their modules are imported. Lower layers never import higher ones
(``localize`` does not import ``zeroshot``); this module, imported by the config layer and the
command line, is the one place that pulls every built-in family, method and metric in.
"""

from . import concept, data, evaluate, family, gan, lm, localize, models, unlearn, zeroshot  # noqa: F401

__all__ = ["concept", "data", "evaluate", "family", "gan", "lm", "localize", "models", "unlearn", "zeroshot"]
