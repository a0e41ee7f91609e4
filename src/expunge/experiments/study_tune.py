"""A study's tune stage: a hyperparameter search per tuning setting before the cells run, its choice added as a method row.

A study declares (all keys but ``method`` optional)::

    tune:
      - method: DEL-combo-open           # a method of the study
        as: DEL-combo-open-tuned         # the tuned copy's row (default NAME-tuned; a frontier names it NAME-tuned@B)
        trials: 12                       # random-search trials per search
        objective: avg_gap               # minimised on the setting's validation split, never its test split
        space: {hyperparams.lr: [loguniform, 0.01, 0.3]}   # default: the unlearner's (tune.DEFAULT_SPACES)
        on: {split: [iid, non_iid_2_5]}  # the axis values searched on; every other value is held out
        held_out_from: non_iid_2_5       # held-out cells carry the settings found on this value
        budgets: [0.1, 0.25]             # frontier only: one search per budget (default: every budget of the scale)
        within: {relative_passes: 0.25}  # only a trial with every named record metric at most its limit is chosen (a cost budget)
        seed: 0                          # the search's draws and its unlearning runs (through Seeds)

Why the stage keeps tuned and held-out cells apart: a row searched on the very setting it is
scored on has seen that setting's data through its validation split; its number flatters it.
A held-out setting was never searched on, so its row is the honest test of the chosen values.
The summary marks each cell ``tuned_on`` and never pools the two kinds; it also states every
row's tuning trials (0 for a row nobody tuned), so equal effort can be checked beside the numbers.

Searches are ``expunge tune`` (``tune.tune``) on the cell's own config, so they use the shared
model cache; each is stored in ``STUDY_DIR/tune/<as>/<cell>/`` and in ``study.json`` under
``tune`` with a key over the data, model, recipe, method and search. A finished search with the
same key is reused: a resumed study never searches again.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..utils import atomic_write_json, stable_hash
from .config import MethodConfig, set_path

if TYPE_CHECKING:
    from .study_plan import Cell

log = logging.getLogger("expunge.study")

TUNE_KEYS = ("method", "as", "trials", "objective", "space", "on", "held_out_from", "budgets", "seed", "within")
SCALE_KEYS = ("trials", "budgets", "seed", "held_out_from")  # what a scale may change in every entry (``scales.X.tune``)
TUNED_HERE, HELD_OUT = "tuned here", "held out"
# config keys a search does not depend on (the other methods and seeds included: adding a method never re-searches)
NOT_SEARCH_INPUTS = ("methods", "seeds", "out", "quiet", "executor", "cache_dir", "name")


@dataclass(frozen=True)
class TuneSpec:
    """One declared search, checked at load."""

    method: str
    row: str  # the tuned copy's method name
    trials: int
    objective: str = "avg_gap"
    space: dict[str, list[Any]] | None = None  # None: the unlearner's default space
    axis: str | None = None  # None: every cell is a tuning setting
    values: tuple[str, ...] = ()
    held_out_from: str | None = None
    budgets: tuple[float, ...] | None = None  # frontier: None = every budget of the scale
    seed: int = 0
    limits: dict[str, float] | None = None  # ``within``: {record metric: most allowed} for a trial to be chosen

    def search(self) -> dict[str, Any]:
        """What the search result depends on besides the data and the method (limits only when given: older keys stay valid)."""
        return {"trials": self.trials, "objective": self.objective, "space": self.space, "seed": self.seed, **({"within": self.limits} if self.limits else {})}


def _where(i: int) -> str:
    return f"tune.{i}"


def _space(raw: Any, where: str) -> dict[str, list[Any]] | None:
    from .tune import SAMPLERS, parse_space

    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}.space must map method paths to [kind, args...], e.g. {{hyperparams.lr: [loguniform, 0.01, 0.3]}}.")
    space: dict[str, list[Any]] = {}
    for path, spec in raw.items():
        if isinstance(spec, str):
            space.update(parse_space([f"{path}={spec}"]))
            continue
        if not isinstance(spec, list) or not spec or spec[0] not in SAMPLERS or len(spec) < 2:
            raise ConfigError(f"{where}.space.{path}: give [kind, args...] with kind one of {sorted(SAMPLERS)}, e.g. [loguniform, 0.01, 0.3].")
        space[str(path)] = list(spec)
    fields = {f.name for f in dataclasses.fields(MethodConfig)}
    bad = [p for p in space if p.split(".")[0] not in fields]
    if bad:
        raise ConfigError(f"{where}.space: {bad} are not method keys; use paths such as hyperparams.lr or alpha.")
    return space


def _int(value: Any, where: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{where} must be an integer ≥ {least}, got {value!r}.")
    return value


def normalize(raw: Any) -> Any:
    """YAML 1.1 reads the key ``on`` as the boolean true (and JSON then writes it "true"): give it its name back."""
    if not isinstance(raw, list):
        return raw
    return [{("on" if k is True or k == "true" else k): v for k, v in e.items()} if isinstance(e, dict) else e for e in raw]


def parse_tune(raw: Any, kind: str, axis_labels: dict[str, set[str]], methods: set[str], label: Callable[[Any], str]) -> list[TuneSpec]:
    """The ``tune`` list checked: known method, trials ≥ 1, ``on`` naming an existing axis and values, a row name that is free."""
    from .tune import check_limits

    if raw is None or raw == []:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ConfigError("tune must be a list of searches, e.g. [{method: DEL, trials: 8, on: {split: [iid]}}].")
    specs: list[TuneSpec] = []
    for i, entry in enumerate(raw):
        where = _where(i)
        unknown = sorted(set(entry) - set(TUNE_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; a search holds {list(TUNE_KEYS)}.")
        method = entry.get("method")
        if not isinstance(method, str) or method not in methods:
            raise ConfigError(f"{where}.method {method!r} is not a method of the study; choose one of {sorted(methods)}.")
        row = entry.get("as", f"{method}-tuned")
        if kind == "frontier" and row != f"{method}-tuned":
            raise ConfigError(f"{where}.as: a frontier names its tuned copy {method}-tuned (per budget {method}-tuned@B); drop `as` or set it to {method}-tuned.")
        if not isinstance(row, str) or not row or row in methods:
            raise ConfigError(f"{where}.as {row!r} must be a new row name (not one of the study's methods), e.g. {method}-tuned.")
        trials = _int(entry.get("trials", 8), f"{where}.trials", 1)
        objective = entry.get("objective", "avg_gap")
        if not isinstance(objective, str) or not objective:
            raise ConfigError(f"{where}.objective must name a record metric to minimise, e.g. avg_gap.")
        axis, values, held = None, (), entry.get("held_out_from")
        on = entry.get("on")
        if on is not None:
            if not isinstance(on, dict) or len(on) != 1:
                raise ConfigError(f"{where}.on must name one axis and its tuning values, e.g. on: {{split: [iid, non_iid_2_5]}}.")
            axis, given = next(iter(on.items()))
            if axis not in axis_labels:
                raise ConfigError(f"{where}.on names axis {axis!r}, which the study does not have ({sorted(axis_labels)}).")
            given = given if isinstance(given, list) else [given]
            values = tuple(label(v) for v in given)
            missing = [v for v in values if v not in axis_labels[axis]]
            if not values or missing:
                raise ConfigError(f"{where}.on.{axis}: {missing or 'no values'} are not values of axis {axis}; its values are {sorted(axis_labels[axis])}.")
            held_out = axis_labels[axis] - set(values)
            if held is None and len(values) == 1:
                held = values[0]
            if held is not None:
                held = label(held)
            if held_out and held not in values:
                raise ConfigError(f"{where}.held_out_from: name the tuning value whose settings the held-out cells ({sorted(held_out)}) carry; one of {list(values)}.")
        elif held is not None:
            raise ConfigError(f"{where}.held_out_from needs `on` (which axis values are tuned on).")
        budgets = entry.get("budgets")
        if budgets is not None:
            if kind != "frontier":
                raise ConfigError(f"{where}.budgets: only a frontier study tunes per budget; this study is kind {kind}.")
            from .frontier import parse_budgets

            budgets = tuple(parse_budgets(budgets if isinstance(budgets, list) else [budgets]))
        try:
            limits = check_limits(entry.get("within"))
        except ConfigError as exc:
            raise ConfigError(f"{where}.within: {exc}") from exc
        specs.append(TuneSpec(method, row, trials, objective, _space(entry.get("space"), where), axis, values, held, budgets, _int(entry.get("seed", 0), f"{where}.seed", 0), limits))
    rows = [s.row for s in specs]
    if len(set(rows)) != len(rows):
        raise ConfigError(f"tune: two searches make the same row ({rows}); give each its own `as`.")
    return specs


def scaled(raw: Any, override: Any, scale: str) -> Any:
    """The tune list at a scale: ``scales.X.tune: false`` drops the stage, a mapping changes every entry (trials, budgets, seed, held_out_from)."""
    if override is None or raw is None:
        return raw
    if override is False:
        return []
    if not isinstance(override, dict) or set(override) - set(SCALE_KEYS):
        raise ConfigError(f"scales.{scale}.tune: give false (no tune stage at this scale) or a mapping of {list(SCALE_KEYS)}, got {override!r}.")
    return [{**entry, **override} if isinstance(entry, dict) else entry for entry in raw]


# ---------------------------------------------------------------- linking cells to their searches (at plan time)


def default_budgets(spec: TuneSpec, options: dict[str, Any], where: str) -> list[float | None]:
    if "budgets" not in options:  # a kind without budgets: one search per setting
        return [None]
    scale = [float(b) for b in options["budgets"]]
    chosen = [b for b in scale if spec.budgets is None or any(abs(b - t) < 1e-9 for t in spec.budgets)]
    if not chosen:
        raise ConfigError(f"{where}.budgets {list(spec.budgets or ())} are none of this scale's budgets {scale}; tune on one of them.")
    return list(chosen)


def link_cells(specs: list[TuneSpec], cells: list[Cell], options: dict[str, Any], where: str) -> None:
    """Each cell learns, per search, whether it is tuned here or held out, and which cell's search it carries."""
    from .tune import check_space, default_space

    by_labels = {tuple(sorted(c.labels.items())): c for c in cells}
    for i, spec in enumerate(specs):
        budgets = default_budgets(spec, options, f"{where}: {_where(i)}")
        for cell in cells:
            at = f"{where}, cell {cell.id}: {_where(i)}"
            method = next((m for m in cell.config.methods if m.name == spec.method), None)
            if method is None:
                raise ConfigError(f"{at}.method {spec.method!r} is not among the cell's methods {[m.name for m in cell.config.methods]}.")
            if any(m.name == spec.row or m.name.startswith(f"{spec.row}@") for m in cell.config.methods):
                raise ConfigError(f"{at}.as {spec.row!r} is already a method of the cell; name the tuned copy differently.")
            if cell.config.split.validation_fraction <= 0:
                raise ConfigError(f"{at}: tuning searches on the validation split; set split.validation_fraction (e.g. 0.05).")
            data = dataclasses.asdict(method)
            try:
                check_space(spec.space or default_space(data), data)
            except ConfigError as exc:
                raise ConfigError(f"{at}.space: {exc}") from exc
            if spec.axis is None or cell.labels[spec.axis] in spec.values:
                role, source = TUNED_HERE, cell.id
            else:
                wanted = tuple(sorted({**cell.labels, spec.axis: spec.held_out_from}.items()))
                if wanted not in by_labels:
                    raise ConfigError(
                        f"{at}: held-out cell {cell.id} carries the settings tuned on {spec.axis}={spec.held_out_from}, which is not a cell at this scale; "
                        f"add that value to the scale's axes, set the scale's tune.held_out_from, or drop the stage there (tune: false)."
                    )
                role, source = HELD_OUT, by_labels[wanted].id
            cell.tuning.append({"entry": i, "row": spec.row, "method": spec.method, "role": role, "source": source, "trials": spec.trials, "budgets": budgets, "within": spec.limits})


