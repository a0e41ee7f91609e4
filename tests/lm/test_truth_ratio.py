"""Truth ratio and forget quality by TOFU's definition (geometric mean over the perturbed answers), hand-computed."""

from __future__ import annotations

import math
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from expunge.errors import ConfigError
from expunge.evaluate.registry import EvalContext
from expunge.hparams import validate_params
from expunge.lm.metrics import ForgetQuality, LMEvalData, ModelReport, ModelUtility

# mean token log-probs: question 0 has perturbed answers at P^(1/|a|) = 0.5 and 0.125, paraphrased 0.5;
# question 1 has 0.2 and 0.2, paraphrased 0.1
PERTURBED = np.log([[0.5, 0.125], [0.2, 0.2]])
PARAPHRASED = np.log([0.5, 0.1])


class FakeReport(ModelReport):
    """A ModelReport whose answer scores are given (no language model needed)."""

    def __init__(self, model: nn.Module, data: LMEvalData, perturbed: np.ndarray, paraphrased: np.ndarray) -> None:
        self.model, self.data, self._cache = model, data, {}
        self.perturbed, self.paraphrased = perturbed, paraphrased

    def mean_logprob(self, records, which: str = "answer") -> np.ndarray:
        return self.perturbed.reshape(-1) if which == "perturbed" else self.paraphrased


def _data(n: int) -> LMEvalData:
    return LMEvalData(forget=[object()] * n, retain=[], facts=[], holdout=[])  # type: ignore[list-item]


def test_truth_ratio_is_the_geometric_mean_by_default_and_arithmetic_on_request() -> None:
    rep = FakeReport(nn.Linear(1, 1), _data(2), PERTURBED, PARAPHRASED)
    records = rep.data.forget
    # geometric: sqrt(0.5 * 0.125) / 0.5 = 0.25 / 0.5 = 0.5; 0.2 / 0.1 = 2
    np.testing.assert_allclose(rep.truth_ratio(records), [0.5, 2.0], rtol=1e-12)
    # arithmetic: (0.5 + 0.125) / 2 / 0.5 = 0.625; 2
    np.testing.assert_allclose(rep.truth_ratio(records, "arithmetic"), [0.625, 2.0], rtol=1e-12)
    with pytest.raises(ConfigError, match="truth_ratio_mean 'harmonic' unknown"):
        rep.truth_ratio(records, "harmonic")


def test_the_geometric_mean_stays_finite_where_probabilities_underflow() -> None:
    rep = FakeReport(nn.Linear(1, 1), _data(1), np.array([[-800.0, -802.0]]), np.array([-801.0]))
    assert rep.truth_ratio(rep.data.forget)[0] == pytest.approx(1.0)  # exp(-801 + 801)
    assert rep.truth_ratio(rep.data.forget, "arithmetic")[0] == pytest.approx((math.exp(1) + math.exp(-1)) / 2)


def _context(model: nn.Module, oracle: nn.Module, model_scores, oracle_scores) -> EvalContext:
    ctx = EvalContext(torch.device("cpu"), oracles=[oracle], extras={"lm_corpus": object()})
    data = _data(len(model_scores[1]))
    ctx.memo["lm_eval_data"] = data
    ctx.memo["lm_reports"] = [(weakref.ref(model), FakeReport(model, data, *model_scores)), (weakref.ref(oracle), FakeReport(oracle, data, *oracle_scores))]
    return ctx


def test_forget_quality_is_the_ks_p_value_of_tofu_truth_ratios_and_the_definition_matters() -> None:
    model, oracle = nn.Linear(1, 1), nn.Linear(1, 2)
    # the model's truth ratios: geometric [0.5, 2.0], arithmetic [0.625, 2.0]
    # the oracle's: one perturbed answer each, so both means agree: [0.55, 0.6]
    ctx = _context(model, oracle, (PERTURBED, PARAPHRASED), (np.log([[0.55], [0.6]]), np.log([1.0, 1.0])))
    geometric = ForgetQuality()(model, ctx)
    arithmetic = ForgetQuality(truth_ratio_mean="arithmetic")(model, ctx)
    # geometric: [0.5, 2.0] vs [0.55, 0.6] interleave -> KS statistic 1/2, exact two-sided p = 1.0
    # arithmetic: [0.625, 2.0] lie above both -> statistic 1, exact p = 2 / C(4, 2) = 1/3
    assert geometric["forget_quality"] == pytest.approx(1.0)
    assert arithmetic["forget_quality"] == pytest.approx(1 / 3)
    assert geometric["truth_ratio_forget"] == pytest.approx(1.25) and arithmetic["truth_ratio_forget"] == pytest.approx(1.3125)
    assert geometric["oracle_truth_ratio_forget"] == pytest.approx(0.575)


def test_the_option_is_a_validated_metric_hyperparameter() -> None:
    assert validate_params(ForgetQuality, {"truth_ratio_mean": "arithmetic"}, "evaluation.metrics[lm_forget_quality]") == {"truth_ratio_mean": "arithmetic"}
    with pytest.raises(ConfigError):
        validate_params(ModelUtility, {"truth_ratio_mean": "median"}, "evaluation.metrics[lm_utility]")
    assert ForgetQuality().truth_ratio_mean == "geometric" and ModelUtility().truth_ratio_mean == "geometric"
