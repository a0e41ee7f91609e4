"""Path perturbation touches exactly the selected neurons' weights, consistently with the analysed layer."""

from __future__ import annotations

import copy

import pytest
import torch

from expunge.models import build_model
from expunge.zeroshot import ZeroShotConfig, neuron_path, perturb, zero_shot_unlearn

from .conftest import class_images


def _changed(before: torch.nn.Module, after: torch.nn.Module) -> dict[str, torch.Tensor]:
    a, b = dict(before.named_parameters()), dict(after.named_parameters())
    return {n: a[n] != b[n] for n in a}


@pytest.mark.parametrize("perturbation", ["cut", "gaussian", "laplace"])
def test_only_selected_neuron_weights_change(trained_resnet, separable_bundle, perturbation: str) -> None:
    x, _ = class_images(separable_bundle.test, 0, 12)
    config = ZeroShotConfig(k_p=3, perturbation=perturbation, scale=0.5)
    result = zero_shot_unlearn(trained_resnet, 0, x, config=config)
    changed = _changed(trained_resnet, result.model)
    for name, diff in changed.items():
        allowed = result.mask[name]
        assert not (diff & ~allowed).any(), f"{name} changed outside the selected paths"
    # every parameter outside the mask is bit-identical, buffers (BN statistics) too
    for (n, p0), (_, p1) in zip(trained_resnet.named_parameters(), result.model.named_parameters()):
        assert torch.equal(p0[~result.mask[n]], p1[~result.mask[n]])
    for (n, b0), (_, b1) in zip(trained_resnet.named_buffers(), result.model.named_buffers()):
        assert torch.equal(b0, b1), n
    assert sum(int(d.sum()) for d in changed.values()) > 0
    if perturbation == "cut":
        assert all(float(p.detach()[result.mask[n]].abs().sum()) == 0 for n, p in result.model.named_parameters())


def test_resnet_path_is_the_block_feeding_fc(trained_resnet, separable_bundle) -> None:
    path = neuron_path(trained_resnet)
    assert path.layer == "fc" and path.out_is_classifier
    assert path.num_neurons == trained_resnet.fc.in_features
    assert set(path.in_rows) == {"layers.3.0.conv2.weight", "layers.3.0.shortcut.0.weight"}
    mask = path.mask(trained_resnet, [1, 5], target_class=2, out_scope="target")
    fc = mask["fc.weight"]
    assert fc.sum() == 2 and fc[2, 1] and fc[2, 5]
    assert mask["layers.3.0.conv2.weight"][[1, 5]].all() and mask["layers.3.0.conv2.weight"].sum() == 2 * mask["layers.3.0.conv2.weight"][0].numel()
    assert mask["layers.2.0.conv2.weight"].sum() == 0


@pytest.mark.parametrize("name,options", [("resnet_small", {"width": 4}), ("cnn", {"channels": (4, 8), "hidden": 16}), ("mlp", {"hidden": (16, 8)})])
def test_cut_with_bias_silences_exactly_the_analysed_neurons(name: str, options: dict) -> None:
    """Cutting the incoming rows + bias/BN of neuron n makes the analysed layer's input n zero, and only n."""
    model = build_model(name, (1, 8, 8), 4, seed=0, **options).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.bias.data.uniform_(0.1, 0.5)  # so a weight-only cut would leave a visible constant
    path = neuron_path(model)
    captured = {}
    layer = dict(model.named_modules())[path.layer]
    layer.register_forward_hook(lambda m, inp, out: captured.__setitem__("x", inp[0].detach()))
    x = torch.randn(6, 1, 8, 8)
    model(x)
    before = captured["x"].reshape(6, path.num_neurons, -1)
    chosen = [0, 3]
    perturb(model, path.mask(model, chosen, out_scope="none", cut_bias=True), "cut")
    model(x)
    after = captured["x"].reshape(6, path.num_neurons, -1)
    assert after[:, chosen].abs().max() == 0
    others = [j for j in range(path.num_neurons) if j not in chosen]
    torch.testing.assert_close(after[:, others], before[:, others])


def test_target_scope_requires_the_classifier() -> None:
    model = build_model("cnn", (1, 8, 8), 4, seed=0, channels=(4, 8), hidden=16)
    path = neuron_path(model, layer="fc1")
    assert path.out_group == 4  # 8 channels x 2x2 positions flattened into fc1
    with pytest.raises(Exception, match="out_scope='all'"):
        path.mask(model, [0], target_class=0, out_scope="target")
    mask = path.mask(model, [1], out_scope="all")
    assert mask["fc1.weight"][:, 4:8].all() and mask["fc1.weight"].sum() == 16 * 4


def test_noise_is_reproducible_from_the_seed(trained_mlp) -> None:
    path = neuron_path(trained_mlp)
    mask = path.mask(trained_mlp, [0, 1], target_class=1)
    a = perturb(copy.deepcopy(trained_mlp), mask, "laplace", 1.0, seed=7)
    b = perturb(copy.deepcopy(trained_mlp), mask, "laplace", 1.0, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
