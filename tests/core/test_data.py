import numpy as np
import pytest

from expunge.data import ForgetSplit, build_split, fashion_mnist, load_dataset
from expunge.errors import DataError, DatasetNotFoundError, RegistryError


def test_items_carry_their_index(synthetic_bundle):
    x, y, i = synthetic_bundle.train[17]
    assert i == 17 and int(y) == int(synthetic_bundle.train.targets[17])


def test_iid_split_sizes_and_disjointness(synthetic_bundle):
    split = build_split("iid", synthetic_bundle.train_targets(), 200, seed=3, fraction=0.1, validation_fraction=0.1)
    pool = len(split.forget) + len(split.retain)
    assert len(split.validation) == 40 and pool == 360
    assert len(split.forget) == int(0.1 * pool)
    assert not set(split.forget) & set(split.retain)
    assert not set(split.validation) & (set(split.forget) | set(split.retain))
    again = build_split("iid", synthetic_bundle.train_targets(), 200, seed=3, fraction=0.1, validation_fraction=0.1)
    assert np.array_equal(split.forget, again.forget)


def test_non_iid_draws_only_chosen_classes(synthetic_bundle):
    targets = synthetic_bundle.train_targets()
    split = build_split("non_iid", targets, 200, seed=0, fraction=0.1, classes=[1, 2], validation_fraction=0.0)
    assert set(targets[split.forget]) <= {1, 2}
    assert len(split.forget) == int(0.1 * 400)


def test_class_split_takes_whole_class(synthetic_bundle):
    targets = synthetic_bundle.train_targets()
    split = build_split("class", targets, 200, seed=0, classes=[3], validation_fraction=0.0)
    assert set(targets[split.forget]) == {3} and 3 not in set(targets[split.retain])
    assert len(split.forget) == int((targets == 3).sum())


def test_train_size_subsets_pool_stratified(synthetic_bundle):
    targets = synthetic_bundle.train_targets()
    split = build_split("iid", targets, 200, seed=0, fraction=0.1, train_size=100, test_size=50, validation_fraction=0.0)
    pool = np.union1d(split.forget, split.retain)
    assert len(pool) == 100 and len(split.test) == 50
    assert np.bincount(targets[pool]).tolist() == [25, 25, 25, 25]


def test_split_save_load_roundtrip(tmp_path, synthetic_bundle):
    split = build_split("iid", synthetic_bundle.train_targets(), 200, seed=0)
    split.save(tmp_path)
    assert (tmp_path / "forget.txt").read_text().split()[0] == str(split.forget[0])
    loaded = ForgetSplit.load(tmp_path)
    for part in ("forget", "retain", "validation", "test"):
        assert np.array_equal(getattr(loaded, part), getattr(split, part))


@pytest.mark.parametrize(
    "forget, message",
    [
        ([], "empty"),
        ([1, 2, 2], "duplicated"),
        ([1, 400], "out of range"),
        ([-1], "out of range"),
        (list(range(400)), "whole training pool"),
    ],
)
def test_bad_forget_sets_raise_clear_errors(forget, message):
    with pytest.raises(DataError, match=message):
        ForgetSplit.from_forget_indices(forget, num_train=400, num_test=10)


def test_bad_builder_options(synthetic_bundle):
    t = synthetic_bundle.train_targets()
    with pytest.raises(DataError, match="fraction"):
        build_split("iid", t, 10, fraction=1.5)
    with pytest.raises(DataError, match="classes"):
        build_split("non_iid", t, 10, fraction=0.1)
    with pytest.raises(DataError, match="do not occur"):
        build_split("class", t, 10, classes=[9])
    with pytest.raises(DataError, match="hold only"):
        build_split("non_iid", t, 10, fraction=0.5, classes=[0])
    with pytest.raises(RegistryError, match="iid"):
        build_split("sub_class_typo", t, 10)


def test_missing_fashion_mnist_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "nothing")
    monkeypatch.setenv("EXPUNGE_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        load_dataset("fashion_mnist")


def test_idx_reader_on_written_files(tmp_path, monkeypatch):
    import gzip

    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    labels = np.array([0, 5, 9], dtype=np.uint8)
    for prefix, n in (("train", 3), ("t10k", 3)):
        with gzip.open(tmp_path / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + images.tobytes())
        with gzip.open(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes())
    bundle = load_dataset("fashion_mnist", root=str(tmp_path))
    assert bundle.input_shape == (1, 28, 28) and bundle.train.targets.tolist() == [0, 5, 9]
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + labels.tobytes())
    with pytest.raises(DataError, match="truncated"):
        load_dataset("fashion_mnist", root=str(tmp_path))


def test_cifar10_binary_reader_and_missing_message(tmp_path, monkeypatch):
    from expunge.data import cifar10

    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [(f, 3) for f in cifar10.TRAIN_FILES] + [("test_batch.bin", 2)]:
        records = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], axis=1).astype(np.uint8)
        (folder / name).write_bytes(records.tobytes())
    bundle = load_dataset("cifar10", root=str(tmp_path))
    assert bundle.input_shape == (3, 32, 32) and len(bundle.train) == 15 and len(bundle.test) == 2
    assert float(bundle.train.inputs.max()) <= 1.0
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="truncated"):
        load_dataset("cifar10", root=str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nocache"))
    monkeypatch.delenv("EXPUNGE_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="download_if_missing"):
        load_dataset("cifar10", root=str(tmp_path / "elsewhere"))


def test_paper_scale_preset_validates():
    from expunge.cli import preset_path
    from expunge.experiments import load_config

    config = load_config(preset_path("cifar10-resnet18"))
    assert config.model.name == "resnet18" and config.methods[1].alpha == 0.3
