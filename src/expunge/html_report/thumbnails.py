"""Images beside the per-example scores: the forget examples furthest from and closest to the oracles, as small PNGs.

A pool stores which train examples its per-example ε belong to (``forget_indices``) and its config;
the dataset is loaded again here (the report is built where the data are). Only the ``per_end`` most
and least extreme examples of each side are inlined, so the page stays small. When the data cannot
be loaded, or the pool predates stored indices, the view says why instead of failing.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

PER_END = 12  # thumbnails at each end of a side's ranking: 24 at most per side
MAX_PIXELS = 64  # larger images are shrunk to this side length
SKIP_SIDES = ("oracle-vs-oracle ceiling",)


@dataclass
class ExampleView:
    """Per side: the extreme examples as (train index, ε); thumbnails by train index; or a message saying why there are none."""

    extremes: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)
    images: dict[int, str] = field(default_factory=dict)
    message: str | None = None


def _train_inputs(pool: dict[str, Any]) -> Any:
    """The train inputs the pool's models saw (corruptions applied), from the stored config; the last load is kept,
    so a frontier's pools at several budgets load their data once."""
    from ..experiments.config import load_config
    from ..experiments.prepare_data import load_task_data

    config = pool.get("config")
    if not isinstance(config, dict):
        raise ValueError("pool.json holds no config")
    key = json.dumps({k: config.get(k) for k in ("dataset", "split", "family")}, sort_keys=True, default=str)
    if key not in _LAST_LOAD:
        _LAST_LOAD.clear()
        _LAST_LOAD[key] = load_task_data(load_config(config)).bundle.train.inputs
    return _LAST_LOAD[key]


_LAST_LOAD: dict[str, Any] = {}


def is_image_batch(inputs: Any) -> bool:
    shape = tuple(getattr(inputs, "shape", ()))
    return getattr(inputs, "is_floating_point", lambda: False)() and (len(shape) == 3 or (len(shape) == 4 and shape[1] in (1, 3)))


def png_base64(image: np.ndarray) -> str:
    """[C, H, W] or [H, W] floats scaled to their own min..max (normalised data have no fixed range), as a base64 PNG."""
    from PIL import Image

    x = np.asarray(image, dtype=np.float64)
    x = x[0] if x.ndim == 3 and x.shape[0] == 1 else (np.transpose(x, (1, 2, 0)) if x.ndim == 3 else x)
    lo, hi = float(np.min(x)), float(np.max(x))
    pixels = np.zeros(x.shape, np.uint8) if hi <= lo else np.round(255 * (x - lo) / (hi - lo)).astype(np.uint8)
    picture = Image.fromarray(pixels)
    if max(picture.size) > MAX_PIXELS:
        picture.thumbnail((MAX_PIXELS, MAX_PIXELS))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def pool_examples(pool: dict[str, Any], per_end: int = PER_END) -> ExampleView | None:
    """None when the data are not images; a view with a message when the images cannot be shown."""
    sides = {name: side["per_example_epsilon"] for name, side in pool.get("sides", {}).items() if side.get("per_example_epsilon") and name not in SKIP_SIDES}
    if not sides:
        return None
    name = ((pool.get("config") or {}).get("dataset") or {}).get("name", "?")
    indices = pool.get("forget_indices")
    if not indices:
        return ExampleView(message=f"No images: this pool was stored before pools kept their forget indices; run expunge pool again (stored models are reused) to see the {name} images.")
    try:
        inputs = _train_inputs(pool)
    except Exception as exc:  # noqa: BLE001  (any loader failure: the page is still written, and says why)
        return ExampleView(message=f"No images: the dataset {name!r} could not be loaded where this report was built ({type(exc).__name__}: {exc}).")
    if not is_image_batch(inputs):
        return None
    view = ExampleView()
    for side, values in sides.items():
        eps = np.asarray([np.nan if v is None else v for v in values], dtype=float)
        if len(eps) != len(indices) or max(indices) >= len(inputs):
            return ExampleView(message=f"No images: the stored forget indices ({len(indices)}) do not match {side}'s {len(eps)} scores or the {name} train set ({len(inputs)} examples).")
        finite = np.flatnonzero(np.isfinite(eps))  # an example without a score is not ranked
        order = [int(finite[j]) for j in np.argsort(eps[finite], kind="stable")[::-1]]
        end = min(per_end, len(order) // 2)  # the two ends never overlap
        top, bottom = order[:end], order[len(order) - end :][::-1]
        view.extremes[side] = {end: [(int(indices[i]), float(eps[i])) for i in chosen] for end, chosen in (("highest", top), ("lowest", bottom))}
    for index in sorted({i for ends in view.extremes.values() for rows in ends.values() for i, _ in rows}):
        view.images[index] = png_base64(inputs[index].detach().cpu().numpy())
    return view


def examples_html(view: ExampleView, slug: str) -> str:
    """Per side, the highest-ε (furthest from the oracles) and lowest-ε forget examples, sides next to each other."""
    if view.message:
        return f'<p class="rule pool-images-missing" id="images-{slug}">{escape(view.message)}</p>'

    def strip(rows: list[tuple[int, float]]) -> str:
        return "".join(
            f'<figure class="thumb" data-index="{i}"><img alt="train example {i}" src="data:image/png;base64,{view.images[i]}"><figcaption>#{i}<br>ε {e:.2f}</figcaption></figure>' for i, e in rows
        )

    blocks = []
    for side, ends in view.extremes.items():
        blocks.append(
            f'<div class="pool-side" data-side="{escape(side)}"><h4>{escape(side)}</h4>'
            f'<p class="rule">highest ε (furthest from the oracles)</p><div class="thumbs">{strip(ends["highest"])}</div>'
            f'<p class="rule">lowest ε (closest to the oracles)</p><div class="thumbs">{strip(ends["lowest"])}</div></div>'
        )
    return f'<h3>The forget examples at both ends of each ranking</h3><div class="pool-images" id="images-{slug}">{"".join(blocks)}</div>'
