import numpy as np
import torch

from expunge.data import build_split, load_dataset
from expunge.evaluate import deltas, evaluate_model, heldout_nonmember_rate, loss_auc, mia_efficacy, oracle_spread
from expunge.models import build_model
from expunge.train import Recipe, epoch_batches, train


def test_loss_auc_hand_cases():
    assert loss_auc(np.array([0.1, 0.2]), np.array([1.0, 2.0])) == 100.0
    assert loss_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 0.0
    assert loss_auc(np.ones(5), np.ones(7)) == 50.0


def test_never_trained_forget_set_shows_no_membership_signal():
    bundle = load_dataset("synthetic", num_train=1200, num_test=800, num_classes=4, image_size=8, noise=4.0, seed=1)
    split = build_split("iid", bundle.train_targets(), 800, seed=0, fraction=0.25, validation_fraction=0.0)
    device = torch.device("cpu")
    oracle = build_model("mlp", (1, 8, 8), 4, seed=0, hidden=(128,))
    train(oracle, epoch_batches(bundle.train, split.retain, 32, 0), Recipe(epochs=40, lr=0.05), device, progress=False)
    ev = evaluate_model(oracle, bundle.train, bundle.test, split, device)
    assert ev.metrics["retain_acc"] > 95  # it memorised its own training data...
    assert abs(ev.metrics["mia_auc"] - 50) < 6  # ...but the forget set looks like test data
    efficacy = ev.metrics["mia_efficacy"]
    heldout = heldout_nonmember_rate(ev.retain.confidences(), ev.test.confidences())
    n = len(split.forget)
    sampling_sd = 100 * np.sqrt(max(heldout / 100 * (1 - heldout / 100), 0.01) / n)
    assert abs(efficacy - heldout) < 4 * sampling_sd + 3

    # the same attack on a model that *did* train on the forget set finds it
    original = build_model("mlp", (1, 8, 8), 4, seed=0, hidden=(128,))
    pool = np.union1d(split.forget, split.retain)
    train(original, epoch_batches(bundle.train, pool, 32, 0), Recipe(epochs=40, lr=0.05), device, progress=False)
    member = evaluate_model(original, bundle.train, bundle.test, split, device).metrics
    assert member["mia_auc"] > 58
    assert member["mia_efficacy"] < efficacy - 10


def test_deltas_and_avg_gap_by_hand():
    oracles = [
        {"forget_acc": 90, "retain_acc": 100, "test_acc": 88, "mia_efficacy": 20, "mia_auc": 50},
        {"forget_acc": 92, "retain_acc": 100, "test_acc": 90, "mia_efficacy": 22, "mia_auc": 52},
    ]
    method = {"forget_acc": 95, "retain_acc": 99, "test_acc": 89, "mia_efficacy": 11, "mia_auc": 60}
    d = deltas(method, oracles)
    assert d["delta_forget"] == -4 and d["delta_retain"] == 1 and d["delta_test"] == 0 and d["delta_mia"] == 10
    assert d["avg_gap"] == (4 + 1 + 0 + 10) / 4
    assert d["avg_gap_auc"] == (4 + 1 + 0 + 9) / 4
    spread = oracle_spread(oracles)
    assert np.isclose(spread["forget_acc_std"], np.std([90, 92], ddof=1))
    assert spread["loo_avg_gap"] > 0


def test_mia_efficacy_extremes():
    rng = np.random.default_rng(0)
    members = rng.uniform(0.95, 1.0, 500)
    nonmembers = rng.uniform(0.0, 0.5, 500)
    assert mia_efficacy(members, nonmembers, rng.uniform(0.0, 0.5, 100)) > 95
    assert mia_efficacy(members, nonmembers, rng.uniform(0.96, 1.0, 100)) < 5
