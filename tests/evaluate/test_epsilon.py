"""The NeurIPS-2023 ε-score: the spec's checks, hand-computed cases, and a literal cross-check."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from expunge.errors import ConfigError
from expunge.evaluate.epsilon import (
    DELTA,
    EPSILON_CAP,
    EpsilonScore,
    bucket_points,
    epsilon_score,
    example_epsilons,
    forgetting_quality,
    logit_confidence,
    oracle_ceiling,
)

N = 16


def _eps32(fpr: float, fnr: float) -> float:
    """One rule's ε in float32 arithmetic, as the reference evaluates it."""
    f32 = np.float32
    one = f32(1 - DELTA)
    a, b = f32(fpr), f32(fnr)
    return float(max(np.log(one - a) - np.log(b), np.log(one - b) - np.log(a), f32(0)))


# --- the spec's required checks -------------------------------------------------------


@pytest.mark.parametrize("n_models", [5, 16])
def test_identical_samples_earn_every_point(n_models: int) -> None:
    x = np.random.default_rng(0).normal(0, 1, (30, n_models))
    eps = example_epsilons(x, x.copy())
    assert np.all(eps == 0)
    assert forgetting_quality(eps, n_models) == 1.0


def test_perfectly_separated_samples_score_zero() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (20, N))
    eps = example_epsilons(a, rng.normal(0, 1, (20, N)) + 100)
    assert np.all(eps == EPSILON_CAP)
    assert forgetting_quality(eps, N) == 0.0


def test_growing_shift_lowers_the_score_monotonically() -> None:
    rng = np.random.default_rng(2)
    oracle = rng.normal(0, 1, (40, N))
    unlearned = rng.normal(0, 1, (40, N))
    shifts = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    scores = [forgetting_quality(example_epsilons(unlearned + s, oracle), N) for s in shifts]
    assert all(a >= b for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] < scores[0]
    assert scores[-1] == 0.0  # 8 standard deviations apart: every example separated


def test_same_distribution_scores_far_below_one_at_n16() -> None:
    rng = np.random.default_rng(3)
    f = forgetting_quality(example_epsilons(rng.normal(0, 1, (60, N)), rng.normal(0, 1, (60, N))), N)
    assert 0.05 < f < 0.5  # the spec measured ≈ 0.17: always report the oracle ceiling beside a score


def test_oracle_ceiling_is_the_same_distribution_score() -> None:
    pool = np.random.default_rng(6).normal(0, 1, (50, 2 * N))
    ceiling = oracle_ceiling(pool, seed=0)
    assert 0.05 < ceiling < 0.5
    assert oracle_ceiling(pool, seed=0) == ceiling  # seeded
    assert 0.0 <= oracle_ceiling(pool, seed=1, n_models=8) <= 1.0
    with pytest.raises(ValueError, match="2N >= 4"):
        oracle_ceiling(pool[:, :3])
    with pytest.raises(ValueError, match="N <= M // 2"):
        oracle_ceiling(pool, n_models=17)


# --- hand-computed cases -----------------------------------------------------------------


def test_three_models_crossing_over_by_one() -> None:
    # oracle (larger median) is positive; the best rule has one model of each side on the
    # wrong side: FPR = FNR = 1/3 (threshold between 2 and 2.5, or a window around 2..4);
    # every rule with a zero error rate is discarded, so ε = log((1 − δ − 1/3) / (1/3)).
    unlearned = np.array([[0.0, 1.0, 2.5]])
    oracle = np.array([[2.0, 3.0, 4.0]])
    eps = example_epsilons(unlearned, oracle)
    assert eps[0] == pytest.approx(np.log((1 - DELTA - 1 / 3) / (1 / 3)), abs=1e-6)
    assert eps[0] == _eps32(1 / 3, 1 / 3)  # bit-identical to the float32 evaluation


