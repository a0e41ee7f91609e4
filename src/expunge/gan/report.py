"""Sample grids (before / after / oracle) for GAN runs, and the markdown section ``expunge report`` renders.

``write_sample_grid(path, models)`` draws the same latent codes through every model, one panel
per model (images as a grid; 2-D data as a scatter plot over the real points), and records the
PNG with its caption in ``<run_dir>/samples/index.json``. ``sample_grid_section(run_dir)`` turns
that index (or, without one, every PNG in ``<run_dir>/samples``) into markdown lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..utils import atomic_write_bytes, atomic_write_json
from .models import GAN

SAMPLES_DIR = "samples"


def _grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one (rows*H, nrow*W[, C]) array with 1-pixel gaps."""
    n, c, h, w = images.shape
    rows = -(-n // nrow)
    out = np.ones((rows * (h + 1) + 1, nrow * (w + 1) + 1, c), dtype=np.float32)
    arr = images.permute(0, 2, 3, 1).numpy()
    for k in range(n):
        r, col = divmod(k, nrow)
        out[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = arr[k]
    return out[..., 0] if c == 1 else out


def _palette_png(png: bytes, colors: int = 64) -> bytes:
    """The grid as a 64-colour palette PNG: grey samples lose nothing visible, the file shrinks ~2.4x."""
    import io

    from PIL import Image  # a matplotlib dependency

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(out, format="png", optimize=True)
    return out.getvalue()


def write_sample_grid(path: str | Path, models: Mapping[str, GAN], n: int = 64, seed: int = 0, caption: str = "", real: torch.Tensor | None = None, index_dir: str | Path | None = None) -> Path:
    """One PNG with a panel per model (same latents). ``real``: data-space points drawn under 2-D samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = list(models)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        gan = models[name]
        x, _ = gan.sample(n if len(gan.data_shape) == 3 else max(n, 500), seed=seed)
        if len(gan.data_shape) == 3:
            img = ((gan.to_gan(x.to(gan.shift.device)).cpu() + 1) / 2).clamp(0, 1)
            ax.imshow(_grid(img, int(np.ceil(np.sqrt(n)))), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            if real is not None:
                ax.scatter(real[:, 0], real[:, 1], s=4, c="lightgray", label="data")
            ax.scatter(x[:, 0], x[:, 1], s=4, c="tab:blue", label="samples")
            ax.set_aspect("equal")
        ax.set_title(name)
    if caption:
        fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, _palette_png(buf.getvalue()))
    if index_dir is not None:
        _add_to_index(Path(index_dir), path, caption or path.stem)
    return path


def _add_to_index(run_dir: Path, png: Path, caption: str) -> None:
    index_path = run_dir / SAMPLES_DIR / "index.json"
    entries = json.loads(index_path.read_text()) if index_path.exists() else []
    rel = os.path.relpath(png, run_dir)
    entries = [e for e in entries if e["path"] != rel] + [{"path": rel, "caption": caption}]
    atomic_write_json(index_path, entries)


def sample_grid_path(run_dir: str | Path, name: str) -> Path:
    """Where a run's grid goes: ``<run_dir>/samples/<name>.png``."""
    return Path(run_dir) / SAMPLES_DIR / f"{name}.png"


def sample_grid_section(run_dir: str | Path) -> list[str]:
    """Markdown lines showing every sample grid of a run (paths relative to ``run_dir``); [] when none."""
    run_dir = Path(run_dir)
    folder = run_dir / SAMPLES_DIR
    index_path = folder / "index.json"
    if index_path.exists():
        entries = [e for e in json.loads(index_path.read_text()) if (run_dir / e["path"]).exists()]
    else:
        entries = [{"path": os.path.relpath(p, run_dir), "caption": p.stem} for p in sorted(folder.glob("*.png"))] if folder.is_dir() else []
    if not entries:
        return []
    lines = ["## Samples (before / after / oracle, same latent codes)", ""]
    for e in entries:
        lines += [f"**{e['caption']}**", "", f"![{e['caption']}]({e['path']})", ""]
    return lines


# ---- result tables: class and item unlearning apart, every column labelled -----------------------------
TASK_KINDS = {"class": "Class unlearning", "items": "Item unlearning"}

# (record key, column label, kinds it applies to). The Fréchet column says what it is measured on: expunge's
# reference classifier (not Inception), generated vs real test images of the retained classes.
RESULT_COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("forgotten_class_share", "class share % (reference CNN)", ("class",)),
    ("frechet_distance", "Fréchet distance (reference-CNN features, retained classes)", ("class", "items")),
    ("forget_mia_auc", "forget membership AUC (D score vs held-out)", ("class", "items")),
    ("downstream_acc", "downstream acc % (classifier trained on samples)", ("class", "items")),
    ("passes", "passes", ("class", "items")),
]


def _cell(values: list[Any]) -> str:
    values = [v for v in values if isinstance(v, (int, float)) and v == v]
    if not values:
        return "–"
    mean = float(np.mean(values))
    return f"{mean:,.0f}" if abs(mean) >= 1000 else (f"{mean:.1f} ± {float(np.std(values)):.1f}" if len(values) > 1 else f"{mean:.1f}")


def results_tables(records: list[dict], methods: list[str] | None = None) -> list[str]:
    """Markdown tables, one per task kind (class / items), of mean ± std over runs; speed-up pooled over the runs.

    The speed-up is Σ retrain passes / Σ method passes over the runs where both ran (``evaluate.stats.pooled_ratio``),
    with the median per-run ratio beside it; never a mean of per-run ratios.
    """
    from ..evaluate.stats import pooled_ratio

    lines: list[str] = []
    for kind, title in TASK_KINDS.items():
        rows = [r for r in records if r.get("kind") == kind]
        if not rows:
            continue
        retrain = {(r.get("setting"), r.get("seed")): r.get("passes") for r in rows if r.get("method") == "retrain"}
        order = methods or list(dict.fromkeys(r["method"] for r in rows))
        columns = [(key, label) for key, label, kinds in RESULT_COLUMNS if kind in kinds]
        settings = sorted({str(r.get("setting")) for r in rows})
        lines += [f"### {title} ({', '.join(settings)}; means ± std over runs)", ""]
        lines += ["| method | runs | " + " | ".join(label for _, label in columns) + " | speed-up in passes, pooled (median) |"]
        lines += ["|---" * (len(columns) + 3) + "|"]
        for method in order:
            mine = [r for r in rows if r.get("method") == method]
            if not mine:
                continue
            cells = [_cell([r.get(key) for r in mine]) for key, _ in columns]
            ratio = pooled_ratio([retrain.get((r.get("setting"), r.get("seed"))) for r in mine], [r.get("passes") for r in mine]) if method not in ("retrain", "original") else None
            speed = f"{ratio['pooled']:.1f}× ({ratio['median']:.1f}×)" if ratio and ratio["n"] else ("1×" if method == "retrain" else "–")
            lines.append(f"| {method} | {len(mine)} | " + " | ".join(cells) + f" | {speed} |")
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m expunge.gan.report RESULTS.json [METHOD ...]``: print the class and item tables of a stored GAN benchmark."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(main.__doc__)
        return 2
    data = json.loads(Path(args[0]).read_text())
    print("\n".join(results_tables(data["records"] if isinstance(data, dict) else data, args[1:] or None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
