"""``expunge study list | run NAME_OR_FILE [scale=smoke] [key=value ...] [--out DIR] | report DIR`` (the parser lives in ``expunge.studies``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError


def cmd_list(args: argparse.Namespace) -> int:
    """Every shipped study: name, one line, and its cell count at each scale."""
    from .study_plan import load_study, scale_axes, shipped_studies

    for name in shipped_studies():
        spec = load_study(name)
        counts = []
        for scale in spec.scales:
            n = 1
            for values in scale_axes(spec, scale).values():
                n *= len(values)
            counts.append(f"{scale}: {n} cell{'s' if n != 1 else ''}")
        print(f"{name:22s} [{spec.kind}] {spec.description}")
        print(f"{'':22s} {'; '.join(counts)}")
    return 0


def split_tokens(tokens: list[str]) -> tuple[str, list[str]]:
    """``scale=NAME`` picks the scale (default smoke); every other token is a key=value cell override."""
    scale, overrides = "smoke", []
    for token in tokens:
        if "=" not in token:
            raise ConfigError(f"{token!r} is not key=value; e.g. scale=published or recipe.epochs=5.")
        if token.startswith("scale="):
            scale = token.split("=", 1)[1]
        else:
            overrides.append(token)
    return scale, overrides


def cmd_run(args: argparse.Namespace) -> int:
    from .study import run_study

    scale, overrides = split_tokens(list(args.overrides))
    if args.quiet:
        overrides.append("quiet=true")
    path = run_study(args.study, scale, args.out, overrides)
    print((path.parent / "study.md").read_text())
    print(f"wrote {path}, {path.parent / 'study.md'} and {path.parent / 'summary.json'}")
    cells = json.loads((path.parent / "summary.json").read_text())["cells"]
    return 0 if cells["ok"] == cells["total"] else 1  # a failed cell is recorded, and the exit status says so


def cmd_report(args: argparse.Namespace) -> int:
    from .study_summary import write_summary

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    path = write_summary(Path(args.study_dir), args.tables, columns)
    print(path.read_text())
    print(f"wrote {path}" + (f" and {args.tables}" if args.tables else ""))
    return 0


SUBCOMMANDS = {"list": cmd_list, "run": cmd_run, "report": cmd_report}
