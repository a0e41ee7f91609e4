"""The language-model panel: stored answers side by side and truth-ratio distributions, in headless chromium."""

from __future__ import annotations

import json

from expunge.html_report import write_html_report
from expunge.html_report.lm_panel import _cell, lm_blocks


def test_blocks_come_from_the_original_the_oracles_and_each_method(tiny_lm_run) -> None:
    folder = tiny_lm_run / "lm"
    records, info = json.loads((folder / "results.json").read_text()), json.loads((folder / "run.json").read_text())
    blocks = lm_blocks(records, info)
    assert blocks is not None and blocks.original is not None
    assert len(blocks.oracles) == 2 and set(blocks.methods) == {"NPO", "grad diff"}
    assert lm_blocks([{k: v for k, v in r.items() if k != "lm_examples"} for r in records], {}) is None  # an older run: no panel
    first = blocks.methods["NPO"][0][1]["answers"][0]
    assert "(empty:" in _cell({**first, "answer": " "}) and "lm-hit" in _cell({**first, "answer": f"it is {first['key']}"}) and "lm-hit" not in _cell({**first, "answer": "no idea"})


def test_lm_panel_in_headless_chromium(tiny_lm_run, tmp_path, open_page) -> None:
    out = write_html_report(tmp_path / "lm.html", [tiny_lm_run])
    with open_page(out) as (page, errors):
        page.wait_for_selector("[id^=truthratio-] .barlayer")
        # one fold per method, the page's pick open; its table: 5 forget + 5 retain questions, original | method | oracle
        folds = page.eval_on_selector_all("details.lm-method", "ds => ds.map(d => [d.dataset.method, d.open])")
        assert sorted(m for m, _ in folds) == ["NPO", "grad diff"] and sum(o for _, o in folds) == 1
        table = page.locator("details.lm-method[open] table.lm-answers")
        heads = table.locator("thead th").all_inner_texts()
        assert heads[:3] == ["set", "question", "reference answer"] and heads[3] == "original" and heads[-1] == "oracle" and "(seed 0)" in heads[4]
        parts = table.locator("tbody tr td:first-child").all_inner_texts()
        assert parts == ["forget"] * 5 + ["retain"] * 5
        answers = table.locator("tbody tr td:nth-child(4)").all_inner_texts()
        assert all(a.strip() for a in answers)  # every question has the original's generated answer
        # truth ratios: original, oracles and each method per panel (forget, retain); only the chosen method shown
        traces = page.evaluate("Array.from(document.querySelectorAll('[id^=truthratio-]'))[0].data.map(t => [t.name, t.visible, t.x.length])")
        assert len(traces) == 2 * 4 and all(n > 0 for _, _, n in traces)
        shown = [name for name, visible, _ in traces[:4] if visible]
        assert shown[:2] == ["original", "oracles (2)"] and len(shown) == 3
        page.locator("[id^=truthratio-] .updatemenu-header-group").first.click()  # plotly's own menu: choose the other method
        other = [name for name, visible, _ in traces[2:4] if not visible][0]
        page.locator("[id^=truthratio-] .updatemenu-dropdown-button", has_text=other.split(" (")[0]).first.click()
        page.wait_for_function(f"Array.from(document.querySelectorAll('[id^=truthratio-]'))[0].data.some(t => t.name === {json.dumps(other)} && t.visible === true)", timeout=5000)
        page.screenshot(path=str(tmp_path / "lm.png"), full_page=True)
        assert errors == []
