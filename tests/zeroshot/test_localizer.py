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
