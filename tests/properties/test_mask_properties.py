"""Property tests of Scores.mask: exact budgets, nesting in α, determinism under ties (issue 9)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from expunge.localize.scores import Scores

FAST = settings(max_examples=50, deadline=None)
SHAPES = st.sampled_from([(), (1,), (5,), (3, 4), (2, 3, 2), (4, 1, 3, 3), (12, 2)])
# values from a small integer set give many ties; floats give few
VALUE = st.one_of(st.integers(0, 3).map(float), st.floats(0.0, 10.0, allow_nan=False, width=32))


@st.composite
def score_dicts(draw: st.DrawFn) -> dict[str, torch.Tensor]:
    shapes = draw(st.lists(SHAPES, min_size=1, max_size=4))
    ties = draw(st.booleans())
    values = st.integers(0, 3).map(float) if ties else VALUE
    out = {}
    for i, shape in enumerate(shapes):
        size = int(torch.Size(shape).numel())
        out[f"layer{i}.weight"] = torch.tensor(draw(st.lists(values, min_size=size, max_size=size)), dtype=torch.float32).reshape(shape)
    return out


ALPHA = st.floats(0.0, 1.0, allow_nan=False)
GRANULARITY = st.sampled_from(["param", "channel"])


def selected(mask) -> torch.Tensor:
    return torch.cat([mask[n].reshape(-1) for n in mask.names()])


@FAST
@given(score_dicts(), ALPHA)
def test_param_granularity_selects_exactly_floor_alpha_n(values, alpha):
    mask = Scores(values).mask(alpha, "param")
    total = sum(v.numel() for v in values.values())
    assert mask.num_selected() == int(alpha * total)
    assert mask.num_total() == total


@FAST
@given(score_dicts(), ALPHA, GRANULARITY)
def test_selected_entries_outrank_every_unselected_entry(values, alpha, granularity):
    scores = Scores(values)
    ranked = torch.cat([v.reshape(-1) for v in scores.ranked(granularity).values()])
    chosen = selected(scores.mask(alpha, granularity))
    if bool(chosen.any()) and bool((~chosen).any()):
        assert float(ranked[chosen].min()) >= float(ranked[~chosen].max())


@FAST
@given(score_dicts(), ALPHA, ALPHA, GRANULARITY, st.sampled_from(["global", "per_layer"]))
def test_masks_are_nested_in_alpha(values, a, b, granularity, budget):
    low, high = sorted((a, b))
    scores = Scores(values)
    small, large = scores.mask(low, granularity, budget), scores.mask(high, granularity, budget)
    for name in small.names():
        assert bool((small[name] <= large[name]).all()), name


@FAST
@given(score_dicts(), ALPHA, GRANULARITY, st.sampled_from(["global", "per_layer"]))
def test_same_scores_give_the_same_mask(values, alpha, granularity, budget):
    first = Scores(values).mask(alpha, granularity, budget)
    again = Scores(values).mask(alpha, granularity, budget)
    copy = Scores({n: v.clone() for n, v in values.items()}).mask(alpha, granularity, budget)
    for name in first.names():
        assert torch.equal(first[name], again[name]) and torch.equal(first[name], copy[name]), name


@FAST
@given(score_dicts(), ALPHA)
def test_channel_masks_cut_at_most_one_row(values, alpha):
    """A channel score is shared by its row, so only the boundary row can be partly selected."""
    mask = Scores(values).mask(alpha, "channel")
    total = sum(v.numel() for v in values.values())
    assert mask.num_selected() == int(alpha * total)
    partial = 0
    for name, value in values.items():
        if value.ndim > 1:
            rows = mask[name].reshape(value.shape[0], -1)
            partial += int((rows.any(1) & ~rows.all(1)).sum())
    assert partial <= 1


@FAST
@given(score_dicts(), ALPHA)
def test_per_layer_budget_takes_floor_alpha_n_in_every_tensor(values, alpha):
    mask = Scores(values).mask(alpha, "param", budget="per_layer")
    for name, value in values.items():
        assert int(mask[name].sum()) == int(alpha * value.numel()), name
