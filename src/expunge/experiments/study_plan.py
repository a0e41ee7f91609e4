"""A study definition, read and checked: base config × named axes × a scale, expanded into validated cells.

A study file (YAML, shipped presets under ``expunge/studies``) holds::

    name: demo
    description: one line
    kind: run                      # run | frontier | pool (see study.CELL_KINDS)
    base: demo                     # a shipped config (expunge/configs/demo.yaml), a path, or an inline mapping
    overrides: [seeds=[0, 1, 2]]   # key=value overrides applied to every cell
    axes:                          # every combination of the axes' values is one cell
      split:                       # label -> overrides (a list of key=value, or a mapping key: value)
        iid: [split.kind=iid]
        non_iid: {split.kind: non_iid, split.classes: [2, 5]}
      classes: [0, 6, 9]           # shorthand axes: classes, fraction, seeds, seed, items
      lr: {key: methods.0.hyperparams.lr, values: [0.05, 0.02]}
    aggregate: [classes]           # axes pooled in the summary (means over their cells)
    scales:                        # at least smoke and published
      smoke: {overrides: [recipe.epochs=2], axes: {classes: [0]}}
      published: []
    frontier: {budgets: [0.1, 0.25], pool: 8}   # options of the kind
    baselines: [output_mask]       # trivial baselines named beside every method
    columns: [avg_gap, delta_forget]
    targets: [{rule: abs_at_most, method: DEL, metric: [delta_forget], threshold: 2}]
    tune: [{method: DEL, trials: 8, on: {split: [iid]}}]   # a search per tuning setting first (study_tune)

Every cell's config is built and validated when the study is planned, so a typo in any cell
fails before anything trains.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..evaluate.targets import check_rule_spec
from ..utils import stable_hash
from .config import ExperimentConfig, apply_overrides, load_config
from .study_tune import TuneSpec, link_cells, normalize, parse_tune, scaled

# axis name -> (config keys it sets, wrap a scalar value into a list)
SHORTHANDS: dict[str, tuple[list[str], bool]] = {
    "classes": (["split.classes"], True),
    "fraction": (["split.fraction"], False),
    "seeds": (["seeds"], True),  # unlearning seeds of a cell
    "seed": (["train_seed", "split.seed"], False),  # an independent task: its own split, original and oracles
    "items": (["split.options.count"], False),
}
KIND_OPTIONS: dict[str, dict[str, Any]] = {
    "run": {},
    "frontier": {"budgets": [0.05, 0.1, 0.25, 0.5, 1.0], "pool": 0, "pool_budgets": None, "pool_methods": None},
    "pool": {"models": 16, "ceiling": True, "unlearn_seeds": 1},
}
REQUIRED_SCALES = ("smoke", "published")
OUTPUTS = {"run": "results.json", "frontier": "frontier.json", "pool": "pool/pool.json"}  # each kind's output inside its cell folder
STUDY_KEYS = {"name", "description", "kind", "base", "overrides", "axes", "aggregate", "scales", "baselines", "columns", "targets", "frontier", "pool", "published", "method_grid", "tune"}


def studies_folder() -> Path:
    return Path(str(resources.files("expunge") / "studies"))


def shipped_studies() -> dict[str, Path]:
    folder = studies_folder()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.exists() else {}


def config_preset(name: str) -> Path:
    return Path(str(resources.files("expunge") / "configs" / f"{name}.yaml"))


@dataclass
class Scale:
    overrides: list[str] = field(default_factory=list)
    axes: dict[str, Any] = field(default_factory=dict)  # raw axis specs replacing the study's
    options: dict[str, Any] = field(default_factory=dict)  # kind options replacing the study's
    method_grid: dict[str, Any] | None = None  # parts replacing the study's method grid parts
    tune: Any = None  # None: the study's tune stage; false: none at this scale; a mapping: fields changed in every search


@dataclass
class StudySpec:
    name: str
    description: str
    kind: str
    base: dict[str, Any]
    overrides: list[str]
    axes: dict[str, Any]  # raw; parsed per scale by ``axis_values``
    aggregate: list[str]
    scales: dict[str, Scale]
    options: dict[str, Any]
    baselines: list[str]
    columns: list[str]
    targets: list[dict[str, Any]]
    published: dict[str, Any]  # where the table appears (docs page, stored result) for docs/benchmarks.md
    method_grid: dict[str, Any] | None
    raw: dict[str, Any]
    source: str
    tune: list[TuneSpec] = field(default_factory=list)  # the tune stage as declared (``tune_of`` gives it at a scale)

    def to_dict(self) -> dict[str, Any]:
        """The definition as written, with the base config resolved (a stored study re-reads without its files)."""
        return {"source": self.source, "base_source": self.raw.get("base") if isinstance(self.raw.get("base"), str) else None, **self.raw, "base": self.base}


@dataclass
class Cell:
    id: str
    labels: dict[str, str]  # axis -> value label
    config: ExperimentConfig
    tuning: list[dict[str, Any]] = field(default_factory=list)  # per search of the tune stage: role, source cell, chosen params
    options: dict[str, Any] = field(default_factory=dict)  # kind options of this cell alone (a frontier's tuned folder)

    def data(self) -> dict[str, Any]:
        return self.config.to_dict()

    def config_hash(self) -> str:
        """What decides the cell's numbers (not where it writes, where models are cached, or how loudly)."""
        data = {k: v for k, v in self.config.to_dict().items() if k not in ("out", "quiet", "executor", "cache_dir")}
        tuned = [{"row": t["row"], "params": t["params"]} for t in self.tuning if t.get("params")]
        return stable_hash({**data, "tuned": tuned} if tuned else data)