def test_window_catches_a_peaky_sample_inside_a_wide_one() -> None:
    # No single threshold separates the oracles' cluster around 0 from unlearned models at
    # ±2, ±3 (the best has FPR 1/2, FNR 1/4, ε = log 2); the window [-0.5, 0.5] holds all
    # oracles and no unlearned model: FPR = FNR = 0, ε = ∞ -> capped at 50.
    unlearned = np.array([[-3.0, -2.0, 2.0, 3.0]])
    oracle = np.array([[-0.5, 0.0, 0.2, 0.5]])
    assert example_epsilons(unlearned, oracle)[0] == EPSILON_CAP


def test_four_models_window_beats_single_thresholds() -> None:
    # Sorted pool: 0u 1o 1.5u 2o 2.5u 3u 3.5o 4o; the oracle (median 2.75 > 2) is positive.
    # Single thresholds: the best is t in (2.5, 3] (TP 2, FP 1: FPR 1/4, FNR 1/2) or
    # t in (1.5, 2] (FPR 1/2, FNR 1/4), ε = log((1/2 − δ)/(1/4)) ≈ log 2.
    # Windows: the spreads tie (3 and 3), so the window predicts the *unlearned* sample;
    # [1.5, 3] holds three unlearned models and one oracle: FPR = FNR = 1/4, ε ≈ log 3.
    unlearned = np.array([[0.0, 1.5, 2.5, 3.0]])
    oracle = np.array([[1.0, 2.0, 3.5, 4.0]])
    eps = example_epsilons(unlearned, oracle)[0]
    assert eps == _eps32(0.25, 0.25)
    assert eps == pytest.approx(np.log((0.75 - DELTA) / 0.25), abs=1e-6)
    assert eps > _eps32(0.25, 0.5)  # what single thresholds alone would give


def test_peaky_side_and_constant_samples() -> None:
    rng = np.random.default_rng(4)
    peaky = 0.3 + rng.normal(0, 1e-6, (5, N))  # spread ratio < 0.01 => cap, as the reference
    assert np.all(example_epsilons(peaky, rng.normal(0, 1, (5, N))) == EPSILON_CAP)
    # both samples constant and equal: no rule survives (the reference asserts); we say ε = 0
    assert np.all(example_epsilons(np.ones((2, N)), np.ones((2, N))) == 0)


