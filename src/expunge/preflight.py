"""Checks on the plain config dict that need neither torch nor the registries.

They run twice: from the command line before the heavy imports (so a bad config fails in well
under two seconds) and inside ``ExperimentConfig.validate`` (so the library refuses the same
inputs). Each error names the config key and the fix.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import platform
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

LM_EXTRAS = ("transformers", "peft", "tokenizers")
LM_HINT = "pip install 'expunge[lm]'"
CAPTUM_HINT = "pip install captum (a core dependency of expunge: `pip install -e .` installs it)"

# (what the config names, its value) -> (modules it imports, the install command)
OPTIONAL_NEEDS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("family", "lm"): (LM_EXTRAS, LM_HINT),
    ("executor", "ray"): (("ray",), "pip install 'expunge[ray]'"),
    ("unlearner", "lm_concept"): ((*LM_EXTRAS, "captum"), LM_HINT),
    **{("unlearner", name): (("captum",), CAPTUM_HINT) for name in ("concept_poison", "concept_patch", "zero_shot", "lra_npp_paper", "noise_gn", "noise_ln")},
    ("localizer", "relevance"): (("captum",), CAPTUM_HINT),
}

# Training / test sizes of the datasets whose size does not depend on options: split sizes are checked at load.
DATASET_SIZES: dict[str, tuple[int, int]] = {"fashion_mnist": (60000, 10000), "cifar10": (50000, 10000)}

DEVICE_FORMAT = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def named_components(data: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(config key, kind, name)`` of every component a (raw or full) config dict names."""
    if isinstance(data.get("family"), str):
        yield "family", "family", data["family"]
    executor = data.get("executor")
    if isinstance(executor, dict) and isinstance(executor.get("name"), str):
        yield "executor.name", "executor", executor["name"]
    methods = data.get("methods")
    for i, method in enumerate(methods if isinstance(methods, list) else []):
        if not isinstance(method, dict):
            continue
        unlearner = method.get("unlearner") or method.get("name")
        if isinstance(unlearner, str):
            yield f"methods.{i}.unlearner", "unlearner", unlearner
        if isinstance(method.get("localizer"), str):
            yield f"methods.{i}.localizer", "localizer", method["localizer"]


def module_missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def check_optional_dependencies(data: dict[str, Any]) -> None:
    """A component that needs an optional package is refused at load, with the install command."""
    for key, kind, name in named_components(data):
        modules, hint = OPTIONAL_NEEDS.get((kind, name), ((), ""))
        missing = [m for m in modules if module_missing(m)]
        if missing:
            raise ConfigError(f"{key}={name} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed; install with: {hint}")


def check_device_format(device: Any) -> None:
    """``device`` is auto, cpu, cuda, cuda:N or mps; a GPU that plainly is not there is refused without importing torch."""
    if not isinstance(device, str) or not DEVICE_FORMAT.match(device):
        raise ConfigError(f"device: {device!r} is not a device; use auto (CUDA when present, else the CPU), cpu, cuda, cuda:N or mps.")
    if device.startswith("cuda") and not any(Path("/dev").glob(pattern) for pattern in ("nvidia[0-9]*", "kfd", "dxg")):
        raise ConfigError(f"device: {device} requested but this machine has no GPU driver (available: cpu); use device=auto or device=cpu.")
    if device == "mps" and platform.system() != "Darwin":
        raise ConfigError("device: mps exists only on Apple silicon (available here: cpu and any CUDA GPU); use device=auto.")


