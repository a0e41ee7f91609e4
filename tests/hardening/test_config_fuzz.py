"""Property: a mutated valid config is either valid or a clean ConfigError, never another exception.

And the torch-free catalog check never refuses a config the full loader accepts (it may only
refuse earlier), so the fast path cannot turn a good run away.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expunge.catalog import fast_check
from expunge.errors import ConfigError
from expunge.experiments import load_config

from .cases import mutate

PATHS = [
    "recipe.epochs",
    "recipe.lr",
    "recipe.momentum",
    "recipe.batch_size",
    "recipe.schedule",
    "split.fraction",
    "split.kind",
    "split.train_size",
    "split.test_size",
    "split.validation_fraction",
    "split.classes",
    "seeds",
    "oracles",
    "train_seed",
    "methods.0.hyperparams.lr",
    "methods.0.hyperparams.epochs",
    "methods.0.name",
    "methods.1.alpha",
    "methods.1.localizer",
    "methods.1.granularity",
    "methods.1.unlearner",
    "methods",
    "device",
    "family",
    "evaluation.metrics",
    "evaluation.confidence",
    "executor.retries",
    "model.name",
    "model.options",
    "dataset.name",
    "out",
    "quiet",
    "unknown_key",
    "split.unknown_key",
    "methods.0.hyperparams.unknown_key",
]
NAMES = st.sampled_from(["classifier", "gan", "lm", "finetune", "del", "salun", "gan_finetune", "lm_grad_ascent", "iid", "class", "cpu", "cuda", "mps", "example", "nope", ""])
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=100_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    NAMES,
    st.lists(st.integers(min_value=-2, max_value=12), max_size=4),
    st.dictionaries(st.sampled_from(["name", "lr", "x"]), st.one_of(st.integers(-1, 5), NAMES), max_size=2),
)


def base(tmp: str) -> dict[str, Any]:
    return {
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 120, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None},
        "model": {"name": "resnet_small", "options": {"width": 4}},
        "recipe": {"epochs": 2, "lr": 0.05},
        "oracles": 2,
        "seeds": [0, 1],
        "methods": [{"name": "finetune", "hyperparams": {"epochs": 1, "lr": 0.01}}, {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune"}],
        "device": "cpu",
        "cache_dir": None,
        "out": f"{tmp}/run",
        "quiet": True,
    }


def _outcome(check, data: dict[str, Any]) -> str | None:
    """None when accepted, the message when refused with a ConfigError; anything else propagates (fails the test)."""
    try:
        check(copy.deepcopy(data))
    except ConfigError as exc:
        message = str(exc)
        assert message and "Traceback" not in message
        return message
    return None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_mutated_configs_are_valid_or_a_clean_config_error(tmp_path, mutations):
    data = base(str(tmp_path))
    for path, value in mutations:
        try:
            data = mutate(data, path, value)
        except (TypeError, KeyError, IndexError, ValueError, AttributeError):
            continue  # the mutation itself does not apply (e.g. methods.1 after methods became a number)
    full = _outcome(load_config, data)
    fast = _outcome(fast_check, data)
    if fast is not None:
        assert full is not None, f"the catalog refused a config the loader accepts: {fast}"


def test_non_finite_values_anywhere_numeric_are_refused(tmp_path):
    for path in ("recipe.lr", "recipe.weight_decay", "methods.0.hyperparams.lr", "methods.1.alpha", "split.fraction", "split.validation_fraction"):
        for value in (math.nan, math.inf, -math.inf):
            assert _outcome(load_config, mutate(base(str(tmp_path)), path, value)) is not None, (path, value)
            assert _outcome(fast_check, mutate(base(str(tmp_path)), path, value)) is not None, (path, value)