def test_bucket_points_and_forgetting_quality_by_hand() -> None:
    assert [p for _, p in bucket_points(16)] == [1, 0.5, 0.25, 0.125, 0.0625, 0.03125]  # ceil(log 15) = 3
    assert [s for s, _ in bucket_points(16)] == [0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert forgetting_quality(np.array([0.2, 0.7, 2.9, 3.0]), 16) == (1 + 0.5 + 0.03125 + 0) / 4
    assert forgetting_quality(np.array([0.5, 50.0]), 16) == (0.5 + 0) / 2  # 0.5 starts bucket 2
    assert len(bucket_points(3)) == 2  # ceil(log 2) = 1
    assert forgetting_quality(np.array([0.1, 0.6, 0.99, 1.0]), 3) == (1 + 0.5 + 0.5 + 0) / 4
    with pytest.warns(UserWarning, match="no buckets"):
        assert forgetting_quality(np.zeros(3), 2) == 0.0
    with pytest.raises(ValueError, match="n_models"):
        forgetting_quality(np.zeros(3), 1)


# --- properties and the final score -------------------------------------------------------


def test_model_order_and_side_labels_do_not_matter() -> None:
    rng = np.random.default_rng(10)
    u, o = rng.normal(0, 1, (25, 8)), rng.normal(0.5, 1.5, (25, 8))
    eps = example_epsilons(u, o)
    assert np.array_equal(eps, example_epsilons(u[:, rng.permutation(8)], o[:, rng.permutation(8)]))
    assert np.array_equal(eps, example_epsilons(o, u))  # medians differ: same positive side


def test_epsilon_score_multiplies_the_utility_ratios() -> None:
    x = np.random.default_rng(5).normal(0, 1, (10, N))
    s = epsilon_score(x, x, np.full(N, 90.0), [100.0], 80.0, np.array([79.0, 81.0]))
    assert isinstance(s, EpsilonScore)
    assert s.forgetting_quality == 1.0 and s.n_models == N and s.epsilons.shape == (10,)
    assert s.utility_ratio == pytest.approx(0.9) and s.score == pytest.approx(0.9)
    with pytest.raises(ValueError, match="positive"):
        epsilon_score(x, x, 1.0, 0.0, 1.0, 1.0)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="same shape"):
        example_epsilons(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="N >= 2"):
        example_epsilons(np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        example_epsilons(np.full((2, 4), np.nan), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="infinite"):
        example_epsilons(np.full((2, 4), np.inf), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\[n_examples, N\]"):
        example_epsilons(np.zeros(4), np.zeros(4))


def test_forty_examples_by_sixteen_models_is_fast() -> None:
    rng = np.random.default_rng(11)
    u, o = rng.normal(0, 1, (40, N)), rng.normal(0, 1, (40, N))
    start = time.perf_counter()
    example_epsilons(u, o)
    assert time.perf_counter() - start < 3.0  # ~0.05 s here; the reference loop takes 5-7 s


# --- logit-scaled confidence ---------------------------------------------------------------


def test_logit_confidence_matches_naive_and_stays_finite() -> None:
    rng = np.random.default_rng(7)
    logits, y = rng.normal(0, 3, (50, 5)), rng.integers(0, 5, 50)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    rows = np.arange(50)
    naive = np.log(p[rows, y]) - np.log(p.sum(1) - p[rows, y])
    conf = logit_confidence(logits, y)
    assert conf.dtype == np.float64 and conf.shape == (50,)
    assert np.allclose(conf, naive, rtol=1e-10, atol=1e-10)
    extreme = logit_confidence(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]), np.array([0, 0]))
    assert np.all(np.isfinite(extreme))
    assert extreme[0] == pytest.approx(1000.0)  # 1000 − logsumexp(−1000, 0)
    assert extreme[1] == pytest.approx(-1000.0 - (1000.0 + np.log1p(np.exp(-1.0))))


