"""User models and data in the pipeline: fingerprinted cache keys, checkpoints, a factory, deletion records."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from expunge.cache import data_fingerprint, model_fingerprint
from expunge.deletion import noise_verdict
from expunge.errors import ConfigError
from expunge.experiments import load_config, run_experiment
from expunge.experiments.context import prepare

from .user_models import mlp


def write_data(path, flip: int | None = None) -> None:
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(120, 6, generator=gen), torch.randint(0, 3, (120,), generator=gen)
    if flip is not None:
        y[flip] = (y[flip] + 1) % 3
    save_file({"train_inputs": x, "train_targets": y, "test_inputs": x[:40] + 0.1, "test_targets": y[:40].clone()}, str(path))


def config(tmp_path, **extra: Any) -> dict[str, Any]:
    data = {
        "dataset": {"name": "tensors", "options": {"path": str(tmp_path / "data.safetensors")}},
        "split": {"train_size": None, "test_size": None, "validation_fraction": 0.0, "fraction": 0.1},
        "model": {"factory": "tests.byom.user_models:mlp", "options": {"hidden": 8}},
        "recipe": {"epochs": 1, "batch_size": 32},
        "oracles": 1,
        "seeds": [0],
        "methods": [{"name": "finetune", "hyperparams": {"epochs": 1}}],
        "evaluation": {"metrics": ["accuracy"]},
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }
    data.update(extra)
    return data


def cache_hits(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cache hit" in r.getMessage()]


def test_one_changed_label_retrains_the_original_and_the_oracles(tmp_path, caplog) -> None:
    write_data(tmp_path / "data.safetensors")
    caplog.set_level(logging.INFO, logger="expunge.cache")
    first = prepare(load_config(config(tmp_path)))
    assert not first.original.info["cache_hit"] and not cache_hits(caplog)
    caplog.clear()
    second = prepare(load_config(config(tmp_path)))  # nothing changed: both load, and say so
    assert second.original.info["cache_hit"] and second.oracles[0].info["cache_hit"] and len(cache_hits(caplog)) == 2
    retained = int(second.split.retain[0])
    write_data(tmp_path / "data.safetensors", flip=retained)  # same config, same path, one label changed
    caplog.clear()
    third = prepare(load_config(config(tmp_path)))
    assert not third.original.info["cache_hit"] and not third.oracles[0].info["cache_hit"]
    assert not cache_hits(caplog)  # a hit is logged only when everything matches


def test_fingerprints_see_one_label_and_the_architecture() -> None:
    from expunge.data.base import IndexedTensorDataset

    x, y = torch.randn(10, 4), torch.arange(10) % 3
    z = y.clone()
    z[7] = (z[7] + 1) % 3
    a, b = IndexedTensorDataset(x, y), IndexedTensorDataset(x, z)
    assert data_fingerprint(a)["inputs"] == data_fingerprint(b)["inputs"]
    assert data_fingerprint(a)["targets"] != data_fingerprint(b)["targets"]
    assert data_fingerprint(a, np.arange(5)) == data_fingerprint(b, np.arange(5))  # row 7 not used
    assert model_fingerprint(mlp((4,), 3, hidden=8)) != model_fingerprint(mlp((4,), 3, hidden=9))
    assert model_fingerprint(mlp((4,), 3)) != model_fingerprint(mlp((4,), 3), factory="other:fn")


def test_augment_hook_transforms_exactly_the_training_batches_and_enters_the_key(tmp_path) -> None:
    from . import user_models

    write_data(tmp_path / "data.safetensors")
    prepare(load_config(config(tmp_path)))
    user_models.CALLS.clear()
    ctx = prepare(load_config(config(tmp_path, augment="tests.byom.user_models:jitter")))
    assert not ctx.original.info["cache_hit"] and not ctx.oracles[0].info["cache_hit"]  # not the unaugmented models
    trained = ctx.original.cost.passes + ctx.oracles[0].cost.passes
    assert sum(user_models.CALLS) == trained > 0  # every training batch, nothing else (metrics see clean inputs)
    with pytest.raises(ConfigError, match="augment"):
        load_config(config(tmp_path, augment="tests.byom.user_models:nope"))


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_user_checkpoints_run_through_the_pipeline_with_deletion_records(tmp_path) -> None:
    write_data(tmp_path / "data.safetensors")
    original = mlp((6,), 3, hidden=8)
    save_file(original.state_dict(), str(tmp_path / "original.safetensors"))
    oracles = []
    for k in range(2):
        torch.manual_seed(10 + k)
        path = tmp_path / f"oracle{k}.pt"
        torch.save(mlp((6,), 3, hidden=8).state_dict(), path)
        oracles.append(str(path))
    cfg = config(tmp_path, oracle_checkpoints=oracles, save_models=True)
    cfg["model"]["checkpoint"] = str(tmp_path / "original.safetensors")
    loaded = load_config(cfg)
    assert loaded.oracles == 2  # the checkpoints set the pool size
    records = run_experiment(loaded)
    assert all(r["status"] == "ok" for r in records)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["original"]["info"]["checkpoint_sha256"] == sha256(tmp_path / "original.safetensors")  # loaded, not trained
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("original-*"))
    (record,) = [r for r in records if r["method"] == "finetune"]
    evidence = json.loads((tmp_path / "run" / record["deletion_record"]).read_text())
    forget = np.loadtxt(tmp_path / "run" / "split" / "forget.txt", dtype=np.int64)
    text = ",".join(str(i) for i in np.sort(forget))
    assert evidence["forget_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    weights = tmp_path / "run" / "records" / evidence["weights_file"]
    assert evidence["weights_sha256"] == sha256(weights)
    assert evidence["method"] == "finetune" and evidence["method_config"]["hyperparams"]["epochs"] == 1
    assert evidence["metrics"]["forget_acc"] == record["forget_acc"] and evidence["cost"]["passes"] == record["passes"]
    expected = noise_verdict(record, [o["metrics"] for o in run["oracles"]])  # the report's noise-floor rule, from the stored numbers
    assert expected is not None and evidence["verdict"] == expected["name"]
    assert evidence["seeds"]["unlearn_seed"] == 0 and evidence["versions"]["torch"] == torch.__version__
    state = load_file(str(weights))
    assert set(state) == set(original.state_dict())  # the unlearned model, loadable into the user's architecture


def test_a_checkpoint_of_another_architecture_is_a_config_error(tmp_path) -> None:
    write_data(tmp_path / "data.safetensors")
    save_file(mlp((6,), 3, hidden=5).state_dict(), str(tmp_path / "other.safetensors"))
    cfg = config(tmp_path)
    cfg["model"]["checkpoint"] = str(tmp_path / "other.safetensors")
    with pytest.raises(ConfigError, match="model.checkpoint"):
        prepare(load_config(cfg))
    cfg["model"]["checkpoint"] = str(tmp_path / "missing.safetensors")
    with pytest.raises(ConfigError, match="model.checkpoint"):
        load_config(cfg)
    with pytest.raises(ConfigError, match="model.factory"):
        load_config(config(tmp_path, model={"factory": "tests.byom.user_models:no_such"}))


def test_import_option_registers_user_code_for_the_cli(capsys) -> None:
    from expunge.cli import main

    assert main(["--import", "tests.byom.user_plugin", "list"]) == 0
    assert "byom_identity" in capsys.readouterr().out
    assert main(["--import", "no_such_module_xyz", "list"]) == 2
    assert "no_such_module_xyz" in capsys.readouterr().err


def test_a_checkpoint_cannot_stand_in_for_a_pool_of_originals(tmp_path) -> None:
    write_data(tmp_path / "data.safetensors")
    save_file(mlp((6,), 3, hidden=8).state_dict(), str(tmp_path / "original.safetensors"))
    cfg = config(tmp_path)
    cfg["model"]["checkpoint"] = str(tmp_path / "original.safetensors")
    with pytest.raises(ConfigError, match="pool"):
        prepare(load_config(cfg), original_seed=100_000)  # Seeds.pool_original(1)


def test_the_plugins_entry_point_group_imports_user_modules(monkeypatch) -> None:
    from importlib.metadata import EntryPoint

    from expunge import plugins
    from expunge.unlearn import UNLEARNERS

    seen = []

    def fake(group: str) -> list[EntryPoint]:
        seen.append(group)
        return [EntryPoint(name="byom", value="tests.byom.user_plugin", group=group)]

    monkeypatch.setattr(plugins, "entry_points", fake)
    monkeypatch.setattr(plugins, "_LOADED", set())
    assert plugins.load_entry_points() == ["tests.byom.user_plugin"] and seen == ["expunge.plugins"]
    assert "byom_identity" in UNLEARNERS.names()
    assert plugins.load_entry_points() == []  # once per process
