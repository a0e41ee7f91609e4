"""A method, localizer or metric on the wrong model family is refused when the config loads (no training)."""

from __future__ import annotations

from typing import Any

import pytest

from expunge.compat import metric_set_supports, metric_sets_for
from expunge.errors import ConfigError
from expunge.evaluate.registry import METRIC_SETS, METRICS, resolve_metrics
from expunge.experiments import load_config
from expunge.family import FAMILIES
from expunge.localize import LOCALIZERS
from expunge.unlearn import UNLEARNERS

BASES: dict[str, dict[str, Any]] = {
    "classifier": {"dataset": {"name": "synthetic"}, "model": {"name": "mlp"}},
    "gan": {"family": "gan", "dataset": {"name": "gan_modes"}, "split": {"kind": "class", "classes": [1]}, "model": {"name": "mlp_gan", "options": {"arch": "mlp"}}},
    "lm": {"family": "lm", "dataset": {"name": "authors"}, "split": {"kind": "authors", "validation_fraction": 0.0}, "model": {"name": "mlp"}},
}
# A component each family accepts: unlearner, metric.
RIGHT = {"classifier": ("finetune", "accuracy"), "gan": ("gan_finetune", "gan_class_share"), "lm": ("lm_grad_diff", "lm_perplexity")}
PAIRS = [(a, b) for a in BASES for b in BASES if a != b]


def config(family: str, unlearner: str | None = None, metrics: list[Any] | None = None, localizer: str | None = None) -> dict[str, Any]:
    method: dict[str, Any] = {"name": "m", "unlearner": unlearner or RIGHT[family][0]}
    if localizer:
        method.update(localizer=localizer, alpha=0.1)
    return {**BASES[family], "methods": [method], "evaluation": {"metrics": metrics if metrics is not None else [RIGHT[family][1]]}}


@pytest.mark.parametrize("family", list(BASES))
def test_the_right_components_load(family: str) -> None:
    loaded = load_config(config(family))
    assert loaded.family == family and loaded.methods[0].unlearner == RIGHT[family][0]


@pytest.mark.parametrize(("family", "other"), PAIRS)
def test_a_wrong_family_unlearner_is_refused_at_load(family: str, other: str) -> None:
    wrong = RIGHT[other][0]
    with pytest.raises(ConfigError) as err:
        load_config(config(family, unlearner=wrong))
    message = str(err.value)
    assert message.startswith("methods.0.unlearner") and repr(wrong) in message and repr(family) in message
    assert RIGHT[family][0] in message  # the valid choices for this family are named


@pytest.mark.parametrize(("family", "other"), PAIRS)
def test_a_wrong_family_metric_is_refused_at_load(family: str, other: str) -> None:
    wrong = RIGHT[other][1]
    with pytest.raises(ConfigError) as err:
        load_config(config(family, metrics=[RIGHT[family][1], wrong]))
    message = str(err.value)
    assert message.startswith("evaluation.metrics.1") and repr(wrong) in message and RIGHT[family][1] in message


@pytest.mark.parametrize(("family", "other"), PAIRS)
def test_a_wrong_family_metric_set_is_refused_at_load(family: str, other: str) -> None:
    wrong_set = FAMILIES.get(other)().metric_set
    with pytest.raises(ConfigError, match=rf"evaluation\.metrics\.0: the metric set '{wrong_set}'"):
        load_config(config(family, metrics=[wrong_set]))


def test_a_wrong_family_localizer_is_refused_and_a_shared_one_loads() -> None:
    with pytest.raises(ConfigError, match=r"methods\.0\.localizer: the localizer 'lm_del' .*'classifier'"):
        load_config(config("classifier", localizer="lm_del"))
    with pytest.raises(ConfigError, match=r"methods\.0\.localizer: the localizer 'del' .*'lm'.*lm_del"):
        load_config(config("lm", localizer="del"))
    assert load_config(config("gan", localizer="del")).methods[0].localizer == "del"  # DEL needs only the family's loss
    assert load_config(config("lm", localizer="lm_del")).methods[0].localizer == "lm_del"


@pytest.mark.parametrize("family", list(BASES))
def test_every_family_default_metric_set_suits_the_family(family: str) -> None:
    """A metric added to a family's set without declaring the family would be refused on that family's own default."""
    name = FAMILIES.get(family)().metric_set
    assert metric_set_supports(name, family), [m for m, _ in resolve_metrics(METRIC_SETS[name], name) if not METRICS.supports(m, family)]
    assert name in metric_sets_for(family)


def test_every_family_has_unlearners_and_undeclared_entries_are_classifier_only() -> None:
    for family in BASES:
        assert UNLEARNERS.names_for(family), family
    assert UNLEARNERS.families("finetune") == ("classifier",)
    assert UNLEARNERS.families("gan_cascade") == ("gan",)
    assert LOCALIZERS.families("del") == ("classifier", "gan")
    assert set(UNLEARNERS.names_for("lm")) >= {"lm_npo", "lm_grad_diff", "lm_concept"}
    assert not set(UNLEARNERS.names_for("lm")) & set(UNLEARNERS.names_for("gan"))


def test_a_subclassed_family_accepts_its_base_family_components() -> None:
    from expunge.family import ClassifierFamily

    class Derived(ClassifierFamily):
        name = "derived"

    assert Derived().lineage() == ("derived", "classifier")
    assert FAMILIES.get("gan")().lineage() == ("gan",)


def test_expunge_list_shows_each_component_family(capsys: pytest.CaptureFixture[str]) -> None:
    from expunge.cli import main

    assert main(["list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ") and line.split()}
    assert lines["gan_cascade"].endswith("[families: gan]") and lines["lm_del"].endswith("[families: lm]")
    assert lines["del"].endswith("[families: classifier, gan]") and lines["accuracy"].endswith("[families: classifier]")
