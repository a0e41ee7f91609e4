"""The out folder never loses a finished record: conflicts refuse, --overwrite moves aside, locks refuse other configs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from expunge.errors import OutFolderConflict
from expunge.experiments.store import LOCK_DIR, OutFolder, RecordStore, experiment_hash


def _finished(out, key, config_hash, status="ok"):
    RecordStore(out / "records").save(key, {"method": key, "status": status, "config_hash": config_hash})


def test_same_config_resumes_and_a_changed_config_refuses_naming_both_hashes(tmp_path):
    out = tmp_path / "run"
    _finished(out, "DEL-seed0", "aaaa")
    with OutFolder(out).claim("exp1", [("DEL-seed0", "aaaa"), ("DEL-seed1", "bbbb")]):
        pass
    with pytest.raises(OutFolderConflict) as exc, OutFolder(out).claim("exp2", [("DEL-seed0", "cccc")]):
        pass
    assert "aaaa" in str(exc.value) and "cccc" in str(exc.value) and "--overwrite" in str(exc.value)
    assert json.loads((out / "records" / "DEL-seed0.json").read_text())["config_hash"] == "aaaa"


def test_a_failed_record_of_another_config_is_not_a_conflict(tmp_path):
    _finished(tmp_path, "DEL-seed0", "aaaa", status="failed")
    with OutFolder(tmp_path).claim("exp", [("DEL-seed0", "cccc")]):
        pass


def test_overwrite_moves_the_old_outputs_aside(tmp_path):
    out = tmp_path / "run"
    _finished(out, "DEL-seed0", "aaaa")
    (out / "results.json").write_text("[]")
    with OutFolder(out).claim("exp2", [("DEL-seed0", "cccc")], overwrite=True):
        assert not (out / "records").exists() and not (out / "results.json").exists()
    (moved,) = list(out.glob("replaced-*"))
    assert json.loads((moved / "records" / "DEL-seed0.json").read_text())["config_hash"] == "aaaa"
    assert (moved / "results.json").read_text() == "[]"


def test_lock_refuses_a_live_run_of_another_config_and_admits_an_identical_one(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        locks = tmp_path / LOCK_DIR
        locks.mkdir()
        host = OutFolder(tmp_path).host
        (locks / f"{host}-{sleeper.pid}.json").write_text(json.dumps({"pid": sleeper.pid, "host": host, "config_hash": "other"}))
        with pytest.raises(OutFolderConflict, match="in use by another run"), OutFolder(tmp_path).claim("mine", []):
            pass
        with OutFolder(tmp_path).claim("other", []):
            assert len(list(locks.glob("*.json"))) == 2
        assert [p.name for p in locks.glob("*.json")] == [f"{host}-{sleeper.pid}.json"]  # ours released, theirs kept
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    locks = tmp_path / LOCK_DIR
    locks.mkdir()
    host = OutFolder(tmp_path).host
    (locks / f"{host}-{dead.pid}.json").write_text(json.dumps({"pid": dead.pid, "host": host, "config_hash": "other"}))
    with OutFolder(tmp_path).claim("mine", []):
        pass
    assert "stale lock" in caplog.text
    assert not locks.exists()


def test_an_error_before_any_record_leaves_no_empty_folder(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), OutFolder(out).claim("exp", []):
        (out / "split").mkdir()
        raise RuntimeError("dataset missing")
    assert not out.exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    with pytest.raises(RuntimeError), OutFolder(existing).claim("exp", []):
        raise RuntimeError("boom")
    assert existing.is_dir()  # a folder the user made is never removed


def test_experiment_hash_ignores_where_and_how_it_runs():
    base = {"methods": [{"name": "DEL"}], "seeds": [0], "out": "a", "quiet": False, "device": "cpu"}
    assert experiment_hash(base) == experiment_hash({**base, "out": "b", "quiet": True, "device": "auto"})
    assert experiment_hash(base) != experiment_hash({**base, "seeds": [1]})


def test_an_out_folder_that_cannot_be_created_is_a_config_error(tmp_path):
    from expunge.errors import ConfigError

    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="out: cannot create"), OutFolder(tmp_path / "file" / "run").claim("exp", []):
        pass
