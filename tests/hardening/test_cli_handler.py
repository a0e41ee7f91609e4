"""The top-level handler: help works, errors are one line with an exit status, --debug shows the traceback."""

from __future__ import annotations

import pytest

from expunge import cli
from expunge.errors import ConfigError


def test_help_of_every_subcommand_renders(capsys):
    for argv in (["--help"], *([name, "--help"] for name in cli.COMMANDS)):
        with pytest.raises(SystemExit) as exc:
            cli.main(list(argv))
        assert exc.value.code == 0
    assert "10% IID" in capsys.readouterr().out


def _patch(monkeypatch, exc: BaseException) -> None:
    def boom(args):
        raise exc

    monkeypatch.setitem(cli.COMMANDS, "report", boom)


@pytest.mark.parametrize(
    ("exc", "status", "needle"),
    [
        (ConfigError("split.fraction must lie in (0, 1)"), 2, "expunge: error: split.fraction must lie in (0, 1)"),
        (RuntimeError("kaput\nsecond line"), 1, "unexpected RuntimeError: kaput second line (run again with --debug"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_exceptions_become_one_line_and_a_status(monkeypatch, capsys, exc, status, needle):
    _patch(monkeypatch, exc)
    assert cli.main(["report", "x"]) == status
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--debug", "report", "x"], ["report", "x", "--debug"]])
def test_debug_shows_the_traceback_before_or_after_the_subcommand(monkeypatch, capsys, argv):
    _patch(monkeypatch, RuntimeError("kaput"))
    assert cli.main(argv) == 1
    assert "Traceback" in capsys.readouterr().err
