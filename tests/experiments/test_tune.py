import json

import yaml

from expunge.cli import main
from tests.core.test_cli_end_to_end import tiny_config


def test_tune_searches_on_validation_and_stores_choice(tmp_path, capsys):
    cfg = tiny_config(tmp_path)
    cfg["split"]["validation_fraction"] = 0.15
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["tune", str(path), "--method", "DEL", "--trials", "3"]) == 0
    result = json.loads((tmp_path / "run" / "tune-DEL.json").read_text())
    assert result["evaluated_on"].startswith("validation")
    assert result["validation_size"] == 45  # 15% of 300 held out: the tuning 'test' set
    assert len(result["trials"]) == 3
    assert result["best"]["objective"] == min(t["objective"] for t in result["trials"] if t["status"] == "ok")
    assert {"hyperparams.lr", "hyperparams.epochs", "alpha"} == set(result["best"]["params"])
    tuned = yaml.safe_load((tmp_path / "run" / "tuned-DEL.yaml").read_text())
    best_method = next(m for m in tuned["methods"] if m["name"] == "DEL")
    assert best_method["alpha"] == result["best"]["params"]["alpha"]
    assert "best:" in capsys.readouterr().out


def test_custom_space_with_choices_and_the_max_gap_objective(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["split"]["validation_fraction"] = 0.15
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    space = ["--space", "hyperparams.reset=choice:fresh:original_init", "--space", "hyperparams.epochs=int:1:1"]
    assert main(["tune", str(path), "--method", "DEL", "--trials", "4", "--objective", "max_gap", *space]) == 0
    result = json.loads((tmp_path / "run" / "tune-DEL.json").read_text())
    assert set(result["space"]) == {"hyperparams.reset", "hyperparams.epochs"}
    for trial in result["trials"]:
        assert trial["params"]["hyperparams.reset"] in ("fresh", "original_init") and trial["params"]["hyperparams.epochs"] == 1
        if trial["status"] == "ok":
            assert trial["objective"] == trial["max_gap"] >= trial["avg_gap"]  # the worst |Δ| bounds their mean


def test_space_entries_are_checked():
    import pytest

    from expunge.errors import ConfigError
    from expunge.experiments.tune import parse_space

    assert parse_space(["alpha=uniform:0.1:0.3"]) == {"alpha": ["uniform", 0.1, 0.3]}
    with pytest.raises(ConfigError, match="PATH=KIND"):
        parse_space(["alpha=normal:0:1"])
