import math

import pytest
import torch

from expunge.errors import ConfigError, DataError
from expunge.localize import Scores, channel_aggregate, global_top_k, random_like
from expunge.masks import Mask
from expunge.models import build_model


def random_scores(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.rand(p.shape, generator=gen) for n, p in model.named_parameters()}


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.1, 0.3, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("granularity", ["param", "channel"])
def test_mask_selects_exactly_floor_alpha_n(tiny_resnet, alpha, granularity):
    scores = Scores(random_scores(tiny_resnet), granularity)
    mask = scores.mask(alpha)
    total = sum(p.numel() for p in tiny_resnet.parameters())
    assert mask.num_total() == total
    assert mask.num_selected() == math.floor(alpha * total)


def test_channel_ties_still_give_exact_budget(tiny_resnet):
    # every entry of a row shares one score under channel aggregation: many ties at the boundary
    scores = Scores({n: torch.ones_like(p) for n, p in tiny_resnet.named_parameters()}, "channel")
    for alpha in (0.17, 0.33):
        assert scores.mask(alpha).num_selected() == int(alpha * scores.mask(1.0).num_total())


def test_channel_aggregation_hand_made():
    # 10 rows (output channels) -> DEL's code uses h = int(0.1 * 10) = 1: the row maximum
    score = torch.zeros(10, 2, 1, 1)
    score[0, :, 0, 0] = torch.tensor([1.0, 3.0])
    score[1, :, 0, 0] = torch.tensor([2.0, 2.0])
    agg = channel_aggregate(score, "del_code")
    assert torch.equal(agg[0], torch.full((2, 1, 1), 3.0))
    assert torch.equal(agg[1], torch.full((2, 1, 1), 2.0))
    # 20 rows of length 4 -> h = 2: mean of the two largest entries of each row
    score = torch.arange(80, dtype=torch.float32).reshape(20, 4)
    agg = channel_aggregate(score, "del_code")
    assert torch.allclose(agg[3], torch.full((4,), (14.0 + 15.0) / 2))
    # whole-row mean (DEL's ViT rule) and 1-D tensors untouched
    assert torch.allclose(channel_aggregate(score, "all")[0], torch.full((4,), 1.5))
    bias = torch.tensor([3.0, 1.0, 2.0])
    assert torch.equal(channel_aggregate(bias), bias)


def test_global_top_k_is_stable_and_exact():
    scores = {"a": torch.tensor([1.0, 5.0, 5.0]), "b": torch.tensor([[5.0, 0.0]])}
    chosen = global_top_k(scores, 2)
    # ties at 5.0 are broken by parameter order, then by flat index
    assert chosen["a"].tolist() == [False, True, True]
    assert chosen["b"].tolist() == [[False, False]]


def test_per_layer_budget_and_bad_alpha(tiny_resnet):
    scores = Scores(random_scores(tiny_resnet), "param")
    mask = scores.mask(0.25, budget="per_layer")
    for name, entry in mask.entries.items():
        assert int(entry.sum()) == int(0.25 * entry.numel()), name
    with pytest.raises(ConfigError, match="alpha"):
        scores.mask(1.5)
    with pytest.raises(ConfigError, match="granularity"):
        scores.mask(0.1, "neuron")


def test_mask_save_load_roundtrip(tmp_path, tiny_resnet):
    mask = Scores(random_scores(tiny_resnet), "channel").mask(0.3)
    mask.metadata["localizer"] = "del"
    mask.save(tmp_path / "m.safetensors")
    loaded = Mask.load(tmp_path / "m.safetensors")
    assert loaded.names() == mask.names()
    assert all(torch.equal(loaded[n], mask[n]) for n in mask.names())
    assert loaded.metadata["localizer"] == "del"
    assert set(mask.layer_fractions()) == {n for n, _ in tiny_resnet.named_parameters()}


def test_mask_shape_mismatch_is_explained(tiny_resnet):
    other = build_model("resnet_small", (1, 8, 8), 4, seed=0, width=8)
    with pytest.raises(DataError, match="shape"):
        Mask.full(other).check_matches(tiny_resnet)


def test_random_control_keeps_per_layer_counts(tiny_resnet):
    mask = Scores(random_scores(tiny_resnet), "channel").mask(0.3)
    control = random_like(mask, seed=1)
    assert control.layer_counts() == mask.layer_counts()
    assert any(not torch.equal(control[n], mask[n]) for n in mask.names())
