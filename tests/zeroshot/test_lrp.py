"""Relevance propagation: hand-checked values, conservation, residual blocks, captum agreement."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from expunge.models import build_model
from expunge.zeroshot import LRPGraph, relevance, relevance_per_stage


def two_layer(bias: bool = True) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(3, 2, bias=bias), nn.ReLU(), nn.Linear(2, 2, bias=bias))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, 2.0]]))
        if bias:
            net[0].bias.copy_(torch.tensor([0.1, -0.2]))
            net[2].bias.copy_(torch.tensor([0.3, 0.1]))
    return net


X = torch.tensor([[1.0, 0.5, 2.0]])


def test_epsilon_rule_matches_hand_computation() -> None:
    net = two_layer()
    eps = 0.1
    h = torch.relu(net[0](X))  # [1.6, 0.05]
    z = net[2](h)  # logits; predicted class 1: -1.6 + 0.1 + 0.1 = ... computed below
    c = int(z.argmax())
    w = net[2].weight[c]
    expected = h[0] * w * z[0, c] / (z[0, c] + eps * torch.sign(z[0, c]))
    got = relevance(net, X, layer="2", epsilon=eps)
    assert got.explained.item() == c
    torch.testing.assert_close(got.neurons[0], expected.detach())


@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_conservation_up_to_epsilon_and_bias_absorption(eps: float) -> None:
    net = two_layer()
    stages = relevance_per_stage(net, X, epsilon=eps)  # [R at input, R at hidden (pre-relu), R after relu, R at logits]
    with torch.no_grad():
        z1 = net[0](X)
        z2 = net[2](torch.relu(z1))
    r_out = stages[-1]
    # R_in = sum_k R_k (z_k - b_k) / (z_k + eps sign z_k): what the bias and eps do not absorb
    absorbed = lambda r, z, b: float((r * (z - b) / (z + eps * torch.sign(z))).sum().detach())  # noqa: E731
    r_hidden = stages[2]
    assert float(r_hidden.sum()) == pytest.approx(absorbed(r_out, z2, net[2].bias), rel=1e-5)
    assert float(stages[0].sum()) == pytest.approx(absorbed(r_hidden, z1, net[0].bias), rel=1e-5, abs=1e-6)
    assert abs(float(r_hidden.sum())) < abs(float(r_out.sum()))  # eps absorbs, never creates, relevance here


def test_conservation_is_exact_without_bias_and_epsilon() -> None:
    net = two_layer(bias=False)
    stages = relevance_per_stage(net, X, epsilon=1e-12)
    totals = [float(s.sum()) for s in stages]
    assert totals == pytest.approx([totals[-1]] * len(totals), rel=1e-5)


@pytest.mark.parametrize("rule", ["zplus", "alphabeta"])
def test_zplus_and_alphabeta_conserve_without_bias(rule: str) -> None:
    """Logit 1 at x = (1, .5, .5) has one positive (2.0) and one negative (-0.75) contribution."""
    net = two_layer(bias=False)
    r = relevance(net, torch.tensor([[1.0, 0.5, 0.5]]), layer="2", rule=rule, target=1)
    assert float(r.logits[0, 1]) == pytest.approx(1.25)
    assert float(r.neurons.sum()) == pytest.approx(1.25, rel=1e-5)
    expected = {"zplus": [0.0, 1.25], "alphabeta": [-1.25, 2.5]}[rule]
    assert r.neurons[0].tolist() == pytest.approx(expected, rel=1e-5)


def test_zplus_relevance_is_nonnegative_for_positive_logit() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(16, 5)
    r = relevance(net, x, layer="2", rule="zplus")
    positive = r.logits.max(1).values > 0
    assert (r.neurons[positive] >= -1e-7).all()


def test_residual_network_conserves_relevance_through_blocks() -> None:
    """BN passed through, no biases, tiny eps: every stage input carries the full logit (float64)."""
    model = build_model("resnet_small", (1, 8, 8), 4, seed=0, width=4).double().eval()
    with torch.no_grad():
        model.fc.bias.zero_()
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    stages = relevance_per_stage(model, x, epsilon=1e-12, bn="pass")
    start = stages[-1].sum(dim=1)
    for r in stages[:-1]:
        torch.testing.assert_close(r.reshape(len(x), -1).sum(dim=1), start, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["resnet_small", "cnn", "mlp"])
@pytest.mark.parametrize("bn", ["fold", "pass"])
def test_stage_graph_reproduces_model_output(name: str, bn: str) -> None:
    model = build_model(name, (1, 12, 12), 5, seed=0).eval()
    for m in model.modules():  # non-trivial BN statistics, so folding is really exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    LRPGraph(model, bn).check(torch.randn(2, 1, 12, 12))


def test_bn_fold_gives_the_true_preactivation() -> None:
    model = build_model("cnn", (1, 12, 12), 5, seed=0).eval()
    bn = model.features[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    stage = LRPGraph(model, "fold").stages[0]
    x = torch.randn(2, 1, 12, 12)
    w, b = stage.weight_bias()
    torch.testing.assert_close(stage.apply(x, w, b), bn(model.features[0](x)), rtol=1e-5, atol=1e-5)


def test_captum_backend_agrees_on_mlp() -> None:
    pytest.importorskip("captum")
    model = build_model("mlp", (1, 6, 6), 4, seed=0, hidden=(16, 8)).eval()
    x = torch.randn(5, 1, 6, 6)
    native = relevance(model, x, epsilon=1e-6)
    captum = relevance(model, x, epsilon=1e-6, backend="captum")
    torch.testing.assert_close(captum.neurons, native.neurons, rtol=1e-4, atol=1e-6)


def test_unknown_layer_and_rule_fail_with_choices() -> None:
    model = build_model("mlp", (1, 6, 6), 4, seed=0)
    with pytest.raises(Exception, match="choose one of"):
        relevance(model, torch.randn(1, 1, 6, 6), layer="nope")
    with pytest.raises(Exception, match="choose one of"):
        relevance(model, torch.randn(1, 1, 6, 6), rule="gamma")
