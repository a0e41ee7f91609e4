"""The ``relevance`` localizer: registered, neuron-level scores, whole-row masks."""

from __future__ import annotations

import torch

import expunge.zeroshot  # noqa: F401  (registers the localizer)
from expunge.data.base import TensorBatches
from expunge.localize import LOCALIZERS
from expunge.zeroshot import rank_neurons


def _forget_batches(bundle, cls: int):
    return TensorBatches(bundle.train, torch.where(bundle.train.targets == cls)[0][:24], 8)


def test_registered_and_scores_whole_neuron_rows(trained_resnet, separable_bundle) -> None:
    assert "relevance" in LOCALIZERS.names()
    localizer = LOCALIZERS.get("relevance")(k_a=3)
    assert localizer.data_source == "forget"
    scores = localizer.fit(trained_resnet, None, _forget_batches(separable_bundle, 1))
    producers = {"layers.3.0.conv2.weight", "layers.3.0.shortcut.0.weight", "layers.3.0.bn2.weight", "layers.3.0.bn2.bias", "layers.3.0.shortcut.1.weight", "layers.3.0.shortcut.1.bias"}
    assert {n for n, v in scores.values.items() if v.abs().sum() > 0} == producers
    w = scores.values["layers.3.0.conv2.weight"]
    assert torch.equal(w, w[:, :1, :1, :1].expand_as(w))  # one score per output row
    top = scores.ranking.order[0]
    assert float(w[top].max()) == 1.0
    mask = scores.neuron_mask(4)
    rows = mask["layers.3.0.conv2.weight"].reshape(w.shape[0], -1).all(dim=1)
    assert rows.sum() == 4 and set(torch.where(rows)[0].tolist()) == set(scores.ranking.order[:4])
    budget = scores.mask(0.001)
    assert set(n for n, t in budget.entries.items() if t.any()) <= producers


def test_counts_are_top_ka_picks_per_image(trained_mlp, separable_bundle) -> None:
    x = separable_bundle.test.inputs[separable_bundle.test.targets == 2][:10]
    ranking = rank_neurons(trained_mlp, x, k_a=3)
    assert ranking.num_images == 10 and float(ranking.counts.sum()) == 30
    counts = [float(ranking.counts[j]) for j in ranking.order]
    assert counts == sorted(counts, reverse=True)


def test_vote_order_breaks_ties_by_first_occurrence_or_by_summed_relevance() -> None:
    from expunge.zeroshot.localizer import vote_order

    picks = [[3, 1], [1, 3], [2, 0], [4, 2]]  # counts: 1, 2 and 3 twice, 0 and 4 once
    relevance = torch.tensor([0.5, 2.0, 0.1, 1.0, 9.0, 7.0])
    first, counts, seen = vote_order(picks, 6, relevance)
    assert first == [3, 1, 2, 0, 4, 5]  # 3 before 1 (image 0 picked 3 first); 2 (position 4) before 0 and 4; 5 unpicked
    assert counts.tolist() == [1, 2, 2, 2, 1, 0] and seen.tolist()[:5] == [5, 1, 4, 0, 6]
    by_relevance, _, _ = vote_order(picks, 6, relevance, "relevance-sum")
    assert by_relevance == [1, 3, 2, 4, 0, 5]  # within a count: larger summed relevance first


def test_first_occurrence_ranking_is_the_authors_counter_over_images_in_order(trained_mlp, separable_bundle) -> None:
    """The authors: each image's indices sorted by signed relevance (stable, descending), top K_a, merged in image order, Counter.most_common()."""
    from collections import Counter

    import pytest

    from expunge.errors import ConfigError
    from expunge.zeroshot import relevance

    x = separable_bundle.test.inputs[separable_bundle.test.targets == 2][:12]
    ranking = rank_neurons(trained_mlp, x, k_a=2, batch_size=5)
    merged = []
    for image in x:
        r = relevance(trained_mlp, image[None], ranking.path.layer).neurons[0].tolist()
        merged += sorted(range(len(r)), key=lambda i: r[i], reverse=True)[:2]
    assert ranking.voted == [j for j, _ in Counter(merged).most_common()]
    assert ranking.order[: len(ranking.voted)] == ranking.voted
    with pytest.raises(ConfigError, match="tie_break 'random' unknown"):
        rank_neurons(trained_mlp, x, k_a=2, tie_break="random")
