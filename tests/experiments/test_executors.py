import json

import pytest

from expunge.experiments import load_config, run_experiment
from expunge.experiments.executors import Job, LocalExecutor, make_executor
from tests.core.test_cli_end_to_end import tiny_config


def flaky(counter: dict, fail_times: int) -> str:
    counter["calls"] += 1
    if counter["calls"] <= fail_times:
        raise RuntimeError("transient")
    return "ok"


def boom() -> None:
    raise ValueError("always fails")


def test_local_executor_retries_then_records_failure():
    counter = {"calls": 0}
    seen = []
    results = LocalExecutor(retries=2).map([Job("flaky", flaky, (counter, 2)), Job("boom", boom)], on_result=seen.append)
    assert results[0].ok and results[0].value == "ok" and results[0].attempts == 3
    assert not results[1].ok and "always fails" in results[1].error and results[1].attempts == 3
    assert [r.key for r in seen] == ["flaky", "boom"]


def test_unknown_executor_is_a_clear_error():
    from expunge.errors import RegistryError

    with pytest.raises(RegistryError, match="ray"):
        make_executor("slurm")


def square(x: int) -> int:
    return x * x


def test_small_grid_through_a_real_local_ray(tmp_path):
    ray = pytest.importorskip("ray")
    executor = make_executor("ray", num_cpus=2, retries=1)
    try:
        results = executor.map([Job(f"sq{i}", square, (i,)) for i in range(4)] + [Job("boom", boom)])
        assert [r.value for r in results[:4]] == [0, 1, 4, 9]
        assert not results[4].ok and "always fails" in results[4].error

        cfg = tiny_config(tmp_path)
        cfg["seeds"] = [0, 1]
        cfg["executor"] = {"name": "ray", "num_cpus": 2}
        records = run_experiment(load_config(cfg), executor)
        methods = {(r["method"], r["seed"]) for r in records if r["status"] == "ok"}
        assert {("DEL", 0), ("DEL", 1), ("finetune", 0), ("SalLoc", 1)} <= methods
        saved = json.loads((tmp_path / "run" / "results.json").read_text())
        assert len(saved) == 3 + 3 * 2
    finally:
        ray.shutdown()
