"""Trained models cached on disk by a hash of everything that determines them (safetensors)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from .utils import atomic_write_bytes, atomic_write_json, environment_info, stable_hash

log = logging.getLogger("expunge.cache")


def state_to_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}


def save_state(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    atomic_write_bytes(path, save(state, metadata=metadata))


def load_state(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def tensor_digest(tensor: torch.Tensor) -> str:
    """sha256 of a tensor's dtype, shape and bytes: equal only for the same values."""
    t = tensor.detach().to("cpu").contiguous()
    digest = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def data_fingerprint(dataset: Any, indices: np.ndarray | None = None) -> dict[str, str]:
    """Digests of the inputs and targets a model sees (rows ``indices``, sorted; all rows when None).

    In every cache key, so that a changed example or label can never reuse a model trained on
    the old data (issue 23: a stale oracle once scored 1% after the labels changed).
    """
    rows = None if indices is None else torch.as_tensor(np.sort(np.asarray(indices, dtype=np.int64)))
    out = {}
    for name in ("inputs", "targets"):
        tensor = getattr(dataset, name, None)
        if isinstance(tensor, torch.Tensor):
            out[name] = tensor_digest(tensor if rows is None else tensor[rows])[:32]
    return out


def model_fingerprint(model: torch.nn.Module, factory: str | None = None) -> str:
    """Digest of the architecture: parameter and buffer names, shapes and dtypes, and the factory that built it."""
    layout = [(name, tuple(t.shape), str(t.dtype)) for name, t in model.state_dict().items()]
    return stable_hash({"layout": layout, "factory": factory, "class": type(model).__qualname__}, length=32)


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
        fingerprint_model: bool = False,
    ) -> tuple[torch.nn.Module, dict[str, Any]]:
        """Return a trained model and its info; train (and store) only on a cache miss.

        ``fingerprint_model`` adds the built model's layout (``model_fingerprint``) to the key, so
        a changed architecture (a user factory, new options) never loads another model's weights.
        """
        model = build()
        if fingerprint_model:
            spec = {**spec, "architecture": model_fingerprint(model, spec.get("factory"))}
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
        # The thread count is not in the key (a model trained at 2 threads differs from one at 1 thread only in the
        # order of float sums), but it is recorded: a result that reuses the entry can say what trained it.
        info = {"kind": kind, "spec": spec, "trained_under": environment_info(), **info}
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
