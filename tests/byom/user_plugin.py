"""Imported with ``expunge --import tests.byom.user_plugin``: registers an unlearner the CLI then lists."""

from __future__ import annotations

from dataclasses import dataclass

from expunge.unlearn import UNLEARNERS

if "byom_identity" not in UNLEARNERS:

    @UNLEARNERS.register("byom_identity", "returns the model unchanged (a test plugin)")
    @dataclass
    class Identity:
        name: str = "byom_identity"

        def unlearn(self, model, task, mask=None):  # noqa: ANN001, ANN201
            return model
