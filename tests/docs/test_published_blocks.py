"""The presets' ``published:`` blocks say where each table is and how it is made, and every path or command they name is real.

A block names the docs anchor (``table``), the stored result (``stored``), the command that writes the docs table
(``tables``) and, for a table run through its preset, the scale (``scale_run``) and the run command (``run``);
``retired_script`` is history only (the script is gone). Nested blocks (a preset's second table) follow the same rules.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from expunge.experiments.study_plan import load_study, shipped_studies

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {"table", "stored", "tables", "run", "scale_run", "made_by", "retired_script", "differences", "tuned_by"}


def blocks(name: str) -> list[dict[str, Any]]:
    published = load_study(name).published
    return [published, *(v for v in published.values() if isinstance(v, dict))] if published else []


PUBLISHED = [(name, i) for name in sorted(shipped_studies()) for i in range(len(blocks(name)))]


def anchors(page: Path) -> set[str]:
    return set(re.findall(r"\{\s*#([\w-]+)\s*\}", page.read_text()))


def test_the_published_tables_have_blocks() -> None:
    named = {name for name, _ in PUBLISHED}
    assert {"demo", "grid", "epsilon", "frontier", "zero-shot", "zero-shot-analysis-size", "concept-images", "gan", "lm-authors", "class-leaderboard"} <= named


@pytest.mark.parametrize(("name", "index"), PUBLISHED)
def test_block_names_real_places_and_commands(name: str, index: int) -> None:
    block = blocks(name)[index]
    nested = {k for k, v in block.items() if isinstance(v, dict)}
    assert set(block) - nested <= KNOWN, f"{name}: unknown published fields {sorted(set(block) - nested - KNOWN)}"
    assert {"table", "stored", "tables"} <= set(block), f"{name}: a published block needs table, stored and tables"
    page, _, anchor = block["table"].partition("#")
    assert anchor in anchors(ROOT / page), f"{name}: {block['table']} is not an anchor of {page}"
    for key in ("tables", "run"):
        for token in shlex.split(block.get(key, "")):
            if token.startswith("benchmarks/") and token.endswith(".py"):
                assert (ROOT / token).is_file(), f"{name}: {key} runs {token}, which does not exist"
    if "retired_script" in block:
        assert not (ROOT / block["retired_script"]).exists(), f"{name}: {block['retired_script']} exists; it is not retired"
    if "scale_run" in block:
        spec = load_study(name)
        assert block["scale_run"] in spec.scales
        run = shlex.split(block["run"])
        assert run[:5] == ["expunge", "study", "run", name, f"scale={block['scale_run']}"]
    tables = shlex.split(block["tables"])
    if tables[:3] == ["expunge", "study", "report"]:
        assert "run" in block and tables[3] == shlex.split(block["run"])[-1], f"{name}: the report reads another folder than the run writes"
        written = Path(tables[tables.index("--tables") + 1])
        assert block["stored"] == str(written.with_suffix(".json")), f"{name}: stored is not the summary --tables writes beside {written}"
    else:  # a generator over stored files: they are there
        assert list(ROOT.glob(re.sub(r"(\{[^}]*\}|<[^>]*>)+", "*", block["stored"]))), f"{name}: no stored file matches {block['stored']}"
