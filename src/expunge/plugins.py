"""User code the pipeline may call: ``"package.module:function"`` references, ``--import MODULE`` and the
``expunge.plugins`` entry-point group.

A user's architecture, unlearner or metric registers itself on import (``@UNLEARNERS.register``,
``@METRICS.register`` ...). ``--import MODULE`` or an entry point in the group ``expunge.plugins``
imports such a module before the config is validated, so the CLI sees the names it adds.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from .errors import ConfigError

log = logging.getLogger("expunge.plugins")
PLUGIN_GROUP = "expunge.plugins"
_LOADED: set[str] = set()


def load_object(reference: str, key: str) -> Any:
    """``"package.module:attribute"`` -> the attribute; a bad reference is a ConfigError naming ``key``."""
    module_name, sep, attribute = str(reference).partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{key}: {reference!r} is not 'package.module:function' (e.g. mymodels.nets:build_mlp).")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{key}: cannot import {module_name!r} ({exc}); is it installed or on PYTHONPATH?") from exc
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{key}: module {module_name!r} has no {attribute!r}.")
        obj = getattr(obj, part)
    return obj


def import_modules(names: Iterable[str]) -> list[str]:
    """Import each user module once (``--import MODULE``); returns the names imported now."""
    done = []
    for name in names:
        if name in _LOADED:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"--import {name}: cannot import it ({exc}); is it installed or on PYTHONPATH?") from exc
        _LOADED.add(name)
        done.append(name)
        log.info("imported user module %s", name)
    return done


def load_entry_points() -> list[str]:
    """Import every module registered under the ``expunge.plugins`` entry-point group."""
    done = []
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.value in _LOADED:
            continue
        ep.load()
        _LOADED.add(ep.value)
        done.append(ep.value)
        log.info("loaded plugin %s (%s)", ep.name, ep.value)
    return done
