"""Command line: ``expunge demo``, ``expunge run CONFIG.yaml key=value ...``, ``expunge list``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from . import plugins
from .errors import ConfigError, ExpungeError
from .studies import add_parser as add_study_parser
from .studies import cmd_study

PRESETS = {"demo": "demo.yaml", "demo-quick": "demo-quick.yaml", "zero-shot": "zero-shot.yaml", "cifar10-resnet18": "cifar10-resnet18.yaml"}


def preset_path(name: str) -> Path:
    return Path(str(resources.files("expunge") / "configs" / PRESETS[name]))


def fast_check(args: argparse.Namespace, source: str | Path, overrides: list[str]) -> None:
    """Refuse a bad config before torch and the package are imported (expunge.catalog); names the catalog lacks wait for the full check when --import is used."""
    from .catalog import fast_check as check

    check(source, overrides, defer_unknown=bool(getattr(args, "imports", None)))


def _run(config_source: str | Path, overrides: list[str], overwrite: bool = False) -> int:
    from .experiments import load_config, run_experiment
    from .experiments.report import console_table

    config = load_config(config_source, overrides)
    records = run_experiment(config, overwrite=overwrite)
    run_json = Path(config.out) / "run.json"
    print(console_table(records, json.loads(run_json.read_text()) if run_json.exists() else None))
    print(f"\nwrote {Path(config.out) / 'results.json'} and {Path(config.out) / 'report.md'}")
    ok = {r["method"] for r in records if r.get("status", "ok") == "ok"}
    return failed_status(sorted({r["method"] for r in records} - ok), Path(config.out) / "records")


def failed_status(methods: list[str], where: Path) -> int:
    """Exit status 1 with one summary line when some method has no successful run, so scripts and CI can tell."""
    if not methods:
        return 0
    print(f"expunge: {len(methods)} method(s) had no successful run: {', '.join(methods)} (errors in {where})", file=sys.stderr)
    return 1


def cmd_demo(args: argparse.Namespace) -> int:
    """The example-unlearning demo, or with ``--zero-shot`` the class-unlearning preset; both go through ``expunge run``."""
    overrides = list(args.overrides)
    if args.zero_shot:
        overrides += [f"split.classes=[{args.forget_class}]", f"out={args.out or f'runs/zero-shot-class{args.forget_class}'}"]
    elif args.out:
        overrides.append(f"out={args.out}")
    if args.seed is not None:
        overrides += [f"train_seed={args.seed}", f"seeds=[{args.seed}]", f"split.seed={args.seed}"]
    if args.quiet:
        overrides.append("quiet=true")
    if args.quick:
        overrides += ["split.train_size=2000", "recipe.epochs=8"] if args.zero_shot else []
    preset = "zero-shot" if args.zero_shot else ("demo-quick" if args.quick else "demo")
    fast_check(args, preset_path(preset), overrides)
    return _run(preset_path(preset), overrides, args.overwrite)


def cmd_run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + (["quiet=true"] if args.quiet else [])
    fast_check(args, args.config, overrides)
    return _run(args.config, overrides, args.overwrite)


def cmd_pool(args: argparse.Namespace) -> int:
    fast_check(args, args.config, list(args.overrides))
    from .experiments import load_config
    from .experiments.pool import build_pool, pool_report_section

    config = load_config(args.config, list(args.overrides) + (["quiet=true"] if args.quiet else []))
    path = build_pool(config, args.models, ceiling=not args.no_ceiling, unlearn_seeds=args.unlearn_seeds)
    pool = json.loads(path.read_text())
    print("\n".join(pool_report_section(pool, path.parent, "")))
    print(f"wrote {path}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise ConfigError(f"--trials must be a positive number of trials, got {args.trials}; e.g. --trials 8.")
    fast_check(args, args.config, list(args.overrides))
    from .experiments import load_config
    from .experiments.tune import tune

    config = load_config(args.config, list(args.overrides) + (["quiet=true"] if args.quiet else []))
    from .experiments.tune import parse_space

    path = tune(config, args.method, args.trials, args.seed, args.objective, parse_space(args.space) if args.space else None, budget=args.budget)
    result = json.loads(path.read_text())
    for t in result["trials"]:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items())
        print(f"trial {t['trial']:2d}  {args.objective}={t['objective']:.3f}  {params}  [{t['status']}]")
    print(f"best: {result['best']['params']} ({args.objective} {result['best']['objective']:.3f} on the validation split; oracle floor {result['oracle_floor']})")
    print(f"wrote {path} and {path.parent / path.name.replace('tune-', 'tuned-').replace('.json', '.yaml')}")
    return 0


def cmd_frontier(args: argparse.Namespace) -> int:
    """Every configured method at every budget (fractions of one retraining's example passes): records, Pareto table, plot."""
    fast_check(args, args.config, list(args.overrides))
    from .experiments import load_config
    from .experiments.frontier import POOL_QUALITIES, QUALITIES, pareto_table, parse_budgets, run_frontier

    budgets = parse_budgets(args.budgets)
    pool_budgets = parse_budgets(args.pool_budgets) if args.pool_budgets else None
    config = load_config(args.config, list(args.overrides) + (["quiet=true"] if args.quiet else []))
    path = run_frontier(config, budgets, pool=args.pool, pool_budgets=pool_budgets, tuned=args.tuned, pool_methods=args.pool_methods, overwrite=args.overwrite)
    result = json.loads(path.read_text())
    print(pareto_table(result["points"], QUALITIES + (POOL_QUALITIES if args.pool else [])))
    print(f"\nwrote {path}, {path.parent / 'frontier.md'} and {path.parent / 'frontier.png'}")
    return failed_status(sorted(p["method"] for p in result["points"] if not p.get("n")), path)


def cmd_report(args: argparse.Namespace) -> int:
    if args.html:
        from .html_report import write_html_report

        print(f"wrote {write_html_report(args.html, args.runs_dir)}")
        return 0
    from .experiments.report import report_folder

    for folder in args.runs_dir:
        print(f"wrote {report_folder(folder)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Every registered component, with each unlearner's hyperparameters (type, default, range)."""
    from . import builtins  # noqa: F401  (fills the registries)
    from .data import DATASETS, SPLIT_BUILDERS
    from .evaluate import METRIC_SETS, METRICS
    from .family import FAMILIES
    from .hparams import describe_params
    from .localize import LOCALIZERS
    from .models import MODELS
    from .unlearn import UNLEARNERS

    for registry in (FAMILIES, DATASETS, SPLIT_BUILDERS, MODELS, LOCALIZERS, METRICS):
        print(f"{registry.kind}s:".replace("ys:", "ies:"))
        for name in registry.names():
            families = f" [families: {', '.join(registry.families(name))}]" if registry in (LOCALIZERS, METRICS) else ""
            print(f"  {name:24s} {registry.summary(name)}{families}")
    print("metric sets:")
    for name, members in sorted(METRIC_SETS.items()):
        print(f"  {name:24s} {', '.join(members)}")
    print("unlearners (hyperparameters: type = default, range):")
    for name in UNLEARNERS.names():
        print(f"  {name:24s} {UNLEARNERS.summary(name)} [families: {', '.join(UNLEARNERS.families(name))}]")
        factory = UNLEARNERS.get(name)
        if hasattr(factory, "__dataclass_fields__"):
            for row in describe_params(factory):
                print(f"      {row['name']}: {row['type']} = {row['default']!r} {row['range']}  {row['doc']}".rstrip())
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": cmd_demo,
    "run": cmd_run,
    "list": cmd_list,
    "report": cmd_report,
    "pool": cmd_pool,
    "tune": cmd_tune,
    "frontier": cmd_frontier,
    "study": cmd_study,
}


OVERWRITE_HELP = "out holds finished records of another config: move them aside into out/replaced-<UTC time>/ and run (never deletes)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="expunge", description="Machine unlearning: localize, unlearn, and prove it worked.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="Fashion-MNIST: Retrain vs Finetune vs DEL vs SalLoc (10%% IID forget set)")
    demo.add_argument("--out", help="output folder (default runs/demo)")
    demo.add_argument("--quick", action="store_true", help="small pool and one seed: under 2 minutes on 2 CPU cores")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    demo.add_argument("--zero-shot", action="store_true", help="class removal without training data: LRP + path perturbation vs retraining")
    demo.add_argument("--forget-class", type=int, default=3, help="class to remove with --zero-shot (default 3, Dress)")
    demo.add_argument("--seed", type=int, default=None, help="training, split and unlearning seed (default: the preset's, 0)")
    demo.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. recipe.epochs=10")
    run = sub.add_parser("run", help="run an experiment from a YAML config")
    run.add_argument("config", help="YAML config (see src/expunge/configs/)")
    run.add_argument("overrides", nargs="*", help="key=value overrides, e.g. methods.1.alpha=0.1 split.kind=non_iid")
    run.add_argument("--quiet", action="store_true")
    run.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    sub.add_parser("list", help="list datasets, forget-set builders, models, localizers and unlearners")
    pool = sub.add_parser("pool", help="N originals, N (2N with the ceiling) oracles, N replicates per method; ε-score, LiRA, JS")
    pool.add_argument("config")
    pool.add_argument("overrides", nargs="*")
    pool.add_argument("--models", type=int, default=16, help="models per side (default 16)")
    pool.add_argument("--no-ceiling", action="store_true", help="skip the N extra oracles of the oracle-vs-oracle ceiling")
    pool.add_argument("--unlearn-seeds", type=int, default=1, help="unlearning seeds per original (>= 2 splits variance into training and unlearning parts)")
    pool.add_argument("--quiet", action="store_true")
    tune = sub.add_parser("tune", help="random search of a method's lr / epochs / budget on the validation split")
    tune.add_argument("config")
    tune.add_argument("overrides", nargs="*")
    tune.add_argument("--method", required=True, help="a method name from the config's methods")
    tune.add_argument("--trials", type=int, default=8)
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument(
        "--objective",
        default="avg_gap",
        help="the record key to minimise: avg_gap, avg_gap_auc, max_gap (the worst |Δ|), or any metric of the run's set, e.g. dist_relearn_k5_full for class unlearning",
    )
    tune.add_argument("--space", action="append", metavar="PATH=KIND:ARGS", help="search-space entry, repeatable (replaces the default space), e.g. hyperparams.reset=choice:fresh:original_init")
    tune.add_argument("--budget", type=float, default=None, help="tune for this budget (fraction of one retraining): epochs fixed by the frontier's rule")
    tune.add_argument("--quiet", action="store_true")
    frontier = sub.add_parser("frontier", help="every method at every compute budget: Pareto table and quality-vs-cost plot")
    frontier.add_argument("config")
    frontier.add_argument("overrides", nargs="*")
    frontier.add_argument("--budgets", default="0.05,0.1,0.25,0.5,1.0", help="fractions of one oracle retraining's example passes, in (0, 1]")
    frontier.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    frontier.add_argument("--pool", type=int, default=0, metavar="N", help="also score ε-score / LiRA / ceiling with N models per side")
    frontier.add_argument("--pool-budgets", default=None, help="budgets that get a pool (default: all); e.g. 0.1,0.25")
    frontier.add_argument("--pool-methods", nargs="+", default=None, metavar="NAME", help="pool only these methods (default: all); each pooled method costs N runs per pool budget")
    frontier.add_argument("--tuned", default=None, metavar="PATH", help="a tune-*.json from `expunge tune --budget`, or a folder of them")
    frontier.add_argument("--quiet", action="store_true")
    report = sub.add_parser("report", help="Markdown report + PNG plots over every results.json / pool.json below a folder")
    report.add_argument("runs_dir", nargs="+", help="run, frontier, pool or study folders (anything with results.json below it)")
    report.add_argument("--html", metavar="OUT", default=None, help="instead of report.md: one self-contained HTML page comparing them (opens offline from file://)")
    add_study_parser(sub)
    return parser


EXIT_OK, EXIT_FAILED_RUNS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _with_debug_flag(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--debug`` before or after the subcommand, for every subcommand (also ones registered later)."""
    debug_help = "show the full traceback of an error"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for sub in getattr(action, "choices", {}).values():
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn every exception into one line and an exit status (0 ok, 1 failed, 2 bad input, 130 interrupted)."""
    parser = _with_debug_flag(build_parser())
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], metavar="MODULE", help="import a module that registers your models / methods / metrics first (repeatable; before the subcommand)"
    )
    args = parser.parse_args(argv)
    args.debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.INFO if not getattr(args, "quiet", False) else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        plugins.load_entry_points()  # the expunge.plugins entry-point group, then --import MODULE
        plugins.import_modules(args.imports)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("expunge: interrupted; finished records are kept, run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ExpungeError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"expunge: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # the last line of defence: no traceback unless asked for
        if args.debug:
            traceback.print_exc()
        print(f"expunge: unexpected {type(exc).__name__}: {_one_line(exc)} (run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED_RUNS


if __name__ == "__main__":
    sys.exit(main())
