"""The shipped catalog matches the live registries, and the torch-free check refuses what the full loader refuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from expunge import catalog
from expunge.errors import ConfigError
from expunge.experiments import load_config

from .cases import BAD_VALUES, mutate, valid_config


def test_shipped_catalog_is_current():
    # a fresh interpreter: other tests in this worker register throw-away components in the live registries
    code = "import json; from expunge import catalog; print(json.dumps(catalog.build_catalog(), sort_keys=True))"
    live = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    shipped = json.loads(catalog.CATALOG_PATH.read_text())
    stale = sorted(k for k in set(live) | set(shipped) if live.get(k) != shipped.get(k))
    assert not stale, f"src/expunge/catalog.json is stale in {stale}; refresh it with: python -m expunge.catalog"


def test_fast_check_accepts_the_valid_config_and_fills_defaults(tmp_path):
    config = catalog.fast_check(valid_config(tmp_path))
    assert config["recipe"]["momentum"] == 0.9 and config["evaluation"]["metrics"] == [] and config["methods"][0]["unlearner"] is None


@pytest.mark.parametrize("preset", ["demo.yaml", "demo-quick.yaml", "zero-shot.yaml", "cifar10-resnet18.yaml"])
def test_fast_check_accepts_every_shipped_preset(preset):
    from expunge.cli import PRESETS, preset_path

    name = next(k for k, v in PRESETS.items() if v == preset)
    catalog.fast_check(preset_path(name))


@pytest.mark.parametrize(("path", "value", "needles"), [c[1:] for c in BAD_VALUES if not c[0].startswith("device-cuda")], ids=[c[0] for c in BAD_VALUES if not c[0].startswith("device-cuda")])
def test_fast_check_refuses_the_same_bad_values(tmp_path, path, value, needles):
    with pytest.raises(ConfigError) as exc:
        catalog.fast_check(mutate(valid_config(tmp_path), path, value))
    for needle in needles:
        assert needle in str(exc.value)


def test_wrong_family_is_refused_without_torch(tmp_path):
    with pytest.raises(ConfigError, match="methods.0.unlearner: the unlearner 'finetune' supports the families"):
        catalog.fast_check(mutate(valid_config(tmp_path), "family", "gan"))


def test_unknown_names_wait_for_the_full_check_when_modules_are_imported(tmp_path):
    config = mutate(valid_config(tmp_path), "methods.0.name", "my_method")
    with pytest.raises(ConfigError, match="not a registered unlearner"):
        catalog.fast_check(config)
    catalog.fast_check(config, defer_unknown=True)


def test_the_command_line_refuses_a_bad_config_without_importing_torch(tmp_path):
    """The fail-fast path: the error comes from the catalog, and torch is never imported."""
    path = tmp_path / "bad.yaml"
    path.write_text("methods: [{name: finetune, hyperparams: {lr: .nan}}]\n")
    code = f"import sys; from expunge.cli import main; rc = main(['run', {str(path)!r}]); assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "methods.0.hyperparams.lr must be a finite number" in proc.stderr


def test_full_loader_and_catalog_agree_on_the_valid_config(tmp_path):
    data = valid_config(tmp_path)
    assert catalog.fast_check(data)["methods"][1]["alpha"] == load_config(data).methods[1].alpha
