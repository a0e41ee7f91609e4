import json

from expunge.cli import main
from expunge.experiments import load_config
from expunge.experiments.pool import build_pool
from expunge.experiments.report import report_folder

N = 5


def pool_config(tmp_path):
    return {
        "name": "pool",
        "dataset": {"name": "synthetic", "options": {"num_train": 500, "num_test": 300, "num_classes": 4, "image_size": 8, "noise": 4.0, "seed": 1}},
        "split": {"kind": "iid", "fraction": 0.2, "train_size": None, "test_size": None, "validation_fraction": 0.0},
        "model": {"name": "mlp", "options": {"hidden": [128]}},
        "recipe": {"epochs": 30, "lr": 0.05, "batch_size": 32},
        "oracles": 1,
        "methods": [{"name": "finetune", "unlearner": "finetune", "hyperparams": {"epochs": 1, "lr": 0.01}}],
        "cache_dir": str(tmp_path / "cache"),
        "out": str(tmp_path / "run"),
        "quiet": True,
    }


def test_pool_scores_oracles_like_the_ceiling_and_originals_lower(tmp_path):
    path = build_pool(load_config(pool_config(tmp_path)), N)
    pool = json.loads(path.read_text())
    sides = pool["sides"]
    ceiling = sides["oracle-vs-oracle ceiling"]
    original = sides["original"]
    # further oracles look like the pool; originals (trained on the forget set) do not
    assert ceiling["forgetting_quality"] > original["forgetting_quality"] + 0.1
    assert original["lira_auc"] > 65  # LiRA finds the forget set in the originals...
    assert abs(ceiling["lira_auc"] - 50) < 12  # ...and not in oracles
    assert len(ceiling["per_example_epsilon"]) == 100
    assert "finetune" in sides and sides["finetune"]["retain_acc"]["n"] == N

    # resuming stores nothing twice: every member is already there
    again = json.loads(build_pool(load_config(pool_config(tmp_path)), N).read_text())
    assert again["jobs_run"] == 0 and again["sides"]["original"]["epsilon_score"] == original["epsilon_score"]

    # a second unlearning seed per original splits the variance into training and unlearning parts
    split = json.loads(build_pool(load_config(pool_config(tmp_path)), N, unlearn_seeds=2).read_text())["sides"]["finetune"]["variance_split"]
    assert set(split) == {"forget_acc", "retain_acc", "test_acc"}
    assert all(v["training_var"] >= 0 and v["unlearning_var"] >= 0 for v in split.values())

    report = report_folder(tmp_path / "run").read_text()
    assert "ε-score pool" in report and (tmp_path / "run" / "pool" / "epsilon_hist.png").exists()
    assert main(["report", str(tmp_path / "run")]) == 0
