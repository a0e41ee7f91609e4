"""Family options are typed dataclasses checked when the config loads: unknown keys and bad values name the key."""

from __future__ import annotations

from typing import Any

import pytest

from expunge.errors import ConfigError
from expunge.experiments import load_config
from expunge.family import family_of
from expunge.gan.models import GANOptions
from expunge.lm import LMOptions

GAN = {"family": "gan", "dataset": {"name": "gan_modes"}, "split": {"kind": "class", "classes": [1]}, "model": {"name": "mlp_gan", "options": {"arch": "mlp"}}, "methods": [{"name": "gan_finetune"}]}
LM = {"family": "lm", "dataset": {"name": "authors"}, "split": {"kind": "authors", "validation_fraction": 0.0}, "model": {"name": "tiny_gpt2", "options": {}}, "methods": [{"name": "lm_npo"}]}


def with_options(base: dict[str, Any], section: str, **options: Any) -> dict[str, Any]:
    return {**base, section: {**base[section], "options": {**base[section].get("options", {}), **options}}}


def test_family_options_come_back_typed() -> None:
    gan = load_config(with_options(GAN, "model", latent_dim=3))
    lm = load_config(with_options(LM, "model", n_layer=1, n_embd=32, n_head=2))
    gan_options, lm_options = family_of(gan).options(gan), family_of(lm).options(lm)
    assert isinstance(gan_options, GANOptions) and gan_options.latent_dim == 3 and gan_options.arch == "mlp"
    assert isinstance(lm_options, LMOptions) and (lm_options.n_layer, lm_options.n_embd, lm_options.pretrained) == (1, 32, None)


@pytest.mark.parametrize(
    ("base", "section", "options", "message"),
    [
        (GAN, "model", {"latent_dm": 3}, r"model\.options.*latent_dm"),
        (GAN, "model", {"latent_dim": 0}, r"model\.options\.latent_dim must be >= 1"),
        (LM, "model", {"n_layers": 2}, r"model\.options.*n_layers"),
        (LM, "model", {"n_embd": 30, "n_head": 4}, r"model\.options\.n_embd \(30\) must be divisible by model\.options\.n_head"),
        (LM, "model", {"dropout": 1.5}, r"model\.options\.dropout must be < 1"),
        (LM, "dataset", {"num_author": 5}, r"dataset\.options: unknown keys \['num_author'\] for dataset 'authors'"),
        (LM, "model", {"pretrained": "/nowhere"}, None),  # checked against the tokenizer below
    ],
)
def test_bad_family_options_are_refused_at_load(base: dict[str, Any], section: str, options: dict[str, Any], message: str | None) -> None:
    config = with_options(base, section, **options)
    if message is None:
        config = with_options(config, "dataset", tokenizer="bpe")
        message = r"dataset\.options\.tokenizer: 'bpe' is trained here, but model\.options\.pretrained"
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_a_checkpoint_brings_its_tokenizer_by_default() -> None:
    config = load_config(with_options(LM, "model", pretrained="/models/my-gpt2"))
    assert config.dataset.options["tokenizer"] == "/models/my-gpt2"