def _as_override(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"  # JSON is YAML: lists, strings and numbers survive


def _label(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        text = "-".join(_label(v) for v in value)
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "_"


def _overrides_of(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, dict):
        return [_as_override(k, v) for k, v in value.items()]
    raise ConfigError(f"{key} must be a list of key=value overrides or a mapping key: value, got {value!r}.")


def axis_values(name: str, raw: Any) -> dict[str, list[str]]:
    """One axis as label -> overrides; shorthands and ``{key, values}`` expand here."""
    where = f"axes.{name}"
    if isinstance(raw, dict) and "values" in raw:
        keys = raw.get("key")
        keys = [keys] if isinstance(keys, str) else keys
        if not keys or not all(isinstance(k, str) for k in keys):
            raise ConfigError(f"{where}.key must name the config key(s) the values set, e.g. key: split.fraction.")
        values, wrap = raw["values"], bool(raw.get("wrap", False))
    elif isinstance(raw, list) and name in SHORTHANDS:
        keys, wrap = SHORTHANDS[name]
        values = raw
    elif isinstance(raw, dict):
        out = {_label(label): _overrides_of(value, f"{where}.{label}") for label, value in raw.items()}
        if not out:
            raise ConfigError(f"{where} has no values.")
        return out
    else:
        raise ConfigError(f"{where}: give label -> overrides, {{key: ..., values: [...]}}, or a list under a shorthand name ({sorted(SHORTHANDS)}).")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.values must be a non-empty list.")
    out = {}
    for value in values:
        value = [value] if wrap and not isinstance(value, list) else value
        out[_label(value)] = [_as_override(k, value) for k in keys]
    if len(out) != len(values):
        raise ConfigError(f"{where}: two values give the same label; use the label -> overrides form.")
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at top level.")
    return data


def _base(value: Any, folder: Path | None) -> dict[str, Any]:
    if isinstance(value, dict):
        return copy.deepcopy(value)
    if not isinstance(value, str):
        raise ConfigError("base must name a shipped config (e.g. demo), a YAML path, or be an inline mapping.")
    candidates = [Path(value).expanduser()] + ([folder / value] if folder else []) + [config_preset(value)]
    for path in candidates:
        if path.is_file():
            return _read_yaml(path)
    raise ConfigError(f"base {value!r}: no such config file or shipped config; shipped: {sorted(p.stem for p in config_preset('x').parent.glob('*.yaml'))}.")


def _scale(name: str, raw: Any) -> Scale:
    if raw is None or isinstance(raw, list):
        return Scale(overrides=_overrides_of(raw or [], f"scales.{name}"))
    if isinstance(raw, dict):
        unknown = set(raw) - {"overrides", "axes", "options", "method_grid", "tune"}
        if unknown:
            raise ConfigError(f"scales.{name}: unknown key(s) {sorted(unknown)}; a scale holds overrides, axes, options, method_grid (parts) and tune.")
        grid = raw.get("method_grid")
        overrides = _overrides_of(raw.get("overrides") or [], f"scales.{name}.overrides")
        return Scale(overrides, dict(raw.get("axes") or {}), dict(raw.get("options") or {}), dict(grid) if grid else None, raw.get("tune"))
    raise ConfigError(f"scales.{name} must be a list of overrides or a mapping with overrides / axes / options.")


def _check_grid(grid: Any) -> dict[str, Any] | None:
    if grid is None:
        return None
    if not isinstance(grid, dict) or not isinstance(grid.get("name"), str) or not isinstance(grid.get("parts"), dict) or not grid["parts"]:
        raise ConfigError("method_grid needs name (a template such as '{loc}+{alg}@{alpha}') and parts (dimension -> label -> partial method).")
    unknown = set(grid) - {"name", "parts"}
    if unknown:
        raise ConfigError(f"method_grid: unknown key(s) {sorted(unknown)}; it holds name and parts.")
    return dict(grid)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def expand_method_grid(grid: dict[str, Any], parts: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The product of the grid's parts, each a method mapping named by the template (e.g. every localizer x algorithm x alpha)."""
    parts = {**grid["parts"], **(parts or {})}
    dims = list(parts)
    methods = []
    for combo in itertools.product(*(list(parts[d].items()) for d in dims)):
        method: dict[str, Any] = {}
        for _, partial in combo:
            method = _merge(method, partial or {})
        try:
            method["name"] = grid["name"].format(**{d: label for d, (label, _) in zip(dims, combo)})
        except KeyError as exc:
            raise ConfigError(f"method_grid.name {grid['name']!r} names {exc}, which is not a part ({dims}).") from None
        methods.append(method)
    return methods


def _method_names(base: dict[str, Any], overrides: list[list[str]], grid: dict[str, Any] | None) -> set[str]:
    """Every method name the study can have at some scale (a tune search must name one)."""
    names = {m["name"] for m in expand_method_grid(grid)} if grid else set()
    for extra in overrides:
        try:
            methods = apply_overrides(base, extra).get("methods") or []
        except ConfigError:
            continue  # a bad override fails when the cells are planned, naming the cell
        names |= {str(m.get("name", "finetune")) if isinstance(m, dict) else str(m) for m in methods}
    return names


def _tune_inputs(spec: StudySpec) -> tuple[dict[str, set[str]], set[str]]:
    """What a search may name: every axis value and every method at some scale."""
    labels: dict[str, set[str]] = {}
    for name, axis in spec.axes.items():
        labels[name] = set(axis_values(name, axis))
        for scale in spec.scales.values():
            if name in scale.axes:
                labels[name] |= set(axis_values(name, scale.axes[name]))
    methods = _method_names(spec.base, [spec.overrides] + [spec.overrides + s.overrides for s in spec.scales.values()], spec.method_grid)
    return labels, methods


def _tune_specs(data: dict[str, Any], spec: StudySpec) -> list[TuneSpec]:
    """The tune stage checked at load, at the study's level and at every scale."""
    raw = data.get("tune")
    if raw is None:
        return []
    labels, methods = _tune_inputs(spec)
    specs = parse_tune(raw, spec.kind, labels, methods, _label)
    for name, scale in spec.scales.items():
        try:
            parse_tune(scaled(raw, scale.tune, name), spec.kind, labels, methods, _label)
        except ConfigError as exc:
            raise ConfigError(f"scales.{name}.tune: {exc}") from exc
    return specs


def parse_study(data: dict[str, Any], source: str = "<inline>", folder: Path | None = None) -> StudySpec:
    if "tune" in data:
        data = {**data, "tune": normalize(data["tune"])}
    unknown = set(data) - STUDY_KEYS
    if unknown:
        raise ConfigError(f"study {source}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(STUDY_KEYS)}.")
    kind = data.get("kind", "run")
    if kind not in KIND_OPTIONS:
        raise ConfigError(f"study kind {kind!r} unknown; choose one of {sorted(KIND_OPTIONS)}.")
    options = dict(KIND_OPTIONS[kind])
    given = data.get(kind) or {}
    bad = set(given) - set(options)
    if bad:
        raise ConfigError(f"{kind}: unknown option(s) {sorted(bad)}; valid: {sorted(options)}.")
    options.update(given)
    scales = {name: _scale(name, raw) for name, raw in (data.get("scales") or {}).items()}
    missing = [s for s in REQUIRED_SCALES if s not in scales]
    if missing:
        raise ConfigError(f"study {source}: scales {missing} missing; every study has a smoke and a published scale.")
    axes = dict(data.get("axes") or {})
    aggregate = list(data.get("aggregate") or [])
    if set(aggregate) - set(axes):
        raise ConfigError(f"aggregate names {sorted(set(aggregate) - set(axes))}, which are not axes ({sorted(axes)}).")
    targets = list(data.get("targets") or [])
    for i, target in enumerate(targets):
        check_rule_spec(target, f"targets.{i}")
    spec = StudySpec(
        name=str(data.get("name") or Path(source).stem),
        description=str(data.get("description", "")),
        kind=kind,
        base=_base(data.get("base", {}), folder),
        overrides=_overrides_of(data.get("overrides") or [], "overrides"),
        axes=axes,
        aggregate=aggregate,
        scales=scales,
        options=options,
        baselines=list(data.get("baselines") or []),
        columns=list(data.get("columns") or []),
        targets=targets,
        published=dict(data.get("published") or {}),
        method_grid=_check_grid(data.get("method_grid")),
        raw=copy.deepcopy(data),
        source=source,
    )
    spec.tune = _tune_specs(data, spec)
    return spec


def load_study(name_or_path: str | Path | dict[str, Any]) -> StudySpec:
    """A shipped preset by name, a YAML file, or a mapping."""
    if isinstance(name_or_path, dict):
        return parse_study(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return parse_study(_read_yaml(path), str(path), path.parent)
    shipped = shipped_studies()
    if str(name_or_path) in shipped:
        path = shipped[str(name_or_path)]
        return parse_study(_read_yaml(path), path.name, path.parent)
    raise ConfigError(f"study {name_or_path!r}: not a file and not a shipped study; shipped: {sorted(shipped)} (see `expunge study list`).")


def scale_of(spec: StudySpec, scale: str) -> Scale:
    if scale not in spec.scales:
        raise ConfigError(f"scale={scale}: study {spec.name} has scales {sorted(spec.scales)}.")
    return spec.scales[scale]


def scale_axes(spec: StudySpec, scale: str) -> dict[str, dict[str, list[str]]]:
    chosen = scale_of(spec, scale)
    unknown = set(chosen.axes) - set(spec.axes)
    if unknown:
        raise ConfigError(f"scales.{scale}.axes names {sorted(unknown)}, which are not axes of the study ({sorted(spec.axes)}).")
    return {name: axis_values(name, chosen.axes.get(name, raw)) for name, raw in spec.axes.items()}


def tune_of(spec: StudySpec, scale: str) -> list[TuneSpec]:
    """The tune stage at ``scale`` (checked at load)."""
    chosen = scale_of(spec, scale)
    if chosen.tune is None or not spec.tune:
        return spec.tune
    return parse_tune(scaled(spec.raw.get("tune"), chosen.tune, scale), spec.kind, *_tune_inputs(spec), _label)


def kind_options(spec: StudySpec, scale: str) -> dict[str, Any]:
    chosen = scale_of(spec, scale)
    bad = set(chosen.options) - set(spec.options)
    if bad:
        raise ConfigError(f"scales.{scale}.options: unknown {sorted(bad)} for kind {spec.kind}; valid: {sorted(spec.options)}.")
    return {**spec.options, **chosen.options}


def plan_cells(spec: StudySpec, scale: str, out: str | Path, overrides: list[str] | None = None) -> list[Cell]:
    """Every combination of the axes at ``scale``, each a validated config writing to ``out/cells/<id>``."""
    axes = scale_axes(spec, scale)
    chosen = scale_of(spec, scale)
    base = apply_overrides(spec.base, spec.overrides + chosen.overrides)
    if spec.method_grid:
        base["methods"] = list(base.get("methods") or []) + expand_method_grid(spec.method_grid, chosen.method_grid)
    elif chosen.method_grid:
        raise ConfigError(f"scales.{scale}.method_grid: the study has no method_grid.")
    cells = []
    names = list(axes)
    for combo in itertools.product(*(list(axes[n].items()) for n in names)) if names else [()]:
        labels = {n: label for n, (label, _) in zip(names, combo)}
        cell_id = "__".join(f"{n}-{label}" for n, label in labels.items()) or "all"
        cell_overrides = [o for _, values in combo for o in values] + list(overrides or [])
        try:
            # the config name stays the base's: cells that share a pool then share the in-process context too
            config = load_config(base, cell_overrides + [f"out={Path(out) / 'cells' / cell_id}"])
        except ConfigError as exc:
            raise ConfigError(f"study {spec.name}, scale {scale}, cell {cell_id}: {exc}") from exc
        cells.append(Cell(cell_id, labels, config))
    caches = {c.config.cache_dir for c in cells}
    if len(caches) > 1:
        raise ConfigError(f"the cells of a study share one model cache; an axis changes cache_dir ({sorted(map(str, caches))}).")
    link_cells(tune_of(spec, scale), cells, kind_options(spec, scale), f"study {spec.name}, scale {scale}")
    return cells
