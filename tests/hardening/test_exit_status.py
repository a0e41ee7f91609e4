"""Exit status 1 when a method has no successful run; deterministic failures are not retried."""

from __future__ import annotations

from types import SimpleNamespace

import expunge.experiments as experiments
from expunge import cli
from expunge.errors import ConfigError, RunsFailed
from expunge.experiments.executors import Job, LocalExecutor
from expunge.train import TrainingDiverged


def _fake_run(monkeypatch, tmp_path, records):
    monkeypatch.setattr(cli, "fast_check", lambda args, source, overrides: None)
    monkeypatch.setattr(experiments, "load_config", lambda source, overrides: SimpleNamespace(out=str(tmp_path)))
    monkeypatch.setattr(experiments, "run_experiment", lambda config, overwrite=False: records)


def test_run_exits_1_naming_the_methods_without_a_successful_run(monkeypatch, tmp_path, capsys):
    records = [
        {"method": "retrain", "seed": 0},
        {"method": "DEL", "seed": 0, "status": "ok", "avg_gap": 0.1},
        {"method": "DEL", "seed": 1, "status": "failed", "error": "x"},
        {"method": "ga", "seed": 0, "status": "failed", "error": "TrainingDiverged: nan"},
        {"method": "ga", "seed": 1, "status": "failed", "error": "TrainingDiverged: nan"},
    ]
    _fake_run(monkeypatch, tmp_path, records)
    assert cli.main(["run", "c.yaml"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"expunge: 1 method(s) had no successful run: ga (errors in {tmp_path / 'records'})"]


def test_run_exits_0_when_every_method_has_a_successful_run(monkeypatch, tmp_path, capsys):
    _fake_run(monkeypatch, tmp_path, [{"method": "retrain", "seed": 0}, {"method": "DEL", "seed": 0, "status": "ok"}])
    assert cli.main(["run", "c.yaml"]) == 0
    assert "no successful run" not in capsys.readouterr().err


def test_runs_failed_exits_1_and_config_errors_exit_2(monkeypatch, capsys):
    for exc, status in ((RunsFailed("every tuning trial of DEL failed"), 1), (ConfigError("bad"), 2)):
        monkeypatch.setitem(cli.COMMANDS, "report", lambda args, exc=exc: (_ for _ in ()).throw(exc))
        assert cli.main(["report", "x"]) == status


def test_deterministic_failures_are_not_retried_transient_ones_are():
    calls = {"config": 0, "diverged": 0, "transient": 0}

    def fail(kind, exc):
        calls[kind] += 1
        raise exc

    jobs = [Job("config", fail, ("config", ConfigError("bad key"))), Job("diverged", fail, ("diverged", TrainingDiverged("nan loss"))), Job("transient", fail, ("transient", OSError("disk")))]
    results = LocalExecutor(retries=2).map(jobs)
    assert calls == {"config": 1, "diverged": 1, "transient": 3}
    assert [r.attempts for r in results] == [1, 1, 3]
    assert not any(r.ok for r in results) and "ConfigError: bad key" in results[0].error
