"""Result store: one JSON record per (method, seed), written atomically, so a sweep resumes.

A finished record is reused only when its config hash matches; a corrupted or truncated
record is reported and recomputed, never silently read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..utils import atomic_write_json

log = logging.getLogger("expunge.store")


class RecordStore:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str, config_hash: str) -> dict[str, Any] | None:
        """A finished record for ``key`` made with the same config, or None."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("record %s is corrupted (%s); recomputing it", path, exc)
            return None
        if record.get("config_hash") != config_hash or record.get("status") != "ok":
            return None
        return record

    def save(self, key: str, record: dict[str, Any]) -> None:
        atomic_write_json(self.path(key), record)
