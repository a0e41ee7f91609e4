"""A tiny real frontier (with an ε pool) and a plain run on the same data, built once for the HTML tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright missing: pip install playwright (no browser download needed; the test uses Debian's chromium)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("chromium missing: apt-get install -y chromium")
    return sync_playwright


@contextmanager
def _open_page(path: Path) -> Iterator[tuple]:
    """``path`` opened from file:// in headless Debian chromium (1280 x 900): the page and the list that collects its console errors.

    One launch for every browser test, so that each asserts ``errors == []`` on the same terms;
    skips when playwright or chromium is missing, closes the browser however the test ends.
    """
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.resolve().as_uri())
            yield page, errors
        finally:
            browser.close()


@pytest.fixture
def open_page():
    """``with open_page(path) as (page, errors):`` a report page in headless chromium (see ``_open_page``)."""
    return _open_page


def tiny_config(root, out, methods, seeds=(0, 1)):
    return {
        "name": out,
        "dataset": {"name": "synthetic", "options": {"num_train": 300, "num_test": 120, "num_classes": 3, "image_size": 8}},
        "split": {"kind": "iid", "fraction": 0.1, "train_size": None, "test_size": None, "validation_fraction": 0.1},
        "model": {"name": "mlp", "options": {"hidden": [16]}},
        "recipe": {"epochs": 4, "lr": 0.05, "batch_size": 64},
        "oracles": 2,
        "seeds": list(seeds),
        "methods": methods,
        "cache_dir": str(root / "cache"),
        "out": str(root / "runs" / out),
        "quiet": True,
    }


FINETUNE = {"name": "finetune", "hyperparams": {"lr": 0.05}}
DEL = {"name": "DEL", "localizer": "del", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"lr": 0.05}}
RANDOM = {"name": "random-mask", "localizer": "random", "alpha": 0.3, "unlearner": "reset_finetune", "hyperparams": {"lr": 0.05}}
BUDGETS = [0.25, 0.5]


@pytest.fixture(scope="package")
def tiny_runs(tmp_path_factory):
    """runs/frontier (2 methods × 2 budgets + retrain, a 4-model pool at 0.5) and runs/plain (3 methods), same data."""
    from expunge.experiments import load_config, run_experiment
    from expunge.experiments.frontier import run_frontier

    root = tmp_path_factory.mktemp("html")
    run_frontier(load_config(tiny_config(root, "frontier", [FINETUNE, DEL])), BUDGETS, pool=4, pool_budgets=[0.5], pool_methods=["finetune"])
    run_experiment(load_config(tiny_config(root, "plain", [FINETUNE, DEL, RANDOM])))
    return root / "runs"


@pytest.fixture(scope="package")
def tiny_class_run(tmp_path_factory):
    """Class removal of class 1 (finetune, output_mask) with the class metric set: relearn, probe and verdicts."""
    from expunge.experiments import load_config, run_experiment

    root = tmp_path_factory.mktemp("html-class")
    config = tiny_config(root, "class", [FINETUNE, {"name": "output_mask", "unlearner": "output_mask"}], seeds=(0,))
    config.update(split={"kind": "class", "classes": [1]}, evaluation={"metrics": ["class"]}, oracles=3)
    run_experiment(load_config(config))
    return root / "runs"


@pytest.fixture(scope="package")
def tiny_lm_run(tmp_path_factory):
    """A tiny GPT-2 on 8 fictitious authors (2 forgotten), 2 oracles, NPO for one epoch: the LM panel's records (about 5 s)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from expunge.experiments import load_config, run_experiment

    root = tmp_path_factory.mktemp("html-lm")
    config = {
        "name": "lm",
        "family": "lm",
        "dataset": {"name": "authors", "options": {"num_authors": 8, "seed": 0, "num_facts": 6}},
        "split": {"kind": "authors", "fraction": 0.25, "train_size": None, "test_size": None, "validation_fraction": 0.0, "seed": 0},
        "model": {"name": "tiny_gpt2", "options": {"n_layer": 1, "n_embd": 32, "n_head": 2}},
        "recipe": {"epochs": 2, "lr": 0.003, "batch_size": 16},
        "oracles": 2,
        "seeds": [0],
        "methods": [{"name": "NPO", "unlearner": "lm_npo", "hyperparams": {"epochs": 1}}, {"name": "grad diff", "unlearner": "lm_grad_diff", "hyperparams": {"epochs": 1}}],
        "evaluation": {"metrics": ["lm"]},
        "cache_dir": str(root / "cache"),
        "out": str(root / "runs" / "lm"),
        "quiet": True,
    }
    run_experiment(load_config(config))
    return root / "runs"
