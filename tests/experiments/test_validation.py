"""Config validation at load time: every typo or impossible value fails before anything trains."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import pytest

from expunge.errors import ConfigError
from expunge.experiments import load_config

DEMO = Path(str(resources.files("expunge") / "configs" / "demo.yaml"))


def load(*overrides: str):
    return load_config(DEMO, list(overrides))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("methods.0.name=nope", r"methods\.0\.name: 'nope' is not a registered unlearner"),
        ("methods.1.hyperparams.lr=-1", r"methods\.1\.hyperparams\.lr must be > 0"),
        ("methods.1.hyperparams.epochz=3", r"methods\.1\.hyperparams\.epochz: unknown hyperparameter \(did you mean 'epochs'\?\)"),
        ("methods.1.alpha=abc", r"methods\.1\.alpha must be a number, got 'abc'"),
        ("methods.1.hyperparams.reset=nothing", r"methods\.1\.hyperparams\.reset: 'nothing' is not allowed; choose one of"),
        ("methods.1.hyperparams.epochs=2.5", r"methods\.1\.hyperparams\.epochs must be an integer"),
        ("methods.1.localizer=dell", r"methods\.1\.localizer: unknown localizer 'dell'"),
        ("methods.1.localizer_options.criterion=nope", r"methods\.1\.localizer_options\.criterion: 'nope' is not allowed"),
        ("methods.1.localizer_options.wrong=1", r"methods\.1\.localizer_options\.wrong: unknown hyperparameter"),
        ("methods.1.alpha=1.5", r"methods\.1\.alpha must lie in \(0, 1\]"),
        ("evaluation.metrics=[nope]", r"evaluation\.metrics: unknown metric 'nope'"),
        ("family=gans", r"family: unknown family 'gans'"),
        ("split.analysis_images=5", r"split\.analysis_images needs split\.kind=class"),
        ("recipe.epochz=3", r"unknown config key"),
    ],
)
def test_bad_input_fails_at_load_naming_the_key(override: str, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=message):
        load(override)
    assert time.perf_counter() - start < 2.0  # before anything trains


def test_valid_values_are_coerced_and_stored() -> None:
    config = load("methods.1.hyperparams.lr=1", "methods.1.alpha=0.25")
    assert config.methods[1].hyperparams["lr"] == 1.0 and isinstance(config.methods[1].hyperparams["lr"], float)
    assert config.methods[1].alpha == 0.25
    assert config.methods[0].unlearner == "finetune"  # the name is the unlearner when none is given


def test_a_label_with_an_explicit_unlearner_is_allowed() -> None:
    config = load("methods.0.name=my-finetune", "methods.0.unlearner=finetune")
    assert (config.methods[0].name, config.methods[0].unlearner) == ("my-finetune", "finetune")


def test_inherited_ranges_apply_to_overridden_defaults() -> None:
    """Subclasses override SGDSettings defaults without ``hp``; the base range still applies."""
    with pytest.raises(ConfigError, match="lr must be > 0"):
        load_config({"methods": [{"name": "ga", "hyperparams": {"lr": 0}}]})
