"""Defining properties of the grid's unlearning algorithms (issue 3)."""

from __future__ import annotations

import math

import pytest
import torch

from expunge.errors import ConfigError
from expunge.masks import Mask
from expunge.train import TrainingDiverged
from expunge.unlearn import UNLEARNERS, bad_teacher, gradient_ascent, l1_sparse, random_label, scrub, ssd  # noqa: F401  (register)
from expunge.unlearn.finetune import Finetune
from expunge.unlearn.gradient_ascent import GradientAscent, NegGradPlus
from expunge.unlearn.l1_sparse import L1Sparse, l1_norm
from expunge.unlearn.random_label import CHANGE_RATES, RandomLabel, random_labels, relabelled_dataset
from expunge.unlearn.ssd import SelectiveSynapticDampening, apply_factors, dampening_factors

GRID = ["ga", "neggrad_plus", "random_label", "salun", "l1_sparse", "scrub", "ssd", "bad_teacher"]


def random_mask(model: torch.nn.Module, fraction: float = 0.3, seed: int = 0) -> Mask:
    """Random entries of every tensor except the first, which stays fully frozen."""
    gen = torch.Generator().manual_seed(seed)
    entries = {n: torch.rand(p.shape, generator=gen) < fraction for n, p in model.named_parameters()}
    entries[next(iter(entries))].zero_()
    return Mask(entries)


# ---- gradient ascent and NegGrad+ ---------------------------------------------------------------
def test_gradient_ascent_raises_the_forget_loss(iid):
    model = iid.model()
    before = iid.loss(model, "forget")
    GradientAscent(lr=0.05, batch_size=32).unlearn(model, iid.task())
    assert iid.loss(model, "forget") > 2 * before


@pytest.mark.parametrize("length, part", [("retain", "retain"), ("forget", "forget")])
def test_gradient_ascent_epoch_length(iid, length, part):
    task = iid.task()
    GradientAscent(lr=1e-4, epochs=2, batch_size=16, epoch_length=length).unlearn(iid.model(), task)
    assert task.notes["steps"] == 2 * math.ceil(len(getattr(iid.split, part)) / 16)


def test_gradient_ascent_rejects_unknown_epoch_length(iid):
    with pytest.raises(ConfigError, match="epoch_length"):
        GradientAscent(epoch_length="both").unlearn(iid.model(), iid.task())


@pytest.mark.parametrize("problem", ["iid", "iid_resnet"])
def test_neggrad_plus_with_retain_weight_one_is_finetuning(problem, request):
    p = request.getfixturevalue(problem)
    a = NegGradPlus(alpha=1.0, epochs=2, lr=0.02, schedule="cosine", min_lr_factor=0.01).unlearn(p.model(), p.task())
    b = Finetune(epochs=2, lr=0.02, min_lr_factor=0.01).unlearn(p.model(), p.task())
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name  # parameters and BatchNorm statistics alike


def test_neggrad_plus_raises_forget_loss_more_than_finetuning(iid):
    neg = NegGradPlus(alpha=0.9, epochs=2, lr=0.02).unlearn(iid.model(), iid.task())
    ft = NegGradPlus(alpha=1.0, epochs=2, lr=0.02).unlearn(iid.model(), iid.task())
    assert iid.loss(neg, "forget") > iid.loss(ft, "forget")


def test_neggrad_plus_rejects_alpha_outside_unit_interval(iid):
    with pytest.raises(ConfigError, match="alpha"):
        NegGradPlus(alpha=1.5).unlearn(iid.model(), iid.task())


