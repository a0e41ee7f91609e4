"""Family support: a method, localizer or metric on a model family it was not built for is refused at load.

Each unlearner, localizer and metric declares its families (``Registry.families``). Without this
check a classifier unlearner on a GAN runs with status ok and rewrites most of its weights, and an
LM unlearner on a classifier fails only after the original and the oracles have trained. The
check costs no training: it reads the resolved config and the registries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .evaluate.registry import METRIC_SETS, METRICS, resolve_metrics
from .family import family_of
from .localize import LOCALIZERS
from .registry import Registry
from .unlearn import UNLEARNERS

if TYPE_CHECKING:
    from .experiments.config import ExperimentConfig


Families = str | tuple[str, ...]


def supports(registry: Registry[Any], name: str, family: Families) -> bool:
    """``family`` is one name or a family's lineage (its name and its base families' names)."""
    return any(registry.supports(name, f) for f in ((family,) if isinstance(family, str) else family))


def names_for(registry: Registry[Any], family: Families) -> list[str]:
    return [n for n in registry.names() if supports(registry, n, family)]


def metric_set_supports(name: str, family: Families) -> bool:
    """A named metric set suits a family when every metric in it does."""
    return all(supports(METRICS, metric, family) for metric, _ in resolve_metrics(METRIC_SETS[name], name))


def metric_sets_for(family: Families) -> list[str]:
    return [name for name in sorted(METRIC_SETS) if metric_set_supports(name, family)]


def _refuse(key: str, kind: str, name: str, registry: Registry[Any], family: str, lineage: tuple[str, ...], extra: list[str] | None = None) -> ConfigError:
    choices = names_for(registry, lineage) + (extra or [])
    return ConfigError(f"{key}: the {kind} {name!r} supports the families {list(registry.families(name))}, not {family!r}; for the {family} family choose one of {choices}.")


def check_family_support(config: ExperimentConfig) -> None:
    """Every method's unlearner and localizer, and every configured metric (sets expanded), must support ``config.family``."""
    family, lineage = config.family, family_of(config).lineage()
    for i, method in enumerate(config.methods):
        unlearner = method.unlearner or method.name
        if unlearner in UNLEARNERS and not supports(UNLEARNERS, unlearner, lineage):
            raise _refuse(f"methods.{i}.unlearner", "unlearner", unlearner, UNLEARNERS, family, lineage)
        if method.localizer is not None and method.localizer in LOCALIZERS and not supports(LOCALIZERS, method.localizer, lineage):
            raise _refuse(f"methods.{i}.localizer", "localizer", method.localizer, LOCALIZERS, family, lineage)
    for i, item in enumerate(config.evaluation.metrics):
        if isinstance(item, str) and item in METRIC_SETS:
            if not metric_set_supports(item, lineage):
                bad = [m for m, _ in resolve_metrics(METRIC_SETS[item], item) if not supports(METRICS, m, lineage)]
                raise ConfigError(
                    f"evaluation.metrics.{i}: the metric set {item!r} holds metrics that do not support the {family} family ({bad}); "
                    f"for {family} choose a set from {metric_sets_for(lineage)} or metrics from {names_for(METRICS, lineage)}."
                )
            continue
        for metric, _ in resolve_metrics([item], "example"):
            if not supports(METRICS, metric, lineage):
                raise _refuse(f"evaluation.metrics.{i}", "metric", metric, METRICS, family, lineage, metric_sets_for(lineage))
