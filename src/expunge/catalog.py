"""A torch-free catalog of every built-in name, so the command line refuses a bad config in well under two seconds.

Importing torch and the whole package costs seconds (8-35 s wall under load); the checks
themselves cost milliseconds. ``catalog.json`` (shipped in the package) lists the config
schema (every section's fields, types and ranges), every registered name per registry, each
unlearner's, localizer's and family's typed options, and the families each component
supports. ``fast_check`` validates a YAML config plus overrides against it before anything
heavy is imported; the full validation (``load_config``) still runs afterwards and stays the
authority, so the catalog only ever refuses earlier, never differently. Names it does not
know (entry-point plugins) are left to the full path.

Refresh after changing a registry or a config dataclass: ``python -m expunge.catalog``
(``tests/hardening/test_catalog.py`` fails while the shipped file is stale).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError
from .hparams import Range, _suggest, coerce_value
from .preflight import apply_overrides, check_config_dict, read_yaml

CATALOG_PATH = Path(__file__).with_name("catalog.json")
ANY_FAMILY = "*"
# registry key in the catalog -> (its entry-point group, the config key that names it)
REGISTRY_GROUPS = {
    "families": "expunge.families",
    "executors": "expunge.executors",
    "datasets": "expunge.datasets",
    "split_builders": "expunge.forget_sets",
    "models": "expunge.models",
    "unlearners": "expunge.unlearners",
    "localizers": "expunge.localizers",
    "metrics": "expunge.metrics",
    "corruptions": "expunge.corruptions",
}


# ---------------------------------------------------------------- building (imports everything)


def encode_type(annotation: Any, sections: dict[str, Any]) -> dict[str, Any]:
    """A type hint as JSON; dataclasses become named sections (filled into ``sections``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or annotation is typing.Any:
        return {"t": "any"}
    if origin is Literal:
        return {"t": "literal", "values": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"t": "union", "of": [encode_type(a, sections) for a in args]}
    if origin in (list, tuple):
        return {"t": "list", "of": encode_type(args[0] if args else Any, sections)}
    if origin is dict or annotation is dict:
        return {"t": "dict"}
    if annotation is type(None):
        return {"t": "none"}
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if annotation.__name__ not in sections:
            sections[annotation.__name__] = {}  # placeholder first: recursive types stop here
            sections[annotation.__name__] = encode_fields(annotation, sections, reserved=())
        return {"t": "section", "name": annotation.__name__}
    if annotation in (int, float, bool, str):
        return {"t": annotation.__name__}
    return {"t": "any"}


def _json_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


def encode_fields(cls: type, sections: dict[str, Any], reserved: tuple[str, ...] = ("name",)) -> dict[str, Any]:
    """``{field: {type, range, default}}`` of a dataclass (``reserved`` names are not settable)."""
    from .hparams import field_range

    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init or f.name in reserved:
            continue
        entry: dict[str, Any] = {"type": encode_type(hints.get(f.name, Any), sections), "default": _json_default(f)}
        rng = field_range(cls, f.name)
        if rng is not None:
            entry["range"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(rng).items()}
        out[f.name] = entry
    return out


def _params(obj: Any, sections: dict[str, Any]) -> dict[str, Any] | None:
    target = getattr(obj, "options_type", obj)
    return encode_fields(target, sections) if isinstance(target, type) and dataclasses.is_dataclass(target) else None


def build_catalog() -> dict[str, Any]:
    """The catalog from the live registries and config dataclasses (imports torch and every built-in)."""
    from . import builtins  # noqa: F401
    from .data import CORRUPTIONS, DATASETS, SPLIT_BUILDERS
    from .evaluate.registry import METRIC_SETS, METRICS
    from .experiments.config import ExperimentConfig
    from .experiments.executors import EXECUTORS
    from .family import FAMILIES
    from .localize import LOCALIZERS
    from .models import MODELS
    from .unlearn import UNLEARNERS

    sections: dict[str, Any] = {}
    encode_type(ExperimentConfig, sections)
    registries = {
        "families": FAMILIES,
        "executors": EXECUTORS,
        "datasets": DATASETS,
        "split_builders": SPLIT_BUILDERS,
        "models": MODELS,
        "unlearners": UNLEARNERS,
        "localizers": LOCALIZERS,
        "metrics": METRICS,
        "corruptions": CORRUPTIONS,
    }
    catalog: dict[str, Any] = {"sections": sections, "metric_sets": {k: list(v) for k, v in sorted(METRIC_SETS.items())}}
    for key, registry in registries.items():
        entries: dict[str, Any] = {}
        for name in registry.names():
            if registry.summary(name).startswith("plugin from"):
                continue  # installed plugins vary by machine: they take the full path
            entry: dict[str, Any] = {}
            if key in ("unlearners", "localizers", "metrics"):
                entry["families"] = list(registry.families(name))
            if key in ("unlearners", "localizers", "families"):
                entry["params"] = _params(registry.get(name), sections)
            if key == "families":
                entry["lineage"] = list(registry.get(name)().lineage())
            entries[name] = entry
        catalog[key] = entries
    return catalog


def write_catalog(path: Path = CATALOG_PATH) -> Path:
    from .utils import atomic_write_text

    atomic_write_text(path, json.dumps(build_catalog(), indent=1, sort_keys=True) + "\n")
    return path


# ---------------------------------------------------------------- checking (torch-free)


@cache
def load_catalog(path: Path = CATALOG_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


def decode_type(spec: dict[str, Any]) -> Any:
    """The JSON type back as a type hint ``coerce_value`` understands (sections become dict)."""
    kind = spec["t"]
    if kind == "union":
        options = tuple(decode_type(s) for s in spec["of"])
        return typing.Union[options]  # noqa: UP007
    if kind == "list":
        return list[decode_type(spec["of"])]
    if kind == "literal":
        return Literal[tuple(spec["values"])]
    simple = {"any": Any, "dict": dict, "none": type(None), "section": dict, "int": int, "float": float, "bool": bool, "str": str}
    return simple[kind]


def _unwrap(spec: dict[str, Any]) -> tuple[bool, str | None]:
    """(is a list, the section it holds) of a field type, looking through ``X | None``."""
    if spec["t"] == "union":
        options = [o for o in spec["of"] if o["t"] != "none"]
        return _unwrap(options[0]) if len(options) == 1 else (False, None)
    if spec["t"] == "list":
        return True, spec["of"]["name"] if spec["of"]["t"] == "section" else None
    return False, spec["name"] if spec["t"] == "section" else None


def check_fields(value: Any, fields: dict[str, Any], key: str, catalog: dict[str, Any], label: str = "config key") -> dict[str, Any]:
    """Keys, types and ranges of one mapping against its catalog fields; returns it with defaults filled in."""
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping, got {value!r}.")
    unknown = [k for k in value if k not in fields]
    if unknown:
        bad = f"{key}.{unknown[0]}" if key else str(unknown[0])
        raise ConfigError(f"unknown {label} {bad!r}{_suggest(str(unknown[0]), list(fields))}; valid keys here: {sorted(fields)}.")
    out = {name: spec.get("default") for name, spec in fields.items()}
    for name, item in value.items():
        sub = f"{key}.{name}" if key else name
        spec = fields[name]["type"]
        is_list, section = _unwrap(spec)
        if section is not None and item is not None:
            if is_list:
                if not isinstance(item, (list, tuple)):
                    raise ConfigError(f"{sub} must be a list, got {item!r}.")
                out[name] = [check_fields(v, catalog["sections"][section], f"{sub}.{i}", catalog) for i, v in enumerate(item)]
            else:
                out[name] = check_fields(item, catalog["sections"][section], sub, catalog)
            continue
        item = coerce_value(item, decode_type(spec), sub)
        if "range" in fields[name]:
            rng = dict(fields[name]["range"])
            rng["choices"] = tuple(rng["choices"]) if rng.get("choices") is not None else None
            Range(**rng).check(item, sub)
        out[name] = item
    return out


@cache
def _plugin_names(group: str) -> frozenset[str]:
    return frozenset(ep.name for ep in entry_points(group=group))


def known(catalog: dict[str, Any], registry: str, name: Any) -> bool | None:
    """True: built in; None: an installed plugin (the full path checks it); False: unknown."""
    if name in catalog[registry]:
        return True
    if catalog.get("defer_unknown") or _plugin_names("expunge.plugins"):
        return None  # modules imported with --import, or plugin packages, may register it
    return None if isinstance(name, str) and name in _plugin_names(REGISTRY_GROUPS[registry]) else False


def check_name(catalog: dict[str, Any], registry: str, name: Any, key: str, kind: str) -> bool:
    """A ConfigError for an unknown name; returns whether the catalog describes it."""
    found = known(catalog, registry, name)
    if found is False:
        raise ConfigError(f"{key}: unknown {kind} {name!r}{_suggest(str(name), list(catalog[registry]))}; choose one of {sorted(catalog[registry])}.")
    return bool(found)


def check_family(catalog: dict[str, Any], registry: str, name: str, key: str, kind: str, family: str) -> None:
    lineage = catalog["families"].get(family, {}).get("lineage", [family])
    families = catalog[registry][name].get("families", [])
    if ANY_FAMILY not in families and not set(families) & set(lineage):
        choices = sorted(n for n, e in catalog[registry].items() if ANY_FAMILY in e.get("families", []) or set(e.get("families", [])) & set(lineage))
        raise ConfigError(f"{key}: the {kind} {name!r} supports the families {families}, not {family!r}; for the {family} family choose one of {choices}.")


def check_method(catalog: dict[str, Any], method: dict[str, Any], key: str, family: str) -> None:
    unlearner = method.get("unlearner")
    if unlearner is None:
        if known(catalog, "unlearners", method["name"]) is False:
            raise ConfigError(
                f"{key}.name: {method['name']!r} is not a registered unlearner{_suggest(str(method['name']), list(catalog['unlearners']))}; "
                f"choose one of {sorted(catalog['unlearners'])}, or set {key}.unlearner and keep {method['name']!r} as the label."
            )
        unlearner = method["name"]
    if check_name(catalog, "unlearners", unlearner, f"{key}.unlearner", "unlearner"):
        check_family(catalog, "unlearners", unlearner, f"{key}.unlearner", "unlearner", family)
        params = catalog["unlearners"][unlearner]["params"]
        if params is not None:
            check_fields(method.get("hyperparams") or {}, params, f"{key}.hyperparams", catalog, "hyperparameter")
    localizer = method.get("localizer")
    if localizer is not None:
        if check_name(catalog, "localizers", localizer, f"{key}.localizer", "localizer"):
            check_family(catalog, "localizers", localizer, f"{key}.localizer", "localizer", family)
            params = catalog["localizers"][localizer]["params"]
            if params is not None:
                check_fields(method.get("localizer_options") or {}, params, f"{key}.localizer_options", catalog, "localizer option")
        if method.get("alpha") is None:
            raise ConfigError(f"{key} ({method['name']}) has a localizer but no alpha; set e.g. alpha: 0.3.")
    alpha = method.get("alpha")
    if alpha is not None and not 0 < alpha <= 1:
        raise ConfigError(f"{key}.alpha must lie in (0, 1], got {alpha}.")
    if method.get("granularity") not in (None, "param", "channel"):
        raise ConfigError(f"{key}.granularity must be param or channel, got {method.get('granularity')!r}.")


def check_metrics(catalog: dict[str, Any], metrics: list[Any], family: str) -> None:
    for i, item in enumerate(metrics):
        name = item.get("name") if isinstance(item, dict) else item
        members = catalog["metric_sets"].get(name, [name]) if isinstance(name, str) else [name]
        for metric in members:
            if isinstance(metric, str) and known(catalog, "metrics", metric) is True:
                check_family(catalog, "metrics", metric, f"evaluation.metrics.{i}", "metric", family)
            elif known(catalog, "metrics", metric) is False:
                raise ConfigError(f"evaluation.metrics.{i}: unknown metric {metric!r}; choose from {sorted(catalog['metrics'])} or a set {sorted(catalog['metric_sets'])}.")


def check_dict(data: dict[str, Any], catalog: dict[str, Any] | None = None, defer_unknown: bool = False) -> dict[str, Any]:
    """Every check the catalog allows on a plain config dict; returns it with defaults filled in.

    ``defer_unknown``: names the catalog lacks are left to the full check (user modules may register them).
    """
    catalog = {**(catalog or load_catalog()), "defer_unknown": defer_unknown}
    config = check_fields(data, catalog["sections"]["ExperimentConfig"], "", catalog)
    family = config["family"]
    if check_name(catalog, "families", family, "family", "family"):
        params = catalog["families"][family]["params"]
        if params is not None:
            check_fields(config["model"].get("options") or {}, params, "model.options", catalog, "model option")
    check_name(catalog, "executors", config["executor"]["name"], "executor.name", "executor")
    check_name(catalog, "datasets", config["dataset"]["name"], "dataset.name", "dataset")
    check_name(catalog, "split_builders", config["split"]["kind"], "split.kind", "forget-set builder")
    if family == "classifier" and not config["model"].get("factory"):
        check_name(catalog, "models", config["model"]["name"], "model.name", "model")
    corruption = config["split"].get("corruption")
    if corruption is not None:
        check_name(catalog, "corruptions", corruption.get("name"), "split.corruption.name", "corruption")
    for i, method in enumerate(config["methods"]):
        check_method(catalog, method, f"methods.{i}", family)
    names = [m["name"] for m in config["methods"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"method names must be unique, got {names}.")
    if config["oracles"] < 1 and not config.get("oracle_checkpoints"):
        raise ConfigError("oracles must be >= 1 (the retrained reference models); 3 or more is recommended.")
    check_metrics(catalog, config["evaluation"]["metrics"], family)
    check_config_dict(config)
    return config


def fast_check(source: str | Path | dict[str, Any], overrides: list[str] | None = None, defer_unknown: bool = False) -> dict[str, Any]:
    """The command line's first step: a YAML file (or dict) plus ``key=value`` overrides, checked without torch."""
    data = dict(source) if isinstance(source, dict) else read_yaml(source)
    return check_dict(apply_overrides(data, overrides or []), defer_unknown=defer_unknown)


if __name__ == "__main__":
    print(f"wrote {write_catalog()}")
