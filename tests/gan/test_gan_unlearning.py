"""Cascade, baselines and data-access rules on a tiny MLP GAN over two 2-D modes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from expunge.cost import CostMeter
from expunge.data.base import IndexedTensorDataset
from expunge.data.splits import ForgetSplit
from expunge.errors import ConfigError, DataError
from expunge.gan.train import Optimizers, auc, train_steps
from expunge.gan.unlearn import GANCascade, retain_stream
from expunge.hparams import validate_params
from expunge.unlearn.base import UNLEARNERS


def mode1_share(gan, n: int = 1000) -> float:
    """Share of samples in mode 1 (centre (-2, 0)): the half-plane x < 0."""
    x, _ = gan.sample(n, seed=5)
    return float((x[:, 0] < 0).float().mean())


def test_original_covers_both_modes(class_setting):
    assert 0.3 < mode1_share(class_setting.original) < 0.7


def test_class_unlearning_removes_the_mode(class_setting, original):
    task = class_setting.task()
    gan = GANCascade(rounds=30, unlearn_steps=5, learn_steps=5, lr=2e-3).unlearn(original(class_setting), task)
    assert mode1_share(gan) < 0.05
    assert task.notes["stopped_by"] == "signal" and task.notes["stop_signal"] == "nn_share" and task.notes["substitute"] == "random"
    # the retained mode (centre (2, 0)) is still generated: samples stay on its side, around it
    x, _ = gan.sample(1000, seed=5)
    assert float((x[:, 0] > 0.5).float().mean()) > 0.9 and 1.0 < float(x[:, 0].mean()) < 3.0


def test_item_unlearning_raises_the_fake_score(item_setting, original):
    s = item_setting
    x_f, x_v = s.bundle.train.inputs[s.split.forget], s.bundle.train.inputs[s.split.validation]

    def fake_score_and_auc(gan):
        f, v = gan.discriminator_scores(x_f), gan.discriminator_scores(x_v)
        return float(1 - torch.sigmoid(f).mean()), auc(f.numpy(), v.numpy())

    task = s.task()
    gan = GANCascade(rounds=10, lr=1e-3, stop_signal="none").unlearn(original(s), task)
    (fake_before, auc_before), (fake_after, auc_after) = fake_score_and_auc(s.original), fake_score_and_auc(gan)
    assert fake_after > fake_before + 0.05
    assert auc_after < auc_before - 5  # forget items now look less like members than never-seen (validation) images
    assert task.notes["rounds"] == 10 and task.notes["steer"] == "inversion" and task.notes["substitute"] == "nearest"


def test_item_cascade_stops_on_membership(item_setting, original):
    task = item_setting.task()
    GANCascade(rounds=20, lr=1e-3).unlearn(original(item_setting), task)
    assert task.notes["stop_signal"] == "membership" and task.notes["stopped_by"] == "signal"
    assert task.notes["signal_history"][-1]["signal"] <= 52.0


class GuardedInputs:
    """Tensor stand-in whose rows in ``forbidden`` may be read ``allowed`` times in all, then every read of them fails."""

    def __init__(self, inputs: torch.Tensor, forbidden: np.ndarray, allowed: int) -> None:
        self.inputs, self.forbidden, self.allowed = inputs, set(forbidden.tolist()), allowed
        self.forget_reads = 0

    def __getitem__(self, idx):
        rows = torch.as_tensor(idx).reshape(-1).tolist()
        if self.forbidden.intersection(rows):
            self.forget_reads += 1
            if self.forget_reads > self.allowed:
                raise AssertionError("forget rows read after the unlearner loaded them")
        return self.inputs[idx]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getattr__(self, name):  # min(), shape, dtype ... of the underlying tensor
        return getattr(self.inputs, name)


def guarded(setting, allowed: int) -> IndexedTensorDataset:
    ds = IndexedTensorDataset(setting.bundle.train.inputs, setting.bundle.train.targets)
    ds.inputs = GuardedInputs(setting.bundle.train.inputs, setting.split.forget, allowed)
    return ds


def test_learning_stage_never_reads_forget_rows(class_setting, original):
    ds = guarded(class_setting, allowed=0)
    task = class_setting.task(train_set=ds)
    gan = original(class_setting)
    train_steps(gan, retain_stream(task, 64, 17), 20, Optimizers(gan, 1e-3), task.device)  # a failing read would raise
    assert ds.inputs.forget_reads == 0


@pytest.mark.parametrize("name", ["gan_cascade", "gan_redaction"])
def test_unlearners_read_forget_rows_once(class_setting, original, name):
    ds = guarded(class_setting, allowed=1)
    task = class_setting.task(train_set=ds)
    params = {"rounds": 3} if name == "gan_cascade" else {"steps": 10}
    UNLEARNERS.get(name)(**params).unlearn(original(class_setting), task)
    assert ds.inputs.forget_reads == 1


@pytest.mark.parametrize("name", ["gan_finetune", "gan_retrain"])
def test_retain_only_baselines_never_read_forget_rows(class_setting, original, name):
    ds = guarded(class_setting, allowed=0)
    task = class_setting.task(train_set=ds)
    UNLEARNERS.get(name)(**({"steps": 10} if name == "gan_finetune" else {})).unlearn(original(class_setting), task)
    assert ds.inputs.forget_reads == 0


def test_cascade_counts_passes(item_setting, original):
    with CostMeter() as meter:
        GANCascade(rounds=2, unlearn_steps=3, learn_steps=2, batch_size=16, steer="none", stop_signal="none").unlearn(original(item_setting), item_setting.task())
    # per round: 3 unlearning steps x 4 x 16 + 2 learning steps x 3 x 16
    assert meter.cost.passes == 2 * (3 * 4 * 16 + 2 * 3 * 16)


def test_empty_forget_set_is_an_error(class_setting):
    class Split:  # a hand-made split (ForgetSplit itself refuses to exist empty)
        forget = np.zeros(0, dtype=np.int64)
        retain = np.arange(10)
        validation = np.zeros(0, dtype=np.int64)
        description = ""

    with pytest.raises(DataError, match="empty"):
        GANCascade().unlearn(class_setting.original, class_setting.task(split=Split()))
    with pytest.raises(DataError, match="empty"):
        ForgetSplit.from_forget_indices([], 10, 5)


def test_absent_class_is_an_error(class_setting):
    from expunge.data import build_split

    with pytest.raises(DataError, match="do not occur"):
        build_split("class", class_setting.bundle.train_targets(), 10, classes=[7])
    with pytest.raises(DataError, match="do not occur"):
        GANCascade().unlearn(class_setting.original, class_setting.task(forget_classes=[7]))


def test_forgetting_everything_is_an_error(class_setting):
    from expunge.data import build_split

    n = len(class_setting.bundle.train)
    with pytest.raises(DataError, match="whole training pool"):
        ForgetSplit.from_forget_indices(np.arange(n), n, 5)
    with pytest.raises(DataError, match="whole training pool"):
        build_split("items", class_setting.bundle.train_targets(), 10, validation_fraction=0.0, count=n)


def test_hyperparameters_are_checked():
    with pytest.raises(ConfigError, match="fake_label"):
        validate_params(GANCascade, {"fake_label": "maybe"}, "methods.0.hyperparams")
    with pytest.raises(ConfigError, match="rounds"):
        validate_params(GANCascade, {"rounds": 0}, "methods.0.hyperparams")
    assert validate_params(GANCascade, {"substitute": "random", "lr": 1e-3}, "m") == {"substitute": "random", "lr": 1e-3}


def test_conditional_gan_paths_run(class_setting):
    """Conditional G and projection D through every unlearner (a smoke test: a few steps each)."""
    from expunge.evaluate.registry import EvalContext, build_metrics, run_metrics
    from expunge.train import Recipe

    s = class_setting
    s.config.model.options["conditional"] = True
    try:
        gan = s.family.build(s.config, s.data, 0, torch.device("cpu"))
        s.family.fit(gan, s.config, s.data, s.split.retain, Recipe(epochs=2, lr=1e-3, batch_size=64), torch.device("cpu"), False, "cond")
        for name, params in [
            ("gan_cascade", {"rounds": 2, "steer": "nearest"}),
            ("gan_cascade", {"rounds": 2, "steer": "inversion", "inversion_steps": 3}),
            ("gan_redaction", {"steps": 3}),
            ("gan_finetune", {"steps": 3}),
        ]:
            out = UNLEARNERS.get(name)(**params).unlearn(copy.deepcopy(gan), s.task())
            assert out.conditional
        ctx = EvalContext(torch.device("cpu"), 0, s.bundle.train, s.bundle.test, s.split, extras=s.family.extras(s.config, s.data, torch.device("cpu")))
        values = run_metrics(build_metrics("gan", "gan"), out, ctx)
        assert 0 <= values["forgotten_class_share"] <= 100 and np.isfinite(values["frechet_distance"])
    finally:
        s.config.model.options["conditional"] = False


def test_the_default_stop_rule_is_never_met_by_the_untouched_original_and_does_not_reward_overshoot():
    from expunge.gan.unlearn import STOP_RULES, band_progress, one_sided

    for initial in (40.0, 49.0, 50.0, 51.5, 52.0, 60.0):  # forget-membership AUCs of an original, target 50 +- 2
        assert not band_progress(initial, initial, 50.0, 2.0, 1.0)  # round 0: the original itself never stops the cascade
    assert one_sided(51.5, 51.5, 50.0, 2.0, 1.0)  # the earlier rule: an original at 51.5 "has forgotten" before any round
    assert band_progress(60.0, 51.0, 50.0, 2.0, 1.0)  # moved 9 points closer, inside the band
    assert not band_progress(60.0, 45.0, 50.0, 2.0, 1.0) and one_sided(60.0, 45.0, 50.0, 2.0, 1.0)  # overshoot: only one-sided passes it
    assert not band_progress(50.5, 51.0, 50.0, 2.0, 1.0)  # moved away from the target inside the band
    assert list(STOP_RULES) == ["band-progress", "one-sided"]


def test_cascade_does_not_stop_on_a_signal_the_original_already_meets(item_setting, original, monkeypatch):
    """The issue's case: the original's membership AUC already sits inside the one-sided band; nothing changes it."""
    monkeypatch.setattr(GANCascade, "_membership", lambda self, *args: 50.5)
    params = dict(rounds=3, unlearn_steps=1, learn_steps=1, batch_size=16, steer="none", stop_signal="membership")
    old = item_setting.task()
    GANCascade(stop_rule="one-sided", **params).unlearn(original(item_setting), old)
    assert (old.notes["stopped_by"], old.notes["rounds"]) == ("signal", 1), old.notes  # the earlier rule stops after one round
    new = item_setting.task()
    with pytest.warns(UserWarning, match="cannot tell forgetting from doing nothing"):
        GANCascade(**params).unlearn(original(item_setting), new)
    assert new.notes["stopped_by"] == "rounds" and new.notes["rounds"] == 3 and new.notes["stop_reachable"] is False
    assert new.notes["stop_rule"] == "band-progress" and new.notes["initial_signal"] == 50.5
