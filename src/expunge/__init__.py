"""expunge: machine unlearning that localizes, unlearns and proves it worked.

``expunge.unlearn(...)`` and ``expunge.evaluate(...)`` are the one-call API (``expunge.api``,
docs/byom.md), loaded on first use so ``import expunge`` stays light. They share their names
with the subpackages of unlearners (``expunge.unlearn``) and metrics (``expunge.evaluate``):
``from expunge.unlearn import UNLEARNERS`` and ``from expunge.evaluate import gaps`` keep
working (the import system finds subpackages in ``sys.modules``), while the package attribute
stays the function (so write ``from expunge.evaluate import gaps``, not
``import expunge.evaluate.gaps as gaps``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import PRESETS, Evaluation, ForgetClass, Recipe, UnlearnResult, evaluate, fresh_copy, retrain, unlearn

__version__ = "0.1.0"

_API = ("unlearn", "evaluate", "UnlearnResult", "Evaluation", "PRESETS", "fresh_copy", "retrain", "Recipe", "ForgetClass")
_SHADOWED = ("unlearn", "evaluate")  # API functions named like a subpackage
__all__ = ["__version__", "unlearn", "evaluate", "UnlearnResult", "Evaluation", "PRESETS", "fresh_copy", "retrain", "Recipe", "ForgetClass"]


class _Package(types.ModuleType):
    """Keeps ``expunge.unlearn`` / ``expunge.evaluate`` the API functions when the subpackages load."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the subpackage stays in sys.modules; the attribute resolves to the function
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    if name in _API:
        for sub in _SHADOWED:
            importlib.import_module(f"{__name__}.{sub}")  # load (and register) the subpackages first
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'expunge' has no attribute {name!r}")


sys.modules[__name__].__class__ = _Package
