"""Typed hyperparameters with ranges, checked when a config loads (before anything trains).

Every unlearner (and any other configurable component) declares its hyperparameters as
dataclass fields; ``hp(default, low=..., high=..., choices=...)`` attaches the valid range.
``validate_params`` turns a user's ``dict`` into checked keyword arguments, and every error
names the config key and the fix, so a typo fails in under a second instead of after the
original and the oracles have trained.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Range:
    """Valid values of one hyperparameter: numeric bounds (open or closed) or a set of choices."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None

    def check(self, value: Any, key: str) -> None:
        if value is None:
            return
        if self.choices is not None:
            if value not in self.choices:
                raise ConfigError(f"{key}: {value!r} is not allowed; choose one of {list(self.choices)}.")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}; NaN and infinity are never valid settings.")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ConfigError(f"{key} must be {'>' if self.low_open else '>='} {self.low}, got {value!r}.")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise ConfigError(f"{key} must be {'<' if self.high_open else '<='} {self.high}, got {value!r}.")

    def describe(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open or self.low is None else '['}{lo}, {hi}{')' if self.high_open or self.high is None else ']'}"


def hp(
    default: Any = dataclasses.MISSING,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence[Any] | None = None,
    doc: str = "",
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field carrying its valid range and a one-line description."""
    metadata = {"range": Range(low, high, low_open, high_open, tuple(choices) if choices is not None else None), "doc": doc}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


POSITIVE: dict[str, Any] = {"low": 0.0, "low_open": True}
NON_NEGATIVE: dict[str, Any] = {"low": 0.0}
UNIT: dict[str, Any] = {"low": 0.0, "high": 1.0}

# Fields that identify a component rather than configure it: not user-settable hyperparameters.
RESERVED = frozenset({"name"})


def tunable_fields(cls: type) -> list[dataclasses.Field]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass; declare its hyperparameters as dataclass fields.")
    return [f for f in dataclasses.fields(cls) if f.init and f.name not in RESERVED]


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def coerce_value(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a type hint, converting only where it is lossless (int -> float)."""
    if annotation is Any or annotation is typing.Any:
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not allowed; choose one of {list(args)}.")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{key} may not be empty (null); give a value.")
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return coerce_value(value, options[0], key)  # ``X | None``: X's own, precise message
        errors = []
        for option in options:
            try:
                return coerce_value(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        allowed = " or ".join(getattr(a, "__name__", str(a)) for a in args if a is not type(None))
        raise ConfigError(f"{key} must be {allowed}, got {value!r}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}.")
        inner = args[0] if args else Any
        items = [coerce_value(v, inner, f"{key}.{i}") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}.")
        return dict(value)
    if annotation is float:
        if isinstance(value, str) and SCIENTIFIC.match(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string; it is plainly a number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}.")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}; NaN and infinity are never valid settings.")
        return float(value)
    if annotation is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}.")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}.")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}.")
        return value
    return value


def field_range(cls: type, name: str) -> Range | None:
    """A field's range, inherited from a base class when a subclass only overrides the default."""
    for base in cls.__mro__:
        field = getattr(base, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata.get("range") is not None:
            return field.metadata["range"]
    return None


def validate_params(cls: type, params: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """Checked keyword arguments for ``cls(**params)``: known keys, right types, in range."""
    params = dict(params or {})
    fields = {f.name: f for f in tunable_fields(cls)}
    unknown = [k for k in params if k not in fields]
    if unknown:
        bad = unknown[0]
        raise ConfigError(f"{key}.{bad}: unknown hyperparameter{_suggest(bad, list(fields))}; valid keys: {sorted(fields)}.")
    hints = typing.get_type_hints(cls)
    checked: dict[str, Any] = {}
    for name, value in params.items():
        value = coerce_value(value, hints.get(name, Any), f"{key}.{name}")
        rng = field_range(cls, name)
        if rng is not None:
            rng.check(value, f"{key}.{name}")
        checked[name] = value
    return checked


def describe_params(cls: type) -> list[dict[str, Any]]:
    """One row per hyperparameter (name, type, default, range, doc), for ``expunge list`` and the docs."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in tunable_fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        rng = field_range(cls, f.name)
        rows.append(
            {"name": f.name, "type": getattr(hints.get(f.name), "__name__", str(hints.get(f.name))), "default": default, "range": rng.describe() if rng else "", "doc": f.metadata.get("doc", "")}
        )
    return rows
