"""Evidence for a deletion request: what was forgotten, how, at what cost, with what result.

A deletion record is a JSON file per method run. It identifies the forget set by a hash
(never the data itself), and the unlearned weights by the sha256 of their safetensors file,
so a third party holding the indices and the file can check both:

- ``forget_sha256``: sha256 of the sorted forget indices written as ASCII decimals joined
  by ``","`` (e.g. ``"3,17,42"``): recomputable in any language.
- ``weights_sha256``: sha256 of the saved ``.safetensors`` file's bytes (when saved).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .cache import save_state, state_to_cpu
from .utils import atomic_write_json, environment_info

RECORD_FORMAT = "expunge.deletion/1"


def forget_sha256(indices: Sequence[int] | np.ndarray) -> str:
    """sha256 of the sorted forget indices as ``"i1,i2,..."`` (ASCII decimals)."""
    text = ",".join(str(int(i)) for i in np.sort(np.asarray(indices, dtype=np.int64).reshape(-1)))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(model: nn.Module, path: str | Path, metadata: Mapping[str, str] | None = None) -> str:
    """Write the model's state dict as safetensors (atomically); return the file's sha256."""
    path = Path(path)
    save_state(path, state_to_cpu(model), dict(metadata or {}))
    return file_sha256(path)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers and strings only: a record never carries tensors or arrays."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
        elif isinstance(value, (np.floating, np.integer)):
            out[key] = value.item()
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            out[key] = value.item()
    return out


def deletion_record(
    forget: Sequence[int] | np.ndarray,
    method: str,
    method_config: Mapping[str, Any],
    seeds: Mapping[str, Any],
    cost: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
    verdict: Any = None,
    weights_path: str | Path | None = None,
    device: torch.device | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One deletion request's evidence (module doc): forget-set hash, method, config, seeds, versions, cost, metrics, verdict, weights hash."""
    weights = Path(weights_path) if weights_path is not None else None
    return {
        "format": RECORD_FORMAT,
        "forget_sha256": forget_sha256(forget),
        "forget_count": int(len(np.asarray(forget).reshape(-1))),
        "method": method,
        "method_config": dict(method_config),
        "seeds": dict(seeds),
        "versions": environment_info(device),
        "cost": dict(cost),
        "metrics": _plain(metrics or {}),
        "verdict": verdict,
        "weights_file": weights.name if weights is not None else None,
        "weights_sha256": file_sha256(weights) if weights is not None else None,
        **dict(extra or {}),
    }


def write_deletion_record(path: str | Path, record: Mapping[str, Any]) -> Path:
    path = Path(path)
    atomic_write_json(path, dict(record))
    return path


def noise_verdict(candidate: Mapping[str, Any], oracle_metrics: Sequence[Mapping[str, float]]) -> dict[str, Any] | None:
    """The report's example-unlearning judgement for one run (``verdicts.noise_floor_flags``).

    Every |Δ| of the candidate must lie within the largest |Δ| of an oracle scored leave-one-out
    against the others (the oracles' own noise floor). None without Δ columns (e.g. class or LM sets).
    """
    from .evaluate.gaps import deltas
    from .evaluate.verdicts import noise_floor_flags

    rows = [{"method": "retrain", **deltas(o, [p for j, p in enumerate(oracle_metrics) if j != k] or [o])} for k, o in enumerate(oracle_metrics)]
    flags = noise_floor_flags([*rows, {**dict(candidate), "method": "candidate"}]).get("candidate")
    if flags is None:
        return None
    outside = [k for k, gap in flags["gaps"].items() if gap > flags["floor"][k]]
    name = "within the oracles' noise floor" if flags["within_noise"] else f"outside the oracles' noise floor on {', '.join(outside)}"
    return {"name": name, **flags}
