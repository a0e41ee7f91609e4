"""Trained models cached on disk by a hash of everything that determines them (safetensors)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from .utils import atomic_write_bytes, atomic_write_json, stable_hash

log = logging.getLogger("expunge.cache")


def state_to_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}


def save_state(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    atomic_write_bytes(path, save(state, metadata=metadata))


def load_state(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


class ModelCache:
    """``root/<kind>-<hash>/{model,init}.safetensors`` plus ``info.json`` with the spec and timings."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root else None

    def key(self, spec: dict[str, Any]) -> str:
        return stable_hash(spec)

    def folder(self, kind: str, spec: dict[str, Any]) -> Path | None:
        return self.root / f"{kind}-{self.key(spec)}" if self.root else None

    def get_or_train(
        self,
        kind: str,
        spec: dict[str, Any],
        build: Callable[[], torch.nn.Module],
        fit: Callable[[torch.nn.Module], dict[str, Any]],
    ) -> tuple[torch.nn.Module, dict[str, Any]]:
        """Return a trained model and its info; train (and store) only on a cache miss."""
        model = build()
        folder = self.folder(kind, spec)
        if folder is not None and (folder / "model.safetensors").exists() and (folder / "info.json").exists():
            try:
                model.load_state_dict(load_state(folder / "model.safetensors"))
                info = json.loads((folder / "info.json").read_text())
                log.info("cache hit: %s %s", kind, folder.name)
                return model, {**info, "cache_hit": True, "cache_dir": str(folder)}
            except Exception as exc:  # corrupted entry: report and retrain
                log.warning("cache entry %s unreadable (%s); retraining", folder, exc)
        init_state = state_to_cpu(model)
        info = fit(model)
        info = {"kind": kind, "spec": spec, **info}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            save_state(folder / "init.safetensors", init_state)
            save_state(folder / "model.safetensors", state_to_cpu(model))
            atomic_write_json(folder / "info.json", info)
        return model, {**info, "cache_hit": False, "cache_dir": str(folder) if folder else None}

    def init_state(self, kind: str, spec: dict[str, Any]) -> dict[str, torch.Tensor] | None:
        """The initialization the cached model was trained from (for 'reset to own init' variants)."""
        folder = self.folder(kind, spec)
        if folder is None or not (folder / "init.safetensors").exists():
            return None
        return load_state(folder / "init.safetensors")
