"""Every shipped study expands at every scale into valid cell configs (nothing trains)."""

from __future__ import annotations

import pytest

from expunge.experiments.study_plan import kind_options, load_study, plan_cells, shipped_studies

PRESETS = sorted(shipped_studies())
EXPECTED = {"demo", "grid", "epsilon", "frontier", "zero-shot", "concept-images", "gan", "lm-authors"}


def test_every_published_table_has_a_preset() -> None:
    assert EXPECTED <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_expands_and_validates_at_every_scale(name: str, tmp_path) -> None:
    spec = load_study(name)
    assert {"smoke", "published"} <= set(spec.scales)
    counts = {}
    for scale in spec.scales:
        cells = plan_cells(spec, scale, tmp_path / scale)
        kind_options(spec, scale)
        ids = [c.id for c in cells]
        assert len(set(ids)) == len(ids)
        assert all(str(c.config.out).startswith(str(tmp_path / scale / "cells")) for c in cells)
        assert len({c.config.cache_dir for c in cells}) == 1  # one shared model cache
        assert all(c.config.methods for c in cells)
        counts[scale] = len(cells)
    assert counts["smoke"] <= counts["published"]
