"""A study's cells as Ray jobs on a two-node local cluster: shared models trained once, datasets through the object store, progress."""

from __future__ import annotations

import json
import logging

import pytest

from tests.experiments.test_study import tiny_study


def test_study_on_a_two_node_ray_cluster(tmp_path, caplog) -> None:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from expunge.experiments.study import run_study

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        study = tiny_study(tmp_path)
        study["axes"] = {"lr": {"key": "methods.0.hyperparams.lr", "values": [0.05, 0.02]}}
        study["base"]["seeds"] = [0]
        study["base"]["executor"] = {"name": "ray", "address": cluster.address}
        with caplog.at_level(logging.INFO, logger="expunge.progress"):
            path = run_study(study, "smoke", tmp_path / "study")
        cells = json.loads(path.read_text())["cells"]
        assert len(cells) == 2 and all(c["status"] == "ok" for c in cells.values()), cells
        assert any("cells: 2/2" in r.getMessage() and "ETA" in r.getMessage() for r in caplog.records)
        # the original and the two oracles were trained once, before the cells fanned out
        assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir()) == ["oracle", "oracle", "original"]
        assert json.loads((tmp_path / "study" / "summary.json").read_text())["cells"]["ok"] == 2
    finally:
        ray.shutdown()
        cluster.shutdown()
