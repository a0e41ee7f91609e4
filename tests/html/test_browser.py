"""The page in a real browser: headless Debian chromium through playwright, opened from file://."""

from __future__ import annotations

from expunge.html_report import write_html_report


def _column(page, table, index):
    return page.eval_on_selector_all(f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{index}].dataset.v)")


def test_page_in_headless_chromium(tiny_runs, tmp_path, open_page):
    out = write_html_report(tmp_path / "page.html", [tiny_runs])
    with open_page(out) as (page, errors):
        page.wait_for_selector(".js-plotly-plot .scatterlayer")
        sections = page.eval_on_selector_all("section.run", "s => s.map(x => [x.id, x.querySelector('h2').textContent])")
        ids = {title.split("/")[-1]: sid for sid, title in sections}
        frontier, plain = ids["frontier"], ids["plain"]

        # the table shows every method (the original model first, the oracles, each method x budget)
        methods = _column(page, f"table-{frontier}", 0)
        assert set(methods) == {"original", "retrain", "finetune@0.25", "finetune@0.5", "DEL@0.25", "DEL@0.5"}
        assert set(_column(page, f"table-{plain}", 0)) == {"original", "retrain", "finetune", "DEL", "random-mask"}

        # clicking a numeric header sorts by its values, clicking again reverses
        headers = page.eval_on_selector_all(f"#table-{frontier} thead th", "hs => hs.map(h => h.textContent)")
        col = headers.index("passes ×retrain")
        page.click(f"#table-{frontier} thead th:nth-child({col + 1})")
        values = [float(v) for v in _column(page, f"table-{frontier}", col) if v]
        assert values == sorted(values) and len(values) == 5
        assert _column(page, f"table-{frontier}", col)[-1] == ""  # the original has no cost: last
        page.click(f"#table-{frontier} thead th:nth-child({col + 1})")
        values = [float(v) for v in _column(page, f"table-{frontier}", col) if v]
        assert values == sorted(values, reverse=True)

        # the frontier: one mark per method x budget, plus the oracles
        marks = page.eval_on_selector_all(f"#frontier-{frontier} .scatterlayer path.point", "ps => ps.length")
        assert marks == 5  # finetune and DEL at budgets 0.25 and 0.5, retrain at 1.0
        # a legend click hides a method (plotly's own toggle)
        page.click(f"#frontier-{frontier} .legend .traces .legendtoggle >> nth=0")
        page.wait_for_function(f"document.getElementById('frontier-{frontier}').data[0].visible === 'legendonly'", timeout=5000)
        visible = page.evaluate(f"document.getElementById('frontier-{frontier}').data.map(t => t.visible)")
        assert visible[0] == "legendonly" and visible[1] in (None, True)

        page.screenshot(path=str(tmp_path / "page.png"), full_page=False)
        assert (tmp_path / "page.png").stat().st_size > 10_000
        assert errors == []