def test_logit_confidence_accepts_tensors_and_checks_labels() -> None:
    torch = pytest.importorskip("torch")
    logits = torch.randn(6, 4, dtype=torch.float32)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    assert np.allclose(logit_confidence(logits, labels), logit_confidence(logits.numpy(), labels.numpy()))
    with pytest.raises(ValueError, match="labels must lie"):
        logit_confidence(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        logit_confidence(np.zeros((2, 3)), np.array([0]))


# --- the reference's saturating confidence (confidence="official") ---------------------------

SATURATION = 45 * np.log(10)  # log(1 + 1e-45) − log(0 + 1e-45): log(1 + 1e-45) is 0 in float64


def _margin_logits(margin: float, dtype: type, classes: int = 4) -> np.ndarray:
    """One row: class 0 at ``margin``, every other class at 0."""
    z = np.zeros((1, classes), dtype=dtype)
    z[0, 0] = margin
    return z


def test_official_confidence_equals_exact_for_small_margins() -> None:
    rng = np.random.default_rng(20)
    y = rng.integers(0, 10, 200)
    logits64 = rng.normal(0, 8, (200, 10))
    exact = logit_confidence(logits64, y)
    assert np.abs(exact).max() < 50
    assert np.allclose(logit_confidence(logits64, y, confidence="official"), exact, rtol=1e-12, atol=1e-12)
    logits32 = logits64.astype(np.float32)  # the reference's models give float32 logits
    official = logit_confidence(logits32, y, confidence="official")
    assert official.dtype == np.float64
    assert np.allclose(official, logit_confidence(logits32, y), rtol=1e-6, atol=1e-6)  # float32 rounding only


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_official_confidence_saturates_at_the_reference_floor(dtype: type) -> None:
    for margin in (110.0, 200.0):
        z, wrong_label_z = _margin_logits(margin, dtype), _margin_logits(margin, dtype)
        exact = logit_confidence(z, np.array([0]))[0]
        assert exact == pytest.approx(margin - np.log(3))  # the exact value keeps growing
        assert logit_confidence(z, np.array([0]), confidence="official")[0] == pytest.approx(SATURATION, rel=1e-4 if margin < 150 else 1e-15)
        assert logit_confidence(wrong_label_z, np.array([1]), confidence="official")[0] == pytest.approx(-SATURATION, rel=1e-4 if margin < 150 else 1e-15)
    assert SATURATION == pytest.approx(103.61632918473205, abs=1e-12)


def test_official_float32_confidence_by_hand() -> None:
    """float32 exp: exact to ~1e-8 up to |margin| 87, subnormal (multiples of 2⁻¹⁴⁹) to 104, 0 beyond."""
    y = np.array([0])
    # margin 60 (float32): normal float32, so the reference agrees with the exact value to ~1e-7;
    # it does not saturate at a margin of 50-60, only its float rounding shows.
    at60 = logit_confidence(_margin_logits(60.0, np.float32), y, confidence="official")[0]
    assert at60 != logit_confidence(_margin_logits(60.0, np.float32), y)[0]
    assert at60 == pytest.approx(60 - np.log(3), abs=1e-6)
    # margin 100: exp(−100) ≈ 3.72e-44 is subnormal in float32, rounded to k · 2⁻¹⁴⁹
    tiny = round(np.exp(-100.0) / 2.0**-149) * 2.0**-149
    p_wrong = 3 * tiny / (1 + 3 * tiny)
    expected = np.log(1 / (1 + 3 * tiny) + 1e-45) - np.log(p_wrong + 1e-45)
    got = logit_confidence(_margin_logits(100.0, np.float32), y, confidence="official")[0]
    assert got == pytest.approx(expected, rel=1e-12)
    assert abs(got - (100 - np.log(3))) > 1e-3  # the two transforms differ here
    # float16 logits (if a model gives them): exp underflows below about −17.3, so the
    # reference's value is already saturated at a margin of 30
    assert logit_confidence(_margin_logits(30.0, np.float16), y, confidence="official")[0] == pytest.approx(SATURATION, rel=1e-15)


def test_unknown_confidence_transform_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'softmax'.*exact.*official"):
        logit_confidence(np.zeros((2, 3)), np.array([0, 1]), confidence="softmax")


def test_bfloat16_logits_ask_for_a_cast() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="float32"):
        logit_confidence(torch.zeros(2, 3, dtype=torch.bfloat16), np.array([0, 1]), confidence="official")


# --- zero-spread conventions ----------------------------------------------------------------


def test_both_sides_constant_and_equal_earn_full_points() -> None:
    eps = example_epsilons(np.full((3, N), 2.5), np.full((3, N), 2.5))
    assert np.all(eps == 0)  # 0/0 is not peaky; no rule survives; the reference would assert
    assert forgetting_quality(eps, N) == 1.0


@pytest.mark.parametrize("gap", [0.02, 0.5, 1.0, 37.0])
def test_both_sides_constant_and_different_are_capped(gap: float) -> None:
    unlearned, oracle = np.full((2, N), -1.3), np.full((2, N), -1.3 + gap)
    for u, o in ((unlearned, oracle), (oracle, unlearned)):
        eps = example_epsilons(u, o)
        assert np.all(eps == EPSILON_CAP)  # a threshold between the two values separates them perfectly
        assert forgetting_quality(eps, N) == 0.0


