"""The analysis stage: per-original results (concept ranking, LM concept words) computed once and cached.

Several methods of one study cell often start from the same analysis of the same original model:
six ``concept_poison`` variants rank the same class's concepts, several ``lm_concept`` rows locate
the same authors' concept words. An *analysis kind* (``ANALYSES``) names a compute function, the
arguments it takes (``fields``) and a safe encoding (JSON + safetensors, never pickle).
``AnalysisStore.run`` calls it at most once per key and replays the stored result afterwards.

The key is honest by construction: it is the digest of *every* argument the compute function
receives (the model by its weights, tensors and arrays by their bytes, datasets by their tensors
and tables, options by value), the device type and the kind's version. Whatever changes the
result changes the key; a ranking ablation or a new model simply gets another entry.

Cost convention: a cache hit is charged the analysis's full measured cost (wall and CPU seconds,
passes, forward passes, as measured when it was computed), added to every active ``CostMeter``,
so a method's cost does not depend on whether another method ran first. The run's notes say
``cached: true`` and give that cost.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..cache import load_state, save_state, tensor_digest
from ..cost import Cost, CostMeter, charge
from ..errors import ConfigError
from ..registry import Registry
from ..utils import atomic_write_json, stable_hash

log = logging.getLogger("expunge.analysis")

Encoded = tuple[dict[str, Any], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class AnalysisKind:
    """``compute(**arguments)``; ``fields`` are exactly its argument names (all of them enter the key).

    ``encode(value) -> (json_payload, tensors)`` and ``decode(json_payload, tensors) -> value`` store the
    result safely; ``version`` is bumped whenever the computation changes, so old entries are never reused.
    """

    compute: Callable[..., Any]
    fields: tuple[str, ...]
    encode: Callable[[Any], Encoded]
    decode: Callable[[dict[str, Any], dict[str, torch.Tensor]], Any]
    version: int = 1


ANALYSES: Registry[AnalysisKind] = Registry("analysis")


def register_analysis(name: str, summary: str, kind: AnalysisKind) -> AnalysisKind:
    """Add an analysis kind once (modules may be imported more than once in tests)."""
    if name not in ANALYSES.names():
        ANALYSES.register(name, summary, families=("*",))(kind)
    return ANALYSES.get(name)


def digest(value: Any, depth: int = 0) -> Any:
    """A JSON-ready fingerprint of an analysis argument: equal only for equal contents.

    Modules by their state (names, dtypes, shapes, bytes) and class; tensors and arrays by their bytes;
    containers element-wise; other objects (datasets, concept banks) by their attributes.
    """
    if depth > 6:
        raise ConfigError(f"analysis argument nested too deeply to fingerprint ({type(value).__name__}).")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, nn.Module):
        return {"module": type(value).__qualname__, "state": stable_hash([(k, tensor_digest(t)) for k, t in value.state_dict().items()], length=32)}
    if isinstance(value, torch.Tensor):
        return tensor_digest(value)[:32]
    if isinstance(value, np.ndarray):
        return tensor_digest(torch.from_numpy(np.ascontiguousarray(value)))[:32]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, torch.device):
        return value.type  # the numbers differ between device types, not between two GPUs of one kind
    if isinstance(value, Mapping):
        return {str(k): digest(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [digest(v, depth + 1) for v in items]
    attributes = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)} if dataclasses.is_dataclass(value) else getattr(value, "__dict__", None)
    if attributes is None:
        raise ConfigError(f"analysis argument of type {type(value).__name__} cannot be fingerprinted; pass tensors, arrays, plain values or objects holding them.")
    return {"class": type(value).__qualname__, **{k: digest(v, depth + 1) for k, v in sorted(attributes.items()) if not k.startswith("_")}}


@dataclass
class Analysed:
    """An analysis result and how it was obtained (what the method's notes report)."""

    value: Any
    name: str
    key: str
    cached: bool
    cost: Cost

    def info(self) -> dict[str, Any]:
        """For the run's notes: the analysis was reused (cached) or computed; its full cost is charged either way."""
        return {"analysis": self.name, "key": self.key, "cached": self.cached, "charged": True, **{f"analysis_{k}": v for k, v in self.cost.to_dict().items()}}


@dataclass
class AnalysisStore:
    """Analyses keyed by a digest of their arguments: in memory (this process) and, with a root, on disk.

    On disk: ``root/analysis-<name>-<key>/{analysis.json, tensors.safetensors}``, beside the cached models.
    """

    root: Path | None = None
    memory_entries: int = 32
    computed: int = 0  # how many analyses this store ran (tests and logs)
    _memory: OrderedDict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]] = field(default_factory=OrderedDict, repr=False)

    def key(self, name: str, arguments: Mapping[str, Any]) -> str:
        kind = ANALYSES.get(name)
        missing, extra = set(kind.fields) - set(arguments), set(arguments) - set(kind.fields)
        if missing or extra:
            raise ConfigError(f"analysis {name!r} takes exactly {sorted(kind.fields)}; missing {sorted(missing)}, unexpected {sorted(extra)}.")
        return stable_hash({"analysis": name, "version": kind.version, "arguments": digest(dict(arguments))}, length=32)

    def folder(self, name: str, key: str) -> Path | None:
        return self.root / f"analysis-{name}-{key}" if self.root else None

    def run(self, name: str, arguments: Mapping[str, Any]) -> Analysed:
        """The analysis for these arguments: from memory, from disk, or computed (metered) and stored."""
        kind = ANALYSES.get(name)
        key = self.key(name, arguments)
        entry = self._read(name, key)
        if entry is not None:
            payload, tensors = entry
            cost = Cost(**payload["cost"])
            charge(cost)
            log.info("analysis cache hit: %s %s", name, key)
            return Analysed(kind.decode(payload["value"], tensors), name, key, True, cost)
        device = arguments.get("device")
        with CostMeter(device if isinstance(device, torch.device) else None) as meter:
            value = kind.compute(**arguments)
        self.computed += 1
        encoded, tensors = kind.encode(value)
        payload = {"value": encoded, "cost": meter.cost.to_dict(), "analysis": name, "version": kind.version, "key": key}
        self._write(name, key, payload, tensors)
        stored, stored_tensors = self._memory_copy(key)  # decoded from the stored form: a first run sees exactly what a hit sees
        return Analysed(kind.decode(stored["value"], stored_tensors), name, key, False, meter.cost)

    def _read(self, name: str, key: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory_copy(key)
        folder = self.folder(name, key)
        if folder is None or not (folder / "analysis.json").exists():
            return None
        try:
            payload = json.loads((folder / "analysis.json").read_text())
            tensors = load_state(folder / "tensors.safetensors") if (folder / "tensors.safetensors").exists() else {}
        except Exception as exc:  # a corrupted entry: recompute
            log.warning("analysis entry %s unreadable (%s); recomputing", folder, exc)
            return None
        self._remember(key, payload, tensors)
        return payload, tensors

    def _write(self, name: str, key: str, payload: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        self._remember(key, payload, tensors)
        folder = self.folder(name, key)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            save_state(folder / "tensors.safetensors", tensors)
            atomic_write_json(folder / "analysis.json", payload)  # written last: its presence marks a complete entry

    def _memory_copy(self, key: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        payload, tensors = self._memory[key]
        return json.loads(json.dumps(payload)), {k: v.clone() for k, v in tensors.items()}

    def _remember(self, key: str, payload: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self._memory[key] = (json.loads(json.dumps(payload, default=_plain)), {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()})
        while len(self._memory) > self.memory_entries:
            self._memory.popitem(last=False)


def _plain(value: Any) -> Any:
    """JSON for numpy scalars (what an encoder may leave in its payload), as the disk writer does."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    raise TypeError(f"analysis payload holds a {type(value).__name__}; encoders must return JSON types (tensors go in the tensors dict).")


_STORES: dict[str, AnalysisStore] = {}


def store_for(root: str | Path | None) -> AnalysisStore:
    """One store per cache root and process, so that methods run one after another share its memory."""
    name = str(Path(root).expanduser()) if root else ""
    if name not in _STORES:
        _STORES[name] = AnalysisStore(Path(name) if name else None)
    return _STORES[name]


def run_analysis(store: AnalysisStore | None, name: str, arguments: Mapping[str, Any]) -> Analysed:
    """``store.run`` when the caller has a store (the experiment runner gives one), else a fresh uncached computation."""
    return (store if store is not None else AnalysisStore()).run(name, arguments)
