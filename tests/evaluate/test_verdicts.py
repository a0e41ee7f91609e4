"""The class verdict against its adversarial cases (3 oracles), its pure rule, leave-one-out rows and noise-floor flags."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from expunge.data import load_dataset
from expunge.data.splits import ForgetSplit
from expunge.evaluate.class_forgetting import ClassVerdict, Relearn
from expunge.evaluate.registry import EvalContext, build_metrics
from expunge.evaluate.verdict_calibration import class_calibration, destroyed_model
from expunge.evaluate.verdicts import ClassRule, calibration_block, judge_class, leave_one_out, loo_distances, noise_floor_flags, oracle_pass_rate, sampling_error, verdict_name
from expunge.models import build_model
from expunge.train import Recipe
from expunge.unlearn import UNLEARNERS, UnlearningTask
from tests.training import fit

CLS = 1


@pytest.fixture(scope="module")
def pool():
    """A noisy 4-class task (the oracle relearns the class slowly), an original and 3 oracles of different seeds."""
    b = load_dataset("synthetic", num_train=240, num_test=160, num_classes=4, image_size=8, noise=2.0, separation=1.0, seed=3)
    keep = (b.train.targets != CLS).numpy()
    original = fit(build_model("mlp", b.input_shape, 4, seed=0, hidden=(32, 16)), b.train)
    oracles = [fit(build_model("mlp", b.input_shape, 4, seed=s, hidden=(32, 16)), b.train, np.where(keep)[0], seed=s) for s in range(3)]
    idx = np.arange(len(keep))
    split = ForgetSplit(idx[~keep], idx[keep], np.array([], dtype=np.int64), np.arange(len(b.test)), len(keep), len(b.test))
    ctx = EvalContext(torch.device("cpu"), 0, b.train, b.test, split, original, oracles, {"forget_classes": [CLS]})
    verdict = build_metrics(["class_verdict"], "class")[0]
    assert isinstance(verdict, ClassVerdict)
    verdict.relearn_metric = Relearn(ks=[5], steps=10, variants=["head"])  # 5 draws (the default), one k and variant: fast
    return ctx, verdict


def test_calibration_names_every_adversarial_case(pool) -> None:
    ctx, verdict = pool
    block = class_calibration(verdict, ctx)
    loo = block["oracles_against_others"]
    assert loo["oracles"] == 3 and loo["fraction_removed"] >= 0.9 and loo["passed"]
    checks = block["checks"]
    assert checks["destroyed"]["verdict"] == "broke the model"
    assert checks["output_mask"]["verdict"] == "output-only"
    assert checks["original"]["verdict"] == "not removed"  # doing nothing
    assert block["passed"] is True and "band" in block["rule"].lower()


def test_live_verdicts_of_the_adversarial_models(pool) -> None:
    ctx, verdict = pool
    task = UnlearningTask(ctx.train_set, ctx.split, ctx.device, lambda s: None, Recipe(), forget_classes=[CLS])  # type: ignore[arg-type]
    masked = UNLEARNERS.get("output_mask")().unlearn(copy.deepcopy(ctx.original), task)
    out = verdict(masked, ctx)
    assert verdict_name(out["verdict"]) == "output-only"
    assert out["dist_relearn_k5_head"] > out["band_relearn_k5_head"]  # the class comes back at once
    wrecked = destroyed_model(ctx.original, [CLS], seed=1)
    broke = verdict(wrecked, ctx)
    assert verdict_name(broke["verdict"]) == "broke the model" and broke["dist_other_acc_test"] > broke["band_other_acc_test"]
    # the features really were re-drawn and the head kept
    assert not torch.equal(wrecked.hidden[0].weight, ctx.original.hidden[0].weight) and torch.equal(wrecked.fc.weight[0], ctx.original.fc.weight[0])
    values = verdict.values(masked, ctx)
    assert values["relearn_draws"] == 5 and values["relearn_k5_head_std"] >= 0


def row(relearn: float, probe: float, other: float = 90.0, target: float = 0.0) -> dict[str, float]:
    return {"relearn_k5_head": relearn, "probe_penultimate": probe, "other_acc_test": other, "target_acc_test": target}


ORACLES = [row(60, 75, 90.0), row(64, 77, 90.5), row(57, 74, 89.8), row(62, 76, 90.2)]


def test_rule_is_two_sided_and_guards_utility() -> None:
    rule = ClassRule()
    assert verdict_name(judge_class(row(61, 75.5), ORACLES, rule)["verdict"]) == "removed"
    assert verdict_name(judge_class(row(95, 75.5), ORACLES, rule)["verdict"]) == "output-only"  # comes back at once
    assert verdict_name(judge_class(row(5, 75.5), ORACLES, rule)["verdict"]) == "output-only"  # overshoot is a distance too
    assert verdict_name(judge_class(row(61, 75.5, other=70.0), ORACLES, rule)["verdict"]) == "broke the model"
    assert verdict_name(judge_class(row(61, 75.5, other=99.0), ORACLES, rule)["verdict"]) == "removed"  # the guard is one-sided
    assert verdict_name(judge_class(row(95, 85, target=50.0), ORACLES, rule)["verdict"]) == "not removed"
    # the target still wins first: an original loses other-class accuracy to the confusable target, which is not "broke"
    assert verdict_name(judge_class(row(95, 85, other=80.0, target=50.0), ORACLES, rule)["verdict"]) == "not removed"


def test_band_grows_with_the_oracles_spread_and_the_draw_noise() -> None:
    rule = ClassRule(loo_factor=3.0, z=3.0, min_band=2.0)
    assert loo_distances([1.0, 2.0, 6.0]).tolist() == pytest.approx([3.0, 1.5, 4.5])
    quiet = judge_class(row(61, 75.5), ORACLES, rule)
    rms = float(np.sqrt(np.mean(loo_distances([o["relearn_k5_head"] for o in ORACLES]) ** 2)))
    assert quiet["band_relearn_k5_head"] == pytest.approx(3.0 * rms)
    noisy = [o | {"relearn_k5_head_std": 40.0, "relearn_draws": 5.0} for o in ORACLES]
    assert sampling_error(noisy[0], "relearn_k5_head") == pytest.approx(40 / np.sqrt(5))
    assert judge_class(row(61, 75.5), noisy, rule)["band_relearn_k5_head"] > quiet["band_relearn_k5_head"]
    assert sampling_error({"probe_penultimate": 50.0, "target_test_n": 100.0}, "probe_penultimate") == pytest.approx(5.0)
    same = [row(60, 75)] * 3  # no spread at all: the floor keeps the band above 0
    assert judge_class(row(61, 75), same, rule)["band_probe_penultimate"] == 2.0


def test_leave_one_out_never_compares_an_oracle_with_itself() -> None:
    means = {k: float(np.mean([o[k] for o in ORACLES])) for k in ORACLES[0]}
    stored = [o | {f"{k}_oracle": means[k] for k in o} | {"dist_relearn_k5_head": abs(o["relearn_k5_head"] - means["relearn_k5_head"]), "verdict": 2.0} for o in ORACLES]
    rows = leave_one_out(stored)
    for i, new in enumerate(rows):
        others = [o for j, o in enumerate(ORACLES) if j != i]
        assert new["relearn_k5_head_oracle"] == pytest.approx(np.mean([o["relearn_k5_head"] for o in others]))
        assert new["dist_relearn_k5_head"] == pytest.approx(abs(ORACLES[i]["relearn_k5_head"] - new["relearn_k5_head_oracle"]))
        assert new["dist_relearn_k5_head"] == pytest.approx(loo_distances([o["relearn_k5_head"] for o in ORACLES])[i])
        assert new["relearn_k5_head"] == ORACLES[i]["relearn_k5_head"] and "band_relearn_k5_head" in new
    assert oracle_pass_rate(ORACLES)["fraction_removed"] == 1.0
    assert oracle_pass_rate(ORACLES[:2])["passed"] is None  # too few oracles to calibrate


def test_calibration_block_reports_a_failed_check() -> None:
    block = calibration_block(ORACLES, {"output_mask": row(61, 75.5)})  # a "mask" that looks like a retrain
    assert block["checks"]["output_mask"] == {"expected": "output-only", "verdict": "removed", "passed": False}
    assert block["passed"] is False


def test_noise_floor_flags_use_the_retrain_rows() -> None:
    def rec(method: str, gap: float, seed: int = 0) -> dict[str, float | str]:
        return {"method": method, "seed": seed, "delta_forget": gap, "delta_retain": -gap / 2, "delta_test": gap / 2, "delta_mia": gap}

    records = [rec("retrain", 0.8), rec("retrain", -0.5, 1), rec("original", 9.0), rec("good", 0.3), rec("good", -0.5, 1), rec("bad", 2.0)]
    flags = noise_floor_flags(records)
    assert flags["good"]["within_noise"] and not flags["bad"]["within_noise"] and not flags["original"]["within_noise"]
    assert flags["good"]["floor"]["delta_forget"] == 0.8 and "retrain" not in flags
    assert noise_floor_flags([rec("good", 0.1)]) == {}  # no retrain rows: nothing to compare with


def test_pooled_calibration_over_runs() -> None:
    from expunge.evaluate.verdicts import pool_calibrations

    good = calibration_block(ORACLES, {"output_mask": row(95, 85), "destroyed": row(60, 75, other=10.0)})
    bad = calibration_block(ORACLES, {"output_mask": row(61, 75.5), "destroyed": row(60, 75, other=10.0)})
    pooled = pool_calibrations([good, bad])
    assert pooled["oracles_removed"] == 8 and pooled["fraction_removed"] == 1.0
    assert pooled["checks"]["output_mask"]["passed"] == 1 and pooled["checks"]["output_mask"]["verdicts"] == {"output-only": 1, "removed": 1}
    assert pooled["passed"] is False and pool_calibrations([good])["passed"] is True


def test_leave_one_out_leaves_another_familys_verdict_alone() -> None:
    rows = [{"fid": 10.0 + i, "fid_oracle": 11.0, "verdict": 7.0} for i in range(3)]
    out = leave_one_out(rows)
    assert [r["verdict"] for r in out] == [7.0, 7.0, 7.0] and out[0]["fid_oracle"] == pytest.approx(11.5)


def test_unmoved_features_inside_a_wide_band_are_output_only() -> None:
    """Where the original itself lies inside the oracles' band, a logit mask (the original's features) must not read as removed."""
    oracles = [{"target_acc_test": 0.0, "other_acc_test": 80.0, "relearn_k5_head": v, "probe_penultimate": p} for v, p in ((55.0, 74.0), (63.0, 76.0), (71.0, 78.0))]
    original = {"target_acc_test": 85.0, "other_acc_test": 80.0, "relearn_k5_head": 70.0, "probe_penultimate": 77.5}
    masked = {**original, "target_acc_test": 0.0}  # output_mask: same features, target logit suppressed
    assert verdict_name(judge_class(masked, oracles)["verdict"]) == "removed"  # the band alone has no power here
    assert verdict_name(judge_class(masked, oracles, original=original)["verdict"]) == "output-only"
    moved = {**masked, "relearn_k5_head": 62.0}  # features changed toward the oracles
    assert verdict_name(judge_class(moved, oracles, original=original)["verdict"]) == "removed"
    # the middle oracle, against the other two, has moved toward them and is removed
    assert verdict_name(judge_class(oracles[1], [oracles[0], oracles[2]], original=original)["verdict"]) == "removed"


def test_separating_power_says_when_the_original_already_looks_like_a_retrain() -> None:
    from expunge.evaluate.verdicts import pool_calibrations, separating_power

    far = row(95, 88, target=85.0)  # the original: the class comes back at once and its features are decodable
    near = row(61, 76, target=85.0)  # the class's features are shared with other classes: the original sits among the oracles
    assert separating_power(far, ORACLES)["has_power"] is True
    weak = separating_power(near, ORACLES)
    assert weak["has_power"] is False and set(weak["margins"]) == {"relearn_k5_head", "probe_penultimate"}
    # without power the oracles cannot pass: the "moved toward the oracles" condition fails for all of them
    assert oracle_pass_rate(ORACLES, None, near)["fraction_removed"] == 0.0 and oracle_pass_rate(ORACLES, None, far)["fraction_removed"] == 1.0
    assert separating_power(row(61, 76), [row(60, 75)])["has_power"] is None  # one oracle: no scatter to compare with
    blocks = [calibration_block(ORACLES, {}, None, far), calibration_block(ORACLES, {}, None, near)]
    pooled = pool_calibrations(blocks)["power"]
    assert pooled == {"runs_judged": 2, "runs_with_power": 1, "oracles_removed_with_power": 4, "oracles_judged_with_power": 4}
    from expunge.evaluate.verdicts import calibration_lines

    assert any("power" in line for line in calibration_lines(blocks[1])) and not any("power" in line for line in calibration_lines(blocks[0]))
