"""Every bad input of issue 24 through the config loader: a ConfigError that names the key, nothing trains."""

from __future__ import annotations

import gzip

import pytest

from expunge import preflight
from expunge.errors import ConfigError, DataError
from expunge.experiments import load_config

from .cases import BAD_VALUES, fashion_mnist_config, mutate, valid_config


def test_the_base_config_is_valid(tmp_path):
    config = load_config(valid_config(tmp_path))
    assert [m.unlearner for m in config.methods] == ["finetune", "reset_finetune"]


@pytest.mark.parametrize(("path", "value", "needles"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES])
def test_bad_value_is_a_config_error_naming_the_key(tmp_path, monkeypatch, path, value, needles):
    monkeypatch.setattr(preflight, "check_device_format", lambda device: None)  # reach torch's own device check too
    with pytest.raises(ConfigError) as exc:
        load_config(mutate(valid_config(tmp_path), path, value))
    for needle in needles:
        assert needle in str(exc.value)


def test_train_size_beyond_a_known_dataset_names_the_key_and_the_size(tmp_path):
    with pytest.raises(ConfigError, match=r"split.train_size=70000 exceeds the 60000 training examples of fashion_mnist"):
        load_config(fashion_mnist_config(tmp_path, train_size=70000))
    with pytest.raises(ConfigError, match=r"split.test_size=20000 exceeds the 10000 test"):
        load_config(fashion_mnist_config(tmp_path, test_size=20000))


def test_config_path_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a YAML file"):
        load_config(tmp_path)


def test_config_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(path)


def test_out_that_is_a_file(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ConfigError, match="out: .* is an existing file"):
        load_config(mutate(valid_config(tmp_path), "out", str(tmp_path / "taken")))
    with pytest.raises(ConfigError, match="cannot create .* is a file"):
        load_config(mutate(valid_config(tmp_path), "out", str(tmp_path / "taken" / "below")))


def test_out_without_write_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if preflight.os.access(locked, preflight.os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ConfigError, match="no write permission"):
            load_config(mutate(valid_config(tmp_path), "out", str(locked / "run")))
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    ("section", "value", "module", "hint"),
    [("family", "lm", "transformers", "expunge[lm]"), ("executor.name", "ray", "ray", "expunge[ray]"), ("methods.0.unlearner", "concept_poison", "captum", "pip install captum")],
)
def test_missing_optional_dependency_is_refused_with_the_install_command(tmp_path, monkeypatch, section, value, module, hint):
    monkeypatch.setattr(preflight, "module_missing", lambda name: name == module)
    config = mutate(valid_config(tmp_path), section, value)
    with pytest.raises(ConfigError) as exc:
        preflight.check_config_dict(config)
    assert module in str(exc.value) and hint in str(exc.value) and section in str(exc.value)


def test_truncated_gz_names_the_file_and_how_to_reinstall(tmp_path):
    from expunge.data.fashion_mnist import read_idx

    whole = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(200))
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError) as exc:
        read_idx(path)
    assert str(path) in str(exc.value) and "--reinstall dataset-fashion-mnist" in str(exc.value)
    path.write_bytes(whole)
    assert read_idx(path).shape == (200,)


def test_space_with_an_unknown_key_fails_before_any_trial():
    from expunge.experiments.config import MethodConfig
    from expunge.experiments.tune import check_space

    base = {**MethodConfig(name="finetune", unlearner="finetune").__dict__}
    check_space({"hyperparams.lr": ["loguniform", 0.01, 0.1]}, base)
    with pytest.raises(ConfigError, match="hyperparams.lrr"):
        check_space({"hyperparams.lrr": ["loguniform", 0.01, 0.1]}, base)
    with pytest.raises(ConfigError, match="'speed' is not a method key"):
        check_space({"speed": ["uniform", 0, 1]}, base)


@pytest.mark.parametrize("trials", [0, -3])
def test_tune_refuses_non_positive_trials(tmp_path, trials):
    from expunge.experiments.tune import tune

    with pytest.raises(ConfigError, match="--trials"):
        tune(load_config(valid_config(tmp_path)), "finetune", trials=trials)


def test_report_on_a_results_json_of_the_wrong_shape(tmp_path):
    from expunge.experiments.report import report_folder

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text('{"not": "a list"}')
    with pytest.raises(DataError, match="is not an expunge results.json"):
        report_folder(tmp_path)


@pytest.mark.parametrize(("path", "value", "needles"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES])
def test_bad_value_through_the_command_line_is_one_line_and_exit_2(tmp_path, capsys, path, value, needles):
    import yaml

    from expunge.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(mutate(valid_config(tmp_path), path, value)))
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("expunge: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_out_below_a_folder_that_refuses_new_folders(tmp_path):
    from pathlib import Path

    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    with pytest.raises(ConfigError, match="out: cannot create /proc/nope/run"):
        load_config(mutate(valid_config(tmp_path), "out", "/proc/nope/run"))


def test_scientific_notation_without_a_dot_is_a_number(tmp_path):
    """YAML 1.1 reads ``1e-3`` as a string; float fields accept it, other types still refuse it."""
    config = load_config(valid_config(tmp_path), ["methods.0.hyperparams.lr=1e-3", "recipe.lr=5E-2"])
    assert config.methods[0].hyperparams["lr"] == 0.001 and config.recipe.lr == 0.05
    with pytest.raises(ConfigError, match="recipe.epochs must be an integer"):
        load_config(valid_config(tmp_path), ["recipe.epochs=1e3"])
