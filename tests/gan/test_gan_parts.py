"""Models, family, metrics and sample grids."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from expunge.cache import ModelCache
from expunge.cost import CostMeter
from expunge.errors import ConfigError
from expunge.evaluate.registry import METRIC_SETS, EvalContext, build_metrics, check_needs, run_metrics
from expunge.family import FAMILIES
from expunge.gan import GAN, build_gan, sample_grid_section, write_sample_grid
from expunge.gan.metrics import frechet_distance
from expunge.gan.train import Optimizers, standard_step


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("conditional", [False, True])
def test_dcgan_shapes(shape, conditional):
    gan = build_gan(shape, 10, {"width": 8, "latent_dim": 16, "conditional": conditional}, seed=0)
    x, y = gan.sample(6, seed=1)
    assert x.shape == (6, *shape) and (y is not None) == conditional
    assert gan.discriminator_scores(x, y).shape == (6,)


def test_same_seed_same_weights_and_cache_roundtrip(tmp_path):
    a = build_gan((1, 28, 28), 10, {"width": 4}, seed=3)
    b = build_gan((1, 28, 28), 10, {"width": 4}, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    a.set_scaling(0.5, 2.0)
    cache = ModelCache(tmp_path)
    cache.get_or_train("gan", {"k": 1}, lambda: a, lambda m: {"train_seconds": 0.0})
    loaded, info = cache.get_or_train("gan", {"k": 1}, lambda: build_gan((1, 28, 28), 10, {"width": 4}, seed=9), lambda m: {})
    assert info["cache_hit"] and float(loaded.scale) == 2.0 and float(loaded.shift) == 0.5


def test_bad_options_name_the_key():
    from expunge.gan import gan_options

    with pytest.raises(ConfigError, match="model.options.arch"):
        gan_options(SimpleNamespace(model=SimpleNamespace(options={"arch": "stylegan"})))
    with pytest.raises(ConfigError, match="latent_dm"):
        gan_options(SimpleNamespace(model=SimpleNamespace(options={"latent_dm": 3})))


def test_family_scales_images_into_tanh_range():
    from expunge.data import load_dataset
    from expunge.family import FamilyData

    bundle = load_dataset("synthetic", num_train=40, num_test=10, num_classes=2, image_size=8)
    gan = FAMILIES.get("gan")().build(SimpleNamespace(model=SimpleNamespace(options={"width": 4})), FamilyData(bundle, None), 0, torch.device("cpu"))
    mapped = gan.to_gan(bundle.train.inputs)
    assert mapped.min() == pytest.approx(-1.0, abs=1e-5) and mapped.max() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(gan.from_gan(mapped), bundle.train.inputs, atol=1e-5)


def test_family_loss_reaches_both_networks(class_setting):
    gan = class_setting.original
    batch = (class_setting.bundle.train.inputs[:16], class_setting.bundle.train.targets[:16], torch.arange(16))
    gan.zero_grad()
    class_setting.family.loss(gan, batch).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.discriminator.parameters())
    gan.zero_grad()


def test_standard_step_counts_three_passes_per_image():
    gan = build_gan((2,), 2, {"arch": "mlp", "width": 8, "latent_dim": 2}, seed=0)
    with CostMeter() as meter:
        standard_step(gan, Optimizers(gan, 1e-3), torch.randn(10, 2), None)
    assert meter.cost.passes == 30


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(4.0, rel=0.05)


def test_gan_metric_set_on_class_unlearning(class_setting):
    s = class_setting
    extras = s.family.extras(s.config, s.data, torch.device("cpu"))
    ctx = EvalContext(torch.device("cpu"), 0, s.bundle.train, s.bundle.test, s.split, extras=extras)
    metrics = build_metrics(None, s.family.metric_set)
    check_needs(metrics, ctx)
    assert set(METRIC_SETS["gan"]) == {"gan_class_share", "gan_nn_distance", "gan_membership", "gan_frechet", "gan_downstream"}
    original = run_metrics(metrics, s.original, ctx)
    assert 30 < original["forgotten_class_share"] < 70
    assert original["downstream_acc"] > 90
    assert set(original) >= {"forget_nn_dist", "heldout_nn_dist", "forget_mia_auc", "forget_d_real", "frechet_distance"} and "nn_dist_ratio" not in original
    # a GAN trained on the retained mode only generates (almost) nothing of the forgotten one
    oracle = s.train(s.split.retain, seed=1)
    assert run_metrics(metrics, oracle, ctx)["forgotten_class_share"] < 5


def test_item_split_reports_no_class_share(item_setting):
    s = item_setting
    ctx = EvalContext(torch.device("cpu"), 0, s.bundle.train, s.bundle.test, s.split, extras=s.family.extras(s.config, s.data, torch.device("cpu")))
    out = run_metrics(build_metrics(["gan_class_share", "gan_membership"], "gan"), s.original, ctx)
    assert "forgotten_class_share" not in out and 0 <= out["forget_mia_auc"] <= 100


def test_sample_grids_and_report_section(tmp_path, class_setting):
    img = build_gan((1, 28, 28), 10, {"width": 4}, seed=0)
    write_sample_grid(tmp_path / "samples" / "class1.png", {"before": img, "after": img, "oracle": img}, n=16, caption="class 1", index_dir=tmp_path)
    write_sample_grid(tmp_path / "samples" / "toy.png", {"before": class_setting.original}, real=class_setting.bundle.train.inputs, index_dir=tmp_path)
    lines = sample_grid_section(tmp_path)
    assert "![class 1](samples/class1.png)" in lines and "![toy](samples/toy.png)" in lines
    assert (tmp_path / "samples" / "class1.png").read_bytes()[:4] == b"\x89PNG"
    assert sample_grid_section(tmp_path / "nothing") == []


def test_model_registry_entries():
    from expunge.models import build_model

    a = build_model("dcgan", (1, 28, 28), 10, seed=0, width=4)
    b = build_model("mlp_gan", (2,), 2, seed=0, width=8, latent_dim=2)
    assert isinstance(a, GAN) and a.options.arch == "dcgan" and b.options.arch == "mlp"
    FAMILIES.get("gan")().validate(SimpleNamespace(model=SimpleNamespace(name="mlp_gan", options={"width": 8})))


def test_result_tables_report_classes_and_items_apart_with_labelled_columns_and_pooled_speed_up():
    from expunge.gan.report import results_tables

    def rec(kind, setting, seed, method, passes, frechet, share=None):
        return {"kind": kind, "setting": setting, "seed": seed, "method": method, "passes": passes, "frechet_distance": frechet, "forgotten_class_share": share}

    records = [
        rec("class", "class0", 0, "retrain", 1000, 60.0, 1.0),
        rec("class", "class0", 0, "cascade", 10, 62.0, 2.0),  # ratio 100
        rec("class", "class1", 0, "retrain", 100, 70.0, 3.0),
        rec("class", "class1", 0, "cascade", 100, 66.0, 4.0),  # ratio 1; pooled 1100 / 110 = 10, median 50.5, mean of ratios 50.5
        rec("items", "items64", 0, "retrain", 500, 67.0),
        rec("items", "items64", 0, "cascade", 50, 71.6),
    ]
    lines = results_tables(records)
    text = "\n".join(lines)
    class_part, item_part = text.split("### Item unlearning")
    assert class_part.startswith("### Class unlearning (class0, class1")
    assert "Fréchet distance (reference-CNN features, retained classes)" in class_part and "Fréchet distance (reference-CNN features, retained classes)" in item_part
    assert "| cascade | 2 | 3.0 ± 1.0 | 64.0 ± 2.0 |" in class_part and "10.0× (50.5×)" in class_part  # pooled, median beside
    assert "class share" not in item_part and "| cascade | 1 | 71.6 |" in item_part and "10.0× (10.0×)" in item_part