def check_out_dir(out: Any) -> None:
    """``out`` must be a folder that exists or can be created, and that we may write to."""
    if not isinstance(out, str) or not out.strip():
        raise ConfigError(f"out must name an output folder, got {out!r}.")
    if "\x00" in out:
        raise ConfigError(f"out: {out!r} holds a NUL character, which no file system accepts; choose another out=....")
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"out: {out} is an existing file, not a folder; choose another out=... (a folder for the records and the report).")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"out: cannot create {out}: {existing} is a file; choose another out=....")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"out: cannot write to {out}: no write permission in {existing}; choose a writable out=....")
    try:  # os.access says yes to root everywhere; a probe folder (removed at once) is the real test
        os.rmdir(tempfile.mkdtemp(prefix=".expunge-probe-", dir=existing))
    except OSError as exc:
        raise ConfigError(f"out: cannot create {out}: {existing} does not accept new folders ({exc.strerror}); choose a writable out=....") from exc


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_split(split: dict[str, Any], dataset: dict[str, Any]) -> None:
    """Ranges of the split keys, and sizes against datasets of known size."""
    fraction = split.get("fraction", 0.1)
    if not _finite_number(fraction) or not 0 < fraction < 1:
        raise ConfigError(f"split.fraction must lie in (0, 1), got {fraction!r}; e.g. 0.1 forgets 10% of the training pool.")
    validation = split.get("validation_fraction", 0.05)
    if not _finite_number(validation) or not 0 <= validation < 1:
        raise ConfigError(f"split.validation_fraction must lie in [0, 1), got {validation!r}; 0 keeps no validation set.")
    sizes = DATASET_SIZES.get(dataset.get("name", "")) if not dataset.get("options") else None
    for key, index in (("train_size", 0), ("test_size", 1)):
        value = split.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"split.{key} must be a positive integer or null (all examples), got {value!r}.")
        if sizes is not None and value > sizes[index]:
            part = "training" if index == 0 else "test"
            raise ConfigError(f"split.{key}={value} exceeds the {sizes[index]} {part} examples of {dataset['name']}; lower it, or set split.{key}=null to use all of them.")


def check_seeds(seeds: Any) -> None:
    if isinstance(seeds, list):
        repeated = sorted({s for s in seeds if seeds.count(s) > 1}, key=str)
        if repeated:
            raise ConfigError(f"seeds: {repeated} listed more than once; each unlearning seed is one run, list it once (e.g. seeds=[0, 1, 2]).")


def check_methods(methods: Any) -> None:
    if isinstance(methods, list) and not methods:
        raise ConfigError("methods is empty: nothing to unlearn; list at least one, e.g. methods: [{name: finetune}] (see `expunge list`).")


def check_config_dict(data: dict[str, Any]) -> None:
    """Every torch-free check on a config dict (defaults filled in where keys are missing)."""
    check_methods(data.get("methods", []))
    check_seeds(data.get("seeds"))
    split, dataset = data.get("split"), data.get("dataset")
    check_split(split if isinstance(split, dict) else {}, dataset if isinstance(dataset, dict) else {})
    check_device_format(data.get("device", "auto"))
    check_out_dir(data.get("out", "runs/experiment"))
    check_optional_dependencies(data)


def read_yaml(source: str | Path) -> dict[str, Any]:
    """A config file's mapping; a missing file, a folder, unreadable bytes or bad YAML name the file."""
    path = Path(source).expanduser()
    if not path.exists():
        raise ConfigError(f"config file {path} not found; give the path of a YAML config (presets: src/expunge/configs/).")
    if path.is_dir():
        raise ConfigError(f"config {path} is a folder, not a YAML file; give the config file inside it (e.g. {path}/config.yaml).")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc}); check its permissions and that it is a text file.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at top level (keys such as dataset, split, methods), got {type(data).__name__}.")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value (e.g. recipe.epochs=5).")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def set_path(data: dict[str, Any], path: list[str], value: Any, label: str | None = None) -> None:
    """Set ``data[path[0]][path[1]]... = value`` in place; list items by position (``+`` appends), missing dicts created."""
    label = label or ".".join(path)
    node: Any = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list) and part == "+" and last:  # methods.+={...} appends one item
            node.append(value)
            return
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"override {label!r}: {'.'.join(path[: i + 1])} is not a valid list position (an index below {len(node)}, or + at the end to append).")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last and node.get(part) is None:
                node[part] = {}
        else:
            raise ConfigError(f"override {label!r}: {'.'.join(path[:i])} is a {type(node).__name__}, not a mapping; drop the extra key parts.")
        if last:
            node[key] = value
        else:
            node = node[key]


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Dotted keys, list items by position: ``methods.2.alpha=0.1``; ``methods.+={name: finetune}`` appends a method."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        set_path(data, path, value, text)
    return data
