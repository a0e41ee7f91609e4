"""Result store: one JSON record per (method, seed), written atomically, so a sweep resumes.

A finished record is reused only when its config hash matches; a corrupted or truncated
record is reported and recomputed, never silently read. ``OutFolder.claim`` guards the out
folder for the length of a run: a finished record made with another config is never replaced
(``overwrite`` moves the old outputs aside instead), a run of a *different* config already
writing there is refused (identical concurrent runs are fine: they write identical records),
and a run that fails before storing anything leaves no empty folder behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, OutFolderConflict
from ..utils import atomic_write_json, stable_hash

log = logging.getLogger("expunge.store")
LOCK_DIR = ".expunge-locks"
REPLACED_PREFIX = "replaced-"


class RecordStore:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        """The stored record for ``key`` whatever its config, or None (missing or unreadable)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("record %s is corrupted (%s); recomputing it", path, exc)
            return None
        return record if isinstance(record, dict) else None

    def load(self, key: str, config_hash: str) -> dict[str, Any] | None:
        """A finished record for ``key`` made with the same config, or None."""
        record = self.read(key)
        if record is None or record.get("config_hash") != config_hash or record.get("status") != "ok":
            return None
        return record

    def save(self, key: str, record: dict[str, Any]) -> None:
        atomic_write_json(self.path(key), record)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutFolder:
    """One experiment's out folder: its records, its lock and what an ``--overwrite`` moves aside."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.locks = self.path / LOCK_DIR
        self.host = socket.gethostname()

    def conflicts(self, planned: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """``(key, stored hash, planned hash)`` of every finished record the plan would replace."""
        folder = self.path / "records"
        if not folder.is_dir():
            return []
        store = RecordStore(folder)
        found = []
        for key, config_hash in planned:
            record = store.read(key)
            if record is not None and record.get("status") == "ok" and record.get("config_hash") != config_hash:
                found.append((key, str(record.get("config_hash")), config_hash))
        return found

    def move_aside(self) -> Path:
        """Everything but the locks and earlier replaced-* folders into ``replaced-<UTC time>/``; returns that folder."""
        target = self.path / f"{REPLACED_PREFIX}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        suffix = 0
        while target.exists():
            suffix += 1
            target = target.with_name(f"{target.name.split('.')[0]}.{suffix}")
        target.mkdir()
        for entry in self.path.iterdir():
            if entry.name != LOCK_DIR and not entry.name.startswith(REPLACED_PREFIX):
                entry.rename(target / entry.name)
        return target

    def _take_lock(self, experiment_hash: str) -> Path:
        """Write our lock, then look at the others: a live run of another config refuses us (both may refuse; never both write)."""
        self.locks.mkdir(parents=True, exist_ok=True)
        mine = self.locks / f"{self.host}-{os.getpid()}.json"
        atomic_write_json(mine, {"pid": os.getpid(), "host": self.host, "config_hash": experiment_hash, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        for other in sorted(self.locks.glob("*.json")):
            if other == mine:
                continue
            try:
                info = json.loads(other.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # being written or removed right now
            if info.get("config_hash") == experiment_hash:
                continue  # an identical run: both write the same records
            if info.get("host") == self.host and not _pid_alive(int(info.get("pid", -1))):
                log.warning("taking over a stale lock of dead process %s in %s (config %s)", info.get("pid"), self.path, info.get("config_hash"))
                other.unlink(missing_ok=True)
                continue
            mine.unlink(missing_ok=True)
            raise OutFolderConflict(
                f"out {self.path} is in use by another run (pid {info.get('pid')} on {info.get('host')}, config hash {info.get('config_hash')}, "
                f"started {info.get('started')}) with a different config (this one: {experiment_hash}); choose another out=..., or wait for it "
                f"(if that run is gone, delete {other})."
            )
        return mine

    @contextlib.contextmanager
    def claim(self, experiment_hash: str, planned: Sequence[tuple[str, str]], overwrite: bool = False) -> Iterator[None]:
        """Hold the folder for one run; refuse to replace another config's finished records unless ``overwrite``."""
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"out: cannot create {self.path} ({exc.strerror}); choose a writable out=....") from exc
        lock: Path | None = None
        try:
            lock = self._take_lock(experiment_hash)
            conflicts = self.conflicts(planned)
            if conflicts and not overwrite:
                key, old, new = conflicts[0]
                more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
                raise OutFolderConflict(
                    f"out {self.path} holds finished records of another config: {key} was made with config hash {old}, this run's is {new}{more}; "
                    f"choose a new out=..., or pass --overwrite (expunge run / demo / frontier; run_experiment(..., overwrite=True)) to move the old outputs aside into {self.path}/{REPLACED_PREFIX}<UTC time>/."
                )
            if conflicts:
                log.warning("--overwrite: moved the previous outputs of %s aside into %s", self.path, self.move_aside())
            yield
        except BaseException:
            if created and not any((self.path / "records").glob("*.json")):
                shutil.rmtree(self.path, ignore_errors=True)  # we made it and nothing finished: leave no empty folder
            raise
        finally:
            if lock is not None:
                lock.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self.locks.rmdir()


def experiment_hash(config: dict[str, Any]) -> str:
    """What makes two runs into one folder the same run: the config without where and how it runs."""
    return stable_hash({k: v for k, v in config.items() if k not in ("out", "quiet", "cache_dir", "device", "executor")})