# ---- random label and SalUn -------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["exclude_true", "uniform"])
def test_random_labels_differ_from_true_labels_at_the_documented_rate(rule):
    classes, n = 10, 50_000
    true = torch.arange(n) % classes
    new = random_labels(true, classes, rule, torch.Generator().manual_seed(1))
    assert new.min() >= 0 and new.max() < classes
    rate = float((new != true).float().mean())
    expected = CHANGE_RATES[rule](classes)
    assert abs(rate - expected) < 0.01
    if rule == "exclude_true":
        assert rate == 1.0
        counts = torch.bincount(new[true == 0], minlength=classes)[1:].float()
        assert counts.std() / counts.mean() < 0.1  # uniform over the other classes


def test_relabelling_touches_only_the_forget_targets(iid):
    data = iid.bundle.train
    original = data.targets.clone()
    relabelled = relabelled_dataset(data, iid.split.forget, 4, "exclude_true", seed=0)
    forget = torch.as_tensor(iid.split.forget)
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[forget] = False
    assert torch.equal(data.targets, original)  # the task's dataset is not modified
    assert torch.equal(relabelled.targets[keep], original[keep])
    assert bool((relabelled.targets[forget] != original[forget]).all())
    assert relabelled.inputs is data.inputs


def test_random_label_lowers_forget_accuracy(iid):
    model = RandomLabel(epochs=3, lr=0.05, batch_size=32).unlearn(iid.model(), iid.task())
    assert iid.accuracy(model, "forget") < iid.accuracy(iid.original, "forget") - 0.2


def test_salun_without_a_mask_says_how_to_get_one(iid):
    with pytest.raises(ConfigError, match="localizer=salloc"):
        UNLEARNERS.get("salun")().unlearn(iid.model(), iid.task())


# ---- l1-sparse ---------------------------------------------------------------------------------
def test_l1_penalty_decays_linearly_to_zero():
    method = L1Sparse(gamma=7e-5, epochs=4)
    assert [method.penalty_weight(e) for e in range(4)] == pytest.approx([7e-5, 5.25e-5, 3.5e-5, 1.75e-5])


def test_l1_norm_over_a_mask_counts_only_masked_entries(iid):
    model = iid.model()
    mask = random_mask(model)
    expected = sum(float((p.detach().abs() * mask[n]).sum()) for n, p in model.named_parameters())
    assert float(l1_norm(model, mask).detach()) == pytest.approx(expected, rel=1e-5)
    assert float(l1_norm(model).detach()) == pytest.approx(sum(float(p.detach().abs().sum()) for p in model.parameters()), rel=1e-5)


def test_l1_sparse_shrinks_the_weights_more_than_finetuning(iid):
    sparse = L1Sparse(gamma=1e-3, epochs=2, lr=0.02).unlearn(iid.model(), iid.task())
    plain = L1Sparse(gamma=0.0, epochs=2, lr=0.02).unlearn(iid.model(), iid.task())
    assert float(l1_norm(sparse).detach()) < float(l1_norm(plain).detach())


# ---- SSD -----------------------------------------------------------------------------------------
def test_dampening_changes_exactly_the_entries_over_the_threshold():
    forget = {"w": torch.tensor([1.0, 5.0, 20.0, 0.0, 30.0])}
    train = {"w": torch.tensor([1.0, 1.0, 1.0, 0.0, 10.0])}
    factors = dampening_factors(forget, train, selection=4.0, dampening=2.0)["w"]
    assert factors.tolist() == pytest.approx([1.0, 0.4, 0.1, 1.0, 1.0])  # only ratios > 4 are dampened, by min(1, 2·I_D/I_F)


