"""DEL's gradient weights every forget example equally, whatever the batch size and shuffle (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from expunge.errors import ConfigError
from expunge.localize import LOCALIZERS, summed_gradient
from expunge.localize.gradient import accumulate_gradients
from expunge.localize.ssd_importance import diagonal_fisher
from expunge.train import epoch_batches

from .localize_toy import trained

FORGET = 130  # not a multiple of 7, 32 or 128: every batch size leaves a partial batch


def double_ce(model: nn.Module, batch) -> torch.Tensor:
    """Mean cross-entropy in float64, so that regrouping examples changes only rounding."""
    return nn.functional.cross_entropy(model(batch[0].double()), batch[1])


def setting(arch: str) -> tuple[nn.Module, object, np.ndarray]:
    model, bundle, _ = trained(arch)
    forget = np.random.default_rng(0).choice(len(bundle.train), FORGET, replace=False)
    return model.double(), bundle, forget


def del_scores(model, bundle, forget, batch_size: int, seed: int):
    return LOCALIZERS.get("del")().fit(model, double_ce, epoch_batches(bundle.train, forget, batch_size, seed)(0))


CASES = [(7, 0), (32, 0), (128, 0), (32, 1), (128, 1)]  # (batch size, shuffle seed)


@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_del_scores_and_mask_do_not_depend_on_batch_size_or_shuffle(arch):
    model, bundle, forget = setting(arch)
    fits = [del_scores(model, bundle, forget, b, s) for b, s in CASES]
    reference = fits[0]
    for fit in fits[1:]:
        for name, value in reference.values.items():
            assert torch.allclose(fit.values[name], value, rtol=1e-5, atol=1e-12), name
    masks = [fit.mask(0.1) for fit in fits]
    assert masks[0].num_selected() > 0
    for mask in masks[1:]:
        assert all(torch.equal(mask[n], masks[0][n]) for n in masks[0].names())


def test_float32_scores_agree_across_batch_sizes_up_to_rounding():
    model, bundle, _ = trained("mlp")
    forget = np.random.default_rng(0).choice(len(bundle.train), FORGET, replace=False)
    ce = lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1])
    fits = [LOCALIZERS.get("del")().fit(model, ce, epoch_batches(bundle.train, forget, b, s)(0)) for b, s in CASES]
    for fit in fits[1:]:
        for name, value in fits[0].values.items():
            scale = float(value.abs().max())
            assert torch.allclose(fit.values[name], value, rtol=1e-4, atol=1e-5 * scale), name


def test_summed_gradient_is_the_sum_of_per_example_gradients():
    model, bundle, forget = setting("resnet")
    total = summed_gradient(model, double_ce, epoch_batches(bundle.train, forget, 32, 0)(0))
    per_example = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    model.eval()
    for i in forget:
        x, y = bundle.train.inputs[[int(i)]], bundle.train.targets[[int(i)]]
        model.zero_grad()
        double_ce(model, (x, y)).backward()
        for n, p in model.named_parameters():
            per_example[n] += p.grad
    model.zero_grad(set_to_none=True)
    for name, value in total.items():
        assert torch.allclose(value, per_example[name], rtol=1e-9, atol=1e-12), name


def squared_error(model: nn.Module, batch) -> torch.Tensor:
    return ((model(batch[0]).squeeze(1) - batch[1]) ** 2).mean()


def one_weight_model() -> nn.Module:
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(1.0)
    return model


def test_hand_computed_two_unequal_batches():
    """ℓ_i = (w·x_i − y_i)², w = 1, y = 0: ∇ℓ_i = 2·x_i², i.e. 2, 8, 18 for x = 1, 2, 3."""
    model = one_weight_model()
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    y = torch.zeros(3, dtype=torch.float64)
    two_batches = [(x[:2], y[:2]), (x[2:], y[2:])]  # sizes 2 and 1
    total = summed_gradient(model, squared_error, two_batches)["weight"]
    assert float(total) == 28.0  # 2 + 8 + 18 = 3 × the per-example mean 28/3; the old Σ of batch means gave (2 + 8)/2 + 18 = 23
    scores = LOCALIZERS.get("del")().fit(model, squared_error, two_batches)
    assert float(scores.values["weight"]) == 28.0  # |θ·g| with θ = 1
    one_batch = summed_gradient(model, squared_error, [(x, y)])["weight"]
    assert float(one_batch) == pytest.approx(28.0, rel=1e-15)  # one batch of 3: 3 · mean(2, 8, 18), up to rounding


def test_ssd_fisher_weights_batches_by_size():
    """Batch gradients 5 (two examples) and 18 (one): Σ|b|·g_b² / Σ|b| = (2·25 + 324)/3, not (25 + 324)/2."""
    model = one_weight_model()
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    y = torch.zeros(3, dtype=torch.float64)
    fisher = diagonal_fisher(model, squared_error, [(x[:2], y[:2]), (x[2:], y[2:])])["weight"]
    assert float(fisher) == pytest.approx((2 * 25 + 324) / 3, rel=1e-12)
    equal = diagonal_fisher(model, squared_error, [(x[:1], y[:1]), (x[2:], y[2:])])["weight"]
    assert float(equal) == pytest.approx((4 + 324) / 2, rel=1e-12)  # equal batches: SSD's plain mean


def test_accumulate_gradients_counts_examples_and_rejects_bad_batches():
    model = one_weight_model()
    x = torch.ones(5, 1, dtype=torch.float64)
    _, examples = accumulate_gradients(model, squared_error, [(x[:3], x[:3, 0]), (x[3:], x[3:, 0])])
    assert examples == 5
    with pytest.raises(ConfigError, match="first element"):
        accumulate_gradients(model, squared_error, [{"x": x}])
    with pytest.raises(ConfigError, match="no data"):
        accumulate_gradients(model, squared_error, [])
