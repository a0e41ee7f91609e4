"""Study presets (``*.yaml`` here, one per published table) and the ``expunge study`` parser.

The parser lives here, not beside the runner, so that ``expunge --help`` stays free of torch:
the commands import ``expunge.experiments.study_cli`` only when a study command runs.
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_study(args: argparse.Namespace) -> int:
    from ..experiments.study_cli import SUBCOMMANDS

    return SUBCOMMANDS[args.study_command](args)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``expunge study`` on the top-level subparsers (cli.py calls this once)."""
    study = sub.add_parser("study", help="studies: every published table as a preset (base config x axes x scale); list, run, report")
    inner = study.add_subparsers(dest="study_command", required=True)
    inner.add_parser("list", help="shipped studies with their scales and cell counts")
    run = inner.add_parser("run", help="run (or resume) a study: NAME_OR_FILE [scale=smoke] [key=value ...]")
    run.add_argument("study", help="a shipped study name (expunge study list) or a study YAML file")
    run.add_argument("overrides", nargs="*", help="scale=smoke|published|..., then key=value overrides applied to every cell")
    run.add_argument("--out", default=None, help="study folder (default runs/study-NAME-SCALE)")
    run.add_argument("--quiet", action="store_true")
    report = inner.add_parser("report", help="rewrite study.md and summary.json from a study folder's stored results")
    report.add_argument("study_dir")
    report.add_argument("--tables", metavar="OUT.md", default=None, help="also write the tables alone, for a docs page to include (pymdownx.snippets)")
    report.add_argument("--columns", metavar="A,B,...", default=None, help="the table's columns, instead of those stored with the study (e.g. add relative_passes)")
    for parser in inner.choices.values():  # --debug after the study subcommand too (cli.main adds it one level up)
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback of an error")
    return study