def test_ssd_changes_only_parameters_whose_importance_ratio_crosses_the_threshold(iid):
    from expunge.localize.ssd_importance import diagonal_fisher
    from expunge.train import epoch_batches

    model, task = iid.model(), iid.task()
    big = 10_000  # one batch per set: the importances do not depend on the shuffle
    pool = torch.cat([torch.as_tensor(iid.split.forget), torch.as_tensor(iid.split.retain)]).numpy()
    i_f = diagonal_fisher(model, task.loss_fn, epoch_batches(task.train_set, iid.split.forget, big, 0)(0))
    i_d = diagonal_fisher(model, task.loss_fn, epoch_batches(task.train_set, pool, big, 0)(0))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    SelectiveSynapticDampening(dampening=1.0, selection=2.0, batch_size=big).unlearn(model, task)
    selected_any = False
    for name, param in model.named_parameters():
        selected = i_f[name] > 2.0 * i_d[name]
        changed = param.detach() != before[name]
        assert not bool((changed & ~selected).any()), f"{name}: an entry below the threshold changed"
        expected = before[name] * torch.where(selected, (i_d[name] / i_f[name].clamp_min(1e-30)).clamp(max=1.0), torch.ones_like(i_f[name]))
        assert torch.allclose(param.detach(), expected, rtol=1e-4, atol=1e-7), name
        selected_any |= bool(selected.any())
    assert selected_any and task.notes["dampened"] > 0


def test_ssd_overflow_is_reported(iid):
    model = iid.model()
    factors = {n: torch.full_like(p, float("nan")) for n, p in model.named_parameters()}
    with pytest.raises(TrainingDiverged, match="ssd"):
        apply_factors(model, factors, None)


# ---- every algorithm with a mask --------------------------------------------------------------
SMALL = {
    "ga": {"lr": 0.01},
    "neggrad_plus": {"epochs": 1, "lr": 0.05, "alpha": 0.9},
    "random_label": {"epochs": 1, "lr": 0.05},
    "salun": {"epochs": 1, "lr": 0.05},
    "l1_sparse": {"epochs": 1, "lr": 0.05},
    "scrub": {"epochs": 2, "msteps": 2, "lr": 0.05},
    "ssd": {"selection": 1.0},
    "bad_teacher": {"epochs": 1, "lr": 0.05},
}


@pytest.mark.parametrize("problem", ["iid", "iid_resnet"])
@pytest.mark.parametrize("name", GRID)
def test_with_a_mask_unmasked_entries_stay_bit_identical(name, problem, request):
    p = request.getfixturevalue(problem)
    model = p.model()
    mask = random_mask(model)
    before = {n: t.detach().clone() for n, t in model.named_parameters()}
    UNLEARNERS.get(name)(**SMALL[name]).unlearn(model, p.task(), mask)
    moved = 0
    for n, param in model.named_parameters():
        outside = ~mask[n]
        assert torch.equal(param.detach()[outside], before[n][outside]), f"{name} changed unmasked entries of {n}"
        moved += int((param.detach() != before[n]).sum())
    assert moved > 0, f"{name} changed nothing at all inside the mask"


# ---- distillation methods actually forget ------------------------------------------------------
@pytest.mark.parametrize(
    "name, options",
    [
        ("scrub", {"epochs": 4, "msteps": 3, "lr": 0.01, "batch_size": 32, "forget_batch_size": 16, "kl_weight": 1.0}),
        ("bad_teacher", {"epochs": 2, "lr": 0.005, "batch_size": 32}),
    ],
)
def test_distillation_methods_forget_a_class_while_retain_accuracy_holds(forget_class, name, options):
    p = forget_class
    assert p.accuracy(p.original, "forget") == 1.0 and p.accuracy(p.original, "retain") == 1.0
    model = UNLEARNERS.get(name)(**options).unlearn(p.model(), p.task())
    assert p.accuracy(model, "forget") < 0.3
    assert p.accuracy(model, "retain") > 0.95


def test_every_grid_algorithm_is_registered_with_a_paper():
    for name in GRID:
        assert name in UNLEARNERS.names()
        assert "(" in UNLEARNERS.summary(name)


def test_paper_scale_defaults_are_valid_hyperparameters():
    for module in (gradient_ascent, random_label, l1_sparse, scrub, ssd, bad_teacher):
        for key, values in module.PAPER_SCALE_DEFAULTS.items():
            UNLEARNERS.get(key.split("/")[0])(**values)
