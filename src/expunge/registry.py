"""Name -> factory registries, so that configs pick components by name (no if/elif dispatch).

Third-party packages can add entries through the entry-point group ``expunge.<kind>``
(for example ``expunge.unlearners``), loaded lazily on the first lookup miss.

Components that run on models (unlearners, localizers, metrics) declare the model families
they support: ``register(name, summary, families=("gan",))`` or a ``families`` attribute on
the registered object (plugins). Undeclared entries are classifier-only (``DEFAULT_FAMILIES``);
``ANY_FAMILY`` ("*") means every family. ``expunge.compat`` checks a config against these
declarations when it loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from .errors import RegistryError

T = TypeVar("T")

ANY_FAMILY = "*"
DEFAULT_FAMILIES: tuple[str, ...] = ("classifier",)


class Registry(Generic[T]):
    """A named collection of factories with a one-line description each."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._summaries: dict[str, str] = {}
        self._families: dict[str, tuple[str, ...]] = {}
        self._plugins_loaded = False

    def register(self, name: str, summary: str = "", families: tuple[str, ...] | None = None) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("del", "one line, with the paper", families=("classifier", "gan"))``."""

        def decorator(obj: T) -> T:
            if name in self._items:
                raise RegistryError(f"{self.kind} {name!r} is registered twice; pick another name.")
            self._items[name] = obj
            if families is not None:
                self._families[name] = tuple(families)
            doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
            self._summaries[name] = summary or (doc[0] if doc else "")
            return obj

        return decorator

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self.entry_point_group:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()
                self._summaries[ep.name] = f"plugin from {ep.value}"

    def get(self, name: str) -> T:
        if name not in self._items:
            self._load_plugins()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise RegistryError(f"unknown {self.kind} {name!r}; choose one of: {known}.")
        return self._items[name]

    def summary(self, name: str) -> str:
        self.get(name)
        return self._summaries.get(name, "")

    def families(self, name: str) -> tuple[str, ...]:
        """The model families ``name`` supports: declared at registration, else its ``families`` attribute, else classifier only."""
        obj = self.get(name)
        declared = self._families.get(name, getattr(obj, "families", None))
        return tuple(declared) if declared is not None else DEFAULT_FAMILIES

    def supports(self, name: str, family: str) -> bool:
        families = self.families(name)
        return ANY_FAMILY in families or family in families

    def names_for(self, family: str) -> list[str]:
        """The entries that support ``family`` (the valid choices a family-mismatch error names)."""
        return [n for n in self.names() if self.supports(n, family)]

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
