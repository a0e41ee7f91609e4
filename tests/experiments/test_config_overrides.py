"""Dotted key=value overrides: nested dicts, list positions, and clear errors."""

import pytest

from expunge.errors import ConfigError
from expunge.experiments.config import apply_overrides, set_path


def test_overrides_reach_nested_dicts_and_list_items() -> None:
    data = {"recipe": {"epochs": 15}, "methods": [{"name": "a"}, {"name": "b", "hyperparams": None}]}
    out = apply_overrides(data, ["recipe.epochs=3", "methods.1.hyperparams.lr=0.1", "split.kind=iid"])
    assert out == {"recipe": {"epochs": 3}, "methods": [{"name": "a"}, {"name": "b", "hyperparams": {"lr": 0.1}}], "split": {"kind": "iid"}}
    assert data["recipe"]["epochs"] == 15  # the input is not modified


def test_bad_list_positions_are_named() -> None:
    with pytest.raises(ConfigError, match="methods.5 is not a valid list position"):
        apply_overrides({"methods": [{}]}, ["methods.5.alpha=0.1"])
    with pytest.raises(ConfigError, match="not key=value"):
        apply_overrides({}, ["recipe.epochs"])


def test_set_path_in_place() -> None:
    method = {"hyperparams": {"lr": 0.05}}
    set_path(method, ["hyperparams", "reset"], "original_init")
    assert method == {"hyperparams": {"lr": 0.05, "reset": "original_init"}}


def test_plus_appends_a_list_item_only_at_the_end_of_a_key() -> None:
    data = {"methods": [{"name": "a"}]}
    out = apply_overrides(data, ["methods.+={name: b, hyperparams: {lr: 0.1}}", "methods.1.hyperparams.lr=0.2"])
    assert out["methods"] == [{"name": "a"}, {"name": "b", "hyperparams": {"lr": 0.2}}] and data["methods"] == [{"name": "a"}]
    with pytest.raises(ConfigError, match=r"or \+ at the end to append"):
        apply_overrides(data, ["methods.+.name=c"])
