"""Class-forgetting metrics: relearn speed tells learned from never-seen, probes read the intended layers, Fs is not clipped."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from expunge.data import load_dataset
from expunge.data.splits import ForgetSplit
from expunge.errors import ConfigError, DataError
from expunge.evaluate.class_forgetting import (
    Relearn,
    finite_losses,
    layer_features,
    loss_attack_advantage,
    probe_layers,
    relearn_examples,
    verdict_name,
)
from expunge.evaluate.registry import METRIC_SETS, EvalContext, build_metrics, run_metrics
from expunge.models import build_model
from expunge.train import Recipe
from expunge.unlearn import UNLEARNERS, UnlearningTask
from tests.training import fit

CLS = 1


@pytest.fixture(scope="module")
def setup():
    b = load_dataset("synthetic", num_train=240, num_test=160, num_classes=4, image_size=8, noise=1.0, separation=1.0, seed=3)
    y = b.train.targets
    keep = y != CLS
    original = fit(build_model("mlp", b.input_shape, 4, seed=0, hidden=(32, 16)), b.train)
    oracle = fit(build_model("mlp", b.input_shape, 4, seed=0, hidden=(32, 16)), b.train, np.where(keep.numpy())[0])
    idx = np.arange(len(y))
    split = ForgetSplit(idx[y.numpy() == CLS], idx[y.numpy() != CLS], np.array([], dtype=np.int64), np.arange(len(b.test)), len(y), len(b.test))
    ctx = EvalContext(torch.device("cpu"), 0, b.train, b.test, split, original, [oracle], {"forget_classes": [CLS]})
    return b, original, oracle, split, ctx


def test_relearn_restores_a_learned_class_fast_and_a_never_seen_one_slowly(setup) -> None:
    _, original, oracle, _, ctx = setup
    attack = Relearn(ks=[1], steps=10, variants=["head"])
    learned = attack.values(original, ctx)["relearn_k1_head"]
    never = attack.values(oracle, ctx)["relearn_k1_head"]
    assert learned >= 90 and learned - never >= 15
    # the row reset undoes a suppressed logit: the masked original relearns as fast as the original
    task = UnlearningTask(ctx.train_set, ctx.split, ctx.device, lambda s: None, Recipe(), forget_classes=[CLS])  # type: ignore[arg-type]
    masked = UNLEARNERS.get("output_mask")().unlearn(copy.deepcopy(original), task)
    assert attack.values(masked, ctx)["relearn_k1_head"] == pytest.approx(learned)


def test_relearn_repeats_average_independent_draws(setup) -> None:
    _, original, oracle, _, ctx = setup
    single = Relearn(ks=[1], steps=10, variants=["head"], repeats=1).values(original, ctx)["relearn_k1_head"]
    averaged = Relearn(ks=[1], steps=10, variants=["head"], repeats=3).values(original, ctx)
    n_target = int((ctx.test_set.targets[torch.as_tensor(ctx.split.test)] == CLS).sum())
    # draw 0 is the single-draw attack, so the other two draws sum to 3 * mean - single: a whole number of test images
    rest = (3 * averaged["relearn_k1_head"] - single) / 100 * n_target
    assert rest == pytest.approx(round(rest), abs=1e-6) and 0 <= rest <= 2 * n_target
    assert "relearn_k1_head_std" not in Relearn(ks=[1], steps=10, variants=["head"], repeats=1).values(original, ctx)
    assert Relearn().repeats >= 5 and "relearn_k1_head_std" in Relearn(ks=[1], steps=10, variants=["head"]).values(original, ctx)  # the default averages 5 draws
    # on the oracle, which never saw the class, one labelled example per class is a lottery: the draws disagree
    assert Relearn(ks=[1], steps=10, variants=["head"], repeats=3).values(oracle, ctx)["relearn_k1_head_std"] > 5


def test_class_set_on_output_mask(setup) -> None:
    _, original, oracle, _, ctx = setup
    assert METRIC_SETS["class"] == ["class_accuracy", "class_mia", "feature_probe", "relearn", "class_verdict"]
    task = UnlearningTask(ctx.train_set, ctx.split, ctx.device, lambda s: None, Recipe(), forget_classes=[CLS])  # type: ignore[arg-type]
    masked = UNLEARNERS.get("output_mask")().unlearn(copy.deepcopy(original), task)
    metrics = build_metrics([{"name": "relearn", "ks": [1], "steps": 10}, "class_accuracy", "class_mia", "feature_probe"], "class")
    out = run_metrics(metrics, masked, ctx)
    assert out["target_acc_test"] == 0.0 and out["relearn_k1_head_oracle"] < out["relearn_k1_head"]
    assert {"probe_penultimate", "probe_earlier", "probe_penultimate_oracle", "mia_fr", "mia_fs"} <= set(out)
    verdict = build_metrics(["class_verdict"], "class")[0]
    verdict.relearn_metric = Relearn(ks=[5], steps=10, variants=["head"])
    v = verdict(masked, ctx)
    # the mask closes none of the original-to-oracle relearn gap; the verdicts themselves are tested with 3 oracles in test_verdicts.py
    assert v["gap_closed_relearn_k5_head"] == pytest.approx(0.0) and v["dist_other_acc_test"] >= 0 and "band_relearn_k5_head" in v
    assert verdict_name(verdict(original, ctx)["verdict"]) == "not removed"


def test_probe_reads_the_intended_layers() -> None:
    shape = (1, 8, 8)
    resnet = build_model("resnet_small", shape, 4, width=4)
    points = probe_layers(resnet)
    assert (points["penultimate"].module_name, points["penultimate"].side) == ("fc", "input")
    assert (points["earlier"].module_name, points["earlier"].side, points["earlier"].pool) == ("layers.2", "output", True)
    x = torch.randn(3, *shape)
    assert layer_features(resnet, points["penultimate"], x, torch.device("cpu")).shape == (3, 32)
    assert layer_features(resnet, points["earlier"], x, torch.device("cpu")).shape == (3, 16)
    cnn = build_model("cnn", shape, 4, channels=(4, 8), hidden=16)
    assert probe_layers(cnn)["earlier"].module_name == "fc1"
    assert layer_features(cnn, probe_layers(cnn)["earlier"], x, torch.device("cpu")).shape == (3, 8 * 2 * 2)
    mlp = build_model("mlp", shape, 4, hidden=(32, 16))
    assert [p.module_name for p in probe_layers(mlp).values()] == ["fc", "hidden.2"]


def test_fs_sees_losses_of_a_suppressed_logit() -> None:
    rng = np.random.default_rng(0)
    members, nonmembers = 1e4 + rng.normal(0, 1, 200), 1e4 + 2 + rng.normal(0, 1, 200)  # clipping at 1e4 made these identical
    assert loss_attack_advantage(members, nonmembers) > 20
    assert finite_losses(np.array([1.0, np.inf, 3.0])).tolist() == [1.0, 4.0, 3.0]
    assert loss_attack_advantage(np.full(50, 7.0), np.full(50, 7.0)) == 0.0


def test_bad_relearn_settings(setup) -> None:
    *_, ctx = setup
    with pytest.raises(DataError, match="relearn k=1000"):
        relearn_examples(ctx, 1000, 0)
    with pytest.raises(ConfigError):
        Relearn(ks=[0])
    with pytest.raises(ConfigError):
        build_metrics([{"name": "relearn", "variants": ["last"]}], "class")


def test_head_attack_on_cached_features_equals_the_model_attack(setup) -> None:
    from expunge.evaluate.class_forgetting import classifier_layer, layer_features, relearn, relearn_head

    b, original, *_ = setup
    x, y = b.train.inputs[:40], b.train.targets[:40]
    point = probe_layers(original)["penultimate"]
    head = relearn_head(classifier_layer(original)[1], torch.as_tensor(layer_features(original, point, x, torch.device("cpu"))), y, [CLS], 10, 0.05)
    whole = relearn(original, x, y, [CLS], "head", 10, 0.05)
    assert torch.allclose(head.weight, classifier_layer(whole)[1].weight, atol=1e-5)