@pytest.mark.parametrize("constant_side", ["unlearned", "oracle"])
@pytest.mark.parametrize("level", [-5.0, 0.0, 5.0])  # below, inside and above the other sample
def test_one_side_constant_is_capped_by_rule_two(constant_side: str, level: float) -> None:
    other = np.random.default_rng(21).normal(0, 1, (4, N))
    constant = np.full((4, N), level)
    u, o = (constant, other) if constant_side == "unlearned" else (other, constant)
    eps = example_epsilons(u, o)
    assert np.all(eps == EPSILON_CAP)  # smaller ÷ larger spread = 0 < 0.01
    assert forgetting_quality(eps, N) == 0.0


# --- literal cross-check of the vectorised rule search ------------------------------------


def _literal_rules(pos: np.ndarray, neg: np.ndarray) -> dict[str, np.ndarray]:
    """(tp, fp) of every single-threshold rule and every window rule, one by one."""
    import torch

    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    grid = torch.linspace(float(lo), float(hi), int(np.ceil((hi - lo) * 100))).double().numpy()
    single = np.stack([(pos[None, :] >= grid[:, None]).sum(1), (neg[None, :] >= grid[:, None]).sum(1)], 1)
    pd, nd = pos.max() - pos.min(), neg.max() - neg.min()
    peaky, wide = (neg, pos) if pd >= nd else (pos, neg)
    w = nd if pd > nd else pd
    r_lo, r_hi = (peaky.min() + w) - 2.0, peaky.max() + 2.0
    right = np.linspace(r_lo, r_hi, int(np.ceil((r_hi - r_lo) * 100)))
    left = np.stack([np.linspace(r - w - 2.0, r - w + 2.0, 400) for r in right])  # [R, 400]
    counts = [((left[..., None] <= x) & (x <= right[:, None, None])).sum(-1).reshape(-1) for x in (peaky, wide)]
    return {"single": single, "window": np.stack(counts, 1), "grids": (grid, right, left)}


def _literal_epsilon(unlearned: np.ndarray, oracle: np.ndarray) -> float:
    """ε of one example with every rule evaluated on its own (slow; no vectorisation tricks)."""
    f32 = np.float32
    n = len(unlearned)
    pos, neg = (oracle, unlearned) if np.median(oracle) > np.median(unlearned) else (unlearned, oracle)
    pd, nd = pos.max() - pos.min(), neg.max() - neg.min()
    large, small = (pd, nd) if pd > nd else (nd, pd)
    if large > 0 and small / large < 0.01:
        return EPSILON_CAP
    rules = _literal_rules(pos, neg)
    t, f = np.concatenate([rules["window"], rules["single"]]).astype(f32).T
    tpr, fnr, fpr, tnr = t / f32(n), (f32(n) - t) / f32(n), f / f32(n), (f32(n) - f) / f32(n)
    if np.any((fpr + fnr == 0) & (tpr + tnr == 2)):
        return EPSILON_CAP
    keep = fpr * fnr != 0
    with np.errstate(invalid="ignore"):
        e = np.fmax(np.log(f32(1 - DELTA) - fpr[keep]) - np.log(fnr[keep]), np.log(f32(1 - DELTA) - fnr[keep]) - np.log(fpr[keep]))
    e = e[~np.isnan(e)]
    return 0.0 if e.size == 0 else float(min(max(e.max(), 0.0), EPSILON_CAP))


def _torch_linspace_is_fused() -> bool:
    torch = pytest.importorskip("torch")
    return torch.backends.cpu.get_cpu_capability() != "DEFAULT"  # x86 without AVX2 rounds twice