# ---------------------------------------------------------------- the searches (before the cells run)


def search_id(row: str, cell_id: str, budget: float | None) -> str:
    return f"{row}/{cell_id}" + ("" if budget is None else f"@{budget:g}")


@dataclass
class Search:
    spec: TuneSpec
    cell: Cell
    budget: float | None
    folder: Path  # STUDY_DIR/tune/<row>/<cell>
    key: str = field(init=False)

    def __post_init__(self) -> None:
        config = {k: v for k, v in self.cell.config.to_dict().items() if k not in NOT_SEARCH_INPUTS}
        method = next(dataclasses.asdict(m) for m in self.cell.config.methods if m.name == self.spec.method)
        self.key = stable_hash({"config": config, "method": method, "search": self.spec.search(), "budget": self.budget})

    @property
    def id(self) -> str:
        return search_id(self.spec.row, self.cell.id, self.budget)


def plan_searches(specs: list[TuneSpec], cells: list[Cell], folder: Path) -> list[Search]:
    """One search per tuning cell, search and budget (held-out cells search nothing)."""
    searches = []
    for cell in cells:
        for link in cell.tuning:
            if link["role"] == TUNED_HERE:
                spec = specs[link["entry"]]
                searches += [Search(spec, cell, b, folder / "tune" / spec.row / cell.id) for b in link["budgets"]]
    return searches


