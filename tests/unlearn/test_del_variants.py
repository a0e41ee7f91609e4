"""DEL's frontier variants (options of reset_finetune): defaults bit-identical to the faithful code path,
each variant runs and moves only what it should."""

from __future__ import annotations

import copy

import pytest
import torch

from expunge.cost import CostMeter
from expunge.errors import ConfigError
from expunge.localize import LOCALIZERS
from expunge.models import classifier_parameter_names
from expunge.train import cross_entropy_loss, epoch_batches
from expunge.unlearn import UNLEARNERS
from expunge.unlearn.finetune import Finetune
from expunge.unlearn.reset_finetune import RESETS, reset_masked

from .conftest import ARCHS


@pytest.fixture(scope="module")
def del_setup(iid_resnet):
    model = iid_resnet.model()
    data = epoch_batches(iid_resnet.bundle.train, iid_resnet.split.forget, 32, 0)(0)
    mask = LOCALIZERS.get("del")().fit(model, cross_entropy_loss, data).mask(0.3)
    return iid_resnet, mask


def run(problem, mask, epochs=1, **kw):
    task = problem.task(seed=0)
    task.original_init = {n: p.detach().clone() for n, p in ARCHS[problem.arch](0).named_parameters()}  # the original's own init (seed 0)
    return UNLEARNERS.get("reset_finetune")(epochs=epochs, lr=0.05, **kw).unlearn(problem.model(), task, mask)


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def outside_unchanged(problem, mask, model, open_classifier=True):
    before = dict(problem.original.named_parameters())
    skip = set(classifier_parameter_names(model)) if open_classifier else set()
    for name, param in model.named_parameters():
        if name in skip:
            continue
        outside = ~mask[name]
        if not torch.equal(param[outside], before[name][outside]):
            return False
    return True


def test_defaults_are_bit_identical_to_the_faithful_algorithm(del_setup):
    problem, mask = del_setup
    # the faithful algorithm, written out: fresh reset of the masked entries, classifier opened, masked finetune on retain
    task = problem.task(seed=0)
    reference = problem.model()
    reset_masked(reference, mask, RESETS["fresh"](reference, task, None))
    Finetune(epochs=2, lr=0.05).finetune(reference, task, mask.with_open(classifier_parameter_names(reference), reference), task.loss_fn)
    default = run(problem, mask, epochs=2)
    explicit = run(problem, mask, epochs=2, reset="fresh", bn_recompute=False, reset_lr_scale=1.0, unmask_after=-1, distill_weight=0.0)
    for a, b, c in zip(state(reference).values(), state(default).values(), state(explicit).values()):
        assert torch.equal(a, b) and torch.equal(b, c)
    assert outside_unchanged(problem, mask, default)


def test_original_init_and_shrink_perturb_reset_values(del_setup):
    problem, mask = del_setup
    init = dict(ARCHS[problem.arch](0).named_parameters())
    own = run(problem, mask, epochs=0, reset="original_init")
    sp = run(problem, mask, epochs=0, reset="shrink_perturb", shrink=0.4, noise=0.1)
    fresh = dict(problem.task(seed=0).fresh_model(problem.task(seed=0).seeds.fresh_init(0)).named_parameters())
    before = dict(problem.original.named_parameters())
    for name, param in own.named_parameters():
        m = mask[name]
        assert torch.equal(param[m], init[name][m])
        expected = 0.4 * before[name][m] + 0.1 * fresh[name][m]
        assert torch.allclose(dict(sp.named_parameters())[name][m], expected)
    assert outside_unchanged(problem, mask, own, open_classifier=False) and outside_unchanged(problem, mask, sp, open_classifier=False)


def test_bn_recompute_changes_running_stats_only_and_counts_forward_passes(del_setup):
    problem, mask = del_setup
    with CostMeter() as meter:
        model = run(problem, mask, epochs=0, bn_recompute=True)
    plain = run(problem, mask, epochs=0)
    assert meter.cost.forward_passes >= len(problem.split.retain) - 1 and meter.cost.passes == 0
    assert outside_unchanged(problem, mask, model, open_classifier=False)
    for (n, a), (_, b) in zip(state(model).items(), state(plain).items()):
        if "running_mean" in n:
            assert not torch.equal(a, b) and torch.isfinite(a).all()
        elif "running" not in n and "num_batches" not in n:
            assert torch.equal(a, b), n  # weights: the same reset


def test_hotter_reset_entries_move_further_and_only_inside_the_mask(del_setup):
    problem, mask = del_setup
    base, hot = run(problem, mask, epochs=1), run(problem, mask, epochs=1, reset_lr_scale=3.0)
    assert outside_unchanged(problem, mask, hot)
    reset = problem.model()
    reset_masked(reset, mask, RESETS["fresh"](reset, problem.task(seed=0), None))
    start = dict(reset.named_parameters())

    def moved(model):
        return sum(float((p.detach() - start[n].detach())[mask[n]].abs().sum()) for n, p in model.named_parameters())

    assert moved(hot) > 1.5 * moved(base)


def test_unmask_after_opens_every_parameter_only_when_scheduled(del_setup):
    problem, mask = del_setup
    never = run(problem, mask, epochs=2, unmask_after=2)  # scheduled after the last epoch: stays masked
    faithful = run(problem, mask, epochs=2)
    assert outside_unchanged(problem, mask, never)
    for (n, a), (_, b) in zip(never.named_parameters(), faithful.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), n
    opened = run(problem, mask, epochs=2, unmask_after=1)
    assert not outside_unchanged(problem, mask, opened)
    with pytest.raises(ConfigError, match="weight_decay"):
        run(problem, mask, epochs=2, unmask_after=1, weight_decay=1e-3)


def test_distillation_variant_runs_inside_the_mask(del_setup):
    problem, mask = del_setup
    model = run(problem, mask, epochs=1, distill_weight=0.5)
    plain = run(problem, mask, epochs=1)
    assert outside_unchanged(problem, mask, model)
    assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), plain.parameters()))


def test_per_layer_budget_cuts_every_tensor(del_setup):
    problem, _ = del_setup
    model = problem.model()
    data = epoch_batches(problem.bundle.train, problem.split.forget, 32, 0)(0)
    per_layer = LOCALIZERS.get("del")().fit(model, cross_entropy_loss, data).mask(0.3, budget="per_layer")
    for name, p in model.named_parameters():
        assert int(per_layer[name].sum()) == int(0.3 * p.numel()), name
    variant = run(problem, per_layer, epochs=1, reset="original_init")
    assert outside_unchanged(problem, per_layer, variant)


def test_variant_options_validated():
    from expunge.hparams import validate_params

    cls = UNLEARNERS.get("reset_finetune")
    with pytest.raises(ConfigError, match="reset_lr_scale"):
        validate_params(cls, {"reset_lr_scale": 0}, "m")
    with pytest.raises(ConfigError, match="unmask_after"):
        validate_params(cls, {"unmask_after": -2}, "m")
    with pytest.raises(ConfigError, match="reset"):
        validate_params(cls, {"reset": "random"}, "m")
    assert copy.copy(cls()).is_faithful()
