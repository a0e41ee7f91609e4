import copy

import numpy as np
import pytest
import torch

from expunge.data import build_split
from expunge.errors import ConfigError
from expunge.localize import LOCALIZERS
from expunge.masked_update import MaskedUpdate
from expunge.models import build_model, classifier_parameter_names
from expunge.train import Recipe, cross_entropy_loss, epoch_batches, train
from expunge.unlearn import UNLEARNERS, UnlearningTask


@pytest.fixture
def setup(synthetic_bundle):
    torch.manual_seed(0)
    split = build_split("iid", synthetic_bundle.train_targets(), 200, seed=0, fraction=0.1, validation_fraction=0.0)
    fresh = lambda seed: build_model("resnet_small", (1, 8, 8), 4, seed=seed, width=4)  # noqa: E731
    model = fresh(0)
    pool = np.union1d(split.forget, split.retain)
    train(model, epoch_batches(synthetic_bundle.train, pool, 64, 0), Recipe(epochs=3, lr=0.05), torch.device("cpu"), progress=False)
    task = UnlearningTask(synthetic_bundle.train, split, torch.device("cpu"), fresh, Recipe(epochs=2), seed=0, progress=False)
    return model, task


def del_mask(model, task, alpha=0.3):
    localizer = LOCALIZERS.get("del")()
    data = epoch_batches(task.train_set, task.split.forget, 32, 0)(0)
    return localizer.fit(model, cross_entropy_loss, data).mask(alpha)


def test_del_leaves_unmasked_entries_bit_identical(setup):
    model, task = setup
    mask = del_mask(model, task)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    unlearned = UNLEARNERS.get("reset_finetune")(epochs=2, lr=0.05).unlearn(copy.deepcopy(model), task, mask)
    open_names = set(classifier_parameter_names(model))
    moved_inside = 0
    for name, param in unlearned.named_parameters():
        if name in open_names:
            continue  # DEL keeps the classifier layer's gradient fully open
        outside = ~mask[name]
        assert torch.equal(param[outside], before[name][outside]), name
        moved_inside += int((param[mask[name]] != before[name][mask[name]]).sum())
    assert moved_inside > 0.5 * mask.num_selected()


def test_reset_values_come_from_a_fresh_initialization(setup):
    model, task = setup
    mask = del_mask(model, task)
    unlearned = UNLEARNERS.get("reset_finetune")(epochs=0).unlearn(copy.deepcopy(model), task, mask)
    fresh = dict(task.fresh_model(task.seed + 1_000_003).named_parameters())
    checked = 0
    for name, param in unlearned.named_parameters():
        sel = mask[name]
        if sel.any() and param.ndim > 1:
            new, old = param[sel], dict(model.named_parameters())[name][sel]
            assert torch.equal(new, fresh[name][sel])  # exactly the fresh initialization
            assert not torch.equal(new, old)  # not the trained values
            assert (new != 0).float().mean() > 0.99  # not zero
            checked += 1
    assert checked > 0


def test_masked_update_keeps_momentum_and_decay_inside_mask(setup):
    model, task = setup
    mask = del_mask(model, task, alpha=0.1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, task.batches("retain", 32), Recipe(epochs=2, lr=0.1, weight_decay=0.01), torch.device("cpu"), mask, progress=False)
    for name, param in model.named_parameters():
        assert torch.equal(param[~mask[name]], before[name][~mask[name]]), name
    update = MaskedUpdate(model, mask)
    assert len(update.parameters()) == sum(1 for n in mask.names() if mask[n].any())


def test_reset_finetune_requires_a_mask(setup):
    model, task = setup
    with pytest.raises(ConfigError, match="localizer"):
        UNLEARNERS.get("reset_finetune")().unlearn(model, task, None)


def test_finetune_with_mask_uses_shared_mechanism(setup):
    model, task = setup
    mask = del_mask(model, task, alpha=0.05)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = UNLEARNERS.get("finetune")(epochs=1, lr=0.05).unlearn(model, task, mask)
    for name, param in out.named_parameters():
        assert torch.equal(param[~mask[name]], before[name][~mask[name]])


def test_del_scores_use_summed_signed_gradient(setup):
    """|θ · Σ_b g_b|: summing signed batch gradients before the abs differs from summing |g_b|."""
    model, task = setup
    from expunge.localize import summed_gradient

    batches = list(epoch_batches(task.train_set, task.split.forget, 8, 0)(0))
    total = summed_gradient(model, cross_entropy_loss, batches)
    manual = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    model.eval()
    for b in batches:
        model.zero_grad()
        cross_entropy_loss(model, b).backward()
        for n, p in model.named_parameters():
            manual[n] += len(b[0]) * p.grad
    assert all(torch.allclose(total[n], manual[n], atol=1e-6) for n in total)
    scores = LOCALIZERS.get("del")().fit(model, cross_entropy_loss, batches)
    w = dict(model.named_parameters())["fc.weight"].detach()
    assert torch.allclose(scores.values["fc.weight"], (w * total["fc.weight"]).abs())
    # eval mode during localization: BatchNorm running statistics are untouched
    assert model.training is False


@pytest.mark.parametrize("reset", ["zero", "original_init", "perturb"])
def test_reset_variants_write_what_they_claim(setup, reset):
    model, task = setup
    mask = del_mask(model, task, alpha=0.2)
    task.original_init = {n: torch.full_like(p, 0.125) for n, p in model.named_parameters()}
    out = UNLEARNERS.get("reset_finetune")(epochs=0, reset=reset, noise=0.5).unlearn(copy.deepcopy(model), task, mask)
    for name, param in out.named_parameters():
        sel = mask[name]
        if not sel.any():
            continue
        if reset == "zero":
            assert torch.all(param[sel] == 0)
        elif reset == "original_init":
            assert torch.all(param[sel] == 0.125)
        else:
            assert not torch.equal(param[sel], dict(model.named_parameters())[name][sel])


def test_distillation_recovery_variant_respects_mask(setup):
    model, task = setup
    mask = del_mask(model, task, alpha=0.2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = UNLEARNERS.get("reset_finetune")(epochs=1, lr=0.05, distill_weight=0.5, open_classifier=False).unlearn(copy.deepcopy(model), task, mask)
    for name, param in out.named_parameters():
        assert torch.equal(param[~mask[name]], before[name][~mask[name]])
    assert all(torch.isfinite(p).all() for p in out.parameters())