def finished(book: dict[str, Any], search: Search) -> bool:
    entry = book.get(search.id) or {}
    return entry.get("status") == "ok" and entry.get("key") == search.key and Path(entry.get("file", "")).exists()


def tune_job(
    config_data: dict[str, Any],
    method: str,
    trials: int,
    seed: int,
    objective: str,
    space: dict[str, list[Any]] | None,
    budget: float | None,
    dataset_refs: dict[str, Any] | None = None,
    limits: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Executor job: one search, in-process on whichever worker runs it (datasets from Ray's object store there)."""
    from .config import load_config
    from .study import _resolve, shared_datasets
    from .tune import tune

    started = time.time()
    with shared_datasets(_resolve(dataset_refs or {})):
        path = tune(load_config(config_data), method, trials, seed=seed, objective=objective, space=copy.deepcopy(space), budget=budget, limits=limits)
    return {"file": str(path), "seconds": time.time() - started}


def run_searches(searches: list[Search], book: dict[str, Any], save: Callable[[], None], executor: Any, prepare: Callable[[dict[str, Any]], dict[str, Any]], refs: dict[str, Any]) -> None:
    """Every search not yet stored with its key, as executor jobs; each result (or error) goes into ``book`` at once."""
    from .executors import Job

    todo = [s for s in searches if not finished(book, s)]
    if not todo:
        return
    log.info("tune stage: %d search(es) to run, %d stored", len(todo), len(searches) - len(todo))
    by_id = {s.id: s for s in todo}

    def record(result: Any) -> None:
        search = by_id[result.key]
        if result.ok:
            stored = json.loads(Path(result.value["file"]).read_text())
            ok = [t for t in stored["trials"] if t["status"] == "ok"]
            book[search.id] = {
                "status": "ok", "key": search.key, "file": result.value["file"], "params": stored["best"]["params"],
                "objective": stored["objective"], "best": stored["best"]["objective"], "trials": len(stored["trials"]), "trials_ok": len(ok),
                "limits": stored.get("limits"), "trials_within": sum(1 for t in ok if t.get("within_limits", True)),
                "oracle_floor": stored.get("oracle_floor"), "seconds": result.value["seconds"], "finished": time.time(),
            }  # fmt: skip
        else:
            log.error("tune search %s failed: %s", search.id, result.error)
            book[search.id] = {"status": "failed", "key": search.key, "error": result.error, "traceback": result.traceback, "finished": time.time()}
        save()

    jobs = []
    for s in todo:
        data = prepare({**s.cell.config.to_dict(), "out": str(s.folder)})
        jobs.append(Job(s.id, tune_job, (data, s.spec.method, s.spec.trials, s.spec.seed, s.spec.objective, s.spec.space, s.budget, refs, s.spec.limits)))
    executor.map(jobs, on_result=record)


# ---------------------------------------------------------------- the tuned copies (into the cells)


def attach(cells: list[Cell], book: dict[str, Any], kind: str) -> dict[str, str]:
    """Each cell gets its tuned rows from its source's searches; returns cell id -> why it cannot run (a search failed)."""
    from .config import load_config

    errors: dict[str, str] = {}
    for cell in cells:
        added: list[dict[str, Any]] = []
        for link in cell.tuning:
            params, files = {}, {}
            for b in link["budgets"]:
                sid = search_id(link["row"], link["source"], b)
                entry = book.get(sid) or {}
                if entry.get("status") != "ok":
                    errors[cell.id] = f"tune search {sid} " + (f"failed: {entry.get('error')}" if entry else "did not run")
                    break
                params["-" if b is None else f"{b:g}"], files[sid] = entry["params"], entry["file"]
            if cell.id in errors:
                break
            link["params"], link["files"] = params, files
            if kind == "frontier":
                tuned = Path(cell.config.out) / "tuned"  # run_frontier(tuned=...) adds NAME-tuned@B from these
                for src in files.values():
                    atomic_write_json(tuned / Path(src).name, json.loads(Path(src).read_text()))
                cell.options["tuned"] = str(tuned)
            else:
                method = next(m for m in cell.config.methods if m.name == link["method"])
                data = dataclasses.asdict(method)
                for path, value in params["-"].items():
                    set_path(data, path.split("."), value, f"tuned {path}")
                added.append({**data, "name": link["row"]})
        if added and cell.id not in errors:
            config = cell.config.to_dict()
            config["methods"] = config["methods"] + added
            cell.config = load_config(config)
    return errors


def cell_fields(cell: Cell) -> dict[str, Any]:
    """What ``study.json`` keeps per cell about the tune stage (the summary reads it)."""
    if not cell.tuning:
        return {}
    keep = ("row", "method", "role", "source", "trials", "budgets", "within", "params")
    return {"tuned_on": any(link["role"] == TUNED_HERE for link in cell.tuning), "tuning": [{k: link.get(k) for k in keep} for link in cell.tuning]}
