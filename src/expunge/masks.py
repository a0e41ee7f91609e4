"""Mask: which scalar parameters an unlearning algorithm may change.

A mask maps parameter names to boolean tensors of the same shapes. Names absent from a
mask are fully excluded. Masks are saved with safetensors (no pickle) and always report
their per-layer composition, because where a budget lands matters as much as its size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file

from .errors import DataError
from .utils import atomic_write_bytes


class Mask:
    """Parameter name -> bool tensor; ``True`` marks an entry the unlearner may change."""

    def __init__(self, entries: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> None:
        self.entries: dict[str, torch.Tensor] = {name: t.detach().to("cpu", torch.bool) for name, t in entries.items()}
        self.metadata: dict[str, str] = dict(metadata or {})

    # ---- construction -------------------------------------------------------------
    @classmethod
    def full(cls, model: torch.nn.Module, value: bool = True) -> Mask:
        return cls({n: torch.full_like(p, value, dtype=torch.bool, device="cpu") for n, p in model.named_parameters()})

    @classmethod
    def from_names(cls, model: torch.nn.Module, names: Iterable[str]) -> Mask:
        """Whole tensors selected by name (others present but all ``False``)."""
        chosen = set(names)
        unknown = chosen - {n for n, _ in model.named_parameters()}
        if unknown:
            raise DataError(f"mask names {sorted(unknown)} are not parameters of the model.")
        return cls({n: torch.full_like(p, n in chosen, dtype=torch.bool, device="cpu") for n, p in model.named_parameters()})

    # ---- queries ------------------------------------------------------------------
    def num_selected(self) -> int:
        return int(sum(int(t.sum()) for t in self.entries.values()))

    def num_total(self) -> int:
        return int(sum(t.numel() for t in self.entries.values()))

    def fraction(self) -> float:
        total = self.num_total()
        return self.num_selected() / total if total else 0.0

    def layer_fractions(self) -> dict[str, float]:
        """Fraction of each parameter tensor that is selected."""
        return {name: float(t.float().mean()) if t.numel() else 0.0 for name, t in self.entries.items()}

    def layer_counts(self) -> dict[str, int]:
        return {name: int(t.sum()) for name, t in self.entries.items()}

    def summary(self) -> dict[str, object]:
        return {
            "selected": self.num_selected(),
            "total": self.num_total(),
            "fraction": self.fraction(),
            "layers": {n: {"selected": int(t.sum()), "size": t.numel(), "fraction": round(float(t.float().mean()), 6)} for n, t in self.entries.items()},
        }

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return list(self.entries)

    # ---- algebra ------------------------------------------------------------------
    def union(self, other: Mask) -> Mask:
        names = set(self.entries) | set(other.entries)
        out = {}
        for n in names:
            a, b = self.entries.get(n), other.entries.get(n)
            out[n] = a | b if a is not None and b is not None else (a if a is not None else b)
        return Mask(out)

    def with_open(self, names: Iterable[str], model: torch.nn.Module) -> Mask:
        """A copy whose tensors named in ``names`` are fully selected (e.g. DEL's classifier layer)."""
        params = dict(model.named_parameters())
        out = dict(self.entries)
        for n in names:
            out[n] = torch.ones_like(params[n], dtype=torch.bool, device="cpu")
        return Mask(out, self.metadata)

    def check_matches(self, model: torch.nn.Module) -> None:
        params = dict(model.named_parameters())
        for name, t in self.entries.items():
            if name not in params:
                raise DataError(f"mask entry {name!r} is not a parameter of this model; was the mask made for another architecture?")
            if tuple(t.shape) != tuple(params[name].shape):
                raise DataError(f"mask entry {name!r} has shape {tuple(t.shape)} but the parameter has {tuple(params[name].shape)}.")

    # ---- persistence --------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """safetensors file (uint8 tensors); metadata (settings, summary) goes into its header."""
        from safetensors.torch import save

        meta = {**self.metadata, "fraction": f"{self.fraction():.8f}", "order": json.dumps(list(self.entries))}
        data = save({n: t.to(torch.uint8).contiguous() for n, t in self.entries.items()}, metadata=meta)
        atomic_write_bytes(path, data)

    @classmethod
    def load(cls, path: str | Path) -> Mask:
        from safetensors import safe_open

        path = Path(path)
        if not path.exists():
            raise DataError(f"mask file {path} not found.")
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
        order = json.loads(meta.pop("order", "[]")) or sorted(tensors)  # safetensors sorts names; restore model order
        meta.pop("fraction", None)
        return cls({n: tensors[n].bool() for n in order}, meta)

    def __repr__(self) -> str:
        return f"Mask({self.num_selected()}/{self.num_total()} = {self.fraction():.2%}, {len(self.entries)} tensors)"


def describe_layers(mask: Mask, top: int | None = None) -> str:
    """A compact text table of per-tensor selected fractions, for reports and logs."""
    rows = [f"{name:40s} {int(t.sum()):>9d}/{t.numel():<9d} {float(t.float().mean()):7.1%}" for name, t in mask.entries.items()]
    return "\n".join(rows[:top] if top else rows)


__all__ = ["Mask", "describe_layers"]
