"""Images beside the per-example ε: a pool stores its forget indices, the page inlines the extreme examples' thumbnails."""

from __future__ import annotations

import base64
import io
import json

import numpy as np

from expunge.html_report import write_html_report
from expunge.html_report.thumbnails import MAX_PIXELS, PER_END, png_base64, pool_examples


def _pool(tiny_runs):
    path = next((tiny_runs / "frontier").rglob("pool.json"))
    return path, json.loads(path.read_text())


def test_pool_stores_forget_indices_and_the_view_ranks_their_images(tiny_runs) -> None:
    from PIL import Image

    path, pool = _pool(tiny_runs)
    forget = [int(i) for i in (tiny_runs / "frontier" / "split" / "forget.txt").read_text().split()] if (tiny_runs / "frontier" / "split" / "forget.txt").exists() else None
    indices = pool["forget_indices"]
    assert len(indices) == len(pool["sides"]["original"]["per_example_epsilon"]) and pool["dataset"]["name"] == "synthetic"
    if forget is not None:
        assert sorted(indices) == sorted(forget)
    view = pool_examples(pool, per_end=5)
    assert view is not None and view.message is None and set(view.extremes) == {s for s in pool["sides"] if s != "oracle-vs-oracle ceiling"}
    for side, ends in view.extremes.items():
        eps = dict(zip(indices, pool["sides"][side]["per_example_epsilon"]))
        high, low = [e for _, e in ends["highest"]], [e for _, e in ends["lowest"]]
        assert len(high) == 5 and len(low) == 5 and min(high) >= max(low)  # the two ends of the ranking, 10 of the forget examples
        assert high == sorted(high, reverse=True) and all(eps[i] == e for i, e in ends["highest"] + ends["lowest"])
    assert set(view.images) <= set(indices)
    image = Image.open(io.BytesIO(base64.b64decode(next(iter(view.images.values())))))
    assert image.size == (8, 8) and image.mode == "L"  # the synthetic 1 x 8 x 8 images
    ends = pool_examples(pool).extremes["original"]
    assert len(ends["highest"]) == len(ends["lowest"]) == min(PER_END, len(indices) // 2)
    assert not {i for i, _ in ends["highest"]} & {i for i, _ in ends["lowest"]}


def test_thumbnails_scale_each_image_to_its_own_range_and_shrink_large_ones() -> None:
    from PIL import Image

    x = np.zeros((3, 4, 4))
    x[0, 0, 0], x[2, 3, 3] = -2.0, 6.0  # normalised data: any range
    rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(png_base64(x)))))
    assert rgb.shape == (4, 4, 3) and rgb[0, 0, 0] == 0 and rgb[3, 3, 2] == 255 and rgb[1, 1, 1] == 64  # (0 + 2) / 8 * 255
    big = Image.open(io.BytesIO(base64.b64decode(png_base64(np.random.default_rng(0).normal(size=(1, 200, 100))))))
    assert big.size == (MAX_PIXELS // 2, MAX_PIXELS) and big.mode == "L"


def test_the_view_says_why_when_images_cannot_be_shown(tiny_runs) -> None:
    _, pool = _pool(tiny_runs)
    missing = pool_examples({**pool, "config": {**pool["config"], "dataset": {"name": "no-such-dataset", "options": {}}}})
    assert missing is not None and missing.message and "could not be loaded" in missing.message and not missing.images
    older = pool_examples({k: v for k, v in pool.items() if k != "forget_indices"})
    assert older is not None and older.message and "before pools kept their forget indices" in older.message
    assert pool_examples({"sides": {"original": {"per_example_epsilon": []}}}) is None  # no per-example scores: no view


def test_pool_images_in_headless_chromium(tiny_runs, tmp_path, open_page) -> None:
    _, pool = _pool(tiny_runs)
    out = write_html_report(tmp_path / "pool.html", [tiny_runs])
    with open_page(out) as (page, errors):
        page.wait_for_selector(".pool-images figure.thumb img")
        sides = page.eval_on_selector_all(".pool-images .pool-side", "ds => ds.map(d => d.dataset.side)")
        assert set(sides) == {s for s in pool["sides"] if s != "oracle-vs-oracle ceiling"}
        loaded = page.eval_on_selector_all(".pool-images figure.thumb img", "is => is.map(i => i.complete && i.naturalWidth)")
        assert loaded and all(w == 8 for w in loaded)  # every thumbnail decoded
        shown = page.eval_on_selector_all(".pool-side >> nth=0 >> figure.thumb", "fs => fs.map(f => Number(f.dataset.index))")
        assert set(shown) <= set(pool["forget_indices"]) and len(shown) == 2 * min(PER_END, len(pool["forget_indices"]) // 2)
        page.locator(".pool-images").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "pool.png"))
        assert errors == []
    assert np.isfinite(pool["sides"]["original"]["epsilon_score"])