def _straddle_edges(u: np.ndarray, o: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Put pairs of the wider sample's interior values one float64 ulp either side of rule edges.

    Only values strictly inside the wider sample's range move, so neither grid changes (the
    single grid hangs on the pooled min / max, the window grid on the peakier sample), and
    a count pair is reachable only if the edge lands exactly where the reference puts it.
    """
    u, o = u.copy(), o.copy()
    for i in range(len(u)):
        pos, neg = (o[i], u[i]) if np.median(o[i]) > np.median(u[i]) else (u[i], o[i])
        grid, right, left = _literal_rules(pos, neg)["grids"]
        wide = u[i] if np.ptp(u[i]) > np.ptp(o[i]) else o[i]
        inner = [k for k in np.argsort(wide)[1:-1]]
        rng.shuffle(inner)
        j = rng.integers(len(right))
        targets = [
            (rng.choice(grid[1:-1]), -np.inf),  # single threshold t: x = t counts, x = t⁻ does not
            (right[j], np.inf),  # right edge r: x = r inside, x = r⁺ outside
            (rng.choice(left[j]), -np.inf),  # left edge l: x = l inside, x = l⁻ outside
        ]
        for edge, side in targets:
            if len(inner) >= 2 and wide.min() < edge < wide.max():
                wide[inner.pop()] = edge
                wide[inner.pop()] = np.nextafter(edge, side)
    return u, o


@pytest.mark.parametrize("n_models", [5, 8])
def test_reached_count_pairs_equal_the_literal_rule_enumeration(n_models: int) -> None:
    if not _torch_linspace_is_fused():
        pytest.skip("this CPU's torch.linspace does not fuse multiply-add; the float32 grid differs by an ulp")
    from expunge.evaluate.epsilon import _mark_single_thresholds, _mark_windows

    rng = np.random.default_rng(200 + n_models)
    u, o = _straddle_edges(rng.normal(0, 1, (8, n_models)), rng.normal(0.4, 1.5, (8, n_models)), rng)
    for i in range(len(u)):
        pos, neg = (o[i], u[i]) if np.median(o[i]) > np.median(u[i]) else (u[i], o[i])
        rules = _literal_rules(pos, neg)
        for family, mark in (("single", _mark_single_thresholds), ("window", _mark_windows)):
            reached = np.zeros((1, (n_models + 1) ** 2), dtype=bool)
            mark(pos[None], neg[None], reached)
            literal = np.zeros((n_models + 1) ** 2, dtype=bool)
            literal[rules[family][:, 0] * (n_models + 1) + rules[family][:, 1]] = True
            assert np.array_equal(reached[0], literal), (i, family)


@pytest.mark.parametrize("n_models", [3, 6])
def test_vectorised_epsilons_equal_the_literal_rule_enumeration(n_models: int) -> None:
    if not _torch_linspace_is_fused():
        pytest.skip("this CPU's torch.linspace does not fuse multiply-add; the float32 grid differs by an ulp")
    rng = np.random.default_rng(100 + n_models)
    cases = [
        (rng.normal(0, 1, (3, n_models)), rng.normal(0.7, 1, (3, n_models))),
        (np.round(rng.normal(0, 1, (3, n_models)), 2), np.round(rng.normal(0.3, 1.5, (3, n_models)), 2)),
        (rng.normal(0, 3, (2, n_models)), rng.normal(0, 0.3, (2, n_models))),  # peaky inside wide
        _straddle_edges(rng.normal(0, 1, (4, n_models)), rng.normal(0.5, 2, (4, n_models)), rng),
    ]
    for u, o in cases:
        fast = example_epsilons(u, o)
        literal = np.array([_literal_epsilon(u[i], o[i]) for i in range(len(u))])
        assert np.array_equal(fast, literal), (fast, literal)


def test_float32_grid_matches_torch_linspace() -> None:
    torch = pytest.importorskip("torch")
    if not _torch_linspace_is_fused():
        pytest.skip("this CPU's torch.linspace does not fuse multiply-add")
    from expunge.evaluate.epsilon import _float32_linspace

    rng = np.random.default_rng(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(200):
            a = rng.normal(0, 5)
            b = a + abs(rng.normal(0, 5)) + 1e-3
            count = int(np.ceil((b - a) * 100))
            expected = torch.linspace(a, b, count).double().numpy()
            got = _float32_linspace(np.array([a]), np.array([b]), np.array([count]), np.arange(count)[None, :])[0]
            assert np.array_equal(got, expected)
